"""Custom constraints, registered under the ``heat.constraints`` entry point.

Heat runs property constraints on ``template validate``, ``stack create
--dry-run`` and before any resource is created, so a bad value is refused
at the earliest point.
"""

from heat.engine import constraints

from rescuer import exceptions
from rescuer import sites


class SiteConstraint(constraints.BaseCustomConstraint):
    """``rescuer.site``: the name of a site in Rescuer's DR site registry."""

    expected_exceptions = (exceptions.RescuerError,)

    def validate_with_client(self, client, value):
        sites.Registry.load().get(value)
