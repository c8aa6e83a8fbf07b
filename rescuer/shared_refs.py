"""Resources shared between the protection groups of one stack.

A resource of the primary belongs to at most one group; the members of
other groups that use it (``get_resource``, ``get_attr``, ``depends_on``)
reference the one copy its group recovers at the DR site.  A group that
uses another group's resource therefore needs that group recovered first:
in the same or an earlier tier, never in a cycle of groups, and
registered before it in the primary's stack.

Plain functions over plain data, shared by the Heat plugin (validation at
``stack create --dry-run`` and the stack's dependency graph):

- ``groups``: ``{group: Group(tier, members)}``, the members as the
  template names them; no members: the whole stack.
- ``resources``: ``{name: Resource(type, uses, network_names)}`` for every
  resource of the stack but the protection groups: ``uses`` names the
  resources of the stack it references, ``network_names`` the names a
  ``mappings.networks`` key may give it besides its resource name (a
  network: its ``name`` property; a subnet: its ``network`` property).

A resource one group holds is that group's; a reference to a mapped
network (one a key of the user's ``mappings.networks`` names) that no
group holds is to an existing network of the DR site.
"""

import collections

# The resource types Rescuer recovers that a member may reference: of
# these, only SHAREABLE_TYPES may be another group's (one DR-site copy,
# rescuer.shared); a member using one of the others of another group is
# refused (they are recovered with the group that uses them).
SHARED_TYPES = (
    'OS::Neutron::Net', 'OS::Neutron::Subnet', 'OS::Neutron::SecurityGroup',
    'OS::Neutron::Port', 'OS::Nova::ServerGroup', 'OS::Neutron::PortPair',
    'OS::Neutron::PortPairGroup', 'OS::Neutron::FlowClassifier',
    'OS::Neutron::Router', 'OS::Cinder::Volume',
    'OS::Rescuer::ReplicatedVolume', 'OS::Nova::Server',
)

SHAREABLE_TYPES = (
    'OS::Neutron::Net', 'OS::Neutron::Subnet', 'OS::Neutron::SecurityGroup',
    'OS::Neutron::Port', 'OS::Nova::ServerGroup',
)

NET, SUBNET = 'OS::Neutron::Net', 'OS::Neutron::Subnet'

Group = collections.namedtuple('Group', 'tier members')
Resource = collections.namedtuple('Resource', 'type uses network_names')
# A member of ``group`` uses ``resource``, of group ``owner`` (None: no
# group holds it).
Use = collections.namedtuple('Use', 'group member resource owner')


def members_of(group, groups, resources):
    """The resources ``group`` holds: its members, or the whole stack."""
    names = groups[group].members
    if not names:
        return set(resources)
    return {name for name in names if name in resources}


def holders(groups, resources):
    """``{resource: [groups that hold it]}``, the groups sorted."""
    held = collections.defaultdict(list)
    for group in sorted(groups):
        for name in members_of(group, groups, resources):
            held[name].append(group)
    return dict(held)


def owners(groups, resources):
    """``{resource: group}`` for each resource exactly one group holds."""
    return {name: found[0]
            for name, found in holders(groups, resources).items()
            if len(found) == 1}


def uses(group, groups, resources, held=None):
    """What the members of ``group`` use of the others: a :class:`Use`
    for each shared-type resource a member references that is not the
    group's own.  A resource two groups hold is left out (its holders
    refuse it)."""
    held = holders(groups, resources) if held is None else held
    found = []
    for member in sorted(members_of(group, groups, resources)):
        for name in sorted(set(resources[member].uses)):
            used = resources.get(name)
            if used is None or used.type not in SHARED_TYPES:
                continue
            owner = held.get(name, [None])
            if len(owner) > 1 or owner[0] == group:
                continue
            found.append(Use(group, member, name, owner[0]))
    return found


def owner_groups(group, groups, resources):
    """The other groups whose resources ``group`` uses, sorted: those
    that must be recovered (and registered) before it."""
    return sorted({use.owner for use in uses(group, groups, resources)
                   if use.owner is not None})


def mapping_names(name, resources):
    """The names under which ``mappings.networks`` maps network or
    subnet ``name`` to a DR-site network (a subnet: its network's)."""
    resource = resources[name]
    if resource.type == NET:
        # Its name in Neutron, as the DR site's render matches it (a
        # network without a name property has one Heat makes up).
        return set(resource.network_names)
    if resource.type != SUBNET:
        return set()
    names = set(resource.network_names)
    for used in resource.uses:
        if used in resources and resources[used].type == NET:
            names |= mapping_names(used, resources)
    return names


def is_mapped(name, resources, networks):
    """True when ``networks`` (the keys of ``mappings.networks``) maps
    resource ``name`` to an existing network of the DR site."""
    return bool(mapping_names(name, resources) & set(networks))


def _group_edges(groups, resources):
    """``{group: {owner: first Use of the owner's}}``: who uses whom."""
    held = holders(groups, resources)
    edges = {}
    for group in sorted(groups):
        edges[group] = {}
        for use in uses(group, groups, resources, held):
            if use.owner is not None:
                edges[group].setdefault(use.owner, use)
    return edges


def cycle(group, groups, resources):
    """The shortest cycle of groups through ``group``, as the uses that
    link them (the first from ``group``); empty when there is none."""
    edges = _group_edges(groups, resources)
    paths = {group: []}
    queue = collections.deque([group])
    while queue:
        current = queue.popleft()
        for owner, use in sorted(edges.get(current, {}).items()):
            if owner == group:
                return paths[current] + [use]
            if owner not in paths:
                paths[owner] = paths[current] + [use]
                queue.append(owner)
    return []


def _listing(names):
    names = list(names)
    if len(names) == 1:
        return names[0]
    return '%s and %s' % (', '.join(names[:-1]), names[-1])


def doubly_held_problems(group, groups, resources):
    """A resource ``group`` holds with another group."""
    return ['resource %s is a member of groups %s: a resource belongs to '
            'at most one group' % (name, _listing(found))
            for name, found in sorted(holders(groups, resources).items())
            if len(found) > 1 and group in found]


def unheld_problems(group, groups, resources, networks=()):
    """A resource a member of ``group`` uses that no group holds and
    ``networks`` does not map - in a stack of several groups (a stack's
    only group recovers what its members use with them, as it always
    did)."""
    problems = []
    if len(groups) < 2:
        return problems
    for use in uses(group, groups, resources):
        if use.owner is not None or is_mapped(use.resource, resources,
                                              networks):
            continue
        kind = resources[use.resource].type
        hint = ''
        if kind == NET:
            hint = ', or map it with mappings.networks'
        elif kind == SUBNET:
            hint = ', or map its network with mappings.networks'
        problems.append(
            'member %s of this group uses %s (%s), which no protection '
            'group of the stack holds: add it to a group\'s members%s'
            % (use.member, use.resource, kind, hint))
    return problems


def unshareable_problems(group, groups, resources):
    """A resource a member of ``group`` uses of another group that is not
    of a kind groups share (a port pair, a volume, a server...)."""
    return ['member %s of this group uses %s (%s) of group %s: groups '
            'share only networks, subnets, security groups, ports and '
            'server groups; put %s and %s in one group'
            % (use.member, use.resource, resources[use.resource].type,
               use.owner, use.member, use.resource)
            for use in uses(group, groups, resources)
            if use.owner is not None and
            resources[use.resource].type not in SHAREABLE_TYPES]


def tier_problems(group, groups, resources):
    """A resource a member of ``group`` uses of a group of a later
    tier."""
    tier = groups[group].tier
    return ['member %s of this group (tier %s) uses %s of group %s (tier '
            '%s): a shared resource\'s group must be in the same or an '
            'earlier tier' % (use.member, tier, use.resource, use.owner,
                              groups[use.owner].tier)
            for use in uses(group, groups, resources)
            if use.owner is not None and groups[use.owner].tier > tier]


def cycle_problems(group, groups, resources):
    """A cycle of groups, each using a resource of the next, through
    ``group``."""
    links = cycle(group, groups, resources)
    if not links:
        return []
    return ['groups %s use each other\'s resources in a cycle (%s): a '
            'group must not use, even through other groups, a resource of '
            'a group that uses one of its own'
            % (_listing([link.group for link in links]),
               '; '.join('member %s of %s uses %s of %s'
                         % (link.member, link.group, link.resource,
                            link.owner) for link in links))]


def problems(group, groups, resources, networks=()):
    """Everything wrong with what ``group`` shares with the other groups
    of its stack, as messages; an empty list means the rules hold.
    ``networks`` are the keys of the group's ``mappings.networks``."""
    return (doubly_held_problems(group, groups, resources) +
            unheld_problems(group, groups, resources, networks) +
            unshareable_problems(group, groups, resources) +
            tier_problems(group, groups, resources) +
            cycle_problems(group, groups, resources))
