"""Cinder on the lab: replication with real bytes, group replication,
backups across sites, and a replica taken over by the DR site.

Operator-facing steps use the `openstack` CLI where it works against this
Cinder; two OSC/openstacksdk calls do not (see doc/source/admin), and go
through Cinder's REST API as Rescuer's own code will:
- `volume group set --enable-replication` / `volume group failover` send
  bodies Cinder 29 refuses;
- `volume backup record import` posts to .../backups/export_record.
`volume host failover` works with --os-volume-api-version 3.25 (from 3.26
openstacksdk calls os-services/failover, which Cinder 29 does not route).
"""

import hashlib

import pytest

from tests.functional import base

FAILOVER_CLI = ('--os-volume-api-version', '3.25', 'volume', 'host',
                'failover')
BACKEND = 'site-a@lab'


def _md5(path):
    digest = hashlib.md5()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(4 * 1024 * 1024), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _volume(cloud, volume_id):
    return base.volume_call(cloud, 'GET', '/volumes/%s' % volume_id)[
        'volume']


def _backend_state(cloud='site-a-admin'):
    services = base.volume_call(cloud, 'GET', '/os-services?binary='
                                'cinder-volume')['services']
    [service] = [s for s in services if s['host'] == BACKEND]
    return service


@pytest.fixture
def volumes():
    made = []
    yield made
    for cloud, volume_id in made:
        base.delete_volume(cloud, volume_id)


# Exclusive: site-a's whole backend fails over - every other volume there
# goes to error and none can be created until it fails back (a test that
# ran beside it failed on that).
@pytest.mark.exclusive
def test_replicated_volume_fails_over_and_back_with_real_data(volumes):
    replicated = base.create_volume('site-a', base.unique('rep'),
                                    'lab-replicated')
    plain = base.create_volume('site-a', base.unique('plain'))
    volumes += [('site-a', replicated), ('site-a', plain)]
    assert _volume('site-a-admin', replicated)['replication_status'] == \
        'enabled'

    base.write_tag('site-a', replicated, 'before')
    base.rescuer_lab('replicate', 'site-a', replicated)
    base.write_tag('site-a', replicated, 'after')
    try:
        base.cli('site-a-admin', *FAILOVER_CLI, '--volume-backend', 'site-b',
                 BACKEND)
        base.wait_volume('site-a-admin', replicated, 'replication_status',
                         ('failed-over',))
        base.wait_volume('site-a-admin', plain, want=('error',))
        # Asynchronous replication: what was written after the last copy
        # is gone, what was written before survived.
        assert base.tags('site-a', replicated) == ['before']
        service = _backend_state()
        assert (service['status'], service['active_backend_id']) == (
            'disabled', 'site-b')

        base.write_tag('site-a', replicated, 'during')
    finally:
        base.cli('site-a-admin', *FAILOVER_CLI, '--volume-backend',
                 'default', BACKEND)
    base.wait_volume('site-a-admin', replicated, 'replication_status',
                     ('enabled',))
    base.wait_volume('site-a-admin', plain)
    assert base.tags('site-a', replicated) == ['before', 'during']
    base.wait_for(lambda: _backend_state()['status'] == 'enabled', 60,
                  what='site-a@lab enabled again')


def _wait_group_replication(group_id, status):
    base.wait_for(lambda: base.volume_call(
        'site-a', 'GET', '/groups/%s' % group_id)['group'][
            'replication_status'] == status, 60,
        what='group %s replication %s' % (group_id, status))


def _group_action(group_id, action, body=None):
    return base.volume_call('site-a', 'POST', '/groups/%s/action' % group_id,
                            {action: body or {}})


def test_group_with_replication_enabled_fails_over(volumes):
    group_id = base.cli_json(
        'site-a', '--os-volume-api-version', '3.38', 'volume', 'group',
        'create', '--volume-group-type', 'lab-group-replicated',
        '--volume-type', 'lab-replicated', '--name', base.unique('grp'))['ID']
    members = [base.volume_call('site-a', 'POST', '/volumes', {'volume': {
        'size': 1, 'name': base.unique('member'), 'group_id': group_id,
        'volume_type': 'lab-replicated'}})['volume']['id'] for _ in range(2)]
    try:
        for volume_id in members:
            base.wait_volume('site-a', volume_id)
        _group_action(group_id, 'enable_replication')
        _wait_group_replication(group_id, 'enabled')
        targets = _group_action(group_id, 'list_replication_targets')
        assert targets == {'replication_targets': [{'backend_id': 'site-b'}]}

        for volume_id in members:
            base.write_tag('site-a', volume_id, 'consistent')
        base.rescuer_lab('replicate', 'site-a', *members)
        for volume_id in members:
            base.write_tag('site-a', volume_id, 'late')

        _group_action(group_id, 'failover_replication',
                      {'allow_attached_volume': False,
                       'secondary_backend_id': 'site-b'})
        _wait_group_replication(group_id, 'failed-over')
        for volume_id in members:
            assert _volume('site-a-admin', volume_id)[
                'replication_status'] == 'failed-over'
            assert base.tags('site-a', volume_id) == ['consistent']

        _group_action(group_id, 'failover_replication',
                      {'allow_attached_volume': False,
                       'secondary_backend_id': 'default'})
        _wait_group_replication(group_id, 'enabled')
    finally:
        _group_action(group_id, 'disable_replication')
        _wait_group_replication(group_id, 'disabled')
        _group_action(group_id, 'delete', {'delete-volumes': True})


def _export(backup_id):
    record = base.cli_json('site-a-admin', 'volume', 'backup', 'record',
                           'export', backup_id)
    return {'backup_service': record['backup_service'],
            'backup_url': record['backup_url']}


def test_backup_made_at_site_a_restores_at_site_b_byte_identical(volumes):
    source = base.create_volume('site-a', base.unique('src'))
    volumes.append(('site-a', source))
    base.write_tag('site-a', source, 'full')
    full = base.cli_json('site-a', 'volume', 'backup', 'create', '--name',
                         base.unique('full'), source)['id']
    base.wait_backup('site-a', full)
    full_md5 = _md5(base.volume_file('site-a', source))
    base.write_tag('site-a', source, 'incremental')
    incremental = base.cli_json('site-a', 'volume', 'backup', 'create',
                                '--incremental', '--name',
                                base.unique('incr'), source)['id']
    base.wait_backup('site-a', incremental)
    incremental_md5 = _md5(base.volume_file('site-a', source))

    imported = []
    try:
        # The full backup first: the incremental one depends on it.
        for backup_id in (full, incremental):
            imported.append(base.volume_call(
                'site-b-admin', 'POST', '/backups/import_record',
                {'backup-record': _export(backup_id)}, ok=(201,))[
                    'backup']['id'])
            base.wait_backup('site-b-admin', imported[-1])
        assert imported == [full, incremental]  # same ids at both sites

        for backup_id, want_md5, want_tags in (
                (incremental, incremental_md5, ['full', 'incremental']),
                (full, full_md5, ['full'])):
            restored = base.volume_call(
                'site-b-admin', 'POST', '/backups/%s/restore' % backup_id,
                {'restore': {'name': base.unique('restored')}})['restore'][
                    'volume_id']
            volumes.append(('site-b-admin', restored))
            base.wait_volume('site-b-admin', restored, timeout=180)
            assert _md5(base.volume_file('site-b', restored)) == want_md5
            assert base.tags('site-b', restored) == want_tags
    finally:
        # The incremental first, and gone before its full one.
        for backup_id in reversed(imported):
            base.delete_backup('site-b-admin', backup_id)
        for backup_id in (incremental, full):
            base.delete_backup('site-a', backup_id)
