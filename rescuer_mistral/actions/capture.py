"""Capture a stack at a site and keep the capture at this DR site."""

from rescuer import capture
from rescuer import cinder
from rescuer import consistency
from rescuer import heat
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
        return capture_and_store(self, context, self.site, self.stack,
                                 self.group, self.members)


def capture_and_store(action, context, site_name, stack, group, members):
    """Capture ``stack`` at ``site_name`` as ``action``'s caller, keep the
    capture in the action's store; returns the summary
    :class:`CaptureStackAction` returns."""
    store = action.store()  # refuse a registry without one, first
    site, session, _ = action.session_for(context, site_name)
    document = capture.capture_stack(
        session, site, stack, group=group,
        members=set(members) if members else None)
    path = store.save(document)
    return {'capture_id': document['capture_id'], 'group': group,
            'site': site.name, 'api_calls': document['api_calls'],
            'counts': {kind: len(document[kind]) for kind in (
                'resources', 'servers', 'ports', 'networks', 'subnets',
                'volumes', 'security_groups')},
            'stored_as': str(path)}


class GroupSnapshotAction(base.RescuerAction):
    """One step of the volume group snapshot consistency hook at the
    primary; returns ``{state, group_id, group_snapshot_id, volumes}``,
    ``state`` IN_PROGRESS until the snapshot is available (workflows
    retry while it is).

    :param site: the primary site.
    :param stack: the stack's name or id there.
    :param group: the protection group.
    :param run_id: the run the snapshot belongs to (one per run).
    :param members: resource names (default: the whole stack).
    """

    def __init__(self, site, stack, group, run_id, members=None):
        super().__init__()
        self.site = site
        self.stack = stack
        self.group = group
        self.run_id = run_id
        self.members = members

    def execute(self, context):
        site, session, _ = self.session_for(context, self.site)
        volumes = consistency.member_volumes(
            heat.HeatAPI(session, site).resources(self.stack),
            set(self.members or []))
        if not volumes:
            return {'state': consistency.COMPLETE, 'group_id': None,
                    'group_snapshot_id': None, 'volumes': []}
        return consistency.advance(cinder.CinderAPI(session, site),
                                   self.group, volumes, self.run_id)


class ReleaseVolumeGroupAction(base.RescuerAction):
    """One step of removing the group snapshot hook's Cinder group and
    snapshots at the primary (on unregister); ``{state}`` is
    IN_PROGRESS until nothing is left.

    :param site: the primary site.
    :param group: the protection group.
    """

    def __init__(self, site, group):
        super().__init__()
        self.site = site
        self.group = group

    def execute(self, context):
        site, session, _ = self.session_for(context, self.site)
        return consistency.release(cinder.CinderAPI(session, site),
                                   self.group)
