"""Intelligibility of each voice, measured by ear of Whisper: every demo FAQ answer spoken by
Piper and by espeak-ng, transcribed with Whisper base, word error rate per voice; with each
voice's real-time factor and time to first audio.

    .venv/bin/python -m bench.voices [--json voices.json]

Both voices get what the product sends them: the answer chunked as a turn chunks it, each
chunk in its spoken form. Reference and transcript are compared in spoken form too (Whisper
writes "$4.95" where the voice said "four dollars ninety-five"), lower case, without
punctuation. Timings are in-process and one sentence at a time, after each voice's warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from avatars.demo_data import DEMO_FAQ
from conversation.reply.chunker import SentenceChunker
from conversation.tts.base import OUTPUT_RATE, TtsBackend
from conversation.tts.espeak import EspeakTts
from conversation.tts.piper import PiperTts
from conversation.tts.spoken import spoken_form
from conversation.tts.voices import packaged_piper_voices

if TYPE_CHECKING:
    from conversation.asr.whisper_backend import FasterWhisperAsr


def words(text: str) -> list[str]:
    """Comparable words: spoken form, lower case, no punctuation, hyphens as spaces."""
    spoken = spoken_form(text, "en").lower().replace("-", " ")
    return re.sub(r"[^\w' ]+", " ", spoken).replace("'", "").split()


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level Levenshtein distance: substitutions, deletions and insertions."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


@dataclass
class VoiceFigures:
    voice: str
    errors: int = 0
    reference_words: int = 0
    synth_s: float = 0.0
    audio_s: float = 0.0
    first_audio_ms: list[float] = field(default_factory=list)
    worst: list[tuple[float, str, str]] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        firsts = sorted(self.first_audio_ms)
        return {
            "voice": self.voice,
            "wer": round(self.errors / max(1, self.reference_words), 4),
            "errors": self.errors,
            "reference_words": self.reference_words,
            "rtf": round(self.synth_s / max(1e-9, self.audio_s), 4),
            "audio_s": round(self.audio_s, 1),
            "first_audio_ms_p50": round(statistics.median(firsts), 1),
            "first_audio_ms_max": round(firsts[-1], 1),
            "worst": [
                {"wer": round(w, 3), "reference": r, "heard": h}
                for w, r, h in sorted(self.worst, reverse=True)[:3]
            ],
        }


async def speak(tts: TtsBackend, answer: str, voice: str) -> tuple[np.ndarray, float, float]:
    """The answer's audio, the seconds spent synthesizing it and the first audio's delay (ms)."""
    chunker = SentenceChunker()
    chunks = chunker.push(answer) + chunker.flush()
    blocks: list[np.ndarray] = []
    first_ms = 0.0
    spent = 0.0
    for index, chunk in enumerate(chunks):
        started = time.perf_counter()
        stream = tts.synthesize(spoken_form(chunk, "en"), voice=voice, language="en")
        async for block in stream:
            if index == 0 and not first_ms:
                first_ms = (time.perf_counter() - started) * 1000
            blocks.append(block)
        spent += time.perf_counter() - started
    return np.concatenate(blocks), spent, first_ms


async def measure(asr: FasterWhisperAsr, name: str, tts: TtsBackend, voice: str) -> VoiceFigures:
    figures = VoiceFigures(name)
    await speak(tts, "Warm up, please.", voice)  # model load and first-call costs
    for _question, _paraphrases, answer in DEMO_FAQ:
        audio, spent, first_ms = await speak(tts, answer, voice)
        heard = asr.transcribe(audio, language="en").text
        reference, hypothesis = words(answer), words(heard)
        errors = edit_distance(reference, hypothesis)
        figures.errors += errors
        figures.reference_words += len(reference)
        figures.synth_s += spent
        figures.audio_s += audio.size / OUTPUT_RATE
        figures.first_audio_ms.append(first_ms)
        figures.worst.append((errors / max(1, len(reference)), answer, heard))
    return figures


def markdown(results: list[dict[str, object]]) -> str:
    lines = [
        "| voice | WER | errors / words | real-time factor | first audio p50 | first audio max |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['voice']} | {float(r['wer']) * 100:.1f} % | {r['errors']} / "  # type: ignore[arg-type]
            f"{r['reference_words']} | {r['rtf']} | {r['first_audio_ms_p50']} ms | "
            f"{r['first_audio_ms_max']} ms |"
        )
    return "\n".join(lines)


async def run(models_dir: Path) -> list[dict[str, object]]:
    from conversation.asr.packaged import whisper_base
    from conversation.asr.whisper_backend import FasterWhisperAsr

    asr = FasterWhisperAsr(str(whisper_base(models_dir)))
    (joe,) = packaged_piper_voices()
    assert joe.model_path is not None
    voices: list[tuple[str, TtsBackend, str]] = [
        (f"Piper {joe.name}", PiperTts(joe.model_path, joe.config_path), ""),
        ("espeak-ng en-us", EspeakTts(), "en-us"),
    ]
    return [(await measure(asr, name, tts, voice)).summary() for name, tts, voice in voices]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here as JSON too")
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=Path(os.environ.get("AVATAR_VAR_DIR", "var")) / "models",
        help="where Whisper base is assembled from its packages",
    )
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.models_dir))
    print(markdown(results))
    print(
        f"\n{len(DEMO_FAQ)} demo answers; {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; Whisper base int8, greedy"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
