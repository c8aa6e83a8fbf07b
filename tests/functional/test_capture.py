"""Capture on the lab, run by site-b's Mistral against site-a."""

import json
import pathlib

import pytest

from rescuer import capture
from rescuer import clients
from rescuer import sites
from tests.functional import base

VNF_SITE = str(base.REPO / 'examples' / 'vnf-site.yaml')


def _capture(stack, group, members=None):
    base.record_group(stack, group, members)
    execution = base.wait_execution(base.start_execution(
        'rescuer_dr.capture_v1', {'group': group}), timeout=300)
    assert execution['state'] == 'SUCCESS', execution.get('state_info')
    summary = execution['output']['capture']
    text = pathlib.Path(summary['stored_as']).read_text()
    return summary, text


def _ports_template(count):
    resources = {'net': {'type': 'OS::Neutron::Net'},
                 'subnet': {'type': 'OS::Neutron::Subnet', 'properties': {
                     'network': {'get_resource': 'net'},
                     'cidr': '10.50.0.0/22', 'enable_dhcp': False}}}
    for index in range(count):
        resources['port%d' % index] = {
            'type': 'OS::Neutron::Port', 'depends_on': 'subnet',
            'properties': {'network': {'get_resource': 'net'}}}
    return json.dumps({'heat_template_version': '2021-04-16',
                       'resources': resources})


@pytest.fixture
def vnf_stack():
    name = base.unique('capt')
    base.cli('site-a', 'stack', 'create', '--wait', '-t', VNF_SITE,
             *base.service_port_parameter(),
             name)
    yield name
    base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name)


def test_capture_of_a_vnf_site_is_complete_and_holds_no_secret(vnf_stack):
    summary, text = _capture(vnf_stack, base.unique('group'))
    document = capture.verify(json.loads(text))

    assert summary['counts'] == {
        'resources': 15, 'servers': 2, 'ports': 3, 'networks': 1,
        'subnets': 1, 'volumes': 2,
        'security_groups': len(document['security_groups'])}
    assert document['site'] == 'site-a'
    assert document['stack']['name'] == vnf_stack
    assert {f['name'] for f in document['flavors']} == {'m1.tiny'}
    assert {i['name'] for i in document['images']} == {'lab-image'}
    assert {s['cidr'] for s in document['subnets']} == {'10.20.0.0/24'}
    rules = [r for g in document['security_groups']
             for r in g['security_group_rules'] if r['protocol'] == 'tcp']
    assert any(r['port_range_min'] == 22 for r in rules)
    attached = {a['server_id'] for v in document['volumes']
                for a in v['attachments']}
    assert attached <= {s['id'] for s in document['servers']}

    # No credential of any cloud, and no password-like field.
    for clouds_file in (base.lab_env()['OS_CLIENT_CONFIG_FILE'],
                        str(pathlib.Path(base.lab_env()['RESCUER_SITES_FILE'])
                            .parent / 'clouds.yaml')):
        for line in open(clouds_file):
            if 'password:' in line:
                assert line.split(':', 1)[1].strip() not in text
    # Kept by allow-list: whether a server has user data, never the data.
    assert 'adminPass' not in text and '"user_data"' not in text


def test_capture_calls_grow_by_one_per_50_members_of_a_kind(
        vnf_stack, template):
    small, _ = _capture(vnf_stack, base.unique('small'))
    name = base.unique('many-ports')
    base.cli('site-a', 'stack', 'create', '--wait', '-t',
             template(_ports_template(58), name='ports.json'), name)
    try:
        large, _ = _capture(name, base.unique('large'))
    finally:
        base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name)
    assert large['counts']['ports'] == 58
    assert large['counts']['resources'] == 60
    # Neutron's lists are filtered by the group's ids, 50 a call: the 58
    # ports take 2 calls, and so do their floating IPs; with no server
    # and no volume there is no call for the servers, their ports,
    # flavors, images and server groups, nor for the volumes.
    assert small['api_calls'] == 18
    assert large['api_calls'] == small['api_calls'] - 6 + 2


def test_capture_reads_nova_cinder_and_glance_lists_page_by_page(
        vnf_stack, monkeypatch):
    # One record a page: the capture follows each service's own next page
    # (Nova's servers_links and flavors_links, Cinder's volumes_links,
    # Glance's next) and finds the records a capture of whole pages finds.
    site = sites.Registry.load(
        base.lab_env()['RESCUER_SITES_FILE']).get('site-a')
    session = clients.site_session(site)
    whole = capture.capture_stack(session, site, vnf_stack)
    monkeypatch.setattr(capture, 'PAGE_LIMIT', 1)
    paged = capture.capture_stack(session, site, vnf_stack)
    for kind in ('servers', 'flavors', 'images', 'volumes'):
        assert whole[kind], kind
        assert ([r['id'] for r in paged[kind]] ==
                [r['id'] for r in whole[kind]]), kind
    # A call a record, then an empty page: at least 2 servers, 2 flavors,
    # the members' one image and 2 volumes, 7 calls more.
    assert paged['api_calls'] >= whole['api_calls'] + 7


HOOKS = '''
version: '2.0'
name: rescuer_test_hooks
workflows:
  quiesce_v1:
    input: [group, site]
    tasks:
      quiesce: {action: std.noop}
  resume_v1:
    input: [group, site]
    tasks:
      resume: {action: std.noop}
  reach_further_v1:
    input: [group, site]
    tasks:
      list: {action: rescuer.list_sites}
'''


def _tasks(execution_id):
    sess, endpoint = base.api('site-b', 'workflowv2')
    tasks = sess.get('/executions/%s/tasks' % execution_id,
                     endpoint_filter=endpoint).json()['tasks']
    return {t['name']: t for t in tasks}


def test_consistency_hooks_wrap_the_capture(vnf_stack, template):
    hooks = template(HOOKS, name='rescuer_test_hooks.yaml')
    base.ensure_workbook(pathlib.Path(hooks))
    workflows = {'pre_workflow': 'rescuer_test_hooks.quiesce_v1',
                 'post_workflow': 'rescuer_test_hooks.resume_v1'}
    group = base.record_group(vnf_stack, hooks=workflows)
    execution = base.wait_execution(base.start_execution(
        'rescuer_dr.capture_v1', {'group': group}), timeout=300)
    assert execution['state'] == 'SUCCESS', execution.get('state_info')
    tasks = _tasks(execution['id'])
    assert all(tasks[n]['state'] == 'SUCCESS'
               for n in ('pre_hook', 'capture', 'post_hook'))
    assert tasks['pre_hook']['updated_at'] <= tasks['capture']['created_at']
    assert tasks['capture']['updated_at'] <= tasks['post_hook'][
        'created_at']

    # A failed capture still resumes the workload, then fails clearly.
    group = base.record_group('no-such-stack', hooks=workflows)
    failed = base.wait_execution(base.start_execution(
        'rescuer_dr.capture_v1', {'group': group}), timeout=300)
    assert failed['state'] == 'ERROR'
    assert failed['output']['error'] == (
        'CaptureStackAction: orchestration /stacks/no-such-stack: not found '
        'at site site-a')
    assert _tasks(failed['id'])['resume_then_fail']['state'] == 'SUCCESS'

    # A hook runs inside Rescuer's sync, as its caller: one that runs
    # more than plain std actions is refused before anything runs.
    group = base.record_group(vnf_stack, hooks={
        'pre_workflow': 'rescuer_test_hooks.reach_further_v1'})
    refused = base.wait_execution(base.start_execution(
        'rescuer_dr.capture_v1', {'group': group}), timeout=300)
    assert refused['state'] == 'ERROR'
    assert ('hook workflow rescuer_test_hooks.reach_further_v1 may run '
            'only std.noop') in refused['output']['error']
    assert 'task list runs rescuer.list_sites' in refused['output']['error']
    assert set(_tasks(refused['id'])) == {'start', 'fail_with_error'}
