"""Capture a protection group at its primary and keep the capture at this
DR site."""

from rescuer import capture
from rescuer import cinder
from rescuer import consistency
from rescuer import heat
from rescuer_mistral.actions import base


class CaptureStackAction(base.GroupAction):
    """Capture a protection group's members at its primary and store the
    capture.  The stack and members are the group's registered ones.

    :param group: the protection group (registered at this DR site).
    :returns: ``{capture_id, group, site, api_calls, counts, stored_as}``
        - a summary, not the document (which stays in the store).
    """

    def execute(self, context):
        definition = self.definition()
        return capture_and_store(self, context, definition['primary_site'],
                                 definition['stack_id'], self.group,
                                 definition.get('members'))


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


class GroupSnapshotAction(base.GroupAction):
    """One step of the volume group snapshot consistency hook at the
    group's primary; returns ``{state, group_id, group_snapshot_id,
    volumes}``, ``state`` IN_PROGRESS until the snapshot is available
    (workflows retry while it is).

    :param group: the protection group.
    :param run_id: the run the snapshot belongs to (one per run).
    """

    def __init__(self, group, run_id):
        super().__init__(group)
        self.run_id = run_id

    def execute(self, context):
        definition = self.definition()
        site, session, _ = self.session_for(context,
                                            definition['primary_site'])
        volumes = consistency.member_volumes(
            heat.HeatAPI(session, site).resources(definition['stack_id']),
            set(definition.get('members') or []))
        if not volumes:
            return {'state': consistency.COMPLETE, 'group_id': None,
                    'group_snapshot_id': None, 'volumes': []}
        return consistency.advance(cinder.CinderAPI(session, site),
                                   self.group, volumes, self.run_id)


class ReleaseVolumeGroupAction(base.GroupAction):
    """One step of removing the group snapshot hook's Cinder group and
    snapshots at the group's primary (on unregister); ``{state}`` is
    IN_PROGRESS until nothing is left.

    :param group: the protection group.
    """

    def execute(self, context):
        site, session, _ = self.session_for(
            context, self.definition()['primary_site'])
        return consistency.release(cinder.CinderAPI(session, site),
                                   self.group)
