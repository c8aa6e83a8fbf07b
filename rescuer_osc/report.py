"""``openstack rescuer report show``: a run report for people, machines
and the incident write-up."""

import json

from cliff import command

from rescuer import report
from rescuer import timeline


class ShowReport(command.Command):
    """Show the report of a failover, failback or drill execution."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('execution',
                            help='ID of the workflow execution (at the DR '
                                 "site's Mistral)")
        parser.add_argument('--json', action='store_true',
                            help='Print the report as JSON')
        parser.add_argument('--svg', metavar='<file>',
                            help='Also write the timeline picture (SVG)')
        return parser

    def take_action(self, parsed_args):
        document = self.app.client_manager.rescuer.report(
            parsed_args.execution)
        if parsed_args.json:
            self.app.stdout.write(json.dumps(document, indent=2,
                                             sort_keys=True) + '\n')
        else:
            self.app.stdout.write(report.table(document) + '\n')
        if parsed_args.svg:
            with open(parsed_args.svg, 'w') as f:
                f.write(timeline.svg(document))
            self.app.stdout.write('timeline: %s\n' % parsed_args.svg)
