"""Every command the guides and the README show is exercised: each
``openstack …`` and ``rescuer-lab …`` command in ``doc/source`` and
``README.md`` must be run, with the same command words, by a functional
test or by the drill (the main job)."""

import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
DOCS = sorted((REPO / 'doc' / 'source').rglob('*.rst')) + [REPO / 'README.md']
EXERCISED_BY = sorted((REPO / 'tests' / 'functional').glob('*.py')) + [
    REPO / 'tools' / 'drill.py']
COMMAND = re.compile(r'^\s*(?:G=\$\()?(?:\.venv/bin/)?(openstack|rescuer-lab)'
                     r'\s+(.*)$')
WORD = re.compile(r'^[a-z][a-z0-9_.-]*$')


def shown_commands():
    """(file, tool, command words) of every command in a code block."""
    found = set()
    for path in DOCS:
        text = path.read_text().replace('\\\n', ' ')
        for line in text.splitlines():
            if not line.startswith('    '):   # literal blocks only
                continue
            match = COMMAND.match(line)
            if not match:
                continue
            words, args = [], match.group(2).split()
            while args:
                arg = args.pop(0)
                if arg == '--os-cloud':
                    args.pop(0)
                    continue
                if not WORD.match(arg):
                    break
                words.append(arg)
            found.add((path.relative_to(REPO).as_posix(), match.group(1),
                       tuple(words)))
    return sorted(found)


def _exercised(tool, words):
    source = ''.join(p.read_text() for p in EXERCISED_BY)
    # The command words, as a test passes them to base.cli/rescuer_lab
    # ('stack', 'create', ...); trailing words may be the test's own
    # names (a stack, a site), so the longest shown prefix that a test
    # runs decides - at least the verb for rescuer-lab, at least two
    # words for openstack.
    shortest = 1 if tool == 'rescuer-lab' else 2
    for length in range(len(words), shortest - 1, -1):
        if ', '.join("'%s'" % w for w in words[:length]) in source:
            return True
    return False


def test_the_docs_show_commands():
    assert len(shown_commands()) > 10


@pytest.mark.parametrize('doc, tool, words', shown_commands(),
                         ids=lambda v: v if isinstance(v, str)
                         else ' '.join(v))
def test_every_command_shown_is_exercised(doc, tool, words):
    assert words, '%s shows a %s command without a verb' % (doc, tool)
    assert _exercised(tool, words), (
        '%s shows `%s %s`, which no functional test nor the drill runs'
        % (doc, tool, ' '.join(words)))
