"""The Cinder group-snapshot consistency hook: at each capture, one
crash-consistent point-in-time copy of all the group's volumes at the
primary, taken with a Cinder group snapshot.

The group's volumes are kept in a Cinder generic group
``rescuer-<group>`` (made on first use, of the group type the primary
site's registry entry names as ``storage.group_type``, and given the
members' volumes as they appear).  :func:`advance` takes one step at a
time and says whether the snapshot is done, so the workflow waits with a
retry policy; the last ``keep`` snapshots are kept.
"""

from rescuer import exceptions
from rescuer import heat

IN_PROGRESS, COMPLETE = 'IN_PROGRESS', 'COMPLETE'
VOLUME_TYPES = ('OS::Cinder::Volume', 'OS::Rescuer::ReplicatedVolume')


def group_name(group):
    return 'rescuer-%s' % group


def snapshot_name(group, run_id):
    return 'rescuer-%s-%s' % (group, run_id)


def member_volumes(resources, members=None):
    """Ids of the volumes among a stack's resources (the members)."""
    return heat.physical_ids(resources, VOLUME_TYPES, members)


def advance(cinder, group, volume_ids, run_id, keep=3):
    """One step towards a group snapshot of ``volume_ids`` for run
    ``run_id``; returns ``{state, group_id, group_snapshot_id}``."""
    group_type = cinder.site.storage.get('group_type')
    if not group_type:
        raise exceptions.RegistryError(
            'site %s declares no storage.group_type: the volume group '
            'snapshot hook needs a Cinder group type there'
            % cinder.site.name)
    state = {'state': IN_PROGRESS, 'group_id': None,
             'group_snapshot_id': None, 'volumes': list(volume_ids)}
    found = cinder.find_group(group_name(group))
    if found is None:
        types = sorted({cinder.get_volume(v)['volume_type']
                        for v in volume_ids})
        state['group_id'] = cinder.create_group(group_name(group),
                                                group_type, types)
        return state
    state['group_id'] = found['id']
    if found['status'] == 'error':
        raise exceptions.RemoteError(
            cinder.site.name, 'GET', '/groups/%s' % found['id'], 200,
            'volume group %s is in error' % found['id'])
    if found['status'] != 'available':
        return state
    missing = set(volume_ids) - cinder.group_volume_ids(found['id'])
    if missing:
        cinder.add_to_group(found['id'], missing)
        return state
    snapshots = sorted(cinder.group_snapshots(found['id']),
                       key=lambda s: s['created_at'])
    name = snapshot_name(group, run_id)
    mine = [s for s in snapshots if s['name'] == name]
    if not mine:
        state['group_snapshot_id'] = cinder.create_group_snapshot(
            found['id'], name)
        return state
    snapshot = mine[0]
    state['group_snapshot_id'] = snapshot['id']
    if snapshot['status'] == 'error':
        raise exceptions.RemoteError(
            cinder.site.name, 'GET', '/group_snapshots/%s' % snapshot['id'],
            200, 'group snapshot %s failed' % snapshot['id'])
    if snapshot['status'] != 'available':
        return state
    for old in [s for s in snapshots if s['id'] != snapshot['id']][
            :max(0, len(snapshots) - keep)]:
        cinder.delete_group_snapshot(old['id'])
    state['state'] = COMPLETE
    return state


def release(cinder, group):
    """One step towards removing what the hook made at the primary (its
    snapshots, then the volumes from its group, then the group), so the
    volumes can be deleted; returns ``{state}``."""
    found = cinder.find_group(group_name(group))
    if found is None:
        return {'state': COMPLETE}
    if found['status'] not in ('available', 'error'):
        return {'state': IN_PROGRESS}
    snapshots = cinder.group_snapshots(found['id'])
    if snapshots:
        for snapshot in snapshots:
            if snapshot['status'] not in ('deleting',):
                cinder.delete_group_snapshot(snapshot['id'])
        return {'state': IN_PROGRESS}
    volumes = cinder.group_volume_ids(found['id'])
    if volumes:
        cinder.remove_from_group(found['id'], volumes)
        return {'state': IN_PROGRESS}
    cinder.delete_group(found['id'])
    return {'state': IN_PROGRESS}
