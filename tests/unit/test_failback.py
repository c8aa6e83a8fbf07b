"""Failback steps and their idempotence, over in-memory stand-ins."""

import types

import pytest

from rescuer import exceptions
from rescuer import failback
from rescuer import failover
from rescuer import heat
from rescuer import render
from rescuer import sync
from tests.unit import test_failover
from tests.unit import test_groups
from tests.unit import test_render


class Backups:
    """A Cinder with backups and volumes, in memory."""

    def __init__(self, site_name='site-b', backups=None, volumes=None):
        self.site = test_failover._site(name=site_name)
        self.backups = backups or {}
        self.volumes = volumes or {}
        self.calls = []

    def find_backup(self, name):
        found = [b for b in self.backups.values() if b['name'] == name]
        return found[0] if found else None

    def create_backup(self, volume_id, name):
        self.calls.append(('backup', volume_id))
        self.backups['b-new'] = {'id': 'b-new', 'name': name,
                                 'status': 'creating'}
        return 'b-new'

    def get_backup(self, backup_id):
        if backup_id not in self.backups:
            raise exceptions.NotFound(backup_id)
        return self.backups[backup_id]

    def export_backup(self, backup_id):
        return {'backup_service': 'posix', 'backup_url': 'url-%s'
                % backup_id}

    def import_backup(self, record):
        self.calls.append(('import', record['backup_url']))
        return record['backup_url'][4:]

    def get_volume(self, volume_id):
        return self.volumes[volume_id]

    def restore_backup(self, backup_id, volume_id):
        self.calls.append(('restore', backup_id, volume_id))


def test_backups_of_promoted_volumes_are_made_once():
    cinder = Backups()
    item = {'volume_id': 'v-1', 'dr_volume_id': 'dr-1'}
    assert failback.backup_promoted(cinder, item) == 'b-new'
    assert failback.backup_promoted(cinder, item) == 'b-new'
    assert cinder.calls == [('backup', 'dr-1')]


def test_a_backup_is_imported_at_the_primary_once():
    source, target = Backups(), Backups('site-a')
    assert failback.transfer_backup(source, target, 'b-1') == 'b-1'
    assert target.calls == [('import', 'url-b-1')]
    target.backups['b-1'] = {'id': 'b-1'}
    assert failback.transfer_backup(source, target, 'b-1') == 'b-1'
    assert len(target.calls) == 1


class Detacher:
    def __init__(self):
        self.detached = []

    def detach_volume(self, server_id, volume_id):
        self.detached.append((server_id, volume_id))


def test_restore_detaches_first_then_restores():
    cinder = Backups('site-a', volumes={'v-1': {
        'status': 'in-use', 'attachments': [{'server_id': 's-1'}]}})
    nova = Detacher()
    first = failback.restore_primary_volume(cinder, nova, {}, 'v-1', 'b-1')
    assert first['restoring'] is False
    assert nova.detached == [('s-1', 'v-1')]
    assert cinder.calls == []
    # The detach under way: the attachment is still listed, and Nova
    # refuses a second detach (HTTP 400), so none is asked for.
    cinder.volumes['v-1']['status'] = 'detaching'
    again = failback.restore_primary_volume(cinder, nova, {}, 'v-1', 'b-1')
    assert again['restoring'] is False
    assert nova.detached == [('s-1', 'v-1')]
    cinder.volumes['v-1'] = {'status': 'available', 'attachments': []}
    assert failback.restore_primary_volume(cinder, nova, {}, 'v-1',
                                           'b-1')['restoring'] is True
    assert cinder.calls == [('restore', 'b-1', 'v-1')]


class PrimaryHeat:
    def __init__(self, resources):
        self._resources = resources
        self.marked = []
        self.updated = []

    def resources(self, stack_id):
        return self._resources

    def mark_unhealthy(self, stack_id, name, reason):
        self.marked.append(name)

    def update_stack(self, stack_id, **kwargs):
        self.updated.append((stack_id, kwargs))


def test_refresh_recreates_servers_and_restored_attachments_only():
    resources = [
        {'resource_name': 'vnf', 'resource_type': 'OS::Nova::Server',
         'physical_resource_id': 's-1'},
        {'resource_name': 'data_attachment',
         'resource_type': 'OS::Cinder::VolumeAttachment',
         'physical_resource_id': 'v-1'},
        {'resource_name': 'logs_attachment',
         'resource_type': 'OS::Cinder::VolumeAttachment',
         'physical_resource_id': 'v-2'},
        {'resource_name': 'net', 'resource_type': 'OS::Neutron::Net',
         'physical_resource_id': 'n-1'},
        {'resource_name': 'other', 'resource_type': 'OS::Nova::Server',
         'physical_resource_id': 's-9'},
    ]
    api = PrimaryHeat(resources)
    network = test_failover.FakeNetwork([])
    definition = test_groups._definition(
        members=['vnf', 'data_attachment', 'logs_attachment', 'net'])
    result = failback.refresh_primary(api, network, definition,
                                      {'ports_down': ['p-1']}, {'v-1'})
    assert result['replaced'] == ['data_attachment', 'vnf']
    assert network.calls == [('port', 'p-1', True)]
    assert api.updated == [('s-1', {})]


def test_demote_returns_the_stack_to_standby_without_promoted_data():
    api = test_failover.FakeHeat({
        'id': 's-1', 'stack_status': 'UPDATE_COMPLETE',
        'tags': ['rescuer', heat.FAILED_OVER_TAG]})
    capture = test_render._capture('multi')
    result = failback.demote(api, test_groups._definition(
        mode='cold-standby'), capture)
    assert result['action'] == 'UPDATE'
    [(stack_id, parameters, tags)] = api.updates
    assert parameters == {'standby_level': 'cold', 'promoted_db_data': '',
                          'promoted_logs': ''}
    assert tags == ['rescuer']
    # Demoted already: nothing to do.
    again = test_failover.FakeHeat({'id': 's-1', 'tags': ['rescuer'],
                                    'stack_status': 'UPDATE_COMPLETE'})
    assert failback.demote(again, test_groups._definition(),
                           capture)['action'] == 'unchanged'


def test_switchover_backs_up_at_the_primary_and_restores_once_at_the_dr():
    from rescuer import switchover
    primary = Backups('site-a')
    capture = test_render._capture('multi')
    made = switchover.back_up_primary(primary, capture)
    assert [m['volume_id'] for m in made] == ['vol-db', 'vol-logs']
    assert primary.calls == [('backup', 'vol-db'), ('backup', 'vol-logs')]

    class DR(Backups):
        restored = []

        def find_volume(self, name):
            return {'id': 'dr-existing'} if name == 'rescuer-vol-logs' \
                else None

        def restore_backup_as(self, backup_id, name):
            self.restored.append((backup_id, name))
            return 'dr-new'

    dr = DR()
    assert switchover.restore_at_dr(dr, {'volume_id': 'vol-db',
                                         'backup_id': 'b-1'}) == {
        'volume_id': 'vol-db', 'dr_volume_id': 'dr-new'}
    assert switchover.restore_at_dr(dr, {'volume_id': 'vol-logs',
                                         'backup_id': 'b-2'})[
        'dr_volume_id'] == 'dr-existing'
    assert dr.restored == [('b-1', 'rescuer-vol-db')]


class _Compute:
    site = types.SimpleNamespace(name='site-b')

    def __init__(self, *servers):
        self._servers = list(servers)

    def servers(self, ids=None):
        return [s for s in self._servers if s['id'] in ids]


def test_a_drain_waits_for_stopping_servers_and_ends_on_one_in_error():
    stopping = {'id': 's-1', 'name': 'vnf', 'status': 'ACTIVE'}
    assert failback.servers_state(_Compute(stopping), ['s-1']) == \
        'IN_PROGRESS'
    assert failback.servers_state(_Compute(dict(
        stopping, status='SHUTOFF')), ['s-1']) == 'COMPLETE'
    # A server in ERROR never reaches SHUTOFF: the wait ends at once
    # (it waited out 120 tries), naming it and Nova's fault.
    with pytest.raises(exceptions.StackFailed,
                       match=r'server vnf \(s-1\) at site site-b is ERROR: '
                             'no fault given'):
        failback.servers_state(_Compute(dict(stopping, status='ERROR')),
                               ['s-1'])


def test_data_comes_back_only_from_a_dr_site_that_served():
    # The failover's health check passed here: the DR site served.
    assert failback.served({'group': 'g', 'served_at': '2026-12-07T10:00'})
    # It failed before: nothing served here, nothing to bring back.
    assert not failback.served({'group': 'g', 'served_at': None})
    # A fence recorded before Rescuer kept served_at: counts as served.
    assert failback.served({'group': 'g'})
    assert not failback.served(None)


def test_demote_deletes_a_server_whose_boot_volume_goes_back_first():
    """A failed-over hot standby booted from the promoted copy of a
    storage-replicated volume goes back to the standby's own volume:
    Heat would replace the server create-before-delete (a second host
    in an anti-affinity group).  Nova deletes the drained server first;
    the update creates it once."""
    capture = test_render._capture('vnf-site')
    for volume in capture['volumes']:
        volume['metadata'] = {'rescuer_replication': 'storage'}
    definition = dict(test_groups._definition(mode='hot-standby'), mappings={
        'images': {'lab-image': 'img'}, 'flavors': {'m1.tiny': 'tiny'}})
    model = sync.model_for(definition, capture, test_failover._site())
    active = {p: 'dr-%s' % v[:4]
              for v, p in render.promoted_parameters(model).items()}
    stack = test_failover._hot_stack(
        capture, definition, tags=['rescuer', heat.FAILED_OVER_TAG],
        parameters=dict(active, standby_level='active'))
    api = test_failover._HealingHeat(stack, [
        test_failover._server_resource('client', 's-c'),
        test_failover._server_resource('function', 's-f')])
    compute = test_failover._DeletingServers(
        {'id': 's-c', 'status': 'SHUTOFF'}, {'id': 's-f', 'status': 'SHUTOFF'})
    first = failback.demote(api, definition, capture, compute=compute)
    assert (first['action'], first['healing']) == (failover.HEALING, True)
    assert compute.deleted == ['s-c'] and api.updates == []
    compute = test_failover._DeletingServers(
        {'id': 's-f', 'status': 'SHUTOFF'})
    second = failback.demote(api, definition, capture, compute=compute)
    assert second['action'] == 'UPDATE' and compute.deleted == []
    assert api.unhealthy == [('s-1', 'client')]
    [(_, parameters, tags)] = api.updates
    assert parameters['standby_level'] == 'hot'
    assert set(active) <= set(parameters) and not any(
        parameters[p] for p in active)
    assert heat.FAILED_OVER_TAG not in tags
    # Cold standby: the update deletes every server, nothing to swap.
    cold = test_failover._HealingHeat(stack, [])
    assert failback.demote(cold, dict(definition, mode='cold-standby'),
                           capture, compute=compute)['action'] == 'UPDATE'
    assert compute.deleted == []
