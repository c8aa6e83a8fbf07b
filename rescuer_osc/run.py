"""``openstack rescuer run cancel``: stop a failover, failback, drill or
switchover run - every sub-workflow of it - and show its report."""

import json

from cliff import command

from rescuer import report


class CancelRun(command.Command):
    """Cancel a run and its sub-workflows, then show the run's report
    (what was done, what failed, what was not attempted)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('execution',
                            help='ID of the run (its root workflow '
                                 "execution at the DR site's Mistral)")
        parser.add_argument('--json', action='store_true',
                            help='Print the report as JSON')
        return parser

    def take_action(self, parsed_args):
        client = self.app.client_manager.rescuer
        cancelled = client.cancel(parsed_args.execution)
        self.app.stderr.write('cancelled %d execution(s) of run %s\n' % (
            len(cancelled), parsed_args.execution))
        document = client.report(parsed_args.execution)
        if parsed_args.json:
            self.app.stdout.write(json.dumps(document, indent=2,
                                             sort_keys=True) + '\n')
        else:
            self.app.stdout.write(report.table(document) + '\n')
