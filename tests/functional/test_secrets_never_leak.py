"""No credential of the lab appears in what Rescuer and the services it
drives write: the services' logs, the DR site's store (captures, group
definitions, sync records, fences, run reports) or the drill's reports.

Runs after the workflow tests (files run in name order), so the logs and
the store hold what registration, syncs, failovers, drills and failbacks
wrote."""

import pathlib
import re

import yaml

from tests.functional import base


def _secrets():
    lab = pathlib.Path(base.lab_env()['RESCUER_LAB_DIR'])
    with open(lab / 'secrets.yaml') as f:
        values = yaml.safe_load(f)
    return lab, sorted({v for v in values.values()
                        if isinstance(v, str) and len(v) >= 12})


def _written(lab):
    for pattern in ('site-*/log/*.log', 'site-b/store/**/*.json',
                    'reports/*.json'):
        yield from lab.glob(pattern)


def test_no_password_in_logs_store_or_reports():
    lab, secrets = _secrets()
    assert len(secrets) > 20  # service users, operators, Rescuer, ...
    leak = re.compile('|'.join(re.escape(s) for s in secrets))
    files = list(_written(lab))
    assert any(p.suffix == '.json' and 'store' in p.parts for p in files)
    found = []
    for path in files:
        with open(path, errors='replace') as f:
            for number, line in enumerate(f, 1):
                if leak.search(line):
                    found.append('%s:%d' % (path, number))
    assert found == []
