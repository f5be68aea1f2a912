"""Photos of real faces for tests/lipsync_worker/test_real_portraits.py, from pinned PyPI packages.

Run by `make portraits`: downloads each package with pip (exact version, no dependencies) into
var/cache/portraits/ only when a portrait it holds is missing, checks the archive's sha256 and
takes the portraits out into var/portraits/, checking theirs. Quiet when all are there; a
mismatch deletes the file, says so and exits 1. Licences and crops: docs/lipsync.md.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "cache" / "portraits"
PORTRAITS = ROOT / "var" / "portraits"


@dataclass(frozen=True)
class Archive:
    requirement: str
    filename: str
    sha256: str
    pip_options: tuple[str, ...]
    # portrait's name in var/portraits -> (its path in the archive, its sha256)
    members: dict[str, tuple[str, str]]


STIMS = "psychopy/demos/builder/Design Templates/randomisedBlocks/stims"
ARCHIVES = (
    # MIT; the two photos are official portraits, U.S. government works (public domain).
    Archive(
        requirement="face_recognition==1.3.0",
        filename="face_recognition-1.3.0.tar.gz",
        sha256="5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec",
        pip_options=("--no-binary", ":all:"),  # the test images ship in the sdist only
        members={
            "biden.jpg": (
                "face_recognition-1.3.0/tests/test_images/biden.jpg",
                "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c",
            ),
            "obama.jpg": (
                "face_recognition-1.3.0/tests/test_images/obama.jpg",
                "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6",
            ),
        },
    ),
    # GPL-3: a demo's stimulus, a bearded man, mouth closed, frontal.
    Archive(
        requirement="psychopy==2026.2.5",
        filename="psychopy-2026.2.5-py3-none-any.whl",
        sha256="271ff330e371ffd3b6d4c03a8ddf646034fdc24eaaea0da5e04226c8ff2eec39",
        pip_options=("--only-binary", ":all:"),
        members={
            "bearded.jpg": (
                f"{STIMS}/face01.jpg",
                "c1770c733865dd10a73d249e27fbc5715b0adbe8d50510d24edad78b255c08c6",
            ),
        },
    ),
)


class Mismatch(Exception):
    pass


def sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def checked(path: Path, expected: str) -> Path:
    """The file if its sha256 is the pinned one; otherwise it is deleted and Mismatch raised."""
    actual = sha256(path)
    if actual != expected:
        path.unlink()
        raise Mismatch(f"{path.relative_to(ROOT)}: sha256 {actual}, expected {expected}; deleted")
    return path


def download(archive: Archive) -> Path:
    path = CACHE / archive.filename
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
        command += [*archive.pip_options, "-d", str(CACHE), archive.requirement]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0 or not path.exists():
            sys.stderr.write(done.stdout + done.stderr)
            raise Mismatch(f"pip could not download {archive.requirement} as {archive.filename}")
    return checked(path, archive.sha256)


def read_member(path: Path, member: str) -> bytes:
    if path.name.endswith(".tar.gz"):
        with tarfile.open(path) as tar:
            f = tar.extractfile(member)
            if f is None:
                raise Mismatch(f"{path.name} holds no file {member}")
            return f.read()
    with zipfile.ZipFile(path) as wheel:
        return wheel.read(member)


def fetch(archive: Archive) -> None:
    wanted = {
        name: (member, digest)
        for name, (member, digest) in archive.members.items()
        if not (PORTRAITS / name).exists() or sha256(PORTRAITS / name) != digest
    }
    if not wanted:
        return
    path = download(archive)
    PORTRAITS.mkdir(parents=True, exist_ok=True)
    for name, (member, digest) in wanted.items():
        part = PORTRAITS / f".{name}.part"
        part.write_bytes(read_member(path, member))
        checked(part, digest).replace(PORTRAITS / name)
        print(f"portraits: var/portraits/{name} (from {archive.requirement})")


def main() -> int:
    try:
        for archive in ARCHIVES:
            fetch(archive)
    except (Mismatch, KeyError, OSError, tarfile.TarError, zipfile.BadZipFile) as error:
        print(f"portraits: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
