import pytest

from rescuer import exceptions
from rescuer import sites
from tests.unit import helpers


def test_load_reads_sites_and_resolves_clouds_file(tmp_path):
    registry = sites.Registry.load(helpers.write_registry(tmp_path))

    assert registry.names() == ['site-a', 'site-b']
    site_b = registry.get('site-b')
    assert (site_b.cloud, site_b.region, site_b.country, site_b.role) == (
        'rescuer-site-b', 'RegionB', 'FR', 'recovery')
    assert site_b.clouds_file == (tmp_path / 'clouds.yaml').resolve()


def test_load_uses_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv('RESCUER_SITES_FILE',
                       str(helpers.write_registry(tmp_path)))
    assert sites.Registry.load().names() == ['site-a', 'site-b']


def test_unknown_site_names_what_is_known(tmp_path):
    registry = sites.Registry.load(helpers.write_registry(tmp_path))
    with pytest.raises(exceptions.UnknownSite) as info:
        registry.get('site-z')
    assert str(info.value) == ("unknown site: site-z; the DR site registry "
                               "knows: site-a, site-b")


def test_select_reports_every_unknown_name(tmp_path):
    registry = sites.Registry.load(helpers.write_registry(tmp_path))
    assert [s.name for s in registry.select(['site-b', 'site-a'])] == [
        'site-b', 'site-a']
    with pytest.raises(exceptions.UnknownSite, match='site-x, site-y'):
        registry.select(['site-a', 'site-x', 'site-y'])


def test_missing_registry_file_is_a_clear_error(tmp_path):
    with pytest.raises(exceptions.RegistryError,
                       match='cannot read the DR site registry .*nope.yaml'):
        sites.Registry.load(tmp_path / 'nope.yaml')


@pytest.mark.parametrize('text, message', [
    ('sites: [', 'not valid YAML'),
    ('[]', 'non-empty "sites" mapping'),
    ('sites: {}', 'non-empty "sites" mapping'),
    ('sites: {a: {cloud: c}}', '"clouds_file" is missing'),
    ('clouds_file: c.yaml\nsites: {a: {region: R}}', "site 'a' needs a"),
    ('clouds_file: c.yaml\nsites: {a: {cloud: c, password: x}}',
     "unknown keys: password"),
    ('clouds_file: c.yaml\nstore_keep: 0\nsites: {a: {cloud: c}}',
     'store_keep must be a whole number'),
])
def test_malformed_registry_is_refused(tmp_path, text, message):
    path = tmp_path / 'sites.yaml'
    path.write_text(text)
    with pytest.raises(exceptions.RegistryError, match=message):
        sites.Registry.load(path)
