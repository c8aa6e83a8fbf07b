"""A network service on the lab (examples/network-service.yaml): three
VNFs in three groups and tiers on one shared network, subnet and security
group, chained across tiers.  At site-b each shared resource exists once,
in the holder's recovery stack, and the other groups' ports and chain
use that copy - at standby, and in a drill of the three groups, on the
drill's own copy."""

import json
import random

import pytest

from tests.functional import base
from tests.functional import test_failover

TEMPLATE = str(base.REPO / 'examples' / 'network-service.yaml')


def _resources(cloud, stack):
    """{resource name: physical id} of a stack."""
    return {r['resource_name']: r['physical_resource_id'] for r in
            base.cli_json(cloud, 'stack', 'resource', 'list', stack)}


def _port_network(cloud, port_id):
    return base.cli_json(cloud, 'port', 'show', port_id)['network_id']


def _classifier_source(cloud, classifier_id):
    """The logical source port of a flow classifier (networking-sfc)."""
    sess, endpoint = base.api(cloud, 'network')
    return sess.get('/v2.0/sfc/flow_classifiers/%s' % classifier_id,
                    endpoint_filter=endpoint).json()[
        'flow_classifier']['logical_source_port']


def _networks_named(cloud, name):
    return [n['ID'] for n in base.cli_json(cloud, 'network', 'list',
                                           '--name', name)]


@pytest.fixture(scope='module')
def service():
    """The network service at site-a, its three groups registered:
    (stack name, net name, [group names by tier], [recovery stack ids])."""
    name = base.unique('ns')
    net_name = base.unique('svc-net')
    parameters = ['--parameter', 'net_name=%s' % net_name,
                  '--parameter', 'sip_port=%d' % random.randint(1024, 65535),
                  '--parameter', 'cidr=10.61.0.0/24',
                  '--parameter', 'vip=10.61.0.250']
    # Validated as an operator would, first.
    base.cli_json('site-a', 'stack', 'create', '--dry-run', '-t', TEMPLATE,
                  *parameters, name)
    base.cli_json('site-a', 'stack', 'create', '--wait', '-t', TEMPLATE,
                  *parameters, name)
    try:
        out = base.stack_outputs('site-a', name)
        yield name, net_name, out['groups'], out['recovery_stacks']
    finally:
        base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name,
                 check=False)


def test_shared_resources_exist_once_at_the_dr_site(service):
    name, net_name, groups, stacks = service
    primary = _resources('site-a', name)
    tier1, tier2, tier3 = (_resources('site-b', s) for s in stacks)
    # One copy of the service network, the tier-1 group's.
    assert _networks_named('site-b', net_name) == [tier1['svc_net']]
    assert 'svc_net' not in tier2 and 'svc_net' not in tier3
    assert not {'svc_subnet', 'svc_sg'} & (set(tier2) | set(tier3))
    # The other tiers' ports are on it: the database in its security
    # group, the transparent firewall's with port security off.
    for stack, port in ((tier2, 'fw_in'), (tier2, 'fw_out'),
                        (tier3, 'db_port')):
        shown = base.cli_json('site-b', 'port', 'show', stack[port])
        assert shown['network_id'] == tier1['svc_net'], port
        assert shown['security_group_ids'] == (
            [tier1['svc_sg']] if port == 'db_port' else []), port
        assert shown['port_security_enabled'] is (port == 'db_port'), port
        assert [ip['subnet_id'] for ip in shown['fixed_ips']] == [
            tier1['svc_subnet']], port
    # One router, the tier-1 group's: out through site-b's external
    # network, an interface on the copy of the service subnet.
    assert 'svc_router' not in tier2 and 'svc_router' not in tier3
    router = base.cli_json('site-b', 'router', 'show', tier1['svc_router'])
    assert router['external_gateway_info']['network_id'] == base.cli_json(
        'site-b', 'network', 'show', 'public')['id']
    assert [ip['subnet_id'] for port in base.cli_json(
        'site-b', 'port', 'list', '--router', tier1['svc_router'],
        '--long') if port['Device Owner'] == 'network:router_interface'
        for ip in port['Fixed IP Addresses']] == [tier1['svc_subnet']]
    # The proxy's VIP moves with it.
    vip = base.cli_json('site-b', 'port', 'show', tier1['sip_port_0'])[
        'allowed_address_pairs']
    assert [p['ip_address'] for p in vip] == ['10.61.0.250']
    # Tier 2's chain starts at the copy of tier 1's port (hot standby:
    # the chain exists at standby).
    assert _classifier_source('site-b', tier2['sip_classifier']) == tier1[
        'sip_port_0']
    # Same addresses as at the primary (ip_policy keep).
    for port in ('sip_port_0', 'fw_in', 'db_port'):
        at_a = base.cli_json('site-a', 'port', 'show', primary[port])
        stack = tier1 if port == 'sip_port_0' else (
            tier2 if port == 'fw_in' else tier3)
        at_b = base.cli_json('site-b', 'port', 'show', stack[port])
        assert [i['ip_address'] for i in at_b['fixed_ips']] == [
            i['ip_address'] for i in at_a['fixed_ips']], port


def _drill_health(execution_id):
    """{group: its drill health check's output} of a drill run: the
    topology it compared on the group's drill stack."""
    sess, endpoint = base.api('site-b', 'workflowv2')
    listed = sess.get('/executions?root_execution_id=%s&workflow_name='
                      'rescuer_dr.drill_group_v1&fields=id,input,output'
                      % execution_id,
                      endpoint_filter=endpoint).json()['executions']
    return {json.loads(e['input'])['group']:
            json.loads(e['output'])['health'] for e in listed}


def test_a_drill_of_the_service_builds_it_on_its_own_copy(service):
    """Every drill stack is built on the holders' drill copies: each
    group's health check compared its ports and chain links with the
    capture, resolved through its drill stack's shared parameters (the
    holder's drill copies), and passed; the stacks are gone after."""
    name, net_name, groups, stacks = service
    standby = _resources('site-b', stacks[0])
    execution = test_failover._run('rescuer_dr.drill_v1',
                                   {'groups': groups}, timeout=600)
    assert execution['state'] == 'SUCCESS', execution.get('state_info')
    report = execution['output']['report']
    assert [g['group'] for g in report['groups']] == groups
    for group in report['groups']:
        assert {'start', 'check_health', 'clean_up', 'wait_removed'} <= {
            s['step'] for s in group['steps']}, group
    # Compared and equal: tier 2's two ports on tier 1's drill network,
    # its classifier from tier 1's drill port, its pair and pair group;
    # not its chain (the hot standby's holds the same classifiers:
    # networking-sfc allows one chain per classifiers in a project).
    health = _drill_health(execution['id'])
    # Tier 1's router (gateway, interface), each tier's server (its
    # attached volumes: tier 3's data volume restored for the drill).
    assert {g: h['topology'] for g, h in health.items()} == {
        groups[0]: {'ports': 1, 'chain_resources': 0, 'routers': 1,
                    'servers': 1},
        groups[1]: {'ports': 2, 'chain_resources': 3, 'routers': 0,
                    'servers': 1},
        groups[2]: {'ports': 1, 'chain_resources': 0, 'routers': 0,
                    'servers': 1}}
    assert any('did not build its port chains (sip_chain)' in w
               for w in report['warnings']), report['warnings']
    # Removed after every tier, users first; nothing left.
    for group in groups:
        assert base.cli('site-b', 'stack', 'show', 'rescuer-drill-%s'
                        % group, check=False).returncode != 0
    assert _networks_named('site-b', net_name) == [standby['svc_net']]
    assert base.stack_outputs('site-a', name)['protection_status'] == [
        'protected'] * 3


def test_a_drill_of_a_user_without_its_holder_says_so(service):
    name, net_name, groups, stacks = service
    execution = test_failover._run('rescuer_dr.drill_v1',
                                   {'groups': [groups[1]]})
    assert execution['state'] == 'ERROR'
    [failure] = execution['output']['error']
    assert (failure['group'], failure['step']) == (groups[1], 'start')
    assert ('held by group %s, whose drill stack rescuer-drill-%s at site '
            'site-b does not exist' % (groups[0], groups[0])
            ) in failure['error'], failure
    assert base.cli('site-b', 'stack', 'show', 'rescuer-drill-%s'
                    % groups[1], check=False).returncode != 0


@pytest.mark.exclusive
def test_the_service_fails_over_whole_and_fails_back(service):
    """site-a is lost: the three groups fail over tier by tier onto one
    copy of each shared resource (every group's health check compares
    the recovered topology with the capture); site-a comes back and the
    service returns to it, site-b back to standby."""
    name, net_name, groups, stacks = service
    base.rescuer_lab('fail', 'site-a')
    try:
        execution = test_failover._run('rescuer_dr.failover_v1',
                                       {'groups': groups}, timeout=900)
        assert execution['state'] == 'SUCCESS', execution['output']
        report = execution['output']['report']
        assert [(g['group'], g['state']) for g in report['groups']] == [
            (g, 'SUCCESS') for g in groups]
        tier1, tier2, tier3 = (_resources('site-b', s) for s in stacks)
        assert _networks_named('site-b', net_name) == [tier1['svc_net']]
        for stack, port in ((tier2, 'fw_in'), (tier3, 'db_port')):
            assert _port_network('site-b', stack[port]) == tier1['svc_net']
        # Active: the chain exists now, from the copy of tier 1's port.
        assert _classifier_source('site-b', tier2['sip_classifier']) == (
            tier1['sip_port_0'])
        assert 'sip_chain' in tier2 and 'db' in tier3
    finally:
        base.rescuer_lab('recover', 'site-a')
    execution = test_failover._run('rescuer_dr.failback_v1',
                                   {'groups': groups}, timeout=1200)
    assert execution['state'] == 'SUCCESS', execution['output']
    assert base.stack_outputs('site-a', name)['protection_status'] == [
        'protected'] * 3
    # site-b back to standby: still one copy of the network; the cold
    # tier's server gone again.
    assert _networks_named('site-b', net_name) == [
        _resources('site-b', stacks[0])['svc_net']]
    assert 'db' not in _resources('site-b', stacks[2])
