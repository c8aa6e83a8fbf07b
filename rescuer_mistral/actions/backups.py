"""Actions of backup replication (:mod:`rescuer.backups`): a backup per
sync at the primary, the chain's records kept at the DR site, imported
there at failover.  Cinder's backup export and import are admin APIs:
these run with Rescuer's own credential at both sites."""

from rescuer import backups
from rescuer import cinder
from rescuer import exceptions
from rescuer import ownership
from rescuer_mistral.actions import base


class StartSyncBackupsAction(base.GroupAction):
    """Start this sync's backup of each backup-protected volume of the
    group at its primary (incremental on the volume's chain).

    :param group: the group name.
    :param run_id: the sync run (backups are named after it).
    :returns: ``{site, backups: [{volume_id, backup_id, incremental}]}``.
    """

    def __init__(self, group, run_id):
        super().__init__(group)
        self.run_id = run_id

    def execute(self, context):
        return start_sync_backups(self, self.run_id)


def start_sync_backups(action, run_id):
    """What :class:`StartSyncBackupsAction` does, for ``action``'s group
    and the sync run ``run_id``."""
    volume_ids = backups.backup_volumes(action.capture())
    if not volume_ids:
        return {'site': None, 'backups': []}
    api = action.at('primary', cinder.CinderAPI)
    chains = action.store().backups(action.group)['chains']
    return {'site': api.site.name, 'backups': [
        backups.start_backup(api, chains.get(volume_id) or [],
                             volume_id, run_id)
        for volume_id in volume_ids]}


class RecordSyncBackupsAction(base.GroupAction):
    """Keep the records of the new backups' chains at the DR site and
    delete what can be deleted of replaced chains.

    :param group: the group name.
    :param backups: ``backups`` of ``rescuer.start_sync_backups``
        (available by now).
    :returns: ``{volumes: {volume_id: {backup_id, data_timestamp,
        chain_length}}, retired}``.
    """

    def __init__(self, group, backups=None):
        super().__init__(group)
        self.new = backups or []

    def execute(self, context):
        if self.new:
            refuse_foreign_backups(self, self.new)
        return record_sync_backups(self, self.new)


def refuse_foreign_backups(action, new):
    """Refuse sync backups (``[{volume_id, backup_id}]``) that are not of
    the group's backup-protected volumes at its primary."""
    primary = action.definition()['primary_site']
    volume_ids = set(backups.backup_volumes(action.capture()))
    action.refuse_foreign('volume', [item['volume_id'] for item in new],
                          volume_ids, primary)
    api = action.at('primary', cinder.CinderAPI)
    for item in new:
        ownership.backup_of(api, item['backup_id'], {item['volume_id']},
                            action.definition())


def record_sync_backups(action, new):
    """What :class:`RecordSyncBackupsAction` does, for ``action``'s group
    and the sync's ``new`` backups."""
    store = action.store()
    state = store.backups(action.group)
    if not new and not state['retired']:
        return {'volumes': {}, 'retired': 0}
    with store.backups_locked(action.group):
        return _record(action, store, new)


def _record(action, store, new):
    state = store.backups(action.group)     # as it is now, under the lock
    definition = action.definition()
    apis = cinder_at_both_sites(action)
    primary = apis[definition['primary_site']]
    volumes = {}
    for item in new:
        chain = backups.chain_to(
            primary, state['chains'].get(item['volume_id']) or [],
            item['backup_id'])
        backups.advance(state, item['volume_id'], chain,
                        definition['primary_site'])
        volumes[item['volume_id']] = dict(
            backups.newest(state, item['volume_id'], action.group),
            chain_length=len(chain))
        backups.retire_strays(state, primary, item['volume_id'])
    store.save_backups(action.group, state)
    retired = backups.prune(state, apis)
    store.save_backups(action.group, state)
    return {'volumes': volumes, 'retired': retired}


class ImportBackupsAction(base.GroupAction):
    """Import, at the DR site, the records of the chains of the group's
    backup-protected volumes (failover; the primary is not needed).

    :param group: the group name.
    :returns: ``{site, backup_ids}`` (every imported backup, to wait on).
    """

    def execute(self, context):
        volume_ids = backups.backup_volumes(self.capture())
        api = self.at('recovery', cinder.CinderAPI)
        state = self.store().backups(self.group)
        imported = []
        for volume_id in volume_ids:
            backups.newest(state, volume_id, self.group)
            imported += backups.import_chain(
                api, state['chains'][volume_id])
        return {'site': api.site.name, 'backup_ids': imported}


class ReleaseBackupsAction(base.GroupAction):
    """Retire every backup chain of the group (at the primary, and the
    records a failover imported at the DR site) and delete what can be
    deleted now, when the group is unregistered; retry while the result
    is ``IN_PROGRESS`` (Cinder deletes an incremental backup before its
    parent).  A failed-over group's chains go too: its data lives in the
    promoted volumes now (restored copies, not the backups).

    :param group: the group name.
    :returns: ``COMPLETE`` once nothing is left, else ``IN_PROGRESS``.
    """

    def execute(self, context):
        return 'IN_PROGRESS' if release(self) else 'COMPLETE'


def release(action):
    """Retire the chains of ``action``'s group and prune once; returns
    the number of backups still to delete (later syncs go on)."""
    store = action.store()
    with store.backups_locked(action.group):
        return _release(action, store)


def _release(action, store):
    definition = action.definition()
    state = store.backups(action.group)
    volume_ids = set(state.get('chains') or {})
    try:
        volume_ids.update(backups.backup_volumes(action.capture()))
    except exceptions.InvalidCapture:
        pass    # no good capture: the chains name every volume backed up
    backups.retire_all(state, definition['primary_site'],
                       definition['recovery_site'])
    apis = cinder_at_both_sites(action)
    try:
        for volume_id in sorted(volume_ids):
            # Every sync backup goes, recorded or not, finished or not.
            backups.retire_strays(state, apis[definition['primary_site']],
                                  volume_id, backups.RELEASED_STATUSES)
    except exceptions.SiteUnreachable:
        pass    # the primary is down: its unrecorded backups stay there
    store.save_backups(action.group, state)
    left = backups.prune(state, apis)
    store.save_backups(action.group, state)
    return left


def cinder_at_both_sites(action):
    """``{site name: CinderAPI}`` at the group's primary and DR site, with
    Rescuer's credential (a site that does not answer is met, and skipped,
    call by call in :func:`rescuer.backups.prune`)."""
    apis = (action.at('primary', cinder.CinderAPI),
            action.at('recovery', cinder.CinderAPI))
    return {api.site.name: api for api in apis}
