"""capture_stack against canned API answers: which calls, what is kept.
(The lab proves the same against the real services.)"""

import types
import urllib.parse

import pytest
from keystoneauth1 import exceptions as ks_exc

from rescuer import capture
from rescuer import exceptions

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
        '/v2.0/subnets': {'subnets': [{'id': 's', 'network_id': 'net'}]},
        '/v2.0/security-groups': {'security_groups': [
            {'id': 'sg', 'name': 'web'}, {'id': 'sg2', 'name': 'unused'}]},
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
