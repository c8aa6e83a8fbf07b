"""Run reports: what a failover (switchover, drill, failback) did, step by
step and tier by tier, and the RTO and RPO it achieved against targets.

A report is built from Mistral's own record of the run - the root
execution and every sub-execution (one per tier and per group) with their
tasks - so the timings are the engine's, not the actions' word for them.

Arithmetic (seconds):
- achieved RTO of a group: from the start of the run to the end of the
  group's recovery: its health check passed (what the group's workflow
  does after that, e.g. a drill's clean-up, is not counted), or, for a
  workflow without one, its end;
- achieved RPO of a group: what the disaster lost - from its newest
  restorable point (the last good sync's capture, and for each
  backup-protected volume its newest backup's data timestamp; the oldest
  of these) to the last moment the primary was known to serve: its last
  successful contact (the last good sync's capture, or the run's fence
  when the primary answered it);
- ``rpo_at_run_start``: from the last good sync to the start of the run
  (what a failover at that moment would lose at most if the primary had
  served until then);
- a target is missed when achieved > target.
"""

import datetime

from rescuer import exceptions

SCHEMA_VERSION = 1
# The workflows a run runs per group and per tier (workbooks/).
GROUP_WORKFLOW_SUFFIX = '_group_v1'
# Workflows that end a group's part of a run after every tier is done
# (a drill's removal of its stacks): their steps are the group's.
CLEAN_UP_WORKFLOWS = ('rescuer_dr.drill_remove_v1',)
TIER_WORKFLOW_SUFFIX = '._tier_v1'
# The runs an operator starts, by kind: one of them at a time holds a
# group (its lease), from its start until it ends.
RUN_WORKFLOWS = {'failover': 'rescuer_dr.failover_v1',
                 'failback': 'rescuer_dr.failback_v1',
                 'drill': 'rescuer_dr.drill_v1',
                 'switchover': 'rescuer_dr.switchover_v1'}
# The steps whose success is a group's recovery (its RTO ends there):
# what a group workflow does after it - a drill's clean-up, a failback's
# return of the DR site to standby - is in the report but not in the RTO.
HEALTH_STEPS = ('check_health', 'check_primary')
# The step a group workflow takes when its health check ran out of tries.
UNHEALTHY_STEP = 'unhealthy'
TIER_STATES = (RECOVERED, ENDED, IN_PROGRESS) = (
    'RECOVERED', 'ENDED', 'IN_PROGRESS')
FAILED_STATES = ('ERROR', 'CANCELLED')
# A group (or tier) whose workflow the run never started.
NOT_ATTEMPTED = 'NOT ATTEMPTED'
ENDED_STATES = FAILED_STATES + ('SUCCESS',)


def _time(text):
    """Mistral's 'YYYY-MM-DD HH:MM:SS' (UTC) or ISO 8601."""
    value = datetime.datetime.fromisoformat(text.replace(' ', 'T'))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value


def _seconds(start, end):
    return round((_time(end) - _time(start)).total_seconds(), 1)


def _step(task, run_start):
    return {'step': task['name'], 'state': task['state'],
            'start': _seconds(run_start, task['created_at']),
            'end': _seconds(run_start, task['updated_at']),
            'seconds': _seconds(task['created_at'], task['updated_at']),
            'error': task.get('state_info') if task['state'] == 'ERROR'
            else None}


def build(kind, run_id, site, plan, executions, fences=None,
          resources=None):
    """The report of one run.

    :param plan: ``{started_at, tiers: [[group]], groups: {group: {tier,
        rpo, rto, last_sync_time, replicated_volumes}}}`` from the run's
        planning step.
    :param executions: the run's executions (root first or not), each
        ``{id, workflow_name, input, state, state_info, created_at,
        updated_at, tasks: [{name, state, state_info, created_at,
        updated_at}]}``.
    :param fences: ``{group: fence record}`` (failover).
    :param resources: ``{group: {kind: count}}`` recovered.
    """
    fences = fences or {}
    resources = resources or {}
    # Mistral records whole seconds: count from the run's whole second.
    start = _time(plan['started_at']).replace(microsecond=0).isoformat()
    by_group, tier_runs, clean_ups = {}, {}, {}
    for execution in executions:
        if execution['workflow_name'] in CLEAN_UP_WORKFLOWS:
            clean_ups[execution['input'].get('group')] = execution
        elif execution['workflow_name'].endswith(GROUP_WORKFLOW_SUFFIX):
            by_group[execution['input'].get('group')] = execution
        elif execution['id'] != run_id and isinstance(
                execution['input'].get('groups'), list):
            for name in execution['input']['groups']:
                tier_runs[name] = execution
    groups, warnings, failures = [], [], []
    for tier_no, tier in enumerate(plan['tiers'], 1):
        for name in tier:
            groups.append(_group(name, plan['groups'][name], by_group.get(
                name), start, fences.get(name), resources.get(name),
                warnings, failures))
            _clean_up(groups[-1], clean_ups.get(name), start, failures)
            if kind == 'drill':
                warnings += _drill_warnings(name, plan['groups'][name])
    tiers = []
    for tier in plan['tiers']:
        members = [g for g in groups if g['group'] in tier]
        done = [g for g in members if g['end'] is not None]
        recovered = [g['achieved_rto'] for g in members]
        tiers.append({
            'tier': members[0]['tier'] if members else None,
            'groups': list(tier),
            'start': min((g['start'] for g in members
                          if g['start'] is not None), default=None),
            # When its last group recovered: the next tier starts then.
            'recovered': (max(recovered) if members and None not in
                          recovered else None),
            'end': max((g['end'] for g in done), default=None),
            'state': _tier_state([g['state'] for g in members])})
    root = next((e for e in executions
                 if not e['workflow_name'].endswith(GROUP_WORKFLOW_SUFFIX)
                 and e['id'] == run_id), None)
    not_attempted = [
        {'group': g['group'], 'tier': g['tier'],
         'reason': _why_not_attempted(tier_runs.get(g['group']), root)}
        for g in groups if g['state'] == NOT_ATTEMPTED]
    finished = max((e['updated_at'] for e in executions), default=start)
    state = ('SUCCESS' if groups and not failures and all(
        g['state'] == 'SUCCESS' for g in groups) else 'ERROR')
    if root is not None and root['state'] == 'ERROR' and not failures:
        failures.append({'group': None, 'step': root['workflow_name'],
                         'error': root.get('state_info')})
        state = 'ERROR'
    if root is not None and root['state'] == 'CANCELLED':
        state = 'CANCELLED'
    rtos = [g['achieved_rto'] for g in groups
            if g['achieved_rto'] is not None]
    return {
        'schema_version': SCHEMA_VERSION, 'kind': kind, 'run_id': run_id,
        'site': site, 'started_at': plan['started_at'],
        'finished_at': _time(finished).isoformat(),
        'seconds': _seconds(start, finished), 'state': state,
        'achieved_rto': max(rtos) if rtos and len(rtos) == len(groups)
        else None,
        'tiers': tiers, 'groups': groups, 'failures': failures,
        'not_attempted': not_attempted, 'warnings': warnings,
    }


def _tier_state(states):
    """SUCCESS when every group succeeded, NOT ATTEMPTED when none was
    started, CANCELLED when one was cancelled, else ERROR."""
    if states and all(s == 'SUCCESS' for s in states):
        return 'SUCCESS'
    if all(s == NOT_ATTEMPTED for s in states):
        return NOT_ATTEMPTED
    if any(s not in ENDED_STATES + (NOT_ATTEMPTED,) for s in states):
        return 'RUNNING'
    return 'CANCELLED' if 'CANCELLED' in states else 'ERROR'


def _why_not_attempted(tier_run, root):
    """Why a group's workflow never started: its tier's own word (it
    did not start after a failed tier), or the run's end."""
    if tier_run is not None and tier_run['state'] in FAILED_STATES:
        return tier_run.get('state_info') or 'its tier %s' % (
            tier_run['state'].lower())
    if root is not None and root['state'] in FAILED_STATES:
        return 'the run ended (%s) before it started' % root['state']
    return 'not started yet'


def _rpo(group, planned, start, fence, warnings):
    """The group's RPO figures (see the module's arithmetic)."""
    synced = planned['last_sync_time']
    group['rpo_at_run_start'] = max(0.0, _seconds(synced, start))
    contacts = [synced]
    if fence is not None and fence.get('enforced'):
        # The primary answered the fence: it served until then.
        contacts.append(fence.get('enforced_at') or fence['fenced_at'])
    points = [synced] + [t for t in (planned.get('restore_points') or
                                     {}).values() if t]
    group['last_contact'] = max(contacts, key=_time)
    group['restore_point'] = min(points, key=_time)
    group['achieved_rpo'] = max(0.0, _seconds(group['restore_point'],
                                              group['last_contact']))
    if group['achieved_rpo'] > planned['rpo']:
        warnings.append('group %s: RPO target missed: %.0f s lost (from '
                        'the restore point %s to the last contact with the '
                        'primary %s), the target is %d s' % (
                            group['group'], group['achieved_rpo'],
                            group['restore_point'], group['last_contact'],
                            planned['rpo']))
    elif group['rpo_at_run_start'] > planned['rpo']:
        warnings.append('group %s: the primary was last heard from %.0f s '
                        'before the run started (the target is %d s): what '
                        'it served after %s, if anything, is lost' % (
                            group['group'], group['rpo_at_run_start'],
                            planned['rpo'], group['last_contact']))


def _group(name, planned, execution, start, fence, resources, warnings,
           failures):
    group = {'group': name, 'tier': planned['tier'],
             'rto_target': planned['rto'], 'rpo_target': planned['rpo'],
             'last_sync_time': planned.get('last_sync_time'),
             'achieved_rpo': None, 'rpo_at_run_start': None,
             'last_contact': None, 'restore_point': None,
             'achieved_rto': None,
             'start': None, 'end': None, 'state': NOT_ATTEMPTED,
             'steps': [],
             'resources': resources or {}}
    if planned.get('zero_loss'):
        # Switchover: a final sync, then the data of the quiesced group.
        group['achieved_rpo'] = group['rpo_at_run_start'] = 0.0
    elif planned.get('last_sync_time'):
        _rpo(group, planned, start, fence, warnings)
    if fence is not None and not fence.get('enforced'):
        warnings.append('group %s: the primary is not fenced yet (%s); the '
                        'scheduled sync fences it when it answers again'
                        % (name, fence.get('reason') or 'no answer'))
    if execution is None:
        return group
    # Whole seconds: steps of the same second sort by their end.
    group['steps'] = sorted((_step(t, start) for t in execution['tasks']),
                            key=lambda s: (s['start'], s['end']))
    group['start'] = _seconds(start, execution['created_at'])
    group['state'] = execution['state']
    if execution['state'] in ENDED_STATES:
        group['end'] = _seconds(start, execution['updated_at'])
    if execution['state'] == 'SUCCESS':
        group['achieved_rto'] = _recovered_at(group)
        if group['achieved_rto'] > planned['rto']:
            warnings.append('group %s: RTO target missed: recovered in '
                            '%.0f s, the target is %d s' % (
                                name, group['achieved_rto'],
                                planned['rto']))
    else:
        failures.append(_failure(name, group['steps'], execution))
    return group


# What a drill does not prove, by the planned field naming it.
_DRILL_GAPS = (
    ('standby_chains',
     'the drill did not build its port chains (%s): its standby holds '
     'them, and networking-sfc allows one chain per set of classifiers in '
     'a project; their classifiers, port pairs and groups were built'),
    ('replicated_volumes',
     'a drill does not touch replication: its replicated volumes (%s) '
     'came up empty at the DR site; the drill proved the metadata, not '
     'the data'),
)


def _drill_warnings(name, planned):
    return ['group %s: %s' % (name, text % ', '.join(planned[field]))
            for field, text in _DRILL_GAPS if planned.get(field)]


def _failure(name, steps, execution, step=None):
    """The failure of a group's ``execution``: its first failed step
    (``step`` when none failed) and that step's error, or the
    execution's."""
    failed = [s for s in steps if s['state'] == 'ERROR']
    return {'group': name, 'step': failed[0]['step'] if failed else step,
            'error': (failed[0]['error'] if failed else None)
            or execution.get('state_info')}


def _clean_up(group, execution, start, failures):
    """The steps of the group's clean-up workflow (``execution``, run
    after every tier: :data:`CLEAN_UP_WORKFLOWS`) added to its own; a
    clean-up that failed fails the group (it left a trace)."""
    if execution is None:
        return
    steps = [_step(t, start) for t in execution['tasks']]
    group['steps'] = sorted(group['steps'] + steps,
                            key=lambda s: (s['start'], s['end']))
    if execution['state'] in ENDED_STATES:
        group['end'] = max(filter(None, (
            group['end'], _seconds(start, execution['updated_at']))))
    if execution['state'] in FAILED_STATES:
        failures.append(_failure(group['group'], steps, execution,
                                 execution['workflow_name']))
        group['state'] = execution['state']


def tier_progress(progress, groups, continue_on_failure=False):
    """Whether every one of ``groups`` has recovered in a run, so that the
    next tier may start while their workflows finish what comes after
    their recovery (a failover's marking of a hot standby, a failback's
    return of the DR site to standby).

    Every answer but IN_PROGRESS ends the wait: it is never asked about
    groups whose workflows have all ended, or a run that has ended.

    :param progress: the run so far, ``{state: the root's, groups:
        [{group, state, tasks: [{name, state}]}], tiers: [{groups,
        state}]}`` (tasks of the running group workflows).
    :param continue_on_failure: the operator's override: a group that
        failed, or was not attempted, ends the wait (ENDED) instead of
        failing the tier that waits.
    :returns: RECOVERED (every group recovered), ENDED (every group
        recovered, failed or was not attempted; only with
        ``continue_on_failure``) or IN_PROGRESS.
    :raises WorkflowFailed: the run has ended, or (without
        ``continue_on_failure``) a group failed or was not attempted,
        naming them.
    """
    if progress['state'] in ENDED_STATES:
        raise exceptions.WorkflowFailed(
            'the run ended (%s) before this tier started'
            % progress['state'])
    runs = [r for r in progress['groups'] if r['group'] in groups]
    failed = sorted(r['group'] for r in runs
                    if r['state'] in FAILED_STATES)
    started = {r['group'] for r in runs}
    # A tier workflow that ended without starting a group of its own
    # (it failed waiting for the tier before): that group's workflow
    # will never start.
    dropped = sorted({g for t in progress['tiers']
                      if t['state'] in ENDED_STATES
                      for g in t['groups']
                      if g in groups and g not in started})
    if (failed or dropped) and not continue_on_failure:
        raise exceptions.WorkflowFailed('the tier before did not recover: %s'
                                        % _failed_and_dropped(failed,
                                                              dropped))
    recovered = {r['group'] for r in runs if _has_recovered(r)}
    if set(groups) <= recovered:
        return RECOVERED
    if set(groups) <= recovered | set(failed) | set(dropped):
        return ENDED
    return IN_PROGRESS


def _failed_and_dropped(failed, dropped):
    said = []
    if failed:
        said.append('group %s failed' % ', '.join(failed))
    if dropped:
        said.append('group %s not attempted' % ', '.join(dropped))
    return '; '.join(said)


def ended_run_plan(executions, run_id, published):
    """(kind, plan) of a run that ended without its report, from its
    root execution: the workflow it ran and what its ``plan`` step
    published.

    :param published: ``published(task_id)`` -> ``{name: value}``.
    :raises InvalidGroup: the run is not a failover, failback, drill or
        switchover run, is still running, or never planned.
    """
    root = next((e for e in executions if e['id'] == run_id), None)
    kinds = {name: kind for kind, name in RUN_WORKFLOWS.items()}
    if root is None or root['workflow_name'] not in kinds:
        raise exceptions.InvalidGroup(
            'execution %s is not a run of %s' % (
                run_id, ', '.join(sorted(RUN_WORKFLOWS.values()))))
    if root['state'] not in ENDED_STATES:
        raise exceptions.InvalidGroup(
            'run %s is still %s: its report comes when it ends (cancel it '
            'with `openstack rescuer run cancel %s`)' % (
                run_id, root['state'], run_id))
    plan = next((t for t in root['tasks'] if t['name'] == 'plan'), None)
    if plan is None or plan['state'] != 'SUCCESS':
        raise exceptions.InvalidGroup(
            'run %s changed nothing: it ended (%s) before its plan was '
            'made: %s' % (run_id, root['state'],
                          (plan or root).get('state_info')
                          or 'no reason given'))
    return kinds[root['workflow_name']], published(plan['id'])['plan']


def held_groups(runs, run_id, groups):
    """The leases that keep run ``run_id`` from starting: ``{group:
    run}`` for each of its ``groups`` that another running run holds.
    Of two runs on a group, the one that started first holds it (at the
    same second, the smaller id), so that of runs started together
    exactly one goes on; a run that has ended holds nothing.

    :param runs: the running runs, ``[{id, workflow_name, created_at,
        groups, planned}]``, this one among them; one ``planned`` (its
        tier or group workflows run) holds whenever it started.
    """
    mine = next((r for r in runs if r['id'] == run_id), None)
    held = {}
    for run in sorted(runs, key=_started):
        if run['id'] == run_id:
            continue
        if run.get('planned') or mine is None or \
                _started(run) < _started(mine):
            for group in set(run['groups']) & set(groups):
                held.setdefault(group, run)
    return held


def _started(run):
    return (_time(run['created_at']), run['id'])


def _has_recovered(run):
    if run['state'] == 'SUCCESS':
        return True
    names = {t['name'] for t in run['tasks']}
    return UNHEALTHY_STEP not in names and any(
        t['name'] in HEALTH_STEPS and t['state'] == 'SUCCESS'
        for t in run['tasks'])


def _recovered_at(group):
    """When the group's health check passed, or, without one, when its
    workflow ended."""
    checks = [s['end'] for s in group['steps']
              if s['step'] in HEALTH_STEPS and s['state'] == 'SUCCESS']
    return max(checks) if checks else group['end']


# ------------------------------------------------------------ rendering

def table(report):
    """The report as a terminal table, for people."""
    lines = ['%s run %s at %s: %s in %.0f s (started %s)' % (
        report['kind'], report['run_id'], report['site'], report['state'],
        report['seconds'], report['started_at'])]
    header = ('tier', 'group', 'step', 'start', 'end', 'secs', 'state')
    rows = []
    for group in report['groups']:
        rows.append((str(group['tier']), group['group'], '(group)',
                     _num(group['start']), _num(group['end']),
                     _num(None if group['end'] is None or group['start']
                          is None else group['end'] - group['start']),
                     group['state']))
        for step in group['steps']:
            rows.append(('', '', step['step'], _num(step['start']),
                         _num(step['end']), _num(step['seconds']),
                         step['state']))
    widths = [max(len(r[i]) for r in rows + [header])
              for i in range(len(header))]
    rule = '+'.join('-' * (w + 2) for w in widths)
    lines += ['+%s+' % rule, _row(header, widths), '+%s+' % rule]
    lines += [_row(r, widths) for r in rows]
    lines.append('+%s+' % rule)
    lines.append('%-8s %-28s %10s %10s %10s %10s' % (
        'tier', 'group', 'RTO', 'target', 'RPO', 'target'))
    for group in report['groups']:
        lines.append('%-8s %-28s %10s %10s %10s %10s' % (
            group['tier'], group['group'], _num(group['achieved_rto']),
            group['rto_target'], _num(group['achieved_rpo']),
            group['rpo_target']))
    for failure in report['failures']:
        lines.append('FAILED: group %s, step %s: %s' % (
            failure['group'], failure['step'], failure['error']))
    for dropped in report.get('not_attempted', []):
        lines.append('NOT ATTEMPTED: group %s (tier %s): %s' % (
            dropped['group'], dropped['tier'], dropped['reason']))
    for warning in report['warnings']:
        lines.append('WARNING: %s' % warning)
    return '\n'.join(lines)


def _num(value):
    return '-' if value is None else '%.0f' % value


def _row(cells, widths):
    return '| %s |' % ' | '.join(c.ljust(w) for c, w in zip(cells, widths))
