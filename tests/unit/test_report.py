"""Run reports: RTO/RPO arithmetic, tiers, failures surfaced, table."""

import pytest

from rescuer import exceptions
from rescuer import report

START = '2026-11-26T10:00:00+00:00'


def _plan(**groups):
    tiers = {}
    for name, values in groups.items():
        tiers.setdefault(values['tier'], []).append(name)
    return {'started_at': START, 'site': 'site-b',
            'tiers': [sorted(tiers[t]) for t in sorted(tiers)],
            'groups': groups}


def _group_planned(tier, rpo=300, rto=600,
                   last_sync='2026-11-26T09:58:20+00:00'):
    return {'tier': tier, 'rpo': rpo, 'rto': rto,
            'last_sync_time': last_sync}


def _execution(group, state, start, end, tasks):
    return {'id': 'ex-%s' % group, 'workflow_name':
            'rescuer_dr.failover_group_v1', 'input': {'group': group},
            'state': state, 'state_info': None,
            'created_at': '2026-11-26 10:%s' % start,
            'updated_at': '2026-11-26 10:%s' % end, 'tasks': tasks}


def _task(name, start, end, state='SUCCESS', info=None):
    return {'name': name, 'state': state, 'state_info': info,
            'created_at': '2026-11-26 10:%s' % start,
            'updated_at': '2026-11-26 10:%s' % end}


def _root(state='SUCCESS', end='01:30'):
    return {'id': 'run-1', 'workflow_name': 'rescuer_dr.failover_v1',
            'input': {}, 'state': state, 'state_info': None,
            'created_at': '2026-11-26 10:00:00',
            'updated_at': '2026-11-26 10:%s' % end, 'tasks': []}


def test_two_tiers_rto_rpo_and_order():
    plan = _plan(vital=_group_planned(1), other=_group_planned(
        2, rto=60, last_sync='2026-11-26T09:50:00+00:00'))
    executions = [
        _root(),
        _execution('vital', 'SUCCESS', '00:01', '00:40', [
            _task('fence', '00:01', '00:02'),
            _task('activate', '00:05', '00:30'),
            _task('check_health', '00:30', '00:40')]),
        _execution('other', 'SUCCESS', '00:41', '01:30', [
            _task('fence', '00:41', '00:42')]),
    ]
    result = report.build('failover', 'run-1', 'site-b', plan, executions)
    assert result['state'] == 'SUCCESS'
    vital, other = result['groups']
    assert (vital['group'], vital['achieved_rto'],
            vital['rpo_at_run_start']) == ('vital', 40.0, 100.0)
    # The primary was last heard from at the sync itself (no fence
    # answered): nothing it is known to have served after it is lost.
    assert (vital['achieved_rpo'], vital['last_contact']) == (
        0.0, '2026-11-26T09:58:20+00:00')
    # Tier 2 started after tier 1 ended; its RTO counts from the run start.
    assert (other['start'], other['achieved_rto']) == (41.0, 90.0)
    assert other['rpo_at_run_start'] == 600.0
    assert [t['tier'] for t in result['tiers']] == [1, 2]
    assert result['tiers'][0]['end'] <= result['tiers'][1]['start']
    assert result['achieved_rto'] == 90.0
    assert [s['step'] for s in vital['steps']] == [
        'fence', 'activate', 'check_health']
    assert vital['steps'][1]['seconds'] == 25.0
    # Both targets of `other` are missed, and the report says so.
    assert any('other: RTO target missed' in w for w in result['warnings'])
    assert any('other: the primary was last heard from 600 s before the '
               'run started' in w for w in result['warnings'])
    assert not any('vital' in w for w in result['warnings'])


def _tier(groups, state, info=None):
    return {'id': 'tier-%s' % '-'.join(groups), 'workflow_name':
            'rescuer_dr._tier_v1', 'input': {'groups': groups},
            'state': state, 'state_info': info,
            'created_at': '2026-11-26 10:00:00',
            'updated_at': '2026-11-26 10:00:21', 'tasks': []}


def test_a_failed_step_is_surfaced_and_later_tiers_are_not_attempted():
    plan = _plan(vital=_group_planned(1), other=_group_planned(2))
    executions = [
        _root(state='ERROR', end='00:20'),
        _tier(['vital'], 'ERROR', 'One or more actions had failed.'),
        _execution('vital', 'ERROR', '00:01', '00:20', [
            _task('fence', '00:01', '00:02'),
            _task('promote', '00:02', '00:20', 'ERROR',
                  'PromoteVolumeAction: site site-b refused ...')]),
        _tier(['other'], 'ERROR', 'tier of [other] not started - the '
              'tier before did not recover: group vital failed'),
    ]
    result = report.build('failover', 'run-1', 'site-b', plan, executions,
                          fences={'vital': {'enforced': False,
                                            'reason': 'site-a is down'}})
    assert result['state'] == 'ERROR'
    assert result['failures'] == [{
        'group': 'vital', 'step': 'promote',
        'error': 'PromoteVolumeAction: site site-b refused ...'}]
    assert result['groups'][1]['state'] == 'NOT ATTEMPTED'
    assert result['tiers'][1]['state'] == 'NOT ATTEMPTED'
    # Why: its tier's own word.
    assert result['not_attempted'] == [{
        'group': 'other', 'tier': 2, 'reason': 'tier of [other] not '
        'started - the tier before did not recover: group vital failed'}]
    assert ('NOT ATTEMPTED: group other (tier 2): tier of [other] not '
            'started') in report.table(result)
    assert result['achieved_rto'] is None
    assert any('not fenced yet (site-a is down)' in w
               for w in result['warnings'])


def test_table_shows_steps_targets_and_failures():
    plan = _plan(vital=_group_planned(1))
    executions = [_root(state='ERROR', end='00:20'), _execution(
        'vital', 'ERROR', '00:01', '00:20', [
            _task('promote', '00:02', '00:20', 'ERROR', 'boom')])]
    text = report.table(report.build('failover', 'run-1', 'site-b', plan,
                                     executions))
    assert text.splitlines()[0].startswith('failover run run-1 at site-b: '
                                           'ERROR')
    assert '| promote ' in text
    assert 'FAILED: group vital, step promote: boom' in text
    assert 'RTO' in text and 'target' in text


def test_timeline_picture_renders_lanes_bars_and_rto_lines():
    from xml.etree import ElementTree

    from rescuer import timeline
    plan = _plan(vital=_group_planned(1, rto=50), other=_group_planned(2))
    executions = [_root(), _execution('vital', 'SUCCESS', '00:01', '00:40', [
        _task('fence', '00:01', '00:02'),
        _task('activate', '00:05', '00:30')]),
        _execution('other', 'ERROR', '00:41', '01:30', [
            _task('promote', '00:41', '01:30', 'ERROR', 'boom')])]
    picture = timeline.svg(report.build('failover', 'run-1', 'site-b', plan,
                                        executions))
    root = ElementTree.fromstring(picture)
    ns = '{http://www.w3.org/2000/svg}'
    texts = [t.text for t in root.iter(ns + 'text')]
    assert 'tier 1  vital' in texts and 'tier 2  other' in texts
    assert 'RTO 50 s' in texts
    bars = [r for r in root.iter(ns + 'rect') if r.find(ns + 'title')
            is not None]
    # A bar per group and per step; the failed step is red.
    assert len(bars) == 5
    assert any(b.get('fill') == '#c62828' for b in bars)


def test_timeline_labels_fit_beside_the_bars_and_inside_the_picture():
    """A long group name (Heat's physical names are) gets a label column
    wide enough, and the RTO labels at the far right stay inside
    (measured at 7.5 px a character: more than 12 px sans-serif bold
    takes)."""
    from xml.etree import ElementTree

    from rescuer import timeline
    long_name = 'vnf-core-group-ean3kuyg5cpy-with-a-long-name'
    plan = _plan(**{long_name: _group_planned(1, rto=600)})
    executions = [_root(end='02:35'), _execution(
        long_name, 'SUCCESS', '00:01', '02:35', [
            _task('wait_refreshed', '00:01', '02:35')])]
    document = report.build('failback', 'run-1', 'site-b', plan, executions)
    root = ElementTree.fromstring(timeline.svg(document))
    ns = '{http://www.w3.org/2000/svg}'
    width = float(root.get('width'))
    texts = [(float(t.get('x')), t.text) for t in root.iter(ns + 'text')]
    bars = [float(r.get('x')) for r in root.iter(ns + 'rect')
            if r.find(ns + 'title') is not None]
    label_ends = [x + len(text) * 7.5 for x, text in texts
                  if text.startswith(('tier ', 'wait_'))]
    assert len(label_ends) == 2 and len(bars) == 2
    assert max(label_ends) < min(bars)
    assert all(x + len(text) * 7.5 <= width for x, text in texts
               if not text.startswith('failback run'))
    # The RTO line lies on the time axis: its tick is drawn.
    assert 'RTO 600 s' in [text for _, text in texts]
    assert '600 s' in [text for _, text in texts]


def test_a_drill_warns_that_replicated_volumes_came_up_empty():
    planned = dict(_group_planned(1), replicated_volumes=['v-1', 'v-2'])
    executions = [_root(), _execution('g', 'SUCCESS', '00:01', '00:20', [
        _task('start', '00:01', '00:02')])]
    drill = report.build('drill', 'run-1', 'site-b', _plan(g=planned),
                         executions)
    assert any('replicated volumes (v-1, v-2) came up empty' in w
               for w in drill['warnings'])
    failover = report.build('failover', 'run-1', 'site-b', _plan(g=planned),
                            executions)
    assert not any('came up empty' in w for w in failover['warnings'])


def test_rto_ends_at_the_health_check_not_at_the_clean_up():
    plan = _plan(vital=_group_planned(1, rto=35))
    group = _execution('vital', 'SUCCESS', '00:01', '00:45', [
        _task('start', '00:01', '00:02'),
        _task('check_health', '00:20', '00:30'),
        _task('clean_up', '00:30', '00:33'),
        _task('wait_removed', '00:33', '00:45')])
    group['workflow_name'] = 'rescuer_dr.drill_group_v1'
    result = report.build('drill', 'run-1', 'site-b', plan,
                          [_root(end='00:46'), group])
    [vital] = result['groups']
    # Recovered (healthy) at 30 s; the clean-up ran to 45 s.
    assert (vital['achieved_rto'], vital['end']) == (30.0, 45.0)
    assert result['achieved_rto'] == 30.0
    assert not any('RTO target missed' in w for w in result['warnings'])


def _drill(group, start, end, tasks, state='SUCCESS',
           workflow='rescuer_dr.drill_group_v1'):
    execution = _execution(group, state, start, end, tasks)
    execution['workflow_name'] = workflow
    return execution


def test_a_drills_removal_after_every_tier_is_in_the_groups_steps():
    plan = _plan(vital=_group_planned(1), other=_group_planned(2))
    remove = 'rescuer_dr.drill_remove_v1'
    executions = [
        _root(end='01:00'),
        _drill('vital', '00:01', '00:20', [_task('check_health', '00:10',
                                                 '00:20')]),
        _drill('other', '00:21', '00:40', [_task('check_health', '00:30',
                                                 '00:40')]),
        # Removed after both tiers, the user first.
        _drill('other', '00:41', '00:45', [_task('clean_up', '00:41',
                                                 '00:42'),
                                           _task('wait_removed', '00:42',
                                                 '00:45')],
               workflow=remove),
        _drill('vital', '00:45', '00:55', [
            _task('clean_up', '00:45', '00:46'),
            _task('wait_removed', '00:46', '00:55', 'ERROR',
                  'stack rescuer-drill-vital DELETE_FAILED: in use')],
               state='ERROR', workflow=remove)]
    result = report.build('drill', 'run-1', 'site-b', plan, executions)
    vital, other = result['groups']
    assert [s['step'] for s in other['steps']] == [
        'check_health', 'clean_up', 'wait_removed']
    assert (other['state'], other['achieved_rto'], other['end']) == (
        'SUCCESS', 40.0, 45.0)
    # A removal that failed left a trace: the group and the run failed.
    assert vital['state'] == 'ERROR' and vital['achieved_rto'] == 20.0
    assert result['state'] == 'ERROR'
    assert result['failures'] == [{
        'group': 'vital', 'step': 'wait_removed',
        'error': 'stack rescuer-drill-vital DELETE_FAILED: in use'}]


def test_the_next_tier_starts_when_a_tier_recovered_not_when_it_ended():
    plan = _plan(vital=_group_planned(1), other=_group_planned(2))
    executions = [
        _root(),
        # vital recovered at 30 s and went on to 50 s (its failback's
        # return of the DR site to standby); other started at 31 s.
        _execution('vital', 'SUCCESS', '00:01', '00:50', [
            _task('check_primary', '00:20', '00:30'),
            _task('demote', '00:30', '00:50')]),
        _execution('other', 'SUCCESS', '00:31', '01:10', [
            _task('check_primary', '00:31', '01:00')]),
    ]
    first, second = report.build('failback', 'run-1', 'site-b', plan,
                                 executions)['tiers']
    assert (first['recovered'], first['end']) == (30.0, 50.0)
    assert first['recovered'] <= second['start'] < first['end']
    assert second['recovered'] == 60.0
    # A tier with a group that did not recover has no recovery time.
    failed = report.build('failback', 'run-1', 'site-b', plan, [
        _root(state='ERROR'), executions[1], _execution(
            'other', 'ERROR', '00:31', '00:40', [
                _task('refresh', '00:31', '00:40', 'ERROR', 'boom')])])
    assert [t['recovered'] for t in failed['tiers']] == [30.0, None]


def test_a_cancelled_run_says_so_and_what_it_never_started():
    plan = _plan(vital=_group_planned(1), other=_group_planned(2))
    executions = [
        # The root's own input names every group: it is no tier's.
        dict(_root(state='CANCELLED', end='00:10'),
             input={'groups': ['vital', 'other']}),
        _execution('vital', 'CANCELLED', '00:01', '00:10', [
            _task('fence', '00:01', '00:02'),
            _task('wait_active', '00:02', '00:10', 'CANCELLED')])]
    result = report.build('failover', 'run-1', 'site-b', plan, executions)
    assert result['state'] == 'CANCELLED'
    assert result['failures'][0]['group'] == 'vital'
    # vital's tier was cancelled part-way, not left unattempted.
    assert [t['state'] for t in result['tiers']] == ['CANCELLED',
                                                     'NOT ATTEMPTED']
    assert result['groups'][0]['end'] == 10.0
    assert result['not_attempted'] == [{
        'group': 'other', 'tier': 2,
        'reason': 'the run ended (CANCELLED) before it started'}]


def _run(group, state, *tasks):
    return {'group': group, 'state': state,
            'tasks': [{'name': name, 'state': task_state}
                      for name, task_state in tasks]}


def _progress(*runs, state='RUNNING', tiers=()):
    return {'state': state, 'groups': list(runs), 'tiers': list(tiers)}


def test_a_tier_has_recovered_once_each_group_passed_its_health_check():
    tier = ['core', 'db']
    # db has not started yet: no workflow of it in the run.
    assert report.tier_progress(_progress(
        _run('core', 'SUCCESS')), tier) == report.IN_PROGRESS
    # db's health check is still being retried.
    assert report.tier_progress(_progress(
        _run('core', 'SUCCESS'),
        _run('db', 'RUNNING', ('activate', 'SUCCESS'),
             ('check_health', 'RUNNING_DELAYED'))), tier) == report.IN_PROGRESS
    # db passed it and marks its stack now; a group of another tier, and
    # its failure, are none of this tier's business.
    assert report.tier_progress(_progress(
        _run('core', 'SUCCESS'),
        _run('db', 'RUNNING', ('check_health', 'SUCCESS'),
             ('record_active', 'RUNNING')),
        _run('edge', 'ERROR')), tier) == report.RECOVERED
    # A failback's group is back at the primary while it demotes.
    assert report.tier_progress(_progress(
        _run('core', 'RUNNING', ('check_primary', 'SUCCESS'),
             ('demote', 'RUNNING')),
        _run('db', 'SUCCESS')), tier) == report.RECOVERED


def test_a_tier_whose_group_failed_or_stayed_unhealthy_has_not_recovered():
    # The health check ran out of tries: it ends SUCCESS, and the group
    # goes on to fail.
    assert report.tier_progress(_progress(
        _run('core', 'SUCCESS'),
        _run('db', 'RUNNING', ('check_health', 'SUCCESS'),
             ('unhealthy', 'RUNNING'))), ['core', 'db']) == report.IN_PROGRESS
    with pytest.raises(exceptions.WorkflowFailed,
                       match='the tier before did not recover: group '
                             'core, db failed'):
        report.tier_progress(_progress(_run('core', 'ERROR'),
                                       _run('db', 'CANCELLED')),
                             ['core', 'db'])


def test_a_wait_ends_when_its_tier_was_never_started():
    # Tier 2 failed waiting for tier 1 and never started db: tier 3,
    # waiting for db, fails at once (it waited 2 hours before).
    tiers = [{'groups': ['core'], 'state': 'ERROR'},
             {'groups': ['db'], 'state': 'ERROR'},
             {'groups': ['edge'], 'state': 'RUNNING'}]
    with pytest.raises(exceptions.WorkflowFailed,
                       match='the tier before did not recover: group db '
                             'not attempted'):
        report.tier_progress(_progress(_run('core', 'ERROR'), tiers=tiers),
                             ['db'])
    # A tier still waiting for its own tier before is in progress.
    tiers[1]['state'] = 'RUNNING'
    assert report.tier_progress(_progress(tiers=tiers),
                                ['db']) == report.IN_PROGRESS


def test_a_wait_ends_when_the_run_has_ended():
    for state in ('ERROR', 'CANCELLED', 'SUCCESS'):
        with pytest.raises(exceptions.WorkflowFailed,
                           match=r'the run ended \(%s\)' % state):
            report.tier_progress(_progress(
                _run('core', 'RUNNING', ('activate', 'RUNNING')),
                state=state), ['core'])


def test_continue_on_failure_ends_the_wait_without_an_error():
    tiers = [{'groups': ['core', 'db'], 'state': 'ERROR'}]
    # core failed, db was never started, edge recovered: all ended.
    progress = _progress(_run('core', 'ERROR'), _run('edge', 'SUCCESS'),
                         tiers=tiers)
    assert report.tier_progress(progress, ['core', 'db', 'edge'],
                                continue_on_failure=True) == report.ENDED
    # Not while one of them still runs.
    progress['groups'].append(_run('edge2', 'RUNNING',
                                   ('activate', 'RUNNING')))
    assert report.tier_progress(progress, ['core', 'edge2'],
                                continue_on_failure=True) == \
        report.IN_PROGRESS
    # Every one recovered: RECOVERED, as without the override.
    assert report.tier_progress(_progress(_run('edge', 'SUCCESS')),
                                ['edge'], True) == report.RECOVERED


def _running(run_id, created, *groups):
    return {'id': run_id, 'workflow_name': 'rescuer_dr.failover_v1',
            'created_at': '2026-11-26 10:00:%02d' % created,
            'groups': list(groups)}


def test_the_first_run_on_a_group_holds_it():
    older = _running('run-0', 1, 'core')
    mine = _running('run-1', 5, 'core', 'db')
    other = _running('run-2', 9, 'edge')
    # The older run holds core; a run on other groups holds nothing of
    # this one's.
    assert report.held_groups([older, mine, other], 'run-1',
                              ['core', 'db']) == {'core': older}
    # The older run goes on: the newer one does not hold its groups.
    assert report.held_groups([older, mine], 'run-0', ['core']) == {}
    # Two started in the same second: the smaller id goes on, only.
    twin = _running('run-1b', 5, 'db')
    assert report.held_groups([mine, twin], 'run-1', ['core', 'db']) == {}
    assert report.held_groups([mine, twin], 'run-1b', ['db']) == {
        'db': mine}
    # A run past its plan (its tier or group workflows run, even with
    # its root stopped by hand) holds whenever it started.
    late = dict(_running('run-0', 9, 'db'), planned=True)
    assert report.held_groups([mine, late], 'run-1', ['db']) == {
        'db': late}
    # Called outside a run (no id of its own): every running run holds.
    assert report.held_groups([older], None, ['core', 'x']) == {
        'core': older}


def _ended_root(state, *tasks):
    return dict(_root(state=state), tasks=[
        dict(_task(name, '00:00', '00:01', task_state, info), id='t-' + name)
        for name, task_state, info in tasks])


def test_the_plan_of_a_run_that_ended_without_a_report():
    published = {'t-plan': {'plan': {'site': 'site-b', 'tiers': []}}}
    root = _ended_root('CANCELLED', ('plan', 'SUCCESS', None),
                       ('recover_tiers', 'CANCELLED', None))
    assert report.ended_run_plan([root], 'run-1', published.get) == (
        'failover', {'site': 'site-b', 'tiers': []})
    running = _ended_root('RUNNING', ('plan', 'SUCCESS', None))
    with pytest.raises(exceptions.InvalidGroup, match='run run-1 is still '
                       'RUNNING: its report comes when it ends'):
        report.ended_run_plan([running], 'run-1', published.get)
    unplanned = _ended_root('ERROR', ('plan', 'ERROR', 'group x is not '
                                      'registered'))
    with pytest.raises(exceptions.InvalidGroup, match='before its plan was '
                       'made: group x is not registered'):
        report.ended_run_plan([unplanned], 'run-1', published.get)
    sync = dict(root, workflow_name='rescuer_dr.sync_v1')
    with pytest.raises(exceptions.InvalidGroup, match='is not a run of'):
        report.ended_run_plan([sync], 'run-1', published.get)


def test_rpo_is_what_was_lost_not_how_late_the_run_started():
    """site-a answered a fence 21 s after the last sync: 21 s of its
    data are lost, whenever the failover started (491 s later)."""
    plan = _plan(g=_group_planned(1, rpo=60,
                                  last_sync='2026-11-26T09:51:49+00:00'))
    fence = {'enforced': True, 'fenced_at': '2026-11-26T09:52:08+00:00',
             'enforced_at': '2026-11-26T09:52:10+00:00'}
    [group] = report.build('failover', 'run-1', 'site-b', plan, [_root()],
                           fences={'g': fence})['groups']
    assert group['rpo_at_run_start'] == 491.0
    assert group['achieved_rpo'] == 21.0
    assert group['last_contact'] == fence['enforced_at']
    # An unenforced fence (the primary did not answer) is no contact.
    [group] = report.build('failover', 'run-1', 'site-b', plan, [_root()],
                           fences={'g': dict(fence, enforced=False)})[
                               'groups']
    assert group['achieved_rpo'] == 0.0


def test_rpo_counts_from_the_oldest_restorable_point_of_the_data():
    planned = dict(_group_planned(1, rpo=60,
                                  last_sync='2026-11-26T09:59:00+00:00'),
                   restore_points={'logs': '2026-11-26T09:57:30',
                                   'new': None})
    result = report.build('failover', 'run-1', 'site-b', _plan(g=planned),
                          [_root()])
    [group] = result['groups']
    # The logs volume's newest backup holds data of 09:57:30: 90 s
    # before the last contact (the sync at 09:59:00).
    assert group['restore_point'] == '2026-11-26T09:57:30'
    assert group['achieved_rpo'] == 90.0
    assert any('g: RPO target missed: 90 s lost' in w
               for w in result['warnings'])
