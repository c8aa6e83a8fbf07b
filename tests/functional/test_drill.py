"""rescuer_dr.drill_v1 on the lab: the group comes up at site-b on its own
networks, is checked and removed, and neither site-a nor the standby stack
is disturbed."""

import pytest

from tests.functional import base
from tests.functional import test_failover

TEMPLATE = str(base.REPO / 'examples' / 'protected-vnf.yaml')


def _snapshot(cloud, stack):
    """What a drill must not change: resources with ids and statuses."""
    return sorted((r['resource_name'], r['physical_resource_id'],
                   r['resource_status']) for r in
                  base.cli_json(cloud, 'stack', 'resource', 'list', stack))


@pytest.mark.exclusive
def test_drill_leaves_no_trace_and_disturbs_nothing():
    name = base.unique('drill')
    base.cli_json('site-a', 'stack', 'create', '--wait', '-t', TEMPLATE,
                  '--parameter', 'rpo=600', name)
    try:
        out = base.stack_outputs('site-a', name)
        group = out['group_name']
        primary = _snapshot('site-a', name)
        standby = _snapshot('site-b', out['recovery_stack_id'])
        networks = {n['ID'] for n in base.cli_json('site-b', 'network',
                                                   'list')}
        volumes = {v['ID'] for v in base.cli_json('site-b', 'volume',
                                                  'list')}

        execution = test_failover._run(
            *test_failover._workflow(out, 'drill'))
        assert execution['state'] == 'SUCCESS', execution.get('state_info')
        report = execution['output']['report']
        assert (report['kind'], report['state']) == ('drill', 'SUCCESS')
        [drilled] = report['groups']
        assert {'start', 'wait_up', 'check_health', 'clean_up'} <= {
            s['step'] for s in drilled['steps']}
        assert 0 < drilled['achieved_rto'] <= report['seconds']
        # The report says what a drill does not prove: the data.
        [empty] = [w for w in report['warnings'] if 'came up empty' in w]
        assert out['members']['data'] in empty
        assert out['members']['logs'] in empty

        # No trace at site-b, nothing changed at site-a or in the standby.
        assert base.cli('site-b', 'stack', 'show', 'rescuer-drill-%s' % group,
                        check=False).returncode != 0
        assert {n['ID'] for n in base.cli_json('site-b', 'network',
                                               'list')} == networks
        base.wait_for(lambda: {v['ID'] for v in base.cli_json(
            'site-b', 'volume', 'list')} == volumes, timeout=60,
            what='the drill volumes to go')
        assert _snapshot('site-a', name) == primary
        assert _snapshot('site-b', out['recovery_stack_id']) == standby
        assert base.stack_outputs('site-a', name)[
            'protection_status'] == 'protected'
    finally:
        base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name)
