"""Intelligibility of each voice, measured by ear of Whisper: every demo FAQ answer spoken by
Piper and by espeak-ng, transcribed with Whisper base, word error rate per voice; with each
voice's real-time factor and time to first audio. The Japanese answers likewise, spoken by
Kokoro and by espeak-ng's `ja`, with the character error rate (Japanese has no spaces).

    .venv/bin/python -m bench.voices [--json voices.json]

Both voices get what the product sends them: the answer chunked as a turn chunks it, each
chunk in its spoken form. Reference and transcript are compared in spoken form too (Whisper
writes "$4.95" where the voice said "four dollars ninety-five"), lower case, without
punctuation. Timings are in-process and one sentence at a time, after each voice's warm-up;
besides wall-clock times (which a busy machine stretches) it reports CPU seconds, which it does
not: CPU per second of audio, and for Piper (in this process, not streaming within a chunk) the
CPU its first chunk took before its first audio, which is the first audio's delay on an idle core.
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
from typing import TYPE_CHECKING, Any

import numpy as np

from avatars.demo_data import DEMO_FAQ, DEMO_FAQ_JA
from conversation.reply.chunker import SentenceChunker
from conversation.tts.base import OUTPUT_RATE, TtsBackend
from conversation.tts.espeak import EspeakTts
from conversation.tts.kokoro import KokoroTts
from conversation.tts.piper import PiperTts
from conversation.tts.spoken import spoken_form
from conversation.tts.voices import packaged_piper_voices

if TYPE_CHECKING:
    from conversation.asr.whisper_backend import FasterWhisperAsr


def words(text: str, language: str = "en") -> list[str]:
    """Comparable words: spoken form, lower case, no punctuation, hyphens as spaces; for
    Japanese, its characters without punctuation or spaces (the error rate is then per
    character)."""
    spoken = spoken_form(text, language).lower().replace("-", " ")
    plain = re.sub(r"[^\w' ]+", " ", spoken).replace("'", "")
    return [c for c in plain if not c.isspace()] if language == "ja" else plain.split()


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
    cpu_s: float = 0.0
    first_cpu_ms: list[float] = field(default_factory=list)
    worst: list[tuple[float, str, str]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        firsts = sorted(self.first_audio_ms)
        first_cpu = sorted(self.first_cpu_ms)
        return {
            "voice": self.voice,
            "wer": round(self.errors / max(1, self.reference_words), 4),
            "errors": self.errors,
            "reference_words": self.reference_words,
            "rtf": round(self.synth_s / max(1e-9, self.audio_s), 4),
            "audio_s": round(self.audio_s, 1),
            "cpu_per_audio_s": round(self.cpu_s / max(1e-9, self.audio_s), 4),
            "first_audio_cpu_ms_p50": round(statistics.median(first_cpu), 1),
            "first_audio_cpu_ms_max": round(first_cpu[-1], 1),
            "first_audio_ms_p50": round(statistics.median(firsts), 1),
            "first_audio_ms_max": round(firsts[-1], 1),
            "worst": [
                {"wer": round(w, 3), "reference": r, "heard": h}
                for w, r, h in sorted(self.worst, reverse=True)[:3]
            ],
        }


def cpu_s() -> float:
    """CPU seconds of this process (all its threads) and of its children that have ended."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class Spoken:
    audio: np.ndarray
    wall_s: float
    cpu_s: float
    first_ms: float
    first_cpu_ms: float


async def speak(tts: TtsBackend, answer: str, voice: str, language: str = "en") -> Spoken:
    """The answer chunked and spoken as a turn does, with its timings."""
    chunker = SentenceChunker()
    chunks = chunker.push(answer) + chunker.flush()
    blocks: list[np.ndarray] = []
    first_ms = first_cpu_ms = spent = used = 0.0
    for index, chunk in enumerate(chunks):
        started, cpu_started = time.perf_counter(), cpu_s()
        stream = tts.synthesize(spoken_form(chunk, language), voice=voice, language=language)
        async for block in stream:
            if index == 0 and not first_ms:
                first_ms = (time.perf_counter() - started) * 1000
                first_cpu_ms = (cpu_s() - cpu_started) * 1000
            blocks.append(block)
        spent += time.perf_counter() - started
        used += cpu_s() - cpu_started
    return Spoken(np.concatenate(blocks), spent, used, first_ms, first_cpu_ms)


async def measure(
    asr: FasterWhisperAsr, name: str, tts: TtsBackend, voice: str, language: str = "en"
) -> VoiceFigures:
    figures = VoiceFigures(name)
    faq, warm_up = (DEMO_FAQ_JA, "はい、どうぞ。") if language == "ja" else (DEMO_FAQ, "Warm up.")
    await speak(tts, warm_up, voice, language)  # model load and first-call costs
    for _question, _paraphrases, answer in faq:
        spoken = await speak(tts, answer, voice, language)
        audio = spoken.audio
        heard = asr.transcribe(audio, language=language).text
        reference, hypothesis = words(answer, language), words(heard, language)
        errors = edit_distance(reference, hypothesis)
        figures.errors += errors
        figures.reference_words += len(reference)
        figures.synth_s += spoken.wall_s
        figures.cpu_s += spoken.cpu_s
        figures.audio_s += audio.size / OUTPUT_RATE
        figures.first_audio_ms.append(spoken.first_ms)
        figures.first_cpu_ms.append(spoken.first_cpu_ms)
        figures.worst.append((errors / max(1, len(reference)), answer, heard))
    return figures


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| voice | error rate | errors / words (characters) | CPU s per audio s "
        "| first audio, CPU p50 / max "
        "| wall-clock RTF | first audio, wall p50 / max |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        in_process = not str(r["voice"]).startswith("espeak-ng")
        first_cpu = (
            f"{r['first_audio_cpu_ms_p50']} / {r['first_audio_cpu_ms_max']} ms"
            if in_process
            else "streams (a child process)"
        )
        lines.append(
            f"| {r['voice']} | {r['wer'] * 100:.1f} % | {r['errors']} / {r['reference_words']} "
            f"| {r['cpu_per_audio_s']} | {first_cpu} | {r['rtf']} "
            f"| {r['first_audio_ms_p50']} / {r['first_audio_ms_max']} ms |"
        )
    return "\n".join(lines)


async def run(models_dir: Path) -> list[dict[str, Any]]:
    from conversation.asr.packaged import whisper_base
    from conversation.asr.whisper_backend import FasterWhisperAsr

    asr = FasterWhisperAsr(str(whisper_base(models_dir)))
    (joe,) = packaged_piper_voices()
    assert joe.model_path is not None
    voices: list[tuple[str, TtsBackend, str, str]] = [
        (f"Piper {joe.name}", PiperTts(joe.model_path, joe.config_path), "", "en"),
        ("espeak-ng en-us", EspeakTts(), "en-us", "en"),
        ("Kokoro jf_alpha (Japanese, per character)", KokoroTts(models_dir), "jf_alpha", "ja"),
        ("espeak-ng ja (Japanese, per character)", EspeakTts(), "ja", "ja"),
    ]
    return [
        (await measure(asr, name, tts, voice, language)).summary()
        for name, tts, voice, language in voices
    ]


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
        f"\n{len(DEMO_FAQ)} English and {len(DEMO_FAQ_JA)} Japanese demo answers; "
        f"{os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end; Python {platform.python_version()}; "
        "Whisper base int8, greedy"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
