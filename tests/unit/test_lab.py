"""The lab's own machinery, on real processes and files (no services)."""

import datetime
import http.server
import os
import socket
import stat
import subprocess
import sys
import threading

import pytest

from rescuer_lab import cli
from rescuer_lab import infra
from rescuer_lab import lab
from rescuer_lab import paths
from rescuer_lab import procs
from rescuer_lab import secrets as lab_secrets
from rescuer_lab import services
from rescuer_lab import topology
from rescuer_lab import workbooks


@pytest.fixture
def lab_dir(tmp_path, monkeypatch):
    monkeypatch.setenv('RESCUER_LAB_DIR', str(tmp_path / 'lab'))
    return tmp_path / 'lab'


SLEEPER = [sys.executable, '-c', 'import time; time.sleep(60)']


def test_started_process_is_tracked_and_stopped(tmp_path):
    pid_file, log_file = tmp_path / 'p.pid', tmp_path / 'p.log'
    proc = procs.start(SLEEPER, pid_file, log_file)
    try:
        assert procs.running_pid(pid_file) == proc.pid
        assert os.getpgid(proc.pid) == proc.pid  # its own process group
    finally:
        assert procs.stop(pid_file) == proc.pid
    proc.wait(5)
    assert procs.running_pid(pid_file) is None
    assert not pid_file.exists()
    assert 'starting: %s' % sys.executable in log_file.read_text()


def test_kill_takes_down_the_whole_process_group(tmp_path):
    pid_file = tmp_path / 'p.pid'
    parent = [sys.executable, '-c',
              'import subprocess, sys, time;'
              'c = subprocess.Popen([sys.executable, "-c",'
              ' "import time; time.sleep(60)"]);'
              'print(c.pid, flush=True); time.sleep(60)']
    proc = procs.start(parent, pid_file, tmp_path / 'p.log')
    child_pid = None
    for _ in range(50):
        text = (tmp_path / 'p.log').read_text().split('\n')[-2:]
        if text[0].strip().isdigit():
            child_pid = int(text[0])
            break
        proc.poll()
        threading.Event().wait(0.1)
    assert child_pid, 'the child never reported its pid'

    assert procs.kill(pid_file) == proc.pid
    assert procs._start_time(proc.pid) is None or procs._is_zombie(proc.pid)
    for _ in range(50):
        if procs._start_time(child_pid) is None or procs._is_zombie(
                child_pid):
            break
        threading.Event().wait(0.1)
    assert procs._start_time(child_pid) is None or procs._is_zombie(
        child_pid)


def test_recycled_pid_is_not_taken_for_the_service(tmp_path):
    pid_file = tmp_path / 'p.pid'
    # Our own PID, but with a start time that is not ours: a recycled PID.
    pid_file.write_text('%d 1\n' % os.getpid())
    assert procs.running_pid(pid_file) is None
    assert procs.kill(pid_file) is None  # and it is never signalled


def test_secrets_persist_in_a_private_file(lab_dir):
    first = lab_secrets.Secrets()
    password = first.get('site-a/admin')
    assert len(password) >= 20
    assert lab_secrets.Secrets().get('site-a/admin') == password
    mode = stat.S_IMODE(os.stat(lab_dir / 'secrets.yaml').st_mode)
    assert mode == 0o600


def test_site_ports_and_names():
    site_a, site_b = topology.SITES
    assert site_a.keystone_url == 'http://127.0.0.1:25000/v3'
    assert site_b.mistral_url == 'http://127.0.0.1:38989/v2'
    assert site_a.databases == [
        'site_a_keystone', 'site_a_heat', 'site_a_placement',
        'site_a_nova_api', 'site_a_nova', 'site_a_nova_cell0',
        'site_a_glance', 'site_a_cinder', 'site_a_neutron']
    assert site_b.databases[-1] == 'site_b_mistral'
    assert site_a.peer is site_b and site_b.peer is site_a
    with pytest.raises(KeyError, match='the lab has: site-a, site-b'):
        topology.site('site-c')


def test_configs_render_with_site_values_privately(lab_dir):
    paste = lab_dir / 'venv' / 'etc' / 'nova' / 'api-paste.ini'
    paste.parent.mkdir(parents=True)
    paste.write_text('[composite:osapi_compute]\n')
    secrets = lab_secrets.Secrets()
    site_b = topology.site('site-b')
    lab.write_configs(site_b, secrets)

    heat_conf = lab_dir / 'site-b' / 'etc' / 'heat' / 'heat.conf'
    text = heat_conf.read_text()
    assert 'host = site-b\n' in text
    assert 'region_name_for_services = RegionB\n' in text
    assert ('/rescuer_heat/resources,%s/rescuer_lab/heat_plugins\n'
            % paths.source_dir()) in text
    assert '/rescuer-site-b\n' in text  # its own RabbitMQ vhost
    assert 'num_engine_workers = 1\n' in text
    assert stat.S_IMODE(os.stat(heat_conf).st_mode) == 0o600
    mistral_conf = lab_dir / 'site-b' / 'etc' / 'mistral' / 'mistral.conf'
    assert 'port = 38989' in mistral_conf.read_text()
    assert 'run_in_api = false' in mistral_conf.read_text()
    assert 'fixed_delay = 0.2' in mistral_conf.read_text()
    cinder_conf = (lab_dir / 'site-b' / 'etc' / 'cinder' /
                   'cinder.conf').read_text()
    # site-b's replicas land in storage site-a's backend owns.
    assert ('replication_device = backend_id:site-a,replica_dir:%s'
            % (lab_dir / 'site-a' / 'volumes' / 'from-site-b')) in cinder_conf
    assert 'backup_posix_path = %s/backups' % lab_dir in cinder_conf
    assert (lab_dir / 'site-b' / 'etc' / 'nova' / 'api-paste.ini').exists()
    sudo = lab_dir / 'bin' / 'sudo'
    assert os.access(sudo, os.X_OK)


def test_heat_engine_workers_come_from_the_environment(lab_dir,
                                                       monkeypatch):
    monkeypatch.setenv('RESCUER_LAB_HEAT_ENGINE_WORKERS', '2')
    paste = lab_dir / 'venv' / 'etc' / 'nova' / 'api-paste.ini'
    paste.parent.mkdir(parents=True)
    paste.write_text('[composite:osapi_compute]\n')
    lab.write_configs(topology.site('site-a'), lab_secrets.Secrets())
    heat_conf = lab_dir / 'site-a' / 'etc' / 'heat' / 'heat.conf'
    assert 'num_engine_workers = 2\n' in heat_conf.read_text()


@pytest.mark.parametrize('value', ['0', 'two', '9', ''])
def test_a_bad_heat_engine_worker_count_fails_up_before_any_change(
        lab_dir, monkeypatch, capsys, value):
    monkeypatch.setenv('RESCUER_LAB_HEAT_ENGINE_WORKERS', value)
    monkeypatch.setattr(lab.installer, 'ensure_venv', pytest.fail)
    assert cli.main(['up']) == 1
    assert ('RESCUER_LAB_HEAT_ENGINE_WORKERS must be a whole number from 1 '
            'to 8, not %r' % value) in capsys.readouterr().err


SITE_SERVICES = [
    'keystone', 'placement', 'glance-api', 'neutron-api', 'cinder-api',
    'cinder-scheduler', 'cinder-volume', 'cinder-backup', 'nova-api',
    'nova-conductor', 'nova-scheduler', 'nova-compute', 'heat-api',
    'heat-engine']


def test_only_site_b_runs_mistral(lab_dir):
    names = [s.name for s in services.for_site(topology.site('site-a'))]
    assert names == SITE_SERVICES
    names = [s.name for s in services.for_site(topology.site('site-b'))]
    assert names == SITE_SERVICES + ['mistral']


def test_services_without_api_are_checked_through_the_api_reporting_them():
    by_name = {s.name: s for s in services.for_site(topology.site('site-a'))}
    assert by_name['nova-compute'].reported_by == (
        'compute', '/os-services', 'nova-compute')
    assert by_name['cinder-volume'].reported_by == (
        'volumev3', '/os-services', 'cinder-volume')
    assert by_name['heat-engine'].reported_by == (
        'orchestration', '/services', 'heat-engine')
    for service in by_name.values():
        assert service.probe_url or service.reported_by, service.name


def test_a_restart_starts_a_service_only_after_what_it_needs(lab_dir):
    stages = {s.name: lab.start_stage(s)
              for s in services.for_site(topology.site('site-b'))}
    apis = ('placement', 'glance-api', 'neutron-api', 'cinder-api',
            'nova-api', 'heat-api')
    assert stages['keystone'] == 0
    assert {stages[name] for name in apis} == {1}
    # A daemon is healthy once its API reports it up; nova-compute
    # registers through nova-conductor.
    for service in services.for_site(topology.site('site-b')):
        if service.reported_by:
            api = {'compute': 'nova-api', 'volumev3': 'cinder-api',
                   'orchestration': 'heat-api'}[service.reported_by[0]]
            assert stages[service.name] > stages[api], service.name
    assert stages['nova-compute'] > stages['nova-conductor']
    assert stages['mistral'] > stages['keystone']


def test_services_listen_on_loopback_only():
    for service in services.all_services():
        if '--http-socket' in service.argv:
            address = service.argv[service.argv.index('--http-socket') + 1]
            assert address.startswith('127.0.0.1:'), service.label
        if service.probe_url:
            assert service.probe_url.startswith('http://127.0.0.1:')


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(300 if self.path == '/' else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_http_probe_accepts_only_expected_statuses():
    server = http.server.HTTPServer(('127.0.0.1', 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = 'http://127.0.0.1:%d' % server.server_port
    try:
        assert services.http_answers(url + '/', (200, 300))
        assert not services.http_answers(url + '/', (200,))
        assert not services.http_answers(url + '/missing', (200, 300))
    finally:
        server.shutdown()
    assert not services.http_answers(url + '/', (200, 300), timeout=1)


def test_service_that_exits_at_once_points_at_its_log(lab_dir, tmp_path):
    site = topology.site('site-a')
    broken = services.Service(
        site, 'broken', (sys.executable, '-c',
                         'import sys; print("bad option"); sys.exit(3)'),
        dict(os.environ), probe_url='http://127.0.0.1:9/')
    with pytest.raises(lab.LabError) as info:
        lab.start_service(broken, secrets=None, timeout=10)
    message = str(info.value)
    assert 'site-a broken did not start: the process exited' in message
    assert str(broken.log_file) in message
    assert 'bad option' in message


def test_cli_rejects_unknown_site(capsys):
    from rescuer_lab import cli
    with pytest.raises(SystemExit):
        cli.main(['fail', 'site-q'])
    assert "unknown lab site 'site-q'" in capsys.readouterr().err


def test_env_prints_exports(lab_dir):
    out = subprocess.run(
        [sys.executable, '-m', 'rescuer_lab.cli', 'env'], capture_output=True,
        text=True, check=True, env=dict(os.environ)).stdout
    assert 'export OS_CLIENT_CONFIG_FILE=%s/clouds.yaml' % lab_dir in out
    assert 'export RESCUER_SITES_FILE=%s/rescuer/sites.yaml' % lab_dir in out


def _free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_up_restarts_a_service_only_when_its_configuration_changed(
        lab_dir, tmp_path):
    config = tmp_path / 'conf'
    config.mkdir()
    (config / 'svc.conf').write_text('option = 1\n')
    port = _free_port()
    service = services.Service(
        topology.site('site-a'), 'http',
        (sys.executable, '-m', 'http.server', str(port), '--bind',
         '127.0.0.1'),
        dict(os.environ), probe_url='http://127.0.0.1:%d/' % port,
        config_dir=config)
    try:
        assert lab.start_service(service, secrets=None, timeout=20)
        first = procs.running_pid(service.pid_file)
        assert not lab.start_service(service, secrets=None, timeout=20)
        assert procs.running_pid(service.pid_file) == first

        (config / 'svc.conf').write_text('option = 2\n')
        assert lab.start_service(service, secrets=None, timeout=20)
        second = procs.running_pid(service.pid_file)
        assert second != first
        assert procs._start_time(first) is None or procs._is_zombie(first)
    finally:
        procs.stop(service.pid_file)


def _connection_from_port(port):
    """An established connection whose local port is ``port``, as a
    client's connection gets one (no SO_REUSEADDR): a listener cannot
    bind ``port`` while it lasts.  Closed in the order returned, the
    other end is the one left in TIME_WAIT."""
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen()
    client = socket.socket()
    client.bind(('127.0.0.1', port))
    client.connect(listener.getsockname())
    accepted, _ = listener.accept()
    return [accepted, client, listener]


def test_a_service_whose_port_a_connection_holds_is_started_again(
        lab_dir, monkeypatch, capsys):
    port = _free_port()
    held = _connection_from_port(port)
    assert any(h.startswith('ESTABLISHED 127.0.0.1:%d -> ' % port)
               for h in procs.port_holders(port))
    service = services.Service(
        topology.site('site-a'), 'http',
        (sys.executable, '-m', 'http.server', str(port), '--bind',
         '127.0.0.1'),
        dict(os.environ), probe_url='http://127.0.0.1:%d/' % port)
    # The connection ends while the first start fails.
    release = threading.Timer(0.5, lambda: [s.close() for s in held])
    release.start()
    try:
        assert lab.start_service(service, secrets=None, timeout=20)
        assert services.http_answers(service.probe_url, (200, 300))
        assert 'http: port %d taken (held by: ESTABLISHED' % port in (
            capsys.readouterr().out)
    finally:
        release.join()
        procs.stop(service.pid_file)


def test_a_port_held_at_every_attempt_fails_naming_the_holder(
        lab_dir, monkeypatch):
    monkeypatch.setattr(lab, 'BIND_WAIT', 0)
    port = _free_port()
    held = _connection_from_port(port)
    service = services.Service(
        topology.site('site-a'), 'http',
        (sys.executable, '-m', 'http.server', str(port), '--bind',
         '127.0.0.1'),
        dict(os.environ), probe_url='http://127.0.0.1:%d/' % port)
    try:
        with pytest.raises(lab.LabError) as info:
            lab.start_service(service, secrets=None, timeout=20)
    finally:
        for sock in held:
            sock.close()
    message = str(info.value)
    assert 'port %d was taken %d times' % (port, lab.BIND_ATTEMPTS) in (
        message)
    assert 'ESTABLISHED 127.0.0.1:%d -> 127.0.0.1:' % port in message


def test_stop_many_stops_every_group_together(tmp_path):
    started = []
    for index in range(3):
        pid_file = tmp_path / ('p%d.pid' % index)
        started.append((pid_file, procs.start(SLEEPER, pid_file,
                                              tmp_path / 'p.log')))
    stopped = procs.stop_many([pid_file for pid_file, _ in started])
    for pid_file, proc in started:
        assert stopped[pid_file] == proc.pid
        assert not pid_file.exists()
        assert procs._start_time(proc.pid) is None or procs._is_zombie(
            proc.pid)


def test_setup_logs_of_earlier_versions_lose_the_bootstrap_password(
        lab_dir):
    site = topology.site('site-a')
    log_dir = paths.log_dir(site)
    log_dir.mkdir(parents=True)
    leaked = log_dir / 'setup-keystone.log'
    leaked.write_text('==== keystone-manage bootstrap --bootstrap-password '
                      's3cr3t-value --bootstrap-region-id RegionA\nok\n')
    lab.scrub_setup_logs(site)
    assert 's3cr3t-value' not in leaked.read_text()
    assert '--bootstrap-password *** --bootstrap-region-id' in \
        leaked.read_text()


def test_keystone_bootstrap_takes_its_password_from_the_environment(lab_dir):
    secrets = lab_secrets.Secrets()
    [bootstrap] = [step for step in lab._keystone_steps(
        topology.site('site-a'), secrets) if step[1] == 'keystone bootstrap']
    password = secrets.get('site-a/admin')
    assert password not in bootstrap[0]
    assert bootstrap[3] == {'OS_BOOTSTRAP_PASSWORD': password}


def test_lab_ports_are_reserved_from_the_ephemeral_range(tmp_path,
                                                         monkeypatch):
    setting = tmp_path / 'ip_local_reserved_ports'
    setting.write_text('8080,9000-9002\n')
    monkeypatch.setattr(infra, 'RESERVED_PORTS', setting)
    assert infra.reserve_ports({35000, 9001, 38774})
    assert setting.read_text() == '8080,9000-9002,35000,38774'
    # Nothing to add: the setting is left alone.
    assert infra.reserve_ports({35000})
    assert setting.read_text() == '8080,9000-9002,35000,38774'
    monkeypatch.setattr(infra, 'RESERVED_PORTS', tmp_path / 'no' / 'such')
    assert infra.reserve_ports({35000}) is False


def test_an_unchanged_public_workbook_is_not_loaded_again():
    text = 'version: "2.0"\nname: w\n'
    assert workbooks._unchanged({'definition': text, 'scope': 'public'}, text)
    assert not workbooks._unchanged(
        {'definition': text, 'scope': 'private'}, text)
    assert not workbooks._unchanged(
        {'definition': text + '# changed\n', 'scope': 'public'}, text)


def test_purge_removes_each_sites_state_and_the_shared_backups(
        lab_dir, monkeypatch):
    dropped = []
    monkeypatch.setattr(infra, 'drop_databases',
                        lambda site: dropped.append(('db', site.name)))
    monkeypatch.setattr(infra, 'delete_vhost',
                        lambda site: dropped.append(('vhost', site.name)))
    kept = paths.venv_dir() / 'bin'
    kept.mkdir(parents=True)
    for site in topology.SITES:
        paths.volumes_dir(site).mkdir(parents=True)
    paths.backups_dir().mkdir(parents=True)
    (paths.backups_dir() / 'chunk').write_text('x')

    lab.down(purge=True)

    assert sorted(dropped) == sorted(
        (kind, s.name) for s in topology.SITES for kind in ('db', 'vhost'))
    assert not any(paths.site_dir(s).exists() for s in topology.SITES)
    assert not paths.backups_dir().exists()
    assert kept.is_dir()


def test_a_restarted_daemon_is_up_only_once_it_has_reported_itself(
        lab_dir, tmp_path, monkeypatch):
    """Nova reports a killed nova-compute up on its last heartbeat for a
    minute: a `recover` that took that for the new process returned
    before it had reported, and `status` found it down a moment later."""
    config = tmp_path / 'conf'
    config.mkdir()
    service = services.Service(
        topology.site('site-a'), 'daemon', tuple(SLEEPER), dict(os.environ),
        config_dir=config,
        reported_by=('compute', '/os-services', 'nova-compute'))
    killed_at = datetime.datetime(2026, 1, 1, 10, 0, 0)
    answers = []

    def services_up(site, secrets, service_type, path):
        # The dead process's heartbeat twice, then the new one's.
        answers.append(path)
        if len(answers) <= 2:
            return {'nova-compute': killed_at}
        return {'nova-compute': datetime.datetime.now(
            datetime.timezone.utc).replace(tzinfo=None)}
    monkeypatch.setattr(lab.identity, 'services_up', services_up)
    monkeypatch.setattr(lab.time, 'sleep', lambda seconds: None)
    try:
        assert lab.start_service(service, secrets=None, timeout=20)
        assert len(answers) == 3
        # `status` (no start to compare with) takes any report as up.
        assert lab._healthy(service, None)
        answers.clear()
        assert lab._healthy(service, None, since=datetime.datetime.now(
            datetime.timezone.utc).replace(tzinfo=None)) is False
    finally:
        procs.stop(service.pid_file)


class _Keystone(http.server.BaseHTTPRequestHandler):
    """POST /v3/auth/tokens: 201 for the password 'right', else 401."""

    def do_POST(self):
        import json
        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        password = body['auth']['identity']['password']['user']['password']
        if password != 'right':
            self.send_response(401)
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        token = json.dumps({'token': {
            'methods': ['password'], 'user': {'id': 'u', 'name': 'rescuer',
                                              'domain': {'id': 'default'}},
            'issued_at': '2026-12-07T09:00:00.000000Z',
            'expires_at': '2999-01-01T00:00:00.000000Z'}}).encode()
        self.send_response(201)
        self.send_header('X-Subject-Token', 'token-1')
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(token)))
        self.end_headers()
        self.wfile.write(token)

    def log_message(self, *args):
        pass


class _Identity:
    def __init__(self):
        self.updated = []

    def find_user(self, name, domain_id):
        return {'name': name}

    def update_user(self, user, password):
        self.updated.append((user['name'], password))
        return user


def test_up_sets_a_users_password_only_when_it_does_not_work():
    """Keystone revokes a user's tokens whenever its password is set: a
    second `up` must not, while the password still works."""
    from rescuer_lab import identity
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Keystone)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    site = topology.SITES[0]
    keystone = 'http://127.0.0.1:%d/v3' % server.server_address[1]
    conn = type('Conn', (), {'identity': _Identity()})()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(type(site), 'keystone_url', keystone)
            identity._ensure_user(conn, site, 'rescuer', 'right')
            assert conn.identity.updated == []
            identity._ensure_user(conn, site, 'rescuer', 'rotated')
            assert conn.identity.updated == [('rescuer', 'rotated')]
    finally:
        server.shutdown()


def test_nova_finds_the_labs_compute_driver_in_its_own_package(lab_dir):
    """Nova imports ``nova.virt.<compute_driver>`` only: `up` writes the
    module that hands it the lab's driver, and the config names it."""
    from rescuer_lab import installer
    virt = paths.venv_dir() / 'lib' / 'python3.11' / 'site-packages' / \
        'nova' / 'virt'
    virt.mkdir(parents=True)
    module = installer.ensure_nova_driver_module()
    assert module == virt / 'lab_fake.py'
    assert ('from rescuer_lab.drivers.nova_fake import LabDriver'
            in module.read_text())
    compiled = compile(module.read_text(), str(module), 'exec')
    assert 'LabDriver' in compiled.co_names
    conf = (paths.source_dir() / 'rescuer_lab' / 'etc' /
            'nova.conf.j2').read_text()
    assert 'compute_driver = lab_fake.LabDriver' in conf
