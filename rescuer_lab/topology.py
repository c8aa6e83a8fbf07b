"""What the lab runs: its sites and each site's services, as data.

Every listener is on 127.0.0.1.  A site's ports are its ``port_base`` plus the
service's usual OpenStack port, so site-a's Keystone is on 25000 and
site-b's on 35000 by default.
"""

import dataclasses
import os

HOST = '127.0.0.1'

# Offsets added to a site's port base: the services' usual port numbers.
KEYSTONE_PORT = 5000
HEAT_API_PORT = 8004
MISTRAL_API_PORT = 8989
PLACEMENT_PORT = 8778
NOVA_API_PORT = 8774
GLANCE_PORT = 9292
CINDER_PORT = 8776
NEUTRON_PORT = 9696

# Keystone catalog: (service name, type, port offset, path) of every API a
# site runs besides Keystone itself.
CATALOG = (
    ('heat', 'orchestration', HEAT_API_PORT, '/v1/%(tenant_id)s'),
    ('placement', 'placement', PLACEMENT_PORT, ''),
    ('nova', 'compute', NOVA_API_PORT, '/v2.1'),
    ('glance', 'image', GLANCE_PORT, ''),
    ('cinderv3', 'volumev3', CINDER_PORT, '/v3/%(project_id)s'),
    ('cinder', 'block-storage', CINDER_PORT, '/v3/%(project_id)s'),
    ('neutron', 'network', NEUTRON_PORT, ''),
)
MISTRAL_CATALOG = ('mistral', 'workflowv2', MISTRAL_API_PORT, '/v2')

# Service users (project `service`, role admin) every site has.
SERVICE_USERS = ('heat', 'placement', 'nova', 'glance', 'cinder', 'neutron')


@dataclasses.dataclass(frozen=True)
class Site:
    name: str
    region: str
    port_base: int
    runs_mistral: bool
    # Declared attributes of the site, published in the DR site registry.
    country: str
    location: str
    # The external (flat) network's subnet: a documentation range that only
    # lives in Neutron's database; no packet is ever sent to it.
    external_cidr: str

    @property
    def short(self):
        """``site-a`` -> ``site_a``: safe in database and vhost names."""
        return self.name.replace('-', '_')

    def port(self, offset):
        return self.port_base + offset

    def url(self, offset, path=''):
        return 'http://%s:%d%s' % (HOST, self.port(offset), path)

    @property
    def keystone_url(self):
        return self.url(KEYSTONE_PORT, '/v3')

    @property
    def heat_url(self):
        return self.url(HEAT_API_PORT, '/v1/%(tenant_id)s')

    @property
    def mistral_url(self):
        return self.url(MISTRAL_API_PORT, '/v2')

    @property
    def catalog(self):
        return CATALOG + ((MISTRAL_CATALOG,) if self.runs_mistral else ())

    @property
    def service_users(self):
        return SERVICE_USERS + (('mistral',) if self.runs_mistral else ())

    @property
    def databases(self):
        names = ['keystone', 'heat', 'placement', 'nova_api', 'nova',
                 'nova_cell0', 'glance', 'cinder', 'neutron']
        if self.runs_mistral:
            names.append('mistral')
        return ['%s_%s' % (self.short, name) for name in names]

    @property
    def peer(self):
        """The other lab site: where this site's volumes replicate to."""
        return next(s for s in SITES if s.name != self.name)

    @property
    def vhost(self):
        return 'rescuer-%s' % self.name


def _port_base(env_name, default):
    return int(os.environ.get(env_name, default))


def heat_engine_workers():
    """heat-engine processes a site (``RESCUER_LAB_HEAT_ENGINE_WORKERS``,
    1 by default)."""
    text = os.environ.get('RESCUER_LAB_HEAT_ENGINE_WORKERS', '1')
    if not text.isdigit() or not 1 <= int(text) <= 8:
        raise RuntimeError('RESCUER_LAB_HEAT_ENGINE_WORKERS must be a '
                           'whole number from 1 to 8, not %r' % text)
    return int(text)


SITES = (
    Site(name='site-a', region='RegionA', country='DE',
         location='Frankfurt',
         port_base=_port_base('RESCUER_LAB_SITE_A_PORT_BASE', 20000),
         runs_mistral=False, external_cidr='198.51.100.0/24'),
    Site(name='site-b', region='RegionB', country='FR',
         location='Paris',
         port_base=_port_base('RESCUER_LAB_SITE_B_PORT_BASE', 30000),
         runs_mistral=True, external_cidr='203.0.113.0/24'),
)


def site(name):
    for candidate in SITES:
        if candidate.name == name:
            return candidate
    raise KeyError('unknown lab site %r (the lab has: %s)'
                   % (name, ', '.join(s.name for s in SITES)))


# Packages the lab's own virtualenv holds (pinned by upper-constraints.txt).
SERVICE_PACKAGES = (
    'openstack-heat',
    'mistral',
    'mistral-extra',
    'mistral-lib',
    'keystone',
    'openstack-placement',
    'nova',
    'glance',
    'cinder',
    'neutron',
    'networking-sfc',
    'python-openstackclient',
    'uwsgi',
    'PyMySQL',
)
