"""The stack a benchmark drives: started here on a private Redis and var dir, or attached to.

Started here, it is the whole product as `make run` runs it (daphne, a lipsync worker, a speech
worker, Redis), on loopback ports of its own, with the demo avatar baked; a second daphne with
REPLY_STREAMING=0 serves the streaming-off baseline. Nothing of the caller's var dir or Redis
is touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from avatarsite.stack import celery_worker_argv, daphne_argv

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)


@dataclass
class Stack:
    url: str  # http://host:port of the streaming server
    baseline_url: str | None = None  # the same stack with REPLY_STREAMING=0, when started here
    pocketsphinx_url: str | None = None  # the same stack recognising with pocketsphinx
    owned: bool = False
    env: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)
    folder: Path | None = None

    def pids(self) -> dict[str, int]:
        return {p.name: p.popen.pid for p in self.procs if p.popen.poll() is None}

    def logs(self, name_prefix: str) -> list[Path]:
        return [p.log for p in self.procs if p.name.startswith(name_prefix)]

    def manage(self, *args: str) -> str:
        """Run a management command against this stack's database (started stacks only)."""
        assert self.owned
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def clear_answer_cache(self) -> bool:
        """Forget canned answers, so that the next FAQ answer is rendered live (a cache miss)."""
        if not self.owned:
            return False
        self.manage(
            "shell",
            "-c",
            "from avatars.services import canned_clips_clear; canned_clips_clear()",
        )
        return True

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        if self.folder is not None and os.environ.get("BENCH_KEEP") is None:
            shutil.rmtree(self.folder, ignore_errors=True)


def _start(stack: Stack, name: str, argv: list[str], env: dict[str, str]) -> Proc:
    assert stack.folder is not None
    log = stack.folder / f"{name}.log"
    popen = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc = Proc(name, popen, log)
    stack.procs.append(proc)
    return proc


def _wait(check, what: str, timeout: float, procs: list[Proc]) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        for proc in procs:
            if proc.popen.poll() is not None:
                tail = proc.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{proc.name} exited while waiting for {what}:\n{tail}")
        time.sleep(0.25)
    raise RuntimeError(f"{what} did not happen within {timeout:.0f} s")


def session_grant(base_url: str, slug: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base_url}/api/sessions",
        data=f"avatar={slug}".encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refusal:
        return refusal.code, {}
    except OSError:
        return 0, {}


def start_stack(*, slug: str = "demo", baseline: bool = True, pocketsphinx: bool = False) -> Stack:
    folder = Path(tempfile.mkdtemp(prefix="avatar-bench-"))
    stack = Stack(url="", owned=True, folder=folder)
    try:
        redis_port = free_port()
        _start(
            stack,
            "redis",
            [
                shutil.which("redis-server") or "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(redis_port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(folder),
            ],
            dict(os.environ),
        )
        env = {
            **os.environ,
            "AVATAR_VAR_DIR": str(folder / "var"),
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "DEBUG": "0",
            "LOG_LEVEL": "INFO",
            "DJANGO_SETTINGS_MODULE": "avatarsite.settings",
            # Packaged models are assembled once, outside the run's throw-away var dir.
            "AVATAR_MODELS_DIR": os.environ.get("AVATAR_MODELS_DIR", str(ROOT / "var" / "models")),
        }
        env.pop("DATABASE_URL", None)  # a database of its own: SQLite in the var dir
        stack.env = env
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        _start(stack, "lipsync", celery_worker_argv("lipsync", f"lipsync-{redis_port}", env), env)
        _start(stack, "speech", celery_worker_argv("speech", f"speech-{redis_port}"), env)
        subprocess.run(
            [sys.executable, "manage.py", "load_demo", "--bake"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        port = free_port()
        _start(stack, "web", daphne_argv("127.0.0.1", port, env), env)
        stack.url = f"http://127.0.0.1:{port}"
        if baseline:  # the same stack answering whole, for the streaming comparison
            stack.baseline_url = _extra_web(stack, "web-fulltext", {**env, "REPLY_STREAMING": "0"})
        if pocketsphinx:  # the fallback recognizer, for the hearing scenario's comparison
            stack.pocketsphinx_url = _extra_web(
                stack, "web-pocketsphinx", {**env, "WHISPER_MODEL": "pocketsphinx"}
            )
        for url in filter(None, [stack.url, stack.baseline_url, stack.pocketsphinx_url]):
            _wait(
                lambda u=url: session_grant(u, slug)[0] == 201,
                f"{slug} ready at {url}",
                240,
                stack.procs,
            )
        return stack
    except BaseException:
        stack.stop()
        raise


def _extra_web(stack: Stack, name: str, env: dict[str, str]) -> str:
    """Another daphne on the same stack with `env`; its URL."""
    port = free_port()
    _start(stack, name, daphne_argv("127.0.0.1", port, env), env)
    return f"http://127.0.0.1:{port}"


def attach(url: str) -> Stack:
    return Stack(url=url.rstrip("/"), owned=False)


def process_usage(pid: int) -> tuple[float, int]:
    """(CPU seconds used so far, resident bytes) of a process and its children, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    cpu, rss = 0.0, 0
    for candidate in _tree(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{candidate}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / ticks
            rss += int(Path(f"/proc/{candidate}/statm").read_text().split()[1]) * page
    return cpu, rss


def _tree(pid: int) -> list[int]:
    found = [pid]
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            found += _tree(int(child))
    return found
