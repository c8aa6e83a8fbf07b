"""Bring the two-site lab up, down, and through disasters."""

import concurrent.futures
import getpass
import grp
import hashlib
import os
import subprocess
import time

import jinja2
import yaml

from rescuer_lab import identity
from rescuer_lab import infra
from rescuer_lab import installer
from rescuer_lab import paths
from rescuer_lab import procs
from rescuer_lab import secrets as lab_secrets
from rescuer_lab import services as svcs
from rescuer_lab import topology as topo

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
        heat_plugin_dirs=paths.source_dir() / 'rescuer_heat' / 'resources',
        mistral_port=site.port(topo.MISTRAL_API_PORT),
    )
    env = _templates()
    names = ['keystone', 'heat'] + (['mistral'] if site.runs_mistral else [])
    for name in names:
        context['etc'] = paths.etc_dir(site, name)
        text = env.get_template('%s.conf.j2' % name).render(**context)
        _write_private(paths.etc_dir(site, name) / ('%s.conf' % name), text)
    paths.log_dir(site).mkdir(parents=True, exist_ok=True)


def _conf(site, name):
    return str(paths.etc_dir(site, name) / ('%s.conf' % name))


def _run_tool(site, argv, what):
    log_file = paths.log_dir(site) / 'setup.log'
    with open(log_file, 'a') as log:
        log.write('\n==== %s\n' % ' '.join(argv[:4]))
        log.flush()
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise LabError('%s failed at %s (exit %d); see %s:\n%s' % (
            what, site.name, result.returncode, log_file,
            procs.log_tail(log_file, 10)))


def _db_stamp(site):
    return paths.site_dir(site) / '.db-synced'


def _db_stamp_value():
    return hashlib.sha256(
        (paths.source_dir() / 'upper-constraints.txt').read_bytes()
    ).hexdigest()


def sync_databases(site, secrets):
    """Schema migrations and Keystone bootstrap; skipped when current."""
    stamp = _db_stamp(site)
    if stamp.exists() and stamp.read_text() == _db_stamp_value():
        return
    bin_ = lambda name: str(paths.venv_bin(name))  # noqa: E731
    keystone = [bin_('keystone-manage'), '--config-file',
                _conf(site, 'keystone')]
    owner = ['--keystone-user', getpass.getuser(),
             '--keystone-group', grp.getgrgid(os.getgid()).gr_name]
    say(site, 'migrating databases')
    _run_tool(site, keystone + ['db_sync'], 'keystone db_sync')
    _run_tool(site, keystone + ['fernet_setup'] + owner, 'fernet_setup')
    _run_tool(site, keystone + ['credential_setup'] + owner,
              'credential_setup')
    url = site.keystone_url
    _run_tool(site, keystone + [
        'bootstrap', '--bootstrap-password',
        secrets.get('%s/admin' % site.name),
        '--bootstrap-region-id', site.region,
        '--bootstrap-public-url', url, '--bootstrap-internal-url', url,
        '--bootstrap-admin-url', url], 'keystone bootstrap')
    _run_tool(site, [bin_('heat-manage'), '--config-file',
                     _conf(site, 'heat'), 'db_sync'], 'heat db_sync')
    if site.runs_mistral:
        mistral = [bin_('mistral-db-manage'), '--config-file',
                   _conf(site, 'mistral')]
        _run_tool(site, mistral + ['upgrade', 'head'], 'mistral upgrade')
        _run_tool(site, mistral + ['populate'], 'mistral populate')
    stamp.write_text(_db_stamp_value())


# ---------------------------------------------------------------- processes

def _healthy(service, secrets):
    if procs.running_pid(service.pid_file) is None:
        return False
    if service.probe_url:
        return svcs.http_answers(service.probe_url, service.probe_ok)
    if service.name == 'heat-engine':
        return service.site.name in identity.heat_engines_up(service.site,
                                                             secrets)
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


def start_service(service, secrets, timeout=START_TIMEOUT):
    """Start ``service`` unless it already runs, healthy, from the same
    configuration and code; returns True when it (re)started it."""
    digest = service.digest()
    if _started_from(service) == digest and _healthy(service, secrets):
        return False
    procs.stop(service.pid_file)
    procs.start(list(service.argv), service.pid_file, service.log_file,
                env=service.env, cwd=str(paths.site_dir(service.site)))
    service.digest_file.write_text(digest)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if procs.running_pid(service.pid_file) is None:
            raise _start_failed(service, 'the process exited')
        if _healthy(service, secrets):
            return True
        time.sleep(0.3)
    procs.stop(service.pid_file)
    raise _start_failed(service, 'no answer within %d s' % timeout)


def start_site(site, secrets, bootstrap=True):
    """Start ``site``'s services in order; with bootstrap, configure too."""
    for service in svcs.for_site(site):
        if start_service(service, secrets):
            say(site, '%s started (pid %s)' % (
                service.name, procs.running_pid(service.pid_file)))
        if service.name == 'keystone' and bootstrap:
            identity.configure(site, secrets)


def _prepare_site(site, secrets):
    infra.ensure_databases(site, secrets.get('mariadb'))
    infra.ensure_vhost(site, secrets.get('%s/rabbit' % site.name))
    write_configs(site, secrets)
    sync_databases(site, secrets)
    start_site(site, secrets)


def _in_parallel(function, sites, *args):
    with concurrent.futures.ThreadPoolExecutor(len(sites)) as pool:
        futures = [pool.submit(function, site, *args) for site in sites]
        errors = [f.exception() for f in futures if f.exception()]
    if errors:
        raise errors[0] if len(errors) == 1 else LabError(
            '\n\n'.join(str(e) for e in errors))


def up(sites=topo.SITES):
    started = time.monotonic()
    installer.ensure_venv()
    infra.ensure_mariadb()
    infra.ensure_rabbitmq()
    secrets = lab_secrets.Secrets()
    _in_parallel(_prepare_site, sites, secrets)
    write_client_files(secrets)
    say(None, 'up in %.0f s' % (time.monotonic() - started))


def recover(site):
    """Restart a failed site on its surviving databases."""
    infra.ensure_mariadb()
    infra.ensure_rabbitmq()
    secrets = lab_secrets.Secrets()
    # A broker restart can wipe vhosts: make sure this site's is there.
    infra.ensure_vhost(site, secrets.get('%s/rabbit' % site.name))
    start_site(site, secrets, bootstrap=False)


def fail(site):
    """A real disaster: SIGKILL every process of the site, at once."""
    killed = []
    for service in svcs.for_site(site):
        pid = procs.kill(service.pid_file)
        if pid is not None:
            killed.append('%s (pid %d)' % (service.name, pid))
    say(site, 'killed: %s' % (', '.join(killed) or 'nothing was running'))


def down(sites=topo.SITES, purge=False):
    for service in reversed(svcs.all_services(sites)):
        pid = procs.stop(service.pid_file)
        if pid is not None:
            say(service.site, '%s stopped (pid %d)' % (service.name, pid))
    if purge:
        for site in sites:
            infra.drop_databases(site)
            infra.delete_vhost(site)
            _remove_tree(paths.site_dir(site))
        say(None, 'databases, vhosts and state of %s removed'
            % ', '.join(s.name for s in sites))


def _remove_tree(path):
    import shutil
    shutil.rmtree(path, ignore_errors=True)


def status(sites=topo.SITES):
    """[(service, healthy, detail)] for every service of ``sites``."""
    secrets = lab_secrets.Secrets()
    rows = []
    for service in svcs.all_services(sites):
        pid = procs.running_pid(service.pid_file)
        if pid is None:
            rows.append((service, False, 'not running'))
        elif not _healthy(service, secrets):
            rows.append((service, False, 'pid %d does not answer' % pid))
        else:
            rows.append((service, True, 'pid %d, %s' % (
                pid, service.probe_url or 'engine reports up')))
    return rows


# ------------------------------------------------------------ client files

def _cloud(site, auth, auth_type=None):
    cloud = {'auth': auth, 'region_name': site.region,
             'identity_api_version': 3, 'interface': 'public'}
    if auth_type:
        cloud['auth_type'] = auth_type
    return cloud


def write_client_files(secrets):
    clouds = {}
    rescuer_clouds = {}
    registry = {}
    for site in topo.SITES:
        clouds[site.name] = _cloud(site, identity.user_auth(
            site, secrets, identity.OPERATOR))
        clouds['%s-admin' % site.name] = _cloud(
            site, identity.admin_auth(site, secrets))
        cred_id, cred_secret = identity.ensure_app_credential(site, secrets)
        rescuer_clouds['rescuer-%s' % site.name] = _cloud(site, {
            'auth_url': site.keystone_url,
            'application_credential_id': cred_id,
            'application_credential_secret': cred_secret,
        }, auth_type='v3applicationcredential')
        registry[site.name] = {
            'cloud': 'rescuer-%s' % site.name,
            'region': site.region,
            'country': site.country,
            'role': 'recovery' if site.runs_mistral else 'primary',
        }
    _write_private(paths.clouds_file(), yaml.safe_dump(
        {'clouds': clouds}, default_flow_style=False))
    _write_private(paths.rescuer_clouds_file(), yaml.safe_dump(
        {'clouds': rescuer_clouds}, default_flow_style=False))
    header = ('# Rescuer DR site registry, written by rescuer-lab.\n'
              '# Credentials live in the clouds file, never here.\n')
    _write_private(paths.sites_file(), header + yaml.safe_dump(
        {'clouds_file': paths.rescuer_clouds_file().name,
         'sites': registry}, default_flow_style=False))


def env_lines():
    return ['export OS_CLIENT_CONFIG_FILE=%s' % paths.clouds_file(),
            'export RESCUER_SITES_FILE=%s' % paths.sites_file(),
            'export RESCUER_LAB_DIR=%s' % paths.lab_dir()]
