"""Resources shared between the protection groups of a stack, as plain
data: who holds what, and what the groups may use of each other's."""

from rescuer import shared_refs
from rescuer.shared_refs import Group
from rescuer.shared_refs import Resource


def _stack(**extra):
    """A stack of a network, its subnet, a security group and three
    ports and servers, plus ``extra`` resources."""
    resources = {
        'net': Resource('OS::Neutron::Net', [], ['service-net']),
        'subnet': Resource('OS::Neutron::Subnet', ['net'], ['net']),
        'secgroup': Resource('OS::Neutron::SecurityGroup', [], []),
        'config': Resource('OS::Heat::SoftwareConfig', [], []),
        'port_a': Resource('OS::Neutron::Port', ['net', 'subnet'], []),
        'vnf_a': Resource('OS::Nova::Server', ['port_a', 'config'], []),
        'port_b': Resource('OS::Neutron::Port', ['net', 'secgroup'], []),
        'vnf_b': Resource('OS::Nova::Server', ['port_b'], []),
        'classifier': Resource('OS::Neutron::FlowClassifier', ['port_a'],
                               []),
        'port_c': Resource('OS::Neutron::Port', ['net'], []),
        'vnf_c': Resource('OS::Nova::Server', ['port_c'], []),
    }
    resources.update(extra)
    return resources


def _groups(**overrides):
    groups = {
        'group1': Group(1, ['net', 'subnet', 'secgroup', 'port_a',
                            'vnf_a']),
        'group2': Group(2, ['port_b', 'vnf_b', 'classifier']),
        'group3': Group(3, ['port_c', 'vnf_c']),
    }
    groups.update(overrides)
    return groups


def _problems(group, groups, resources, networks=()):
    return shared_refs.problems(group, groups, resources, networks)


def test_three_groups_sharing_the_first_ones_resources():
    groups, resources = _groups(), _stack()
    for group in groups:
        assert _problems(group, groups, resources) == []
    assert shared_refs.owner_groups('group1', groups, resources) == []
    assert shared_refs.owner_groups('group2', groups, resources) == [
        'group1']
    assert shared_refs.owner_groups('group3', groups, resources) == [
        'group1']
    assert shared_refs.uses('group2', groups, resources) == [
        shared_refs.Use('group2', 'classifier', 'port_a', 'group1'),
        shared_refs.Use('group2', 'port_b', 'net', 'group1'),
        shared_refs.Use('group2', 'port_b', 'secgroup', 'group1')]


def test_a_resource_no_group_holds():
    groups = _groups(group1=Group(1, ['subnet', 'secgroup', 'port_a',
                                      'vnf_a']))
    problems = _problems('group2', groups, _stack())
    assert problems == [
        'member port_b of this group uses net (OS::Neutron::Net), which no '
        'protection group of the stack holds: add it to a group\'s '
        'members, or map it with mappings.networks']
    unheld_port = _problems('group1', _groups(group1=Group(1, ['vnf_a'])),
                            _stack())
    assert ('member vnf_a of this group uses port_a (OS::Neutron::Port), '
            'which no protection group of the stack holds: add it to a '
            'group\'s members') in unheld_port


def test_types_rescuer_does_not_share_are_not_checked():
    # vnf_a uses config, a SoftwareConfig no group holds.
    groups = _groups()
    assert 'config' not in shared_refs.members_of('group1', groups,
                                                  _stack())
    assert _problems('group1', groups, _stack()) == []


def test_a_mapped_network_needs_no_group():
    groups = _groups(group1=Group(1, ['secgroup', 'port_a', 'vnf_a']))
    resources = _stack()
    # By its name property (its name in Neutron, which the DR site's
    # render matches); a subnet by its network's.  Not by its resource
    # name: the render never sees that.
    assert _problems('group1', groups, resources, ['service-net']) == []
    assert _problems('group2', groups, resources, ['service-net']) == []
    assert 'uses net (OS::Neutron::Net), which no protection group' in (
        _problems('group1', groups, resources, ['net'])[0])
    assert len(_problems('group1', groups, resources, ['other'])) == 2
    # A subnet on a network of the cloud, by the name its network
    # property gives.
    resources['subnet'] = Resource('OS::Neutron::Subnet', [], ['ext'])
    assert _problems('group1', groups, resources,
                     ['ext', 'service-net']) == []
    assert 'map its network with mappings.networks' in _problems(
        'group1', groups, resources, ['service-net'])[0]


def test_a_mapping_is_only_for_networks():
    groups = _groups(group1=Group(1, ['net', 'subnet', 'port_a', 'vnf_a']))
    assert _problems('group2', groups, _stack(), ['secgroup']) == [
        'member port_b of this group uses secgroup '
        '(OS::Neutron::SecurityGroup), which no protection group of the '
        'stack holds: add it to a group\'s members']


def test_a_group_of_a_later_tier_cannot_hold_what_an_earlier_uses():
    groups = _groups(group1=Group(3, ['net', 'subnet', 'secgroup', 'port_a',
                                      'vnf_a']),
                     group3=Group(1, ['port_c', 'vnf_c']))
    assert _problems('group3', groups, _stack()) == [
        'member port_c of this group (tier 1) uses net of group group1 '
        '(tier 3): a shared resource\'s group must be in the same or an '
        'earlier tier']
    # The owner's view has nothing wrong.
    assert _problems('group1', groups, _stack()) == []


def test_groups_using_each_others_resources():
    # group2 uses group1's net; group1's vnf_a now uses group2's port_b.
    resources = _stack(vnf_a=Resource('OS::Nova::Server',
                                      ['port_a', 'port_b'], []))
    groups = _groups(group2=Group(1, ['port_b', 'vnf_b', 'classifier']))
    expected = (
        'groups %s use each other\'s resources in a cycle (%s): a group '
        'must not use, even through other groups, a resource of a group '
        'that uses one of its own')
    assert _problems('group1', groups, resources) == [expected % (
        'group1 and group2', 'member vnf_a of group1 uses port_b of '
        'group2; member classifier of group2 uses port_a of group1')]
    assert _problems('group2', groups, resources) == [expected % (
        'group2 and group1', 'member classifier of group2 uses port_a of '
        'group1; member vnf_a of group1 uses port_b of group2')]
    assert _problems('group3', groups, resources) == []


def test_a_cycle_through_three_groups():
    resources = _stack(vnf_a=Resource('OS::Nova::Server',
                                      ['port_a', 'port_c'], []))
    groups = _groups(group1=Group(1, ['net', 'subnet', 'secgroup', 'port_a',
                                      'vnf_a']),
                     group2=Group(1, ['port_b', 'vnf_b', 'port_c']),
                     group3=Group(1, ['vnf_c', 'classifier']))
    # group1 -> group2 (port_c) -> group1 (net): group3 is not in it.
    assert [link.group for link in shared_refs.cycle(
        'group1', groups, resources)] == ['group1', 'group2']
    # group3 -> group1 -> group2 -> group1: group3 uses the cycle and is
    # not in it.
    assert shared_refs.cycle('group3', groups, resources) == []
    resources['port_a'] = Resource('OS::Neutron::Port',
                                   ['net', 'subnet', 'classifier'], [])
    resources['vnf_a'] = Resource('OS::Nova::Server', ['port_a'], [])
    groups['group2'] = Group(1, ['port_b', 'vnf_b', 'vnf_c', 'port_c'])
    groups['group3'] = Group(1, ['classifier'])
    # group1 (port_a) -> group3 (classifier) -> group1; group2 -> group1.
    assert 'groups group3 and group1 use' in shared_refs.cycle_problems(
        'group3', groups, resources)[0]
    resources['classifier'] = Resource('OS::Neutron::FlowClassifier',
                                       ['port_b'], [])
    # group1 -> group3 -> group2 -> group1.
    problem = shared_refs.cycle_problems('group1', groups, resources)
    assert len(problem) == 1
    assert problem[0].startswith(
        'groups group1, group3 and group2 use each other\'s resources in a '
        'cycle (member port_a of group1 uses classifier of group3; member '
        'classifier of group3 uses port_b of group2; member ')
    assert shared_refs.owner_groups('group1', groups, resources) == [
        'group3']


def test_a_resource_two_groups_hold():
    groups = _groups(group2=Group(2, ['port_b', 'vnf_b', 'classifier',
                                      'net']))
    message = ('resource net is a member of groups group1 and group2: a '
               'resource belongs to at most one group')
    assert _problems('group1', groups, _stack()) == [message]
    assert _problems('group2', groups, _stack()) == [message]
    # Its users are not told that no group holds it.
    assert _problems('group3', groups, _stack()) == []


def test_a_whole_stack_group_holds_everything():
    groups = {'all': Group(1, [])}
    assert _problems('all', groups, _stack()) == []
    groups['group2'] = Group(2, ['vnf_b'])
    assert _problems('group2', groups, _stack()) == [
        'resource vnf_b is a member of groups all and group2: a resource '
        'belongs to at most one group']


def test_groups_share_only_networking_and_server_groups():
    resources = _stack(vnf_b=Resource('OS::Nova::Server',
                                      ['port_b', 'classifier'], []))
    groups = _groups()
    groups['group1'] = Group(1, groups['group1'].members + ['classifier'])
    groups['group2'] = Group(2, [m for m in groups['group2'].members
                                 if m != 'classifier'])
    assert shared_refs.unshareable_problems('group2', groups, resources) == [
        'member vnf_b of this group uses classifier '
        '(OS::Neutron::FlowClassifier) of group group1: groups share only '
        'networks, subnets, security groups, ports and server groups; put '
        'vnf_b and classifier in one group']


def test_a_stacks_only_group_recovers_what_its_members_use():
    """As before groups shared: a member's network outside the group's
    members is the group's to recover (and was refused for a while)."""
    groups = {'group1': Group(1, ['port_a', 'vnf_a'])}
    assert _problems('group1', groups, _stack()) == []
