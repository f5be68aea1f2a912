from __future__ import annotations

import functools
import hashlib
import http.server
import io
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from playwright.sync_api import Browser, sync_playwright

from avatars import services
from avatars.models import Avatar
from lipsync_worker.tasks import _publish_idle_clip, bake_avatar

# Debian's Chromium (`/usr/bin/chromium`), driven by the `playwright` package: never a
# downloaded browser.
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


@dataclass(frozen=True)
class _Bake:
    """What the real bake task made of the demo source, kept for the rest of the session."""

    source: str  # digest of the source and its bake parameters: another source bakes again
    files: Path
    renderer: str
    renderer_reason: str
    checksum: str
    geometry: dict


_first_bake: list[_Bake] = []


@pytest.fixture
def demo_avatar(transactional_db: None) -> Avatar:
    """The demo avatar, baked and ready.

    The first test of a session runs the real bake task (in this process); later tests get a
    copy of its artifacts recorded through the same service the task calls, because a bake of
    the same source gives the same artifacts and costs seconds per test. The bake itself is
    tested in tests/lipsync_worker.
    """
    call_command("load_demo", stdout=io.StringIO())
    avatar = Avatar.objects.get(slug="demo")
    digest = hashlib.sha256(Path(avatar.source_media.path).read_bytes())
    digest.update(repr(sorted(avatar.bake_params.items())).encode())
    source = digest.hexdigest()
    kept = next((bake for bake in _first_bake if bake.source == source), None)
    if kept is None:
        bake_avatar(avatar.pk)
        avatar.refresh_from_db()
        assert avatar.status == Avatar.Status.READY, avatar.status_reason
        files = Path(settings.VAR_DIR) / "demo-bakes" / source  # outlives the test's purges
        shutil.copytree(Path(settings.PRIVATE_MEDIA_ROOT) / avatar.baked_path, files)
        _first_bake.append(
            _Bake(
                source=source,
                files=files,
                renderer=avatar.renderer_in_use,
                renderer_reason=avatar.renderer_reason,
                checksum=avatar.baked_checksum,
                geometry=avatar.geometry,
            )
        )
        return avatar
    relative = f"baked/{avatar.pk}/{uuid.uuid4().hex}"
    shutil.copytree(kept.files, Path(settings.PRIVATE_MEDIA_ROOT) / relative)
    avatar = services.avatar_bake_finished(
        avatar_id=avatar.pk,
        renderer=kept.renderer,
        renderer_reason=kept.renderer_reason,
        baked_path=relative,
        checksum=kept.checksum,
        geometry=kept.geometry,
        idle_clip=_publish_idle_clip(avatar.pk, kept.checksum, kept.files),
    )
    assert avatar.status == Avatar.Status.READY, avatar.status_reason
    return avatar


@pytest.fixture
def browser_for(output_dir: Path) -> Iterator:
    """`browser_for(wav)`: Chromium whose microphone plays `wav` once (or is silent).

    With `grant_microphone=False` there is no fake permission prompt: the browser refuses.
    """
    with sync_playwright() as playwright:
        browsers: list[Browser] = []

        def launch(wav: Path | None = None, *, grant_microphone: bool = True) -> Browser:
            args = [f for f in FLAGS if grant_microphone or "fake-ui" not in f]
            if wav is not None:
                args.append(f"--use-file-for-fake-audio-capture={wav}%noloop")
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
            browsers.append(browser)
            return browser

        yield launch
        for browser in browsers:
            browser.close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def other_site(tmp_path: Path) -> Iterator:
    """`other_site()`: (origin, folder) of a static site on another loopback port."""
    servers = []

    def start() -> tuple[str, Path]:
        folder = tmp_path / f"site{len(servers)}"
        folder.mkdir()
        handler = functools.partial(_Quiet, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", folder

    yield start
    for server in servers:
        server.shutdown()
