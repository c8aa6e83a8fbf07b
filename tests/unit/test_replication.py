"""Replication drivers, against a stand-in for python-cinderclient."""

import types
from unittest import mock

import pytest

from rescuer import exceptions
from rescuer import replication


def _cinder(**volume):
    cinder = mock.Mock()
    cinder.volumes.get.return_value = types.SimpleNamespace(**volume)
    return cinder


def test_builtin_methods_come_from_the_entry_point():
    assert isinstance(replication.driver('storage'),
                      replication.StorageReplication)
    assert isinstance(replication.driver('backup'),
                      replication.BackupReplication)


@pytest.mark.parametrize('method, message', [
    ('hypervisor', "no 'hypervisor' replication driver is installed"),
    ('application', "no 'application' replication driver is installed"),
    ('carrier-pigeon', "unknown replication method 'carrier-pigeon'"),
])
def test_methods_without_a_driver_are_refused(method, message):
    with pytest.raises(exceptions.InvalidReplication, match=message):
        replication.driver(method)


@pytest.mark.parametrize('specs', [None, {}, {'replication_enabled': 'True'},
                                   {'replication_enabled': '<is> False'}])
def test_storage_needs_a_replication_enabled_type(specs):
    with pytest.raises(exceptions.InvalidReplication,
                       match='not replication-enabled'):
        replication.StorageReplication().validate(specs, {})


def test_storage_accepts_a_replication_enabled_type():
    replication.StorageReplication().validate(
        {'replication_enabled': '<is> True'}, {})


def test_storage_is_protected_when_cinder_says_enabled():
    driver = replication.StorageReplication()
    assert not driver.is_protected(_cinder(replication_status='copying'),
                                   'v', {})
    assert driver.is_protected(_cinder(replication_status='enabled'), 'v', {})
    with pytest.raises(exceptions.InvalidReplication, match='error'):
        driver.is_protected(_cinder(replication_status='error'), 'v', {})


def test_backup_takes_a_full_backup_and_reports_it():
    driver = replication.BackupReplication()
    cinder = mock.Mock()
    cinder.backups.create.return_value = types.SimpleNamespace(id='b1')
    data = driver.protect(cinder, 'vol-1', {})
    assert data == {'backup_ids': ['b1']}
    cinder.backups.create.assert_called_once_with(
        'vol-1', name='rescuer-vol-1', description=mock.ANY)

    cinder.backups.get.return_value = types.SimpleNamespace(
        id='b1', status='available', created_at='t0', data_timestamp='t1')
    assert driver.is_protected(cinder, 'vol-1', data)
    assert driver.status(cinder, 'vol-1', data) == {
        'replication_status': 'backed-up', 'last_point': 't1',
        'dr_source': {'kind': 'backup', 'backup_id': 'b1'}}


def test_failed_backup_is_an_error_with_its_reason():
    cinder = mock.Mock()
    cinder.backups.get.return_value = types.SimpleNamespace(
        id='b1', status='error', fail_reason='no backup service')
    with pytest.raises(exceptions.InvalidReplication,
                       match='no backup service'):
        replication.BackupReplication().is_protected(
            cinder, 'v', {'backup_ids': ['b1']})


def test_unprotect_deletes_newest_backup_first():
    cinder = mock.Mock()
    replication.BackupReplication().unprotect(
        cinder, 'v', {'backup_ids': ['full', 'incr1', 'incr2']})
    assert [c.args[0] for c in cinder.backups.delete.call_args_list] == [
        'incr2', 'incr1', 'full']
