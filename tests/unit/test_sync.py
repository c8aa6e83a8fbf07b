"""apply_standby/remove_standby decisions, over an in-memory Heat."""

import pytest

from rescuer import exceptions
from rescuer import heat
from rescuer import sites
from rescuer import sync
from tests.unit import test_groups
from tests.unit import test_render


class MemoryHeat:
    """Just enough of HeatAPI to watch what apply_standby does."""

    def __init__(self, stack=None):
        self.site = sites.Site(name='site-b', cloud='c', region='RegionB',
                               country='FR', role=None, clouds_file=None,
                               mappings={'images': {'lab-image': 'img'},
                                         'flavors': {'m1.tiny': 'tiny'},
                                         'networks': {'public': 'public'}})
        self.stack = stack
        self.calls = []

    def get_stack(self, name):
        if self.stack is None:
            raise exceptions.NotFound(name)
        return self.stack

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


def test_later_syncs_update_it_in_place(capture):
    api = MemoryHeat({'id': 'old-id', 'stack_status': 'UPDATE_COMPLETE'})
    result = sync.apply_standby(api, test_groups._definition(
        mode='cold-standby'), capture)
    assert result['action'] == 'UPDATE'
    assert api.calls == [('update', 'old-id', {'standby_level': 'cold'})]


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
