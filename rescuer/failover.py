"""Failover of protection groups at the DR site, one idempotent step at a
time: the failover workflow calls these through Rescuer's actions, and a
re-run after a crash or an error continues where the last run stopped
(look before you create; everything made is named after the group or the
primary volume it replaces).

Nothing here calls the primary site except :func:`fence_primary`, which
treats a primary that does not answer as the normal case of a disaster.
"""

import concurrent.futures
import datetime

from rescuer import backups
from rescuer import exceptions
from rescuer import groups
from rescuer import heat
from rescuer import render
from rescuer import shared
from rescuer import standby
from rescuer import sync

CAPACITY_KEYS = ('instances', 'vcpus', 'ram_mb', 'volumes_gb')
# Groups one failover, switchover, drill or failback run may name.
MAX_GROUPS = 500
# What an activation did when a hot standby served as it was.
IN_SERVICE = 'in_service'
# What an activation answers while it deletes servers in ERROR first.
HEALING = 'healing'


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


# ------------------------------------------------------------- planning

def plan(store, group_names, waves=False):
    """The groups in tiers, vital first: ``[[group, ...], ...]``; with
    ``waves`` (a drill), a tier whose groups use what another of the
    tier holds runs as several, the holder first
    (:func:`rescuer.shared.waves`).

    Every group must be registered here and have a good capture (and
    its backup-protected volumes a backup the DR site can import); all
    problems are reported at once, before anything changes.
    """
    if not isinstance(group_names, list) or not all(
            isinstance(g, str) for g in group_names):
        raise exceptions.InvalidGroup(
            'groups must be a list of protection group names')
    if not group_names:
        raise exceptions.InvalidGroup('name at least one protection group')
    if len(group_names) > MAX_GROUPS:
        raise exceptions.InvalidGroup(
            '%d groups named: a run takes at most %d (split the run)'
            % (len(group_names), MAX_GROUPS))
    unusable = [n for n in group_names if not groups.usable_name(n)]
    if unusable:
        raise exceptions.InvalidGroup(
            'not protection group names: %s' % ', '.join(
                repr(n[:40] + ('...' if len(n) > 40 else ''))
                for n in unusable[:5]))
    problems, tiers, captures = [], {}, {}
    for name in group_names:
        try:
            definition = store.definition(name)
            capture, _ = store.latest(name)
            state = store.backups(name)
            for volume_id in backups.backup_volumes(capture):
                backups.newest(state, volume_id, name)
        except (exceptions.NotFound, exceptions.InvalidGroup,
                exceptions.InvalidCapture) as exc:
            problems.append(str(exc))
            continue
        tiers.setdefault(definition['tier'], []).append(name)
        captures[name] = capture
    if problems:
        raise exceptions.InvalidGroup('; '.join(problems))
    if not waves:
        return [sorted(tiers[tier]) for tier in sorted(tiers)]
    # Within a tier, groups using what another of the tier holds come
    # after it (rescuer.shared): a tier may run as several waves.
    used = shared.uses(captures)
    return [wave for tier in sorted(tiers)
            for wave in shared.waves(tiers[tier], used)]


def needs(model, flavors):
    """What a group's recovery takes at the DR site: instances, vCPUs and
    RAM of the mapped flavors, and GB of volumes."""
    by_name = {f['name']: f for f in flavors}
    defaults = {p['name']: p['default'] for p in model['parameters']}
    total = dict.fromkeys(CAPACITY_KEYS, 0)
    missing = set()
    for server in model['servers']:
        flavor_name = defaults[server['flavor_param']]
        flavor = by_name.get(flavor_name)
        if flavor is None:
            missing.add(flavor_name)
            continue
        total['instances'] += 1
        total['vcpus'] += flavor['vcpus']
        total['ram_mb'] += flavor['ram']
    total['volumes_gb'] = sum(v['size'] for v in model['volumes'])
    return total, sorted(missing)


def kept_apart(model, capture):
    """``{server group primary id: servers}`` of the model's servers in
    anti-affinity server groups (its own or another group's): each
    needs a compute host of its own."""
    policies = {g['id']: g.get('policies') or [g.get('policy')]
                for g in capture['server_groups']}
    source = {g['name']: g['source_id'] for g in model['server_groups']}
    source.update({s['parameter']: s['source_id']
                   for s in model.get('shared') or ()})
    counts = {}
    for server in model['servers']:
        reference = server.get('server_group') or {}
        group = source.get(reference.get('get_resource') or
                           reference.get('get_param'))
        if 'anti-affinity' in (policies.get(group) or ()):
            counts[group] = counts.get(group, 0) + 1
    return counts


def spread_problems(site, spread):
    """Anti-affinity ``site`` cannot hold: more servers in one
    anti-affinity server group - counted over every group of the run
    (``spread``: ``{group: kept_apart}``) - than the compute hosts it
    declares (capacity ``hosts``; nothing is checked without it)."""
    hosts = site.capacity.get('hosts')
    if hosts is None:
        return []
    totals, users = {}, {}
    for group, counts in sorted(spread.items()):
        for server_group, count in counts.items():
            totals[server_group] = totals.get(server_group, 0) + count
            users.setdefault(server_group, []).append(group)
    return ['group%s %s keep%s %d servers apart (anti-affinity server '
            'group %s): site %s declares %d compute host%s' % (
                's' if len(users[sg]) > 1 else '',
                ', '.join(users[sg]), '' if len(users[sg]) > 1 else 's',
                count, sg, site.name, hosts, '' if hosts == 1 else 's')
            for sg, count in sorted(totals.items()) if count > hosts]


def capacity_problems(site, demands):
    """Problems with recovering ``demands`` ({group: (needs, missing
    flavors)}) at ``site``, against the capacity it declares."""
    problems = []
    for group, (_, missing) in sorted(demands.items()):
        if missing:
            problems.append('group %s needs flavors %s, which site %s does '
                            'not have' % (group, ', '.join(missing),
                                          site.name))
    for key in CAPACITY_KEYS:
        limit = site.capacity.get(key)
        wanted = sum(need[key] for need, _ in demands.values())
        if limit is not None and wanted > limit:
            problems.append('site %s declares capacity for %d %s; the '
                            'groups need %d' % (site.name, limit, key,
                                                wanted))
    return problems


# -------------------------------------------------------------- fencing

def fence_primary(compute, network, capture):
    """Fence the group at the primary, so that a primary that comes back
    cannot serve the group too: its ports are taken down first (no
    traffic reaches or leaves the group there - the fence that holds even
    where a server cannot be stopped), then its servers are stopped.

    Only the group's own ports: a capture also holds ports of other
    groups its chains name (a classifier starting at a tier-1 port), and
    fencing tier 2 must not cut tier 1.

    :returns: ``{ports_down, servers_stopped}``.
    :raises SiteUnreachable: when the primary does not answer.
    """
    own = shared.held_ids(capture)
    ports = [p['id'] for p in capture['ports'] if p['id'] in own]
    found = network.ports(set(ports))
    # Neutron updates one port per call: take them down side by side
    # (one after the other, 50 ports took 3 s of a failover on the lab).
    _in_parallel(lambda port: network.set_port_admin_state(port, False),
                 [p['id'] for p in found if p['admin_state_up']])
    down = [p['id'] for p in found]
    return {'ports_down': sorted(down),
            'servers_stopped': stop_servers(
                compute, [s['id'] for s in capture['servers']])}


FENCE_WORKERS = 8


def _in_parallel(call, items):
    """``call`` on every item, ``FENCE_WORKERS`` at a time; the first
    error is raised once all are done."""
    if not items:
        return
    with concurrent.futures.ThreadPoolExecutor(
            min(FENCE_WORKERS, len(items))) as pool:
        for future in [pool.submit(call, item) for item in items]:
            future.result()


def stop_servers(compute, server_ids):
    """Stop those of ``server_ids`` that exist and are not stopped yet;
    returns the ids that exist, in the order given."""
    present = {s['id']: s for s in compute.servers(set(server_ids))}
    _in_parallel(compute.stop, [
        server_id for server_id in server_ids if server_id in present and
        present[server_id]['status'] != 'SHUTOFF'])
    return [s for s in server_ids if s in present]


def start_servers(compute, server_ids):
    """Start those of ``server_ids`` that are stopped (SHUTOFF); returns
    the ids started, in the order given."""
    present = {s['id']: s for s in compute.servers(set(server_ids))}
    stopped = [server_id for server_id in server_ids
               if present.get(server_id, {}).get('status') == 'SHUTOFF']
    _in_parallel(compute.start, stopped)
    return stopped


def start_stack_servers(api, compute, stack_id):
    """Start the stopped servers of a recovery stack: a failback drained
    them (Nova stopped them, Heat does not know), and neither the standby
    update nor the next activation starts them again.  Returns
    ``{stack_id, started}``."""
    return {'stack_id': stack_id, 'started': start_servers(
        compute, heat.physical_ids(api.resources(stack_id), SERVER_TYPES))}


SERVER_TYPES = ('OS::Nova::Server',)


# ------------------------------------------------------------ promotion

def promoted_name(volume_id):
    """The DR-site volume holding the promoted data of ``volume_id``."""
    return 'rescuer-%s' % volume_id


def replicated_volumes(capture):
    """[{volume_id, method, size, volume_type, bootable}] whose data the
    DR site promotes at failover."""
    return [{'volume_id': v['id'], 'method': render.replication_method(v),
             'size': v['size'], 'volume_type': v.get('volume_type'),
             'bootable': str(v.get('bootable')).lower() == 'true'}
            for v in sorted(capture['volumes'], key=lambda v: v['id'])
            if render.replication_method(v)]


def promote_volume(cinder, definition, volume, backup=None, compute=None):
    """Bring one replicated volume's data up at the DR site (``cinder``'s
    site): storage replication takes the replica over with Cinder's
    manage-existing; backup replication restores ``backup`` (the newest
    of the volume's chain, imported at the DR site, see
    :mod:`rescuer.backups`).  Either way the DR-site volume is called
    ``rescuer-<volume id>``.  Idempotent: a volume already promoted is
    returned - freed, with ``compute``, of the attachments a failed
    activation left on it (:func:`release_stale_attachments`).

    :returns: ``{volume_id, dr_volume_id, method, status}``.
    """
    name = promoted_name(volume['volume_id'])
    existing = _live_promoted(cinder, name)
    if existing is not None:
        if compute is not None and existing['status'] in STALE_STATUSES:
            release_stale_attachments(cinder, compute, existing['id'])
            existing = cinder.get_volume(existing['id'])
        return {'volume_id': volume['volume_id'],
                'dr_volume_id': existing['id'], 'method': volume['method'],
                'status': existing['status']}
    if volume['method'] == 'backup':
        return _restore_backup(cinder, volume, backup, name)
    if volume['method'] != 'storage':
        raise exceptions.InvalidReplication(
            'volume %s: promoting %r replication is not supported at site '
            '%s' % (volume['volume_id'], volume['method'], cinder.site.name))
    storage = _storage(cinder.site)
    ref = replica_ref(storage, definition, volume['volume_id'])
    managed = cinder.manage_volume(
        storage['manage_host'], ref, name,
        volume_type=volume['volume_type'], bootable=volume['bootable'],
        metadata={'rescuer_group': definition['group'],
                  'rescuer_source_volume': volume['volume_id']})
    return {'volume_id': volume['volume_id'], 'dr_volume_id': managed['id'],
            'method': volume['method'], 'status': managed['status']}


def _storage(site):
    storage = site.storage
    if not storage.get('manage_host') or not storage.get('replica_ref'):
        raise exceptions.RegistryError(
            'site %s declares no storage.manage_host/replica_ref: the DR '
            'site registry must say where replicas are to take them over'
            % site.name)
    return storage


def replica_ref(storage, definition, volume_id):
    """The storage reference of the volume's replica at the DR site."""
    return {key: value.format(primary_site=definition['primary_site'],
                              volume_id=volume_id)
            for key, value in storage['replica_ref'].items()}


def replica_points(cinder, definition, capture):
    """When each storage-replicated volume of the group was last
    replicated to ``cinder``'s site (the DR site): ``{volume_id:
    replicated_at or None}``, read from the backend's list of what it
    could take over (Cinder's manageable volumes).  A volume promoted by
    an earlier run needs no replica (``None``).  A backend that cannot
    list its storage is not checked (``{}``).

    :raises InvalidGroup: naming each volume with no replica there yet:
        a failover would have nothing to take over.
    """
    volumes = [v['volume_id'] for v in replicated_volumes(capture)
               if v['method'] == 'storage']
    if not volumes:
        return {}
    storage = _storage(cinder.site)
    try:
        listed = cinder.manageable_volumes(
            storage['manage_host'].split('#')[0])
    except exceptions.RemoteError as exc:
        if exc.status in (400, 404, 501):
            return {}   # no list of the backend's storage: not checked
        raise
    found = {_ref_key(m['reference']): m for m in listed}
    points, missing = {}, []
    for volume_id in volumes:
        ref = replica_ref(storage, definition, volume_id)
        if _ref_key(ref) in found:
            points[volume_id] = (found[_ref_key(ref)].get('extra_info') or
                                 {}).get('replicated_at')
        elif any(not v['status'].startswith('error') for v in
                 cinder.find_volumes(promoted_name(volume_id))):
            points[volume_id] = None
        else:
            missing.append('volume %s of group %s has no replica at site %s '
                           'yet (nothing at %s on %s): the storage has not '
                           'replicated it' % (
                               volume_id, definition['group'],
                               cinder.site.name, ref,
                               storage['manage_host']))
    if missing:
        raise exceptions.InvalidGroup('; '.join(missing))
    return points


def _ref_key(reference):
    return tuple(sorted((reference or {}).items()))


# A promoted volume a failed activation left so: the server create that
# reserved it failed, and nothing will finish or undo the attachment.
STALE_STATUSES = ('reserved', 'attaching')


def release_stale_attachments(cinder, compute, volume_id):
    """Delete the volume's attachments in progress whose server is gone
    or in ERROR (no other run acts on the group: one run holds it).
    Returns the attachment ids deleted."""
    attachments = [a for a in cinder.attachments(volume_id)
                   if a.get('status') in STALE_STATUSES]
    live = {s['id']: s for s in compute.servers(
        {a.get('instance') for a in attachments})}
    stale = [a['id'] for a in attachments
             if live.get(a.get('instance'), {}).get('status', 'ERROR') ==
             'ERROR']
    for attachment_id in stale:
        cinder.delete_attachment(attachment_id)
    return stale


def _live_promoted(cinder, name):
    """The promoted volume an earlier run made, or None.  One that went
    to error (a promotion that failed - the replica was missing, the API
    died mid-way) is deleted, so that this run promotes again."""
    live = None
    for found in cinder.find_volumes(name):
        if found['status'] in ('deleting', 'error_deleting'):
            continue
        if found['status'].startswith('error'):
            cinder.delete_volume(found['id'])
            continue
        live = live or found
    return live


def _restore_backup(cinder, volume, backup, name):
    if not backup:
        raise exceptions.NotFound(
            'volume %s: no backup of it is known at site %s'
            % (volume['volume_id'], cinder.site.name))
    volume_id = cinder.restore_backup_as(backup['backup_id'], name)
    return {'volume_id': volume['volume_id'], 'dr_volume_id': volume_id,
            'method': 'backup', 'status': 'restoring-backup',
            'data_timestamp': backup.get('data_timestamp')}


# ----------------------------------------------------------- activation

def activate(api, definition, capture, promoted, serve_first=False,
             compute=None, held_elsewhere=None):
    """Bring the recovery stack to ``active`` on the promoted data and
    mark it as serving the failed-over group.  With ``compute``, servers
    of the stack in ERROR (an earlier attempt failed), and servers
    whose boot volume the promoted one replaces, are deleted first
    (action ``healing`` until they are gone: call again) and recreated
    by the update (:func:`heal_servers`): a run starts from a clean
    stack, and never needs room for a server twice.

    :param promoted: ``{primary volume id: DR-site volume id}``.
    :param serve_first: when the stack is a hot standby that the active
        level would not change (see :func:`serves_as_hot`), change
        nothing and say so (action ``in_service``): the caller checks the
        group's health first, then calls again without ``serve_first``
        to mark the stack (a Heat update that visits every resource of
        the stack, so its time grows with the group's size).
    :returns: ``{stack_id, action, healed, healing}``; action is UPDATE,
        CREATE, in_service, unchanged (a re-run finding the stack already
        active on the same data) or healing (``healing`` true: servers in
        ERROR are being deleted, call again); ``healed`` the servers
        recreated (or being deleted).
    """
    model, template = sync.recovery_template(definition, capture, api.site,
                                             held_elsewhere)
    parameters = {standby.LEVEL_PARAMETER: standby.ACTIVE}
    parameters.update(sync.shared_parameters(api, model))
    for volume_id, parameter in render.promoted_parameters(model).items():
        if volume_id not in promoted:
            raise exceptions.InvalidReplication(
                'volume %s of group %s was not promoted'
                % (volume_id, definition['group']))
        parameters[parameter] = promoted[volume_id]
    tags = sync.STANDBY_TAGS + (groups.stack_tag(definition['group']),
                                heat.FAILED_OVER_TAG)
    stack = sync.find_stack(api, definition['group'])
    if stack is None:
        stack_id = api.create_stack(groups.stack_name(definition['group']),
                                    template, parameters, tags=tags)
        return _activated(stack_id, 'CREATE')
    swapped = swapped_servers(model, stack, parameters)
    healed, deleting = (heal_servers(api, compute, stack['id'], swapped)
                        if compute else ([], []))
    if deleting:
        return _activated(stack['id'], HEALING, deleting)
    current = stack.get('parameters') or {}
    if (not healed and sync.is_failed_over(stack) and
            stack['stack_status'] in ('UPDATE_COMPLETE', 'CREATE_COMPLETE')
            and all(current.get(k) == v for k, v in parameters.items())):
        return _activated(stack['id'], 'unchanged')
    if not healed and serve_first and serves_as_hot(api, stack, template,
                                                    parameters):
        return _activated(stack['id'], IN_SERVICE)
    api.update_stack(stack['id'], template=template, parameters=parameters,
                     tags=tags)
    return _activated(stack['id'], 'UPDATE', healed)


def _activated(stack_id, action, healed=()):
    return {'stack_id': stack_id, 'action': action, 'healed': list(healed),
            'healing': action == HEALING}


def swapped_servers(model, stack, parameters):
    """Names of the model's servers that ``parameters`` boot from another
    volume than ``stack`` does (a replicated boot volume swapped for its
    promoted copy): Heat would replace each create-before-delete, which
    needs a second host for a server of an anti-affinity group, or a DR
    site with room for both."""
    current = stack.get('parameters') or {}
    swapped = []
    for server in model['servers']:
        boot = server.get('boot_volume')
        if not (isinstance(boot, dict) and 'if' in boot):
            continue
        param = boot['if'][1].get('get_param')
        if param in parameters and (current.get(param) or '') != (
                parameters[param] or ''):
            swapped.append(server['name'])
    return sorted(swapped)


def heal_servers(api, compute, stack_id, replace=()):
    """Recreate the stack's servers in ERROR (a failed activation leaves
    them, and none comes back by itself) and those named in ``replace``
    (their boot volume is swapped: :func:`swapped_servers`).  Nova
    deletes each first - Heat would create the replacement before
    deleting it, needing room for both, and the replacement needs the
    same ports - then, once it is gone, the resource is marked unhealthy
    for the next update to create it again.

    :returns: (names marked for the update, names still being deleted).
    """
    resources = {r['physical_resource_id']: r for r in api.resources(stack_id)
                 if r['resource_type'] in SERVER_TYPES
                 and r['physical_resource_id']}
    found = {s['id']: s for s in compute.servers(set(resources))}
    deleting = []
    for server_id, server in found.items():
        name = resources[server_id]['resource_name']
        if server['status'] == 'ERROR' or (
                name in replace and server['status'] != 'DELETED'):
            compute.delete(server_id)
            deleting.append(name)
        elif server['status'] == 'DELETED':
            deleting.append(name)
    marked = []
    for server_id, resource in resources.items():
        if server_id in found:
            continue
        if not resource['resource_status'].startswith('CHECK_FAILED'):
            api.mark_unhealthy(
                stack_id, resource['resource_name'],
                'its boot volume is swapped for the promoted one: deleted, '
                'recreated by this update' if resource['resource_name'] in
                replace else 'server in ERROR after a failed activation: '
                'deleted, recreated by this update')
        marked.append(resource['resource_name'])
    return sorted(marked), sorted(deleting)


def serves_as_hot(api, stack, template, active_parameters):
    """True when the hot standby ``stack`` already serves as the active
    level would: that level changes no parameter but the level (no
    promoted volume), adds no resource (nothing under the ``serving``
    condition), and the stack settled, not failed over, on this very
    template at the hot level."""
    if set(active_parameters) != {standby.LEVEL_PARAMETER}:
        return False
    if standby.active_only_resources(template):
        return False
    return (not sync.is_failed_over(stack) and sync.is_current(
        api, stack, template, {standby.LEVEL_PARAMETER: standby.HOT}))


def health(api, compute, stack_id, members=None):
    """The recovery stack's servers and their status; healthy when every
    server is ACTIVE and every resource is complete.  Only ``members``
    (resource names) are judged when given.

    :raises StackFailed: a resource FAILED or a server is in ERROR: it
        will not heal by itself, so a wait for health ends at once,
        naming it and Nova's fault.
    """
    resources = [r for r in api.resources(stack_id)
                 if not members or r['resource_name'] in members]
    failed = ['%s is %s: %s' % (r['resource_name'], r['resource_status'],
                                r.get('resource_status_reason') or
                                'no reason given')
              for r in resources if r['resource_status'].endswith('_FAILED')]
    incomplete = sorted(r['resource_name'] for r in resources
                        if not r['resource_status'].endswith('_COMPLETE'))
    server_ids = {r['physical_resource_id']: r['resource_name']
                  for r in resources
                  if r['resource_type'] == 'OS::Nova::Server'
                  and r['physical_resource_id']}
    found = compute.servers(set(server_ids))
    failed += [server_error(s, server_ids[s['id']], api.site.name)
               for s in found if s['status'] == 'ERROR']
    if failed:
        raise exceptions.StackFailed('stack %s at site %s: %s' % (
            stack_id, api.site.name, '; '.join(sorted(failed))))
    servers = {server_ids[s['id']]: s['status'] for s in found}
    for name in server_ids.values():
        servers.setdefault(name, 'MISSING')
    return {'stack_id': stack_id, 'servers': servers,
            'incomplete': incomplete,
            'healthy': not incomplete and all(
                status == 'ACTIVE' for status in servers.values())}


def server_error(server, name, site_name):
    """What a server in ERROR says: its name, id and Nova's fault."""
    fault = (server.get('fault') or {}).get('message') or 'no fault given'
    return 'server %s (%s) at site %s is ERROR: %s' % (
        name, server['id'], site_name, fault)
