"""OS::Rescuer::ProtectionGroup validation under Heat's harness, with a
real DR site registry."""

from unittest import mock

import fixtures
from heat.common import exception
from heat.common import template_format
from heat.engine.clients.os import glance
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


class ProtectionGroupTest(common.HeatTestCase):

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
