"""Service health, not just ACTIVE: the recovered topology compared with
the capture it was rendered from.

After an activation (failover, switchover, drill) every server may be
ACTIVE while the service is broken: a port on a network of its own
instead of the one its tier shares, a chain starting at no port.  This
compares, for the recovery (or drill) stack of a group, what Neutron
holds with what the render model says it must (every reference resolved
to a DR-site id: this stack's resources, the holders' copies it took as
parameters):

- each port: its network (ports that shared a network at the primary
  share the one copy), its subnets, its fixed IPs under the ``keep`` IP
  policy, its security groups, port security when the primary turned it
  off, its allowed address pairs (a VIP), its VNIC type, and the server
  it is bound to;
- the chains: a flow classifier's logical ports, a port pair's ingress
  and egress, a port pair group's pairs, a port chain's groups and
  classifiers;
- each router: its external gateway, an interface on each subnet it had
  one on;
- with ``compute``, each server: the server group it is a member of, and
  the volumes attached to it (its boot volume - the promoted copy once
  one is - and its data volumes).

A network the mappings name is the DR site's own: its ports are compared
by address only.  :func:`check` returns what it compared and every
difference, each naming the resource and both values.
"""

from rescuer import exceptions

# networking-sfc collections: (model kind, path, key, {field: model field})
_CHAINS = (
    ('flow_classifiers', '/v2.0/sfc/flow_classifiers', 'flow_classifier',
     {'logical_source_port': 'source_port',
      'logical_destination_port': 'destination_port'}),
    ('port_pairs', '/v2.0/sfc/port_pairs', 'port_pair',
     {'ingress': 'ingress', 'egress': 'egress'}),
    ('port_pair_groups', '/v2.0/sfc/port_pair_groups', 'port_pair_group',
     {'port_pairs': 'port_pairs'}),
    ('port_chains', '/v2.0/sfc/port_chains', 'port_chain',
     {'port_pair_groups': 'port_pair_groups',
      'flow_classifiers': 'flow_classifiers'}),
)


class _Resolver:
    """Model references to DR-site ids, from the stack's resources and
    parameters."""

    def __init__(self, resources, parameters):
        self.ids = {r['resource_name']: r['physical_resource_id']
                    for r in resources}
        self.parameters = parameters or {}

    def __call__(self, reference):
        if isinstance(reference, list):
            return [self(item) for item in reference]
        if isinstance(reference, str):      # a resource name
            return self.ids.get(reference)
        if not isinstance(reference, dict):
            return None
        if 'get_resource' in reference:
            return self.ids.get(reference['get_resource'])
        if 'get_param' in reference:
            return self.parameters.get(reference['get_param']) or None
        if 'if' in reference:
            # A replicated volume: the promoted copy its parameter
            # names, once one does, else the stack's own.
            _, promoted, own = reference['if']
            return self(promoted) or self(own)
        return None


def _mapped(model, reference):
    """Whether ``reference`` is a network the mappings name (a parameter
    holding a name of the DR site's, not a copy's id)."""
    mapped = {p['name'] for p in model['parameters']
              if p['name'].startswith('network_')}
    return isinstance(reference, dict) and reference.get(
        'get_param') in mapped


def _differ(differences, what, field, want, found):
    if want != found:
        differences.append('%s: %s %s, expected %s' % (
            what, field, found, want))


def _ports(model, resolve, ports_by_id, servers, differences):
    compared = 0
    owner = {}
    for server in servers:
        for reference in server['ports']:
            if 'get_resource' in reference:
                owner[reference['get_resource']] = server['name']
    for port in model['ports']:
        port_id = resolve(port['name'])
        what = 'port %s' % port['name']
        found = ports_by_id.get(port_id)
        if found is None:
            differences.append('%s: not at the DR site (%s)' % (
                what, port_id))
            continue
        compared += 1
        if not _mapped(model, port['network']):
            _differ(differences, what, 'network',
                    resolve(port['network']), found['network_id'])
            want_subnets = sorted(filter(None, (
                resolve(ip['subnet']) for ip in port['fixed_ips']
                if ip['subnet'])))
            _differ(differences, what, 'subnets', want_subnets,
                    sorted(ip['subnet_id'] for ip in found['fixed_ips']))
        want_ips = [ip['ip_address'] for ip in port['fixed_ips']]
        if want_ips and all(want_ips):
            _differ(differences, what, 'fixed IPs', sorted(want_ips),
                    sorted(ip['ip_address'] for ip in found['fixed_ips']))
        if port['security_groups']:
            _differ(differences, what, 'security groups',
                    sorted(resolve(port['security_groups'])),
                    sorted(found.get('security_groups') or []))
        if port.get('port_security_enabled') is False:
            _differ(differences, what, 'port security', False,
                    found.get('port_security_enabled'))
        _differ(differences, what, 'allowed address pairs',
                sorted(p['ip_address'] for p in
                       port.get('allowed_address_pairs') or ()),
                sorted(p['ip_address'] for p in
                       found.get('allowed_address_pairs') or ()))
        if port.get('vnic_type'):
            _differ(differences, what, 'VNIC type', port['vnic_type'],
                    found.get('binding:vnic_type'))
        server = owner.get(port['name'])
        if server and resolve(server):
            _differ(differences, what, 'bound to server',
                    resolve(server), found.get('device_id') or None)
    return compared


def _chains(model, resolve, read, differences):
    compared = 0
    for kind, path, key, fields in _CHAINS:
        for item in model.get(kind) or ():
            item_id = resolve(item['name'])
            if item_id is None:
                continue        # not at this standby level
            found = read(path, key, item_id)
            what = '%s %s' % (key.replace('_', ' '), item['name'])
            if found is None:
                differences.append('%s: not at the DR site (%s)' % (
                    what, item_id))
                continue
            compared += 1
            for field, model_field in sorted(fields.items()):
                want = resolve(item[model_field])
                have = found.get(field)
                if isinstance(want, list):
                    want, have = sorted(want), sorted(have or [])
                _differ(differences, what, field, want, have)
    return compared


def _routers(model, resolve, network, read, differences):
    """Each router: its external gateway, and an interface on each
    subnet it had one on."""
    compared = 0
    for router in model.get('routers') or ():
        router_id = resolve(router['name'])
        what = 'router %s' % router['name']
        found = read('/v2.0/routers', 'router', router_id) if router_id \
            else None
        if found is None:
            differences.append('%s: not at the DR site (%s)' % (
                what, router_id))
            continue
        compared += 1
        _differ(differences, what, 'external gateway',
                bool(router['gateway']),
                bool(found.get('external_gateway_info')))
        attached = {ip['subnet_id'] for port in network.router_ports(
            router_id) for ip in port['fixed_ips']}
        for interface in model['router_interfaces']:
            subnet = resolve(interface['subnet'])
            if (interface['router'] == {'get_resource': router['name']}
                    and subnet not in attached):
                differences.append('%s: no interface on subnet %s (%s)' % (
                    what, subnet, interface['name']))
    return compared


def _servers(model, resolve, compute, differences):
    """Server group membership and attached volumes of the servers the
    stack holds at its level (a cold standby's none)."""
    ids = {s['name']: resolve(s['name']) for s in model['servers']}
    found = {s['id']: s for s in compute.servers(
        set(ids.values()) - {None})} if any(ids.values()) else {}
    members = {}
    want_volumes = {}
    for attachment in model.get('attachments') or ():
        want_volumes.setdefault(attachment['server'], []).append(
            resolve(attachment['volume']))
    compared = 0
    for server in model['servers']:
        server_id = ids[server['name']]
        if server_id is None or server_id not in found:
            continue
        compared += 1
        what = 'server %s' % server['name']
        group_id = resolve(server.get('server_group'))
        if group_id:
            if group_id not in members:
                try:
                    members[group_id] = compute.server_group(group_id).get(
                        'members') or []
                except exceptions.NotFound:
                    members[group_id] = []
            if server_id not in members[group_id]:
                differences.append('%s: not a member of server group %s' % (
                    what, group_id))
        attached = {v['id'] for v in found[server_id].get(
            'os-extended-volumes:volumes_attached') or ()}
        wanted = want_volumes.get(server['name'], []) + (
            [resolve(server['boot_volume'])] if server.get('boot_volume')
            else [])
        for volume_id in wanted:
            if volume_id and volume_id not in attached:
                differences.append('%s: volume %s not attached (attached: '
                                   '%s)' % (what, volume_id,
                                            sorted(attached) or 'none'))
    return compared


def check(network, model, resources, parameters, compute=None):
    """Compare the stack (``resources`` as Heat lists them, its
    ``parameters``) with its render ``model``, reading Neutron through
    ``network`` (a :class:`rescuer.compute.NetworkAPI`) and, with
    ``compute`` (a :class:`rescuer.compute.ComputeAPI`), Nova.

    :returns: ``{compared: {ports, chain_resources, routers, servers},
        differences: [text]}``.
    """
    resolve = _Resolver(resources, parameters)
    port_ids = {resolve(p['name']) for p in model['ports']} - {None}
    ports_by_id = {p['id']: p for p in network.ports(port_ids)}
    differences = []

    def read(path, key, item_id):
        try:
            return network.show('%s/%s' % (path, item_id))[key]
        except exceptions.NotFound:
            return None

    compared = {
        'ports': _ports(model, resolve, ports_by_id, model['servers'],
                        differences),
        'chain_resources': _chains(model, resolve, read, differences),
        'routers': _routers(model, resolve, network, read, differences),
        'servers': (_servers(model, resolve, compute, differences)
                    if compute is not None else 0)}
    return {'compared': compared, 'differences': differences}
