"""Property-based tests (hypothesis) of what reads untrusted documents:
the capture verifier, the group definition check, backup records and the
store reading files - they refuse with Rescuer's own error, never crash -
and the renderer, which must carry any captured text into the recovery
template as a plain string: no YAML, Jinja2 or HOT injection."""

import copy
import json

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import pytest
import yaml

from rescuer import backups
from rescuer import capture
from rescuer import exceptions
from rescuer import groups
from rescuer import render
from rescuer import store
from tests.unit import test_render
from tests.unit import test_store

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(max_size=10), inner, max_size=4),
    max_leaves=20)
# Text a captured name or description may hold, with what would break
# out of a YAML scalar, a Jinja2 expression or a HOT intrinsic.
NASTY = st.text(max_size=60) | st.sampled_from([
    '{{ 7 * 7 }}', '{% raw %}', '"\n  evil: true', "': x", '!!python/object',
    '{get_param: standby_level}', '\\', '\x00', '\u2028', '# comment',
    '- [1, 2]', '*alias', '&anchor x', '{"get_file": "/etc/passwd"}'])


@pytest.mark.parametrize('check, error', [
    (capture.verify, exceptions.InvalidCapture),
    (groups.check, exceptions.InvalidGroup)], ids=['capture', 'definition'])
@settings(max_examples=200, deadline=None)
@given(document=JSON)
def test_any_other_document_is_refused_cleanly(check, error, document):
    with pytest.raises(error):
        check(document)


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_backup_records_that_do_not_decode_are_refused_cleanly(record):
    try:
        fields = backups.record_fields(record)
    except exceptions.InvalidCapture:
        return
    assert set(fields) == {'id', 'parent_id', 'created_at',
                           'data_timestamp'}


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_the_store_skips_any_corrupt_capture_file(tmp_path_factory, junk):
    root = tmp_path_factory.mktemp('store')
    kept = store.DirectoryStore(root)
    kept.save(test_store._document(cid='good',
                                   at='2026-11-26T07:00:00+00:00'))
    (root / 'g1' / '20261126T080000p0000-junk.json').write_bytes(junk)
    document, skipped = kept.latest('g1')
    assert document['capture_id'] == 'good'
    assert len(skipped) == 1


@settings(max_examples=150, deadline=None)
@given(network=NASTY, description=NASTY, server=NASTY, volume=NASTY)
def test_captured_text_reaches_the_template_as_plain_strings(
        network, description, server, volume):
    document = copy.deepcopy(test_render._capture('vnf-site'))
    plain = yaml.safe_load(render.render(document, test_render.LAB,
                                         'keep', 'site-b'))
    document['networks'][0]['name'] = network
    document['security_groups'][0]['description'] = description
    for item in document['servers']:
        item['name'] = server
    for item in document['volumes']:
        item['name'] = volume
        item['description'] = volume
    rendered = yaml.safe_load(render.render(document, test_render.LAB,
                                            'keep', 'site-b'))
    # The same resources of the same types, nothing added anywhere...
    assert set(rendered) == set(plain)
    assert {k: v['type'] for k, v in rendered['resources'].items()} == {
        k: v['type'] for k, v in plain['resources'].items()}
    assert rendered['parameters'] == plain['parameters']
    # ...and the text is there, whole, as a string.
    assert rendered['resources']['net']['properties']['name'] == network
    assert rendered['resources']['sg']['properties'][
        'description'] == description


def test_the_nasty_strings_survive_json_and_yaml_round_trips():
    # The renderer writes values as JSON strings, which YAML reads back
    # as the same text: the property above relies on it.
    for text in ('"\n  evil: true', '\u2028', '{{ x }}', '\x00'):
        assert yaml.safe_load('v: %s' % json.dumps(text))['v'] == text
