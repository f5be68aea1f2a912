"""Baked artifact directories: one .npy per array, media files, and a manifest with sha256 sums.

`manifest.json` names the renderer and its version, the frame geometry, and every file with
its checksum; `load` refuses a directory whose files do not match it. The sha256 of the
manifest itself is the bake's one checksum (it covers every file through theirs).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from lipsync_worker.contract import FPS, Baked, Box

MANIFEST = "manifest.json"
FORMAT_VERSION = 2  # 2: file sizes, array shapes and frame geometry in the manifest


class ArtifactsCorrupt(ValueError):
    """A baked artifact is missing, from another renderer, or fails its checksum."""


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def bake_checksum(out_dir: Path) -> str:
    """One checksum for the whole bake: the sha256 of its manifest, which lists every file's."""
    return file_sha256(out_dir / MANIFEST)


def _entry(path: Path, **extra: Any) -> dict[str, Any]:
    return {"file": path.name, "sha256": file_sha256(path), "bytes": path.stat().st_size, **extra}


def _write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    # Write then rename: a reader never sees half a manifest.
    tmp = out_dir / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    tmp.replace(out_dir / MANIFEST)


def save(
    renderer: str,
    out_dir: Path,
    frames: np.ndarray,
    face_boxes: list[Box],
    arrays: dict[str, np.ndarray],
    extra: dict[str, Any],
    *,
    renderer_version: int = 1,
) -> Baked:
    """Write the idle cycle, the renderer's arrays and the manifest; returns the Baked it describes."""
    if len(face_boxes) != len(frames):
        raise ValueError(f"{len(face_boxes)} face boxes for {len(frames)} frames")
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, array in {"frames": frames, **arrays}.items():
        path = out_dir / f"{name}.npy"
        np.save(path, np.ascontiguousarray(array), allow_pickle=False)
        files[name] = _entry(path, shape=list(array.shape), dtype=str(array.dtype))
    manifest = {
        "renderer": renderer,
        "renderer_version": renderer_version,
        "format": FORMAT_VERSION,
        "fps": FPS,
        "frame_count": int(frames.shape[0]),
        "width": int(frames.shape[2]),
        "height": int(frames.shape[1]),
        "face_boxes": [[b.x, b.y, b.w, b.h] for b in face_boxes],
        "files": files,
        **extra,
    }
    _write_manifest(out_dir, manifest)
    return Baked(renderer, frames, list(face_boxes), dict(arrays), manifest, out_dir)


def add_files(out_dir: Path, names: list[str]) -> dict[str, Any]:
    """Record extra files of a bake (the idle clip) with their checksums in its manifest."""
    manifest = read_manifest(out_dir)
    for name in names:
        manifest["files"][name] = _entry(out_dir / name, media=True)
    _write_manifest(out_dir, manifest)
    return manifest


def read_manifest(out_dir: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactsCorrupt(f"no readable {MANIFEST} in {out_dir}: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ArtifactsCorrupt(f"{out_dir / MANIFEST} is not a bake manifest")
    return manifest


def load(
    out_dir: Path | str, legacy_out_dir: Path | None = None, *, renderer: str | None = None
) -> Baked:
    """Reload a bake, verifying every file's checksum; `renderer` also checks who baked it.

    `load(renderer, out_dir)`, the older argument order the MuseTalk backend uses, still works.
    """
    if legacy_out_dir is not None:
        renderer, out_dir = str(out_dir), legacy_out_dir
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    if manifest.get("format", 1) > FORMAT_VERSION:
        raise ArtifactsCorrupt(f"{out_dir} has format {manifest['format']}; rebake the avatar")
    if renderer is not None and manifest.get("renderer") != renderer:
        raise ArtifactsCorrupt(
            f"{out_dir} was baked by {manifest.get('renderer')!r}, not {renderer!r}"
        )
    loaded = {}
    for name, entry in manifest["files"].items():
        path = out_dir / entry["file"]
        if not path.is_file():
            raise ArtifactsCorrupt(f"{path.name} of the bake in {out_dir} is missing")
        if file_sha256(path) != entry["sha256"]:
            raise ArtifactsCorrupt(
                f"{path.name} of the bake in {out_dir} fails its checksum (changed or damaged)"
            )
        if not entry.get("media"):
            array = np.load(path, allow_pickle=False)
            if "shape" in entry and list(array.shape) != entry["shape"]:
                raise ArtifactsCorrupt(f"{path.name} has shape {array.shape}, not {entry['shape']}")
            loaded[name] = array
    if "frames" not in loaded:
        raise ArtifactsCorrupt(f"{out_dir} has no idle-cycle frames")
    frames = loaded.pop("frames")
    boxes = [Box(*map(int, b)) for b in manifest["face_boxes"]]
    if len(boxes) != len(frames) or manifest.get("frame_count", len(frames)) != len(frames):
        raise ArtifactsCorrupt(f"{out_dir}: {len(frames)} frames but {len(boxes)} face boxes")
    return Baked(str(manifest.get("renderer")), frames, boxes, loaded, manifest, out_dir)
