"""OS::Rescuer::ReplicatedVolume - a Cinder volume whose data reaches the
DR site by a chosen replication method."""

from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes
from heat.engine import constraints
from heat.engine import properties
from heat.engine import resource
from heat.engine import support
from oslo_serialization import jsonutils

from rescuer import exceptions as rescuer_exc
from rescuer import replication


class ReplicatedVolume(resource.Resource):
    """A Cinder volume protected by a replication method.

    ``storage``: Cinder replication - the volume type must be
    replication-enabled (``replication_enabled='<is> True'``); the storage
    backend copies the data to the DR site.  ``backup``: a full Cinder
    backup is taken once the volume exists; scheduled syncs add incremental
    ones and the DR site imports their records at failover.
    ``hypervisor`` and ``application`` are served by drivers registered
    under the ``rescuer.replication`` entry point.
    """

    support_status = support.SupportStatus(version='0.1.0')

    default_client_name = 'cinder'

    entity = 'volumes'

    PROPERTIES = (
        SIZE, IMAGE, VOLUME_TYPE, METHOD, DR_SITE, METHOD_OPTIONS,
    ) = (
        'size', 'image', 'volume_type', 'replication_method', 'dr_site',
        'method_options',
    )

    ATTRIBUTES = (
        REPLICATION_STATUS, LAST_REPLICATED_AT, DR_SOURCE, METHOD_ATTR,
    ) = (
        'replication_status', 'last_replicated_at', 'dr_source',
        'replication_method',
    )

    properties_schema = {
        SIZE: properties.Schema(
            properties.Schema.INTEGER,
            _('Size of the volume in GiB; it can grow on update.'),
            required=True,
            update_allowed=True,
            constraints=[constraints.Range(min=1)],
        ),
        IMAGE: properties.Schema(
            properties.Schema.STRING,
            _('Image to create the volume from.'),
            constraints=[constraints.CustomConstraint('glance.image')],
        ),
        VOLUME_TYPE: properties.Schema(
            properties.Schema.STRING,
            _('Volume type; with the storage method it must be '
              'replication-enabled.'),
            constraints=[constraints.CustomConstraint('cinder.vtype')],
        ),
        METHOD: properties.Schema(
            properties.Schema.STRING,
            _('How the data reaches the DR site.'),
            default='storage',
            constraints=[constraints.AllowedValues(replication.METHODS)],
        ),
        DR_SITE: properties.Schema(
            properties.Schema.STRING,
            _('DR site (of the DR site registry) the data is for.'),
            required=True,
            constraints=[constraints.CustomConstraint('rescuer.site')],
        ),
        METHOD_OPTIONS: properties.Schema(
            properties.Schema.MAP,
            _('Options of the replication method\'s driver.'),
            default={},
        ),
    }

    attributes_schema = {
        REPLICATION_STATUS: attributes.Schema(
            _('Replication status (Cinder\'s for storage replication, '
              '"backed-up" for backups).'),
            type=attributes.Schema.STRING),
        LAST_REPLICATED_AT: attributes.Schema(
            _('Point in time of the newest copy at the DR site, where the '
              'method knows it.'),
            type=attributes.Schema.STRING),
        DR_SOURCE: attributes.Schema(
            _('What failover will use at the DR site: {kind: replica, '
              'volume_id} or {kind: backup, backup_id}.'),
            type=attributes.Schema.MAP),
        METHOD_ATTR: attributes.Schema(
            _('The replication method.'),
            type=attributes.Schema.STRING),
    }

    # ------------------------------------------------------------ helpers

    def _path(self, prop):
        return [self.stack.t.RESOURCES, self.name,
                self.stack.t.get_section_name('properties'), prop]

    def _driver(self):
        try:
            return replication.driver(self.properties[self.METHOD])
        except rescuer_exc.InvalidReplication as exc:
            raise exception.StackValidationFailed(
                path=self._path(self.METHOD), message=str(exc))

    def _type_specs(self):
        name = self.properties[self.VOLUME_TYPE]
        if name is None:
            return None
        vtype = self.client_plugin().get_volume_type(name)
        return self.client().volume_types.get(vtype).get_keys()

    def _replication_data(self):
        return jsonutils.loads(self.data().get('replication', '{}'))

    def validate(self):
        super().validate()
        driver = self._driver()
        if self.properties[self.METHOD] == 'storage' and \
                self.properties[self.VOLUME_TYPE] is None:
            raise exception.StackValidationFailed(
                path=self._path(self.VOLUME_TYPE),
                message=_('storage replication needs a replication-enabled '
                          'volume type'))
        try:
            driver.validate(self._type_specs(),
                            self.properties[self.METHOD_OPTIONS])
        except rescuer_exc.InvalidReplication as exc:
            raise exception.StackValidationFailed(
                path=self._path(self.VOLUME_TYPE), message=str(exc))
        except exception.EntityNotFound:
            pass  # the cinder.vtype constraint reports it

    # ---------------------------------------------------------- lifecycle

    def handle_create(self):
        kwargs = {'size': self.properties[self.SIZE],
                  'name': self.physical_resource_name(),
                  'volume_type': self.properties[self.VOLUME_TYPE],
                  'metadata': {'rescuer_replication':
                               self.properties[self.METHOD]}}
        if self.properties[self.IMAGE]:
            kwargs['imageRef'] = self.client_plugin(
                'glance').find_image_by_name_or_id(self.properties[
                    self.IMAGE])
        volume = self.client().volumes.create(**kwargs)
        self.resource_id_set(volume.id)
        return {'protect_called': False}

    def check_create_complete(self, progress):
        if not progress['protect_called']:
            volume = self.client().volumes.get(self.resource_id)
            if volume.status == 'error':
                raise exception.ResourceInError(resource_status=volume.status)
            if volume.status != 'available':
                return False
            data = self._protect_call('protect', self.properties[
                self.METHOD_OPTIONS])
            self.data_set('replication', jsonutils.dumps(data))
            progress['protect_called'] = True
            return False
        return self._protect_call('is_protected', self._replication_data())

    def _protect_call(self, name, argument):
        try:
            return getattr(self._driver(), name)(
                self.client(), self.resource_id, argument)
        except rescuer_exc.RescuerError as exc:
            raise exception.Error(str(exc))

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        new_size = prop_diff.get(self.SIZE)
        if new_size is None:
            return False
        if new_size < self.properties[self.SIZE]:
            raise exception.NotSupported(feature=_('Shrinking a volume'))
        self.client().volumes.extend(self.resource_id, new_size)
        return True

    def check_update_complete(self, extending):
        if not extending:
            return True
        volume = self.client().volumes.get(self.resource_id)
        if volume.status == 'error_extending':
            raise exception.ResourceInError(resource_status=volume.status)
        return volume.status in ('available', 'in-use')

    def handle_delete(self):
        if self.resource_id is None:
            return False
        with self.client_plugin().ignore_not_found:
            self._driver().unprotect(self.client(), self.resource_id,
                                     self._replication_data())
            self.client().volumes.delete(self.resource_id)
            return True
        return False

    def check_delete_complete(self, deleting):
        if not deleting:
            return True
        with self.client_plugin().ignore_not_found:
            volume = self.client().volumes.get(self.resource_id)
            if volume.status == 'error_deleting':
                raise exception.ResourceInError(resource_status=volume.status)
            return False
        return True

    # -------------------------------------------------------- attributes

    def _resolve_attribute(self, name):
        if name == self.METHOD_ATTR:
            return self.properties[self.METHOD]
        if self.resource_id is None:
            return None
        status = self._driver().status(self.client(), self.resource_id,
                                       self._replication_data())
        return {self.REPLICATION_STATUS: status['replication_status'],
                self.LAST_REPLICATED_AT: status['last_point'],
                self.DR_SOURCE: status['dr_source']}.get(name)


def resource_mapping():
    return {'OS::Rescuer::ReplicatedVolume': ReplicatedVolume}
