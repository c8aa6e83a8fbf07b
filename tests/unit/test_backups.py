"""Backup replication: the chain a sync grows at the primary, the records
the DR site keeps, retirement newest first, import and promotion - over
an in-memory stand-in for Cinder's backup API that chains incremental
backups as Cinder does (on the volume's newest available backup)."""

import base64
import json

import pytest

from rescuer import backups
from rescuer import exceptions
from rescuer import failover
from rescuer import store
from tests.unit import test_failover
from tests.unit import test_groups
from tests.unit import test_store


class FakeBackups:
    """Cinder's backups at one site: create (incremental on the newest
    available backup of the volume), export, import, delete (refused
    while an incremental depends on the backup)."""

    def __init__(self, name='site-a'):
        self.site = test_failover._site(name=name)
        self.backups = {}
        self.calls = []
        self.clock = 0

    def _new(self, backup_id, **fields):
        self.clock += 1
        self.backups[backup_id] = dict(
            {'id': backup_id, 'status': 'available',
             'created_at': '2026-11-26T08:00:%02d' % self.clock}, **fields)

    def find_backup(self, name):
        found = [b for b in self.backups.values() if b.get('name') == name]
        return found[0] if found else None

    def create_backup(self, volume_id, name, incremental=False):
        self.calls.append(('create', volume_id, incremental))
        parent = None
        if incremental:
            mine = [b for b in self.backups.values()
                    if b.get('volume_id') == volume_id
                    and b['status'] == 'available']
            parent = max(mine, key=lambda b: b['created_at'])['id']
        backup_id = 'b%d' % (len(self.backups) + 1)
        self._new(backup_id, name=name, volume_id=volume_id,
                  parent_id=parent, is_incremental=incremental)
        return backup_id

    def backups_in_progress(self, volume_id):
        return [b for b in self.backups.values()
                if b.get('volume_id') == volume_id
                and b['status'] == 'creating']

    def volume_backups(self, volume_id):
        return [b for b in self.backups.values()
                if b.get('volume_id') == volume_id]

    def get_backup(self, backup_id):
        if backup_id not in self.backups:
            raise exceptions.NotFound(backup_id)
        return self.backups[backup_id]

    def export_backup(self, backup_id):
        self.calls.append(('export', backup_id))
        backup = self.backups[backup_id]
        url = base64.b64encode(json.dumps(
            {'id': backup_id, 'parent_id': backup['parent_id'],
             'created_at': backup['created_at'],
             'data_timestamp': backup['created_at']}).encode()).decode()
        return {'backup_service': 'posix', 'backup_url': url}

    def import_backup(self, record):
        fields = backups.record_fields(record)
        self.calls.append(('import', fields['id']))
        self._new(fields['id'], parent_id=fields['parent_id'])
        return fields['id']

    def delete_backup(self, backup_id):
        if any(b.get('parent_id') == backup_id
               for b in self.backups.values()):
            raise exceptions.RemoteError(self.site.name, 'DELETE', '/b',
                                         400, 'Incremental backups exist')
        self.calls.append(('delete', backup_id))
        del self.backups[backup_id]


def _sync(cinder, state, volume_id, run_id):
    """One sync's backup, as sync_v1 runs it: start, (available), record."""
    started = backups.start_backup(
        cinder, state.setdefault('chains', {}).get(volume_id) or [],
        volume_id, run_id)
    chain = backups.chain_to(cinder, state['chains'].get(volume_id) or [],
                             started['backup_id'])
    return started, backups.advance(state, volume_id, chain, 'site-a')


def test_first_sync_starts_a_full_chain_and_the_next_ones_grow_it():
    cinder, state = FakeBackups(), {}
    started, _ = _sync(cinder, state, 'v1', 'run-1')
    assert started['incremental'] is False
    for run in range(2, 5):
        started, _ = _sync(cinder, state, 'v1', 'run-%d' % run)
        assert started['incremental'] is True
    chain = state['chains']['v1']
    assert [link['backup_id'] for link in chain] == ['b1', 'b2', 'b3', 'b4']
    assert [link['parent_id'] for link in chain] == [None, 'b1', 'b2', 'b3']
    # Each backup was exported once: known records are reused.
    assert [c for c in cinder.calls if c[0] == 'export'] == [
        ('export', 'b1'), ('export', 'b2'), ('export', 'b3'),
        ('export', 'b4')]
    assert backups.newest(state, 'v1', 'g1')['backup_id'] == 'b4'


def test_a_rerun_of_the_same_sync_makes_no_second_backup():
    cinder, state = FakeBackups(), {}
    first, _ = _sync(cinder, state, 'v1', 'run-1')
    again = backups.start_backup(cinder, state['chains']['v1'], 'v1',
                                 'run-1')
    assert again['backup_id'] == first['backup_id']
    assert len(cinder.backups) == 1


def test_a_sync_meeting_another_syncs_backup_in_flight_shares_it():
    cinder, state = FakeBackups(), {}
    _sync(cinder, state, 'v1', 'run-1')
    in_flight = backups.start_backup(cinder, state['chains']['v1'], 'v1',
                                     'run-2')
    cinder.backups[in_flight['backup_id']]['status'] = 'creating'
    # Cinder refuses a backup of a volume being backed up: the other
    # sync's serves.
    shared = backups.start_backup(cinder, state['chains']['v1'], 'v1',
                                  'run-3')
    assert shared['backup_id'] == in_flight['backup_id']
    assert len(cinder.backups) == 2


def test_a_full_chain_is_replaced_and_the_old_one_pruned_newest_first():
    cinder, state = FakeBackups(), {}
    for run in range(backups.FULL_EVERY + 1):
        started, _ = _sync(cinder, state, 'v1', 'run-%d' % run)
    assert started['incremental'] is False
    assert [link['backup_id'] for link in state['chains']['v1']] == [
        started['backup_id']]
    old = ['b%d' % n for n in range(1, backups.FULL_EVERY + 1)]
    assert state['retired'] == [{'site': 'site-a', 'backup_id': b}
                                for b in old]
    # One pass asks for the deletion of every backup with no dependant
    # left (the stand-in deletes at once, so the whole old chain goes,
    # newest first); they stay queued until a later pass finds them gone.
    assert backups.prune(state, {'site-a': cinder}) == backups.FULL_EVERY
    assert backups.prune(state, {'site-a': cinder}) == 0
    assert [c[1] for c in cinder.calls if c[0] == 'delete'] == old[::-1]
    assert set(cinder.backups) == {started['backup_id']}


def test_prune_keeps_a_parent_whose_incremental_is_still_there():
    cinder, state = FakeBackups(), {}
    _sync(cinder, state, 'v1', 'run-1')
    _sync(cinder, state, 'v1', 'run-2')
    # Only the parent is retired: Cinder refuses it, it waits.
    backups.retire(state, 'site-a', ['b1'])
    assert backups.prune(state, {'site-a': cinder}) == 1
    assert 'b1' in cinder.backups
    # A site that does not answer keeps its retired backups queued.
    backups.retire(state, 'site-b', ['b9'])
    assert backups.prune(state, {'site-a': cinder}) == 2


def _backup_failing(cinder, state, volume_id, run_id):
    """A sync's backup that ends in error (the primary died mid-way):
    Cinder has already counted it as its parent's dependant."""
    started = backups.start_backup(cinder, state['chains'][volume_id],
                                   volume_id, run_id)
    cinder.backups[started['backup_id']]['status'] = 'error'
    return started['backup_id']


def test_a_failed_sync_backup_is_pruned_by_the_next_sync_before_its_parent():
    cinder, state = FakeBackups(), {}
    _sync(cinder, state, 'v1', 'run-1')
    failed = _backup_failing(cinder, state, 'v1', 'run-2')
    assert cinder.backups[failed]['parent_id'] == 'b1'
    assert state['chains']['v1'][-1]['backup_id'] == 'b1'
    started, _ = _sync(cinder, state, 'v1', 'run-3')
    backups.retire_strays(state, cinder, 'v1')
    # The chain goes on from the last good backup; the failed one is
    # queued once (a second pass finds it known) and deleted.
    assert [link['backup_id'] for link in state['chains']['v1']] == [
        'b1', started['backup_id']]
    backups.retire_strays(state, cinder, 'v1')
    assert state['retired'] == [{'site': 'site-a', 'backup_id': failed}]
    assert backups.prune(state, {'site-a': cinder}) == 1
    assert failed not in cinder.backups
    assert backups.prune(state, {'site-a': cinder}) == 0


def test_release_deletes_every_sync_backup_recorded_or_not():
    cinder, state = FakeBackups(), {}
    for run in range(3):
        _sync(cinder, state, 'v1', 'run-%d' % run)
    _backup_failing(cinder, state, 'v1', 'run-failed')
    # A sync that died between its backup and its record left one
    # available; the operator's own backup of the volume is not Rescuer's.
    unrecorded = cinder.create_backup('v1', backups.sync_backup_name(
        'v1', 'run-lost'), incremental=True)
    cinder._new('mine', name='nightly', volume_id='v1', parent_id=None)
    backups.retire_all(state, 'site-a', 'site-b')
    backups.retire_strays(state, cinder, 'v1', ('available', 'error'))
    rounds = 0
    while backups.prune(state, {'site-a': cinder}) and rounds < 10:
        rounds += 1
    # Every Rescuer backup is gone, dependants before parents (the
    # stand-in refuses a parent otherwise); the site-b entries wait for
    # a site-b that is not given here.
    assert set(cinder.backups) == {'mine'}
    assert unrecorded not in cinder.backups
    assert {e['site'] for e in state['retired']} == {'site-b'}


def test_release_waits_for_a_sync_backup_still_being_made_then_deletes_it():
    # The last sync's backup was still running when the group's stack was
    # deleted: the volume stays 'backing-up' until it ends, so the release
    # must not end before it (Heat detaches the volume next).
    cinder, state = FakeBackups(), {}
    _sync(cinder, state, 'v1', 'run-0')
    running = cinder.create_backup('v1', backups.sync_backup_name(
        'v1', 'run-1'), incremental=True)
    cinder.backups[running]['status'] = 'creating'
    backups.retire_all(state, 'site-a', 'site-b')
    backups.retire_strays(state, cinder, 'v1', backups.RELEASED_STATUSES)
    apis = {'site-a': cinder, 'site-b': FakeBackups('site-b')}
    assert backups.prune(state, apis) == 2
    assert running in cinder.backups
    cinder.backups[running]['status'] = 'available'
    rounds = 0
    while backups.prune(state, apis) and rounds < 5:
        rounds += 1
    assert cinder.backups == {}
    assert state['retired'] == []


def test_failover_imports_the_chain_oldest_first_and_restores_the_newest():
    primary, dr, state = FakeBackups(), FakeBackups('site-b'), {}
    for run in range(3):
        _sync(primary, state, 'v1', 'run-%d' % run)
    chain = state['chains']['v1']
    assert backups.import_chain(dr, chain) == ['b1', 'b2', 'b3']
    assert [c for c in dr.calls if c[0] == 'import'] == [
        ('import', 'b1'), ('import', 'b2'), ('import', 'b3')]
    # A re-run imports nothing twice.
    backups.import_chain(dr, chain)
    assert len([c for c in dr.calls if c[0] == 'import']) == 3

    class Restoring(FakeBackups):
        restored = []

        def find_volumes(self, name):
            return []

        def restore_backup_as(self, backup_id, name):
            self.restored.append((backup_id, name))
            return 'dr-v1'

    cinder = Restoring('site-b')
    result = failover.promote_volume(
        cinder, test_groups._definition(),
        {'volume_id': 'v1', 'method': 'backup', 'size': 1,
         'volume_type': None, 'bootable': False},
        backups.newest(state, 'v1', 'g1'))
    assert cinder.restored == [('b3', 'rescuer-v1')]
    assert result['dr_volume_id'] == 'dr-v1'
    assert result['data_timestamp'] == chain[-1]['data_timestamp']


def test_after_failback_every_chain_is_retired_at_both_sites():
    primary, state = FakeBackups(), {}
    _sync(primary, state, 'v1', 'run-1')
    _sync(primary, state, 'v1', 'run-2')
    backups.retire_all(state, 'site-a', 'site-b')
    assert state['chains'] == {}
    assert {(e['site'], e['backup_id']) for e in state['retired']} == {
        ('site-a', 'b1'), ('site-a', 'b2'), ('site-b', 'b1'),
        ('site-b', 'b2')}
    started, _ = _sync(primary, state, 'v1', 'run-3')
    assert started['incremental'] is False


def test_failover_is_refused_before_anything_changes_without_a_backup(
        tmp_path):
    kept = store.DirectoryStore(tmp_path)
    kept.save_definition(test_groups._definition(group='g1'))
    kept.save(test_store._document(group='g1', volumes=[
        {'id': 'v1', 'size': 1,
         'metadata': {'rescuer_replication': 'backup'}}]))
    with pytest.raises(exceptions.InvalidGroup,
                       match='volume v1 of group g1 has no backup'):
        failover.plan(kept, ['g1'])
    kept.save_backups('g1', {'chains': {'v1': [
        {'backup_id': 'b1', 'parent_id': None, 'record': {},
         'data_timestamp': 't'}]}, 'retired': []})
    assert failover.plan(kept, ['g1']) == [['g1']]


def test_a_record_that_does_not_decode_is_refused():
    with pytest.raises(exceptions.InvalidCapture, match='does not decode'):
        backups.record_fields({'backup_url': 'not base64 json'})
