"""`manage.py bench --short` against the stack it starts: every figure is there, and sane.

No timing is asserted (the machines are shared); the figures' presence, their types and the
guarantees that are not timings (no old-turn media after `interrupted`, the spoken question
understood, three subtitles for the three-sentence answer) are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def test_the_short_benchmark_runs_the_real_stack_and_reports_every_figure(output_dir: Path) -> None:
    out = output_dir / "bench.json"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "AVATAR_VAR_DIR"}}
    done = subprocess.run(
        [sys.executable, "manage.py", "bench", "--short", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    (output_dir / "bench.out").write_text(done.stdout + done.stderr)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "typed TTFW, cache miss" in done.stdout and "barge-in" in done.stdout  # the table
    result = json.loads(out.read_text())

    typed = result["typed"]
    assert number(typed["first_turn_ttfw_ms"])
    for key in ("ttfw_miss_ms", "ttfw_hit_ms"):
        assert typed[key]["n"] >= 1 and number(typed[key]["p50"]) and number(typed[key]["p95"])
    assert typed["fallbacks"] == []
    session = typed["speaking_session"]
    assert number(session["mbit_per_s_while_speaking"]) and session["frames_per_audio_s"] == 25.0

    spoken = result["spoken"]
    assert spoken["understood"] == "1/1" and number(spoken["ttfw_from_end_of_speech_ms"]["p50"])

    hearing = result["hearing"]
    assert set(hearing) == {"whisper", "pocketsphinx"}
    for backend in hearing.values():
        figures = backend["1_speakers"]
        assert figures["utterances"] == 4 and figures["wer"] >= 0
        assert 0 <= figures["right_faq_rate"] <= 1 and 0 <= figures["false_end_of_turn_rate"] <= 1
        assert figures["ttfw_from_end_of_speech_ms"]["n"] >= 1
    # The default ears understand the spoken set far better than the fallback.
    assert hearing["whisper"]["1_speakers"]["wer"] < hearing["pocketsphinx"]["1_speakers"]["wer"]

    barge = result["barge_in"]
    assert barge["old_media_after_interrupted"] == 0
    assert number(barge["interrupt_to_interrupted_ms"]["p95"])
    assert number(barge["interrupt_to_last_old_media_ms"]["p95"])

    sweep = result["concurrency"]
    assert set(sweep) == {"1", "2"}
    for level in sweep.values():
        assert 0 <= level["sessions_without_underrun"] <= level["sessions"]
        assert level["lips_fraction"] > 0 and number(level["frames_served_per_s"])

    full = result["full_text"]
    assert number(full["ratio"]) and full["ttfw_full_text_ms"]["n"] == 1

    assert {"web", "lipsync", "speech", "redis"} <= set(result["processes"])
    assert all(
        number(p["cpu_percent"]) and p["peak_rss_mb"] > 0 for p in result["processes"].values()
    )
    assert {"understand_ms", "tts_first_audio_ms", "lipsync_first_frames_ms", "asr_ms"} <= set(
        result["stages_ms"]
    )
    assert number(result["renderer_fps"]["cpu"])
    assert result["machine"]["cpus"] >= 1
