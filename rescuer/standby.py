"""Recovery-site stacks and their standby levels.

A recovery-site template declares a ``standby_level`` parameter; its VNF
resources carry HOT conditions on it:

- ``cold``:   nothing that consumes compute is created (networks, volumes
  the replication needs may exist);
- ``hot``:    everything is created but not in service;
- ``active``: everything is created and serving.

Changing the level is a stack update of that one parameter (PATCH), so the
resources that exist at both levels keep their physical ids.
"""

import yaml

from rescuer import exceptions

LEVELS = (COLD, HOT, ACTIVE) = ('cold', 'hot', 'active')
LEVEL_PARAMETER = 'standby_level'
# The template's conditions on the level: ``warm`` (hot or active) and
# ``serving`` (active only).
CONDITIONS = (WARM, SERVING) = ('warm', 'serving')


def parse_template(text):
    """A HOT template (YAML text or a mapping) as a mapping."""
    if isinstance(text, dict):
        return text
    try:
        template = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise exceptions.InvalidTemplate('not valid YAML: %s' % exc)
    if not isinstance(template, dict):
        raise exceptions.InvalidTemplate('a HOT template is a mapping')
    return template


def check_template(template):
    """Refuse a recovery-site template without a usable standby parameter."""
    template = parse_template(template)
    if 'heat_template_version' not in template:
        raise exceptions.InvalidTemplate('heat_template_version is missing')
    parameter = (template.get('parameters') or {}).get(LEVEL_PARAMETER)
    if not isinstance(parameter, dict):
        raise exceptions.InvalidTemplate(
            'the template must declare a "%s" parameter (one of: %s)'
            % (LEVEL_PARAMETER, ', '.join(LEVELS)))
    allowed = set()
    for constraint in parameter.get('constraints') or []:
        allowed.update(constraint.get('allowed_values') or [])
    if allowed and not set(LEVELS) <= allowed:
        raise exceptions.InvalidTemplate(
            'parameter "%s" must allow %s (it allows %s)'
            % (LEVEL_PARAMETER, ', '.join(LEVELS),
               ', '.join(sorted(map(str, allowed)))))
    refused = sorted(
        '%s (%s)' % (name, resource.get('type'))
        for name, resource in (template.get('resources') or {}).items()
        if not isinstance(resource, dict) or
        not _allowed_type(resource.get('type')))
    if refused:
        raise exceptions.InvalidTemplate(
            'resources of types Rescuer does not create at a DR site with '
            'its credential: %s (no %s; no nested or remote templates)'
            % (', '.join(refused), ', '.join(REFUSED_TYPE_PREFIXES)))
    return template


# Resource types a standby stack may not hold: the stack is created with
# Rescuer's credential at the DR site, whose roles there (running Rescuer's
# actions, Cinder's manage-existing and backup import) a workflow, a cron
# trigger or a role assignment in the template would act with.
REFUSED_TYPE_PREFIXES = ('OS::Mistral::', 'OS::Keystone::', 'OS::Rescuer::',
                         'OS::Heat::Stack', 'OS::Heat::SoftwareDeployment',
                         'OS::Heat::StructuredDeployment',
                         'OS::Zaqar::')


def _allowed_type(resource_type):
    """A resource type a standby stack may hold: a plain ``OS::`` type,
    not a template resource (a file or URL whose contents Rescuer would
    not have checked) and none of :data:`REFUSED_TYPE_PREFIXES`."""
    return (isinstance(resource_type, str) and
            resource_type.startswith('OS::') and
            not resource_type.startswith(REFUSED_TYPE_PREFIXES))


def parameters(level, extra=None):
    if level not in LEVELS:
        raise exceptions.InvalidTemplate(
            'unknown standby level %r (one of: %s)'
            % (level, ', '.join(LEVELS)))
    params = dict(extra or {})
    params[LEVEL_PARAMETER] = level
    return params


def active_only_resources(template):
    """Names of the resources only the ``active`` level has (those under
    the ``serving`` condition), in order."""
    resources = parse_template(template).get('resources') or {}
    return sorted(name for name, resource in resources.items()
                  if isinstance(resource, dict) and
                  resource.get('condition') == SERVING)
