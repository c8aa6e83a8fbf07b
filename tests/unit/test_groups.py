"""Group definitions, sync schedules and RPO arithmetic."""

import datetime

import pytest

from rescuer import exceptions
from rescuer import groups
from rescuer import store
from tests.unit import test_store

UTC = datetime.timezone.utc


def _definition(**changes):
    values = dict(group='vnf-group-1', primary_site='site-a',
                  stack_id='s-1', stack_name='vnf', members=['vnf'],
                  tier=1, mode='hot-standby', recovery_site='site-b',
                  rpo=300, rto=600, sync_interval=150)
    values.update(changes)
    return groups.definition(**values)


@pytest.mark.parametrize('interval, pattern', [
    (10, '* * * * * */10'),
    (45, '* * * * * */30'),   # 45 does not divide a minute: every 30 s
    (60, '*/1 * * * *'),
    (150, '*/2 * * * *'),
    (420, '*/6 * * * *'),     # 7 min does not divide an hour: every 6
    (3600, '0 */1 * * *'),
    (5 * 3600, '0 */4 * * *'),
    (10 ** 6, '0 */24 * * *'),
])
def test_cron_pattern_never_fires_less_often_than_asked(interval, pattern):
    assert groups.cron_pattern(interval) == pattern


def test_standby_level_follows_the_mode():
    assert groups.standby_level(_definition(mode='cold-standby')) == 'cold'
    assert groups.standby_level(_definition(mode='hot-standby')) == 'hot'
    assert groups.standby_level(_definition(mode='active-active')) == 'active'


def test_a_malformed_definition_is_refused_naming_every_problem():
    document = dict(_definition(), tier=0, mode='warm', rpo=-1,
                    extra='x')
    del document['stack_id']
    with pytest.raises(exceptions.InvalidGroup) as error:
        groups.check(document)
    message = str(error.value)
    for expected in ('missing: stack_id', 'unknown fields: extra',
                     "tier 0 is not in 1..10", "mode 'warm'",
                     'rpo -1 is not a positive number'):
        assert expected in message


@pytest.mark.parametrize('name', ['', '../etc', 'a/b', 'x' * 201, None])
def test_group_names_that_could_escape_the_store_are_refused(name):
    with pytest.raises(exceptions.InvalidGroup, match='not a usable name'):
        _definition(group=name)


def test_first_sync_records_the_capture_age_as_achieved_rpo():
    now = datetime.datetime(2026, 11, 26, 8, 0, 30, tzinfo=UTC)
    record = groups.sync_record(
        _definition(), {'capture_id': 'c1',
                        'captured_at': '2026-11-26T08:00:00+00:00'},
        'stack-1', now=now)
    assert (record['achieved_rpo'], record['rpo_missed'], record['syncs'],
            record['missed']) == (30, False, 1, 0)
    assert record['last_sync_time'] == '2026-11-26T08:00:00+00:00'
    assert record['standby_level'] == 'hot'


def test_a_late_sync_is_an_rpo_miss_and_is_counted():
    previous = {'last_sync_time': '2026-11-26T08:00:00+00:00', 'syncs': 4,
                'missed': 1}
    record = groups.sync_record(
        _definition(rpo=300), {'capture_id': 'c2',
                               'captured_at': '2026-11-26T08:05:01+00:00'},
        'stack-1', previous=previous)
    assert (record['achieved_rpo'], record['rpo_missed'], record['syncs'],
            record['missed']) == (301, True, 5, 2)


def test_achieved_rpo_is_the_age_of_the_last_sync():
    now = datetime.datetime(2026, 11, 26, 8, 1, 0, tzinfo=UTC)
    assert groups.achieved_rpo('2026-11-26T08:00:00.5+00:00', now) == 59


def test_store_keeps_definition_and_last_sync_beside_the_captures(tmp_path):
    kept = store.DirectoryStore(tmp_path)
    definition = _definition()
    kept.save_definition(definition)
    kept.save(test_store._document(group='vnf-group-1'))
    assert kept.definition('vnf-group-1') == definition
    assert kept.last_sync('vnf-group-1') is None
    kept.save_sync({'group': 'vnf-group-1', 'last_sync_time': 't'})
    assert kept.last_sync('vnf-group-1')['last_sync_time'] == 't'
    # group.json and sync.json are not captures.
    assert [p.name for p in kept.history('vnf-group-1')] == [
        '2026-11-26T070000p0000-c1.json']
    kept.remove_group('vnf-group-1')
    with pytest.raises(exceptions.NotFound, match='not registered'):
        kept.definition('vnf-group-1')
