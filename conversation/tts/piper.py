"""piper backend: a neural voice model run by the piper CLI, raw PCM resampled to 16 kHz."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator
from contextlib import aclosing
from pathlib import Path

import numpy as np

from conversation.tts.base import TtsError, TtsErrorKind
from conversation.tts.pcm import PcmBlocks
from conversation.tts.process import stream_stdout


def voice_sample_rate(model_path: Path) -> int:
    """`audio.sample_rate` from the voice's `<model>.onnx.json`, as piper itself reads it."""
    config_path = Path(f"{model_path}.json")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        rate = config["audio"]["sample_rate"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TtsError(
            TtsErrorKind.BAD_VOICE,
            f"piper voice config {config_path} unusable ({type(exc).__name__})",
        ) from None
    if not isinstance(rate, int) or not 4000 <= rate <= 192000:
        raise TtsError(TtsErrorKind.BAD_VOICE, f"piper voice config {config_path}: bad sample_rate")
    return rate


class PiperTts:
    """Runs `piper --model MODEL --output-raw` per sentence with the text on stdin."""

    name = "piper"

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        program: str = "piper",
        timeout_s: float = 30.0,
    ) -> None:
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise TtsError(TtsErrorKind.BAD_VOICE, f"piper voice model {self.model_path} not found")
        self.sample_rate = voice_sample_rate(self.model_path)
        self.program = program
        self.timeout_s = timeout_s

    def argv(self) -> list[str]:
        """The command line: the model path only, never the text."""
        return [self.program, "--model", str(self.model_path), "--output-raw"]

    async def synthesize(
        self, text: str, *, voice: str, language: str
    ) -> AsyncGenerator[np.ndarray, None]:
        # The model is the voice: `voice` and `language` are fixed by it and go unused.
        # piper speaks each stdin line as an utterance; one sentence is one line.
        line = " ".join(text.split())
        if not line:
            return
        blocks = PcmBlocks(self.sample_rate)
        chunks = stream_stdout(
            self.argv(), f"{line}\n".encode(), source=self.name, timeout_s=self.timeout_s
        )
        # aclosing: when this generator is closed, the process generator must die with it.
        async with aclosing(chunks):
            async for data in chunks:
                for block in blocks.feed(data):
                    yield block
        for block in blocks.finish():
            yield block
