"""Phonemes as a TTS engine spoke them: what lets the mouth follow the words, not only loudness."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PhonemeSpan:
    """One phoneme of a sentence's audio: its IPA symbol(s) and the samples it covers.

    `start` and `end` count 16 kHz samples from the first sample of that sentence's audio.
    """

    ipa: str
    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"phoneme span {self.start}..{self.end} is not a forward range")
