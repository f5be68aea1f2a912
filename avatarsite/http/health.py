"""Readiness of what the product depends on: database, Redis, a live worker on each queue, and
this web process's models loaded."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.db import connection

from avatarsite.celery import QUEUES, app

Check = dict[str, Any]


def _timed(probe: Callable[[], Check]) -> Check:
    started = time.perf_counter()
    try:
        result = probe()
    except Exception as exc:  # a health probe reports failures, it never raises them
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _database() -> Check:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "vendor": connection.vendor}


def _redis() -> Check:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    finally:
        client.close()
    return {"ok": True}


def queue_workers(timeout: float = 0.8) -> dict[str, list[str]]:
    """Worker names consuming each queue, from a broadcast `active_queues` inspection."""
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    workers: dict[str, list[str]] = {queue: [] for queue in QUEUES}
    for worker, queues in replies.items():
        for queue in queues:
            workers.setdefault(queue["name"], []).append(worker)
    return workers


def _queues() -> dict[str, Check]:
    workers = queue_workers()
    return {q: {"ok": bool(workers.get(q)), "workers": sorted(workers.get(q, []))} for q in QUEUES}


def health_report() -> tuple[bool, dict[str, Any]]:
    database = _timed(_database)
    redis_check = _timed(_redis)
    if redis_check["ok"]:
        queues = _queues()
    else:
        queues = {q: {"ok": False, "error": "redis unreachable", "workers": []} for q in QUEUES}
    from conversation.edge import warmup
    from conversation.tts import select as tts_select
    from conversation.voice import models

    warm = warmup.state()
    healthy = (
        database["ok"]
        and redis_check["ok"]
        and all(q["ok"] for q in queues.values())
        and warm != "warming"
    )
    report: dict[str, Any] = {
        "status": "ok" if healthy else "degraded",
        "database": database,
        "redis": redis_check,
        "queues": queues,
        "warm": warm,
    }

    report["tts"] = tts_select.health()
    report["asr"] = {"location": settings.ASR_LOCATION}
    if models.ready():
        backend, reason = models.recognizer()
        report["asr"].update(backend=backend.name, reason=reason)
    if (end_of_turn := models.turn_model_reason()) is not None:
        report["asr"]["end_of_turn"] = end_of_turn
    return healthy, report
