"""OS::Rescuer::ProtectionGroup validation under Heat's harness, with a
real DR site registry."""

import fixtures
from heat.common import exception
from heat.common import template_format
from heat.engine.clients.os import glance
from heat.engine.clients.os import nova
from heat.engine import resource
from heat.engine import resources
from heat.engine import scheduler
from heat.tests import common
from heat.tests import utils

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

    def test_valid_group_creates_and_reports_its_members(self):
        group = self._group()
        self.assertIsNone(group.validate())
        scheduler.TaskRunner(group.create)()
        self.assertEqual('defined', group.FnGetAtt('protection_status'))
        self.assertEqual(150, group.FnGetAtt('sync_interval'))
        self.assertEqual({'vnf': None}, group.FnGetAtt('member_ids'))

    def test_group_depends_on_its_members(self):
        group = self._group()
        self.assertIn(self.stack['vnf'],
                      self.stack.dependencies.graph()[group])

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
