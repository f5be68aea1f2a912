"""The avatar page's "Play a sample" in a real Chromium against a real web process: the voice
selected (not yet saved) of that language is synthesized and loaded into the page's player."""

from __future__ import annotations

import pytest

from tests.avatars.factories import make_avatar
from tests.conversation.test_operator_browser import DESKTOP, admin_login, off_the_loop

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_play_a_sample_plays_the_selected_voice_of_that_language(
    start_daphne, browser_for, output_dir
) -> None:
    avatar = off_the_loop(lambda: make_avatar("bilingual", language="en", other_languages=["ja"]))
    _, port = start_daphne()
    page = browser_for().new_page(viewport=DESKTOP)
    admin_login(page, port, f"/admin/avatars/avatar/{avatar.pk}/change/")

    page.locator("select[name=voice_ja]").select_option("kokoro:jm_kumo")
    row = page.locator(".field-voice_ja")
    row.get_by_role("button", name="Play a sample").click()
    state = row.locator(".voice-preview-state")
    state.filter(has_text="kokoro:jm_kumo").wait_for(timeout=60_000)
    assert "No sample" not in state.text_content()
    duration = page.wait_for_function(
        "() => { const a = document.querySelector('.field-voice_ja audio');"
        " return a.readyState >= 1 && a.duration; }",
        timeout=30_000,
    ).json_value()
    assert duration > 1.5  # the Japanese sample sentence, seconds of it
    page.screenshot(path=str(output_dir / "voice-sample.png"))

    english = page.locator(".field-voice")
    english.get_by_role("button", name="Play a sample").click()
    english.locator(".voice-preview-state").filter(has_text="piper:en_US-joe-medium").wait_for(
        timeout=60_000
    )
