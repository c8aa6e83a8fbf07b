"""Rescuer's credential acts only on what its records of the caller's
group hold: ids a workflow passes to a step are checked against them
before any call that changes or reads something with that credential."""

import pytest
from mistral_lib.actions import context as mistral_context

from rescuer import exceptions
from rescuer import failover
from rescuer import ownership
from rescuer_mistral.actions import base
from rescuer_mistral.actions import failback as failback_actions
from rescuer_mistral.actions import failover as failover_actions
from rescuer_mistral.actions import groups as group_actions
from rescuer_mistral.actions import stacks as stacks_actions
from tests.unit import helpers

DEFINITION = {'group': 'g1', 'primary_site': 'site-a',
              'recovery_site': 'site-b', 'stack_id': 'stack-a',
              'stack_name': 'vnf', 'members': ['vnf', 'data']}
CAPTURE = {
    'servers': [{'id': 'srv-a'}],
    'volumes': [{'id': 'vol-a', 'metadata': {'rescuer_replication': 'backup'},
                 'size': 1, 'volume_type': None, 'bootable': 'false'},
                {'id': 'vol-b', 'metadata': {}, 'size': 1,
                 'volume_type': None, 'bootable': 'false'}],
}


class FakeSite:
    def __init__(self, name):
        self.name = name


class FakeCinder:
    """Volumes by name and backups by id, as a site's Cinder holds them."""

    def __init__(self, site='site-b', volumes=None, backups=None):
        self.site = FakeSite(site)
        self.volumes = volumes or {}     # name -> id
        self.backups = backups or {}     # id -> volume_id
        self.calls = []

    def find_volume(self, name):
        vid = self.volumes.get(name)
        return {'id': vid} if vid else None

    def get_volume(self, volume_id):
        if volume_id not in self.volumes.values():
            raise exceptions.NotFound('volume %s' % volume_id)
        return {'id': volume_id}

    def get_backup(self, backup_id):
        if backup_id not in self.backups:
            raise exceptions.NotFound('backup %s' % backup_id)
        return {'id': backup_id, 'volume_id': self.backups[backup_id]}

    def volume_state(self, volume_id):
        self.calls.append(('volume_state', volume_id))
        return 'COMPLETE'

    def backup_state(self, backup_id):
        self.calls.append(('backup_state', backup_id))
        return 'COMPLETE'


def _replicated(monkeypatch):
    monkeypatch.setattr(failover, 'replicated_volumes', lambda capture: [
        {'volume_id': 'vol-a', 'method': 'backup', 'size': 1,
         'volume_type': None, 'bootable': False}])


def test_a_site_that_is_neither_of_the_groups_is_refused():
    assert ownership.role_of(DEFINITION, 'site-a') == 'primary'
    assert ownership.role_of(DEFINITION, 'site-b') == 'recovery'
    with pytest.raises(exceptions.NotOwned, match='site-c is neither'):
        ownership.role_of(DEFINITION, 'site-c')


def test_foreign_ids_are_named():
    ownership.refuse_foreign('volume', ['vol-a'], {'vol-a'}, DEFINITION,
                             'site-a')
    with pytest.raises(exceptions.NotOwned) as raised:
        ownership.refuse_foreign('volume', ['vol-a', 'x2', 'x1'], {'vol-a'},
                                 DEFINITION, 'site-a')
    assert str(raised.value) == (
        "volume x1, x2 at site site-a: not of group g1, by Rescuer's "
        "records of it")


def test_promoted_copies_are_found_by_the_name_rescuer_gave_them(
        monkeypatch):
    _replicated(monkeypatch)
    cinder = FakeCinder(volumes={failover.promoted_name('vol-a'): 'dr-a',
                                 'someone-elses': 'dr-x'})
    assert ownership.promoted_volumes(cinder, CAPTURE) == {'dr-a'}
    assert ownership.unpromoted(cinder, CAPTURE, [
        {'volume_id': 'vol-a', 'dr_volume_id': 'dr-a'}]) == []
    assert ownership.unpromoted(cinder, CAPTURE, [
        {'volume_id': 'vol-a', 'dr_volume_id': 'dr-x'},
        {'volume_id': 'vol-b', 'dr_volume_id': 'dr-a'}]) == [
        'dr-x (as the copy of vol-a)', 'dr-a (as the copy of vol-b)']


def test_a_copy_an_earlier_run_deleted_passes_another_volume_does_not(
        monkeypatch):
    _replicated(monkeypatch)
    cinder = FakeCinder(volumes={'someone-elses': 'dr-x'})
    assert ownership.unpromoted(cinder, CAPTURE, [
        {'volume_id': 'vol-a', 'dr_volume_id': 'dr-gone'}]) == []
    assert ownership.unpromoted(cinder, CAPTURE, [
        {'volume_id': 'vol-a', 'dr_volume_id': 'dr-x'}]) == [
        'dr-x (as the copy of vol-a)']


def test_a_backup_must_be_of_one_of_the_groups_volumes():
    cinder = FakeCinder(backups={'b1': 'vol-a', 'b2': 'other'})
    assert ownership.backup_of(cinder, 'b1', {'vol-a'}, DEFINITION)['id'] \
        == 'b1'
    for backup_id in ('b2', 'missing'):
        with pytest.raises(exceptions.NotOwned, match='backup %s at site '
                           'site-b: not of group g1' % backup_id):
            ownership.backup_of(cinder, backup_id, {'vol-a'}, DEFINITION)


def _stack(project):
    return {'id': 'stack-a', 'parameters': {'OS::project_id': 'nfv-a'},
            'links': [{'rel': 'self', 'href': 'http://127.0.0.1:28004/v1/'
                       '%s/stacks/vnf/stack-a' % project}]}


def test_registration_needs_the_protected_project_at_both_sites():
    ownership.refuse_unmapped(DEFINITION, 'nfv-b', 'nfv-b', _stack('nfv-a'),
                              'nfv-a')
    with pytest.raises(exceptions.NotOwned,
                       match='your project is not one Rescuer protects at '
                             'site site-b'):
        ownership.refuse_unmapped(DEFINITION, 'tenant-b', 'nfv-b',
                                  _stack('nfv-a'), 'nfv-a')
    # Its own link says whose it is, whatever parameter its template
    # declares as OS::project_id.
    for stack in (_stack('tenant-b-a'), {'id': 'stack-a', 'parameters': {
            'OS::project_id': 'nfv-a'}}):
        with pytest.raises(exceptions.NotOwned,
                           match='stack stack-a at site site-a is not of '
                                 'the project Rescuer protects there'):
            ownership.refuse_unmapped(DEFINITION, 'nfv-b', 'nfv-b', stack,
                                      'nfv-a')


def test_hooks_must_be_workflows_of_the_callers_project():
    ownership.refuse_foreign_workflow(DEFINITION, 'wb.q', {
        'project_id': 'nfv-b', 'scope': 'private'}, 'nfv-b')
    for workflow in (None, {'project_id': 'other', 'scope': 'public'}):
        with pytest.raises(exceptions.NotOwned,
                           match='hook workflow wb.q is not a workflow of '
                                 'your project'):
            ownership.refuse_foreign_workflow(DEFINITION, 'wb.q', workflow,
                                              'nfv-b')


# ------------------------------------------------------------- the actions

@pytest.fixture
def registry(tmp_path, monkeypatch):
    path = helpers.write_registry(tmp_path)
    monkeypatch.setenv('RESCUER_SITES_FILE', str(path))
    return path


def _context(auth_uri='http://127.0.0.1:2/v3'):
    security = mistral_context.SecurityContext(
        auth_uri=auth_uri, auth_token='caller-token-value',
        project_id='project-b')
    return mistral_context.ActionContext(security_ctx=security)


class FakeStore:
    def backups(self, group):
        return {'chains': {'vol-a': [{'backup_id': 'chained'}]},
                'retired': []}


@pytest.fixture
def group_records(monkeypatch):
    monkeypatch.setattr(base.GroupAction, 'definition',
                        lambda self: dict(DEFINITION))
    monkeypatch.setattr(base.GroupAction, 'capture', lambda self: CAPTURE)
    monkeypatch.setattr(base.GroupAction, 'store', lambda self: FakeStore())


def test_a_volume_wait_on_a_foreign_volume_reads_nothing(
        registry, group_records, monkeypatch):
    cinder = FakeCinder(site='site-a')
    monkeypatch.setattr(failover_actions.cinder, 'CinderAPI',
                        lambda session, site: cinder)
    ok = failover_actions.VolumeStatusAction(
        group='g1', site='site-a', volume_ids=['vol-a']).run(_context())
    assert ok == 'COMPLETE'
    refused = failover_actions.VolumeStatusAction(
        group='g1', site='site-a', volume_ids=['vol-a', 'nfv-vol']).run(
            _context())
    assert refused.is_error()
    assert 'volume nfv-vol at site site-a: not of group g1' in refused.error
    assert cinder.calls == [('volume_state', 'vol-a')]
    other_site = failover_actions.VolumeStatusAction(
        group='g1', site='site-c', volume_ids=['vol-a']).run(_context())
    assert other_site.is_error()


def test_a_backup_wait_on_a_foreign_backup_reads_no_state(
        registry, group_records, monkeypatch):
    cinder = FakeCinder(site='site-a', backups={'b1': 'vol-a', 'bx': 'x'})
    monkeypatch.setattr(failover_actions.cinder, 'CinderAPI',
                        lambda session, site: cinder)
    monkeypatch.setattr(base.GroupAction, 'promoted_volume_ids',
                        lambda self: set())
    refused = failback_actions.BackupStatusAction(
        group='g1', site='site-a', backup_ids=['b1', 'bx']).run(_context())
    assert refused.is_error()
    assert 'backup bx at site site-a: not of group g1' in refused.error
    assert cinder.calls == []
    # A backup of a chain Rescuer recorded for the group (imported at the
    # DR site at failover, the primary gone) needs no other site.
    assert failback_actions.BackupStatusAction(
        group='g1', site='site-b', backup_ids=['chained', 'b1']).run(
            _context()) == 'COMPLETE'


def test_a_backup_being_imported_is_checked_where_it_was_exported(
        registry, group_records, monkeypatch):
    importing = FakeCinder(site='site-a', backups={
        'b1': ownership.IMPORTING_VOLUME_ID,
        'bx': ownership.IMPORTING_VOLUME_ID})
    exported = FakeCinder(site='site-b', backups={'b1': 'dr-a', 'bx': 'x'})
    monkeypatch.setattr(failover_actions.cinder, 'CinderAPI',
                        lambda session, site: {'site-a': importing,
                                               'site-b': exported}[
                                                   site.name])
    monkeypatch.setattr(base.GroupAction, 'promoted_volume_ids',
                        lambda self: {'dr-a'})
    assert failback_actions.BackupStatusAction(
        group='g1', site='site-a', backup_ids=['b1']).run(
            _context()) == 'COMPLETE'
    refused = failback_actions.BackupStatusAction(
        group='g1', site='site-a', backup_ids=['bx']).run(_context())
    assert refused.is_error()
    assert 'backup bx at site site-b: not of group g1' in refused.error


def test_a_server_wait_on_a_foreign_server_is_refused(
        registry, group_records, monkeypatch):
    monkeypatch.setattr(base.GroupAction, 'owned_server_ids',
                        lambda self, site: {'srv-a'})
    refused = failback_actions.ServersStateAction(
        group='g1', site='site-a', server_ids=['srv-nfv']).run(_context())
    assert refused.is_error()
    assert 'server srv-nfv at site site-a: not of group g1' in refused.error


def test_promotion_uses_the_recorded_volume_not_the_input(
        registry, group_records, monkeypatch):
    _replicated(monkeypatch)
    action = failover_actions.PromoteVolumeAction(
        group='g1', volume={'volume_id': 'vol-a', 'method': 'storage',
                            'size': 999})
    assert action._recorded()['method'] == 'backup'
    refused = failover_actions.PromoteVolumeAction(
        group='g1', volume={'volume_id': 'nfv-vol', 'method': 'backup'}).run(
            _context())
    assert refused.is_error()
    assert 'volume nfv-vol: not a replicated volume of group g1' in \
        refused.error


def test_a_stack_at_another_site_is_read_only_for_the_group(
        registry, group_records, monkeypatch):
    no_group = group_actions.StackStatusAction(
        site='site-a', stack='stack-nfv').run(_context())
    assert no_group.is_error()
    assert 'a stack at another site is read only for a protection group' \
        in no_group.error
    foreign = group_actions.StackStatusAction(
        site='site-a', stack='stack-nfv', group='g1').run(_context())
    assert foreign.is_error()
    assert 'stack stack-nfv at site site-a: not of group g1' in foreign.error


def test_runs_are_read_only_at_the_callers_own_site(registry):
    refused = failover_actions.TierRecoveredAction(
        site='site-a', run_id='r1', groups=['g1']).run(_context())
    assert refused.is_error()
    assert 'site site-a is not the site this workflow runs at' in \
        refused.error


def test_another_sites_listing_holds_only_the_callers_protected_stacks(
        registry, monkeypatch):
    monkeypatch.setattr(stacks_actions.heat, 'list_stacks',
                        lambda session, site: [
                            {'id': 'stack-a', 'name': 'vnf'},
                            {'id': 'stack-nfv', 'name': 'other'}])
    monkeypatch.setattr(stacks_actions.ListStacksAction, 'protected_stacks',
                        lambda self, site: {'stack-a'})
    listed = stacks_actions.ListStacksAction(site='site-a').run(_context())
    assert [s['id'] for s in listed['stacks']] == ['stack-a']
    own = stacks_actions.ListStacksAction(site='site-b').run(_context())
    assert len(own['stacks']) == 2


def test_a_project_lists_only_its_own_groups(tmp_path):
    from rescuer import groups
    from rescuer import store

    def register(project, name):
        store.DirectoryStore(tmp_path, project_id=project).save_definition(
            groups.definition(
                group=name, primary_site='site-a', stack_id='s-' + name,
                stack_name=name, members=[], tier=1, mode='cold-standby',
                recovery_site='site-b', rpo=600, rto=600,
                sync_interval=300))

    register('nfv', 'g-nfv')
    register('tenant-b', 'g-b')
    assert store.DirectoryStore(tmp_path, project_id='nfv').groups() == [
        'g-nfv']
    assert store.DirectoryStore(tmp_path, project_id='tenant-b').groups() \
        == ['g-b']
    assert store.DirectoryStore(tmp_path).groups() == ['g-b', 'g-nfv']
    assert store.DirectoryStore(tmp_path / 'none').groups() == []


def test_a_run_for_a_target_cloud_is_refused(registry):
    security = mistral_context.SecurityContext(
        auth_uri='http://nowhere/v3', auth_token='x',
        project_id='the-protected-project', is_target=True)
    result = stacks_actions.ListStacksAction(site='site-a').run(
        mistral_context.ActionContext(security_ctx=security))
    assert result.is_error()
    assert 'Rescuer does not run for a "target cloud"' in result.error


def test_a_name_cannot_add_parameters_to_a_cinder_query():
    from rescuer import cinder
    calls = []

    class Recording(cinder.CinderAPI):
        def __init__(self):
            pass

        def _call(self, method, path, body=None, ok=None, headers=None):
            calls.append(path)
            return {'backups': []}

    Recording().find_backup('rescuer-sync-v-x&all_tenants=1&name=theirs')
    assert calls == ['/backups/detail?name=rescuer-sync-v-x%26all_tenants'
                     '%3D1%26name%3Dtheirs']


QUIESCE = """
version: '2.0'
quiesce_v1:
  input: [group, site]
  tasks:
    ask: {action: std.http url=http://vnf/quiesce, on-success: settle}
    settle: {action: std.sleep seconds=1}
    done: {}
"""


def test_a_hook_may_run_only_plain_std_actions():
    assert ownership.hook_problems({'definition': QUIESCE}) == []
    for task, problem in (
            ('{action: cinder.volumes_manage}', 'task bad runs '
                                                'cinder.volumes_manage'),
            ('{action: rescuer.promote_volume}', 'task bad runs '
                                                 'rescuer.promote_volume'),
            ('{action: std.mistral_http}', 'task bad runs std.mistral_http'),
            ('{workflow: rescuer_dr.unregister_v1}',
             'task bad runs a workflow'),
            ('{action: "<% $.which %>"}', 'task bad runs <%')):
        text = QUIESCE + '    bad: %s\n' % task
        assert problem in ownership.hook_problems({'definition': text}), \
            task
    with pytest.raises(exceptions.NotOwned, match='hook workflow wb.q may '
                       'run only std.noop'):
        ownership.refuse_unsafe_hook(DEFINITION, 'wb.q', {
            'definition': QUIESCE + '    bad: {action: nova.servers_get}\n'})
