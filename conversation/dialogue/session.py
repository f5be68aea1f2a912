"""One conversation session: its inbox, its turns, and the one path of interruption.

The consumer hands every validated client message to `Session.offer`; the session's own task
takes them in order. Voice input is a `VoiceInput` that calls back through `RecognitionHooks`.
All sends pass one lock and one gate: once a turn is interrupted nothing of it reaches the
client, because the gate closes under the same lock that sends `interrupted`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from contracts.messages import FramesReady, RenderFailed
from conversation.cancellation import cancel_and_wait
from conversation.dialogue.limits import IdleClock, SessionLimits, TurnRate
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
    Ping,
    Pong,
    ProtocolError,
    State,
    Text,
    Transcript,
)
from conversation.reply.pipeline import run_turn
from conversation.reply.turn import Turn, TurnContext, idle_index_now
from conversation.voice.voice_input import Utterance, VoiceInput, VoiceSetup

log = logging.getLogger(__name__)

INBOX_LIMIT = 64  # queued client messages; with 100 ms audio frames, at most 6.4 s of audio
IDLE_CLOSE_CODE = 4008  # docs/protocol.md, close codes: the session was idle too long
HISTORY_TURNS = 6


@dataclass(frozen=True)
class AudioFrame:
    """One binary client message: PCM16 mono 16 kHz, already validated by the consumer."""

    pcm: np.ndarray


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
        voice: VoiceSetup | None = None,
    ) -> None:
        self.session_id = uuid.uuid4()
        self.started = time.monotonic()
        self.limits = limits or SessionLimits()
        self.transport = transport
        self.recorder = recorder
        self.voice = voice
        self.inbox: asyncio.Queue[Any] = asyncio.Queue(maxsize=INBOX_LIMIT)
        self.context = context_factory(self)
        self.machine = TurnStateMachine()
        self.bytes_sent = 0
        self._idle = IdleClock(self.limits.idle_timeout_s, heard_at=self.started)
        self._turn_rate = TurnRate(self.limits.turns_per_minute)
        self._lock = asyncio.Lock()
        self._turn: Turn | None = None
        self._turn_task: asyncio.Task[None] | None = None
        self._history: list[ChatTurn] = []
        self._input: VoiceInput | None = None

    # --- input ---------------------------------------------------------------------------

    def offer(self, message: Any) -> None:
        """Queue a validated client message; a client flooding the session is told so."""
        try:
            self.inbox.put_nowait((message, time.monotonic()))
        except asyncio.QueueFull:
            raise ProtocolError(ErrorCode.RATE_LIMITED, "too many messages at once") from None

    def on_frames(self, message: FramesReady) -> None:
        if (turn := self._current(message.turn_id)) is not None:
            turn.media.on_frames(message)

    def on_render_failed(self, message: RenderFailed) -> None:
        if (turn := self._current(message.turn_id)) is not None:
            turn.media.on_failed(message)

    def _current(self, turn_id: str) -> Turn | None:
        """The running turn if it is `turn_id`: lip-sync replies of older turns are stale."""
        turn = self._turn
        return turn if turn is not None and str(turn.turn_id) == turn_id else None

    async def run(self) -> None:
        """Handle client messages in order; returns when the session was closed for idling."""
        while True:
            try:
                async with asyncio.timeout(self._idle.left(time.monotonic())):
                    message, received = await self.inbox.get()
            except TimeoutError:
                if self._turn is not None or self.transport.close is None:
                    # An answer is still going out (not idle yet), or nobody could close.
                    self._idle.heard_at = time.monotonic()
                    continue
                log.info("session idle for %.0f s; closing it", self.limits.idle_timeout_s)
                await self.transport.close(IDLE_CLOSE_CODE)
                return
            self._idle.heard_at = received
            try:
                await self._handle(message, received)
            except ProtocolError as error:
                await self._send(error.to_message())

    async def _handle(self, message: Any, received: float) -> None:
        if isinstance(message, AudioFrame):
            if self._input is None:
                raise ProtocolError(ErrorCode.NOT_READY, "send audio_start before audio")
            await self._input.push(message.pcm, received)
        elif isinstance(message, Text):
            if await self._admit_turn(received):
                await self._interrupt(InterruptReason.NEW_UTTERANCE, received)
                turn = await self._open_turn(message.text, received, TurnState.THINKING, "text")
                self._launch(turn, lambda: self._answer(turn))
        elif isinstance(message, AudioStart):
            if self._input is not None:
                self._input.close()
            if self.voice is None:
                raise ProtocolError(ErrorCode.NOT_READY, "voice input is off")
            limit = self.limits.max_utterance_s
            self._input = VoiceInput(self.voice, self, started=received, max_utterance_s=limit)
        elif isinstance(message, AudioStop) and self._input is not None:
            voice, self._input = self._input, None
            await voice.flush(received)
            voice.close()
        elif isinstance(message, Interrupt):
            if await self._interrupt(InterruptReason.CLIENT, received):
                await self._move(TurnState.IDLE)
        elif isinstance(message, Ping):
            await self._send(Pong(nonce=message.nonce))
        # Hello: the version is checked by the consumer before the session sees it.

    async def _admit_turn(self, received: float) -> bool:
        if self._turn_rate.admit(received):
            return True
        if (refusal := self._turn_rate.refusal(received)) is not None:
            await self._send(refusal.to_message())
        return False

    # --- voice (RecognitionHooks) ----------------------------------------------------------

    async def on_start_of_speech(self, received: float) -> bool:
        if not await self._admit_turn(received):
            return False  # this utterance is not heard; no barge-in
        # The user talks: whatever the avatar was doing stops (barge-in), and we listen.
        await self._interrupt(InterruptReason.SPEECH, received)
        await self._open_turn("", received, TurnState.LISTENING, "voice")
        return True

    async def on_interim_transcript(self, text: str) -> None:
        async with self._lock:
            turn = self._turn
            if turn is not None and self.machine.state is TurnState.LISTENING:
                await self._send_locked(Transcript(turn_id=turn.turn_id, text=text, final=False))

    async def on_end_of_turn(self, utterance: Utterance) -> bool:
        turn = self._turn
        if turn is None or self.machine.state is not TurnState.LISTENING:
            return False
        turn.started = utterance.ended_at
        turn.floor = utterance.floor
        await self._move(TurnState.THINKING)
        self._launch(turn, lambda: self._hear_then_answer(turn, utterance))
        return True

    async def _hear_then_answer(self, turn: Turn, utterance: Utterance) -> None:
        """Speech -> the turn's text, sent as a final transcript, then the answer."""
        heard = await utterance.recognize()
        turn.stage_ms.update(heard.stage_ms)
        if not heard.text:
            async with self._lock:
                if self._turn is turn and not turn.cancelled:
                    await self._move_locked(TurnState.IDLE)  # nothing was said after all
                    self._turn = None
            return
        turn.text = heard.text
        if heard.language in self.context.avatar.languages:
            turn.language = heard.language
        await self.send_json(turn, Transcript(turn_id=turn.turn_id, text=turn.text, final=True))
        await self._answer(turn)

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

    def _launch(self, turn: Turn, work: Callable[[], Awaitable[None]]) -> None:
        self._turn_task = asyncio.create_task(
            self._guarded(turn, work), name=f"turn-{turn.turn_id}"
        )

    async def _answer(self, turn: Turn) -> None:
        await run_turn(turn, self.context)
        async with self._lock:
            if self._turn is turn and not turn.cancelled:
                await self._end_locked(turn)
        self._history += [ChatTurn("user", turn.text), ChatTurn("assistant", turn.answer_text)]

    async def _guarded(self, turn: Turn, work: Callable[[], Awaitable[None]]) -> None:
        """A turn that crashes ends in `error`; the session goes on."""
        try:
            await work()
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

    async def _end_locked(self, turn: Turn) -> None:
        await self._send_bytes_locked(turn.end_marker().pack())
        await self._send_locked(turn.end_message())
        await self._move_locked(TurnState.IDLE)
        self._record(turn, interrupted=False, barge_in_ms=None)
        self._turn = None
        self._idle.heard_at = time.monotonic()  # idle time counts from the end of the answer

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
        await self._stop(turn)
        self._record(turn, interrupted=True, barge_in_ms=barge_in_ms)
        return True

    async def _stop(self, turn: Turn) -> None:
        """Cancel the turn's task (LLM stream, TTS) and its renders, queued or running."""
        task, self._turn_task = self._turn_task, None
        if task is not None:
            await cancel_and_wait(task)
        await self.context.renders.cancel(
            turn_id=turn.turn_id, task_ids=turn.media.outstanding_task_ids()
        )

    def _record(self, turn: Turn, *, interrupted: bool, barge_in_ms: float | None) -> None:
        self.recorder.record(
            turn,
            session_id=self.session_id,
            avatar_id=self.context.avatar.id,
            transitions=self.machine.history_ms(),
            interrupted=interrupted,
            barge_in_ms=barge_in_ms,
        )

    # --- the gate (TurnOutput) -------------------------------------------------------------

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
        if self._input is not None:
            self._input.close()
        turn = self._turn
        if turn is not None:
            turn.cancelled = True
            await self._stop(turn)
            self._record(turn, interrupted=True, barge_in_ms=None)
        elif self._turn_task is not None:
            await cancel_and_wait(self._turn_task)
        await self.recorder.drain()
