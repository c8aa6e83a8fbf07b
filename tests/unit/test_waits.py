"""Every wait ends when what it waits for has ended: each function a
workflow's retry polls answers IN_PROGRESS only while its target may
still get where the wait wants it, and raises, with the reason, once the
target has ended anywhere else.  tests/workbooks checks that each wait
of the workbooks polls one of the functions proved here."""

import types

import pytest

from rescuer import cinder
from rescuer import exceptions
from rescuer import heat
from tests.unit import test_failback
from tests.unit import test_failover
from tests.unit import test_report

SITE = types.SimpleNamespace(name='site-b', region='RegionB')


class _Answering:
    """An API whose GETs answer from ``{path: answer}``."""

    def __init__(self, answers):
        super().__init__(session=None, site=SITE)
        self.answers = answers

    def _call(self, method, path, body=None, **kwargs):
        return self.answers[path]

    _v3 = _call


class _Heat(_Answering, heat.HeatAPI):
    pass


class _Cinder(_Answering, cinder.CinderAPI):
    pass


def _stack(status, reason='boom'):
    return _Heat({'/stacks/s-1': {'stack': {
        'id': 's-1', 'stack_name': 'rescuer-g', 'stack_status': status,
        'stack_status_reason': reason,
        'creation_time': '2026-12-07T10:00:00Z',
        'updated_time': '2026-12-07T10:05:00Z'}}})


def _engine(engine_id, status, created, updated):
    return {'engine_id': engine_id, 'host': 'site-b', 'status': status,
            'created_at': '2026-12-07T%s' % created,
            'updated_at': '2026-12-07T%s' % updated}


def test_stack_status_ends_when_no_engine_is_left_to_finish():
    # The update began at 10:05:00 on engine e-1, which was killed; Heat's
    # convergence engine leaves the stack UPDATE_IN_PROGRESS for ever.
    api = _stack('UPDATE_IN_PROGRESS')
    alive = [_engine('e-1', 'up', '09:00:00', '10:05:30')]
    assert api.stack_state('s-1', 'UPDATE',
                           engines=lambda: alive) == 'IN_PROGRESS'
    # e-1 stopped reporting during the update; e-2 started since.
    dead = [_engine('e-1', 'down', '09:00:00', '10:05:10'),
            _engine('e-2', 'up', '10:05:40', '10:05:40')]
    with pytest.raises(exceptions.StackFailed,
                       match='heat-engine e-1 on site-b stopped reporting '
                             'at .*10:05:10, during it: it will not finish'):
        api.stack_state('s-1', 'UPDATE', engines=lambda: dead)
    # Heat already removed e-1's record: every engine running now started
    # after the update began.
    with pytest.raises(exceptions.StackFailed,
                       match='every heat-engine running now started after '
                             'it began'):
        api.stack_state('s-1', 'UPDATE', engines=lambda: dead[1:])
    # An engine that went down before the update began is no matter.
    earlier = [_engine('e-0', 'down', '08:00:00', '09:59:00')] + alive
    assert api.stack_state('s-1', 'UPDATE',
                           engines=lambda: earlier) == 'IN_PROGRESS'
    # Nothing read (the credential may not): no judgement.
    assert api.stack_state('s-1', 'UPDATE',
                           engines=lambda: []) == 'IN_PROGRESS'


def test_stack_status_ends_on_a_failed_or_deleted_stack():
    assert _stack('UPDATE_IN_PROGRESS').stack_state(
        's-1', 'UPDATE') == 'IN_PROGRESS'
    # Without an expected action too (it answered PROGRESS, which no
    # wait knows, and the wait ended as if timed out).
    assert _stack('UPDATE_IN_PROGRESS').stack_state('s-1') == 'IN_PROGRESS'
    assert _stack('UPDATE_COMPLETE').stack_state('s-1') == 'COMPLETE'
    with pytest.raises(exceptions.StackFailed, match='UPDATE_FAILED: boom'):
        _stack('UPDATE_FAILED').stack_state('s-1', 'UPDATE')
    with pytest.raises(exceptions.StackFailed, match='was deleted'):
        _stack('DELETE_COMPLETE').stack_state('s-1', 'UPDATE')


def test_volume_status_ends_on_a_volume_in_error():
    volume = {'id': 'v-1', 'status': 'creating'}
    api = _Cinder({'/volumes/v-1': {'volume': volume}})
    assert api.volume_state('v-1') == 'IN_PROGRESS'
    for status in ('error', 'error_restoring', 'error_managing'):
        volume['status'] = status
        with pytest.raises(exceptions.RemoteError,
                           match='volume v-1 is %s' % status):
            api.volume_state('v-1')


def test_backup_status_ends_on_a_backup_in_error():
    backup = {'id': 'b-1', 'status': 'creating'}
    api = _Cinder({'/backups/b-1': {'backup': backup}})
    assert api.backup_state('b-1') == 'IN_PROGRESS'
    backup.update(status='error', fail_reason='no space')
    with pytest.raises(exceptions.RemoteError,
                       match='backup b-1 failed: no space'):
        api.backup_state('b-1')


# The waits of the workbooks, by the action they poll: the tests above
# and these prove that each ends once its target has ended.
PROVED = {
    'rescuer.stack_status': (
        test_stack_status_ends_on_a_failed_or_deleted_stack,
        test_stack_status_ends_when_no_engine_is_left_to_finish),
    'rescuer.volume_status': test_volume_status_ends_on_a_volume_in_error,
    'rescuer.backup_status': test_backup_status_ends_on_a_backup_in_error,
    'rescuer.servers_state': test_failback.
    test_a_drain_waits_for_stopping_servers_and_ends_on_one_in_error,
    'rescuer.recovery_health': test_failover.
    test_health_ends_the_wait_on_a_server_in_error_or_a_failed_resource,
    'rescuer.drill_health': test_failover.
    test_health_ends_the_wait_on_a_server_in_error_or_a_failed_resource,
    'rescuer.primary_health': test_failover.
    test_health_ends_the_wait_on_a_server_in_error_or_a_failed_resource,
    'rescuer.activate': test_failover.
    test_healing_ends_when_nova_refuses_to_delete_the_server,
    'rescuer.demote': test_failback.
    test_demote_deletes_a_server_whose_boot_volume_goes_back_first,
    'rescuer.tier_recovered': test_report.
    test_a_wait_ends_when_its_tier_was_never_started,
}
