"""A Cinder volume driver for the lab: each volume is a sparse file.

Runs inside cinder-volume (it imports Cinder).  Volumes reach their users
through os-brick's ``local`` connector: Cinder's own data paths (backup,
restore, generic migration) read and write the file directly.

Replication: a volume of a replication-enabled type (or in a group with
replication enabled) is copied, whole and atomically, to the directory its
``replication_device`` names - storage that the peer site's backend owns,
under ``from-<site>/``, so the peer's Cinder can take a replica over with
``cinder manage`` when this site is gone.  Copies happen every
``lab_replication_interval`` seconds, or when asked
(``rescuer-lab replicate SITE``): tests decide the replication point.

``failover_host``/``failover_replication`` make each replicated volume
serve its last replica (data written after the last copy is lost, as with
asynchronous array replication); failback (``default``) copies what was
written meanwhile back and serves the primary again.
"""

import os
import pathlib

from oslo_config import cfg
from oslo_log import log as logging
from oslo_service import loopingcall

from cinder import exception
from cinder.i18n import _
from cinder import interface
from cinder.objects import fields
from cinder.volume import configuration
from cinder.volume import driver
from cinder.volume import volume_utils

from rescuer_lab import filestore

LOG = logging.getLogger(__name__)

lab_opts = [
    cfg.StrOpt('lab_volumes_dir',
               help='Directory holding this backend\'s volume files.'),
    cfg.IntOpt('lab_replication_interval', default=0, min=0,
               help='Seconds between replication copies; 0 copies only '
                    'when asked (rescuer-lab replicate).'),
]
cfg.CONF.register_opts(lab_opts, group=configuration.SHARED_CONF_GROUP)

DEFAULT = 'default'


@interface.volumedriver
class LabFileDriver(driver.VolumeDriver):
    """Sparse-file volumes with file-copy replication (lab only)."""

    VERSION = '1.0.0'
    CI_WIKI_NAME = 'Rescuer_lab'
    SUPPORTS_ACTIVE_ACTIVE = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration.append_config_values(lab_opts)
        self.backend_name = (self.configuration.safe_get(
            'volume_backend_name') or 'lab')
        self._active_backend_id = kwargs.get('active_backend_id') or DEFAULT
        self._replicator = None

    # ------------------------------------------------------------- set-up

    @property
    def _dir(self):
        return pathlib.Path(self.configuration.lab_volumes_dir)

    def _targets(self):
        """{backend_id: replica_dir} from replication_device."""
        targets = {}
        for device in self.configuration.safe_get('replication_device') or []:
            if 'backend_id' not in device or 'replica_dir' not in device:
                raise exception.InvalidConfigurationValue(
                    option='replication_device', value=device)
            targets[device['backend_id']] = device['replica_dir']
        return targets

    def do_setup(self, context):
        if not self.configuration.safe_get('lab_volumes_dir'):
            raise exception.InvalidConfigurationValue(
                option='lab_volumes_dir', value=None)
        self._dir.mkdir(parents=True, exist_ok=True)
        # Nothing of this backend is being copied before it starts.
        for name in filestore.remove_partials(self._dir):
            LOG.warning('removed %s, a copy left unfinished', name)
        self._targets()
        interval = self.configuration.lab_replication_interval
        if interval and self._targets():
            self._replicator = loopingcall.FixedIntervalLoopingCall(
                self._replicate_all)
            self._replicator.start(interval=interval,
                                   initial_delay=interval)

    def check_for_setup_error(self):
        if not os.access(self._dir, os.W_OK):
            raise exception.VolumeBackendAPIException(
                data=_('%s is not writable') % self._dir)

    def _replicate_all(self):
        if self._active_backend_id == DEFAULT:
            filestore.replicate(self._dir)

    # ----------------------------------------------------------- volumes

    def _path(self, volume):
        return filestore.volume_file(self._dir, volume.id)

    def _target_dir(self):
        targets = self._targets()
        return next(iter(targets.values())) if targets else None

    def create_volume(self, volume):
        filestore.create_sparse(self._path(volume), volume.size)
        return self._created(volume)

    def _enable(self, volume):
        target = self._target_dir()
        if target is None:
            return {'replication_status': fields.ReplicationStatus.ERROR}
        filestore.mark_replicated(self._dir, volume.id, volume.size, target)
        return {'replication_status': fields.ReplicationStatus.ENABLED}

    def delete_volume(self, volume):
        filestore.unmark_replicated(self._dir, volume.id)
        self._path(volume).unlink(missing_ok=True)

    def extend_volume(self, volume, new_size):
        filestore.resize(self._path(volume), new_size)

    def create_cloned_volume(self, volume, src_vref):
        return self._copy_into(filestore.volume_file(self._dir, src_vref.id),
                               volume)

    def create_volume_from_snapshot(self, volume, snapshot):
        return self._copy_into(
            filestore.snapshot_file(self._dir, snapshot.id), volume)

    def _copy_into(self, source, volume):
        filestore.sparse_copy(source, self._path(volume))
        if filestore.size_gb(self._path(volume)) < volume.size:
            filestore.resize(self._path(volume), volume.size)
        return self._created(volume)

    def _created(self, volume):
        update = {'provider_location': str(self._path(volume))}
        if volume.volume_type and volume_utils.is_replicated_spec(
                volume.volume_type.extra_specs):
            update.update(self._enable(volume))
        return update

    def create_snapshot(self, snapshot):
        filestore.sparse_copy(
            filestore.volume_file(self._dir, snapshot.volume_id),
            filestore.snapshot_file(self._dir, snapshot.id))

    def delete_snapshot(self, snapshot):
        filestore.snapshot_file(self._dir, snapshot.id).unlink(
            missing_ok=True)

    def revert_to_snapshot(self, context, volume, snapshot):
        filestore.sparse_copy(filestore.snapshot_file(self._dir, snapshot.id),
                              self._path(volume))

    # ------------------------------------------------------- connections

    def initialize_connection(self, volume, connector, **kwargs):
        return {'driver_volume_type': 'local',
                'data': {'device_path': str(self._path(volume))}}

    def terminate_connection(self, volume, connector, **kwargs):
        # A user of the `local` connector may have opened the file with
        # O_TRUNC (cinder-backup's restore does, harmless on a block
        # device): give the volume back its full size.
        path = self._path(volume)
        if path.exists() and os.path.getsize(path) < volume.size * \
                filestore.GiB:
            filestore.resize(path, volume.size)

    def create_export(self, context, volume, connector):
        pass

    def ensure_export(self, context, volume):
        pass

    def remove_export(self, context, volume):
        pass

    def create_export_snapshot(self, context, snapshot, connector):
        pass

    def remove_export_snapshot(self, context, snapshot):
        pass

    # ------------------------------------------------------------ images

    def copy_image_to_volume(self, context, volume, image_service, image_id,
                             disable_sparse=False):
        """Write a raw image's bytes straight into the volume file."""
        meta = image_service.show(context, image_id)
        if meta.get('disk_format') not in ('raw', None):
            raise exception.ImageUnacceptable(
                image_id=image_id,
                reason=_('the lab backend takes raw images only, not %s')
                % meta.get('disk_format'))
        with open(self._path(volume), 'r+b') as f:
            image_service.download(context, image_id, f)
        if filestore.size_gb(self._path(volume)) > volume.size:
            raise exception.ImageTooBig(image_id=image_id,
                                        reason=_('image larger than volume'))
        filestore.resize(self._path(volume), volume.size)

    def copy_volume_to_image(self, context, volume, image_service,
                             image_meta):
        with open(self._path(volume), 'rb') as f:
            image_service.update(context, image_meta['id'],
                                 {'disk_format': 'raw',
                                  'container_format': 'bare'}, f)

    # ---------------------------------------------------------- manage

    def _existing_path(self, existing_ref):
        name = existing_ref.get('source-name')
        if not name:
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason=_('source-name (a file under %s) is required')
                % self._dir)
        path = (self._dir / name).resolve()
        if self._dir.resolve() not in path.parents or not path.is_file():
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason=_('no volume file %s under %s') % (name, self._dir))
        return path

    def manage_existing_get_size(self, volume, existing_ref):
        return filestore.size_gb(self._existing_path(existing_ref))

    def manage_existing(self, volume, existing_ref):
        source = self._existing_path(existing_ref)
        os.replace(source, self._path(volume))
        pathlib.Path(str(source) + '.json').unlink(missing_ok=True)
        filestore.resize(self._path(volume),
                         max(volume.size, filestore.size_gb(
                             self._path(volume))))
        # Cinder's manage flow, unlike create, leaves shared_targets at its
        # default (True) and service_uuid unset, and os-brick then locks on
        # a None name at attach: this backend shares no targets.
        return {'provider_location': str(self._path(volume)),
                'shared_targets': False}

    def get_manageable_volumes(self, cinder_volumes, marker, limit, offset,
                               sort_keys, sort_dirs):
        """The replicas other sites wrote here (``from-<site>/``): what a
        failover can take over, each with when it was copied
        (``extra_info.replicated_at``, ISO 8601 UTC)."""
        entries = [self._manageable(path) for path in sorted(
            self._dir.glob('from-*/volume-*')) if '.' not in path.name]
        return volume_utils.paginate_entries_list(
            entries, marker, limit, offset, sort_keys, sort_dirs)

    def _manageable(self, path):
        return {'reference': {'source-name': str(path.relative_to(
                    self._dir))},
                'size': filestore.size_gb(path), 'safe_to_manage': True,
                'reason_not_safe': None, 'cinder_id': None,
                'extra_info': {'replicated_at': filestore.replicated_at(
                    path)}}

    def unmanage(self, volume):
        filestore.unmark_replicated(self._dir, volume.id)

    # ------------------------------------------------------------ stats

    def _update_volume_stats(self):
        stat = os.statvfs(self._dir)
        replicated = bool(self._targets())
        self._stats = {
            'volume_backend_name': self.backend_name,
            'vendor_name': 'Rescuer lab',
            'driver_version': self.VERSION,
            'storage_protocol': 'local',
            'total_capacity_gb': stat.f_blocks * stat.f_frsize
            // filestore.GiB,
            'free_capacity_gb': stat.f_bavail * stat.f_frsize
            // filestore.GiB,
            'reserved_percentage': 0,
            'thin_provisioning_support': True,
            'thick_provisioning_support': False,
            'max_over_subscription_ratio': 20.0,
            'multiattach': False,
            'QoS_support': False,
            'replication_enabled': replicated,
            'replication_targets': list(self._targets()),
            'replication_type': ['async'] if replicated else [],
            'group_replication_enabled': replicated,
            'consistent_group_replication_enabled': replicated,
            'consistent_group_snapshot_enabled': False,
        }

    # ------------------------------------------------- replication (host)

    def _swap_to_replica(self, volume):
        """Serve the volume from its last replica; keep what was primary."""
        replica = filestore.replica_file(self._target_dir(), volume.id)
        if not replica.exists():
            raise exception.UnableToFailOver(
                reason=_('volume %s has no replica yet') % volume.id)
        path = self._path(volume)
        os.replace(path, str(path) + '.pre-failover')
        filestore.sparse_copy(replica, path)

    def _swap_back(self, volume):
        """Failback: what was written while failed over stays."""
        pathlib.Path(str(self._path(volume)) + '.pre-failover').unlink(
            missing_ok=True)
        filestore.sparse_copy(self._path(volume), filestore.replica_file(
            self._target_dir(), volume.id))

    def failover_host(self, context, volumes, secondary_id=None,
                      groups=None):
        targets = self._targets()
        if not targets:
            raise exception.UnableToFailOver(
                reason=_('no replication_device is configured'))
        failing_back = secondary_id == DEFAULT
        if failing_back:
            new_id = DEFAULT
        else:
            new_id = secondary_id or next(iter(targets))
            if new_id not in targets:
                raise exception.InvalidReplicationTarget(
                    reason=_('unknown target %s') % new_id)
            if self._active_backend_id != DEFAULT:
                raise exception.InvalidReplicationTarget(
                    reason=_('already failed over to %s')
                    % self._active_backend_id)
        volume_updates = []
        for volume in volumes:
            volume_updates.append({'volume_id': volume.id, 'updates': (
                self._failback_one(volume) if failing_back
                else self._failover_one(volume))})
        group_status = (fields.ReplicationStatus.ENABLED if failing_back
                        else fields.ReplicationStatus.FAILED_OVER)
        group_updates = [
            {'group_id': group.id,
             'updates': {'replication_status': group_status}}
            for group in groups or [] if group.is_replicated]
        self._active_backend_id = new_id
        return new_id, volume_updates, group_updates

    def _failover_one(self, volume):
        if not filestore.is_replicated(self._dir, volume.id):
            return {'status': 'error'}
        try:
            self._swap_to_replica(volume)
        except exception.UnableToFailOver as exc:
            LOG.error('Failover of volume %s: %s', volume.id, exc)
            return {'replication_status': fields.ReplicationStatus.ERROR}
        return {'replication_status': fields.ReplicationStatus.FAILED_OVER}

    def _failback_one(self, volume):
        if not filestore.is_replicated(self._dir, volume.id):
            return {'status': 'available'} if volume.status == 'error' \
                else {}
        self._swap_back(volume)
        return {'replication_status': fields.ReplicationStatus.ENABLED}

    def failover(self, context, volumes, secondary_id=None, groups=None):
        return self.failover_host(context, volumes, secondary_id, groups)

    def failover_completed(self, context, active_backend_id=None):
        self._active_backend_id = active_backend_id or DEFAULT

    # ------------------------------------------------ replication (group)

    def create_group(self, context, group):
        update = {'status': fields.GroupStatus.AVAILABLE}
        if group.is_replicated:
            update['replication_status'] = fields.ReplicationStatus.DISABLED
        return update

    def delete_group(self, context, group, volumes):
        for volume in volumes:
            self.delete_volume(volume)
        return ({'status': fields.GroupStatus.DELETED},
                [{'id': v.id, 'status': 'deleted'} for v in volumes])

    def update_group(self, context, group, add_volumes=None,
                     remove_volumes=None):
        return None, None, None

    def enable_replication(self, context, group, volumes):
        updates = [dict(self._enable(v), id=v.id) for v in volumes]
        return ({'replication_status': fields.ReplicationStatus.ENABLED},
                updates)

    def disable_replication(self, context, group, volumes):
        for volume in volumes:
            filestore.unmark_replicated(self._dir, volume.id)
        status = fields.ReplicationStatus.DISABLED
        return ({'replication_status': status},
                [{'id': v.id, 'replication_status': status}
                 for v in volumes])

    def failover_replication(self, context, group, volumes,
                             secondary_backend_id=None):
        failing_back = secondary_backend_id == DEFAULT
        updates = []
        for volume in volumes:
            update = (self._failback_one(volume) if failing_back
                      else self._failover_one(volume))
            updates.append(dict(update, id=volume.id))
        status = (fields.ReplicationStatus.ENABLED if failing_back
                  else fields.ReplicationStatus.FAILED_OVER)
        return {'replication_status': status}, updates

    def get_replication_error_status(self, context, groups):
        return [], []
