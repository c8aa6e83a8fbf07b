import pytest
import yaml

from rescuer import clients
from rescuer import exceptions
from rescuer import sites
from tests.unit import helpers


@pytest.mark.parametrize('a, b, same', [
    ('http://127.0.0.1:25000/v3', 'http://127.0.0.1:25000', True),
    ('http://127.0.0.1:25000/v3/', 'http://127.0.0.1:25000/v3', True),
    ('https://keystone.example/identity/v3', 'https://keystone.example/'
     'identity', True),
    ('https://keystone.example/v3', 'https://keystone.example:443/v3', True),
    ('http://127.0.0.1:25000/v3', 'http://127.0.0.1:35000/v3', False),
    ('http://127.0.0.1:25000/v3', 'http://localhost:25000/v3', False),
    ('http://127.0.0.1:25000/v3', None, False),
    ('', '', False),
])
def test_same_keystone(a, b, same):
    assert clients.same_keystone(a, b) is same


def test_site_session_authenticates_with_the_sites_app_credential(tmp_path):
    site = sites.Registry.load(helpers.write_registry(tmp_path)).get(
        'site-a')

    session = clients.site_session(site)

    assert type(session.auth).__name__ == 'ApplicationCredential'
    assert session.auth.auth_url == 'http://127.0.0.1:1/v3'
    assert clients.auth_url_of(site) == 'http://127.0.0.1:1/v3'


def test_site_sessions_are_shared_until_the_credential_changes(tmp_path):
    path = helpers.write_registry(tmp_path)
    site = sites.Registry.load(path).get('site-a')
    first = clients.site_session(site)
    assert clients.site_session(site) is first
    assert clients.site_session(
        sites.Registry.load(path).get('site-b')) is not first

    clouds = site.clouds_file.read_text()
    secret = yaml.safe_load(clouds)['clouds'][site.cloud]['auth'][
        'application_credential_secret']
    site.clouds_file.write_text(clouds.replace(secret, 'rotated'))
    rotated = clients.site_session(site)
    assert rotated is not first
    [method] = rotated.auth.auth_methods
    assert method.application_credential_secret == 'rotated'


def test_site_session_with_unknown_cloud_is_a_registry_error(tmp_path):
    registry = helpers.write_registry(
        tmp_path, sites={'site-a': {'cloud': 'missing-cloud'}})
    site = sites.Registry.load(registry).get('site-a')
    with pytest.raises(exceptions.RegistryError, match="'missing-cloud'"):
        clients.site_session(site)


def test_token_session_rescopes_to_project_or_trust():
    by_project = clients.token_session('http://k/v3', 'tok', 'p1')
    by_trust = clients.token_session('http://k/v3', 'tok', 'p1',
                                     trust_id='t1')
    assert by_project.auth.project_id == 'p1'
    assert by_project.auth.trust_id is None
    assert by_trust.auth.trust_id == 't1'
    assert by_trust.auth.project_id is None
