"""rescuer_dr.failover_v1 on the lab: site-a is really stopped, the DR
site's Mistral brings the protected VNF up at site-b on the replicated
data, a re-run makes nothing twice, and the returning site-a is fenced."""

import datetime
import json

import pytest

from rescuer import sites
from rescuer import store
from tests.functional import base


def _workflow(outputs, purpose):
    """(workflow, input) the protection group names for ``purpose``."""
    chosen = outputs['workflows'][purpose]
    return chosen['workflow'], chosen['input']


def _run(workflow, inputs, timeout=600):
    return base.wait_execution(base.start_execution(workflow, inputs),
                               timeout=timeout)


def _stack_servers(cloud, stack):
    return {r['resource_name']: r['physical_resource_id'] for r in
            base.cli_json(cloud, 'stack', 'resource', 'list', stack)
            if r['resource_type'] == 'OS::Nova::Server'}


def _fence(group):
    """The group's fence record, as the DR site keeps it."""
    registry = sites.Registry.load(base.lab_env()['RESCUER_SITES_FILE'])
    return store.DirectoryStore(registry.store_dir).fence(group)


def _chain(group, volume_id):
    """The volume's backup chain, as the DR site keeps it."""
    registry = sites.Registry.load(base.lab_env()['RESCUER_SITES_FILE'])
    return store.DirectoryStore(registry.store_dir).backups(group)[
        'chains'].get(volume_id) or []


def _promoted(volume_id):
    """The DR-site volumes holding the promoted data of ``volume_id``."""
    return base.cli_json('site-b', 'volume', 'list', '--name',
                         'rescuer-%s' % volume_id)


@pytest.fixture
def protected_vnf():
    name, out, resources = base.create_protected_vnf('fo', 60)
    yield name, out, resources
    base.rescuer_lab('recover', 'site-a', check=False)
    base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name,
             check=False)
    base.cli('site-b', 'stack', 'delete', '--yes', '--wait',
             out['recovery_stack_id'], check=False)
    for volume in _promoted(resources['data']) + _promoted(
            resources['logs']):
        base.delete_volume('site-b', volume['ID'])


def _operator_views(execution_id, report, group, tmp_path):
    """The run as the guides show an operator reading it: the report
    (table, JSON, timeline) and the execution's output."""
    table = base.cli('site-b', 'rescuer', 'report', 'show',
                     execution_id).stdout
    assert 'failover' in table and group in table
    assert json.loads(base.cli('site-b', 'rescuer', 'report', 'show',
                               execution_id, '--json').stdout) == report
    picture = tmp_path / 'failover.svg'
    base.cli('site-b', 'rescuer', 'report', 'show', execution_id, '--svg',
             str(picture))
    assert picture.read_text().lstrip().startswith('<svg')
    output = base.cli('site-b', 'workflow', 'execution', 'output', 'show',
                      execution_id).stdout
    assert json.loads(output)['report'] == report


@pytest.mark.exclusive
def test_failover_brings_the_vnf_up_at_site_b_and_fences_site_a(
        protected_vnf, tmp_path):
    name, out, resources = protected_vnf
    group, data, logs = (out['group_name'], resources['data'],
                         resources['logs'])
    # What the user guide shows after a stack create: the outputs and the
    # group's schedule.
    shown = base.cli('site-a', 'stack', 'output', 'show', name,
                     '--all').stdout
    assert group in shown
    assert 'rescuer-sync-%s' % group in base.cli(
        'site-b', 'cron', 'trigger', 'list').stdout
    assert out['workflows']['failover'] == {
        'workflow': 'rescuer_dr.failover_v1', 'input': {'groups': [group]}}
    # The log volume is protected by backups: a sync after the write
    # backs it up, incremental on the chain the first syncs began.
    base.write_tag('site-a', logs, 'logged')
    written = datetime.datetime.now(datetime.timezone.utc).isoformat()
    base.wait_for(lambda: base.stack_outputs('site-a', name)[
        'last_sync_time'] > written and len(_chain(group, logs)) >= 2,
        timeout=180, interval=5, what='a sync backing the logs up')
    chain = _chain(group, logs)
    assert chain[0]['parent_id'] is None
    assert [link['parent_id'] for link in chain[1:]] == [
        link['backup_id'] for link in chain[:-1]]
    # No replica of the data volume at site-b yet: a failover is refused
    # at its plan, naming the volume, before anything changes.
    refused = _run('rescuer_dr.failover_v1', {'groups': [group]},
                   timeout=60)
    assert refused['state'] == 'ERROR'
    assert 'volume %s of group %s has no replica at site site-b yet' % (
        data, group) in json.dumps(refused['output']), refused['output']
    assert _fence(group) is None
    base.write_tag('site-a', data, 'replicated')
    base.rescuer_lab('replicate', 'site-a', data)
    base.write_tag('site-a', data, 'not-yet-replicated')

    base.rescuer_lab('fail', 'site-a')
    execution = _run('rescuer_dr.failover_v1', {'groups': [group]})
    assert execution['state'] == 'SUCCESS', execution.get('state_info')
    report = execution['output']['report']
    assert (report['kind'], report['state'], report['failures']) == (
        'failover', 'SUCCESS', [])
    [tier] = report['tiers']
    assert (tier['tier'], tier['groups'], tier['state']) == (
        1, [group], 'SUCCESS')
    [recovered] = report['groups']
    assert {'fence', 'promote', 'activate', 'check_health'} <= {
        s['step'] for s in recovered['steps']}
    assert 0 < recovered['achieved_rto'] <= report['seconds']
    assert recovered['achieved_rpo'] >= 0
    # site-a did not answer the fence: it was last heard from at the last
    # good sync; the run-start figure is kept beside.
    assert recovered['last_contact'] == recovered['last_sync_time']
    assert recovered['rpo_at_run_start'] > 0
    assert recovered['resources']['servers'] == 1
    # site-a was down: the fence is recorded, not yet enforced.
    assert any('not fenced yet' in w for w in report['warnings'])
    _operator_views(execution['id'], report, group, tmp_path)

    # The VNF serves at site-b, on the data of the replication point.
    recovery = base.cli_json('site-b', 'stack', 'show',
                             out['recovery_stack_id'])
    assert recovery['parameters']['standby_level'] == 'active'
    assert 'rescuer-failed-over' in recovery['tags']
    servers = _stack_servers('site-b', out['recovery_stack_id'])
    assert base.cli_json('site-b', 'server', 'show', servers['vnf'])[
        'status'] == 'ACTIVE'
    [promoted] = _promoted(data)
    assert promoted['Status'] == 'in-use'
    assert base.tags('site-b', promoted['ID']) == ['replicated']
    # The log volume: restored from the newest backup of its chain (an
    # incremental one: its parents were imported too).
    [restored] = _promoted(logs)
    assert restored['Status'] == 'in-use'
    assert base.tags('site-b', restored['ID']) == ['logged']

    # A re-run continues and makes nothing twice.
    again = _run('rescuer_dr.failover_v1', {'groups': [group]})
    assert again['state'] == 'SUCCESS', again.get('state_info')
    assert _stack_servers('site-b', out['recovery_stack_id']) == servers
    assert [v['ID'] for v in _promoted(data)] == [promoted['ID']]
    assert [v['ID'] for v in _promoted(logs)] == [restored['ID']]

    # Work goes on at site-b while site-a is down.
    base.write_tag('site-b', promoted['ID'], 'written-at-site-b')
    base.write_tag('site-b', restored['ID'], 'logged-at-site-b')

    # site-a returns: the scheduled sync fences it, and nothing serves
    # the group from both sites.
    base.rescuer_lab('recover', 'site-a')
    base.wait_for(lambda: base.cli_json(
        'site-a', 'port', 'show', resources['port'])['admin_state_up'] is
        False, timeout=180, interval=5, what='site-a VNF fenced')
    fence = _fence(group)
    assert fence['enforced'] is True
    assert (fence['ports_down'], fence['servers_stopped']) == (
        [resources['port']], [resources['vnf']])
    assert base.stack_outputs('site-a', name)[
        'protection_status'] == 'failed-over'

    # Failback: the VNF is recreated fresh at site-a on the data written
    # at site-b, and site-b goes back to hot standby.
    execution = _run(*_workflow(out, 'failback'))
    assert execution['state'] == 'SUCCESS', execution.get('state_info')
    report = execution['output']['report']
    assert (report['kind'], report['state']) == ('failback', 'SUCCESS')
    fresh = _stack_servers('site-a', name)['vnf']
    assert fresh != resources['vnf']
    assert base.cli_json('site-a', 'server', 'show', fresh)[
        'status'] == 'ACTIVE'
    assert base.cli_json('site-a', 'port', 'show', resources['port'])[
        'admin_state_up'] is True
    assert base.tags('site-a', data) == ['replicated', 'written-at-site-b']
    assert base.tags('site-a', logs) == ['logged', 'logged-at-site-b']
    recovery = base.cli_json('site-b', 'stack', 'show',
                             out['recovery_stack_id'])
    assert recovery['parameters']['standby_level'] == 'hot'
    assert 'rescuer-failed-over' not in recovery['tags']
    # The drain stopped site-b's server; hot standby runs it again, ready
    # for the next failover.
    standby = _stack_servers('site-b', out['recovery_stack_id'])['vnf']
    assert base.cli_json('site-b', 'server', 'show', standby)[
        'status'] == 'ACTIVE'
    assert _promoted(data) == _promoted(logs) == []
    assert _fence(group) is None
    after = base.stack_outputs('site-a', name)
    assert after['protection_status'] == 'protected'
    base.wait_for(lambda: base.stack_outputs('site-a', name)[
        'last_sync_time'] > after['last_sync_time'], timeout=120,
        interval=5, what='a sync of the failed-back group')
    # That sync protected the group again and fenced nothing: a sync that
    # read the group's fence before the failback lifted it used to record
    # a new one and take the recreated VNF's port down.
    assert _fence(group) is None
    assert base.cli_json('site-a', 'port', 'show', resources['port'])[
        'admin_state_up'] is True
    assert base.cli_json('site-a', 'server', 'show', fresh)[
        'status'] == 'ACTIVE'
    # The restored log volume's backups start a new chain.
    fresh_chain = base.wait_for(lambda: _chain(group, logs), timeout=120,
                                interval=3, what='a new chain of the logs')
    assert fresh_chain[0]['parent_id'] is None
    assert not {b['backup_id'] for b in fresh_chain} & {
        b['backup_id'] for b in chain}


@pytest.fixture
def stateless_vnfs():
    """Two stateless VNFs, in tiers 1 and 2."""
    yield from base.stateless_vnfs(((1, '10.44.0.0/24'), (2, '10.45.0.0/24')))


@pytest.fixture
def stateless_vnf():
    """One stateless VNF, in tier 1."""
    yield from base.stateless_vnfs(((1, '10.46.0.0/24'),))


def _by_group(report):
    return {g['group']: ({s['step']: s for s in g['steps']}, g)
            for g in report['groups']}


def _tier_waited_for_recovery(report, first, second):
    """Tier 2 started once tier 1 had recovered (passed its health
    check): what tier 1 does after that may overlap it."""
    one, two = report['tiers']
    assert (one['groups'], two['groups']) == ([first], [second])
    assert one['state'] == two['state'] == 'SUCCESS'
    assert one['recovered'] == _by_group(report)[first][1]['achieved_rto']
    assert one['recovered'] <= two['start']


def test_hot_standbys_with_nothing_to_activate_serve_before_they_are_marked(
        stateless_vnfs):
    """A hot standby the active level changes nothing in serves as it
    is: the failover checks its server right after the fence, and marks
    its stack active and failed over after that, off the RTO; the next
    tier starts once the tier before has recovered."""
    (name, out), (_, out2) = stateless_vnfs
    group, stack_id = out['group_name'], out['recovery_stack_id']
    groups = [group, out2['group_name']]
    standby = _stack_servers('site-b', stack_id)['vnf']
    primary = _stack_servers('site-a', name)['vnf']

    execution = _run('rescuer_dr.failover_v1', {'groups': groups[::-1]})
    assert execution['state'] == 'SUCCESS', execution.get('state_info')
    report = execution['output']['report']
    _tier_waited_for_recovery(report, *groups)
    for steps, recovered in _by_group(report).values():
        assert {'fence', 'activate', 'check_health', 'record_active',
                'wait_recorded'} <= set(steps)
        assert 'wait_active' not in steps
        assert (steps['check_health']['end'] <=
                steps['record_active']['start'])
        assert recovered['achieved_rto'] == steps['check_health']['end']
    # Served as it was: the same server, never rebuilt; then marked.
    recovery = base.cli_json('site-b', 'stack', 'show', stack_id)
    assert recovery['parameters']['standby_level'] == 'active'
    assert 'rescuer-failed-over' in recovery['tags']
    assert recovery['stack_status'] == 'UPDATE_COMPLETE'
    assert _stack_servers('site-b', stack_id)['vnf'] == standby
    assert base.cli_json('site-b', 'server', 'show', standby)[
        'status'] == 'ACTIVE'
    # site-a answered: its server is fenced (stopped).
    assert _fence(group)['enforced']
    assert base.cli_json('site-a', 'server', 'show', primary)[
        'status'] == 'SHUTOFF'

    # A re-run finds the stacks active and failed over: nothing to mark.
    again = _run('rescuer_dr.failover_v1', {'groups': groups})
    assert again['state'] == 'SUCCESS', again.get('state_info')
    for steps, _ in _by_group(again['output']['report']).values():
        assert 'record_active' not in steps and 'wait_active' not in steps

    # The marked stacks are ones failback knows: site-b goes back to hot,
    # tier 2 starting once tier 1 is back at site-a.
    back = _run('rescuer_dr.failback_v1', {'groups': groups})
    assert back['state'] == 'SUCCESS', back.get('state_info')
    _tier_waited_for_recovery(back['output']['report'], *groups)
    recovery = base.cli_json('site-b', 'stack', 'show', stack_id)
    assert recovery['parameters']['standby_level'] == 'hot'
    assert 'rescuer-failed-over' not in recovery['tags']
    assert _fence(group) is None
    fresh = _stack_servers('site-a', name)['vnf']
    assert base.cli_json('site-a', 'server', 'show', fresh)[
        'status'] == 'ACTIVE'


@pytest.mark.exclusive
def test_a_failback_whose_drain_never_ends_stops_there(stateless_vnf):
    """A wait that runs out of tries fails the group's workflow: the
    failback does not go on to copy data or touch site-a while the DR
    site's VNF may still run.  site-b's nova-compute is down, so the
    drain's stop of its server waits in Nova's queue."""
    [(name, out)] = stateless_vnf
    group = out['group_name']
    primary = _stack_servers('site-a', name)['vnf']
    standby = _stack_servers('site-b', out['recovery_stack_id'])['vnf']
    execution = _run('rescuer_dr.failover_v1', {'groups': [group]})
    assert execution['state'] == 'SUCCESS', execution.get('state_info')

    base.rescuer_lab('fail', 'site-b', '--service', 'nova-compute')
    try:
        failed = _run('rescuer_dr.failback_v1', {'groups': [group]},
                      timeout=300)
    finally:
        base.rescuer_lab('recover', 'site-b')
    assert failed['state'] == 'ERROR'
    report = failed['output']['report']
    steps, _ = _by_group(report)[group]
    assert 'wait_timed_out' in steps and 'list_promoted' not in steps
    assert 'retire' not in steps and 'refresh' not in steps
    assert any('wait_drained did not finish in its time' in
               (f['error'] or '') for f in report['failures']), report
    # site-a untouched: its fenced server is still the original, stopped.
    assert _stack_servers('site-a', name)['vnf'] == primary
    assert base.cli_json('site-a', 'server', 'show', primary)[
        'status'] == 'SHUTOFF'
    assert _fence(group)['enforced']

    # site-b's compute is back and ran the queued stop; a re-run goes on.
    base.wait_for(lambda: base.cli_json('site-b', 'server', 'show', standby)[
        'status'] == 'SHUTOFF', timeout=60, interval=2,
        what='the drained server stopped')
    back = _run('rescuer_dr.failback_v1', {'groups': [group]})
    assert back['state'] == 'SUCCESS', back.get('state_info')
    fresh = _stack_servers('site-a', name)['vnf']
    assert fresh != primary
    assert base.cli_json('site-a', 'server', 'show', fresh)[
        'status'] == 'ACTIVE'


def test_failover_refuses_unknown_groups_before_changing_anything():
    execution = _run('rescuer_dr.failover_v1',
                     {'groups': ['no-such-group', 'nor-this']}, timeout=60)
    assert execution['state'] == 'ERROR'
    error = json.dumps(execution['output'])
    assert 'group no-such-group is not registered' in error
    assert 'group nor-this is not registered' in error
    assert execution['output'].get('report') is None


def test_switchover_moves_the_vnf_to_site_b_without_losing_data(
        protected_vnf):
    name, out, resources = protected_vnf
    group, data = out['group_name'], resources['data']
    # Written after the last replication point: a failover would lose it,
    # a switchover must not.
    base.write_tag('site-a', data, 'written-just-before')

    execution = _run(*_workflow(out, 'switchover'))
    assert execution['state'] == 'SUCCESS', execution.get('state_info')
    report = execution['output']['report']
    assert (report['kind'], report['state']) == ('switchover', 'SUCCESS')
    [moved] = report['groups']
    assert moved['achieved_rpo'] == 0
    assert {'final_sync', 'fence', 'back_up', 'restore', 'activate',
            'check_health'} <= {s['step'] for s in moved['steps']}

    [promoted] = _promoted(data)
    assert base.tags('site-b', promoted['ID']) == ['written-just-before']
    servers = _stack_servers('site-b', out['recovery_stack_id'])
    assert base.cli_json('site-b', 'server', 'show', servers['vnf'])[
        'status'] == 'ACTIVE'
    # The primary is cleanly demoted: stopped, its port down.
    assert base.cli_json('site-a', 'server', 'show', resources['vnf'])[
        'status'] == 'SHUTOFF'
    assert base.cli_json('site-a', 'port', 'show', resources['port'])[
        'admin_state_up'] is False
    assert _fence(group)['enforced'] is True

    # And back, with what was written at site-b meanwhile.
    base.write_tag('site-b', promoted['ID'], 'written-at-site-b')
    back = _run(*_workflow(out, 'failback'))
    assert back['state'] == 'SUCCESS', back.get('state_info')
    assert base.tags('site-a', data) == ['written-just-before',
                                         'written-at-site-b']
    assert _promoted(data) == []
