"""OS::Rescuer::StandbyStack under Heat's harness; the DR site's Heat is
the core's HeatAPI, replaced by a mock (the lab tests the real one)."""

from unittest import mock

from heat.common import exception
from heat.common import template_format
from heat.engine import resource
from heat.engine import resources
from heat.engine import scheduler
from heat.tests import common
from heat.tests import utils
from oslo_config import cfg

from rescuer import exceptions as rescuer_exc
from rescuer import heat as rescuer_heat
from rescuer_heat import constraints
from rescuer_heat import protected_project
from rescuer_heat.resources import standby_stack

RECOVERY = '''
heat_template_version: 2021-04-16
parameters:
  standby_level: {type: string, default: cold}
resources: {}
'''

TEMPLATE = '''
heat_template_version: 2021-04-16
resources:
  standby:
    type: OS::Rescuer::StandbyStack
    properties:
      site: site-b
      template: |
%s
      parameters: {image: lab-image}
      standby_level: cold
'''


def _indent(text):
    return '\n'.join('        ' + line for line in text.splitlines())


class StandbyStackTest(common.HeatTestCase):

    def setUp(self):
        super().setUp()
        resource._register_class('OS::Rescuer::StandbyStack',
                                 standby_stack.StandbyStack)
        resources.global_env().register_constraint(
            'rescuer.site', constraints.SiteConstraint)
        self.patchobject(constraints.SiteConstraint, 'validate_with_client')
        self.api = mock.Mock(spec=rescuer_heat.HeatAPI)
        self.patchobject(standby_stack.StandbyStack, '_api',
                         return_value=self.api)
        self.api.create_stack.return_value = 'remote-id'
        # A failed create is reported, not retried (Heat retries by default).
        cfg.CONF.set_override('action_retry_limit', 0)

    def _resource(self, recovery=RECOVERY):
        self.stack = utils.parse_stack(template_format.parse(
            TEMPLATE % _indent(recovery)))
        return self.stack['standby']

    def _remote(self, status, tags=None):
        return {'id': 'remote-id', 'stack_status': status, 'tags': tags,
                'outputs': [{'output_key': 'k', 'output_value': 'v'}]}

    def test_template_without_standby_parameter_fails_validation(self):
        rsrc = self._resource('heat_template_version: 2021-04-16\n')
        error = self.assertRaises(exception.StackValidationFailed,
                                  rsrc.validate)
        self.assertIn('resources.standby.properties.template', str(error))
        self.assertIn('must declare a "standby_level" parameter', str(error))
        self.api.create_stack.assert_not_called()

    def test_only_the_project_rescuer_protects_here_may_hold_one(self):
        rsrc = self._resource()
        self.patchobject(protected_project.sites.Registry, 'load')
        self.patchobject(protected_project, 'this_site',
                         return_value=mock.Mock())
        self.patchobject(protected_project.clients, 'site_session')
        project_of = self.patchobject(protected_project.clients,
                                      'project_of',
                                      return_value=self.stack.context
                                      .project_id)
        self.assertIsNone(rsrc.validate())
        project_of.return_value = 'the-protected-project'
        error = self.assertRaises(exception.StackValidationFailed,
                                  rsrc.validate)
        self.assertIn('project %s is not protected by Rescuer at site'
                      % self.stack.context.project_id, str(error))
        self.api.create_stack.assert_not_called()

    def test_create_builds_the_remote_stack_cold(self):
        self.api.get_stack.side_effect = [
            self._remote('CREATE_IN_PROGRESS'),
            self._remote('CREATE_COMPLETE')]
        rsrc = self._resource()
        scheduler.TaskRunner(rsrc.create)()

        self.assertEqual((rsrc.CREATE, rsrc.COMPLETE), rsrc.state)
        self.assertEqual('remote-id', rsrc.resource_id)
        name, template, params = self.api.create_stack.call_args[0]
        self.assertEqual(rsrc.physical_resource_name(), name)
        self.assertIn('standby_level', template['parameters'])
        self.assertEqual({'image': 'lab-image', 'standby_level': 'cold'},
                         params)
        self.assertEqual(('rescuer', 'rescuer-standby'),
                         self.api.create_stack.call_args[1]['tags'])

    def _gone_once_deleted(self, status):
        """get_stack answers ``status`` until delete_stack was called."""
        def get_stack(stack_id):
            if self.api.delete_stack.called:
                raise rescuer_exc.NotFound('gone')
            return self._remote(status)
        self.api.get_stack.side_effect = get_stack

    def test_failed_remote_create_fails_the_resource(self):
        self._gone_once_deleted('CREATE_FAILED')
        rsrc = self._resource()
        error = self.assertRaises(exception.ResourceFailure,
                                  scheduler.TaskRunner(rsrc.create))
        self.assertIn('CREATE_FAILED', str(error))

    def test_unreachable_site_fails_create_with_its_message(self):
        self._gone_once_deleted('CREATE_FAILED')
        self.api.create_stack.side_effect = rescuer_exc.SiteUnreachable(
            'site site-b does not answer: refused')
        rsrc = self._resource()
        error = self.assertRaises(exception.ResourceFailure,
                                  scheduler.TaskRunner(rsrc.create))
        self.assertIn('site site-b does not answer', str(error))

    def test_level_change_patches_only_the_parameters(self):
        self.api.get_stack.return_value = self._remote('CREATE_COMPLETE')
        rsrc = self._resource()
        scheduler.TaskRunner(rsrc.create)()
        self.api.get_stack.return_value = self._remote('UPDATE_COMPLETE')

        props = dict(rsrc.properties.data, standby_level='hot')
        after = rsrc.t.freeze(properties=props)
        scheduler.TaskRunner(rsrc.update, after)()

        self.assertEqual((rsrc.UPDATE, rsrc.COMPLETE), rsrc.state)
        self.api.update_stack.assert_called_once_with(
            'remote-id', template=None,
            parameters={'image': 'lab-image', 'standby_level': 'hot'})
        self.assertEqual('hot', rsrc.FnGetAtt('standby_level'))

    def test_delete_leaves_a_failed_over_stack_in_place(self):
        self.api.get_stack.return_value = self._remote('CREATE_COMPLETE')
        rsrc = self._resource()
        scheduler.TaskRunner(rsrc.create)()
        self.api.get_stack.return_value = self._remote(
            'UPDATE_COMPLETE', tags=[rescuer_heat.FAILED_OVER_TAG])

        scheduler.TaskRunner(rsrc.delete)()

        self.assertEqual((rsrc.DELETE, rsrc.COMPLETE), rsrc.state)
        self.api.delete_stack.assert_not_called()

    def test_delete_removes_the_remote_stack_and_absorbs_not_found(self):
        self.api.get_stack.return_value = self._remote('CREATE_COMPLETE')
        rsrc = self._resource()
        scheduler.TaskRunner(rsrc.create)()
        self.api.get_stack.side_effect = [
            self._remote('CREATE_COMPLETE'),
            rescuer_exc.NotFound('gone')]

        scheduler.TaskRunner(rsrc.delete)()

        self.api.delete_stack.assert_called_once_with('remote-id')
        self.assertEqual((rsrc.DELETE, rsrc.COMPLETE), rsrc.state)

    def test_outputs_attribute_reads_the_remote_stack(self):
        self.api.get_stack.return_value = self._remote('CREATE_COMPLETE')
        rsrc = self._resource()
        scheduler.TaskRunner(rsrc.create)()
        self.assertEqual({'k': 'v'}, rsrc.FnGetAtt('outputs'))
        self.assertEqual('CREATE_COMPLETE', rsrc.FnGetAtt('stack_status'))
