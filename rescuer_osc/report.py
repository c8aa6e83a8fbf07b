"""``openstack rescuer report show``: a run report for people, machines
and the incident write-up."""

import json

from cliff import command

from rescuer import report
from rescuer import timeline


class RunCommand(command.Command):
    """A command on one run that ends by printing the run's report."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('execution',
                            help='ID of the run (its root workflow '
                                 "execution at the DR site's Mistral)")
        parser.add_argument('--json', action='store_true',
                            help='Print the report as JSON')
        return parser

    def write_report(self, document, parsed_args):
        if parsed_args.json:
            self.app.stdout.write(json.dumps(document, indent=2,
                                             sort_keys=True) + '\n')
        else:
            self.app.stdout.write(report.table(document) + '\n')


class ShowReport(RunCommand):
    """Show the report of a failover, failback, drill or switchover run
    (for a run that ended without one - cancelled, stopped by hand - it
    is built now)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--svg', metavar='<file>',
                            help='Also write the timeline picture (SVG)')
        return parser

    def take_action(self, parsed_args):
        document = self.app.client_manager.rescuer.report(
            parsed_args.execution)
        self.write_report(document, parsed_args)
        if parsed_args.svg:
            with open(parsed_args.svg, 'w') as f:
                f.write(timeline.svg(document))
            self.app.stdout.write('timeline: %s\n' % parsed_args.svg)
