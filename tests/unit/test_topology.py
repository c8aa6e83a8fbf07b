"""The recovered topology compared with the capture (rescuer.topology):
the tier-2 group of tests/unit/test_shared.py's network service, whose
ports sit on tier 1's network and whose chain starts at tier 1's port."""

import copy

import pytest

from rescuer import exceptions
from rescuer import render
from rescuer import topology
from tests.unit import test_render
from tests.unit import test_shared

HELD = {'n-svc': 'ns-tier1', 's-svc': 'ns-tier1', 'sg-svc': 'ns-tier1',
        'p-a': 'ns-tier1', 'v-a': 'ns-tier1'}
# The holder's copies at the DR site.
COPIES = {'n-svc': 'dr-net', 's-svc': 'dr-subnet', 'p-a': 'dr-sip-port'}


def _model():
    return render.model(test_shared.tier2(), test_shared.MAPPINGS, 'keep',
                        'site-b', HELD)


def _stack(model, copies=None):
    """(resources, parameters) of the recovery stack: each resource's
    physical id is dr-<name>; the shared parameters hold the copies."""
    resources = [{'resource_name': name, 'physical_resource_id':
                  'dr-%s' % name} for name in render.expected(model)[0]]
    parameters = {s['parameter']: (copies or COPIES)[s['source_id']]
                  for s in model['shared']}
    return resources, parameters


def _neutron(model):
    """What Neutron holds when the recovery went right."""
    ports = [{'id': 'dr-fw_in', 'network_id': 'dr-net', 'device_id':
              'dr-fw', 'security_groups': [], 'port_security_enabled': False,
              'fixed_ips': [{'subnet_id': 'dr-subnet',
                             'ip_address': '10.60.0.21'}]},
             {'id': 'dr-fw_out', 'network_id': 'dr-net', 'device_id':
              'dr-fw', 'security_groups': [], 'port_security_enabled': False,
              'binding:vnic_type': 'direct',
              'fixed_ips': [{'subnet_id': 'dr-subnet',
                             'ip_address': '10.60.0.22'}]}]
    records = {
        '/v2.0/sfc/flow_classifiers/dr-sip_fc': {'flow_classifier': {
            'logical_source_port': 'dr-sip-port',
            'logical_destination_port': None}},
        '/v2.0/sfc/port_pairs/dr-fw_pair': {'port_pair': {
            'ingress': 'dr-fw_in', 'egress': 'dr-fw_out'}},
        '/v2.0/sfc/port_pair_groups/dr-fw_ppg': {'port_pair_group': {
            'port_pairs': ['dr-fw_pair']}},
        '/v2.0/sfc/port_chains/dr-chain': {'port_chain': {
            'port_pair_groups': ['dr-fw_ppg'],
            'flow_classifiers': ['dr-sip_fc']}}}
    return _Network(ports, records)


class _Network:
    def __init__(self, ports, records):
        self._ports, self.records = ports, records

    def ports(self, ids):
        return [p for p in self._ports if p['id'] in ids]

    def router_ports(self, router_id):
        return [p for p in self._ports if p['device_id'] == router_id]

    def show(self, path):
        if path not in self.records:
            raise exceptions.NotFound(path)
        return self.records[path]


def test_a_recovery_as_captured_passes_and_says_what_it_compared():
    model = _model()
    found = topology.check(_neutron(model), model, *_stack(model))
    assert found == {'compared': {'ports': 2, 'chain_resources': 4,
                                  'routers': 0, 'servers': 0},
                     'differences': []}


@pytest.mark.parametrize('break_it, difference', [
    # The islands bug: the tier's own copy of the shared network.
    (lambda n: n._ports[0].update(network_id='island-net'),
     'port fw_in: network island-net, expected dr-net'),
    (lambda n: n._ports[1].update(fixed_ips=[{
        'subnet_id': 'dr-subnet', 'ip_address': '10.60.0.99'}]),
     "port fw_out: fixed IPs ['10.60.0.99'], expected "
     "['10.60.0.22']"),
    (lambda n: n._ports[0].update(device_id=''),
     'port fw_in: bound to server None, expected dr-fw'),
    # A chain dangling from a port that is not the holder's copy.
    (lambda n: n.records['/v2.0/sfc/flow_classifiers/dr-sip_fc'][
        'flow_classifier'].update(logical_source_port='port-0'),
     'flow classifier sip_fc: logical_source_port port-0, expected '
     'dr-sip-port'),
    (lambda n: n.records.pop('/v2.0/sfc/port_chains/dr-chain'),
     'port chain chain: not at the DR site (dr-chain)'),
    # A firewall pair that drops what is not its own.
    (lambda n: n._ports[0].update(port_security_enabled=True),
     'port fw_in: port security True, expected False'),
    (lambda n: n._ports[1].update({'binding:vnic_type': 'normal'}),
     'port fw_out: VNIC type normal, expected direct'),
    (lambda n: n._ports[1].update(allowed_address_pairs=[{
        'ip_address': '10.60.0.100'}]),
     "port fw_out: allowed address pairs ['10.60.0.100'], expected []"),
], ids=['island-network', 'address', 'unbound', 'dangling-chain',
        'missing-chain', 'port-security', 'vnic-type', 'address-pairs'])
def test_each_difference_is_named(break_it, difference):
    model = _model()
    neutron = _neutron(model)
    break_it(neutron)
    found = topology.check(neutron, model, *_stack(model))
    assert found['differences'] == [difference]


def test_a_holder_copy_missing_from_the_parameters_is_a_difference():
    model = _model()
    resources, parameters = _stack(model)
    parameters = {k: '' for k in parameters}
    found = topology.check(_neutron(model), model, resources, parameters)
    assert 'port fw_in: network dr-net, expected None' in found[
        'differences']


def test_ports_on_a_mapped_network_are_compared_by_address():
    model = render.model(test_shared.tier3(), test_shared.MAPPINGS, 'keep',
                         'site-b', {'n-svc': 'ns-tier1', 's-svc': 'ns-tier1',
                                    'sg-svc': 'ns-tier1'})
    resources, parameters = _stack(model, {
        'n-svc': 'dr-net', 's-svc': 'dr-subnet', 'sg-svc': 'dr-sg'})
    ports = [{'id': 'dr-port_0', 'network_id': 'dr-net',
              'device_id': 'dr-db', 'security_groups': ['dr-sg'],
              'fixed_ips': [{'subnet_id': 'dr-subnet',
                             'ip_address': '10.60.0.31'}]},
             {'id': 'dr-port_1', 'network_id': 'the-sites-mgmt-net',
              'device_id': 'dr-db', 'security_groups': [],
              'fixed_ips': [{'subnet_id': 'any',
                             'ip_address': '192.168.9.31'}]}]
    found = topology.check(_Network(ports, {}), model, resources,
                           parameters)
    assert found == {'compared': {'ports': 2, 'chain_resources': 0,
                                  'routers': 0, 'servers': 0},
                     'differences': []}
    moved = copy.deepcopy(ports)
    moved[1]['fixed_ips'][0]['ip_address'] = '192.168.9.77'
    assert topology.check(_Network(moved, {}), model, resources,
                          parameters)['differences'] == [
        "port port_1: fixed IPs ['192.168.9.77'], expected "
        "['192.168.9.31']"]


class _Nova:
    def __init__(self, servers, groups):
        self._servers, self.groups = servers, groups

    def servers(self, ids=None):
        return [s for s in self._servers if ids is None or s['id'] in ids]

    def server_group(self, group_id):
        if group_id not in self.groups:
            raise exceptions.NotFound(group_id)
        return {'id': group_id, 'members': self.groups[group_id]}


def _attached(server_id, *volumes):
    return {'id': server_id, 'os-extended-volumes:volumes_attached': [
        {'id': v} for v in volumes]}


def test_server_groups_and_volume_attachments_are_compared():
    """The multi capture of test_render: servers in an anti-affinity
    group, a replicated data volume attached - its promoted copy once a
    failover promoted one, the stack's own before."""
    capture = test_render._capture('multi')
    model = render.model(capture, test_render.MULTI)
    resources = [{'resource_name': name, 'physical_resource_id':
                  'dr-%s' % name} for name in render.expected(model)[0]]
    grouped = {s['name']: s['server_group']['get_resource']
               for s in model['servers'] if s['server_group']}
    volumes = {}
    for attachment in model['attachments']:
        volumes.setdefault(attachment['server'], []).append(
            attachment['volume'])
    assert grouped and volumes
    promoted = {p: 'dr-promoted-%s' % p for p in
                render.promoted_parameters(model).values()}
    resolve = topology._Resolver(resources, promoted)

    def nova(**changes):
        servers = [_attached('dr-%s' % s['name'], *[
            resolve(v) for v in volumes.get(s['name'], [])] + (
                [resolve(s['boot_volume'])] if s['boot_volume'] else []))
            for s in model['servers']]
        groups = {}
        for server, group in grouped.items():
            groups.setdefault('dr-%s' % group, []).append('dr-%s' % server)
        nova = _Nova(servers, groups)
        for change in changes.values():
            change(nova)
        return nova

    ports = [{'id': 'dr-%s' % p['name'], 'network_id': resolve(p['network']),
              'device_id': None, 'security_groups': sorted(
                  resolve(p['security_groups'])),
              'fixed_ips': [{'subnet_id': resolve(ip['subnet']),
                             'ip_address': ip['ip_address']}
                            for ip in p['fixed_ips']]}
             for p in model['ports']]
    owner = {r['get_resource']: 'dr-%s' % s['name']
             for s in model['servers'] for r in s['ports']}
    for port in ports:
        port['device_id'] = owner.get(port['id'][3:])
    neutron = _Network(ports, {})
    found = topology.check(neutron, model, resources, promoted, nova())
    assert found['differences'] == []
    assert found['compared']['servers'] == len(model['servers'])
    # A server outside its anti-affinity group: the policy does not hold.
    server, group = sorted(grouped.items())[0]
    out = nova(drop=lambda n: n.groups['dr-%s' % group].remove(
        'dr-%s' % server))
    assert topology.check(neutron, model, resources, promoted, out)[
        'differences'] == ['server %s: not a member of server group dr-%s'
                           % (server, group)]
    # The data volume still the stack's own, not the promoted copy.
    attached_to = sorted(volumes)[0]
    stale = nova(stale=lambda n: next(
        s for s in n._servers if s['id'] == 'dr-%s' % attached_to).update(
            {'os-extended-volumes:volumes_attached': []}))
    [difference] = topology.check(neutron, model, resources, promoted,
                                  stale)['differences']
    assert difference.startswith('server %s: volume dr-promoted-'
                                 % attached_to)
    assert difference.endswith('not attached (attached: none)')


def test_a_router_needs_its_gateway_and_an_interface_on_each_subnet():
    model = render.model(test_shared.tier1(), test_shared.MAPPINGS, 'keep',
                         'site-b', {})
    resources, parameters = _stack(model)
    ports = [{'id': 'dr-sip_in', 'network_id': 'dr-svc_net',
              'device_id': 'dr-sip', 'security_groups': ['dr-svc_sg'],
              'allowed_address_pairs': [{'ip_address': '10.60.0.100'}],
              'fixed_ips': [{'subnet_id': 'dr-svc_subnet',
                             'ip_address': '10.60.0.11'}]},
             {'id': 'dr-if', 'network_id': 'dr-svc_net',
              'device_id': 'dr-svc_router', 'security_groups': [],
              'fixed_ips': [{'subnet_id': 'dr-svc_subnet',
                             'ip_address': '10.60.0.1'}]}]
    router = {'/v2.0/routers/dr-svc_router': {'router': {
        'external_gateway_info': {'network_id': 'ext'}}}}
    found = topology.check(_Network(ports, router), model, resources,
                           parameters)
    assert found['differences'] == []
    assert found['compared']['routers'] == 1
    # No interface on the service subnet: the service cannot get out.
    assert topology.check(_Network(ports[:1], router), model, resources,
                          parameters)['differences'] == [
        'router svc_router: no interface on subnet dr-svc_subnet '
        '(svc_router_if)']
    router['/v2.0/routers/dr-svc_router']['router'][
        'external_gateway_info'] = None
    assert topology.check(_Network(ports, router), model, resources,
                          parameters)['differences'] == [
        'router svc_router: external gateway False, expected True']
    # The VIP is gone from the proxy's port.
    ports[0]['allowed_address_pairs'] = []
    assert "port sip_in: allowed address pairs [], expected " \
        "['10.60.0.100']" in topology.check(
            _Network(ports, {}), model, resources, parameters)[
                'differences']
