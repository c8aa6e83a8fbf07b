"""OS::Rescuer::ProtectionGroup validation under Heat's harness, with a
real DR site registry."""

from unittest import mock

import fixtures
from heat.common import exception
from heat.common import template_format
from heat.engine.clients.os import glance
from heat.engine.clients.os import neutron
from heat.engine.clients.os.neutron import neutron_constraints
from heat.engine.clients.os import nova
from heat.engine import resource
from heat.engine import resources
from heat.engine import scheduler
from heat.engine import stack as parser
from heat.engine import template
from heat.objects import resource as resource_objects
from heat.tests import common
from heat.tests import utils

from rescuer import clients
from rescuer import exceptions as rescuer_exc
from rescuer import mistral
from rescuer import sites
from rescuer_heat import constraints
from rescuer_heat.resources import protection_group
from tests.unit import helpers

TEMPLATE = '''
heat_template_version: 2021-04-16
resources:
  vnf:
    type: OS::Nova::Server
    properties:
      image: %(image)s
      flavor: small
  group:
    type: OS::Rescuer::ProtectionGroup
    properties:
      members: %(members)s
      recovery_site: site-b
      placement_rules: {allowed_countries: %(countries)s}
      rpo: 300
      rto: 600
      %(extra)s
'''

# Three groups sharing the first one's network, security group and port:
# group2's port is on group1's network and in its security group, and its
# flow classifier watches group1's port; group3's port is on the network.
SHARED = '''
heat_template_version: 2021-04-16
resources:
  net:
    type: OS::Neutron::Net
    properties: {name: service-net}
  subnet:
    type: OS::Neutron::Subnet
    properties: {network: {get_resource: net}, cidr: 10.40.0.0/24}
  secgroup: {type: OS::Neutron::SecurityGroup}
  config:
    type: OS::Heat::SoftwareConfig
    properties: {config: echo}
  port_a:
    type: OS::Neutron::Port
    properties:
      network: {get_resource: net}
      fixed_ips: [{subnet: {get_resource: subnet}}]
      security_groups: [{get_resource: secgroup}]
  vnf_a:
    type: OS::Nova::Server
    properties:
      image: cirros
      flavor: small
      networks: [{port: {get_resource: port_a}}]
      user_data: {get_resource: config}
  port_b:
    type: OS::Neutron::Port
    properties:
      network: {get_resource: net}
      security_groups: [{get_resource: secgroup}]
  vnf_b:
    type: OS::Nova::Server
    properties:
      image: cirros
      flavor: small
      networks: [{port: {get_resource: port_b}}]
  classifier:
    type: OS::Neutron::FlowClassifier
    properties:
      logical_source_port: {get_resource: port_a}
      protocol: tcp
  port_c:
    type: OS::Neutron::Port
    properties: {network: {get_resource: net}}
  vnf_c:
    type: OS::Nova::Server
    properties:
      image: cirros
      flavor: small
      networks: [{port: {get_resource: port_c}}]
  group1:
    type: OS::Rescuer::ProtectionGroup
    properties:
      members: [net, subnet, secgroup, port_a, vnf_a]
      tier: 1
      recovery_site: site-b
      rpo: 300
      rto: 600
  group2:
    type: OS::Rescuer::ProtectionGroup
    properties:
      members: [port_b, vnf_b, classifier]
      tier: 2
      recovery_site: site-b
      rpo: 300
      rto: 600
  group3:
    type: OS::Rescuer::ProtectionGroup
    properties:
      members: [port_c, vnf_c]
      tier: 3
      mode: cold-standby
      recovery_site: site-b
      rpo: 600
      rto: 1200
'''


class GroupTestCase(common.HeatTestCase):
    """A stack of the project Rescuer protects, site-b in the registry
    and its Mistral stubbed."""

    def setUp(self):
        super().setUp()
        resource._register_class('OS::Rescuer::ProtectionGroup',
                                 protection_group.ProtectionGroup)
        resources.global_env().register_constraint(
            'rescuer.site', constraints.SiteConstraint)
        self.patchobject(glance.ImageConstraint, 'validate_with_client')
        self.patchobject(nova.FlavorConstraint, 'validate_with_client')
        # The project Rescuer protects at the primary: the stack's own.
        self.project_of = self.patchobject(
            protection_group.clients, 'project_of',
            side_effect=lambda session, site: self.stack.context.project_id)
        self.patchobject(protection_group.clients, 'site_session')
        primary = mock.Mock()
        primary.name = 'site-a'
        self.patchobject(protection_group.ProtectionGroup, '_primary_site',
                         return_value=primary)
        directory = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.EnvironmentVariable(
            'RESCUER_SITES_FILE', str(helpers.write_registry(
                directory, sites={'site-b': {
                    'cloud': 'c', 'country': 'FR',
                    'mappings': {'images': {'cirros': 'cirros'},
                                 'flavors': {'small': 'small'}}}}))))

    def _group(self, image='cirros', members='[vnf]', countries='[FR]',
               extra=''):
        self.stack = utils.parse_stack(template_format.parse(TEMPLATE % dict(
            image=image, members=members, countries=countries, extra=extra)))
        return self.stack['group']

    def _invalid(self, group):
        return str(self.assertRaises(exception.StackValidationFailed,
                                     group.validate))

    def _mistral(self, states=('RUNNING', 'SUCCESS')):
        """Mistral at the recovery site, answering the registration."""
        self.patchobject(protection_group.ProtectionGroup, '_primary_site',
                         return_value=sites.Site(
                             name='site-a', cloud='c', region=None,
                             country='DE', role=None, clouds_file=None))
        self.patchobject(clients, 'site_session')
        api = mock.Mock(spec=mistral.MistralAPI)
        api.start_execution.return_value = 'execution-1'
        answers = iter(states)

        def done(execution_id):
            state = next(answers)
            if state == 'ERROR':
                raise rescuer_exc.WorkflowFailed('capture failed at site-a')
            return state == 'SUCCESS'
        api.execution_done.side_effect = done
        api.running_executions.side_effect = [['sync-1'], []]
        self.patchobject(mistral, 'MistralAPI', return_value=api)
        return api


class ProtectionGroupTest(GroupTestCase):

    def test_create_registers_the_group_and_schedules_its_sync(self):
        api = self._mistral()
        group = self._group()
        self.assertIsNone(group.validate())
        scheduler.TaskRunner(group.create)()
        self.assertEqual((group.CREATE, group.COMPLETE), group.state)
        workflow, inputs = api.start_execution.call_args[0]
        self.assertEqual('rescuer_dr.register_v1', workflow)
        definition = inputs['definition']
        self.assertEqual(group.resource_id, definition['group'])
        self.assertEqual(('site-a', 'site-b', ['vnf'], 150, 1,
                          'cold-standby'),
                         (definition['primary_site'],
                          definition['recovery_site'],
                          definition['members'], definition['sync_interval'],
                          definition['tier'], definition['mode']))
        self.assertEqual(self.stack.id, definition['stack_id'])
        api.ensure_cron_trigger.assert_called_once_with(
            'rescuer-sync-%s' % group.resource_id, 'rescuer_dr.sync_v1',
            {'group': group.resource_id}, '*/2 * * * *')
        self.assertEqual(150, group.FnGetAtt('sync_interval'))
        self.assertEqual({'vnf': None}, group.FnGetAtt('member_ids'))
        self.assertEqual({'workflow': 'rescuer_dr.sync_v1',
                          'input': {'group': group.resource_id}},
                         group.FnGetAtt('workflows')['sync'])

    def test_failed_registration_fails_the_resource_with_its_reason(self):
        self._mistral(states=('RUNNING', 'ERROR'))
        group = self._group()
        error = self.assertRaises(exception.ResourceFailure,
                                  scheduler.TaskRunner(group.create))
        self.assertIn('capture failed at site-a', str(error))
        self.assertEqual((group.CREATE, group.FAILED), group.state)

    def test_delete_removes_the_trigger_and_unregisters(self):
        api = self._mistral(states=('SUCCESS', 'SUCCESS'))
        group = self._group()
        scheduler.TaskRunner(group.create)()
        scheduler.TaskRunner(group.delete)()
        api.delete_cron_trigger.assert_called_once_with(
            'rescuer-sync-%s' % group.resource_id)
        # A sync that was running when the trigger went is waited for.
        self.assertEqual(2, api.running_executions.call_count)
        api.running_executions.assert_called_with(
            'rescuer_dr.sync_v1', group=group.resource_id)
        self.assertEqual(('rescuer_dr.unregister_v1',
                          {'group': group.resource_id}),
                         api.start_execution.call_args[0])
        self.assertEqual((group.DELETE, group.COMPLETE), group.state)

    def test_status_of_a_group_whose_primary_a_run_fenced(self):
        api = self._mistral()
        group = self._group()
        scheduler.TaskRunner(group.create)()
        self.patchobject(protection_group.sync, 'find_stack',
                         return_value={'id': 'rs', 'tags': []})
        api.run_action.return_value = {'last_sync': None, 'fence': None}
        self.assertEqual('protected', group.FnGetAtt('protection_status'))
        api.run_action.return_value = {'last_sync': None,
                                       'fence': {'enforced': True}}
        self.assertEqual('fenced', group.FnGetAtt('protection_status'))
        self.patchobject(protection_group.sync, 'find_stack', return_value={
            'id': 'rs', 'tags': ['rescuer-failed-over']})
        self.assertEqual('failed-over', group.FnGetAtt('protection_status'))

    def test_group_depends_on_its_members(self):
        group = self._group()
        self.assertIn(self.stack['vnf'],
                      self.stack.dependencies.graph()[group])

    def test_unchanged_group_follows_its_replaced_members(self):
        # A failback replaces the VNF's servers and attachments; the group,
        # unchanged, must then require the replacements' ids, or a stack
        # delete would remove the members while the group still syncs them.
        tmpl = template.Template(template_format.parse(TEMPLATE % dict(
            image='cirros', members='[vnf]', countries='[FR]', extra='')))
        stack = parser.Stack(utils.dummy_context(), 'pvnf', tmpl,
                             convergence=True)
        stack.store()
        group = stack['group']
        group.action, group.status = group.CREATE, group.COMPLETE
        group.requires = {1}
        group.store()
        tmpl.store(stack.context)
        updated = parser.Stack(utils.dummy_context(), 'pvnf', tmpl,
                               stack_id=stack.id, convergence=True)
        group.update_convergence(tmpl.id, {7, 3}, 'engine-1', 60, updated)
        self.assertEqual((group.CREATE, group.COMPLETE), group.state)
        stored = resource_objects.Resource.get_obj(stack.context, group.id)
        self.assertEqual({7, 3}, set(stored.requires))
        self.assertEqual(tmpl.id, stored.current_template_id)

    def test_member_not_in_stack(self):
        message = self._invalid(self._group(members='[vnf, ghost]'))
        self.assertIn('resources.group.properties.members', message)
        self.assertIn('not resources of this stack: ghost', message)

    def test_geo_rule_the_site_violates(self):
        message = self._invalid(self._group(countries='[DE, AT]'))
        self.assertIn('resources.group.properties.placement_rules', message)
        self.assertIn('site site-b is in FR, and the group allows only '
                      'DE, AT', message)

    def test_unmapped_image_of_a_member(self):
        message = self._invalid(self._group(image='ubuntu'))
        self.assertIn('resources.group.properties.mappings', message)
        self.assertIn('no mapping at site site-b for images ubuntu',
                      message)

    def test_group_mapping_overrides_fill_the_gap(self):
        group = self._group(image='ubuntu',
                            extra='mappings: {images: {ubuntu: jammy}}')
        self.assertIsNone(group.validate())

    def test_sync_interval_that_cannot_meet_the_rpo(self):
        message = self._invalid(self._group(extra='sync_interval: 301'))
        self.assertIn('resources.group.properties.sync_interval', message)
        self.assertIn('a sync every 301 s cannot meet an RPO of 300 s',
                      message)

    def test_whole_stack_when_no_members_are_named(self):
        group = self._group(members='[]', image='ubuntu')
        self.assertIn('no mapping at site site-b for images ubuntu',
                      self._invalid(group))

    def test_a_stack_of_a_project_rescuer_does_not_protect(self):
        group = self._group()
        self.project_of.side_effect = None
        self.project_of.return_value = 'the-protected-project'
        message = self._invalid(group)
        self.assertIn('project %s is not protected by Rescuer at site '
                      % self.stack.context.project_id, message)
        self.assertIn('recovery_site', message)


class SharedResourcesTest(GroupTestCase):
    """Groups of one stack sharing resources: what ``stack create
    --dry-run`` refuses, and the order the groups register in."""

    def setUp(self):
        super().setUp()
        # Neutron with the security group and SFC extensions.
        self.patchobject(neutron.NeutronClientPlugin, 'has_extension',
                         return_value=True)
        # Glance and Nova find images and flavors by their names.
        self.patchobject(glance.GlanceClientPlugin,
                         'find_image_by_name_or_id', side_effect=str)
        self.patchobject(nova.NovaClientPlugin,
                         'find_flavor_by_name_or_id', side_effect=str)
        self.patchobject(glance.GlanceClientPlugin, 'get_image',
                         return_value=mock.Mock(status='active', min_ram=0,
                                                min_disk=0))
        self.patchobject(nova.NovaClientPlugin, 'get_flavor',
                         return_value=mock.Mock(ram=512, disk=1))
        for name in ('NetworkConstraint', 'SubnetConstraint',
                     'PortConstraint'):
            self.patchobject(getattr(neutron_constraints, name),
                             'validate_with_client')

    def _shared(self, change=None):
        """The SHARED stack, its resources changed by ``change``."""
        tmpl = template_format.parse(SHARED)
        if change is not None:
            change(tmpl['resources'])
        self.stack = utils.parse_stack(tmpl)
        return self.stack

    def _refused(self, stack, text):
        """The dry run of ``stack`` refuses it, saying ``text``."""
        message = str(self.assertRaises(exception.StackValidationFailed,
                                        stack.validate))
        self.assertIn(text, message)

    def _requires(self, name):
        return {res.name for res in
                self.stack.dependencies.graph()[self.stack[name]]}

    def test_groups_sharing_the_first_ones_resources(self):
        stack = self._shared()
        self.assertIsNone(stack.validate())
        for name in ('group1', 'group2', 'group3'):
            self.assertIsNone(stack[name].validate())
        self.assertEqual({'net', 'subnet', 'secgroup', 'port_a', 'vnf_a'},
                         self._requires('group1'))
        self.assertEqual({'group1', 'port_b', 'vnf_b', 'classifier'},
                         self._requires('group2'))
        self.assertEqual({'group1', 'port_c', 'vnf_c'},
                         self._requires('group3'))

    def test_a_resource_no_group_holds(self):
        def change(resources):
            resources['group1']['properties']['members'].remove('net')
        stack = self._shared(change)
        self._refused(stack, 'which no protection group of the stack holds')
        message = self._invalid(stack['group1'])
        self.assertIn('resources.group1.properties.members', message)
        self.assertIn('member port_a of this group uses net '
                      '(OS::Neutron::Net), which no protection group of the '
                      'stack holds: add it to a group\'s members, or map it '
                      'with mappings.networks', message)

    def test_a_network_mapped_to_one_of_the_recovery_site(self):
        def change(resources):
            resources['group1']['properties']['members'][:2] = []
            for name in ('group1', 'group2', 'group3'):
                resources[name]['properties']['mappings'] = {
                    'networks': {'service-net': 'dr-net'}}
        stack = self._shared(change)
        # The subnet is mapped with its network, by the network's name.
        self.assertIsNone(stack.validate())
        self.assertEqual({'secgroup', 'port_a', 'vnf_a'},
                         self._requires('group1'))
        self.assertEqual({'group1', 'port_b', 'vnf_b', 'classifier'},
                         self._requires('group2'))

    def test_a_network_the_site_registry_maps_by_name(self):
        def change(resources):
            resources['group1']['properties']['members'][:2] = []
        directory = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.EnvironmentVariable(
            'RESCUER_SITES_FILE', str(helpers.write_registry(
                directory, sites={'site-b': {
                    'cloud': 'c', 'country': 'FR',
                    'mappings': {'images': {'cirros': 'cirros'},
                                 'flavors': {'small': 'small'},
                                 'networks': {'service-net': 'dr-net'}}}}))))
        self.assertIsNone(self._shared(change).validate())

    def test_a_group_of_a_later_tier_cannot_hold_what_an_earlier_uses(self):
        def change(resources):
            resources['group1']['properties']['tier'] = 3
            resources['group3']['properties']['tier'] = 1
        stack = self._shared(change)
        message = self._invalid(stack['group3'])
        self.assertIn('resources.group3.properties.members', message)
        self.assertIn('member port_c of this group (tier 1) uses net of '
                      'group group1 (tier 3): a shared resource\'s group '
                      'must be in the same or an earlier tier', message)

    def test_groups_using_each_others_resources(self):
        def change(resources):
            resources['group2']['properties']['tier'] = 1
            resources['vnf_a']['depends_on'] = ['vnf_b']
        stack = self._shared(change)
        # No edge closes the cycle in Heat's graph: the groups' own
        # validation names it.
        self.assertIsNotNone(stack.dependencies)
        self._refused(stack, 'use each other\'s resources in a cycle')
        for group in ('group1', 'group2'):
            message = self._invalid(stack[group])
            self.assertIn('resources.%s.properties.members' % group,
                          message)
            self.assertIn('member vnf_a of group1 uses vnf_b of group2',
                          message)
            self.assertIn('member classifier of group2 uses port_a of '
                          'group1', message)
        self.assertEqual([], protection_group.shared_refs.cycle(
            'group3', *stack['group3']._sharing()))

    def test_a_resource_two_groups_hold(self):
        def change(resources):
            resources['group2']['properties']['members'].append('secgroup')
        stack = self._shared(change)
        for group in ('group1', 'group2'):
            self.assertIn('resource secgroup is a member of groups group1 '
                          'and group2: a resource belongs to at most one '
                          'group', self._invalid(stack[group]))
        self._refused(stack, 'a resource belongs to at most one group')
