"""Switchover: a planned move of a group to the DR site with no data
lost, while the primary is up.

After a final sync (the group's hooks around a last capture), the
primary is fenced - its servers stopped and ports taken down: the group
is quiesced and cleanly demoted there - and only then is each replicated
volume's data copied: a backup at the primary of the stopped volume, its
record imported at the DR site and restored into ``rescuer-<volume id>``,
the same name a failover's promotion uses, so activation, failback and
re-runs work the same way.  Nothing written before the fence is lost.
"""

from rescuer import failback
from rescuer import failover


def backup_name(volume_id):
    return failback.backup_name(volume_id, failback.SWITCHOVER_BACKUP)


def back_up_primary(cinder, capture):
    """Backups of the group's replicated volumes at the primary:
    ``[{volume_id, backup_id}]``."""
    return [{'volume_id': v['volume_id'],
             'backup_id': failback.backup_once(cinder, v['volume_id'],
                                               backup_name(v['volume_id']))}
            for v in failover.replicated_volumes(capture)]


def restore_at_dr(cinder, item):
    """The backup restored into the group's promoted volume at the DR
    site (found, if an earlier run made it); returns
    ``{volume_id, dr_volume_id}``."""
    name = failover.promoted_name(item['volume_id'])
    existing = cinder.find_volume(name)
    volume_id = (existing['id'] if existing is not None else
                 cinder.restore_backup_as(item['backup_id'], name))
    return {'volume_id': item['volume_id'], 'dr_volume_id': volume_id}
