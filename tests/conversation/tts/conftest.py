from __future__ import annotations

from pathlib import Path

import pytest

from conversation.tts.voices import VoiceInfo, packaged_piper_voices


@pytest.fixture(scope="session")
def joe() -> VoiceInfo:
    """The packaged neural voice, en_US-joe-medium: the real model, as the product uses it."""
    (voice,) = packaged_piper_voices()
    assert voice.name == "en_US-joe-medium"
    return voice


def drop_voice(
    folder: Path, joe: VoiceInfo, name: str, *, language: str = "en_US", corrupt: bool = False
) -> Path:
    """A Piper voice dropped into `folder`: joe's model (linked, not copied: 60 MB) under
    another name and language, or a corrupt model beside a valid config."""
    assert joe.model_path is not None and joe.config_path is not None
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / f"{name}.onnx"
    if corrupt:
        model.write_bytes(b"\x08\x07not an onnx model" * 100)
    else:
        model.symlink_to(joe.model_path)
    config = joe.config_path.read_text(encoding="utf-8")
    config = config.replace('"code": "en_US"', f'"code": "{language}"')
    Path(f"{model}.json").write_text(config, encoding="utf-8")
    return model
