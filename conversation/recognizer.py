"""Where an utterance is recognised: in this process (a thread) or on the `speech` queue.

Both give the session one awaitable `recognize`; the queue variant gets its answer back over the
channel layer, like lip-sync frames, and the session's consumer hands it in with `on_result`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from conversation.asr.base import AsrBackend, AsrError, AsrErrorKind, Transcript


class SpeechRecognizer(Protocol):
    async def recognize(
        self, audio: np.ndarray, *, language: str | None, hints: Sequence[str]
    ) -> Transcript: ...


class LocalRecognizer:
    """The ASR model resident in this process; decoding runs in a thread, off the event loop."""

    def __init__(self, backend: AsrBackend) -> None:
        self.backend = backend

    async def recognize(
        self, audio: np.ndarray, *, language: str | None, hints: Sequence[str]
    ) -> Transcript:
        return await asyncio.to_thread(
            self.backend.transcribe, audio, language=language, hints=tuple(hints)
        )


class QueueRecognizer:
    """The ASR model resident on a speech worker; the answer comes back to `channel`."""

    def __init__(self, channel: str, *, timeout_s: float = 15.0) -> None:
        self.channel = channel
        self.timeout_s = timeout_s
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def recognize(
        self, audio: np.ndarray, *, language: str | None, hints: Sequence[str]
    ) -> Transcript:
        from conversation.tasks import enqueue_transcription

        request_id = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._waiting[request_id] = answer
        try:
            await loop.run_in_executor(
                None,
                lambda: enqueue_transcription(
                    channel=self.channel, request_id=request_id, audio=audio.tobytes(),
                    language=language, hints=list(hints),
                ),
            )
            async with asyncio.timeout(self.timeout_s):
                message = await answer
        except TimeoutError:
            raise AsrError(AsrErrorKind.FAILED, "no speech worker answered in time") from None
        finally:
            self._waiting.pop(request_id, None)
        if message.get("error"):
            raise AsrError(AsrErrorKind.FAILED, f"speech worker: {message['error']}")
        return Transcript(text=message["text"], final=True, language=message.get("language"),
                          confidence=None)

    def on_result(self, message: dict[str, Any]) -> None:
        answer = self._waiting.get(str(message.get("request_id")))
        if answer is not None and not answer.done():
            answer.set_result(message)
