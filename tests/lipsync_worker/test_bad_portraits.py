"""Portraits that are hard to animate bake and render, or are refused with a typed reason.

Made from what ships: the demo portrait (scikit-image's astronaut, smiling with her teeth),
matplotlib's Grace Hopper (a second face, mouth closed), scikit-image's camera man (a small
face, turned) and its cat; variants of the demo portrait for the sizes, a head turn, a
covered mouth, an open laughing mouth and a black-and-white print. None may crash a bake.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pytest
from skimage import data

from lipsync_worker.contract import BakeError, BakeFailure, BakeSource, StreamState
from lipsync_worker.renderers.cpu import CpuRenderer
from tests.speech_audio import espeak_pcm16

HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def hopper() -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(HOPPER)), cv2.COLOR_BGR2RGB)


def turned(image: np.ndarray, shift: float) -> np.ndarray:
    """A head turn made from the photo: the middle of the face (nose, mouth, eyes) slides
    `shift` px sideways while the face's outline stays, as it does when a head turns a little.
    """
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = 223.0, 120.0  # the demo portrait's nose, in its pixels
    bump = np.exp(-(((xs - cx) / 30) ** 2) - ((ys - cy) / 45) ** 2)
    return cv2.remap(
        image, xs - shift * bump, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def covered(image: np.ndarray) -> np.ndarray:
    """The mouth hidden under a patch of her own cheek (a hand, as far as pixels go)."""
    out = image.copy()
    cheek = out[105:125, 250:268]
    out[128:166, 190:258] = cv2.resize(cheek, (68, 38), interpolation=cv2.INTER_CUBIC)
    return out


def laughing(image: np.ndarray) -> np.ndarray:
    """Her mouth pulled open: the lips' region stretched down to twice its height."""
    out = image.copy()
    mouth = out[136:158, 196:250]
    out[136:180, 196:250] = cv2.resize(mouth, (54, 44), interpolation=cv2.INTER_CUBIC)
    return out


def grey(image: np.ndarray) -> np.ndarray:
    return np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)


CASES: dict[str, tuple[Callable[[], np.ndarray], set[BakeFailure | None]]] = {
    # name: (picture, the outcomes that are right for it; None is "bakes and renders")
    "closed-mouth-second-face": (hopper, {None}),
    "small-image": (
        lambda: cv2.resize(data.astronaut(), (300, 300)),
        {None, BakeFailure.FACE_TOO_SMALL},
    ),
    "very-large-image": (lambda: cv2.resize(data.astronaut(), (2400, 2400)), {None}),
    "slight-turn": (lambda: turned(data.astronaut(), 8.0), {None}),
    "far-turn": (
        lambda: turned(data.astronaut(), 30.0),
        {BakeFailure.FACE_TURNED, BakeFailure.NO_FACE},
    ),
    "mouth-covered": (
        lambda: covered(data.astronaut()),
        {BakeFailure.MOUTH_COVERED, BakeFailure.NO_FACE},
    ),
    "open-laughing-mouth": (
        lambda: laughing(data.astronaut()),
        {None, BakeFailure.LANDMARKS_UNSTABLE},
    ),
    "black-and-white": (lambda: grey(data.astronaut()), {None}),
    "small-turned-face": (
        lambda: np.repeat(data.camera()[..., None], 3, axis=2),
        {None, BakeFailure.FACE_TOO_SMALL, BakeFailure.FACE_TURNED, BakeFailure.NO_FACE},
    ),
    "a-cat": (data.chelsea, {BakeFailure.NO_FACE}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_hard_portrait_bakes_and_renders_or_is_refused_with_its_reason(
    tmp_path: Path, name: str
) -> None:
    make, allowed = CASES[name]
    path = tmp_path / "in.png"
    cv2.imwrite(str(path), cv2.cvtColor(make(), cv2.COLOR_RGB2BGR))
    renderer = CpuRenderer()
    try:
        baked = renderer.bake(BakeSource(path=path, out_dir=tmp_path / "baked"))
    except BakeError as error:
        assert error.code in allowed, (error.code, error.message)
        assert error.message.endswith(".") and str(tmp_path) not in error.message
        return
    assert None in allowed, f"{name} baked but should have been refused"
    audio = espeak_pcm16("Nine to six.")
    frames = [f for b in renderer.render(baked, audio, StreamState(), lambda: False) for f in b]
    assert len(frames) == -(-len(audio) // 640)
    assert any(f.image.shape == (f.box.h, f.box.w, 3) for f in frames)
