"""What a lipsync worker reads before and while it renders: the turn's cancel flag and the
task's revoke mark, both set in Redis by the gateway (contracts.messages names the keys).

Celery's own revoke is a broadcast that a busy solo worker reads only between tasks, possibly
after it has already taken the next task off the queue; the Redis mark has no such race.
"""

from __future__ import annotations

import redis

from contracts.messages import cancel_key, revoked_key


def turn_cancelled(client: redis.Redis, turn_id: str) -> bool:
    return bool(client.exists(cancel_key(turn_id)))


def should_skip(client: redis.Redis, turn_id: str, task_id: str | None) -> bool:
    """Before a render starts: its turn was cancelled or the task itself was revoked."""
    keys = [cancel_key(turn_id)] + ([revoked_key(task_id)] if task_id else [])
    return bool(client.exists(*keys))
