from __future__ import annotations

import hashlib
import io
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from avatars import services
from avatars.models import Avatar
from lipsync_worker.tasks import _publish_idle_clip, bake_avatar


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
