"""The lab's compute: its fake guests outlive a restart of nova-compute,
as a real hypervisor's do (rescuer_lab/drivers/nova_fake.py)."""

import pytest

from tests.functional import base


def _status(cloud, server_id):
    sess, endpoint = base.api(cloud, 'compute')
    return sess.get('/servers/%s' % server_id, endpoint_filter=endpoint,
                    raise_exc=False).json().get('server', {}).get('status')


@pytest.mark.exclusive
def test_a_server_stops_and_starts_after_its_compute_restarted():
    """Nova's own fake driver forgot its guests when nova-compute
    restarted: a server made before could no longer be stopped
    (InstanceNotFound), and a failback's drain waited for ever."""
    name = base.unique('guest')
    server = base.cli_json('site-b', 'server', 'create', '--wait',
                           '--image', 'lab-image', '--flavor', 'm1.tiny',
                           '--nic', 'none', name)
    try:
        assert server['status'] == 'ACTIVE'
        base.rescuer_lab('fail', 'site-b', '--service', 'nova-compute')
        base.rescuer_lab('recover', 'site-b')
        base.cli('site-b', 'server', 'stop', server['id'])
        base.wait_for(lambda: _status('site-b', server['id']) == 'SHUTOFF',
                      timeout=60, what='the server stopped')
        base.cli('site-b', 'server', 'start', server['id'])
        base.wait_for(lambda: _status('site-b', server['id']) == 'ACTIVE',
                      timeout=60, what='the server started')
    finally:
        base.cli('site-b', 'server', 'delete', '--wait', server['id'],
                 check=False)
