"""Baked artifacts: a manifest that describes the bake and checksums that catch any change."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from lipsync_worker import artifacts
from lipsync_worker.contract import FPS, Baked, Box


def small_bake(out_dir: Path) -> Baked:
    frames = np.arange(4 * 6 * 8 * 3, dtype=np.uint8).reshape(4, 6, 8, 3)
    boxes = [Box(1, 1, 4, 4)] * 4
    arrays = {"mask": np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)}
    baked = artifacts.save("cpu", out_dir, frames, boxes, arrays, {"crop_size": 4})
    (out_dir / "idle.mp4").write_bytes(b"not really a video, but bytes with a checksum")
    baked.manifest = artifacts.add_files(out_dir, ["idle.mp4"])
    return baked


def test_the_manifest_describes_the_bake_and_every_file_checksum(tmp_path: Path) -> None:
    small_bake(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["renderer"] == "cpu" and manifest["fps"] == FPS
    assert (manifest["frame_count"], manifest["width"], manifest["height"]) == (4, 8, 6)
    assert manifest["format"] == artifacts.FORMAT_VERSION and manifest["crop_size"] == 4
    assert set(manifest["files"]) == {"frames", "mask", "idle.mp4"}
    for entry in manifest["files"].values():
        data = (tmp_path / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
    whole = hashlib.sha256((tmp_path / "manifest.json").read_bytes()).hexdigest()
    assert artifacts.bake_checksum(tmp_path) == whole


def test_load_returns_what_was_saved(tmp_path: Path) -> None:
    saved = small_bake(tmp_path)
    loaded = artifacts.load(tmp_path)
    assert loaded.renderer == "cpu" and loaded.face_boxes == saved.face_boxes
    assert np.array_equal(loaded.frames, saved.frames)
    assert set(loaded.arrays) == {"mask"}  # media are checked, not loaded
    assert np.array_equal(loaded.arrays["mask"], saved.arrays["mask"])
    assert artifacts.load("cpu", tmp_path).frame_count == 4  # the older argument order
    with pytest.raises(artifacts.ArtifactsCorrupt, match="baked by 'cpu'"):
        artifacts.load(tmp_path, renderer="musetalk")


@pytest.mark.parametrize("victim", ["frames.npy", "mask.npy", "idle.mp4"])
def test_a_changed_byte_in_any_file_is_caught(tmp_path: Path, victim: str) -> None:
    small_bake(tmp_path)
    with (tmp_path / victim).open("r+b") as handle:
        handle.seek(-1, 2)
        last = handle.read(1)
        handle.seek(-1, 2)
        handle.write(bytes([last[0] ^ 0x01]))
    with pytest.raises(artifacts.ArtifactsCorrupt, match=victim):
        artifacts.load(tmp_path)


def test_a_missing_file_or_manifest_is_caught(tmp_path: Path) -> None:
    small_bake(tmp_path)
    (tmp_path / "idle.mp4").unlink()
    with pytest.raises(artifacts.ArtifactsCorrupt, match="missing"):
        artifacts.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(artifacts.ArtifactsCorrupt, match="manifest"):
        artifacts.load(tmp_path)


def test_the_bake_checksum_changes_with_any_file(tmp_path: Path) -> None:
    small_bake(tmp_path / "a")
    small_bake(tmp_path / "b")
    assert artifacts.bake_checksum(tmp_path / "a") == artifacts.bake_checksum(tmp_path / "b")
    (tmp_path / "b" / "idle.mp4").write_bytes(b"another clip")
    artifacts.add_files(tmp_path / "b", ["idle.mp4"])
    assert artifacts.bake_checksum(tmp_path / "a") != artifacts.bake_checksum(tmp_path / "b")
