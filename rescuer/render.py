"""Render a recovery-site HOT template from a capture and the DR site's
mappings (Jinja2, one partial per resource type, under ``templates/``).

Data in, template out: :func:`model` turns a capture into plain data with
every recovery-site value already mapped; the templates only lay it out.
Images and flavors become template parameters whose defaults are the
mapped names, so an operator can still override them at stack create.
Names, addresses and sizes of what the stack itself creates (networks,
subnets, ports with their fixed IPs under the ``keep`` IP policy, volumes,
security group rules) are carried over.
"""

import json
import pathlib
import re

import jinja2
import yaml

from rescuer import exceptions
from rescuer import protection

TEMPLATES = pathlib.Path(__file__).resolve().parent.parent / 'templates'
MAIN = 'recovery.yaml.j2'
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


def _environment(path=None):
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(path or TEMPLATES)),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        autoescape=False)
    environment.policies['json.dumps_function'] = yaml_safe_json
    return environment


def _param_name(prefix, value):
    return '%s_%s' % (prefix, re.sub(r'[^A-Za-z0-9]+', '_', value).strip(
        '_').lower())


class _Names:
    """Recovery-site resource names: the primary stack's logical names
    where the capture has them, otherwise <kind>_<n>."""

    # Resources whose physical id is another resource's (an attachment's
    # is its volume's): never the name of what they point at.
    _NOT_NAMES = ('OS::Cinder::VolumeAttachment',
                  'OS::Neutron::FloatingIPAssociation')

    def __init__(self, resources):
        self.by_id = {r['physical_id']: r['name'] for r in resources
                      if r['physical_id'] and
                      r.get('type') not in self._NOT_NAMES}
        self.used = set(self.by_id.values())
        self.counters = {}

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


def model(capture, mappings, ip_policy='keep', site_name='the DR site'):
    """Plain data for the templates; raises Unmapped listing every gap."""
    name = _Names(capture['resources'])
    missing = {}
    parameters = {}

    def mapped(kind, source, prefix):
        target = mappings.get(kind, {}).get(source)
        if target is None:
            missing.setdefault(kind, set()).add(source)
            return None
        param = _param_name(prefix, source)
        parameters[param] = {'name': param, 'default': target,
                             'description': '%s at the recovery site for '
                             '%s at the primary' % (prefix, source)}
        return param

    images = {i['id']: i['name'] for i in capture['images']}
    flavors = {f['id']: f['name'] for f in capture['flavors']}
    # External networks are the site's, mapped - never recreated.
    networks = sorted((n for n in capture['networks']
                       if not n.get('router:external')),
                      key=lambda n: n['name'] or '')
    subnets = sorted(capture['subnets'], key=lambda s: s['cidr'])
    ports = sorted(capture['ports'], key=lambda p: name('port', p['id']))
    used_groups = {g for p in ports for g in p.get('security_groups') or []}
    groups = [g for g in capture['security_groups']
              if g['id'] in used_groups and g['name'] != 'default']
    keep_groups = {g['id'] for g in groups}

    out = {
        'networks': [{'name': name('net', n['id']),
                      'net_name': n['name'],
                      'admin_state_up': n.get('admin_state_up', True)}
                     for n in networks],
        'subnets': [{'name': name('subnet', s['id']),
                     'network': name('net', s['network_id']),
                     'cidr': s['cidr'], 'ip_version': s['ip_version'],
                     'gateway_ip': s['gateway_ip'],
                     'enable_dhcp': s['enable_dhcp'],
                     'allocation_pools': s['allocation_pools']}
                    for s in subnets],
        'security_groups': [{
            'name': name('secgroup', g['id']),
            'description': g.get('description') or '',
            'rules': sorted(
                ({k: r[k] for k in _RULE_KEYS if r.get(k) is not None}
                 for r in g['security_group_rules']),
                key=lambda r: sorted((k, str(v)) for k, v in r.items()))}
            for g in sorted(groups, key=lambda g: name('secgroup', g['id']))],
        'ports': [{
            'name': name('port', p['id']),
            'network': name('net', p['network_id']),
            'fixed_ips': [{'subnet': name('subnet', ip['subnet_id']),
                           'ip_address': ip['ip_address']
                           if ip_policy == 'keep' else None}
                          for ip in p['fixed_ips']],
            'security_groups': [name('secgroup', g) for g in
                                p.get('security_groups') or []
                                if g in keep_groups],
            'mac_address': p['mac_address'] if ip_policy == 'keep' else None}
            for p in ports],
        'server_groups': [{'name': name('server_group', g['id']),
                           'policies': g.get('policies') or
                           [g.get('policy')]}
                          for g in capture['server_groups']],
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

    group_of = {m: name('server_group', g['id'])
                for g in capture['server_groups']
                for m in g.get('members') or []}
    port_names = {p['id']: name('port', p['id']) for p in ports}
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
            'ports': _nic_order(s, [p for p in ports
                                    if p['device_id'] == s['id']],
                                port_names),
            'metadata': s.get('metadata') or {},
            'depends_on': None,
        })
    out['volumes'] = volumes
    out['servers'] = servers
    out['attachments'] = [{'name': '%s_on_%s' % (name('volume', vid),
                                                 name('server', sid)),
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
                     'port': port_names.get(f['port_id'])})
    out['floating_ips'] = fips
    out.update(_service_chains(capture, name, ports))
    if missing:
        raise exceptions.Unmapped(protection.describe_unmapped(
            {kind: sorted(names) for kind, names in missing.items()},
            site_name))
    out['parameters'] = [parameters[k] for k in sorted(parameters)]
    out.update(group=capture['group'], capture_id=capture['capture_id'],
               source_site=capture['site'],
               captured_at=capture['captured_at'])
    return out


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


_CLASSIFIER_KEYS = (
    'ethertype', 'protocol', 'source_port_range_min', 'source_port_range_max',
    'destination_port_range_min', 'destination_port_range_max',
    'source_ip_prefix', 'destination_ip_prefix')


def _service_chains(capture, name, ports):
    """networking-sfc resources, re-linked to the recovered ports."""
    device_of = {p['id']: p['device_id'] for p in ports}
    pairs = [{'name': name('port_pair', p['id']),
              'ingress': name('port', p['ingress']),
              'egress': name('port', p['egress']),
              # Both ports must belong to one server: wait for it.
              'server': name('server', device_of[p['ingress']])}
             for p in capture.get('port_pairs', [])]
    groups = [{'name': name('port_pair_group', g['id']),
               'port_pairs': [name('port_pair', p) for p in g['port_pairs']]}
              for g in capture.get('port_pair_groups', [])]
    classifiers = []
    for f in capture.get('flow_classifiers', []):
        properties = {k: f[k] for k in _CLASSIFIER_KEYS
                      if f.get(k) is not None}
        classifiers.append({
            'name': name('flow_classifier', f['id']),
            'properties': properties,
            'source_port': name('port', f['logical_source_port'])
            if f.get('logical_source_port') else None,
            'destination_port': name('port', f['logical_destination_port'])
            if f.get('logical_destination_port') else None})
    chains = [{'name': name('port_chain', c['id']),
               'description': c.get('description') or '',
               'port_pair_groups': [name('port_pair_group', g)
                                    for g in c['port_pair_groups']],
               'flow_classifiers': [name('flow_classifier', f)
                                    for f in c['flow_classifiers']]}
              for c in capture.get('port_chains', [])]
    return {'port_pairs': pairs, 'port_pair_groups': groups,
            'flow_classifiers': classifiers, 'port_chains': chains}


def _nic_order(server, ports, port_names):
    """The server's ports in NIC order (Nova lists addresses that way)."""
    order = [a['addr'] for addrs in (server.get('addresses') or {}).values()
             for a in addrs]

    def position(port):
        ips = [ip['ip_address'] for ip in port['fixed_ips']]
        found = [order.index(ip) for ip in ips if ip in order]
        return (min(found) if found else len(order), port_names[port['id']])
    return [port_names[p['id']] for p in sorted(ports, key=position)]


def render(capture, mappings, ip_policy='keep', site_name='the DR site',
           templates=None):
    """HOT text for the recovery site; checked with yaml.safe_load."""
    return render_model(model(capture, mappings, ip_policy, site_name),
                        templates)


def render_model(data, templates=None):
    """HOT text of a :func:`model`; checked with yaml.safe_load."""
    try:
        text = _environment(templates).get_template(MAIN).render(model=data)
    except jinja2.TemplateError as exc:
        raise exceptions.InvalidTemplate('rendering %s failed: %s' % (
            getattr(exc, 'name', None) or MAIN, exc))
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise exceptions.InvalidTemplate(
            'the rendered template is not valid YAML: %s' % exc)
    return text
