"""Checks on an uploaded avatar source before it is stored: type by content, size, duration,
and that it decodes. The upload's own name and extension are never trusted.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from PIL import Image

PROBE_TIMEOUT_S = 20
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
    with _on_disk(upload) as path:
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


@contextmanager
def _on_disk(upload: UploadedFile) -> Iterator[Path]:
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
