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

from contracts.messages import AgentChat, AgentSays, DeskNotice, FramesReady, RenderFailed
from conversation.cancellation import cancel_and_wait
from conversation.dialogue.gate import Gate, Transport
from conversation.dialogue.limits import IdleClock, SessionLimits, TurnRate
from conversation.dialogue.records import TurnRecorder
from conversation.dialogue.turn_state import TurnState, TurnStateMachine
from conversation.llm.base import ChatTurn, FaqMatch
from conversation.protocol import (
    AudioStart,
    AudioStop,
    ErrorCode,
    HandOffConsent,
    Interrupt,
    Interrupted,
    InterruptReason,
    Ping,
    Pong,
    ProtocolError,
    Text,
    Transcript,
)
from conversation.reply.pipeline import answer, find_entry, run_turn, understand
from conversation.reply.turn import Turn, TurnContext, idle_index_now
from conversation.voice.voice_input import Heard, Utterance, VoiceInput, VoiceSetup

log = logging.getLogger(__name__)

INBOX_LIMIT = 64  # queued client messages; with 100 ms audio frames, at most 6.4 s of audio
IDLE_CLOSE_CODE = 4008  # docs/protocol.md, close codes: the session was idle too long
HISTORY_TURNS = 6


@dataclass(frozen=True)
class AudioFrame:
    """One binary client message: PCM16 mono 16 kHz, already validated by the consumer."""

    pcm: np.ndarray


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
        self.machine = TurnStateMachine()
        self.gate = Gate(transport, self.machine)
        self.context = context_factory(self)
        self._idle = IdleClock(self.limits.idle_timeout_s, heard_at=self.started)
        self._turn_rate = TurnRate(self.limits.turns_per_minute)
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
        if (turn := self.gate.current(message.turn_id)) is not None:
            turn.media.on_frames(message)

    def on_render_failed(self, message: RenderFailed) -> None:
        if (turn := self.gate.current(message.turn_id)) is not None:
            turn.media.on_failed(message)

    async def run(self) -> None:
        """Handle client messages in order; returns when the session was closed for idling."""
        while True:
            try:
                async with asyncio.timeout(self._idle.left(time.monotonic())):
                    message, received = await self.inbox.get()
            except TimeoutError:
                if self.gate.turn is not None or self.transport.close is None:
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
                await self.gate.send(error.to_message())

    async def _handle(self, message: Any, received: float) -> None:
        if isinstance(message, AudioFrame):
            if self._input is None:
                raise ProtocolError(ErrorCode.NOT_READY, "send audio_start before audio")
            await self._input.push(message.pcm, received)
        elif isinstance(message, Text | AgentSays):  # a question, or a person's words to say
            if isinstance(message, AgentSays) or await self._turn_rate.admit_or_tell(
                received, self.gate.send
            ):
                await self._interrupt(InterruptReason.NEW_UTTERANCE, received)
                kind = message.input_kind
                turn = await self._open_turn(message.text, received, TurnState.THINKING, kind)
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
                await self.gate.move(TurnState.IDLE)
        elif isinstance(message, Ping):
            await self.gate.send(Pong(nonce=message.nonce))
        elif isinstance(message, HandOffConsent | AgentChat | DeskNotice):
            await self.context.triage.handle(message)
        # Hello: the version is checked by the consumer before the session sees it.

    # --- voice (RecognitionHooks) ----------------------------------------------------------

    async def on_start_of_speech(self, received: float) -> bool:
        if not await self._turn_rate.admit_or_tell(received, self.gate.send):
            return False  # this utterance is not heard; no barge-in
        # The user talks: whatever the avatar was doing stops (barge-in), and we listen.
        await self._interrupt(InterruptReason.SPEECH, received)
        await self._open_turn("", received, TurnState.LISTENING, "voice")
        return True

    async def on_interim_transcript(self, text: str) -> None:
        async with self.gate.lock:
            turn = self.gate.turn
            if turn is not None and self.machine.state is TurnState.LISTENING:
                await self.gate.send_locked(
                    Transcript(turn_id=turn.turn_id, text=text, final=False)
                )

    async def on_end_of_turn(self, utterance: Utterance) -> bool:
        turn = self.gate.turn
        if turn is None or self.machine.state is not TurnState.LISTENING:
            return False
        turn.started = utterance.ended_at
        turn.floor = utterance.floor
        await self.gate.move(TurnState.THINKING)
        self._launch(turn, lambda: self._hear_then_answer(turn, utterance))
        return True

    async def _hear_then_answer(self, turn: Turn, utterance: Utterance) -> None:
        """Speech -> the turn's text, sent as a final transcript, then the answer.

        Preemptive: when the last partial transcript already matches a FAQ entry, that answer
        starts now, while the final recognition runs; a final transcript that changes the
        answer stops it, as a barge-in does, and the turn is answered again."""
        started: asyncio.Task[None] | None = None
        guessed: FaqMatch | None = None
        if utterance.guess:
            guess = turn.text = utterance.guess  # in the language its script names, if any
            turn.language = self.context.avatar.written_language(guess)
            if (guessed := await understand(turn, self.context)) is not None:
                started = asyncio.create_task(answer(turn, self.context, guessed))
        try:
            heard = await utterance.recognize()
            turn.stage_ms.update(heard.stage_ms)
            if started is not None and guessed is not None:
                turn, started = await self._confirm(turn, heard, guessed, started)
        except BaseException:
            if started is not None:
                await cancel_and_wait(started)
            raise
        if not heard.text:
            async with self.gate.lock:
                if self.gate.turn is turn and not turn.cancelled:
                    await self.gate.move_locked(TurnState.IDLE)  # nothing was said after all
                    self.gate.turn = None
            return
        turn.text, turn.readings = heard.text, heard.alternatives
        ours = self.context.avatar.own_language(heard.language)
        if ours is not None:
            turn.language = ours
        elif heard.language is not None:
            turn.heard_language = heard.language
        await self.gate.send_json(
            turn, Transcript(turn_id=turn.turn_id, text=turn.text, final=True)
        )
        await (started if started is not None else run_turn(turn, self.context))
        await self._finish(turn)

    async def _confirm(
        self, turn: Turn, heard: Heard, guessed: FaqMatch, started: asyncio.Task[None]
    ) -> tuple[Turn, asyncio.Task[None] | None]:
        """The started answer stands if the same entry answers what was `heard`; else it is
        stopped (`interrupted`, reason revised) and a new turn goes on without it."""
        text = heard.text
        final = await find_entry(self.context, text, turn.language, heard.alternatives)
        if final is not None and final.entry_id == guessed.entry_id:
            turn.stage_ms["preempted"] = 1.0
            return turn, started
        turn.cancelled = True  # the gate refuses its media from here on
        await cancel_and_wait(started)
        await self._interrupt(InterruptReason.REVISED, time.monotonic(), only=turn)
        if not text:
            await self.gate.move(TurnState.IDLE)  # nothing was said after all
            return turn, None
        again = await self._open_turn(text, turn.started, TurnState.THINKING, "voice")
        again.floor, again.stage_ms = turn.floor, {**turn.stage_ms, "revised": 1.0}
        return again, None

    # --- turns ---------------------------------------------------------------------------

    async def _open_turn(self, text: str, started: float, state: TurnState, kind: str) -> Turn:
        avatar = self.context.avatar
        turn = Turn(
            turn_id=uuid.uuid4(),
            text=text,
            language=avatar.written_language(text),
            started=started,
            idle_start=idle_index_now(self.started, avatar.idle_frames),
            history=tuple(self._history[-HISTORY_TURNS * 2 :]),
            input_kind=kind,
        )
        async with self.gate.lock:
            self.gate.turn = turn
            await self.gate.move_locked(state, turn_id=turn.turn_id)
        return turn

    def _launch(self, turn: Turn, work: Callable[[], Awaitable[None]]) -> None:
        self._turn_task = asyncio.create_task(
            self._guarded(turn, work), name=f"turn-{turn.turn_id}"
        )

    async def _answer(self, turn: Turn) -> None:
        await run_turn(turn, self.context)
        await self._finish(turn)

    async def _finish(self, turn: Turn) -> None:
        async with self.gate.lock:
            if self.gate.turn is turn and not turn.cancelled:
                await self._end_locked(turn)
        self._history += turn.exchange()

    async def _guarded(self, turn: Turn, work: Callable[[], Awaitable[None]]) -> None:
        """A turn that crashes ends in `error`; the session goes on."""
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("turn %s failed", turn.turn_id)
            async with self.gate.lock:
                if self.gate.turn is turn:
                    turn.cancelled = True
                    await self.gate.move_locked(TurnState.ERROR)
                    error = ProtocolError(
                        ErrorCode.INTERNAL, "that answer failed; please ask again"
                    )
                    await self.gate.send_locked(error.to_message())
                    await self._end_locked(turn)

    async def _end_locked(self, turn: Turn) -> None:
        await self.gate.send_bytes_locked(turn.end_marker().pack())
        await self.gate.send_locked(turn.end_message())
        await self.gate.move_locked(TurnState.IDLE)
        self._record(turn, interrupted=False, barge_in_ms=None)
        self.gate.turn = None
        self._idle.heard_at = time.monotonic()  # idle time counts from the end of the answer

    async def _interrupt(
        self, reason: InterruptReason, received: float, *, only: Turn | None = None
    ) -> bool:
        """The barge-in path: gate, tell the client, stop every stage. False if nothing to stop
        (or the running turn is not `only`). The revised path stops `only` the same way."""
        async with self.gate.lock:
            turn = self.gate.turn
            if turn is None or (only is not None and turn is not only):
                return False  # nothing running (or it ended while we waited for the lock)
            turn.cancelled = True  # from here on the gate refuses this turn's media
            await self.gate.move_locked(TurnState.INTERRUPTED)
            await self.gate.send_locked(Interrupted(turn_id=turn.turn_id, reason=reason))
            barge_in_ms = round((time.monotonic() - received) * 1000, 2)
            self.gate.turn = None
        await self._stop(turn, None if only else self._turn_task)
        self._record(turn, interrupted=True, barge_in_ms=barge_in_ms)
        return True

    async def _stop(self, turn: Turn, task: asyncio.Task[None] | None) -> None:
        """Cancel the turn's task (LLM stream, TTS) and its renders, queued or running."""
        if task is not None:
            if task is self._turn_task:
                self._turn_task = None
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

    async def interrupt_for_server(self) -> None:
        """Stop the running answer for a server reason (consent withdrawn): the client is told."""
        await self._interrupt(InterruptReason.SERVER, time.monotonic())

    # --- end -----------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop everything the session owns, without telling the (gone) client."""
        if self._input is not None:
            self._input.close()
        turn = self.gate.turn
        if turn is not None:
            turn.cancelled = True
            await self._stop(turn, self._turn_task)
            self._record(turn, interrupted=True, barge_in_ms=None)
        elif self._turn_task is not None:
            await cancel_and_wait(self._turn_task)
        await self.context.triage.leave()  # an open hand-off ends as abandoned
        await self.recorder.drain()
