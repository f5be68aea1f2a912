"""`make run`: prepare the database, then run the whole stack under one supervisor.

Starts Redis when REDIS_URL does not answer, then daphne, a lipsync worker, a speech worker,
Celery beat and Flower (once the workers answer). Each child runs in its own process group; Ctrl-C
(or SIGTERM) stops them all, Redis last, and a child that dies is restarted with back-off. On
Linux the children die with the supervisor, however it ends (SIGKILL, the OOM killer included),
and it refuses to start while a port it needs is taken.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import redis

from avatarsite.env import (
    VAR_DIR,
    daphne_size_flags,
    env_int,
    env_str,
    lipsync_pool_flags,
    stored_secret,
)
from avatarsite.infra.ports import port_holder, port_taken

STOP_GRACE_S = 10.0
RESTART_MAX_DELAY_S = 30.0
# Flower inspects the workers once as it starts and logs a warning for each question nobody
# answered: it starts when the workers answer a ping, or after this long regardless.
WAIT_TO_START_S = 120.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with(parent: int) -> Callable[[], None] | None:
    """A preexec hook: the child gets SIGKILL when the supervisor's thread that started it ends,
    so a supervisor killed outright leaves no orphan holding a port. None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the hook runs after fork

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the supervisor died before the line above
            os._exit(1)

    return hook


@dataclass
class Child:
    name: str
    argv: list[str]
    # Its own variables on top of the stack's: secrets go here, never into argv (`ps` shows argv).
    env: dict[str, str] = field(default_factory=dict, repr=False)
    # Started once this answers True (or after WAIT_TO_START_S); None: at once.
    starts_when: Callable[[], bool] | None = field(default=None, repr=False)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    pump: threading.Thread | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            self.argv,
            env={**env, **self.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the terminal's Ctrl-C reaches us only
            preexec_fn=die_with(os.getpid()),
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


def refuse_taken_port(host: str, port: int, what: str) -> None:
    """Exit with one line naming the port, and its holder where it can be seen."""
    if port_taken(host, port):
        holder = port_holder(port) or "another process"
        sys.exit(
            f"supervisor: port {port} ({what}) is taken by {holder}; "
            "stop it or choose another port. Nothing was started."
        )


def embedded_redis(url: str) -> Child | None:
    """A local redis-server for REDIS_URL when nothing answers there, else None."""
    if redis_answers(url):
        return None
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"supervisor: Redis at {parts.hostname}:{parts.port} does not answer.")
    refuse_taken_port(parts.hostname, parts.port or 6379, "Redis, REDIS_URL; it does not answer")
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


def celery_worker_argv(
    queue: str, node: str, environ: Mapping[str, str] | None = None
) -> list[str]:
    """A worker as the product runs one: models stay resident, one task at a time (solo pool),
    except a lipsync worker that batches chunks across sessions (a thread per chunk held)."""
    pool = lipsync_pool_flags(environ) if queue == "lipsync" else ["--pool=solo"]
    return [
        *(sys.executable, "-m", "celery", "-A", "avatarsite", "worker", "-Q", queue),
        *pool,
        *("--prefetch-multiplier=1", "-n", f"{node}@%h", "--loglevel=INFO"),
    ]


def daphne_argv(host: str, port: int, environ: Mapping[str, str] | None = None) -> list[str]:
    """The web server, with the WebSocket size limits of `environ` (or of this process)."""
    return [
        *(sys.executable, "-m", "daphne", "-b", host, "-p", str(port)),
        *daphne_size_flags(environ),
        "avatarsite.asgi:application",
    ]


def workers_answer() -> bool:
    """The stack's worker on each queue answers a ping (nodes are named after their queue)."""
    from avatarsite.celery import QUEUES, app

    try:
        replies = app.control.ping(timeout=1.0) or []
    except Exception:  # the broker away for a moment: not yet
        return False
    nodes = {name for reply in replies for name in reply}
    return all(any(node.startswith(f"{queue}@") for node in nodes) for queue in QUEUES)


def stack_children(host: str, port: int, flower_port: int) -> list[Child]:
    celery = [sys.executable, "-m", "celery", "-A", "avatarsite"]
    # Flower reads its options from FLOWER_* variables too: the password stays off its command
    # line, which any local user can read. Flower splits the value at commas.
    password = stored_secret("FLOWER_PASSWORD", "flower_password")
    if "," in password:
        sys.exit("supervisor: FLOWER_PASSWORD may not contain a comma (Flower splits at commas).")
    flower_auth = f"{env_str('FLOWER_USER', 'operator')}:{password}"
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
            celery + ["flower", f"--port={flower_port}", f"--address={host}"],
            env={"FLOWER_BASIC_AUTH": flower_auth},
            starts_when=workers_answer,
        ),
    ]


def supervise(children: list[Child], env: dict[str, str], stopping: threading.Event) -> None:
    began = time.monotonic()
    while True:
        now = time.monotonic()
        for child in children:
            if child.process is None:
                waited = now - began > WAIT_TO_START_S
                if child.starts_when is None or waited or child.starts_when():
                    child.start(env)
                continue
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
        if stopping.wait(0.5):
            return


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

    refuse_taken_port(host, port, "web, PORT")
    refuse_taken_port(host, flower_port, "Flower, FLOWER_PORT")
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
