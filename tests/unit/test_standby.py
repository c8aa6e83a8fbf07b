import pytest

from rescuer import exceptions
from rescuer import standby

GOOD = '''
heat_template_version: 2021-04-16
parameters:
  standby_level:
    type: string
    constraints: [{allowed_values: [cold, hot, active]}]
'''


def test_template_with_standby_parameter_is_accepted():
    template = standby.check_template(GOOD)
    assert template['parameters']['standby_level']['type'] == 'string'


@pytest.mark.parametrize('text, message', [
    ('heat_template_version: 2021-04-16\n', 'must declare a "standby_level"'),
    ('parameters: {standby_level: {type: string}}\n',
     'heat_template_version is missing'),
    ('heat_template_version: 2021-04-16\nparameters:\n  standby_level:\n'
     '    type: string\n    constraints: [{allowed_values: [cold, hot]}]\n',
     'must allow cold, hot, active'),
    ('- a list\n', 'a HOT template is a mapping'),
    ('{unclosed\n', 'not valid YAML'),
])
def test_unusable_templates_are_refused(text, message):
    with pytest.raises(exceptions.InvalidTemplate, match=message):
        standby.check_template(text)


def test_parameters_carry_the_level_and_refuse_unknown_levels():
    assert standby.parameters('hot', {'image': 'x'}) == {
        'image': 'x', 'standby_level': 'hot'}
    with pytest.raises(exceptions.InvalidTemplate, match='unknown standby'):
        standby.parameters('lukewarm')


@pytest.mark.parametrize('resource_type', [
    'OS::Mistral::Workflow', 'OS::Mistral::CronTrigger',
    'OS::Keystone::RoleAssignment', 'OS::Heat::Stack',
    'OS::Heat::SoftwareDeploymentGroup', 'OS::Rescuer::StandbyStack',
    'https://example.com/nested.yaml', 'nested.yaml', None])
def test_a_standby_template_cannot_make_rescuer_act_further(resource_type):
    template = {'heat_template_version': '2021-04-16',
                'parameters': {'standby_level': {'type': 'string'}},
                'resources': {'ok': {'type': 'OS::Heat::RandomString'},
                              'bad': {'type': resource_type}}}
    with pytest.raises(exceptions.InvalidTemplate,
                       match=r'Rescuer does not create .* bad '):
        standby.check_template(template)
