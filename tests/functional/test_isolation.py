"""A project's users reach only their own protection groups: a user of
another tenant (``tenant-b``) runs Rescuer's public workflows at site-b
against the ``nfv`` project's group and is refused as if the group did
not exist - no fence, no failover, no drill, no sync - and sees none of
its stacks or runs."""

import json
import re

import pytest

from tests.functional import base
from tests.functional import test_failover

OTHER = 'site-b-tenant-b'
# One protected VNF for the whole module: its tests run on one xdist
# worker (tools/functional-tests.sh distributes by group).
pytestmark = pytest.mark.xdist_group('isolation')


@pytest.fixture(scope='module')
def protected_vnf():
    name, out, resources = base.create_protected_vnf('iso', 600)
    yield name, out, resources
    base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name,
             check=False)


@pytest.mark.parametrize('purpose', ['failover', 'drill', 'switchover',
                                     'failback', 'sync'])
def test_another_tenant_cannot_run_a_groups_workflows(protected_vnf,
                                                      purpose):
    name, out, resources = protected_vnf
    group = out['group_name']
    workflow, inputs = test_failover._workflow(out, purpose)
    execution = base.wait_execution(
        base.start_execution(workflow, inputs, cloud=OTHER), cloud=OTHER,
        timeout=120)
    assert execution['state'] == 'ERROR'
    assert 'group %s is not registered at this DR site' % group in \
        json.dumps(execution['output'])

    # Nothing changed: the VNF serves at site-a, unfenced, and the
    # standby at site-b is untouched.
    assert base.cli_json('site-a', 'server', 'show', resources['vnf'])[
        'status'] == 'ACTIVE'
    assert base.cli_json('site-a', 'port', 'show', resources['port'])[
        'admin_state_up'] is True
    assert test_failover._fence(group) is None
    recovery = base.cli_json('site-b', 'stack', 'show',
                             out['recovery_stack_id'])
    assert recovery['parameters']['standby_level'] == 'hot'
    assert 'rescuer-failed-over' not in recovery['tags']
    assert base.cli('site-b', 'stack', 'show', 'rescuer-drill-%s' % group,
                    check=False).returncode != 0


def test_another_tenant_sees_none_of_a_groups_stacks_or_runs(protected_vnf):
    name, out, _ = protected_vnf
    assert name not in {s['Stack Name'] for s in base.cli_json(
        'site-a-tenant-b', 'stack', 'list')}
    assert 'rescuer-%s' % out['group_name'] not in {
        s['Stack Name'] for s in base.cli_json(OTHER, 'stack', 'list')}
    assert base.cli(OTHER, 'stack', 'show', out['recovery_stack_id'],
                    check=False).returncode != 0
    # The group's runs (its syncs, run by its cron trigger) are the nfv
    # project's: tenant-b lists none of them.
    mine = base.cli_json('site-b', 'workflow', 'execution', 'list',
                         '--limit', '-1')
    theirs = {e['ID'] for e in base.cli_json(OTHER, 'workflow', 'execution',
                                             'list', '--limit', '-1')}
    assert mine and not {e['ID'] for e in mine} & theirs
    assert base.cli(OTHER, 'workflow', 'cron', 'trigger', 'show',
                    'rescuer-sync-%s' % out['group_name'],
                    check=False).returncode != 0


# ------------------------------------------- Rescuer's credential, unsteered
# A tenant's own workflows may call Rescuer's actions (Mistral cannot stop
# them): each action acts only on what Rescuer's records of the caller's
# own groups hold.

STEER = '''
version: '2.0'
name: %(name)s
workflows:
  list_v1:
    input: [site]
    output: {result: <%% $.result %%>}
    tasks:
      run:
        action: rescuer.list_stacks site=<%% $.site %%>
        publish: {result: <%% task().result %%>}
  capture_v1:
    input: [group]
    tasks:
      run: {action: rescuer.capture_stack group=<%% $.group %%>}
  servers_v1:
    input: [group, site, server_ids]
    tasks:
      run:
        action: rescuer.servers_state
        input:
          group: <%% $.group %%>
          site: <%% $.site %%>
          server_ids: <%% $.server_ids %%>
  volumes_v1:
    input: [group, site, volume_ids]
    tasks:
      run:
        action: rescuer.volume_status
        input:
          group: <%% $.group %%>
          site: <%% $.site %%>
          volume_ids: <%% $.volume_ids %%>
  stack_v1:
    input: [site, stack]
    tasks:
      run:
        action: rescuer.stack_status site=<%% $.site %%> stack=<%% $.stack %%>
'''


@pytest.fixture(scope='module')
def steer_workbooks(tmp_path_factory):
    """The STEER workbook, private to tenant-b and to nfv at site-b."""
    names = {}
    for cloud in (OTHER, 'site-b'):
        name = 'steer_%s' % base.uuid.uuid4().hex[:8]
        path = tmp_path_factory.mktemp('steer') / ('%s.yaml' % name)
        path.write_text(STEER % {'name': name})
        base.ensure_workbook(path, cloud=cloud)
        names[cloud] = name
    yield names
    for cloud, name in names.items():
        base.cli(cloud, 'workbook', 'delete', name, check=False)


def _run(workbook, workflow, inputs, cloud):
    return base.wait_execution(base.start_execution(
        '%s.%s' % (workbook, workflow), inputs, cloud=cloud), cloud=cloud,
        timeout=120)


def _refused(execution, message):
    assert execution['state'] == 'ERROR', execution
    assert message in json.dumps(execution.get('state_info')), execution[
        'state_info']


def _in_store(group):
    """Whether the DR store holds anything of ``group`` (other tests add
    groups, and the protected group's syncs its captures, meanwhile)."""
    from rescuer import sites
    registry = sites.Registry.load(base.lab_env()['RESCUER_SITES_FILE'])
    return (base.pathlib.Path(registry.store_dir) / group).exists()


def test_running_rescuers_actions_directly_is_for_its_operators():
    for cloud in (OTHER, 'site-b'):
        run = base.cli(cloud, 'action', 'execution', 'run', 'rescuer.'
                       'list_stacks', '{"site": "site-a"}', check=False)
        assert run.returncode != 0, run.stdout
        assert 'Operation forbidden' in run.stderr, run.stderr
    # An admin of the DR site (a Rescuer operator) may.
    sites = base.cli_json('site-b-admin', 'action', 'execution', 'run',
                          'rescuer.list_sites', '{}')
    assert 'site-a' in json.dumps(sites)


def test_another_tenants_workflows_cannot_steer_rescuers_credential(
        protected_vnf, steer_workbooks):
    name, out, resources = protected_vnf
    group, workbook = out['group_name'], steer_workbooks[OTHER]
    nfv_stack = base.cli_json('site-a', 'stack', 'show', name)['id']

    listed = _run(workbook, 'list_v1', {'site': 'site-a'}, OTHER)
    assert listed['state'] == 'SUCCESS', listed.get('state_info')
    assert listed['output']['result']['auth'] == 'site-credential'
    assert listed['output']['result']['stacks'] == []

    not_theirs = 'group %s is not registered at this DR site' % group
    _refused(_run(workbook, 'capture_v1', {'group': group}, OTHER),
             not_theirs)
    _refused(_run(workbook, 'servers_v1', {
        'group': group, 'site': 'site-a',
        'server_ids': [resources['vnf']]}, OTHER), not_theirs)
    _refused(_run(workbook, 'stack_v1', {
        'site': 'site-a', 'stack': nfv_stack}, OTHER),
        'a stack at another site is read only for a protection group')

    # Registering a group over nfv's stack, as tenant-b.
    from rescuer import groups
    definition = groups.definition(
        group=base.unique('steal'), primary_site='site-a',
        stack_id=nfv_stack, stack_name=name, members=['vnf'], tier=1,
        mode='cold-standby', recovery_site='site-b', rpo=600, rto=600,
        sync_interval=300)
    registered = base.wait_execution(base.start_execution(
        'rescuer_dr.register_v1', {'definition': definition}, cloud=OTHER),
        cloud=OTHER, timeout=120)
    assert registered['state'] == 'ERROR'
    assert 'your project is not one Rescuer protects at site site-b' in \
        json.dumps(registered['output'])

    # Nothing changed: no record, no capture, no stack at site-b.
    assert not _in_store(definition['group'])
    assert base.cli(OTHER, 'stack', 'show', 'rescuer-%s' % definition[
        'group'], check=False).returncode != 0
    assert base.cli('site-b', 'stack', 'show', 'rescuer-%s' % definition[
        'group'], check=False).returncode != 0
    assert base.cli_json('site-a', 'server', 'show', resources['vnf'])[
        'status'] == 'ACTIVE'


def test_the_owner_cannot_point_a_step_at_what_its_group_does_not_hold(
        protected_vnf, steer_workbooks):
    name, out, resources = protected_vnf
    group, workbook = out['group_name'], steer_workbooks['site-b']
    # A volume of nfv's at site-a that is not the group's.
    volume = base.create_volume('site-a', base.unique('not-a-member'))
    try:
        _refused(_run(workbook, 'volumes_v1', {
            'group': group, 'site': 'site-a', 'volume_ids': [volume]},
            'site-b'), 'volume %s at site site-a: not of group %s'
            % (volume, group))
        # The group's own server is read (ACTIVE, not yet SHUTOFF).
        member = _run(workbook, 'servers_v1', {
            'group': group, 'site': 'site-a',
            'server_ids': [resources['vnf']]}, 'site-b')
        assert member['state'] == 'SUCCESS', member.get('state_info')
    finally:
        base.delete_volume('site-a', volume)


PROTECT_ANOTHER_PROJECT = '''
heat_template_version: 2021-04-16
resources:
  rs: {type: OS::Heat::RandomString}
  group:
    type: OS::Rescuer::ProtectionGroup
    properties:
      members: [rs]
      tier: 1
      mode: cold-standby
      recovery_site: site-b
      rpo: 600
      rto: 600
'''


STANDBY_IN_ANOTHER_PROJECT = '''
heat_template_version: 2021-04-16
resources:
  standby:
    type: OS::Rescuer::StandbyStack
    properties:
      site: site-b
      standby_level: cold
      template: |
        heat_template_version: 2021-04-16
        parameters:
          standby_level: {type: string}
        resources:
          rs: {type: OS::Heat::RandomString}
'''


@pytest.mark.parametrize('text', [PROTECT_ANOTHER_PROJECT,
                                  STANDBY_IN_ANOTHER_PROJECT],
                         ids=['ProtectionGroup', 'StandbyStack'])
def test_a_project_rescuer_does_not_protect_cannot_make_it_act(
        template, text):
    path = template(text)
    refused = base.cli('site-a-tenant-b', 'stack', 'create', '--dry-run',
                       '-t', path, base.unique('theirs'), check=False)
    assert refused.returncode != 0
    assert 'is not protected by Rescuer at site site-a' in refused.stderr, \
        refused.stderr


# A member whose Heat resource name carries HOT: Heat refuses only '/'.
HOSTILE = 'evil: {type: OS::Nova::Server}\n  net'


def test_a_hostile_resource_name_adds_nothing_to_the_recovery_stack(
        template):
    text = json.dumps({
        'heat_template_version': '2021-04-16',
        'resources': {
            # Neutron refuses a newline in the network's own name.
            HOSTILE: {'type': 'OS::Neutron::Net',
                      'properties': {'name': 'hostile-net'}},
            'group': {'type': 'OS::Rescuer::ProtectionGroup', 'properties': {
                'members': [HOSTILE], 'tier': 3, 'mode': 'cold-standby',
                'recovery_site': 'site-b', 'rpo': 600, 'rto': 600}}},
        'outputs': {'recovery_stack_id': {
            'value': {'get_attr': ['group', 'recovery_stack_id']}}}})
    name = base.unique('hostile')
    base.cli('site-a', 'stack', 'create', '--wait', '-t',
             template(text, name='hostile.json'), name)
    try:
        recovery = base.stack_outputs('site-a', name)['recovery_stack_id']
        resources = base.cli_json('site-b', 'stack', 'resource', 'list',
                                  recovery)
        assert [r['resource_type'] for r in resources] == [
            'OS::Neutron::Net']
        assert re.fullmatch(r'evil_type_OS_Nova_Server_\w+_[0-9a-f]{12}',
                            resources[0]['resource_name']), resources
    finally:
        base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name,
                 check=False)


def test_a_run_for_a_target_cloud_cannot_name_the_protected_project(
        protected_vnf):
    """Mistral takes a run's project and token from X-Target-* headers
    without checking them: tenant-b names nfv's project there."""
    name, out, resources = protected_vnf
    group = out['group_name']
    sess, endpoint = base.api(OTHER, 'workflowv2')
    spoof = {'X-Target-Auth-Uri': 'http://127.0.0.1:9/v3',
             'X-Target-Auth-Token': 'not-a-token',
             'X-Target-Project-Id': base.project_id('site-b')}
    execution = sess.post('/executions', json={
        'workflow_name': 'rescuer_dr.sync_v1',
        'input': json.dumps({'group': group})},
        headers=spoof, endpoint_filter=endpoint).json()

    def ended():
        found = sess.get('/executions/%s' % execution['id'], headers=spoof,
                         endpoint_filter=endpoint).json()
        return found if found['state'] not in ('IDLE', 'RUNNING') else None
    ended = base.wait_for(ended, 120, what='the spoofed run')
    assert ended['state'] == 'ERROR', ended
    assert 'Rescuer does not run for a "target cloud"' in json.loads(
        ended['output'])['result']
    assert test_failover._fence(group) is None


@pytest.mark.parametrize('site', base.SITES)
def test_rescuers_credential_holds_no_admin_role(site):
    """Least privilege: member (and Rescuer's own roles) in the protected
    project; the site's policy files make it Cinder's admin, nowhere
    else's."""
    roles = {a['Role'] for a in base.cli_json(
        '%s-admin' % site, 'role', 'assignment', 'list', '--user',
        'rescuer', '--names')}
    assert 'admin' not in {r.split('@')[0] for r in roles}, roles
    assert 'rescuer@Default' in roles or 'rescuer' in roles, roles
    # Nova would list every project's servers to an admin.
    from rescuer import clients
    from rescuer import sites
    registry = sites.Registry.load(base.lab_env()['RESCUER_SITES_FILE'])
    session = clients.site_session(registry.get(site))
    answer = session.get('/servers/detail?all_tenants=1', raise_exc=False,
                         endpoint_filter=base.endpoint(site, 'compute'))
    assert answer.status_code == 403, answer.status_code
