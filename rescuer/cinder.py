"""Thin helpers over Cinder's v3 REST API at a site (microversion 3.38,
which every call here needs at most)."""

from rescuer import exceptions
from rescuer import rest

MICROVERSION = {'OpenStack-API-Version': 'volume 3.38'}


class CinderAPI(rest.ServiceAPI):

    service_type = 'volumev3'

    def _v3(self, method, path, body=None, ok=(200, 201, 202, 204)):
        return self._call(method, path, body, ok=ok, headers=MICROVERSION)

    def find_volume(self, name):
        """The volume called ``name`` in the session's project, or None."""
        volumes = self._v3('GET', '/volumes/detail?name=%s' % name)[
            'volumes']
        return volumes[0] if volumes else None

    def get_volume(self, volume_id):
        return self._v3('GET', '/volumes/%s' % volume_id)['volume']

    def manage_volume(self, host, ref, name, volume_type=None,
                      metadata=None, bootable=False):
        """Take a storage object over as a Cinder volume (admin API)."""
        body = {'host': host, 'ref': ref, 'name': name,
                'metadata': metadata or {}, 'bootable': bootable}
        if volume_type:
            body['volume_type'] = volume_type
        return self._v3('POST', '/manageable_volumes', {'volume': body})[
            'volume']

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
