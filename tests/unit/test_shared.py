"""One recovered copy of each shared resource (rescuer.shared): a network
service of three groups in three tiers - tier 1 holds the service
network, subnet and security group and its VNF's ports; tier 2's port
sits on that network in that group, and its chain's flow classifier
starts at a tier-1 port; tier 3 is a cold VNF on the same network.
Golden files under tests/unit/golden (ns-*.yaml; regenerate with
RESCUER_REGENERATE_GOLDEN=1 and review the diff)."""

import os

import jinja2
import pytest
import yaml

from rescuer import capture as capture_mod
from rescuer import exceptions
from rescuer import groups
from rescuer import render
from rescuer import shared
from rescuer import sites
from rescuer import store as store_mod
from tests.unit import test_render

MAPPINGS = {'images': {'lab-image': 'cirros-dr'},
            'flavors': {'m1.tiny': 'dr.tiny'},
            'networks': {'public': 'ext-net', 'provider-mgmt': 'dr-mgmt'}}
EMPTY = ('flavors', 'images', 'floating_ips', 'server_groups', 'volumes',
         'port_pairs', 'port_pair_groups', 'flow_classifiers', 'port_chains')


def _resource(name, rtype, physical_id):
    return {'name': name, 'type': rtype, 'physical_id': physical_id,
            'status': 'CREATE_COMPLETE'}


def _port(port_id, device, address, net='n-svc', subnet='s-svc',
          groups_=('sg-svc',)):
    return {'id': port_id, 'network_id': net, 'device_id': device,
            'mac_address': 'fa:16:3e:00:00:%s' % address.split('.')[-1],
            'fixed_ips': [{'subnet_id': subnet, 'ip_address': address}],
            'security_groups': list(groups_)}


def _server(server_id, name, ports):
    return {'id': server_id, 'name': name, 'flavor': {'id': 'f1'},
            'image': {'id': 'i1'}, 'metadata': {},
            'addresses': {'svc': [{'addr': a} for a in ports]}}


NETWORK = {'id': 'n-svc', 'name': 'svc-net', 'admin_state_up': True,
           'router:external': False}
PUBLIC = {'id': 'n-pub', 'name': 'public', 'admin_state_up': True,
          'router:external': True}
SUBNET = {'id': 's-svc', 'network_id': 'n-svc', 'cidr': '10.60.0.0/24',
          'ip_version': 4, 'gateway_ip': '10.60.0.1', 'enable_dhcp': False,
          'allocation_pools': [{'start': '10.60.0.10',
                                'end': '10.60.0.200'}]}
SECGROUP = {'id': 'sg-svc', 'name': 'svc-sg', 'description': 'service',
            'security_group_rules': [{'direction': 'ingress',
                                      'ethertype': 'IPv4',
                                      'protocol': 'tcp',
                                      'port_range_min': 5060,
                                      'port_range_max': 5060}]}


def _document(group, resources, **lists):
    document = dict({k: [] for k in EMPTY}, **{
        'schema_version': capture_mod.SCHEMA_VERSION,
        'capture_id': 'c-%s' % group, 'site': 'site-a', 'group': group,
        'captured_at': '2026-12-07T22:00:00+00:00', 'api_calls': 1,
        'stack': {'id': 'st-ns', 'name': 'ns', 'status': 'CREATE_COMPLETE',
                  'template': {}, 'parameters': {}, 'outputs': []},
        'resources': resources,
        'flavors': [{'id': 'f1', 'name': 'm1.tiny'}],
        'images': [{'id': 'i1', 'name': 'lab-image'}]}, **lists)
    document['checksum'] = capture_mod.checksum(document)
    return capture_mod.verify(document)


def tier1():
    return _document('ns-tier1', [
        _resource('svc_net', 'OS::Neutron::Net', 'n-svc'),
        _resource('svc_subnet', 'OS::Neutron::Subnet', 's-svc'),
        _resource('svc_sg', 'OS::Neutron::SecurityGroup', 'sg-svc'),
        _resource('sip_in', 'OS::Neutron::Port', 'p-a'),
        _resource('sip', 'OS::Nova::Server', 'v-a'),
        _resource('svc_router', 'OS::Neutron::Router', 'r-svc'),
        _resource('svc_router_if', 'OS::Neutron::RouterInterface',
                  'r-svc:subnet_id=s-svc')],
        # Day-0: a key pair and a config drive; a VIP the proxy pair
        # moves between them (allowed address pair).
        servers=[dict(_server('v-a', 'sip', ['10.60.0.11']),
                      key_name='ops-key', config_drive='True')],
        networks=[NETWORK, PUBLIC], subnets=[SUBNET],
        security_groups=[SECGROUP],
        # The service network's router: out through the site's external
        # network, and a route to a peer network through the proxy.
        routers=[{'id': 'r-svc', 'name': 'svc-router',
                  'admin_state_up': True,
                  'external_gateway_info': {'network_id': 'n-pub',
                                            'enable_snat': True,
                                            'external_fixed_ips': []},
                  'routes': [{'destination': '10.70.0.0/24',
                              'nexthop': '10.60.0.11'}]}],
        router_ports=[dict(_port('rp-1', 'r-svc', '10.60.0.1', groups_=()),
                           device_owner='network:router_interface')],
        ports=[dict(_port('p-a', 'v-a', '10.60.0.11'),
                    allowed_address_pairs=[{
                        'ip_address': '10.60.0.100',
                        'mac_address': 'fa:16:3e:00:00:11'}])])


def tier2():
    """Its firewall's ports (a pair) on the shared network; its chain's
    classifier starts at tier 1's port p-a."""
    return _document('ns-tier2', [
        _resource('fw_in', 'OS::Neutron::Port', 'p-b1'),
        _resource('fw_out', 'OS::Neutron::Port', 'p-b2'),
        _resource('fw', 'OS::Nova::Server', 'v-b'),
        _resource('fw_pair', 'OS::Neutron::PortPair', 'pp'),
        _resource('fw_ppg', 'OS::Neutron::PortPairGroup', 'ppg'),
        _resource('sip_fc', 'OS::Neutron::FlowClassifier', 'fc'),
        _resource('chain', 'OS::Neutron::PortChain', 'pc')],
        servers=[_server('v-b', 'fw', ['10.60.0.21', '10.60.0.22'])],
        networks=[NETWORK], subnets=[SUBNET], security_groups=[SECGROUP],
        # The firewall's ports pass what is not theirs: port security
        # off; its egress an SR-IOV port.
        ports=[_port('p-a', 'v-a', '10.60.0.11'),
               dict(_port('p-b1', 'v-b', '10.60.0.21', groups_=()),
                    port_security_enabled=False),
               dict(_port('p-b2', 'v-b', '10.60.0.22', groups_=()),
                    port_security_enabled=False,
                    **{'binding:vnic_type': 'direct'})],
        port_pairs=[{'id': 'pp', 'ingress': 'p-b1', 'egress': 'p-b2'}],
        port_pair_groups=[{'id': 'ppg', 'port_pairs': ['pp']}],
        flow_classifiers=[{'id': 'fc', 'protocol': 'udp',
                           'ethertype': 'IPv4',
                           'logical_source_port': 'p-a'}],
        port_chains=[{'id': 'pc', 'port_pair_groups': ['ppg'],
                      'flow_classifiers': ['fc']}])


def tier3():
    """A cold VNF on the shared network, in the shared security group,
    with a second port on a network the mappings map by name."""
    mgmt = {'id': 'n-mgmt', 'name': 'provider-mgmt',
            'admin_state_up': True, 'router:external': False}
    return _document('ns-tier3', [
        _resource('db', 'OS::Nova::Server', 'v-c')],
        servers=[_server('v-c', 'db', ['10.60.0.31', '192.168.9.31'])],
        networks=[mgmt, NETWORK], subnets=[SUBNET, {
            'id': 's-mgmt', 'network_id': 'n-mgmt', 'cidr': '192.168.9.0/24',
            'ip_version': 4, 'gateway_ip': None, 'enable_dhcp': True,
            'allocation_pools': []}],
        security_groups=[SECGROUP],
        ports=[_port('p-c', 'v-c', '10.60.0.31'),
               _port('p-c2', 'v-c', '192.168.9.31', net='n-mgmt',
                     subnet='s-mgmt', groups_=())])


CAPTURES = {'ns-tier1': tier1, 'ns-tier2': tier2, 'ns-tier3': tier3}


@pytest.fixture
def store(tmp_path):
    directory = store_mod.DirectoryStore(tmp_path)
    for tier, (group, make) in enumerate(sorted(CAPTURES.items()), 1):
        directory.save_definition(groups.definition(
            group, 'site-a', 'st-ns', 'ns', [], tier,
            'cold-standby' if tier == 3 else 'hot-standby', 'site-b',
            300, 600, 150))
        directory.save(make())
    return directory


def _held_elsewhere(store, group):
    return shared.held_elsewhere(store, store.definition(group),
                                 CAPTURES[group]())


def test_each_group_holds_its_members_and_its_servers_ports():
    assert shared.held_ids(tier1()) == {'n-svc', 's-svc', 'sg-svc', 'p-a',
                                        'v-a', 'r-svc',
                                        'r-svc:subnet_id=s-svc'}
    # p-a is named by tier 2's classifier, not held by it.
    assert 'p-a' not in shared.held_ids(tier2())
    assert shared.held_ids(tier3()) == {'v-c', 'p-c', 'p-c2'}


def test_what_other_groups_hold_is_found_in_their_latest_captures(store):
    assert _held_elsewhere(store, 'ns-tier2') == {
        'n-svc': 'ns-tier1', 's-svc': 'ns-tier1', 'sg-svc': 'ns-tier1',
        'p-a': 'ns-tier1', 'v-a': 'ns-tier1', 'r-svc': 'ns-tier1',
        'r-svc:subnet_id=s-svc': 'ns-tier1', 'v-c': 'ns-tier3',
        'p-c': 'ns-tier3', 'p-c2': 'ns-tier3'}
    # Nothing of its own.
    assert not set(_held_elsewhere(store, 'ns-tier1')) & shared.held_ids(
        tier1())


def test_groups_of_another_primary_share_nothing(store, tmp_path):
    other = dict(store.definition('ns-tier1'), primary_site='site-c')
    store.save_definition(other)
    assert 'n-svc' not in _held_elsewhere(store, 'ns-tier2')


def _model(store, group):
    return render.model(CAPTURES[group](), MAPPINGS, 'keep', 'site-b',
                        _held_elsewhere(store, group))


@pytest.mark.parametrize('group', sorted(CAPTURES))
def test_cross_group_renders_match_their_golden_files(store, group):
    data = _model(store, group)
    text = render.render_model(data)
    golden = test_render.GOLDEN / ('ns.%s.yaml' % group)
    if os.environ.get('RESCUER_REGENERATE_GOLDEN'):
        golden.write_text(text)
    assert text == golden.read_text()


def test_the_shared_network_is_created_once(store):
    models = {g: _model(store, g) for g in CAPTURES}
    created = [(g, n['source_id']) for g, m in models.items()
               for n in m['networks']]
    assert created == [('ns-tier1', 'n-svc')]
    assert [s['source_id'] for m in models.values()
            for s in m['subnets']] == ['s-svc']
    assert [s['source_id'] for m in models.values()
            for s in m['security_groups']] == ['sg-svc']
    # Every port exactly once, each in the group that holds it.
    assert sorted(p['source_id'] for m in models.values()
                  for p in m['ports']) == ['p-a', 'p-b1', 'p-b2', 'p-c',
                                           'p-c2']


def test_users_refer_to_the_holders_copy_by_parameter(store):
    data = _model(store, 'ns-tier2')
    template = yaml.safe_load(render.render_model(data))
    shared_params = {s['source_id']: s['parameter'] for s in data['shared']}
    assert set(shared_params) == {'n-svc', 's-svc', 'p-a'}
    assert all(s['group'] == 'ns-tier1' for s in data['shared'])
    resources = template['resources']
    assert resources['fw_in']['properties']['network'] == {
        'get_param': shared_params['n-svc']}
    assert resources['fw_in']['properties']['fixed_ips'] == [
        {'subnet': {'get_param': shared_params['s-svc']},
         'ip_address': '10.60.0.21'}]
    # The classifier starts at tier 1's port, not at a port of its own.
    assert resources['sip_fc']['properties']['logical_source_port'] == {
        'get_param': shared_params['p-a']}
    assert 'port_0' not in resources
    # A user shares nothing onward that it does not create.
    assert set(template['outputs']['dr_ids']['value']) == {'p-b1', 'p-b2'}


def test_a_network_the_mappings_name_is_used_not_created(store):
    data = _model(store, 'ns-tier3')
    template = yaml.safe_load(render.render_model(data))
    assert [n['source_id'] for n in data['networks']] == []
    mgmt_port = template['resources']['port_1']['properties']
    assert mgmt_port['network'] == {'get_param': 'network_provider_mgmt'}
    # The DR site's subnet of the kept address: Neutron finds it.
    assert mgmt_port['fixed_ips'] == [{'ip_address': '192.168.9.31'}]
    assert template['parameters']['network_provider_mgmt'][
        'default'] == 'dr-mgmt'


def test_a_port_pair_on_ports_no_member_holds_renders():
    # Before: a raw KeyError in the renderer.
    document = tier2()
    document['port_pairs'] = [{'id': 'pp', 'ingress': 'p-a',
                               'egress': 'p-a'}]
    document['checksum'] = capture_mod.checksum(document)
    data = render.model(document, MAPPINGS, 'keep', 'site-b',
                        {'p-a': 'ns-tier1'})
    pair = next(p for p in data['port_pairs'])
    assert pair['server'] is None
    assert pair['ingress'] == {'get_param': data['shared'][0]['parameter']}
    render.render_model(data)


class _Heat:
    """The DR site's Heat as rescuer.shared reads it: stacks by name with
    their outputs."""

    def __init__(self, outputs):
        self.site = sites.Site(name='site-b', cloud='site-b',
                               region='RegionOne', country='DE',
                               role='dr', clouds_file=None)
        self.outputs = outputs
        self.tags = {}

    def get_stack(self, stack_id):
        if stack_id not in self.outputs:
            raise exceptions.NotFound('stack %s: not found' % stack_id)
        group = stack_id.replace('rescuer-drill-', '')
        group = group.replace('rescuer-', '')
        kind = 'rescuer-drill' if 'drill' in stack_id else 'rescuer-standby'
        tags = [kind, 'rescuer-group-%s' % group]
        return {'id': stack_id, 'stack_name': stack_id,
                'tags': self.tags.get(stack_id, tags),
                'outputs': [{'output_key': 'dr_ids',
                             'output_value': self.outputs[stack_id]}]}


def test_parameters_are_filled_from_the_holders_stack(store):
    data = _model(store, 'ns-tier2')
    api = _Heat({'rescuer-ns-tier1': {'n-svc': 'dr-n', 's-svc': 'dr-s',
                                      'p-a': 'dr-p', 'sg-svc': 'dr-sg'}})
    values = shared.parameters(api, data, groups.stack_name)
    by_source = {s['source_id']: values[s['parameter']]
                 for s in data['shared']}
    assert by_source == {'n-svc': 'dr-n', 's-svc': 'dr-s', 'p-a': 'dr-p'}


@pytest.mark.parametrize('outputs, message', [
    ({}, r'net svc-net \(n-svc at the primary\) is held by group '
         r'ns-tier1, whose drill stack rescuer-drill-ns-tier1 at site '
         r'site-b does not exist'),
    ({'rescuer-drill-ns-tier1': {'n-svc': 'dr-n'}},
     r'port p-a \(p-a at the primary\) is held by group ns-tier1, whose '
     r'drill stack rescuer-drill-ns-tier1 at site site-b has no copy'),
])
def test_a_holder_without_a_copy_is_named(store, outputs, message):
    data = _model(store, 'ns-tier2')
    with pytest.raises(exceptions.InvalidGroup, match=message):
        shared.parameters(_Heat(outputs), data,
                          lambda g: 'rescuer-drill-%s' % g, purpose='drill')


def test_a_model_without_shared_references_reads_nothing():
    class Nothing:
        def __getattr__(self, name):
            raise AssertionError('read %s' % name)
    data = render.model(tier1(), MAPPINGS, 'keep', 'site-b', {})
    assert shared.parameters(Nothing(), data, groups.stack_name) == {}


def test_only_the_models_references_are_written_as_references():
    with pytest.raises(jinja2.TemplateRuntimeError,
                       match='not a reference'):
        render._hot_ref({'get_attr': ['x', 'y']})
    with pytest.raises(jinja2.TemplateRuntimeError,
                       match='not a name safe'):
        render._hot_ref({'get_resource': 'a: b'})


def test_users_come_after_the_holders_of_their_tier():
    captures = {g: make() for g, make in CAPTURES.items()}
    used = shared.uses(captures)
    assert used == {'ns-tier1': set(), 'ns-tier2': {'ns-tier1'},
                    'ns-tier3': {'ns-tier1'}}
    # All three in one tier: the holder is a wave of its own, first.
    assert shared.waves(sorted(captures), used) == [
        ['ns-tier1'], ['ns-tier2', 'ns-tier3']]
    with pytest.raises(exceptions.InvalidGroup,
                       match="groups a, b use each other's"):
        shared.waves(['a', 'b', 'c'], {'a': {'b'}, 'b': {'a'}})


def test_a_drill_plans_the_holder_first(store):
    from rescuer import failover
    for group in CAPTURES:
        store.save_definition(dict(store.definition(group), tier=2))
    assert failover.plan(store, sorted(CAPTURES), waves=True) == [
        ['ns-tier1'], ['ns-tier2', 'ns-tier3']]
    # A failover finds the holder's copies at standby: one wave.
    assert failover.plan(store, sorted(CAPTURES)) == [sorted(CAPTURES)]


class _DrillHeat(_Heat):
    """Heat at the DR site for a drill: the holders' drill stacks, and
    the stacks the drill creates."""

    def __init__(self, outputs):
        super().__init__(outputs)
        self.created = []

    def create_stack(self, name, template, parameters, tags=()):
        self.created.append((name, yaml.safe_load(template), parameters))
        return 'id-%s' % name


@pytest.mark.parametrize('mode, chains', [
    ('hot-standby', 'false'), ('cold-standby', None)])
def test_a_drill_uses_the_holders_drill_copies_and_no_standby_chain(
        store, mode, chains):
    from rescuer import drill
    definition = dict(store.definition('ns-tier2'), mode=mode,
                      mappings=MAPPINGS)
    api = _DrillHeat({'rescuer-drill-ns-tier1': {
        'n-svc': 'drill-n', 's-svc': 'drill-s', 'p-a': 'drill-p'}})
    drill.start(api, definition, tier2(),
                held_elsewhere=_held_elsewhere(store, 'ns-tier2'))
    [(name, template, parameters)] = api.created
    assert name == 'rescuer-drill-ns-tier2'
    assert {v for k, v in parameters.items()
            if k.startswith('shared_')} == {'drill-n', 'drill-s', 'drill-p'}
    # A hot standby's chain holds the classifiers: networking-sfc would
    # refuse the drill's; a cold standby has none.
    assert parameters.get('port_chains') == chains
    assert template['resources']['chain']['condition'] == 'chained'


def test_only_a_stack_rescuer_made_for_the_holder_is_read(store):
    """A project member may make a stack called rescuer-drill-<holder>
    (or replace the holder's): its outputs never fill a parameter."""
    data = _model(store, 'ns-tier2')
    api = _Heat({'rescuer-ns-tier1': {'n-svc': 'forged', 's-svc': 'forged',
                                      'p-a': 'forged'}})
    api.tags['rescuer-ns-tier1'] = ['rescuer-standby']
    with pytest.raises(exceptions.InvalidGroup, match='does not exist'):
        shared.parameters(api, data, groups.stack_name)
    # A drill stack is not a recovery stack.
    api.tags['rescuer-ns-tier1'] = ['rescuer-drill',
                                    'rescuer-group-ns-tier1']
    with pytest.raises(exceptions.InvalidGroup, match='does not exist'):
        shared.parameters(api, data, groups.stack_name)


def test_an_output_that_is_no_map_of_ids_is_refused(store):
    data = _model(store, 'ns-tier2')
    with pytest.raises(exceptions.InvalidGroup, match='not a map of ids'):
        shared.parameters(_Heat({'rescuer-ns-tier1': ['n-svc']}), data,
                          groups.stack_name)


def test_a_resource_two_groups_name_as_members_is_refused():
    one = tier1()
    other = dict(tier3(), resources=tier3()['resources'] + [
        _resource('net', 'OS::Neutron::Net', 'n-svc')])
    with pytest.raises(exceptions.InvalidGroup,
                       match='n-svc .* is a member of groups ns-tier1 and '
                             'ns-tier3'):
        shared.holders({'ns-tier1': one, 'ns-tier3': other})


def test_a_member_port_plugged_into_another_groups_server_is_its_own():
    """Port p-c2 is a member of tier 1's group, plugged into tier 3's
    server: tier 1 holds it, tier 3's server uses tier 1's copy."""
    one = dict(tier1(), resources=tier1()['resources'] + [
        _resource('mgmt_port', 'OS::Neutron::Port', 'p-c2')])
    held = shared.holders({'ns-tier1': one, 'ns-tier3': tier3()})
    assert held['p-c2'] == 'ns-tier1' and held['p-c'] == 'ns-tier3'


def test_rules_from_a_group_stay_rules_from_that_group():
    """remote_group_id: from the group itself, from another group's copy;
    from a group that is not recovered (the default group) the rule is
    left out - before, every such rule came back open to any address."""
    document = tier1()
    rules = document['security_groups'][0]['security_group_rules']
    rules += [{'direction': 'ingress', 'ethertype': 'IPv4',
               'remote_group_id': 'sg-svc'},
              {'direction': 'ingress', 'ethertype': 'IPv4',
               'protocol': 'tcp', 'remote_group_id': 'sg-mgmt'},
              {'direction': 'ingress', 'ethertype': 'IPv4',
               'protocol': 'udp', 'remote_group_id': 'sg-default'}]
    document['checksum'] = capture_mod.checksum(document)
    data = render.model(document, MAPPINGS, 'keep', 'site-b',
                        {'sg-mgmt': 'ns-mgmt'})
    template = yaml.safe_load(render.render_model(data))
    written = template['resources']['svc_sg']['properties']['rules']
    assert {'direction': 'ingress', 'ethertype': 'IPv4',
            'remote_mode': 'remote_group_id'} in written
    [other] = [r for r in written if 'remote_group_id' in r]
    assert other['remote_group_id'] == {
        'get_param': data['shared'][0]['parameter']}
    assert data['shared'][0]['group'] == 'ns-mgmt'
    assert not any(r.get('protocol') == 'udp' for r in written)
    assert not any('remote_ip_prefix' in r for r in written)


def test_a_holder_knows_its_users(store):
    assert shared.users(store, store.definition('ns-tier1'), tier1()) == {
        'ns-tier2': ['n-svc', 'p-a', 's-svc', 'sg-svc'],
        'ns-tier3': ['n-svc', 's-svc', 'sg-svc']}
    assert shared.users(store, store.definition('ns-tier3'), tier3()) == {}


def test_a_duplicate_member_elsewhere_does_not_stop_a_group(store):
    """Two groups of other stacks naming one resource: only the groups
    using it are stopped."""
    for group in ('ns-dup', 'ns-dup2'):
        duplicate = dict(tier3(), group=group, capture_id='c-%s' % group,
                         resources=[_resource('x', 'OS::Neutron::Port',
                                              'p-x')])
        duplicate['checksum'] = capture_mod.checksum(duplicate)
        store.save_definition(dict(store.definition('ns-tier3'),
                                   group=group))
        store.save(duplicate)
    assert 'p-x' in _held_elsewhere(store, 'ns-tier1')
    user = dict(tier2(), ports=tier2()['ports'] + [
        _port('p-x', 'v-z', '10.60.0.99')])
    with pytest.raises(exceptions.InvalidGroup,
                       match='p-x .* is a member of groups ns-dup and '
                             'ns-dup2'):
        shared.held_elsewhere(store, store.definition('ns-tier2'), user)


def test_a_kept_capture_is_found_by_its_id(store):
    assert store.capture('ns-tier1', 'c-ns-tier1')['group'] == 'ns-tier1'
    assert store.capture('ns-tier1', 'c-gone') is None
