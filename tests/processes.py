"""Real processes for tests: Celery workers, daphne, the supervisor; started and reaped here."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.db import connection

from avatarsite.stack import celery_worker_argv, daphne_argv

ROOT = Path(__file__).resolve().parent.parent
MARKER = "AVATAR_TEST_PROCESS"


def database_url() -> str:
    """A DATABASE_URL for child processes that points at the test database."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="avatarsite.settings",
        DATABASE_URL=database_url(),
        PYTHONUNBUFFERED="1",
        **{MARKER: uuid.uuid4().hex},
    )
    env.update(extra)
    return env


def processes_with_marker(value: str) -> list[int]:
    """PIDs of live processes whose environment carries MARKER=value."""
    needle = f"{MARKER}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                stat = (entry / "stat").read_text()
                if stat.rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout:.0f}s")
        time.sleep(0.2)


class Process:
    """A child process in its own group, with its output in a log file for failure reports."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        self.signal(signal.SIGKILL)
        self.popen.wait()
        self._log.close()


def celery_worker(
    queue: str, env: dict[str, str], log_dir: Path, name: str | None = None
) -> Process:
    node = name or f"{queue}-{uuid.uuid4().hex[:6]}"
    argv = [*celery_worker_argv(queue, node, env), "--without-gossip", "--without-mingle"]
    return Process(node, argv, env, log_dir)


def worker_ready(node_prefix: str) -> Callable[[], bool]:
    from avatarsite.celery import app

    def check() -> bool:
        replies = app.control.ping(timeout=0.5) or []
        return any(node_prefix in name for reply in replies for name in reply)

    return check


def daphne(env: dict[str, str], log_dir: Path, port: int) -> Process:
    return Process(f"daphne-{port}", daphne_argv("127.0.0.1", port, env), env, log_dir)


def http_answers(port: int) -> Callable[[], bool]:
    import urllib.error
    import urllib.request

    def check() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
        except urllib.error.HTTPError:
            return True  # 503 is an answer: the server is up
        return True

    return check
