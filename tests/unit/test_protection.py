import pytest

from rescuer import protection
from rescuer import sites
from tests.unit import helpers


@pytest.fixture
def site_b(tmp_path):
    registry = helpers.write_registry(tmp_path, sites={
        'site-b': {'cloud': 'c', 'country': 'FR',
                   'mappings': {'images': {'cirros': 'cirros-dr'},
                                'flavors': {'small': 'small'}}}})
    return sites.Registry.load(registry).get('site-b')


def test_default_sync_interval_is_half_the_rpo_with_a_floor():
    assert protection.default_sync_interval(300) == 150
    assert protection.default_sync_interval(12) == 10


def test_geo_rules(site_b):
    assert protection.geo_problems(site_b, ['DE', 'FR']) == []
    assert protection.geo_problems(site_b, ['DE']) == [
        'site site-b is in FR, and the group allows only DE']
    assert protection.geo_problems(site_b, None, ['site-c']) == [
        'site site-b is not among the allowed sites (site-c)']


def test_site_without_country_fails_a_country_rule(tmp_path):
    registry = helpers.write_registry(tmp_path,
                                      sites={'x': {'cloud': 'c'}})
    site = sites.Registry.load(registry).get('x')
    assert protection.geo_problems(site, ['DE']) == [
        'site x declares no country, and the group allows only DE']


def test_intervals():
    assert protection.interval_problems(300, 600, 150) == []
    assert protection.interval_problems(300, 600, 400) == [
        'a sync every 400 s cannot meet an RPO of 300 s']
    assert protection.interval_problems(300, 600, 5) == [
        'a sync interval under 10 s is not supported']


def test_group_mappings_override_registry_defaults(site_b):
    mappings = protection.merged_mappings(
        site_b, {'images': {'cirros': 'other'}, 'networks': {'n': 'm'}})
    assert mappings['images'] == {'cirros': 'other'}
    assert mappings['flavors'] == {'small': 'small'}
    assert mappings['networks'] == {'n': 'm'}
    assert mappings['availability_zones'] == {}


def test_unmapped_names_are_listed_together(site_b):
    mappings = protection.merged_mappings(site_b)
    missing = protection.unmapped(mappings, {
        'images': {'cirros', 'ubuntu', 'debian'}, 'flavors': {'small'}})
    assert missing == {'images': ['debian', 'ubuntu']}
    assert protection.describe_unmapped(missing, site_b.name) == (
        'no mapping at site site-b for images debian, ubuntu')


def test_registry_refuses_unknown_mapping_kinds(tmp_path):
    from rescuer import exceptions
    registry = helpers.write_registry(tmp_path, sites={
        'x': {'cloud': 'c', 'mappings': {'keypairs': {}}}})
    with pytest.raises(exceptions.RegistryError, match='mappings are'):
        sites.Registry.load(registry)
