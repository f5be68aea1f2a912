"""Voice input end to end: espeak-ng speech streamed in 20 ms frames at real-time pace."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import numpy as np
import pytest

from avatars.models import TurnRecord
from conversation.asr.packaged import whisper_base
from conversation.protocol import MediaKind
from conversation.tts.kokoro import KokoroTts
from tests.conversation.ws_client import AvatarClient, is_turn_end, media, of_type
from tests.processes import wait_until
from tests.speech_audio import espeak_pcm16, with_noise

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

FRAME = 320  # 20 ms of 16 kHz audio
MODELS = Path(os.environ["AVATAR_MODELS_DIR"])


async def stream(client: AvatarClient, audio: np.ndarray, *, pace: float = 1.0) -> None:
    """Send audio in 20 ms frames on the real-time clock (pace 1.0), like a microphone."""
    start = time.monotonic()
    for i in range(0, len(audio), FRAME):
        await client.send(audio[i : i + FRAME].tobytes())
        ahead = start + (i + FRAME) / 16_000 / pace - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)


async def kokoro_pcm16(text: str, voice: str) -> np.ndarray:
    """Japanese speech at 16 kHz in one of Kokoro's voices: a Japanese customer's question."""
    tts = KokoroTts(MODELS)
    return np.concatenate([b async for b in tts.synthesize(text, voice=voice, language="ja")])


def noisy_silence(seconds: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 40, int(seconds * 16_000)).astype(np.int16)


@pytest.mark.parametrize("where", ["web", "speech"])
def test_a_spoken_faq_question_is_transcribed_and_answered(
    where, demo_avatar, start_worker, start_daphne
) -> None:
    start_worker("lipsync")
    if where == "speech":
        start_worker("speech", ASR_LOCATION="speech")
    _, port = start_daphne(LIPSYNC_TIMEOUT_S="20", ASR_LOCATION=where)
    question = with_noise(
        espeak_pcm16("What are your opening hours?", silence_before=0.8, silence_after=1.2)
    )

    async def scenario():
        client = await AvatarClient.connect(port)
        await client.next_event(10)
        await client.send(
            {"type": "audio_start", "sample_rate": 16000, "encoding": "pcm_s16le", "channels": 1}
        )
        sender = asyncio.create_task(stream(client, question))
        events = await client.until(is_turn_end, 90)
        await sender
        await client.send({"type": "audio_stop"})
        await client.close()
        return events

    events = asyncio.run(scenario())
    states = [s.state for s in of_type(events, "state")]
    assert states[:3] == ["listening", "thinking", "speaking"]
    *partials, transcript = of_type(events, "transcript")
    assert transcript.final and not any(p.final for p in partials)
    assert "open" in transcript.text or "hours" in transcript.text
    subtitles = of_type(events, "subtitle")
    assert subtitles[0].text.startswith("Our customer service is open")
    assert any(c.kind is MediaKind.CHUNK for c in media(events))
    turn_id = transcript.turn_id
    wait_until(lambda: TurnRecord.objects.filter(turn_id=turn_id).exists(), 10, "turn record")
    record = TurnRecord.objects.get(turn_id=turn_id)
    assert record.input_kind == "voice" and record.ttfw_ms > 0
    assert record.stage_ms["asr_ms"] > 0 and record.stage_ms["vad_decision_ms"] > 0
    # Recognition began when the user paused: the customer waited at most all of it.
    assert 0 <= record.stage_ms["asr_wait_ms"] <= record.stage_ms["asr_ms"]
    assert [t[0] for t in record.transitions][:3] == ["listening", "thinking", "speaking"]
    assert "open" not in str(record.stage_ms) and transcript.text not in str(record.transitions)


def test_speech_barges_in_and_a_click_does_not(demo_avatar, start_worker, start_daphne) -> None:
    start_worker("lipsync")
    _, port = start_daphne(LIPSYNC_TIMEOUT_S="20")
    click = noisy_silence(0.5)
    click[4000:5600] = (np.sin(np.arange(1600) * 0.3) * 20000).astype(np.int16)  # 100 ms, loud
    speech = with_noise(
        espeak_pcm16("Excuse me, I have another question.", silence_before=0.3, silence_after=1.0)
    )

    async def scenario():
        client = await AvatarClient.connect(port)
        await client.next_event(10)
        await client.send(
            {"type": "audio_start", "sample_rate": 16000, "encoding": "pcm_s16le", "channels": 1}
        )
        await client.send({"type": "text", "text": "How can I return an item?"})
        await client.until(lambda e: e.type == "media:chunk", 60)
        await stream(client, click)
        after_click = await client.quiet_for(0.5)
        sender = asyncio.create_task(stream(client, speech))
        cut = await client.until(lambda e: e.type == "interrupted", 20)
        await sender
        rest = await client.quiet_for(4)
        await client.close()
        return after_click, cut, rest

    after_click, cut, rest = asyncio.run(scenario())
    assert not [e for e in after_click if e.type == "interrupted"]
    assert not [e for e in after_click if e.type == "state" and e.message.state != "speaking"]
    interrupted = cut[-1].message
    assert interrupted.reason == "speech"
    assert not [c for c in media(rest) if c.turn_id == interrupted.turn_id]
    assert "listening" in [e.message.state for e in cut + rest if e.type == "state"]


def test_malformed_audio_gets_errors_and_the_session_goes_on(
    demo_avatar, start_worker, start_daphne
) -> None:
    start_worker("lipsync")
    _, port = start_daphne()

    async def scenario():
        client = await AvatarClient.connect(port)
        await client.next_event(10)
        replies = []
        await client.send(b"\x00\x01\x02")  # odd byte count
        replies.append((await client.next_event(10)).message)
        await client.send(np.zeros(320, np.int16).tobytes())  # audio before audio_start
        replies.append((await client.next_event(10)).message)
        await client.send(
            {"type": "audio_start", "sample_rate": 8000, "encoding": "pcm_s16le", "channels": 1}
        )
        replies.append((await client.next_event(10)).message)
        await client.send(np.zeros(16_000, np.int16).tobytes())  # one second in one message
        replies.append((await client.next_event(10)).message)
        await client.send(
            {"type": "audio_start", "sample_rate": 16000, "encoding": "pcm_s16le", "channels": 1}
        )
        for _ in range(500):  # ten seconds of audio at once: faster than any microphone
            await client.send(noisy_silence(0.02).tobytes())
        flood = await client.quiet_for(1.0)
        await client.send({"type": "text", "text": "When are you open?"})
        events = await client.until(is_turn_end, 60)
        await client.close()
        return replies, flood, events

    replies, flood, events = asyncio.run(scenario())
    assert [r.code for r in replies] == [
        "audio_malformed",
        "not_ready",
        "invalid_field",
        "audio_malformed",
    ]
    # On a loaded machine the refusal may come after the first quiet second: look at both.
    refused = [e.message.code for e in flood + events if e.type == "error"]
    assert refused[:1] == ["rate_limited"], [e.message for e in flood + events][:3]
    assert of_type(events, "turn_end")


def test_audio_without_audio_start_is_refused_once_a_second(demo_avatar, start_daphne) -> None:
    _, port = start_daphne()

    async def scenario():
        client = await AvatarClient.connect(port)
        await client.next_event(10)
        for _ in range(50):  # a second of microphone frames, without audio_start
            await client.send(noisy_silence(0.02).tobytes())
        await client.send({"type": "ping", "nonce": "after-the-frames"})
        events = await client.until(lambda e: e.type == "pong", 20)
        await client.close()
        return events

    events = asyncio.run(scenario())
    refused = [e.code for e in of_type(events, "error")]
    # Once a second, not once a frame (50): the frames arrive within a second or two at most.
    assert refused[:1] == ["not_ready"] and len(refused) <= 2, refused
    assert set(refused) == {"not_ready"}


@pytest.mark.parametrize("where", ["web", "speech"])
def test_a_japanese_spoken_question_gets_a_japanese_answer_with_lips(
    where, demo_avatar, start_worker, start_daphne
) -> None:
    """The demo avatar speaks English and Japanese: a question asked in Japanese (Kokoro's
    voice, made here) is heard as Japanese, answered from the Japanese FAQ, in Japanese; the
    avatar's languages reach the recogniser on the speech queue too."""
    from avatars.demo_data import DEMO_FAQ_JA
    from conversation.asr.whisper_backend import FasterWhisperAsr

    start_worker("lipsync")
    if where == "speech":
        start_worker("speech", ASR_LOCATION="speech")
    _, port = start_daphne(LIPSYNC_TIMEOUT_S="20", ASR_LOCATION=where)
    question, _, answer = DEMO_FAQ_JA[0]  # 営業時間を教えてください。
    spoken = asyncio.run(kokoro_pcm16(question, "jm_kumo"))
    pause = lambda seconds: np.zeros(int(seconds * 16_000), np.int16)  # noqa: E731
    audio = with_noise(np.concatenate([pause(0.8), spoken, pause(1.2)]))

    async def scenario():
        client = await AvatarClient.connect(port)
        await client.next_event(10)
        await client.send(
            {"type": "audio_start", "sample_rate": 16000, "encoding": "pcm_s16le", "channels": 1}
        )
        sender = asyncio.create_task(stream(client, audio))
        events = await client.until(is_turn_end, 120)
        await sender
        await client.send({"type": "audio_stop"})
        await client.close()
        return events

    events = asyncio.run(scenario())
    transcript = of_type(events, "transcript")[-1]
    assert transcript.final and "営業時間" in transcript.text
    subtitles = "".join(s.text for s in of_type(events, "subtitle"))
    assert subtitles == answer  # the Japanese entry, in its written form
    chunks = [c for c in media(events) if c.kind is MediaKind.CHUNK]
    assert chunks and all(c.frames for c in chunks)  # lips move with every chunk of audio
    assert {c.sample_rate for c in chunks} == {16_000}
    # The audio is Japanese speech: Whisper hears it so, with words of the answer's first clause
    # (カスタマーサービスは、月曜日から…).
    speech = np.frombuffer(b"".join(c.audio for c in chunks), dtype=np.int16)[: 8 * 16_000]
    asr = FasterWhisperAsr(str(whisper_base(MODELS)))
    probabilities = asr.language_probabilities(speech)
    assert max(probabilities, key=probabilities.__getitem__) == "ja"
    heard = asr.transcribe(speech, language="ja").text
    assert any(word in heard for word in ("サービス", "月曜日")), heard
