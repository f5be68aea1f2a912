"""Write and reload bake artifacts: one .npy per array, media files, and a manifest with sha256 checksums."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from lipsync_worker.contract import Baked, Box

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


class ArtifactsCorrupt(ValueError):
    """A baked artifact is missing, from another renderer, or fails its checksum."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(
    renderer: str,
    out_dir: Path,
    frames: np.ndarray,
    face_boxes: list[Box],
    arrays: dict[str, np.ndarray],
    extra: dict[str, Any],
) -> Baked:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, array in {"frames": frames, **arrays}.items():
        path = out_dir / f"{name}.npy"
        np.save(path, np.ascontiguousarray(array), allow_pickle=False)
        files[name] = {"file": path.name, "sha256": _sha256(path)}
    manifest = {
        "renderer": renderer,
        "format": FORMAT_VERSION,
        "frame_count": int(frames.shape[0]),
        "face_boxes": [[b.x, b.y, b.w, b.h] for b in face_boxes],
        "files": files,
        **extra,
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return Baked(renderer, frames, list(face_boxes), dict(arrays), manifest, out_dir)


def load(renderer: str, out_dir: Path) -> Baked:
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactsCorrupt(f"no readable {MANIFEST} in {out_dir}: {exc}") from exc
    if manifest.get("renderer") != renderer:
        raise ArtifactsCorrupt(
            f"{out_dir} was baked by {manifest.get('renderer')!r}, not {renderer!r}"
        )
    loaded = {}
    for name, entry in manifest["files"].items():
        path = out_dir / entry["file"]
        if not path.is_file() or _sha256(path) != entry["sha256"]:
            raise ArtifactsCorrupt(f"{path} is missing or fails its checksum")
        if not entry.get("media"):
            loaded[name] = np.load(path, allow_pickle=False)
    frames = loaded.pop("frames")
    boxes = [Box(*map(int, b)) for b in manifest["face_boxes"]]
    return Baked(renderer, frames, boxes, loaded, manifest, out_dir)


def add_files(out_dir: Path, names: list[str]) -> dict[str, Any]:
    """Record extra files of a bake (the idle clip) with their checksums in its manifest."""
    manifest = json.loads((out_dir / MANIFEST).read_text())
    for name in names:
        manifest["files"][name] = {"file": name, "sha256": _sha256(out_dir / name), "media": True}
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest
