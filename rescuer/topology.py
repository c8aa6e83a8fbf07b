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
  policy, its security groups, and the server it is bound to;
- the chains: a flow classifier's logical ports, a port pair's ingress
  and egress, a port pair group's pairs, a port chain's groups and
  classifiers.

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


def check(network, model, resources, parameters):
    """Compare the stack (``resources`` as Heat lists them, its
    ``parameters``) with its render ``model``, reading Neutron through
    ``network`` (a :class:`rescuer.compute.NetworkAPI`).

    :returns: ``{compared: {ports, chain_resources}, differences:
        [text]}``.
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

    return {'compared': {
        'ports': _ports(model, resolve, ports_by_id, model['servers'],
                        differences),
        'chain_resources': _chains(model, resolve, read, differences)},
        'differences': differences}
