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
    def __init__(self, answers):
        self.answers = answers
        self.paths = []

    def get(self, path, endpoint_filter=None, headers=None):
        self.paths.append((endpoint_filter['service_type'], path))
        if path in self.answers:
            return types.SimpleNamespace(json=lambda: self.answers[path])
        # Neutron's filters: ?field=a&field=b keeps the records whose field
        # is a or b.
        base_path, _, query = path.partition('?')
        if not query or base_path not in self.answers:
            raise ks_exc.NotFound()
        wanted = urllib.parse.parse_qs(query)
        answer = {key: [r for r in records
                        if all(r.get(f) in v for f, v in wanted.items())]
                  for key, records in self.answers[base_path].items()}
        return types.SimpleNamespace(json=lambda: answer)


def _answers(ports=1):
    port_list = [{'id': 'p%d' % i, 'device_id': 'srv' if i == 0 else '',
                  'network_id': 'net', 'fixed_ips': []} for i in range(ports)]
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
        '/v2/images?id=in:i1': {'images': [{'id': 'i1', 'name': 'img'}]},
        '/v2.0/networks': {'networks': [{'id': 'net', 'name': 'n'},
                                        {'id': 'x', 'name': 'other'}]},
        '/v2.0/subnets': {'subnets': [{'id': 's', 'network_id': 'net'}]},
        '/v2.0/security-groups': {'security_groups': []},
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
