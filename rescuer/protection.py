"""Protection policy: the rules a protection group must satisfy.

Plain functions over plain data, shared by the Heat plugin (validation at
``stack create --dry-run``) and, later, by the workflows (input checks).
Each returns a list of problems; an empty list means the rule holds.
"""

from rescuer import sites as sites_mod

MODES = ('active-active', 'hot-standby', 'cold-standby')
IP_POLICIES = ('keep', 'new')
TIERS = (1, 10)
MIN_SYNC_INTERVAL = 10


def default_sync_interval(rpo):
    """Sync twice per RPO: a missed sync still leaves the target met."""
    return max(MIN_SYNC_INTERVAL, rpo // 2)


def geo_problems(site, allowed_countries=None, allowed_sites=None):
    problems = []
    if allowed_sites and site.name not in allowed_sites:
        problems.append('site %s is not among the allowed sites (%s)'
                        % (site.name, ', '.join(allowed_sites)))
    if allowed_countries:
        if site.country is None:
            problems.append('site %s declares no country, and the group '
                            'allows only %s' % (site.name,
                                                ', '.join(allowed_countries)))
        elif site.country not in allowed_countries:
            problems.append('site %s is in %s, and the group allows only %s'
                            % (site.name, site.country,
                               ', '.join(allowed_countries)))
    return problems


def interval_problems(rpo, rto, sync_interval):
    problems = []
    if sync_interval > rpo:
        problems.append('a sync every %d s cannot meet an RPO of %d s'
                        % (sync_interval, rpo))
    if sync_interval < MIN_SYNC_INTERVAL:
        problems.append('a sync interval under %d s is not supported'
                        % MIN_SYNC_INTERVAL)
    return problems


def merged_mappings(site, overrides=None):
    """The site's default mappings with the group's overrides on top."""
    overrides = overrides or {}
    merged = {}
    for kind in sites_mod.MAPPING_KINDS:
        merged[kind] = dict(site.mappings.get(kind, {}))
        merged[kind].update(overrides.get(kind) or {})
    return merged


def unmapped(mappings, used):
    """{kind: [names]} used by the members but without a mapping."""
    missing = {}
    for kind, names in used.items():
        absent = sorted(n for n in names if n not in mappings.get(kind, {}))
        if absent:
            missing[kind] = absent
    return missing


def describe_unmapped(missing, site_name):
    return 'no mapping at site %s for %s' % (site_name, '; '.join(
        '%s %s' % (kind, ', '.join(names))
        for kind, names in sorted(missing.items())))
