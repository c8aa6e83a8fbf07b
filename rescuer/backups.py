"""Data replication by Cinder backups (``replication_method: backup``).

At every sync the primary backs up each of the group's backup-protected
volumes: a full backup starts a chain, the next syncs add incremental
backups on it (Cinder bases each on the volume's newest available
backup), and after :data:`FULL_EVERY` backups a new chain starts.  The DR
site keeps the *exported record* of every backup of the current chain
(``backups.json`` beside the group's captures), so that with the primary
gone it can still import them.  Both sites' ``cinder-backup`` must reach
the same backup repository (NFS/posix, Swift, Ceph): that is how backup
data crosses sites; only the records travel through Rescuer.

At failover the DR site imports the chain's records, oldest first (an
incremental restore reads its parents), and restores the newest into
``rescuer-<volume id>``, the volume a storage promotion would make.  The
data RPO of such a volume is the time of its newest chained backup.

Backups of a replaced chain (and, after a failback, the records the DR
site imported) are *retired*: deleted a few at a time by later syncs,
newest first, because Cinder refuses to delete a backup on which another
still depends.  Deleting a backup removes its objects from the shared
repository; deleting the other site's record of it afterwards is harmless
(the drivers skip objects that are gone).
"""

import base64
import json

from rescuer import exceptions
from rescuer import render

# Backups in a chain before the next sync starts a new one (full).  A
# backup-protected volume holds up to 2 * FULL_EVERY + 2 backups at its
# primary (its chain, the replaced chain being pruned, the resource's own
# first backup, a sync's in flight): mind the project's backup quota.
FULL_EVERY = 4
SYNC_BACKUP = 'rescuer-sync-'


def backup_volumes(capture):
    """The ids of the captured volumes protected by backups."""
    return sorted(v['id'] for v in capture.get('volumes') or []
                  if render.replication_method(v) == 'backup')


def sync_backup_name(volume_id, run_id):
    """One sync run's backup of a volume (a re-run finds it by name)."""
    return '%s%s-%s' % (SYNC_BACKUP, volume_id, run_id)


def start_backup(cinder, chain, volume_id, run_id):
    """Start this sync's backup of ``volume_id`` at the primary
    (``cinder``): incremental on ``chain`` unless the chain is empty or
    full.  Idempotent per run.

    :returns: ``{volume_id, backup_id, incremental}``.
    """
    incremental = 0 < len(chain) < FULL_EVERY
    name = sync_backup_name(volume_id, run_id)
    existing = cinder.find_backup(name)
    if existing is None or existing['status'] == 'error':
        # Another sync of the group (a registration's, a slow scheduled
        # one) is backing the volume up now: Cinder would refuse a second
        # backup, and that one serves this sync as well.
        existing = next((b for b in cinder.backups_in_progress(volume_id)
                         if b['name'].startswith(SYNC_BACKUP)), None)
    if existing is not None and existing['status'] != 'error':
        return {'volume_id': volume_id, 'backup_id': existing['id'],
                'incremental': bool(existing.get('is_incremental'))}
    backup_id = cinder.create_backup(volume_id, name,
                                     incremental=incremental)
    return {'volume_id': volume_id, 'backup_id': backup_id,
            'incremental': incremental}


def record_fields(record):
    """The fields of an exported backup record that chain it: ``id``,
    ``parent_id``, ``created_at``, ``data_timestamp``.

    :raises InvalidCapture: for a record that does not decode.
    """
    try:
        decoded = json.loads(base64.b64decode(record['backup_url']))
        return {'id': decoded['id'], 'parent_id': decoded.get('parent_id'),
                'created_at': decoded.get('created_at'),
                'data_timestamp': decoded.get('data_timestamp')}
    except (KeyError, TypeError, ValueError) as exc:
        raise exceptions.InvalidCapture('backup record does not decode: %s'
                                        % exc)


def chain_to(cinder, chain, backup_id):
    """The chain ending at ``backup_id`` (an available backup at the
    primary), oldest first: ``[{backup_id, parent_id, record,
    data_timestamp}]``.  Records of ``chain`` are reused; the others are
    exported at ``cinder``'s site."""
    known = {link['backup_id']: link for link in chain}
    links, current = [], backup_id
    while current:
        link = known.get(current)
        if link is None:
            record = cinder.export_backup(current)
            fields = record_fields(record)
            link = {'backup_id': current, 'parent_id': fields['parent_id'],
                    'data_timestamp': fields['data_timestamp'] or
                    fields['created_at'], 'record': record}
        links.append(link)
        current = link['parent_id']
        if len(links) > 10 * FULL_EVERY:
            raise exceptions.InvalidCapture(
                'backup %s: its chain of parents does not end' % backup_id)
    return list(reversed(links))


def advance(state, volume_id, new_chain, site):
    """Make ``new_chain`` the volume's chain in ``state`` (the group's
    ``backups.json``); backups of the old chain that the new one no longer
    holds are retired at ``site``.  Returns ``state``."""
    chains = state.setdefault('chains', {})
    kept = {link['backup_id'] for link in new_chain}
    retire(state, site, [link['backup_id'] for link in
                         chains.get(volume_id) or []
                         if link['backup_id'] not in kept])
    chains[volume_id] = new_chain
    return state


def retire(state, site, backup_ids):
    """Queue ``backup_ids`` (oldest first) at ``site`` for deletion."""
    queued = state.setdefault('retired', [])
    for backup_id in backup_ids:
        entry = {'site': site, 'backup_id': backup_id}
        if entry not in queued:
            queued.append(entry)
    return state


# Unregistering retires every sync backup of the group's volumes at the
# primary: unrecorded (available: a sync died between its backup and its
# record), failed (error), and still being made (creating: the volume is
# 'backing-up' until it ends, and a stack delete right after would fail to
# detach it) - the release waits for those to end, then deletes them.
RELEASED_STATUSES = ('available', 'error', 'creating')


def retire_strays(state, cinder, volume_id, statuses=('error',)):
    """Retire the volume's sync backups at ``cinder``'s site (the
    primary) that no chain holds, in ``statuses``: a sync whose backup
    failed (the primary died mid-way) leaves one, and Cinder counts it as
    a dependant of its parent, which could then never be deleted.  The
    strays are queued after the chains, so pruned before them."""
    known = {link['backup_id'] for link in
             (state.get('chains') or {}).get(volume_id) or []}
    known |= {entry['backup_id'] for entry in state.get('retired') or []
              if entry['site'] == cinder.site.name}
    prefix = sync_backup_name(volume_id, '')
    strays = sorted((b for b in cinder.volume_backups(volume_id)
                     if (b.get('name') or '').startswith(prefix)
                     and b['status'] in statuses and b['id'] not in known),
                    key=lambda b: b.get('created_at') or '')
    return retire(state, cinder.site.name, [b['id'] for b in strays])


def retire_all(state, primary_site, dr_site):
    """Retire every chain: at the primary its backups, at the DR site the
    records a failover imported.  The next sync starts a new chain."""
    for chain in (state.get('chains') or {}).values():
        ids = [link['backup_id'] for link in chain]
        retire(state, primary_site, ids)
        retire(state, dr_site, ids)
    state['chains'] = {}
    return state


def prune(state, apis):
    """Delete what can be deleted of the retired backups, newest first;
    forget those that are gone.  A backup whose dependants are still being
    deleted, or at a site not in ``apis`` (it does not answer), waits for
    a later call.  Returns the number still retired."""
    remaining = []
    for entry in reversed(state.get('retired') or []):
        api = apis.get(entry['site'])
        if api is None:
            remaining.append(entry)
            continue
        try:
            backup = api.get_backup(entry['backup_id'])
            if backup['status'] in ('available', 'error'):
                api.delete_backup(entry['backup_id'])
        except exceptions.NotFound:
            continue
        except exceptions.RemoteError as exc:
            if exc.status != 400:   # 400: an incremental still depends on it
                raise
        except exceptions.SiteUnreachable:
            pass
        remaining.append(entry)
    state['retired'] = list(reversed(remaining))
    return len(remaining)


def import_chain(cinder, chain):
    """Import the chain's records at ``cinder``'s site (the DR site),
    oldest first; a record imported before is kept.  Returns the ids."""
    for link in chain:
        try:
            cinder.get_backup(link['backup_id'])
        except exceptions.NotFound:
            cinder.import_backup(link['record'])
    return [link['backup_id'] for link in chain]


def newest(state, volume_id, group):
    """The newest backup of the volume's chain: ``{backup_id,
    data_timestamp}``.

    :raises NotFound: when no sync has backed the volume up yet.
    """
    chain = (state.get('chains') or {}).get(volume_id)
    if not chain:
        raise exceptions.NotFound(
            'volume %s of group %s has no backup the DR site can import: '
            'no sync has backed it up yet' % (volume_id, group))
    return {'backup_id': chain[-1]['backup_id'],
            'data_timestamp': chain[-1]['data_timestamp']}
