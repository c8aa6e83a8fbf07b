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


RESCUER_PACKAGES = ('rescuer', 'rescuer_heat', 'rescuer_mistral')


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
    # Configuration directory, and whether the service loads Rescuer's
    # code: a change to either means a restart on the next `up`.
    config_dir: typing.Optional[pathlib.Path] = None
    loads_rescuer: bool = False

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
        if self.loads_rescuer:
            source = paths.source_dir()
            files += [source / 'setup.cfg'] + sorted(
                f for package in RESCUER_PACKAGES
                for f in (source / package).rglob('*.py'))
        for path in files:
            if path.is_file():
                digest.update(str(path).encode())
                digest.update(path.read_bytes())
        return digest.hexdigest()


def _uwsgi(site, name, port, module, processes, env, pyargv=None):
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
    return argv


def _base_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('OS_') and k != 'VIRTUAL_ENV'}
    env['PATH'] = '%s:%s' % (paths.venv_dir() / 'bin', env.get('PATH', ''))
    env['RESCUER_SITES_FILE'] = str(paths.sites_file())
    return env


def for_site(site):
    """The site's services, in start order."""
    etc = lambda name: paths.etc_dir(site, name)  # noqa: E731
    env = _base_env()
    keystone_env = dict(env, OS_KEYSTONE_CONFIG_DIR=str(etc('keystone')))
    heat_conf = str(etc('heat') / 'heat.conf')
    services = [
        Service(site, 'keystone',
                tuple(_uwsgi(site, 'keystone', site.port(topo.KEYSTONE_PORT),
                             'keystone.wsgi.api:application', 2,
                             keystone_env)),
                keystone_env, probe_url=site.url(topo.KEYSTONE_PORT, '/v3'),
                config_dir=etc('keystone')),
        Service(site, 'heat-api',
                tuple(_uwsgi(site, 'heat-api', site.port(topo.HEAT_API_PORT),
                             'heat.wsgi.api:application', 2, env,
                             pyargv='--config-file %s' % heat_conf)),
                env, probe_url=site.url(topo.HEAT_API_PORT, '/'),
                probe_ok=(200, 300), config_dir=etc('heat')),
        Service(site, 'heat-engine',
                (str(paths.venv_bin('heat-engine')),
                 '--config-file', heat_conf),
                env, config_dir=etc('heat'), loads_rescuer=True),
    ]
    if site.runs_mistral:
        services.append(Service(
            site, 'mistral',
            (str(paths.venv_bin('mistral-server')),
             '--config-file', str(etc('mistral') / 'mistral.conf'),
             '--server', 'api,engine,executor,notifier,periodic'),
            env, probe_url=site.url(topo.MISTRAL_API_PORT, '/'),
            probe_ok=(200, 300), config_dir=etc('mistral'),
            loads_rescuer=True))
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
