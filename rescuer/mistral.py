"""Thin helpers over Mistral's v2 REST API at a (DR) site."""

import json

from rescuer import exceptions
from rescuer import report
from rescuer import rest

RUNNING_STATES = ('IDLE', 'RUNNING', 'PAUSED')
# What Mistral says of a task whose with-items actions failed.
_GENERIC_ERRORS = ('One or more actions had failed.',)


class MistralAPI(rest.ServiceAPI):
    """Mistral at one site, for one session."""

    service_type = 'workflowv2'

    def start_execution(self, workflow, inputs=None, description=''):
        execution = self._call('POST', '/executions', {
            'workflow_name': workflow, 'input': json.dumps(inputs or {}),
            'description': description})
        return execution['id']

    def get_execution(self, execution_id):
        """The execution with its output decoded."""
        execution = self._call('GET', '/executions/%s' % execution_id)
        execution['output'] = json.loads(execution.get('output') or '{}')
        return execution

    def execution_done(self, execution_id):
        """True once SUCCESS; False while running; raise with the
        workflow's own error message when it failed."""
        execution = self.get_execution(execution_id)
        if execution['state'] in RUNNING_STATES:
            return False
        if execution['state'] == 'SUCCESS':
            return True
        raise exceptions.WorkflowFailed(
            '%s (execution %s at site %s) %s: %s' % (
                execution.get('workflow_name'), execution_id,
                self.site.name, execution['state'],
                execution.get('state_info') or 'no reason given'))

    def run_action(self, action, inputs=None):
        """Run ``action`` at once through the site's Mistral executor and
        return its result (Mistral keeps no record of the run); raise
        with the action's own error when it fails."""
        execution = self._call('POST', '/action_executions', {
            'name': action, 'input': json.dumps(inputs or {}),
            'params': json.dumps({'run_sync': True, 'save_result': False})})
        result = _json(execution.get('output')).get('result')
        if execution.get('state') != 'SUCCESS':
            raise exceptions.WorkflowFailed('%s at site %s %s: %s' % (
                action, self.site.name, execution.get('state'),
                result or execution.get('state_info') or 'no reason given'))
        return result

    def running_executions(self, workflow, **inputs):
        """Ids of running executions of ``workflow`` whose input has the
        given values."""
        found = []
        for state in RUNNING_STATES:
            listing = self._call('GET', '/executions?workflow_name=%s&state=%s'
                                 '&fields=input&limit=1000'
                                 % (workflow, state))
            for execution in listing.get('executions', []):
                given = _json(execution.get('input'))
                if all(given.get(k) == v for k, v in inputs.items()):
                    found.append(execution['id'])
        return found

    def run_executions(self, root_id):
        """A run: its root execution and every sub-execution, each with
        its input decoded and its tasks (name, state, state_info,
        created_at, updated_at)."""
        root = self._call('GET', '/executions/%s' % root_id)
        children = self._call(
            'GET', '/executions?root_execution_id=%s&limit=1000' % root_id)[
                'executions']
        run = []
        for execution in [root] + [c for c in children
                                   if c['id'] != root_id]:
            execution['input'] = _json(execution.get('input'))
            execution['tasks'] = self._call(
                'GET', '/executions/%s/tasks' % execution['id'])['tasks']
            for task in execution['tasks']:
                if task['state'] == 'ERROR' and task.get(
                        'state_info') in _GENERIC_ERRORS:
                    task['state_info'] = self._task_error(task['id'])
            run.append(execution)
        return run

    def run_progress(self, root_id, groups):
        """Run ``root_id`` so far, as :func:`rescuer.report.tier_progress`
        reads it: ``{state, groups: [{group, state, tasks}], tiers:
        [{groups, state}]}`` - the root's state, the workflows on one of
        ``groups`` (their input names a ``group``; tasks' names and
        states read only for the running ones) and the tier workflows
        (their input names ``groups``)."""
        state = self._call('GET', '/executions/%s' % root_id)['state']
        listing = self._call(
            'GET', '/executions?root_execution_id=%s&fields=id,input,state,'
            'workflow_name&limit=1000' % root_id)['executions']
        runs, tiers = [], []
        for execution in listing:
            given = _json(execution.get('input'))
            if isinstance(given.get('groups'), list):
                tiers.append({'groups': given['groups'],
                              'state': execution['state']})
            # A group's own workflow, not one it runs (a switchover's
            # final sync_v1 names the group too).
            if given.get('group') not in groups or not (
                    execution.get('workflow_name') or '').endswith(
                        report.GROUP_WORKFLOW_SUFFIX):
                continue
            tasks = []
            if execution['state'] in RUNNING_STATES:
                tasks = self._call(
                    'GET', '/tasks?workflow_execution_id=%s&fields=name,state'
                    % execution['id'])['tasks']
            runs.append({'group': given['group'],
                         'state': execution['state'], 'tasks': tasks})
        return {'state': state, 'groups': runs, 'tiers': tiers}

    def runs_holding(self, workflows, groups):
        """The runs that hold one of ``groups``: running executions of
        ``workflows`` whose input names it, and running tier or group
        workflows of any run (a run stopped by hand in ERROR leaves its
        sub-workflows running, still acting on their groups):
        ``[{id, workflow_name, created_at, groups, planned}]`` - ``id``
        the run's (root) id; ``planned`` for a sub-workflow, whose run
        has passed its plan."""
        held = []
        for state in RUNNING_STATES:
            listing = self._call(
                'GET', '/executions?state=%s&fields=id,workflow_name,input,'
                'created_at,root_execution_id&limit=1000' % state)[
                    'executions']
            for execution in listing:
                name = execution.get('workflow_name') or ''
                root = execution.get('root_execution_id')
                if not (name in workflows or root and (
                        name.endswith(report.GROUP_WORKFLOW_SUFFIX) or
                        name.endswith(report.TIER_WORKFLOW_SUFFIX))):
                    continue
                given = _json(execution.get('input'))
                named = given.get('groups') or [given.get('group')]
                shared = sorted(set(named) & set(groups))
                if shared:
                    held.append({'id': root or execution['id'],
                                 'workflow_name': name,
                                 'created_at': execution['created_at'],
                                 'groups': shared, 'planned': bool(root)})
        return held

    def _run_running(self, root_id):
        """The executions of run ``root_id`` (root first) that are still
        running: ``[{id, state}]``."""
        root = self._call('GET', '/executions/%s' % root_id)
        listing = self._call(
            'GET', '/executions?root_execution_id=%s&fields=id,state'
            '&limit=1000' % root_id)['executions']
        return [e for e in [root] + listing
                if e['state'] in RUNNING_STATES]

    def run_running(self, root_id):
        """Whether anything of run ``root_id`` still runs."""
        return bool(self._run_running(root_id))

    def cancel_run(self, root_id):
        """Cancel a run and every sub-execution of it still running (Mistral
        cascades a cancel itself; one it missed is cancelled here too).
        Returns the ids cancelled."""
        cancelled = []
        for execution in self._run_running(root_id):
            try:
                self._call('PUT', '/executions/%s' % execution['id'],
                           {'state': 'CANCELLED'})
            except exceptions.RescuerError:
                # Ended (or cancelled by the cascade) meanwhile.
                if self.get_execution(execution['id'])[
                        'state'] in RUNNING_STATES:
                    raise
            cancelled.append(execution['id'])
        return cancelled

    def published(self, task_id):
        """What a task published: ``{name: value}``."""
        return _json(self._call('GET', '/tasks/%s' % task_id).get(
            'published'))

    def _task_error(self, task_id):
        """The errors of a failed task's actions (Mistral's own state
        info only says that some failed)."""
        result = self._call('GET', '/tasks/%s' % task_id).get('result')
        try:
            result = json.loads(result) if isinstance(result, str) else result
        except ValueError:
            pass
        if isinstance(result, list):
            result = '; '.join(str(r) for r in result if r)
        return str(result)

    def workflow(self, name):
        """The workflow definition ``name`` as the session's project sees
        it (its own, or another project's public one), or None."""
        try:
            return self._call('GET', '/workflows/%s' % name)
        except exceptions.NotFound:
            return None

    def get_cron_trigger(self, name):
        return self._call('GET', '/cron_triggers/%s' % name)

    def create_cron_trigger(self, name, workflow, inputs, pattern):
        return self._call('POST', '/cron_triggers', {
            'name': name, 'workflow_name': workflow,
            'workflow_input': inputs, 'pattern': pattern})

    def delete_cron_trigger(self, name):
        """Delete it; True if it existed."""
        return self._delete('/cron_triggers/%s' % name)

    def ensure_cron_trigger(self, name, workflow, inputs, pattern):
        """Create, or replace when it runs something else or on another
        schedule (Mistral's cron triggers cannot be updated)."""
        try:
            current = self.get_cron_trigger(name)
        except exceptions.NotFound:
            current = None
        if current is not None:
            same = (current.get('workflow_name') == workflow and
                    current.get('pattern') == pattern and
                    _json(current.get('workflow_input')) == inputs)
            if same:
                return current
            self.delete_cron_trigger(name)
        return self.create_cron_trigger(name, workflow, inputs, pattern)


def _json(value):
    if isinstance(value, str):
        return json.loads(value or '{}')
    return value or {}
