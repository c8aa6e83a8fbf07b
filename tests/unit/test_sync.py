"""apply_standby/remove_standby decisions, over an in-memory Heat."""

import copy

import pytest
import yaml

from rescuer import exceptions
from rescuer import heat
from rescuer import sites
from rescuer import sync
from tests.unit import test_groups
from tests.unit import test_render


class MemoryHeat:
    """Just enough of HeatAPI to watch what apply_standby does."""

    def __init__(self, stack=None, template=None):
        self.site = sites.Site(name='site-b', cloud='c', region='RegionB',
                               country='FR', role=None, clouds_file=None,
                               mappings={'images': {'lab-image': 'img'},
                                         'flavors': {'m1.tiny': 'tiny'},
                                         'networks': {'public': 'public'}})
        self.stack = stack
        self.template = template
        self.calls = []

    def get_stack(self, name):
        if self.stack is None:
            raise exceptions.NotFound(name)
        return self.stack

    def get_template(self, stack):
        self.calls.append(('get_template', stack['id']))
        return self.template

    def create_stack(self, name, template, parameters, tags=()):
        self.calls.append(('create', name, parameters, tags))
        return 'new-id'

    def update_stack(self, stack_id, template=None, parameters=None):
        self.calls.append(('update', stack_id, parameters))

    def delete_stack(self, stack_id):
        self.calls.append(('delete', stack_id))


@pytest.fixture
def capture():
    return test_render._capture('vnf-site')


def test_first_sync_creates_the_recovery_stack_at_the_standby_level(capture):
    api = MemoryHeat()
    result = sync.apply_standby(api, test_groups._definition(), capture)
    assert result == {'stack_id': 'new-id', 'action': 'CREATE'}
    verb, name, parameters, tags = api.calls[0]
    assert name == 'rescuer-vnf-group-1'
    assert parameters == {'standby_level': 'hot'}
    assert 'rescuer-group-vnf-group-1' in tags


def _standby(status='UPDATE_COMPLETE', level='hot'):
    return {'id': 'old-id', 'stack_name': 'rescuer-vnf-group-1',
            'stack_status': status,
            'parameters': {'standby_level': level, 'OS::stack_id': 'old-id'}}


def _as_heat_keeps(capture):
    """The template Heat holds after a sync of ``capture`` (parsed, and
    with heat_template_version a string, as Heat's loader leaves it)."""
    api = MemoryHeat()
    template = yaml.safe_load(sync.render_for(test_groups._definition(),
                                              capture, api.site))
    template['heat_template_version'] = str(
        template['heat_template_version'])
    return template


def _next_capture(capture):
    later = copy.deepcopy(capture)
    later['capture_id'] = 'a-later-capture'
    later['captured_at'] = '2026-11-26T23:59:00+00:00'
    return later


def test_later_syncs_update_it_in_place(capture):
    api = MemoryHeat(_standby(), _as_heat_keeps(capture))
    result = sync.apply_standby(api, test_groups._definition(
        mode='cold-standby'), capture)
    assert result['action'] == 'UPDATE'
    assert api.calls == [('update', 'old-id', {'standby_level': 'cold'})]


def test_a_sync_that_changes_nothing_leaves_the_stack_alone(capture):
    api = MemoryHeat(_standby(), _as_heat_keeps(capture))
    result = sync.apply_standby(api, test_groups._definition(),
                                _next_capture(capture))
    assert result == {'stack_id': 'old-id', 'action': 'skipped',
                      'reason': 'the stack already matches the capture'}
    assert api.calls == [('get_template', 'old-id')]


def test_a_change_at_the_primary_updates_the_stack(capture):
    api = MemoryHeat(_standby(), _as_heat_keeps(capture))
    changed = _next_capture(capture)
    changed['servers'][0]['metadata'] = {'dr-test': 'synced'}
    result = sync.apply_standby(api, test_groups._definition(), changed)
    assert result['action'] == 'UPDATE'
    assert api.calls[-1] == ('update', 'old-id', {'standby_level': 'hot'})


def test_a_failed_stack_is_updated_again_though_its_template_matches(
        capture):
    api = MemoryHeat(_standby(status='UPDATE_FAILED'),
                     _as_heat_keeps(capture))
    result = sync.apply_standby(api, test_groups._definition(),
                                _next_capture(capture))
    assert result['action'] == 'UPDATE'


@pytest.mark.parametrize('stack', [
    {'id': 'x', 'stack_status': 'UPDATE_COMPLETE',
     'tags': [heat.FAILED_OVER_TAG]},
    {'id': 'x', 'stack_status': 'UPDATE_IN_PROGRESS'},
])
def test_a_serving_or_busy_stack_is_left_alone(capture, stack):
    api = MemoryHeat(stack)
    assert sync.apply_standby(api, test_groups._definition(),
                              capture)['action'] == 'skipped'
    assert api.calls == []


def test_unregistering_never_deletes_a_failed_over_stack():
    serving = MemoryHeat({'id': 'x', 'stack_status': 'UPDATE_COMPLETE',
                          'tags': ['rescuer', heat.FAILED_OVER_TAG]})
    assert sync.remove_standby(serving, 'g')['failed_over'] is True
    assert serving.calls == []
    standby = MemoryHeat({'id': 'y', 'stack_status': 'UPDATE_COMPLETE'})
    assert sync.remove_standby(standby, 'g')['deleting'] is True
    assert standby.calls == [('delete', 'y')]
