"""OS::Rescuer::StandbyStack - a stack kept at a standby level at a DR site."""

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
from rescuer import heat as rescuer_heat
from rescuer import sites
from rescuer import standby
from rescuer_heat import protected_project

LOG = logging.getLogger(__name__)


class StandbyStack(resource.Resource):
    """A stack at a DR site, kept at a standby level.

    The recovery-site counterpart of a protection group.  Like
    ``OS::Heat::Stack`` with a remote context, but the stack lives behind
    the DR site's own Keystone and is reached with the credentials of
    Rescuer's DR site registry - never with credentials from a template.

    The template must declare a ``standby_level`` parameter (``cold``,
    ``hot``, ``active``); its resources carry HOT conditions on it.
    Changing ``standby_level`` updates that parameter in place: failover
    activates, failback demotes.  While the remote stack carries the
    ``rescuer-failed-over`` tag (it serves a failed-over group), deleting
    this resource leaves it in place.
    """

    support_status = support.SupportStatus(version='0.1.0')

    PROPERTIES = (
        SITE, TEMPLATE, PARAMETERS, STANDBY_LEVEL, TEMPLATE_VERSION, TIMEOUT,
    ) = (
        'site', 'template', 'parameters', 'standby_level',
        'template_version', 'timeout',
    )

    ATTRIBUTES = (
        STACK_ID, STACK_STATUS, STANDBY_LEVEL_ATTR, TEMPLATE_VERSION_ATTR,
        OUTPUTS,
    ) = (
        'stack_id', 'stack_status', 'standby_level', 'template_version',
        'outputs',
    )

    properties_schema = {
        SITE: properties.Schema(
            properties.Schema.STRING,
            _('DR site (a site of the DR site registry) holding the stack.'),
            required=True,
            constraints=[constraints.CustomConstraint('rescuer.site')],
        ),
        TEMPLATE: properties.Schema(
            properties.Schema.STRING,
            _('HOT template of the recovery-site stack; it declares a '
              '"standby_level" parameter.'),
            required=True,
            update_allowed=True,
        ),
        PARAMETERS: properties.Schema(
            properties.Schema.MAP,
            _('Parameters of the recovery-site stack (besides '
              '"standby_level").'),
            default={},
            update_allowed=True,
        ),
        STANDBY_LEVEL: properties.Schema(
            properties.Schema.STRING,
            _('cold: nothing consuming compute exists; hot: pre-created, '
              'not in service; active: serving.'),
            default=standby.COLD,
            constraints=[constraints.AllowedValues(standby.LEVELS)],
            update_allowed=True,
        ),
        TEMPLATE_VERSION: properties.Schema(
            properties.Schema.STRING,
            _('Version of the template (the id of the capture it was '
              'rendered from), for the record.'),
            update_allowed=True,
        ),
        TIMEOUT: properties.Schema(
            properties.Schema.INTEGER,
            _('Minutes the recovery-site stack may take to create.'),
            default=60,
            constraints=[constraints.Range(min=1, max=1440)],
            update_allowed=True,
        ),
    }

    attributes_schema = {
        STACK_ID: attributes.Schema(
            _('Id of the stack at the DR site.'),
            type=attributes.Schema.STRING),
        STACK_STATUS: attributes.Schema(
            _('Status of the stack at the DR site.'),
            type=attributes.Schema.STRING,
            cache_mode=attributes.Schema.CACHE_NONE),
        STANDBY_LEVEL_ATTR: attributes.Schema(
            _('Standby level the stack is kept at.'),
            type=attributes.Schema.STRING),
        TEMPLATE_VERSION_ATTR: attributes.Schema(
            _('Version of the template the stack was built from.'),
            type=attributes.Schema.STRING),
        OUTPUTS: attributes.Schema(
            _('Outputs of the stack at the DR site.'),
            type=attributes.Schema.MAP,
            cache_mode=attributes.Schema.CACHE_NONE),
    }

    # ------------------------------------------------------------ helpers

    def _api(self):
        try:
            site = sites.Registry.load().get(self.properties[self.SITE])
            return rescuer_heat.HeatAPI(clients.site_session(site), site)
        except rescuer_exc.RescuerError as exc:
            raise exception.Error(str(exc))

    def _template(self):
        try:
            return standby.check_template(self.properties[self.TEMPLATE])
        except rescuer_exc.InvalidTemplate as exc:
            raise exception.StackValidationFailed(
                path=[self.stack.t.RESOURCES, self.name,
                      self.stack.t.get_section_name('properties'),
                      self.TEMPLATE],
                message=str(exc))

    def _parameters(self):
        return standby.parameters(self.properties[self.STANDBY_LEVEL],
                                  self.properties[self.PARAMETERS])

    def validate(self):
        super().validate()
        if self.properties[self.TEMPLATE] is not None:
            self._template()
        # Rescuer's credential creates the stack in the project it
        # protects at the DR site: only that project's users here may.
        problem = protected_project.problem(self.stack.context)
        if problem:
            raise exception.StackValidationFailed(
                path=[self.stack.t.RESOURCES, self.name], message=problem)

    # ---------------------------------------------------------- lifecycle

    def handle_create(self):
        try:
            stack_id = self._api().create_stack(
                self.physical_resource_name(), self._template(),
                self._parameters(), tags=('rescuer', 'rescuer-standby'),
                timeout_mins=self.properties[self.TIMEOUT])
        except rescuer_exc.RescuerError as exc:
            raise exception.Error(str(exc))
        self.resource_id_set(stack_id)
        return stack_id

    def _remote_state(self, action, gone_is_done=False):
        """True when the remote stack finished ``action``; raise on FAILED."""
        try:
            stack = self._api().get_stack(self.resource_id)
        except rescuer_exc.NotFound:
            if gone_is_done:
                return True
            raise exception.Error(_('stack %s is gone from site %s') % (
                self.resource_id, self.properties[self.SITE]))
        except rescuer_exc.RescuerError as exc:
            raise exception.Error(str(exc))
        remote_action, status = rescuer_heat.split_status(
            stack['stack_status'])
        if remote_action != action or status == self.IN_PROGRESS:
            return False
        if status == self.COMPLETE:
            return True
        raise exception.ResourceInError(
            resource_status=stack['stack_status'],
            status_reason=stack.get('stack_status_reason'))

    def check_create_complete(self, stack_id):
        return self._remote_state(self.CREATE)

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        if not prop_diff:
            return
        self.properties = json_snippet.properties(self.properties_schema,
                                                  self.context)
        template = (self._template() if self.TEMPLATE in prop_diff
                    else None)
        try:
            self._api().update_stack(self.resource_id, template=template,
                                     parameters=self._parameters())
        except rescuer_exc.RescuerError as exc:
            raise exception.Error(str(exc))
        return True

    def check_update_complete(self, updating):
        return not updating or self._remote_state(self.UPDATE)

    def handle_delete(self):
        if self.resource_id is None:
            return None
        api = self._api()
        try:
            stack = api.get_stack(self.resource_id)
            if rescuer_heat.FAILED_OVER_TAG in (stack.get('tags') or []):
                LOG.warning('Not deleting %s at site %s: it serves a '
                            'failed-over group.', self.resource_id,
                            self.properties[self.SITE])
                return None
            api.delete_stack(self.resource_id)
        except rescuer_exc.NotFound:
            return None
        except rescuer_exc.RescuerError as exc:
            raise exception.Error(str(exc))
        return self.resource_id

    def check_delete_complete(self, deleting_id):
        if deleting_id is None:
            return True
        return self._remote_state(self.DELETE, gone_is_done=True)

    # -------------------------------------------------------- attributes

    def _resolve_attribute(self, name):
        if name == self.STANDBY_LEVEL_ATTR:
            return self.properties[self.STANDBY_LEVEL]
        if name == self.TEMPLATE_VERSION_ATTR:
            return self.properties[self.TEMPLATE_VERSION]
        if self.resource_id is None:
            return None
        if name == self.STACK_ID:
            return self.resource_id
        stack = self._api().get_stack(self.resource_id)
        if name == self.STACK_STATUS:
            return stack['stack_status']
        if name == self.OUTPUTS:
            return {o['output_key']: o['output_value']
                    for o in stack.get('outputs') or []}

    def get_reference_id(self):
        return self.resource_id


def resource_mapping():
    return {'OS::Rescuer::StandbyStack': StandbyStack}
