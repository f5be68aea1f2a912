from __future__ import annotations

from uuid import uuid4

import pytest

from conversation.dialogue.turn_state import (
    TRANSITIONS,
    IllegalTransition,
    StateChange,
    TurnState,
    TurnStateMachine,
)

S = TurnState


def record() -> tuple[TurnStateMachine, list[StateChange]]:
    changes: list[StateChange] = []
    return TurnStateMachine(listener=changes.append), changes


def test_typed_turn_goes_idle_thinking_speaking_idle() -> None:
    machine, changes = record()
    turn = uuid4()
    machine.transition(S.THINKING, at=10.0, turn_id=turn)
    machine.transition(S.SPEAKING, at=10.5)
    machine.transition(S.IDLE, at=12.0)

    assert [(c.previous, c.state) for c in changes] == [
        (S.IDLE, S.THINKING),
        (S.THINKING, S.SPEAKING),
        (S.SPEAKING, S.IDLE),
    ]
    assert all(c.turn_id == turn for c in changes)
    assert machine.state is S.IDLE and machine.turn_id is None
    assert machine.history == ((S.THINKING, 10.0), (S.SPEAKING, 10.5), (S.IDLE, 12.0))
    assert machine.history_ms() == [("thinking", 0.0), ("speaking", 500.0), ("idle", 2000.0)]


def test_spoken_turn_starts_listening() -> None:
    machine, changes = record()
    turn = uuid4()
    machine.transition(S.LISTENING, at=1.0, turn_id=turn)
    machine.transition(S.THINKING, at=2.0)
    machine.transition(S.SPEAKING, at=3.0)
    machine.transition(S.IDLE, at=4.0)
    assert [c.state for c in changes] == [S.LISTENING, S.THINKING, S.SPEAKING, S.IDLE]
    assert {c.turn_id for c in changes} == {turn}


def test_barge_in_closes_the_old_turn_and_opens_a_new_one() -> None:
    machine, changes = record()
    old, new = uuid4(), uuid4()
    machine.transition(S.THINKING, at=0.0, turn_id=old)
    machine.transition(S.SPEAKING, at=0.4)
    machine.transition(S.INTERRUPTED, at=1.0)
    assert machine.turn_id == old  # the interrupted turn still owns the state
    machine.transition(S.LISTENING, at=1.1, turn_id=new)
    machine.transition(S.THINKING, at=2.0)

    assert [(c.state, c.turn_id) for c in changes] == [
        (S.THINKING, old),
        (S.SPEAKING, old),
        (S.INTERRUPTED, old),
        (S.LISTENING, new),
        (S.THINKING, new),
    ]
    assert machine.history == ((S.LISTENING, 1.1), (S.THINKING, 2.0))


def test_bare_interrupt_returns_to_idle_within_the_old_turn() -> None:
    machine, changes = record()
    turn = uuid4()
    machine.transition(S.THINKING, at=0.0, turn_id=turn)
    machine.transition(S.INTERRUPTED, at=0.2)
    machine.transition(S.IDLE, at=0.3)
    assert [c.turn_id for c in changes] == [turn, turn, turn]
    assert machine.turn_id is None


def test_error_goes_back_to_idle_only() -> None:
    machine, _ = record()
    machine.transition(S.THINKING, at=0.0, turn_id=uuid4())
    machine.transition(S.ERROR, at=0.1)
    with pytest.raises(IllegalTransition):
        machine.transition(S.THINKING, at=0.2)
    machine.transition(S.IDLE, at=0.3)


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], S.SPEAKING),  # idle -> speaking: nothing was asked
        ([], S.IDLE),  # no self-moves
        ([], S.INTERRUPTED),
        ([S.THINKING, S.SPEAKING], S.THINKING),  # new text while speaking goes via interrupted
        ([S.THINKING, S.SPEAKING], S.LISTENING),
        ([S.LISTENING], S.SPEAKING),
        ([S.THINKING, S.INTERRUPTED], S.SPEAKING),  # no media after interrupted
    ],
)
def test_illegal_moves_raise_and_change_nothing(path: list[TurnState], illegal: TurnState) -> None:
    machine, changes = record()
    for step, state in enumerate(path):
        machine.transition(state, at=float(step), turn_id=uuid4() if step == 0 else None)
    before = (machine.state, machine.turn_id, machine.history, len(changes))
    with pytest.raises(IllegalTransition):
        machine.transition(illegal, at=10.0, turn_id=uuid4())
    with pytest.raises(IllegalTransition):
        machine.transition(illegal, at=10.0)
    assert (machine.state, machine.turn_id, machine.history, len(changes)) == before


def test_a_turn_start_needs_an_id_and_other_moves_refuse_one() -> None:
    machine, _ = record()
    with pytest.raises(IllegalTransition, match="needs a turn_id"):
        machine.transition(S.THINKING, at=0.0)
    machine.transition(S.THINKING, at=0.0, turn_id=uuid4())
    with pytest.raises(IllegalTransition, match="only a move that starts a turn"):
        machine.transition(S.SPEAKING, at=0.1, turn_id=uuid4())


def test_time_cannot_go_backwards() -> None:
    machine, _ = record()
    machine.transition(S.THINKING, at=5.0, turn_id=uuid4())
    with pytest.raises(ValueError, match="backwards"):
        machine.transition(S.SPEAKING, at=4.0)


def test_every_state_has_a_way_back_to_idle() -> None:
    assert set(TRANSITIONS) == set(TurnState)
    for state in TurnState:
        seen, frontier = {state}, [state]
        while frontier:
            for nxt in TRANSITIONS[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert S.IDLE in seen or state is S.IDLE
