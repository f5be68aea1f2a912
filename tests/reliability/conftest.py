"""Live-stack fixtures shared with the conversation tests, and a Redis a test may restart."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.conf import settings

from tests.conversation.conftest import demo_avatar  # noqa: F401
from tests.environment import free_port, start_redis_server
from tests.processes import Process, celery_worker, child_env, wait_until


@dataclass
class PrivateRedis:
    """A redis-server of this test alone (no persistence): a restart loses every key."""

    port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None
    workers: list[Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = start_redis_server(self.port, str(self.data_dir))

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def worker_answers(self, node: str) -> bool:
        """A Celery ping over this Redis (the suite's own app publishes to the suite's Redis)."""
        probe = Celery("probe", broker=self.url, set_as_current=False)
        probe.conf.accept_content = settings.CELERY_ACCEPT_CONTENT
        try:
            replies = probe.control.ping(timeout=0.5) or []
        finally:
            probe.close()
        return any(node in name for reply in replies for name in reply)

    def start_worker(self, queue: str, log_dir: Path, **env: str) -> Process:
        process = celery_worker(queue, child_env(REDIS_URL=self.url, **env), log_dir)
        self.workers.append(process)
        try:
            wait_until(lambda: self.worker_answers(process.name), 60, f"{queue} worker ready")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{process.output()[-3000:]}") from exc
        return process


@pytest.fixture(autouse=True)
def empty_redis(redis_client: redis.Redis) -> None:
    """Start from an empty Redis: chunks an earlier test queued for a worker it never started
    would reach this test's worker, for avatars this test's database does not have."""
    redis_client.flushdb()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    data_dir = tmp_path / "redis"
    data_dir.mkdir()
    server = PrivateRedis(port=free_port(), data_dir=data_dir)
    server.start()
    yield server
    for worker in server.workers:
        worker.stop()
    server.kill()
