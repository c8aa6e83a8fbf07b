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
from rescuer import groups
from rescuer import heat

OUTPUT = 'dr_ids'
SERVER_TYPES = ('OS::Nova::Server',)


def member_ids(capture):
    """Primary ids of the captured group's members (its resources)."""
    return {r['physical_id'] for r in capture['resources']
            if r.get('physical_id')}


def implicit_ids(capture):
    """The ports of the captured group's member servers (those Nova made
    for it, or a port resource plugged into it): the group's unless
    another group's members name them."""
    servers = {r['physical_id'] for r in capture['resources']
               if r['type'] in SERVER_TYPES}
    return {p['id'] for p in capture['ports']
            if p.get('device_id') in servers}


def held_ids(capture):
    """Primary ids the captured group holds, alone: its members and the
    ports of its member servers."""
    return member_ids(capture) | implicit_ids(capture)


def _others(store, definition):
    """``{group: latest good capture}`` of the other groups registered
    in ``store`` for the same primary site; a group without a good
    capture yet holds nothing."""
    found = {}
    for group in store.groups():
        if group == definition['group']:
            continue
        try:
            other = store.definition(group)
            if other.get('primary_site') != definition['primary_site']:
                continue
            found[group] = store.latest(group)[0]
        except exceptions.RescuerError:
            continue
    return found


def holders(captures, refuse=None):
    """``{primary id: group}`` of ``captures`` (``{group: capture}``): a
    group's members first, then its servers' ports that no group's
    members name.  InvalidGroup when two groups' members name one
    resource (groups of different stacks: Heat's validation sees one
    stack only) - of ``refuse`` only, when given (the ids a group uses:
    a mistake elsewhere does not stop it)."""
    held, twice = {}, {}
    for group, capture in sorted(captures.items()):
        for primary_id in member_ids(capture):
            if primary_id in held:
                twice.setdefault(primary_id, {held[primary_id]}).add(group)
            held.setdefault(primary_id, group)
    if refuse is not None:
        twice = {i: g for i, g in twice.items() if i in refuse}
    if twice:
        raise exceptions.InvalidGroup('; '.join(
            'resource %s (primary id) is a member of groups %s: a '
            'resource belongs to at most one group' % (
                primary_id, ' and '.join(sorted(groups)))
            for primary_id, groups in sorted(twice.items())))
    for group, capture in sorted(captures.items()):
        for primary_id in implicit_ids(capture):
            held.setdefault(primary_id, group)
    return held


def held_elsewhere(store, definition, capture):
    """``{primary id: group}`` of what the other groups registered in
    ``store`` for the same primary site hold (:func:`holders`), by their
    latest good captures - less what ``capture`` (the group's own)
    holds."""
    captures = _others(store, definition)
    captures[definition['group']] = capture
    return {primary_id: group for primary_id, group in
            holders(captures, refuse=used_ids(capture) |
                    member_ids(capture)).items()
            if group != definition['group']}


def users(store, definition, capture):
    """``{group: [primary ids]}``: the other groups of the same primary
    that use what ``capture`` (the group's own) holds."""
    own = held_ids(capture)
    found = {}
    for group, other in sorted(_others(store, definition).items()):
        used = sorted((used_ids(other) - held_ids(other)) & own)
        if used:
            found[group] = used
    return found


def dr_ids(api, stack_name, tags):
    """The ``dr_ids`` output of the stack ``stack_name`` at ``api``'s
    site: ``{primary id: DR-site id}``; None if there is no such stack
    made by Rescuer (one carrying every one of ``tags``: a stack a user
    made by that name is not read)."""
    stack = heat.find_stack(api, stack_name)
    if stack is None or not set(tags) <= set(stack.get('tags') or ()):
        return None
    for output in stack.get('outputs') or []:
        if output.get('output_key') == OUTPUT:
            return _checked_ids(output.get('output_value'), stack_name,
                                api.site.name)
    return {}


def _checked_ids(value, stack_name, site_name):
    """A ``dr_ids`` output as Rescuer writes it: primary ids to the
    ids of what the stack created (a string each)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and (v is None or isinstance(v, str))
            for k, v in value.items()):
        raise exceptions.InvalidGroup(
            'stack %s at site %s has a %s output that is not a map of '
            'ids: it is not a recovery stack as Rescuer renders it'
            % (stack_name, site_name, OUTPUT))
    return value


# The tag of each kind of stack a holder's copies are read from.
KIND_TAGS = {'recovery': 'rescuer-standby', 'drill': 'rescuer-drill'}


def parameters(api, model, stack_name_of, purpose='recovery'):
    """``{parameter: DR-site id}`` for the model's references to other
    groups' resources, read from the holders' stacks (``stack_name_of``
    gives a group's stack name: ``purpose`` recovery or drill), only
    from stacks Rescuer made for the holder (tagged so).  InvalidGroup
    naming each reference whose holder has no copy there yet."""
    values, problems, by_group = {}, [], {}
    for item in model.get('shared') or ():
        group = item['group']
        if group not in by_group:
            by_group[group] = dr_ids(api, stack_name_of(group), (
                KIND_TAGS[purpose], groups.stack_tag(group)))
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
    holder = holders(captures, refuse=set())
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
