"""`make run`: prepare the database, then run the whole stack under one supervisor.

Starts Redis when REDIS_URL does not answer, then daphne, a lipsync worker, a speech worker,
Celery beat and Flower. Each child runs in its own process group; Ctrl-C (or SIGTERM) stops them all,
Redis last, and a child that dies is restarted with back-off.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import redis

from avatarsite.env import VAR_DIR, daphne_size_flags, env_int, env_str, stored_secret

STOP_GRACE_S = 10.0
RESTART_MAX_DELAY_S = 30.0


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    pump: threading.Thread | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            self.argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the terminal's Ctrl-C reaches us only
        )
        self.pump = threading.Thread(target=self._prefix_output, daemon=True)
        self.pump.start()

    def _prefix_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for raw in self.process.stdout:
            sys.stdout.write(f"{self.name:>8} | {raw.decode(errors='replace')}")
            sys.stdout.flush()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


def redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def embedded_redis(url: str) -> Child | None:
    """A local redis-server for REDIS_URL when nothing answers there, else None."""
    if redis_answers(url):
        return None
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"supervisor: Redis at {parts.hostname}:{parts.port} does not answer.")
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit(
            "supervisor: no Redis answers at REDIS_URL and redis-server is not installed.\n"
            "  Debian/Ubuntu: sudo apt-get install -y redis-server\n"
            "  macOS:         brew install redis\n"
            "or point REDIS_URL at a running Redis."
        )
    data_dir = VAR_DIR / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(parts.port or 6379),
        "--dir",
        str(data_dir),
    ]
    argv += ["--save", "", "--appendonly", "no", "--protected-mode", "yes"]
    return Child("redis", argv)


def wait_for(check: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            sys.exit(f"supervisor: {what} did not come up within {timeout:.0f}s")
        time.sleep(0.2)


def prepare_database(env: dict[str, str]) -> None:
    manage = [sys.executable, "manage.py"]
    steps = [["migrate", "--noinput"], ["collectstatic", "--noinput", "-v0"], ["ensure_admin"]]
    for step in [*steps, ["load_demo", "--bake"]]:
        subprocess.run(manage + step, env=env, check=True)


def celery_worker_argv(queue: str, node: str) -> list[str]:
    """A worker as the product runs one: solo pool (models stay resident), one task at a time."""
    return [
        *(sys.executable, "-m", "celery", "-A", "avatarsite", "worker", "-Q", queue),
        *("--pool=solo", "--prefetch-multiplier=1", "-n", f"{node}@%h", "--loglevel=INFO"),
    ]


def daphne_argv(host: str, port: int, environ: Mapping[str, str] | None = None) -> list[str]:
    """The web server, with the WebSocket size limits of `environ` (or of this process)."""
    return [
        *(sys.executable, "-m", "daphne", "-b", host, "-p", str(port)),
        *daphne_size_flags(environ),
        "avatarsite.asgi:application",
    ]


def stack_children(host: str, port: int, flower_port: int) -> list[Child]:
    celery = [sys.executable, "-m", "celery", "-A", "avatarsite"]
    flower_auth = f"{env_str('FLOWER_USER', 'operator')}:{stored_secret('FLOWER_PASSWORD', 'flower_password')}"
    return [
        Child("web", daphne_argv(host, port)),
        Child("lipsync", celery_worker_argv("lipsync", "lipsync")),
        Child("speech", celery_worker_argv("speech", "speech")),
        # One scheduler per deployment: consent expiry every 30 s, turn-record retention daily.
        Child(
            "beat",
            celery + ["beat", "-s", str(VAR_DIR / "celerybeat-schedule"), "--loglevel=INFO"],
        ),
        Child(
            "flower",
            celery
            + [
                "flower",
                f"--basic-auth={flower_auth}",
                f"--port={flower_port}",
                f"--address={host}",
            ],
        ),
    ]


def supervise(children: list[Child], env: dict[str, str], stopping: threading.Event) -> None:
    for child in children:
        child.start(env)
    while not stopping.wait(0.5):
        now = time.monotonic()
        for child in children:
            if child.alive():
                continue
            if child.next_start == 0.0:  # its exit has just been noticed
                delay = min(RESTART_MAX_DELAY_S, 2.0**child.restarts)
                child.restarts += 1
                child.next_start = now + delay
                code = child.process.returncode if child.process else None
                print(f"supervisor: {child.name} exited ({code}); restarting in {delay:.0f}s")
            elif now >= child.next_start:
                child.start(env)
                child.next_start = 0.0


def stop_all(children: list[Child]) -> None:
    """SIGTERM every group at once, wait for all, then SIGKILL whatever is left."""
    for child in children:
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"supervisor: {child.name} ignored SIGTERM for {STOP_GRACE_S:.0f}s; killing it")
        child.signal_group(signal.SIGKILL)  # also reaps any grandchild left in its group
        child.process.wait()


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "avatarsite.settings")
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    env["PYTHONUNBUFFERED"] = "1"
    host, port = env_str("HOST", "127.0.0.1"), env_int("PORT", 8000)
    flower_port = env_int("FLOWER_PORT", 5555)
    redis_url = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())

    redis_child = embedded_redis(redis_url)
    children: list[Child] = []
    try:
        if redis_child is not None:
            print(f"supervisor: starting redis-server for {redis_url}")
            redis_child.start(env)
            wait_for(lambda: redis_answers(redis_url), "redis-server")
        prepare_database(env)
        children = stack_children(host, port, flower_port)
        print(
            f"\n  Demo page   http://{host}:{port}/\n"
            f"  Admin       http://{host}:{port}/admin/  (user {env_str('ADMIN_USER', 'admin')})\n"
            f"  Health      http://{host}:{port}/healthz\n"
            f"  Flower      http://{host}:{flower_port}/  (user {env_str('FLOWER_USER', 'operator')},"
            f" password in {VAR_DIR / 'flower_password'} or FLOWER_PASSWORD)\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        if not stopping.is_set():
            supervise(children, env, stopping)
    finally:
        print("supervisor: stopping", flush=True)
        stop_all(children)
        if redis_child is not None:
            stop_all([redis_child])  # last: workers flush their state to it on the way out
        print("supervisor: all processes stopped", flush=True)


if __name__ == "__main__":
    main()
