"""Every workbook parses with Mistral's own spec parser and keeps our
conventions: versioned workflow names, descriptions and tags, and a failure
path on every task that runs an action."""

import pathlib
import re

import pytest
import yaml
from mistral.lang import parser as spec_parser

WORKBOOKS = sorted(
    (pathlib.Path(__file__).parents[2] / 'workbooks').glob('*.yaml'))
ACTIONS_WITHOUT_FAILURE = {'std.noop', 'std.fail'}


def test_there_are_workbooks():
    assert WORKBOOKS


@pytest.mark.parametrize('path', WORKBOOKS, ids=lambda p: p.name)
def test_workbook_parses_with_mistral(path):
    spec = spec_parser.get_workbook_spec_from_yaml(path.read_text())
    assert spec.get_name() == path.stem


def _workflows(path):
    return yaml.safe_load(path.read_text())['workflows'].items()


@pytest.mark.parametrize('path', WORKBOOKS, ids=lambda p: p.name)
def test_workflows_are_versioned_described_and_tagged(path):
    for name, workflow in _workflows(path):
        assert re.match(r'^_?[a-z][a-z0-9_]*_v\d+$', name), name
        assert workflow.get('description'), name
        assert 'rescuer' in workflow.get('tags', []), name
        assert 'output-on-error' in workflow, name


@pytest.mark.parametrize('path', WORKBOOKS, ids=lambda p: p.name)
def test_every_failing_task_has_an_error_path(path):
    for wf_name, workflow in _workflows(path):
        for task_name, task in workflow['tasks'].items():
            runs = task.get('action') or task.get('workflow')
            if not runs or runs.split()[0] in ACTIONS_WITHOUT_FAILURE:
                continue
            assert 'on-error' in task or 'on-complete' in task, (
                '%s.%s has no failure path' % (wf_name, task_name))


def _strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


@pytest.mark.parametrize('path', WORKBOOKS, ids=lambda p: p.name)
def test_every_expression_is_one_that_mistral_finds(path):
    # Mistral finds '<% ... %>' with a regular expression that does not
    # cross lines: an expression YAML kept a newline in is plain text
    # (and a non-empty text is true).
    expression = re.compile('<%.*?%>')
    for text in _strings(yaml.safe_load(path.read_text())):
        if '<%' in text:
            assert text.count('<%') == len(expression.findall(text)), text


RESULT_FIELD = re.compile(r'task\(\)\.result\.(\w+)')
ACTION_ERROR = ("Failed to run action [action_ex_id=1, action_cls=...]: "
                "Invalid input for operation: HTTP 400")


def _retry_clauses_reading_result_fields():
    for path in WORKBOOKS:
        for wf_name, workflow in _workflows(path):
            for task_name, task in workflow['tasks'].items():
                clause = (task.get('retry') or {}).get('continue-on', '')
                fields = RESULT_FIELD.findall(clause)
                if fields:
                    yield pytest.param(
                        clause, fields, id='%s.%s' % (wf_name, task_name))


def _evaluate_with_result(clause, result):
    # Mistral's own YAQL evaluator and functions, with task() answering
    # from memory as it answers from the task execution in the engine.
    from mistral.expressions import yaql_expression
    from yaql.language import specs

    context = yaql_expression.get_yaql_context({})
    context = context.create_child_context()

    @specs.name('task')
    def task_(task_name=None):
        return {'name': 'retried', 'state': 'RUNNING', 'result': result}

    context.register_function(task_)
    expression = clause.strip()[2:-2]
    return yaql_expression.get_yaql_engine_class()(expression).evaluate(
        context=context)


@pytest.mark.parametrize('clause, fields',
                         list(_retry_clauses_reading_result_fields()))
def test_retry_stops_on_an_action_error_and_loops_on_a_result(clause, fields):
    # Mistral evaluates continue-on on an ERROR result too, where the
    # result is the error text: the clause must then be false (the task
    # fails with the action's own error), not raise a YAQL error.
    assert _evaluate_with_result(clause, ACTION_ERROR) is False
    loops = [_evaluate_with_result(clause, {field: value for field in fields})
             for value in (False, True, 'IN_PROGRESS')]
    assert True in loops, clause


# Waits whose running out of tries is not an error, by design: on delete,
# a primary that does not answer keeps the group's backups and snapshots.
BEST_EFFORT_WAITS = {'unregister_v1.release_volumes',
                     'unregister_v1.release_backups'}


def _transitions(task):
    on_success = task.get('on-success')
    if on_success is None:
        return []
    if isinstance(on_success, str):
        return [(on_success, None)]
    return [next(iter(t.items())) if isinstance(t, dict) else (t, None)
            for t in on_success]


@pytest.mark.parametrize('path', WORKBOOKS, ids=lambda p: p.name)
def test_a_wait_that_runs_out_of_tries_goes_on_only_when_it_is_done(path):
    # Mistral ends a retry whose continue-on still holds after its last
    # try in SUCCESS: a plain on-success would go on as if the wait were
    # over (a failback backed up a volume its undrained VNF still wrote).
    for wf_name, workflow in _workflows(path):
        for task_name, task in workflow['tasks'].items():
            name = '%s.%s' % (wf_name, task_name)
            if 'continue-on' not in (task.get('retry') or {}) or \
                    name in BEST_EFFORT_WAITS:
                continue
            transitions = _transitions(task)
            assert all(condition for _, condition in transitions), (
                '%s goes on unconditionally after its retry' % name)


# Waits whose answer is not a state to reach, with why they still end.
ENDS_BY_ITSELF = {
    # Answers restoring only while Cinder shows restoring-backup; the
    # wait after it (volume_status) fails on error_restoring.
    'rescuer.restore_primary_volumes',
    # Raises when Cinder's group snapshot is in error (consistency.py).
    'rescuer.group_snapshot',
}


def _waits():
    for path in WORKBOOKS:
        for wf_name, workflow in _workflows(path):
            for task_name, task in workflow['tasks'].items():
                if 'continue-on' in (task.get('retry') or {}):
                    action = (task.get('action') or task['workflow']).split()
                    yield '%s.%s' % (wf_name, task_name), action[0]


def test_every_wait_ends_when_what_it_waits_for_has_ended():
    # A wait whose target ended elsewhere (a failed group, a tier that
    # never started, a server in ERROR) must end then, not at its last
    # try: tier 3 of a failover waited 2 hours for a tier 2 that never
    # started.  Each polls a function tests/unit/test_waits.py proves.
    from tests.unit import test_waits
    unproved = sorted(
        name for name, action in _waits()
        if action not in test_waits.PROVED and
        action not in ENDS_BY_ITSELF and name not in BEST_EFFORT_WAITS)
    assert not unproved, (
        'waits with no proof that they end when their target has: %s'
        % unproved)
    assert set(test_waits.PROVED) <= {action for _, action in _waits()}
