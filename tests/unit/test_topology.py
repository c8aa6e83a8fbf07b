"""The recovered topology compared with the capture (rescuer.topology):
the tier-2 group of tests/unit/test_shared.py's network service, whose
ports sit on tier 1's network and whose chain starts at tier 1's port."""

import copy

import pytest

from rescuer import exceptions
from rescuer import render
from rescuer import topology
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
              'dr-fw', 'security_groups': [],
              'fixed_ips': [{'subnet_id': 'dr-subnet',
                             'ip_address': '10.60.0.21'}]},
             {'id': 'dr-fw_out', 'network_id': 'dr-net', 'device_id':
              'dr-fw', 'security_groups': [],
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

    def show(self, path):
        if path not in self.records:
            raise exceptions.NotFound(path)
        return self.records[path]


def test_a_recovery_as_captured_passes_and_says_what_it_compared():
    model = _model()
    found = topology.check(_neutron(model), model, *_stack(model))
    assert found == {'compared': {'ports': 2, 'chain_resources': 4},
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
], ids=['island-network', 'address', 'unbound', 'dangling-chain',
        'missing-chain'])
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
    assert found == {'compared': {'ports': 2, 'chain_resources': 0},
                     'differences': []}
    moved = copy.deepcopy(ports)
    moved[1]['fixed_ips'][0]['ip_address'] = '192.168.9.77'
    assert topology.check(_Network(moved, {}), model, resources,
                          parameters)['differences'] == [
        "port port_1: fixed IPs ['192.168.9.77'], expected "
        "['192.168.9.31']"]
