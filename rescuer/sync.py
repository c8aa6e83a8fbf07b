"""Keep a group's recovery-site stack in step with its latest capture.

Run at the DR site (by the sync workflow's actions): render the latest
good capture with the DR site's mappings and the group's overrides, then
create or update the recovery stack ``rescuer-<group>`` at the group's
standby level.  A stack that serves a failed-over group is never touched,
and one that already holds what a sync renders is not updated again: most
syncs find nothing changed, and a Heat update of an unchanged stack still
walks every resource (and, on Heat 27, takes one more of the stack's
1000 engine threads for good).
"""

import json

import yaml

from rescuer import exceptions
from rescuer import groups
from rescuer import heat
from rescuer import protection
from rescuer import render
from rescuer import shared

STANDBY_TAGS = ('rescuer', 'rescuer-standby')
# What a recovery template says of the capture it was rendered from, and
# nothing else: two renders that differ only here build the same stack.
CAPTURE_OUTPUTS = ('capture_id', 'captured_at')
SETTLED_STATUSES = ('CREATE_COMPLETE', 'UPDATE_COMPLETE')


def _render_args(definition, site, held_elsewhere=None):
    overrides = definition.get('mappings') or {}
    return dict(mappings=protection.merged_mappings(site, overrides),
                ip_policy=overrides.get('ip_policy') or 'keep',
                site_name=site.name, held_elsewhere=held_elsewhere)


def render_for(definition, capture, site, held_elsewhere=None):
    """Recovery-site HOT for ``definition`` from ``capture`` at ``site``
    (``held_elsewhere``: see :func:`rescuer.shared.held_elsewhere`)."""
    return render.render(capture, **_render_args(definition, site,
                                                 held_elsewhere))


def model_for(definition, capture, site, held_elsewhere=None):
    """The render model (plain data) behind :func:`render_for`."""
    return render.model(capture, **_render_args(definition, site,
                                                held_elsewhere))


def recovery_template(definition, capture, site, held_elsewhere=None):
    """(model, HOT text): both, from one model."""
    data = model_for(definition, capture, site, held_elsewhere)
    return data, render.render_model(data)


def shared_parameters(api, model):
    """The model's references to other groups' resources, filled from
    their recovery stacks (:func:`rescuer.shared.parameters`)."""
    return shared.parameters(api, model, groups.stack_name)


def find_stack(api, group):
    """The group's recovery stack at ``api``'s site, or None."""
    return heat.find_stack(api, groups.stack_name(group))


def recovery_stack(api, group):
    """The group's recovery stack at ``api``'s site; NotFound if none."""
    stack = find_stack(api, group)
    if stack is None:
        raise exceptions.NotFound('group %s has no recovery stack at site '
                                  '%s' % (group, api.site.name))
    return stack


def is_failed_over(stack):
    return heat.FAILED_OVER_TAG in (stack.get('tags') or [])


def _without_capture_marks(template):
    """``template`` (HOT text or parsed) as JSON text, minus its
    description and the outputs naming its capture."""
    if isinstance(template, str):
        template = yaml.safe_load(template)
    template = dict(template, description=None)
    template['outputs'] = {
        key: value for key, value in (template.get('outputs') or {}).items()
        if key not in CAPTURE_OUTPUTS}
    # default=str: YAML reads heat_template_version as a date, Heat keeps
    # it as the string it was written as.
    return json.dumps(template, sort_keys=True, default=str)


def is_current(api, stack, template, parameters):
    """True when ``stack`` settled on ``template`` and ``parameters``
    (up to the capture it names), so updating it would change nothing."""
    if stack['stack_status'] not in SETTLED_STATUSES:
        return False
    held = stack.get('parameters') or {}
    if any(held.get(key) != value for key, value in parameters.items()):
        return False
    return (_without_capture_marks(api.get_template(stack)) ==
            _without_capture_marks(template))


def apply_standby(api, definition, capture, held_elsewhere=None):
    """Create or update the recovery stack; returns
    ``{stack_id, action}`` with action CREATE, UPDATE or skipped (with a
    reason: the stack serves a failed-over group, a change is still
    running, or it already matches the capture)."""
    stack = find_stack(api, definition['group'])
    if stack is not None and is_failed_over(stack):
        return {'stack_id': stack['id'], 'action': 'skipped',
                'reason': 'the stack serves the failed-over group'}
    model, template = recovery_template(definition, capture, api.site,
                                        held_elsewhere)
    parameters = {'standby_level': groups.standby_level(definition)}
    parameters.update(shared_parameters(api, model))
    if stack is None:
        stack_id = api.create_stack(
            groups.stack_name(definition['group']), template, parameters,
            tags=STANDBY_TAGS + (groups.stack_tag(definition['group']),))
        return {'stack_id': stack_id, 'action': 'CREATE'}
    if stack['stack_status'].endswith('_IN_PROGRESS'):
        return {'stack_id': stack['id'], 'action': 'skipped',
                'reason': 'the stack is %s' % stack['stack_status']}
    if is_current(api, stack, template, parameters):
        return {'stack_id': stack['id'], 'action': 'skipped',
                'reason': 'the stack already matches the capture'}
    api.update_stack(stack['id'], template=template, parameters=parameters)
    return {'stack_id': stack['id'], 'action': 'UPDATE'}


def remove_standby(api, group):
    """Delete the group's recovery stack unless it serves the failed-over
    group; returns ``{stack_id, deleting, failed_over}``."""
    stack = find_stack(api, group)
    if stack is None:
        return {'stack_id': None, 'deleting': False, 'failed_over': False}
    if is_failed_over(stack):
        return {'stack_id': stack['id'], 'deleting': False,
                'failed_over': True}
    api.delete_stack(stack['id'])
    return {'stack_id': stack['id'], 'deleting': True, 'failed_over': False}
