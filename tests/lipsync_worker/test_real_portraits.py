"""Photos of real people bake with the mouth state they show and render speech a face model sees.

The photos come from pinned PyPI packages through `make portraits` (scripts/portraits.py,
into var/portraits/; sources and licences in docs/lipsync.md): Joe Biden's and Barack Obama's
official portraits (face_recognition 1.3.0's sdist) and a bearded man (psychopy 2026.2.5's
demo stimuli).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lipsync_worker.contract import Baked, BakeSource
from lipsync_worker.face import landmarks as lm
from lipsync_worker.face.pose import inner_gap
from lipsync_worker.renderers.cpu import CpuRenderer
from tests.lipsync_worker.renderers.test_cpu import render_all
from tests.lipsync_worker.renderers.test_cpu_face import full_frame
from tests.speech_audio import espeak_pcm16

PORTRAITS = Path(__file__).resolve().parents[2] / "var" / "portraits"
FULL = (slice(None), slice(None))
# name: (file, crop as rows and columns, the mouth state the photo shows)
CASES: dict[str, tuple[str, tuple[slice, slice], str]] = {
    # The full-figure portrait (970 x 2204, the face about 290 px wide) cut to what an operator
    # uploads, a head-and-shoulders picture: a 720 px square around the head, fixed numbers
    # so that every run bakes the same pixels.
    "biden": ("biden.jpg", (slice(60, 780), slice(208, 928)), "closed"),
    # Already frontal head and shoulders (905 x 905). His lips are a little apart (a sliver
    # of upper teeth, under the 15 % of the opening that makes `teeth`): `open` is right.
    "bearded": ("bearded.jpg", FULL, "open"),
    # Waist up (910 x 1137): cut to a 640 px square around the head, as for Biden.
    "obama": ("obama.jpg", (slice(10, 650), slice(171, 811)), "teeth"),
}


@pytest.fixture(scope="module")
def portraits() -> Path:
    missing = [file for file, _, _ in CASES.values() if not (PORTRAITS / file).is_file()]
    if missing:
        pytest.fail(f"var/portraits/ lacks {', '.join(missing)}: run `make portraits`")
    return PORTRAITS


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return espeak_pcm16("Nine to six, Monday to Saturday.", silence_before=0.3)


def bake(portraits: Path, name: str, out: Path) -> Baked:
    file, crop, _ = CASES[name]
    image = cv2.imread(str(portraits / file))
    path = out / "in.png"
    cv2.imwrite(str(path), image[crop])
    return CpuRenderer().bake(BakeSource(path=path, out_dir=out / "baked"))


# Biden's thin, pale lips are almost the colour of the skin around them (Lab distance 2.5):
# the line between them is what shows his mouth in view (face/pose.py, SEAM_DARKER).
@pytest.mark.parametrize("name", ["biden", "bearded", "obama"])
def test_a_real_face_bakes_with_its_mouth_state_and_speaks_as_a_face(
    portraits: Path, speech: np.ndarray, tmp_path: Path, name: str
) -> None:
    baked = bake(portraits, name, tmp_path)
    assert baked.manifest["mouth"]["state"] == CASES[name][2], baked.manifest["mouth"]
    frames = render_all(baked, speech)
    assert len(frames) == -(-len(speech) // 640)
    mesh = lm.face_mesh(static=True)
    try:
        seen = [lm.run_mesh(mesh, full_frame(baked, frame)) for frame in frames]
    finally:
        mesh.close()
    assert all(points is not None for points in seen)
    gaps = [inner_gap(points) for points in seen if points is not None]
    assert max(gaps) - min(gaps) > 0.1, (min(gaps), max(gaps))  # the mouth visibly speaks
