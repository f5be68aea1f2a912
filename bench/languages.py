"""Which language Whisper base hears, for an avatar that speaks English and Japanese: every demo
FAQ question and paraphrase spoken by espeak-ng (English) and by Kokoro (Japanese, two voices),
Whisper's probability of each language, and how often the rule of
`whisper_backend.choose_language` picks the right one at several odds.

    .venv/bin/python -m bench.languages

Whisper sees what a session gives it: the utterance in a window fitted to its length.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatars.demo_data import DEMO_FAQ, DEMO_FAQ_JA
from bench.audio import espeak_pcm16
from conversation.asr.whisper_backend import OTHER_LANGUAGE_ODDS, choose_language
from conversation.tts.kokoro import KokoroTts

ODDS = sorted({1.0, 4.0, 16.0, 64.0, OTHER_LANGUAGE_ODDS})


@dataclass
class Heard:
    speaker: str
    language: str
    probabilities: dict[str, float]

    @property
    def top(self) -> str:
        return max(self.probabilities, key=self.probabilities.__getitem__)

    def odds(self) -> float:
        """How many times as likely Japanese is as English (the avatar's own language)."""
        return self.probabilities.get("ja", 0.0) / max(self.probabilities.get("en", 0.0), 1e-9)


def phrases(faq: list[tuple[str, list[str], str]]) -> list[str]:
    return [text for question, paraphrases, _ in faq for text in (question, *paraphrases)]


async def kokoro_pcm16(tts: KokoroTts, text: str, voice: str) -> np.ndarray:
    return np.concatenate([b async for b in tts.synthesize(text, voice=voice, language="ja")])


async def run(models_dir: Path) -> list[Heard]:
    from conversation.asr.packaged import whisper_base
    from conversation.asr.whisper_backend import FasterWhisperAsr

    asr = FasterWhisperAsr(str(whisper_base(models_dir)))
    kokoro = KokoroTts(models_dir)
    heard = [
        Heard("espeak-ng en-us", "en", asr.language_probabilities(espeak_pcm16(text)))
        for text in phrases(DEMO_FAQ)
    ]
    for index, text in enumerate(phrases(DEMO_FAQ_JA)):
        voice = ("jf_alpha", "jm_kumo")[index % 2]
        audio = await kokoro_pcm16(kokoro, text, voice)
        heard.append(Heard("Kokoro jf_alpha / jm_kumo", "ja", asr.language_probabilities(audio)))
    return heard


def markdown(heard: list[Heard]) -> str:
    head = " | ".join(f"right at odds {odds:g}" for odds in ODDS)
    lines = [
        f"| speech | utterances | Whisper's top language right | {head} | odds ja:en, range |",
        "|" + " --- |" * (5 + len(ODDS) - 1),
    ]
    for speaker in dict.fromkeys(h.speaker for h in heard):
        group = [h for h in heard if h.speaker == speaker]
        top = sum(h.top == h.language for h in group)
        right = [
            sum(choose_language(h.probabilities, "en", ["ja"], odds) == h.language for h in group)
            for odds in ODDS
        ]
        ratios = [h.odds() for h in group]
        lines.append(
            f"| {speaker} | {len(group)} | {top} | "
            + " | ".join(str(r) for r in right)
            + f" | {min(ratios):.3g} to {max(ratios):.3g} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=Path(os.environ.get("AVATAR_VAR_DIR", "var")) / "models",
        help="where Whisper base and Kokoro are assembled from their packages",
    )
    args = parser.parse_args(argv)
    print(markdown(asyncio.run(run(args.models_dir))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
