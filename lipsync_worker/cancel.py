"""Per-turn cancel flags and per-task revocation marks in Redis.

The conversation sets them, workers read them before a task starts and between batches.
Celery's own revoke is a broadcast that a busy solo worker reads only between tasks, possibly
after it has already taken the next task off the queue; the Redis mark has no such race.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

CANCEL_TTL_S = 600


def cancel_key(turn_id: str) -> str:
    return f"lipsync:cancel:{turn_id}"


def revoked_key(task_id: str) -> str:
    return f"lipsync:revoked:{task_id}"


def cancel_turn(client: redis.Redis, turn_id: str) -> None:
    client.set(cancel_key(turn_id), b"1", ex=CANCEL_TTL_S)


def turn_cancelled(client: redis.Redis, turn_id: str) -> bool:
    return bool(client.exists(cancel_key(turn_id)))


def mark_revoked(client: redis.Redis, task_ids: Iterable[str]) -> None:
    pipe = client.pipeline(transaction=False)
    for task_id in task_ids:
        pipe.set(revoked_key(task_id), b"1", ex=CANCEL_TTL_S)
    pipe.execute()


def should_skip(client: redis.Redis, turn_id: str, task_id: str | None) -> bool:
    """Before a render starts: its turn was cancelled or the task itself was revoked."""
    keys = [cancel_key(turn_id)] + ([revoked_key(task_id)] if task_id else [])
    return bool(client.exists(*keys))
