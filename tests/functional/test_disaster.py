"""`rescuer-lab fail` is a real site loss; `recover` brings it back."""

import socket

import pytest

from rescuer import protection
from rescuer import render
from rescuer import sites
from rescuer import store
from tests.functional import base

RANDOM_STRING = '''
heat_template_version: 2021-04-16
resources:
  rs: {type: OS::Heat::RandomString}
'''
VNF_SITE = str(base.REPO / 'examples' / 'vnf-site.yaml')
# Keystone, Heat, Nova, Placement, Glance, Cinder, Neutron.
SITE_A_PORTS = (25000, 28004, 28774, 28778, 29292, 28776, 29696)


def _answers(port):
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(('127.0.0.1', port)) == 0


@pytest.fixture
def site_a_workload():
    """A VNF stack and a replicated volume with data at site-a."""
    stack = base.unique('survivor')
    base.cli('site-a', 'stack', 'create', '--wait', '-t', VNF_SITE,
             *base.service_port_parameter(),
             stack)
    volume = base.create_volume('site-a', base.unique('rep'),
                                'lab-replicated')
    base.write_tag('site-a', volume, 'replicated')
    base.rescuer_lab('replicate', 'site-a', volume)
    base.write_tag('site-a', volume, 'not-yet-replicated')
    yield stack, volume
    base.rescuer_lab('recover', 'site-a')
    base.cli('site-a', 'stack', 'delete', '--yes', '--wait', stack)
    base.delete_volume('site-a', volume)


def _stack_state(stack):
    resources = base.cli_json('site-a', 'stack', 'resource', 'list', stack)
    sess, endpoint = base.api('site-a', 'compute')
    servers = {r['resource_name']: sess.get(
        '/servers/%s' % r['physical_resource_id'],
        endpoint_filter=endpoint).json()['server']['status']
        for r in resources if r['resource_type'] == 'OS::Nova::Server'}
    volumes = {r['resource_name']: base.volume_call(
        'site-a', 'GET', '/volumes/%s' % r['physical_resource_id'])[
            'volume']['status']
        for r in resources if r['resource_type'] == 'OS::Cinder::Volume'}
    return base.cli_json('site-a', 'stack', 'show', stack)[
        'stack_status'], servers, volumes


def _capture_before_the_disaster(stack):
    group = base.record_group(stack, base.unique('dr-group'))
    execution = base.wait_execution(base.start_execution(
        'rescuer_dr.capture_v1', {'group': group}), timeout=300)
    assert execution['state'] == 'SUCCESS', execution.get('state_info')
    return group, execution['output']['capture']['capture_id']


@pytest.mark.exclusive
def test_site_a_loss_and_recovery(site_a_workload, template):
    stack, volume = site_a_workload
    assert _stack_state(stack) == (
        'CREATE_COMPLETE', {'function': 'ACTIVE', 'client': 'ACTIVE'},
        {'boot_volume': 'in-use', 'data_volume': 'in-use'})
    group, capture_id = _capture_before_the_disaster(stack)
    managed = None
    try:
        base.rescuer_lab('fail', 'site-a')

        for port in SITE_A_PORTS:
            assert not _answers(port), port
        status = base.rescuer_lab('status', check=False)
        assert status.returncode == 1
        assert 'down: site-a keystone, site-a placement' in status.stderr
        assert 'site-b' not in status.stderr
        assert 'site-b mistral           up' in status.stdout

        # site-b keeps working: Heat and Mistral.
        name = base.unique('during-disaster')
        created = base.cli_json('site-b', 'stack', 'create', '--wait', '-t',
                                template(RANDOM_STRING), name)
        assert created['stack_status'] == 'CREATE_COMPLETE'
        base.cli('site-b', 'stack', 'delete', '--yes', '--wait', name)
        only_b = base.wait_execution(base.start_execution(
            'rescuer_sites.check_v1', {'sites': ['site-b']}))
        assert only_b['state'] == 'SUCCESS'
        both = base.wait_execution(base.start_execution(
            'rescuer_sites.check_v1'))
        assert both['state'] == 'ERROR'
        assert both['output']['error'].startswith(
            'ListStacksAction: site site-a does not answer')

        # With site-a's control plane dead, site-b's Cinder takes the
        # replica over (manage-existing): the data of the replication point.
        managed = base.cli_json(
            'site-b-admin', 'volume', 'create', '--remote-source',
            'source-name=from-site-a/volume-%s' % volume, '--host',
            'site-b@lab#lab', '--non-bootable', base.unique('takeover'))['id']
        base.wait_volume('site-b-admin', managed)
        assert base.tags('site-b', managed) == ['replicated']

        # The DR site still holds site-a's last capture, and can render
        # the recovery stack from it without site-a.
        registry = sites.Registry.load(base.lab_env()['RESCUER_SITES_FILE'])
        document, skipped = store.DirectoryStore(registry.store_dir).latest(
            group)
        assert (document['capture_id'], skipped) == (capture_id, [])
        text = render.render(document, protection.merged_mappings(
            registry.get('site-b')), 'keep', 'site-b')
        assert 'OS::Nova::Server' in text
    finally:
        base.rescuer_lab('recover', 'site-a')
        if managed:
            base.delete_volume('site-b-admin', managed)

    assert base.rescuer_lab('status', check=False).returncode == 0
    # Recovered on its surviving databases: the workload is all there.
    assert _stack_state(stack) == (
        'CREATE_COMPLETE', {'function': 'ACTIVE', 'client': 'ACTIVE'},
        {'boot_volume': 'in-use', 'data_volume': 'in-use'})
    assert base.tags('site-a', volume) == ['replicated', 'not-yet-replicated']
