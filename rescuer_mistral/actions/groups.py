"""Actions on protection groups at this DR site: register, sync the
recovery stack, record syncs, unregister."""

from rescuer import clients
from rescuer import exceptions
from rescuer import groups
from rescuer import heat
from rescuer import mistral
from rescuer import ownership
from rescuer import shared
from rescuer import sync
from rescuer_mistral.actions import backups as backup_actions
from rescuer_mistral.actions import base
from rescuer_mistral.actions import capture as capture_actions


class RegisterGroupAction(base.RescuerAction):
    """Keep a group's definition at this DR site.

    :param definition: the group definition (see ``rescuer.groups``), as
        the ProtectionGroup resource sends it.
    :returns: ``{group, recovery_site, stored_as}``.
    """

    def __init__(self, definition):
        super().__init__()
        self.definition = definition

    def execute(self, context):
        definition = groups.check(self.definition)
        self.registry().get(definition['recovery_site'])
        self.registry().get(definition['primary_site'])
        self.refuse_unmapped(definition)
        refuse_unsafe_hooks(self, context, definition)
        path = self.store().save_definition(definition)
        return {'group': definition['group'],
                'recovery_site': definition['recovery_site'],
                'stored_as': str(path)}

    def refuse_unmapped(self, definition):
        """The caller's project must be the one Rescuer protects here,
        and the group's stack one of its mapped project at the primary
        (read with Rescuer's credential there)."""
        dr_site, dr_session = self.rescuer_session_for(
            definition['recovery_site'])
        site, session = self.rescuer_session_for(definition['primary_site'])
        ownership.refuse_unmapped(
            definition, self.caller_project,
            clients.project_of(dr_session, dr_site),
            heat.HeatAPI(session, site).get_stack(definition['stack_id']),
            clients.project_of(session, site))


def refuse_unsafe_hooks(action, context, definition):
    """The group's pre and post workflows must be workflows of the
    caller's own project at this DR site's Mistral, running only plain
    ``std`` actions (:func:`rescuer.ownership.hook_problems`): they run
    inside Rescuer's sync, with Rescuer's credential."""
    hooks = definition.get('consistency_hooks') or {}
    names = [hooks[k] for k in ('pre_workflow', 'post_workflow')
             if hooks.get(k)]
    if not names:
        return
    site, session, _ = action.session_for(context,
                                          definition['recovery_site'])
    api = mistral.MistralAPI(session, site)
    for name in names:
        workflow = api.workflow(name)
        ownership.refuse_foreign_workflow(definition, name, workflow,
                                          action.caller_project)
        ownership.refuse_unsafe_hook(definition, name, workflow)


class ConsistencyHooksAction(base.GroupAction):
    """The group's consistency hooks, checked again before each capture
    (a hook workflow changed since registration is refused the same
    way).

    :param group: the group name.
    :returns: ``{site, pre_workflow, post_workflow,
        volume_group_snapshot}`` (``site``: the group's primary).
    """

    def execute(self, context):
        definition = self.definition()
        refuse_unsafe_hooks(self, context, definition)
        hooks = definition.get('consistency_hooks') or {}
        return {'site': definition['primary_site'],
                'pre_workflow': hooks.get('pre_workflow'),
                'post_workflow': hooks.get('post_workflow'),
                'volume_group_snapshot': bool(
                    hooks.get('volume_group_snapshot'))}


class GetGroupAction(base.GroupAction):
    """The registered definition of a group, with its last sync record.

    :param group: the group name.
    :returns: the definition, plus ``last_sync`` (or null), ``fence``
        (null unless the group is failed over) and ``standby_level``.
    """

    def execute(self, context):
        store = self.store()
        definition = dict(self.definition())
        definition['last_sync'] = store.last_sync(self.group)
        definition['fence'] = store.fence(self.group)
        definition['standby_level'] = groups.standby_level(definition)
        return definition


class ApplyStandbyAction(base.GroupAction):
    """Render the group's latest good capture and create or update its
    recovery stack at the recovery site, at the group's standby level.

    :param group: the group name.
    :returns: ``{stack_id, action, capture_id, site}``; action is CREATE,
        UPDATE or skipped (with a reason).
    """

    def execute(self, context):
        return apply_standby(self, context)


def apply_standby(action, context):
    """What :class:`ApplyStandbyAction` does, for ``action``'s group."""
    capture = action.capture()
    api = action.api(context, 'recovery', heat.HeatAPI)
    return dict(sync.apply_standby(
        api, action.definition(), capture,
        held_elsewhere=shared.held_elsewhere(
            action.store(), action.definition(), capture)),
                capture_id=capture['capture_id'], site=api.site.name)


class StackStatusAction(base.GroupAction):
    """Where a stack's current action stands: IN_PROGRESS or COMPLETE
    (fails with Heat's reason when it FAILED, and when no heat-engine is
    left to finish it: the one running it died).  Workflows wait with a
    retry policy that continues while the result is IN_PROGRESS.

    A stack at this DR site is read with the caller's own identity (Heat
    shows the caller only its project's stacks).  A stack at another site
    is read with Rescuer's credential there: it must be a stack of
    ``group`` by Rescuer's records.

    :param site: the site of the stack.
    :param stack: the stack's id or name.
    :param action: expect this action (CREATE, UPDATE, DELETE); another
        one counts as IN_PROGRESS.
    :param gone_is_done: a stack that does not exist is COMPLETE.
    :param group: the protection group the stack is of (needed for a
        stack at another site).
    """

    def __init__(self, site, stack, action=None, gone_is_done=False,
                 group=None):
        super().__init__(group)
        self.site = site
        self.stack = stack
        self.action = action
        self.gone_is_done = gone_is_done

    def execute(self, context):
        site, session, how = self.session_for(context, self.site)
        if how != base.AUTH_CALLER_TOKEN:
            if not self.group:
                raise exceptions.NotOwned(
                    'stack %s at site %s: a stack at another site is read '
                    'only for a protection group (input group)'
                    % (self.stack, self.site))
            self.refuse_foreign('stack', [self.stack],
                                self.owned_stack_ids(self.site), self.site)
        return heat.HeatAPI(session, site).stack_state(
            self.stack, action=self.action, gone_is_done=self.gone_is_done,
            engines=self._engines)

    def _engines(self):
        """Heat's engines at the site, read with Rescuer's credential
        (an admin API); none when that credential may not read them."""
        site, session = self.rescuer_session_for(self.site)
        try:
            return heat.HeatAPI(session, site).engines()
        except exceptions.RemoteError as exc:
            if exc.status == 403:
                return []
            raise


class RecordSyncAction(base.GroupAction):
    """Record a completed sync: capture, recovery stack, achieved RPO.

    :param group: the group name.
    :param stack_id: the recovery stack the sync updated.
    :returns: the sync record: ``{last_sync_time, achieved_rpo, rpo,
        rpo_missed, capture_id, recovery_stack_id, syncs, missed}``.
    """

    def __init__(self, group, stack_id):
        super().__init__(group)
        self.stack_id = stack_id

    def execute(self, context):
        site = self.definition()['recovery_site']
        self.refuse_foreign('stack', [self.stack_id],
                            self.owned_stack_ids(site), site)
        return record_sync(self, self.stack_id)


def record_sync(action, stack_id):
    """What :class:`RecordSyncAction` does, for ``action``'s group."""
    store = action.store()
    record = groups.sync_record(action.definition(), action.capture(),
                                stack_id,
                                previous=store.last_sync(action.group))
    store.save_sync(record)
    return record


class SyncGroupAction(base.GroupAction):
    """The steps of a sync of a group without consistency hooks, in one
    action: capture the group at its primary and keep the capture here,
    start the sync's backups of its backup-protected volumes, create or
    update its recovery stack and - when there is nothing to wait for
    (the stack left as it is, no backup started) - record the backups
    and the sync.  Each Mistral task costs the DR site's engine several
    transactions, one at a time: the engine is what limits how many
    groups a DR site keeps synced (see bench/RESULTS.md).

    :param group: the group name.
    :param run_id: the sync run (the backups are named after it).
    :returns: ``{capture, backups, standby, backed_up, sync}``, each as
        ``rescuer.capture_stack``, ``rescuer.start_sync_backups``,
        ``rescuer.apply_standby``, ``rescuer.record_sync_backups`` and
        ``rescuer.record_sync`` return it; ``backed_up`` and ``sync`` are
        null while the workflow has the stack or the backups to wait for.
    """

    def __init__(self, group, run_id):
        super().__init__(group)
        self.run_id = run_id

    def execute(self, context):
        definition = self.definition()
        result = {
            'capture': capture_actions.capture_and_store(
                self, context, definition['primary_site'],
                definition['stack_id'], self.group,
                definition.get('members')),
            'backups': backup_actions.start_sync_backups(self, self.run_id),
            'standby': apply_standby(self, context),
            'backed_up': None, 'sync': None}
        if (result['standby']['action'] == 'skipped'
                and not result['backups']['backups']):
            result['backed_up'] = backup_actions.record_sync_backups(
                self, [])
            result['sync'] = record_sync(
                self, result['standby']['stack_id'])
        return result


class UnregisterGroupAction(base.GroupAction):
    """Forget a group at this DR site: its recovery stack is deleted and
    its definition and captures removed - unless the group is failed over,
    in which case everything stays (the stack serves it).

    :param group: the group name.
    :returns: ``{group, stack_id, deleting, failed_over, site}``.
    """

    def execute(self, context):
        try:
            api = self.api(context, 'recovery', heat.HeatAPI)
        except exceptions.NotFound:
            return {'group': self.group, 'stack_id': None,
                    'deleting': False, 'failed_over': False, 'site': None}
        self._refuse_while_used()
        result = sync.remove_standby(api, self.group)
        if not result['failed_over']:
            self.store().remove_group(self.group)
        return dict(result, group=self.group, site=api.site.name)

    def _refuse_while_used(self):
        """A group whose resources other groups use stays: its recovery
        stack holds their networks and ports (Neutron would refuse to
        delete them, and their next sync would quietly make copies of
        their own)."""
        try:
            capture = self.capture()
        except exceptions.RescuerError:
            return
        using = shared.users(self.store(), self.definition(), capture)
        if using:
            raise exceptions.InvalidGroup(
                'group %s holds resources other groups use (%s): '
                'unregister those groups first (delete their stacks at '
                'the primary), or move what they use into another group'
                % (self.group, '; '.join(
                    '%s uses %s' % (group, ', '.join(ids))
                    for group, ids in sorted(using.items()))))
