"""Sphinx directive: a Heat resource type's reference, from its schema.

``.. rescuer-resource:: OS::Rescuer::ProtectionGroup`` imports the plugin
class and renders its docstring, properties (type, required, default,
updatable, constraints, nested keys) and attributes - so the reference
cannot drift from the code.
"""

import importlib
import inspect

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils import statemachine

from heat.engine import properties as heat_properties

RESOURCES = {
    'OS::Rescuer::ProtectionGroup':
        'rescuer_heat.resources.protection_group:ProtectionGroup',
    'OS::Rescuer::ReplicatedVolume':
        'rescuer_heat.resources.replicated_volume:ReplicatedVolume',
    'OS::Rescuer::StandbyStack':
        'rescuer_heat.resources.standby_stack:StandbyStack',
    'OS::Rescuer::SiteInfo': 'rescuer_heat.resources.site_info:SiteInfo',
}


def _load(type_name):
    module, _, name = RESOURCES[type_name].partition(':')
    return getattr(importlib.import_module(module), name)


def _constraints(schema):
    return '; '.join(str(c) for c in schema.constraints)


def _property_lines(name, schema, indent=''):
    facts = [schema.type]
    facts.append('required' if schema.required else 'optional')
    if schema.default is not None and schema.type != 'Map':
        facts.append('default %r' % (schema.default,))
    if schema.update_allowed:
        facts.append('updatable')
    constraints = _constraints(schema)
    if constraints:
        facts.append(constraints)
    lines = ['%s``%s`` (%s)' % (indent, name, ', '.join(facts)),
             '%s    %s' % (indent, schema.description or ''), '']
    nested = schema.schema
    if isinstance(nested, dict):
        for key in sorted(nested):
            lines += _property_lines(key, nested[key], indent + '    ')
    return lines


def _rst(type_name):
    cls = _load(type_name)
    lines = [type_name, '-' * len(type_name), '']
    lines += inspect.cleandoc(cls.__doc__ or '').splitlines() + ['']
    lines += ['Properties', '~' * 10, '']
    schemata = heat_properties.schemata(cls.properties_schema)
    for name in cls.PROPERTIES:
        lines += _property_lines(name, schemata[name])
    lines += ['Attributes', '~' * 10, '']
    for name in cls.ATTRIBUTES:
        schema = cls.attributes_schema[name]
        lines += ['``%s`` (%s)' % (name, schema.type or 'any'),
                  '    %s' % schema.description, '']
    return lines


class RescuerResource(Directive):
    required_arguments = 1

    def run(self):
        lines = _rst(self.arguments[0])
        content = statemachine.StringList(lines, source=self.arguments[0])
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(content, 0, node, match_titles=True)
        return node.children


def setup(app):
    app.add_directive('rescuer-resource', RescuerResource)
    return {'parallel_read_safe': True}
