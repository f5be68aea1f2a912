"""Puts the fake piper program first on PATH, with a voice model, for one test."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

FAKE_PIPER = Path(__file__).with_name("fake_piper.py")


@dataclass
class FakePiper:
    model: Path
    log: Path
    gate: Path
    monkeypatch: pytest.MonkeyPatch

    def configure(self, *, mode: str = "ok", blocks: int = 10, gated: bool = False) -> None:
        self.monkeypatch.setenv("FAKE_PIPER_MODE", mode)
        self.monkeypatch.setenv("FAKE_PIPER_BLOCKS", str(blocks))
        if gated:
            self.monkeypatch.setenv("FAKE_PIPER_GATE", str(self.gate))
        else:
            self.monkeypatch.delenv("FAKE_PIPER_GATE", raising=False)

    def received(self) -> dict:
        return json.loads(self.log.read_text())


def write_voice(path: Path, sample_rate: int) -> Path:
    path.write_bytes(b"not a real onnx model")
    Path(f"{path}.json").write_text(json.dumps({"audio": {"sample_rate": sample_rate}}))
    return path


def install_fake_piper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePiper:
    """A `piper` executable first on PATH and a 22050 Hz voice model for it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "piper"
    program.write_text(f"#!{sys.executable}\n" + FAKE_PIPER.read_text())
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    log = tmp_path / "piper-call.json"
    monkeypatch.setenv("FAKE_PIPER_LOG", str(log))
    fake = FakePiper(
        write_voice(tmp_path / "voice.onnx", 22050), log, tmp_path / "gate", monkeypatch
    )
    fake.configure()
    return fake
