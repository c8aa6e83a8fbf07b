"""Capture a stack at a site and keep the capture at this DR site."""

from rescuer import capture
from rescuer_mistral.actions import base


class CaptureStackAction(base.RescuerAction):
    """Capture a stack (or some of its resources) and store the capture.

    :param site: the primary site, from the DR site registry.
    :param stack: the stack's name or id there.
    :param group: the protection group the capture belongs to.
    :param members: resource names to capture (default: the whole stack).
    :returns: ``{capture_id, group, site, api_calls, counts, stored_as}``
        - a summary, not the document (which stays in the store).
    """

    def __init__(self, site, stack, group, members=None):
        super().__init__()
        self.site = site
        self.stack = stack
        self.group = group
        self.members = members

    def execute(self, context):
        store = self.store()  # refuse a registry without one, first
        site, session, _ = self.session_for(context, self.site)
        document = capture.capture_stack(
            session, site, self.stack, group=self.group,
            members=set(self.members) if self.members else None)
        path = store.save(document)
        return {'capture_id': document['capture_id'], 'group': self.group,
                'site': site.name, 'api_calls': document['api_calls'],
                'counts': {kind: len(document[kind]) for kind in (
                    'resources', 'servers', 'ports', 'networks', 'subnets',
                    'volumes', 'security_groups')},
                'stored_as': str(path)}
