"""Faults on the worst day, injected for real on the lab (SIGKILL):

1. site-a dies while a sync runs: the last good capture and backup chain
   at site-b are intact, and the failover uses them;
2. site-b's Mistral dies mid-failover, then its Heat and Cinder APIs die
   during the re-run: every run either completes or stops with a clear
   error, and a final re-run converges with no duplicate stack, server or
   volume.
"""

import json

import pytest

from rescuer import capture
from rescuer import sites
from rescuer import store
from tests.functional import base
from tests.functional import test_failover


def _store():
    registry = sites.Registry.load(base.lab_env()['RESCUER_SITES_FILE'])
    return store.DirectoryStore(registry.store_dir)


def _task_states(execution_id):
    """{task name: state} over the execution and its sub-workflows."""
    sess, endpoint = base.api('site-b', 'workflowv2')
    children = sess.get('/executions?root_execution_id=%s' % execution_id,
                        endpoint_filter=endpoint).json()['executions']
    states = {}
    for one in [execution_id] + [c['id'] for c in children]:
        for task in sess.get('/executions/%s/tasks' % one,
                             endpoint_filter=endpoint).json()['tasks']:
            states[task['name']] = task['state']
    return states


def _wait_for_task(execution_id, names, timeout=120):
    base.wait_for(lambda: set(names) & set(_task_states(execution_id)),
                  timeout=timeout, interval=0.2,
                  what='execution %s to reach %s' % (execution_id, names))


@pytest.fixture
def protected_vnf():
    # A long interval: the syncs here are the test's own.
    name, out, resources = base.create_protected_vnf('fault', 3600)
    yield name, out, resources
    base.rescuer_lab('recover', 'site-b', check=False)
    base.rescuer_lab('recover', 'site-a', check=False)
    base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name,
             check=False)
    base.cli('site-b', 'stack', 'delete', '--yes', '--wait',
             out['recovery_stack_id'], check=False)
    for volume in test_failover._promoted(resources['data']) + \
            test_failover._promoted(resources['logs']):
        base.delete_volume('site-b', volume['ID'])
    # Unregistering deleted every sync backup of the logs volume at both
    # sites, the doomed sync's (in error, in no chain) too: Cinder counts
    # it as its parent's dependant, so the chain leaked while it stayed.
    left = {site: base.sync_backups(site, resources['logs'])
            for site in ('site-a', 'site-b')}
    assert left == {'site-a': [], 'site-b': []}


def _state(execution_id):
    return base.cli_json('site-b', 'workflow', 'execution', 'show',
                         execution_id)['State']


@pytest.mark.exclusive
def test_faults_lose_nothing_and_reruns_converge(protected_vnf):
    name, out, resources = protected_vnf
    group, logs = out['group_name'], resources['logs']
    sync_workflow, sync_input = test_failover._workflow(out, 'sync')

    # A good sync with the logs backed up.
    base.write_tag('site-a', logs, 'backed-up')
    synced = test_failover._run(sync_workflow, sync_input)
    assert synced['state'] == 'SUCCESS', synced.get('state_info')
    base.rescuer_lab('replicate', 'site-a', resources['data'])
    kept = _store()
    good, _ = kept.latest(group)
    chain = kept.backups(group)['chains'][logs]

    # 1. site-a dies while the next sync captures it.
    base.write_tag('site-a', logs, 'written-during-the-doomed-sync')
    doomed = base.start_execution(sync_workflow, sync_input)
    _wait_for_task(doomed, ['capture'])
    base.rescuer_lab('fail', 'site-a')
    failed = base.wait_execution(doomed, timeout=300)
    assert failed['state'] == 'ERROR'
    assert 'site-a' in json.dumps(failed['output'])
    # What site-b keeps is whole: every capture verifies (the doomed
    # sync's own only if it was taken whole before site-a died), and the
    # chain holds no backup of the doomed sync.
    for path in kept.history(group):
        capture.verify(json.loads(path.read_text()))
    latest, skipped = kept.latest(group)
    assert skipped == []
    assert latest['captured_at'] >= good['captured_at']
    assert kept.backups(group)['chains'][logs] == chain

    # 2. Mistral dies mid-failover...
    runs = [base.start_execution('rescuer_dr.failover_v1',
                                 {'groups': [group]})]
    _wait_for_task(runs[0], ['promote', 'activate'], timeout=180)
    base.rescuer_lab('fail', 'site-b', '--service', 'mistral')
    base.rescuer_lab('recover', 'site-b')
    # The run Mistral lost may stay RUNNING, and so hold the group: a
    # re-run is refused naming it, and the operator cancels it (its
    # report comes with the cancel).
    if _state(runs[0]) == 'RUNNING':
        refused = test_failover._run('rescuer_dr.failover_v1',
                                     {'groups': [group]})
        if _state(runs[0]) == 'RUNNING':
            assert refused['state'] == 'ERROR'
            assert 'held by run %s' % runs[0] in json.dumps(
                refused['output'])
            cancelled = json.loads(base.cli(
                'site-b', 'rescuer', 'run', 'cancel', runs[0],
                '--json').stdout)
            assert cancelled['state'] == 'CANCELLED'
    assert _state(runs[0]) in ('SUCCESS', 'ERROR', 'CANCELLED')
    # ...then its Heat and Cinder APIs die during the re-run.
    runs.append(base.start_execution('rescuer_dr.failover_v1',
                                     {'groups': [group]}))
    _wait_for_task(runs[1], ['fence'], timeout=180)
    base.rescuer_lab('fail', 'site-b', '--service', 'heat-api',
                     '--service', 'cinder-api')
    base.rescuer_lab('recover', 'site-b')
    second = base.wait_execution(runs[1], timeout=900)
    if second['state'] == 'ERROR':
        # Stopped: with a message that says what failed where.
        assert 'site-b' in json.dumps(second['output'])
    final = test_failover._run('rescuer_dr.failover_v1', {'groups': [group]})
    assert final['state'] == 'SUCCESS', final.get('state_info')

    # Converged, nothing twice: one recovery stack, one server, one
    # promoted volume per replicated volume, with the data of the last
    # good sync (not what the doomed one would have backed up).
    stacks = [s for s in base.cli_json('site-b', 'stack', 'list')
              if s['Stack Name'] == 'rescuer-%s' % group]
    assert [s['ID'] for s in stacks] == [out['recovery_stack_id']]
    servers = test_failover._stack_servers('site-b',
                                           out['recovery_stack_id'])
    assert list(servers) == ['vnf']
    server_name = base.cli_json('site-b', 'server', 'show',
                                servers['vnf'])['name']
    assert [s['ID'] for s in base.cli_json('site-b', 'server', 'list')
            if s['Name'] == server_name] == [servers['vnf']]
    [data] = test_failover._promoted(resources['data'])
    [restored] = test_failover._promoted(logs)
    assert base.tags('site-b', restored['ID']) == ['backed-up']
    assert (data['Status'], restored['Status']) == ('in-use', 'in-use')
