"""Loaded with `-p tests.environment` before Django: gives the suite a real Redis and a var dir.

Uses REDIS_URL when a Redis answers there (CI points it at the machine's server), else starts
a private redis-server on a free port for the session. Runtime files go to a temp folder.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def start_redis_server(port: int, data_dir: str) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("tests need a Redis: set REDIS_URL or install redis-server")
    process = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            data_dir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not _answers(url):
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("redis-server for the tests did not start")
        time.sleep(0.05)
    return process


def _own_database(url: str) -> str:
    """REDIS_URL for this pytest process: parallel workers (pytest-xdist's gw0, gw1, …) each
    take the next database number, so queues, channels and cancel flags never cross. Celery's
    broadcasts (ping, revoke, events) are prefixed with the database number by kombu."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{base + int(worker[2:])}"))


def _configure() -> None:
    var_dir = tempfile.mkdtemp(prefix="avatar-tests-")
    os.environ["AVATAR_VAR_DIR"] = var_dir
    # Packaged models are assembled once for every run (they are checked by sha256 each time).
    models = Path(__file__).resolve().parent.parent / "var" / "models"
    os.environ.setdefault("AVATAR_MODELS_DIR", str(models))
    atexit.register(shutil.rmtree, var_dir, True)
    url = _own_database(os.environ.get("REDIS_URL", ""))
    if url and _answers(url):
        os.environ["REDIS_URL"] = url
        redis.Redis.from_url(url).flushdb()
        return
    process = start_redis_server(free_port(), var_dir)
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{process.args[4]}/0"  # type: ignore[index]
    atexit.register(process.kill)


_configure()
