"""Test speech made by espeak-ng, as 16 kHz mono int16 samples (shared with the benchmark)."""

from bench.audio import espeak_pcm16, with_noise

__all__ = ["espeak_pcm16", "with_noise"]
