"""MistralAPI.run_action over a recorded Mistral answer."""

import json

import pytest

from rescuer import exceptions
from rescuer import mistral
from rescuer import sites

SITE = sites.Site(name='site-b', cloud='c', region='RegionB', country='FR',
                  role=None, clouds_file=None, mappings={})


class Answering(mistral.MistralAPI):
    """MistralAPI whose calls get ``answer`` and are kept."""

    def __init__(self, answer):
        super().__init__(session=None, site=SITE)
        self.answer = answer
        self.calls = []

    def _call(self, method, path, body=None, **kwargs):
        self.calls.append((method, path, body))
        return self.answer


def test_an_action_runs_at_once_unrecorded_and_gives_its_result():
    api = Answering({'state': 'SUCCESS',
                     'output': json.dumps({'result': {'last_sync': None}})})
    assert api.run_action('rescuer.get_group', {'group': 'g'}) == {
        'last_sync': None}
    [(method, path, body)] = api.calls
    assert (method, path, body['name']) == ('POST', '/action_executions',
                                            'rescuer.get_group')
    assert json.loads(body['input']) == {'group': 'g'}
    assert json.loads(body['params']) == {'run_sync': True,
                                          'save_result': False}


def test_a_failed_action_raises_with_its_own_error():
    api = Answering({'state': 'ERROR', 'output': json.dumps(
        {'result': 'group g is not registered at this DR site'})})
    with pytest.raises(exceptions.WorkflowFailed,
                       match='rescuer.get_group at site site-b ERROR: group '
                             'g is not registered'):
        api.run_action('rescuer.get_group', {'group': 'g'})


class Listing(Answering):
    """MistralAPI answering each path from ``answer``, ``{path: answer}``."""

    def _call(self, method, path, body=None, **kwargs):
        return super()._call(method, path, body)[path]


def _ex(execution_id, workflow, state, root=None, created='00:01',
        **given):
    return {'id': execution_id, 'workflow_name': 'rescuer_dr.' + workflow,
            'state': state, 'input': json.dumps(given),
            'root_execution_id': root,
            'created_at': '2026-11-26 10:%s' % created}


def test_a_runs_progress_with_the_tasks_of_the_running_group_workflows():
    api = Listing({
        '/executions/run-1': {'id': 'run-1', 'state': 'RUNNING'},
        '/executions?root_execution_id=run-1&fields=id,input,state,'
        'workflow_name&limit=1000': {'executions': [
            _ex('tier-1', '_tier_v1', 'RUNNING', groups=['core']),
            _ex('tier-2', '_tier_v1', 'ERROR', groups=['edge']),
            _ex('ex-core', 'failover_group_v1', 'RUNNING', group='core'),
            _ex('ex-db', 'failover_group_v1', 'SUCCESS', group='db'),
            # A workflow a group workflow runs is not the group's own.
            _ex('sync-db', 'sync_v1', 'ERROR', group='db'),
            _ex('ex-edge', 'failover_group_v1', 'RUNNING', group='edge')]},
        '/tasks?workflow_execution_id=ex-core&fields=name,state': {
            'tasks': [{'name': 'check_health', 'state': 'SUCCESS'}]}})
    assert api.run_progress('run-1', ['core', 'db']) == {
        'state': 'RUNNING',
        'groups': [{'group': 'core', 'state': 'RUNNING',
                    'tasks': [{'name': 'check_health', 'state': 'SUCCESS'}]},
                   {'group': 'db', 'state': 'SUCCESS', 'tasks': []}],
        'tiers': [{'groups': ['core'], 'state': 'RUNNING'},
                  {'groups': ['edge'], 'state': 'ERROR'}]}
    # Only the running workflow of the groups asked for is read further.
    assert len(api.calls) == 3


def test_the_runs_holding_groups_are_the_running_runs_naming_them():
    listing = {'executions': [
        _ex('run-1', 'failover_v1', 'RUNNING', groups=['core', 'db']),
        _ex('tier-1', '_tier_v1', 'RUNNING', 'run-1', '00:02',
            groups=['core']),
        _ex('sync-1', 'sync_v1', 'RUNNING', created='00:03', group='core'),
        _ex('run-2', 'drill_v1', 'RUNNING', created='00:04',
            groups=['edge']),
        # run-3 was set to ERROR by hand: its group workflow still runs.
        _ex('ex-db', 'failback_group_v1', 'RUNNING', 'run-3', '00:05',
            group='db')]}
    api = Listing({
        '/executions?state=%s&fields=id,workflow_name,input,created_at,'
        'root_execution_id&limit=1000' % state: listing if state ==
        'RUNNING' else {'executions': []} for state in mistral.RUNNING_STATES})
    assert api.runs_holding(['rescuer_dr.failover_v1',
                             'rescuer_dr.drill_v1'], ['db', 'core']) == [
        {'id': 'run-1', 'workflow_name': 'rescuer_dr.failover_v1',
         'created_at': '2026-11-26 10:00:01', 'groups': ['core', 'db'],
         'planned': False},
        {'id': 'run-1', 'workflow_name': 'rescuer_dr._tier_v1',
         'created_at': '2026-11-26 10:00:02', 'groups': ['core'],
         'planned': True},
        {'id': 'run-3', 'workflow_name': 'rescuer_dr.failback_group_v1',
         'created_at': '2026-11-26 10:00:05', 'groups': ['db'],
         'planned': True}]


def test_cancelling_a_run_cancels_every_execution_of_it_still_running():
    api = Listing({
        '/executions?root_execution_id=run-1&fields=id,state&limit=1000': {
            'executions': [{'id': 'tier-1', 'state': 'ERROR'},
                           {'id': 'tier-2', 'state': 'RUNNING'}]},
        '/executions/run-1': {'id': 'run-1', 'state': 'RUNNING'},
        '/executions/tier-2': {}})
    assert api.cancel_run('run-1') == ['run-1', 'tier-2']
    assert [(m, p, b) for m, p, b in api.calls if m == 'PUT'] == [
        ('PUT', '/executions/run-1', {'state': 'CANCELLED'}),
        ('PUT', '/executions/tier-2', {'state': 'CANCELLED'})]
