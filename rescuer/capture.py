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
Glance's images).  Secrets are
never copied: user data, admin passwords, key material and hidden template
parameters are left out.

The document (schema version 1)::

    {schema_version, capture_id, site, group, captured_at, api_calls,
     stack: {id, name, status, template, parameters, outputs},
     resources: [{name, type, physical_id, status}],
     servers, flavors, images, networks, subnets, ports, security_groups,
     floating_ips, server_groups, volumes,
     port_pairs, port_pair_groups, flow_classifiers, port_chains,
     checksum}
"""

import copy
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
    """A deep copy of ``value`` without secret keys."""
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()
                if k not in SECRET_KEYS}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def checksum(document):
    body = {k: v for k, v in document.items() if k != 'checksum'}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()
                          ).hexdigest()


def _stack_parameters(template, parameters):
    hidden = {name for name, spec in (template.get('parameters') or {})
              .items() if isinstance(spec, dict) and spec.get('hidden')}
    return {name: value for name, value in parameters.items()
            if name not in hidden and not name.startswith('OS::')}


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


def _service_chains(api, port_ids):
    """networking-sfc resources built on the members' ports (4 calls)."""
    pairs = [p for p in api.get('network', '/v2.0/sfc/port_pairs')[
        'port_pairs'] if p['ingress'] in port_ids or p['egress'] in port_ids]
    pair_ids = {p['id'] for p in pairs}
    groups = [g for g in api.get('network', '/v2.0/sfc/port_pair_groups')[
        'port_pair_groups'] if set(g['port_pairs']) & pair_ids]
    group_ids = {g['id'] for g in groups}
    chains = [c for c in api.get('network', '/v2.0/sfc/port_chains')[
        'port_chains'] if set(c['port_pair_groups']) & group_ids]
    classifier_ids = {f for c in chains for f in c['flow_classifiers']}
    listed = api.get('network', '/v2.0/sfc/flow_classifiers')
    classifiers = [f for f in listed['flow_classifiers']
                   if f['id'] in classifier_ids]
    return {'port_pairs': pairs, 'port_pair_groups': groups,
            'flow_classifiers': classifiers, 'port_chains': chains}


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
    member_ports = [member_ports[i] for i in sorted(member_ports)]
    network_ids |= {p['network_id'] for p in member_ports}
    member_port_ids = {p['id'] for p in member_ports}
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
                  'status': stack['stack_status'], 'template': template,
                  'parameters': _stack_parameters(
                      template, stack.get('parameters') or {}),
                  'outputs': stack.get('outputs') or []},
        'resources': resources,
        'servers': servers,
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
    document.update(_service_chains(api, member_port_ids))
    document['api_calls'] = api.calls
    document = _scrub(copy.deepcopy(document))
    document['checksum'] = checksum(document)
    return document


def verify(document):
    """Raise InvalidCapture unless ``document`` is whole and consistent."""
    if not isinstance(document, dict):
        raise exceptions.InvalidCapture('a capture is a JSON object')
    if document.get('schema_version') != SCHEMA_VERSION:
        raise exceptions.InvalidCapture(
            'unsupported capture schema version %r'
            % document.get('schema_version'))
    if document.get('checksum') != checksum(document):
        raise exceptions.InvalidCapture(
            'capture %s fails its checksum' % document.get('capture_id'))
    return document
