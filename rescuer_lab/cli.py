"""``rescuer-lab``: the two-site OpenStack lab in one command."""

import argparse
import contextlib
import fcntl
import json
import sys

from rescuer_lab import filestore
from rescuer_lab import lab
from rescuer_lab import paths
from rescuer_lab import procs
from rescuer_lab import topology as topo


def _site(name):
    try:
        return topo.site(name)
    except KeyError as exc:
        raise argparse.ArgumentTypeError(exc.args[0])


def _cmd_up(args):
    lab.up()
    args.memory = False
    return _cmd_status(args)


def _cmd_down(args):
    lab.down(purge=args.purge)
    return 0


def _memory(service):
    pid = procs.running_pid(service.pid_file)
    if pid is None:
        return '%18s' % '-'
    rss, pss = procs.group_memory_kib(pid)
    return 'RSS %5d PSS %5d' % (rss // 1024, pss // 1024)


def _cmd_status(args):
    rows = lab.status()
    width = max(len(service.label) for service, _, _ in rows)
    for service, healthy, detail in rows:
        memory = ('  ' + _memory(service)) if args.memory else ''
        print('%-*s  %-4s%s  %s' % (width, service.label,
                                    'up' if healthy else 'DOWN', memory,
                                    detail))
    if args.memory:
        totals = [procs.group_memory_kib(pid) for pid in (
            procs.running_pid(s.pid_file) for s, _, _ in rows) if pid]
        print('total (MiB): RSS %d, PSS %d' % (
            sum(r for r, _ in totals) // 1024,
            sum(p for _, p in totals) // 1024))
    down = [service.label for service, healthy, _ in rows if not healthy]
    if down:
        print('down: %s' % ', '.join(down), file=sys.stderr)
        return 1
    return 0


def _cmd_fail(args):
    lab.fail(args.site, args.service)
    return 0


def _cmd_recover(args):
    lab.recover(args.site)
    return 0


def _cmd_replicate(args):
    copied = lab.replicate(args.site, args.volume or None)
    print(json.dumps(copied, indent=2))
    return 0


def _cmd_volume_data(args):
    path = lab.volume_path(args.site, args.volume)
    if args.action == 'write':
        if not args.tag:
            raise lab.LabError('volume-data write needs a TAG')
        print(json.dumps(filestore.write_pattern(path, args.tag)))
    else:
        print(json.dumps(filestore.read_patterns(path), indent=2))
    return 0


def _cmd_env(args):
    print('\n'.join(lab.env_lines()))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog='rescuer-lab',
        description='Two OpenStack sites (site-a primary, site-b DR) of '
                    'real services on this machine, on 127.0.0.1.')
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('up', help='install what is missing, configure and '
                              'start both sites, wait until healthy'
                   ).set_defaults(func=_cmd_up)
    down = sub.add_parser('down', help='stop every lab service')
    down.add_argument('--purge', action='store_true',
                      help='also drop the databases, vhosts and site state')
    down.set_defaults(func=_cmd_down)
    status = sub.add_parser('status',
                            help='exit 0 only when every service answers')
    status.add_argument('--memory', action='store_true',
                        help='also show each service\'s RSS and PSS (MiB, '
                             'whole process group)')
    status.set_defaults(func=_cmd_status)
    for name, func, text in (
            ('fail', _cmd_fail, 'disaster: SIGKILL every process of SITE '
                                '(or of the services named by --service)'),
            ('recover', _cmd_recover,
             'restart SITE (what of it is not running) on its surviving '
             'databases')):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument('site', type=_site, metavar='SITE',
                         help=', '.join(s.name for s in topo.SITES))
        cmd.set_defaults(func=func)
        if name == 'fail':
            cmd.add_argument('--service', action='append', metavar='NAME',
                             help='only this service (e.g. heat-api, '
                                  'cinder-api, mistral); repeatable')
    sub.add_parser('env', help='print export lines for the openstack CLI'
                   ).set_defaults(func=_cmd_env)
    replicate = sub.add_parser(
        'replicate', help='copy SITE\'s replicated volumes to their '
                          'replicas now (the storage replication point)')
    replicate.add_argument('site', type=_site, metavar='SITE')
    replicate.add_argument('volume', nargs='*', metavar='VOLUME_ID',
                           help='only these volumes')
    replicate.set_defaults(func=_cmd_replicate)
    data = sub.add_parser(
        'volume-data', help='write or read tagged records in a lab volume '
                            '(to check what survives a failover)')
    data.add_argument('action', choices=('write', 'read'))
    data.add_argument('site', type=_site, metavar='SITE')
    data.add_argument('volume', metavar='VOLUME_ID')
    data.add_argument('tag', nargs='?', metavar='TAG')
    data.set_defaults(func=_cmd_volume_data)
    return parser


# Commands that change the lab run one at a time (an `up` racing a `down`
# would leave half a site).
EXCLUSIVE = ('up', 'down', 'fail', 'recover')


@contextlib.contextmanager
def _lab_lock(command):
    if command not in EXCLUSIVE:
        yield
        return
    path = paths.lab_dir() / '.lock'
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w') as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print('rescuer-lab: waiting for another rescuer-lab command to '
                  'finish', file=sys.stderr, flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        with _lab_lock(args.command):
            return args.func(args)
    except (lab.LabError, RuntimeError) as exc:
        print('rescuer-lab: %s' % exc, file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
