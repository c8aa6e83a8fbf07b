"""Rescuer's Mistral actions, with a real registry and no services.

What reaches a cloud is proven in tests/functional; here: which credentials
an action picks, and how its failures surface to Mistral.
"""

import time

import pytest
from mistral_lib import actions
from mistral_lib.actions import context as mistral_context

from rescuer_mistral.actions import base
from rescuer_mistral.actions import sites as sites_actions
from rescuer_mistral.actions import stacks as stacks_actions
from tests.unit import helpers


@pytest.fixture
def registry(tmp_path, monkeypatch):
    path = helpers.write_registry(tmp_path)
    monkeypatch.setenv('RESCUER_SITES_FILE', str(path))
    return path


def _context(auth_uri, token='caller-token-value', trust_id=None):
    security = mistral_context.SecurityContext(
        auth_uri=auth_uri, auth_token=token, project_id='project-b',
        trust_id=trust_id, is_trust_scoped=bool(trust_id))
    return mistral_context.ActionContext(security_ctx=security)


def test_own_keystone_site_is_reached_with_the_callers_token(registry):
    action = stacks_actions.ListStacksAction(site='site-b')
    site, session, how = action.session_for(
        _context('http://127.0.0.1:2/v3'), 'site-b')
    assert site.name == 'site-b'
    assert how == base.AUTH_CALLER_TOKEN
    assert session.auth.project_id == 'project-b'


def test_trust_scoped_caller_token_keeps_its_trust(registry):
    action = stacks_actions.ListStacksAction(site='site-b')
    _, session, _ = action.session_for(
        _context('http://127.0.0.1:2/v3', trust_id='trust-1'), 'site-b')
    assert session.auth.trust_id == 'trust-1'


def test_other_keystone_site_is_reached_with_its_own_credential(registry):
    action = stacks_actions.ListStacksAction(site='site-a')
    _, session, how = action.session_for(
        _context('http://127.0.0.1:2/v3'), 'site-a')
    assert how == base.AUTH_SITE_CREDENTIAL
    assert type(session.auth).__name__ == 'ApplicationCredential'
    assert session.auth.auth_url == 'http://127.0.0.1:1/v3'


def test_no_caller_token_means_site_credential(registry):
    action = stacks_actions.ListStacksAction(site='site-b')
    _, _, how = action.session_for(
        _context('http://127.0.0.1:2/v3', token=None), 'site-b')
    assert how == base.AUTH_SITE_CREDENTIAL


def test_unknown_site_is_an_action_error_not_a_crash(registry):
    result = stacks_actions.ListStacksAction(site='site-z').run(
        _context('http://127.0.0.1:2/v3'))
    assert isinstance(result, actions.Result)
    assert result.is_error()
    assert result.error == ('ListStacksAction: unknown site: site-z; the DR '
                            'site registry knows: site-a, site-b')


def test_list_sites_returns_attributes_and_no_credentials(registry):
    result = sites_actions.ListSitesAction().run(_context(None))
    assert result == [
        {'name': 'site-a', 'region': 'RegionA', 'country': 'DE',
         'role': 'primary'},
        {'name': 'site-b', 'region': 'RegionB', 'country': 'FR',
         'role': 'recovery'},
    ]
    assert 'not-a-real-secret' not in repr(result)


def test_list_sites_with_names_keeps_order_and_refuses_unknown(registry):
    action = sites_actions.ListSitesAction(names=['site-b', 'site-a'])
    assert [s['name'] for s in action.run(_context(None))] == [
        'site-b', 'site-a']
    refused = sites_actions.ListSitesAction(names=['site-q']).run(
        _context(None))
    assert refused.is_error()
    assert 'unknown site: site-q' in refused.error


def test_capture_refuses_a_registry_without_a_store(registry):
    from rescuer_mistral.actions import capture as capture_actions
    result = capture_actions.CaptureStackAction(group='g').run(
            _context('http://127.0.0.1:2/v3'))
    assert result.is_error()
    assert 'names no store_dir' in result.error


def test_registry_store_dir_is_relative_to_the_registry(tmp_path):
    import yaml
    from rescuer import sites
    path = helpers.write_registry(tmp_path)
    document = yaml.safe_load(path.read_text())
    document['store_dir'] = 'captures'
    path.write_text(yaml.safe_dump(document))
    assert sites.Registry.load(path).store_dir == (tmp_path / 'captures'
                                                   ).resolve()


def _registry_with_store(tmp_path, monkeypatch):
    import yaml
    path = helpers.write_registry(tmp_path)
    document = yaml.safe_load(path.read_text())
    document['store_dir'] = 'store'
    path.write_text(yaml.safe_dump(document))
    monkeypatch.setenv('RESCUER_SITES_FILE', str(path))
    from rescuer import store
    from tests.unit import test_groups
    dr_store = store.DirectoryStore(tmp_path / 'store',
                                    project_id='project-b')
    # Group g registered by the caller's project.
    dr_store.save_definition(test_groups._definition(group='g'))
    return dr_store


def test_sync_enforces_only_a_recorded_fence(tmp_path, monkeypatch):
    """A sync that read a fence a failback has lifted since records no
    new one: that would cut the recreated primary off."""
    from rescuer_mistral.actions import failover as failover_actions
    dr_store = _registry_with_store(tmp_path, monkeypatch)
    context = _context('http://127.0.0.1:2/v3')

    lifted = failover_actions.FencePrimaryAction(
        'g', existing_only=True).run(context)
    assert lifted is None
    assert dr_store.fence('g') is None

    # A recorded, enforced fence is returned as it is, the primary
    # untouched (it has no definition to reach it by).
    record = {'group': 'g', 'fenced_at': 'then', 'run_id': 'run-1',
              'primary_site': 'site-a', 'enforced': True, 'reason': None}
    dr_store.save_fence(record)
    assert failover_actions.FencePrimaryAction(
        'g', existing_only=True).run(context) == record


def test_a_fence_lifted_while_a_sync_enforces_it_stays_lifted(
        tmp_path, monkeypatch):
    """A scheduled sync enforcing a recorded fence at a primary that has
    just come back, while the failback lifts the fence: the lift waits for
    the enforcement and wins, so the recreated primary is not cut off at
    the next sync."""
    import threading
    from rescuer import failover
    from rescuer_mistral.actions import failover as failover_actions
    dr_store = _registry_with_store(tmp_path, monkeypatch)
    dr_store.save_fence({'group': 'g', 'fenced_at': 'then',
                         'run_id': 'run-1', 'primary_site': 'site-a',
                         'enforced': False, 'reason': 'site-a is down'})
    enforcing = threading.Event()
    lift_tried = threading.Event()

    def fence_primary(compute, network, capture):
        enforcing.set()
        lift_tried.wait(5)
        time.sleep(0.2)     # the lift, unless it waits, is done by now
        return {'servers_stopped': ['s1'], 'ports_down': []}

    monkeypatch.setattr(failover, 'fence_primary', fence_primary)
    monkeypatch.setattr(failover_actions.FencePrimaryAction, 'api',
                        lambda self, context, which, api_class: None)
    monkeypatch.setattr(failover_actions.FencePrimaryAction, 'capture',
                        lambda self: {})

    def lift():
        enforcing.wait(5)
        lift_tried.set()
        with dr_store.fence_locked('g'):
            dr_store.clear_fence('g')

    lifter = threading.Thread(target=lift)
    lifter.start()
    enforced = failover_actions.FencePrimaryAction(
        'g', existing_only=True).run(_context('http://127.0.0.1:2/v3'))
    lifter.join()
    assert enforced['enforced'] and enforced['servers_stopped'] == ['s1']
    assert dr_store.fence('g') is None


def _sync_group(tmp_path, monkeypatch, standby_action):
    """rescuer.sync_group on a registered group whose capture at the
    primary is the golden vnf-site one, with Heat's answer to the
    standby update ``standby_action``: (result, store, heat calls)."""
    from rescuer import capture
    from rescuer import sync
    from rescuer_mistral.actions import groups as group_actions
    from tests.unit import test_groups
    from tests.unit import test_render
    dr_store = _registry_with_store(tmp_path, monkeypatch)
    document = test_render._capture('vnf-site')
    dr_store.save_definition(test_groups._definition(
        group=document['group']))
    calls = []

    def capture_stack(session, site, stack, group, members):
        calls.append(('capture', site.name, stack, group, members))
        return document

    def apply_standby(api, definition, captured, held_elsewhere=None):
        calls.append(('apply_standby', api.site.name,
                      captured['capture_id']))
        return {'stack_id': 'recovery-1', 'action': standby_action}

    monkeypatch.setattr(capture, 'capture_stack', capture_stack)
    monkeypatch.setattr(sync, 'apply_standby', apply_standby)
    result = group_actions.SyncGroupAction(
        document['group'], run_id='run-1').run(
            _context('http://127.0.0.1:2/v3'))
    return result, dr_store, calls, document


def test_sync_group_records_a_sync_with_nothing_to_wait_for(
        tmp_path, monkeypatch):
    result, dr_store, calls, document = _sync_group(
        tmp_path, monkeypatch, 'skipped')
    group = document['group']
    assert calls == [
        ('capture', 'site-a', 's-1', group, {'vnf'}),
        ('apply_standby', 'site-b', document['capture_id'])]
    assert result['capture']['capture_id'] == document['capture_id']
    assert dr_store.latest(group)[0]['capture_id'] == document[
        'capture_id']
    assert result['backups'] == {'site': None, 'backups': []}
    assert result['backed_up'] == {'volumes': {}, 'retired': 0}
    assert result['sync'] == dr_store.last_sync(group)
    assert result['sync']['capture_id'] == document['capture_id']
    assert result['sync']['recovery_stack_id'] == 'recovery-1'


def test_sync_group_leaves_the_record_to_the_workflow_while_heat_works(
        tmp_path, monkeypatch):
    result, dr_store, _, document = _sync_group(
        tmp_path, monkeypatch, 'UPDATE')
    assert result['standby']['action'] == 'UPDATE'
    assert result['sync'] is None and result['backed_up'] is None
    assert dr_store.last_sync(document['group']) is None


def test_tier_recovered_waits_for_nobody_before_the_first_tier(registry):
    from rescuer_mistral.actions import failover as failover_actions
    # No Mistral call: the first tier starts at once.
    action = failover_actions.TierRecoveredAction('site-b', 'run-1', [])
    assert action.run(_context('http://127.0.0.1:2/v3')) == 'RECOVERED'


def test_tier_recovered_names_the_failed_groups_of_the_tier_before(
        registry, monkeypatch):
    from rescuer import mistral
    from rescuer_mistral.actions import failover as failover_actions
    asked = []

    def run_progress(api, run_id, groups):
        asked.append((api.site.name, run_id, groups))
        return {'state': 'RUNNING', 'tiers': [],
                'groups': [{'group': 'core', 'state': 'ERROR', 'tasks': []}]}
    monkeypatch.setattr(mistral.MistralAPI, 'run_progress', run_progress)
    result = failover_actions.TierRecoveredAction(
        'site-b', 'run-1', ['core']).run(_context('http://127.0.0.1:2/v3'))
    assert asked == [('site-b', 'run-1', ['core'])]
    assert result.is_error()
    assert result.error == ('TierRecoveredAction: the tier before did not '
                            'recover: group core failed')
    # With the run's override, the failed group ends the wait.
    assert failover_actions.TierRecoveredAction(
        'site-b', 'run-1', ['core'], continue_on_failure=True).run(
            _context('http://127.0.0.1:2/v3')) == 'ENDED'
