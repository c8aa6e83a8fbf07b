"""Thin helpers over Heat's REST API at a site (through keystoneauth)."""

from keystoneauth1 import exceptions as ks_exc

from rescuer import clients
from rescuer import exceptions

# Tag a recovery-site stack carries while it serves a failed-over group:
# deleting the protection side then never deletes the serving stack.
FAILED_OVER_TAG = 'rescuer-failed-over'


class HeatAPI:
    """Heat at one site, for one session."""

    def __init__(self, session, site):
        self.session = session
        self.site = site

    def _call(self, method, path, body=None, ok=(200, 201, 202, 204)):
        try:
            response = self.session.request(
                path, method, json=body, raise_exc=False,
                endpoint_filter={'service_type': 'orchestration',
                                 'interface': 'public',
                                 'region_name': self.site.region})
        except ks_exc.EndpointNotFound:
            raise exceptions.SiteUnreachable(
                'site %s has no orchestration endpoint in region %s'
                % (self.site.name, self.site.region))
        except clients.UNREACHABLE as exc:
            raise clients.unreachable(self.site, exc)
        except ks_exc.Unauthorized as exc:
            raise exceptions.SiteUnreachable(
                "site %s refused Rescuer's credentials: %s"
                % (self.site.name, clients.short_reason(exc)))
        if response.status_code == 404:
            raise exceptions.NotFound('%s %s: not found at site %s'
                                      % (method, path, self.site.name))
        if response.status_code not in ok:
            raise exceptions.RemoteError(self.site.name, method, path,
                                         response.status_code,
                                         _error_message(response))
        if 'json' not in response.headers.get('Content-Type', ''):
            return {}  # e.g. 202 Accepted on update, 204 on delete
        return response.json()

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

    def delete_stack(self, stack_id):
        self._call('DELETE', '/stacks/%s' % stack_id)

    def validate(self, template, parameters=None):
        return self._call('POST', '/validate', {
            'template': template, 'parameters': parameters or {}})


def _error_message(response):
    """The most specific message in a Heat error body."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    error = body.get('error') or {}
    return (error.get('message') or body.get('explanation') or
            body.get('title') or response.text)


def list_stacks(session, site):
    """Stacks visible to ``session`` at ``site``'s Heat: [{id, name, status}].

    :raises SiteUnreachable: when the site's Keystone or Heat does not answer.
    """
    return HeatAPI(session, site).list_stacks()
