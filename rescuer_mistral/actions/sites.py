"""Actions on the DR site registry."""

from rescuer import sites
from rescuer_mistral.actions import base


class ListSitesAction(base.RescuerAction):
    """The sites of the DR site registry and their declared attributes.

    :returns: ``[{name, region, country, role}]`` (no credentials).
    """

    def execute(self, context):
        return [{'name': s.name, 'region': s.region, 'country': s.country,
                 'role': s.role} for s in sites.Registry.load()]
