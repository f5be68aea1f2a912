"""`python manage.py bench`: the real stack over real WebSockets, figures against the targets.

Starts its own stack (private Redis and var dir, the demo avatar baked) unless `--url` names a
running one; prints a table and writes JSON. `--short` runs every scenario once, small (CI).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from bench import scenarios
from bench.stack import Stack, attach, start_stack
from bench.stats import table

SCENARIOS = ("typed", "spoken", "hearing", "barge-in", "concurrency", "full-text")


def machine() -> dict[str, Any]:
    cpus = os.cpu_count()
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        memory = int(Path("/proc/meminfo").read_text().split()[1]) // 2**20
    except OSError:
        memory = 0
    return {
        "cpus": cpus,
        "cpu": model,
        "memory_gib": memory,
        "python": platform.python_version(),
        "gpu": "none (embedded defaults: FAQ answerer, espeak-ng, CPU renderer)",
    }


def _fmt(value: Any, unit: str = "") -> str:
    return "n/a" if value is None else f"{value}{unit}"


def rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out: list[tuple[str, str, str, str]] = []
    typed = result.get("typed")
    if typed:
        miss, hit = typed["ttfw_miss_ms"], typed["ttfw_hit_ms"]
        out.append(
            (
                "typed TTFW, cache miss",
                f"p50 {_fmt(miss['p50'])} / p95 {_fmt(miss['p95'])} ms",
                "p50 <= 200, p95 <= 400 ms",
                f"n={miss['n']}",
            )
        )
        out.append(
            ("typed TTFW, cache hit", f"p50 {_fmt(hit['p50'])} ms", "p50 <= 50 ms", f"n={hit['n']}")
        )
        session = typed["speaking_session"]
        out.append(
            (
                "bandwidth per speaking session",
                f"{_fmt(session['mbit_per_s_while_speaking'])} Mbit/s",
                "<= 1 Mbit/s",
                "live-rendered answers",
            )
        )
    spoken = result.get("spoken")
    if spoken:
        s = spoken["ttfw_from_end_of_speech_ms"]
        out.append(
            (
                "spoken TTFW from end of speech",
                f"p50 {_fmt(s['p50'])} ms",
                "p50 <= 600 ms",
                f"understood {spoken['understood']}",
            )
        )
    for backend, levels in (result.get("hearing") or {}).items():
        for level, h in levels.items():
            speakers = level.split("_")[0]
            s = h["ttfw_from_end_of_speech_ms"]
            out.append(
                (
                    f"spoken set, {backend}, {speakers} speaker(s)",
                    f"right FAQ {h['right_faq']}, false end of turn {h['false_end_of_turn']}, "
                    f"TTFW p50 {_fmt(s['p50'])} / p95 {_fmt(s['p95'])} ms",
                    ">= 90 %, <= 5 %, p50 <= 1000 / p95 <= 1500 ms",
                    f"WER {h['wer']}, revised {h['revised']}, retracted {h['retracted']}",
                )
            )
    barge = result.get("barge_in")
    if barge:
        b = barge["interrupt_to_interrupted_ms"]
        out.append(
            (
                "barge-in: interrupt -> interrupted",
                f"p50 {_fmt(b['p50'])} / p95 {_fmt(b['p95'])} ms",
                "p95 <= 50 ms",
                f"n={b['n']}",
            )
        )
        out.append(
            ("old-turn media after interrupted", str(barge["old_media_after_interrupted"]), "0", "")
        )
    sweep = result.get("concurrency")
    if sweep:

        def clean(level: dict[str, Any]) -> bool:
            n = level["sessions"]
            return level["sessions_without_underrun"] == n == level["sessions_with_lips_throughout"]

        best = max((int(n) for n, level in sweep.items() if clean(level)), default=0)
        detail = ", ".join(
            f"{n}: {level['sessions_without_underrun']}/{n} smooth, {level['sessions_with_lips_throughout']}/{n} all lips"
            for n, level in sweep.items()
        )
        out.append(("concurrent sessions, smooth and all lips", str(best), ">= 10", detail))
    full = result.get("full_text")
    if full and "ratio" in full:
        out.append(
            (
                "streaming / full-text TTFW",
                _fmt(full["ratio"]),
                "<= 0.3",
                f"{full['ttfw_streaming_ms']['p50']} / {full['ttfw_full_text_ms']['p50']} ms",
            )
        )
    for renderer, fps in (result.get("renderer_fps") or {}).items():
        out.append(
            (
                f"frames/s, {renderer} renderer (1 thread)",
                str(fps),
                ">= 250 (CPU)" if renderer == "cpu" else "",
                "",
            )
        )
    return out


class Command(BaseCommand):
    help = "Benchmark the real stack over WebSockets: latency, barge-in, capacity, bandwidth."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url", help="Attach to a running stack (http://host:port) instead of starting one."
        )
        parser.add_argument("--short", action="store_true", help="Every scenario once, small (CI).")
        parser.add_argument(
            "--only", choices=SCENARIOS, action="append", help="Run only these scenarios."
        )
        parser.add_argument("--repeats", type=int, default=8, help="Turns per latency scenario.")
        parser.add_argument("--sessions", default="1,2,4,8,16,24,32", help="Concurrency levels.")
        parser.add_argument("--json", dest="json_path", help="Write the figures here as JSON.")
        parser.add_argument(
            "--speakers", default="1,4", help="Speakers at once for the spoken set (hearing)."
        )
        parser.add_argument(
            "--no-pocketsphinx",
            action="store_true",
            help="Leave the fallback recognizer out of the spoken set.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        short = options["short"]
        repeats = 1 if short else options["repeats"]
        levels = [1, 2] if short else [int(n) for n in options["sessions"].split(",")]
        chosen = options["only"] or list(SCENARIOS)
        self.stderr.write(
            "starting the stack…" if not options["url"] else f"attaching to {options['url']}"
        )
        stack: Stack = (
            attach(options["url"])
            if options["url"]
            else start_stack(
                baseline="full-text" in chosen,
                pocketsphinx="hearing" in chosen and not options["no_pocketsphinx"],
            )
        )
        try:
            speakers = (1,) if short else tuple(int(n) for n in options["speakers"].split(","))
            result = asyncio.run(self._run(stack, chosen, repeats, levels, speakers, short))
        finally:
            stack.stop()
        result["machine"] = machine()
        result["mode"] = "short" if short else "full"
        self.stdout.write(table(rows(result)))
        text = json.dumps(result, indent=2)
        if options["json_path"]:
            Path(options["json_path"]).write_text(text + "\n")
        else:
            self.stdout.write(text)

    async def _run(
        self,
        stack: Stack,
        chosen: list[str],
        repeats: int,
        levels: list[int],
        speakers: tuple[int, ...],
        short: bool,
    ) -> dict[str, Any]:
        sampler = scenarios.UsageSampler(stack.pids()) if stack.owned else None
        result: dict[str, Any] = {}
        steps = {
            "typed": lambda: scenarios.typed(stack, repeats),
            "spoken": lambda: scenarios.spoken(stack, repeats),
            "hearing": lambda: scenarios.hearing(
                stack, speakers=speakers, limit=4 if short else None
            ),
            "barge-in": lambda: scenarios.barge_in(stack, max(repeats, 2)),
            "concurrency": lambda: scenarios.concurrency(stack, levels),
            "full-text": lambda: scenarios.full_text(stack, repeats),
        }
        for name in chosen:
            self.stderr.write(f"scenario {name}…")
            result[name.replace("-", "_")] = await steps[name]()
        if sampler is not None:
            result["processes"] = sampler.stop()
            result["stages_ms"] = scenarios.stages_from_logs(stack)
            result["renderer_fps"] = await asyncio.to_thread(scenarios.renderer_fps, stack)
        return result
