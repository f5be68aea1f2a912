"""Where an utterance is recognised: in this process (a thread), in a child process of it, or
on the `speech` queue.

All give the session one awaitable `recognize`; the queue variant gets its answer back over the
channel layer, like lip-sync frames, and the session's consumer hands it in with `on_result`.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

import numpy as np

from avatarsite.infra import dispatch
from contracts.messages import AsrResult, TranscribeRequest
from conversation.asr.base import AsrBackend, AsrError, AsrErrorKind, Transcript
from conversation.voice.decoding import DecodeSlots, Priority


class SpeechRecognizer(Protocol):
    async def recognize(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        hints: Sequence[str],
        priority: Priority = Priority.FINAL,
        other_languages: Sequence[str] = (),
    ) -> Transcript: ...


def wanted_alternatives(priority: Priority, alternatives: int) -> int:
    """Other readings are worth their cost for the transcript that is answered, not a partial."""
    return alternatives if priority is Priority.FINAL else 0


class LocalRecognizer:
    """The ASR model resident in this process; decodes run in threads, off the event loop and
    off the GIL (CTranslate2 releases it), at most `slots` at once, finals first. A final
    transcript comes with up to `alternatives` other readings."""

    def __init__(self, backend: AsrBackend, *, slots: int = 1, alternatives: int = 0) -> None:
        self.backend = backend
        self.alternatives = alternatives
        self.slots = DecodeSlots(slots)
        self._threads = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="asr")

    async def recognize(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        hints: Sequence[str],
        priority: Priority = Priority.FINAL,
        other_languages: Sequence[str] = (),
    ) -> Transcript:
        work = functools.partial(
            self.backend.transcribe,
            audio,
            language=language,
            hints=tuple(hints),
            alternatives=wanted_alternatives(priority, self.alternatives),
            other_languages=tuple(other_languages),
        )
        return await self.slots.run(priority, self._threads, work)


class ProcessRecognizer:
    """The ASR model resident in one child process of this one.

    For a backend that holds the GIL through a whole decode (pocketsphinx decodes an utterance
    in one C call per pass): in a thread it would stall this process's event loop, and every
    session on it, for hundreds of milliseconds per utterance. `build` runs in the child and
    must be importable by name (a module-level function).
    """

    def __init__(self, build: Callable[[], AsrBackend], *, alternatives: int = 0) -> None:
        self.build = build
        self.alternatives = alternatives
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._slots = DecodeSlots(1)  # one child: finals go to it before partials

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1,
                    # Not fork: this process runs threads and an event loop.
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_child_start,
                    initargs=(self.build, os.getpid()),
                )
            return self._pool

    def warm(self) -> None:
        """Start the child and load its model now, before the first customer speaks."""
        silence = np.zeros(3200, dtype=np.int16)
        self._executor().submit(_child_transcribe, silence, None, (), 0, ()).result()

    async def recognize(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        hints: Sequence[str],
        priority: Priority = Priority.FINAL,
        other_languages: Sequence[str] = (),
    ) -> Transcript:
        pool = self._executor()
        work = functools.partial(
            _child_transcribe,
            audio,
            language,
            tuple(hints),
            wanted_alternatives(priority, self.alternatives),
            tuple(other_languages),
        )
        try:
            return await self._slots.run(priority, pool, work)
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = None  # the next utterance starts a new child
            raise AsrError(AsrErrorKind.FAILED, "the recognition process died") from None

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


_child_backend: AsrBackend | None = None


def _child_start(build: Callable[[], AsrBackend], parent: int) -> None:
    global _child_backend
    _child_backend = build()
    # Orphaned (the web process was killed), the child would wait for work forever.
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _child_transcribe(
    audio: np.ndarray,
    language: str | None,
    hints: tuple[str, ...],
    alternatives: int,
    other_languages: tuple[str, ...],
) -> Transcript:
    assert _child_backend is not None
    return _child_backend.transcribe(
        audio,
        language=language,
        hints=hints,
        alternatives=alternatives,
        other_languages=other_languages,
    )


class QueueRecognizer:
    """The ASR model resident on a speech worker; the answer comes back to `channel`."""

    def __init__(self, channel: str, *, timeout_s: float = 15.0, alternatives: int = 0) -> None:
        self.channel = channel
        self.timeout_s = timeout_s
        self.alternatives = alternatives
        self._waiting: dict[str, asyncio.Future[AsrResult]] = {}

    async def recognize(
        self,
        audio: np.ndarray,
        *,
        language: str | None,
        hints: Sequence[str],
        priority: Priority = Priority.FINAL,  # the speech queue decodes in arrival order
        other_languages: Sequence[str] = (),
    ) -> Transcript:
        request = TranscribeRequest(
            channel=self.channel,
            request_id=uuid.uuid4().hex,
            audio=audio.tobytes(),
            language=language,
            hints=tuple(hints),
            alternatives=wanted_alternatives(priority, self.alternatives),
            other_languages=tuple(other_languages),
        )
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[AsrResult] = loop.create_future()
        self._waiting[request.request_id] = answer
        try:
            await loop.run_in_executor(None, dispatch.send_transcription, request)
            async with asyncio.timeout(self.timeout_s):
                result = await answer
        except TimeoutError:
            raise AsrError(AsrErrorKind.FAILED, "no speech worker answered in time") from None
        finally:
            self._waiting.pop(request.request_id, None)
        if result.error:
            raise AsrError(AsrErrorKind.FAILED, f"speech worker: {result.error}")
        return Transcript(
            text=result.text,
            final=True,
            language=result.language,
            confidence=None,
            alternatives=tuple(result.alternatives),
        )

    def on_result(self, result: AsrResult) -> None:
        answer = self._waiting.get(result.request_id)
        if answer is not None and not answer.done():
            answer.set_result(result)
