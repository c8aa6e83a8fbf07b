"""Actions of the failover workflows, run by the DR site's Mistral.

Each is one idempotent step over ``rescuer.failover``; none of them needs
the primary site except the fence, which expects it not to answer.
"""

from rescuer import backups
from rescuer import cinder
from rescuer import compute
from rescuer import drill
from rescuer import exceptions
from rescuer import failover
from rescuer import heat
from rescuer import mistral
from rescuer import ownership
from rescuer import report
from rescuer import shared
from rescuer import sync
from rescuer import topology
from rescuer_mistral.actions import base


class PlanFailoverAction(base.PlanAction):
    """Check a failover before anything changes, and plan its tiers.

    Every group must be registered at this DR site with a good capture,
    all must recover here, no other run may hold one of them, the site
    must have the flavors and the declared capacity they need, and -
    with ``check_replicas`` - every storage-replicated volume a replica
    there to take over (its replication time is a restore point).

    :param groups: names of the protection groups.
    :param check_replicas: false for a drill, which does not touch
        replication.
    :param waves: true for a drill: a tier whose groups use what another
        of the tier holds runs as waves, the holder first (a drill
        builds the holder's copies; a failover finds them at standby).
    :returns: ``{started_at, site, tiers: [[group]], groups: {group:
        {tier, rpo, rto, last_sync_time, capture_id, restore_points,
        replicated_volumes}}}``.
    """

    # A switchover moves the data by backups, not replicas.
    replicas_needed = True

    def __init__(self, groups, check_replicas=True, waves=False):
        super().__init__(groups)
        self.check_replicas = check_replicas and self.replicas_needed
        self.waves = waves

    def execute(self, context):
        store = self.store()
        started = failover.now()
        tiers = failover.plan(store, self.groups, waves=self.waves)
        definitions = {g: store.definition(g) for g in self.groups}
        sites_used = {d['recovery_site'] for d in definitions.values()}
        if len(sites_used) != 1:
            raise exceptions.InvalidGroup(
                'the groups recover at different sites (%s): fail them '
                'over one site at a time' % ', '.join(sorted(sites_used)))
        site, session, _ = self.session_for(context, sites_used.pop())
        self.refuse_held(context, site.name)
        flavors = compute.ComputeAPI(session, site).flavors()
        demands, planned, spread = {}, {}, {}
        for name, definition in definitions.items():
            capture, _ = store.latest(name)
            chains = store.backups(name)
            model = sync.model_for(definition, capture, site,
                                   shared.held_elsewhere(store, definition,
                                                         capture))
            demands[name] = failover.needs(model, flavors)
            spread[name] = failover.kept_apart(model, capture)
            planned[name] = {'tier': definition['tier'],
                             'rpo': definition['rpo'],
                             'rto': definition['rto'],
                             'last_sync_time': capture['captured_at'],
                             'capture_id': capture['capture_id'],
                             # The newest restorable point of each
                             # backup-protected volume (plan() checked
                             # that each has one).
                             'restore_points': {
                                 v: backups.newest(chains, v, name)[
                                     'data_timestamp']
                                 for v in backups.backup_volumes(capture)},
                             'replicated_volumes': [
                                 v['volume_id'] for v in
                                 failover.replicated_volumes(capture)],
                             # Port chains a drill does not build.
                             'standby_chains': drill.chains_held_by_standby(
                                 definition, model)}
        problems = failover.capacity_problems(site, demands)
        problems += failover.spread_problems(site, spread)
        if self.check_replicas:
            problems += self._replica_problems(definitions, planned, store)
        if problems:
            raise exceptions.InvalidGroup('; '.join(problems))
        return {'started_at': started, 'site': site.name, 'tiers': tiers,
                'groups': planned}

    def _replica_problems(self, definitions, planned, store):
        """Check each group's storage replicas at the DR site (with
        Rescuer's credential: Cinder's list of manageable storage is an
        admin API); their replication times join the restore points."""
        problems = []
        for name, definition in sorted(definitions.items()):
            try:
                points = failover.replica_points(
                    self.at_site(definition['recovery_site'],
                                 cinder.CinderAPI),
                    definition, store.latest(name)[0])
            except exceptions.InvalidGroup as exc:
                problems.append(str(exc))
                continue
            planned[name]['restore_points'].update(
                {v: t for v, t in points.items() if t})
        return problems


class PlanSwitchoverAction(PlanFailoverAction):
    """Check a switchover before anything changes: the failover checks,
    and every group's primary answering with the group's stack in place.

    :param groups: names of the protection groups.
    :returns: the plan, as ``rescuer.plan_failover`` returns it; the
        groups are marked ``zero_loss``.
    """

    replicas_needed = False

    def execute(self, context):
        plan = super().execute(context)
        store = self.store()
        problems = []
        for name in plan['groups']:
            problem = self.primary_problem(context, store.definition(name))
            if problem:
                problems.append('group %s: a switchover needs its primary: '
                                '%s' % (name, problem))
            plan['groups'][name]['zero_loss'] = True
        if problems:
            raise exceptions.InvalidGroup('; '.join(problems))
        return plan


class FencePrimaryAction(base.GroupAction):
    """Fence a group's primary: record the fence here first, then stop
    the group's servers and take its ports down at the primary if it
    answers.  A primary that does not answer is expected (a disaster):
    the fence stays recorded and the group's scheduled sync enforces it
    when the primary comes back.

    :param group: the group name.
    :param run_id: the run that fences (for the record).
    :param existing_only: enforce a recorded fence only, never record a
        new one (the scheduled sync: the group's definition it read may
        still show a fence that a failback has lifted since).
    :returns: the fence record ``{group, fenced_at, run_id, enforced,
        servers_stopped, ports_down, reason}``, or None when
        ``existing_only`` and no fence is recorded.
    """

    def __init__(self, group, run_id=None, existing_only=False):
        super().__init__(group)
        self.run_id = run_id
        self.existing_only = existing_only

    def execute(self, context):
        store = self.store()
        # Held throughout: a failback that lifts the fence meanwhile waits,
        # and then finds it enforced and lifts it for good.
        with store.fence_locked(self.group):
            return self._fence(context, store)

    def _fence(self, context, store):
        record = store.fence(self.group)
        if record is None and self.existing_only:
            return None
        if record is None:
            record = {
                'group': self.group, 'fenced_at': failover.now(),
                'run_id': self.run_id,
                'primary_site': self.definition()['primary_site'],
                'enforced': False, 'reason': None,
                # Set when the recovery stack passes its health check.
                'served_at': None}
            store.save_fence(record)
        if record['enforced']:
            return record
        try:
            record.update(failover.fence_primary(
                self.api(context, 'primary', compute.ComputeAPI),
                self.api(context, 'primary', compute.NetworkAPI),
                self.capture()))
            record.update(enforced=True, reason=None,
                          enforced_at=failover.now())
        except exceptions.SiteUnreachable as exc:
            record['reason'] = str(exc)
        store.save_fence(record)
        return record


class ReplicatedVolumesAction(base.GroupAction):
    """The group's volumes whose data is promoted at failover.

    :param group: the group name.
    :returns: ``[{volume_id, method, size, volume_type, bootable}]``.
    """

    def execute(self, context):
        return failover.replicated_volumes(self.capture())


class PromoteVolumeAction(base.GroupAction):
    """Bring one replicated volume's data up at this DR site, with
    Rescuer's own credential there (Cinder's manage-existing is an admin
    API): a storage replica is taken over, a backup-protected volume is
    restored from the newest backup of its chain (imported before by
    ``rescuer.import_backups``).

    :param group: the group name.
    :param volume: one item of ``rescuer.replicated_volumes``.
    :returns: ``{volume_id, dr_volume_id, method, status, site}``.
    """

    def __init__(self, group, volume):
        super().__init__(group)
        self.volume = volume

    def execute(self, context):
        api = self.at('recovery', cinder.CinderAPI)
        volume = self._recorded()
        backup = None
        if volume['method'] == 'backup':
            backup = backups.newest(self.store().backups(self.group),
                                    volume['volume_id'], self.group)
        return dict(failover.promote_volume(
            api, self.definition(), volume, backup,
            compute=self.at('recovery', compute.ComputeAPI)),
            site=api.site.name)

    def _recorded(self):
        """The group's replicated volume the input names, as Rescuer's
        capture of the group records it (never the input's own fields)."""
        wanted = (self.volume or {}).get('volume_id')
        for volume in failover.replicated_volumes(self.capture()):
            if volume['volume_id'] == wanted:
                return volume
        raise exceptions.NotOwned(
            'volume %s: not a replicated volume of group %s, by Rescuer\'s '
            'records of it' % (wanted, self.group))


class VolumeStatusAction(base.GroupAction):
    """IN_PROGRESS until every volume is available (or in-use), COMPLETE
    then; fails when one went to error.  For retry policies.

    :param group: the protection group the volumes are of.
    :param site: the volumes' site (the group's primary or DR site).
    :param volume_ids: the volumes (the group's, by Rescuer's records).
    """

    state_of = 'volume_state'

    def __init__(self, group, site, volume_ids):
        super().__init__(group)
        self.site = site
        self.ids = volume_ids

    def execute(self, context):
        if not self.ids:
            return 'COMPLETE'
        site, session = self.rescuer_session_for(self.site)
        api = cinder.CinderAPI(session, site)
        self.refuse_owned(api)
        state = getattr(api, self.state_of)
        states = {state(one) for one in self.ids}
        return 'IN_PROGRESS' if 'IN_PROGRESS' in states else 'COMPLETE'

    def refuse_owned(self, api):
        self.refuse_foreign('volume', self.ids,
                            self.owned_volume_ids(self.site), self.site)


class ActivateAction(base.GroupAction):
    """Bring the group's recovery stack to ``active`` on the promoted
    data, tagged as serving the failed-over group.

    :param group: the group name.
    :param promoted: the results of ``rescuer.promote_volume``.
    :param serve_first: a hot standby the active level would not change
        is left as it is (action ``in_service``), to be checked first and
        marked by a second call without it.
    :returns: ``{stack_id, action, site}``.
    """

    def __init__(self, group, promoted=None, serve_first=False):
        super().__init__(group)
        self.promoted = promoted or []
        self.serve_first = serve_first

    def execute(self, context):
        if self.promoted:
            site = self.definition()['recovery_site']
            self.refuse_foreign('volume', [p['volume_id'] for p in
                                           self.promoted],
                                ownership.capture_volumes(self.capture()),
                                self.definition()['primary_site'])
            self.refuse_foreign('volume', [p['dr_volume_id'] for p in
                                           self.promoted],
                                self.promoted_volume_ids(), site)
        api = self.api(context, 'recovery', heat.HeatAPI)
        return dict(failover.activate(
            api, self.definition(), self.capture(),
            {p['volume_id']: p['dr_volume_id'] for p in self.promoted},
            serve_first=self.serve_first,
            compute=self.api(context, 'recovery', compute.ComputeAPI),
            held_elsewhere=self.held_elsewhere()),
            site=api.site.name)


class StartRecoveryServersAction(base.GroupAction):
    """Start the stopped servers of the group's recovery stack: after an
    activation (a hot-standby server a failback drained is still stopped)
    and after a failback's return to standby.

    :param group: the group name.
    :returns: ``{stack_id, started, site}``.
    """

    def execute(self, context):
        api = self.api(context, 'recovery', heat.HeatAPI)
        stack = sync.recovery_stack(api, self.group)
        return dict(failover.start_stack_servers(
            api, self.api(context, 'recovery', compute.ComputeAPI),
            stack['id']), site=api.site.name)


class RecoveryHealthAction(base.GroupAction):
    """Health of a group's recovery stack: every resource complete, every
    server ACTIVE, and then the recovered topology as the capture says
    (:mod:`rescuer.topology`: networks, addresses, security groups,
    bindings, chain links; a difference fails the check at once, naming
    it).  Workflows retry while ``healthy`` is false.

    :param group: the group name.
    :returns: ``{stack_id, servers: {name: status}, incomplete, healthy,
        topology}``; ``topology`` what was compared (once healthy).
    """

    find = staticmethod(sync.find_stack)
    what = 'recovery stack'
    # A healthy recovery stack serves the fenced group: recorded in its
    # fence, so that a failback knows whether data comes back from here.
    records_service = True

    def execute(self, context):
        api = self.api(context, 'recovery', heat.HeatAPI)
        stack = self.find(api, self.group)
        if stack is None:
            raise exceptions.NotFound('group %s has no %s at site %s' % (
                self.group, self.what, api.site.name))
        result = failover.health(
            api, self.api(context, 'recovery', compute.ComputeAPI),
            stack['id'])
        if result['healthy']:
            result['topology'] = self._topology(context, api, stack)
        if result['healthy'] and self.records_service:
            store = self.store()
            with store.fence_locked(self.group):
                record = store.fence(self.group)
                if record is not None and not record.get('served_at'):
                    record['served_at'] = failover.now()
                    store.save_fence(record)
        return result

    def _built_from(self, stack):
        """The capture the stack was last built from (its capture_id
        output): a sync during a drill may have taken a newer one."""
        built = next((o.get('output_value') for o in stack.get('outputs')
                      or [] if o.get('output_key') == 'capture_id'), None)
        return (built and self.store().capture(self.group, built) or
                self.capture())

    def _topology(self, context, api, stack):
        """What :func:`rescuer.topology.check` compared; StackFailed
        naming every difference."""
        model = sync.model_for(self.definition(), self._built_from(stack),
                               api.site, self.held_elsewhere())
        found = topology.check(
            self.api(context, 'recovery', compute.NetworkAPI), model,
            api.resources(stack['id']), stack.get('parameters'),
            self.api(context, 'recovery', compute.ComputeAPI))
        if found['differences']:
            raise exceptions.StackFailed(
                'group %s: the %s %s at site %s is not the captured '
                'topology: %s' % (self.group, self.what, stack['id'],
                                  api.site.name,
                                  '; '.join(found['differences'])))
        return found['compared']


class RunReportAction(base.RescuerAction):
    """Build, keep and return the report of a run, from Mistral's record
    of the run's executions and tasks.

    :param kind: failover, switchover, drill or failback (without it:
        the kind of the run's workflow).
    :param execution_id: the run's root execution (``execution().id``).
    :param plan: the run's plan (``rescuer.plan_failover``); without
        it, the plan the run published - for a run that ended without
        its report (cancelled or stopped by hand): ``report_v1``.
    :returns: the report (see ``rescuer.report``).
    """

    def __init__(self, execution_id, kind=None, plan=None):
        super().__init__()
        self.kind = kind
        self.execution_id = execution_id
        self.plan = plan

    def execute(self, context):
        store = self.store()
        if self.plan is None:
            site = self.caller_site(context)
        else:
            site = self.registry().get(self.plan['site'])
        _, session = self.caller_session_for(context, site.name)
        api = mistral.MistralAPI(session, site)
        executions = api.run_executions(self.execution_id)
        if self.plan is None:
            self.kind, self.plan = report.ended_run_plan(
                executions, self.execution_id, api.published)
            site = self.registry().get(self.plan['site'])
        groups = [g for tier in self.plan['tiers'] for g in tier]
        fences = {g: store.fence(g) for g in groups if store.fence(g)}
        resources = {}
        for name in groups:
            capture, _ = store.latest(name)
            resources[name] = {kind: len(capture[kind]) for kind in (
                'servers', 'ports', 'networks', 'volumes')}
        document = report.build(self.kind, self.execution_id, site.name,
                                self.plan, executions, fences, resources)
        document['stored_as'] = str(store.save_report(document))
        return document


class TierRecoveredAction(base.RescuerAction):
    """Whether every group of a run's tier has recovered - its health
    check passed (retried while ``IN_PROGRESS``): the next tier starts
    then, while those groups' workflows finish what follows.  The wait
    ends as soon as what it waits for has ended: a group that failed, a
    group its tier never started, or the run itself ending.

    :param site: this DR site (the run plan's ``site``).
    :param run_id: the run's root execution (``execution().id``).
    :param groups: the groups of that tier; none: RECOVERED at once.
    :param continue_on_failure: the run's override: a failed or
        unattempted group ends the wait (ENDED) instead of an error.
    :returns: RECOVERED, ENDED or IN_PROGRESS; an error names the groups
        that failed or were not attempted, or the run's end.
    """

    def __init__(self, site, run_id, groups=None, continue_on_failure=False):
        super().__init__()
        self.site = site
        self.run_id = run_id
        self.groups = groups or []
        self.continue_on_failure = continue_on_failure

    def execute(self, context):
        if not self.groups:
            return report.RECOVERED
        site, session = self.caller_session_for(context, self.site)
        progress = mistral.MistralAPI(session, site).run_progress(
            self.run_id, self.groups)
        return report.tier_progress(progress, self.groups,
                                    bool(self.continue_on_failure))


class StartDrillAction(base.GroupAction):
    """Create the group's isolated drill stack at this DR site.

    :param group: the group name.
    :returns: ``{stack_id, action, site}``.
    """

    def execute(self, context):
        return drill.start(self.api(context, 'recovery', heat.HeatAPI),
                           self.definition(), self.capture(),
                           held_elsewhere=self.held_elsewhere())


class DrillHealthAction(RecoveryHealthAction):
    """Health of the group's drill stack (retried while not healthy).

    :param group: the group name.
    """

    find = staticmethod(drill.find_drill)
    what = 'drill stack'
    records_service = False


class FinishDrillAction(base.GroupAction):
    """Delete the group's drill stack (whatever state it is in).

    :param group: the group name.
    :returns: ``{stack_id, deleting, site}``.
    """

    def execute(self, context):
        return drill.finish(self.api(context, 'recovery', heat.HeatAPI),
                            self.group)
