"""Tasks sent by name: a revoked render is marked for the workers, and no worker complains."""

from __future__ import annotations

import uuid

import redis

from avatarsite.infra.dispatch import revoke_renders
from contracts.messages import revoked_key
from tests.processes import wait_until, worker_ready


def test_revoked_renders_are_marked_and_the_workers_log_no_warning(
    start_worker, redis_client: redis.Redis
) -> None:
    worker = start_worker("speech")  # every worker hears Celery's broadcasts, not only lipsync
    task_ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    revoke_renders(task_ids)
    assert all(redis_client.exists(revoked_key(task_id)) for task_id in task_ids)
    # A ping is answered after every broadcast sent before it has been handled.
    wait_until(worker_ready(worker.name), 10, "the worker answering after the revoke")
    assert "revoked in backend" not in worker.output()
    assert "WARNING" not in worker.output().split("ready.", 1)[1]
