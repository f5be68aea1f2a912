from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from skimage import data


@pytest.fixture(scope="session")
def portrait(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo avatar's public-domain portrait as a PNG file."""
    path = tmp_path_factory.mktemp("portrait") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path
