"""`make run`'s supervisor, for real: it brings the stack up healthy and Ctrl-C leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import urllib.error
import urllib.request
import uuid
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


def test_supervisor_runs_a_healthy_stack_and_stops_every_child(
    tmp_path: Path, output_dir: Path
) -> None:
    port, flower_port, redis_port = free_port(), free_port(), free_port()
    marker = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        {
            MARKER: marker,
            "AVATAR_VAR_DIR": str(
                tmp_path / "var"
            ),  # a fresh machine: new SQLite file, new secrets
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",  # nothing listens: it must start one
            "PORT": str(port),
            "FLOWER_PORT": str(flower_port),
            "ADMIN_PASSWORD": "",
        }
    )
    stack = Process("stack", [sys.executable, "-m", "avatarsite.stack"], env, output_dir)
    try:
        wait_until(lambda: fetch_health(port)[0] == 200, 180, "/healthz answering 200")
        status, body = fetch_health(port)
        assert status == 200 and body["status"] == "ok"
        assert body["database"]["ok"] and body["redis"]["ok"]
        assert body["queues"]["lipsync"]["ok"] and body["queues"]["speech"]["ok"]
        assert body["warm"] == "warm"  # ready means the models are loaded
        assert body["asr"]["backend"] == "faster-whisper"
        flower = urllib.request.Request(f"http://127.0.0.1:{flower_port}/")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(flower, timeout=5)
        assert refused.value.code == 401  # Flower wants basic auth
        # supervisor, web, two workers, flower; redis-server rewrites its environ for its title,
        # so it is checked by its port instead.
        assert len(processes_with_marker(marker)) >= 5
        assert port_open(redis_port)

        stack.popen.send_signal(signal.SIGINT)  # what Ctrl-C delivers to the supervisor
        stack.popen.wait(60)
        wait_until(lambda: not processes_with_marker(marker), 15, "every child gone")
        assert not port_open(redis_port) and not port_open(port) and not port_open(flower_port)
    except BaseException:
        print(stack.output()[-6000:])
        raise
    finally:
        for pid in processes_with_marker(marker):
            os.kill(pid, signal.SIGKILL)
        stack.stop()
    assert stack.popen.returncode == 0
    assert "admin 'admin' created; password (shown only now)" in stack.output()
