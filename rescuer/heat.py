"""Thin helpers over Heat's REST API at a site (through keystoneauth)."""

import datetime

from rescuer import exceptions
from rescuer import rest

# Tag a recovery-site stack carries while it serves a failed-over group:
# deleting the protection side then never deletes the serving stack.
FAILED_OVER_TAG = 'rescuer-failed-over'


class HeatAPI(rest.ServiceAPI):
    """Heat at one site, for one session."""

    service_type = 'orchestration'

    def list_stacks(self):
        stacks = self._call('GET', '/stacks')['stacks']
        return [{'id': s['id'], 'name': s['stack_name'],
                 'status': s['stack_status']} for s in stacks]

    def create_stack(self, name, template, parameters=None, tags=(),
                     timeout_mins=None):
        body = {'stack_name': name, 'template': template,
                'parameters': parameters or {}, 'disable_rollback': True,
                'tags': ','.join(tags)}
        if timeout_mins:
            body['timeout_mins'] = timeout_mins
        return self._call('POST', '/stacks', body)['stack']['id']

    def update_stack(self, stack_id, template=None, parameters=None,
                     tags=None, existing=True):
        """Update in place; with ``existing`` unspecified values are kept
        (PATCH), as ``openstack stack update --existing`` does."""
        body = {'parameters': parameters or {}, 'disable_rollback': True}
        if template is not None:
            body['template'] = template
        if tags is not None:
            body['tags'] = ','.join(tags)
        self._call('PATCH' if existing else 'PUT',
                   '/stacks/%s' % stack_id, body)

    def get_stack(self, stack_id):
        return self._call('GET', '/stacks/%s' % stack_id)['stack']

    def get_template(self, stack):
        """The template ``stack`` (as :meth:`get_stack` returns it) was
        last created or updated with, as Heat keeps it (parsed)."""
        return self._call('GET', '/stacks/%s/%s/template' % (
            stack['stack_name'], stack['id']))

    def engines(self):
        """Heat's engine services (an admin API): ``[{engine_id, host,
        status, created_at, updated_at}]``."""
        return self._call('GET', '/services')['services']

    def stack_state(self, stack_id, action=None, gone_is_done=False,
                    engines=None):
        """'COMPLETE' or 'IN_PROGRESS' for the stack's current (or the
        given) action; raise :class:`RemoteError` with Heat's reason when
        it FAILED.  A stack that is gone is COMPLETE for ``gone_is_done``
        (waiting for a delete).  With ``engines`` (a callable returning
        :meth:`engines`), an operation no engine is left to finish raises
        :class:`StackFailed` (see :func:`orphaned`)."""
        try:
            stack = self.get_stack(stack_id)
        except exceptions.NotFound:
            if gone_is_done:
                return 'COMPLETE'
            raise
        current, status = split_status(stack['stack_status'])
        if stack['stack_status'] == 'DELETE_COMPLETE' and action != 'DELETE':
            # Heat still shows a deleted stack by id: it is gone.
            if gone_is_done:
                return 'COMPLETE'
            raise exceptions.StackFailed('stack %s at site %s was deleted'
                                         % (stack_id, self.site.name))
        if action and current != action:
            return 'IN_PROGRESS'
        if status == 'FAILED':
            raise exceptions.StackFailed(
                'stack %s at site %s is %s: %s' % (
                    stack['stack_name'], self.site.name,
                    stack['stack_status'],
                    stack.get('stack_status_reason') or 'no reason given'))
        if status == 'IN_PROGRESS' and engines is not None:
            why = orphaned(stack, engines())
            if why:
                raise exceptions.StackFailed(
                    'stack %s at site %s is %s, but %s: it will not finish; '
                    'run the workflow again (it sends the operation again)'
                    % (stack['stack_name'], self.site.name,
                       stack['stack_status'], why))
        return status

    def resources(self, stack_id):
        """The stack's resources (top level)."""
        stack = self.get_stack(stack_id)
        return self._call('GET', '/stacks/%s/%s/resources' % (
            stack['stack_name'], stack['id']))['resources']

    def mark_unhealthy(self, stack_id, resource_name, reason):
        """Have the next update replace the resource (as ``openstack
        stack resource mark unhealthy`` does)."""
        stack = self.get_stack(stack_id)
        self._call('PATCH', '/stacks/%s/%s/resources/%s' % (
            stack['stack_name'], stack['id'], resource_name),
            {'mark_unhealthy': True, 'resource_status_reason': reason})

    def delete_stack(self, stack_id):
        self._call('DELETE', '/stacks/%s' % stack_id)

    def validate(self, template, parameters=None):
        return self._call('POST', '/validate', {
            'template': template, 'parameters': parameters or {}})


def find_stack(api, name_or_id):
    """The stack at ``api``'s site, or None when there is none."""
    try:
        return api.get_stack(name_or_id)
    except exceptions.NotFound:
        return None


def physical_ids(resources, types, members=None):
    """Physical ids of the ``resources`` of ``types`` (only those named in
    ``members``, when given), sorted."""
    return sorted(r['physical_resource_id'] for r in resources
                  if r['resource_type'] in types and
                  r['physical_resource_id'] and
                  (not members or r['resource_name'] in members))


def list_stacks(session, site):
    """Stacks visible to ``session`` at ``site``'s Heat: [{id, name, status}].

    :raises SiteUnreachable: when the site's Keystone or Heat does not answer.
    """
    return HeatAPI(session, site).list_stacks()


def split_status(stack_status):
    """(action, status) of Heat's ``<ACTION>_<STATUS>``: UPDATE_IN_PROGRESS
    is (UPDATE, IN_PROGRESS), not (UPDATE_IN, PROGRESS)."""
    if stack_status.endswith('_IN_PROGRESS'):
        return stack_status[:-len('_IN_PROGRESS')], 'IN_PROGRESS'
    current, _, status = stack_status.rpartition('_')
    return current, status


def orphaned(stack, engines):
    """Why no heat-engine will finish the stack's operation in progress,
    or None.  Heat's convergence engine does not take over the work of
    an engine that died (SIGKILL, a crash): the stack stays IN_PROGRESS
    for ever.  So: an engine stopped reporting after the operation began,
    or every engine running now started after it began.

    :param engines: Heat's engine services (:meth:`HeatAPI.engines`).
    """
    began = _time(stack.get('updated_time') or stack['creation_time'])
    for engine in engines:
        if engine['status'] != 'up' and _time(
                engine['updated_at'] or engine['created_at']) >= began:
            return ('heat-engine %s on %s stopped reporting at %s, during '
                    'it' % (engine['engine_id'], engine['host'],
                            engine['updated_at']))
    running = [e for e in engines if e['status'] == 'up']
    if running and all(_time(e['created_at']) > began for e in running):
        return ('every heat-engine running now started after it began '
                '(the one running it went down)')
    return None


def _time(text):
    value = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value
