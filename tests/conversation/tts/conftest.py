from __future__ import annotations

from pathlib import Path

import pytest

from tests.conversation.tts.piper_install import FakePiper, install_fake_piper


@pytest.fixture
def fake_piper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePiper:
    """A `piper` executable first on PATH and a 22050 Hz voice model for it."""
    return install_fake_piper(tmp_path, monkeypatch)
