"""Thin helpers over Heat's REST API at a site."""

from keystoneauth1 import exceptions as ks_exc

from rescuer import exceptions

_UNREACHABLE = (ks_exc.ConnectFailure, ks_exc.ConnectTimeout,
                ks_exc.DiscoveryFailure, ks_exc.ServiceUnavailable,
                ks_exc.BadGateway, ks_exc.GatewayTimeout)


def _short(exc):
    """The first clause of a keystoneauth error, without urllib3's story."""
    return str(exc).split(': HTTPConnectionPool')[0]


def list_stacks(session, site):
    """Stacks visible to ``session`` at ``site``'s Heat: [{id, name, status}].

    :raises SiteUnreachable: when the site's Keystone or Heat does not answer.
    """
    try:
        response = session.get('/stacks', endpoint_filter={
            'service_type': 'orchestration', 'interface': 'public',
            'region_name': site.region})
    except ks_exc.EndpointNotFound:
        raise exceptions.SiteUnreachable(
            'site %s has no orchestration endpoint in region %s'
            % (site.name, site.region))
    except _UNREACHABLE as exc:
        raise exceptions.SiteUnreachable(
            'site %s does not answer: %s' % (site.name, _short(exc)))
    except ks_exc.Unauthorized as exc:
        raise exceptions.SiteUnreachable(
            'site %s refused Rescuer\'s credentials: %s'
            % (site.name, _short(exc)))
    return [{'id': s['id'], 'name': s['stack_name'],
             'status': s['stack_status']}
            for s in response.json()['stacks']]
