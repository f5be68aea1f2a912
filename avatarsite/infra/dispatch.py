"""Sends work to the worker queues by task name, so the web process never imports a worker.

Payloads are the typed messages of `contracts.messages`; Flower and logs see their sizes, never
the audio. Publishing is blocking I/O: async callers run these in a thread.
"""

from __future__ import annotations

from collections.abc import Iterable

from avatarsite.celery import app
from avatarsite.infra import redis_clients
from contracts.messages import (
    CANCEL_TTL_S,
    RENDER_TASK,
    TRANSCRIBE_TASK,
    RenderRequest,
    TranscribeRequest,
    cancel_key,
    revoked_key,
)


def send_render(request: RenderRequest) -> str:
    """Queue one chunk's render on `lipsync`, a new answer's first chunks first."""
    result = app.send_task(
        RENDER_TASK,
        kwargs=request.to_kwargs(),
        priority=request.priority,
        argsrepr="()",
        kwargsrepr=request.shown(),
    )
    return str(result.id)


def send_transcription(request: TranscribeRequest) -> str:
    """Queue one utterance's recognition on `speech`."""
    result = app.send_task(
        TRANSCRIBE_TASK, kwargs=request.to_kwargs(), argsrepr="()", kwargsrepr=request.shown()
    )
    return str(result.id)


def revoke_renders(task_ids: Iterable[str]) -> None:
    """Queued chunk renders never start: a Redis mark every worker checks before a render.

    Not Celery's revoke as well: it adds nothing to the mark (lipsync_worker/cancel.py), and
    with results disabled each worker logs a warning per id that it cannot mark it revoked."""
    pipe = redis_clients.sync_client().pipeline(transaction=False)
    for task_id in task_ids:
        pipe.set(revoked_key(task_id), b"1", ex=CANCEL_TTL_S)
    pipe.execute()


def cancel_turn(turn_id: str) -> None:
    """Renders of this turn stop at their next batch (the async path: reply.render_queue)."""
    redis_clients.sync_client().set(cancel_key(turn_id), b"1", ex=CANCEL_TTL_S)
