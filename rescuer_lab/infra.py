"""MariaDB and RabbitMQ: use the machine's own, install them where missing.

Each site gets its own databases, its own RabbitMQ vhost and user, and one
shared MariaDB account for the lab's services.
"""

import os
import pathlib
import shutil
import subprocess
import time

from rescuer_lab import topology as topo

DB_USER = 'rescuer_lab'
BROKER = '%s:5672' % topo.HOST
MARIADBD = '/usr/sbin/mariadbd'


class InfraError(RuntimeError):
    pass


def _run(argv, **kwargs):
    kwargs.setdefault('stdin', subprocess.DEVNULL)
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


def _apt_install(*packages):
    print('rescuer-lab: installing %s from Debian packages'
          % ', '.join(packages))
    updated = _run(['apt-get', 'update', '-q'])
    if updated.returncode != 0:
        raise InfraError('apt-get update failed:\n%s' % updated.stderr)
    result = _run(['apt-get', 'install', '-y', '-q', '--no-install-recommends']
                  + list(packages),
                  env={'DEBIAN_FRONTEND': 'noninteractive',
                       'PATH': '/usr/sbin:/usr/bin:/sbin:/bin'})
    if result.returncode != 0:
        raise InfraError('apt-get install %s failed:\n%s'
                         % (' '.join(packages), result.stderr[-2000:]))


def _wait(check, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise InfraError('%s did not come up within %d s' % (what, timeout))


def ensure_tools():
    """Command-line tools the services call: qemu-img (Cinder, images)."""
    if not shutil.which('qemu-img'):
        _apt_install('qemu-utils')


RESERVED_PORTS = pathlib.Path('/proc/sys/net/ipv4/ip_local_reserved_ports')


def reserve_ports(ports):
    """Keep the kernel from handing the lab's listening ports out as the
    local ports of outgoing connections: site-b's (35000, 38774, ...) lie
    in the ephemeral range, and a uwsgi restarted while some client
    connection held its port failed with 'Address already in use'.
    Returns False where the setting cannot be written (a read-only
    /proc): the lab still runs, with that small risk."""
    try:
        current = RESERVED_PORTS.read_text().strip()
        held = set()
        for part in filter(None, current.split(',')):
            low, _, high = part.partition('-')
            held.update(range(int(low), int(high or low) + 1))
        missing = set(ports) - held
        if missing:
            RESERVED_PORTS.write_text(','.join(
                filter(None, [current] + [str(p) for p in sorted(missing)])))
        return True
    except OSError:
        return False


# ---------------------------------------------------------------- MariaDB

def _mysql(sql, database=None):
    argv = ['mariadb', '--protocol=socket', '-u', 'root', '-N', '-B']
    if database:
        argv.append(database)
    return _run(argv + ['-e', sql])


def _mariadb_answers():
    return shutil.which('mariadb') and _mysql('SELECT 1').returncode == 0


def ensure_mariadb():
    if _mariadb_answers():
        return
    if not os.path.exists(MARIADBD):
        _apt_install('mariadb-server', 'mariadb-client')
    # Started the way this machine kind starts it (no systemd here).
    os.makedirs('/run/mysqld', exist_ok=True)
    shutil.chown('/run/mysqld', 'mysql', 'mysql')
    _run(['start-stop-daemon', '--start', '--oknodo', '--background',
          '--exec', MARIADBD])
    _wait(_mariadb_answers, 'MariaDB')


def _quote(value):
    return "'%s'" % value.replace('\\', '\\\\').replace("'", "\\'")


def ensure_databases(site, password):
    statements = []
    for name in site.databases:
        statements.append('CREATE DATABASE IF NOT EXISTS `%s` '
                          'CHARACTER SET utf8mb4' % name)
    for host in ('127.0.0.1', 'localhost'):
        account = "%s@%s" % (_quote(DB_USER), _quote(host))
        statements.append('CREATE USER IF NOT EXISTS %s IDENTIFIED BY %s'
                          % (account, _quote(password)))
        statements.append('ALTER USER %s IDENTIFIED BY %s'
                          % (account, _quote(password)))
        for name in site.databases:
            statements.append('GRANT ALL PRIVILEGES ON `%s`.* TO %s'
                              % (name, account))
    result = _mysql('; '.join(statements))
    if result.returncode != 0:
        raise InfraError('could not create databases for %s: %s'
                         % (site.name, result.stderr.strip()))


def drop_databases(site):
    _mysql('; '.join('DROP DATABASE IF EXISTS `%s`' % name
                     for name in site.databases))


def db_url(site, service, password):
    return ('mysql+pymysql://%s:%s@%s/%s_%s?charset=utf8mb4'
            % (DB_USER, password, topo.HOST, site.short, service))


# --------------------------------------------------------------- RabbitMQ

def _rabbitmqctl(*args):
    # `-n rabbit@localhost` and no stdin: LAB-NOTES.
    for node in ([], ['-n', 'rabbit@localhost']):
        result = _run(['rabbitmqctl'] + node + list(args))
        if result.returncode == 0:
            return result
    return result


def _rabbit_answers():
    return shutil.which('rabbitmqctl') and \
        _rabbitmqctl('status').returncode == 0


def ensure_rabbitmq():
    if _rabbit_answers():
        return
    if not shutil.which('rabbitmq-server'):
        _apt_install('rabbitmq-server')
    _run(['rabbitmq-server', '-detached'])
    _wait(_rabbit_answers, 'RabbitMQ', timeout=90)


def ensure_vhost(site, password):
    user = site.vhost
    steps = [('add_vhost', site.vhost),
             ('add_user', user, password),
             ('change_password', user, password),
             ('set_permissions', '-p', site.vhost, user, '.*', '.*', '.*')]
    for step in steps:
        result = _rabbitmqctl(*step)
        if result.returncode != 0 and 'already' not in (
                result.stdout + result.stderr):
            raise InfraError('rabbitmqctl %s failed for %s: %s'
                             % (step[0], site.name, result.stderr.strip()))


_VHOST_LOGIN = """
import sys
import amqp
connection = amqp.Connection(host=sys.argv[1], userid=sys.argv[2],
                             password=sys.stdin.read(),
                             virtual_host=sys.argv[3], connect_timeout=5)
connection.connect()
connection.close()
"""


def vhost_opens(site, password, python):
    """Whether the site's user logs in to its vhost, through the AMQP
    client of the services' virtualenv (``python``): one login, where
    ``ensure_vhost`` takes four rabbitmqctl runs (9 s, each an Erlang
    VM).  The password goes on stdin, never on a command line."""
    try:
        result = subprocess.run(
            [str(python), '-c', _VHOST_LOGIN, BROKER, site.vhost,
             site.vhost], input=password, capture_output=True,
            text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def delete_vhost(site):
    _rabbitmqctl('delete_vhost', site.vhost)
    _rabbitmqctl('delete_user', site.vhost)


def transport_url(site, password):
    return 'rabbit://%s:%s@%s/%s' % (site.vhost, password, BROKER,
                                     site.vhost)
