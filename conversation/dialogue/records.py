"""The turn record: one TurnRecord row and one JSON log line per turn, and the metrics.

Only ids, timings and outcomes: never the user's words, the answer text, audio or faces.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from channels.db import database_sync_to_async
from django.utils import timezone

from conversation import metrics
from conversation.reply.turn import Turn

log = logging.getLogger("conversation.turns")


class TurnRecorder:
    """Writes each finished turn's record in the background; `drain` waits for the writes."""

    def __init__(self) -> None:
        self._writes: set[asyncio.Task[None]] = set()

    def record(self, turn: Turn, **fields: Any) -> None:
        task = asyncio.create_task(self.finish(turn, **fields))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def drain(self) -> None:
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def finish(
        self,
        turn: Turn,
        *,
        session_id: UUID,
        avatar_id: int,
        transitions: list[tuple[str, float]],
        interrupted: bool,
        barge_in_ms: float | None,
    ) -> None:
        record = {
            "turn_id": str(turn.turn_id),
            "session_id": str(session_id),
            "avatar_id": avatar_id,
            "input": turn.input_kind,
            "transitions": transitions,
            "ttfw_ms": turn.ttfw_ms,
            "stage_ms": turn.stage_ms,
            "fallbacks": [str(f) for f in turn.fallbacks],
            "cache_hit": turn.cache_hit,
            "interrupted": interrupted,
            "barge_in_ms": barge_in_ms,
        }
        log.info(json.dumps({"event": "turn", **record}, separators=(",", ":")))
        _observe(record)
        age = timedelta(seconds=time.monotonic() - turn.started)
        try:
            await database_sync_to_async(_save)(record, timezone.now() - age)
        except Exception:  # a lost record must never break the conversation
            log.exception("could not store turn record %s", record["turn_id"])


def _observe(record: dict) -> None:
    metrics.TURNS.labels(record["input"]).inc()
    if record["ttfw_ms"] is not None:
        metrics.TTFW.observe(record["ttfw_ms"])
    for stage, ms in record["stage_ms"].items():
        metrics.STAGE.labels(stage).observe(ms)
    for kind in record["fallbacks"]:
        metrics.FALLBACKS.labels(kind).inc()
    metrics.CACHE.labels("hit" if record["cache_hit"] else "miss").inc()
    if record["interrupted"]:
        metrics.BARGE_INS.inc()
    if record["barge_in_ms"] is not None:
        metrics.BARGE_IN.observe(record["barge_in_ms"])


def _save(record: dict, started_at: datetime) -> None:
    from avatars.models import TurnRecord

    TurnRecord.objects.create(
        turn_id=record["turn_id"],
        session_id=record["session_id"],
        avatar_id=record["avatar_id"],
        input_kind=record["input"],
        started_at=started_at,
        ended_at=timezone.now(),
        transitions=record["transitions"],
        ttfw_ms=record["ttfw_ms"],
        stage_ms=record["stage_ms"],
        fallbacks=record["fallbacks"],
        cache_hit=record["cache_hit"],
        interrupted=record["interrupted"],
        barge_in_ms=record["barge_in_ms"],
    )
