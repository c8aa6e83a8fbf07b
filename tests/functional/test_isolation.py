"""A project's users reach only their own protection groups: a user of
another tenant (``tenant-b``) runs Rescuer's public workflows at site-b
against the ``nfv`` project's group and is refused as if the group did
not exist - no fence, no failover, no drill, no sync - and sees none of
its stacks or runs."""

import json

import pytest

from tests.functional import base
from tests.functional import test_failover

OTHER = 'site-b-tenant-b'
# One protected VNF for the whole module: its tests run on one xdist
# worker (tools/functional-tests.sh distributes by group).
pytestmark = pytest.mark.xdist_group('isolation')


@pytest.fixture(scope='module')
def protected_vnf():
    name, out, resources = base.create_protected_vnf('iso', 600)
    yield name, out, resources
    base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name,
             check=False)


@pytest.mark.parametrize('purpose', ['failover', 'drill', 'switchover',
                                     'failback', 'sync'])
def test_another_tenant_cannot_run_a_groups_workflows(protected_vnf,
                                                      purpose):
    name, out, resources = protected_vnf
    group = out['group_name']
    workflow, inputs = test_failover._workflow(out, purpose)
    execution = base.wait_execution(
        base.start_execution(workflow, inputs, cloud=OTHER), cloud=OTHER,
        timeout=120)
    assert execution['state'] == 'ERROR'
    assert 'group %s is not registered at this DR site' % group in \
        json.dumps(execution['output'])

    # Nothing changed: the VNF serves at site-a, unfenced, and the
    # standby at site-b is untouched.
    assert base.cli_json('site-a', 'server', 'show', resources['vnf'])[
        'status'] == 'ACTIVE'
    assert base.cli_json('site-a', 'port', 'show', resources['port'])[
        'admin_state_up'] is True
    assert test_failover._fence(group) is None
    recovery = base.cli_json('site-b', 'stack', 'show',
                             out['recovery_stack_id'])
    assert recovery['parameters']['standby_level'] == 'hot'
    assert 'rescuer-failed-over' not in recovery['tags']
    assert base.cli('site-b', 'stack', 'show', 'rescuer-drill-%s' % group,
                    check=False).returncode != 0


def test_another_tenant_sees_none_of_a_groups_stacks_or_runs(protected_vnf):
    name, out, _ = protected_vnf
    assert name not in {s['Stack Name'] for s in base.cli_json(
        'site-a-tenant-b', 'stack', 'list')}
    assert 'rescuer-%s' % out['group_name'] not in {
        s['Stack Name'] for s in base.cli_json(OTHER, 'stack', 'list')}
    assert base.cli(OTHER, 'stack', 'show', out['recovery_stack_id'],
                    check=False).returncode != 0
    # The group's runs (its syncs, run by its cron trigger) are the nfv
    # project's: tenant-b lists none of them.
    mine = base.cli_json('site-b', 'workflow', 'execution', 'list',
                         '--limit', '-1')
    theirs = {e['ID'] for e in base.cli_json(OTHER, 'workflow', 'execution',
                                             'list', '--limit', '-1')}
    assert mine and not {e['ID'] for e in mine} & theirs
    assert base.cli(OTHER, 'workflow', 'cron', 'trigger', 'show',
                    'rescuer-sync-%s' % out['group_name'],
                    check=False).returncode != 0
