"""A small NFV site - network, ports, servers from an image and from a
volume, an attached data volume, a service chain - at each lab site."""

import pytest

from tests.functional import base

TEMPLATE = str(base.REPO / 'examples' / 'vnf-site.yaml')


def _resources(site, stack):
    return {r['resource_name']: r for r in base.cli_json(
        site, 'stack', 'resource', 'list', stack)}


def _server(site, server_id):
    sess, endpoint = base.api(site, 'compute')
    return sess.get('/servers/%s' % server_id,
                    endpoint_filter=endpoint).json()['server']


def _chain(site, chain_id, ok=(200,)):
    sess, endpoint = base.api(site, 'network')
    response = sess.get('/v2.0/sfc/port_chains/%s' % chain_id,
                        endpoint_filter=endpoint, raise_exc=False)
    assert response.status_code in ok, response.text
    return response.json().get('port_chain') if response.ok else None


@pytest.mark.parametrize('site', base.SITES)
def test_vnf_site_creates_updates_and_deletes(site):
    name = base.unique('vnf')
    created = base.cli_json(site, 'stack', 'create', '--wait', '-t',
                            TEMPLATE, *base.service_port_parameter(), name)
    assert created['stack_status'] == 'CREATE_COMPLETE', created
    try:
        resources = _resources(site, name)
        assert {r['resource_status'] for r in resources.values()} == {
            'CREATE_COMPLETE'}
        function = _server(site, resources['function']['physical_resource_id'])
        client = _server(site, resources['client']['physical_resource_id'])
        assert (function['status'], client['status']) == ('ACTIVE', 'ACTIVE')
        assert client['image'] in ('', None)  # booted from its volume
        attached = {a['id'] for a in
                    client['os-extended-volumes:volumes_attached']}
        assert attached == {resources['boot_volume']['physical_resource_id'],
                            resources['data_volume']['physical_resource_id']}
        for volume in ('boot_volume', 'data_volume'):
            assert base.volume_call(site, 'GET', '/volumes/%s' % resources[
                volume]['physical_resource_id'])['volume']['status'] == \
                'in-use'
        # Binding details are for admins' eyes (Neutron policy).
        sess, endpoint = base.api(site + '-admin', 'network')
        port = sess.get('/v2.0/ports/%s' % resources['ingress_port'][
            'physical_resource_id'], endpoint_filter=endpoint).json()['port']
        assert port['status'] == 'ACTIVE'
        assert port['binding:host_id'] == site
        assert port['device_id'] == function['id']
        chain_id = resources['chain']['physical_resource_id']
        assert _chain(site, chain_id)['description'] == \
            'client via function (revision 1)'

        updated = base.cli_json(site, 'stack', 'update', '--wait',
                                '--existing', '--parameter', 'revision=2',
                                name)
        assert updated['stack_status'] == 'UPDATE_COMPLETE', updated
        # Updated in place: the same servers and chain, new values.
        assert _server(site, function['id'])['metadata']['revision'] == '2'
        assert _chain(site, chain_id)['description'] == \
            'client via function (revision 2)'
    finally:
        base.cli(site, 'stack', 'delete', '--yes', '--wait', name)

    assert base.cli(site, 'stack', 'show', name, check=False).returncode != 0
    sess, endpoint = base.api(site, 'compute')
    for server in (function, client):
        assert sess.get('/servers/%s' % server['id'], endpoint_filter=endpoint,
                        raise_exc=False).status_code == 404
    assert _chain(site, chain_id, ok=(404,)) is None
    for volume in ('boot_volume', 'data_volume'):
        volume_id = resources[volume]['physical_resource_id']
        base.wait_for(lambda: base.volume_call(
            site, 'GET', '/volumes/%s' % volume_id, ok=(200, 404)
        ).get('volume') is None, 60, what='volume %s deleted' % volume_id)
