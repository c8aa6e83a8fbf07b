"""An ML2 mechanism driver for the lab: binds every port, no agents.

Runs inside neutron-server (it imports neutron-lib).  Neutron's test drivers
do not fit a running lab (they bind only magic host names or need agent
records), and no dataplane exists here: ports are bound with an OVS VIF
type and set ACTIVE at once, so Nova boots servers with ports and service
chains (networking-sfc) can be built on them.
"""

from neutron_lib.api.definitions import portbindings
from neutron_lib import constants
from neutron_lib.plugins.ml2 import api


class LabMechanismDriver(api.MechanismDriver):

    def initialize(self):
        pass

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID], portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: True,
                 portbindings.OVS_HYBRID_PLUG: False},
                status=constants.PORT_STATUS_ACTIVE)
            return
