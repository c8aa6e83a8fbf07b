"""Actions on a site's Heat."""

from rescuer import heat
from rescuer_mistral.actions import base


class ListStacksAction(base.RescuerAction):
    """List the stacks the caller may see at a site's Heat.

    At this DR site (the caller's own Keystone) Heat lists the caller's
    project's stacks.  Another site is reached with Rescuer's credential:
    there, only the stacks of the caller's protection groups registered
    here are listed (Rescuer's credential shows the caller nothing else).

    :param site: a site name from the DR site registry.
    :returns: ``{site, region, auth, stacks: [{id, name, status}]}``, where
        ``auth`` says which credentials reached the site.
    """

    def __init__(self, site):
        super().__init__()
        self.site = site

    def execute(self, context):
        site, session, how = self.session_for(context, self.site)
        stacks = heat.list_stacks(session, site)
        if how != base.AUTH_CALLER_TOKEN:
            protected = self.protected_stacks(site.name)
            stacks = [s for s in stacks if s['id'] in protected]
        return {'site': site.name, 'region': site.region, 'auth': how,
                'stacks': stacks}

    def protected_stacks(self, site_name):
        """Ids of the stacks at ``site_name`` of the caller's groups."""
        store = self.store()
        return {definition['stack_id'] for definition in
                (store.definition(group) for group in store.groups())
                if definition['primary_site'] == site_name}
