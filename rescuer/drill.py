"""Non-disruptive DR drill: bring a group up at the DR site beside its
standby, on networks of its own, check it, and remove everything.

The drill stack ``rescuer-drill-<group>`` is rendered from the latest
capture exactly as failover renders it, at the ``hot`` level: every server,
volume and network is created, nothing is put in service (no floating IPs),
and its networks are new ones - isolated from the primary, from the
standby stack and from traffic.  The primary, its replication and the
standby stack are never touched, so replicated volumes come up empty: the
drill proves the recovery of the group's metadata, not of its data - and
its report says so, naming the volumes.
"""

from rescuer import exceptions
from rescuer import groups
from rescuer import heat
from rescuer import shared
from rescuer import standby
from rescuer import sync

DRILL_TAGS = ('rescuer', 'rescuer-drill')


def stack_name(group):
    return 'rescuer-drill-%s' % group


def find_drill(api, group):
    """The group's drill stack, or None; InvalidGroup for a stack of that
    name that Rescuer did not make as the group's drill (another group's
    recovery stack may bear it: group ``drill-x``'s is ``rescuer-drill-x``,
    the drill stack of group ``x``) - never adopted, checked or
    deleted."""
    stack = heat.find_stack(api, stack_name(group))
    if stack is None:
        return None
    tags = set(stack.get('tags') or ())
    if not {DRILL_TAGS[1], groups.stack_tag(group)} <= tags:
        raise exceptions.InvalidGroup(
            'stack %s at site %s is not the drill stack of group %s (not '
            'tagged as one): Rescuer neither uses nor deletes it; rename '
            'the group or remove that stack'
            % (stack['stack_name'], api.site.name, group))
    return stack


def chains_held_by_standby(definition, model):
    """The group's port chains, when its standby stack holds them (a hot
    or active standby): networking-sfc refuses a second chain with the
    same classifiers in a project, so the drill builds its classifiers,
    port pairs and groups but not the chains."""
    if groups.standby_level(definition) == standby.COLD:
        return []
    return sorted(c['name'] for c in model['port_chains'])


def start(api, definition, capture, held_elsewhere=None):
    """Create the drill stack (or find the one an earlier run made).
    What it uses of other groups is their drill stacks' copies: groups
    that share resources are drilled together, holders first."""
    stack = find_drill(api, definition['group'])
    if stack is not None:
        return {'stack_id': stack['id'], 'action': 'CREATE',
                'site': api.site.name}
    model, template = sync.recovery_template(definition, capture, api.site,
                                             held_elsewhere)
    parameters = {'standby_level': standby.HOT}
    if chains_held_by_standby(definition, model):
        parameters['port_chains'] = 'false'
    parameters.update(shared.parameters(api, model, stack_name,
                                        purpose='drill'))
    stack_id = api.create_stack(
        stack_name(definition['group']), template, parameters,
        tags=DRILL_TAGS + (groups.stack_tag(definition['group']),))
    return {'stack_id': stack_id, 'action': 'CREATE', 'site': api.site.name}


def finish(api, group):
    """Delete the drill stack; returns ``{stack_id, deleting}``."""
    stack = find_drill(api, group)
    if stack is None:
        return {'stack_id': None, 'deleting': False, 'site': api.site.name}
    api.delete_stack(stack['id'])
    return {'stack_id': stack['id'], 'deleting': True,
            'site': api.site.name}
