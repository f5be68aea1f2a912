"""One conversation session: its turn state, its current turn, and the one path of interruption.

The consumer hands every validated client message to `Session.inbox`; the session's own task
takes them in order. All sends pass one lock and one gate: once a turn is interrupted nothing
of it reaches the client, because the gate closes under the same lock that sends `interrupted`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel

from conversation.asr.base import AsrError
from conversation.asr.base import Transcript as AsrTranscript
from conversation.cancellation import cancel_and_wait
from conversation.dialogue.records import TurnRecorder
from conversation.dialogue.turn_state import TurnState, TurnStateMachine
from conversation.llm.base import ChatTurn
from conversation.protocol import (
    AudioStart,
    AudioStop,
    ErrorCode,
    Interrupt,
    Interrupted,
    InterruptReason,
    MediaChunk,
    Ping,
    Pong,
    ProtocolError,
    State,
    Text,
    Transcript,
    TurnEnd,
)
from conversation.reply.turn import Turn, TurnContext, idle_index_now, run_turn
from conversation.voice.recognizer import SpeechRecognizer
from conversation.voice.vad import SpeechEnded, SpeechPaused, SpeechStarted, VoiceActivity

log = logging.getLogger(__name__)

INBOX_LIMIT = 64  # queued client messages; with 100 ms audio frames, at most 6.4 s of audio
IDLE_CLOSE_CODE = 4008  # docs/protocol.md, close codes: the session was idle too long
PARTIAL_EVERY_S = 0.8  # of speech between partial transcripts
HISTORY_TURNS = 6


@dataclass(frozen=True)
class AudioFrame:
    """One binary client message: PCM16 mono 16 kHz, already validated by the consumer."""

    pcm: np.ndarray


@dataclass
class AudioClock:
    """Bounds what a client may send: real time plus a little slack, never a flood."""

    started: float
    slack_s: float = 1.0
    samples: int = 0
    warned_at: float = -1e9

    def admit(self, samples: int, now: float) -> bool:
        if (self.samples + samples) / 16_000 > now - self.started + self.slack_s:
            return False
        self.samples += samples
        return True

    def should_warn(self, now: float) -> bool:
        if now - self.warned_at < 1.0:
            return False
        self.warned_at = now
        return True


@dataclass(frozen=True)
class SessionLimits:
    """What one session allows its client (docs/protocol.md, Limits); 0 switches a limit off.

    `max_utterance_s` also bounds the audio held for one utterance, so it cannot be switched off.
    """

    turns_per_minute: int = 30
    idle_timeout_s: float = 300.0
    max_utterance_s: float = 30.0

    def __post_init__(self) -> None:
        if self.turns_per_minute < 0 or self.idle_timeout_s < 0:
            raise ValueError("session limits are 0 (off) or positive")
        if self.max_utterance_s < 1:
            raise ValueError("max_utterance_s is at least 1 second")

    @classmethod
    def from_settings(cls, settings: Any) -> SessionLimits:
        return cls(
            turns_per_minute=settings.TURNS_PER_MINUTE,
            idle_timeout_s=settings.SESSION_IDLE_TIMEOUT_S,
            max_utterance_s=settings.MAX_UTTERANCE_S,
        )


@dataclass
class TurnRate:
    """At most `per_minute` turns started in any 60 s (0: no limit); refusals are not counted."""

    per_minute: int
    starts: deque[float] = field(default_factory=deque)
    warned_at: float = -1e9

    def admit(self, now: float) -> bool:
        if not self.per_minute:
            return True
        while self.starts and now - self.starts[0] >= 60.0:
            self.starts.popleft()
        if len(self.starts) >= self.per_minute:
            return False
        self.starts.append(now)
        return True


@dataclass
class EarlyRecognition:
    """The utterance recognised while the user pauses, before the end is confirmed; it is the
    final transcript if the utterance ends at `at_ms` (no speech resumed)."""

    at_ms: float
    task: asyncio.Task[AsrTranscript]
    started: float = field(default_factory=time.monotonic)


@dataclass
class Transport:
    """How the session reaches its client (the consumer's send and close methods)."""

    send_text: Callable[[str], Awaitable[None]]
    send_bytes: Callable[[bytes], Awaitable[None]]
    close: Callable[[int], Awaitable[None]] | None = None


class Session:
    def __init__(
        self,
        *,
        context_factory: Callable[[Session], TurnContext],
        transport: Transport,
        recorder: TurnRecorder,
        limits: SessionLimits | None = None,
    ) -> None:
        self.session_id = uuid.uuid4()
        self.started = time.monotonic()
        self.limits = limits or SessionLimits()
        self._heard_at = self.started  # when the client last sent anything
        self._turn_rate = TurnRate(self.limits.turns_per_minute)
        self.transport = transport
        self.recorder = recorder
        self.inbox: asyncio.Queue[Any] = asyncio.Queue(maxsize=INBOX_LIMIT)
        self.context = context_factory(self)
        self.machine = TurnStateMachine()
        self.bytes_sent = 0
        self._lock = asyncio.Lock()
        self._turn: Turn | None = None
        self._turn_task: asyncio.Task[None] | None = None
        self._history: list[ChatTurn] = []
        self._background: set[asyncio.Task[None]] = set()
        self._voice: VoiceActivity | None = None
        self._audio_clock = AudioClock(started=self.started)
        self._partial: asyncio.Task[None] | None = None
        self._early: EarlyRecognition | None = None
        self._partial_at = int(PARTIAL_EVERY_S * 16_000)

    # --- input ---------------------------------------------------------------------------

    def offer(self, message: Any) -> None:
        """Queue a validated client message; a client flooding the session is told so."""
        try:
            self.inbox.put_nowait((message, time.monotonic()))
        except asyncio.QueueFull:
            raise ProtocolError(ErrorCode.RATE_LIMITED, "too many messages at once") from None

    def on_asr_result(self, message: dict[str, Any]) -> None:
        on_result = getattr(self.context.recognizer, "on_result", None)
        if on_result is not None:
            on_result(message)

    def on_lipsync(self, message: dict[str, Any]) -> None:
        turn = self._turn
        if turn is not None and str(turn.turn_id) == message.get("turn_id"):
            turn.on_lipsync(message)

    async def run(self) -> None:
        """Handle client messages in order; returns when the session was closed for idling."""
        while True:
            try:
                async with asyncio.timeout(self._idle_left()):
                    message, received = await self.inbox.get()
            except TimeoutError:
                if self._turn is not None or self.transport.close is None:
                    # An answer is still going out (not idle yet), or nobody could close.
                    self._heard_at = time.monotonic()
                if (self._idle_left() or 0.0) > 0:
                    continue
                await self._close_idle()
                return
            self._heard_at = received
            await self._handle(message, received)

    def _idle_left(self) -> float | None:
        """Seconds until this session counts as idle (None: never)."""
        if not self.limits.idle_timeout_s:
            return None
        return self._heard_at + self.limits.idle_timeout_s - time.monotonic()

    async def _close_idle(self) -> None:
        assert self.transport.close is not None
        log.info("session idle for %.0f s; closing it", self.limits.idle_timeout_s)
        await self.transport.close(IDLE_CLOSE_CODE)

    async def _refuse_turn(self, received: float) -> None:
        if received - self._turn_rate.warned_at < 1.0:
            return  # one refusal a second is enough to tell a flooding client
        self._turn_rate.warned_at = received
        error = ProtocolError(
            ErrorCode.RATE_LIMITED,
            f"at most {self.limits.turns_per_minute} questions a minute; this one was dropped",
        )
        await self._send(error.to_message())

    async def _handle(self, message: Any, received: float) -> None:
        if isinstance(message, AudioFrame):
            await self._on_audio(message, received)
        elif isinstance(message, Text):
            if not self._turn_rate.admit(received):
                await self._refuse_turn(received)  # the running answer goes on
                return
            await self._interrupt(InterruptReason.NEW_UTTERANCE, received)
            turn = await self._open_turn(message.text, received, TurnState.THINKING, "text")
            self._launch(turn)
        elif isinstance(message, AudioStart):
            self._voice = self.context.voice_input() if self.context.voice_input else None
            if self._voice is not None:
                self._voice.max_utterance_s = self.limits.max_utterance_s
            self._audio_clock = AudioClock(started=received)
            if self._voice is None:
                await self._send(
                    ProtocolError(ErrorCode.NOT_READY, "voice input is off").to_message()
                )
        elif isinstance(message, AudioStop):
            if self._voice is not None:
                for event in self._voice.flush():
                    await self._on_voice(event, received)
            self._voice = None
        elif isinstance(message, Interrupt):
            if await self._interrupt(InterruptReason.CLIENT, received):
                await self._move(TurnState.IDLE)
        elif isinstance(message, Ping):
            await self._send(Pong(nonce=message.nonce))
        # Hello: the version is checked by the consumer before the session sees it.

    # --- voice ---------------------------------------------------------------------------

    async def _on_audio(self, frame: AudioFrame, received: float) -> None:
        if self._voice is None:
            await self._send(
                ProtocolError(ErrorCode.NOT_READY, "send audio_start before audio").to_message()
            )
            return
        if not self._audio_clock.admit(len(frame.pcm), received):
            if self._audio_clock.should_warn(received):
                error = ProtocolError(ErrorCode.RATE_LIMITED, "audio arrives faster than real time")
                await self._send(error.to_message())
            return
        for event in self._voice.push(frame.pcm):
            await self._on_voice(event, received)
        self._maybe_partial()

    def _maybe_partial(self) -> None:
        """While the user speaks, a partial transcript about every PARTIAL_EVERY_S of speech."""
        turn, voice, recognizer = self._turn, self._voice, self.context.recognizer
        if turn is None or voice is None or recognizer is None:
            return
        if self.machine.state is not TurnState.LISTENING:
            return
        if self._partial is not None and not self._partial.done():
            return  # one recognition at a time: a slow ASR sends fewer partials, never a backlog
        if self._early is not None and not self._early.task.done():
            return  # the likely final transcript is being recognised: it goes first
        audio = voice.utterance_so_far()
        if audio is None or len(audio) < self._partial_at:
            return
        self._partial_at = len(audio) + int(PARTIAL_EVERY_S * 16_000)
        self._partial = asyncio.create_task(self._send_partial(turn, audio))

    async def _send_partial(self, turn: Turn, audio: np.ndarray) -> None:
        recognizer = self.context.recognizer
        assert recognizer is not None
        try:
            result = await self._hear(recognizer, audio)
        except AsrError as error:  # a partial is optional: the final transcript still comes
            log.warning("partial transcript failed (%s)", error.kind)
            return
        async with self._lock:
            if (
                self._turn is turn
                and self.machine.state is TurnState.LISTENING
                and result.text.strip()
            ):
                await self._send_locked(
                    Transcript(turn_id=turn.turn_id, text=result.text.strip(), final=False)
                )

    def _hear(
        self, recognizer: SpeechRecognizer, audio: np.ndarray
    ) -> Coroutine[Any, Any, AsrTranscript]:
        """Recognise `audio` in the avatar's language (detected when it speaks several)."""
        avatar = self.context.avatar
        language = avatar.language if len(avatar.languages) == 1 else None
        return recognizer.recognize(audio, language=language, hints=self.context.hints)

    async def _on_voice(self, event: Any, received: float) -> None:
        if isinstance(event, SpeechStarted):
            if self.machine.state is TurnState.LISTENING:
                return
            if not self._turn_rate.admit(received):
                await self._refuse_turn(received)  # this utterance is not heard; no barge-in
                return
            # The user talks: whatever the avatar was doing stops (barge-in), and we listen.
            await self._interrupt(InterruptReason.SPEECH, received)
            await self._open_turn("", received, TurnState.LISTENING, "voice")
        elif isinstance(event, SpeechPaused):
            recognizer = self.context.recognizer
            if recognizer is None or self.machine.state is not TurnState.LISTENING:
                return
            self._drop_early()  # speech resumed since the last pause: that audio was not all
            task = asyncio.create_task(self._hear(recognizer, event.audio))
            # Dropped unawaited when speech resumes: its failure is not an error of the session.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._early = EarlyRecognition(at_ms=event.at_ms, task=task)
        elif isinstance(event, SpeechEnded):
            turn = self._turn
            if turn is None or self.machine.state is not TurnState.LISTENING:
                self._drop_early()
                return
            # TTFW counts from the end of the user's speech, not from when the VAD was sure.
            turn.started = received - event.decision_ms / 1000
            turn.stage_ms["vad_decision_ms"] = round(event.decision_ms, 2)
            if self._partial is not None:
                self._partial.cancel()  # the final transcript supersedes it
            self._partial_at = int(PARTIAL_EVERY_S * 16_000)
            early, self._early = self._early, None
            if early is not None and early.at_ms != event.at_ms:
                early.task.cancel()  # it heard less than the whole utterance
                early = None
            await self._move(TurnState.THINKING)
            self._launch(turn, audio=event.audio, early=early)

    def _drop_early(self) -> None:
        if self._early is not None:
            self._early.task.cancel()
            self._early = None

    async def _recognize(
        self, turn: Turn, audio: np.ndarray, early: EarlyRecognition | None
    ) -> bool:
        """Speech -> the turn's text, sent to the client as a final transcript; False if empty.

        `early`: the same audio, already being recognised since the user paused. The turn
        records how long recognition took (`asr_ms`) and how long the customer waited for it
        after the end of the turn (`asr_wait_ms`: 0 when it finished during the hang-over).
        """
        recognizer = self.context.recognizer
        assert recognizer is not None
        avatar = self.context.avatar
        ended = time.monotonic()
        started = early.started if early is not None else ended
        recognition = early.task if early is not None else self._hear(recognizer, audio)
        try:
            result = await recognition
        except AsrError as error:
            log.warning("turn %s: speech recognition failed (%s)", turn.turn_id, error.kind)
            return False
        now = time.monotonic()
        turn.stage_ms["asr_ms"] = round((now - started) * 1000, 2)
        turn.stage_ms["asr_wait_ms"] = round((now - ended) * 1000, 2)
        if not result.text.strip():
            return False
        turn.text = result.text.strip()
        if result.language in avatar.languages:
            turn.language = result.language
        await self.send_json(turn, Transcript(turn_id=turn.turn_id, text=turn.text, final=True))
        return True

    # --- turns ---------------------------------------------------------------------------

    async def _open_turn(self, text: str, started: float, state: TurnState, kind: str) -> Turn:
        avatar = self.context.avatar
        turn = Turn(
            turn_id=uuid.uuid4(),
            text=text,
            language=avatar.language,
            started=started,
            idle_start=idle_index_now(self.started, avatar.idle_frames),
            history=tuple(self._history[-HISTORY_TURNS * 2 :]),
            input_kind=kind,
        )
        async with self._lock:
            self._turn = turn
            await self._move_locked(state, turn_id=turn.turn_id)
        return turn

    def _launch(
        self,
        turn: Turn,
        audio: np.ndarray | None = None,
        early: EarlyRecognition | None = None,
    ) -> None:
        self._turn_task = asyncio.create_task(
            self._run_turn(turn, audio, early), name=f"turn-{turn.turn_id}"
        )

    async def _run_turn(
        self,
        turn: Turn,
        audio: np.ndarray | None = None,
        early: EarlyRecognition | None = None,
    ) -> None:
        try:
            if audio is not None and not await self._recognize(turn, audio, early):
                async with self._lock:
                    if self._turn is turn and not turn.cancelled:
                        await self._move_locked(TurnState.IDLE)  # nothing was said after all
                        self._turn = None
                return
            await run_turn(turn, self.context)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("turn %s failed", turn.turn_id)
            async with self._lock:
                if self._turn is turn:
                    turn.cancelled = True
                    await self._move_locked(TurnState.ERROR)
                    error = ProtocolError(
                        ErrorCode.INTERNAL, "that answer failed; please ask again"
                    )
                    await self._send_locked(error.to_message())
                    await self._end_locked(turn)
            return
        async with self._lock:
            if self._turn is turn and not turn.cancelled:
                await self._end_locked(turn)
        self._history += [ChatTurn("user", turn.text), ChatTurn("assistant", turn.answer_text)]

    async def _end_locked(self, turn: Turn) -> None:
        end = MediaChunk(turn_id=turn.turn_id, seq=turn.end_seq, end=True)
        await self._send_bytes_locked(end.pack())
        await self._send_locked(
            TurnEnd(
                turn_id=turn.turn_id,
                ttfw_ms=turn.ttfw_ms,
                fallbacks=tuple(turn.fallbacks),
                cache_hit=turn.cache_hit,
                interrupted=False,
            )
        )
        await self._move_locked(TurnState.IDLE)
        self._record(turn, interrupted=False, barge_in_ms=None)
        self._turn = None
        self._heard_at = time.monotonic()  # idle time counts from the end of the answer

    async def _interrupt(self, reason: InterruptReason, received: float) -> bool:
        """The barge-in path: gate, tell the client, stop every stage. False if nothing to stop."""
        async with self._lock:
            turn = self._turn
            if turn is None:  # nothing running (or it ended while we waited for the lock)
                return False
            turn.cancelled = True  # from here on the gate refuses this turn's media
            await self._move_locked(TurnState.INTERRUPTED)
            await self._send_locked(Interrupted(turn_id=turn.turn_id, reason=reason))
            barge_in_ms = round((time.monotonic() - received) * 1000, 2)
            self._turn = None
        task, self._turn_task = self._turn_task, None
        if task is not None:
            await cancel_and_wait(task)
        await self.context.renders.cancel(
            turn_id=turn.turn_id, task_ids=turn.assembler.outstanding_task_ids()
        )
        self._record(turn, interrupted=True, barge_in_ms=barge_in_ms)
        return True

    def _record(self, turn: Turn, *, interrupted: bool, barge_in_ms: float | None) -> None:
        task = asyncio.create_task(
            self.recorder.finish(
                turn,
                session_id=self.session_id,
                avatar_id=self.context.avatar.id,
                transitions=self.machine.history_ms(),
                interrupted=interrupted,
                barge_in_ms=barge_in_ms,
            )
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- the gate ------------------------------------------------------------------------

    async def send_json(self, turn: Turn, message: BaseModel) -> bool:
        async with self._lock:
            if turn.cancelled or turn is not self._turn:
                return False
            await self._send_locked(message)
            return True

    async def send_media(self, turn: Turn, packed: bytes) -> bool:
        async with self._lock:
            if turn.cancelled or turn is not self._turn:
                return False
            await self._send_bytes_locked(packed)
            return True

    async def turn_speaking(self, turn: Turn) -> None:
        async with self._lock:
            if turn is self._turn and self.machine.state is TurnState.THINKING:
                await self._move_locked(TurnState.SPEAKING)

    async def _send(self, message: BaseModel) -> None:
        async with self._lock:
            await self._send_locked(message)

    async def _send_locked(self, message: BaseModel) -> None:
        await self.transport.send_text(message.model_dump_json())

    async def _send_bytes_locked(self, data: bytes) -> None:
        self.bytes_sent += len(data)
        await self.transport.send_bytes(data)

    async def _move(self, to: TurnState) -> None:
        async with self._lock:
            await self._move_locked(to)

    async def _move_locked(self, to: TurnState, *, turn_id: uuid.UUID | None = None) -> None:
        change = self.machine.transition(to, at=time.monotonic(), turn_id=turn_id)
        await self._send_locked(State(state=change.state, turn_id=change.turn_id))

    async def interrupt_for_server(self) -> None:
        """Stop the running answer for a server reason (consent withdrawn): the client is told."""
        await self._interrupt(InterruptReason.SERVER, time.monotonic())

    # --- end -----------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop everything the session owns, without telling the (gone) client."""
        if self._partial is not None:
            self._partial.cancel()
        self._drop_early()
        turn, task = self._turn, self._turn_task
        if turn is not None:
            turn.cancelled = True
        if task is not None:
            await cancel_and_wait(task)
        if turn is not None:
            await self.context.renders.cancel(
                turn_id=turn.turn_id, task_ids=turn.assembler.outstanding_task_ids()
            )
            self._record(turn, interrupted=True, barge_in_ms=None)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
