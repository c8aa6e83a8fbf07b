"""The DR site registry: which clouds Rescuer may act on, and their traits.

The registry is a YAML file (``$RESCUER_SITES_FILE``, default
``/etc/rescuer/sites.yaml``)::

    clouds_file: clouds.yaml        # relative to this file
    sites:
      site-a:
        cloud: rescuer-site-a       # a cloud in clouds_file
        region: RegionA
        country: DE                 # declared attributes, for geo rules
        role: primary

Credentials are never in the registry; they live in the clouds file, which
is read by openstacksdk's own loader.
"""

import dataclasses
import os
import pathlib
import typing

import yaml

from rescuer import exceptions

DEFAULT_REGISTRY = '/etc/rescuer/sites.yaml'
SITE_KEYS = (CLOUD, REGION, COUNTRY, ROLE, LOCATION, CAPACITY, MAPPINGS,
             STORAGE) = (
    'cloud', 'region', 'country', 'role', 'location', 'capacity',
    'mappings', 'storage')
MAPPING_KINDS = ('images', 'flavors', 'networks', 'availability_zones',
                 'key_pairs')


@dataclasses.dataclass(frozen=True)
class Site:
    name: str
    cloud: str
    region: typing.Optional[str]
    country: typing.Optional[str]
    role: typing.Optional[str]
    clouds_file: pathlib.Path
    location: typing.Optional[str] = None
    # Capacity hints, e.g. {instances: 50, vcpus: 100, ram_mb: ...}.
    capacity: typing.Dict[str, int] = dataclasses.field(default_factory=dict)
    # Default mappings for groups recovering here: {kind: {source: target}}.
    mappings: typing.Dict[str, typing.Dict[str, str]] = dataclasses.field(
        default_factory=dict)
    # Storage facts for taking replicas over at failover:
    # {manage_host: cinder host@backend#pool, replica_ref: {key: format}},
    # the format naming {primary_site} and {volume_id}.
    storage: typing.Dict[str, typing.Any] = dataclasses.field(
        default_factory=dict)


class Registry:
    def __init__(self, sites, store_dir=None, store_keep=10):
        self._sites = {site.name: site for site in sites}
        # Where this DR site's Rescuer keeps captures and reports, and how
        # many captures of each group it keeps.
        self.store_dir = store_dir
        self.store_keep = store_keep

    @classmethod
    def load(cls, path=None):
        path = pathlib.Path(path or os.environ.get('RESCUER_SITES_FILE')
                            or DEFAULT_REGISTRY)
        try:
            with open(path) as f:
                document = yaml.safe_load(f)
        except OSError as exc:
            raise exceptions.RegistryError(
                'cannot read the DR site registry %s: %s'
                % (path, exc.strerror))
        except yaml.YAMLError as exc:
            raise exceptions.RegistryError(
                'the DR site registry %s is not valid YAML: %s' % (path, exc))
        sites = _parse(document, path)
        store_dir = document.get('store_dir')
        keep = document.get('store_keep', 10)
        if not isinstance(keep, int) or keep < 1:
            raise exceptions.RegistryError(
                '%s: store_keep must be a whole number of captures, at '
                'least 1' % path)
        return cls(sites,
                   store_dir=(path.parent / store_dir).resolve()
                   if store_dir else None, store_keep=keep)

    def get(self, name):
        try:
            return self._sites[name]
        except KeyError:
            raise exceptions.UnknownSite(name, self._sites)

    def select(self, names):
        """The sites called ``names``, in that order; all must exist."""
        unknown = [name for name in names if name not in self._sites]
        if unknown:
            raise exceptions.UnknownSite(', '.join(map(str, unknown)),
                                         self._sites)
        return [self._sites[name] for name in names]

    def names(self):
        return sorted(self._sites)

    def __iter__(self):
        return iter(self._sites[name] for name in self.names())


def _parse(document, path):
    if not isinstance(document, dict) or not isinstance(
            document.get('sites'), dict) or not document['sites']:
        raise exceptions.RegistryError(
            '%s: expected a mapping with a non-empty "sites" mapping' % path)
    clouds_file = document.get('clouds_file')
    if not clouds_file:
        raise exceptions.RegistryError('%s: "clouds_file" is missing' % path)
    clouds_path = (path.parent / clouds_file).resolve()
    sites = []
    for name, spec in document['sites'].items():
        if not isinstance(spec, dict) or not spec.get(CLOUD):
            raise exceptions.RegistryError(
                '%s: site %r needs a "cloud" (a cloud name in %s)'
                % (path, name, clouds_path))
        unknown = set(spec) - set(SITE_KEYS)
        if unknown:
            raise exceptions.RegistryError(
                '%s: site %r has unknown keys: %s'
                % (path, name, ', '.join(sorted(unknown))))
        mappings = spec.get(MAPPINGS) or {}
        bad_kinds = set(mappings) - set(MAPPING_KINDS)
        if not isinstance(mappings, dict) or bad_kinds:
            raise exceptions.RegistryError(
                '%s: site %r: mappings are a mapping of %s'
                % (path, name, ', '.join(MAPPING_KINDS)))
        sites.append(Site(name=str(name), cloud=spec[CLOUD],
                          region=spec.get(REGION),
                          country=spec.get(COUNTRY), role=spec.get(ROLE),
                          clouds_file=clouds_path,
                          location=spec.get(LOCATION),
                          capacity=dict(spec.get(CAPACITY) or {}),
                          mappings={kind: dict(mappings.get(kind) or {})
                                    for kind in MAPPING_KINDS},
                          storage=dict(spec.get(STORAGE) or {})))
    return sites
