"""OS::Rescuer::ProtectionGroup - what is protected, how, where, in what
order and against which RPO/RTO."""

from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import constraints
from heat.engine import properties
from heat.engine import resource
from heat.engine import support
from oslo_log import log as logging

from rescuer import clients
from rescuer import exceptions as rescuer_exc
from rescuer import groups
from rescuer import heat as rescuer_heat
from rescuer import mistral
from rescuer import protection
from rescuer import shared_refs
from rescuer import sites
from rescuer import sync
from rescuer_heat import protected_project

LOG = logging.getLogger(__name__)

# Resource types whose properties name images and flavors of the primary
# site, which must be mapped at the recovery site.
_IMAGE_USERS = {
    'OS::Nova::Server': ('image', 'flavor'),
    'OS::Cinder::Volume': ('image', None),
    'OS::Rescuer::ReplicatedVolume': ('image', None),
}


class ProtectionGroup(resource.Resource):
    """The unit of protection, declared in the primary site's stack.

    Members are resources of this stack, by name (the group is created
    after them); no members means the whole stack.  The group names its
    recovery site from the DR site registry, the site's geo/regulatory
    rules it must satisfy, its priority tier (1 = vital, recovered first),
    DR mode, RPO and RTO targets, the metadata sync interval (by default
    half the RPO), consistency hooks, and the mappings of images, flavors,
    networks and availability zones at the recovery site (the registry's
    defaults, each overridable here).

    ``stack create --dry-run`` refuses an unknown site, a tier out of
    range, a member that is not in the stack, a geo rule the site
    violates, a sync interval that cannot meet the RPO and an image or
    flavor of a member that has no mapping - naming the property.

    Several groups of a stack may share resources (networks, subnets,
    ports, security groups, routers, server groups, port pairs and their
    groups, flow classifiers, volumes and servers): a resource belongs to
    at most one group, and a member of another group that uses it
    references the copy its group recovers.
    The dry run refuses a resource two groups hold, a member using one
    that no group holds (unless ``mappings.networks`` maps that network,
    or a subnet's network, to one of the recovery site), a group using a
    resource of a group of a later tier, and groups that use each other's
    resources in a cycle.  A group depends on the groups whose resources
    it uses: they register first.

    On create and update the group registers with the recovery site's
    Mistral: it runs ``rescuer_dr.register_v1`` there (the definition is
    kept at the DR site, the group is captured and its recovery stack
    ``rescuer-<group>`` built at its standby level) and keeps a cron
    trigger ``rescuer-sync-<group>`` running ``rescuer_dr.sync_v1`` at the
    sync interval.  The resource is complete when the first sync is.  On
    delete it removes the trigger and runs ``rescuer_dr.unregister_v1``,
    which never deletes the recovery stack of a failed-over group.
    """

    support_status = support.SupportStatus(version='0.1.0')

    PROPERTIES = (
        MEMBERS, TIER, MODE, RECOVERY_SITE, RECOVERY_REGION, PLACEMENT_RULES,
        RPO, RTO, SYNC_INTERVAL, CONSISTENCY_HOOKS, MAPPINGS,
    ) = (
        'members', 'tier', 'mode', 'recovery_site', 'recovery_region',
        'placement_rules', 'rpo', 'rto', 'sync_interval',
        'consistency_hooks', 'mappings',
    )

    _PLACEMENT_KEYS = (ALLOWED_COUNTRIES, ALLOWED_SITES) = (
        'allowed_countries', 'allowed_sites')

    _HOOK_KEYS = (PRE_WORKFLOW, POST_WORKFLOW, VOLUME_GROUP_SNAPSHOT) = (
        'pre_workflow', 'post_workflow', 'volume_group_snapshot')

    _MAPPING_KEYS = (IMAGES, FLAVORS, NETWORKS, AVAILABILITY_ZONES,
                     KEY_PAIRS, IP_POLICY) = (
        'images', 'flavors', 'networks', 'availability_zones', 'key_pairs',
        'ip_policy')

    ATTRIBUTES = (
        PROTECTION_STATUS, MEMBER_IDS, SYNC_INTERVAL_ATTR,
        LAST_SYNC_TIME, ACHIEVED_RPO, RPO_STATUS, RECOVERY_STACK_ID,
        RECOVERY_SITE_ATTR, GROUP_NAME, WORKFLOWS,
    ) = (
        'protection_status', 'member_ids', 'sync_interval',
        'last_sync_time', 'achieved_rpo', 'rpo_status', 'recovery_stack_id',
        'recovery_site', 'group_name', 'workflows',
    )
    # Read from the DR site's sync record, one Mistral action a read.
    SYNC_FIGURES = (LAST_SYNC_TIME, ACHIEVED_RPO, RPO_STATUS)

    properties_schema = {
        MEMBERS: properties.Schema(
            properties.Schema.LIST,
            _('Names of the protected resources of this stack; empty: the '
              'whole stack.'),
            default=[],
            update_allowed=True,
        ),
        TIER: properties.Schema(
            properties.Schema.INTEGER,
            _('Priority tier: 1 is vital and recovered first.'),
            default=1,
            constraints=[constraints.Range(*protection.TIERS)],
            update_allowed=True,
        ),
        MODE: properties.Schema(
            properties.Schema.STRING,
            _('DR mode.'),
            default='cold-standby',
            constraints=[constraints.AllowedValues(protection.MODES)],
            update_allowed=True,
        ),
        RECOVERY_SITE: properties.Schema(
            properties.Schema.STRING,
            _('Recovery site, from the DR site registry.'),
            required=True,
            constraints=[constraints.CustomConstraint('rescuer.site')],
        ),
        RECOVERY_REGION: properties.Schema(
            properties.Schema.STRING,
            _('Region at the recovery site; the registry\'s by default.'),
        ),
        PLACEMENT_RULES: properties.Schema(
            properties.Schema.MAP,
            _('Geo/regulatory rules the recovery site must satisfy.'),
            schema={
                ALLOWED_COUNTRIES: properties.Schema(
                    properties.Schema.LIST,
                    _('Countries (as the registry declares them) the data '
                      'may be recovered in.')),
                ALLOWED_SITES: properties.Schema(
                    properties.Schema.LIST,
                    _('Sites the group may be recovered at.')),
            },
            default={},
            update_allowed=True,
        ),
        RPO: properties.Schema(
            properties.Schema.INTEGER,
            _('Recovery point objective, in seconds.'),
            required=True,
            constraints=[constraints.Range(min=1)],
            update_allowed=True,
        ),
        RTO: properties.Schema(
            properties.Schema.INTEGER,
            _('Recovery time objective, in seconds.'),
            required=True,
            constraints=[constraints.Range(min=1)],
            update_allowed=True,
        ),
        SYNC_INTERVAL: properties.Schema(
            properties.Schema.INTEGER,
            _('Seconds between metadata syncs; half the RPO by default.'),
            constraints=[constraints.Range(min=1)],
            update_allowed=True,
        ),
        CONSISTENCY_HOOKS: properties.Schema(
            properties.Schema.MAP,
            _('Actions around each capture, for consistent data.'),
            schema={
                PRE_WORKFLOW: properties.Schema(
                    properties.Schema.STRING,
                    _('Mistral workflow run before a capture (quiesce).')),
                POST_WORKFLOW: properties.Schema(
                    properties.Schema.STRING,
                    _('Mistral workflow run after a capture (resume).')),
                VOLUME_GROUP_SNAPSHOT: properties.Schema(
                    properties.Schema.BOOLEAN,
                    _('Take a Cinder group snapshot of the members\' '
                      'volumes at each capture.'),
                    default=False),
            },
            default={},
            update_allowed=True,
        ),
        MAPPINGS: properties.Schema(
            properties.Schema.MAP,
            _('Recovery-site mappings; each overrides the registry\'s '
              'default for that name.'),
            schema={
                IMAGES: properties.Schema(
                    properties.Schema.MAP,
                    _('Primary image name -> recovery-site image.')),
                FLAVORS: properties.Schema(
                    properties.Schema.MAP,
                    _('Primary flavor name -> recovery-site flavor.')),
                NETWORKS: properties.Schema(
                    properties.Schema.MAP,
                    _('Primary network -> recovery-site network (for '
                      'networks not created by the stack itself).')),
                AVAILABILITY_ZONES: properties.Schema(
                    properties.Schema.MAP,
                    _('Primary availability zone -> recovery-site zone.')),
                KEY_PAIRS: properties.Schema(
                    properties.Schema.MAP,
                    _('Primary key pair name -> the key pair of Rescuer\'s '
                      'user at the recovery site (default: the same '
                      'name; a key pair belongs to a user).')),
                IP_POLICY: properties.Schema(
                    properties.Schema.STRING,
                    _('keep: the same fixed IPs at the recovery site; '
                      'new: addresses allocated there.'),
                    default='keep',
                    constraints=[constraints.AllowedValues(
                        protection.IP_POLICIES)]),
            },
            default={},
            update_allowed=True,
        ),
    }

    attributes_schema = {
        PROTECTION_STATUS: attributes.Schema(
            _('protected (its recovery stack at the recovery site is at '
              'its standby level), fenced (a failover or switchover '
              'fenced the primary and has not activated the recovery '
              'stack: a run failed or is running; the scheduled sync '
              'only enforces the fence), failed-over (the recovery stack '
              'serves the group), or unknown (the recovery site does not '
              'answer).'),
            type=attributes.Schema.STRING,
            cache_mode=attributes.Schema.CACHE_NONE),
        MEMBER_IDS: attributes.Schema(
            _('Physical ids of the members, by resource name.'),
            type=attributes.Schema.MAP),
        SYNC_INTERVAL_ATTR: attributes.Schema(
            _('The sync interval in force, in seconds.'),
            type=attributes.Schema.INTEGER),
        LAST_SYNC_TIME: attributes.Schema(
            _('Capture time of the last successful sync (ISO 8601).'),
            type=attributes.Schema.STRING,
            cache_mode=attributes.Schema.CACHE_NONE),
        ACHIEVED_RPO: attributes.Schema(
            _('Seconds since the last successful sync: what a disaster '
              'now would lose of the metadata.'),
            type=attributes.Schema.INTEGER,
            cache_mode=attributes.Schema.CACHE_NONE),
        RPO_STATUS: attributes.Schema(
            _('met, or missed when the achieved RPO exceeds the target '
              '(the RPO alert).'),
            type=attributes.Schema.STRING,
            cache_mode=attributes.Schema.CACHE_NONE),
        RECOVERY_STACK_ID: attributes.Schema(
            _('Id of the recovery stack at the recovery site.'),
            type=attributes.Schema.STRING,
            cache_mode=attributes.Schema.CACHE_NONE),
        RECOVERY_SITE_ATTR: attributes.Schema(
            _('The recovery site.'),
            type=attributes.Schema.STRING),
        GROUP_NAME: attributes.Schema(
            _('The group\'s name at the recovery site: the input of its '
              'workflows.'),
            type=attributes.Schema.STRING),
        WORKFLOWS: attributes.Schema(
            _('The recovery site\'s Mistral workflows for this group and '
              'their input, by purpose (e.g. sync): {purpose: {workflow, '
              'input}}.'),
            type=attributes.Schema.MAP),
    }

    # ------------------------------------------------------------ helpers

    def _path(self, *keys):
        return [self.stack.t.RESOURCES, self.name,
                self.stack.t.get_section_name('properties')] + list(keys)

    def _fail(self, message, *keys):
        raise exception.StackValidationFailed(path=self._path(*keys),
                                              message=message)

    def _member_names(self):
        names = self.properties[self.MEMBERS]
        if names:
            return list(names)
        return [name for name in self.stack.t[self.stack.t.RESOURCES]
                if name != self.name]

    def _site(self):
        return sites.Registry.load().get(self.properties[self.RECOVERY_SITE])

    def sync_interval(self):
        return (self.properties[self.SYNC_INTERVAL] or
                protection.default_sync_interval(self.properties[self.RPO]))

    def _used_names(self, members):
        """{images: {...}, flavors: {...}} the members refer to by name."""
        used = {self.IMAGES: set(), self.FLAVORS: set()}
        for name in members:
            member = self.stack[name]
            fields = _IMAGE_USERS.get(member.type())
            if not fields:
                continue
            for kind, prop in zip((self.IMAGES, self.FLAVORS), fields):
                if prop is None:
                    continue
                try:
                    value = member.properties[prop]
                except (exception.StackValidationFailed, KeyError,
                        ValueError):
                    value = None
                if isinstance(value, str) and value:
                    used[kind].add(value)
        return used

    # --------------------------------------------------------- validation

    def validate(self):
        super().validate()
        if self.properties[self.RECOVERY_SITE] is None:
            return
        members = self._member_names()
        known = set(self.stack.t[self.stack.t.RESOURCES])
        unknown = [m for m in members if m not in known or m == self.name]
        if unknown:
            self._fail(_('not resources of this stack: %s')
                       % ', '.join(unknown), self.MEMBERS)
        try:
            site = self._site()
        except rescuer_exc.RescuerError as exc:
            self._fail(str(exc), self.RECOVERY_SITE)
        self._refuse_unprotected_project()
        rules = self.properties[self.PLACEMENT_RULES]
        problems = protection.geo_problems(
            site, rules.get(self.ALLOWED_COUNTRIES),
            rules.get(self.ALLOWED_SITES))
        if problems:
            self._fail('; '.join(problems), self.PLACEMENT_RULES)
        problems = protection.interval_problems(
            self.properties[self.RPO], self.properties[self.RTO],
            self.sync_interval())
        if problems:
            self._fail('; '.join(problems), self.SYNC_INTERVAL)
        mappings = protection.merged_mappings(site,
                                              self.properties[self.MAPPINGS])
        missing = protection.unmapped(mappings, self._used_names(members))
        if missing:
            self._fail(protection.describe_unmapped(missing, site.name),
                       self.MAPPINGS)
        problems = shared_refs.problems(
            self.name, *self._sharing(with_network_names=True),
            networks=mappings[self.NETWORKS])
        if problems:
            self._fail('; '.join(problems), self.MEMBERS)

    # -------------------------------------------------- shared resources

    def _sharing(self, with_network_names=False):
        """``(groups, resources)`` of the stack, as
        :mod:`rescuer.shared_refs` takes them; the names a network
        mapping may give a network or subnet only ``with_network_names``
        (they read property values)."""
        groups, resources = {}, {}
        for name, res in self.stack.items():
            if isinstance(res, ProtectionGroup):
                group = _group_of(res)
                if group is not None:
                    groups[name] = group
            else:
                resources[name] = shared_refs.Resource(
                    res.type(), _references(res),
                    _network_names(res) if with_network_names else ())
        return groups, resources

    def _refuse_unprotected_project(self):
        """Only the project Rescuer protects here may hold a group (see
        :mod:`rescuer_heat.protected_project`)."""
        try:
            primary = self._primary_site(sites.Registry.load())
        except rescuer_exc.RescuerError as exc:
            self._fail(str(exc), self.RECOVERY_SITE)
        problem = protected_project.problem(self.stack.context, primary)
        if problem:
            self._fail(problem, self.RECOVERY_SITE)

    def add_dependencies(self, deps):
        """The group depends on its members and on the groups whose
        resources they use (those register first).  An edge that would
        close a cycle is left out: Heat would refuse the stack with a
        CircularDependencyException before :meth:`validate` names the
        groups in the cycle."""
        super().add_dependencies(deps)
        names = self.properties[self.MEMBERS] or []
        for name in names:
            if name in self.stack and name != self.name:
                deps += (self, self.stack[name])
        for owner in shared_refs.owner_groups(self.name, *self._sharing()):
            if not _requires(deps, self.stack[owner], self):
                deps += (self, self.stack[owner])

    def update_convergence(self, template_id, new_requires, *args,
                           **kwargs):
        """Keep the stored dependencies on the members' current ids.

        Heat stores an unchanged resource's template id but not its new
        ``requires`` (``Resource.update``: the no-change path).  A group
        names its members, so it is unchanged when Heat replaces one (a
        failback marks servers and attachments unhealthy): it would keep
        the replaced members' ids, and a later stack delete would detach
        and delete the members while the group still syncs them (a volume
        detach then failed on a sync backup, 'backing-up').
        """
        super().update_convergence(template_id, new_requires, *args,
                                   **kwargs)
        if new_requires is not None and self.requires != set(new_requires):
            self.requires = set(new_requires)
            self.store(lock=self.LOCK_RESPECT)

    # ---------------------------------------------------- registration

    def _group(self):
        """The group's name at the recovery site."""
        return self.resource_id or self.physical_resource_name()

    def _primary_site(self, registry):
        return protected_project.this_site(self.context, registry)

    def _definition(self):
        registry = sites.Registry.load()
        hooks = {k: v for k, v in
                 self.properties[self.CONSISTENCY_HOOKS].items()
                 if v is not None}
        mappings = {k: v for k, v in self.properties[self.MAPPINGS].items()
                    if v is not None}
        return groups.definition(
            group=self._group(),
            primary_site=self._primary_site(registry).name,
            stack_id=self.stack.id, stack_name=self.stack.name,
            members=self.properties[self.MEMBERS],
            tier=self.properties[self.TIER],
            mode=self.properties[self.MODE],
            recovery_site=self.properties[self.RECOVERY_SITE],
            recovery_region=self.properties[self.RECOVERY_REGION],
            rpo=self.properties[self.RPO], rto=self.properties[self.RTO],
            sync_interval=self.sync_interval(),
            consistency_hooks=hooks, mappings=mappings)

    def _recovery_session(self):
        site = self._site()
        return site, clients.site_session(site)

    def _mistral(self):
        return mistral.MistralAPI(*reversed(self._recovery_session()))

    def _register(self):
        try:
            definition = self._definition()
            return self._mistral().start_execution(
                groups.REGISTER_WORKFLOW, {'definition': definition},
                description='register %s' % definition['group'])
        except rescuer_exc.RescuerError as exc:
            raise exception.Error(str(exc))

    def _registered(self, execution_id):
        """True when the registration ran; then keep the sync trigger."""
        try:
            api = self._mistral()
            if not api.execution_done(execution_id):
                return False
            group = self._group()
            api.ensure_cron_trigger(
                groups.trigger_name(group), groups.SYNC_WORKFLOW,
                {'group': group}, groups.cron_pattern(self.sync_interval()))
        except rescuer_exc.RescuerError as exc:
            raise exception.Error(str(exc))
        return True

    # ---------------------------------------------------------- lifecycle

    def handle_create(self):
        self.resource_id_set(self.physical_resource_name())
        return self._register()

    def check_create_complete(self, execution_id):
        return self._registered(execution_id)

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        if not prop_diff:
            return None
        self.properties = json_snippet.properties(self.properties_schema,
                                                  self.context)
        return self._register()

    def check_update_complete(self, execution_id):
        return execution_id is None or self._registered(execution_id)

    def handle_delete(self):
        """Stop the schedule; unregistering starts once no sync of the
        group is still running (it would rebuild what is removed)."""
        if self.resource_id is None:
            return None
        try:
            self._mistral().delete_cron_trigger(
                groups.trigger_name(self.resource_id))
        except rescuer_exc.RescuerError as exc:
            raise exception.Error(str(exc))
        return {'execution': None}

    def check_delete_complete(self, progress):
        if progress is None:
            return True
        try:
            api = self._mistral()
            if progress['execution'] is None:
                if api.running_executions(groups.SYNC_WORKFLOW,
                                          group=self.resource_id):
                    return False
                progress['execution'] = api.start_execution(
                    groups.UNREGISTER_WORKFLOW, {'group': self.resource_id},
                    description='unregister %s' % self.resource_id)
                return False
            return api.execution_done(progress['execution'])
        except rescuer_exc.RescuerError as exc:
            raise exception.Error(str(exc))

    # -------------------------------------------------------- attributes

    def _recovery_state(self, with_sync=True):
        """Protection status, read from the recovery stack at the
        recovery site, and sync figures, read from the record the DR site
        keeps of the group's last completed sync (a sync that changes
        nothing leaves the stack as it was) - only ``with_sync``."""
        try:
            site, session = self._recovery_session()
            stack = sync.find_stack(rescuer_heat.HeatAPI(session, site),
                                    self._group())
            last_sync, fenced = None, False
            if stack is not None and with_sync:
                group = mistral.MistralAPI(session, site).run_action(
                    groups.GET_GROUP_ACTION, {'group': self._group()})
                last_sync, fenced = group['last_sync'], bool(group['fence'])
        except rescuer_exc.RescuerError as exc:
            LOG.warning('Protection group %s: %s', self._group(), exc)
            return {self.PROTECTION_STATUS: 'unknown'}
        if stack is None:
            return {self.PROTECTION_STATUS: 'unprotected'}
        state = {self.RECOVERY_STACK_ID: stack['id'],
                 self.PROTECTION_STATUS: (
                     'failed-over' if sync.is_failed_over(stack)
                     else 'fenced' if fenced else 'protected')}
        if last_sync:
            achieved = groups.achieved_rpo(last_sync['last_sync_time'])
            state.update({
                self.LAST_SYNC_TIME: last_sync['last_sync_time'],
                self.ACHIEVED_RPO: achieved,
                self.RPO_STATUS: ('missed' if achieved >
                                  self.properties[self.RPO] else 'met')})
        return state

    def _resolve_attribute(self, name):
        if name == self.MEMBER_IDS:
            return {member: self.stack[member].resource_id
                    for member in self._member_names()
                    if member in self.stack}
        if name == self.SYNC_INTERVAL_ATTR:
            return self.sync_interval()
        if name == self.RECOVERY_SITE_ATTR:
            return self.properties[self.RECOVERY_SITE]
        if name == self.GROUP_NAME:
            return self._group()
        if name == self.WORKFLOWS:
            return groups.workflows(self._group())
        if self.resource_id is None:
            return None
        # The status needs the group's record too: its fence.
        return self._recovery_state(
            with_sync=name in self.SYNC_FIGURES + (
                self.PROTECTION_STATUS,)).get(name)


# Reading a property of another resource before its own validation:
# whatever is wrong with it, its validation says.
_PROPERTY_ERRORS = (exception.HeatException, KeyError, TypeError,
                    ValueError)


def _group_of(group):
    """Another group's tier and members, or None when its properties
    do not resolve (its own validation refuses them)."""
    try:
        return shared_refs.Group(group.properties[group.TIER],
                                 list(group.properties[group.MEMBERS] or []))
    except _PROPERTY_ERRORS:
        return None


def _references(res):
    """Names of the resources of its stack that ``res`` references
    (get_resource, get_attr, depends_on), by Heat's own reading."""
    try:
        return sorted(dep.name for dep in res.t.dependencies(res.stack))
    except exception.HeatException:
        return []


def _raw_property(res, key):
    """A property of ``res`` with its functions resolved but none of
    its translations (those look names up in the cloud); None when it
    cannot be read."""
    try:
        value = res.t.freeze().properties(res.properties_schema,
                                          res.context)[key]
    except _PROPERTY_ERRORS:
        return None
    return value if isinstance(value, str) and value else None


def _network_names(res):
    """The names besides its resource name under which
    ``mappings.networks`` may list network ``res``, or a subnet's
    network (its ``network`` property: a name or id)."""
    keys = {shared_refs.NET: ('name',),
            shared_refs.SUBNET: ('network', 'network_id')}.get(res.type(), ())
    values = (_raw_property(res, key) for key in keys)
    return tuple(value for value in values if value)


def _requires(deps, source, target):
    """True when ``source`` already requires ``target``, directly or
    not, in Heat's dependency graph ``deps``."""
    seen, todo = set(), [source]
    while todo:
        node = todo.pop()
        if node == target:
            return True
        if node in seen:
            continue
        seen.add(node)
        try:
            todo.extend(deps.requires(node))
        except KeyError:
            continue
    return False


def resource_mapping():
    return {'OS::Rescuer::ProtectionGroup': ProtectionGroup}
