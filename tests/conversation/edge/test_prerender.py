"""The admin's pre-render action, for real: speech worker, lipsync worker, clip files and rows."""

from __future__ import annotations

import pytest

from avatars import services
from avatars.models import CannedClip, FAQEntry
from avatars.selectors import faq_entries_for
from conversation.canned import clips
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
