"""One turn of the conversation: answer text -> sentences -> TTS -> lip-sync -> the client.

Every stage streams into the next: the first sentence goes to TTS while the LLM still writes,
each ~1 s of audio goes to a lipsync worker as soon as it exists, and each chunk goes to the
client the moment its frames are back (or its deadline passes: audio over the idle loop).
The turn's tasks run in one TaskGroup, so cancelling the turn stops every stage at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from avatars.clip_keys import canned_clip_key
from contracts.media import FPS
from conversation.cancellation import wait_event
from conversation.llm.base import (
    ChatTurn,
    LlmBackend,
    LlmError,
    LlmErrorKind,
    LlmRequest,
    handoff_answer,
)
from conversation.protocol import Fallback, MediaChunk, Subtitle, media_audio_seconds
from conversation.reply import clips
from conversation.reply.audio_chunks import LipSyncChunk, TurnAudioChunker
from conversation.reply.chunker import SentenceChunker
from conversation.reply.media import MediaAssembler, PendingChunk
from conversation.reply.ports import AvatarRuntime, ClipStore, RenderQueue, TurnTimeouts
from conversation.tts.base import TtsBackend, TtsError
from conversation.voice.recognizer import SpeechRecognizer
from conversation.voice.vad import VoiceActivity

log = logging.getLogger(__name__)

ONE_MOMENT = {
    "en": "One moment, please.",
    "de": "Einen Moment bitte.",
    "fr": "Un instant, s'il vous plaît.",
    "es": "Un momento, por favor.",
    "ja": "少々お待ちください。",
}
_END = object()
# A chunk still waiting for frames goes out this long before the client would run out of audio:
# room for the network and the client's scheduling.
NEED_MARGIN_S = 0.25


class TurnOutput(Protocol):
    """The session side of a turn: every send passes its gate (nothing after `interrupted`)."""

    async def send_json(self, turn: Turn, message: Any) -> bool: ...

    async def send_media(self, turn: Turn, packed: bytes) -> bool: ...

    async def turn_speaking(self, turn: Turn) -> None: ...


@dataclass
class TurnContext:
    avatar: AvatarRuntime
    llm: LlmBackend
    tts: TtsBackend
    renders: RenderQueue
    clips: ClipStore
    timeouts: TurnTimeouts
    output: TurnOutput
    system_prompt: str = ""
    recognizer: SpeechRecognizer | None = None
    hints: tuple[str, ...] = ()  # phrases customers are likely to say (the FAQ), for the ASR
    voice_input: Callable[[], VoiceActivity] | None = None
    # False only for the benchmark's baseline: the whole answer, then all of its speech, then
    # lip-sync of all of it, then the first media (REPLY_STREAMING=0).
    streaming: bool = True


@dataclass
class Turn:
    turn_id: UUID
    text: str
    language: str
    started: float  # monotonic: the typed message arrived, or the user's speech ended
    idle_start: int
    history: tuple[ChatTurn, ...] = ()
    cancelled: bool = False
    cache_hit: bool = False
    fallbacks: list[Fallback] = field(default_factory=list)
    stage_ms: dict[str, float] = field(default_factory=dict)
    ttfw_ms: float | None = None
    answer_text: str = ""
    end_seq: int = 0  # one past the last media chunk sent
    input_kind: str = "text"

    def __post_init__(self) -> None:
        self.assembler = MediaAssembler(self.turn_id)
        self.wakeup = asyncio.Event()
        # Subtitles wait for the chunk they start in; a sentence TTS could not speak waits
        # for the next chunk, so one seq may hold several (in sentence order).
        self._subtitles: dict[int, list[Subtitle]] = {}
        self._played: list[MediaChunk] = []
        self._sentences: list[clips.ClipSentence] = []
        self._next_seq = 0
        self._first_submit: float | None = None

    def mark(self, stage: str, *, since: float | None = None) -> None:
        """Record a stage's latency once, in ms since the turn started (or since `since`)."""
        if stage not in self.stage_ms:
            self.stage_ms[stage] = round((time.monotonic() - (since or self.started)) * 1000, 2)

    def fallback(self, kind: Fallback) -> None:
        if kind not in self.fallbacks:
            self.fallbacks.append(kind)

    def on_lipsync(self, message: dict[str, Any]) -> None:
        accepted = (
            self.assembler.on_failed(message)
            if message["type"] == "lipsync.failed"
            else self.assembler.on_frames(message)
        )
        if accepted:
            if self._first_submit is not None:
                self.mark("lipsync_first_frames_ms", since=self._first_submit)
            self.wakeup.set()


async def run_turn(turn: Turn, ctx: TurnContext) -> None:
    """Answer the turn's text. Raises CancelledError when the turn is interrupted."""
    matcher = getattr(ctx.llm, "match", None)
    match = await asyncio.to_thread(matcher, turn.text, turn.language) if matcher else None
    turn.mark("understand_ms")
    cache_key: str | None = None
    if match is not None:
        cache_key = canned_clip_key(
            avatar_id=ctx.avatar.id,
            baked_checksum=ctx.avatar.baked_checksum,
            voice=ctx.avatar.voice,
            renderer=ctx.avatar.renderer,
            text=match.answer,
        )
        stored = await ctx.clips.lookup(cache_key)
        turn.mark("cache_lookup_ms")
        if stored is not None:
            turn.cache_hit = True
            await _play_stored(turn, ctx, stored)
            return
    async with asyncio.TaskGroup() as group:
        sentences: asyncio.Queue[str | object] = asyncio.Queue()
        group.create_task(_write(turn, ctx, match.answer if match else None, sentences))
        group.create_task(_speak(turn, ctx, sentences))
        group.create_task(_emit(turn, ctx))
    if cache_key and not turn.fallbacks and turn._played:
        stored = clips.encode(turn._played, turn._sentences)
        entry = match.entry_id if match else None
        await ctx.clips.save(
            cache_key=cache_key, avatar=ctx.avatar, faq_entry_id=entry, clip=stored
        )


async def _once(text: str) -> AsyncIterator[str]:
    yield text


async def _pump(stream: AsyncIterator[str], queue: asyncio.Queue[Any]) -> None:
    try:
        async for delta in stream:
            await queue.put(delta)
    except LlmError as error:
        await queue.put(error)
    else:
        await queue.put(_END)


async def _write(
    turn: Turn, ctx: TurnContext, known: str | None, sentences: asyncio.Queue[str | object]
) -> None:
    """Answer text -> sentences, with the LLM's timeouts and fallbacks."""
    if known is not None:
        stream: AsyncIterator[str] = _once(known)
    else:
        request = LlmRequest(
            system=ctx.system_prompt,
            history=(*turn.history, ChatTurn("user", turn.text)),
            language=turn.language,
        )
        stream = ctx.llm.stream(request)
    deltas: asyncio.Queue[Any] = asyncio.Queue()
    chunker = SentenceChunker()
    held: list[str] = []  # without streaming, sentences wait for the whole answer

    async def put(sentence: str) -> None:
        if ctx.streaming:
            await sentences.put(sentence)
        else:
            held.append(sentence)

    deadline = time.monotonic() + ctx.timeouts.llm_total_s
    async with asyncio.TaskGroup() as group:
        pump = group.create_task(_pump(stream, deltas))
        got_any = False
        while True:
            if got_any:
                wait = ctx.timeouts.llm_gap_s
            elif Fallback.ONE_MOMENT in turn.fallbacks:
                wait = deadline - time.monotonic()  # "one moment" is playing: wait it out
            else:
                wait = ctx.timeouts.llm_first_token_s
            wait = min(wait, max(0.0, deadline - time.monotonic()))
            try:
                # asyncio.timeout, not wait_for: see cancellation.wait_event.
                async with asyncio.timeout(wait):
                    item = await deltas.get()
            except TimeoutError:
                if (
                    not got_any
                    and Fallback.ONE_MOMENT not in turn.fallbacks
                    and time.monotonic() < deadline
                ):
                    turn.fallback(Fallback.ONE_MOMENT)
                    await sentences.put(ONE_MOMENT.get(turn.language, ONE_MOMENT["en"]))
                    continue
                item = LlmError(LlmErrorKind.TIMEOUT, "no answer within the LLM timeout")
            if item is _END:
                break
            if isinstance(item, LlmError):
                pump.cancel()
                log.info("turn %s: LLM failed (%s); hand-off answer", turn.turn_id, item.kind)
                turn.fallback(Fallback.HANDOFF)
                chunker.reset()
                chunker.push(handoff_answer(turn.language))
                break
            if not got_any:
                got_any = True
                turn.mark("llm_first_token_ms")
            turn.answer_text += item
            for sentence in chunker.push(item):
                await put(sentence)
    for sentence in chunker.flush():
        await put(sentence)
    for sentence in held:
        await sentences.put(sentence)
    await sentences.put(_END)


async def _speak(turn: Turn, ctx: TurnContext, sentences: asyncio.Queue[str | object]) -> None:
    """Sentences -> TTS audio -> frame-aligned chunks queued for lip-sync."""
    audio = TurnAudioChunker()
    index = 0
    held: list[tuple[LipSyncChunk, str, int, int]] = []  # without streaming: all speech first

    async def submit(chunk: LipSyncChunk, sentence: str, index: int, first_seq: int) -> None:
        if ctx.streaming:
            await _submit(turn, ctx, chunk, sentence, index, first_seq)
        else:
            held.append((chunk, sentence, index, first_seq))

    while (sentence := await sentences.get()) is not _END:
        assert isinstance(sentence, str)
        first_seq = turn._next_seq + len(held)
        started = time.monotonic()
        try:
            async with asyncio.timeout(ctx.timeouts.tts_sentence_s):
                # aclosing: a barge-in while a chunk is being queued must end espeak now, not
                # whenever the garbage collector finds the abandoned generator.
                blocks = ctx.tts.synthesize(
                    sentence, voice=ctx.avatar.voice, language=turn.language
                )
                async with contextlib.aclosing(blocks):
                    async for block in blocks:
                        turn.mark("tts_first_audio_ms")
                        for chunk in audio.push(block):
                            await submit(chunk, sentence, index, first_seq)
            for chunk in audio.end_sentence():
                await submit(chunk, sentence, index, first_seq)
        except (TtsError, TimeoutError) as error:
            kind = getattr(error, "kind", "timeout")
            log.info(
                "turn %s: TTS failed (%s) after %.0f ms; subtitles only",
                turn.turn_id,
                kind,
                (time.monotonic() - started) * 1000,
            )
            turn.fallback(Fallback.SUBTITLES_ONLY)
            audio.reset()
            spoke_some = turn._next_seq + len(held) != first_seq  # its subtitle rides on that
            subtitle = Subtitle(
                turn_id=turn.turn_id, seq=turn._next_seq, text=sentence, sentence=index
            )
            if not spoke_some and turn._next_seq == turn.assembler.released_count:
                await ctx.output.send_json(turn, subtitle)  # nothing queued before it: show now
            elif not spoke_some:
                turn._subtitles.setdefault(turn._next_seq, []).append(subtitle)
        index += 1
    for chunk, sentence, index, first_seq in held:
        await _submit(turn, ctx, chunk, sentence, index, first_seq)
    turn.assembler.close_input()
    turn.wakeup.set()


async def _submit(
    turn: Turn, ctx: TurnContext, chunk: LipSyncChunk, sentence: str, index: int, first_seq: int
) -> None:
    seq = turn._next_seq
    turn._next_seq += 1
    if seq == first_seq:
        turn._subtitles.setdefault(seq, []).append(
            Subtitle(turn_id=turn.turn_id, seq=seq, text=sentence, sentence=index)
        )
        turn._sentences.append(clips.ClipSentence(seq, index, sentence))
    pending = PendingChunk(
        seq=seq,
        audio=chunk.pcm.tobytes(),
        first_frame=chunk.first_frame,
        sentence=index,
        deadline=time.monotonic() + ctx.timeouts.lipsync_s,
    )
    turn.assembler.add(pending)
    if turn._first_submit is None:
        turn._first_submit = time.monotonic()
    try:
        pending.task_id = await ctx.renders.submit(
            avatar=ctx.avatar,
            turn_id=turn.turn_id,
            seq=seq,
            chunk=chunk,
            idle_start=turn.idle_start,
        )
    except Exception as error:  # the broker is away (Redis restarting): audio over the idle loop
        log.warning(
            "turn %s chunk %s not queued for lip-sync (%s)", turn.turn_id, seq, type(error).__name__
        )
    turn.wakeup.set()


async def _emit(turn: Turn, ctx: TurnContext) -> None:
    """Send ready chunks in seq order, paced to stay at most `max_lead_s` ahead of playback."""
    pacer = _Pacer(ctx.timeouts.max_lead_s)
    while not ctx.streaming and not turn.assembler.settled(time.monotonic()):
        turn.wakeup.clear()
        await wait_event(turn.wakeup, 0.05)
    while not turn.assembler.done:
        needed_at = pacer.needed_at()
        released = turn.assembler.release(time.monotonic(), needed_at=needed_at)
        if not released:
            deadline = turn.assembler.next_deadline(needed_at=needed_at)
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            turn.wakeup.clear()
            await wait_event(turn.wakeup, timeout)
            continue
        for item in released:
            if item.lipsync_late:
                turn.fallback(Fallback.AUDIO_ONLY)
            await pacer.wait()
            await _send_chunk(turn, ctx, item.chunk)
            pacer.sent(len(item.chunk.audio) / 2 / item.chunk.sample_rate)
            if not item.lipsync_late:
                turn._played.append(item.chunk)
    # Sentences that TTS could not speak after the last chunk: shown now, before the end.
    for seq in sorted(turn._subtitles):
        for subtitle in turn._subtitles.pop(seq):
            await ctx.output.send_json(turn, subtitle)


async def _send_chunk(
    turn: Turn, ctx: TurnContext, chunk: MediaChunk, packed: bytes | None = None
) -> None:
    for subtitle in turn._subtitles.pop(chunk.seq, []):
        await ctx.output.send_json(turn, subtitle)
    if not await ctx.output.send_media(turn, packed or chunk.pack()):
        return
    turn.end_seq = chunk.seq + 1
    if turn.ttfw_ms is None:
        turn.ttfw_ms = round((time.monotonic() - turn.started) * 1000, 2)
        await ctx.output.turn_speaking(turn)


async def _play_stored(turn: Turn, ctx: TurnContext, stored: clips.StoredClip) -> None:
    for sentence in stored.sentences:
        turn._subtitles.setdefault(sentence.seq, []).append(
            Subtitle(
                turn_id=turn.turn_id,
                seq=sentence.seq,
                text=sentence.text,
                sentence=sentence.sentence,
            )
        )
    pacer = _Pacer(ctx.timeouts.max_lead_s)
    for seq, packed in stored.replay(turn.turn_id):
        await pacer.wait()
        chunk = MediaChunk(turn_id=turn.turn_id, seq=seq)  # header only: subtitles key on seq
        await _send_chunk(turn, ctx, chunk, packed)
        pacer.sent(media_audio_seconds(packed))


class _Pacer:
    """Keeps sent media at most `lead` seconds ahead of what the client has played."""

    def __init__(self, lead: float) -> None:
        self.lead = lead
        self.start: float | None = None
        self.audio_s = 0.0

    async def wait(self) -> None:
        if self.start is None:
            return
        ahead = self.audio_s - (time.monotonic() - self.start)
        if ahead > self.lead:
            await asyncio.sleep(ahead - self.lead)

    def sent(self, seconds: float) -> None:
        if self.start is None:
            self.start = time.monotonic()
        self.audio_s += seconds

    def needed_at(self) -> float | None:
        """When the client would run out of audio unless more is sent (None: nothing sent)."""
        if self.start is None:
            return None
        return self.start + self.audio_s - NEED_MARGIN_S


def idle_index_now(session_started: float, idle_frames: int) -> int:
    """The idle-cycle frame the widget shows now, if it started the loop with the session."""
    return int((time.monotonic() - session_started) * FPS) % max(1, idle_frames)
