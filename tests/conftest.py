from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings

from tests.environment import free_port
from tests.processes import (
    Process,
    celery_worker,
    child_env,
    daphne,
    http_answers,
    wait_until,
    worker_ready,
)

OUTPUT_ROOT = Path(__file__).resolve().parent.parent / "test-output"


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


@pytest.fixture
def output_dir(request: pytest.FixtureRequest) -> Path:
    """A folder kept after the run (screenshots, logs) under test-output/<test name>."""
    path = OUTPUT_ROOT / request.node.name.replace("/", "_")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def start_worker(transactional_db: None, output_dir: Path) -> Iterator:
    """Start real Celery workers (solo pool) against the test database and Redis."""
    started: list[Process] = []

    def start(queue: str, **env: str) -> Process:
        process = celery_worker(queue, child_env(**env), output_dir)
        started.append(process)
        try:
            wait_until(worker_ready(process.name), 60, f"{queue} worker answering ping")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{process.output()[-3000:]}") from exc
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def start_daphne(transactional_db: None, output_dir: Path) -> Iterator:
    """Start a real daphne serving the project on a free port; returns (process, port)."""
    started: list[Process] = []

    def start(port: int | None = None, **env: str) -> tuple[Process, int]:
        port = port or free_port()  # the port of a stopped daphne: a restart
        process = daphne(child_env(DEBUG="1", **env), output_dir, port)
        started.append(process)
        try:
            wait_until(http_answers(port), 60, "daphne answering HTTP")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{process.output()[-3000:]}") from exc
        return process, port

    yield start
    for process in started:
        process.stop()
