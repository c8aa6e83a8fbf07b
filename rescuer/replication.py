"""Data replication methods behind one small driver interface.

A method protects one Cinder volume so that its data can be brought up at
the DR site.  Rescuer ships ``storage`` (Cinder replication: the volume's
type is replication-enabled, the array copies the data) and ``backup``
(Cinder backups whose records the DR site imports at failover).  Other
methods - ``hypervisor`` (DRBD/QEMU-assisted), ``application`` (a hook) or
your own - are drivers registered under the ``rescuer.replication`` entry
point::

    [entry_points]
    rescuer.replication =
        hypervisor = mypackage.drbd:DRBDDriver

Drivers get a python-cinderclient v3 client for the volume's own site.
"""

import abc
from importlib import metadata

from rescuer import exceptions

ENTRY_POINT = 'rescuer.replication'
METHODS = ('storage', 'backup', 'hypervisor', 'application')
BACKUP_PREFIX = 'rescuer-'


class ReplicationDriver(abc.ABC):
    """Protects one volume's data for the DR site."""

    def validate(self, volume_type, options):
        """Refuse what this method cannot protect.

        :param volume_type: the volume type's extra specs (a dict), or None
            for the default type.
        :param options: the method's options from the template.
        :raises InvalidReplication: naming what is wrong.
        """

    @abc.abstractmethod
    def protect(self, cinder, volume_id, options):
        """Start protecting an available volume; returns data to keep."""

    @abc.abstractmethod
    def is_protected(self, cinder, volume_id, data):
        """True once protection is in place (polled, never blocks)."""

    @abc.abstractmethod
    def status(self, cinder, volume_id, data):
        """{replication_status, last_point, dr_source} of the volume."""

    def unprotect(self, cinder, volume_id, data):
        """Remove what :meth:`protect` (and later syncs) made."""


class StorageReplication(ReplicationDriver):
    """Cinder replication: the volume type is replication-enabled."""

    def validate(self, volume_type, options):
        specs = volume_type or {}
        if str(specs.get('replication_enabled', '')).lower() != \
                '<is> true':
            raise exceptions.InvalidReplication(
                "the volume type is not replication-enabled (it needs the "
                "extra spec replication_enabled='<is> True')")

    def protect(self, cinder, volume_id, options):
        return {}

    def is_protected(self, cinder, volume_id, data):
        status = cinder.volumes.get(volume_id).replication_status
        if status in ('error', 'disabled', 'not-capable'):
            raise exceptions.InvalidReplication(
                'Cinder reports replication_status %s for volume %s'
                % (status, volume_id))
        return status == 'enabled'

    def status(self, cinder, volume_id, data):
        volume = cinder.volumes.get(volume_id)
        return {'replication_status': volume.replication_status,
                'last_point': None,
                'dr_source': {'kind': 'replica', 'volume_id': volume_id}}


class BackupReplication(ReplicationDriver):
    """Cinder backups, full then incremental, imported at the DR site."""

    def protect(self, cinder, volume_id, options):
        backup = cinder.backups.create(
            volume_id, name=BACKUP_PREFIX + volume_id,
            description='Rescuer DR backup (full)')
        return {'backup_ids': [backup.id]}

    def _latest(self, cinder, data):
        return cinder.backups.get(data['backup_ids'][-1])

    def is_protected(self, cinder, volume_id, data):
        backup = self._latest(cinder, data)
        if backup.status == 'error':
            raise exceptions.InvalidReplication(
                'backup %s of volume %s failed: %s' % (
                    backup.id, volume_id,
                    getattr(backup, 'fail_reason', None) or 'no reason'))
        return backup.status == 'available'

    def status(self, cinder, volume_id, data):
        backup = self._latest(cinder, data)
        return {'replication_status': 'backed-up'
                if backup.status == 'available' else backup.status,
                'last_point': getattr(backup, 'data_timestamp', None) or
                backup.created_at,
                'dr_source': {'kind': 'backup', 'backup_id': backup.id}}

    def unprotect(self, cinder, volume_id, data):
        # Newest first: an incremental backup must go before its parent.
        for backup_id in reversed(data.get('backup_ids', [])):
            try:
                cinder.backups.delete(backup_id)
            except Exception as exc:  # noqa: BLE001 - cinderclient NotFound
                if getattr(exc, 'code', None) != 404:
                    raise


def driver(method):
    """The driver of a replication method, from the entry point."""
    if method not in METHODS and not _registered(method):
        raise exceptions.InvalidReplication(
            'unknown replication method %r (known: %s)'
            % (method, ', '.join(METHODS)))
    found = _registered(method)
    if found is None:
        raise exceptions.InvalidReplication(
            'no %r replication driver is installed: install one that '
            'registers under the %s entry point' % (method, ENTRY_POINT))
    return found.load()()


def _registered(method):
    for entry_point in metadata.entry_points(group=ENTRY_POINT):
        if entry_point.name == method:
            return entry_point
    return None
