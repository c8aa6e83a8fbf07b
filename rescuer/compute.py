"""Thin helpers over Nova's and Neutron's REST APIs at a site: what
fencing and health checks need."""

import urllib.parse

from rescuer import exceptions
from rescuer import rest


class ComputeAPI(rest.ServiceAPI):

    service_type = 'compute'

    def servers(self, ids=None):
        """Servers of the session's project (only ``ids`` when given)."""
        servers = self._call('GET', '/servers/detail')['servers']
        if ids is not None:
            servers = [s for s in servers if s['id'] in ids]
        return servers

    def server_group(self, group_id):
        """One server group (its policy and members)."""
        return self._call('GET', '/os-server-groups/%s'
                          % group_id)['server_group']

    def flavors(self):
        return self._call('GET', '/flavors/detail')['flavors']

    def stop(self, server_id):
        """Stop a server; an already stopped one is fine."""
        self._power_action(server_id, 'os-stop')

    def start(self, server_id):
        """Start a stopped server; an already running one is fine."""
        self._power_action(server_id, 'os-start')

    def _power_action(self, server_id, action):
        """Nova answers 409 when the server is in that state already."""
        try:
            self._call('POST', '/servers/%s/action' % server_id,
                       {action: None})
        except exceptions.RemoteError as exc:
            if exc.status != 409:
                raise

    def delete(self, server_id):
        self._delete('/servers/%s' % server_id)

    def detach_volume(self, server_id, volume_id):
        """Detach; a volume not attached there is fine."""
        self._delete('/servers/%s/os-volume_attachments/%s'
                     % (server_id, volume_id))


class NetworkAPI(rest.ServiceAPI):

    service_type = 'network'

    def set_port_admin_state(self, port_id, up):
        self._call('PUT', '/v2.0/ports/%s' % port_id,
                   {'port': {'admin_state_up': up}})

    # Ids per filtered list call (as rescuer.capture.FILTER_CHUNK).
    CHUNK = 50

    def ports(self, ids):
        """The ports of ``ids``, filtered by Neutron."""
        ids, found = sorted(ids), []
        for start in range(0, len(ids), self.CHUNK):
            query = urllib.parse.urlencode(
                [('id', i) for i in ids[start:start + self.CHUNK]])
            found += self._call('GET', '/v2.0/ports?%s' % query)['ports']
        return found

    def router_ports(self, router_id):
        """The ports of a router (its interfaces and gateway)."""
        query = urllib.parse.urlencode([('device_id', router_id)])
        return self._call('GET', '/v2.0/ports?%s' % query)['ports']

    def show(self, path):
        """One record of Neutron's (``/v2.0/<collection>/<id>``)."""
        return self._call('GET', path)
