"""The lab's retry around CPython 3.11's spurious AST SystemError."""

import pytest

from heat.engine import sync_point

from rescuer_lab.heat_plugins import cpython_ast_race as race


def spurious():
    return SystemError('AST constructor recursion depth mismatch '
                       '(before=78, after=75)')


@pytest.mark.parametrize('version, affected', [
    ((3, 10, 13), False), ((3, 11, 0), True), ((3, 11, 7), True),
    ((3, 11, 8), False), ((3, 12, 1), False), ((3, 13, 0), False)])
def test_only_pythons_without_the_fix_are_affected(version, affected):
    assert race.is_affected(version + ('final', 0)) is affected


def test_a_spurious_error_is_parsed_again():
    outcomes = [spurious(), spurious(), (1, 'two')]
    calls = []

    def parse(text):
        calls.append(text)
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert race.literal_eval_retrying('(1, "two")', parse) == (1, 'two')
    assert calls == ['(1, "two")'] * 3


def test_other_system_errors_are_not_retried():
    calls = []

    def parse(text):
        calls.append(text)
        raise SystemError('something else')

    with pytest.raises(SystemError, match='something else'):
        race.literal_eval_retrying('(1,)', parse)
    assert len(calls) == 1


def test_a_spurious_error_that_persists_is_raised_after_the_last_attempt():
    calls = []

    def parse(text):
        calls.append(text)
        raise spurious()

    with pytest.raises(SystemError, match='recursion depth mismatch'):
        race.literal_eval_retrying('(1,)', parse)
    assert len(calls) == race.ATTEMPTS


def test_bad_input_still_fails_as_heat_would():
    with pytest.raises(ValueError):
        race.unpack_tuple('tuple:(__import__("os"),)')


def test_install_patches_heats_sync_points_on_affected_pythons(monkeypatch):
    monkeypatch.setattr(sync_point, '_str_unpack_tuple',
                        sync_point._str_unpack_tuple)
    original = sync_point._str_unpack_tuple

    assert race.install((3, 12, 1, 'final', 0)) is False
    assert sync_point._str_unpack_tuple is original

    assert race.install((3, 11, 7, 'final', 0)) is True
    assert sync_point._str_unpack_tuple is race.unpack_tuple
    data = {('6f9a1c2e', True): {'attrs': {('ip', 0, 'addr'): '10.0.0.5'}}}
    stored = sync_point.serialize_input_data(data)
    assert sync_point.deserialize_input_data(stored) == data
