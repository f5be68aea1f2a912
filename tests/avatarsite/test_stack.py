"""`make run`'s supervisor, for real: it brings the stack up healthy, Ctrl-C leaves nothing, a
supervisor killed outright takes its children with it, and a busy port stops it before it starts."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.environment import free_port
from tests.processes import MARKER, Process, processes_with_marker, wait_until

pytestmark = pytest.mark.stack


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def fetch_health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def fresh_machine(tmp_path: Path, marker: str, **ports: int) -> dict[str, str]:
    """The environment of `make run` on a new machine: new SQLite file, new secrets, and no
    Redis on its port (the supervisor starts one)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            MARKER: marker,
            "AVATAR_VAR_DIR": str(tmp_path / "var"),
            "REDIS_URL": f"redis://127.0.0.1:{ports['redis']}/0",
            "PORT": str(ports["web"]),
            "FLOWER_PORT": str(ports["flower"]),
            "ADMIN_PASSWORD": "",
        }
    )
    return env


@dataclass
class Stack:
    """A supervisor started as `make run` starts it, on a fresh machine's ports."""

    process: Process
    env: dict[str, str]
    marker: str
    web: int
    flower: int
    redis: int


@contextmanager
def supervisor(tmp_path: Path, output_dir: Path) -> Iterator[Stack]:
    """The supervisor running; its output printed when the test fails, and every process it
    left behind killed afterwards."""
    web, flower, redis_port = free_port(), free_port(), free_port()
    marker = uuid.uuid4().hex
    env = fresh_machine(tmp_path, marker, web=web, flower=flower, redis=redis_port)
    (output_dir / "stack.log").unlink(missing_ok=True)  # this run's output alone
    process = Process("stack", [sys.executable, "-m", "avatarsite.stack"], env, output_dir)
    try:
        yield Stack(process, env, marker, web, flower, redis_port)
    except BaseException:
        print(process.output()[-6000:])
        raise
    finally:
        for pid in processes_with_marker(marker):
            os.kill(pid, signal.SIGKILL)
        process.stop()


def flower_get(port: int, path: str, password: str) -> tuple[int, bytes]:
    credentials = base64.b64encode(f"operator:{password}".encode()).decode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Basic {credentials}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def command_lines(marker: str) -> dict[int, bytes]:
    lines = {}
    for pid in processes_with_marker(marker):
        try:
            lines[pid] = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
    return lines


def test_supervisor_runs_a_healthy_stack_and_stops_every_child(
    tmp_path: Path, output_dir: Path
) -> None:
    with supervisor(tmp_path, output_dir) as running:
        stack, marker = running.process, running.marker
        port, flower_port, redis_port = running.web, running.flower, running.redis
        wait_until(lambda: fetch_health(port)[0] == 200, 180, "/healthz answering 200")
        status, body = fetch_health(port)
        assert status == 200 and body["status"] == "ok"
        assert body["database"]["ok"] and body["redis"]["ok"]
        assert body["queues"]["lipsync"]["ok"] and body["queues"]["speech"]["ok"]
        assert body["warm"] == "warm"  # ready means the models are loaded
        assert body["asr"]["backend"] == "faster-whisper"
        # Flower starts once both workers answer (the lipsync worker bakes the demo avatar first).
        wait_until(lambda: port_open(flower_port), 120, "Flower answering")
        flower = urllib.request.Request(f"http://127.0.0.1:{flower_port}/")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(flower, timeout=5)
        assert refused.value.code == 401  # Flower wants basic auth
        password = (tmp_path / "var" / "flower_password").read_text().strip()
        assert flower_get(flower_port, "/", password)[0] == 200
        # The password is in no command line: `ps` shows those to every local user.
        commands = command_lines(marker)
        assert any(b"flower" in line for line in commands.values())
        assert not [pid for pid, line in commands.items() if password.encode() in line]

        # Flower started once the workers answered: its first look at them found them, and it
        # logged no "Inspect method ... failed".
        def flower_knows_the_workers() -> bool:
            workers = json.loads(flower_get(flower_port, "/api/workers", password)[1])
            return any(name.startswith(("lipsync@", "speech@")) for name in workers)

        wait_until(flower_knows_the_workers, 30, "Flower's first inspection answered")
        assert "Inspect method" not in stack.output()
        # supervisor, web, two workers, flower; redis-server rewrites its environ for its title,
        # so it is checked by its port instead.
        assert len(processes_with_marker(marker)) >= 5
        assert port_open(redis_port)

        stack.popen.send_signal(signal.SIGINT)  # what Ctrl-C delivers to the supervisor
        stack.popen.wait(60)
        wait_until(lambda: not processes_with_marker(marker), 15, "every child gone")
        assert not port_open(redis_port) and not port_open(port) and not port_open(flower_port)
    assert stack.popen.returncode == 0
    assert "admin 'admin' created; password (shown only now)" in stack.output()


def test_a_supervisor_killed_outright_takes_every_child_with_it(
    tmp_path: Path, output_dir: Path
) -> None:
    with supervisor(tmp_path, output_dir) as running:
        stack, env, marker = running.process, running.env, running.marker
        port, flower_port, redis_port = running.web, running.flower, running.redis
        # Flower starts last, once a worker answers: then every child is running.
        wait_until(lambda: port_open(port) and port_open(flower_port), 180, "web and Flower up")
        children = set(processes_with_marker(marker)) - {stack.popen.pid}
        assert len(children) >= 5  # web, two workers, beat, Flower (and redis-server by port)

        # A second `make run` beside it: one line naming the busy port and who holds it.
        second = subprocess.run(
            [sys.executable, "-m", "avatarsite.stack"],
            env={**env, MARKER: uuid.uuid4().hex},
            capture_output=True,
            text=True,
            timeout=60,
        )
        said = (second.stdout + second.stderr).strip().splitlines()
        assert second.returncode != 0
        assert len(said) == 1 and f"port {port} " in said[0] and "daphne" in said[0], said

        os.kill(stack.popen.pid, signal.SIGKILL)  # the supervisor alone, as the OOM killer would
        stack.popen.wait(10)
        wait_until(lambda: not processes_with_marker(marker), 20, "every child gone")
        # redis-server renames itself, hiding the marker: it is seen by its port.
        ports = {"web": port, "flower": flower_port, "redis": redis_port}
        wait_until(lambda: not any(map(port_open, ports.values())), 10, "every port free")


def test_a_busy_port_stops_the_supervisor_before_it_starts_anything(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        marker = uuid.uuid4().hex
        env = fresh_machine(tmp_path, marker, web=free_port(), flower=busy, redis=free_port())
        try:
            stack = subprocess.run(
                [sys.executable, "-m", "avatarsite.stack"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        finally:  # a supervisor that started anything leaves it behind when killed by the timeout
            for pid in processes_with_marker(marker):
                os.kill(pid, signal.SIGKILL)
    said = (stack.stdout + stack.stderr).strip().splitlines()
    assert stack.returncode == 1
    assert len(said) == 1, said
    assert f"port {busy} (Flower, FLOWER_PORT) is taken by pid {os.getpid()} (" in said[0]
    assert not (tmp_path / "var").exists()  # nothing was prepared: no database, no secrets
