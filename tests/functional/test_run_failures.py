"""When a recovery step fails, the run ends fast and says what happened,
and there is a way back: a three-tier failover whose tier 1 fails at
site-b ends in ERROR within two minutes with a report naming the failure
and the two tiers it never attempted; a failback returns the failed group
to site-a (nothing served at site-b, nothing comes back from it); one run
holds a group at a time; a cancelled run leaves no sub-workflow running
and has its report; a re-run replaces what the failed attempt left in
ERROR and completes."""

import json
import time

import pytest

from rescuer import drill
from rescuer import report
from tests.functional import base

RUNNING = ('IDLE', 'RUNNING', 'PAUSED')


@pytest.fixture
def three_tiers():
    """Three stateless VNFs in hot standby, in tiers 1, 2 and 3."""
    made = base.stateless_vnfs(((1, '10.47.0.0/24'), (2, '10.48.0.0/24'),
                                (3, '10.49.0.0/24')))
    vnfs = next(made)
    yield vnfs
    for _, out in vnfs:
        # A test that failed midway may leave its fault behind.
        try:
            base.cli('site-b-admin', 'server', 'unlock',
                     _standby_server(out), check=False)
        except AssertionError:
            pass
        base.cli('site-b', 'stack', 'delete', '--yes', '--wait',
                 drill.stack_name(out['group_name']), check=False)
    next(made, None)


def _sub_executions(run_id):
    sess, endpoint = base.api('site-b', 'workflowv2')
    return sess.get('/executions?root_execution_id=%s&limit=1000' % run_id,
                    endpoint_filter=endpoint).json()['executions']


def _standby_server(out):
    return {r['resource_name']: r['physical_resource_id'] for r in
            base.cli_json('site-b', 'stack', 'resource', 'list',
                          out['recovery_stack_id'])}['vnf']


def _primary_server(name):
    return {r['resource_name']: r['physical_resource_id'] for r in
            base.cli_json('site-a', 'stack', 'resource', 'list', name)}[
                'vnf']


def test_a_failed_tier_ends_the_run_and_the_rest_is_not_attempted(
        three_tiers):
    (name1, out1), (name2, _), (name3, _) = three_tiers
    groups = [out['group_name'] for _, out in three_tiers]
    broken = _standby_server(out1)
    # The fault, at the DR site: tier 1's standby server is in ERROR,
    # and locked by an admin, so that the activation cannot replace it.
    base.cli('site-b-admin', 'server', 'set', '--auto-approve', '--state',
             'error', broken)
    base.cli('site-b-admin', 'server', 'lock', broken)
    started = time.monotonic()
    run_id = base.start_execution('rescuer_dr.failover_v1',
                                  {'groups': groups})
    failed = base.wait_execution(run_id, timeout=120)
    took = time.monotonic() - started
    assert failed['state'] == 'ERROR'
    assert took < 120, took
    # Nothing of the run is left running.
    assert not [e for e in _sub_executions(run_id) if e['state'] in RUNNING]
    document = failed['output']['report']
    assert document['state'] == 'ERROR'
    [failure] = document['failures']
    assert (failure['group'], failure['step']) == (groups[0], 'activate')
    assert 'locked' in failure['error'] and broken in failure['error']
    assert [(d['group'], d['tier']) for d in document['not_attempted']] == [
        (groups[1], 2), (groups[2], 3)]
    assert all('group %s failed' % groups[0] in d['reason'] or
               'not attempted' in d['reason']
               for d in document['not_attempted']), document
    assert [t['state'] for t in document['tiers']] == [
        'ERROR', report.NOT_ATTEMPTED, report.NOT_ATTEMPTED]
    # Tiers 2 and 3 were not touched: their primaries still serve.
    for name in (name2, name3):
        assert base.cli_json('site-a', 'server', 'show',
                             _primary_server(name))['status'] == 'ACTIVE'
    table = base.cli('site-b', 'rescuer', 'report', 'show', run_id).stdout
    assert 'NOT ATTEMPTED: group %s (tier 2)' % groups[1] in table

    # The way back: tier 1 is fenced at site-a (it answered) and broken
    # at site-b.  A failback returns it to site-a on its own volumes -
    # nothing served at site-b - with site-b's server still in ERROR.
    fenced = _primary_server(name1)
    assert base.cli_json('site-a', 'server', 'show', fenced)[
        'status'] == 'SHUTOFF'
    back = base.wait_execution(base.start_execution(
        'rescuer_dr.failback_v1', {'groups': groups[:1]}), timeout=300)
    assert back['state'] == 'SUCCESS', back.get('state_info')
    steps = {s['step'] for s in back['output']['report']['groups'][0][
        'steps']}
    assert 'drain' in steps and 'back_up' not in steps \
        and 'restore' not in steps
    fresh = _primary_server(name1)
    assert fresh != fenced
    assert base.cli_json('site-a', 'server', 'show', fresh)[
        'status'] == 'ACTIVE'
    assert base.cli_json('site-b', 'server', 'show', broken)[
        'status'] == 'ERROR'

    # One run at a time holds a group: a drill of tiers 2 and 3 holds
    # them, a failover of tier 3 is refused at its plan, naming it.
    drill_id = base.start_execution('rescuer_dr.drill_v1',
                                    {'groups': groups[1:]})
    refused = base.wait_execution(base.start_execution(
        'rescuer_dr.failover_v1', {'groups': [groups[2]]}), timeout=60)
    assert refused['state'] == 'ERROR'
    assert 'group %s is held by run %s' % (groups[2], drill_id) in \
        json.dumps(refused['output']), refused['output']
    assert refused['output'].get('report') is None

    # Cancelled: the drill and its sub-workflows stop, and it has a report.
    cancelled = json.loads(base.cli('site-b', 'rescuer', 'run', 'cancel',
                                    drill_id, '--json').stdout)
    assert cancelled['state'] == 'CANCELLED'
    assert cancelled['kind'] == 'drill'
    assert not [e for e in _sub_executions(drill_id)
                if e['state'] in RUNNING]
    assert base.wait_execution(drill_id)['state'] == 'CANCELLED'
    assert json.loads(base.cli('site-b', 'rescuer', 'report', 'show',
                               drill_id, '--json').stdout)['run_id'] == \
        drill_id

    # The fault removed (unlocked), a re-run of the failover replaces the
    # server left in ERROR (deleted, then recreated by Heat) and
    # completes, every tier.
    base.cli('site-b-admin', 'server', 'unlock', broken)
    again = base.wait_execution(base.start_execution(
        'rescuer_dr.failover_v1', {'groups': groups}), timeout=300)
    assert again['state'] == 'SUCCESS', again.get('state_info')
    assert not again['output']['report']['not_attempted']
    replaced = _standby_server(out1)
    assert replaced != broken
    assert base.cli_json('site-b', 'server', 'show', replaced)[
        'status'] == 'ACTIVE'
    back = base.wait_execution(base.start_execution(
        'rescuer_dr.failback_v1', {'groups': groups}), timeout=600)
    assert back['state'] == 'SUCCESS', back.get('state_info')
