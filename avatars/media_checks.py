"""What happens to an uploaded avatar source before it is stored: checked by content (type,
size, duration, that it decodes), scaled down when it is larger than the bake needs, and checked
for the one usable face a bake needs, with the bake's own face finder. The upload's own name and
extension are never trusted; an upload refused or scaled is not kept.
"""

from __future__ import annotations

import io
import json
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from PIL import Image, ImageOps

PROBE_TIMEOUT_S = 20
SCALE_TIMEOUT_S = 300  # re-encoding a minute of 4K video on two cores takes about a minute
ACCEPTED = "JPEG, PNG or WebP photos, or MP4, MOV or WebM videos"


@dataclass(frozen=True)
class SourceKind:
    extension: str  # what the stored file is named with
    video: bool
    formats: tuple[str, ...] = ()  # ffprobe's format_name must be one of these (videos)


JPEG = SourceKind("jpg", video=False)
PNG = SourceKind("png", video=False)
WEBP = SourceKind("webp", video=False)
MP4 = SourceKind("mp4", video=True, formats=("mov,mp4,m4a,3gp,3g2,mj2",))
MOV = SourceKind("mov", video=True, formats=("mov,mp4,m4a,3gp,3g2,mj2",))
WEBM = SourceKind("webm", video=True, formats=("matroska,webm",))


def sniff(head: bytes) -> SourceKind | None:
    """The kind of file these first bytes start, among the accepted ones."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        return MOV if head[8:12] == b"qt  " else MP4
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return WEBM
    return None


def check_avatar_source(upload: UploadedFile) -> SourceKind:
    """Raise ValidationError with a message an operator can act on, else the file's kind."""
    limit = settings.AVATAR_SOURCE_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise ValidationError(
            f"The file is {_mb(upload.size)}; the limit is {_mb(limit)}. "
            "A short clip (5-30 s) or a photo is enough.",
            code="too_large",
        )
    upload.seek(0)
    kind = sniff(upload.read(32))
    upload.seek(0)
    if kind is None:
        raise ValidationError(
            f"This is not a photo or video the avatar can use: upload {ACCEPTED}. "
            "The file's content was checked, not its name.",
            code="wrong_type",
        )
    if kind.video:
        _check_video(upload, kind)
    else:
        _check_image(upload)
    upload.seek(0)
    return kind


def _check_image(upload: UploadedFile) -> None:
    try:
        with Image.open(upload) as image:
            image.verify()
        upload.seek(0)
        with Image.open(upload) as image:
            image.load()  # verify() does not decode the pixels; a truncated file fails here
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ValidationError(
            f"The photo could not be decoded ({type(error).__name__}); it may be damaged.",
            code="undecodable",
        ) from error


def _check_video(upload: UploadedFile, kind: SourceKind) -> None:
    with on_disk(upload) as path:
        try:
            probe = subprocess.run(
                [
                    "ffprobe",
                    "-v",
                    "error",
                    "-show_entries",
                    "format=format_name,duration:stream=codec_type",
                    "-of",
                    "json",
                    str(path),
                ],
                capture_output=True,
                timeout=PROBE_TIMEOUT_S,
                check=False,
            )
            info = json.loads(probe.stdout or b"{}") if probe.returncode == 0 else {}
            decoded = (
                probe.returncode == 0
                and subprocess.run(
                    [
                        "ffmpeg",
                        "-v",
                        "error",
                        "-xerror",
                        "-i",
                        str(path),
                        "-map",
                        "0:v:0",
                        "-frames:v",
                        "1",
                        "-f",
                        "null",
                        "-",
                    ],
                    capture_output=True,
                    timeout=PROBE_TIMEOUT_S,
                    check=False,
                ).returncode
                == 0
            )
        except subprocess.TimeoutExpired:
            info, decoded = {}, False
    fmt = info.get("format", {})
    has_video = any(s.get("codec_type") == "video" for s in info.get("streams", []))
    if not decoded or not has_video or fmt.get("format_name") not in kind.formats:
        raise ValidationError(
            "The video could not be decoded, or holds no picture; it may be damaged.",
            code="undecodable",
        )
    duration = float(fmt.get("duration") or 0.0)
    limit = settings.AVATAR_SOURCE_MAX_VIDEO_S
    if duration > limit:
        raise ValidationError(
            f"The video lasts {duration:.0f} s; the limit is {limit:.0f} s. "
            "Cut a 5-30 s clip of the person looking at the camera.",
            code="too_long",
        )


def scaled_to_limit(upload: UploadedFile, kind: SourceKind) -> tuple[UploadedFile, SourceKind]:
    """The upload itself when its long side is within AVATAR_SOURCE_MAX_SIDE, else a copy scaled
    down to it: a photo in its own format (without its EXIF data), a video as H.264 MP4 without
    sound (a bake uses the picture only). The original goes with the request."""
    limit = int(settings.AVATAR_SOURCE_MAX_SIDE)
    if not kind.video:
        return _scaled_photo(upload, limit), kind
    if _video_side(upload) <= limit:
        upload.seek(0)
        return upload, kind
    return _scaled_video(upload, limit), MP4


def _scaled_photo(upload: UploadedFile, limit: int) -> UploadedFile:
    upload.seek(0)
    with Image.open(upload) as image:
        if max(image.size) <= limit:
            upload.seek(0)
            return upload
        fmt, icc = image.format, image.info.get("icc_profile")
        image.draft("RGB", (limit, limit))  # a JPEG decodes at 1/2, 1/4 or 1/8 when it can
        photo = ImageOps.exif_transpose(image)
        if photo.mode in ("1", "P"):
            photo = photo.convert("RGBA")  # palettes resize badly: only nearest neighbours
        photo.thumbnail((limit, limit), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        quality = {"quality": 92} if fmt in ("JPEG", "WEBP") else {}
        photo.save(out, format=fmt, icc_profile=icc, **quality)
    return SimpleUploadedFile(upload.name or "source", out.getvalue(), f"image/{fmt}".lower())


def _video_side(upload: UploadedFile) -> int:
    with on_disk(upload) as path:
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "v:0"]
            + ["-show_entries", "stream=width,height", "-of", "json", str(path)],
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    streams = json.loads(probe.stdout or b"{}").get("streams") or [{}]
    return max(int(streams[0].get("width", 0)), int(streams[0].get("height", 0)))


def _scaled_video(upload: UploadedFile, limit: int) -> UploadedFile:
    fit = f"scale={limit}:{limit}:force_original_aspect_ratio=decrease:force_divisible_by=2"
    # Deleted when closed or collected; storage copies it (it has no path for storage to move).
    scaled = tempfile.NamedTemporaryFile(suffix=".mp4")  # noqa: SIM115
    with on_disk(upload) as path:
        try:
            done = (
                subprocess.run(
                    ["ffmpeg", "-v", "error", "-xerror", "-i", str(path), "-map", "0:v:0", "-an"]
                    + ["-vf", fit, "-c:v", "libx264", "-preset", "veryfast", "-crf", "18"]
                    + ["-pix_fmt", "yuv420p", "-movflags", "+faststart", "-y", scaled.name],
                    capture_output=True,
                    timeout=SCALE_TIMEOUT_S,
                    check=False,
                ).returncode
                == 0
            )
        except subprocess.TimeoutExpired:
            done = False
    if not done:
        scaled.close()
        raise ValidationError(
            f"The video is larger than {limit} px and could not be scaled down; "
            f"upload it at {limit} px or less on its long side.",
            code="unscalable",
        )
    size = Path(scaled.name).stat().st_size
    return UploadedFile(scaled, "source.mp4", "video/mp4", size)


def check_one_face(upload: UploadedFile, kind: SourceKind) -> None:
    """Raise ValidationError unless the picture (a video's first frame, where a bake starts)
    shows exactly one face large enough, as the bake will judge it."""
    from lipsync_worker.baking import detect_face  # OpenCV: loaded by the first upload only
    from lipsync_worker.contract import BakeError

    try:
        detect_face(_first_picture(upload, kind))
    except BakeError as error:
        raise ValidationError(error.message, code=str(error.code)) from error
    finally:
        upload.seek(0)


def _first_picture(upload: UploadedFile, kind: SourceKind) -> np.ndarray:
    if not kind.video:
        upload.seek(0)
        with Image.open(upload) as image:
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    import cv2

    with on_disk(upload) as path:
        capture = cv2.VideoCapture(str(path))
        ok, frame = capture.read()
        capture.release()
    if not ok or frame is None:
        raise ValidationError("The video's first picture could not be read.", code="undecodable")
    return np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))


@contextmanager
def on_disk(upload: UploadedFile) -> Iterator[Path]:
    """The upload as a file ffprobe can read: Django's temp file, or a copy of a small upload."""
    temporary = getattr(upload, "temporary_file_path", None)
    if temporary is not None:
        yield Path(temporary())
        return
    with tempfile.NamedTemporaryFile(suffix=".upload") as copy:
        upload.seek(0)
        for chunk in upload.chunks():
            copy.write(chunk)
        copy.flush()
        yield Path(copy.name)


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
