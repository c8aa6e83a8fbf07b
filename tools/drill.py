"""The main job: a full DR exercise on the two-site lab, as an operator
runs it, with the `openstack` CLI and the DR site's Mistral.

1. deploy two protected VNFs at site-a (tier 1 and tier 2, each a server
   with a port on its service network, a storage-replicated data volume
   and a backup-protected log volume), protected to site-b in hot
   standby, and a network service (examples/network-service.yaml: three
   VNFs in three groups, tiers 1-3, on one shared network, chained
   across tiers) - or, on a rerun, take what a completed run left there
   (deployed, protected, site-b in standby), as a DR exercise runs on
   deployed VNFs; ``--redeploy`` deploys them afresh;
2. write log records (a scheduled sync backs them up) and data, and
   replicate the data;
3. a non-disruptive drill at site-b, while the scheduled sync runs; then
   wait for that sync;
4. disaster: `rescuer-lab fail site-a`; fail over; check the VNFs at
   site-b (servers ACTIVE, data of the replication point, logs of the
   last sync's backup) while `rescuer-lab recover site-a` brings site-a
   back (the checks do not touch site-a); check the network service at
   site-b (one copy of its network, every tier's ports on it, its chain
   starting at the copy of the tier-1 port);
5. fail back; check the VNFs at site-a
   (fresh servers ACTIVE, data and logs written at site-b), the network
   service at site-a, and site-b in standby;
6. print the reports, and where their JSON and timeline pictures are.

Exits 0 only if every step succeeded and every check held.  Run with the
checkout's virtualenv, once the lab is up: ``tools/run-drill.sh
[--redeploy]``.  The records it writes into the volumes carry the run's
id, and its checks look at this run's records only.
"""

import concurrent.futures
import datetime
import functools
import json
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rescuer import groups as protection_groups  # noqa: E402
from rescuer import report  # noqa: E402
from rescuer import timeline  # noqa: E402
from rescuer_lab import filestore  # noqa: E402
from rescuer_lab import lab  # noqa: E402
from rescuer_lab import topology  # noqa: E402
from tests.functional import base  # noqa: E402

TEMPLATE = str(REPO / 'examples' / 'protected-vnf.yaml')
VNFS = (('vnf-core', 1, '10.41.0.0/24'), ('vnf-edge', 2, '10.42.0.0/24'))
# The network service: its stack, its parameters, and its groups' tiers.
SERVICE = 'net-service'
SERVICE_TEMPLATE = str(REPO / 'examples' / 'network-service.yaml')
SERVICE_PARAMETERS = {'net_name': 'drill-svc-net', 'cidr': '10.43.0.0/24',
                      'vip': '10.43.0.250',
                      'sip_port': '5061', 'rpo': str(600)}
SERVICE_TIERS = (1, 2, 3)
RPO = 60
# The records this run writes into the volumes carry its id: a VNF taken
# over from an earlier run holds that run's records too.
RUN = time.strftime('%Y%m%d%H%M%S')
REDEPLOY = '--redeploy' in sys.argv[1:]
RECORDS_LEFT = 240
# How often a run's progress is asked for (seconds); its end is looked
# for every second.  Mistral's API shares the lab's one Mistral process
# with its engine: asking every second for every group's steps took
# engine time from the run it watched.
PROGRESS_EVERY = 5


def check_tier_order(run_report, tiers):
    """Each tier (``tiers``: the groups of tiers 1, 2, ...) recovered
    before the next started; what a tier does after its recovery may
    overlap the next."""
    found = run_report['tiers']
    check([sorted(t['groups']) for t in found] == [sorted(t) for t in tiers]
          and all(before['recovered'] is not None and
                  before['recovered'] <= after['start']
                  for before, after in zip(found, found[1:])),
          '%s: each tier recovered before the next started (%s)' % (
              run_report['kind'], ', '.join(
                  'tier %s %s-%s s' % (t['tier'], t['start'], t['recovered'])
                  for t in found)))


def write_tag(site, volume_id, label):
    base.write_tag(site, volume_id, '%s@%s' % (label, RUN))


def run_tags(site, volume_id):
    """The labels of this run's records in a lab volume, in order."""
    return [tag.rsplit('@', 1)[0] for tag in base.tags(site, volume_id)
            if tag.endswith('@' + RUN)]


def say(message):
    print('[drill %s] %s' % (time.strftime('%H:%M:%S'), message),
          flush=True)


def check(condition, message):
    if not condition:
        raise SystemExit('DRILL FAILED: %s' % message)
    say('ok: %s' % message)


def _progress(sess, endpoint, execution_id):
    """The run's own steps and their states, then the step each group
    is at: "plan SUCCESS, return_tiers RUNNING | vnf-core-group-x:
    wait_restored"."""
    def tasks(of):
        return sess.get('/tasks?workflow_execution_id=%s&fields=name,state'
                        % of, endpoint_filter=endpoint).json()['tasks']
    shown = ', '.join('%s %s' % (t['name'], t['state'])
                      for t in tasks(execution_id))
    running = sess.get(
        '/executions?root_execution_id=%s&state=RUNNING'
        '&fields=id,input,workflow_name' % execution_id,
        endpoint_filter=endpoint).json()['executions']
    steps = []
    for sub in running:
        group = json.loads(sub.get('input') or '{}').get('group')
        if group:
            # A step waiting out its retry delay is RUNNING_DELAYED.
            steps.extend('%s: %s' % (group, t['name'])
                         for t in tasks(sub['id'])
                         if t['state'].startswith('RUNNING'))
    return ' | '.join([shown] + sorted(steps))


def run(workflow, groups, out_dir, timeout=900):
    say('%s %s ...' % (workflow, ', '.join(groups)))
    execution_id = base.start_execution(workflow, {'groups': groups})
    started = time.monotonic()
    sess, endpoint = _session('site-b'), base.endpoint('site-b', 'workflowv2')
    shown, shown_at, asked_at = None, 0, -PROGRESS_EVERY
    while True:
        execution = sess.get('/executions/%s' % execution_id,
                             endpoint_filter=endpoint).json()
        if execution['state'] not in ('IDLE', 'RUNNING', 'PAUSED'):
            break
        if time.monotonic() - started > timeout:
            raise SystemExit('DRILL FAILED: %s did not finish in %d s'
                             % (workflow, timeout))
        elapsed = time.monotonic() - started
        if elapsed - asked_at >= PROGRESS_EVERY:
            progress, asked_at = _progress(sess, endpoint, execution_id), \
                elapsed
            if progress != shown or elapsed - shown_at >= 10:
                print('  ... %3.0f s  %s' % (elapsed, progress), flush=True)
                shown, shown_at = progress, elapsed
        time.sleep(1)
    output = json.loads(execution.get('output') or '{}')
    document = output.get('report')
    if document:
        print(report.table(document))
        kind = document['kind']
        (out_dir / ('%s.json' % kind)).write_text(
            json.dumps(document, indent=2, sort_keys=True))
        (out_dir / ('%s.svg' % kind)).write_text(timeline.svg(document))
    if execution['state'] != 'SUCCESS':
        raise SystemExit('DRILL FAILED: %s ended in %s: %s' % (
            workflow, execution['state'], execution.get('state_info')))
    say('ok: %s succeeded' % workflow)
    return execution_id, document


@functools.lru_cache(maxsize=None)
def _session(site):
    """One authenticated session per site for the whole run: the checks
    call the APIs, as the CLI would, without a process and a new token
    per call (each `openstack` call took 2-4 s of the busy lab)."""
    return base.session(site)


def _get(site, service_type, path):
    """The JSON a GET on a site's API answers, or None on 404."""
    found = _session(site).get(
        path, raise_exc=False,
        endpoint_filter=base.endpoint(site, service_type))
    if found.status_code == 404:
        return None
    if found.status_code != 200:
        raise SystemExit('DRILL FAILED: GET %s at %s answered %d: %s' % (
            path, site, found.status_code, found.text[:300]))
    return found.json()


def _heat_stack(site, name_or_id):
    """A stack as Heat's API shows it (outputs resolved), or None."""
    found = _get(site, 'orchestration', '/stacks/%s' % name_or_id)
    return found['stack'] if found else None


def _stack_resources(site, name_or_id, resource_type=None):
    """{resource_name: physical_resource_id} of a stack's resources (of
    one type)."""
    stack = _heat_stack(site, name_or_id)
    path = '/stacks/%s/%s/resources' % (stack['stack_name'], stack['id'])
    if resource_type:
        path += '?type=%s' % resource_type
    return {r['resource_name']: r['physical_resource_id']
            for r in _get(site, 'orchestration', path)['resources']}


def _server_status(site, server_id):
    return _get(site, 'compute', '/servers/%s' % server_id)['server'][
        'status']


def _ports_up(site, server_id):
    """Whether the server has ports and all are administratively up (a
    fence takes a failed-over primary's ports down)."""
    ports = _get(site, 'network',
                 '/v2.0/ports?device_id=%s' % server_id)['ports']
    return bool(ports) and all(p['admin_state_up'] for p in ports)


def _volume_named(site, name):
    """The id of the one volume called ``name`` at ``site``."""
    [volume] = _get(site, 'volumev3', '/volumes?name=%s' % name)['volumes']
    return volume['id']


def _last_sync_time(name):
    """The protected VNF's last_sync_time output, through Heat's API (a
    CLI call took seconds of each poll)."""
    stack = _heat_stack('site-a', name)
    return _get('site-a', 'orchestration', '/stacks/%s/%s/outputs/'
                'last_sync_time' % (name, stack['id']))['output'][
                    'output_value']


def _synced_since(name, moment):
    """Whether a sync of the VNF's group captured it after ``moment`` (its
    backups start after its capture): a sync already running when the
    logs were written may have backed up the volume before them."""
    last = _last_sync_time(name)
    return bool(last) and protection_groups.parse_time(last) > moment


def reusable(name, tier):
    """What a completed run left of ``name`` - ``{'out', 'resources'}``
    - when it is deployed at site-a with this run's parameters,
    protected, and its recovery stack is back in hot standby at site-b;
    else None.  A DR exercise runs on the VNFs that are deployed;
    anything else (a run stopped half-way, another tier or RPO) is
    deployed afresh.  Heat's API, not the CLI: this runs on every rerun.
    """
    stack = _heat_stack('site-a', name)
    if stack is None:
        return None
    out = {o['output_key']: o.get('output_value')
           for o in stack.get('outputs') or []}
    if (stack['stack_status'] not in ('CREATE_COMPLETE', 'UPDATE_COMPLETE')
            or stack['parameters'].get('tier') != str(tier)
            or stack['parameters'].get('rpo') != str(RPO)
            or out.get('protection_status') != 'protected'):
        return None
    recovery = _heat_stack('site-b', out['recovery_stack_id'])
    if not (recovery and recovery['stack_status'].endswith('_COMPLETE') and
            recovery['parameters'].get('standby_level') == 'hot' and
            'rescuer-failed-over' not in (recovery.get('tags') or [])):
        return None
    resources = _stack_resources('site-a', name)
    # Each run adds records to the volumes; a lab volume holds 256.
    if any(len(filestore.read_patterns(lab.volume_path(
            topology.site('site-a'), resources[v]))) >= RECORDS_LEFT
            for v in ('data', 'logs')):
        return None
    return {'out': out, 'resources': resources}


def deploy_one(name, tier, cidr):
    """Deploy one protected VNF at site-a (or take the one a completed
    run left, unless --redeploy); its outputs and resources."""
    found = None if REDEPLOY else reusable(name, tier)
    if found:
        say('%s (tier %d) is deployed at site-a and protected: the '
            'exercise runs on it (--redeploy deploys afresh)' % (name, tier))
        return found
    say('removing %s from site-a, if there' % name)
    base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name,
             check=False)
    say('deploying %s (tier %d) at site-a, protected to site-b'
        % (name, tier))
    base.cli_json('site-a', 'stack', 'create', '--wait', '-t', TEMPLATE,
                  '--parameter', 'tier=%d' % tier, '--parameter',
                  'cidr=%s' % cidr, '--parameter', 'rpo=%d' % RPO, name)
    out = base.stack_outputs('site-a', name)
    resources = _stack_resources('site-a', name)
    check(out['protection_status'] == 'protected',
          '%s protected, recovery stack %s at site-b'
          % (name, out['recovery_stack_id']))
    return {'out': out, 'resources': resources}


def each_vnf(function, stacks=None):
    """``function(name, ...)`` for every VNF side by side (the VNFs'
    stacks and checks need not wait for each other; the tiers order
    recovery, not deployment or verification); ``{name: result}``."""
    with concurrent.futures.ThreadPoolExecutor(len(VNFS)) as pool:
        futures = {name: pool.submit(function, name, *(
            (tier, cidr) if stacks is None else (stacks[name],)))
            for name, tier, cidr in VNFS}
    return {name: futures[name].result() for name, _, _ in VNFS}


def deploy():
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        service = pool.submit(deploy_service)
        stacks = each_vnf(deploy_one)
        return stacks, service.result()


def _service_state(out):
    """Whether the service's groups are protected and their recovery
    stacks back at their standby level."""
    if out.get('protection_status') != ['protected'] * 3:
        return False
    levels = ('hot', 'hot', 'cold')
    for stack_id, level in zip(out['recovery_stacks'], levels):
        recovery = _heat_stack('site-b', stack_id)
        if not (recovery and recovery['stack_status'].endswith('_COMPLETE')
                and recovery['parameters'].get('standby_level') == level
                and 'rescuer-failed-over' not in (recovery.get('tags')
                                                  or [])):
            return False
    return True


def deploy_service():
    """Deploy the network service at site-a (or take the one a completed
    run left); its outputs."""
    stack = None if REDEPLOY else _heat_stack('site-a', SERVICE)
    if stack and stack['stack_status'] in ('CREATE_COMPLETE',
                                           'UPDATE_COMPLETE') and all(
            stack['parameters'].get(k) == v
            for k, v in SERVICE_PARAMETERS.items()):
        out = {o['output_key']: o.get('output_value')
               for o in stack.get('outputs') or []}
        if _service_state(out):
            say('%s (tiers 1-3) is deployed at site-a and protected: the '
                'exercise runs on it' % SERVICE)
            return out
    say('removing %s from site-a, if there' % SERVICE)
    base.cli('site-a', 'stack', 'delete', '--yes', '--wait', SERVICE,
             check=False)
    say('deploying the network service %s (tiers 1-3) at site-a'
        % SERVICE)
    parameters = [a for k, v in sorted(SERVICE_PARAMETERS.items())
                  for a in ('--parameter', '%s=%s' % (k, v))]
    base.cli_json('site-a', 'stack', 'create', '--dry-run', '-t',
                  SERVICE_TEMPLATE, *parameters, SERVICE)
    base.cli_json('site-a', 'stack', 'create', '--wait', '-t',
                  SERVICE_TEMPLATE, *parameters, SERVICE)
    out = base.stack_outputs('site-a', SERVICE)
    check(_service_state(out), '%s protected: groups %s' % (
        SERVICE, ', '.join(out['groups'])))
    return out


def check_service_at(site, stacks):
    """The network service at ``site`` (stacks: tier 1, 2, 3): one
    network of its name, every tier's port on it, the chain starting at
    the tier-1 port, every server ACTIVE."""
    tier1, tier2, tier3 = (_stack_resources(site, s) for s in stacks)
    networks = _get(site, 'network', '/v2.0/networks?name=%s' %
                    SERVICE_PARAMETERS['net_name'])['networks']
    on_it = [_get(site, 'network', '/v2.0/ports/%s' % port)['port'][
        'network_id'] for port in (tier1['sip_port_0'], tier2['fw_in'],
                                   tier2['fw_out'], tier3['db_port'])]
    classifier = _get(site, 'network', '/v2.0/sfc/flow_classifiers/%s'
                      % tier2['sip_classifier'])['flow_classifier']
    servers = [tier1['sip'], tier2['fw'], tier3['db']]
    check([n['id'] for n in networks] == [tier1['svc_net']] and
          set(on_it) == {tier1['svc_net']} and
          classifier['logical_source_port'] == tier1['sip_port_0'] and
          'sip_chain' in tier2 and
          all(_server_status(site, s) == 'ACTIVE' for s in servers),
          '%s serves at %s: one network %s holding every tier\'s ports, '
          'the chain from the tier-1 port, servers ACTIVE'
          % (SERVICE, site, SERVICE_PARAMETERS['net_name']))


def check_service_failed_back():
    check_service_at('site-a', [SERVICE] * 3)
    check(_service_state(base.stack_outputs('site-a', SERVICE)),
          '%s back in standby at site-b (hot, hot, cold)' % SERVICE)
    networks = _get('site-b', 'network', '/v2.0/networks?name=%s' %
                    SERVICE_PARAMETERS['net_name'])['networks']
    check(len(networks) == 1, '%s has one copy of its network at site-b'
          % SERVICE)


def servers_of(site, stack):
    """{resource_name: server id} of a stack's servers."""
    return _stack_resources(site, stack, 'OS::Nova::Server')


def write_and_replicate(name, s):
    """Data written before the storage replication point (it survives
    the disaster) and after it (lost with site-a)."""
    data = s['resources']['data']
    write_tag('site-a', data, 'before-disaster')
    base.rescuer_lab('replicate', 'site-a', data)
    write_tag('site-a', data, 'lost-in-disaster')


def check_failed_over(name, s):
    """The VNF serves at site-b on the replicated data and the last
    sync's logs; then it writes there (for the failback to carry)."""
    recovery = s['out']['recovery_stack_id']
    vnf = servers_of('site-b', recovery)['vnf']
    check(_server_status('site-b', vnf) == 'ACTIVE',
          '%s serves at site-b (server %s ACTIVE)' % (name, vnf))
    promoted = _volume_named('site-b', 'rescuer-%s' % s['resources']['data'])
    check(run_tags('site-b', promoted) == ['before-disaster'],
          '%s data at site-b is that of the replication point' % name)
    write_tag('site-b', promoted, 'written-at-site-b')
    restored = _volume_named('site-b', 'rescuer-%s' % s['resources']['logs'])
    check(run_tags('site-b', restored) == ['logged'],
          '%s logs at site-b are those of the last sync\'s backup' % name)
    write_tag('site-b', restored, 'logged-at-site-b')


def check_failed_back(name, s):
    """A fresh VNF serves at site-a with what site-b wrote; site-b is
    back in hot standby."""
    vnf = servers_of('site-a', name)['vnf']
    check(vnf != s['resources']['vnf'] and
          _server_status('site-a', vnf) == 'ACTIVE' and
          _ports_up('site-a', vnf),
          '%s recreated fresh at site-a (server %s ACTIVE, its port up)'
          % (name, vnf))
    check(run_tags('site-a', s['resources']['data']) ==
          ['before-disaster', 'written-at-site-b'],
          '%s data at site-a includes what was written at site-b' % name)
    check(run_tags('site-a', s['resources']['logs']) ==
          ['logged', 'logged-at-site-b'],
          '%s logs at site-a include what was logged at site-b' % name)
    recovery = _heat_stack('site-b', s['out']['recovery_stack_id'])
    standby = servers_of('site-b', s['out']['recovery_stack_id'])['vnf']
    check(recovery['parameters']['standby_level'] == 'hot' and
          'rescuer-failed-over' not in (recovery.get('tags') or []) and
          _server_status('site-b', standby) == 'ACTIVE',
          '%s back in hot standby at site-b (server %s ACTIVE)'
          % (name, standby))


def main():
    out_dir = pathlib.Path(base.lab_env()['RESCUER_LAB_DIR']) / 'reports'
    out_dir.mkdir(exist_ok=True)
    stacks, service = deploy()
    vnf_groups = [stacks[name]['out']['group_name'] for name, _, _ in VNFS]
    groups = vnf_groups + service['groups']
    tiers = [[vnf_groups[0], service['groups'][0]],
             [vnf_groups[1], service['groups'][1]], [service['groups'][2]]]

    each_vnf(lambda name, s: write_tag(
        'site-a', s['resources']['logs'], 'logged'), stacks)
    say('log records written at site-a (their volumes are protected by a '
        'backup at each sync)')
    logged_at = datetime.datetime.now(datetime.timezone.utc)

    each_vnf(write_and_replicate, stacks)
    say('data written at site-a and replicated to site-b')

    # The drill does not wait for the sync: it brings the groups up at
    # site-b on isolated networks from their latest capture, beside
    # their standby, while the scheduled syncs go on as they would on a
    # drill day.
    run('rescuer_dr.drill_v1', groups, out_dir)
    check(all(_heat_stack('site-b', 'rescuer-drill-%s' % g) is None
              for g in groups),
          'the drill left no stack behind')

    say('waiting for a scheduled sync (every %d s) to back up the logs'
        % (RPO // 2))
    base.wait_for(lambda: all(_synced_since(n, logged_at) for n in stacks),
                  timeout=3 * RPO,
                  interval=1, what='a scheduled sync of every group')
    check(True, 'every group synced on schedule')

    say('DISASTER: rescuer-lab fail site-a')
    base.rescuer_lab('fail', 'site-a')
    _, failover_report = run('rescuer_dr.failover_v1', groups, out_dir)
    check_tier_order(failover_report, tiers)
    # site-a's team restores the lost site while the VNFs are checked at
    # site-b: the checks do not touch site-a.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        recovered = pool.submit(base.rescuer_lab, 'recover', 'site-a')
        each_vnf(check_failed_over, stacks)
        check_service_at('site-b', service['recovery_stacks'])
        recovered.result()
    say('site-a is back: rescuer-lab recover site-a')
    _, failback_report = run('rescuer_dr.failback_v1', groups, out_dir)
    check_tier_order(failback_report, tiers)
    each_vnf(check_failed_back, stacks)
    check_service_failed_back()
    print()
    print('Reports (JSON and timeline pictures):')
    for kind in ('drill', 'failover', 'failback'):
        print('  %s  %s' % (out_dir / ('%s.json' % kind),
                            out_dir / ('%s.svg' % kind)))
    print('DRILL PASSED')


if __name__ == '__main__':
    main()
