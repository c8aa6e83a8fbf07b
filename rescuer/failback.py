"""Failback: return a failed-over group to its (recovered) primary.

Steps, each idempotent (the failback workflow calls them in this order):

1. :func:`drain` - stop the group's servers at the DR site: traffic
   stops there and the data on the promoted volumes is final;
2. :func:`backup_promoted` / :func:`transfer_backup` - reverse-sync the
   data: a backup of each promoted volume at the DR site, its record
   exported there and imported at the primary (Cinder admin APIs);
3. :func:`restore_primary_volume` - detach the primary's volume from its
   (fenced) server and restore the backup onto it;
4. :func:`retire_primary_servers` and :func:`refresh_primary` - delete
   the primary's fenced servers, lift the fence and have Heat recreate the
   group's servers (and their volume attachments) fresh at the primary;
5. :func:`demote` - the DR site's recovery stack back to its standby level
   (the promoted volumes leave it), then :func:`clean_up` what failover
   and failback made.

The primary's stack stays the operator's own: Rescuer only marks its
servers and attachments unhealthy and asks Heat for an update in place.
"""

from rescuer import exceptions
from rescuer import failover
from rescuer import groups
from rescuer import heat
from rescuer import ownership
from rescuer import render
from rescuer import sync

ATTACHMENT_TYPES = ('OS::Cinder::VolumeAttachment',)
SERVER_TYPES = failover.SERVER_TYPES


# Backups Rescuer makes to move a volume's data between sites: at
# failback (of the promoted volume) and at switchover (of the primary's).
FAILBACK_BACKUP, SWITCHOVER_BACKUP = 'rescuer-failback-', 'rescuer-switchover-'


def backup_name(volume_id, prefix=FAILBACK_BACKUP):
    return prefix + volume_id


def promoted_volumes(cinder, capture):
    """[{volume_id, dr_volume_id}] of the group's promoted volumes at the
    DR site (``cinder``'s site)."""
    found = []
    for volume_id, dr_id in ownership.promoted_map(cinder, capture).items():
        if dr_id is None:
            raise exceptions.NotFound(
                'volume %s has no promoted copy %s at site %s: was the '
                'group failed over?' % (volume_id,
                                        failover.promoted_name(volume_id),
                                        cinder.site.name))
        found.append({'volume_id': volume_id, 'dr_volume_id': dr_id})
    return found


def drain(api, compute, group):
    """Stop the servers of the group's recovery stack; returns their ids."""
    stack = sync.recovery_stack(api, group)
    return failover.stop_servers(compute, heat.physical_ids(
        api.resources(stack['id']), SERVER_TYPES))


def served(fence):
    """Whether the DR site served the fenced group: its recovery stack
    passed a health check since the fence (``served_at``).  A fence
    recorded before Rescuer kept that says nothing: it counts as served,
    so that no data written at the DR site is left behind."""
    return fence is not None and fence.get('served_at', 'unknown') \
        is not None


def servers_state(compute, server_ids, want='SHUTOFF'):
    """COMPLETE once every server is in ``want`` (DELETED: gone);
    IN_PROGRESS before; an error naming any server in ERROR."""
    servers = compute.servers(set(server_ids))
    if want == 'DELETED':
        return 'IN_PROGRESS' if servers else 'COMPLETE'
    # A server in ERROR reaches no other state by itself: the wait ends.
    broken = [failover.server_error(s, s.get('name'), compute.site.name)
              for s in servers if s['status'] == 'ERROR' and want != 'ERROR']
    if broken:
        raise exceptions.StackFailed('; '.join(broken))
    return ('COMPLETE' if all(s['status'] == want for s in servers)
            else 'IN_PROGRESS')


def retire_primary_servers(api, compute, definition):
    """Delete the group's (fenced) servers at the primary, for Heat to
    recreate them fresh; returns their ids."""
    ids = heat.physical_ids(api.resources(definition['stack_id']),
                            SERVER_TYPES, set(definition['members'] or []))
    for server_id in ids:
        compute.delete(server_id)
    return ids


def backup_once(cinder, volume_id, name):
    """A backup of ``volume_id`` called ``name``; returns its id (an
    existing one of an earlier run is reused)."""
    existing = cinder.find_backup(name)
    if existing is not None and existing['status'] != 'error':
        return existing['id']
    return cinder.create_backup(volume_id, name)


def backup_promoted(cinder, promoted):
    """A backup of one promoted volume at the DR site; returns its id."""
    return backup_once(cinder, promoted['dr_volume_id'],
                       backup_name(promoted['volume_id']))


def transfer_backup(source, target, backup_id):
    """Make ``backup_id`` known at ``target`` (export at ``source``,
    import at ``target``); returns its id there."""
    try:
        target.get_backup(backup_id)
        return backup_id
    except exceptions.NotFound:
        pass
    return target.import_backup(source.export_backup(backup_id))


def restore_primary_volume(cinder, compute, capture, volume_id, backup_id):
    """Detach the primary volume from its servers and restore the
    backup onto it."""
    volume = cinder.get_volume(volume_id)
    if volume['status'] in ('restoring-backup',):
        return {'volume_id': volume_id, 'restoring': True}
    # A detach already asked for shows as 'detaching', the attachment
    # still listed: asking again is refused (HTTP 400), so wait for it.
    if volume['status'] == 'in-use':
        for attachment in volume.get('attachments') or []:
            compute.detach_volume(attachment['server_id'], volume_id)
    if volume.get('attachments') or volume['status'] == 'detaching':
        return {'volume_id': volume_id, 'restoring': False,
                'detaching': True}
    cinder.restore_backup(backup_id, volume_id)
    return {'volume_id': volume_id, 'restoring': True}


def refresh_primary(api, network, definition, fence, volume_ids):
    """Lift the fence and have Heat recreate the group's servers and the
    attachments of ``volume_ids`` fresh in the primary stack."""
    for port_id in fence.get('ports_down') or []:
        network.set_port_admin_state(port_id, True)
    members = set(definition['members'] or [])
    replaced = []
    for resource in api.resources(definition['stack_id']):
        name = resource['resource_name']
        if members and name not in members:
            continue
        fresh = (resource['resource_type'] in SERVER_TYPES or (
            resource['resource_type'] in ATTACHMENT_TYPES and
            resource['physical_resource_id'] in volume_ids))
        if fresh:
            api.mark_unhealthy(definition['stack_id'], name,
                               'Rescuer failback: recreated fresh')
            replaced.append(name)
    api.update_stack(definition['stack_id'])
    return {'stack_id': definition['stack_id'], 'replaced': sorted(replaced),
            'action': 'UPDATE'}


def primary_health(api, compute, definition):
    """Health of the group's members at the primary after the refresh."""
    return failover.health(api, compute, definition['stack_id'],
                           set(definition['members'] or []))


def demote(api, definition, capture, held_elsewhere=None, compute=None):
    """The recovery stack back to the group's standby level, without the
    promoted volumes and the failed-over tag.  With ``compute``, a
    (drained) server whose boot volume goes back from the promoted copy
    to the standby's own is deleted through Nova first (action
    ``healing`` until it is gone: call again), then created once by the
    update: Heat would create the replacement before deleting it, which
    needs a second host for a server of an anti-affinity group.

    :returns: ``{stack_id, action, healed, healing}``; action UPDATE,
        unchanged or healing.
    """
    stack = sync.recovery_stack(api, definition['group'])
    model, template = sync.recovery_template(definition, capture, api.site,
                                             held_elsewhere)
    parameters = {'standby_level': groups.standby_level(definition)}
    parameters.update(sync.shared_parameters(api, model))
    for parameter in render.promoted_parameters(model).values():
        parameters[parameter] = ''
    if not sync.is_failed_over(stack):
        return _demoted(stack['id'], 'unchanged')
    swapped = (failover.swapped_servers(model, stack, parameters)
               if parameters['standby_level'] != 'cold' else [])
    healed, deleting = (failover.heal_servers(api, compute, stack['id'],
                                              swapped)
                        if compute and swapped else ([], []))
    if deleting:
        return _demoted(stack['id'], failover.HEALING, deleting)
    tags = [t for t in stack.get('tags') or [] if t != heat.FAILED_OVER_TAG]
    api.update_stack(stack['id'], template=template, parameters=parameters,
                     tags=tags)
    return _demoted(stack['id'], 'UPDATE', healed)


def _demoted(stack_id, action, healed=()):
    return {'stack_id': stack_id, 'action': action, 'healed': list(healed),
            'healing': action == failover.HEALING}


def clean_up(dr_cinder, primary_cinder, promoted):
    """Delete the promoted volumes, and the failback and switchover
    backups at both sites."""
    for item in promoted:
        for prefix in (FAILBACK_BACKUP, SWITCHOVER_BACKUP):
            name = backup_name(item['volume_id'], prefix)
            for cinder in (primary_cinder, dr_cinder):
                backup = cinder.find_backup(name)
                if backup is not None:
                    cinder.delete_backup(backup['id'])
        dr_cinder.delete_volume(item['dr_volume_id'])
