"""The turn charts in a real Chromium, from the turn records of real conversations.

A staff user logs in to the admin, follows its "Turn charts" link and sees the turns that just
happened over a real daphne and lipsync worker in the last 24 hours; a week of older records,
written as the recorder writes them, fills the 7-day view. Screenshots stay in
test-output/<test name>/.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from avatars.models import Avatar, TurnRecord
from tests.conversation.conftest import CHROMIUM, FLAGS
from tests.conversation.ws_client import AvatarClient, is_turn_end
from tests.processes import wait_until

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


async def two_turns_one_interrupted(port: int) -> None:
    client = await AvatarClient.connect(port)
    await client.next_event(10)
    await client.send({"type": "text", "text": "How can I return an item?"})
    await client.until(lambda e: e.type == "media:chunk", 60)
    await client.send({"type": "text", "text": "When are you open?"})  # a barge-in
    await client.until(is_turn_end, 90)
    await client.close()


def a_week_of_older_turns(avatar: Avatar) -> None:
    """Records as the recorder writes them, every few hours of the five days before the last."""
    pick = random.Random(7)
    now = timezone.now()
    fallbacks = [[], [], [], [], ["one_moment"], ["audio_only"], ["handoff"], ["subtitles_only"]]
    for hour in range(25, 6 * 24, 3):
        for _ in range(pick.randint(1, 6)):
            TurnRecord.objects.create(
                turn_id=uuid.uuid4(),
                session_id=uuid.uuid4(),
                avatar=avatar,
                input_kind=pick.choice(["text", "voice"]),
                started_at=now - timedelta(hours=hour, minutes=pick.randint(0, 59)),
                ttfw_ms=pick.lognormvariate(6.4, 0.35),
                fallbacks=pick.choice(fallbacks),
                cache_hit=pick.random() < 0.35,
                interrupted=pick.random() < 0.15,
            )


def test_staff_see_the_charts_of_real_turns(
    demo_avatar, start_worker, start_daphne, output_dir: Path
) -> None:
    start_worker("lipsync")
    _, port = start_daphne(LIPSYNC_TIMEOUT_S="20")
    asyncio.run(two_turns_one_interrupted(port))
    wait_until(lambda: TurnRecord.objects.count() == 2, 10, "both turn records")
    real = list(TurnRecord.objects.all())
    assert sum(r.interrupted for r in real) == 1 and all(r.ttfw_ms for r in real)
    a_week_of_older_turns(demo_avatar)
    older = TurnRecord.objects.count() - 2
    get_user_model().objects.create_user("boss", password="a-long-password", is_staff=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/admin/login/")
        page.fill("#id_username", "boss")
        page.fill("#id_password", "a-long-password")
        page.click("input[type=submit]")
        page.get_by_role("link", name="Turn charts").click()

        summary = page.locator("#summary")
        expect(summary).to_contain_text("2 turns")
        expect(summary).to_contain_text("1 barge-in,")
        expect(page.locator("figure svg")).to_have_count(4)  # one avatar: no per-avatar chart
        expect(page.locator("#per-avatar tbody tr")).to_have_count(1)
        expect(page.locator("#per-avatar tbody th")).to_have_text(demo_avatar.name)
        assert page.locator("#chart-ttfw svg").bounding_box()["height"] > 100  # drawn, visible
        page.screenshot(path=str(output_dir / "turn-charts-24h.png"), full_page=True)

        page.select_option("select[name=window]", "7d")
        page.click("input[value=Show]")
        expect(summary).to_contain_text(f"{older + 2} turns")
        expect(page.locator("#chart-fallbacks")).to_contain_text("handoff")
        page.screenshot(path=str(output_dir / "turn-charts-7d.png"), full_page=True)
        browser.close()
