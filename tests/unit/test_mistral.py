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


def test_a_runs_group_workflows_with_the_tasks_of_the_running_ones():
    api = Listing({
        '/executions?root_execution_id=run-1&fields=id,input,state'
        '&limit=1000': {'executions': [
            {'id': 'tier-1', 'input': json.dumps({'groups': ['core']}),
             'state': 'RUNNING'},
            {'id': 'ex-core', 'input': json.dumps({'group': 'core'}),
             'state': 'RUNNING'},
            {'id': 'ex-db', 'input': json.dumps({'group': 'db'}),
             'state': 'SUCCESS'},
            {'id': 'ex-edge', 'input': json.dumps({'group': 'edge'}),
             'state': 'RUNNING'}]},
        '/tasks?workflow_execution_id=ex-core&fields=name,state': {
            'tasks': [{'name': 'check_health', 'state': 'SUCCESS'}]}})
    assert api.group_runs('run-1', ['core', 'db']) == [
        {'group': 'core', 'state': 'RUNNING',
         'tasks': [{'name': 'check_health', 'state': 'SUCCESS'}]},
        {'group': 'db', 'state': 'SUCCESS', 'tasks': []}]
    # Only the running workflow of the groups asked for is read further.
    assert len(api.calls) == 2
