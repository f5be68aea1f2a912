"""Small builders for avatar rows used across tests."""

from __future__ import annotations

import io
import subprocess
from datetime import timedelta
from pathlib import Path

from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image
from skimage import data

from avatars import services
from avatars.models import Avatar, ConsentRecord


def make_avatar(
    slug: str = "ava", *, consent: bool = True, source: bool = True, **fields: object
) -> Avatar:
    avatar = Avatar.objects.create(slug=slug, name=slug.title(), **fields)
    if source:
        avatar.source_media.save("face.png", ContentFile(b"not decoded in these tests"), save=True)
    if consent:
        grant(avatar)
    return avatar


def grant(avatar: Avatar, **fields: object) -> ConsentRecord:
    values: dict[str, object] = {
        "depicted_person": "Test Person",
        "consented_by": "Test Person",
        "scope": "Tests only.",
        "purpose": "Testing.",
        "granted_at": timezone.now() - timedelta(days=1),
    }
    values.update(fields)
    return services.consent_grant(avatar=avatar, **values)  # type: ignore[arg-type]


def portrait(size: tuple[int, int] | None = None) -> Image.Image:
    """The demo avatar's public-domain portrait (one frontal face), scaled to `size` if given."""
    image = Image.fromarray(data.astronaut())
    return image if size is None else image.resize(size, Image.Resampling.BICUBIC)


def portrait_bytes(fmt: str = "PNG", size: tuple[int, int] | None = None) -> bytes:
    out = io.BytesIO()
    portrait(size).save(out, fmt)
    return out.getvalue()


def portrait_video(folder: Path, seconds: float = 1.0, size: tuple[int, int] = (512, 512)) -> bytes:
    """An MP4 of the portrait, still, at `size`."""
    still = folder / "still.png"
    portrait(size).save(still)
    clip = folder / f"portrait-{size[0]}x{size[1]}-{seconds}.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-loop", "1", "-i", str(still), "-t", str(seconds)]
        + ["-r", "25", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-y", str(clip)],
        check=True,
    )
    return clip.read_bytes()
