"""python-openstackclient plugin: ``openstack rescuer …`` commands."""

import json

from osc_lib import exceptions
from osc_lib import utils

DEFAULT_API_VERSION = '1'
API_VERSION_OPTION = 'os_rescuer_api_version'
API_NAME = 'rescuer'
API_VERSIONS = {'1': 'rescuer_osc.plugin.Client'}


class Client:
    """Reads Rescuer's run reports from the DR site's Mistral."""

    def __init__(self, session, region_name=None, interface='public'):
        self.session = session
        self.endpoint = {'service_type': 'workflowv2',
                         'interface': interface or 'public',
                         'region_name': region_name}

    def report(self, execution_id):
        """The report of a failover, failback or drill execution."""
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
        execution = response.json()
        output = json.loads(execution.get('output') or '{}')
        if not output.get('report'):
            raise exceptions.CommandError(
                'execution %s (%s, %s) has no report: reports come from '
                'rescuer_dr.failover_v1, failback_v1 and drill_v1 once they '
                'have planned%s' % (
                    execution_id, execution.get('workflow_name'),
                    execution.get('state'),
                    ('; error: %s' % output['error'])
                    if output.get('error') else ''))
        return output['report']


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
