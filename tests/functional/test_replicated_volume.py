"""OS::Rescuer::ReplicatedVolume on the lab: storage and backup methods."""

from tests.functional import base

TEMPLATE = str(base.REPO / 'examples' / 'replicated-volumes.yaml')


def _backups(volume_id):
    return [b for b in base.volume_call('site-a', 'GET', '/backups/detail')[
        'backups'] if b['volume_id'] == volume_id]


def test_volumes_are_protected_by_storage_and_by_backup():
    name = base.unique('rv')
    created = base.cli_json('site-a', 'stack', 'create', '--wait', '-t',
                            TEMPLATE, name)
    assert created['stack_status'] == 'CREATE_COMPLETE', created
    try:
        out = base.stack_outputs('site-a', name)
        database, archive = out['database_id'], out['archive_id']
        assert out['database_replication'] == 'enabled'
        assert out['database_dr_source'] == {'kind': 'replica',
                                             'volume_id': database}
        # Storage replication with real bytes: the lab array copies it.
        base.write_tag('site-a', database, 'protected')
        copied = base.rescuer_lab('replicate', 'site-a', database).stdout
        assert database in copied

        assert out['archive_replication'] == 'backed-up'
        [backup] = _backups(archive)
        assert backup['status'] == 'available'
        assert out['archive_dr_source'] == {'kind': 'backup',
                                            'backup_id': backup['id']}

        updated = base.cli_json('site-a', 'stack', 'update', '--wait',
                                '--existing', '--parameter', 'size=2', name)
        assert updated['stack_status'] == 'UPDATE_COMPLETE', updated
        volume = base.volume_call('site-a', 'GET', '/volumes/%s' % database)
        assert volume['volume']['size'] == 2
        assert base.tags('site-a', database) == ['protected']
    finally:
        base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name)

    # Delete cleans up what it made: volumes and the backup.
    for volume_id in (database, archive):
        base.wait_for(lambda: 'volume' not in base.volume_call(
            'site-a', 'GET', '/volumes/%s' % volume_id, ok=(200, 404)),
            60, what='volume %s deleted' % volume_id)
    base.wait_for(lambda: not _backups(archive), 60, what='backup deleted')


def _bad_template(template, **props):
    props = dict({'size': 1, 'dr_site': 'site-b'}, **props)
    lines = ''.join('      %s: %s\n' % item for item in props.items())
    return template('''
heat_template_version: 2021-04-16
resources:
  volume:
    type: OS::Rescuer::ReplicatedVolume
    properties:
%s''' % lines, name='bad.yaml')


def test_bad_replication_settings_are_refused_before_anything_is_made(
        template):
    cases = [
        ({'volume_type': 'lab', 'replication_method': 'storage'},
         'resources.volume.properties.volume_type',
         "not replication-enabled (it needs the extra spec "
         "replication_enabled='<is> True')"),
        ({'replication_method': 'storage'},
         'resources.volume.properties.volume_type',
         'storage replication needs a replication-enabled volume type'),
        ({'replication_method': 'hypervisor'},
         'resources.volume.properties.replication_method',
         "no 'hypervisor' replication driver is installed"),
        ({'replication_method': 'backup', 'dr_site': 'site-z'},
         'dr_site', 'unknown site: site-z'),
    ]
    for props, path, message in cases:
        result = base.cli('site-a', 'stack', 'create', '--dry-run', '-t',
                          _bad_template(template, **props),
                          base.unique('bad'), check=False)
        assert result.returncode != 0, props
        assert path in result.stderr, (props, result.stderr)
        assert message in result.stderr, (props, result.stderr)
