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
