"""Bring the two-site lab up, down, and through disasters."""

import concurrent.futures
import datetime
import getpass
import grp
import hashlib
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.parse

import jinja2
import yaml

from rescuer_lab import content
from rescuer_lab import filestore
from rescuer_lab import identity
from rescuer_lab import infra
from rescuer_lab import installer
from rescuer_lab import paths
from rescuer_lab import procs
from rescuer_lab import secrets as lab_secrets
from rescuer_lab import services as svcs
from rescuer_lab import topology as topo
from rescuer_lab import workbooks

START_TIMEOUT = 120


class LabError(RuntimeError):
    pass


def say(site, message):
    print('[%s] %s' % (site.name if site else 'lab', message), flush=True)


# ------------------------------------------------------------ configuration

def _templates():
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(
            str(paths.source_dir() / 'rescuer_lab' / 'etc')),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def _write_private(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(text)


# (template, configuration directory, file name) of every config file.
CONFIG_FILES = (
    ('keystone.conf.j2', 'keystone', 'keystone.conf'),
    ('heat.conf.j2', 'heat', 'heat.conf'),
    ('placement.conf.j2', 'placement', 'placement.conf'),
    ('nova.conf.j2', 'nova', 'nova.conf'),
    ('glance-api.conf.j2', 'glance', 'glance-api.conf'),
    ('neutron.conf.j2', 'neutron', 'neutron.conf'),
    ('ml2_conf.ini.j2', 'neutron', 'ml2_conf.ini'),
    ('cinder.conf.j2', 'cinder', 'cinder.conf'),
    ('cinder-policy.yaml.j2', 'cinder', 'policy.yaml'),
    ('heat-policy.yaml.j2', 'heat', 'policy.yaml'),
)
MISTRAL_CONFIG = (('mistral.conf.j2', 'mistral', 'mistral.conf'),
                  ('mistral-policy.yaml.j2', 'mistral', 'policy.yaml'))


def replica_dir(site):
    """Where ``site``'s replicated volumes are copied: storage that the
    peer site's backend owns and can take over (manage-existing)."""
    return paths.volumes_dir(site.peer) / ('from-%s' % site.name)


def heat_plugin_dirs():
    """Rescuer's resource types, then the lab's own fixes for Heat."""
    source = paths.source_dir()
    return [source / 'rescuer_heat' / 'resources',
            source / 'rescuer_lab' / 'heat_plugins']


def write_configs(site, secrets):
    db_password = secrets.get('mariadb')
    context = dict(
        site=site,
        venv=paths.venv_dir(),
        state=paths.site_dir(site),
        log_dir=paths.log_dir(site),
        transport_url=infra.transport_url(
            site, secrets.get('%s/rabbit' % site.name)),
        db_url=lambda service: infra.db_url(site, service, db_password),
        password=lambda user: secrets.get('%s/%s' % (site.name, user)),
        heat_plugin_dirs=','.join(str(d) for d in heat_plugin_dirs()),
        heat_engine_workers=topo.heat_engine_workers(),
        mistral_port=site.port(topo.MISTRAL_API_PORT),
        backups_dir=paths.backups_dir(),
        volumes_dir=paths.volumes_dir(site),
        replica_dir=replica_dir(site),
    )
    env = _templates()
    files = CONFIG_FILES + (MISTRAL_CONFIG if site.runs_mistral else ())
    for template, directory, name in files:
        context['etc'] = paths.etc_dir(site, directory)
        text = env.get_template(template).render(**context)
        _write_private(paths.etc_dir(site, directory) / name, text)
    # nova-api under uwsgi reads api-paste.ini from its config directory.
    shutil.copyfile(paths.venv_dir() / 'etc' / 'nova' / 'api-paste.ini',
                    paths.etc_dir(site, 'nova') / 'api-paste.ini')
    for directory in (paths.log_dir(site), paths.volumes_dir(site),
                      replica_dir(site), paths.backups_dir(),
                      paths.site_dir(site) / 'lock',
                      paths.site_dir(site) / 'nova',
                      paths.site_dir(site) / 'cinder'):
        directory.mkdir(parents=True, exist_ok=True)
    _write_sudo_shim()


SUDO_SHIM = """#!/bin/sh
# Written by rescuer-lab.  The lab's services run as root, and this machine
# has no sudo: oslo.privsep starts its helper with
#   sudo <project>-rootwrap <rootwrap.conf> privsep-helper ...
# Run the command itself, without sudo's options and the rootwrap prefix.
while [ $# -gt 0 ]; do
    case "$1" in -*) shift ;; *) break ;; esac
done
case "$1" in *-rootwrap) shift 2 ;; esac
exec "$@"
"""


def _write_sudo_shim():
    shim = paths.lab_bin() / 'sudo'
    shim.parent.mkdir(parents=True, exist_ok=True)
    if not shim.exists() or shim.read_text() != SUDO_SHIM:
        shim.write_text(SUDO_SHIM)
        shim.chmod(0o755)


def _conf(site, directory, name=None):
    name = name or '%s.conf' % directory
    return str(paths.etc_dir(site, directory) / name)


def _run_tool(site, argv, what, ok=(0,), env=None):
    """Run a set-up command, its output to the site's setup.log.  Secrets
    go in ``env`` (never on the command line, which is logged and shows
    in the process list)."""
    log_file = paths.log_dir(site) / ('setup-%s.log' % what.split()[0])
    with open(log_file, 'a') as log:
        log.write('\n==== %s\n' % ' '.join(argv[:6]))
        log.flush()
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT,
                                env=dict(os.environ, **(env or {})))
    if result.returncode not in ok:
        raise LabError('%s failed at %s (exit %d); see %s:\n%s' % (
            what, site.name, result.returncode, log_file,
            procs.log_tail(log_file, 10)))


_LEAKED = re.compile(r'(--bootstrap-password) \S+')


def scrub_setup_logs(site):
    """Mask the admin password that set-up logs of earlier lab versions
    recorded (the bootstrap command line); it now goes by environment."""
    for log_file in paths.log_dir(site).glob('setup-*.log'):
        text = log_file.read_text(errors='replace')
        if _LEAKED.search(text):
            log_file.write_text(_LEAKED.sub(r'\1 ***', text))


def _db_stamp(site):
    return paths.site_dir(site) / '.db-synced'


def _db_stamp_value(site):
    digest = hashlib.sha256(
        (paths.source_dir() / 'upper-constraints.txt').read_bytes())
    digest.update(' '.join(site.databases).encode())
    return digest.hexdigest()


def _keystone_steps(site, secrets):
    keystone = [str(paths.venv_bin('keystone-manage')), '--config-file',
                _conf(site, 'keystone')]
    owner = ['--keystone-user', getpass.getuser(),
             '--keystone-group', grp.getgrgid(os.getgid()).gr_name]
    url = site.keystone_url
    return [
        (keystone + ['db_sync'], 'keystone db_sync'),
        (keystone + ['fernet_setup'] + owner, 'keystone fernet_setup'),
        (keystone + ['credential_setup'] + owner,
         'keystone credential_setup'),
        (keystone + ['bootstrap',
                     '--bootstrap-region-id', site.region,
                     '--bootstrap-public-url', url,
                     '--bootstrap-internal-url', url,
                     '--bootstrap-admin-url', url], 'keystone bootstrap',
         (0,), {'OS_BOOTSTRAP_PASSWORD': secrets.get('%s/admin'
                                                     % site.name)}),
    ]


def _nova_steps(site, secrets):
    nova = [str(paths.venv_bin('nova-manage')), '--config-file',
            _conf(site, 'nova')]
    cell0 = infra.db_url(site, 'nova_cell0', secrets.get('mariadb'))
    return [
        (nova + ['api_db', 'sync'], 'nova api_db sync'),
        (nova + ['cell_v2', 'map_cell0', '--database_connection', cell0],
         'nova map_cell0'),
        # Exit 2 means "cell1 exists already": fine on a re-run.
        (nova + ['cell_v2', 'create_cell', '--name', 'cell1'],
         'nova create_cell', (0, 2)),
        (nova + ['db', 'sync'], 'nova db sync'),
    ]


def _migration_chains(site, secrets):
    """Independent chains of schema steps; each chain runs in order."""
    bin_ = lambda name: str(paths.venv_bin(name))  # noqa: E731
    chains = [
        _keystone_steps(site, secrets),
        [([bin_('heat-manage'), '--config-file', _conf(site, 'heat'),
           'db_sync'], 'heat db_sync')],
        [([bin_('placement-manage'), '--config-file',
           _conf(site, 'placement'), 'db', 'sync'], 'placement db sync')],
        [([bin_('glance-manage'), '--config-file',
           _conf(site, 'glance', 'glance-api.conf'), 'db_sync'],
          'glance db_sync')],
        [([bin_('neutron-db-manage'), '--config-file',
           _conf(site, 'neutron'), '--config-file',
           _conf(site, 'neutron', 'ml2_conf.ini'), 'upgrade', 'heads'],
          'neutron upgrade heads')],
        [([bin_('cinder-manage'), '--config-file', _conf(site, 'cinder'),
           'db', 'sync'], 'cinder db sync')],
        _nova_steps(site, secrets),
    ]
    if site.runs_mistral:
        mistral = [bin_('mistral-db-manage'), '--config-file',
                   _conf(site, 'mistral')]
        chains.append([(mistral + ['upgrade', 'head'], 'mistral upgrade'),
                       (mistral + ['populate'], 'mistral populate')])
    return chains


def _run_chain(site, chain):
    for step in chain:
        _run_tool(site, *step)


def sync_databases(site, secrets):
    """Schema migrations and Keystone bootstrap; skipped when current."""
    stamp = _db_stamp(site)
    if stamp.exists() and stamp.read_text() == _db_stamp_value(site):
        return
    say(site, 'migrating databases')
    chains = _migration_chains(site, secrets)
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(_run_chain, site, chain) for chain in chains]
        errors = [f.exception() for f in futures if f.exception()]
    if errors:
        raise errors[0]
    stamp.write_text(_db_stamp_value(site))


# ---------------------------------------------------------------- processes

def _healthy(service, secrets, reports=None, since=None):
    """Running and answering.  ``reports`` caches what each reporting API
    said, for one pass over many services (status).  With ``since`` (naive
    UTC), a daemon must have reported after it: its API goes on reporting
    a killed daemon up on its last heartbeat (Nova for 60 s), so a
    restarted one is not up before it has reported itself."""
    if procs.running_pid(service.pid_file) is None:
        return False
    if service.probe_url:
        return svcs.http_answers(service.probe_url, service.probe_ok)
    if service.reported_by:
        service_type, path, binary = service.reported_by
        key = (service.site.name, service_type, path)
        if reports is None or key not in reports:
            up = identity.services_up(service.site, secrets, service_type,
                                      path)
            if reports is not None:
                reports[key] = up
        else:
            up = reports[key]
        if binary not in up:
            return False
        return since is None or (up[binary] is not None and
                                 up[binary] >= since)
    return True


def _start_failed(service, why):
    return LabError('%s did not start: %s.\nIts log is %s; last lines:\n%s'
                    % (service.label, why, service.log_file,
                       procs.log_tail(service.log_file)))


def _started_from(service):
    try:
        return service.digest_file.read_text()
    except OSError:
        return None


def _wait_port_free(service, timeout=20):
    """Wait until nothing listens on the service's port any more (a
    stopped uwsgi may hold it a moment after its group is gone)."""
    if not service.probe_url:
        return
    address = urllib.parse.urlsplit(service.probe_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex((address.hostname, address.port)) != 0:
                return
        time.sleep(0.3)
    raise LabError('%s: port %d is still in use after the service stopped '
                   '(`ss -ltnp` names the process)'
                   % (service.label, address.port))


def start_service(service, secrets, timeout=START_TIMEOUT):
    """Start ``service`` unless it already runs, healthy, from the same
    configuration and code; returns True when it (re)started it."""
    digest = service.digest()
    if _started_from(service) == digest and _healthy(service, secrets):
        return False
    procs.stop(service.pid_file)
    _wait_port_free(service)
    for attempt in range(1, BIND_ATTEMPTS + 1):
        if _start_once(service, secrets, digest, timeout):
            return True
        holders = procs.port_holders(_port(service))
        if attempt == BIND_ATTEMPTS:
            raise _start_failed(service, 'its port %d was taken %d times '
                                '(held by: %s)' % (
                                    _port(service), attempt,
                                    '; '.join(holders) or 'gone by now'))
        say(service.site, '%s: port %d taken (held by: %s); starting it '
            'again once it is free' % (service.name, _port(service),
                                       '; '.join(holders) or 'gone by now'))
        _wait_unheld(_port(service), BIND_WAIT)


# A listener's port can be held by a connection that has it as its local
# port - for up to a minute after it closed (TIME_WAIT).  Seen once on a
# fresh lab: site-b's placement found 38778 taken although the lab
# reserves its ports from the ephemeral range.  The start is tried again
# once no socket holds the port.
BIND_ATTEMPTS = 3
BIND_WAIT = 70
ADDRESS_IN_USE = 'Address already in use'


def _wait_unheld(port, timeout):
    deadline = time.monotonic() + timeout
    while procs.port_holders(port) and time.monotonic() < deadline:
        time.sleep(0.5)


def _port(service):
    return urllib.parse.urlsplit(service.probe_url).port


def _start_once(service, secrets, digest, timeout):
    """Start ``service`` and wait until it is healthy: True; False when
    it exited because its port was taken (raises on any other
    failure)."""
    # The services' records keep whole seconds.
    started = datetime.datetime.now(datetime.timezone.utc).replace(
        tzinfo=None, microsecond=0)
    procs.start(list(service.argv), service.pid_file, service.log_file,
                env=service.env, cwd=str(paths.site_dir(service.site)))
    service.digest_file.write_text(digest)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if procs.running_pid(service.pid_file) is None:
            if (service.probe_url and ADDRESS_IN_USE in procs.log_tail(
                    service.log_file, lines=5)):
                return False
            raise _start_failed(service, 'the process exited')
        if _healthy(service, secrets, since=started):
            return True
        time.sleep(0.3)
    procs.stop(service.pid_file)
    raise _start_failed(service, 'no answer within %d s' % timeout)


def _start_and_say(service, secrets):
    if start_service(service, secrets):
        say(service.site, '%s started (pid %s)' % (
            service.name, procs.running_pid(service.pid_file)))


def start_stage(service):
    """When a restart may start ``service``: 0 Keystone, 1 the other
    APIs (they need only Keystone and the databases), 2 the daemons (a
    daemon is healthy once its API reports it up), 3 what needs a daemon
    (nova-compute registers through nova-conductor) and Mistral."""
    if service.name == 'keystone':
        return 0
    if service.probe_url and service.name != 'mistral':
        return 1
    if service.name in ('nova-compute', 'mistral'):
        return 3
    return 2


def restart_site(site, secrets):
    """Start what is not running of a configured ``site``: stage by stage
    (:func:`start_stage`), the services of a stage side by side (one by
    one took a minute of every recovery)."""
    stages = {}
    for service in svcs.for_site(site):
        stages.setdefault(start_stage(service), []).append(service)
    for stage in sorted(stages):
        _in_parallel(_start_and_say, stages[stage], secrets)


def start_site(site, secrets, bootstrap=True):
    """Start ``site``'s services in order; with bootstrap, configure too."""
    for service in svcs.for_site(site):
        _start_and_say(service, secrets)
        if service.name == 'keystone' and bootstrap:
            identity.configure(site, secrets)
        if service.name == 'nova-compute' and bootstrap:
            _run_tool(site, [str(paths.venv_bin('nova-manage')),
                             '--config-file', _conf(site, 'nova'),
                             'cell_v2', 'discover_hosts'],
                      'nova discover_hosts')
    if bootstrap:
        content.ensure(site, secrets)


def _prepare_site(site, secrets):
    scrub_setup_logs(site)
    infra.ensure_databases(site, secrets.get('mariadb'))
    infra.ensure_vhost(site, secrets.get('%s/rabbit' % site.name))
    write_configs(site, secrets)
    sync_databases(site, secrets)
    start_site(site, secrets)


def _in_parallel(function, items, *args):
    """``function(item, *args)`` for every item (sites, services) side
    by side; raises what failed, every failure named."""
    with concurrent.futures.ThreadPoolExecutor(len(items)) as pool:
        futures = [pool.submit(function, item, *args) for item in items]
        errors = [f.exception() for f in futures if f.exception()]
    if errors:
        raise errors[0] if len(errors) == 1 else LabError(
            '\n\n'.join(str(e) for e in errors))


def _reserve_ports(sites):
    ports = {urllib.parse.urlsplit(s.probe_url).port
             for s in svcs.all_services(sites) if s.probe_url}
    if not infra.reserve_ports(ports):
        say(None, 'could not reserve the lab ports from the ephemeral '
                  'range (%s is read-only)' % infra.RESERVED_PORTS)


def up(sites=topo.SITES):
    started = time.monotonic()
    topo.heat_engine_workers()      # a bad setting fails before any change
    installer.ensure_venv()
    infra.ensure_tools()
    _reserve_ports(sites)
    infra.ensure_mariadb()
    infra.ensure_rabbitmq()
    secrets = lab_secrets.Secrets()
    _in_parallel(_prepare_site, sites, secrets)
    write_client_files(secrets)
    for site in sites:
        if site.runs_mistral:
            say(site, 'workbooks loaded: %s' % ', '.join(
                workbooks.load(site, secrets)))
    say(None, 'up in %.0f s' % (time.monotonic() - started))


def recover(site):
    """Restart a failed site on its surviving databases."""
    _reserve_ports([site])
    infra.ensure_mariadb()
    secrets = lab_secrets.Secrets()
    password = secrets.get('%s/rabbit' % site.name)
    # A broker restart can wipe vhosts: make sure this site's is there,
    # unless its user logs in to it (rabbitmqctl took 11 s of every
    # recovery).
    if not infra.vhost_opens(site, password, paths.venv_bin('python')):
        infra.ensure_rabbitmq()
        infra.ensure_vhost(site, password)
    restart_site(site, secrets)


def fail(site, services=None):
    """A real disaster: SIGKILL every process of the site, at once - or
    only those of the named ``services`` (a crashed API, engine...);
    ``recover`` restarts what is not running."""
    known = {service.name: service for service in svcs.for_site(site)}
    unknown = sorted(set(services or ()) - set(known))
    if unknown:
        raise LabError('%s runs no %s (it runs: %s)' % (
            site.name, ', '.join(unknown), ', '.join(known)))
    killed = []
    for service in known.values():
        if services and service.name not in services:
            continue
        pid = procs.kill(service.pid_file)
        if pid is not None:
            killed.append('%s (pid %d)' % (service.name, pid))
    say(site, 'killed: %s' % (', '.join(killed) or 'nothing was running'))


def down(sites=topo.SITES, purge=False):
    services = svcs.all_services(sites)
    stopped = procs.stop_many([s.pid_file for s in services])
    for service in services:
        if stopped[service.pid_file] is not None:
            say(service.site, '%s stopped (pid %d)' % (
                service.name, stopped[service.pid_file]))
    if purge:
        for site in sites:
            infra.drop_databases(site)
            infra.delete_vhost(site)
            _remove_tree(paths.site_dir(site))
        # Backups of both sites share one directory (each site imports
        # the other's records); nothing refers to them any more.
        _remove_tree(paths.backups_dir())
        say(None, 'databases, vhosts, state and backups of %s removed'
            % ', '.join(s.name for s in sites))


def _remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)


def status(sites=topo.SITES):
    """[(service, healthy, detail)] for every service of ``sites``."""
    secrets = lab_secrets.Secrets()
    rows = []
    reports = {}
    for service in svcs.all_services(sites):
        pid = procs.running_pid(service.pid_file)
        if pid is None:
            rows.append((service, False, 'not running'))
        elif not _healthy(service, secrets, reports):
            rows.append((service, False, 'pid %d does not answer' % pid))
        else:
            rows.append((service, True, 'pid %d, %s' % (
                pid, service.probe_url or
                'reported up by %s %s' % service.reported_by[:2])))
    return rows


# ------------------------------------------------------------ volume data

def volume_path(site, volume_id):
    """The file holding a lab volume's bytes at ``site``."""
    path = filestore.volume_file(paths.volumes_dir(site), volume_id)
    if not path.exists():
        raise LabError('no volume %s at %s (looked for %s)'
                       % (volume_id, site.name, path))
    return path


def replicate(site, volume_ids=None):
    """Copy ``site``'s replicated volumes to their replicas now."""
    return filestore.replicate(paths.volumes_dir(site), volume_ids)


# ------------------------------------------------------------ client files

def _cloud(site, auth):
    return {'auth': auth, 'region_name': site.region,
            'identity_api_version': 3, 'interface': 'public'}


def write_client_files(secrets):
    clouds = {}
    rescuer_clouds = {}
    registry = {}
    for site in topo.SITES:
        clouds[site.name] = _cloud(site, identity.user_auth(
            site, secrets, identity.OPERATOR))
        clouds['%s-admin' % site.name] = _cloud(
            site, identity.admin_auth(site, secrets))
        clouds['%s-%s' % (site.name, identity.OTHER_PROJECT)] = _cloud(
            site, identity.user_auth(site, secrets, identity.OTHER_OPERATOR,
                                     project=identity.OTHER_PROJECT))
        rescuer_clouds['rescuer-%s' % site.name] = _cloud(
            site, identity.user_auth(site, secrets, identity.RESCUER_USER))
        registry[site.name] = {
            'cloud': 'rescuer-%s' % site.name,
            'region': site.region,
            'country': site.country,
            'location': site.location,
            'role': 'recovery' if site.runs_mistral else 'primary',
            'capacity': content.CAPACITY,
            'mappings': content.default_mappings(),
            # Where replicas of other sites' volumes are, for Cinder's
            # manage-existing at failover (the lab backend's layout).
            'storage': {'manage_host': '%s@lab#lab' % site.name,
                        'group_type': 'lab-group',
                        'replica_ref': {'source-name': 'from-{primary_site}'
                                        '/volume-{volume_id}'}},
        }
    _write_private(paths.clouds_file(), yaml.safe_dump(
        {'clouds': clouds}, default_flow_style=False))
    _write_private(paths.rescuer_clouds_file(), yaml.safe_dump(
        {'clouds': rescuer_clouds}, default_flow_style=False))
    header = ('# Rescuer DR site registry, written by rescuer-lab.\n'
              '# Credentials live in the clouds file, never here.\n')
    _write_private(paths.sites_file(), header + yaml.safe_dump(
        {'clouds_file': paths.rescuer_clouds_file().name,
         'store_dir': str(paths.site_dir(topo.site('site-b')) / 'store'),
         'sites': registry}, default_flow_style=False))


def env_lines():
    return ['export OS_CLIENT_CONFIG_FILE=%s' % paths.clouds_file(),
            'export RESCUER_SITES_FILE=%s' % paths.sites_file(),
            'export RESCUER_LAB_DIR=%s' % paths.lab_dir()]
