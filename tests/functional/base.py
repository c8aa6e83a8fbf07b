"""Helpers for functional tests on the two-site lab.

Operator-facing steps go through the ``openstack`` CLI, exactly as an
operator types them.  Polling and bookkeeping use keystoneauth sessions
in-process (each CLI call costs seconds of start-up).
"""

import functools
import json
import os
import pathlib
import random
import subprocess
import sys
import time
import uuid

import openstack.config

BIN = pathlib.Path(sys.executable).parent
REPO = pathlib.Path(__file__).resolve().parents[2]
SITES = ('site-a', 'site-b')


@functools.lru_cache(maxsize=None)
def _lab_exports():
    """What `rescuer-lab env` exports: {name: value}, asked once a
    process (the lab's paths do not change under a run; every CLI call
    and every poll paid for a `rescuer-lab env` process)."""
    out = subprocess.run([str(BIN / 'rescuer-lab'), 'env'], check=True,
                         capture_output=True, text=True).stdout
    exports = {}
    for line in out.splitlines():
        name, _, value = line.removeprefix('export ').partition('=')
        exports[name] = value
    return exports


def lab_env():
    """The environment `eval "$(rescuer-lab env)"` gives an operator."""
    return dict(os.environ, **_lab_exports())


def rescuer_lab(*args, check=True):
    return subprocess.run([str(BIN / 'rescuer-lab')] + list(args),
                          capture_output=True, text=True, check=check,
                          stdin=subprocess.DEVNULL, env=lab_env())


def cli(cloud, *args, check=True):
    """Run ``openstack --os-cloud CLOUD ARGS``; returns CompletedProcess."""
    result = subprocess.run(
        [str(BIN / 'openstack'), '--os-cloud', cloud] + list(args),
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
        env=lab_env(), timeout=300)
    if check and result.returncode != 0:
        _remove_failed_stack(cloud, args)
        raise AssertionError('openstack --os-cloud %s %s failed (%d):\n%s'
                             % (cloud, ' '.join(args), result.returncode,
                                result.stderr))
    return result


def _remove_failed_stack(cloud, args):
    """A stack whose create failed is deleted at once: the test that
    made it never reaches its clean-up, and what it holds (volumes,
    backups) would count against the next tests' quotas."""
    args = list(args)
    if args[-2:] == ['-f', 'json']:
        args = args[:-2]
    if args[:2] == ['stack', 'create'] and '--dry-run' not in args:
        cli(cloud, 'stack', 'delete', '--yes', '--wait', args[-1],
            check=False)


def cli_json(cloud, *args):
    """The JSON document a CLI call prints (after any `--wait` progress)."""
    out = cli(cloud, *args, '-f', 'json').stdout
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line in ('{', '[')
                 or line.startswith(('{"', '[{', '[]', '{}')))
    return json.loads('\n'.join(lines[start:]))


def session(cloud):
    config = openstack.config.OpenStackConfig(
        config_files=[lab_env()['OS_CLIENT_CONFIG_FILE']], load_envvars=False)
    return config.get_one(cloud=cloud).get_session()


def region(cloud):
    """The region of a lab cloud (site-b, site-b-admin, site-b-tenant-b...)."""
    return {'site-a': 'RegionA', 'site-b': 'RegionB'}[cloud[:len('site-a')]]


def endpoint(cloud, service_type):
    """The endpoint_filter of one service of a lab cloud."""
    return {'service_type': service_type, 'interface': 'public',
            'region_name': region(cloud)}


def api(cloud, service_type):
    """(session, endpoint_filter) for one service of a lab cloud."""
    return session(cloud), endpoint(cloud, service_type)


def stack_outputs(cloud, stack):
    """{output_key: output_value} of a stack, via `openstack stack show`."""
    return {o['output_key']: o['output_value'] for o in
            cli_json(cloud, 'stack', 'show', stack)['outputs']}


PROTECTED_VNF = REPO / 'examples' / 'protected-vnf.yaml'


def create_protected_vnf(prefix, rpo):
    """``examples/protected-vnf.yaml`` at site-a with RPO ``rpo``: returns
    (stack name, outputs, {resource name: physical id})."""
    name = unique(prefix)
    cli_json('site-a', 'stack', 'create', '--wait', '-t', str(PROTECTED_VNF),
             '--parameter', 'rpo=%d' % rpo, name)
    return name, stack_outputs('site-a', name), {
        r['resource_name']: r['physical_resource_id'] for r in
        cli_json('site-a', 'stack', 'resource', 'list', name)}


STATELESS_VNF = REPO / 'examples' / 'stateless-vnf.yaml'


def stateless_vnfs(tiers):
    """``examples/stateless-vnf.yaml`` at site-a, one per (tier, cidr),
    their hot standbys up: yields [(stack name, outputs)]."""
    made = []
    try:
        for tier, cidr in tiers:
            name = unique('hot%d' % tier)
            made.append((name, None))
            cli_json('site-a', 'stack', 'create', '--wait', '-t',
                     str(STATELESS_VNF), '--parameter', 'tier=%d' % tier,
                     '--parameter', 'cidr=%s' % cidr, name)
            made[-1] = (name, stack_outputs('site-a', name))
        yield made
    finally:
        for name, out in made:
            cli('site-a', 'stack', 'delete', '--yes', '--wait', name,
                check=False)
            if out:
                cli('site-b', 'stack', 'delete', '--yes', '--wait',
                    out['recovery_stack_id'], check=False)


def service_port_parameter():
    """`examples/vnf-site.yaml`'s service_port, random: port chains of one
    project must not have overlapping classifiers."""
    return ['--parameter', 'service_port=%d' % random.randint(1024, 65535)]


def project_id(cloud):
    """The id of the project a lab cloud's user works in."""
    return session(cloud).get_project_id()


def record_group(stack, group=None, members=None, hooks=None,
                 cloud='site-b', primary='site-a'):
    """Keep a protection group's definition in site-b's DR store, as
    ``rescuer.register_group`` keeps it for ``cloud``'s project - without
    its first sync and recovery stack: for tests of a capture alone.
    Returns the group's name."""
    from rescuer import groups
    from rescuer import sites
    from rescuer import store
    group = group or unique('group')
    registry = sites.Registry.load(lab_env()['RESCUER_SITES_FILE'])
    stack_id = stack
    if stack and not stack.startswith('no-such'):
        stack_id = cli_json(primary, 'stack', 'show', stack)['id']
    store.DirectoryStore(registry.store_dir,
                         project_id=project_id(cloud)).save_definition(
        groups.definition(
            group=group, primary_site=primary, stack_id=stack_id,
            stack_name=stack, members=members, tier=1, mode='cold-standby',
            recovery_site=next(s for s in SITES if s != primary), rpo=600,
            rto=600, sync_interval=300,
            consistency_hooks=hooks))
    return group


def unique(prefix):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


def wait_for(predicate, timeout, interval=1.0, what='condition'):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %d s waiting for %s'
                                 % (timeout, what))
        time.sleep(interval)


def wait_execution(execution_id, cloud='site-b', timeout=120):
    """Poll a Mistral execution until it leaves RUNNING/IDLE; return it."""
    sess, endpoint = api(cloud, 'workflowv2')

    def finished():
        execution = sess.get('/executions/%s' % execution_id,
                             endpoint_filter=endpoint).json()
        return execution if execution['state'] not in (
            'IDLE', 'RUNNING', 'PAUSED') else None
    execution = wait_for(finished, timeout, what='execution %s'
                         % execution_id)
    execution['output'] = json.loads(execution.get('output') or '{}')
    return execution


def ensure_workbook(path, cloud='site-b'):
    """Create or update a workbook through the CLI, as an operator would
    (a test's own: Rescuer's are loaded public by `rescuer-lab up`, and
    an update here would make them private again)."""
    assert path.parent != REPO / 'workbooks', path
    name = path.stem
    if cli(cloud, 'workbook', 'show', name, check=False).returncode == 0:
        cli(cloud, 'workbook', 'update', str(path))
    else:
        cli(cloud, 'workbook', 'create', str(path))
    return name


def start_execution(workflow, inputs=None, cloud='site-b'):
    args = ['workflow', 'execution', 'create', workflow]
    if inputs is not None:
        args.append(json.dumps(inputs))
    return cli_json(cloud, *args)['ID']


# ------------------------------------------------------------------ volumes

VOLUME_MICROVERSION = {'OpenStack-API-Version': 'volume 3.38'}


def volume_call(cloud, method, path, body=None, ok=(200, 202)):
    """A Cinder REST call (microversion 3.38) as ``cloud``; returns JSON."""
    sess, endpoint = api(cloud, 'volumev3')
    response = sess.request(path, method, json=body,
                            endpoint_filter=endpoint,
                            headers=VOLUME_MICROVERSION, raise_exc=False)
    assert response.status_code in ok, (method, path, response.status_code,
                                        response.text)
    return response.json() if response.text else {}


def sync_backups(cloud, volume_id):
    """Rescuer's sync backups of a volume at a site, by name, any
    status (as ``openstack volume backup list --all-projects`` shows
    them)."""
    prefix = 'rescuer-sync-%s-' % volume_id
    return [b for b in cli_json(cloud + '-admin', 'volume', 'backup', 'list',
                                '--all-projects', '--long')
            if (b['Name'] or '').startswith(prefix)]


def wait_volume(cloud, volume_id, field='status', want=('available',),
                timeout=120):
    def reached():
        volume = volume_call(cloud, 'GET', '/volumes/%s' % volume_id)['volume']
        if volume['status'] == 'error' and 'error' not in want:
            raise AssertionError('volume %s went to error' % volume_id)
        return volume if volume[field] in want else None
    return wait_for(reached, timeout, what='volume %s %s in %s'
                    % (volume_id, field, want))


def wait_backup(cloud, backup_id, timeout=180):
    def done():
        backup = volume_call(cloud, 'GET', '/backups/%s' % backup_id)['backup']
        assert backup['status'] != 'error', backup
        return backup if backup['status'] == 'available' else None
    return wait_for(done, timeout, what='backup %s' % backup_id)


def delete_backup(cloud, backup_id, timeout=120):
    """Delete a backup and wait until it is gone: Cinder deletes in the
    background, and refuses to delete a backup while an incremental one
    on it still exists, even one being deleted."""
    volume_call(cloud, 'DELETE', '/backups/%s' % backup_id, ok=(202, 404))
    sess, endpoint = api(cloud, 'volumev3')
    wait_for(lambda: sess.get(
        '/backups/%s' % backup_id, endpoint_filter=endpoint,
        headers=VOLUME_MICROVERSION, raise_exc=False).status_code == 404,
        timeout, what='backup %s deleted at %s' % (backup_id, cloud))


def create_volume(cloud, name, volume_type=None, size=1):
    args = ['volume', 'create', '--size', str(size), name]
    if volume_type:
        args[2:2] = ['--type', volume_type]
    volume_id = cli_json(cloud, *args)['id']
    wait_volume(cloud, volume_id)
    return volume_id


def delete_volume(cloud, volume_id):
    volume_call(cloud, 'DELETE', '/volumes/%s' % volume_id,
                ok=(202, 404))


def tags(site, volume_id):
    """Tags of the pattern records in a lab volume (`rescuer-lab
    volume-data read`)."""
    records = json.loads(rescuer_lab('volume-data', 'read', site,
                                     volume_id).stdout)
    assert all('error' not in record for record in records), records
    return [record['tag'] for record in records]


def write_tag(site, volume_id, tag):
    rescuer_lab('volume-data', 'write', site, volume_id, tag)


def volume_file(site, volume_id):
    return (pathlib.Path(lab_env()['RESCUER_LAB_DIR']) / site / 'volumes' /
            ('volume-%s' % volume_id))
