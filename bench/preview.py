"""An avatar speaking a clip, for a person to judge: full frames, an MP4 with sound, a contact sheet.

Pure functions over a renderer and a baked avatar, so the preview command and the docs' before
and after sheets are made the same way.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from contracts.phonemes import PhonemeSpan
from conversation.tts.wav import wav_bytes
from lipsync_worker.contract import (
    FPS,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    Baked,
    BakeSource,
    Box,
    LipSyncRenderer,
    RenderedFrame,
    StreamState,
)

SHEET_COLUMNS = 8


@dataclass(frozen=True, slots=True)
class Clip:
    frames: list[np.ndarray]  # full avatar frames, H x W x 3 uint8 RGB
    rendered: list[RenderedFrame]
    audio: np.ndarray  # int16 mono 16 kHz
    phonemes: tuple[PhonemeSpan, ...] = ()  # what the mouth was shaped by, samples of `audio`

    def phoneme_at(self, frame: int) -> str:
        """The phoneme spoken at the middle of `frame`; "" for none (a pause, or no timings)."""
        middle = frame * SAMPLES_PER_FRAME + SAMPLES_PER_FRAME // 2
        return next((p.ipa for p in self.phonemes if p.start <= middle < p.end), "")


def render_clip(
    renderer: LipSyncRenderer,
    baked: Baked,
    audio: np.ndarray,
    phonemes: Sequence[PhonemeSpan] = (),
) -> Clip:
    """Render `audio` in one-second chunks with left context, as a turn streams them.

    `phonemes`, the spans the TTS reported (samples counted from the first sample of `audio`),
    go with each chunk as the conversation sends them: those of its left context and its own
    audio, counted from the left context's first sample (StreamState). None: the mouth follows
    the audio's features, as for a WAV or a voice without timings."""
    rendered: list[RenderedFrame] = []
    for start in range(0, len(audio), SAMPLE_RATE):
        left = max(0, start - SAMPLE_RATE)
        end = start + SAMPLE_RATE
        state = StreamState(
            turn_frame=start // SAMPLES_PER_FRAME,
            left_audio=audio[left:start],
            phonemes=tuple(
                PhonemeSpan(p.ipa, max(p.start, left) - left, min(p.end, end) - left)
                for p in phonemes
                if p.end > left and p.start < end
            ),
        )
        for batch in renderer.render(baked, audio[start:end], state, lambda: False):
            rendered.extend(batch)
    return Clip([paste(baked, f) for f in rendered], rendered, audio, tuple(phonemes))


@contextmanager
def private_render(
    renderer: LipSyncRenderer,
    source: Path,
    audio: np.ndarray,
    phonemes: Sequence[PhonemeSpan] = (),
) -> Iterator[tuple[Baked, Clip]]:
    """`source` baked by `renderer` into a temporary folder, deleted on leaving (nothing of it is
    kept), and `audio` rendered on it after a still start (`still_start`); the bake's BakeError
    as it raises it."""
    audio, timed = still_start(audio, phonemes)
    with tempfile.TemporaryDirectory() as tmp:
        baked = renderer.bake(BakeSource(path=source, out_dir=Path(tmp) / "baked"))
        yield baked, render_clip(renderer, baked, audio, timed)


def still_start(
    audio: np.ndarray, phonemes: Sequence[PhonemeSpan] = (), seconds: float = 0.5
) -> tuple[np.ndarray, tuple[PhonemeSpan, ...]]:
    """`audio` after `seconds` of silence (the sheet's first frames show the photo at rest),
    and its phonemes moved with it."""
    lead = int(SAMPLE_RATE * seconds)
    moved = tuple(PhonemeSpan(p.ipa, p.start + lead, p.end + lead) for p in phonemes)
    return np.concatenate([np.zeros(lead, np.int16), audio.astype(np.int16)]), moved


def paste(baked: Baked, frame: RenderedFrame) -> np.ndarray:
    """The full frame the widget shows: the rendered image over its idle frame."""
    full = baked.frames[frame.idle_index].copy()
    box = frame.box
    full[box.y : box.y + box.h, box.x : box.x + box.w] = frame.image
    return full


def write_mp4(clip: Clip, path: Path) -> None:
    """H.264 video and AAC sound in one MP4 (yuv420p, faststart: plays in any browser)."""
    height, width = clip.frames[0].shape[:2]
    with tempfile.TemporaryDirectory() as tmp:
        sound = Path(tmp) / "sound.wav"
        sound.write_bytes(wav_bytes(clip.audio, SAMPLE_RATE))
        command = [
            "ffmpeg", "-nostdin", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(FPS),
            "-i", "-", "-i", str(sound), "-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-shortest",
            "-movflags", "+faststart", str(path),
        ]  # fmt: skip
        raw = np.ascontiguousarray(np.stack(clip.frames)).tobytes()
        subprocess.run(command, input=raw, check=True, timeout=600, capture_output=True)


def contact_sheet(
    baked: Baked, clip: Clip, *, count: int = 15, scale: float = 1.5, title: str = ""
) -> np.ndarray:
    """A grid of the mouth region (the idle frame's first, then speech frames, each labelled
    with its number and, when the clip has timings, the phoneme spoken in it), RGB uint8."""
    picks = sheet_frames_of(baked, clip, count)
    box = clip.rendered[0].box
    # The mouth region and a margin, so the nose and the chin show what moved and what did not.
    margin = box.h // 8
    tiles = [_tile(baked.frames[0], box, margin, scale, "idle")]
    for i in picks:
        label = f"{i} {clip.phoneme_at(i)}".strip()  # the frame, and its phoneme when known
        tiles.append(_tile(clip.frames[i], clip.rendered[i].box, margin, scale, label))
    rows = [tiles[k : k + SHEET_COLUMNS] for k in range(0, len(tiles), SHEET_COLUMNS)]
    blank = np.full_like(tiles[0], 255)
    grid = np.concatenate(
        [np.concatenate(r + [blank] * (SHEET_COLUMNS - len(r)), 1) for r in rows], 0
    )
    return _titled(grid, title)


KEY_SHAPES = (  # label, openness, width: the mouth shapes speech is made of
    ("rest (the photo)", None, 0.0),
    ("m b p: closed", 0.0, 0.0),
    ("a: open", 0.85, 0.0),
    ("i e: wide", 0.35, 1.0),
    ("o u: rounded", 0.4, -1.0),
)


def shapes_sheet(baked: Baked, *, scale: float = 2.0, title: str = "") -> np.ndarray:
    """The CPU renderer's key mouth shapes side by side, on the idle cycle's first frame."""
    from lipsync_worker.renderers.cpu import draw_mouth

    x0, y0, x1, y1 = (int(v) for v in baked.arrays["mouth_region"])
    face = baked.face_boxes[0]
    box = Box(face.x + x0, face.y + y0, x1 - x0, y1 - y0)
    region = baked.frames[0, box.y : box.y + box.h, box.x : box.x + box.w]
    rest = float(baked.manifest["rig"]["rest"])
    tiles = []
    for label, openness, width in KEY_SHAPES:
        frame = baked.frames[0].copy()
        if openness is not None:
            drawn = draw_mouth(baked.arrays, region, 0, openness, width)
            frame[box.y : box.y + box.h, box.x : box.x + box.w] = drawn
        elif rest > 0.005:
            label = f"{label}, {rest:.2f}"
        tiles.append(_tile(frame, box, box.h // 8, scale, label))
    grid = np.concatenate(tiles, 1)
    return _titled(grid, title)


def _titled(grid: np.ndarray, title: str) -> np.ndarray:
    if not title:
        return grid
    band = np.full((28, grid.shape[1], 3), 255, np.uint8)
    cv2.putText(band, title, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([band, grid], 0)


def sheet_frames_of(baked: Baked, clip: Clip, count: int) -> list[int]:
    """`count` frames evenly over the speech: over the phonemes' middle frames when the clip
    has timings (each tile then shows one phoneme at its fullest), else over the frames whose
    mouth moved."""
    if clip.phonemes:
        last = len(clip.rendered) - 1
        middles = sorted(
            {min(last, (p.start + p.end) // 2 // SAMPLES_PER_FRAME) for p in clip.phonemes}
        )
        picks = np.linspace(0, len(middles) - 1, min(count, len(middles))).round().astype(int)
        return [middles[k] for k in picks]
    moving = []
    for i, f in enumerate(clip.rendered):
        box = f.box
        idle = baked.frames[f.idle_index, box.y : box.y + box.h, box.x : box.x + box.w]
        if not np.array_equal(f.image, idle):
            moving.append(i)
    moving = moving or list(range(len(clip.rendered)))
    picks = np.linspace(0, len(moving) - 1, min(count, len(moving))).round().astype(int)
    return [moving[k] for k in picks]


def _tile(frame: np.ndarray, box: Box, margin: int, scale: float, label: str) -> np.ndarray:
    x, y, w, h = box.x, box.y, box.w, box.h
    top, bottom = max(0, y - margin), min(frame.shape[0], y + h + margin)
    left, right = max(0, x - margin // 2), min(frame.shape[1], x + w + margin // 2)
    tile = cv2.resize(
        frame[top:bottom, left:right], None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC
    )
    tile = cv2.copyMakeBorder(tile, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    return _labelled(tile, label)


@cache
def _font() -> ImageFont.FreeTypeFont:
    """DejaVu Sans (matplotlib's): it has the IPA letters of the phoneme labels."""
    from matplotlib import font_manager  # only where a sheet is drawn

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), 15)


def _labelled(tile: np.ndarray, label: str) -> np.ndarray:
    """`label` in black, outlined in white, at the tile's top left."""
    image = Image.fromarray(tile)
    ImageDraw.Draw(image).text(
        (6, 3), label, font=_font(), fill=(0, 0, 0), stroke_width=2, stroke_fill=(255, 255, 255)
    )
    return np.asarray(image).copy()


def mp4_bytes(clip: Clip) -> bytes:
    """The MP4 of `write_mp4`, as bytes (written in a private temporary folder)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "preview.mp4"
        write_mp4(clip, path)
        return path.read_bytes()


def png_bytes(image: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError("could not encode the PNG")
    return encoded.tobytes()


def write_png(image: np.ndarray, path: Path) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")


def read_wav(path: Path) -> np.ndarray:
    """A WAV file as int16 mono 16 kHz (sox converts whatever rate and channels it has)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        subprocess.run(
            ["sox", str(path), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(out)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        with wave.open(str(out)) as recording:
            return np.frombuffer(recording.readframes(recording.getnframes()), np.int16).copy()
