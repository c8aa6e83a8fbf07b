"""``rescuer-lab``: the two-site OpenStack lab in one command."""

import argparse
import sys

from rescuer_lab import lab
from rescuer_lab import topology as topo


def _site(name):
    try:
        return topo.site(name)
    except KeyError as exc:
        raise argparse.ArgumentTypeError(exc.args[0])


def _cmd_up(args):
    lab.up()
    return _cmd_status(args)


def _cmd_down(args):
    lab.down(purge=args.purge)
    return 0


def _cmd_status(args):
    rows = lab.status()
    width = max(len(service.label) for service, _, _ in rows)
    for service, healthy, detail in rows:
        print('%-*s  %-4s  %s' % (width, service.label,
                                  'up' if healthy else 'DOWN', detail))
    down = [service.label for service, healthy, _ in rows if not healthy]
    if down:
        print('down: %s' % ', '.join(down), file=sys.stderr)
        return 1
    return 0


def _cmd_fail(args):
    lab.fail(args.site)
    return 0


def _cmd_recover(args):
    lab.recover(args.site)
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
    sub.add_parser('status', help='exit 0 only when every service answers'
                   ).set_defaults(func=_cmd_status)
    for name, func, text in (
            ('fail', _cmd_fail, 'disaster: SIGKILL every process of SITE'),
            ('recover', _cmd_recover,
             'restart SITE on its surviving databases')):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument('site', type=_site, metavar='SITE',
                         help=', '.join(s.name for s in topo.SITES))
        cmd.set_defaults(func=func)
    sub.add_parser('env', help='print export lines for the openstack CLI'
                   ).set_defaults(func=_cmd_env)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (lab.LabError, RuntimeError) as exc:
        print('rescuer-lab: %s' % exc, file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
