"""The state machine and the deadline arithmetic, as pure functions."""

import pytest

from orchestrator.lifecycle import EndReason, SessionStatus, deadline_ms, due_reason, may_become, sources_of
from orchestrator.placement import least_loaded

S = SessionStatus


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (S.STARTING, S.ACTIVE, True),
        (S.STARTING, S.FAILED, True),
        (S.ACTIVE, S.CLOSING, True),
        (S.ACTIVE, S.EXPIRED, True),
        (S.CLOSING, S.CLOSED, True),
        (S.ACTIVE, S.CLOSED, False),
        (S.ACTIVE, S.STARTING, False),
        (S.CLOSING, S.ACTIVE, False),
        (S.CLOSING, S.EXPIRED, False),
        (S.CLOSING, S.FAILED, False),
    ],
)
def test_may_become(current: S, target: S, allowed: bool) -> None:
    assert may_become(current, target) is allowed


@pytest.mark.parametrize("terminal", [S.CLOSED, S.EXPIRED, S.FAILED])
def test_terminal_states_never_move(terminal: S) -> None:
    assert terminal.is_terminal and not terminal.is_live
    assert not any(may_become(terminal, target) for target in S)


def test_sources_of_is_the_inverse_of_may_become() -> None:
    for target in S:
        assert sources_of(target) == {s for s in S if may_become(s, target)}


def test_deadline_is_the_earlier_of_hard_and_idle() -> None:
    assert deadline_ms(expires_at_ms=10_000, last_activity_ms=0, idle_timeout_s=5) == 5_000
    assert deadline_ms(expires_at_ms=3_000, last_activity_ms=0, idle_timeout_s=5) == 3_000


def test_due_reason() -> None:
    assert due_reason(10_000, 0, 5, now=4_999) is None
    assert due_reason(10_000, 0, 5, now=5_000) is EndReason.IDLE
    assert due_reason(10_000, 9_000, 5, now=10_000) is EndReason.TIMEOUT


def test_least_loaded_placement() -> None:
    assert least_loaded([3, 1, 2], capacity=5) == 1
    assert least_loaded([1, 1, 1], capacity=5) == 0
    assert least_loaded([None, 4, 2], capacity=5) == 2
    assert least_loaded([5, 5], capacity=5) is None
    assert least_loaded([None, None], capacity=5) is None
    assert least_loaded([], capacity=5) is None
