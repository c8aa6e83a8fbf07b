"""OS::Rescuer::SiteInfo - a DR site from Rescuer's site registry."""

from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import constraints
from heat.engine import properties
from heat.engine import resource
from heat.engine import support

from rescuer import exceptions as rescuer_exc
from rescuer import sites


class SiteInfo(resource.Resource):
    """Looks up a site in Rescuer's DR site registry.

    The site name is checked by the ``rescuer.site`` constraint, so
    ``stack create`` (and ``--dry-run``) refuses a template that names a
    site the registry does not know before anything is created.  The site's
    declared attributes (region, country, role) are exposed for other
    resources and outputs.  No credentials are exposed.
    """

    support_status = support.SupportStatus(
        status=support.UNSUPPORTED, version='0.1.0',
        message=_('Introduced with the Rescuer foundation; the '
                  'ProtectionGroup resource will take site names directly.'))

    PROPERTIES = (SITE,) = ('site',)

    ATTRIBUTES = (REGION, COUNTRY, ROLE) = ('region', 'country', 'role')

    properties_schema = {
        SITE: properties.Schema(
            properties.Schema.STRING,
            _('Name of a site in the DR site registry.'),
            required=True,
            update_allowed=True,
            constraints=[constraints.CustomConstraint('rescuer.site')],
        ),
    }

    attributes_schema = {
        REGION: attributes.Schema(
            _('Region of the site.'), type=attributes.Schema.STRING),
        COUNTRY: attributes.Schema(
            _('Country the site declares (for geo/regulatory rules).'),
            type=attributes.Schema.STRING),
        ROLE: attributes.Schema(
            _('Role the site declares (e.g. primary, recovery).'),
            type=attributes.Schema.STRING),
    }

    def _site(self):
        try:
            return sites.Registry.load().get(self.properties[self.SITE])
        except rescuer_exc.RescuerError as exc:
            raise exception.Error(str(exc))

    def handle_create(self):
        self.resource_id_set(self._site().name)

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        if prop_diff:
            self.resource_id_set(self._site().name)

    def _resolve_attribute(self, name):
        site = self._site()
        return {self.REGION: site.region, self.COUNTRY: site.country,
                self.ROLE: site.role}.get(name)


def resource_mapping():
    return {'OS::Rescuer::SiteInfo': SiteInfo}
