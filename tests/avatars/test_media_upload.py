"""Uploaded avatar sources are checked by content through the real admin, scaled down when too
large, checked for a face, and stored safely."""

from __future__ import annotations

import io
import random
import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from django.urls import reverse
from PIL import Image

from avatars.models import Avatar
from tests.avatars.factories import make_avatar, portrait_bytes, portrait_video

pytestmark = pytest.mark.django_db(transaction=True)

ADD = "admin:avatars_avatar_add"
STORED_NAME = re.compile(r"^sources/[0-9a-f]{32}\.(jpg|png|webp|mp4|mov|webm)$")


def form(upload: SimpleUploadedFile | None, slug: str = "newface") -> dict[str, object]:
    data: dict[str, object] = {
        "name": "New face",
        "slug": slug,
        "renderer": "auto",
        "tts_backend": "espeak",
        "voice": "en-us",
        "language": "en",
        "other_languages": "",
        "crop_size": "",
        "persona": "",
        "consents-TOTAL_FORMS": "0",
        "consents-INITIAL_FORMS": "0",
        "consents-MIN_NUM_FORMS": "0",
        "consents-MAX_NUM_FORMS": "1000",
    }
    if upload is not None:
        data["source_media"] = upload
    return data


def image_bytes(fmt: str, size: tuple[int, int] = (96, 96)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 150, 120)).save(out, fmt)
    return out.getvalue()


def video_bytes(tmp_path: Path, seconds: float, *, audio_only: bool = False) -> bytes:
    path = tmp_path / f"clip-{seconds}-{audio_only}.mp4"
    source = ["-f", "lavfi", "-i", "sine" if audio_only else "testsrc=size=64x64:rate=25"]
    codec = ["-c:a", "aac"] if audio_only else ["-c:v", "mpeg4"]
    subprocess.run(
        ["ffmpeg", "-v", "error", *source, "-t", str(seconds), *codec, "-y", str(path)],
        check=True,
    )
    return path.read_bytes()


def stored_sources() -> set[Path]:
    folder = Path(settings.PRIVATE_MEDIA_ROOT) / "sources"
    return set(folder.iterdir()) if folder.exists() else set()


def refused(staff: Client, name: str, content: bytes) -> str:
    """Upload through the admin; assert the form refused it and nothing was stored."""
    before = stored_sources()
    response = staff.post(reverse(ADD), form(SimpleUploadedFile(name, content)))
    assert response.status_code == 200  # the form again, not a redirect
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["source_media"], errors
    assert not Avatar.objects.filter(slug="newface").exists()
    assert stored_sources() == before
    return " ".join(errors["source_media"])


def accepted(staff: Client, name: str, content: bytes) -> Avatar:
    response = staff.post(reverse(ADD), form(SimpleUploadedFile(name, content)))
    assert response.status_code == 302, response.context["adminform"].form.errors
    avatar = Avatar.objects.get(slug="newface")
    assert STORED_NAME.match(avatar.source_media.name), avatar.source_media.name
    path = Path(avatar.source_media.path).resolve()
    assert path.is_relative_to(Path(settings.PRIVATE_MEDIA_ROOT).resolve())
    assert path.read_bytes() == content
    return avatar


def test_a_photo_with_a_hostile_name_is_stored_under_a_generated_name(staff: Client) -> None:
    avatar = accepted(staff, "../../../etc/evil.php.png", portrait_bytes("PNG"))
    assert avatar.source_media.name.endswith(".png")
    assert "evil" not in avatar.source_media.name


def test_the_stored_extension_follows_the_content_not_the_name(staff: Client) -> None:
    avatar = accepted(staff, "portrait.exe", portrait_bytes("JPEG"))
    assert avatar.source_media.name.endswith(".jpg")


@override_settings(FILE_UPLOAD_MAX_MEMORY_SIZE=0)  # streamed to a temp file, as large videos are
def test_a_short_video_is_accepted(staff: Client, tmp_path: Path) -> None:
    avatar = accepted(staff, "clip.mov", portrait_video(tmp_path, 1))
    assert avatar.source_media.name.endswith(".mp4")


def test_a_text_file_named_like_a_photo_is_refused(staff: Client) -> None:
    message = refused(staff, "face.png", b"<?php system($_GET['c']); ?>\n" * 10)
    assert "not a photo or video" in message and "content was checked" in message


def test_a_damaged_photo_is_refused(staff: Client) -> None:
    png = image_bytes("PNG", (400, 400))
    message = refused(staff, "face.png", png[: len(png) // 2])
    assert "photo could not be decoded" in message


def test_a_damaged_video_is_refused(staff: Client, tmp_path: Path) -> None:
    message = refused(staff, "clip.mp4", video_bytes(tmp_path, 1)[:600])
    assert "video could not be decoded" in message


def test_a_sound_file_in_a_video_container_is_refused(staff: Client, tmp_path: Path) -> None:
    message = refused(staff, "clip.mp4", video_bytes(tmp_path, 1, audio_only=True))
    assert "holds no picture" in message


@override_settings(AVATAR_SOURCE_MAX_VIDEO_S=1.0)
def test_a_video_over_the_duration_limit_is_refused(staff: Client, tmp_path: Path) -> None:
    message = refused(staff, "clip.mp4", video_bytes(tmp_path, 3))
    assert "lasts 3 s; the limit is 1 s" in message


@override_settings(AVATAR_SOURCE_MAX_BYTES=2000)
def test_a_file_over_the_size_limit_is_refused(staff: Client) -> None:
    noisy = Image.frombytes("RGB", (64, 64), random.Random(7).randbytes(64 * 64 * 3))
    out = io.BytesIO()
    noisy.save(out, "PNG")
    assert len(out.getvalue()) > 2000
    message = refused(staff, "face.png", out.getvalue())
    assert "the limit is" in message


def test_saving_without_a_new_upload_does_not_recheck_the_stored_file(staff: Client) -> None:
    avatar = make_avatar("kept")  # its stored source is not a real image
    data = form(None, slug="kept")
    response = staff.post(reverse("admin:avatars_avatar_change", args=[avatar.pk]), data)
    assert response.status_code == 302
    avatar.refresh_from_db()
    assert avatar.name == "New face" and avatar.source_media.name.startswith("sources/")


def test_a_photo_without_a_face_is_refused_and_not_kept(staff: Client) -> None:
    message = refused(staff, "face.png", image_bytes("PNG", (400, 400)))
    assert "No face was found" in message


def test_a_video_without_a_face_is_refused_and_not_kept(staff: Client, tmp_path: Path) -> None:
    message = refused(staff, "clip.mp4", video_bytes(tmp_path, 1))
    assert "No face was found" in message


def test_a_photo_of_two_people_is_refused(staff: Client) -> None:
    one = Image.open(io.BytesIO(portrait_bytes()))
    two = Image.new("RGB", (one.width * 2, one.height))
    two.paste(one, (0, 0))
    two.paste(one, (one.width, 0))
    out = io.BytesIO()
    two.save(out, "PNG")
    message = refused(staff, "pair.png", out.getvalue())
    assert "2 faces were found" in message


def test_a_huge_photo_is_scaled_down_on_arrival_and_the_original_is_not_kept(
    staff: Client,
) -> None:
    limit = settings.AVATAR_SOURCE_MAX_SIDE
    huge = portrait_bytes("JPEG", (8000, 6000))
    private = Path(settings.PRIVATE_MEDIA_ROOT)
    before = {p for p in private.rglob("*") if p.is_file()}
    response = staff.post(reverse(ADD), form(SimpleUploadedFile("huge.jpg", huge)))
    assert response.status_code == 302, response.context["adminform"].form.errors
    avatar = Avatar.objects.get(slug="newface")
    stored = Path(avatar.source_media.path)
    with Image.open(stored) as image:
        assert image.format == "JPEG"
        assert image.size == (limit, limit * 6000 // 8000)  # the long side, the shape kept
    assert stored.name.endswith(".jpg") and stored.read_bytes() != huge
    # Nothing else was written: the original is in no file under the private folder.
    assert {p for p in private.rglob("*") if p.is_file()} - before == {stored}


@override_settings(FILE_UPLOAD_MAX_MEMORY_SIZE=0, AVATAR_SOURCE_MAX_SIDE=640)
def test_a_large_video_is_scaled_down_on_arrival(staff: Client, tmp_path: Path) -> None:
    response = staff.post(
        reverse(ADD),
        form(SimpleUploadedFile("clip.mov", portrait_video(tmp_path, 1, (1024, 1024)))),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    stored = Avatar.objects.get(slug="newface").source_media.path
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries"]
        + ["stream=width,height:format=format_name", "-of", "csv=p=0", stored],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "640,640" in probe.stdout and "mp4" in probe.stdout
    assert stored.endswith(".mp4")
