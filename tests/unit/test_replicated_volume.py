"""OS::Rescuer::ReplicatedVolume under Heat's harness, Cinder mocked."""

import types
from unittest import mock

from heat.common import exception
from heat.common import template_format
from heat.engine.clients.os import cinder as cinder_plugin
from heat.engine import resource
from heat.engine import resources
from heat.engine import scheduler
from heat.tests import common
from heat.tests import utils
from oslo_config import cfg

from rescuer_heat import constraints
from rescuer_heat.resources import replicated_volume

TEMPLATE = '''
heat_template_version: 2021-04-16
resources:
  volume:
    type: OS::Rescuer::ReplicatedVolume
    properties:
      size: 1
      dr_site: site-b
%s
'''


class ReplicatedVolumeTest(common.HeatTestCase):

    def setUp(self):
        super().setUp()
        resource._register_class('OS::Rescuer::ReplicatedVolume',
                                 replicated_volume.ReplicatedVolume)
        resources.global_env().register_constraint(
            'rescuer.site', constraints.SiteConstraint)
        self.patchobject(constraints.SiteConstraint, 'validate_with_client')
        self.patchobject(cinder_plugin.VolumeTypeConstraint,
                         'validate_with_client')
        self.cinder = mock.Mock()
        self.patchobject(replicated_volume.ReplicatedVolume, 'client',
                         return_value=self.cinder)
        self.patchobject(cinder_plugin.CinderClientPlugin, 'get_volume_type',
                         side_effect=lambda name: 'id-' + name)
        self.specs = {}
        self.cinder.volume_types.get.return_value.get_keys.side_effect = (
            lambda: self.specs)
        self.cinder.volumes.create.return_value = types.SimpleNamespace(
            id='vol-1')
        cfg.CONF.set_override('action_retry_limit', 0)

    def _resource(self, props):
        lines = ''.join('      %s: %s\n' % item for item in props.items())
        self.stack = utils.parse_stack(template_format.parse(
            TEMPLATE % lines))
        return self.stack['volume']

    def _volume(self, **fields):
        self.cinder.volumes.get.return_value = types.SimpleNamespace(
            **fields)

    def test_storage_method_refuses_a_type_without_replication(self):
        rsrc = self._resource({'volume_type': 'lab',
                               'replication_method': 'storage'})
        error = self.assertRaises(exception.StackValidationFailed,
                                  rsrc.validate)
        self.assertIn('resources.volume.properties.volume_type', str(error))
        self.assertIn('not replication-enabled', str(error))

    def test_storage_method_needs_a_volume_type(self):
        rsrc = self._resource({'replication_method': 'storage'})
        error = self.assertRaises(exception.StackValidationFailed,
                                  rsrc.validate)
        self.assertIn('needs a replication-enabled volume type', str(error))

    def test_storage_volume_is_complete_once_cinder_replicates_it(self):
        self.specs = {'replication_enabled': '<is> True'}
        rsrc = self._resource({'volume_type': 'lab-replicated'})
        self.assertIsNone(rsrc.validate())
        self._volume(status='available', replication_status='enabled')
        scheduler.TaskRunner(rsrc.create)()

        self.assertEqual((rsrc.CREATE, rsrc.COMPLETE), rsrc.state)
        kwargs = self.cinder.volumes.create.call_args[1]
        self.assertEqual((1, 'lab-replicated'),
                         (kwargs['size'], kwargs['volume_type']))
        self.assertEqual('enabled', rsrc.FnGetAtt('replication_status'))
        self.assertEqual({'kind': 'replica', 'volume_id': 'vol-1'},
                         rsrc.FnGetAtt('dr_source'))

    def test_backup_volume_takes_a_backup_and_keeps_its_id(self):
        rsrc = self._resource({'replication_method': 'backup'})
        self._volume(status='available')
        self.cinder.backups.create.return_value = types.SimpleNamespace(
            id='bk-1')
        self.cinder.backups.get.return_value = types.SimpleNamespace(
            id='bk-1', status='available', created_at='t0',
            data_timestamp='t0')
        scheduler.TaskRunner(rsrc.create)()

        self.assertEqual((rsrc.CREATE, rsrc.COMPLETE), rsrc.state)
        self.assertEqual({'kind': 'backup', 'backup_id': 'bk-1'},
                         rsrc.FnGetAtt('dr_source'))

        self._volume(status='deleting')
        self.cinder.volumes.get.side_effect = [
            types.SimpleNamespace(status='deleting'),
            cinder_plugin.exceptions.NotFound(404)]
        scheduler.TaskRunner(rsrc.delete)()
        self.cinder.backups.delete.assert_called_once_with('bk-1')
        self.cinder.volumes.delete.assert_called_once_with('vol-1')

    def test_volume_in_error_fails_the_create(self):
        rsrc = self._resource({'replication_method': 'backup'})
        self._volume(status='error')
        self.assertRaises(exception.ResourceFailure,
                          scheduler.TaskRunner(rsrc.create))
        self.cinder.backups.create.assert_not_called()
