"""Property-based fuzzing of a real Session behind the consumer's own `receive`, in-process.

Each case is a sequence of 1-6 WebSocket frames (text or binary, from tests/security/strategies.py)
delivered through `AvatarConsumer.receive` (the real parsing and hand-over code, bound to a
stand-in that records what it sends) to a real `Session` with scripted LLM, TTS, lip-sync, VAD and
speech recognition. The property: every server message is a valid protocol message; every
refusal is an `error` with a documented code that never quotes the input, fatal only for an
unsupported protocol version (then close 4000); no `internal` error (nothing in the session
failed); the session's task is still alive; and it then answers a typed question.

Counts: `EXAMPLES` derandomized cases per run, the same ones every run. With test_fuzz_protocol.py
(12,000) and test_fuzz_live.py (400), one run of tests/security tries 12,000 + 1,500 + 400 =
13,900 cases; the sessions alone see up to 9,000 frames.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversation.asr.base import Transcript
from conversation.dialogue.session import SessionLimits
from conversation.edge.consumer import AudioWindow, AvatarConsumer
from conversation.protocol import ErrorCode, MediaChunk, server_message_adapter
from conversation.voice.decoding import Priority
from tests.security.strategies import SECRET, client_frame
from tests.security.test_limits import Harness

EXAMPLES = 1_500
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DOCUMENTED = {code.value for code in ErrorCode}
DOCUMENTED_CLOSE = {1000, 1011, 1012, 4000, 4003, 4004, 4008, 4009, 4011, 4029}


class LoudIsSpeech:
    """A scripted speech model: a window is speech when it is loud (noise often is)."""

    def __call__(self, window: np.ndarray) -> float:
        return 1.0 if float(np.abs(window).mean()) > 0.25 else 0.0


class EchoFreeRecognizer:
    async def recognize(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        hints: Sequence[str],
        priority: Priority = Priority.FINAL,
        other_languages: Sequence[str] = (),
    ) -> Transcript:
        await asyncio.sleep(0)
        return Transcript(text="what are your hours", final=True, language="en", confidence=None)


class ConsumerEdge:
    """The consumer's real `receive`, bound to a stand-in for the WebSocket side of it."""

    receive = AvatarConsumer.receive
    _send_error = AvatarConsumer._send_error

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.session = harness.session
        self.audio = AudioWindow()
        self.closed: list[int | None] = []

    async def _send_text(self, text: str) -> None:
        await self.harness.wire.text(text)

    async def close(self, code: int | None = None) -> None:
        self.closed.append(code)
        self.session = None  # the socket is gone: nothing more reaches the session


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    runner = asyncio.Runner()
    yield runner.get_loop()
    runner.close()


def check_server_messages(items: list[Any]) -> list[dict[str, Any]]:
    """Every message is valid protocol v1; returns the errors."""
    errors = []
    for item in items:
        if isinstance(item, MediaChunk):
            continue  # decoded already by MediaChunk.unpack in Wire.binary
        server_message_adapter.validate_python(item)
        assert SECRET not in json.dumps(item) or item["type"] == "pong"
        if item["type"] == "error":
            errors.append(item)
    return errors


async def run_case(frames: list[str | bytes]) -> None:
    harness = Harness(
        SessionLimits(idle_timeout_s=0), recognizer=EchoFreeRecognizer(), speech=LoudIsSpeech
    )
    edge = ConsumerEdge(harness)
    runner = asyncio.create_task(harness.session.run())
    try:
        for frame in frames:
            if isinstance(frame, str):
                await edge.receive(text_data=frame)
            else:
                await edge.receive(bytes_data=frame)
            await asyncio.sleep(0)
        errors = check_server_messages(harness.wire.items)
        assert {e["code"] for e in errors} <= DOCUMENTED - {"internal"}
        fatal = [e for e in errors if e["fatal"]]
        if fatal:  # only an unsupported protocol version ends a session here
            assert [e["code"] for e in fatal] == ["invalid_field"] and edge.closed == [4000]
            assert set(edge.closed) <= DOCUMENTED_CLOSE
            return
        assert not edge.closed and not runner.done()
        # The session still answers: a typed question gets its whole answer.
        before = len(harness.of_type("turn_end"))
        await edge.receive(text_data=json.dumps({"type": "text", "text": "are you there?"}))
        await harness.until("turn_end", before + 1, timeout=10)
        errors = check_server_messages(harness.wire.items)
        assert "internal" not in {e["code"] for e in errors}
        assert not runner.done()
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await harness.session.close()


@FUZZ
@given(st.lists(client_frame, min_size=1, max_size=6))
def test_any_frames_get_documented_answers_and_the_session_goes_on(
    loop: asyncio.AbstractEventLoop, frames: list[str | bytes]
) -> None:
    loop.run_until_complete(run_case(frames))
