"""The soak, bounded: in CI 8 sessions x 3 turns; `SOAK_FULL=1` runs 50 x 10 (minutes)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.processes import wait_until
from tests.reliability.soak import soak

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

FULL = os.environ.get("SOAK_FULL") == "1"


def health(port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:  # 503: the body still says what is not ready
        return json.loads(error.read())


def machine() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in lines if "model name" in line), "?")
    return f"{os.cpu_count()} cores, {cpu}"


def test_many_sessions_with_random_barge_ins_leave_nothing_stuck_stray_or_broken(
    demo_avatar, start_worker, start_daphne, output_dir
) -> None:
    sessions, turns = (50, 10) if FULL else (8, 3)
    worker = start_worker("lipsync")
    web, port = start_daphne(LIPSYNC_TIMEOUT_S="3")
    # As a load balancer's readiness check would: no customers before the models are loaded.
    wait_until(lambda: health(port)["warm"] == "warm", 120, "web process warm")
    result = asyncio.run(
        soak(
            port,
            sessions=sessions,
            turns=turns,
            pids={"web": web.popen.pid, "lipsync": worker.popen.pid},
        )
    )
    report = f"{result.summary(sessions)} machine {machine()}"
    print(report)
    (output_dir / "soak.txt").write_text(report + "\n")
    assert result.turns == sessions * turns
    assert result.stuck == []
    assert result.stray_media == 0
    assert result.interrupted + result.replaced > 0  # barge-ins really happened
    for process in (web, worker):
        log = process.output()
        assert "Traceback" not in log, log[-3000:]
        errors = [
            line
            for line in log.splitlines()
            if re.search(r"\bERROR\b", line) and "/healthz" not in line  # 503 until workers answer
        ]
        assert errors == [], errors[:5]
    if FULL:  # memory levels off: the last third of the run is not above the middle third
        for name in result.rss_mb:
            middle, last = result.rss_thirds(name)
            assert last <= middle * 1.15 + 50, (name, middle, last)
