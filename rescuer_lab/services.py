"""The services of each lab site: how to start them and how to ask them."""

import dataclasses
import hashlib
import os
import pathlib
import typing
import urllib.error
import urllib.request

from rescuer_lab import paths
from rescuer_lab import topology as topo


RESCUER_CODE = ('rescuer', 'rescuer_heat', 'rescuer_mistral')
LAB_DRIVERS = ('rescuer_lab/drivers', 'rescuer_lab/filestore.py')


@dataclasses.dataclass(frozen=True)
class Service:
    site: topo.Site
    name: str
    argv: typing.Tuple[str, ...]
    env: typing.Dict[str, str]
    # URL that must answer over HTTP when the service is healthy, and the
    # HTTP statuses that count as an answer.
    probe_url: typing.Optional[str] = None
    probe_ok: typing.Tuple[int, ...] = (200,)
    # Configuration directory, and the packages of this checkout the
    # service loads: a change to either means a restart on the next `up`.
    config_dir: typing.Optional[pathlib.Path] = None
    loads_code: typing.Tuple[str, ...] = ()
    # For a service without an API of its own: (service type, path, binary)
    # of the API that reports it, e.g. Nova's os-services for nova-compute.
    reported_by: typing.Optional[typing.Tuple[str, str, str]] = None

    @property
    def pid_file(self):
        return paths.run_dir(self.site) / ('%s.pid' % self.name)

    @property
    def log_file(self):
        return paths.log_dir(self.site) / ('%s.log' % self.name)

    @property
    def label(self):
        return '%s %s' % (self.site.name, self.name)

    @property
    def digest_file(self):
        return paths.run_dir(self.site) / ('%s.digest' % self.name)

    def digest(self):
        """What the running process was started from: argv, environment,
        configuration files and (for plugin hosts) Rescuer's source."""
        digest = hashlib.sha256(repr((self.argv, sorted(
            (k, v) for k, v in self.env.items()
            if k.startswith(('OS_', 'RESCUER_'))))).encode())
        files = sorted(self.config_dir.rglob('*')) if self.config_dir else []
        if self.loads_code:
            source = paths.source_dir()
            files += [source / 'setup.cfg'] + sorted(
                f for package in self.loads_code
                for f in ([source / package] if package.endswith('.py')
                          else (source / package).rglob('*.py')))
        for path in files:
            if path.is_file():
                digest.update(str(path).encode())
                digest.update(path.read_bytes())
        return digest.hexdigest()


def _uwsgi(site, port, module, processes, pyargv=None):
    argv = [str(paths.venv_bin('uwsgi')),
            '--http-socket', '%s:%d' % (topo.HOST, port),
            '--module', module,
            '--master', '--processes', str(processes),
            '--enable-threads', '--lazy-apps', '--need-app',
            '--die-on-term', '--buffer-size', '65535',
            '--add-header', 'Connection: close',
            '--procname-prefix', '%s-' % site.name,
            '--disable-logging']
    if pyargv:
        argv += ['--pyargv', pyargv]
    return tuple(argv)


def _base_env():
    # Nothing of the caller's OS_* or RESCUER_* settings: a service started
    # by `recover` from a test (with `rescuer-lab env` exported) must have
    # the environment - and so the digest - `up` gives it, or the next
    # `up` restarts it for nothing.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('OS_', 'RESCUER_')) and k != 'VIRTUAL_ENV'}
    # The lab's bin first: its `sudo` lets privsep start its helper as root.
    env['PATH'] = '%s:%s:%s' % (paths.lab_bin(), paths.venv_dir() / 'bin',
                                env.get('PATH', ''))
    env['RESCUER_SITES_FILE'] = str(paths.sites_file())
    env['RESCUER_LAB_DIR'] = str(paths.lab_dir())
    return env


def _daemon(name, *args):
    return (str(paths.venv_bin(name)),) + args


def for_site(site):
    """The site's services, in start order."""
    etc = lambda name: paths.etc_dir(site, name)  # noqa: E731
    conf = lambda name, file=None: str(  # noqa: E731
        etc(name) / (file or '%s.conf' % name))
    env = _base_env()
    api = lambda offset, path='/': site.url(offset, path)  # noqa: E731

    def wsgi(name, port, module, processes=1, config=None, extra_env=None,
             pyargv=None, ok=(200, 300), probe_path='/', loads_code=()):
        service_env = dict(env, **(extra_env or {}))
        return Service(site, name, _uwsgi(site, site.port(port), module,
                                          processes, pyargv),
                       service_env, probe_url=api(port, probe_path),
                       probe_ok=ok, config_dir=etc(config or name),
                       loads_code=loads_code)

    def daemon(name, binary, config, reported_by=None, loads_code=(),
               args=()):
        return Service(site, name, _daemon(binary, *args), env,
                       config_dir=etc(config), reported_by=reported_by,
                       loads_code=loads_code)

    cinder_args = ('--config-file', conf('cinder'))
    nova_args = ('--config-file', conf('nova'))
    heat_args = ('--config-file', conf('heat'))
    services = [
        wsgi('keystone', topo.KEYSTONE_PORT, 'keystone.wsgi.api:application',
             processes=2, probe_path='/v3', ok=(200,),
             extra_env={'OS_KEYSTONE_CONFIG_DIR': str(etc('keystone'))}),
        wsgi('placement', topo.PLACEMENT_PORT,
             'placement.wsgi.api:application',
             extra_env={'OS_PLACEMENT_CONFIG_DIR': str(etc('placement'))}),
        wsgi('glance-api', topo.GLANCE_PORT, 'glance.wsgi.api:application',
             config='glance',
             extra_env={'OS_GLANCE_CONFIG_DIR': str(etc('glance'))}),
        wsgi('neutron-api', topo.NEUTRON_PORT,
             'neutron.wsgi.api:application', config='neutron',
             extra_env={'OS_NEUTRON_CONFIG_DIR': str(etc('neutron')),
                        'OS_NEUTRON_CONFIG_FILES':
                            'neutron.conf;ml2_conf.ini'},
             loads_code=LAB_DRIVERS),
        wsgi('cinder-api', topo.CINDER_PORT, 'cinder.wsgi.api:application',
             config='cinder', pyargv=' '.join(cinder_args)),
        daemon('cinder-scheduler', 'cinder-scheduler', 'cinder',
               ('volumev3', '/os-services', 'cinder-scheduler'),
               args=cinder_args),
        daemon('cinder-volume', 'cinder-volume', 'cinder',
               ('volumev3', '/os-services', 'cinder-volume'),
               loads_code=LAB_DRIVERS, args=cinder_args),
        daemon('cinder-backup', 'cinder-backup', 'cinder',
               ('volumev3', '/os-services', 'cinder-backup'),
               args=cinder_args),
        wsgi('nova-api', topo.NOVA_API_PORT,
             'nova.wsgi.osapi_compute:application', config='nova',
             extra_env={'OS_NOVA_CONFIG_DIR': str(etc('nova'))}),
        daemon('nova-conductor', 'nova-conductor', 'nova',
               ('compute', '/os-services', 'nova-conductor'),
               args=nova_args),
        daemon('nova-scheduler', 'nova-scheduler', 'nova',
               ('compute', '/os-services', 'nova-scheduler'),
               args=nova_args),
        daemon('nova-compute', 'nova-compute', 'nova',
               ('compute', '/os-services', 'nova-compute'),
               args=nova_args),
        wsgi('heat-api', topo.HEAT_API_PORT, 'heat.wsgi.api:application',
             processes=2, config='heat', pyargv=' '.join(heat_args)),
        daemon('heat-engine', 'heat-engine', 'heat',
               ('orchestration', '/services', 'heat-engine'),
               loads_code=RESCUER_CODE, args=heat_args),
    ]
    if site.runs_mistral:
        services.append(Service(
            site, 'mistral', _daemon(
                'mistral-server', '--config-file', conf('mistral'),
                '--server', 'api,engine,executor,notifier,periodic'),
            env, probe_url=api(topo.MISTRAL_API_PORT), probe_ok=(200, 300),
            config_dir=etc('mistral'), loads_code=RESCUER_CODE))
    return services


def all_services(sites=topo.SITES):
    return [svc for site in sites for svc in for_site(site)]


def http_answers(url, ok_statuses, timeout=3):
    """True when ``url`` answers with one of ``ok_statuses``."""
    request = urllib.request.Request(url, headers={'Connection': 'close'})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status in ok_statuses
    except urllib.error.HTTPError as error:
        return error.code in ok_statuses
    except (OSError, ValueError):
        return False
