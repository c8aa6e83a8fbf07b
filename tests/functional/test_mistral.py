"""Mistral at site-b runs Rescuer's actions against both sites' Heat."""

from tests.functional import base

RANDOM_STRING = '''
heat_template_version: 2021-04-16
resources:
  rs: {type: OS::Heat::RandomString}
'''


def _by_site(output):
    return {entry['site']: entry for entry in output['sites']}


def test_rescuer_actions_reach_each_site_through_its_own_keystone(template):
    path = template(RANDOM_STRING)
    names = {site: base.unique('wf-%s' % site) for site in base.SITES}
    unprotected = base.unique('wf-unprotected')
    for site, name in list(names.items()) + [('site-a', unprotected)]:
        base.cli(site, 'stack', 'create', '--wait', '-t', path, name)
    # The site-a stack is one of the caller's protection groups.
    base.record_group(names['site-a'])
    try:
        execution = base.wait_execution(
            base.start_execution('rescuer_sites.check_v1'))
        assert execution['state'] == 'SUCCESS', execution.get('state_info')

        sites = _by_site(execution['output'])
        assert set(sites) == {'site-a', 'site-b'}
        # site-a through its own Keystone, with the credential the lab
        # wrote for Rescuer; site-b with the caller's own token.
        assert sites['site-a']['auth'] == 'site-credential'
        assert sites['site-b']['auth'] == 'caller-token'
        for site, name in names.items():
            stacks = {s['name']: s['status'] for s in sites[site]['stacks']}
            assert stacks.get(name) == 'CREATE_COMPLETE', (site, stacks)
            other = names['site-b' if site == 'site-a' else 'site-a']
            assert other not in stacks  # each listing is that site's own
        # Through Rescuer's credential the caller sees its protected
        # stacks only, not every stack of the project Rescuer acts in.
        assert unprotected not in {s['name'] for s in
                                   sites['site-a']['stacks']}
    finally:
        for site, name in list(names.items()) + [('site-a', unprotected)]:
            base.cli(site, 'stack', 'delete', '--yes', '--wait', name)


def test_unknown_sites_are_refused_before_any_site_is_called():
    execution = base.wait_execution(base.start_execution(
        'rescuer_sites.check_v1', {'sites': ['site-z', 'site-a', 'nowhere']}))
    assert execution['state'] == 'ERROR'
    assert execution['output']['error'] == (
        'ListSitesAction: unknown site: site-z, nowhere; the DR site '
        'registry knows: site-a, site-b')
    sess, endpoint = base.api('site-b', 'workflowv2')
    tasks = sess.get('/executions/%s/tasks' % execution['id'],
                     endpoint_filter=endpoint).json()['tasks']
    assert 'list_stacks' not in {task['name'] for task in tasks}


def test_workflow_output_carries_no_credentials():
    execution = base.wait_execution(
        base.start_execution('rescuer_sites.check_v1'))
    assert execution['state'] == 'SUCCESS'
    clouds = (base.pathlib.Path(base.lab_env()['RESCUER_SITES_FILE'])
              .parent / 'clouds.yaml').read_text()
    secret_lines = [line.split(':', 1)[1].strip() for line in
                    clouds.splitlines() if 'password' in line]
    assert secret_lines
    for secret in secret_lines:
        assert secret not in str(execution)
