"""The canned-clip store: one file and one row per key, even when sessions race to write it."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection

from avatars.clip_keys import canned_clip_key
from avatars.models import CannedClip
from contracts.media import Box
from conversation.avatar import AvatarRuntime
from conversation.canned import clips
from conversation.canned.store import DjangoClipStore
from conversation.protocol import ChunkFrame, MediaChunk
from tests.avatars.factories import make_avatar

pytestmark = pytest.mark.django_db(transaction=True)


def sample_clip() -> clips.StoredClip:
    chunk = MediaChunk(
        turn_id=uuid.uuid4(),
        seq=0,
        audio=b"\x01\x00" * 6400,
        frames=(ChunkFrame(0, Box(1, 2, 3, 4), b"\xff\xd8x"),) * 10,
    )
    return clips.encode([chunk], [clips.ClipSentence(0, 0, "We open at nine.")])


def test_racing_writers_leave_one_row_and_one_file(tmp_path) -> None:
    avatar = make_avatar()
    runtime = AvatarRuntime(
        id=avatar.pk,
        slug=avatar.slug,
        name="A",
        baked_checksum="c",
        renderer="cpu",
        tts_backend="espeak",
        voice="en-us",
        language="en",
        languages=("en",),
        persona="",
    )
    key = canned_clip_key(
        avatar_id=avatar.pk,
        baked_checksum="c",
        voice="en-us",
        renderer="cpu",
        text="We open at nine.",
    )
    store = DjangoClipStore(root=tmp_path)
    barrier = threading.Barrier(4)

    def write() -> None:
        barrier.wait()
        try:
            store._save(key, runtime, None, sample_clip())
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert CannedClip.objects.filter(cache_key=key).count() == 1
    assert [p.name for p in (tmp_path / "clips").iterdir()] == [f"{key}.avclip"]
    stored = store._lookup(key)
    assert stored is not None and stored.sentences[0].text == "We open at nine."
    assert CannedClip.objects.get(cache_key=key).hits == 1


def test_whitespace_does_not_make_a_second_copy() -> None:
    a = canned_clip_key(
        avatar_id=1, baked_checksum="x", voice="v", renderer="cpu", text="Hi  there.\n"
    )
    b = canned_clip_key(
        avatar_id=1, baked_checksum="x", voice="v", renderer="cpu", text="Hi there."
    )
    c = canned_clip_key(
        avatar_id=1, baked_checksum="y", voice="v", renderer="cpu", text="Hi there."
    )
    assert a == b != c
