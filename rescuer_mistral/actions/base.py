"""The one place Rescuer's actions get sessions to a site.

A site whose Keystone is the one that authenticated the workflow's caller
is reached with the caller's own token (so the caller's roles and project
apply).  Any other site is reached through its own Keystone with the
credentials the DR site registry names - never with a token from another
cloud, and never with credentials passed as workflow input.
"""

from mistral_lib import actions

from rescuer import cinder
from rescuer import clients
from rescuer import exceptions
from rescuer import heat
from rescuer import mistral
from rescuer import ownership
from rescuer import report
from rescuer import shared
from rescuer import sites
from rescuer import store

AUTH_CALLER_TOKEN = 'caller-token'
AUTH_SITE_CREDENTIAL = 'site-credential'


class RescuerAction(actions.Action):
    """Base class: registry lookup, sessions, errors as ``Result(error)``."""

    def registry(self):
        if getattr(self, '_registry', None) is None:
            self._registry = sites.Registry.load()
        return self._registry

    def store(self):
        """This DR site's store, as the registry names it, seen by the
        caller's project: another project's groups do not exist there."""
        registry = self.registry()
        if registry.store_dir is None:
            raise exceptions.RegistryError(
                'the DR site registry names no store_dir for captures')
        return store.DirectoryStore(registry.store_dir,
                                    keep=registry.store_keep,
                                    project_id=self.caller_project)

    def session_for(self, context, site_name):
        """(site, session, how) for ``site_name``."""
        site = self.registry().get(site_name)
        security = getattr(context, 'security', None)
        token = getattr(security, 'auth_token', None)
        if token and clients.same_keystone(security.auth_uri,
                                           clients.auth_url_of(site)):
            return site, clients.token_session(
                security.auth_uri, token, security.project_id,
                trust_id=(security.trust_id
                          if security.is_trust_scoped else None)
            ), AUTH_CALLER_TOKEN
        return site, clients.site_session(site), AUTH_SITE_CREDENTIAL

    def caller_session_for(self, context, site_name):
        """(site, session) with the caller's own token; refused for a
        site the caller's Keystone does not serve (Rescuer's credential
        there would read what the caller may not)."""
        site, session, how = self.session_for(context, site_name)
        if how != AUTH_CALLER_TOKEN:
            raise exceptions.NotOwned(
                'site %s is not the site this workflow runs at: %s reads '
                'it only with the caller\'s own identity'
                % (site_name, self.__class__.__name__))
        return site, session

    def caller_site(self, context):
        """The registry's site whose Keystone (and region, when sites
        share one) authenticated the caller: the DR site whose Mistral
        runs this action."""
        security = getattr(context, 'security', None)
        return clients.site_of_keystone(
            self.registry(), getattr(security, 'auth_uri', None),
            getattr(security, 'region_name', None))

    def rescuer_session_for(self, site_name):
        """(site, session) with Rescuer's own credential for the site,
        whoever the caller is: for the admin-only steps (Cinder's
        manage-existing and backup import) the registry's credential is
        granted, in the protected project, and the caller need not be."""
        site = self.registry().get(site_name)
        return site, clients.site_session(site)

    # The project of the workflow's caller (set by run); None outside
    # Mistral (unit tests calling execute).
    caller_project = None

    def run(self, context):
        security = getattr(context, 'security', None)
        if getattr(security, 'is_target', False):
            # Mistral takes the project, token and Keystone of a run
            # started with X-Target-* headers from those headers, which
            # nobody checks: any caller could name any project.
            return actions.Result(error=(
                '%s: Rescuer does not run for a "target cloud" (a run '
                'started with X-Target-* headers): start it without them, '
                'as the project it is for' % self.__class__.__name__))
        self.caller_project = getattr(security, 'project_id', None)
        try:
            return self.execute(context)
        except exceptions.RescuerError as exc:
            return actions.Result(error='%s: %s' % (self.__class__.__name__,
                                                    exc))

    def execute(self, context):
        raise NotImplementedError


class PlanAction(RescuerAction):
    """The checks before a run on several groups."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def refuse_held(self, context, site_name):
        """Refuse the run when another run holds one of its groups (one
        failover, failback, drill or switchover per group at a time);
        naming the run, and how to end it."""
        site, session, _ = self.session_for(context, site_name)
        runs = mistral.MistralAPI(session, site).runs_holding(
            list(report.RUN_WORKFLOWS.values()), self.groups)
        execution = getattr(context, 'execution', None)
        held = report.held_groups(
            runs, getattr(execution, 'workflow_execution_id', None),
            self.groups)
        if held:
            raise exceptions.InvalidGroup('; '.join(
                'group %s is held by run %s (%s, started %s): wait for it '
                'to end, or cancel it with `openstack rescuer run cancel '
                '%s`' % (group, run['id'], run['workflow_name'],
                         run['created_at'], run['id'])
                for group, run in sorted(held.items())))

    def at_site(self, site_name, api_class):
        """``api_class`` at ``site_name`` with Rescuer's own credential
        (admin-only reads)."""
        site, session = self.rescuer_session_for(site_name)
        return api_class(session, site)

    def primary_problem(self, context, definition):
        """Why the group's primary cannot take part (it does not answer,
        or the group's stack is gone there), or None."""
        try:
            site, session, _ = self.session_for(context,
                                                definition['primary_site'])
            heat.HeatAPI(session, site).get_stack(definition['stack_id'])
        except exceptions.RescuerError as exc:
            return str(exc)
        return None


class GroupAction(RescuerAction):
    """A step on one protection group registered at this DR site: its
    definition, its latest good capture, and the APIs at its two sites."""

    def __init__(self, group):
        super().__init__()
        self.group = group

    def definition(self):
        if getattr(self, '_definition', None) is None:
            self._definition = self.store().definition(self.group)
        return self._definition

    def capture(self):
        return self.store().latest(self.group)[0]

    def held_elsewhere(self):
        """What the caller's other groups of the same primary hold, that
        this group's members may use (:mod:`rescuer.shared`)."""
        return shared.held_elsewhere(self.store(), self.definition(),
                                     self.capture())

    def api(self, context, which, api_class):
        """``api_class`` at the group's ``primary`` or ``recovery`` site,
        reached as :meth:`session_for` says (the caller's token at the
        caller's own site)."""
        site, session, _ = self.session_for(
            context, self.definition()['%s_site' % which])
        return api_class(session, site)

    def at(self, which, api_class):
        """``api_class`` at the group's ``primary`` or ``recovery`` site,
        with Rescuer's own credential there (admin-only steps)."""
        site, session = self.rescuer_session_for(
            self.definition()['%s_site' % which])
        return api_class(session, site)

    # ------------------------------------------------------------ owned ids
    # What the group owns, by Rescuer's records (rescuer.ownership): ids a
    # workflow passes to a step are checked against these.

    def role(self, site_name):
        """``primary`` or ``recovery``: what ``site_name`` is to the
        group (NotOwned for any other site)."""
        return ownership.role_of(self.definition(), site_name)

    def refuse_foreign(self, kind, ids, owned, site_name):
        ownership.refuse_foreign(kind, ids, owned, self.definition(),
                                 site_name)

    def promoted_volume_ids(self):
        """DR-site ids of the group's promoted volume copies."""
        return ownership.promoted_volumes(self.at(ownership.RECOVERY,
                                                  cinder.CinderAPI),
                                          self.capture())

    def owned_volume_ids(self, site_name):
        """The group's volumes at ``site_name``: the captured ones at the
        primary, the promoted copies at the DR site."""
        if self.role(site_name) == ownership.PRIMARY:
            return ownership.capture_volumes(self.capture())
        return self.promoted_volume_ids()

    def owned_server_ids(self, site_name):
        """The group's servers at ``site_name``: captured or now its
        stack's members at the primary, its recovery and drill stacks'
        at the DR site."""
        role = self.role(site_name)
        api = self.at(role, heat.HeatAPI)
        if role == ownership.PRIMARY:
            return ownership.primary_servers(api, self.definition(),
                                             self.capture())
        return ownership.recovery_servers(api, self.group)

    def owned_stack_ids(self, site_name):
        role = self.role(site_name)
        if role == ownership.PRIMARY:
            return ownership.primary_stack_ids(self.definition())
        return ownership.recovery_stack_ids(self.at(role, heat.HeatAPI),
                                            self.group)

    def owned_backup(self, api, backup_id):
        """Refuse ``backup_id`` at ``api``'s site (a CinderAPI) unless it
        is the group's: a backup of a chain Rescuer recorded for it, or a
        backup of one of its volumes at either site - for a backup being
        imported (Cinder shows no volume until the import ends), the
        backup it was exported from at the group's other site."""
        state = self.store().backups(self.group)
        if backup_id in {link['backup_id'] for chain in
                         (state.get('chains') or {}).values()
                         for link in chain}:
            return
        volumes = ownership.capture_volumes(self.capture())
        backup = ownership.read_backup(api, backup_id)
        if ownership.being_imported(backup):
            other = (ownership.PRIMARY if self.role(api.site.name) ==
                     ownership.RECOVERY else ownership.RECOVERY)
            api = self.at(other, cinder.CinderAPI)
            backup = ownership.read_backup(api, backup_id)
        if backup is not None and backup.get('volume_id') not in volumes:
            volumes |= self.promoted_volume_ids()
        if backup is None or backup.get('volume_id') not in volumes:
            self.refuse_foreign('backup', [backup_id], (), api.site.name)
