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
"""

import argparse
import json
import pathlib
import statistics
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rescuer import sites  # noqa: E402
from rescuer import store  # noqa: E402
from rescuer import sync  # noqa: E402
from tests.functional import base  # noqa: E402

MAX_SERVERS = 8


def template(size, mode=None, rpo=600):
    """A stack of ``size`` resources at site-a: a network, a subnet, a few
    servers with a port each, and ports; with ``mode``, plus a protection
    group of all of them (not counted)."""
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


def bench_failover(sizes, workdir):
    rows = []
    for size in sizes:
        for mode in ('cold-standby', 'hot-standby'):
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
                rows.append({'size': size, 'mode': mode, 'servers': servers,
                             'baseline_s': round(baseline, 1),
                             'failover_s': round(failover, 1),
                             'achieved_rto_s': report['achieved_rto'],
                             'ratio': round(failover / baseline, 2)})
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
        base.cli_json('site-a', 'stack', 'create', '--wait', '-t', path,
                      '--timeout', '60', name)
        try:
            seconds, execution = run_workflow('rescuer_dr.capture_v1', {
                'site': 'site-a', 'stack': name, 'group': name})
            summary = execution['output']['capture']
            rows.append({'size': size, 'capture_s': round(seconds, 1),
                         'api_calls': summary['api_calls'],
                         'resources': summary['counts']['resources']})
            print(json.dumps(rows[-1]), flush=True)
        finally:
            base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name,
                     check=False)
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='10,50,200')
    parser.add_argument('--capture-sizes', default='10,50,200,500')
    parser.add_argument('--rpo-cycles', type=int, default=6)
    args = parser.parse_args()
    workdir = pathlib.Path(base.lab_env()['RESCUER_LAB_DIR']) / 'bench'
    workdir.mkdir(exist_ok=True)
    results = {
        'failover': bench_failover(
            [int(s) for s in args.sizes.split(',') if s], workdir),
        'capture': bench_capture(
            [int(s) for s in args.capture_sizes.split(',') if s], workdir),
        'rpo': bench_rpo(args.rpo_cycles, workdir),
    }
    print(json.dumps(results, indent=2))
    (workdir / 'results.json').write_text(json.dumps(results, indent=2))


if __name__ == '__main__':
    main()
