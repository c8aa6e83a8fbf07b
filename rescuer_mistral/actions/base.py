"""The one place Rescuer's actions get sessions to a site.

A site whose Keystone is the one that authenticated the workflow's caller
is reached with the caller's own token (so the caller's roles and project
apply).  Any other site is reached through its own Keystone with the
credentials the DR site registry names - never with a token from another
cloud, and never with credentials passed as workflow input.
"""

from mistral_lib import actions

from rescuer import clients
from rescuer import exceptions
from rescuer import heat
from rescuer import mistral
from rescuer import report
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
