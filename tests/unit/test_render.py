"""Render: reviewed capture documents in, reviewed HOT out (golden files
under tests/unit/golden; regenerate with RESCUER_REGENERATE_GOLDEN=1 and
review the diff)."""

import json
import os
import pathlib

import jinja2
import pytest
import yaml

from rescuer import exceptions
from rescuer import render

GOLDEN = pathlib.Path(__file__).parent / 'golden'
LAB = {'images': {'lab-image': 'cirros-dr'},
       'flavors': {'m1.tiny': 'dr.tiny'},
       'networks': {'public': 'ext-net'},
       'availability_zones': {'nova': 'dr-az1'}}
MULTI = {'images': {'vnf-os-1.2': 'vnf-os-1.2-dr'},
         'flavors': {'vnf.large': 'dr.large', 'vnf.small': 'dr.small'},
         'networks': {'public': 'provider-ext'},
         'availability_zones': {'az-a': 'az-dr'}}
CASES = [('vnf-site', LAB, 'keep'), ('vnf-site', LAB, 'new'),
         ('multi', MULTI, 'keep')]


def _capture(name):
    return json.loads((GOLDEN / ('%s.capture.json' % name)).read_text())


@pytest.mark.parametrize('name, mappings, policy', CASES,
                         ids=['%s-%s' % (c[0], c[2]) for c in CASES])
def test_rendered_template_matches_its_golden_file(name, mappings, policy):
    golden = GOLDEN / ('%s.%s.yaml' % (name, 'keep' if policy == 'keep'
                                       else 'new-ips'))
    text = render.render(_capture(name), mappings, policy, 'site-b')
    if os.environ.get('RESCUER_REGENERATE_GOLDEN'):
        golden.write_text(text)
    assert text == golden.read_text()


def _resources(name, mappings, policy='keep'):
    return yaml.safe_load(render.render(_capture(name), mappings, policy,
                                        'site-b'))['resources']


def test_vnf_site_servers_volumes_and_standby_conditions():
    resources = _resources('vnf-site', LAB)
    client, function = resources['client'], resources['function']
    assert client['condition'] == function['condition'] == 'warm'
    assert client['properties']['block_device_mapping_v2'][0][
        'volume_id'] == {'get_resource': 'boot_volume'}
    assert function['properties']['image'] == {'get_param':
                                               'image_lab_image'}
    # NIC order is the primary's.
    assert function['properties']['networks'] == [
        {'port': {'get_resource': 'ingress_port'}},
        {'port': {'get_resource': 'egress_port'}}]
    assert resources['data_volume_on_client']['properties'] == {
        'instance_uuid': {'get_resource': 'client'},
        'volume_id': {'get_resource': 'data_volume'}}
    assert 'condition' not in resources['net']  # networks exist when cold


def test_mapped_values_are_parameters_with_site_defaults():
    template = yaml.safe_load(render.render(_capture('vnf-site'), LAB,
                                            'keep', 'site-b'))
    assert template['parameters']['flavor_m1_tiny']['default'] == 'dr.tiny'
    assert template['parameters']['image_lab_image']['default'] == \
        'cirros-dr'
    assert template['parameters']['standby_level']['default'] == 'cold'


def test_ip_policy_keep_carries_fixed_ips_and_new_does_not():
    kept = _resources('vnf-site', LAB, 'keep')['client_port']['properties']
    new = _resources('vnf-site', LAB, 'new')['client_port']['properties']
    assert kept['fixed_ips'][0]['ip_address'].startswith('10.20.0.')
    assert 'mac_address' in kept
    assert 'ip_address' not in new['fixed_ips'][0]
    assert 'mac_address' not in new


def test_multi_networks_groups_server_group_and_floating_ip():
    resources = _resources('multi', MULTI)
    assert {n for n, r in resources.items()
            if r['type'] == 'OS::Neutron::Net'} == {'mgmt', 'data'}
    # The default security group is the site's own: not recreated.
    assert [n for n, r in resources.items()
            if r['type'] == 'OS::Neutron::SecurityGroup'] == ['web']
    assert 'security_groups' not in resources['vm1_data']['properties']
    assert resources['vm1']['properties']['scheduler_hints'] == {
        'group': {'get_resource': 'anti'}}
    assert resources['vm1']['properties']['availability_zone'] == 'az-dr'
    assert resources['vm1_fip'] == {
        'type': 'OS::Neutron::FloatingIP', 'condition': 'serving',
        'properties': {'floating_network': 'provider-ext',
                       'port_id': {'get_resource': 'vm1_mgmt'}}}


def test_every_unmapped_name_is_reported_at_once():
    with pytest.raises(exceptions.Unmapped) as info:
        render.render(_capture('multi'), {'flavors': {'vnf.small': 'x'}},
                      'keep', 'site-b')
    assert str(info.value) == ('no mapping at site site-b for flavors '
                               'vnf.large; images vnf-os-1.2; networks '
                               'public')


def test_a_template_error_names_the_template(tmp_path):
    (tmp_path / 'recovery.yaml.j2').write_text('x: {{ model.nope }}\n')
    with pytest.raises(exceptions.InvalidTemplate,
                       match='rendering recovery.yaml.j2 failed'):
        render.render(_capture('multi'), MULTI, templates=tmp_path)


def test_strict_undefined_is_on():
    assert render._environment().undefined is jinja2.StrictUndefined
