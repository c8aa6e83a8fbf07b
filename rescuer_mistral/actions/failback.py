"""Actions of the failback workflows, run by the DR site's Mistral once
the primary is back; each is one idempotent step of
``rescuer.failback``."""

from rescuer import cinder
from rescuer import compute
from rescuer import exceptions
from rescuer import failback
from rescuer import failover
from rescuer import heat
from rescuer import ownership
from rescuer import switchover
from rescuer_mistral.actions import backups as backup_actions
from rescuer_mistral.actions import base
from rescuer_mistral.actions import failover as failover_actions


class PlanFailbackAction(base.PlanAction):
    """Check a failback before anything changes, and plan its tiers:
    every group registered here, failed over (fenced), held by no other
    run, and its primary answering with the group's stack in place.

    :param groups: names of the protection groups.
    :returns: the plan, as ``rescuer.plan_failover`` returns it.
    """

    def execute(self, context):
        store = self.store()
        started = failover.now()
        tiers = failover.plan(store, self.groups)
        problems, planned, site_names = [], {}, set()
        for name in self.groups:
            definition = store.definition(name)
            site_names.add(definition['recovery_site'])
            if store.fence(name) is None:
                problems.append('group %s is not failed over' % name)
                continue
            problem = self.primary_problem(context, definition)
            if problem:
                problems.append('group %s: %s' % (name, problem))
            planned[name] = {'tier': definition['tier'],
                             'rpo': definition['rpo'],
                             'rto': definition['rto'],
                             'last_sync_time': None}
        if problems:
            raise exceptions.InvalidGroup('; '.join(problems))
        site = site_names.pop()
        self.refuse_held(context, site)
        return {'started_at': started, 'site': site,
                'tiers': tiers, 'groups': planned}


class DrainAction(base.GroupAction):
    """Stop the group's servers at the DR site (drain) - if they served:
    a group whose failover never passed its health check here served
    nothing from this site, so nothing is stopped and no data comes back
    (``served`` false); its primary is refreshed on its own volumes.

    :returns: ``{site, servers, served}``.
    """

    def execute(self, context):
        definition = self.definition()
        site, session = self.rescuer_session_for(definition['recovery_site'])
        if not failback.served(self.store().fence(self.group)):
            return {'site': site.name, 'servers': [], 'served': False}
        return {'site': site.name, 'served': True,
                'servers': failback.drain(heat.HeatAPI(session, site),
                                          compute.ComputeAPI(session, site),
                                          self.group)}


class ServersStateAction(base.GroupAction):
    """COMPLETE once every server is in ``want`` (IN_PROGRESS before).

    :param group: the protection group the servers are of.
    :param site: the servers' site (the group's primary or DR site).
    :param server_ids: the servers (the group's, by Rescuer's records).
    :param want: the status, SHUTOFF by default.
    """

    def __init__(self, group, site, server_ids, want='SHUTOFF'):
        super().__init__(group)
        self.site = site
        self.server_ids = server_ids
        self.want = want

    def execute(self, context):
        if self.server_ids:
            self.refuse_foreign('server', self.server_ids,
                                self.owned_server_ids(self.site), self.site)
        site, session = self.rescuer_session_for(self.site)
        return failback.servers_state(compute.ComputeAPI(session, site),
                                      self.server_ids, self.want)


class PromotedVolumesAction(base.GroupAction):
    """The group's promoted volumes at the DR site.

    :returns: ``[{volume_id, dr_volume_id}]``.
    """

    def execute(self, context):
        return failback.promoted_volumes(self.at('recovery',
                                                 cinder.CinderAPI),
                                         self.capture())


class BackupPromotedAction(base.GroupAction):
    """Back a promoted volume up at the DR site.

    :param promoted: one item of ``rescuer.promoted_volumes``.
    :returns: the item with ``backup_id`` and ``site``.
    """

    def __init__(self, group, promoted):
        super().__init__(group)
        self.promoted = promoted

    def execute(self, context):
        api = self.at('recovery', cinder.CinderAPI)
        refuse_unpromoted(self, api, [self.promoted])
        return dict(self.promoted, site=api.site.name,
                    backup_id=failback.backup_promoted(api, self.promoted))


def refuse_unpromoted(action, api, items):
    """Refuse ``items`` (``[{volume_id, dr_volume_id}]``) that are not the
    group's promoted volumes at ``api``'s site, by Rescuer's records."""
    action.refuse_foreign('promoted volume', ownership.unpromoted(
        api, action.capture(), items), (), api.site.name)


class BackupStatusAction(failover_actions.VolumeStatusAction):
    """COMPLETE once every backup is available (IN_PROGRESS before).

    :param group: the protection group the backups are of.
    :param site: the backups' site.
    :param backup_ids: the backups (of the group's volumes).
    """

    state_of = 'backup_state'

    def __init__(self, group, site, backup_ids):
        super().__init__(group, site, backup_ids)

    def refuse_owned(self, api):
        for backup_id in self.ids:
            self.owned_backup(api, backup_id)


class TransferBackupAction(base.GroupAction):
    """Export a backup's record at one of the group's sites and import it
    at the other.

    :param backup_id: the backup.
    :param to: ``primary`` (failback, the default) or ``recovery``
        (switchover).
    :returns: ``{backup_id, site}`` (the site it was imported at).
    """

    def __init__(self, group, backup_id, to='primary'):
        super().__init__(group)
        self.backup_id = backup_id
        self.to = to

    def execute(self, context):
        source = self.at('recovery' if self.to == 'primary' else 'primary',
                         cinder.CinderAPI)
        self.owned_backup(source, self.backup_id)
        target = self.at(self.to, cinder.CinderAPI)
        return {'site': target.site.name, 'backup_id': failback.
                transfer_backup(source, target, self.backup_id)}


class RestorePrimaryVolumesAction(base.GroupAction):
    """Detach the primary volumes from their servers and restore the
    backups onto them; retried until ``restoring`` (a detach takes a
    moment).

    :param backups: ``[{volume_id, backup_id}]`` (imported at the
        primary).
    :returns: ``{volume_ids, restoring, site}``.
    """

    def __init__(self, group, backups):
        super().__init__(group)
        self.backups = backups

    def execute(self, context):
        api = self.at('primary', cinder.CinderAPI)
        nova = self.at('primary', compute.ComputeAPI)
        capture = self.capture()
        refuse_foreign_restores(self, api, self.backups)
        restoring = [failback.restore_primary_volume(
            api, nova, capture, item['volume_id'], item['backup_id'])[
                'restoring'] for item in self.backups]
        return {'site': api.site.name, 'restoring': all(restoring),
                'volume_ids': [item['volume_id'] for item in self.backups]}


def refuse_foreign_restores(action, api, items):
    """Refuse a restore (``[{volume_id, backup_id}]``) onto a volume that
    is not the group's, or from a backup of another volume."""
    action.refuse_foreign('volume', [item['volume_id'] for item in items],
                          ownership.capture_volumes(action.capture()),
                          action.definition()['primary_site'])
    for item in items:
        action.owned_backup(api, item['backup_id'])


class RetirePrimaryServersAction(base.GroupAction):
    """Delete the group's fenced servers at the primary, for Heat to
    recreate them fresh.

    :returns: ``{site, servers}``.
    """

    def execute(self, context):
        api = self.at('primary', heat.HeatAPI)
        return {'site': api.site.name, 'servers': failback.
                retire_primary_servers(api, self.at('primary',
                                                    compute.ComputeAPI),
                                       self.definition())}


class RefreshPrimaryAction(base.GroupAction):
    """Lift the fence at the primary and have Heat recreate the group's
    servers and the restored volumes' attachments fresh.

    :param volume_ids: the restored primary volumes.
    :returns: ``{stack_id, replaced, action, site}``.
    """

    def __init__(self, group, volume_ids=None):
        super().__init__(group)
        self.volume_ids = volume_ids or []

    def execute(self, context):
        self.refuse_foreign('volume', self.volume_ids,
                            ownership.capture_volumes(self.capture()),
                            self.definition()['primary_site'])
        api = self.at('primary', heat.HeatAPI)
        result = failback.refresh_primary(
            api, self.at('primary', compute.NetworkAPI), self.definition(),
            self.store().fence(self.group) or {}, set(self.volume_ids))
        result['site'] = api.site.name
        return result


class PrimaryHealthAction(base.GroupAction):
    """Health of the group's members at the primary (retried while
    ``healthy`` is false)."""

    def execute(self, context):
        return failback.primary_health(self.at('primary', heat.HeatAPI),
                                       self.at('primary',
                                               compute.ComputeAPI),
                                       self.definition())


class DemoteAction(base.GroupAction):
    """The DR site's recovery stack back to the group's standby level.

    :returns: ``{stack_id, action, site}``.
    """

    def execute(self, context):
        api = self.at('recovery', heat.HeatAPI)
        result = failback.demote(api, self.definition(), self.capture(),
                                 held_elsewhere=self.held_elsewhere(),
                                 compute=self.at('recovery',
                                                 compute.ComputeAPI))
        result['site'] = api.site.name
        return result


class FinishFailbackAction(base.GroupAction):
    """Delete what failover and failback made (promoted volumes,
    failback backups), retire the group's backup chains and lift the
    group's fence record: its scheduled sync protects it from the primary
    again.

    :param promoted: the items of ``rescuer.promoted_volumes``.
    """

    def __init__(self, group, promoted=None):
        super().__init__(group)
        self.promoted = promoted or []

    def execute(self, context):
        refuse_unpromoted(self, self.at('recovery', cinder.CinderAPI),
                          self.promoted)
        failback.clean_up(self.at('recovery', cinder.CinderAPI),
                          self.at('primary', cinder.CinderAPI),
                          self.promoted)
        # The primary's volumes hold the DR site's data now: backup
        # chains start anew at the next sync (old ones are pruned by it).
        backup_actions.release(self)
        store = self.store()
        with store.fence_locked(self.group):
            store.clear_fence(self.group)
        return {'group': self.group, 'fence': None}


class BackUpPrimaryAction(base.GroupAction):
    """Back the group's replicated volumes up at the primary
    (switchover, once the primary is fenced).

    :returns: ``[{volume_id, backup_id, site}]``.
    """

    def execute(self, context):
        api = self.at('primary', cinder.CinderAPI)
        return [dict(item, site=api.site.name) for item in
                switchover.back_up_primary(api, self.capture())]


class RestoreAtRecoveryAction(base.GroupAction):
    """Restore the switchover backups into the group's promoted volumes
    at the DR site.

    :param backups: ``[{volume_id, backup_id}]`` (imported there).
    :returns: ``[{volume_id, dr_volume_id, site}]``.
    """

    def __init__(self, group, backups):
        super().__init__(group)
        self.backups = backups

    def execute(self, context):
        api = self.at('recovery', cinder.CinderAPI)
        refuse_foreign_restores(self, api, self.backups)
        return [dict(switchover.restore_at_dr(api, item), site=api.site.name)
                for item in self.backups]
