"""Resource names the primary's Heat accepts (anything but ``/``) reach
the recovery template only as safe names, and a rendering that is not
exactly its model's is refused (issue #28: a resource name holding a
newline and HOT added a resource of its author's choosing to the
recovery stack, which Rescuer's admin credential would create)."""

import collections
import copy
import json
import random
import re

from heat.common import template_format
from heat.engine import function
from heat.tests import common
from heat.tests import utils
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import jinja2
import pytest
import yaml

from rescuer import exceptions
from rescuer import render
from tests.unit import test_render

SAFE = re.compile(r'^[A-Za-z0-9_-]+$')
# Written bare under the old templates, this one name added the resource
# ``evil`` (a server) and kept the port chain it replaced.
EVIL = ('evil: {type: OS::Nova::Server, properties: {flavor: m1.huge, '
        'image: cirros}}\n  chain')
HOSTILE = {
    'vnf-site': {
        'chain': EVIL,
        'net': 'net\nx: 1',
        'subnet': 'sub:net',
        'sg': 'it\'s "sg"',
        'client_port': '{port}',
        'ingress_port': '# comment',
        'egress_port': '---',
        'classifier': '...',
        'port_pair': '{{ 7 * 7 }}{% raw %}',
        'port_pair_group': 'gr\u00fcppe-\u7ec4-\U0001F600',
        'function': '',
        'client': 'yes',
        'boot_volume': 'x' * 300,
        'data_volume': '- [1, 2]\n---\n!!python/object:os.system',
    },
    'multi': {
        'mgmt': 'null', 'data': '2021-04-16', 'mgmt_subnet': '1_000',
        'data_subnet': '-data', 'web': 'web\u2028x', 'vm1_mgmt': '&a *a',
        'vm1_data': 'a/b', 'vm2_mgmt': 'vm2 mgmt\t\r', 'anti': '"\n  evil:',
        'vm1': 'vm1\x00', 'vm2': 'vm2\ufeff', 'vm1_fip': '%s\ud800',
        'db_data': 'db data', 'logs': '{get_param: standby_level}',
    },
}
MAPPINGS = {'vnf-site': test_render.LAB, 'multi': test_render.MULTI}


def _capture(case, names=None):
    document = copy.deepcopy(test_render._capture(case))
    names = HOSTILE[case] if names is None else names
    for resource in document['resources']:
        resource['name'] = names.get(resource['name'], resource['name'])
    return document


def _render(document, case):
    return render.render(document, MAPPINGS[case], 'keep', 'site-b')


def _references(node):
    """get_resource targets in ``node``."""
    if isinstance(node, list):
        return [t for item in node for t in _references(item)]
    if isinstance(node, dict):
        if list(node) == ['get_resource']:
            return [node['get_resource']]
        return [t for value in node.values() for t in _references(value)]
    return []


def _shape(template):
    """The template up to its resource names: each resource's type with
    the types of what it refers to."""
    resources = template['resources']
    return sorted(
        (body['type'], sorted(resources[t]['type'] for t in
                              _references(body) + _depends_on(body)))
        for body in resources.values())


def _depends_on(body):
    value = body.get('depends_on') or []
    return value if isinstance(value, list) else [value]


def _original(body):
    description = body['description']
    prefix = "renamed from the primary stack's resource "
    assert description.startswith(prefix)
    return json.loads(description[len(prefix):])


def _check(text, plain, names):
    """``text`` has exactly the resources of the ``plain`` rendering, up
    to their names, every one safe and every reference resolving; the
    renamed ones name their primary's resource in their description."""
    template = yaml.safe_load(text)
    resources = template['resources']
    assert len(resources) == len(plain['resources'])
    assert collections.Counter(r['type'] for r in resources.values()) == \
        collections.Counter(r['type'] for r in plain['resources'].values())
    assert all(SAFE.match(name) for name in resources)
    for body in resources.values():
        for target in _references(body) + _depends_on(body):
            assert target in resources
    assert _shape(template) == _shape(plain)
    # The same parameters (but for the replicated volumes' names), the
    # same conditions and outputs.
    for section in ('parameters', 'conditions'):
        assert len(template[section]) == len(plain[section])
    assert {p for p in template['parameters']
            if not p.startswith('promoted_')} == {
        p for p in plain['parameters'] if not p.startswith('promoted_')}
    assert set(template['outputs']) == set(plain['outputs'])
    # A renamed resource names its primary's one, as data.
    originals = {_original(body) for body in resources.values()
                 if 'description' in body}
    assert originals <= set(names)
    assert {n for n in names if not render.is_safe_name(
        n, render.MAX_RESOURCE_NAME)} <= originals
    return template


@pytest.mark.parametrize('case', sorted(HOSTILE))
def test_hostile_names_cannot_add_resources(case):
    plain = yaml.safe_load(_render(_capture(case, {}), case))
    text = _render(_capture(case), case)
    template = _check(text, plain, HOSTILE[case].values())
    # Every hostile name was renamed (none is safe as it stands); the
    # renamed ones keep their safe characters.
    assert not set(template['resources']) & set(HOSTILE[case].values())
    assert 'evil' not in template['resources']
    if case == 'vnf-site':
        chain, = [n for n, r in template['resources'].items()
                  if r['type'] == 'OS::Neutron::PortChain']
        assert chain.startswith('evil_type_OS_Nova_Server_')
        assert _original(template['resources'][chain]) == EVIL
        servers = [r for r in template['resources'].values()
                   if r['type'] == 'OS::Nova::Server']
        assert len(servers) == 2


def test_the_injection_the_issue_reports():
    text = _render(_capture('vnf-site', {'chain': EVIL}), 'vnf-site')
    resources = yaml.safe_load(text)['resources']
    assert 'evil' not in resources
    assert [r['type'] for r in resources.values()].count(
        'OS::Nova::Server') == 2
    assert '\n  evil:' not in text


def test_renaming_is_deterministic_and_keeps_safe_names():
    document = _capture('vnf-site')
    text = _render(document, 'vnf-site')
    assert _render(copy.deepcopy(document), 'vnf-site') == text
    # ...whatever the order Heat listed the resources in.
    random.Random(28).shuffle(document['resources'])
    assert _render(document, 'vnf-site') == text
    # Safe names are the primary's own, as before.
    assert render.safe_name('client_port') == 'client_port'
    assert render.safe_name('web-1') == 'web-1'


@pytest.mark.parametrize('name', [
    '', ' ', 'a b', 'a.b', 'yes', 'No', 'null', '~', '1', '0x1f', '1_000',
    '2021-04-16', '-x', '-', '.inf', 'x' * 256, 'a\nb', '\u00e9t\u00e9',
    '12:30'])
def test_unsafe_names_get_a_safe_one(name):
    renamed = render.safe_name(name)
    assert renamed != name
    assert SAFE.match(renamed) and renamed[0].isalpha()
    assert yaml.safe_load('%s: [%s]' % (renamed, renamed)) == {
        renamed: [renamed]}
    assert len(renamed) <= 64


def test_hostile_names_never_take_a_safe_name_or_each_other():
    # One name renamed as the other would be, taken literally; and two
    # names that keep the same safe characters.
    squatter = render.safe_name('data volume')
    names = {'data_volume': 'data volume', 'boot_volume': squatter,
             'client': 'a.b', 'function': 'a b', 'net': 'client_port',
             'client_port': 'client_port'}
    plain = yaml.safe_load(_render(_capture('vnf-site', {}), 'vnf-site'))
    text = _render(_capture('vnf-site', names), 'vnf-site')
    template = _check(text, plain, names.values())
    resources = template['resources']
    assert squatter in resources and 'description' not in resources[
        squatter]
    volume, = [n for n, r in resources.items()
               if r['type'] == 'OS::Cinder::Volume' and n != squatter]
    assert _original(resources[volume]) == 'data volume'
    alike = sorted(_original(r) for r in resources.values()
                   if r['type'] == 'OS::Nova::Server')
    assert alike == ['a b', 'a.b']
    # Two resources of one name (in nested stacks, say) stay two.
    net, = [n for n, r in resources.items()
            if r['type'] == 'OS::Neutron::Net']
    assert resources['client_port']['type'] == 'OS::Neutron::Port'
    assert net != 'client_port'
    assert _original(resources[net]) == 'client_port'


def test_a_name_like_a_derived_one_keeps_it():
    # The attachment's name is made from its volume's and server's.
    text = _render(_capture('vnf-site', {'sg': 'data_volume_on_client'}),
                   'vnf-site')
    resources = yaml.safe_load(text)['resources']
    assert resources['data_volume_on_client']['type'] == \
        'OS::Neutron::SecurityGroup'
    attachment, = [n for n, r in resources.items()
                   if r['type'] == 'OS::Cinder::VolumeAttachment']
    assert attachment.startswith('data_volume_on_client_')


def test_names_that_read_alike_get_parameters_of_their_own():
    document = _capture('multi', {})
    document['flavors'].append({'id': 'f-alike', 'name': 'vnf-large'})
    document['servers'][1]['flavor'] = {'id': 'f-alike'}
    mappings = dict(MAPPINGS['multi'], flavors=dict(
        MAPPINGS['multi']['flavors'], **{'vnf-large': 'dr.alike'}))
    template = yaml.safe_load(render.render(document, mappings, 'keep',
                                            'site-b'))
    flavor = {name: template['parameters'][r['properties']['flavor'][
        'get_param']]['default'] for name, r in template['resources'].items()
        if r['type'] == 'OS::Nova::Server'}
    assert sorted(flavor.values()) == ['dr.alike', 'dr.large']


# (b) Any names at all.

NAMES = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec='utf-8'), min_size=250,
            max_size=300),
    st.from_regex(r'[A-Za-z0-9_-]{1,12}', fullmatch=True),
    st.sampled_from(list(HOSTILE['vnf-site'].values()) +
                    list(HOSTILE['multi'].values()) +
                    ['data_volume_on_client', 'net_0', 'port_0']))


@pytest.mark.parametrize('case', sorted(HOSTILE))
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_any_resource_names_render_safely(case, data):
    originals = sorted(HOSTILE[case])
    names = data.draw(st.lists(NAMES, min_size=len(originals),
                               max_size=len(originals)))
    plain = yaml.safe_load(_render(_capture(case, {}), case))
    document = _capture(case, dict(zip(originals, names)))
    _check(_render(document, case), plain, names)


@settings(max_examples=300, deadline=None)
@given(st.lists(NAMES, max_size=12))
def test_names_are_safe_and_unique(names):
    resources = [{'name': n, 'type': 'OS::Neutron::Net',
                  'physical_id': 'id-%d' % i} for i, n in enumerate(names)]
    given_names = render._Names(resources)
    chosen = [given_names('net', 'id-%d' % i) for i in range(len(names))]
    assert len(set(chosen)) == len(chosen)
    for name, original in zip(chosen, names):
        assert SAFE.match(name) and render.is_safe_name(name)
        assert name == original or given_names.renamed[name] == original


# (c) The rendering is checked against its model.

def _tampered(monkeypatch, partial, edit):
    """Render with ``partial`` replaced by ``edit(its text)``."""
    real = render._environment
    text = (render.TEMPLATES / partial).read_text()

    def environment(path=None):
        env = real(path)
        env.loader = jinja2.ChoiceLoader([
            jinja2.DictLoader({partial: edit(text)}), env.loader])
        return env
    monkeypatch.setattr(render, '_environment', environment)


@pytest.mark.parametrize('partial, edit, message', [
    ('partials/port_chain.j2',
     lambda t: t + '\n  evil:\n    type: OS::Nova::Server\n',
     r"holds resource 'evil' \(OS::Nova::Server\), which its model does "
     r"not: refused"),
    ('partials/port_chain.j2',
     lambda t: t.replace('OS::Neutron::PortChain', 'OS::Nova::Server'),
     r"resource 'chain' of the rendered template is 'OS::Nova::Server'; "
     r"its model has a OS::Neutron::PortChain"),
    ('partials/port_chain.j2', lambda t: '',
     r"lacks resources 'chain' of its model"),
    ('partials/port_chain.j2',
     lambda t: t + '\n  net:\n    type: OS::Neutron::Net\n',
     r"found the key 'net' twice"),
    ('partials/port_pair.j2',
     lambda t: t.replace('{{ r.ingress | hot_ref }}',
                         '{get_resource: nowhere}'),
     r"resource 'port_pair' of the rendered template refers to resource "
     r"'nowhere', which it does not hold"),
    ('partials/port_pair.j2',
     lambda t: t.replace('depends_on: {{ r.server | hot_name }}',
                         'depends_on: [function, ghost]'),
     r"refers to resource 'ghost'"),
    ('partials/volume.j2',
     lambda t: t.replace('{{ r.condition | hot_name }}', 'sometimes'),
     r"refers to condition 'sometimes'"),
    ('recovery.yaml.j2',
     lambda t: t.replace('outputs:\n', 'outputs:\n  secret:\n    value: 1\n'),
     r"has outputs 'capture_id', 'captured_at', 'dr_ids', 'secret'"),
    ('recovery.yaml.j2',
     lambda t: t.replace('parameters:\n', 'parameters:\n  extra: '
                         '{type: string}\n', 1),
     r"has parameters 'extra'"),
    ('recovery.yaml.j2',
     lambda t: t + '\nparameter_groups: []\n',
     r"has sections .*'parameter_groups'"),
    ('partials/server.j2',
     lambda t: t.replace('    properties:\n',
                         '    external_id: 0a1b2c\n    properties:\n'),
     r"resource 'client' of the rendered template has 'external_id', "
     r"which a recovery template never writes"),
], ids=['extra-resource', 'other-type', 'missing-resource', 'duplicate-key',
        'dangling-get_resource', 'dangling-depends_on', 'unknown-condition',
        'extra-output', 'extra-parameter', 'extra-section', 'adoption'])
def test_a_rendering_that_is_not_its_models_is_refused(
        monkeypatch, partial, edit, message):
    _tampered(monkeypatch, partial, edit)
    with pytest.raises(exceptions.InvalidTemplate, match=message):
        _render(_capture('vnf-site', {}), 'vnf-site')


def test_the_check_runs_on_the_model_path_too(monkeypatch):
    # sync.recovery_template renders a model it keeps: render_model.
    _tampered(monkeypatch, 'partials/network.j2',
              lambda t: t + '\n  evil:\n    type: OS::Heat::Stack\n')
    data = render.model(_capture('vnf-site', {}), test_render.LAB, 'keep',
                        'site-b')
    with pytest.raises(exceptions.InvalidTemplate, match="'evil'"):
        render.render_model(data)


def test_a_model_with_an_unsafe_or_repeated_name_is_refused():
    data = render.model(_capture('vnf-site', {}), test_render.LAB, 'keep',
                        'site-b')
    bad = copy.deepcopy(data)
    bad['networks'][0]['name'] = 'net\nevil: {}'
    with pytest.raises(exceptions.InvalidTemplate, match='not a safe name'):
        render.render_model(bad)
    bad = copy.deepcopy(data)
    bad['subnets'][0]['name'] = bad['networks'][0]['name']
    with pytest.raises(exceptions.InvalidTemplate,
                       match='two resources named net'):
        render.render_model(bad)


def test_templates_write_nothing_bare_but_checked_names(tmp_path):
    # Every expression of the shipped templates is JSON or a checked name.
    expression = re.compile(r'\{\{(.*?)\}\}', re.S)
    for path in [render.TEMPLATES / render.MAIN] + sorted(
            (render.TEMPLATES / 'partials').glob('*.j2')):
        for found in expression.findall(path.read_text()):
            assert re.search(r'\| (tojson|hot_name|hot_ref) *$', found), (
                path.name, found)
    # ...and the environment refuses any other.
    (tmp_path / 'recovery.yaml.j2').write_text('x: {{ model.group }}\n')
    with pytest.raises(exceptions.InvalidTemplate,
                       match='neither as JSON'):
        render.render(_capture('vnf-site', {}), test_render.LAB,
                      templates=tmp_path)
    (tmp_path / 'recovery.yaml.j2').write_text(
        'x: {{ model.source_site | hot_name }}\n')
    document = dict(_capture('vnf-site', {}), site='a: b')
    with pytest.raises(exceptions.InvalidTemplate,
                       match="'a: b' is not a name safe to write bare"):
        render.render(document, test_render.LAB, templates=tmp_path)


def test_captured_scalars_are_json_too():
    document = _capture('vnf-site', {})
    document['subnets'][0]['ip_version'] = '4\n  evil: 1'
    document['volumes'][0]['size'] = '1}\nevil: {'
    resources = yaml.safe_load(_render(document, 'vnf-site'))['resources']
    assert resources['subnet']['properties']['ip_version'] == '4\n  evil: 1'
    assert '1}\nevil: {' in [r['properties']['size'] for r in
                             resources.values()
                             if r['type'] == 'OS::Cinder::Volume']


# Heat reads the renderings as the check does.

class HeatReadsTheRenderingTest(common.HeatTestCase):

    def _stack(self, text):
        # Standing by active: no condition leaves a resource out.
        return utils.parse_stack(template_format.parse(text), params={
            'parameters': {'standby_level': 'active'}})

    def test_heat_sees_the_models_resources_and_references(self):
        for case in sorted(HOSTILE):
            plain = yaml.safe_load(_render(_capture(case, {}), case))
            text = _render(_capture(case), case)
            stack = self._stack(text)
            definitions = stack.t.resource_definitions(stack)
            self.assertEqual(
                {n: r['type'] for n, r in yaml.safe_load(text)[
                    'resources'].items()},
                {n: d.resource_type for n, d in definitions.items()})
            self.assertEqual(len(plain['resources']), len(definitions))
            for definition in definitions.values():
                self.assertLessEqual(
                    set(definition.required_resource_names()),
                    set(definitions))

    def test_metadata_naming_a_function_stays_data(self):
        document = _capture('vnf-site', {})
        document['servers'][0]['metadata'] = {'get_file': '/etc/passwd'}
        document['servers'][1]['metadata'] = {'get_resource': 'client'}
        stack = self._stack(_render(document, 'vnf-site'))
        template = yaml.safe_load(_render(document, 'vnf-site'))
        resolved = {
            name: function.resolve(stack.t.parse(
                stack, body['properties']['metadata']))
            for name, body in template['resources'].items()
            if body['type'] == 'OS::Nova::Server'}
        self.assertEqual({'client': {'get_file': '/etc/passwd'},
                          'function': {'get_resource': 'client'}}, resolved)
        # Metadata that names no function is written as it is.
        self.assertEqual(
            {'tier': '1'},
            yaml.safe_load(_render(_capture('multi', {}), 'multi'))[
                'resources']['vm1']['properties']['metadata'])


def test_golden_files_keep_their_names():
    # Every name of the reviewed captures is safe: no golden file moves.
    for case in ('vnf-site', 'multi'):
        for resource in test_render._capture(case)['resources']:
            assert render.safe_name(resource['name']) == resource['name']
