"""No credential of the lab appears in what Rescuer and the services it
drives write: the services' logs, the DR site's store (captures, group
definitions, sync records, fences, run reports), the drill's reports, a
protected stack's outputs and events at both sites, or the DR site's
workflow executions (inputs and outputs) - neither a password nor a
Keystone token.

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


# A Fernet token, as Keystone issues them.
TOKEN = re.compile(r'gAAAAA[A-Za-z0-9_-]{80,}')


def _leak():
    lab, secrets = _secrets()
    assert len(secrets) > 20  # service users, operators, Rescuer, ...
    return re.compile('|'.join([re.escape(s) for s in secrets] +
                               [TOKEN.pattern]))


def test_no_credential_in_a_protected_stacks_outputs_events_and_runs():
    leak = _leak()
    name = base.unique('leak')
    base.cli_json('site-a', 'stack', 'create', '--wait', '-t',
                  str(base.REPO / 'examples' / 'protected-vnf.yaml'),
                  '--parameter', 'rpo=600', name)
    try:
        out = base.stack_outputs('site-a', name)
        seen = {
            'site-a outputs': base.cli('site-a', 'stack', 'output', 'show',
                                       name, '--all').stdout,
            'site-a events': base.cli('site-a', 'stack', 'event', 'list',
                                      name).stdout,
            'site-b outputs': base.cli('site-b', 'stack', 'output', 'show',
                                       out['recovery_stack_id'],
                                       '--all').stdout,
            'site-b events': base.cli('site-b', 'stack', 'event', 'list',
                                      out['recovery_stack_id']).stdout}
        sess, endpoint = base.api('site-b', 'workflowv2')
        seen['site-b executions'] = sess.get(
            '/executions?limit=300&sort_keys=created_at&sort_dirs=desc&'
            'fields=id,input,output,state_info', endpoint_filter=endpoint).text
        assert out['group_name'] in seen['site-b executions']
        # Where, and how many - never the secret itself.
        assert {where: len(leak.findall(text)) for where, text in
                seen.items() if leak.search(text)} == {}
    finally:
        base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name,
                 check=False)


def test_no_credential_in_logs_store_or_reports():
    leak = _leak()
    lab = pathlib.Path(base.lab_env()['RESCUER_LAB_DIR'])
    files = list(_written(lab))
    assert any(p.suffix == '.json' and 'store' in p.parts for p in files)
    found = []
    for path in files:
        with open(path, errors='replace') as f:
            for number, line in enumerate(f, 1):
                if leak.search(line):
                    found.append('%s:%d' % (path, number))
    assert found == []
