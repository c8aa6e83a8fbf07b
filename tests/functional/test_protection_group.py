"""OS::Rescuer::ProtectionGroup on the lab: a protected VNF, and bad
protection settings refused by `stack create --dry-run`, naming the
property."""

import datetime

from rescuer import groups
from tests.functional import base

TEMPLATE = str(base.REPO / 'examples' / 'protected-vnf.yaml')


def _recovery_stack(name_or_id):
    """The recovery stack at site-b, as the NFV operator there sees it."""
    return base.cli_json('site-b', 'stack', 'show', name_or_id)


def _recovery_server_metadata(recovery_stack_id):
    server = base.cli_json('site-b', 'stack', 'resource', 'show',
                           recovery_stack_id, 'vnf')['physical_resource_id']
    return base.cli_json('site-b', 'server', 'show', server)['properties']


def _settled(recovery_stack_id):
    stack = _recovery_stack(recovery_stack_id)
    return stack if stack['stack_status'] == 'UPDATE_COMPLETE' else None


def _synced_after(name, moment):
    """The group's last_sync_time once a sync captured after ``moment``."""
    last = base.stack_outputs('site-a', name)['last_sync_time']
    return last if groups.parse_time(last) > moment else None


def test_protected_vnf_is_registered_synced_on_schedule_and_removed():
    name = base.unique('pvnf')
    # A sync of this VNF takes 10-15 s here (mostly its log volume's
    # backup) and last_sync_time is the capture time of the last sync to
    # complete: at a 40 s RPO (a sync every 20 s) the scheduled syncs meet
    # the target at any moment.
    created = base.cli_json('site-a', 'stack', 'create', '--wait', '-t',
                            TEMPLATE, '--parameter', 'rpo=40', name)
    assert created['stack_status'] == 'CREATE_COMPLETE', created
    try:
        resources = {r['resource_name']: r['physical_resource_id'] for r in
                     base.cli_json('site-a', 'stack', 'resource', 'list',
                                   name)}
        out = base.stack_outputs('site-a', name)
        group = out['group_name']
        assert out['protection_status'] == 'protected'
        assert out['sync_interval'] == 20  # half the RPO
        for member in ('net', 'subnet', 'port', 'vnf', 'data'):
            assert out['members'][member] == resources[member]
        assert out['workflows']['sync'] == {
            'workflow': 'rescuer_dr.sync_v1', 'input': {'group': group}}

        # The recovery stack at site-b: hot standby, built from a capture.
        recovery = _recovery_stack(out['recovery_stack_id'])
        assert recovery['stack_name'] == 'rescuer-%s' % group
        assert recovery['parameters']['standby_level'] == 'hot'
        assert 'rescuer-standby' in recovery['tags']
        trigger = base.cli_json('site-b', 'cron', 'trigger', 'show',
                                'rescuer-sync-%s' % group)
        assert (trigger['Workflow'], trigger['Pattern']) == (
            'rescuer_dr.sync_v1', '* * * * * */20')

        # A change made at site-a reaches site-b by the schedule alone. The
        # recovery server shows it once the standby update is done; the sync
        # that carried it is recorded after its backups, seconds later.
        changed_at = datetime.datetime.now(datetime.timezone.utc)
        base.cli('site-a', 'server', 'set', '--property', 'dr-test=synced',
                 resources['vnf'])
        base.wait_for(
            lambda: _recovery_server_metadata(
                out['recovery_stack_id']).get('dr-test') == 'synced',
            timeout=120, interval=3, what='the change to reach site-b')
        base.wait_for(lambda: _synced_after(name, changed_at), timeout=60,
                      interval=3, what='the sync of the change to be recorded')
        later = base.stack_outputs('site-a', name)
        assert later['last_sync_time'] > out['last_sync_time']
        assert later['rpo_status'] == 'met', later
        assert later['recovery_stack_id'] == out['recovery_stack_id']

        # Syncs that find nothing changed leave the recovery stack as it
        # is, while the group's last_sync_time moves on.
        settled = base.wait_for(
            lambda: _settled(out['recovery_stack_id']), timeout=120,
            interval=3, what='the recovery stack to settle')
        base.wait_for(
            lambda: _synced_after(name, groups.parse_time(
                settled['updated_time'])),
            timeout=60, interval=3, what='a sync after the stack settled')
        unchanged = _recovery_stack(out['recovery_stack_id'])
        assert (unchanged['stack_status'], unchanged['updated_time']) == (
            'UPDATE_COMPLETE', settled['updated_time'])

        updated = base.cli_json('site-a', 'stack', 'update', '--wait',
                                '--existing', '--parameter',
                                'allowed_countries=FR', name)
        assert updated['stack_status'] == 'UPDATE_COMPLETE', updated
    finally:
        base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name)
    assert base.cli('site-a', 'stack', 'show', name,
                    check=False).returncode != 0
    # Unregistered: no schedule, no recovery stack left at site-b.
    assert base.cli('site-b', 'cron', 'trigger', 'show',
                    'rescuer-sync-%s' % group, check=False).returncode != 0
    assert base.cli_json('site-b', 'stack', 'show', out['recovery_stack_id']
                         )['stack_status'] == 'DELETE_COMPLETE'


def test_deleting_the_primary_never_deletes_a_failed_over_recovery_stack():
    name = base.unique('pvnf')
    base.cli_json('site-a', 'stack', 'create', '--wait', '-t', TEMPLATE,
                  '--parameter', 'rpo=600', name)
    out = base.stack_outputs('site-a', name)
    recovery_id = out['recovery_stack_id']
    try:
        # What failover does to the recovery stack it activates.
        base.cli('site-b', 'stack', 'update', '--existing', '--wait',
                 '--tags', 'rescuer,rescuer-standby,rescuer-failed-over',
                 recovery_id)
        assert base.stack_outputs('site-a', name)[
            'protection_status'] == 'failed-over'
        base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name)
        assert _recovery_stack(recovery_id)['stack_status'] in (
            'UPDATE_COMPLETE', 'CREATE_COMPLETE')
    finally:
        base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name,
                 check=False)
        base.cli('site-b', 'stack', 'delete', '--yes', '--wait', recovery_id)


def _dry_run(template_path, *parameters):
    args = []
    for parameter in parameters:
        args += ['--parameter', parameter]
    result = base.cli('site-a', 'stack', 'create', '--dry-run', '-t',
                      template_path, *args, base.unique('bad'), check=False)
    assert result.returncode != 0
    return result.stderr


def test_bad_protection_settings_are_refused(template):
    image_id = base.cli('site-a', 'image', 'show', 'lab-image', '-f',
                        'value', '-c', 'id').stdout.strip()
    assert ('resources.group.properties.placement_rules: : site site-b is '
            'in FR, and the group allows only DE') in _dry_run(
                TEMPLATE, 'allowed_countries=DE')
    unmapped = _dry_run(TEMPLATE, 'image=%s' % image_id)
    assert 'resources.group.properties.mappings' in unmapped
    assert 'no mapping at site site-b for images %s' % image_id in unmapped

    text = open(TEMPLATE).read()
    broken = text.replace(
        'members: [net, subnet, port, vnf, data, data_attachment, logs,\n'
        '                logs_attachment]',
        'members: [net, nope, vnf]')
    assert broken != text, 'the example\'s members list has changed'
    members = template(broken, name='members.yaml')
    assert ('resources.group.properties.members: : not resources of this '
            'stack: nope') in _dry_run(members)
    slow = template(text.replace('rto: 600', 'rto: 600\n      '
                                 'sync_interval: 400'), name='slow.yaml')
    assert ('resources.group.properties.sync_interval: : a sync every '
            '400 s cannot meet an RPO of 300 s') in _dry_run(slow)
    assert ('resources.group.properties.tier: : 11 is out of range '
            '(min: 1, max: 10)') in _dry_run(TEMPLATE, 'tier=11')


def _volume_groups(name):
    return base.volume_call('site-a', 'GET', '/groups/detail?name=%s'
                            % name)['groups']


def test_volume_group_snapshot_hook_snapshots_the_members_at_each_sync():
    name = base.unique('gsnap')
    base.cli_json('site-a', 'stack', 'create', '--wait', '-t', TEMPLATE,
                  '--parameter', 'group_snapshot=true', '--parameter',
                  'rpo=600', name)
    try:
        out = base.stack_outputs('site-a', name)
        group = out['group_name']
        data = out['members']['data']
        [volume_group] = _volume_groups('rescuer-%s' % group)
        members = base.volume_call('site-a', 'GET', '/volumes/detail?'
                                   'group_id=%s' % volume_group['id'])
        # Every volume of the group: the data and the log volume.
        assert sorted(v['id'] for v in members['volumes']) == sorted(
            [data, out['members']['logs']])

        def snapshots():
            return base.volume_call(
                'site-a', 'GET', '/group_snapshots/detail?group_id=%s'
                % volume_group['id'])['group_snapshots']
        # The first sync (at registration) took one.
        assert [s['status'] for s in snapshots()][:1] == ['available']
        assert all(s['name'].startswith('rescuer-%s-' % group)
                   for s in snapshots())

        # Every sync takes its own, named after the sync's execution.
        sync_id = base.start_execution('rescuer_dr.sync_v1',
                                       {'group': group})
        sync = base.wait_execution(sync_id, timeout=300)
        assert sync['state'] == 'SUCCESS', sync.get('state_info')
        taken = {s['name']: s['status'] for s in snapshots()}
        assert taken['rescuer-%s-%s' % (group, sync_id)] == 'available'
        assert len(taken) <= 3  # the last three are kept
    finally:
        # Unregistering removes the hook's group and snapshots, so that
        # Heat can delete the volume.
        base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name)
    assert base.cli('site-a', 'stack', 'show', name,
                    check=False).returncode != 0
    assert _volume_groups('rescuer-%s' % group) == []
