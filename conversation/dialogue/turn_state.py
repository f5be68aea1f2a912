"""The turn state machine: one state per session, one table of legal moves, one method to move.

States and the moves between them (anything else is a bug and raises `IllegalTransition`):

    idle        -> listening | thinking          a turn starts: speech heard, or text typed
    listening   -> thinking | idle | interrupted | error
                   endpoint reached / nothing recognised / client `interrupt` / ASR crashed
    thinking    -> speaking | interrupted | error | idle
                   first media chunk / barge-in / backend crashed / nothing to say
    speaking    -> idle | interrupted | error
                   answer played out / barge-in / crashed
    interrupted -> listening | thinking | idle
                   the barge-in's own speech / a typed utterance / a bare `interrupt`
    error       -> idle

`speaking -> thinking` is deliberately absent: a new utterance while the avatar speaks is a
barge-in, and it must pass through `interrupted` so the client always receives `interrupted`
and flushes its buffers before the next turn's media arrives.

A turn starts when the machine enters listening or thinking from idle or interrupted; that
move must name the new `turn_id`. The turn keeps its id through `interrupted` and until the
machine is back in idle, so the change into idle (or into the next turn) closes its history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from conversation.protocol import TurnState

__all__ = ["TRANSITIONS", "IllegalTransition", "StateChange", "TurnState", "TurnStateMachine"]


_S = TurnState

TRANSITIONS: dict[TurnState, frozenset[TurnState]] = {
    _S.IDLE: frozenset({_S.LISTENING, _S.THINKING}),
    _S.LISTENING: frozenset({_S.THINKING, _S.IDLE, _S.INTERRUPTED, _S.ERROR}),
    _S.THINKING: frozenset({_S.SPEAKING, _S.INTERRUPTED, _S.ERROR, _S.IDLE}),
    _S.SPEAKING: frozenset({_S.IDLE, _S.INTERRUPTED, _S.ERROR}),
    _S.INTERRUPTED: frozenset({_S.LISTENING, _S.THINKING, _S.IDLE}),
    _S.ERROR: frozenset({_S.IDLE}),
}

_TURN_OPENERS = frozenset({_S.IDLE, _S.INTERRUPTED})
_TURN_FIRST_STATES = frozenset({_S.LISTENING, _S.THINKING})


class IllegalTransition(Exception):
    """A move the table does not allow, or a turn id that does not fit the move."""

    def __init__(self, previous: TurnState, to: TurnState, reason: str = "not in the table"):
        super().__init__(f"illegal turn transition {previous} -> {to}: {reason}")
        self.previous = previous
        self.to = to


@dataclass(frozen=True, slots=True)
class StateChange:
    """One move of the machine; `turn_id` is the turn the move belongs to (None outside turns)."""

    previous: TurnState
    state: TurnState
    at: float
    turn_id: UUID | None


StateListener = Callable[[StateChange], None]


def starts_turn(previous: TurnState, to: TurnState) -> bool:
    """Whether moving from `previous` to `to` opens a new turn (and so needs a new turn id)."""
    return previous in _TURN_OPENERS and to in _TURN_FIRST_STATES


class TurnStateMachine:
    """Holds the session's one turn state; `transition` is the only way to change it."""

    def __init__(self, listener: StateListener | None = None) -> None:
        self._state = TurnState.IDLE
        self._turn_id: UUID | None = None
        self._history: list[tuple[TurnState, float]] = []
        self._last_at: float | None = None
        self._listener = listener

    @property
    def state(self) -> TurnState:
        return self._state

    @property
    def turn_id(self) -> UUID | None:
        """The current turn, or None when idle."""
        return self._turn_id

    @property
    def history(self) -> tuple[tuple[TurnState, float], ...]:
        """(state, timestamp) of every state of the current (or last finished) turn, in order."""
        return tuple(self._history)

    def history_ms(self) -> list[tuple[str, float]]:
        """The turn record's `transitions`: [state, milliseconds since the turn started]."""
        if not self._history:
            return []
        start = self._history[0][1]
        return [(str(state), round((at - start) * 1000.0, 3)) for state, at in self._history]

    def transition(self, to: TurnState, *, at: float, turn_id: UUID | None = None) -> StateChange:
        """Move to `to` at monotonic time `at` (seconds); tell the listener; return the change.

        `turn_id` is required exactly when the move starts a turn (see `starts_turn`), and
        must be left out otherwise.
        """
        previous = self._state
        if to not in TRANSITIONS[previous]:
            raise IllegalTransition(previous, to)
        opening = starts_turn(previous, to)
        if opening and turn_id is None:
            raise IllegalTransition(previous, to, "a new turn needs a turn_id")
        if not opening and turn_id is not None:
            raise IllegalTransition(previous, to, "only a move that starts a turn takes a turn_id")
        if self._last_at is not None and at < self._last_at:
            raise ValueError(f"time went backwards: {at} < {self._last_at}")

        if opening:
            self._turn_id = turn_id
            self._history = []
        change = StateChange(previous=previous, state=to, at=at, turn_id=self._turn_id)
        self._state = to
        self._last_at = at
        self._history.append((to, at))
        if to is TurnState.IDLE:
            self._turn_id = None
        if self._listener is not None:
            self._listener(change)
        return change
