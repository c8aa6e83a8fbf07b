"""Thin helpers over Heat's REST API at a site."""

from keystoneauth1 import exceptions as ks_exc

from rescuer import exceptions


def list_stacks(session, region=None):
    """Stacks visible to ``session`` at one Heat: [{id, name, status}]."""
    try:
        response = session.get('/stacks', endpoint_filter={
            'service_type': 'orchestration', 'interface': 'public',
            'region_name': region})
    except ks_exc.EndpointNotFound:
        raise exceptions.SiteUnreachable(
            'no orchestration endpoint in region %s' % region)
    except (ks_exc.ConnectFailure, ks_exc.DiscoveryFailure,
            ks_exc.ConnectTimeout) as exc:
        raise exceptions.SiteUnreachable(str(exc))
    return [{'id': s['id'], 'name': s['stack_name'],
             'status': s['stack_status']}
            for s in response.json()['stacks']]
