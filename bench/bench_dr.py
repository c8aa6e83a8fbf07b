"""Rescuer benchmarks on the two-site lab - ratios against baselines
measured in the same run (not tests: they print figures).

    .venv/bin/rescuer-lab up
    .venv/bin/python bench/bench_dr.py [--sizes 10,50,200] \
        [--capture-sizes 10,50,200,500] [--rpo-cycles 6]

1. Failover time against a plain Heat create of the same rendered
   recovery stack at site-b (the baseline), for groups of N resources, in
   cold and hot standby.
2. Capture time and API calls for stacks of N resources.
3. Achieved metadata RPO against a 10 s sync interval over several
   scheduled syncs.
4. Achieved data RPO of a backup-protected volume, from pattern writes
   (one a second) read back at site-b after a real failover.
5. Sustained load: many protection groups syncing every 60 s - syncs,
   RPO misses, and the DR site's CPU as the group count and the members
   per group grow (``--load-shapes 50x4,100x4,50x20``: groups x members).

Each part runs alone with ``--only failover|capture|rpo|data-rpo|load``.
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import pathlib
import statistics
import sys
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rescuer import sites  # noqa: E402
from rescuer import store  # noqa: E402
from rescuer import sync  # noqa: E402
from tests.functional import base  # noqa: E402

MAX_SERVERS = 8


def template(size, mode=None, rpo=600, servers=None):
    """A stack of ``size`` resources at site-a: a network, a subnet, a few
    servers (``servers``, or one per ten resources) with a port each, and
    ports; with ``mode``, plus a protection group of all of them (not
    counted)."""
    if servers is None:
        servers = min(MAX_SERVERS, max(1, size // 10))
    resources = {
        'net': {'type': 'OS::Neutron::Net'},
        'subnet': {'type': 'OS::Neutron::Subnet', 'properties': {
            'network': {'get_resource': 'net'}, 'cidr': '10.60.0.0/22',
            'enable_dhcp': False}}}
    for index in range(servers):
        resources['port%d' % index] = {
            'type': 'OS::Neutron::Port', 'depends_on': 'subnet',
            'properties': {'network': {'get_resource': 'net'}}}
        resources['vnf%d' % index] = {
            'type': 'OS::Nova::Server', 'properties': {
                'image': 'lab-image', 'flavor': 'm1.tiny',
                'networks': [{'port': {'get_resource': 'port%d' % index}}]}}
    for index in range(size - 2 - 2 * servers):
        resources['extra%d' % index] = {
            'type': 'OS::Neutron::Port', 'depends_on': 'subnet',
            'properties': {'network': {'get_resource': 'net'}}}
    if mode:
        resources['group'] = {
            'type': 'OS::Rescuer::ProtectionGroup', 'properties': {
                'members': sorted(resources), 'mode': mode,
                'recovery_site': 'site-b', 'rpo': rpo, 'rto': 600}}
    outputs = {'group_name': {'value': {'get_attr': ['group',
                                                     'group_name']}},
               'recovery_stack_id': {'value': {'get_attr': [
                   'group', 'recovery_stack_id']}}} if mode else {}
    return json.dumps({'heat_template_version': '2021-04-16',
                       'resources': resources, 'outputs': outputs})


def write(path, text):
    path.write_text(text)
    return str(path)


def delete_stack(cloud, name, timeout=3600):
    """Delete a stack and wait until it is gone (not `--wait`: a big
    stack takes longer than a CLI call may)."""
    base.cli(cloud, 'stack', 'delete', '--yes', name, check=False)
    sess, endpoint = base.api(cloud, 'orchestration')
    base.wait_for(lambda: sess.get(
        '/stacks/%s' % name, endpoint_filter=endpoint,
        raise_exc=False).status_code == 404, timeout, interval=2,
        what='stack %s deleted' % name)


def wait_stack(cloud, stack_id, timeout=1800):
    sess, endpoint = base.api(cloud, 'orchestration')

    def done():
        stack = sess.get('/stacks/%s' % stack_id,
                         endpoint_filter=endpoint).json()['stack']
        status = stack['stack_status']
        if status.endswith('FAILED'):
            raise SystemExit('%s: %s' % (status,
                                         stack['stack_status_reason']))
        return status.endswith('COMPLETE')
    base.wait_for(done, timeout, interval=0.5, what='stack %s' % stack_id)


def run_workflow(workflow, inputs, timeout=1800):
    started = time.monotonic()
    execution = base.wait_execution(base.start_execution(workflow, inputs),
                                    timeout=timeout)
    if execution['state'] != 'SUCCESS':
        raise SystemExit('%s failed: %s' % (workflow,
                                            execution.get('state_info')))
    return time.monotonic() - started, execution


def registry():
    return sites.Registry.load(base.lab_env()['RESCUER_SITES_FILE'])


def baseline_create(group, workdir):
    """Plain Heat create, at site-b, of the group's rendered recovery
    stack at the active level; seconds."""
    reg = registry()
    capture, _ = store.DirectoryStore(reg.store_dir).latest(group)
    definition = store.DirectoryStore(reg.store_dir).definition(group)
    text = sync.render_for(definition, capture, reg.get('site-b'))
    path = write(workdir / ('baseline-%s.yaml' % group), text)
    name = base.unique('baseline')
    started = time.monotonic()
    created = base.cli_json('site-b', 'stack', 'create', '-t', path,
                            '--parameter', 'standby_level=active', name)
    wait_stack('site-b', created['id'])
    seconds = time.monotonic() - started
    base.cli('site-b', 'stack', 'delete', '--yes', '--wait', name)
    return seconds, len(capture['servers'])


MODES = ('cold-standby', 'hot-standby')
# The failover steps whose seconds a row shows (where the time goes).
SHOWN_STEPS = ('fence', 'activate', 'wait_active', 'start_servers',
               'check_health', 'record_active', 'wait_recorded')


def bench_failover(sizes, workdir, modes=MODES):
    rows = []
    for size in sizes:
        for mode in modes:
            name = base.unique('bench-%d' % size)
            path = write(workdir / ('%s.json' % name), template(size, mode))
            base.cli_json('site-a', 'stack', 'create', '--wait', '-t', path,
                          '--timeout', '60', name)
            out = base.stack_outputs('site-a', name)
            group = out['group_name']
            try:
                baseline, servers = baseline_create(group, workdir)
                failover, execution = run_workflow(
                    'rescuer_dr.failover_v1', {'groups': [group]})
                report = execution['output']['report']
                [steps] = [g['steps'] for g in report['groups']]
                rows.append({'size': size, 'mode': mode, 'servers': servers,
                             'baseline_s': round(baseline, 1),
                             'failover_s': round(failover, 1),
                             'achieved_rto_s': report['achieved_rto'],
                             'ratio': round(failover / baseline, 2),
                             'rto_ratio': round(report['achieved_rto'] /
                                                baseline, 2),
                             'steps_s': {s['step']: s['seconds']
                                         for s in steps
                                         if s['step'] in SHOWN_STEPS}})
                print(json.dumps(rows[-1]), flush=True)
            finally:
                base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name,
                         check=False)
                base.cli('site-b', 'stack', 'delete', '--yes', '--wait',
                         out['recovery_stack_id'], check=False)
                store.DirectoryStore(registry().store_dir).remove_group(
                    group)
    return rows


def bench_capture(sizes, workdir):
    rows = []
    for size in sizes:
        name = base.unique('capt-%d' % size)
        path = write(workdir / ('%s.json' % name), template(size))
        # Not `--wait`: 500 resources take longer than a CLI call may.
        created = base.cli_json('site-a', 'stack', 'create', '-t', path,
                                '--timeout', '60', name)
        try:
            wait_stack('site-a', created['id'], timeout=3600)
            base.record_group(name, name)
            seconds, execution = run_workflow('rescuer_dr.capture_v1', {
                'group': name})
            summary = execution['output']['capture']
            rows.append({'size': size, 'capture_s': round(seconds, 1),
                         'api_calls': summary['api_calls'],
                         'resources': summary['counts']['resources']})
            print(json.dumps(rows[-1]), flush=True)
        finally:
            delete_stack('site-a', name)
            store.DirectoryStore(registry().store_dir).remove_group(name)
    return rows


def bench_rpo(cycles, workdir):
    """Achieved RPO of scheduled syncs at a 10 s interval (RPO 20 s)."""
    name = base.unique('rpo')
    path = write(workdir / ('%s.json' % name),
                 template(10, 'cold-standby', rpo=20))
    base.cli_json('site-a', 'stack', 'create', '--wait', '-t', path, name)
    group = base.stack_outputs('site-a', name)['group_name']
    kept = store.DirectoryStore(registry().store_dir)
    samples, seen = [], None
    try:
        deadline = time.monotonic() + 15 * cycles + 60
        while len(samples) < cycles and time.monotonic() < deadline:
            record = kept.last_sync(group)
            if record and record['last_sync_time'] != seen:
                if seen is not None:
                    samples.append(record['achieved_rpo'])
                seen = record['last_sync_time']
            time.sleep(0.5)
    finally:
        base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name,
                 check=False)
    return {'interval_s': 10, 'rpo_target_s': 20, 'syncs': len(samples),
            'achieved_rpo_s': samples,
            'mean_s': round(statistics.mean(samples), 1) if samples else None,
            'max_s': max(samples) if samples else None,
            'ratio_mean_to_interval': round(
                statistics.mean(samples) / 10, 2) if samples else None}


def bench_data_rpo(workdir, seconds=60):
    """Write a timestamped pattern to the example VNF's backup-protected
    log volume every second; then kill site-a, fail over, and read the
    restored volume at site-b: data RPO = last write - newest record."""
    name = base.unique('drpo')
    base.cli_json('site-a', 'stack', 'create', '--wait', '-t',
                  str(REPO / 'examples' / 'protected-vnf.yaml'),
                  '--parameter', 'rpo=20', name)
    out = base.stack_outputs('site-a', name)
    logs = out['members']['logs']
    group = out['group_name']
    written = []
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            stamp = time.time()
            base.write_tag('site-a', logs, 't%.3f' % stamp)
            written.append(stamp)
            time.sleep(max(0.0, 1 - (time.time() - stamp)))
        # The storage-replicated volume needs a replica to promote (the
        # lab replicates when asked); the log volume is what is measured.
        base.rescuer_lab('replicate', 'site-a', out['members']['data'])
        base.rescuer_lab('fail', 'site-a')
        failed_at = time.time()
        failover, execution = run_workflow('rescuer_dr.failover_v1',
                                           {'groups': [group]})
        [restored] = base.cli_json('site-b', 'volume', 'list', '--name',
                                   'rescuer-%s' % logs)
        tags = [float(t[1:]) for t in base.tags('site-b', restored['ID'])]
        newest = max(tags) if tags else None
        return {'interval_s': 10, 'rpo_target_s': 20,
                'writes': len(written), 'records_restored': len(tags),
                'last_write_to_failure_s': round(failed_at - written[-1], 1),
                'data_rpo_s': round(written[-1] - newest, 1)
                if newest else None,
                'failover_s': round(failover, 1),
                'report_rpo_s': execution['output']['report']['groups'][0][
                    'achieved_rpo'],
                'report_rpo_at_run_start_s': execution['output']['report'][
                    'groups'][0]['rpo_at_run_start']}
    finally:
        base.rescuer_lab('recover', 'site-a', check=False)
        base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name,
                 check=False)
        base.cli('site-b', 'stack', 'delete', '--yes', '--wait',
                 out['recovery_stack_id'], check=False)
        for volume_id in (logs, out['members']['data']):
            for volume in base.cli_json('site-b', 'volume', 'list', '--name',
                                        'rescuer-%s' % volume_id):
                base.delete_volume('site-b', volume['ID'])


def _site_cpu_seconds(site='site-b'):
    """CPU seconds (user + system) used so far by the site's service
    process groups (each lab service leads its own group)."""
    run = pathlib.Path(base.lab_env()['RESCUER_LAB_DIR']) / site / 'run'
    groups = set()
    for pid_file in run.glob('*.pid'):
        try:    # the lab writes "PID START_TIME"
            groups.add(int(pid_file.read_text().split()[0]))
        except (IndexError, ValueError):
            pass
    ticks = 0
    for proc in pathlib.Path('/proc').iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / 'stat').read_text().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in groups:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf('SC_CLK_TCK')


def _sync_executions(since):
    """Sync executions created since ``since`` (UTC, Mistral's format):
    [{group, state, achieved_rpo, rpo_missed}]."""
    sess, endpoint = base.api('site-b', 'workflowv2')
    found, marker = [], None
    while True:
        url = ('/executions?workflow_name=rescuer_dr.sync_v1&limit=500'
               '&created_at=gte:%s&fields=id,state,input,output' % since)
        if marker:
            url += '&marker=%s' % marker
        page = sess.get(url, endpoint_filter=endpoint).json()['executions']
        for execution in page:
            output = json.loads(execution.get('output') or '{}')
            sync_record = output.get('sync') or {}
            found.append({
                'group': json.loads(execution['input'])['group'],
                'state': execution['state'],
                'achieved_rpo': sync_record.get('achieved_rpo'),
                'rpo_missed': bool(output.get('rpo_missed'))})
        if len(page) < 500:
            return found
        marker = page[-1]['id']


def _observe(groups, minutes, workdir):
    """Syncs and DR-site CPU over ``minutes`` with ``groups`` live."""
    since = datetime.datetime.now(datetime.timezone.utc).strftime(
        '%Y-%m-%d %H:%M:%S')
    cpu0, wall0 = _site_cpu_seconds(), time.monotonic()
    time.sleep(minutes * 60)
    cpu = _site_cpu_seconds() - cpu0
    wall = time.monotonic() - wall0
    runs = [r for r in _sync_executions(since) if r['group'] in groups]
    done = [r for r in runs if r['state'] == 'SUCCESS']
    rpos = [r['achieved_rpo'] for r in done
            if r['achieved_rpo'] is not None]
    per_group = {g: sum(1 for r in done if r['group'] == g) for g in groups}
    return {'groups': len(groups), 'minutes': minutes,
            'syncs_ok': len(done),
            'syncs_failed': sum(1 for r in runs if r['state'] == 'ERROR'),
            'syncs_running': sum(1 for r in runs if r['state'] == 'RUNNING'),
            'groups_without_sync': sum(1 for n in per_group.values()
                                       if n == 0),
            'rpo_missed': sum(1 for r in done if r['rpo_missed']),
            'achieved_rpo_mean_s': round(statistics.mean(rpos), 1)
            if rpos else None,
            'achieved_rpo_max_s': max(rpos) if rpos else None,
            'dr_cpu_percent_of_one_core': round(100 * cpu / wall, 1)}


def bench_load(shapes, minutes, workdir):
    """Protection groups of a network, a subnet and ports (no server),
    RPO 120 s (a sync every 60 s): observe each shape of ``shapes``
    (``(groups, members)``, e.g. 50 x 4, 100 x 4, 50 x 20) for
    ``minutes``; the idle DR site first.  Groups of another member count
    are deleted between shapes, missing ones created."""
    rows = [dict(_observe([], min(minutes, 1), workdir), members=0)]
    print(json.dumps(rows[-1]), flush=True)
    stacks, lock = {}, threading.Lock()

    def create(members):
        path = workdir / ('load-%d.json' % members)
        if not path.exists():
            write(path, template(members, 'cold-standby', rpo=120,
                                 servers=0))
        name = 'load-%d-%s' % (members, base.unique('g'))
        base.cli_json('site-a', 'stack', 'create', '--wait', '-t',
                      str(path), '--timeout', '30', name)
        out = base.stack_outputs('site-a', name)
        with lock:
            stacks[name] = (members, out)

    def delete(name):
        base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name,
                 check=False)
        with lock:
            stacks.pop(name, None)

    try:
        for groups, members in shapes:
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                list(pool.map(delete, [n for n, (m, _) in stacks.items()
                                       if m != members]))
                have = sum(1 for m, _ in stacks.values() if m == members)
                list(pool.map(create, [members] * max(0, groups - have)))
            rows.append(dict(_observe(
                [out['group_name'] for _, out in stacks.values()],
                minutes, workdir), members=members))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(delete, list(stacks)))
    return {'sync_interval_s': 60, 'rpo_target_s': 120, 'steps': rows}


def parse_shapes(text):
    """``50x4,100x4`` -> [(50, 4), (100, 4)] (groups x members)."""
    shapes = []
    for item in text.split(','):
        groups, _, members = item.partition('x')
        shapes.append((int(groups), int(members or 4)))
    return shapes


PARTS = ('failover', 'capture', 'rpo', 'data-rpo', 'load')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='10,50,200')
    parser.add_argument('--modes', default=','.join(MODES),
                        help='standby modes of the failover part')
    parser.add_argument('--capture-sizes', default='10,50,200,500')
    parser.add_argument('--rpo-cycles', type=int, default=6)
    parser.add_argument('--load-shapes', default='50x4,100x4,50x20',
                        help='GROUPSxMEMBERS to observe the load at')
    parser.add_argument('--load-minutes', type=float, default=3)
    parser.add_argument('--only', choices=PARTS, action='append',
                        help='run only this part (repeatable)')
    args = parser.parse_args()
    modes = [m for m in args.modes.split(',') if m]
    if not modes or set(modes) - set(MODES):
        parser.error('--modes takes %s' % ' and/or '.join(MODES))
    workdir = pathlib.Path(base.lab_env()['RESCUER_LAB_DIR']) / 'bench'
    workdir.mkdir(exist_ok=True)
    parts = args.only or PARTS
    runners = {
        'failover': lambda: bench_failover(
            [int(s) for s in args.sizes.split(',') if s], workdir, modes),
        'capture': lambda: bench_capture(
            [int(s) for s in args.capture_sizes.split(',') if s], workdir),
        'rpo': lambda: bench_rpo(args.rpo_cycles, workdir),
        'data-rpo': lambda: bench_data_rpo(workdir),
        'load': lambda: bench_load(
            parse_shapes(args.load_shapes), args.load_minutes, workdir),
    }
    results = {part: runners[part]() for part in PARTS if part in parts}
    print(json.dumps(results, indent=2))
    (workdir / 'results.json').write_text(json.dumps(results, indent=2))


if __name__ == '__main__':
    main()
