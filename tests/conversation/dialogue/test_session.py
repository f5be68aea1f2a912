"""The session and its turns without a server: scripted LLM, TTS and lip-sync with timings.

The real stack is exercised in test_live.py; here the exact order of events is pinned down,
including after an interruption, and every fallback is forced.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import numpy as np
import pytest

from contracts.media import SAMPLES_PER_FRAME, Box
from contracts.messages import FramesReady, RenderFailed
from conversation.avatar import AvatarRuntime
from conversation.canned import clips
from conversation.dialogue.records import TurnRecorder
from conversation.dialogue.session import Session, Transport
from conversation.llm.base import (
    FaqItem,
    FaqMatch,
    LlmError,
    LlmErrorKind,
    LlmRequest,
    system_prompts,
)
from conversation.protocol import Interrupt, MediaChunk, MediaKind, Text
from conversation.reply.ports import TurnTimeouts
from conversation.reply.turn import TurnContext
from conversation.tts.base import TtsError, TtsErrorKind
from conversation.voice.voice_input import VoiceSetup

AVATAR = AvatarRuntime(
    id=1,
    slug="demo",
    name="Demo",
    baked_checksum="c" * 64,
    renderer="cpu",
    tts_backend="espeak",
    voice="en-us",
    language="en",
    languages=("en",),
    persona="",
    geometry={"idle_frames": 100},
)


class ScriptedLlm:
    name = "scripted"

    def __init__(
        self,
        deltas: list[str],
        *,
        delay: float = 0.0,
        first_delay: float = 0.0,
        fail_with: LlmError | None = None,
        faq: dict[str, str] | None = None,
    ) -> None:
        self.deltas, self.delay, self.first_delay = deltas, delay, first_delay
        self.fail_with, self.faq = fail_with, faq or {}
        self.closed = 0

    def match(self, question: str, language: str, readings: Sequence[str] = ()) -> FaqMatch | None:
        answer = self.faq.get(question)
        return FaqMatch(entry_id=7, answer=answer, score=0.9) if answer else None

    async def stream(self, request: LlmRequest) -> AsyncIterator[str]:
        try:
            await asyncio.sleep(self.first_delay)
            if self.fail_with:
                raise self.fail_with
            for delta in self.deltas:
                yield delta
                await asyncio.sleep(self.delay)
        finally:
            self.closed += 1


class ToneTts:
    """0.25 s of tone per word, in 50 ms blocks; `fail` makes every sentence fail."""

    name = "tone"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.spoken: list[str] = []

    async def synthesize(
        self, text: str, *, voice: str, language: str
    ) -> AsyncIterator[np.ndarray]:
        if self.fail:
            raise TtsError(TtsErrorKind.MISSING_PROGRAM, "no synthesizer")
        self.spoken.append(text)
        blocks = max(1, len(text.split())) * 5
        for _ in range(blocks):
            await asyncio.sleep(0)
            yield np.full(800, 1000, dtype=np.int16)


@dataclass
class FakeLipSync:
    """Answers each chunk through `session.on_lipsync`, as the channel layer would.

    With `hold`, chunks wait until the test calls `release()`, which answers them all at once.
    """

    delay: float = 0.01
    fail: bool = False
    hold: bool = False
    session: Session | None = None
    submitted: list[tuple[UUID, int]] = field(default_factory=list)
    cancelled: list[tuple[UUID, list[str]]] = field(default_factory=list)
    held: list[tuple[UUID, int, int]] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def submit(
        self, *, avatar: Any, turn_id: UUID, seq: int, chunk: Any, idle_start: int
    ) -> str:
        self.submitted.append((turn_id, seq))
        frames = len(chunk.pcm) // SAMPLES_PER_FRAME
        if self.hold:
            self.held.append((turn_id, seq, frames))
        else:
            task = asyncio.create_task(self._answer(turn_id, seq, frames))
            self._tasks.add(task)
        return f"task-{turn_id}-{seq}"

    def release(self) -> None:
        """Answer every held chunk now, without yielding to the event loop."""
        held, self.held = self.held, []
        for turn_id, seq, frames in held:
            self._reply(turn_id, seq, frames)

    async def _answer(self, turn_id: UUID, seq: int, frames: int) -> None:
        await asyncio.sleep(self.delay)
        self._reply(turn_id, seq, frames)

    def _reply(self, turn_id: UUID, seq: int, frames: int) -> None:
        assert self.session is not None
        if self.fail:
            self.session.on_render_failed(RenderFailed(turn_id=str(turn_id), seq=seq, reason="x"))
            return
        self.session.on_frames(
            FramesReady(
                turn_id=str(turn_id),
                seq=seq,
                part=0,
                parts=1,
                first_frame=0,
                idle_indices=tuple(range(frames)),
                boxes=(Box(0, 0, 8, 8),) * frames,
                jpegs=(b"\xff\xd8jpeg",) * frames,
                render_ms=1.0,
            )
        )

    async def cancel(self, *, turn_id: UUID, task_ids: list[str]) -> None:
        self.cancelled.append((turn_id, task_ids))


class MemoryClips:
    def __init__(self) -> None:
        self.stored: dict[str, clips.StoredClip] = {}
        self.saves = 0

    async def lookup(self, cache_key: str) -> clips.StoredClip | None:
        return self.stored.get(cache_key)

    async def save(
        self, *, cache_key: str, avatar: Any, faq_entry_id: int | None, clip: clips.StoredClip
    ) -> None:
        self.saves += 1
        self.stored.setdefault(cache_key, clip)


class ListRecorder(TurnRecorder):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[dict[str, Any]] = []

    async def finish(self, turn: Any, **fields: Any) -> None:  # type: ignore[override]
        self.records.append({"turn": turn, **fields})


class Wire:
    """What the client receives, decoded, in order."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    async def text(self, data: str) -> None:
        self.items.append(json.loads(data))

    async def binary(self, data: bytes) -> None:
        self.items.append(MediaChunk.unpack(data))

    def kinds(self) -> list[str]:
        return [
            f"media:{i.kind.name.lower()}"
            if isinstance(i, MediaChunk)
            else (f"state:{i['state']}" if i["type"] == "state" else i["type"])
            for i in self.items
        ]


def make_session(
    llm: Any,
    tts: Any = None,
    lipsync: FakeLipSync | None = None,
    store: MemoryClips | None = None,
    voice: VoiceSetup | None = None,
    avatar: AvatarRuntime = AVATAR,
    wire: Wire | None = None,
    prompts: dict[str, str] | None = None,
    **timeouts: float,
) -> tuple[Session, Wire, FakeLipSync, ListRecorder]:
    wire, recorder = wire or Wire(), ListRecorder()
    lipsync = lipsync or FakeLipSync()
    store = store or MemoryClips()
    limits = TurnTimeouts(**{"max_lead_s": 100.0, **timeouts})
    session = Session(
        context_factory=lambda s: TurnContext(
            avatar=avatar,
            faq=llm,
            llm=llm,
            tts=tts or ToneTts(),
            renders=lipsync,
            clips=store,
            timeouts=limits,
            output=s.gate,
            system_prompts=prompts or {},
        ),
        transport=Transport(send_text=wire.text, send_bytes=wire.binary),
        recorder=recorder,
        voice=voice,
    )
    lipsync.session = session
    return session, wire, lipsync, recorder


async def drive(
    session: Session,
    wire: Wire,
    script: list[tuple[float, Any]],
    until: str = "turn_end",
    count: int = 1,
    timeout: float = 10,
) -> None:
    runner = asyncio.create_task(session.run())
    for delay, message in script:
        await asyncio.sleep(delay)
        session.offer(message)
    async with asyncio.timeout(timeout):
        while sum(1 for i in wire.items if isinstance(i, dict) and i["type"] == until) < count:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    runner.cancel()
    await session.close()


async def test_a_turn_streams_subtitle_then_media_in_order_then_ends() -> None:
    llm = ScriptedLlm(["Hello there, my friend. ", "We open at nine. ", "Goodbye!"], delay=0.01)
    session, wire, lipsync, recorder = make_session(llm)
    await drive(session, wire, [(0, Text(type="text", text="hi"))])
    kinds = wire.kinds()
    assert kinds[:3] == ["state:thinking", "subtitle", "media:chunk"]
    assert kinds.index("state:speaking") == 3
    assert kinds[-3:] == ["media:end", "turn_end", "state:idle"]
    media = [i for i in wire.items if isinstance(i, MediaChunk)]
    assert [m.seq for m in media] == list(range(len(media)))
    assert [s["text"] for s in wire.items if isinstance(s, dict) and s["type"] == "subtitle"] == [
        "Hello there, my friend.",
        "We open at nine.",
        "Goodbye!",
    ]
    end = next(i for i in wire.items if isinstance(i, dict) and i["type"] == "turn_end")
    assert end["fallbacks"] == [] and end["ttfw_ms"] > 0 and not end["cache_hit"]
    [record] = recorder.records
    assert [t[0] for t in record["transitions"]] == ["thinking", "speaking", "idle"]
    assert not record["interrupted"]


async def test_a_typed_question_is_answered_in_the_language_it_is_written_in() -> None:
    import dataclasses

    class RecordingLlm(ScriptedLlm):
        async def stream(self, request: LlmRequest) -> AsyncIterator[str]:
            self.requests = [*getattr(self, "requests", []), request]
            async for delta in super().stream(request):
                yield delta

    llm = RecordingLlm(["午前9時から午後6時までです。"])
    avatar = dataclasses.replace(AVATAR, languages=("en", "ja"))
    prompts = {"en": "Reply in en.", "ja": "Reply in ja."}
    session, wire, _, _ = make_session(llm, avatar=avatar, prompts=prompts)
    await drive(session, wire, [(0, Text(type="text", text="営業時間を教えてください"))])

    [request] = llm.requests
    assert (request.language, request.system) == ("ja", "Reply in ja.")
    subtitles = [i["text"] for i in wire.items if isinstance(i, dict) and i["type"] == "subtitle"]
    assert subtitles == ["午前9時から午後6時までです。"]


async def test_interrupt_sends_interrupted_and_nothing_of_the_turn_after_it() -> None:
    llm = ScriptedLlm([f"Sentence number {i} is here. " for i in range(30)], delay=0.02)
    lipsync = FakeLipSync(hold=True)  # frames come only when the test releases them
    session, wire, _, recorder = make_session(llm, lipsync=lipsync, lipsync_s=60.0)
    runner = asyncio.create_task(session.run())
    session.offer(Text(type="text", text="tell me"))
    async with asyncio.timeout(10):
        while not lipsync.held:
            await asyncio.sleep(0.01)
        lipsync.release()  # the first chunks get their frames and play
        while "media:chunk" not in wire.kinds() or not lipsync.held:
            await asyncio.sleep(0.01)
    session.offer(Interrupt(type="interrupt"))  # while later chunks are still rendering
    async with asyncio.timeout(10):
        while wire.kinds()[-1:] != ["state:idle"]:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    runner.cancel()
    await session.close()
    kinds = wire.kinds()
    cut = kinds.index("interrupted")
    assert kinds[cut - 1] == "state:interrupted" and kinds[cut + 1 :] == ["state:idle"]
    assert "media:chunk" in kinds[:cut]
    assert llm.closed == 1  # the LLM stream was closed
    [(turn_id, task_ids)] = lipsync.cancelled
    assert task_ids  # chunks still rendering were revoked
    [record] = recorder.records
    assert record["interrupted"] and record["barge_in_ms"] is not None
    assert [t[0] for t in record["transitions"]] == ["thinking", "speaking", "interrupted"]


async def test_a_barge_in_in_the_same_instant_as_frames_arrive_still_stops_the_turn() -> None:
    """Frames that wake the turn in the very loop turn its cancellation arrives must not swallow
    the cancellation (Python 3.11's `asyncio.wait_for` does): the barge-in would never finish
    and the session would answer nothing ever again."""
    llm = ScriptedLlm([f"Sentence number {i} is here. " for i in range(30)], delay=0.02)
    lipsync = FakeLipSync(hold=True)
    session, wire, _, recorder = make_session(llm, lipsync=lipsync, lipsync_s=60.0)
    runner = asyncio.create_task(session.run())
    session.offer(Text(type="text", text="tell me"))
    async with asyncio.timeout(10):
        while len(lipsync.held) < 2:  # the turn now waits for frames
            await asyncio.sleep(0.01)
    lipsync.release()  # wakes the turn's emitter in the same instant as the barge-in cancels it
    stopping = asyncio.create_task(session.interrupt_for_server())
    # Not a timeout around the await: cancelling a task that awaits the stuck turn cannot end it.
    done, _ = await asyncio.wait({stopping}, timeout=10)
    assert done, "the barge-in never finished: the turn swallowed its cancellation"
    turns = [t for t in asyncio.all_tasks() if t.get_name().startswith("turn-")]
    assert all(t.done() for t in turns), "the interrupted turn is still running"
    assert wire.kinds()[-2:] == ["state:interrupted", "interrupted"]
    assert recorder.records[0]["interrupted"]

    lipsync.hold = False
    session.offer(Text(type="text", text="again"))  # and the session still answers
    async with asyncio.timeout(10):
        while "turn_end" not in wire.kinds():
            await asyncio.sleep(0.01)
    runner.cancel()
    await session.close()


async def test_a_new_question_while_speaking_interrupts_then_answers() -> None:
    llm = ScriptedLlm([f"Part {i} of a long answer. " for i in range(20)], delay=0.02)
    session, wire, _, recorder = make_session(llm)
    await drive(
        session, wire, [(0, Text(type="text", text="one")), (0.3, Text(type="text", text="two"))]
    )
    states = [k for k in wire.kinds() if k.startswith("state:") or k == "interrupted"]
    assert states[:4] == ["state:thinking", "state:speaking", "state:interrupted", "interrupted"]
    assert states[4] == "state:thinking"
    first_turn = recorder.records[0]["turn"].turn_id
    after = wire.items[wire.kinds().index("interrupted") :]
    assert not [m for m in after if isinstance(m, MediaChunk) and m.turn_id == first_turn]


async def test_late_first_token_plays_one_moment_then_the_answer() -> None:
    llm = ScriptedLlm(["Here it is."], first_delay=0.4)
    session, wire, _, _ = make_session(llm, llm_first_token_s=0.1)
    await drive(session, wire, [(0, Text(type="text", text="slow"))])
    subtitles = [i["text"] for i in wire.items if isinstance(i, dict) and i["type"] == "subtitle"]
    assert subtitles == ["One moment, please.", "Here it is."]
    end = next(i for i in wire.items if isinstance(i, dict) and i["type"] == "turn_end")
    assert end["fallbacks"] == ["one_moment"]


@pytest.mark.parametrize("kind", [LlmErrorKind.HTTP_STATUS, LlmErrorKind.BAD_STREAM])
async def test_llm_failure_answers_with_the_handoff(kind: LlmErrorKind) -> None:
    llm = ScriptedLlm([], fail_with=LlmError(kind, "boom"))
    session, wire, _, _ = make_session(llm)
    await drive(session, wire, [(0, Text(type="text", text="q"))])
    subtitles = [i["text"] for i in wire.items if isinstance(i, dict) and i["type"] == "subtitle"]
    assert "colleague" in " ".join(subtitles)
    end = next(i for i in wire.items if isinstance(i, dict) and i["type"] == "turn_end")
    assert end["fallbacks"] == ["handoff"]


async def test_tts_failure_gives_subtitles_only() -> None:
    session, wire, lipsync, _ = make_session(
        ScriptedLlm(["First one. Second one."]), tts=ToneTts(fail=True)
    )
    await drive(session, wire, [(0, Text(type="text", text="q"))])
    assert [k for k in wire.kinds() if k.startswith("media")] == ["media:end"]
    subtitles = [i["text"] for i in wire.items if isinstance(i, dict) and i["type"] == "subtitle"]
    assert subtitles == ["First one.", "Second one."]
    end = next(i for i in wire.items if isinstance(i, dict) and i["type"] == "turn_end")
    assert end["fallbacks"] == ["subtitles_only"] and end["ttfw_ms"] is None
    assert not lipsync.submitted


@pytest.mark.parametrize(
    "lipsync", [FakeLipSync(fail=True), FakeLipSync(delay=5.0)], ids=["failed", "late"]
)
async def test_lipsync_failure_or_lateness_sends_audio_over_the_idle_loop(
    lipsync: FakeLipSync,
) -> None:
    session, wire, _, _ = make_session(
        ScriptedLlm(["Just audio then."]), lipsync=lipsync, lipsync_s=0.2
    )
    await drive(session, wire, [(0, Text(type="text", text="q"))])
    media = [i for i in wire.items if isinstance(i, MediaChunk)]
    assert {m.kind for m in media[:-1]} == {MediaKind.AUDIO}
    end = next(i for i in wire.items if isinstance(i, dict) and i["type"] == "turn_end")
    assert end["fallbacks"] == ["audio_only"]


async def test_faq_answer_is_stored_once_then_replayed_from_the_cache() -> None:
    llm = ScriptedLlm([], faq={"hours?": "We open at nine. We close at six."})
    store = MemoryClips()
    session, wire, lipsync, _ = make_session(llm, store=store)
    await drive(session, wire, [(0, Text(type="text", text="hours?"))])
    first = [i for i in wire.items if isinstance(i, MediaChunk)]
    assert store.saves == 1 and len(store.stored) == 1
    submitted = len(lipsync.submitted)

    session, wire, lipsync2, _ = make_session(llm, store=store)
    await drive(session, wire, [(0, Text(type="text", text="hours?"))])
    replay = [i for i in wire.items if isinstance(i, MediaChunk)]
    end = next(i for i in wire.items if isinstance(i, dict) and i["type"] == "turn_end")
    assert end["cache_hit"] and not lipsync2.submitted and submitted
    assert [(m.seq, m.audio, m.frames) for m in replay] == [
        (m.seq, m.audio, m.frames) for m in first
    ]
    assert replay[0].turn_id != first[0].turn_id
    subtitles = [i["text"] for i in wire.items if isinstance(i, dict) and i["type"] == "subtitle"]
    assert subtitles == ["We open at nine.", "We close at six."]


async def test_voice_gives_partial_transcripts_then_the_final_one_and_answers() -> None:
    from conversation.asr.pocketsphinx_backend import PocketsphinxAsr
    from conversation.dialogue.session import AudioFrame
    from conversation.protocol import AudioStart
    from conversation.voice.recognizer import LocalRecognizer
    from conversation.voice.vad import SileroProbability, VoiceActivity
    from tests.speech_audio import espeak_pcm16

    silero = SileroProbability()
    voice = VoiceSetup(
        recognizer=LocalRecognizer(PocketsphinxAsr()),
        activity=lambda: VoiceActivity(silero.new_stream),
    )
    session, wire, _, recorder = make_session(ScriptedLlm(["We open at nine."]), voice=voice)
    speech = espeak_pcm16(
        "I would like to know what your opening hours are on Saturday, please.",
        silence_before=0.5,
        silence_after=1.0,
    )
    script: list[tuple[float, Any]] = [
        (0, AudioStart(type="audio_start", sample_rate=16000, encoding="pcm_s16le", channels=1))
    ]
    script += [(0.02, AudioFrame(speech[i : i + 320])) for i in range(0, len(speech), 320)]
    await drive(session, wire, script, timeout=30)
    transcripts = [i for i in wire.items if isinstance(i, dict) and i["type"] == "transcript"]
    assert len(transcripts) >= 2
    assert [t["final"] for t in transcripts] == [False] * (len(transcripts) - 1) + [True]
    assert len({t["turn_id"] for t in transcripts}) == 1
    kinds = wire.kinds()
    assert kinds[0] == "state:listening" and kinds.index("state:thinking") > kinds.index(
        "transcript"
    )
    assert kinds[-3:] == ["media:end", "turn_end", "state:idle"]
    [record] = recorder.records
    assert record["turn"].input_kind == "voice" and "asr_ms" in record["turn"].stage_ms


async def test_the_reply_follows_the_recognised_language_when_the_avatar_speaks_it() -> None:
    import dataclasses

    from conversation.asr.base import Transcript
    from conversation.dialogue.session import AudioFrame
    from conversation.protocol import AudioStart
    from conversation.voice.vad import SileroProbability, VoiceActivity
    from tests.speech_audio import espeak_pcm16

    class GermanRecognizer:
        async def recognize(
            self,
            audio: Any,
            *,
            language: str | None,
            hints: Any,
            priority: Any = None,
            other_languages: Any = (),
        ) -> Transcript:
            # The avatar's own language, and the others it may hear instead.
            assert (language, tuple(other_languages)) == ("en", ("de",))
            return Transcript(
                text="Wann haben Sie geöffnet?", final=True, language="de", confidence=None
            )

    class RecordingLlm(ScriptedLlm):
        async def stream(self, request: LlmRequest) -> AsyncIterator[str]:
            self.languages = [*getattr(self, "languages", []), request.language]
            self.systems = [*getattr(self, "systems", []), request.system]
            async for delta in super().stream(request):
                yield delta

    silero = SileroProbability()
    llm = RecordingLlm(["Von neun bis sechs."])
    voice = VoiceSetup(
        recognizer=GermanRecognizer(),
        activity=lambda: VoiceActivity(silero.new_stream),
        languages=("en", "de"),
    )
    avatar = dataclasses.replace(AVATAR, languages=("en", "de"))
    faq = [
        FaqItem(1, "When are you open?", (), "Nine to six.", "en", 0),
        FaqItem(2, "Wann haben Sie geöffnet?", (), "Von neun bis sechs.", "de", 0),
    ]
    prompts = system_prompts("You are Eileen.", faq, avatar.languages)
    session, wire, _, _ = make_session(llm, voice=voice, avatar=avatar, prompts=prompts)
    speech = espeak_pcm16(
        "Wann haben Sie geöffnet?", voice="de", silence_before=0.3, silence_after=0.8
    )
    script: list[tuple[float, Any]] = [
        (0, AudioStart(type="audio_start", sample_rate=16000, encoding="pcm_s16le", channels=1))
    ]
    script += [(0.02, AudioFrame(speech[i : i + 320])) for i in range(0, len(speech), 320)]
    await drive(session, wire, script, timeout=20)
    assert llm.languages == ["de"]
    # The model is asked to reply in German, with the German reference answers.
    [system] = llm.systems
    assert 'code "de"' in system and "Von neun bis sechs." in system
    assert "Nine to six." not in system


class PausingRecognizer:
    """Answers `texts` in call order after `delay`; notes whether the turn was already thinking
    (its end confirmed) when each call came, and which calls were cancelled."""

    def __init__(self, wire: Wire, texts: list[str], delay: float = 0.1) -> None:
        self.wire, self.texts, self.delay = wire, texts, delay
        self.calls: list[bool] = []
        self.cancelled: list[int] = []

    async def recognize(
        self,
        audio: Any,
        *,
        language: str | None,
        hints: Any,
        priority: Any = None,
        other_languages: Any = (),
    ) -> Any:
        from conversation.asr.base import Transcript

        call = len(self.calls)
        self.calls.append("state:thinking" in self.wire.kinds())
        try:
            await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            self.cancelled.append(call)
            raise
        return Transcript(text=self.texts[call], final=True, language="en", confidence=None)


def scripted_voice(script: list[float]) -> list[tuple[float, Any]]:
    """Audio frames (20 ms, real-time pace) for a VAD whose speech probability per 32 ms
    window is `script`."""
    from conversation.dialogue.session import AudioFrame
    from conversation.protocol import AudioStart
    from conversation.voice.vad import WINDOW

    samples = np.zeros(len(script) * WINDOW, dtype=np.int16)
    start = AudioStart(type="audio_start", sample_rate=16000, encoding="pcm_s16le", channels=1)
    frames = [(0.02, AudioFrame(samples[i : i + 320])) for i in range(0, len(samples), 320)]
    return [(0.0, start), *frames]


def scripted_vad(script: list[float]) -> Any:
    from conversation.voice.vad import VoiceActivity

    def probability() -> Any:
        windows = iter(script)
        return lambda window: next(windows, 0.0)

    return lambda: VoiceActivity(probability, pause_ms=150)


async def test_the_utterance_is_recognised_while_the_user_pauses_and_used_at_its_end() -> None:
    script = [0.9] * 15 + [0.0] * 20
    wire = Wire()
    recognizer = PausingRecognizer(wire, ["when do you open"])
    voice = VoiceSetup(recognizer=recognizer, activity=scripted_vad(script))
    session, wire, _, recorder = make_session(
        ScriptedLlm(["We open at nine."]), voice=voice, wire=wire
    )
    await drive(session, wire, scripted_voice(script), timeout=20)
    assert recognizer.calls == [False]  # once, before the end of the turn was confirmed
    finals = [i["text"] for i in wire.items if isinstance(i, dict) and i.get("final")]
    assert finals == ["when do you open"]
    assert "asr_ms" in recorder.records[0]["turn"].stage_ms


async def test_speech_resuming_after_a_pause_drops_the_early_recognition(monkeypatch) -> None:
    monkeypatch.setattr("conversation.voice.voice_input.PARTIAL_EVERY_S", 100.0)  # no partials
    script = [0.9] * 15 + [0.0] * 7 + [0.9] * 10 + [0.0] * 20
    wire = Wire()
    # Slow enough that the first recognition is still running when speech resumes.
    recognizer = PausingRecognizer(wire, ["when do", "when do you open on sunday"], delay=3.0)
    voice = VoiceSetup(recognizer=recognizer, activity=scripted_vad(script))
    session, wire, _, recorder = make_session(
        ScriptedLlm(["We open at nine."]), voice=voice, wire=wire
    )
    await drive(session, wire, scripted_voice(script), timeout=20)
    assert recognizer.calls == [False, False] and recognizer.cancelled == [0]
    finals = [i["text"] for i in wire.items if isinstance(i, dict) and i.get("final")]
    assert finals == ["when do you open on sunday"]
    [record] = recorder.records
    assert not record["interrupted"]


# --- end of turn: the model at each pause, the floor before the answer is heard ---------------


def _spoken(text: str, *, ssml: bool = False) -> np.ndarray:
    """espeak-ng speech at 16 kHz; with `ssml`, <break/> makes a pause inside the sentence."""
    import subprocess
    import tempfile
    import wave

    with tempfile.TemporaryDirectory() as tmp:
        raw, wav = f"{tmp}/raw.wav", f"{tmp}/16k.wav"
        subprocess.run(["espeak-ng", *(["-m"] if ssml else []), "-w", raw, text], check=True)
        subprocess.run(["sox", raw, "-r", "16000", "-c", "1", "-b", "16", wav], check=True)
        with wave.open(wav) as file:
            return np.frombuffer(file.readframes(file.getnframes()), dtype=np.int16)


def _frames(speech: np.ndarray, before_s: float, after_s: float) -> list[tuple[float, Any]]:
    from conversation.dialogue.session import AudioFrame
    from conversation.protocol import AudioStart

    pcm = np.concatenate(
        [
            np.zeros(int(before_s * 16000), np.int16),
            speech,
            np.zeros(int(after_s * 16000), np.int16),
        ]
    )
    start = AudioStart(type="audio_start", sample_rate=16000, encoding="pcm_s16le", channels=1)
    return [(0.0, start), *((0.02, AudioFrame(pcm[i : i + 320])) for i in range(0, len(pcm), 320))]


def _judged_voice(recognizer: Any, hold_s: float | None = None) -> VoiceSetup:
    """The product's ears around `recognizer`: Silero, the end-of-turn model, the floor's hold
    (TURN_HOLD_MS unless given)."""
    from django.conf import settings

    from conversation.voice.end_of_turn import TurnCompletion
    from conversation.voice.vad import SileroProbability, VoiceActivity

    silero = SileroProbability()
    return VoiceSetup(
        recognizer=recognizer,
        activity=lambda: VoiceActivity(silero.new_stream, end_silence_ms=1500, pause_ms=200),
        turn_model=TurnCompletion(),
        hold_s=settings.TURN_HOLD_MS / 1000 if hold_s is None else hold_s,
        max_hold_s=1.5,
    )


def _silence_end(speech: np.ndarray) -> float:
    """Where the longest silence between the first and last sound of `speech` ends, in s."""
    loud = np.abs(speech[: len(speech) // 160 * 160].reshape(-1, 160)).max(axis=1) > 300
    sounds = np.flatnonzero(loud)
    best, run_start = (0, 0), None
    for i in range(sounds[0], sounds[-1] + 1):
        if not loud[i] and run_start is None:
            run_start = i
        elif loud[i] and run_start is not None:
            best, run_start = max(best, (i - run_start, i)), None
    return best[1] / 100


class LengthRecognizer:
    """Hears the whole sentence in audio at least `whole_s` long, its first half in less."""

    def __init__(self, half: str, whole: str, whole_s: float) -> None:
        self.half, self.whole, self.whole_s = half, whole, whole_s

    async def recognize(
        self,
        audio: Any,
        *,
        language: str | None,
        hints: Any,
        priority: Any = None,
        other_languages: Any = (),
    ) -> Any:
        from conversation.asr.base import Transcript

        await asyncio.sleep(0.1)
        text = self.whole if len(audio) / 16000 >= self.whole_s else self.half
        return Transcript(text=text, final=True, language="en", confidence=None)


class TimedWire(Wire):
    """Notes when the first media chunk of any turn went out."""

    first_media_at: float | None = None

    async def binary(self, data: bytes) -> None:
        if self.first_media_at is None:
            self.first_media_at = asyncio.get_running_loop().time()
        await super().binary(data)


async def test_a_question_ends_at_its_pause_and_the_model_shortens_the_hold() -> None:
    # No punctuation in the transcript: only the end-of-turn model can judge it whole.
    recognizer = LengthRecognizer("", "when do you open on sunday", 0.0)
    session, wire, _, recorder = make_session(
        ScriptedLlm(["We open at nine."]), voice=_judged_voice(recognizer, hold_s=0.75)
    )
    await drive(
        session, wire, _frames(_spoken("When do you open on Sunday?"), 0.3, 2.5), timeout=30
    )

    [record] = recorder.records
    turn = record["turn"]
    assert turn.stage_ms["vad_decision_ms"] < 300  # ended at the first pause
    # Smart Turn judged it complete: the answer waited the short hold, not the long one.
    assert turn.floor.free_at - turn.started == pytest.approx(0.75)
    assert not record["interrupted"]


@pytest.mark.parametrize("pause_ms", [300, 700])
async def test_a_pause_inside_a_sentence_is_never_answered_before_the_sentence_ends(
    pause_ms: int,
) -> None:
    """Real Silero VAD and the real end-of-turn model. espeak-ng's half sentence sounds final,
    so the model may end the turn at the pause: the floor keeps the answer unheard, and the
    rest of the sentence continues the same utterance instead of interrupting an answer."""
    speech = _spoken(
        f'How do I return the jacket <break time="{pause_ms}ms"/> that does not fit?', ssml=True
    )
    wire = TimedWire()
    recognizer = LengthRecognizer(
        "how do i return the jacket",
        "how do i return the jacket that does not fit",
        whole_s=_silence_end(speech) + 0.3,  # the pause and some of what follows it
    )
    session, wire, _, recorder = make_session(
        ScriptedLlm(["Bring it back within thirty days."]),
        voice=_judged_voice(recognizer),
        wire=wire,
    )
    loop = asyncio.get_running_loop()
    sent_until = loop.time() + len(speech) / 16000 + 0.3  # the last word's sample, paced
    await drive(session, wire, _frames(speech, 0.3, 2.0), timeout=30)

    assert wire.first_media_at is not None and wire.first_media_at > sent_until
    finals = [i["text"] for i in wire.items if isinstance(i, dict) and i.get("final")]
    assert finals[-1] == "how do i return the jacket that does not fit"
    answered = [r for r in recorder.records if not r["interrupted"]]
    assert len(answered) == 1 and answered[0]["turn"].text.endswith("does not fit")
    for record in recorder.records:  # a retracted turn never reached the client's speakers
        if record["interrupted"]:
            assert record["turn"].ttfw_ms is None


# --- preemptive answers: started from the last partial, confirmed or revised by the final ----


class EntryFaq(ScriptedLlm):
    """FAQ entries by exact question: {question: (entry_id, answer)}."""

    def __init__(self, entries: dict[str, tuple[int, str]]) -> None:
        super().__init__(["Let me check."])
        self.entries = entries

    def match(self, question: str, language: str, readings: Sequence[str] = ()) -> FaqMatch | None:
        found = self.entries.get(question)
        return FaqMatch(entry_id=found[0], answer=found[1], score=0.9) if found else None


class GuessingRecognizer:
    """Partials hear `partial`; the recognition at the pause hears `final`, slowly."""

    def __init__(self, partial: str, final: str, final_delay: float) -> None:
        self.partial, self.final, self.final_delay = partial, final, final_delay

    async def recognize(
        self,
        audio: Any,
        *,
        language: str | None,
        hints: Any,
        priority: Any = None,
        other_languages: Any = (),
    ) -> Any:
        from conversation.asr.base import Transcript
        from conversation.voice.decoding import Priority

        partial = priority is Priority.PARTIAL
        await asyncio.sleep(0.05 if partial else self.final_delay)
        text = self.partial if partial else self.final
        return Transcript(text=text, final=True, language="en", confidence=None)


async def _preempted(entries: dict[str, tuple[int, str]], final: str, count: int) -> tuple:
    script = [0.9] * 40 + [0.0] * 60  # 1.3 s of speech: a partial at 0.8 s, then the pause
    voice = VoiceSetup(
        recognizer=GuessingRecognizer("when do you open", final, final_delay=1.0),
        activity=scripted_vad(script),
    )
    session, wire, _, recorder = make_session(EntryFaq(entries), voice=voice)
    await drive(session, wire, scripted_voice(script), count=count, timeout=20)
    return wire, recorder


async def test_an_answer_started_from_the_partial_stands_when_the_final_agrees() -> None:
    entries = {
        "when do you open": (1, "We open at nine."),
        "when do you open on sunday": (1, "We open at nine."),
    }
    wire, recorder = await _preempted(entries, "when do you open on sunday", count=1)

    kinds = wire.kinds()
    # The answer's media went out before the final transcript was known.
    assert kinds.index("media:chunk") < kinds.index("transcript", kinds.index("state:thinking"))
    finals = [i["text"] for i in wire.items if isinstance(i, dict) and i.get("final")]
    assert finals == ["when do you open on sunday"]
    assert "interrupted" not in kinds
    [record] = recorder.records
    assert record["turn"].text == "when do you open on sunday"
    assert record["turn"].stage_ms["preempted"] == 1.0


async def test_a_final_transcript_that_changes_the_answer_stops_it_and_answers_again() -> None:
    entries = {
        "when do you open": (1, "We open at nine."),
        "when do you open the returns desk": (2, "The returns desk opens at ten."),
    }
    wire, recorder = await _preempted(entries, "when do you open the returns desk", count=1)

    kinds = wire.kinds()
    cut = kinds.index("interrupted")
    revised = wire.items[cut]
    assert revised["reason"] == "revised"
    old = revised["turn_id"]
    assert all(not (isinstance(i, MediaChunk) and str(i.turn_id) == old) for i in wire.items[cut:])
    subtitles = [
        i["text"] for i in wire.items[cut:] if isinstance(i, dict) and i["type"] == "subtitle"
    ]
    assert subtitles == ["The returns desk opens at ten."]
    first, second = recorder.records
    assert first["interrupted"] and not second["interrupted"]
    assert second["turn"].text == "when do you open the returns desk"
    assert second["turn"].stage_ms["revised"] == 1.0


async def test_a_question_in_a_language_the_avatar_does_not_speak_gets_a_polite_answer() -> None:
    import dataclasses

    from conversation.asr.base import Transcript
    from conversation.llm.base import unsupported_language_answer

    class FrenchRecognizer:
        async def recognize(
            self,
            audio: Any,
            *,
            language: str | None,
            hints: Any,
            priority: Any = None,
            other_languages: Any = (),
        ) -> Transcript:
            text = "Quels sont vos horaires ?"
            return Transcript(text=text, final=True, language="fr", confidence=None)

    script = [0.9] * 15 + [0.0] * 20
    voice = VoiceSetup(
        recognizer=FrenchRecognizer(), activity=scripted_vad(script), languages=("en", "de")
    )
    avatar = dataclasses.replace(AVATAR, languages=("en", "de"))
    llm = ScriptedLlm(["This is not what the customer should hear."])
    session, wire, _, recorder = make_session(llm, voice=voice, avatar=avatar)
    await drive(session, wire, scripted_voice(script), timeout=20)

    subtitles = " ".join(
        i["text"] for i in wire.items if isinstance(i, dict) and i["type"] == "subtitle"
    )
    assert subtitles == unsupported_language_answer("en")
    [record] = recorder.records
    assert record["turn"].language == "en" and record["turn"].heard_language == "fr"
    assert llm.closed == 0  # the LLM was never asked
