"""``openstack rescuer run cancel``: stop a failover, failback, drill or
switchover run - every sub-workflow of it - and show its report."""

from rescuer_osc import report


class CancelRun(report.RunCommand):
    """Cancel a run and its sub-workflows, then show the run's report
    (what was done, what failed, what was not attempted)."""

    def take_action(self, parsed_args):
        client = self.app.client_manager.rescuer
        cancelled = client.cancel(parsed_args.execution)
        self.app.stderr.write('cancelled %d execution(s) of run %s\n' % (
            len(cancelled), parsed_args.execution))
        self.write_report(client.report(parsed_args.execution), parsed_args)
