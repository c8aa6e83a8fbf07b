"""What a protection group owns at its two sites, by Rescuer's records.

Rescuer's steps act with Rescuer's own credential at both sites.  The
group they act for is looked up in the DR store as the caller's project
sees it; every id a step then acts on must be one of that group's, read
from Rescuer's records of it (its definition, its captures, the names
Rescuer gives what it makes for it) - an id passed from one workflow task
to the next may narrow a step to some of them, never add another.
"""

import re

import yaml

from rescuer import drill
from rescuer import exceptions
from rescuer import failover
from rescuer import heat
from rescuer import sync

PRIMARY = 'primary'
RECOVERY = 'recovery'


def role_of(definition, site_name):
    """``primary`` or ``recovery``: what ``site_name`` is to the group."""
    for role in (PRIMARY, RECOVERY):
        if definition['%s_site' % role] == site_name:
            return role
    raise exceptions.NotOwned(
        'site %s is neither the primary nor the DR site of group %s'
        % (site_name, definition['group']))


def refuse_foreign(kind, ids, owned, definition, site_name):
    """Raise NotOwned naming every id of ``ids`` not in ``owned``."""
    foreign = sorted(set(ids or []) - set(owned))
    if foreign:
        raise exceptions.NotOwned(
            '%s %s at site %s: not of group %s, by Rescuer\'s records of '
            'it' % (kind, ', '.join(foreign), site_name, definition['group']))


def capture_volumes(capture):
    """The primary's volumes of the group, as captured."""
    return {volume['id'] for volume in capture['volumes']}


def capture_servers(capture):
    return {server['id'] for server in capture['servers']}


def promoted_map(cinder, capture):
    """``{primary volume id: DR id of its promoted copy, or None}`` for
    the group's replicated volumes, at ``cinder``'s site, in the project
    of ``cinder``'s session (a copy is named after the volume it
    copies)."""
    found = {}
    for volume in failover.replicated_volumes(capture):
        promoted = cinder.find_volume(failover.promoted_name(
            volume['volume_id']))
        found[volume['volume_id']] = (promoted['id'] if promoted is not None
                                      else None)
    return found


def promoted_volumes(cinder, capture):
    """The DR-site ids of the group's promoted volume copies."""
    return set(promoted_map(cinder, capture).values()) - {None}


def unpromoted(cinder, capture, items):
    """The items of ``items`` (``[{volume_id, dr_volume_id}]``) that are
    not the group's promoted copies; a copy already deleted (its id gone
    from the site: a step run again) is no other volume and passes."""
    copies = promoted_map(cinder, capture)
    foreign = []
    for item in items:
        volume_id, dr_id = item.get('volume_id'), item.get('dr_volume_id')
        if volume_id in copies and copies[volume_id] == dr_id:
            continue
        if volume_id in copies and copies[volume_id] is None:
            try:
                cinder.get_volume(dr_id)
            except exceptions.NotFound:
                continue
        foreign.append('%s (as the copy of %s)' % (dr_id, volume_id))
    return foreign


def primary_stack_ids(definition):
    return {definition['stack_id'], definition.get('stack_name')} - {None}


def primary_servers(heat_api, definition, capture):
    """The group's servers at the primary: those captured, and those its
    stack's members are now (a failback recreates them)."""
    owned = capture_servers(capture)
    try:
        owned.update(heat.physical_ids(
            heat_api.resources(definition['stack_id']),
            failover.SERVER_TYPES, set(definition['members'] or [])))
    except exceptions.NotFound:
        pass
    return owned


def _recovery_stacks(heat_api, group):
    """The group's recovery and drill stacks at ``heat_api``'s site (those
    that exist)."""
    return [found for found in (sync.find_stack(heat_api, group),
                                drill.find_drill(heat_api, group))
            if found is not None]


def recovery_stack_ids(heat_api, group):
    """Ids and names of the group's recovery and drill stacks."""
    return {key for found in _recovery_stacks(heat_api, group)
            for key in (found['id'], found['stack_name'])}


def recovery_servers(heat_api, group):
    """The servers of the group's recovery and drill stacks."""
    return {server for found in _recovery_stacks(heat_api, group)
            for server in heat.physical_ids(heat_api.resources(found['id']),
                                            failover.SERVER_TYPES)}


# The volume Cinder shows for a backup whose record is being imported
# (cinder/backup/api.py IMPORT_VOLUME_ID); the record's own comes with
# the import's end.
IMPORTING_VOLUME_ID = '00000000-0000-0000-0000-000000000000'


def read_backup(cinder, backup_id):
    """The backup at ``cinder``'s site, or None."""
    try:
        return cinder.get_backup(backup_id)
    except exceptions.NotFound:
        return None


def being_imported(backup):
    return (backup is not None and
            backup.get('volume_id') == IMPORTING_VOLUME_ID)


def backup_of(cinder, backup_id, volumes, definition):
    """The backup ``backup_id`` at ``cinder``'s site, if it is a backup of
    one of ``volumes`` (the group's, at either site); NotOwned if not."""
    backup = read_backup(cinder, backup_id)
    if backup is None or backup.get('volume_id') not in volumes:
        refuse_foreign('backup', [backup_id], (), definition,
                       cinder.site.name)
    return backup


def stack_project(stack):
    """The project a stack (as Heat's API shows it) belongs to: the one
    in its own link, ``…/v1/<project>/stacks/<name>/<id>`` (Heat builds
    it from the stack's identifier).  Not the ``OS::project_id``
    parameter: a template may declare a parameter of that name."""
    for link in stack.get('links') or []:
        found = re.search(r'/v1/([^/]+)/stacks/', link.get('href') or '')
        if link.get('rel') == 'self' and found:
            return found.group(1)
    return None


def refuse_unmapped(definition, caller_project, dr_project, stack,
                    primary_project):
    """Refuse to register a group unless its caller is the project
    Rescuer protects at the DR site (``dr_project``: the project of
    Rescuer's credential there) and the group's stack at the primary
    (``stack``, as Heat shows it to Rescuer) belongs to the project
    Rescuer protects there (``primary_project``).  The registry's
    credentials map these projects to each other, one per site."""
    if caller_project is not None and caller_project != dr_project:
        raise exceptions.NotOwned(
            'group %s: your project is not one Rescuer protects at site %s'
            % (definition['group'], definition['recovery_site']))
    owner = stack_project(stack)
    if owner is None or owner != primary_project:
        raise exceptions.NotOwned(
            'group %s: stack %s at site %s is not of the project Rescuer '
            'protects there' % (definition['group'], definition['stack_id'],
                                definition['primary_site']))


def refuse_foreign_workflow(definition, name, workflow, caller_project):
    """A consistency hook must name a workflow of the caller's project
    (``workflow`` as Mistral shows it to the caller, or None)."""
    if workflow is None or (caller_project is not None and
                            workflow.get('project_id') != caller_project):
        raise exceptions.NotOwned(
            'group %s: hook workflow %s is not a workflow of your project '
            'at site %s' % (definition['group'], name,
                            definition['recovery_site']))


# What a consistency hook workflow may run: it runs inside Rescuer's sync,
# as Rescuer's credential at the DR site (its cron trigger's trust), whose
# roles there reach further than the protected project's users do.
HOOK_ACTIONS = ('std.noop', 'std.echo', 'std.fail', 'std.sleep',
                'std.async_noop', 'std.http', 'std.ssh', 'std.ssh_proxied',
                'std.wait_ssh')


def hook_problems(workflow):
    """What a hook workflow (as Mistral's API shows it) runs beyond
    :data:`HOOK_ACTIONS`: other actions, sub-workflows, action names
    computed at run time.  [] when it runs none."""
    try:
        document = yaml.safe_load(workflow.get('definition') or '')
    except yaml.YAMLError as exc:
        return ['its definition does not parse: %s' % exc]
    if isinstance(document, dict) and 'tasks' not in document:
        # Mistral keeps {version, <name>: {tasks...}} per workflow.
        specs = [v for k, v in document.items() if k != 'version']
        document = specs[0] if len(specs) == 1 else None
    tasks = (document or {}).get('tasks') if isinstance(document,
                                                        dict) else None
    if not isinstance(tasks, dict):
        return ['it has no tasks Rescuer can read']
    problems = []
    for name, task in sorted(tasks.items()):
        task = task if isinstance(task, dict) else {}
        if 'workflow' in task:
            problems.append('task %s runs a workflow' % name)
            continue
        action = str(task.get('action') or 'std.noop').split()[0]
        if action not in HOOK_ACTIONS:
            problems.append('task %s runs %s' % (name, action))
    return problems


def refuse_unsafe_hook(definition, name, workflow):
    problems = hook_problems(workflow or {})
    if problems:
        raise exceptions.NotOwned(
            'group %s: hook workflow %s may run only %s (it runs inside '
            'Rescuer\'s sync, with Rescuer\'s credential): %s'
            % (definition['group'], name, ', '.join(HOOK_ACTIONS),
               '; '.join(problems)))
