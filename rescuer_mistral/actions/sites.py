"""Actions on the DR site registry."""

from rescuer import sites
from rescuer_mistral.actions import base


class ListSitesAction(base.RescuerAction):
    """Sites of the DR site registry and their declared attributes.

    :param names: optional list of site names; every one must be in the
        registry (the action fails naming all unknown ones), and only those
        are returned, in the order given.
    :returns: ``[{name, region, country, role}]`` (never credentials).
    """

    def __init__(self, names=None):
        super().__init__()
        self.names = names

    def execute(self, context):
        registry = sites.Registry.load()
        chosen = (registry.select(self.names) if self.names is not None
                  else list(registry))
        return [{'name': s.name, 'region': s.region, 'country': s.country,
                 'role': s.role} for s in chosen]
