"""Per-session limits on a real Session with scripted parts: turns per minute, idle time,
utterance length and the audio held for one utterance (docs/protocol.md, Limits).

The same limits over a real daphne, with their settings read from the environment, are in
test_limits_live.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from conversation.asr.base import Transcript
from conversation.dialogue.limits import SessionLimits, TurnRate
from conversation.dialogue.session import IDLE_CLOSE_CODE, AudioFrame, Session, Transport
from conversation.protocol import AudioStart, AudioStop, Ping, Text
from conversation.reply.ports import TurnTimeouts
from conversation.reply.turn import TurnContext
from conversation.voice.decoding import Priority
from conversation.voice.vad import WINDOW, VoiceActivity
from conversation.voice.voice_input import VoiceSetup
from tests.conversation.dialogue.test_session import (
    AVATAR,
    FakeLipSync,
    ListRecorder,
    MemoryClips,
    ScriptedLlm,
    ToneTts,
    Wire,
)

AUDIO_START = AudioStart(type="audio_start", sample_rate=16000, encoding="pcm_s16le", channels=1)


class AlwaysSpeech:
    """A speech model that hears speech in every window: a user who never stops talking."""

    def __call__(self, window: np.ndarray) -> float:
        return 1.0


class RecordingRecognizer:
    def __init__(self) -> None:
        self.lengths: list[int] = []

    async def recognize(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        hints: Sequence[str],
        priority: Priority = Priority.FINAL,
        other_languages: Sequence[str] = (),
    ) -> Transcript:
        self.lengths.append(len(audio))
        return Transcript(text="a very long question", final=True, language="en", confidence=None)


class Harness:
    """A Session with scripted LLM, TTS and lip-sync, whose transport records closes."""

    def __init__(
        self,
        limits: SessionLimits,
        llm: ScriptedLlm | None = None,
        *,
        recognizer: Any = None,
        speech: Any = None,
    ) -> None:
        self.wire = Wire()
        self.closed: list[int] = []
        self.lipsync = FakeLipSync(delay=0.001)
        answers = llm or ScriptedLlm(["Fine, thank you."])
        voice = None
        if recognizer is not None:
            voice = VoiceSetup(recognizer=recognizer, activity=lambda: VoiceActivity(speech))
        self.session = Session(
            context_factory=lambda s: TurnContext(
                avatar=AVATAR,
                faq=answers,
                llm=answers,
                tts=ToneTts(),
                renders=self.lipsync,
                clips=MemoryClips(),
                timeouts=TurnTimeouts(max_lead_s=100.0),
                output=s.gate,
            ),
            transport=Transport(
                send_text=self.wire.text, send_bytes=self.wire.binary, close=self.close
            ),
            recorder=ListRecorder(),
            limits=limits,
            voice=voice,
        )
        self.lipsync.session = self.session

    async def close(self, code: int) -> None:
        self.closed.append(code)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [i for i in self.wire.items if isinstance(i, dict) and i["type"] == kind]

    async def until(self, kind: str, count: int = 1, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while len(self.of_type(kind)) < count:
                await asyncio.sleep(0.002)


# --- turns per minute ---------------------------------------------------------------------


def test_turn_rate_counts_a_sliding_minute_and_not_its_refusals() -> None:
    rate = TurnRate(per_minute=2)
    assert rate.admit(0.0) and rate.admit(10.0)
    assert not rate.admit(20.0) and not rate.admit(59.9)  # refusals do not extend the window
    assert rate.admit(60.0)  # the first start left the minute
    assert not rate.admit(65.0)
    assert rate.admit(70.0)
    assert all(TurnRate(per_minute=0).admit(t) for t in range(1000))  # 0: no limit


async def test_a_question_over_the_turn_rate_is_refused_and_the_answer_goes_on() -> None:
    llm = ScriptedLlm([f"Part {i} of the answer. " for i in range(12)], delay=0.02)
    harness = Harness(SessionLimits(turns_per_minute=2), llm)
    runner = asyncio.create_task(harness.session.run())
    harness.session.offer(Text(type="text", text="one"))
    harness.session.offer(Text(type="text", text="two"))  # barges in on "one": allowed
    await harness.until("subtitle")
    harness.session.offer(Text(type="text", text="three"))  # the third in a minute
    await harness.until("error")
    await harness.until("turn_end")
    runner.cancel()
    await harness.session.close()

    [error] = harness.of_type("error")
    assert error["code"] == "rate_limited" and not error["fatal"]
    assert "2 questions a minute" in error["message"]
    interrupted = harness.of_type("interrupted")
    assert [i["reason"] for i in interrupted] == ["new_utterance"]  # "three" stopped nothing
    [end] = harness.of_type("turn_end")
    thinking = [i for i in harness.of_type("state") if i["state"] == "thinking"]
    assert len(thinking) == 2 and end["turn_id"] == thinking[1]["turn_id"]
    assert not end["interrupted"]
    assert not harness.closed


async def test_speech_over_the_turn_rate_is_not_heard_and_does_not_barge_in() -> None:
    recognizer = RecordingRecognizer()
    harness = Harness(SessionLimits(turns_per_minute=1), recognizer=recognizer, speech=AlwaysSpeech)
    runner = asyncio.create_task(harness.session.run())
    harness.session.offer(Text(type="text", text="the one question of this minute"))
    harness.session.offer(AUDIO_START)
    for _ in range(20):  # 0.4 s of "speech", paced near real time
        harness.session.offer(AudioFrame(np.full(320, 3000, dtype=np.int16)))
        await asyncio.sleep(0.02)
    await harness.until("turn_end")
    runner.cancel()
    await harness.session.close()

    assert [e["code"] for e in harness.of_type("error")] == ["rate_limited"]
    assert not harness.of_type("interrupted")
    assert not [s for s in harness.of_type("state") if s["state"] == "listening"]
    assert not recognizer.lengths


# --- idle time ----------------------------------------------------------------------------


async def test_an_idle_session_is_closed_with_the_idle_code_and_its_task_ends() -> None:
    harness = Harness(SessionLimits(idle_timeout_s=0.3))
    runner = asyncio.create_task(harness.session.run())
    for nonce in range(6):  # 0.6 s of pings, each well inside the limit
        harness.session.offer(Ping(type="ping", nonce=str(nonce)))
        await asyncio.sleep(0.1)
    assert not harness.closed and not runner.done()
    await asyncio.wait_for(runner, 2)  # run() returns once it has closed the session
    assert harness.closed == [IDLE_CLOSE_CODE] == [4008]
    assert len(harness.of_type("pong")) == 6


async def test_a_session_is_not_idle_while_its_answer_is_still_going_out() -> None:
    llm = ScriptedLlm([f"Sentence {i} of a long answer. " for i in range(10)], delay=0.08)
    harness = Harness(SessionLimits(idle_timeout_s=0.2), llm)
    runner = asyncio.create_task(harness.session.run())
    harness.session.offer(Text(type="text", text="tell me everything"))
    await harness.until("turn_end")  # the answer lasts far longer than the idle limit
    assert not harness.closed
    await asyncio.wait_for(runner, 2)
    assert harness.closed == [IDLE_CLOSE_CODE]
    await harness.session.close()


async def test_a_session_nobody_can_close_keeps_serving_past_the_idle_time() -> None:
    harness = Harness(SessionLimits(idle_timeout_s=0.1))
    harness.session.transport.close = None
    runner = asyncio.create_task(harness.session.run())
    await asyncio.sleep(0.3)
    harness.session.offer(Ping(type="ping", nonce="late"))
    await harness.until("pong")
    assert not runner.done()
    runner.cancel()
    await harness.session.close()


async def test_no_idle_limit_when_it_is_off() -> None:
    harness = Harness(SessionLimits(idle_timeout_s=0))
    runner = asyncio.create_task(harness.session.run())
    await asyncio.sleep(0.3)
    assert not runner.done() and not harness.closed
    runner.cancel()
    await harness.session.close()


# --- utterance length and the audio held for it --------------------------------------------


def test_the_audio_held_for_one_utterance_is_bounded_by_the_utterance_limit() -> None:
    vad = VoiceActivity(AlwaysSpeech)
    vad.max_utterance_s = 1.0
    pad_windows = -(-round(0.150 * 16_000) // WINDOW) + 1  # the pre-roll kept before speech
    bound = (int(1.0 * 16_000) // WINDOW + pad_windows + 1) * WINDOW
    ends, most = [], 0
    for _ in range(500):  # 10 s of unbroken speech in 20 ms blocks
        ends += vad.push(np.full(320, 3000, dtype=np.int16))
        most = max(most, vad.buffered_samples)
    assert most <= bound  # without the cut this would be 10 s of audio
    lengths = [e.duration_ms for e in ends if hasattr(e, "audio")]
    assert len(lengths) >= 9  # cut about every second, each part handed on
    assert all(800 <= ms <= 1000 + 150 + 32 for ms in lengths)


def test_an_utterance_limit_shorter_than_confirmed_speech_still_lets_speech_start() -> None:
    vad = VoiceActivity(AlwaysSpeech, min_speech_ms=500)
    vad.max_utterance_s = 0.1
    assert vad.max_utterance_s > 0.5
    events = vad.push(np.full(16_000 * 2, 3000, dtype=np.int16))
    assert [type(e).__name__ for e in events][:2] == ["SpeechStarted", "SpeechEnded"]


def test_session_limits_refuse_nonsense() -> None:
    for bad in (
        {"turns_per_minute": -1},
        {"idle_timeout_s": -5.0},
        {"max_utterance_s": 0.0},
    ):
        with pytest.raises(ValueError):
            SessionLimits(**bad)  # type: ignore[arg-type]


async def test_speech_longer_than_the_limit_is_cut_and_recognised() -> None:
    recognizer = RecordingRecognizer()
    harness = Harness(
        SessionLimits(max_utterance_s=1.0), recognizer=recognizer, speech=AlwaysSpeech
    )
    runner = asyncio.create_task(harness.session.run())
    harness.session.offer(AUDIO_START)
    for _ in range(70):  # 1.4 s of unbroken speech, paced near real time
        harness.session.offer(AudioFrame(np.full(320, 3000, dtype=np.int16)))
        await asyncio.sleep(0.02)
    await harness.until("transcript")
    harness.session.offer(AudioStop(type="audio_stop"))
    await asyncio.sleep(0.1)
    runner.cancel()
    await harness.session.close()

    assert recognizer.lengths, "the cut utterance was never recognised"
    assert recognizer.lengths[0] <= (1.0 + 0.150 + 0.032) * 16_000  # the limit and its pad
    [final, *_] = [t for t in harness.of_type("transcript") if t["final"]]
    assert final["text"] == "a very long question"
