"""The admin's pre-render action, for real: speech worker, lipsync worker, clip files and rows."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import numpy as np
import pytest

from avatars import services
from avatars.clip_keys import canned_clip_key
from avatars.models import CannedClip, FAQEntry
from avatars.selectors import faq_entries_for
from conversation.canned import clips
from conversation.protocol import MediaKind
from tests.conversation.ws_client import AvatarClient, is_turn_end, media, of_type
from tests.processes import wait_until

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_prerender_stores_one_clip_per_answer_and_a_second_run_adds_none(
    demo_avatar, start_worker, settings
) -> None:
    FAQEntry.objects.exclude(pk__in=list(FAQEntry.objects.values_list("pk", flat=True)[:3])).update(
        active=False
    )
    start_worker("lipsync")
    start_worker("speech")
    assert services.faq_clips_prerender_request(avatar=demo_avatar) == 3
    wait_until(lambda: CannedClip.objects.count() == 3, 180, "three canned clips")
    for clip in CannedClip.objects.all():
        stored = clips.read(settings.PRIVATE_MEDIA_ROOT / clip.media_path)
        assert clip.frame_count == stored.frame_count > 0 and clip.duration_ms > 1000
        assert clip.faq_entry_id in {e.pk for e in faq_entries_for(demo_avatar)}
        assert stored.sentences[0].text.split()[0] in clip.faq_entry.answer
        assert clip.voice == "piper:en_US-joe-medium"  # the voice that really spoke
    services.faq_clips_prerender_request(avatar=demo_avatar)
    wait_until(lambda: sum(c.hits for c in CannedClip.objects.all()) == 3, 120, "cache hits")
    assert CannedClip.objects.count() == 3


def test_a_japanese_answer_is_prerendered_in_the_japanese_voice_and_played_to_a_japanese_question(
    demo_avatar, start_worker, start_daphne
) -> None:
    """The demo avatar speaks English with Piper's joe and Japanese with the voice chosen for
    it: the Japanese FAQ answer's clip is rendered and keyed in that voice, the same question
    typed in Japanese plays it, and choosing another Japanese voice renders it anew."""
    from avatars.demo_data import DEMO_FAQ_JA
    from conversation.asr.packaged import whisper_base
    from conversation.asr.whisper_backend import FasterWhisperAsr

    question, _, answer = DEMO_FAQ_JA[0]  # 営業時間を教えてください。
    entry = FAQEntry.objects.get(language="ja", question=question)
    FAQEntry.objects.exclude(pk=entry.pk).update(active=False)
    demo_avatar.voices = {"ja": "kokoro:jm_kumo"}
    demo_avatar.save()
    start_worker("lipsync")
    start_worker("speech")

    assert services.faq_clips_prerender_request(avatar=demo_avatar) == 1
    wait_until(lambda: CannedClip.objects.count() == 1, 180, "the Japanese clip")
    clip = CannedClip.objects.get()
    assert clip.voice == "kokoro:jm_kumo" and clip.faq_entry_id == entry.pk
    assert clip.cache_key == canned_clip_key(
        avatar_id=demo_avatar.pk,
        baked_checksum=demo_avatar.baked_checksum,
        voice="kokoro:jm_kumo",
        renderer=demo_avatar.renderer_in_use,
        text=answer,
    )

    _, port = start_daphne(LIPSYNC_TIMEOUT_S="20")

    async def ask() -> list:
        client = await AvatarClient.connect(port)
        await client.next_event(10)
        await client.send({"type": "text", "text": question})
        events = await client.until(is_turn_end, 120)
        await client.close()
        return events

    events = asyncio.run(ask())
    assert of_type(events, "turn_end")[0].cache_hit
    assert "".join(s.text for s in of_type(events, "subtitle")) == answer
    chunks = [c for c in media(events) if c.kind is MediaKind.CHUNK]
    assert chunks and all(c.frames for c in chunks)
    clip.refresh_from_db()
    assert clip.hits == 1
    # The clip speaks Japanese (not joe's English voice reading it, nor espeak-ng).
    speech = np.frombuffer(b"".join(c.audio for c in chunks), dtype=np.int16)[: 8 * 16_000]
    models = Path(os.environ["AVATAR_MODELS_DIR"])
    probabilities = FasterWhisperAsr(str(whisper_base(models))).language_probabilities(speech)
    assert max(probabilities, key=probabilities.__getitem__) == "ja"

    # Another Japanese voice: the answer is spoken and stored again, under that voice.
    demo_avatar.voices = {"ja": "kokoro:jf_nezumi"}
    demo_avatar.save()
    events = asyncio.run(ask())
    assert not of_type(events, "turn_end")[0].cache_hit
    wait_until(lambda: CannedClip.objects.count() == 2, 30, "the clip in the new voice")
    assert set(CannedClip.objects.values_list("voice", flat=True)) == {
        "kokoro:jm_kumo",
        "kokoro:jf_nezumi",
    }
