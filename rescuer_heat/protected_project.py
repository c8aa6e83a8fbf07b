"""Which project at this (primary) site Rescuer protects.

Rescuer acts at the DR site with its own credential, in the project that
credential is scoped to there; the registry's credentials map that
project to the one Rescuer's credential is scoped to at this site.  A
resource that makes Rescuer act at another site (a protection group, a
standby stack) may therefore only be created in that project: anyone
else's would make Rescuer act in the protected project's name.
"""

from heat.common.i18n import _
from oslo_config import cfg

from rescuer import clients
from rescuer import exceptions as rescuer_exc
from rescuer import sites


def this_site(context, registry):
    """The registry's site whose Keystone authenticated ``context``."""
    return clients.site_of_keystone(registry, context.keystone_v3_endpoint,
                                    cfg.CONF.region_name_for_services)


def problem(context, site=None):
    """Why a stack of ``context``'s project may not make Rescuer act, or
    None.  ``site``: this site (default: the one of ``context``'s
    Keystone)."""
    try:
        site = site or this_site(context, sites.Registry.load())
        protected = clients.project_of(clients.site_session(site), site)
    except rescuer_exc.RescuerError as exc:
        return str(exc)
    if context.project_id != protected:
        return _('project %(project)s is not protected by Rescuer at site '
                 '%(site)s (the DR site registry maps one project at each '
                 'site; ask your cloud\'s DR operator)') % {
                     'project': context.project_id, 'site': site.name}
    return None
