"""Capture a protection group's state at its primary site.

One capture is one point-in-time document: Heat's view of the stack
(template, parameters, resources with physical ids) plus the live details
recovery needs, read from Nova, Neutron, Cinder and Glance.  Every service
is read with list calls, never one call per resource: a fixed number, plus
one per ``FILTER_CHUNK`` members of a kind beyond the first (the document
records its call count).  Neutron's lists (and Glance's) are filtered at
the service by the group's ids, so a capture reads the group's ports,
networks, subnets and security groups, not the whole project's: with many
groups in one project, an unfiltered port list cost each capture the ports
of every other group.  Nova and Cinder cannot filter by a list of ids, so
the project's servers and volumes are read, only when the group has any,
and to their last page (``PAGE_LIMIT`` a call): a first page alone would
miss members once a project has more than the service's cap (1000; 25 for
Glance's images).

A capture keeps, of each record the services return, only the fields an
allow-list names for its kind (:data:`KINDS`): those Rescuer reads
(rendering, failover, failback, backups, reports) and those recovery of
network services will read, never the rest - no user data (a server
records only whether it has some, ``has_user_data``), admin password, key
material, links, or the services' own bookkeeping.  Free-form values
(metadata, the stack's template and parameters) are kept without any key
named like a secret, at any depth; hidden template parameters are left
out, with their defaults.

:func:`verify` refuses a document that is not whole: a wrong checksum,
and a field of the wrong type or missing where Rescuer reads it - so that
a stored capture, whatever it holds, fails there with a clear error and
never later, inside the renderer or a workflow.

The document (schema version 1)::

    {schema_version, capture_id, site, group, captured_at, api_calls,
     stack: {id, name, status, template, parameters, outputs},
     resources: [{name, type, physical_id, status}],
     servers, flavors, images, networks, subnets, ports, security_groups,
     floating_ips, server_groups, volumes,
     port_pairs, port_pair_groups, flow_classifiers, port_chains,
     checksum}
"""

import datetime
import hashlib
import json
import uuid

from keystoneauth1 import exceptions as ks_exc

from rescuer import clients
from rescuer import exceptions

SCHEMA_VERSION = 1
# Ids per filtered list call: 50 UUIDs keep the request line near 2 kB,
# well inside the limits of the web servers in front of the APIs.
FILTER_CHUNK = 50
# Records asked for per page of Nova's, Cinder's and Glance's lists: their
# default caps ([api] max_limit, osapi_max_limit, api_limit_max).  Glance
# returns only 25 images a page unless asked for more.  A list is read to
# its end however low a site's cap: the next page is asked for while the
# service says there is one.
PAGE_LIMIT = 1000
# Never copied into a capture, wherever they appear.
SECRET_KEYS = frozenset((
    'user_data', 'adminPass', 'admin_pass', 'password', 'key_data',
    'private_key', 'secret', 'token', 'auth_token',
    'OS-EXT-SRV-ATTR:user_data'))
# Where Nova shows a server's user data (to an admin, from 2.3).
USER_DATA_KEYS = ('OS-EXT-SRV-ATTR:user_data', 'user_data')


class CountingAPI:
    """Keystoneauth GETs against one site, counted."""

    def __init__(self, session, site):
        self.session = session
        self.site = site
        self.calls = 0

    def get(self, service_type, path, headers=None):
        self.calls += 1
        try:
            response = self.session.get(path, endpoint_filter={
                'service_type': service_type, 'interface': 'public',
                'region_name': self.site.region}, headers=headers)
        except clients.UNREACHABLE as exc:
            raise clients.unreachable(self.site, exc)
        except ks_exc.NotFound:
            raise exceptions.NotFound('%s %s: not found at site %s' % (
                service_type, path, self.site.name))
        except ks_exc.HttpError as exc:
            raise exceptions.RemoteError(self.site.name, 'GET', path,
                                         exc.http_status, exc.message)
        return response.json()


def _scrub(value):
    """A copy of the JSON value ``value`` without secret keys, at any
    depth."""
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()
                if k not in SECRET_KEYS}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


# ------------------------------------------- what a capture keeps, typed
# One declaration serves both ends: :func:`_kept` keeps of a record only
# the fields its kind declares, and :func:`verify` checks that each field
# Rescuer reads has the type declared.  A stored capture may hold fields
# no longer declared (one taken before the allow-list): they are ignored.


def _type_name(value):
    if value is None:
        return 'null'
    for types, name in ((bool, 'a boolean'), (int, 'an integer'),
                        (float, 'a number'), (str, 'a string'),
                        (list, 'a list'), (dict, 'an object')):
        if isinstance(value, types):
            return name
    return type(value).__name__


class _Malformed(Exception):
    """Raised inside the checks; :func:`verify` names the capture."""


def _at(where, key):
    """The path of ``key`` in the object at ``where`` (servers[0].id)."""
    return '%s.%s' % (where, key) if where else key


class _Spec:
    expected = 'anything'

    def matches(self, value):
        """Whether ``value`` is of this spec's outer type."""
        return True

    def keep(self, value):
        return value

    def check(self, value, where):
        if not self.matches(value):
            raise _Malformed('%s is %s, expected %s' % (
                where, _type_name(value), self.expected))


class _Scalar(_Spec):
    def __init__(self, types, expected):
        self.types, self.expected = types, expected

    def matches(self, value):
        # JSON's true is no integer, whatever Python says.
        return isinstance(value, self.types) and not (
            isinstance(value, bool) and bool not in self.types)


class _Time(_Scalar):
    """An ISO 8601 time, as :func:`rescuer.groups.parse_time` reads it."""

    def __init__(self):
        super().__init__((str,), 'an ISO 8601 time')

    def matches(self, value):
        if not isinstance(value, str):
            return False
        try:
            datetime.datetime.fromisoformat(value)
        except ValueError:
            return False
        return True


class _Any(_Spec):
    """Any JSON value (free-form: kept without secret keys)."""

    def keep(self, value):
        return _scrub(value)


class _List(_Spec):
    expected = 'a list'

    def __init__(self, item):
        self.item = item

    def matches(self, value):
        return isinstance(value, list)

    def keep(self, value):
        if not isinstance(value, list):
            return value    # left for verify() to refuse
        return [self.item.keep(v) for v in value]

    def check(self, value, where):
        super().check(value, where)
        for index, item in enumerate(value):
            self.item.check(item, '%s[%d]' % (where, index))


class _Map(_Spec):
    """An object with keys of its own (metadata): any key but a secret's,
    every value of one spec."""
    expected = 'an object'

    def __init__(self, value):
        self.value = value

    def matches(self, value):
        return isinstance(value, dict)

    def keep(self, value):
        if not isinstance(value, dict):
            return value
        return {k: self.value.keep(v) for k, v in value.items()
                if k not in SECRET_KEYS}

    def check(self, value, where):
        super().check(value, where)
        for key, item in value.items():
            self.value.check(item, _at(where, key))


class _Record(_Spec):
    """An API record: only the ``fields`` declared are kept; those in
    ``required`` must be there, and one at least of ``one_of``."""
    expected = 'an object'

    def __init__(self, fields, required=(), one_of=()):
        self.fields = fields
        self.required = required
        self.one_of = one_of

    def matches(self, value):
        return isinstance(value, dict)

    def keep(self, value):
        if not isinstance(value, dict):
            return value
        return {k: spec.keep(value[k]) for k, spec in self.fields.items()
                if k in value}

    def check(self, value, where):
        super().check(value, where)
        missing = [k for k in self.required if k not in value]
        if missing:
            raise _Malformed('%s has no %s' % (
                where or 'the capture', ', '.join(missing)))
        if self.one_of and not any(k in value for k in self.one_of):
            raise _Malformed('%s has none of %s' % (
                where or 'the capture', ', '.join(self.one_of)))
        for key, spec in self.fields.items():
            if key in value:
                spec.check(value[key], _at(where, key))


class _Either(_Spec):
    """One of ``specs``, told apart by their outer type."""

    def __init__(self, *specs):
        self.specs = specs
        self.expected = ' or '.join(s.expected for s in specs)

    def _spec(self, value):
        return next((s for s in self.specs if s.matches(value)), None)

    def matches(self, value):
        return self._spec(value) is not None

    def keep(self, value):
        spec = self._spec(value)
        return value if spec is None else spec.keep(value)

    def check(self, value, where):
        spec = self._spec(value)
        if spec is None:
            super().check(value, where)
        spec.check(value, where)


STR = _Scalar((str,), 'a string')
INT = _Scalar((int,), 'an integer')
BOOL = _Scalar((bool,), 'a boolean')
NULL = _Scalar((type(None),), 'null')
ANY = _Any()
STRS = _List(STR)
FREE = _Map(ANY)    # a service's own parameters (l7_parameters, ...)


def _optional(spec):
    return _Either(spec, NULL)


TEXT = _optional(STR)
OPT_INT = _optional(INT)


_FIXED_IP = _Record({'subnet_id': STR, 'ip_address': STR},
                    required=('subnet_id', 'ip_address'))
_ROUTE = _Record({'destination': STR, 'nexthop': STR},
                 required=('destination', 'nexthop'))

# Each kind of record a capture holds: the fields kept, with their types.
# Fields read today - by rescuer.render and the templates, failover,
# failback, switchover, backups, ownership, the Mistral actions and the
# reports - are marked required where they read them unconditionally; the
# others are kept for the recovery of network services (port security,
# address pairs, VNIC types, routers, server group rules, key pairs,
# config drives).
RESOURCE = _Record({'name': STR, 'type': STR, 'physical_id': TEXT,
                    'status': TEXT},
                   required=('name', 'type', 'physical_id'))
STACK = _Record({'id': STR, 'name': STR, 'status': STR,
                 'template': FREE, 'parameters': FREE,
                 'outputs': _List(_Record({'output_key': STR,
                                           'description': TEXT}))})
SERVER = _Record({
    'id': STR, 'name': TEXT, 'description': TEXT,
    # Nova's flavor: {id} before microversion 2.47, the flavor itself
    # (original_name, sizes, extra_specs) from it.
    'flavor': _Record({'id': STR, 'original_name': STR, 'vcpus': INT,
                       'ram': INT, 'disk': INT, 'ephemeral': INT,
                       'swap': INT, 'extra_specs': _Map(STR)},
                      one_of=('id', 'original_name')),
    # '' for a server booted from a volume.
    'image': _Either(STR, _Record({'id': STR}, required=('id',)), NULL),
    'addresses': _optional(_Map(_List(_Record({
        'addr': STR, 'version': INT, 'OS-EXT-IPS:type': STR,
        'OS-EXT-IPS-MAC:mac_addr': STR}, required=('addr',))))),
    'metadata': _optional(_Map(STR)),
    'OS-EXT-AZ:availability_zone': TEXT,
    'OS-DCF:diskConfig': TEXT,
    'key_name': TEXT,
    'config_drive': _Either(STR, BOOL, NULL),
    # Whether the server has user data (never the data): null when Nova
    # did not say (it does from microversion 2.3, to an admin).
    'has_user_data': _optional(BOOL),
    'security_groups': _List(_Record({'name': STR})),
    'os-extended-volumes:volumes_attached': _List(_Record({
        'id': STR, 'delete_on_termination': BOOL})),
    'tags': STRS,
}, required=('id', 'flavor'))
FLAVOR = _Record({'id': STR, 'name': STR, 'description': TEXT,
                  'vcpus': INT, 'ram': INT, 'disk': INT,
                  'swap': _Either(INT, STR),     # '' for none, before 2.75
                  'OS-FLV-EXT-DATA:ephemeral': INT,
                  'extra_specs': _Map(STR)},
                 required=('id', 'name'))
IMAGE = _Record({'id': STR, 'name': STR, 'checksum': TEXT,
                 'disk_format': TEXT},
                required=('id', 'name'))
NETWORK = _Record({
    'id': STR, 'name': STR, 'description': TEXT,
    'admin_state_up': BOOL, 'router:external': BOOL, 'shared': BOOL,
    'port_security_enabled': BOOL, 'mtu': OPT_INT, 'subnets': STRS,
    'availability_zone_hints': STRS, 'tags': STRS,
    'provider:network_type': TEXT, 'provider:physical_network': TEXT,
    'provider:segmentation_id': OPT_INT,
}, required=('id', 'name'))
SUBNET = _Record({
    'id': STR, 'name': TEXT, 'description': TEXT, 'network_id': STR,
    'cidr': STR, 'ip_version': INT, 'gateway_ip': TEXT,
    'enable_dhcp': BOOL,
    'allocation_pools': _List(_Record({'start': STR, 'end': STR},
                                      required=('start', 'end'))),
    'host_routes': _List(_ROUTE), 'dns_nameservers': STRS,
    'ipv6_ra_mode': TEXT, 'ipv6_address_mode': TEXT, 'tags': STRS,
}, required=('id', 'network_id', 'cidr', 'ip_version', 'gateway_ip',
             'enable_dhcp', 'allocation_pools'))
PORT = _Record({
    'id': STR, 'name': TEXT, 'description': TEXT, 'network_id': STR,
    'device_id': STR, 'device_owner': TEXT, 'admin_state_up': BOOL,
    'mac_address': STR, 'fixed_ips': _List(_FIXED_IP),
    'security_groups': _optional(STRS),
    'port_security_enabled': _optional(BOOL),
    'allowed_address_pairs': _List(_Record({
        'ip_address': STR, 'mac_address': STR}, required=('ip_address',))),
    'binding:vnic_type': TEXT,
    'extra_dhcp_opts': _List(_Record({'opt_name': STR, 'opt_value': ANY,
                                      'ip_version': ANY})),
    'dns_name': TEXT, 'tags': STRS,
}, required=('id', 'network_id', 'device_id', 'mac_address', 'fixed_ips'))
SECURITY_GROUP_RULE = _Record({
    'id': STR, 'description': TEXT, 'direction': STR, 'ethertype': STR,
    'protocol': TEXT, 'port_range_min': OPT_INT, 'port_range_max': OPT_INT,
    'remote_ip_prefix': TEXT, 'remote_group_id': TEXT,
    'remote_address_group_id': TEXT,
}, required=('direction', 'ethertype'))
SECURITY_GROUP = _Record({
    'id': STR, 'name': STR, 'description': TEXT, 'stateful': BOOL,
    'security_group_rules': _List(SECURITY_GROUP_RULE), 'tags': STRS,
}, required=('id', 'name', 'security_group_rules'))
FLOATING_IP = _Record({
    'id': STR, 'floating_ip_address': STR, 'floating_network_id': STR,
    'port_id': STR, 'fixed_ip_address': TEXT, 'description': TEXT,
    'dns_name': TEXT, 'dns_domain': TEXT, 'tags': STRS,
}, required=('id', 'floating_network_id', 'port_id'))
SERVER_GROUP = _Record({
    'id': STR, 'name': TEXT, 'members': STRS,
    # policies before Nova microversion 2.64, policy and rules from it.
    'policies': STRS, 'policy': STR,
    'rules': _Map(ANY),
}, required=('id',), one_of=('policies', 'policy'))
VOLUME = _Record({
    'id': STR, 'name': TEXT, 'description': TEXT, 'size': INT,
    'volume_type': TEXT, 'bootable': _Either(STR, BOOL),
    'availability_zone': TEXT, 'multiattach': BOOL, 'encrypted': BOOL,
    'metadata': _optional(_Map(STR)), 'replication_status': TEXT,
    'attachments': _optional(_List(_Record({
        'server_id': STR, 'device': TEXT, 'attachment_id': TEXT},
        required=('server_id',)))),
    'volume_image_metadata': _optional(_Record({
        'image_id': STR, 'image_name': TEXT, 'checksum': TEXT,
        'disk_format': TEXT, 'container_format': TEXT, 'min_disk': ANY,
        'min_ram': ANY, 'size': ANY})),
}, required=('id', 'size'))
PORT_PAIR = _Record({
    'id': STR, 'name': TEXT, 'description': TEXT, 'ingress': STR,
    'egress': STR, 'service_function_parameters': FREE,
}, required=('id', 'ingress', 'egress'))
PORT_PAIR_GROUP = _Record({
    'id': STR, 'name': TEXT, 'description': TEXT, 'port_pairs': STRS,
    'port_pair_group_parameters': FREE, 'tap_enabled': BOOL,
}, required=('id', 'port_pairs'))
FLOW_CLASSIFIER = _Record({
    'id': STR, 'name': TEXT, 'description': TEXT, 'ethertype': TEXT,
    'protocol': TEXT, 'source_port_range_min': OPT_INT,
    'source_port_range_max': OPT_INT, 'destination_port_range_min': OPT_INT,
    'destination_port_range_max': OPT_INT, 'source_ip_prefix': TEXT,
    'destination_ip_prefix': TEXT, 'logical_source_port': TEXT,
    'logical_destination_port': TEXT, 'l7_parameters': FREE,
}, required=('id',))
PORT_CHAIN = _Record({
    'id': STR, 'name': TEXT, 'description': TEXT,
    'port_pair_groups': STRS, 'flow_classifiers': STRS,
    'chain_parameters': FREE, 'chain_id': OPT_INT,
}, required=('id', 'port_pair_groups', 'flow_classifiers'))
ROUTER = _Record({
    'id': STR, 'name': TEXT, 'description': TEXT, 'admin_state_up': BOOL,
    'external_gateway_info': _optional(_Record({
        'network_id': STR, 'enable_snat': _optional(BOOL),
        'external_fixed_ips': _List(_FIXED_IP)}, required=('network_id',))),
    'routes': _List(_ROUTE), 'distributed': _optional(BOOL),
    'ha': _optional(BOOL), 'availability_zone_hints': STRS, 'tags': STRS,
}, required=('id',))
VOLUME_TYPE = _Record({
    'id': STR, 'name': STR, 'description': TEXT, 'is_public': BOOL,
    'extra_specs': _Map(STR), 'qos_specs_id': TEXT,
}, required=('id', 'name'))

# {kind: record spec}: the lists of records a capture holds.
KINDS = {
    'resources': RESOURCE, 'servers': SERVER, 'flavors': FLAVOR,
    'images': IMAGE, 'networks': NETWORK, 'subnets': SUBNET,
    'ports': PORT, 'security_groups': SECURITY_GROUP,
    'floating_ips': FLOATING_IP, 'server_groups': SERVER_GROUP,
    'volumes': VOLUME, 'port_pairs': PORT_PAIR,
    'port_pair_groups': PORT_PAIR_GROUP,
    'flow_classifiers': FLOW_CLASSIFIER, 'port_chains': PORT_CHAIN,
    'routers': ROUTER, 'router_ports': PORT, 'volume_types': VOLUME_TYPE,
}
# Kinds a capture may lack: those of networking-sfc (captures older than
# their support), and those not captured yet.
OPTIONAL_KINDS = ('port_pairs', 'port_pair_groups', 'flow_classifiers',
                  'port_chains', 'routers', 'router_ports',
                  'volume_types')
DOCUMENT = _Record(dict({
    'schema_version': INT, 'capture_id': STR, 'site': STR,
    'group': TEXT, 'captured_at': _Time(), 'api_calls': INT,
    'stack': STACK, 'checksum': STR,
}, **{kind: _List(spec) for kind, spec in KINDS.items()}), required=(
    'schema_version', 'capture_id', 'site', 'group', 'captured_at',
    'checksum') + tuple(k for k in KINDS if k not in OPTIONAL_KINDS))


def _kept(document):
    """``document`` with, of each record, only the fields its kind's
    allow-list names (and nothing secret in free-form values)."""
    return DOCUMENT.keep(document)


def _references(document):
    """The records the recovery template links together must all be in
    the capture: a port pair's, a flow classifier's and a floating IP's
    ports, a port pair group's pairs, a port chain's groups and
    classifiers."""
    held = {kind: {r['id'] for r in document.get(kind) or ()}
            for kind in ('ports', 'port_pairs', 'port_pair_groups',
                         'flow_classifiers', 'routers')}
    links = [('port_pairs', 'ingress', 'ports'),
             ('port_pairs', 'egress', 'ports'),
             ('flow_classifiers', 'logical_source_port', 'ports'),
             ('flow_classifiers', 'logical_destination_port', 'ports'),
             ('floating_ips', 'port_id', 'ports'),
             ('port_pair_groups', 'port_pairs', 'port_pairs'),
             ('port_chains', 'port_pair_groups', 'port_pair_groups'),
             ('port_chains', 'flow_classifiers', 'flow_classifiers'),
             ('router_ports', 'device_id', 'routers')]
    for kind, field, target in links:
        for index, record in enumerate(document.get(kind) or ()):
            value = record.get(field)
            for linked in value if isinstance(value, list) else [value]:
                if linked is not None and linked not in held[target]:
                    raise _Malformed(
                        '%s[%d].%s names %s %s, which the capture does '
                        'not hold' % (kind, index, field, target[:-1]
                                      .replace('_', ' '), linked))


def checksum(document):
    body = {k: v for k, v in document.items() if k != 'checksum'}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()
                          ).hexdigest()


def _hidden(template):
    return {name for name, spec in (template.get('parameters') or {})
            .items() if isinstance(spec, dict) and spec.get('hidden')}


def _stack_parameters(template, parameters):
    hidden = _hidden(template)
    return {name: value for name, value in parameters.items()
            if name not in hidden and not name.startswith('OS::')}


def _template(template):
    """``template`` without the defaults of its hidden parameters."""
    hidden = _hidden(template)
    if not hidden:
        return template
    parameters = {name: ({k: v for k, v in spec.items() if k != 'default'}
                         if name in hidden else spec)
                  for name, spec in template['parameters'].items()}
    return dict(template, parameters=parameters)


def _server(server):
    """A server as Nova lists it, with whether it has user data
    (``has_user_data``; None when Nova does not say) - the data itself is
    not kept."""
    said = [server[k] for k in USER_DATA_KEYS if k in server]
    return dict(server, has_user_data=bool(any(said)) if said else None)


def _ids(resources, *types):
    return {r['physical_id'] for r in resources if r['type'] in types
            and r['physical_id']}


def _chunks(values):
    """``values`` sorted, in lists of at most ``FILTER_CHUNK``."""
    values = sorted(values)
    return [values[start:start + FILTER_CHUNK]
            for start in range(0, len(values), FILTER_CHUNK)]


def _filtered(api, service_type, path, key, field, values):
    """The ``key`` records of ``path`` whose ``field`` is one of
    ``values``, filtered by the service (``?field=a&field=b``), in calls
    of ``FILTER_CHUNK`` values; none without values.  Sorted by id."""
    found = {}
    for chunk in _chunks(values):
        query = '&'.join('%s=%s' % (field, v) for v in chunk)
        for record in api.get(service_type, '%s?%s' % (path, query))[key]:
            found[record['id']] = record
    return [found[i] for i in sorted(found)]


def _has_next_page(page, key):
    """Nova and Cinder link the next page (``<key>_links``), Glance names
    it (``next``)."""
    return bool(page.get('next')) or any(
        link.get('rel') == 'next' for link in page.get(key + '_links') or ())


def _paged(api, service_type, path, key):
    """Every ``key`` record of the list ``path``, ``PAGE_LIMIT`` a call,
    each next page from the marker of the last record."""
    separator = '&' if '?' in path else '?'
    query = '%s%slimit=%d' % (path, separator, PAGE_LIMIT)
    page = api.get(service_type, query)
    records = list(page[key])
    while page[key] and _has_next_page(page, key):
        page = api.get(service_type, '%s&marker=%s' % (query,
                                                       records[-1]['id']))
        records.extend(page[key])
    return records


def _server_groups(api, servers_ids):
    """The server groups with a member among ``servers_ids``.  Nova pages
    them by offset and links no next page: one is asked for while a page
    is full."""
    found, offset = [], 0
    while True:
        page = api.get('compute', '/os-server-groups?limit=%d&offset=%d'
                       % (PAGE_LIMIT, offset))['server_groups']
        found += [g for g in page if set(g.get('members') or [])
                  & servers_ids]
        if len(page) < PAGE_LIMIT:
            return found
        offset += len(page)


def _images(api, servers):
    """The images the servers were booted from, filtered by id at Glance
    (``FILTER_CHUNK`` a call)."""
    ids = {s['image']['id'] for s in servers
           if isinstance(s.get('image'), dict)}
    found = []
    for chunk in _chunks(ids):
        found += _paged(api, 'image', '/v2/images?id=in:%s' % ','.join(
            chunk), 'images')
    return [{'id': i['id'], 'name': i['name'], 'checksum': i.get('checksum'),
             'disk_format': i.get('disk_format')}
            for i in sorted(found, key=lambda i: i['id'])]


_SFC_TYPES = ('OS::Neutron::PortPair', 'OS::Neutron::PortPairGroup',
              'OS::Neutron::FlowClassifier', 'OS::Neutron::PortChain')


def _service_chains(api, port_ids, member_ids=frozenset()):
    """networking-sfc resources built on the members' ports, or members
    themselves (4 calls)."""
    pairs = [p for p in api.get('network', '/v2.0/sfc/port_pairs')[
        'port_pairs'] if p['ingress'] in port_ids or p['egress'] in port_ids
        or p['id'] in member_ids]
    pair_ids = {p['id'] for p in pairs}
    groups = [g for g in api.get('network', '/v2.0/sfc/port_pair_groups')[
        'port_pair_groups'] if set(g['port_pairs']) & pair_ids
        or g['id'] in member_ids]
    group_ids = {g['id'] for g in groups}
    chains = [c for c in api.get('network', '/v2.0/sfc/port_chains')[
        'port_chains'] if set(c['port_pair_groups']) & group_ids
        or c['id'] in member_ids]
    classifier_ids = {f for c in chains for f in c['flow_classifiers']}
    listed = api.get('network', '/v2.0/sfc/flow_classifiers')
    classifiers = [f for f in listed['flow_classifiers']
                   if f['id'] in classifier_ids or f['id'] in member_ids]
    return {'port_pairs': pairs, 'port_pair_groups': groups,
            'flow_classifiers': classifiers, 'port_chains': chains}


ROUTER_TYPES = ('OS::Neutron::Router',)
# Heat's id of a router interface: <router id>:subnet_id=<id> (or
# port_id=<id>).
INTERFACE_TYPES = ('OS::Neutron::RouterInterface',)
ROUTER_INTERFACE_OWNERS = ('network:router_interface',
                           'network:router_interface_distributed',
                           'network:ha_router_replicated_interface')


def _router_ids(resources):
    """The routers the members are or attach to (an interface's id
    starts with its router's)."""
    return _ids(resources, *ROUTER_TYPES) | {
        i.split(':', 1)[0] for i in _ids(resources, *INTERFACE_TYPES)}


def _routers(api, router_ids):
    """The routers and their interface ports (2 calls a chunk)."""
    routers = _filtered(api, 'network', '/v2.0/routers', 'routers', 'id',
                        router_ids)
    ports = [p for p in _filtered(api, 'network', '/v2.0/ports', 'ports',
                                  'device_id', {r['id'] for r in routers})
             if p.get('device_owner') in ROUTER_INTERFACE_OWNERS]
    return routers, ports


def _chained_port_ids(chains):
    """The ports the service chain records name (a pair's, a
    classifier's logical ports): members' or other groups'."""
    ids = set()
    for pair in chains['port_pairs']:
        ids |= {pair['ingress'], pair['egress']}
    for classifier in chains['flow_classifiers']:
        ids |= {classifier.get('logical_source_port'),
                classifier.get('logical_destination_port')}
    return ids - {None}


def capture_stack(session, site, stack_id, group=None, members=None):
    """Capture the stack ``stack_id`` at ``site``; returns the document.

    :param members: resource names to keep (default: the whole stack).
    """
    api = CountingAPI(session, site)
    stack = api.get('orchestration', '/stacks/%s' % stack_id)['stack']
    if stack['stack_status'].startswith('DELETE'):
        # Its group is being unregistered: a sync now would back up and
        # snapshot volumes that Heat is detaching and deleting.
        raise exceptions.InvalidCapture(
            'stack %s at site %s is %s: nothing to capture'
            % (stack_id, site.name, stack['stack_status']))
    path = '/stacks/%s/%s' % (stack['stack_name'], stack['id'])
    template = api.get('orchestration', path + '/template')
    listed = api.get('orchestration', path + '/resources')['resources']
    resources = [{'name': r['resource_name'], 'type': r['resource_type'],
                  'physical_id': r['physical_resource_id'],
                  'status': r['resource_status']} for r in listed
                 if members is None or r['resource_name'] in members]

    servers_ids = _ids(resources, 'OS::Nova::Server')
    network_ids = _ids(resources, 'OS::Neutron::Net')
    volume_ids = _ids(resources, 'OS::Cinder::Volume',
                      'OS::Rescuer::ReplicatedVolume')
    # Nova and Cinder cannot filter by a list of ids: the project's
    # servers and volumes are read, all pages, only when the group has any.
    servers = [s for s in _paged(api, 'compute', '/servers/detail',
                                 'servers')
               if s['id'] in servers_ids] if servers_ids else []
    flavor_ids = {s['flavor'].get('id') for s in servers}
    member_ports = {p['id']: p for p in _filtered(
        api, 'network', '/v2.0/ports', 'ports', 'device_id', servers_ids) +
        _filtered(api, 'network', '/v2.0/ports', 'ports', 'id',
                  _ids(resources, 'OS::Neutron::Port'))}
    member_port_ids = set(member_ports)
    # The chains on the members' ports, and the other ports they name
    # (those of another group: its copy is used at the DR site).
    chains = _service_chains(api, member_port_ids,
                             _ids(resources, *_SFC_TYPES))
    member_ports.update((p['id'], p) for p in _filtered(
        api, 'network', '/v2.0/ports', 'ports', 'id',
        _chained_port_ids(chains) - member_port_ids))
    member_ports = [member_ports[i] for i in sorted(member_ports)]
    network_ids |= {p['network_id'] for p in member_ports}
    router_ids = _router_ids(resources)
    routers, router_ports = (_routers(api, router_ids) if router_ids
                             else ([], []))
    # A router's subnets and its external network (mapped by name).
    network_ids |= {p['network_id'] for p in router_ports}
    network_ids |= {(r.get('external_gateway_info') or {}).get(
        'network_id') for r in routers} - {None}
    floating_ips = _filtered(api, 'network', '/v2.0/floatingips',
                             'floatingips', 'port_id', member_port_ids)
    # The external networks too: recovery maps them by name.
    network_ids |= {f['floating_network_id'] for f in floating_ips}
    document = {
        'schema_version': SCHEMA_VERSION,
        'capture_id': str(uuid.uuid4()),
        'site': site.name,
        'group': group,
        'captured_at': datetime.datetime.now(
            datetime.timezone.utc).isoformat(),
        'stack': {'id': stack['id'], 'name': stack['stack_name'],
                  'status': stack['stack_status'],
                  'template': _template(template),
                  'parameters': _stack_parameters(
                      template, stack.get('parameters') or {}),
                  'outputs': stack.get('outputs') or []},
        'resources': resources,
        'servers': [_server(s) for s in servers],
        'flavors': [f for f in _paged(api, 'compute', '/flavors/detail',
                                      'flavors')
                    if f['id'] in flavor_ids] if flavor_ids else [],
        'images': _images(api, servers),
        'networks': _filtered(api, 'network', '/v2.0/networks',
                              'networks', 'id', network_ids),
        'subnets': _filtered(api, 'network', '/v2.0/subnets', 'subnets',
                             'network_id', network_ids),
        'ports': member_ports,
        'security_groups': _filtered(
            api, 'network', '/v2.0/security-groups', 'security_groups',
            'id', {g for p in member_ports
                   for g in p.get('security_groups') or []}),
        'floating_ips': floating_ips,
        'server_groups': _server_groups(api, servers_ids)
        if servers else [],
        'volumes': [v for v in _paged(api, 'volumev3', '/volumes/detail',
                                      'volumes')
                    if v['id'] in volume_ids or any(
                        a['server_id'] in servers_ids
                        for a in v.get('attachments') or [])]
        if volume_ids or servers else [],
    }
    document.update(chains)
    if routers:
        document.update(routers=routers, router_ports=router_ports)
    document['api_calls'] = api.calls
    # Of each record, only what its kind's allow-list names.
    document = _kept(document)
    document['checksum'] = checksum(document)
    return document


def verify(document):
    """Raise InvalidCapture unless ``document`` is whole and consistent:
    of this schema version, passing its checksum, every field Rescuer
    reads there and of its type (:data:`DOCUMENT`), and the records the
    recovery template links together all held.  Returns ``document``."""
    if not isinstance(document, dict):
        raise exceptions.InvalidCapture('a capture is a JSON object')
    if document.get('schema_version') != SCHEMA_VERSION:
        raise exceptions.InvalidCapture(
            'unsupported capture schema version %r'
            % document.get('schema_version'))
    if document.get('checksum') != checksum(document):
        raise exceptions.InvalidCapture(
            'capture %s fails its checksum' % document.get('capture_id'))
    try:
        DOCUMENT.check(document, '')
        _references(document)
    except _Malformed as exc:
        raise exceptions.InvalidCapture('capture %s is malformed: %s' % (
            document.get('capture_id'), exc))
    return document
