"""Failover steps: planning, capacity, fencing, promotion, activation -
their decisions, over small in-memory stand-ins for the site APIs."""

import types

import pytest

from rescuer import exceptions
from rescuer import failover
from rescuer import heat
from rescuer import render
from rescuer import sites
from rescuer import store
from rescuer import sync
from tests.unit import test_groups
from tests.unit import test_render
from tests.unit import test_store


def _site(**extra):
    values = dict(name='site-b', cloud='c', region='RegionB', country='FR',
                  role=None, clouds_file=None,
                  mappings={'images': {'vnf-os-1.2': 'img'},
                            'flavors': {'vnf.large': 'large',
                                        'vnf.small': 'small'},
                            'networks': {'public': 'public'}},
                  storage={'manage_host': 'site-b@lab#lab',
                           'replica_ref': {'source-name':
                                           'from-{primary_site}/volume-'
                                           '{volume_id}'}})
    values.update(extra)
    return sites.Site(**values)


def test_plan_puts_vital_tiers_first_and_lists_every_problem(tmp_path):
    kept = store.DirectoryStore(tmp_path)
    for name, tier in (('core', 1), ('edge', 3), ('oss', 3)):
        kept.save_definition(test_groups._definition(group=name, tier=tier))
        kept.save(test_store._document(group=name))
    assert failover.plan(kept, ['oss', 'edge', 'core']) == [
        ['core'], ['edge', 'oss']]
    kept.save_definition(test_groups._definition(group='fresh'))
    with pytest.raises(exceptions.InvalidGroup) as error:
        failover.plan(kept, ['core', 'ghost', 'fresh'])
    assert 'group ghost is not registered' in str(error.value)
    assert 'no good capture of group fresh' in str(error.value)


def test_capacity_and_flavors_are_checked_against_the_dr_site():
    model = {'parameters': [{'name': 'flavor_big', 'default': 'large'},
                            {'name': 'flavor_odd', 'default': 'odd'}],
             'servers': [{'flavor_param': 'flavor_big'},
                         {'flavor_param': 'flavor_big'},
                         {'flavor_param': 'flavor_odd'}],
             'volumes': [{'size': 30}, {'size': 5}]}
    flavors = [{'name': 'large', 'vcpus': 8, 'ram': 16384}]
    need = failover.needs(model, flavors)
    assert need == ({'instances': 2, 'vcpus': 16, 'ram_mb': 32768,
                     'volumes_gb': 35}, ['odd'])
    problems = failover.capacity_problems(
        _site(capacity={'vcpus': 10, 'volumes_gb': 100}), {'g': need})
    assert problems == [
        'group g needs flavors odd, which site site-b does not have',
        'site site-b declares capacity for 10 vcpus; the groups need 16']


class FakeCinder:
    def __init__(self, site, existing=None):
        self.site = site
        self.existing = existing
        self.managed = []

    def find_volume(self, name):
        return self.existing

    def find_volumes(self, name):
        return [self.existing] if self.existing else []

    def delete_volume(self, volume_id):
        self.deleted = getattr(self, 'deleted', []) + [volume_id]

    def manage_volume(self, host, ref, name, **kwargs):
        self.managed.append((host, ref, name, kwargs))
        return {'id': 'dr-1', 'status': 'creating'}


VOLUME = {'volume_id': 'v-1', 'method': 'storage', 'size': 1,
          'volume_type': 'lab-replicated', 'bootable': False}


def test_storage_promotion_takes_the_replica_over_once():
    cinder = FakeCinder(_site())
    result = failover.promote_volume(cinder, test_groups._definition(),
                                     VOLUME)
    assert result == {'volume_id': 'v-1', 'dr_volume_id': 'dr-1',
                      'method': 'storage', 'status': 'creating'}
    [(host, ref, name, kwargs)] = cinder.managed
    assert (host, ref, name) == ('site-b@lab#lab',
                                 {'source-name': 'from-site-a/volume-v-1'},
                                 'rescuer-v-1')
    assert kwargs['volume_type'] == 'lab-replicated'
    # A re-run finds the promoted volume and makes no other.
    again = FakeCinder(_site(), existing={'id': 'dr-1', 'status': 'in-use'})
    assert failover.promote_volume(again, test_groups._definition(),
                                   VOLUME)['dr_volume_id'] == 'dr-1'
    assert again.managed == []


def test_a_promotion_that_failed_before_is_made_again():
    cinder = FakeCinder(_site(), existing={'id': 'dr-0',
                                           'status': 'error'})
    result = failover.promote_volume(cinder, test_groups._definition(),
                                     VOLUME)
    assert cinder.deleted == ['dr-0']
    assert result['dr_volume_id'] == 'dr-1'
    assert len(cinder.managed) == 1


def test_promotion_needs_the_sites_storage_facts():
    with pytest.raises(exceptions.RegistryError, match='storage'):
        failover.promote_volume(FakeCinder(_site(storage={})),
                                test_groups._definition(), VOLUME)


class FakeHeat:
    def __init__(self, stack):
        self.site = _site()
        self.stack = stack
        self.updates = []

    def get_stack(self, name):
        if self.stack is None:
            raise exceptions.NotFound(name)
        return self.stack

    def update_stack(self, stack_id, template=None, parameters=None,
                     tags=None):
        self.updates.append((stack_id, parameters, tags))

    def get_template(self, stack):
        return self.stack['template']


def test_activation_runs_on_the_promoted_data_and_is_idempotent():
    capture = test_render._capture('multi')
    definition = test_groups._definition()
    api = FakeHeat({'id': 's-1', 'stack_status': 'UPDATE_COMPLETE',
                    'parameters': {'standby_level': 'hot'}})
    promoted = {'vol-db': 'dr-db', 'vol-logs': 'dr-logs'}
    assert failover.activate(api, definition, capture, promoted) == {
        'stack_id': 's-1', 'action': 'UPDATE', 'healed': [], 'healing': False}
    [(stack_id, parameters, tags)] = api.updates
    assert parameters == {'standby_level': 'active',
                          'promoted_db_data': 'dr-db',
                          'promoted_logs': 'dr-logs'}
    assert heat.FAILED_OVER_TAG in tags
    done = FakeHeat({'id': 's-1', 'stack_status': 'UPDATE_COMPLETE',
                     'tags': list(tags), 'parameters': parameters})
    assert failover.activate(done, definition, capture, promoted)[
        'action'] == 'unchanged'
    assert done.updates == []
    with pytest.raises(exceptions.InvalidReplication, match='vol-logs'):
        failover.activate(api, definition, capture, {'vol-db': 'dr-db'})


def _hot_capture(**changes):
    """A capture whose recovery stack the active level would not change:
    no replicated volume, no floating IP."""
    capture = dict(test_render._capture('multi'), volumes=[],
                   floating_ips=[])
    capture.update(changes)
    return capture


def _hot_stack(capture, definition, **changes):
    """The group's recovery stack, settled at the hot level on
    ``capture``."""
    stack = {'id': 's-1', 'stack_status': 'UPDATE_COMPLETE',
             'parameters': {'standby_level': 'hot'}, 'tags': [],
             'template': sync.render_for(definition, capture, _site())}
    stack.update(changes)
    return stack


def test_a_hot_standby_the_active_level_would_not_change_serves_first():
    capture, definition = _hot_capture(), test_groups._definition()
    api = FakeHeat(_hot_stack(capture, definition))
    assert failover.activate(api, definition, capture, {},
                             serve_first=True) == {
        'stack_id': 's-1', 'action': failover.IN_SERVICE, 'healed': [],
        'healing': False}
    assert api.updates == []
    # The second call, once the group is healthy, marks the stack.
    assert failover.activate(api, definition, capture, {}) == {
        'stack_id': 's-1', 'action': 'UPDATE', 'healed': [], 'healing': False}
    [(_, parameters, tags)] = api.updates
    assert parameters == {'standby_level': 'active'}
    assert heat.FAILED_OVER_TAG in tags


@pytest.mark.parametrize('why, capture, stack', [
    ('a floating IP only the active level has',
     dict(floating_ips=test_render._capture('multi')['floating_ips']), {}),
    ('replicated volumes to swap in', None, {}),
    ('a cold standby', {}, {'parameters': {'standby_level': 'cold'}}),
    ('a stack still updating', {}, {'stack_status': 'UPDATE_IN_PROGRESS'}),
    ('a stack on an older capture', {}, {'template': 'heat_template_version:'
                                         ' 2021-04-16\nresources: {}\n'}),
    ('a stack failed over already', {}, {'tags': [heat.FAILED_OVER_TAG]}),
])
def test_activation_updates_the_stack_first_when_the_active_level_changes_it(
        why, capture, stack):
    definition = test_groups._definition()
    if capture is None:
        capture = dict(test_render._capture('multi'), floating_ips=[])
        promoted = {'vol-db': 'dr-db', 'vol-logs': 'dr-logs'}
    else:
        capture, promoted = _hot_capture(**capture), {}
    # The stack settled on this very capture at the hot level, but for
    # the one difference under test.
    api = FakeHeat(_hot_stack(capture, definition, **stack))
    assert failover.activate(api, definition, capture, promoted,
                             serve_first=True)['action'] == 'UPDATE', why
    assert len(api.updates) == 1


class FakeCompute:
    def __init__(self, servers):
        self._servers = servers
        self.calls = []

    def servers(self, ids=None):
        return [s for s in self._servers if ids is None or s['id'] in ids]

    def stop(self, server_id):
        self.calls.append(('stop', server_id))

    def start(self, server_id):
        self.calls.append(('start', server_id))


class FakeNetwork:
    def __init__(self, ports):
        self._ports = ports
        self.calls = []

    def ports(self, ids):
        return [p for p in self._ports if p['id'] in ids]

    def set_port_admin_state(self, port_id, up):
        self.calls.append(('port', port_id, up))


def test_fencing_takes_ports_down_then_stops_what_runs():
    capture = {'servers': [{'id': 'a'}, {'id': 'b'}, {'id': 'gone'}],
               'resources': [
                   {'physical_id': 'a', 'type': 'OS::Nova::Server'},
                   {'physical_id': 'p2', 'type': 'OS::Neutron::Port'}],
               # p1 is server a's; p3 another group's port the group's
               # chain names: never fenced with this group.
               'ports': [{'id': 'p1', 'device_id': 'a'},
                         {'id': 'p2', 'device_id': 'b'},
                         {'id': 'p3', 'device_id': 'other'}]}
    compute = FakeCompute([{'id': 'a', 'status': 'ACTIVE'},
                           {'id': 'b', 'status': 'SHUTOFF'}])
    network = FakeNetwork([{'id': 'p1', 'admin_state_up': True},
                           {'id': 'p2', 'admin_state_up': False},
                           {'id': 'p3', 'admin_state_up': True}])
    assert failover.fence_primary(compute, network, capture) == {
        'ports_down': ['p1', 'p2'], 'servers_stopped': ['a', 'b']}
    assert network.calls == [('port', 'p1', False)]
    assert compute.calls == [('stop', 'a')]


def test_plan_refuses_oversize_and_unusable_inputs_before_reading(tmp_path):
    kept = store.DirectoryStore(tmp_path)
    with pytest.raises(exceptions.InvalidGroup, match='at most 500'):
        failover.plan(kept, ['g%d' % n for n in range(501)])
    with pytest.raises(exceptions.InvalidGroup,
                       match='not protection group names'):
        failover.plan(kept, ['x' * 100000])
    with pytest.raises(exceptions.InvalidGroup,
                       match='not protection group names'):
        failover.plan(kept, ['../../etc'])


def test_stopped_recovery_servers_are_started_and_running_ones_left():
    # A failback drained the hot standby (Nova stopped its server); the
    # next activation and the return to standby start it again.
    class Resources:
        def resources(self, stack_id):
            assert stack_id == 's-1'
            return [{'resource_type': 'OS::Nova::Server',
                     'resource_name': name, 'physical_resource_id': pid}
                    for name, pid in (('vnf', 'a'), ('db', 'b'),
                                      ('lb', 'c'))] + [
                {'resource_type': 'OS::Neutron::Port',
                 'resource_name': 'port', 'physical_resource_id': 'p'}]

    compute = FakeCompute([{'id': 'a', 'status': 'SHUTOFF'},
                           {'id': 'b', 'status': 'ACTIVE'},
                           {'id': 'c', 'status': 'SHUTOFF'}])
    assert failover.start_stack_servers(Resources(), compute, 's-1') == {
        'stack_id': 's-1', 'started': ['a', 'c']}
    assert sorted(compute.calls) == [('start', 'a'), ('start', 'c')]


SITE_B = types.SimpleNamespace(name='site-b')


class _Resources:
    site = SITE_B

    def __init__(self, resources):
        self._resources = resources

    def resources(self, stack_id):
        return self._resources


class _Servers:
    site = SITE_B

    def __init__(self, *servers):
        self._servers = list(servers)

    def servers(self, ids=None):
        return [s for s in self._servers if ids is None or s['id'] in ids]


def _server_resource(name, server_id, status='CREATE_COMPLETE'):
    return {'resource_name': name, 'resource_type': 'OS::Nova::Server',
            'physical_resource_id': server_id, 'resource_status': status}


def test_health_waits_for_a_server_that_may_still_become_active():
    result = failover.health(
        _Resources([_server_resource('vnf', 's-1')]),
        _Servers({'id': 's-1', 'status': 'BUILD'}), 'stack-1')
    assert result['healthy'] is False and result['servers'] == {
        'vnf': 'BUILD'}


def test_health_ends_the_wait_on_a_server_in_error_or_a_failed_resource():
    # Neither heals by itself: retrying the health check for two minutes
    # only delayed the failure (and every tier after it).
    with pytest.raises(exceptions.StackFailed,
                       match='server vnf \\(s-1\\) at site site-b is '
                             'ERROR: No valid host was found'):
        failover.health(
            _Resources([_server_resource('vnf', 's-1')]),
            _Servers({'id': 's-1', 'status': 'ERROR', 'fault': {
                'message': 'No valid host was found'}}), 'stack-1')
    failed = dict(_server_resource('vnf', 's-1', 'UPDATE_FAILED'),
                  resource_status_reason='boom')
    with pytest.raises(exceptions.StackFailed,
                       match='vnf is UPDATE_FAILED: boom'):
        failover.health(_Resources([failed]),
                        _Servers({'id': 's-1', 'status': 'ACTIVE'}),
                        'stack-1')
    # Only the members are judged when they are named.
    assert failover.health(
        _Resources([failed, _server_resource('db', 's-2')]),
        _Servers({'id': 's-2', 'status': 'ACTIVE'}), 'stack-1',
        members={'db'})['healthy'] is True


class _HealingHeat(FakeHeat):
    def __init__(self, stack, resources):
        super().__init__(stack)
        self._resources = resources
        self.unhealthy = []

    def resources(self, stack_id):
        return self._resources

    def mark_unhealthy(self, stack_id, name, reason):
        self.unhealthy.append((stack_id, name))


class _DeletingServers(_Servers):
    def __init__(self, *servers):
        super().__init__(*servers)
        self.deleted = []

    def delete(self, server_id):
        self.deleted.append(server_id)


def test_a_run_recreates_the_servers_a_failed_activation_left_in_error():
    """The hot standby's server went to ERROR and the failover failed; a
    run does not serve it as it is (nor find it unchanged).  Nova deletes
    it first (Heat would create the replacement before deleting it, on
    the same port: 'port is still in use'), then the update recreates
    it."""
    capture, definition = _hot_capture(), test_groups._definition()
    resources = [_server_resource('vnf', 's-1'),
                 _server_resource('db', 's-2')]
    api = _HealingHeat(_hot_stack(capture, definition), resources)
    compute = _DeletingServers({'id': 's-1', 'status': 'ERROR'},
                               {'id': 's-2', 'status': 'ACTIVE'})
    first = failover.activate(api, definition, capture, {},
                              serve_first=True, compute=compute)
    assert first == {'stack_id': 's-1', 'action': failover.HEALING,
                     'healed': ['vnf'], 'healing': True}
    assert compute.deleted == ['s-1'] and api.updates == []
    # Gone: marked for the update, which recreates it.
    compute = _DeletingServers({'id': 's-2', 'status': 'ACTIVE'})
    result = failover.activate(api, definition, capture, {},
                               serve_first=True, compute=compute)
    assert result == {'stack_id': 's-1', 'action': 'UPDATE',
                      'healed': ['vnf'], 'healing': False}
    assert api.unhealthy == [('s-1', 'vnf')]
    [(_, parameters, _)] = api.updates
    assert parameters == {'standby_level': 'active'}
    # Nothing in ERROR: served as it is, nothing marked.
    api = _HealingHeat(_hot_stack(capture, definition),
                       [_server_resource('vnf', 's-1')])
    assert failover.activate(
        api, definition, capture, {}, serve_first=True,
        compute=_DeletingServers({'id': 's-1', 'status': 'ACTIVE'}))[
            'action'] == failover.IN_SERVICE
    assert api.unhealthy == [] and api.updates == []


class _AttachedCinder(FakeCinder):
    def __init__(self, site, existing, attachments):
        super().__init__(site, existing)
        self._attachments = attachments
        self.detached = []

    def attachments(self, volume_id):
        return self._attachments

    def delete_attachment(self, attachment_id):
        self.detached.append(attachment_id)
        self.existing = dict(self.existing, status='available')

    def get_volume(self, volume_id):
        return self.existing


def test_a_rerun_frees_a_promoted_volume_a_failed_server_create_reserved():
    """The failed activation's server create reserved the promoted boot
    volume and went to ERROR: the re-run's wait_promoted waited for it
    until its last try.  Now its promotion deletes that attachment (and
    only the stale ones)."""
    cinder = _AttachedCinder(_site(), {'id': 'dr-1', 'status': 'reserved'}, [
        {'id': 'a-1', 'instance': 's-err', 'status': 'reserved'},
        {'id': 'a-2', 'instance': 's-gone', 'status': 'attaching'},
        {'id': 'a-3', 'instance': 's-build', 'status': 'reserved'},
        {'id': 'a-4', 'instance': 's-ok', 'status': 'attached'}])
    compute = _Servers({'id': 's-err', 'status': 'ERROR'},
                       {'id': 's-build', 'status': 'BUILD'},
                       {'id': 's-ok', 'status': 'ACTIVE'})
    result = failover.promote_volume(cinder, test_groups._definition(),
                                     VOLUME, compute=compute)
    assert cinder.detached == ['a-1', 'a-2']
    assert result['status'] == 'available' and cinder.managed == []


class _ReplicaCinder:
    def __init__(self, listed=(), promoted=(), status=None):
        self.site = _site()
        self.listed = list(listed)
        self.promoted = list(promoted)
        self.status = status
        self.hosts = []

    def manageable_volumes(self, host):
        self.hosts.append(host)
        if self.status:
            raise exceptions.RemoteError('site-b', 'GET', '/manageable',
                                         self.status, 'no')
        return self.listed

    def find_volumes(self, name):
        return self.promoted


def _replica(volume_id, at):
    return {'reference': {'source-name': 'from-site-a/volume-%s'
                          % volume_id},
            'size': 1, 'safe_to_manage': True,
            'extra_info': {'replicated_at': at}}


def test_a_failover_is_refused_for_a_storage_volume_with_no_replica_yet():
    capture = test_render._capture('multi')
    [storage] = [v['volume_id'] for v in failover.replicated_volumes(capture)
                 if v['method'] == 'storage']
    definition = test_groups._definition()
    cinder = _ReplicaCinder()
    with pytest.raises(exceptions.InvalidGroup,
                       match='volume %s of group vnf-group-1 has no replica '
                             'at site site-b yet' % storage):
        failover.replica_points(cinder, definition, capture)
    # Asked of the backend's host (no pool).
    assert cinder.hosts == ['site-b@lab']
    # Replicated: its replication time is a restore point.
    assert failover.replica_points(_ReplicaCinder([_replica(
        storage, '2026-12-07T10:00:00+00:00')]), definition, capture) == {
            storage: '2026-12-07T10:00:00+00:00'}
    # Promoted by an earlier run (the replica was taken over): no need.
    assert failover.replica_points(_ReplicaCinder(promoted=[{
        'id': 'dr-1', 'status': 'in-use'}]), definition, capture) == {
            storage: None}
    # A backend that cannot list its storage is not checked.
    assert failover.replica_points(_ReplicaCinder(status=501), definition,
                                   capture) == {}


class _RefusingServers(_Servers):
    def delete(self, server_id):
        raise exceptions.RemoteError('site-b', 'DELETE', '/servers/%s'
                                     % server_id, 409, 'locked')


def test_healing_ends_when_nova_refuses_to_delete_the_server():
    capture, definition = _hot_capture(), test_groups._definition()
    api = _HealingHeat(_hot_stack(capture, definition),
                       [_server_resource('vnf', 's-1')])
    with pytest.raises(exceptions.RemoteError, match='locked'):
        failover.activate(api, definition, capture, {}, serve_first=True,
                          compute=_RefusingServers(
                              {'id': 's-1', 'status': 'ERROR'}))


def test_a_server_whose_boot_volume_is_swapped_is_deleted_first():
    """A hot standby booted from a storage-replicated volume: the active
    level boots it from the promoted copy, which Heat does by replacing
    the server create-before-delete - two servers' room, or a second
    host in an anti-affinity group.  Nova deletes it first; the update
    creates it once, on the promoted volume."""
    capture = test_render._capture('vnf-site')
    boot = '60e5f3bc-68de-4470-8e83-bc444dd45448'
    for volume in capture['volumes']:
        volume['metadata'] = {'rescuer_replication': 'storage'}
    definition = dict(test_groups._definition(), mappings={
        'images': {'lab-image': 'img'}, 'flavors': {'m1.tiny': 'tiny'}})
    stack = _hot_stack(capture, definition)
    model = sync.model_for(definition, capture, _site())
    promoted = {v['source_id']: 'dr-%s' % v['source_id'][:4]
                for v in model['volumes']}
    parameters = {p: promoted[v] for v, p in
                  render.promoted_parameters(model).items()}
    # Only the server booted from a swapped volume; a data volume's
    # attachment changes without replacing the server.
    assert failover.swapped_servers(model, stack, parameters) == ['client']
    assert failover.swapped_servers(
        model, dict(stack, parameters=dict(parameters)), parameters) == []
    api = _HealingHeat(stack, [_server_resource('client', 's-c'),
                               _server_resource('function', 's-f')])
    compute = _DeletingServers({'id': 's-c', 'status': 'ACTIVE'},
                               {'id': 's-f', 'status': 'ACTIVE'})
    first = failover.activate(api, definition, capture, promoted,
                              compute=compute)
    assert (first['action'], first['healing']) == (failover.HEALING, True)
    assert compute.deleted == ['s-c'] and api.updates == []
    # Gone: marked, and the update recreates it on the promoted volume.
    compute = _DeletingServers({'id': 's-f', 'status': 'ACTIVE'})
    second = failover.activate(api, definition, capture, promoted,
                               compute=compute)
    assert second['action'] == 'UPDATE'
    assert api.unhealthy == [('s-1', 'client')] and compute.deleted == []
    [(_, updated, _)] = api.updates
    assert updated[render.promoted_parameters(model)[boot]] == promoted[boot]


def test_a_group_kept_apart_on_more_hosts_than_the_site_has_is_refused():
    capture = test_render._capture('multi')
    definition = test_groups._definition()
    model = sync.model_for(definition, capture, _site())
    # Two servers in the anti-affinity group sgp.
    assert failover.kept_apart(model, capture) == {'sgp': 2}
    spread = {'core': failover.kept_apart(model, capture)}
    assert failover.spread_problems(_site(capacity={'hosts': 1}), spread) == [
        'group core keeps 2 servers apart (anti-affinity server group '
        'sgp): site site-b declares 1 compute host']
    # A server group another group holds counts for the whole run.
    assert failover.spread_problems(_site(capacity={'hosts': 3}), {
        'a': {'sgp': 2}, 'b': {'sgp': 2}}) == [
        'groups a, b keep 4 servers apart (anti-affinity server group '
        'sgp): site site-b declares 3 compute hosts']
    assert failover.spread_problems(_site(capacity={'hosts': 2}),
                                    spread) == []
    # Nothing declared, nothing checked.
    assert failover.spread_problems(_site(), spread) == []
