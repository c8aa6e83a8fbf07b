"""A protection group as the DR site knows it.

The Heat plugin at the primary registers a group by handing the DR site a
*definition* - plain data, no secrets - that the DR site keeps in its
store.  Everything the DR site does later (scheduled sync, failover,
drill, failback) works from that definition and the latest capture, so it
never needs the primary to be up.

Names derived from the group name (the same at both sites):
- the cron trigger at the DR site's Mistral: ``rescuer-sync-<group>``;
- the recovery-site stack at the DR site's Heat: ``rescuer-<group>``.
"""

import datetime
import re

from rescuer import exceptions
from rescuer import protection
from rescuer import standby

SCHEMA_VERSION = 1
SYNC_WORKFLOW = 'rescuer_dr.sync_v1'
REGISTER_WORKFLOW = 'rescuer_dr.register_v1'
UNREGISTER_WORKFLOW = 'rescuer_dr.unregister_v1'
FAILOVER_WORKFLOW = 'rescuer_dr.failover_v1'
FAILBACK_WORKFLOW = 'rescuer_dr.failback_v1'
DRILL_WORKFLOW = 'rescuer_dr.drill_v1'
SWITCHOVER_WORKFLOW = 'rescuer_dr.switchover_v1'
# The DR site's view of a group: its definition and last sync record.
GET_GROUP_ACTION = 'rescuer.get_group'


def workflows(group):
    """The DR site's workflows an operator runs for ``group``, by
    purpose: ``{purpose: {workflow, input}}``."""
    return {
        'sync': {'workflow': SYNC_WORKFLOW, 'input': {'group': group}},
        'failover': {'workflow': FAILOVER_WORKFLOW,
                     'input': {'groups': [group]}},
        'failback': {'workflow': FAILBACK_WORKFLOW,
                     'input': {'groups': [group]}},
        'drill': {'workflow': DRILL_WORKFLOW, 'input': {'groups': [group]}},
        'switchover': {'workflow': SWITCHOVER_WORKFLOW,
                       'input': {'groups': [group]}},
    }


# The standby level each DR mode keeps its recovery-site stack at.
LEVEL_OF_MODE = {
    'cold-standby': standby.COLD,
    'hot-standby': standby.HOT,
    'active-active': standby.ACTIVE,
}

FIELDS = (
    'schema_version', 'group', 'primary_site', 'stack_id', 'stack_name',
    'members', 'tier', 'mode', 'recovery_site', 'recovery_region', 'rpo',
    'rto', 'sync_interval', 'consistency_hooks', 'mappings',
)
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$')


def usable_name(name):
    """True for a string that can name a protection group."""
    return isinstance(name, str) and bool(_NAME.match(name))


def trigger_name(group):
    return 'rescuer-sync-%s' % group


def stack_name(group):
    return 'rescuer-%s' % group


def stack_tag(group):
    """The tag of every stack Rescuer makes for ``group`` at the DR
    site (recovery and drill)."""
    return 'rescuer-group-%s' % group


def standby_level(definition):
    return LEVEL_OF_MODE[definition['mode']]


def definition(group, primary_site, stack_id, stack_name, members, tier,
               mode, recovery_site, rpo, rto, sync_interval,
               consistency_hooks=None, mappings=None, recovery_region=None):
    """A checked group definition."""
    return check({
        'schema_version': SCHEMA_VERSION, 'group': group,
        'primary_site': primary_site, 'stack_id': stack_id,
        'stack_name': stack_name, 'members': list(members or []),
        'tier': tier, 'mode': mode, 'recovery_site': recovery_site,
        'recovery_region': recovery_region, 'rpo': rpo, 'rto': rto,
        'sync_interval': sync_interval,
        'consistency_hooks': dict(consistency_hooks or {}),
        'mappings': dict(mappings or {}),
    })


def check(document):
    """Refuse a definition that is not one (e.g. a malformed workflow
    input), naming every problem; return it unchanged otherwise."""
    if not isinstance(document, dict):
        raise exceptions.InvalidGroup('a group definition is a mapping')
    problems = []
    missing = [f for f in FIELDS if f not in document]
    if missing:
        problems.append('missing: %s' % ', '.join(missing))
    unknown = sorted(set(document) - set(FIELDS))
    if unknown:
        problems.append('unknown fields: %s' % ', '.join(unknown))
    if document.get('schema_version', SCHEMA_VERSION) != SCHEMA_VERSION:
        problems.append('schema_version %r (this Rescuer reads %d)'
                        % (document.get('schema_version'), SCHEMA_VERSION))
    name = document.get('group')
    if 'group' in document and not (isinstance(name, str) and
                                    _NAME.match(name)):
        problems.append('group %r is not a usable name (letters, digits, '
                        '"_.-", at most 200)' % (name,))
    if 'mode' in document and document['mode'] not in LEVEL_OF_MODE:
        problems.append('mode %r is not one of %s' % (
            document['mode'], ', '.join(protection.MODES)))
    low, high = protection.TIERS
    tier = document.get('tier', low)
    if not isinstance(tier, int) or not low <= tier <= high:
        problems.append('tier %r is not in %d..%d' % (tier, low, high))
    for field in ('rpo', 'rto', 'sync_interval'):
        value = document.get(field, 1)
        if not isinstance(value, int) or value < 1:
            problems.append('%s %r is not a positive number of seconds'
                            % (field, value))
    if problems:
        raise exceptions.InvalidGroup('group definition %s: %s' % (
            name if isinstance(name, str) else '?', '; '.join(problems)))
    return document


def cron_pattern(interval):
    """A Mistral cron pattern firing at least every ``interval`` seconds.

    Cron steps must divide the minute/hour/day, so the interval is rounded
    down to the nearest step that does: never less often than asked.
    Under a minute the pattern has a seconds field (croniter's sixth).
    """
    if interval < 1:
        raise exceptions.InvalidGroup('a sync interval is at least 1 s')
    if interval < 60:
        return '* * * * * */%d' % _divisor_at_most(60, interval)
    if interval < 3600:
        return '*/%d * * * *' % _divisor_at_most(60, interval // 60)
    return '0 */%d * * *' % _divisor_at_most(24, min(interval // 3600, 24))


def _divisor_at_most(whole, limit):
    return max(d for d in range(1, whole + 1)
               if whole % d == 0 and d <= limit)


def parse_time(text):
    value = datetime.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value


def achieved_rpo(last_sync_time, now=None):
    """Seconds of metadata a disaster now would lose: the age of the last
    good sync."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return max(0, int((now - parse_time(last_sync_time)).total_seconds()))


def sync_record(definition, capture, standby_stack_id, previous=None,
                now=None):
    """What a completed sync leaves behind: the capture it made, the
    recovery stack it updated, and the RPO achieved over the cycle (the
    gap since the previous good capture, or the capture's age for the
    first)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    captured_at = parse_time(capture['captured_at'])
    if previous:
        gap = captured_at - parse_time(previous['last_sync_time'])
    else:
        gap = now - captured_at
    achieved = max(0, int(gap.total_seconds()))
    return {
        'group': definition['group'],
        'capture_id': capture['capture_id'],
        'last_sync_time': capture['captured_at'],
        'recovery_stack_id': standby_stack_id,
        'standby_level': standby_level(definition),
        'achieved_rpo': achieved,
        'rpo': definition['rpo'],
        'rpo_missed': achieved > definition['rpo'],
        'syncs': (previous or {}).get('syncs', 0) + 1,
        'missed': ((previous or {}).get('missed', 0) +
                   (1 if achieved > definition['rpo'] else 0)),
    }
