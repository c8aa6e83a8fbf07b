"""What every lab site offers its tenants once its services run.

- flavors ``m1.tiny`` and ``m1.small``;
- image ``lab-image`` (raw, 1 MiB, the same bytes at both sites - different
  IDs, as two real clouds would have);
- the external flat network ``public`` with a subnet in a documentation
  range (it exists in Neutron's database only);
- volume types ``lab`` (the default) and ``lab-replicated`` (replication
  enabled), group types ``lab-group`` and ``lab-group-replicated``.

Everything looks before it creates, so this runs on every ``up``.
"""

import hashlib
import ipaddress

from rescuer_lab import identity

IMAGE_NAME = 'lab-image'
FLAVORS = (('m1.tiny', 1, 512, 1), ('m1.small', 1, 2048, 10))
VOLUME_TYPES = (
    ('lab', {'volume_backend_name': 'lab'}),
    ('lab-replicated', {'volume_backend_name': 'lab',
                        'replication_enabled': '<is> True'}),
)
GROUP_TYPES = (
    ('lab-group', {}),
    ('lab-group-replicated',
     {'consistent_group_replication_enabled': '<is> True'}),
)


# What the fake hypervisor and the lab backend can hold, as the DR site
# registry's capacity hints.
# One nova-compute per site (the fake driver without fake nodes): one
# compute host.
CAPACITY = {'instances': 50, 'vcpus': 100, 'ram_mb': 102400,
            'volumes_gb': 500, 'hosts': 1}


def default_mappings():
    """The registry's default mappings: same-named images, flavors and
    external network exist at both lab sites."""
    return {'images': {IMAGE_NAME: IMAGE_NAME},
            'flavors': {name: name for name, _, _, _ in FLAVORS},
            'networks': {'public': 'public'},
            'availability_zones': {'nova': 'nova'}}


def image_bytes():
    """1 MiB of deterministic, non-zero bytes."""
    block = hashlib.sha256(b'rescuer lab image').digest()
    return block * (1024 * 1024 // len(block))


def _flavors(conn):
    for name, vcpus, ram, disk in FLAVORS:
        if conn.compute.find_flavor(name, ignore_missing=True) is None:
            conn.compute.create_flavor(name=name, vcpus=vcpus, ram=ram,
                                       disk=disk, is_public=True)


def _image(conn):
    image = conn.image.find_image(IMAGE_NAME, ignore_missing=True)
    if image is not None and image.status == 'active':
        return
    if image is not None:
        conn.image.delete_image(image)
    conn.create_image(IMAGE_NAME, data=image_bytes(), disk_format='raw',
                      container_format='bare', visibility='public',
                      wait=True, timeout=120)


def _external_network(conn, site):
    network = conn.network.find_network('public', ignore_missing=True)
    if network is None:
        network = conn.network.create_network(
            name='public', is_router_external=True,
            provider_network_type='flat', provider_physical_network='public')
    if conn.network.find_subnet('public-subnet', ignore_missing=True):
        return
    cidr = ipaddress.ip_network(site.external_cidr)
    hosts = list(cidr.hosts())
    conn.network.create_subnet(
        name='public-subnet', network_id=network.id, ip_version=4,
        cidr=str(cidr), gateway_ip=str(hosts[0]), is_dhcp_enabled=False,
        allocation_pools=[{'start': str(hosts[9]), 'end': str(hosts[-1])}])


def _volume_types(conn):
    existing = {t.name for t in conn.block_storage.types()}
    for name, specs in VOLUME_TYPES:
        if name not in existing:
            conn.block_storage.create_type(name=name, extra_specs=specs,
                                           is_public=True)
    existing = {t.name for t in conn.block_storage.group_types()}
    for name, specs in GROUP_TYPES:
        if name not in existing:
            conn.block_storage.create_group_type(name=name,
                                                 group_specs=specs)


def ensure(site, secrets):
    conn = identity.admin_connection(site, secrets)
    try:
        _flavors(conn)
        _volume_types(conn)
        _external_network(conn, site)
        _image(conn)
    finally:
        conn.close()
