"""A bounded soak: many sessions, many turns, random barge-ins, against the real stack.

Each session asks questions; at random it lets the answer finish, interrupts it, or asks
something new over it. The driver records what a customer would notice going wrong: a turn that
never ends (stuck), media of a turn after its `interrupted`, and the processes' memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from conversation.protocol import MediaChunk
from tests.conversation.ws_client import AvatarClient

QUESTIONS = (
    "What are your opening hours?",
    "How do I return an item?",
    "How long does shipping take?",
    "How can I contact you?",
    "Which payment methods do you accept?",
)
TURN_TIMEOUT_S = 120.0


@dataclass
class SoakResult:
    turns: int = 0
    finished: int = 0
    interrupted: int = 0
    replaced: int = 0
    stuck: list[str] = field(default_factory=list)
    stray_media: int = 0
    fallback_turns: int = 0  # finished turns that used a fallback (audio over idle, mostly)
    ttfw_ms: list[float] = field(default_factory=list)
    rss_mb: dict[str, list[float]] = field(default_factory=dict)
    duration_s: float = 0.0

    @property
    def barge_ins(self) -> int:
        return self.interrupted + self.replaced

    def ttfw_percentile(self, q: float) -> float | None:
        """The q-th percentile (0..100) of the server's TTFW over finished turns."""
        if not self.ttfw_ms:
            return None
        ordered = sorted(self.ttfw_ms)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]

    def rss_thirds(self, name: str) -> tuple[float, float]:
        """Peak RSS (MB) of one process in the middle third of the run and in the last third."""
        samples = self.rss_mb[name]
        third = len(samples) // 3
        return max(samples[third : 2 * third]), max(samples[2 * third :])

    def summary(self, sessions: int) -> str:
        p50, p95 = self.ttfw_percentile(50), self.ttfw_percentile(95)
        peaks = " ".join(
            f"{n} max {max(v):.0f} MB (middle third {self.rss_thirds(n)[0]:.0f}, "
            f"last third {self.rss_thirds(n)[1]:.0f})"
            for n, v in self.rss_mb.items()
            if len(v) >= 3
        )
        return (
            f"sessions {sessions} turns {self.turns} finished {self.finished} "
            f"interrupted {self.interrupted} replaced {self.replaced} stuck {len(self.stuck)} "
            f"with fallback {self.fallback_turns} "
            f"stray {self.stray_media} ttfw p50 {p50 or 0:.0f} ms p95 {p95 or 0:.0f} ms "
            f"{peaks} duration {self.duration_s:.0f} s"
        )


def rss_mb(pid: int) -> float:
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return pages * 4096 / 2**20


def stray_media(client: AvatarClient) -> int:
    """Media of a turn received after that turn's `interrupted`."""
    stopped: set[str] = set()
    count = 0
    for event in client.events:
        if event.type == "interrupted":
            stopped.add(str(event.message.turn_id))
        elif isinstance(event.message, MediaChunk) and str(event.message.turn_id) in stopped:
            count += 1
    return count


async def _turn_id(client: AvatarClient) -> str:
    started = await client.until(
        lambda e: e.type == "state" and e.message.state == "thinking", TURN_TIMEOUT_S
    )
    return str(started[-1].message.turn_id)


async def _session(
    port: int, turns: int, rng: random.Random, result: SoakResult, name: str
) -> None:
    client = await AvatarClient.connect(port)
    try:
        await client.next_event(30)  # ready
        for n in range(turns):
            result.turns += 1
            await client.send({"type": "text", "text": rng.choice(QUESTIONS)})
            try:
                turn = await _turn_id(client)
                action = rng.choice(("finish", "finish", "interrupt", "replace"))
                if action == "finish":
                    done = await client.until(
                        lambda e, t=turn: e.type == "turn_end" and str(e.message.turn_id) == t,
                        TURN_TIMEOUT_S,
                    )
                    if done[-1].message.ttfw_ms is not None:  # the server's own count
                        result.ttfw_ms.append(done[-1].message.ttfw_ms)
                    result.fallback_turns += bool(done[-1].message.fallbacks)
                    result.finished += 1
                    continue
                await client.until(
                    lambda e, t=turn: (
                        isinstance(e.message, MediaChunk) and str(e.message.turn_id) == t
                    ),
                    TURN_TIMEOUT_S,
                )
                await asyncio.sleep(rng.uniform(0.0, 1.5))
                if action == "interrupt":
                    await client.send({"type": "interrupt"})
                    result.interrupted += 1
                else:
                    await client.send({"type": "text", "text": rng.choice(QUESTIONS)})
                    result.replaced += 1
                await client.until(
                    lambda e, t=turn: (
                        e.type in ("interrupted", "turn_end") and str(e.message.turn_id) == t
                    ),
                    TURN_TIMEOUT_S,
                )
                if action == "replace":  # the new question's turn runs to its end
                    await client.until(lambda e: e.type == "turn_end", TURN_TIMEOUT_S)
            except TimeoutError:
                result.stuck.append(f"{name} turn {n}")
                return
        await client.quiet_for(1.0)  # anything still in flight arrives now
    finally:
        result.stray_media += stray_media(client)
        await client.close()


async def soak(
    port: int, *, sessions: int, turns: int, pids: dict[str, int], seed: int = 11
) -> SoakResult:
    result = SoakResult(rss_mb={name: [] for name in pids})
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            for name, pid in pids.items():
                result.rss_mb[name].append(rss_mb(pid))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    started = time.monotonic()
    sampler = asyncio.create_task(sample())
    rngs = [random.Random(seed * 1000 + i) for i in range(sessions)]
    await asyncio.gather(
        *(_session(port, turns, rngs[i], result, f"session {i}") for i in range(sessions))
    )
    result.duration_s = time.monotonic() - started
    stop.set()
    await sampler
    return result
