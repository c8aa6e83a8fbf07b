"""One OpenStack service's REST API at a site, through keystoneauth.

Errors come back as Rescuer's: the site does not answer
(:class:`SiteUnreachable`), the object is gone (:class:`NotFound`), or the
API refused the request with its own message (:class:`RemoteError`).
"""

from keystoneauth1 import exceptions as ks_exc

from rescuer import clients
from rescuer import exceptions


class ServiceAPI:
    """A service (by catalog type) at one site, for one session."""

    service_type = None

    def __init__(self, session, site):
        self.session = session
        self.site = site

    def _call(self, method, path, body=None, ok=(200, 201, 202, 204),
              headers=None):
        try:
            response = self.session.request(
                path, method, json=body, raise_exc=False, headers=headers,
                endpoint_filter={'service_type': self.service_type,
                                 'interface': 'public',
                                 'region_name': self.site.region})
        except ks_exc.EndpointNotFound:
            raise exceptions.SiteUnreachable(
                'site %s has no %s endpoint in region %s'
                % (self.site.name, self.service_type, self.site.region))
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
                                         error_message(response))
        if not response.content or 'json' not in response.headers.get(
                'Content-Type', ''):
            return {}  # e.g. 202 Accepted on update or action, 204
        return response.json()

    def _delete(self, path, headers=None):
        """DELETE ``path``; True if it existed (one that is gone is
        fine)."""
        try:
            self._call('DELETE', path, headers=headers)
        except exceptions.NotFound:
            return False
        return True


def error_message(response):
    """The most specific message in an OpenStack error body."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    error = body.get('error') or {}
    if isinstance(error, str):
        return error
    return (error.get('message') or body.get('faultstring') or
            body.get('explanation') or body.get('title') or response.text)
