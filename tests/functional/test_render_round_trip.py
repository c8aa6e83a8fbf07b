"""Capture at site-a, render for site-b, create there, capture again: the
two captures describe the same workload, modulo ids and site mappings."""

import json
import pathlib

from rescuer import protection
from rescuer import render
from rescuer import sites
from tests.functional import base

VNF_SITE = str(base.REPO / 'examples' / 'vnf-site.yaml')


def _capture(site, stack, group):
    base.record_group(stack, group, primary=site)
    execution = base.wait_execution(base.start_execution(
        'rescuer_dr.capture_v1', {'group': group}), timeout=300)
    assert execution['state'] == 'SUCCESS', execution.get('state_info')
    return json.loads(pathlib.Path(
        execution['output']['capture']['stored_as']).read_text())


def _shape(capture):
    """What must survive recovery, without ids."""
    flavors = {f['id']: f['name'] for f in capture['flavors']}
    return {
        'servers': sorted((flavors[s['flavor']['id']],
                           json.dumps(s['metadata'], sort_keys=True))
                          for s in capture['servers']),
        'networks': sorted(n['name'] for n in capture['networks']),
        'subnets': sorted(s['cidr'] for s in capture['subnets']),
        'fixed_ips': sorted(ip['ip_address'] for p in capture['ports']
                            for ip in p['fixed_ips']),
        'volumes': sorted((v['size'], v['volume_type'],
                           len(v['attachments']))
                          for v in capture['volumes']),
        'chains': sorted((c['description'], len(c['port_pair_groups']),
                          len(c['flow_classifiers']))
                         for c in capture['port_chains']),
        'classifiers': sorted(json.dumps(
            {k: f[k] for k in ('protocol', 'destination_port_range_min')},
            sort_keys=True) for f in capture['flow_classifiers']),
        'rules': sorted({json.dumps({k: r[k] for k in (
            'direction', 'protocol', 'port_range_min', 'port_range_max')},
            sort_keys=True)
            for g in capture['security_groups'] if g['name'] != 'default'
            for r in g['security_group_rules']}),
    }


def test_recovery_stack_rendered_from_a_capture_rebuilds_the_workload(
        template):
    primary = base.unique('rt')
    base.cli('site-a', 'stack', 'create', '--wait', '-t', VNF_SITE,
             *base.service_port_parameter(),
             primary)
    recovery = base.unique('rt-recovery')
    try:
        before = _capture('site-a', primary, base.unique('rt-a'))
        site_b = sites.Registry.load(
            base.lab_env()['RESCUER_SITES_FILE']).get('site-b')
        text = render.render(before, protection.merged_mappings(site_b),
                             'keep', 'site-b')
        path = template(text, name='recovery.yaml')
        validated = base.cli('site-b', 'orchestration', 'template',
                             'validate', '-t', path)
        assert 'standby_level' in validated.stdout

        created = base.cli_json('site-b', 'stack', 'create', '--wait', '-t',
                                path, '--parameter', 'standby_level=hot',
                                recovery)
        assert created['stack_status'] == 'CREATE_COMPLETE', created
        after = _capture('site-b', recovery, base.unique('rt-b'))

        assert _shape(after) == _shape(before)
        assert len(after['servers']) == 2
        assert len(after['port_chains']) == 1
    finally:
        base.cli('site-b', 'stack', 'delete', '--yes', '--wait', recovery,
                 check=False)
        base.cli('site-a', 'stack', 'delete', '--yes', '--wait', primary)
