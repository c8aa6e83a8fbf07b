"""Actions on a site's Heat."""

from rescuer import heat
from rescuer_mistral.actions import base


class ListStacksAction(base.RescuerAction):
    """List the stacks visible at a site's Heat.

    :param site: a site name from the DR site registry.
    :returns: ``{site, region, auth, stacks: [{id, name, status}]}``, where
        ``auth`` says which credentials reached the site.
    """

    def __init__(self, site):
        super().__init__()
        self.site = site

    def execute(self, context):
        site, session, how = self.session_for(context, self.site)
        return {'site': site.name, 'region': site.region, 'auth': how,
                'stacks': heat.list_stacks(session, site)}
