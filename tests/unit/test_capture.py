"""capture_stack against canned API answers: which calls, what is kept.
(The lab proves the same against the real services.)"""

import json
import types
import urllib.parse

import pytest
from keystoneauth1 import exceptions as ks_exc

from rescuer import capture
from rescuer import exceptions
from rescuer import render
from tests.unit import test_render

SITE = types.SimpleNamespace(name='site-a', region='RegionA')


class FakeSession:
    """Answers GETs from ``answers`` ({path: {key: records}}) as the
    services do: Neutron's ``?field=a&field=b`` and Glance's ``id=in:a,b``
    filters, and pages of ``limit`` from ``marker`` or ``offset``, the next
    one linked when a page is full (Nova, Cinder) or named (Glance)."""

    def __init__(self, answers):
        self.answers = answers
        self.paths = []

    def get(self, path, endpoint_filter=None, headers=None):
        self.paths.append((endpoint_filter['service_type'], path))
        base_path, _, query = path.partition('?')
        if base_path not in self.answers:
            raise ks_exc.NotFound()
        wanted = urllib.parse.parse_qs(query)
        limit = int(wanted.pop('limit', ['0'])[0])
        marker = wanted.pop('marker', [None])[0]
        offset = int(wanted.pop('offset', ['0'])[0])
        for field, values in list(wanted.items()):
            if values[0].startswith('in:'):
                wanted[field] = values[0][3:].split(',')
        answer = {}
        for key, records in self.answers[base_path].items():
            if not isinstance(records, list):   # a record, not a list
                answer[key] = records
                continue
            records = [r for r in records
                       if all(r.get(f) in v for f, v in wanted.items())]
            if marker:
                records = records[[r['id'] for r in records].index(
                    marker) + 1:]
            if limit:
                records = records[offset:offset + limit]
                if len(records) == limit and key == 'images':
                    answer['next'] = '/v2/images?marker=%s' % (
                        records[-1]['id'])
                elif len(records) == limit:
                    answer[key + '_links'] = [{'rel': 'next',
                                               'href': 'http://x/next'}]
            answer[key] = records
        return types.SimpleNamespace(json=lambda: answer)


def _answers(ports=1):
    port_list = [{'id': 'p%d' % i, 'device_id': 'srv' if i == 0 else '',
                  'network_id': 'net', 'fixed_ips': [],
                  'mac_address': 'fa:16:3e:00:00:%02x' % (i % 256),
                  'security_groups': ['sg']} for i in range(ports)]
    resources = ([{'resource_name': 'vm', 'resource_type': 'OS::Nova::Server',
                   'physical_resource_id': 'srv',
                   'resource_status': 'CREATE_COMPLETE'}] +
                 [{'resource_name': 'port%d' % i,
                   'resource_type': 'OS::Neutron::Port',
                   'physical_resource_id': 'p%d' % i,
                   'resource_status': 'CREATE_COMPLETE'}
                  for i in range(ports)])
    return {
        '/stacks/st': {'stack': {'id': 'st', 'stack_name': 'vnf',
                                 'stack_status': 'CREATE_COMPLETE',
                                 'parameters': {'pw': 's3cret',
                                                'flavor': 'm1'}}},
        '/stacks/vnf/st/template': {'parameters': {'pw': {'hidden': True}}},
        '/stacks/vnf/st/resources': {'resources': resources},
        '/servers/detail': {'servers': [
            {'id': 'srv', 'flavor': {'id': 'f1'}, 'image': {'id': 'i1'},
             'adminPass': 'nope', 'user_data': 'c2VjcmV0',
             'metadata': {'role': 'x'}},
            {'id': 'other', 'flavor': {'id': 'f1'}, 'image': ''}]},
        '/v2.0/ports': {'ports': port_list},
        '/v2.0/floatingips': {'floatingips': []},
        '/flavors/detail': {'flavors': [{'id': 'f1', 'name': 'm1'}]},
        '/v2/images': {'images': [{'id': 'i1', 'name': 'img'},
                                  {'id': 'i2', 'name': 'unused'}]},
        '/v2.0/networks': {'networks': [{'id': 'net', 'name': 'n'},
                                        {'id': 'x', 'name': 'other'}]},
        '/v2.0/subnets': {'subnets': [{
            'id': 's', 'network_id': 'net', 'cidr': '10.0.0.0/24',
            'ip_version': 4, 'gateway_ip': None, 'enable_dhcp': False,
            'allocation_pools': []}]},
        '/v2.0/security-groups': {'security_groups': [
            {'id': 'sg', 'name': 'web', 'security_group_rules': []},
            {'id': 'sg2', 'name': 'unused', 'security_group_rules': []}]},
        '/os-server-groups': {'server_groups': []},
        '/volumes/detail': {'volumes': []},
        '/v2.0/sfc/port_pairs': {'port_pairs': []},
        '/v2.0/sfc/port_pair_groups': {'port_pair_groups': []},
        '/v2.0/sfc/port_chains': {'port_chains': []},
        '/v2.0/sfc/flow_classifiers': {'flow_classifiers': []},
    }


def test_capture_keeps_members_drops_secrets_and_checksums():
    document = capture.capture_stack(FakeSession(_answers()), SITE, 'st',
                                     group='g')
    assert [s['id'] for s in document['servers']] == ['srv']
    assert 'adminPass' not in document['servers'][0]
    assert 'user_data' not in document['servers'][0]
    # Whether it has user data is kept, never the data.
    assert document['servers'][0]['has_user_data'] is True
    assert document['servers'][0]['metadata'] == {'role': 'x'}
    assert document['stack']['parameters'] == {'flavor': 'm1'}
    assert [n['id'] for n in document['networks']] == ['net']
    assert document['images'] == [{'id': 'i1', 'name': 'img',
                                   'checksum': None, 'disk_format': None}]
    assert capture.verify(document) is document


def test_call_count_grows_by_one_call_per_chunk_of_members():
    small = FakeSession(_answers(ports=1))
    large = FakeSession(_answers(ports=300))
    one = capture.capture_stack(small, SITE, 'st')
    many = capture.capture_stack(large, SITE, 'st')
    assert len(many['ports']) == 300
    assert one['api_calls'] == len(small.paths) == 18
    # 300 ports: 6 calls for the ports by id and 6 for their floating IPs
    # instead of 1 each.
    assert many['api_calls'] == len(large.paths) == 18 + 2 * 5
    assert ('network', '/v2.0/ports?id=p0') in small.paths


def test_neutron_lists_only_the_groups_records():
    answers = _answers()
    answers['/v2.0/ports']['ports'].append(
        {'id': 'elsewhere', 'device_id': 'other', 'network_id': 'x',
         'fixed_ips': []})
    session = FakeSession(answers)
    document = capture.capture_stack(session, SITE, 'st')
    assert [p['id'] for p in document['ports']] == ['p0']
    assert [n['id'] for n in document['networks']] == ['net']
    assert ('network', '/v2.0/ports') not in session.paths
    assert ('network', '/v2.0/networks?id=net') in session.paths
    assert ('network', '/v2.0/subnets?network_id=net') in session.paths


def test_security_groups_are_only_the_members_ports_groups():
    document = capture.capture_stack(FakeSession(_answers()), SITE, 'st')
    assert [g['id'] for g in document['security_groups']] == ['sg']


def test_nova_and_cinder_lists_are_read_to_their_last_page(
        monkeypatch):
    monkeypatch.setattr(capture, 'PAGE_LIMIT', 2)
    answers = _answers()
    # The member server, its image and its volume are on the third page.
    others = [{'id': 'o%d' % i, 'flavor': {'id': 'f1'}, 'image': ''}
              for i in range(4)]
    answers['/servers/detail']['servers'] = (
        others + answers['/servers/detail']['servers'])
    answers['/volumes/detail']['volumes'] = [
        {'id': 'v%d' % i, 'attachments': []} for i in range(4)] + [
        {'id': 'vm-disk', 'attachments': [{'server_id': 'srv'}]}]
    session = FakeSession(answers)
    document = capture.capture_stack(session, SITE, 'st')
    assert [s['id'] for s in document['servers']] == ['srv']
    assert [v['id'] for v in document['volumes']] == ['vm-disk']
    assert ('compute', '/servers/detail?limit=2&marker=o3') in session.paths
    assert ('volumev3', '/volumes/detail?limit=2&marker=v3') in session.paths


def test_images_are_read_to_glances_last_page(monkeypatch):
    # Glance gives 25 images a page unless asked for more.
    monkeypatch.setattr(capture, 'PAGE_LIMIT', 1)
    answers = _answers()
    answers['/stacks/vnf/st/resources']['resources'].append(
        {'resource_name': 'vm2', 'resource_type': 'OS::Nova::Server',
         'physical_resource_id': 'srv2', 'resource_status': 'CREATE_COMPLETE'})
    answers['/servers/detail']['servers'].append(
        {'id': 'srv2', 'flavor': {'id': 'f1'}, 'image': {'id': 'i2'}})
    session = FakeSession(answers)
    document = capture.capture_stack(session, SITE, 'st')
    assert [i['name'] for i in document['images']] == ['img', 'unused']
    assert ('image', '/v2/images?id=in:i1,i2&limit=1&marker=i1') in (
        session.paths)


def test_a_group_without_servers_or_volumes_reads_neither_service():
    answers = _answers()
    answers['/stacks/vnf/st/resources']['resources'] = [
        r for r in answers['/stacks/vnf/st/resources']['resources']
        if r['resource_type'] == 'OS::Neutron::Port']
    session = FakeSession(answers)
    document = capture.capture_stack(session, SITE, 'st')
    assert document['servers'] == document['volumes'] == []
    assert [p['id'] for p in document['ports']] == ['p0']
    assert {service for service, _ in session.paths} == {
        'orchestration', 'network'}
    assert document['api_calls'] == 18 - 6


def test_missing_stack_is_a_clear_error():
    with pytest.raises(exceptions.NotFound,
                       match='orchestration /stacks/nope: not found at '
                             'site site-a'):
        capture.capture_stack(FakeSession({}), SITE, 'nope')


def test_a_stack_being_deleted_is_not_captured():
    answers = _answers()
    answers['/stacks/st']['stack']['stack_status'] = 'DELETE_IN_PROGRESS'
    with pytest.raises(exceptions.InvalidCapture,
                       match='DELETE_IN_PROGRESS: nothing to capture'):
        capture.capture_stack(FakeSession(answers), SITE, 'st', group='g')


# ------------------------------------------------------------ allow-list

def _junk(record):
    """``record`` with fields no allow-list names, secret or not."""
    return dict(record, adminPass='nope', tenant_id='t', links=[
        {'rel': 'self', 'href': 'http://x'}], token='gAAAAAx',
        created_at='2026-11-26T08:00:00Z')


def _everything():
    """Answers whose records hold every field Rescuer keeps (and junk)."""
    answers = _answers()
    answers['/servers/detail']['servers'][0].update({
        'name': 'vm', 'addresses': {'n': [{'addr': '10.0.0.5',
                                           'version': 4}]},
        'OS-EXT-AZ:availability_zone': 'nova', 'key_name': 'ops',
        'config_drive': 'True', 'OS-DCF:diskConfig': 'AUTO',
        'security_groups': [{'name': 'web'}], 'tags': ['t'],
        'flavor': {'id': 'f1', 'links': [{'rel': 'bookmark'}]},
        'image': {'id': 'i1', 'links': [{'rel': 'bookmark'}]},
        'os-extended-volumes:volumes_attached': [
            {'id': 'v1', 'delete_on_termination': False}],
        'OS-EXT-SRV-ATTR:user_data': 'c2VjcmV0', 'OS-EXT-SRV-ATTR:host': 'h',
        'hostId': 'abc', 'metadata': {'role': 'x', 'password': 'p'}})
    answers['/v2.0/ports']['ports'][0].update({
        'name': 'p', 'fixed_ips': [{'subnet_id': 's',
                                    'ip_address': '10.0.0.5'}],
        'port_security_enabled': True, 'binding:vnic_type': 'direct',
        'allowed_address_pairs': [{'ip_address': '10.0.0.100',
                                   'mac_address': 'fa:16:3e:00:00:99'}],
        'binding:profile': {'pci_slot': '0000:05:00.1'},
        'binding:host_id': 'compute-3', 'admin_state_up': True,
        'device_owner': 'compute:nova', 'status': 'ACTIVE'})
    answers['/v2.0/security-groups']['security_groups'][0][
        'security_group_rules'] = [_junk({
            'id': 'r1', 'direction': 'ingress', 'ethertype': 'IPv4',
            'protocol': 'tcp', 'port_range_min': 22, 'port_range_max': 22,
            'remote_ip_prefix': None, 'remote_group_id': 'sg',
            'security_group_id': 'sg', 'revision_number': 3})]
    answers['/os-server-groups']['server_groups'] = [{
        'id': 'grp', 'name': 'anti', 'members': ['srv'],
        'policy': 'anti-affinity', 'rules': {'max_server_per_host': 1},
        'project_id': 'p', 'user_id': 'u'}]
    answers['/volumes/detail']['volumes'] = [{
        'id': 'v1', 'size': 1, 'bootable': 'true', 'volume_type': 'lab',
        'metadata': {'rescuer_replication': 'backup'},
        'attachments': [{'server_id': 'srv', 'device': '/dev/vda',
                         'attachment_id': 'a1', 'host_name': 'compute-3'}],
        'volume_image_metadata': {'image_name': 'img', 'image_id': 'i1',
                                  'signature_verified': 'False'},
        'os-vol-host-attr:host': 'cinder@lvm', 'user_id': 'u'}]
    for path, lists in answers.items():
        for key, records in lists.items():
            if isinstance(records, list):
                lists[key] = [_junk(r) for r in records]
    answers['/stacks/st']['stack'] = _junk(answers['/stacks/st']['stack'])
    return answers


def _fields(value, spec, where=''):
    """Every field path of ``value`` with no place in ``spec``."""
    if isinstance(spec, capture._Either):
        spec = spec._spec(value) or spec
    if isinstance(spec, capture._Record) and isinstance(value, dict):
        return [p for k, v in value.items() for p in (
            _fields(v, spec.fields[k], '%s.%s' % (where, k))
            if k in spec.fields else ['%s.%s' % (where, k)])]
    if isinstance(spec, capture._List) and isinstance(value, list):
        return [p for i, v in enumerate(value)
                for p in _fields(v, spec.item, '%s[%d]' % (where, i))]
    if isinstance(spec, capture._Map) and isinstance(value, dict):
        return [p for k, v in value.items()
                for p in _fields(v, spec.value, '%s.%s' % (where, k))]
    return []


def test_a_capture_keeps_only_the_fields_of_its_allow_lists():
    document = capture.capture_stack(FakeSession(_everything()), SITE,
                                     'st', group='g')
    assert _fields(document, capture.DOCUMENT) == []
    assert capture.verify(document) is document
    text = json.dumps(document)
    for dropped in ('nope', 'gAAAAAx', 'c2VjcmV0', 'http://x', 'compute-3',
                    'cinder@lvm', '0000:05:00.1', 'tenant_id', 'links',
                    'created_at', 'hostId', 'signature_verified',
                    'revision_number', 'password'):
        assert dropped not in text, dropped
    server, = document['servers']
    assert server == {
        'id': 'srv', 'name': 'vm', 'flavor': {'id': 'f1'},
        'image': {'id': 'i1'},
        'addresses': {'n': [{'addr': '10.0.0.5', 'version': 4}]},
        'metadata': {'role': 'x'}, 'OS-EXT-AZ:availability_zone': 'nova',
        'key_name': 'ops', 'config_drive': 'True',
        'OS-DCF:diskConfig': 'AUTO', 'has_user_data': True,
        'security_groups': [{'name': 'web'}], 'tags': ['t'],
        'os-extended-volumes:volumes_attached': [
            {'id': 'v1', 'delete_on_termination': False}]}
    port = document['ports'][0]
    assert port['allowed_address_pairs'] == [
        {'ip_address': '10.0.0.100', 'mac_address': 'fa:16:3e:00:00:99'}]
    assert (port['port_security_enabled'], port['binding:vnic_type'],
            port['mac_address']) == (True, 'direct', 'fa:16:3e:00:00:00')
    rule, = document['security_groups'][0]['security_group_rules']
    assert rule == {'id': 'r1', 'direction': 'ingress',
                    'ethertype': 'IPv4', 'protocol': 'tcp',
                    'port_range_min': 22, 'port_range_max': 22,
                    'remote_ip_prefix': None, 'remote_group_id': 'sg'}
    assert document['server_groups'] == [{
        'id': 'grp', 'name': 'anti', 'members': ['srv'],
        'policy': 'anti-affinity', 'rules': {'max_server_per_host': 1}}]
    volume, = document['volumes']
    assert volume['attachments'] == [{'server_id': 'srv',
                                      'device': '/dev/vda',
                                      'attachment_id': 'a1'}]
    assert volume['volume_image_metadata'] == {'image_name': 'img',
                                               'image_id': 'i1'}


def test_every_kind_a_capture_holds_has_an_allow_list():
    document = capture.capture_stack(FakeSession(_answers()), SITE, 'st',
                                     group='g')
    kinds = set(document) - {'schema_version', 'capture_id', 'site', 'group',
                             'captured_at', 'api_calls', 'stack',
                             'checksum'}
    assert kinds <= set(capture.KINDS)
    assert set(document) <= set(capture.DOCUMENT.fields)


def test_user_data_is_unknown_when_nova_does_not_show_it():
    answers = _answers()
    del answers['/servers/detail']['servers'][0]['user_data']
    document = capture.capture_stack(FakeSession(answers), SITE, 'st')
    assert document['servers'][0]['has_user_data'] is None
    answers['/servers/detail']['servers'][0][
        'OS-EXT-SRV-ATTR:user_data'] = None
    document = capture.capture_stack(FakeSession(answers), SITE, 'st')
    assert document['servers'][0]['has_user_data'] is False


def test_hidden_parameters_leave_no_default_in_the_captured_template():
    answers = _answers()
    answers['/stacks/vnf/st/template'] = {'parameters': {
        'pw': {'type': 'string', 'hidden': True, 'default': 's3cret'},
        'flavor': {'type': 'string', 'default': 'm1'}}}
    document = capture.capture_stack(FakeSession(answers), SITE, 'st')
    assert document['stack']['template']['parameters'] == {
        'pw': {'type': 'string', 'hidden': True},
        'flavor': {'type': 'string', 'default': 'm1'}}
    assert 's3cret' not in json.dumps(document)


@pytest.mark.parametrize('name, mappings, policy', test_render.CASES,
                         ids=['%s-%s' % (c[0], c[2])
                              for c in test_render.CASES])
def test_the_allow_lists_keep_all_that_recovery_renders(name, mappings,
                                                        policy):
    # The golden captures were taken before the allow-lists: kept by
    # them, they render the very same recovery templates.
    document = capture._kept(test_render._capture(name))
    document['checksum'] = capture.checksum(document)
    capture.verify(document)
    golden = test_render.GOLDEN / ('%s.%s.yaml' % (
        name, 'keep' if policy == 'keep' else 'new-ips'))
    assert render.render(document, mappings, policy,
                         'site-b') == golden.read_text()
