"""Keystone and Heat at both sites, through the operator's `openstack` CLI."""

import pytest
from keystoneauth1 import exceptions as ks_exc

from tests.functional import base

RANDOM_STRING = '''
heat_template_version: 2021-04-16
resources:
  secret:
    type: OS::Heat::RandomString
    properties:
      length: 24
outputs:
  length:
    value: {get_attr: [secret, value]}
'''

SITE_INFO = str(base.REPO / 'examples' / 'dr-site-info.yaml')


@pytest.mark.parametrize('site', base.SITES)
def test_random_string_stack_creates_and_deletes(site, template):
    name = base.unique('rs')
    created = base.cli_json(site, 'stack', 'create', '--wait', '-t',
                            template(RANDOM_STRING), name)
    assert created['stack_status'] == 'CREATE_COMPLETE'
    value = base.cli(site, 'stack', 'output', 'show', name, 'length',
                     '-f', 'value', '-c', 'output_value').stdout.strip()
    assert len(value) == 24

    base.cli(site, 'stack', 'delete', '--yes', '--wait', name)
    gone = base.cli(site, 'stack', 'show', name, check=False)
    assert gone.returncode != 0
    assert 'Stack not found' in gone.stderr


@pytest.mark.parametrize('site', base.SITES)
def test_rescuer_resource_type_is_listed(site):
    types = base.cli(site, 'orchestration', 'resource', 'type', 'list',
                     '-f', 'value', '-c', 'Resource Type').stdout.split()
    assert 'OS::Rescuer::SiteInfo' in types
    assert 'OS::Heat::RandomString' in types


def test_plugin_reads_the_site_registry_in_heat_engine():
    name = base.unique('siteinfo')
    path = SITE_INFO
    base.cli('site-a', 'stack', 'create', '--wait', '-t', path,
             '--parameter', 'site=site-b', name)
    try:
        outputs = base.stack_outputs('site-a', name)
        assert outputs['region'] == 'RegionB'
        assert outputs['role'] == 'recovery'
    finally:
        base.cli('site-a', 'stack', 'delete', '--yes', '--wait', name)


def test_unknown_site_is_refused_before_anything_is_created():
    """`stack create --dry-run` and `stack create` check property values.

    (Heat's `template validate` checks structure only: it validates with
    strict_validate=False, so no custom constraint sees a value there.)
    """
    path = SITE_INFO
    name = base.unique('badsite')
    expected = ("Error validating value 'site-z': unknown site: site-z; "
                "the DR site registry knows: site-a, site-b")
    dry_run = base.cli('site-a', 'stack', 'create', '--dry-run', '-t', path,
                       '--parameter', 'site=site-z', name, check=False)
    assert dry_run.returncode != 0
    assert expected in dry_run.stderr
    created = base.cli('site-a', 'stack', 'create', '-t', path,
                       '--parameter', 'site=site-z', name, check=False)
    assert created.returncode != 0
    assert expected in created.stderr
    assert base.cli('site-a', 'stack', 'show', name,
                    check=False).returncode != 0


def test_sites_have_separate_keystones():
    """A token of site-b's Keystone is worthless at site-a."""
    sess_b = base.session('site-b')
    token_b = sess_b.get_token()
    sess_a, endpoint_a = base.api('site-a', 'orchestration')
    heat_a = sess_a.get_endpoint(**endpoint_a)
    response = sess_b.get(heat_a + '/stacks', authenticated=False,
                          headers={'X-Auth-Token': token_b},
                          raise_exc=False)
    assert response.status_code == 401
    # site-a's Keystone cannot even decrypt it (other Fernet keys).
    with pytest.raises(ks_exc.NotFound, match='Could not recognize Fernet'):
        sess_a.get('/auth/tokens', endpoint_filter={
            'service_type': 'identity', 'interface': 'public'},
            headers={'X-Subject-Token': token_b})


RESCUER_TYPES = {
    'OS::Rescuer::ProtectionGroup': {'members', 'tier', 'mode',
                                     'recovery_site', 'placement_rules',
                                     'rpo', 'rto', 'sync_interval',
                                     'consistency_hooks', 'mappings'},
    'OS::Rescuer::ReplicatedVolume': {'size', 'replication_method',
                                      'dr_site', 'volume_type'},
    'OS::Rescuer::StandbyStack': {'site', 'template', 'standby_level',
                                  'template_version'},
    'OS::Rescuer::SiteInfo': {'site'},
}


@pytest.mark.parametrize('type_name', sorted(RESCUER_TYPES))
def test_resource_type_show_documents_the_schema(type_name):
    shown = base.cli_json('site-a', 'orchestration', 'resource', 'type',
                          'show', type_name)
    assert RESCUER_TYPES[type_name] <= set(shown['properties'])
    for name, schema in shown['properties'].items():
        assert schema.get('description'), (type_name, name)
    assert shown['attributes']


def test_each_site_user_opens_its_own_vhost_only():
    """`rescuer-lab recover` skips rabbitmqctl when the site's user logs
    in to its vhost: that check must refuse what the broker refuses."""
    from rescuer_lab import infra
    from rescuer_lab import paths
    from rescuer_lab import secrets as lab_secrets
    from rescuer_lab import topology
    secrets = lab_secrets.Secrets()
    python = paths.venv_bin('python')
    site_a, site_b = topology.site('site-a'), topology.site('site-b')
    password_a = secrets.get('site-a/rabbit')
    assert infra.vhost_opens(site_a, password_a, python)
    assert infra.vhost_opens(site_b, secrets.get('site-b/rabbit'), python)
    assert not infra.vhost_opens(site_a, password_a + 'x', python)
    # site-a's password is not site-b's user's.
    assert not infra.vhost_opens(site_b, password_a, python)


@pytest.mark.exclusive
def test_up_on_a_running_lab_keeps_every_token_valid():
    """`rescuer-lab up` again (the main job's command runs it every time)
    sets no password that works: Keystone revokes every token of a user
    whose password is set, the tokens running services hold too."""
    identity = {'service_type': 'identity', 'interface': 'public'}
    held = {cloud: base.session(cloud) for cloud in ('site-a', 'site-b')}
    tokens = {cloud: sess.get_token() for cloud, sess in held.items()}
    base.rescuer_lab('up')
    for cloud, sess in held.items():
        checked = sess.get('/auth/tokens', endpoint_filter=identity,
                           headers={'X-Subject-Token': tokens[cloud]},
                           raise_exc=False)
        assert checked.status_code == 200, (cloud, checked.status_code)
