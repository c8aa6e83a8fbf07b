"""Start and stop lab processes, tracked by PID file, never by name.

A PID file holds the PID and the process start time (from /proc), so a PID
that the kernel recycled for an unrelated process is never signalled.  Each
service runs in its own session, so its whole process group (uwsgi workers,
forked engine workers) goes down with it.
"""

import os
import signal
import subprocess
import time


def _start_time(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            stat = f.read()
    except OSError:
        return None
    # Field 22 (starttime); the command name in field 2 may hold spaces.
    return stat.rsplit(')', 1)[1].split()[19]


def _is_zombie(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except OSError:
        return True


def running_pid(pid_file):
    """The PID recorded in ``pid_file`` if that very process still runs."""
    try:
        pid_text, started = pid_file.read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    if _start_time(pid) != started or _is_zombie(pid):
        return None
    return pid


def start(argv, pid_file, log_file, env=None, cwd=None):
    """Start ``argv`` detached, appending its output to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, 'ab') as log:
        log.write(('\n==== %s starting: %s\n' % (
            time.strftime('%Y-%m-%d %H:%M:%S'), ' '.join(argv))).encode())
        log.flush()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, env=env, cwd=cwd,
            start_new_session=True)
    pid_file.write_text('%d %s\n' % (proc.pid, _start_time(proc.pid)))
    return proc


def _signal_group(pid, sig):
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _group_members(pgid):
    members = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != 'Z':
            members.append(int(entry))
    return members


def _orphaned_group(pid_file):
    """The group of a dead leader whose children (e.g. privsep helpers,
    reparented to init) live on.  While any member lives, the kernel does
    not hand that number out again, so it is still the service's group."""
    try:
        pgid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pgid if _group_members(pgid) else None


def _group_gone(pgid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gone = not _group_members(pgid)
        try:  # reap the leader when it is our own child (zombie)
            os.waitpid(pgid, os.WNOHANG)
        except ChildProcessError:
            pass
        if gone:
            return True
        time.sleep(0.1)
    return False


def stop(pid_file, timeout=15):
    """SIGTERM the process group, then SIGKILL what lingers."""
    pid = running_pid(pid_file)
    group = pid if pid is not None else _orphaned_group(pid_file)
    if group is not None:
        _signal_group(group, signal.SIGTERM)
        if not _group_gone(group, timeout):
            _signal_group(group, signal.SIGKILL)
            _group_gone(group, 5)
    pid_file.unlink(missing_ok=True)
    return pid


def stop_many(pid_files, timeout=15):
    """Stop several services at once: SIGTERM every group, wait for all
    together, SIGKILL what lingers.  Returns {pid_file: pid or None}."""
    groups = {}
    for pid_file in pid_files:
        pid = running_pid(pid_file)
        group = pid if pid is not None else _orphaned_group(pid_file)
        groups[pid_file] = (pid, group)
        if group is not None:
            _signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for pid_file, (pid, group) in groups.items():
        if group is not None and not _group_gone(
                group, max(0.1, deadline - time.monotonic())):
            _signal_group(group, signal.SIGKILL)
            _group_gone(group, 5)
        pid_file.unlink(missing_ok=True)
    return {pid_file: pid for pid_file, (pid, _) in groups.items()}


def kill(pid_file):
    """SIGKILL the process group at once: what a site loss looks like."""
    pid = running_pid(pid_file)
    group = pid if pid is not None else _orphaned_group(pid_file)
    if group is not None:
        _signal_group(group, signal.SIGKILL)
        _group_gone(group, 5)
    pid_file.unlink(missing_ok=True)
    return pid


def group_memory_kib(pgid):
    """(RSS, PSS) in KiB, summed over every process of a process group."""
    rss = pss = 0
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                if int(f.read().rsplit(')', 1)[1].split()[2]) != pgid:
                    continue
            with open('/proc/%s/smaps_rollup' % entry) as f:
                for line in f:
                    name, _, value = line.partition(':')
                    if name == 'Rss':
                        rss += int(value.split()[0])
                    elif name == 'Pss':
                        pss += int(value.split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return rss, pss


def log_tail(log_file, lines=15):
    try:
        with open(log_file, 'rb') as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode('utf-8', 'replace')
    except OSError:
        return ''
    return '\n'.join(text.splitlines()[-lines:])


TCP_STATES = {'01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV',
              '04': 'FIN_WAIT1', '05': 'FIN_WAIT2', '06': 'TIME_WAIT',
              '07': 'CLOSE', '08': 'CLOSE_WAIT', '09': 'LAST_ACK',
              '0A': 'LISTEN', '0B': 'CLOSING'}


def _address(hex_address):
    host, port = hex_address.split(':')
    return '%s:%d' % ('.'.join(str(int(host[i:i + 2], 16))
                               for i in (6, 4, 2, 0)), int(port, 16))


def port_holders(port, table='/proc/net/tcp'):
    """The IPv4 TCP sockets whose local port is ``port``, as
    ``STATE local -> remote`` (a port a connection holds cannot be bound
    by a listener without SO_REUSEADDR on both)."""
    holders = []
    try:
        with open(table) as f:
            rows = f.read().splitlines()[1:]
    except OSError:
        return holders
    for row in rows:
        fields = row.split()
        if len(fields) > 3 and int(fields[1].split(':')[1], 16) == port:
            holders.append('%s %s -> %s' % (
                TCP_STATES.get(fields[3], fields[3]),
                _address(fields[1]), _address(fields[2])))
    return holders
