"""Thin helpers over Heat's REST API at a site (through keystoneauth)."""

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

    def stack_state(self, stack_id, action=None, gone_is_done=False):
        """'COMPLETE' or 'IN_PROGRESS' for the stack's current (or the
        given) action; raise :class:`RemoteError` with Heat's reason when
        it FAILED.  A stack that is gone is COMPLETE for ``gone_is_done``
        (waiting for a delete)."""
        try:
            stack = self.get_stack(stack_id)
        except exceptions.NotFound:
            if gone_is_done:
                return 'COMPLETE'
            raise
        current, status = stack['stack_status'].rsplit('_', 1)
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
