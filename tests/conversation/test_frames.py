from __future__ import annotations

import dataclasses
from uuid import uuid4

import pytest

from conversation.frames import (
    AudioChunk,
    CancelTurn,
    ControlFrame,
    DataFrame,
    Frame,
    InterruptFrame,
    LLMDone,
    MediaReady,
    Sentence,
    StateChanged,
    SystemFrame,
    TextToken,
    TurnEnded,
    TurnStarted,
    survives_interruption,
)
from conversation.protocol import InterruptReason
from conversation.turn_state import StateChange, TurnState

TURN = uuid4()

SYSTEM: list[Frame] = [
    InterruptFrame(turn_id=TURN, reason=InterruptReason.CLIENT, at=1.0),
    CancelTurn(turn_id=TURN, reason="llm timeout"),
    StateChanged(StateChange(TurnState.IDLE, TurnState.THINKING, 0.0, TURN)),
]
IN_ORDER: list[Frame] = [
    TextToken(turn_id=TURN, text="Hel"),
    Sentence(turn_id=TURN, index=0, text="Hello."),
    AudioChunk(
        turn_id=TURN,
        seq=0,
        pcm=b"\x00\x00" * 640,
        sample_rate=16000,
        sentence=0,
        first_frame=0,
        is_last_of_sentence=True,
    ),
    MediaReady(turn_id=TURN, seq=0, payload=b"\xa1"),
    TurnStarted(turn_id=TURN, input_kind="text", at=0.0),
    LLMDone(turn_id=TURN),
    TurnEnded(turn_id=TURN, interrupted=False, at=2.0),
]


@pytest.mark.parametrize("frame", SYSTEM)
def test_system_frames_survive_an_interruption(frame: Frame) -> None:
    assert isinstance(frame, SystemFrame)
    assert survives_interruption(frame)


@pytest.mark.parametrize("frame", IN_ORDER)
def test_data_and_control_frames_are_dropped_by_an_interruption(frame: Frame) -> None:
    assert isinstance(frame, DataFrame | ControlFrame)
    assert not survives_interruption(frame)


def test_a_flushed_queue_keeps_only_system_frames_in_order() -> None:
    queue = [IN_ORDER[0], SYSTEM[2], IN_ORDER[1], SYSTEM[0], IN_ORDER[2]]
    assert [f for f in queue if survives_interruption(f)] == [SYSTEM[2], SYSTEM[0]]


@pytest.mark.parametrize("frame", SYSTEM + IN_ORDER)
def test_frames_are_frozen(frame: Frame) -> None:
    name = dataclasses.fields(frame)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(frame, name, None)
