"""python-openstackclient plugin: ``openstack rescuer …`` commands."""

import json
import time
import types

from osc_lib import exceptions
from osc_lib import utils

from rescuer import exceptions as rescuer_exceptions
from rescuer import mistral
from rescuer import report

DEFAULT_API_VERSION = '1'
API_VERSION_OPTION = 'os_rescuer_api_version'
API_NAME = 'rescuer'
API_VERSIONS = {'1': 'rescuer_osc.plugin.Client'}


class Client:
    """Rescuer's runs and their reports, at the DR site's Mistral."""

    # How long a command waits for a cancel to settle and for a report
    # to be built (seconds).
    WAIT = 120

    def __init__(self, session, region_name=None, interface='public'):
        self.session = session
        self.endpoint = {'service_type': 'workflowv2',
                         'interface': interface or 'public',
                         'region_name': region_name}
        self.mistral = mistral.MistralAPI(session, types.SimpleNamespace(
            name=region_name or 'the DR site', region=region_name))

    def execution(self, execution_id):
        response = self.session.get('/executions/%s' % execution_id,
                                    endpoint_filter=self.endpoint,
                                    raise_exc=False)
        if response.status_code == 404:
            raise exceptions.CommandError('no workflow execution %s'
                                          % execution_id)
        if response.status_code != 200:
            raise exceptions.CommandError(
                'Mistral refused GET /executions/%s (HTTP %d)'
                % (execution_id, response.status_code))
        return response.json()

    def report(self, execution_id):
        """The report of a failover, failback, drill or switchover run:
        the one it ended with or, for a run that ended without one
        (cancelled, stopped by hand), one built now by report_v1."""
        execution = self.execution(execution_id)
        output = json.loads(execution.get('output') or '{}')
        if output.get('report'):
            return output['report']
        if (execution.get('workflow_name') in
                report.RUN_WORKFLOWS.values() and
                execution.get('state') in report.ENDED_STATES and
                not output.get('error')):
            return self.build_report(execution_id)
        raise exceptions.CommandError(
            'execution %s (%s, %s) has no report: reports come from '
            'rescuer_dr.failover_v1, failback_v1, drill_v1 and '
            'switchover_v1 once they have planned%s' % (
                execution_id, execution.get('workflow_name'),
                execution.get('state'),
                ('; error: %s' % output['error'])
                if output.get('error') else ''))

    def build_report(self, run_id):
        """Run rescuer_dr.report_v1 on an ended run; its report."""
        try:
            built = self.mistral.start_execution(
                'rescuer_dr.report_v1', {'run_id': run_id},
                description='report of run %s' % run_id)
            execution = self._wait(built)
        except rescuer_exceptions.RescuerError as exc:
            raise exceptions.CommandError(str(exc))
        if execution['state'] != 'SUCCESS':
            raise exceptions.CommandError(
                'no report of run %s: %s' % (
                    run_id, execution['output'].get('error') or
                    execution.get('state_info')))
        return execution['output']['report']

    def cancel(self, run_id):
        """Cancel a run and each of its sub-workflows still running; wait
        until none runs.  Returns the ids cancelled."""
        execution = self.execution(run_id)
        if execution.get('workflow_name') not in \
                report.RUN_WORKFLOWS.values():
            raise exceptions.CommandError(
                'execution %s is %s, not a run of %s' % (
                    run_id, execution.get('workflow_name'), ', '.join(
                        sorted(report.RUN_WORKFLOWS.values()))))
        try:
            cancelled = self.mistral.cancel_run(run_id)
            deadline = time.monotonic() + self.WAIT
            while self.mistral.run_running(run_id):
                if time.monotonic() > deadline:
                    raise exceptions.CommandError(
                        'run %s still runs %d s after its cancel'
                        % (run_id, self.WAIT))
                time.sleep(1)
        except rescuer_exceptions.RescuerError as exc:
            raise exceptions.CommandError(str(exc))
        return cancelled

    def _wait(self, execution_id):
        deadline = time.monotonic() + self.WAIT
        while True:
            execution = self.mistral.get_execution(execution_id)
            if execution['state'] not in mistral.RUNNING_STATES:
                return execution
            if time.monotonic() > deadline:
                raise exceptions.CommandError(
                    'execution %s still %s after %d s' % (
                        execution_id, execution['state'], self.WAIT))
            time.sleep(1)


def make_client(instance):
    return Client(instance.session, instance.region_name,
                  instance.interface)


def build_option_parser(parser):
    parser.add_argument(
        '--os-rescuer-api-version', metavar='<rescuer-api-version>',
        default=utils.env('OS_RESCUER_API_VERSION',
                          default=DEFAULT_API_VERSION),
        help='Rescuer API version, default=%s' % DEFAULT_API_VERSION)
    return parser
