"""verify() refuses a capture whose fields are of the wrong type, with
InvalidCapture naming the field - not only a corrupt one: a capture that
passes its checksum but holds a string where Rescuer reads a list (a bug,
an older Rescuer, a hand-edited file) must fail where it is read, never
later inside the renderer or a workflow.

Each document here is re-checksummed after it is changed, so that only
its types are wrong.  The fuzz tests change a golden capture's values to
values of other types: verify() either refuses the capture with
InvalidCapture or accepts it, and then it renders."""

import copy
import json
import random

import pytest

from rescuer import capture
from rescuer import exceptions
from rescuer import render
from rescuer import store
from tests.unit import test_render

try:
    from hypothesis import given
    from hypothesis import settings
    from hypothesis import strategies as st
except ImportError:     # the seeded fuzz test runs all the same
    st = None


def _sealed(document):
    document['checksum'] = capture.checksum(document)
    return document


def _changed(name, change):
    document = copy.deepcopy(test_render._capture(name))
    change(document)
    return _sealed(document)


def _set(path, value):
    """A change setting the field at ``path`` (keys and indexes)."""
    def change(document):
        *parents, last = path
        for key in parents:
            document = document[key]
        document[last] = value
    return change


def _delete(path):
    def change(document):
        *parents, last = path
        for key in parents:
            document = document[key]
        del document[last]
    return change


CASES = [
    ('resources-as-a-string', 'multi', _set(['resources'], 'vm1'),
     'resources is a string, expected a list'),
    ('a-servers-networks-as-an-integer', 'multi',
     _set(['servers', 0, 'addresses'], 5),
     r'servers\[0\]\.addresses is an integer, expected an object or null'),
    ('a-ports-fixed-ips-as-an-object', 'multi',
     _set(['ports', 0, 'fixed_ips'], {'ip_address': '10.1.0.11',
                                      'subnet_id': 's1'}),
     r'ports\[0\]\.fixed_ips is an object, expected a list'),
    ('a-network-name-as-a-list', 'multi',
     _set(['networks', 0, 'name'], ['mgmt-net']),
     r'networks\[0\]\.name is a list, expected a string'),
    ('a-flavor-name-as-a-list', 'multi',
     _set(['flavors', 1, 'name'], ['vnf.small']),
     r'flavors\[1\]\.name is a list, expected a string'),
    ('a-resource-name-as-a-list', 'multi',
     _set(['resources', 2, 'name'], ['mgmt_subnet']),
     r'resources\[2\]\.name is a list, expected a string'),
    ('a-servers-flavor-null', 'multi', _set(['servers', 0, 'flavor'], None),
     r'servers\[0\]\.flavor is null, expected an object'),
    ('an-allocation-pool-null', 'multi',
     _set(['subnets', 0, 'allocation_pools', 0], None),
     r'subnets\[0\]\.allocation_pools\[0\] is null, expected an object'),
    ('a-rule-null', 'multi',
     _set(['security_groups', 0, 'security_group_rules', 1], None),
     r'security_groups\[0\]\.security_group_rules\[1\] is null, '
     r'expected an object'),
    ('an-attachment-null', 'multi',
     _set(['volumes', 0, 'attachments', 0], None),
     r'volumes\[0\]\.attachments\[0\] is null, expected an object'),
    ('a-port-null', 'multi', _set(['ports', 1], None),
     r'ports\[1\] is null, expected an object'),
    ('a-volume-size-as-a-string', 'multi', _set(['volumes', 0, 'size'], '20'),
     r'volumes\[0\]\.size is a string, expected an integer'),
    ('a-volume-size-as-a-boolean', 'multi',
     _set(['volumes', 0, 'size'], True),
     r'volumes\[0\]\.size is a boolean, expected an integer'),
    ('an-ip-version-as-a-string', 'multi',
     _set(['subnets', 1, 'ip_version'], '4'),
     r'subnets\[1\]\.ip_version is a string, expected an integer'),
    ('a-port-range-as-a-string', 'multi',
     _set(['security_groups', 0, 'security_group_rules', 0,
           'port_range_min'], '443'),
     r'security_groups\[0\]\.security_group_rules\[0\]\.port_range_min is '
     r'a string, expected an integer or null'),
    ('metadata-holding-a-number', 'multi',
     _set(['servers', 0, 'metadata', 'tier'], 1),
     r'servers\[0\]\.metadata\.tier is an integer, expected a string'),
    ('replication-metadata-as-a-list', 'multi',
     _set(['volumes', 0, 'metadata'], ['rescuer_replication', 'storage']),
     r'volumes\[0\]\.metadata is a list, expected an object or null'),
    ('server-group-policies-as-a-string', 'multi',
     _set(['server_groups', 0, 'policies'], 'anti-affinity'),
     r'server_groups\[0\]\.policies is a string, expected a list'),
    ('a-floating-ips-port-null', 'multi',
     _set(['floating_ips', 0, 'port_id'], None),
     r'floating_ips\[0\]\.port_id is null, expected a string'),
    ('a-time-that-is-none', 'multi', _set(['captured_at'], 'yesterday'),
     'captured_at is a string, expected an ISO 8601 time'),
    ('a-capture-id-as-a-number', 'multi', _set(['capture_id'], 7),
     'capture_id is an integer, expected a string'),
    ('a-group-as-a-list', 'multi', _set(['group'], ['g-multi']),
     'group is a list, expected a string or null'),
    ('an-image-reference-without-id', 'multi',
     _set(['servers', 0, 'image'], {}),
     r'servers\[0\]\.image has no id'),
    ('a-server-image-as-a-number', 'multi', _set(['servers', 0, 'image'], 1),
     r'servers\[0\]\.image is an integer, expected a string or an object '
     r'or null'),
    ('a-flavor-reference-naming-no-flavor', 'multi',
     _set(['servers', 1, 'flavor'], {'links': []}),
     r'servers\[1\]\.flavor has none of id, original_name'),
    ('a-port-without-mac-address', 'multi',
     _delete(['ports', 0, 'mac_address']),
     r'ports\[0\] has no mac_address'),
    ('a-capture-without-volumes', 'multi', _delete(['volumes']),
     'the capture has no volumes'),
    ('port-chains-null', 'vnf-site', _set(['port_chains'], None),
     'port_chains is null, expected a list'),
    ('a-port-pairs-ingress-as-a-list', 'vnf-site',
     _set(['port_pairs', 0, 'ingress'],
          ['fd95926a-0acc-4373-ad20-593cd411e9a2']),
     r'port_pairs\[0\]\.ingress is a list, expected a string'),
    ('a-port-pair-on-a-port-not-captured', 'vnf-site',
     _set(['port_pairs', 0, 'egress'], 'gone'),
     r'port_pairs\[0\]\.egress names port gone, which the capture does '
     r'not hold'),
    ('a-classifier-on-a-port-not-captured', 'vnf-site',
     _set(['flow_classifiers', 0, 'logical_destination_port'], 'gone'),
     r'flow_classifiers\[0\]\.logical_destination_port names port gone'),
    ('a-chain-of-a-group-not-captured', 'vnf-site',
     _set(['port_chains', 0, 'port_pair_groups'], ['gone']),
     r'port_chains\[0\]\.port_pair_groups names port pair group gone'),
]


@pytest.mark.parametrize('name, change, message',
                         [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_a_capture_of_the_wrong_types_is_refused_clearly(name, change,
                                                         message):
    document = _changed(name, change)
    assert document['checksum'] == capture.checksum(document)
    with pytest.raises(exceptions.InvalidCapture,
                       match='capture .* is malformed: %s' % message):
        capture.verify(document)


@pytest.mark.parametrize('name', ['vnf-site', 'multi'])
def test_the_golden_captures_verify(name):
    document = test_render._capture(name)
    assert capture.verify(document) is document


def test_the_store_skips_a_capture_of_the_wrong_types(tmp_path):
    kept = store.DirectoryStore(tmp_path)
    good = copy.deepcopy(test_render._capture('multi'))
    kept.save(good)
    with pytest.raises(exceptions.InvalidCapture, match='malformed'):
        kept.save(_changed('multi', _set(['resources'], 'vm1')))
    # Written by something else, with a checksum of its own.
    bad = _changed('multi', _set(['ports', 0, 'fixed_ips'], {}))
    bad.update(capture_id='c-bad', captured_at='2026-11-26T09:00:00+00:00')
    path = tmp_path / 'g-multi' / '20261126T090000p0000-c-bad.json'
    path.write_text(json.dumps(_sealed(bad)))
    document, skipped = kept.latest('g-multi')
    assert document['capture_id'] == good['capture_id']
    assert len(skipped) == 1 and 'ports[0].fixed_ips is an object' in (
        skipped[0])


# ----------------------------------------------------------------- fuzz

KINDS = ('null', 'boolean', 'integer', 'number', 'string', 'list', 'object')


def _kind(value):
    for types, kind in ((type(None), 'null'), (bool, 'boolean'),
                        (int, 'integer'), (float, 'number'),
                        (str, 'string'), (list, 'list'), (dict, 'object')):
        if isinstance(value, types):
            return kind


def _paths(value, path=()):
    """Every path (keys and indexes) in ``value``, but its checksum."""
    if path:
        yield path
    if isinstance(value, dict):
        for key in sorted(value):
            if path or key != 'checksum':
                yield from _paths(value[key], path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, path + (index,))


def _mutated(name, pick, value_of, count):
    """The golden capture ``name`` with ``count`` values each changed to
    one of another type (``pick`` chooses from a list, ``value_of`` makes
    a value of a kind), re-checksummed.  A value changed is not changed
    again, nor what it holds: a string made null and then another string
    would be a new value of the same type."""
    document = copy.deepcopy(test_render._capture(name))
    changed = []
    for _ in range(count):
        path = pick([p for p in _paths(document)
                     if not any(p[:len(c)] == c for c in changed)])
        changed.append(path)
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        kind = pick([k for k in KINDS if k != _kind(parent[path[-1]])])
        parent[path[-1]] = value_of(kind)
    return _sealed(document)


def _accepted_then_rendered(document, mappings, policy):
    """True when verify() accepts ``document`` and it renders; False when
    verify() refuses it with InvalidCapture; any other error fails."""
    try:
        capture.verify(document)
    except exceptions.InvalidCapture:
        return False
    render.render(document, mappings, policy, 'site-b')
    return True


def _random_value(rng, kind):
    scalar = [None, True, 0, -1, 2 ** 40, 0.5, '', 'x', '10.0.0.1', '{{ x }}']
    # An object's keys are never a field's name: a random {"id": ...}
    # would be a well-typed reference to nothing the capture holds (an
    # image to map), not a value of the wrong type.
    return {'null': lambda: None, 'boolean': lambda: rng.random() < 0.5,
            'integer': lambda: rng.randint(-5, 70000),
            'number': lambda: rng.uniform(-1e6, 1e6),
            'string': lambda: ''.join(rng.choice('ab-_:. \n{}%"\'') for _ in
                                      range(rng.randint(0, 8))),
            'list': lambda: rng.sample(scalar, rng.randint(0, 3)),
            'object': lambda: {'~%d' % i: rng.choice(scalar)
                               for i in range(rng.randint(0, 3))}}[kind]()


def test_seeded_fuzz_refuses_cleanly_or_renders():
    rng = random.Random(28)
    outcomes = []
    for _ in range(300):
        name, mappings, policy = rng.choice(test_render.CASES)
        document = _mutated(name, rng.choice,
                            lambda kind: _random_value(rng, kind),
                            rng.randint(1, 3))
        outcomes.append(_accepted_then_rendered(document, mappings, policy))
    # Both ends were reached: some changes are of fields Rescuer does not
    # read (or may be null), most are refused.
    assert 0 < outcomes.count(True) < outcomes.count(False)


if st is not None:
    SCALARS = (st.none() | st.booleans() | st.integers() |
               st.floats(allow_nan=False, allow_infinity=False) |
               st.text(max_size=12))
    VALUES = {
        'null': st.none(), 'boolean': st.booleans(), 'integer': st.integers(),
        'number': st.floats(allow_nan=False, allow_infinity=False),
        'string': st.text(max_size=12),
        'list': st.lists(SCALARS, max_size=3),
        # Keys that are no field's name (see _random_value).
        'object': st.dictionaries(st.text(max_size=6).map('~'.__add__),
                                  SCALARS, max_size=3)}

    @settings(max_examples=300, deadline=None)
    @given(case=st.sampled_from(test_render.CASES),
           count=st.integers(1, 3), data=st.data())
    def test_fuzz_refuses_cleanly_or_renders(case, count, data):
        name, mappings, policy = case
        document = _mutated(
            name, lambda items: data.draw(st.sampled_from(items)),
            lambda kind: data.draw(VALUES[kind]), count)
        _accepted_then_rendered(document, mappings, policy)
