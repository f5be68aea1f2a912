"""Per-turn cancel flags in Redis: the conversation sets them, workers check between batches."""

from __future__ import annotations

import redis

CANCEL_TTL_S = 600


def cancel_key(turn_id: str) -> str:
    return f"lipsync:cancel:{turn_id}"


def cancel_turn(client: redis.Redis, turn_id: str) -> None:
    client.set(cancel_key(turn_id), b"1", ex=CANCEL_TTL_S)


def turn_cancelled(client: redis.Redis, turn_id: str) -> bool:
    return bool(client.exists(cancel_key(turn_id)))
