"""OS::Rescuer::StandbyStack: a stack at site-a keeps a recovery stack at
site-b (another Keystone) at a standby level."""

from tests.functional import base

TEMPLATE = str(base.REPO / 'examples' / 'standby-stack.yaml')


def _remote_resources(stack_id):
    sess, endpoint = base.api('site-b', 'orchestration')
    resources = sess.get('/stacks/%s/resources' % stack_id,
                         endpoint_filter=endpoint).json()['resources']
    return {r['resource_name']: r['physical_resource_id']
            for r in resources}


def _server(server_id):
    sess, endpoint = base.api('site-b', 'compute')
    response = sess.get('/servers/%s' % server_id, endpoint_filter=endpoint,
                        raise_exc=False)
    return response.json()['server'] if response.ok else None


def _set_level(stack, level):
    updated = base.cli_json('site-a', 'stack', 'update', '--wait',
                            '--existing', '--parameter',
                            'standby_level=%s' % level, stack)
    assert updated['stack_status'] == 'UPDATE_COMPLETE', updated


def test_standby_levels_at_the_dr_site():
    name = base.unique('protect')
    created = base.cli_json('site-a', 'stack', 'create', '--wait', '-t',
                            TEMPLATE, name)
    assert created['stack_status'] == 'CREATE_COMPLETE', created
    try:
        remote_id = base.stack_outputs('site-a', name)['remote_stack_id']
        # Cold: the network exists at site-b, the VNF does not.
        cold = _remote_resources(remote_id)
        assert set(cold) == {'net', 'subnet'}

        _set_level(name, 'hot')
        hot = _remote_resources(remote_id)
        assert set(hot) == {'net', 'subnet', 'vnf'}
        assert hot['net'] == cold['net']  # updated in place
        server = _server(hot['vnf'])
        assert server['status'] == 'ACTIVE'
        assert server['metadata']['in_service'] == 'false'

        _set_level(name, 'active')
        active = _remote_resources(remote_id)
        assert active['vnf'] == hot['vnf']  # same server, now serving
        assert _server(hot['vnf'])['metadata']['in_service'] == 'true'
        outputs = base.stack_outputs('site-a', name)
        assert outputs['remote_outputs']['vnf_id'] == hot['vnf']

        _set_level(name, 'cold')
        assert set(_remote_resources(remote_id)) == {'net', 'subnet'}
        base.wait_for(lambda: _server(hot['vnf']) is None, 60,
                      what='standby VNF deleted')
    finally:
        base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name)
    sess, endpoint = base.api('site-b', 'orchestration')
    gone = sess.get('/stacks/%s' % remote_id, endpoint_filter=endpoint,
                    raise_exc=False)
    # Heat still shows a deleted stack by id, as DELETE_COMPLETE.
    assert gone.status_code == 404 or \
        gone.json()['stack']['stack_status'] == 'DELETE_COMPLETE'
    assert remote_id not in {s['id'] for s in sess.get(
        '/stacks', endpoint_filter=endpoint).json()['stacks']}


def test_recovery_template_without_standby_level_is_refused(template):
    recovery = template('heat_template_version: 2021-04-16\n'
                        'resources: {}\n', name='recovery.yaml')
    path = template('''
heat_template_version: 2021-04-16
resources:
  standby:
    type: OS::Rescuer::StandbyStack
    properties:
      site: site-b
      template: {get_file: recovery.yaml}
''', name='protect.yaml')
    assert recovery
    result = base.cli('site-a', 'stack', 'create', '--dry-run', '-t', path,
                      base.unique('bad'), check=False)
    assert result.returncode != 0
    assert 'resources.standby.properties.template' in result.stderr
    assert 'must declare a "standby_level" parameter' in result.stderr
