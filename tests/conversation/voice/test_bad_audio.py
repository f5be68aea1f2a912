"""Bad audio through the default ears (Silero, Smart Turn, Whisper base from its packages):
silence, noise, clicks, talk with no pause, speech at the wrong rate. Each gets no turn, or a
turn that ends, and the session still answers afterwards; nothing crashes or hangs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conversation.asr.select import build_asr
from conversation.dialogue.limits import SessionLimits
from conversation.dialogue.session import AudioFrame, Session
from conversation.protocol import AudioStart, AudioStop, Text
from conversation.voice.end_of_turn import TurnCompletion
from conversation.voice.recognizer import LocalRecognizer
from conversation.voice.vad import SileroProbability, VoiceActivity
from conversation.voice.voice_input import VoiceSetup
from tests.conversation.dialogue.test_session import ScriptedLlm, Wire, drive, make_session
from tests.speech_audio import espeak_pcm16

RATE = 16_000
START = AudioStart(type="audio_start", sample_rate=RATE, encoding="pcm_s16le", channels=1)


@pytest.fixture(scope="module")
def ears() -> VoiceSetup:
    backend, _ = build_asr(
        None, device="cpu", compute_type="int8", models_dir=Path(os.environ["AVATAR_MODELS_DIR"])
    )
    silero = SileroProbability()
    return VoiceSetup(
        recognizer=LocalRecognizer(backend, slots=2),
        activity=lambda: VoiceActivity(silero.new_stream, end_silence_ms=1500, pause_ms=200),
        turn_model=TurnCompletion(),
        hold_s=0.75,
        max_hold_s=1.5,
    )


def _clicks(seconds: float) -> np.ndarray:
    audio = np.zeros(int(seconds * RATE), dtype=np.int16)
    audio[:: RATE // 7] = 30000  # seven sharp clicks a second
    audio[1 :: RATE // 7] = -30000
    return audio


def _noise(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(5)
    return np.clip(rng.normal(0, 3000, int(seconds * RATE)), -32768, 32767).astype(np.int16)


def _wrong_rate() -> np.ndarray:
    """Speech recorded at 8 kHz, sent as if it were 16 kHz: twice as fast, an octave up."""
    return espeak_pcm16("What are your opening hours?", rate=8000)


def _script(audio: np.ndarray) -> list[tuple[float, Any]]:
    frames = [(0.02, AudioFrame(audio[i : i + 320])) for i in range(0, len(audio), 320)]
    return [(0.0, START), *frames, (0.3, AudioStop(type="audio_stop"))]


@pytest.mark.parametrize(
    "audio",
    [
        pytest.param(np.zeros(3 * RATE, dtype=np.int16), id="silence"),
        pytest.param(_clicks(3), id="clicks"),
        pytest.param(_noise(3), id="noise"),
        pytest.param(_wrong_rate(), id="wrong-rate"),
    ],
)
async def test_bad_audio_is_harmless_and_the_session_goes_on(
    ears: VoiceSetup, audio: np.ndarray
) -> None:
    session, wire, _, recorder = make_session(
        ScriptedLlm(["We open at nine."]), voice=ears, wire=Wire()
    )
    script = [*_script(audio), (1.5, Text(type="text", text="hello"))]
    await drive(session, wire, script, until="turn_end", timeout=30)

    errors = [i for i in wire.items if isinstance(i, dict) and i["type"] == "error"]
    assert errors == []
    # The typed question after it was answered: the session is not stuck.
    assert any(r["turn"].text == "hello" and not r["interrupted"] for r in recorder.records)


async def test_talk_without_a_pause_is_cut_at_the_limit_and_the_rest_is_the_next_question(
    ears: VoiceSetup,
) -> None:
    speech = espeak_pcm16(
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    )
    session = make_session(ScriptedLlm(["Thank you."]), voice=ears, wire=Wire())
    limited: Session = session[0]
    limited.limits = SessionLimits(max_utterance_s=2.0)
    wire, recorder = session[1], session[3]
    await drive(limited, wire, _script(speech), until="turn_end", timeout=30)

    finals = [i["text"] for i in wire.items if isinstance(i, dict) and i.get("final")]
    # Cut at the limit; the talk that goes on is the next question, barging in on the first.
    assert len(recorder.records) >= 2 and finals and all(finals)
    assert not recorder.records[-1]["interrupted"]
    assert all(i["type"] != "error" for i in wire.items if isinstance(i, dict))
