"""A protocol v1 client that times what a customer would notice: first sound, stops, gaps."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import websockets

from bench.stack import session_grant
from conversation.protocol import MediaChunk, MediaKind

PLAYOUT_LEAD_S = 0.06
AUDIO_START = json.dumps(
    {"type": "audio_start", "sample_rate": 16000, "encoding": "pcm_s16le", "channels": 1}
)  # what the widget waits before a turn's first chunk plays


@dataclass
class Arrival:
    at: float
    turn_id: str
    seq: int
    kind: MediaKind
    audio_s: float
    frames: int
    size: int


@dataclass
class TurnTrace:
    """Everything one turn brought, with arrival times (perf_counter seconds)."""

    asked_at: float
    turn_id: str | None = None
    media: list[Arrival] = field(default_factory=list)
    end: dict[str, Any] | None = None
    interrupted_at: float | None = None
    text_bytes: int = 0
    subtitles: list[dict[str, Any]] = field(default_factory=list)

    @property
    def first_media_at(self) -> float | None:
        chunks = [m for m in self.media if m.kind is not MediaKind.END]
        return chunks[0].at if chunks else None

    def ttfw_ms(self, since: float | None = None) -> float | None:
        first = self.first_media_at
        return None if first is None else (first - (since or self.asked_at)) * 1000

    @property
    def audio_s(self) -> float:
        return sum(m.audio_s for m in self.media)

    @property
    def media_bytes(self) -> int:
        return sum(m.size for m in self.media)

    def playout(self) -> dict[str, float]:
        """Play the chunks as the widget does: underruns, and audio per wall second."""
        chunks = [m for m in self.media if m.kind is not MediaKind.END and m.audio_s > 0]
        if not chunks:
            return {"underruns": 0, "realtime_factor": 0.0}
        cursor = chunks[0].at + PLAYOUT_LEAD_S
        underruns = 0
        for chunk in chunks:
            if chunk.at > cursor + 0.001:
                underruns += 1  # the next chunk came after the previous one finished playing
            cursor = max(cursor, chunk.at) + chunk.audio_s
        span = chunks[-1].at - chunks[0].at
        return {
            "underruns": underruns,
            "realtime_factor": round(self.audio_s / span, 2) if span > 0 else float("inf"),
        }


def _answer_heard(log: list[tuple[float, dict[str, Any]]]) -> bool:
    """A turn's media arrived and a final transcript came (a spoken answer to judge)."""
    media = {m["turn_id"] for _, m in log if m["type"] == "media"}
    interrupted = {m["turn_id"] for _, m in log if m["type"] == "interrupted"}
    final = any(m["type"] == "transcript" and m.get("final") for _, m in log)
    return final and bool(media - interrupted)


class BenchClient:
    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.trace: TurnTrace | None = None
        self.old: dict[str, TurnTrace] = {}  # interrupted turns, still watched for stray media
        self.stray_media = 0  # media of a turn after its `interrupted`
        self.bytes_in = 0
        self._reader: asyncio.Task[None] | None = None
        self._events: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self.recent: deque[str] = deque(maxlen=12)  # the last messages, for a timeout's report
        self.log: list[tuple[float, dict[str, Any]]] | None = None  # everything, when watched

    @classmethod
    async def connect(cls, base_url: str, slug: str = "demo") -> BenchClient:
        status, grant = await asyncio.to_thread(session_grant, base_url, slug)
        if status != 201:
            raise RuntimeError(f"POST /api/sessions answered {status}")
        host = urlsplit(base_url)
        socket = await websockets.connect(
            f"ws://{host.netloc}{grant['websocket']}", max_size=16 * 1024 * 1024
        )
        client = cls(socket)
        client._reader = asyncio.create_task(client._read())
        ready = await client.wait_for("ready", 30)
        assert ready["type"] == "ready"
        return client

    async def _read(self) -> None:
        async for data in self.socket:
            now = time.perf_counter()
            self.bytes_in += len(data)
            if isinstance(data, bytes):
                self._on_media(now, MediaChunk.unpack(data), len(data))
                continue
            message = json.loads(data)
            self.recent.append(
                message["type"] + (f" {message['state']}" if "state" in message else "")
            )
            if self.log is not None:
                self.log.append((now, message))
            trace = self.trace
            if trace is not None and message.get("turn_id") == trace.turn_id:
                trace.text_bytes += len(data)
            if message["type"] == "subtitle" and trace is not None:
                trace.subtitles.append(message)
            if message["type"] == "interrupted":
                old = self.old.get(message["turn_id"]) or trace
                if old is not None and old.turn_id == message["turn_id"]:
                    old.interrupted_at = now
            await self._events.put((now, message))

    def _on_media(self, now: float, media: MediaChunk, size: int) -> None:
        turn_id = str(media.turn_id)
        if self.log is not None:
            self.log.append((now, {"type": "media", "turn_id": turn_id, "end": media.end}))
        old = self.old.get(turn_id)
        if old is not None and old.interrupted_at is not None:
            self.stray_media += 1
            old.media.append(self._arrival(now, media, size))
            return
        trace = self.trace
        if trace is None:
            return
        if trace.turn_id is None:
            trace.turn_id = turn_id
        if trace.turn_id == turn_id:
            trace.media.append(self._arrival(now, media, size))

    @staticmethod
    def _arrival(now: float, media: MediaChunk, size: int) -> Arrival:
        audio_s = (
            len(media.audio) / 2 / media.sample_rate if media.kind is not MediaKind.END else 0.0
        )
        return Arrival(
            now, str(media.turn_id), media.seq, media.kind, audio_s, len(media.frames), size
        )

    async def wait_for(self, kind: str, timeout: float, **fields: Any) -> dict[str, Any]:
        deadline = time.perf_counter() + timeout
        while True:
            left = deadline - time.perf_counter()
            try:
                if left <= 0:
                    raise TimeoutError
                async with asyncio.timeout(left):
                    _, message = await self._events.get()
            except TimeoutError:
                seen = ", ".join(self.recent)
                raise TimeoutError(f"no {kind} {fields} within {timeout} s; last: {seen}") from None
            if message["type"] == kind and all(message.get(k) == v for k, v in fields.items()):
                return message

    async def ask(self, text: str, timeout: float = 90) -> TurnTrace:
        """A typed question, answered to its end."""
        self.trace = trace = TurnTrace(asked_at=time.perf_counter())
        await self.socket.send(json.dumps({"type": "text", "text": text}))
        started = await self.wait_for("state", timeout, state="thinking")  # a typed turn's first
        trace.turn_id = trace.turn_id or started["turn_id"]
        trace.end = await self.wait_for("turn_end", timeout, turn_id=trace.turn_id)
        return trace

    async def ask_and_interrupt(
        self, text: str, after_s: float, timeout: float = 90
    ) -> tuple[TurnTrace, float]:
        """Ask, then interrupt `after_s` after the first media; returns the trace and when."""
        self.trace = trace = TurnTrace(asked_at=time.perf_counter())
        await self.socket.send(json.dumps({"type": "text", "text": text}))
        deadline = time.perf_counter() + timeout
        while trace.first_media_at is None:
            if time.perf_counter() > deadline:
                raise TimeoutError("no media to interrupt")
            await asyncio.sleep(0.005)
        await asyncio.sleep(after_s)
        sent = time.perf_counter()
        assert trace.turn_id is not None
        self.old[trace.turn_id] = trace
        await self.socket.send(json.dumps({"type": "interrupt"}))
        await self.wait_for("interrupted", timeout, turn_id=trace.turn_id)
        return trace, sent

    async def speak(
        self, pcm: bytes, speech_end_s: float, timeout: float = 90
    ) -> tuple[TurnTrace, float]:
        """Stream PCM16 at real-time pace in 20 ms frames; returns the trace and when the speech
        in the audio ended (the moment TTFW is counted from)."""
        self.trace = trace = TurnTrace(asked_at=time.perf_counter())
        await self.socket.send(AUDIO_START)
        frame = 640  # bytes: 20 ms
        started = time.perf_counter()
        for i, at in enumerate(range(0, len(pcm), frame)):
            delay = started + i * 0.02 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.socket.send(pcm[at : at + frame])
        ended = started + speech_end_s
        trace.asked_at = ended
        trace.end = await self.wait_for("turn_end", timeout)
        await self.socket.send(json.dumps({"type": "audio_stop"}))
        return trace, ended

    async def utter(
        self, pcm: bytes, speech_end_s: float, *, settle_s: float = 1.0, timeout: float = 20
    ) -> tuple[float, list[tuple[float, dict[str, Any]]]]:
        """Say one utterance as a live microphone does: its audio at real-time pace, then
        silence, until an answer has been heard and confirmed (its first media and a final
        transcript, then `settle_s` more for a revision), which is then interrupted so that the
        next utterance starts from idle. Returns when the speech ended and every message
        (media as {"type": "media"}) with its arrival time."""
        self.log = log = []
        await self.socket.send(AUDIO_START)
        frame, silence = 640, bytes(640)
        started = time.perf_counter()
        ended = started + speech_end_s
        answered_at: float | None = None
        for i in itertools.count():
            delay = started + i * 0.02 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            at = i * frame
            await self.socket.send(pcm[at : at + frame] if at < len(pcm) else silence)
            if at < len(pcm):
                continue
            now = time.perf_counter()
            if answered_at is None and _answer_heard(log):
                answered_at = now
            if answered_at is not None and now - answered_at >= settle_s:
                break
            if now - ended > timeout:
                break
        await self.socket.send(json.dumps({"type": "interrupt"}))
        await self.socket.send(json.dumps({"type": "audio_stop"}))
        await asyncio.sleep(0.3)  # the interrupt's `interrupted` and `idle` land in the log
        self.log = None
        return ended, log

    async def close(self) -> None:
        await self.socket.close()
        if self._reader is not None:
            self._reader.cancel()
