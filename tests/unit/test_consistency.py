"""The volume group snapshot hook, step by step, over an in-memory
Cinder."""

import pytest

from rescuer import consistency
from rescuer import exceptions
from tests.unit import test_failover


class GroupCinder:
    def __init__(self, storage=None):
        self.site = test_failover._site(
            name='site-a', storage=storage if storage is not None
            else {'group_type': 'lab-group'})
        self.group = None
        self.members = set()
        self.snapshots = []
        self.calls = []

    def get_volume(self, volume_id):
        return {'volume_type': 'lab-replicated'}

    def find_group(self, name):
        return self.group

    def create_group(self, name, group_type, types):
        self.calls.append(('create_group', group_type, types))
        self.group = {'id': 'g-1', 'status': 'creating'}
        return 'g-1'

    def group_volume_ids(self, group_id):
        return set(self.members)

    def add_to_group(self, group_id, ids):
        self.calls.append(('add', sorted(ids)))

    def remove_from_group(self, group_id, ids):
        self.calls.append(('remove', sorted(ids)))

    def delete_group(self, group_id):
        self.calls.append(('delete_group', group_id))

    def group_snapshots(self, group_id):
        return list(self.snapshots)

    def create_group_snapshot(self, group_id, name):
        self.snapshots.append({'id': 's-%d' % len(self.snapshots),
                               'name': name, 'status': 'creating',
                               'created_at': '2026-11-26T10:%02d:00'
                               % len(self.snapshots)})
        return self.snapshots[-1]['id']

    def delete_group_snapshot(self, snapshot_id):
        self.calls.append(('delete_snapshot', snapshot_id))


def test_member_volumes_are_the_volume_resources_among_members():
    resources = [
        {'resource_name': 'data', 'resource_type':
         'OS::Rescuer::ReplicatedVolume', 'physical_resource_id': 'v-1'},
        {'resource_name': 'logs', 'resource_type': 'OS::Cinder::Volume',
         'physical_resource_id': 'v-2'},
        {'resource_name': 'vnf', 'resource_type': 'OS::Nova::Server',
         'physical_resource_id': 's-1'}]
    assert consistency.member_volumes(resources) == ['v-1', 'v-2']
    assert consistency.member_volumes(resources, {'data', 'vnf'}) == ['v-1']


def test_each_step_waits_for_the_one_before_and_old_snapshots_go():
    cinder = GroupCinder()
    step = consistency.advance(cinder, 'g', ['v-1'], 'run-1', keep=2)
    assert step['state'] == 'IN_PROGRESS'
    assert cinder.calls == [('create_group', 'lab-group',
                             ['lab-replicated'])]
    assert consistency.advance(cinder, 'g', ['v-1'], 'run-1')[
        'state'] == 'IN_PROGRESS'   # the group is still creating
    cinder.group['status'] = 'available'
    consistency.advance(cinder, 'g', ['v-1'], 'run-1')
    assert cinder.calls[-1] == ('add', ['v-1'])
    cinder.members = {'v-1'}
    cinder.snapshots = [{'id': 'old-%d' % i, 'name': 'rescuer-g-%d' % i,
                         'status': 'available',
                         'created_at': '2026-11-26T09:0%d:00' % i}
                        for i in range(2)]
    consistency.advance(cinder, 'g', ['v-1'], 'run-1', keep=2)
    assert cinder.snapshots[-1]['name'] == 'rescuer-g-run-1'
    assert consistency.advance(cinder, 'g', ['v-1'], 'run-1', keep=2)[
        'state'] == 'IN_PROGRESS'   # the snapshot is still creating
    cinder.snapshots[-1]['status'] = 'available'
    done = consistency.advance(cinder, 'g', ['v-1'], 'run-1', keep=2)
    assert (done['state'], done['group_snapshot_id']) == ('COMPLETE', 's-2')
    assert ('delete_snapshot', 'old-0') in cinder.calls
    assert ('delete_snapshot', 'old-1') not in cinder.calls


def test_the_hook_needs_a_group_type_at_the_primary():
    with pytest.raises(exceptions.RegistryError, match='group_type'):
        consistency.advance(GroupCinder(storage={}), 'g', ['v-1'], 'r')


def test_release_removes_snapshots_then_volumes_then_the_group():
    cinder = GroupCinder()
    cinder.group = {'id': 'g-1', 'status': 'available'}
    cinder.members = {'v-1'}
    cinder.snapshots = [{'id': 's-0', 'status': 'available'}]
    assert consistency.release(cinder, 'g')['state'] == 'IN_PROGRESS'
    assert cinder.calls == [('delete_snapshot', 's-0')]
    cinder.snapshots = []
    consistency.release(cinder, 'g')
    assert cinder.calls[-1] == ('remove', ['v-1'])
    cinder.members = set()
    consistency.release(cinder, 'g')
    assert cinder.calls[-1] == ('delete_group', 'g-1')
    cinder.group = None
    assert consistency.release(cinder, 'g')['state'] == 'COMPLETE'
