from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from skimage import data

from lipsync_worker.contract import Baked, BakeSource
from lipsync_worker.renderers.cpu import CpuRenderer


@pytest.fixture(scope="session")
def portrait(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo avatar's public-domain portrait as a PNG file."""
    path = tmp_path_factory.mktemp("portrait") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


@pytest.fixture(scope="session")
def cpu_baked(portrait: Path, tmp_path_factory: pytest.TempPathFactory) -> Baked:
    """The portrait baked once by the CPU renderer for the whole session."""
    out_dir = tmp_path_factory.mktemp("cpu-baked")
    return CpuRenderer().bake(BakeSource(path=portrait, out_dir=out_dir))
