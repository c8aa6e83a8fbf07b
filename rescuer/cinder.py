"""Thin helpers over Cinder's v3 REST API at a site (microversion 3.38,
which every call here needs at most)."""

import urllib.parse

from rescuer import exceptions
from rescuer import rest

MICROVERSION = {'OpenStack-API-Version': 'volume 3.38'}


class CinderAPI(rest.ServiceAPI):

    service_type = 'volumev3'

    def _v3(self, method, path, body=None, ok=(200, 201, 202, 204)):
        return self._call(method, path, body, ok=ok, headers=MICROVERSION)

    def _named(self, collection, name):
        """Every one of ``collection`` called ``name`` in the session's
        project."""
        return self._v3('GET', '/%s/detail?name=%s' % (collection, _q(name)))[
            collection]

    def _first(self, collection, name):
        """The first of ``collection`` called ``name``, or None."""
        found = self._named(collection, name)
        return found[0] if found else None

    def find_volume(self, name):
        """The volume called ``name`` in the session's project, or None."""
        return self._first('volumes', name)

    def find_volumes(self, name):
        """Every volume called ``name`` in the session's project."""
        return self._named('volumes', name)

    def get_volume(self, volume_id):
        return self._v3('GET', '/volumes/%s' % volume_id)['volume']

    def manageable_volumes(self, host):
        """What the backend ``host`` (``host@backend``) holds that Cinder
        could take over (an admin API): ``[{reference, size,
        safe_to_manage, extra_info, ...}]``."""
        return self._v3('GET', '/manageable_volumes/detail?host=%s'
                        '&limit=1000' % _q(host))['manageable-volumes']

    def attachments(self, volume_id):
        """The volume's attachments (``{id, instance, status}``)."""
        return self._v3('GET', '/attachments?volume_id=%s' % _q(volume_id))[
            'attachments']

    def delete_attachment(self, attachment_id):
        """Delete an attachment (a reserved one frees its volume)."""
        self._v3('DELETE', '/attachments/%s' % attachment_id)

    def manage_volume(self, host, ref, name, volume_type=None,
                      metadata=None, bootable=False):
        """Take a storage object over as a Cinder volume (admin API)."""
        body = {'host': host, 'ref': ref, 'name': name,
                'metadata': metadata or {}, 'bootable': bootable}
        if volume_type:
            body['volume_type'] = volume_type
        return self._v3('POST', '/manageable_volumes', {'volume': body})[
            'volume']

    def delete_volume(self, volume_id):
        self._delete('/volumes/%s' % volume_id, headers=MICROVERSION)

    # ------------------------------------------------------------- groups

    def find_group(self, name):
        return self._first('groups', name)

    def create_group(self, name, group_type, volume_types):
        return self._v3('POST', '/groups', {'group': {
            'name': name, 'group_type': group_type,
            'volume_types': volume_types}})['group']['id']

    def group_volume_ids(self, group_id):
        return {v['id'] for v in self._v3(
            'GET', '/volumes/detail?group_id=%s' % _q(group_id))['volumes']}

    def add_to_group(self, group_id, volume_ids):
        self._v3('PUT', '/groups/%s' % group_id, {'group': {
            'add_volumes': ','.join(sorted(volume_ids))}})

    def remove_from_group(self, group_id, volume_ids):
        self._v3('PUT', '/groups/%s' % group_id, {'group': {
            'remove_volumes': ','.join(sorted(volume_ids))}})

    def delete_group(self, group_id):
        """Delete an empty group, keeping its (former) volumes."""
        self._v3('POST', '/groups/%s/action' % group_id,
                 {'delete': {'delete-volumes': False}})

    def group_snapshots(self, group_id):
        return self._v3('GET', '/group_snapshots/detail?group_id=%s'
                        % _q(group_id))['group_snapshots']

    def create_group_snapshot(self, group_id, name):
        return self._v3('POST', '/group_snapshots', {'group_snapshot': {
            'group_id': group_id, 'name': name}})['group_snapshot']['id']

    def delete_group_snapshot(self, snapshot_id):
        self._delete('/group_snapshots/%s' % snapshot_id,
                     headers=MICROVERSION)

    # ------------------------------------------------------------ backups

    def find_backup(self, name):
        return self._first('backups', name)

    def backups_in_progress(self, volume_id):
        """The backups of ``volume_id`` being made now."""
        return self._v3('GET', '/backups/detail?volume_id=%s&status=creating'
                        % _q(volume_id))['backups']

    def volume_backups(self, volume_id):
        """Every backup of ``volume_id``, whatever its status."""
        return self._v3('GET', '/backups/detail?volume_id=%s'
                        % _q(volume_id))['backups']

    def get_backup(self, backup_id):
        return self._v3('GET', '/backups/%s' % backup_id)['backup']

    def create_backup(self, volume_id, name, force=True, incremental=False):
        return self._v3('POST', '/backups', {'backup': {
            'volume_id': volume_id, 'name': name, 'force': force,
            'incremental': incremental}})['backup']['id']

    def export_backup(self, backup_id):
        """The backup's record, for another site to import (admin)."""
        record = self._v3('GET', '/backups/%s/export_record' % backup_id)[
            'backup-record']
        return {'backup_service': record['backup_service'],
                'backup_url': record['backup_url']}

    def import_backup(self, record):
        return self._v3('POST', '/backups/import_record',
                        {'backup-record': record})['backup']['id']

    def restore_backup(self, backup_id, volume_id):
        """Restore onto an existing (available) volume."""
        return self._v3('POST', '/backups/%s/restore' % backup_id,
                        {'restore': {'volume_id': volume_id}})['restore']

    def restore_backup_as(self, backup_id, name):
        """Restore into a new volume called ``name``; returns its id."""
        return self._v3('POST', '/backups/%s/restore' % backup_id,
                        {'restore': {'name': name}})['restore']['volume_id']

    def delete_backup(self, backup_id):
        self._delete('/backups/%s' % backup_id, headers=MICROVERSION)

    def backup_state(self, backup_id):
        """'COMPLETE' once available, 'IN_PROGRESS' before; raise on
        error."""
        backup = self.get_backup(backup_id)
        if backup['status'] == 'available':
            return 'COMPLETE'
        if backup['status'] == 'error':
            raise exceptions.RemoteError(
                self.site.name, 'GET', '/backups/%s' % backup_id, 200,
                'backup %s failed: %s' % (backup_id,
                                          backup.get('fail_reason')))
        return 'IN_PROGRESS'

    def volume_state(self, volume_id, want=('available', 'in-use')):
        """'COMPLETE' once the volume is in ``want``, 'IN_PROGRESS' while
        it gets there; raise when it went to an error state."""
        volume = self.get_volume(volume_id)
        if volume['status'] in want:
            return 'COMPLETE'
        if volume['status'].startswith('error'):
            raise exceptions.RemoteError(
                self.site.name, 'GET', '/volumes/%s' % volume_id, 200,
                'volume %s is %s' % (volume_id, volume['status']))
        return 'IN_PROGRESS'


def _q(value):
    """A query string value, quoted: a name or id holding ``&`` or ``=``
    adds no parameter of its own (``all_tenants``...)."""
    return urllib.parse.quote(str(value), safe='')
