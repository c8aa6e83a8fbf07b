"""Render a recovery-site HOT template from a capture and the DR site's
mappings (Jinja2, one partial per resource type, under ``templates/``).

Data in, template out: :func:`model` turns a capture into plain data with
every recovery-site value already mapped; the templates only lay it out.
Images and flavors become template parameters whose defaults are the
mapped names, so an operator can still override them at stack create.
Names, addresses and sizes of what the stack itself creates (networks,
subnets, ports with their fixed IPs under the ``keep`` IP policy, volumes,
security group rules) are carried over.

Nothing captured reaches the template as YAML or HOT syntax: captured
values are written as JSON (:func:`yaml_safe_json`), and the names the
templates write bare (resource, parameter and condition names) are safe
ones - a primary's resource name that is not (Heat refuses only ``/`` in
one) is renamed (:func:`safe_name`).  Every rendered template is then
read back and must hold exactly the model's resources, parameters,
conditions and outputs, every reference resolving (:func:`check_rendered`).
"""

import functools
import hashlib
import json
import pathlib
import re

import jinja2
import markupsafe
import yaml

from rescuer import exceptions
from rescuer import protection

TEMPLATES = pathlib.Path(__file__).resolve().parent.parent / 'templates'
MAIN = 'recovery.yaml.j2'
# The model's resources, by kind, and the type the templates give each.
RESOURCE_TYPES = (
    ('networks', 'OS::Neutron::Net'), ('subnets', 'OS::Neutron::Subnet'),
    ('security_groups', 'OS::Neutron::SecurityGroup'),
    ('ports', 'OS::Neutron::Port'),
    ('server_groups', 'OS::Nova::ServerGroup'),
    ('volumes', 'OS::Cinder::Volume'), ('servers', 'OS::Nova::Server'),
    ('attachments', 'OS::Cinder::VolumeAttachment'),
    ('routers', 'OS::Neutron::Router'),
    ('router_interfaces', 'OS::Neutron::RouterInterface'),
    ('router_routes', 'OS::Neutron::ExtraRouteSet'),
    ('floating_ips', 'OS::Neutron::FloatingIP'),
    ('port_pairs', 'OS::Neutron::PortPair'),
    ('port_pair_groups', 'OS::Neutron::PortPairGroup'),
    ('flow_classifiers', 'OS::Neutron::FlowClassifier'),
    ('port_chains', 'OS::Neutron::PortChain'))
# What every recovery template holds besides the model's own.
SECTIONS = ('heat_template_version', 'description', 'parameters',
            'conditions', 'resources', 'outputs')
# What the templates write in a resource: never external_id (adopting
# what exists), deletion_policy or update_policy.
RESOURCE_KEYS = ('type', 'description', 'condition', 'depends_on',
                 'properties')
FIXED_PARAMETERS = ('standby_level', 'port_chains')
FIXED_CONDITIONS = ('warm', 'serving', 'chained')
OUTPUTS = ('capture_id', 'captured_at', 'dr_ids')
# The kinds of resources another group's members may use: a recovery
# template outputs the DR-site id of each it creates (``dr_ids``, by
# primary id), and takes those it uses of other groups as parameters.
SHAREABLE = ('networks', 'subnets', 'security_groups', 'ports',
             'server_groups', 'routers')
# Heat keeps a resource's name in a 255-character column: a longer one
# cannot be a real resource's and is renamed.
MAX_RESOURCE_NAME = 255
# A YAML simple key is at most 1024 characters.
_MAX_BARE = 1000
_SAFE = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_-]*\Z')
# Heat's intrinsic functions, of every HOT and CFN version: Heat reads a
# one-key map with such a key as a call, wherever it is in a resource.
_HEAT_FUNCTIONS = frozenset((
    'and', 'contains', 'digest', 'equals', 'filter', 'get_attr', 'get_file',
    'get_param', 'get_resource', 'if', 'list_concat', 'list_concat_unique',
    'list_join', 'make_url', 'map_merge', 'map_replace', 'not', 'or',
    'repeat', 'resource_facade', 'str_replace', 'str_replace_strict',
    'str_replace_vstrict', 'str_split', 'yaql', 'Ref'))
_RULE_KEYS = ('direction', 'ethertype', 'protocol', 'port_range_min',
              'port_range_max', 'remote_ip_prefix')


# Characters a YAML double-quoted scalar may not hold raw (non-printable,
# line breaks other than those JSON escapes, surrogates, BOM).
_NOT_YAML_PRINTABLE = re.compile(
    '[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]')


def yaml_safe_json(value, **kwargs):
    """JSON text that YAML reads back as the same value: every string a
    double-quoted scalar.  ``json.dumps`` with ``ensure_ascii`` writes a
    character beyond U+FFFF as a surrogate pair, which YAML reads as two
    broken characters; so non-ASCII text stays raw and only what YAML
    cannot hold raw is escaped (``\\uXXXX`` means the same in both)."""
    text = json.dumps(value, ensure_ascii=False, **kwargs)
    return _NOT_YAML_PRINTABLE.sub(
        lambda match: '\\u%04x' % ord(match.group()), text)


def is_safe_name(name, limit=_MAX_BARE):
    """Whether ``name`` may be written bare in a template - as a mapping
    key, a get_resource or get_param argument - and be read back as the
    same string: ``[A-Za-z0-9_-]`` only, not starting with ``-``, nothing
    YAML reads as another type (``yes``, ``null``, ``1_0``, a date)."""
    return (isinstance(name, str) and len(name) <= limit and
            _SAFE.match(name) is not None and _reads_back(name))


@functools.lru_cache(maxsize=4096)
def _reads_back(name):
    try:
        return yaml.safe_load('%s: [%s]' % (name, name)) == {name: [name]}
    except yaml.YAMLError:
        return False


def _digest(value, attempt=0):
    text = json.dumps(value if not attempt else [value, attempt],
                      sort_keys=True, default=repr)
    return hashlib.sha256(text.encode('ascii')).hexdigest()[:12]


def _readable(value):
    """The characters of ``value`` a safe name may keep, runs of others
    as ``_``."""
    text = value if isinstance(value, str) else ''
    return re.sub(r'[^A-Za-z0-9_-]+', '_', text).strip('_-')[:32].strip('_-')


def safe_name(name, attempt=0, limit=MAX_RESOURCE_NAME):
    """``name`` if it is safe, else a deterministic safe name for it: its
    safe characters and a hash of the whole (``attempt`` > 0: another
    one, for a name already taken)."""
    if not attempt and is_safe_name(name, limit):
        return name
    stem = _readable(name)
    if not stem[:1].isalpha():
        stem = 'res_%s' % stem if stem else 'res'
    return '%s_%s' % (stem, _digest(name, attempt))


def _hot_name(value):
    """Jinja2 filter: ``value`` written bare, if it is safe to."""
    if not is_safe_name(value):
        raise jinja2.TemplateRuntimeError(
            '%r is not a name safe to write bare' % (value,))
    return _Bare(value)


class _Bare(str):
    """A name :func:`_hot_name` let through."""


_REF_FUNCTIONS = ('get_resource', 'get_param')


def _hot_ref(value):
    """Jinja2 filter: a reference the model made (``{get_resource:
    name}`` or ``{get_param: name}``) written as a template author
    would, its name checked as :func:`_hot_name` checks it; a list of
    them as a flow list."""
    if isinstance(value, list):
        return _Bare('[%s]' % ', '.join(_hot_ref(v) for v in value))
    if (not isinstance(value, dict) or len(value) != 1 or
            next(iter(value)) not in _REF_FUNCTIONS):
        raise jinja2.TemplateRuntimeError(
            '%r is not a reference the model makes' % (value,))
    (function, target), = value.items()
    return _Bare('{%s: %s}' % (function, _hot_name(target)))


def _hot_literal(value):
    """Jinja2 filter: captured data Heat reads as itself.  A one-key map
    whose key is an intrinsic function's name is built by map_replace
    from one Heat does not call."""
    if isinstance(value, dict):
        value = {key: _hot_literal(item) for key, item in value.items()}
        if len(value) == 1:
            (key, item), = value.items()
            if key in _HEAT_FUNCTIONS or str(key).startswith('Fn::'):
                placeholder = 'rescuer-literal-%s' % key
                return {'map_replace': [{placeholder: item},
                                        {'keys': {placeholder: key}}]}
        return value
    if isinstance(value, list):
        return [_hot_literal(item) for item in value]
    return value


def _finalize(value):
    """Every ``{{ }}`` of the templates writes JSON or a safe name
    (an undefined value fails as such when written)."""
    if isinstance(value, (markupsafe.Markup, _Bare, jinja2.Undefined)):
        return value
    raise jinja2.TemplateRuntimeError(
        'an expression writes %r neither as JSON (tojson) nor as a checked '
        'name (hot_name)' % (value,))


def _environment(path=None):
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(path or TEMPLATES)),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        autoescape=False, finalize=_finalize)
    environment.policies['json.dumps_function'] = yaml_safe_json
    environment.filters['hot_name'] = _hot_name
    environment.filters['hot_literal'] = _hot_literal
    environment.filters['hot_ref'] = _hot_ref
    return environment


def _param_name(prefix, value, attempt=0):
    """A parameter's name for ``value``: readable where that is free,
    with a hash of ``value`` where not (or ``attempt`` > 0)."""
    readable = re.sub(r'[^A-Za-z0-9]+', '_', value if isinstance(
        value, str) else '').strip('_').lower()
    name = '%s_%s' % (prefix, readable)
    if attempt or not readable or len(name) > MAX_RESOURCE_NAME:
        name = '%s_%s' % (prefix, '_'.join(filter(None, (
            readable[:32].strip('_'), _digest(value, attempt)))))
    return name


class _Names:
    """Recovery-site resource names: the primary stack's logical names
    where the capture has them (renamed by :func:`safe_name` where not
    safe, or taken), otherwise <kind>_<n>; each one unique."""

    # Resources whose physical id is another resource's (an attachment's
    # is its volume's): never the name of what they point at.
    _NOT_NAMES = ('OS::Cinder::VolumeAttachment',
                  'OS::Neutron::FloatingIPAssociation')

    def __init__(self, resources):
        primary = {r['physical_id']: r['name'] for r in resources
                   if r['physical_id'] and
                   r.get('type') not in self._NOT_NAMES}
        self.by_id = {}
        self.used = set()
        # {safe name: the primary's name it stands for}
        self.renamed = {}
        self.counters = {}
        others = []
        for physical_id in sorted(primary, key=str):
            original = primary[physical_id]
            if (is_safe_name(original, MAX_RESOURCE_NAME) and
                    original not in self.used):
                self.used.add(original)
                self.by_id[physical_id] = original
            else:
                others.append(physical_id)
        # Renamed after every safe name is taken: never one of those.
        for physical_id in sorted(others, key=lambda i: (
                _digest(primary[i]), str(i))):
            name = self.unique(primary[physical_id])
            self.by_id[physical_id] = name
            self.renamed[name] = primary[physical_id]

    def unique(self, candidate):
        """A safe name for ``candidate`` no resource has, taken."""
        name, attempt = safe_name(candidate), 0
        while name in self.used:
            attempt += 1
            name = safe_name(candidate, attempt)
        self.used.add(name)
        return name

    def __call__(self, kind, physical_id):
        if physical_id in self.by_id:
            return self.by_id[physical_id]
        count = self.counters.get(kind, 0)
        while '%s_%d' % (kind, count) in self.used:
            count += 1
        self.counters[kind] = count + 1
        name = '%s_%d' % (kind, count)
        self.used.add(name)
        self.by_id[physical_id] = name
        return name


def model(capture, mappings, ip_policy='keep', site_name='the DR site',
          held_elsewhere=None):
    """Plain data for the templates; raises Unmapped listing every gap.
    Every resource has a safe name (:class:`_Names`); ``renamed`` maps
    each one that is not the primary's own to the primary's.

    :param held_elsewhere: ``{primary id: group}`` of what other groups
        of the same primary hold (:func:`rescuer.shared.held_elsewhere`):
        a network, subnet, security group, port or server group among
        them is not created here; what uses it refers to a parameter
        (``shared``) that the holder's copy at the DR site fills.  A
        network ``mappings['networks']`` maps by name is not created
        either: a parameter names the mapped one.
    """
    name = _Names(capture['resources'])
    held_elsewhere = held_elsewhere or {}
    missing = {}
    parameters = {}
    param_of = {}
    shared = []

    def new_parameter(prefix, source, spec):
        # Two names that read alike (vnf.large, vnf-large) must not
        # share one parameter: the second gets a hash of its own.
        param, attempt = _param_name(prefix, source), 0
        while param in parameters:
            attempt += 1
            param = _param_name(prefix, source, attempt)
        parameters[param] = dict(spec, name=param)
        return param

    def mapped(kind, source, prefix, fallback=None, what=None):
        """A parameter naming what ``mappings[kind]`` maps ``source``
        to (else ``fallback``; with neither, ``source`` is missing)."""
        target = mappings.get(kind, {}).get(source, fallback)
        if target is None:
            missing.setdefault(kind, set()).add(source)
            return None
        if (prefix, source) not in param_of:
            param_of[prefix, source] = new_parameter(prefix, source, {
                'default': target,
                'description': '%s at the recovery site for %s at the '
                'primary' % (what or prefix, source)})
        return param_of[prefix, source]

    def ref(kind, primary_id, label=None):
        """The recovered copy of the primary's ``primary_id``: this
        stack's resource, or the parameter another group's copy fills."""
        owner = held_elsewhere.get(primary_id)
        if owner is None:
            return {'get_resource': name(kind, primary_id)}
        if ('shared', primary_id) not in param_of:
            label = label or primary_id
            param = new_parameter('shared_%s' % kind, label, {
                'default': '',
                'description': 'DR-site id of the copy of %s %s (%s at '
                'the primary), which group %s holds' % (
                    kind, label, primary_id, owner)})
            param_of['shared', primary_id] = param
            shared.append({'parameter': param, 'kind': kind,
                           'source_id': primary_id, 'label': label,
                           'group': owner})
        return {'get_param': param_of['shared', primary_id]}

    def mine(records):
        return [r for r in records if r['id'] not in held_elsewhere]

    images = {i['id']: i['name'] for i in capture['images']}
    flavors = {f['id']: f['name'] for f in capture['flavors']}
    network_of = {n['id']: n for n in capture['networks']}
    network_maps = mappings.get('networks') or {}
    subnet_names = {s['id']: s.get('name') or s['id']
                    for s in capture['subnets']}

    def is_mapped(network_id):
        """External networks are the site's, mapped - never recreated;
        so is a network the mappings name."""
        network = network_of.get(network_id) or {}
        return bool(network.get('router:external') or (
            network.get('name') and network['name'] in network_maps))

    def net_ref(network_id):
        if is_mapped(network_id):
            return {'get_param': mapped(
                'networks', network_of[network_id]['name'], 'network')}
        return ref('net', network_id, network_of.get(
            network_id, {}).get('name'))

    def fixed_ips(port):
        found = []
        for ip in port['fixed_ips']:
            address = ip['ip_address'] if ip_policy == 'keep' else None
            if not is_mapped(port['network_id']):
                found.append({'subnet': ref('subnet', ip['subnet_id'],
                                            subnet_names.get(
                                                ip['subnet_id'])),
                              'ip_address': address})
            elif address:
                # The mapped network's subnets are the DR site's:
                # Neutron finds the one of the kept address (under the
                # new IP policy, Neutron allocates one: nothing to say).
                found.append({'subnet': None, 'ip_address': address})
        return found

    networks = sorted((n for n in mine(capture['networks'])
                       if not is_mapped(n['id'])),
                      key=lambda n: n['name'] or '')
    subnets = sorted((s for s in mine(capture['subnets'])
                      if not is_mapped(s['network_id'])),
                     key=lambda s: s['cidr'])
    all_ports = capture['ports']
    ports = sorted(mine(all_ports), key=lambda p: name('port', p['id']))
    used_groups = {g for p in ports for g in p.get('security_groups') or []}
    kept_groups = {g['id']: g for g in capture['security_groups']
                   if g['id'] in used_groups and g['name'] != 'default'}
    groups = mine(kept_groups.values())

    def rule(group, captured):
        """A rule as the recovery template writes it.  A rule from the
        members of a group (remote_group_id) stays one: from its own
        group, from the copy of another recovered here or by another
        group; a rule from a group not recovered (the project's default
        group) is left out - never widened to any address."""
        written = {k: captured[k] for k in _RULE_KEYS
                   if captured.get(k) is not None}
        remote = captured.get('remote_group_id')
        if not remote:
            return written
        written['remote_mode'] = 'remote_group_id'
        if remote == group['id']:
            return written      # Heat: the group itself
        if remote in kept_groups or remote in held_elsewhere:
            written['remote_group_id'] = ref(
                'secgroup', remote, (kept_groups.get(remote) or {}).get(
                    'name'))
            return written
        return None

    out = {
        'networks': [{'name': name('net', n['id']),
                      'source_id': n['id'],
                      'net_name': n['name'],
                      'admin_state_up': n.get('admin_state_up', True),
                      'port_security_enabled': _false_or_none(
                          n.get('port_security_enabled'))}
                     for n in networks],
        'subnets': [{'name': name('subnet', s['id']),
                     'source_id': s['id'],
                     'network': net_ref(s['network_id']),
                     'cidr': s['cidr'], 'ip_version': s['ip_version'],
                     'gateway_ip': s['gateway_ip'],
                     'enable_dhcp': s['enable_dhcp'],
                     'allocation_pools': s['allocation_pools']}
                    for s in subnets],
        'security_groups': [{
            'name': name('secgroup', g['id']),
            'source_id': g['id'],
            'description': g.get('description') or '',
            'rules': sorted(
                filter(None, (rule(g, r) for r in g['security_group_rules'])),
                key=lambda r: sorted((k, str(v)) for k, v in r.items()))}
            for g in sorted(groups, key=lambda g: name('secgroup', g['id']))],
        'ports': [{
            'name': name('port', p['id']),
            'source_id': p['id'],
            'network': net_ref(p['network_id']),
            'fixed_ips': fixed_ips(p),
            'security_groups': [
                ref('secgroup', g, kept_groups[g]['name'])
                for g in p.get('security_groups') or []
                if g in kept_groups],
            'mac_address': p['mac_address'] if ip_policy == 'keep' else None,
            'port_security_enabled': _false_or_none(
                p.get('port_security_enabled')),
            'allowed_address_pairs': _address_pairs(p, ip_policy),
            'vnic_type': _vnic_type(p)}
            for p in ports],
        'server_groups': [{'name': name('server_group', g['id']),
                           'source_id': g['id'],
                           'policies': g.get('policies') or
                           [g.get('policy')]}
                          for g in mine(capture['server_groups'])],
    }

    volumes, attachments, boot_volume = [], [], {}
    conditions, volume_ref = [], {}
    for v in sorted(capture['volumes'], key=lambda v: name('volume',
                                                           v['id'])):
        image_meta = v.get('volume_image_metadata') or {}
        image_param = (mapped('images', image_meta['image_name'], 'image')
                       if image_meta.get('image_name') else None)
        vname = name('volume', v['id'])
        volume = {'name': vname, 'source_id': v['id'], 'size': v['size'],
                  'volume_type': v.get('volume_type'),
                  'image_param': image_param, 'condition': 'warm',
                  'replication': replication_method(v)}
        volume_ref[v['id']] = {'get_resource': vname}
        if volume['replication']:
            _promotable(volume, conditions, parameters, volume_ref, v['id'])
        volumes.append(volume)
        for attachment in v.get('attachments') or []:
            if attachment.get('device') in ('/dev/vda', '/dev/sda'):
                boot_volume[attachment['server_id']] = volume_ref[v['id']]
            else:
                attachments.append((attachment['server_id'], v['id']))

    group_of = {m: ref('server_group', g['id'], g.get('name'))
                for g in capture['server_groups']
                for m in g.get('members') or []}
    port_names = {p['id']: name('port', p['id']) for p in ports}

    def key_param(key_name):
        """A parameter naming the server's key pair at the DR site:
        the one mappings.key_pairs names, else one of the same name (a
        key pair belongs to a user: the DR site's must be Rescuer's)."""
        if not key_name:
            return None
        return mapped('key_pairs', key_name, 'key', fallback=key_name,
                      what='key pair')

    servers = []
    for s in sorted(capture['servers'], key=lambda s: name('server',
                                                           s['id'])):
        image = s.get('image')
        flavor_name = flavors.get(s['flavor'].get('id'),
                                  s['flavor'].get('original_name'))
        servers.append({
            'name': name('server', s['id']),
            'flavor_param': mapped('flavors', flavor_name, 'flavor'),
            'image_param': (mapped('images', images.get(image['id'],
                                                        image['id']),
                                   'image')
                            if isinstance(image, dict) else None),
            'boot_volume': boot_volume.get(s['id']),
            'availability_zone': mappings.get('availability_zones', {}).get(
                s.get('OS-EXT-AZ:availability_zone')),
            'server_group': group_of.get(s['id']),
            'ports': _nic_order(s, [p for p in all_ports
                                    if p['device_id'] == s['id']],
                                ref, port_names),
            'metadata': s.get('metadata') or {},
            'key_param': key_param(s.get('key_name')),
            'config_drive': _config_drive(s.get('config_drive')),
            'depends_on': None,
        })
    out['volumes'] = volumes
    out['servers'] = servers
    out['attachments'] = [{'name': name.unique('%s_on_%s' % (
                               name('volume', vid), name('server', sid))),
                           'server': name('server', sid),
                           'volume': volume_ref[vid]}
                          for sid, vid in sorted(attachments)]
    out['conditions'] = conditions
    fips = []
    for f in sorted(capture['floating_ips'], key=lambda f: f['id']):
        external = {n['id']: n['name'] for n in capture['networks']}.get(
            f['floating_network_id'], f['floating_network_id'])
        target = mappings.get('networks', {}).get(external)
        if target is None:
            missing.setdefault('networks', set()).add(external)
        fips.append({'name': name('floating_ip', f['id']),
                     'floating_network': target,
                     'port': ref('port', f['port_id'])})
    out['floating_ips'] = fips
    out.update(_routers(capture, name, ref, mine, is_mapped, net_ref))
    out.update(_service_chains(capture, name, ref, servers, mine))
    out['shared'] = shared
    # Keys Heat would read as a function call are never written (ids
    # the services make are not such names).
    out['dr_ids'] = [{'source_id': item['source_id'], 'name': item['name']}
                     for kind in SHAREABLE for item in out[kind]
                     if item['source_id'] not in _HEAT_FUNCTIONS
                     and not str(item['source_id']).startswith('Fn::')]
    if missing:
        raise exceptions.Unmapped(protection.describe_unmapped(
            {kind: sorted(names) for kind, names in missing.items()},
            site_name))
    out['parameters'] = [parameters[k] for k in sorted(parameters)]
    out.update(group=capture['group'], capture_id=capture['capture_id'],
               source_site=capture['site'],
               captured_at=capture['captured_at'],
               renamed=dict(sorted(name.renamed.items())))
    return out


def _false_or_none(value):
    """False when the primary turned a default on (port security) off;
    None (the DR site's default) otherwise."""
    return False if value is False else None


def _address_pairs(port, ip_policy):
    """A port's allowed address pairs (a VIP its VNF moves between
    ports): the addresses as at the primary, a pair's MAC only under
    the ``keep`` IP policy (otherwise Neutron gives the port's own)."""
    pairs = []
    for pair in port.get('allowed_address_pairs') or ():
        written = {'ip_address': pair['ip_address']}
        if ip_policy == 'keep' and pair.get('mac_address'):
            written['mac_address'] = pair['mac_address']
        pairs.append(written)
    return sorted(pairs, key=lambda p: p['ip_address'])


def _vnic_type(port):
    """The port's VNIC type when not Neutron's default (``normal``):
    an SR-IOV VNF needs a ``direct`` port at the DR site too."""
    vnic_type = port.get('binding:vnic_type')
    return vnic_type if vnic_type and vnic_type != 'normal' else None


def _config_drive(value):
    """Nova says ``'True'`` (or true) for a server with a config
    drive, ``''`` for one without."""
    return value is True or str(value).lower() == 'true'


def replication_method(volume):
    """How a captured volume's data reaches the DR site (the method an
    OS::Rescuer::ReplicatedVolume records in the volume's metadata, or
    ``storage`` for a volume Cinder replicates), or None."""
    method = (volume.get('metadata') or {}).get('rescuer_replication')
    if method:
        return method
    if volume.get('replication_status') == 'enabled':
        return 'storage'
    return None


def promoted_parameter(volume_name):
    return 'promoted_%s' % volume_name


def promoted_parameters(data):
    """{primary volume id: recovery-template parameter} of the replicated
    volumes of a :func:`model`."""
    return {v['source_id']: v['promoted_parameter'] for v in data['volumes']
            if v.get('promoted_parameter')}


def _promotable(volume, conditions, parameters, volume_ref, volume_id):
    """A replicated volume: at failover the data the DR site promoted
    (a parameter naming a volume there) takes its place, and the empty
    volume is not created (or is removed)."""
    param = promoted_parameter(volume['name'])
    promoted = '%s_promoted' % volume['name']
    created = '%s_created' % volume['name']
    parameters[param] = {
        'name': param, 'default': '',
        'description': 'id of the DR-site volume holding the promoted data '
                       'of %s (empty: none yet)' % volume['name']}
    conditions.append({'name': promoted, 'expression': {
        'not': {'equals': [{'get_param': param}, '']}}})
    conditions.append({'name': created, 'expression': {
        'and': ['warm', {'not': promoted}]}})
    volume['condition'] = created
    volume['promoted_parameter'] = param
    volume_ref[volume_id] = {'if': [promoted, {'get_param': param},
                                    {'get_resource': volume['name']}]}


def _routers(capture, name, ref, mine, is_mapped, net_ref):
    """The group's routers: each with its gateway on the mapped
    external network, an interface on each of its subnets that the DR
    site recovers (its own or another group's copy; an interface on a
    network the mappings name is the DR site's affair), and its extra
    routes, set once the interfaces their next hops need exist."""
    routers, interfaces, routes = [], [], []
    for router in sorted(mine(capture.get('routers') or ()),
                         key=lambda r: name('router', r['id'])):
        rname = name('router', router['id'])
        gateway = router.get('external_gateway_info') or None
        routers.append({
            'name': rname, 'source_id': router['id'],
            'router_name': router.get('name') or '',
            'admin_state_up': router.get('admin_state_up', True),
            # SNAT only when off: Neutron's default is on, and its
            # policy lets only an admin set it either way.
            'gateway': gateway and {
                'network': net_ref(gateway['network_id']),
                'enable_snat': _false_or_none(gateway.get('enable_snat'))}})
        mine_names = []
        for port in sorted((p for p in capture.get('router_ports') or ()
                            if p['device_id'] == router['id'] and
                            not is_mapped(p['network_id'])),
                           key=lambda p: p['id']):
            for ip in port['fixed_ips']:
                # The primary's interface resource, when a member.
                interface = name.by_id.get('%s:subnet_id=%s' % (
                    router['id'], ip['subnet_id'])) or name.unique(
                        '%s_on_%s' % (rname, name.by_id.get(
                            ip['subnet_id'], 'subnet')))
                interfaces.append({'name': interface,
                                   'router': {'get_resource': rname},
                                   'subnet': ref('subnet', ip['subnet_id']),
                                   'source_port': port['id'],
                                   'ip_address': ip['ip_address']})
                mine_names.append(interface)
        if router.get('routes'):
            routes.append({'name': name.unique('%s_routes' % rname),
                           'router': {'get_resource': rname},
                           'routes': sorted(router['routes'], key=lambda r: (
                               r['destination'], r['nexthop'])),
                           'depends_on': sorted(mine_names)})
    return {'routers': routers, 'router_interfaces': interfaces,
            'router_routes': routes}


_CLASSIFIER_KEYS = (
    'ethertype', 'protocol', 'source_port_range_min', 'source_port_range_max',
    'destination_port_range_min', 'destination_port_range_max',
    'source_ip_prefix', 'destination_ip_prefix')


def _service_chains(capture, name, ref, servers, mine):
    """networking-sfc resources, re-linked to the recovered ports (this
    group's, or the copies of ports other groups hold); those another
    group holds (a chain group's pairs on a VNF group's ports) are that
    group's to recover."""
    device_of = {p['id']: p['device_id'] for p in capture['ports']}
    own_servers = {s['name'] for s in servers}

    def server_of(port_id):
        # Both ports of a pair belong to one server: wait for it, when
        # it is this group's.
        server = name.by_id.get(device_of.get(port_id))
        return server if server in own_servers else None

    labels = {p['id']: p.get('name') or p['id'] for p in capture['ports']}

    def port_ref(port_id):
        return ref('port', port_id, labels.get(port_id)) if port_id else None

    pairs = [{'name': name('port_pair', p['id']),
              'ingress': port_ref(p['ingress']),
              'egress': port_ref(p['egress']),
              'server': server_of(p['ingress'])}
             for p in mine(capture.get('port_pairs', []))]
    groups = [{'name': name('port_pair_group', g['id']),
               'port_pairs': [name('port_pair', p) for p in g['port_pairs']]}
              for g in mine(capture.get('port_pair_groups', []))]
    classifiers = []
    for f in mine(capture.get('flow_classifiers', [])):
        properties = {k: f[k] for k in _CLASSIFIER_KEYS
                      if f.get(k) is not None}
        classifiers.append({
            'name': name('flow_classifier', f['id']),
            'properties': properties,
            'source_port': port_ref(f.get('logical_source_port')),
            'destination_port': port_ref(f.get('logical_destination_port'))})
    chains = [{'name': name('port_chain', c['id']),
               'description': c.get('description') or '',
               'port_pair_groups': [name('port_pair_group', g)
                                    for g in c['port_pair_groups']],
               'flow_classifiers': [name('flow_classifier', f)
                                    for f in c['flow_classifiers']]}
              for c in mine(capture.get('port_chains', []))]
    return {'port_pairs': pairs, 'port_pair_groups': groups,
            'flow_classifiers': classifiers, 'port_chains': chains}


def _nic_order(server, ports, ref, port_names):
    """References to the server's ports in NIC order (Nova lists
    addresses that way)."""
    order = [a['addr'] for addrs in (server.get('addresses') or {}).values()
             for a in addrs]

    def position(port):
        ips = [ip['ip_address'] for ip in port['fixed_ips']]
        found = [order.index(ip) for ip in ips if ip in order]
        return (min(found) if found else len(order),
                port_names.get(port['id'], port['id']))
    return [ref('port', p['id']) for p in sorted(ports, key=position)]


def render(capture, mappings, ip_policy='keep', site_name='the DR site',
           templates=None, held_elsewhere=None):
    """HOT text for the recovery site, checked by :func:`check_rendered`."""
    return render_model(model(capture, mappings, ip_policy, site_name,
                              held_elsewhere), templates)


def render_model(data, templates=None):
    """HOT text of a :func:`model`, checked by :func:`check_rendered`:
    every path to a template a stack is created or updated with."""
    expected(data)
    try:
        text = _environment(templates).get_template(MAIN).render(model=data)
    except jinja2.TemplateError as exc:
        raise exceptions.InvalidTemplate('rendering %s failed: %s' % (
            getattr(exc, 'name', None) or MAIN, exc))
    check_rendered(data, text)
    return text


def expected(data):
    """({resource name: type}, parameter names, condition names) that a
    rendering of the model ``data`` holds, the templates' own included.
    InvalidTemplate if ``data`` has a name that is not safe to write
    bare, or two things of one name."""
    resources = {}
    for kind, resource_type in RESOURCE_TYPES:
        for item in data.get(kind) or ():
            _check_name('resource', item['name'], resources)
            resources[item['name']] = resource_type
    parameters, conditions = set(), set()
    for name in FIXED_PARAMETERS + tuple(
            p['name'] for p in data.get('parameters') or ()):
        _check_name('parameter', name, parameters)
        parameters.add(name)
    for name in FIXED_CONDITIONS + tuple(
            c['name'] for c in data.get('conditions') or ()):
        _check_name('condition', name, conditions)
        conditions.add(name)
    return resources, parameters, conditions


def _check_name(what, name, taken):
    if not is_safe_name(name):
        raise exceptions.InvalidTemplate(
            'the recovery model has a %s named %r, which is not a safe name '
            '([A-Za-z0-9_-])' % (what, name))
    if name in taken:
        raise exceptions.InvalidTemplate(
            'the recovery model has two %ss named %s' % (what, name))


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a mapping holding a key twice (where
    safe_load silently keeps the last)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if _has(seen, key):
                    raise yaml.constructor.ConstructorError(
                        None, None, 'found the key %r twice' % (key,),
                        key_node.start_mark)
                try:
                    seen.add(key)
                except TypeError:  # unhashable: SafeLoader refuses it
                    pass
        return super().construct_mapping(node, deep)


def _names(names):
    return ', '.join(sorted(('%r' % (n,) for n in names)))


def check_rendered(data, text):
    """Refuse (InvalidTemplate) HOT text that is not exactly a rendering
    of the model ``data``: read back, it must hold the model's resources
    with their types and nothing else, its parameters, conditions and
    outputs and nothing else, no key twice, and every get_resource,
    get_param, depends_on and condition must name one of those."""
    resources, parameters, conditions = expected(data)
    try:
        template = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise exceptions.InvalidTemplate(
            'the rendered template is not valid YAML: %s' % exc)
    if not isinstance(template, dict) or set(template) != set(SECTIONS):
        raise exceptions.InvalidTemplate(
            'the rendered template has sections %s; a recovery template '
            'has %s' % (_names(template if isinstance(template, dict)
                               else ()), _names(SECTIONS)))
    rendered = _section(template, 'resources')
    for name, body in rendered.items():
        if name not in resources:
            raise exceptions.InvalidTemplate(
                'the rendered template holds resource %r (%s), which its '
                'model does not: refused' % (name, body.get('type') if
                                             isinstance(body, dict)
                                             else body))
        if not isinstance(body, dict) or body.get('type') != resources[name]:
            raise exceptions.InvalidTemplate(
                'resource %r of the rendered template is %r; its model '
                'has a %s' % (name, body.get('type') if isinstance(
                    body, dict) else body, resources[name]))
        if set(body) - set(RESOURCE_KEYS):
            raise exceptions.InvalidTemplate(
                'resource %r of the rendered template has %s, which a '
                'recovery template never writes' % (
                    name, _names(set(body) - set(RESOURCE_KEYS))))
    if set(resources) - set(rendered):
        raise exceptions.InvalidTemplate(
            'the rendered template lacks resources %s of its model'
            % _names(set(resources) - set(rendered)))
    for section, names in (('parameters', parameters),
                           ('conditions', conditions),
                           ('outputs', set(OUTPUTS))):
        found = set(_section(template, section))
        if found != names:
            raise exceptions.InvalidTemplate(
                'the rendered template has %s %s; its model has %s'
                % (section, _names(found), _names(names)))
    _check_references(template, parameters, conditions)


def _section(template, section):
    value = template.get(section) or {}
    if not isinstance(value, dict):
        raise exceptions.InvalidTemplate(
            'the %s of the rendered template are not a mapping' % section)
    return value


def _has(names, name):
    try:
        return name in names
    except TypeError:  # a list or a map where a name should be
        return False


def _check_references(template, parameters, conditions):
    resources = template['resources'] or {}

    def refuse(where, what, target):
        raise exceptions.InvalidTemplate(
            '%s of the rendered template refers to %s %r, which it does '
            'not hold' % (where, what, target))

    def walk(node, where, in_conditions=False):
        if isinstance(node, list):
            for item in node:
                walk(item, where, in_conditions)
            return
        if not isinstance(node, dict):
            return
        if len(node) == 1:
            function, args = next(iter(node.items()))
            first = args[0] if isinstance(args, list) and args else args
            if function == 'get_resource' and not _has(resources, args):
                refuse(where, 'resource', args)
            if function == 'get_param' and not _has(parameters, first):
                refuse(where, 'parameter', first)
            if function == 'if' and not _has(conditions, first):
                refuse(where, 'condition', first)
            if in_conditions and function in ('not', 'and', 'or'):
                for item in args if isinstance(args, list) else [args]:
                    if isinstance(item, str) and item not in conditions:
                        refuse(where, 'condition', item)
        for value in node.values():
            walk(value, where, in_conditions)

    for name, body in resources.items():
        where = 'resource %r' % (name,)
        depends_on = body.get('depends_on')
        for target in (depends_on if isinstance(depends_on, list)
                       else [depends_on] if depends_on is not None else []):
            if not _has(resources, target):
                refuse(where, 'resource', target)
        condition = body.get('condition')
        if condition is not None and not isinstance(
                condition, bool) and not _has(conditions, condition):
            refuse(where, 'condition', condition)
        walk(body, where)
    for name, expression in (template['conditions'] or {}).items():
        walk(expression, 'condition %r' % (name,), in_conditions=True)
