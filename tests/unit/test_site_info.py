"""OS::Rescuer::SiteInfo under Heat's own test harness."""

import fixtures
from heat.common import exception
from heat.common import template_format
from heat.engine import resource
from heat.engine import resources
from heat.engine import scheduler
from heat.tests import common
from heat.tests import utils

from rescuer_heat import constraints
from rescuer_heat.resources import site_info
from tests.unit import helpers

TEMPLATE = '''
heat_template_version: 2021-04-16
resources:
  dr_site:
    type: OS::Rescuer::SiteInfo
    properties:
      site: %s
'''


class SiteInfoTest(common.HeatTestCase):

    def setUp(self):
        super().setUp()
        resource._register_class('OS::Rescuer::SiteInfo', site_info.SiteInfo)
        resources.global_env().register_constraint(
            'rescuer.site', constraints.SiteConstraint)
        directory = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.EnvironmentVariable(
            'RESCUER_SITES_FILE', str(helpers.write_registry(directory))))

    def _resource(self, site_name):
        # Resources hold their stack weakly: keep it for the test.
        self.stack = utils.parse_stack(template_format.parse(
            TEMPLATE % site_name))
        return self.stack['dr_site']

    def test_known_site_validates_and_exposes_attributes(self):
        rsrc = self._resource('site-b')
        self.assertIsNone(rsrc.validate())
        scheduler.TaskRunner(rsrc.create)()
        self.assertEqual((rsrc.CREATE, rsrc.COMPLETE), rsrc.state)
        self.assertEqual('site-b', rsrc.resource_id)
        self.assertEqual('RegionB', rsrc.FnGetAtt('region'))
        self.assertEqual('FR', rsrc.FnGetAtt('country'))
        self.assertEqual('recovery', rsrc.FnGetAtt('role'))

    def test_unknown_site_fails_validation_naming_known_sites(self):
        rsrc = self._resource('site-z')
        error = self.assertRaises(exception.StackValidationFailed,
                                  rsrc.validate)
        self.assertIn("Error validating value 'site-z': unknown site: "
                      "site-z; the DR site registry knows: site-a, site-b",
                      str(error))

    def test_missing_registry_fails_validation_with_path(self):
        self.useFixture(fixtures.EnvironmentVariable(
            'RESCUER_SITES_FILE', '/nonexistent.yaml'))
        error = self.assertRaises(exception.StackValidationFailed,
                                  self._resource('site-a').validate)
        self.assertIn('cannot read the DR site registry /nonexistent.yaml',
                      str(error))

    def test_constraint_is_registered_for_heat_engine(self):
        from importlib import metadata
        entry_points = metadata.entry_points(group='heat.constraints')
        self.assertEqual(constraints.SiteConstraint,
                         entry_points['rescuer.site'].load())

    def test_plugin_module_maps_its_type(self):
        self.assertEqual({'OS::Rescuer::SiteInfo': site_info.SiteInfo},
                         site_info.resource_mapping())
