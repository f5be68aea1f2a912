"""Voice input of one session: the microphone stream through the VAD, partial transcripts while
the user speaks, the utterance recognised early when they pause, and the end of their turn.

It talks to its owner only through `RecognitionHooks`: the session never sees a VAD window or
a decoder, and this class never sees a turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from conversation.asr.base import AsrError, Transcript
from conversation.floor import Floor
from conversation.protocol import ErrorCode, ProtocolError
from conversation.voice.decoding import Priority
from conversation.voice.end_of_turn import TurnCompletion, transcript_looks_complete
from conversation.voice.recognizer import SpeechRecognizer
from conversation.voice.vad import SpeechEnded, SpeechPaused, SpeechStarted, VadEvent, VoiceActivity

log = logging.getLogger(__name__)

PARTIAL_EVERY_S = 0.8  # of speech between partial transcripts
SAMPLE_RATE = 16_000
# An utterance continued after a pause keeps at most this much of what came before it.
MAX_CONTINUED_S = 20.0


@dataclass
class AudioClock:
    """Bounds what a client may send: real time plus a little slack, never a flood."""

    started: float
    slack_s: float = 1.0
    samples: int = 0
    warned_at: float = -1e9

    def admit(self, samples: int, now: float) -> bool:
        if (self.samples + samples) / SAMPLE_RATE > now - self.started + self.slack_s:
            return False
        self.samples += samples
        return True

    def should_warn(self, now: float) -> bool:
        if now - self.warned_at < 1.0:
            return False
        self.warned_at = now
        return True


@dataclass(frozen=True)
class VoiceSetup:
    """What a session's voice input is made of: the process's shared models and the avatar's
    languages (its own first: the recognizer hears that one unless one of the others is
    clearly what was spoken)."""

    recognizer: SpeechRecognizer
    activity: Callable[[], VoiceActivity]
    languages: tuple[str, ...] = ("en",)
    hints: tuple[str, ...] = ()  # phrases customers are likely to say (the FAQ)
    # Judges each pause; None: the VAD's silence alone ends the turn.
    turn_model: TurnCompletion | None = None
    # Silence after the customer's last word before an answer may be heard (conversation/floor):
    # `hold_s` once the question is judged whole, `max_hold_s` until then.
    hold_s: float = 0.0
    max_hold_s: float = 0.0

    async def recognize(self, audio: np.ndarray, priority: Priority = Priority.FINAL) -> Transcript:
        return await self.recognizer.recognize(
            audio,
            language=self.languages[0] if self.languages else None,
            hints=self.hints,
            priority=priority,
            other_languages=self.languages[1:],
        )


@dataclass(frozen=True)
class Heard:
    """An utterance's final transcript ("" when nothing was recognised) and its stage latencies
    for the turn record: `vad_decision_ms`, and when recognition worked `asr_ms` (how long it
    took) and `asr_wait_ms` (how much of it came after the end was decided: what the customer
    waited for)."""

    text: str
    language: str | None
    stage_ms: dict[str, float]
    alternatives: tuple[str, ...] = ()  # other readings of the same audio


@dataclass
class Utterance:
    """One finished utterance. `recognize()` gives its final transcript: the recognition that
    started when the user paused if the utterance ended there, else a new one."""

    ended_at: float  # monotonic: when the user's speech ended (TTFW counts from here)
    decision_ms: float  # silence heard after the end before it was decided
    audio: np.ndarray = field(repr=False)
    setup: VoiceSetup = field(repr=False)
    early: asyncio.Task[Transcript] | None = None
    early_started: float | None = None
    decided_at: float = field(default_factory=time.monotonic)
    floor: Floor = field(default_factory=lambda: Floor(0.0), repr=False)
    ended_by: str = "silence"  # what decided the end: pause, silence or limit
    guess: str = ""  # the last partial transcript: what the customer likely said

    async def recognize(self) -> Heard:
        """The final transcript; a failed recognition is logged and heard as nothing."""
        stage_ms = {"vad_decision_ms": round(self.decision_ms, 2)}
        try:
            if self.early is not None:
                started, result = self.early_started or self.decided_at, await self.early
            else:
                started, result = self.decided_at, await self.setup.recognize(self.audio)
        except AsrError as error:
            log.warning("speech recognition failed (%s)", error.kind)
            return Heard(text="", language=None, stage_ms=stage_ms)
        if transcript_looks_complete(result.text):
            self.judged_complete()  # the words say the question is whole, whatever the model
        now = time.monotonic()
        stage_ms["asr_ms"] = round((now - started) * 1000, 2)
        stage_ms["asr_wait_ms"] = round((now - self.decided_at) * 1000, 2)
        return Heard(
            text=result.text.strip(),
            language=result.language,
            stage_ms=stage_ms,
            alternatives=result.alternatives,
        )

    def judged_complete(self) -> None:
        """The question is whole (the end-of-turn model, or its transcript, says so): its
        answer waits only the short hold."""
        self.floor.shorten(self.ended_at + self.setup.hold_s)

    def discard(self) -> None:
        if self.early is not None:
            self.early.cancel()


class RecognitionHooks(Protocol):
    async def on_start_of_speech(self, received: float) -> bool:
        """Speech is confirmed: the owner barges in and listens. False: not heard (rate limit)."""
        ...

    async def on_interim_transcript(self, text: str) -> None: ...

    async def on_end_of_turn(self, utterance: Utterance) -> bool:
        """The user finished; False when the owner no longer listens (the utterance is dropped)."""
        ...


@dataclass
class _Early:
    at_ms: float
    task: asyncio.Task[Transcript]
    started: float = field(default_factory=time.monotonic)


class VoiceInput:
    """From `audio_start` to `audio_stop`: push PCM, get hooks called.

    The end of a turn (docs/architecture.md, Voice): at each pause the end-of-turn model judges
    the utterance so far; complete ends the turn at once, incomplete waits for more speech up to
    the VAD's long silence. The answer's first sound still waits for the customer to leave the
    floor; speech that resumes before then continues the same utterance.
    """

    def __init__(
        self,
        setup: VoiceSetup,
        hooks: RecognitionHooks,
        *,
        started: float,
        max_utterance_s: float = 30.0,
    ) -> None:
        self.setup = setup
        self.hooks = hooks
        self._activity = setup.activity()
        self._activity.max_utterance_s = max_utterance_s
        self._clock = AudioClock(started=started)
        self._listening = False  # between a start the owner took and the end
        self._partial: asyncio.Task[None] | None = None
        self._partial_at = int(PARTIAL_EVERY_S * SAMPLE_RATE)
        self._early: _Early | None = None
        self._judge: asyncio.Task[None] | None = None
        self._received = started  # when the last audio arrived
        self._ended: Utterance | None = None  # the last utterance, until its answer is heard
        self._before = np.zeros(0, dtype=np.int16)  # what a continued utterance began with
        self._guess = ""  # the utterance's last partial transcript

    async def push(self, pcm: np.ndarray, received: float) -> None:
        """Raises ProtocolError (rate_limited) when audio comes faster than real time; such
        audio is dropped, and one error a second is enough to tell the client."""
        if not self._clock.admit(len(pcm), received):
            if self._clock.should_warn(received):
                raise ProtocolError(ErrorCode.RATE_LIMITED, "audio arrives faster than real time")
            return
        self._received = received
        for event in self._activity.push(pcm):
            await self._on_event(event, received)
        if self._ended is not None:
            self._ended.floor.hear(self._activity.hearing_speech, received)
        self._maybe_partial()

    async def flush(self, received: float) -> None:
        """The microphone stopped: a confirmed utterance ends here."""
        for event in self._activity.flush():
            await self._on_event(event, received)
        if self._ended is not None:
            self._ended.floor.release()  # nothing more can come: no reason to hold the answer

    def close(self) -> None:
        for task in (self._partial, self._judge):
            if task is not None:
                task.cancel()
        self._drop_early()

    async def _on_event(self, event: VadEvent, received: float) -> None:
        if isinstance(event, SpeechStarted):
            if not self._listening:
                self._continue_or_start()
                self._listening = await self.hooks.on_start_of_speech(received)
        elif isinstance(event, SpeechPaused):
            if self._listening:
                self._drop_early()  # speech resumed since the last pause: that audio was not all
                audio = self._whole(event.audio)
                task = asyncio.create_task(self.setup.recognize(audio))
                # Dropped unawaited when speech resumes: its failure is not an error of anyone.
                task.add_done_callback(lambda t: t.cancelled() or t.exception())
                self._early = _Early(at_ms=event.at_ms, task=task)
                if self.setup.turn_model is not None:
                    # The pause ends the turn at once, tentatively: recognition and the answer
                    # start now, and the floor decides when the answer may be heard.
                    ended = self._activity.end_if_paused(event.at_ms)
                    if ended is not None:
                        await self._on_end(ended, received, ended_by="pause")
        elif isinstance(event, SpeechEnded):
            await self._on_end(
                event, received, ended_by="limit" if not event.decision_ms else "silence"
            )

    def _continue_or_start(self) -> None:
        """Speech before the last answer was heard continues that utterance (a pause inside a
        sentence); after it, or after an utterance cut at the length limit, it is a new one."""
        ended, self._ended = self._ended, None
        self._guess = ""
        if ended is not None and ended.ended_by != "limit" and not ended.floor.released:
            self._before = ended.audio[-int(MAX_CONTINUED_S * SAMPLE_RATE) :]
        else:
            self._before = np.zeros(0, dtype=np.int16)

    def _whole(self, audio: np.ndarray) -> np.ndarray:
        return np.concatenate([self._before, audio]) if len(self._before) else audio

    async def _judge_whole(self, utterance: Utterance) -> None:
        """The end-of-turn model on the utterance: complete frees the floor after the short
        hold. Model trouble leaves the long one."""
        model = self.setup.turn_model
        assert model is not None
        try:
            verdict = await asyncio.to_thread(model.judge, utterance.audio)
        except Exception as error:  # onnxruntime's own types; the long hold still ends it
            log.warning("end-of-turn model failed (%s)", type(error).__name__)
            return
        if verdict.complete:
            utterance.judged_complete()

    async def _on_end(self, event: SpeechEnded, received: float, *, ended_by: str) -> None:
        listening, self._listening = self._listening, False
        for task in (self._partial, self._judge):
            if task is not None and task is not asyncio.current_task():
                task.cancel()  # the final transcript supersedes a partial; the end is decided
        self._partial_at = int(PARTIAL_EVERY_S * SAMPLE_RATE)
        early, self._early = self._early, None
        if early is not None and early.at_ms != event.at_ms:
            early.task.cancel()  # it heard less than the whole utterance
            early = None
        # TTFW counts from the end of the user's speech, not from when the end was decided.
        ended_at = received - event.decision_ms / 1000
        utterance = Utterance(
            ended_at=ended_at,
            decision_ms=event.decision_ms,
            audio=self._whole(event.audio),
            setup=self.setup,
            early=early.task if early else None,
            early_started=early.started if early else None,
            floor=Floor(ended_at + self._hold(ended_by)),
            ended_by=ended_by,
            guess=self._guess,
        )
        self._before = np.zeros(0, dtype=np.int16)
        if ended_by == "limit":
            utterance.floor.release()
        if not listening or not await self.hooks.on_end_of_turn(utterance):
            utterance.discard()
            return
        self._ended = utterance
        if ended_by == "pause":
            self._judge = asyncio.create_task(self._judge_whole(utterance))

    def _hold(self, ended_by: str) -> float:
        """How long after the last word the answer waits at most (the floor)."""
        if ended_by == "limit":
            # Cut at the length limit, the customer is still talking: no pause to wait out
            # (the floor is released at once), and what follows is a new utterance.
            return 0.0
        if ended_by == "pause":  # until the model or the transcript says the question is whole
            return max(self.setup.hold_s, self.setup.max_hold_s)
        return self.setup.hold_s

    def _maybe_partial(self) -> None:
        """While the user speaks, a partial transcript about every PARTIAL_EVERY_S of speech."""
        if not self._listening:
            return
        if self._partial is not None and not self._partial.done():
            return  # one recognition at a time: a slow ASR sends fewer partials, never a backlog
        if self._early is not None and not self._early.task.done():
            return  # the likely final transcript is being recognised: it goes first
        audio = self._activity.utterance_so_far()
        if audio is None or len(audio) < self._partial_at:
            return
        self._partial_at = len(audio) + int(PARTIAL_EVERY_S * SAMPLE_RATE)
        self._partial = asyncio.create_task(self._send_partial(self._whole(audio)))

    async def _send_partial(self, audio: np.ndarray) -> None:
        try:
            result = await self.setup.recognize(audio, Priority.PARTIAL)
        except AsrError as error:  # a partial is optional: the final transcript still comes
            log.warning("partial transcript failed (%s)", error.kind)
            return
        if self._listening and result.text.strip():
            self._guess = result.text.strip()
            await self.hooks.on_interim_transcript(self._guess)

    def _drop_early(self) -> None:
        if self._early is not None:
            self._early.task.cancel()
            self._early = None
