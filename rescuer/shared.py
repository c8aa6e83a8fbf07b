"""Resources one group holds and others use: one recovered copy each.

A resource of the primary belongs to at most one protection group: the
group whose members hold it (a member resource, or a port of a member
server).  Members of other groups that use it - a port on its network, a
port in its security group, a flow classifier's or a port pair's port, a
server in its server group - use **the** copy the holder's recovery
stack creates at the DR site, never one of their own:

- every recovery template outputs ``dr_ids``: ``{primary id: DR-site
  id}`` of the networks, subnets, security groups, ports and server
  groups it creates (:data:`rescuer.render.SHAREABLE`);
- a group's render takes ``held_elsewhere`` (:func:`held_elsewhere`):
  what the other groups of the same primary site hold, by their latest
  captures at this DR site; what it uses of those becomes a template
  parameter (the model's ``shared``) instead of a resource;
- each time a recovery, drill or standby stack is created or updated,
  :func:`parameters` fills those parameters from the ``dr_ids`` of the
  holder's stack of the same kind (``rescuer-<group>`` for standby and
  failover, ``rescuer-drill-<group>`` for a drill).

The holder must be recovered no later than its users (its tier is the
same or earlier: ``stack create`` refuses otherwise) and creates what it
shares at every standby level, so its copy exists whenever a user's
stack is built.  Groups of other stacks of the same project (a shared
"service infrastructure" stack) work the same way: the map is per DR
site and primary site, not per stack.
"""

from rescuer import exceptions
from rescuer import heat

OUTPUT = 'dr_ids'
SERVER_TYPES = ('OS::Nova::Server',)


def held_ids(capture):
    """Primary ids the captured group holds: its members' physical ids
    and the ports of its member servers."""
    members = {r['physical_id'] for r in capture['resources']
               if r.get('physical_id')}
    servers = {r['physical_id'] for r in capture['resources']
               if r['type'] in SERVER_TYPES}
    return members | {p['id'] for p in capture['ports']
                      if p.get('device_id') in servers}


def held_elsewhere(store, definition, capture):
    """``{primary id: group}`` of what the other groups registered in
    ``store`` for the same primary site hold, by their latest good
    captures - less what ``capture`` (the group's own) holds.  A group
    without a good capture yet holds nothing here."""
    found = {}
    for group in store.groups():
        if group == definition['group']:
            continue
        try:
            other = store.definition(group)
            if other.get('primary_site') != definition['primary_site']:
                continue
            other_capture = store.latest(group)[0]
        except exceptions.RescuerError:
            continue
        for primary_id in held_ids(other_capture):
            found.setdefault(primary_id, group)
    for primary_id in held_ids(capture):
        found.pop(primary_id, None)
    return found


def dr_ids(api, stack_name):
    """The ``dr_ids`` output of the stack ``stack_name`` at ``api``'s
    site: ``{primary id: DR-site id}``; None if there is no such stack."""
    stack = heat.find_stack(api, stack_name)
    if stack is None:
        return None
    for output in stack.get('outputs') or []:
        if output.get('output_key') == OUTPUT:
            return output.get('output_value') or {}
    return {}


def parameters(api, model, stack_name_of, purpose='recovery'):
    """``{parameter: DR-site id}`` for the model's references to other
    groups' resources, read from the holders' stacks (``stack_name_of``
    gives a group's stack name: recovery or drill).  InvalidGroup naming
    each reference whose holder has no copy there yet."""
    values, problems, by_group = {}, [], {}
    for item in model.get('shared') or ():
        group = item['group']
        if group not in by_group:
            by_group[group] = dr_ids(api, stack_name_of(group))
        ids = by_group[group]
        value = (ids or {}).get(item['source_id'])
        if value:
            values[item['parameter']] = value
            continue
        problems.append(
            '%s %s (%s at the primary) is held by group %s, whose %s '
            'stack %s at site %s %s' % (
                item['kind'], item['label'], item['source_id'], group,
                purpose, stack_name_of(group), api.site.name,
                'does not exist' if ids is None else
                'has no copy of it'))
    if problems:
        raise exceptions.InvalidGroup(
            'group %s uses resources of other groups that are not '
            'recovered at site %s: %s. Recover (or drill) the holding '
            'group first: its tier must be the same or earlier'
            % (model.get('group'), api.site.name, '; '.join(problems)))
    return values


# Captured records another group's members may use, by capture kind.
USED_KINDS = ('networks', 'subnets', 'security_groups', 'ports',
              'server_groups')


def used_ids(capture):
    """Primary ids of what the captured group uses of the shareable
    kinds, its own included."""
    return {record['id'] for kind in USED_KINDS
            for record in capture.get(kind) or ()}


def uses(captures):
    """``{group: {groups whose resources it uses}}`` among ``captures``
    (``{group: capture}``)."""
    holder = {}
    for group, capture in sorted(captures.items()):
        for primary_id in held_ids(capture):
            holder.setdefault(primary_id, group)
    return {group: {holder[i] for i in used_ids(capture)
                    if holder.get(i) not in (None, group)}
            for group, capture in captures.items()}


def waves(groups, used):
    """``groups`` (one tier) in waves: a group comes after the groups of
    the tier whose resources it uses, so that their copies exist when its
    stack is built.  InvalidGroup when they use each other's."""
    left, ordered = set(groups), []
    while left:
        ready = sorted(g for g in left
                       if not (used.get(g, set()) & left) - {g})
        if not ready:
            raise exceptions.InvalidGroup(
                'groups %s use each other\'s resources: a resource is '
                'held by one group, and the groups using it come after '
                'it' % ', '.join(sorted(left)))
        ordered.append(ready)
        left -= set(ready)
    return ordered
