"""The turn charts: the turn records summed up per bucket and per avatar, and the staff page."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from avatars.models import Avatar, TurnRecord
from monitoring.selectors import WINDOWS, turn_series
from tests.avatars.factories import make_avatar

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)


def record(
    avatar: Avatar | None,
    at: datetime,
    *,
    ttfw: float | None = None,
    interrupted: bool = False,
    fallbacks: tuple[str, ...] = (),
    cache_hit: bool = False,
) -> TurnRecord:
    return TurnRecord.objects.create(
        turn_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        avatar=avatar,
        started_at=at,
        ttfw_ms=ttfw,
        interrupted=interrupted,
        fallbacks=list(fallbacks),
        cache_hit=cache_hit,
    )


def charts_in(page: str) -> list[str]:
    """The charts drawn on the page, each a figure holding an inline SVG."""
    return re.findall(r'<figure id="chart-(\w+)">\s*<figcaption>[^<]*</figcaption>\s*<svg', page)


def staff_client() -> Client:
    user = get_user_model().objects.create_user("boss", password="x", is_staff=True)
    client = Client()
    client.force_login(user)
    return client


def test_turns_are_tallied_per_bucket_and_per_avatar() -> None:
    ava, bob = make_avatar("ava"), make_avatar("bob")
    for i, ms in enumerate([100, 200, 300, 400, 1000]):
        record(ava, NOW - timedelta(minutes=5), ttfw=ms, cache_hit=i < 2)
    record(ava, NOW - timedelta(minutes=65), ttfw=50, interrupted=True, fallbacks=("one_moment",))
    record(bob, NOW - timedelta(minutes=65), fallbacks=("handoff", "audio_only"))
    record(bob, NOW - timedelta(hours=25), ttfw=10)  # before the window

    series = turn_series(window=WINDOWS["24h"], now=NOW)

    assert series.end == datetime(2026, 3, 10, 13, 0, tzinfo=UTC)  # whole hourly buckets
    assert series.start == series.end - timedelta(hours=24) and len(series.buckets) == 24
    last, before = series.buckets[-1], series.buckets[-2]
    assert last.start == datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert last.turns == 5 and last.ttfw_p50 == 300 and last.ttfw_p95 == pytest.approx(880)
    assert last.cache_hit_rate == pytest.approx(0.4) and last.barge_ins == 0
    assert before.turns == 2 and before.barge_ins == 1 and before.ttfw_p50 == 50
    assert before.fallbacks == {"one_moment": 1, "handoff": 1, "audio_only": 1}
    assert series.total.turns == 7 and series.total.fallback_count == 3
    assert [(t.slug, t.turns, t.barge_ins) for t in series.avatars] == [
        ("ava", 6, 1),
        ("bob", 1, 0),
    ]
    assert series.avatars[1].ttfw_p95 is None  # bob's one turn in the window had no first word

    only_bob = turn_series(window=WINDOWS["7d"], avatar=bob, now=NOW)
    assert only_bob.total.turns == 2 and [t.slug for t in only_bob.avatars] == ["bob"]
    assert only_bob.window.step == timedelta(hours=6) and len(only_bob.buckets) == 28


def test_a_deleted_avatars_turns_still_count() -> None:
    record(None, NOW - timedelta(minutes=1), ttfw=500)
    series = turn_series(window=WINDOWS["6h"], now=NOW)
    assert [(t.name, t.turns) for t in series.avatars] == [("(avatar deleted)", 1)]


def test_staff_see_the_charts_of_the_window() -> None:
    ava, bob = make_avatar("ava"), make_avatar("bob")
    now = timezone.now()
    for ms in (400, 600, 800):
        record(ava, now - timedelta(minutes=1), ttfw=ms, cache_hit=True)
    record(bob, now - timedelta(hours=2), ttfw=1200, interrupted=True, fallbacks=("handoff",))

    page = staff_client().get("/admin/turn-charts/?window=24h").content.decode()

    assert "<strong>4</strong> turns" in page
    assert "p50 <strong>700 ms</strong>" in page  # 400, 600, 800, 1200
    assert charts_in(page) == ["ttfw", "turns", "fallbacks", "cache", "avatars"]
    assert "<script" not in page[page.index('<div class="charts">') :]  # drawn on the server
    assert "Time to first word (ms)" in page and "handoff (1)" in page  # text, not paths
    assert '<table id="per-avatar">' in page and "?window=24h&amp;avatar=bob" in page


def test_one_avatars_charts_and_an_empty_window() -> None:
    ava, bob = make_avatar("ava"), make_avatar("bob")
    record(ava, timezone.now() - timedelta(minutes=1), ttfw=300)
    record(bob, timezone.now() - timedelta(days=3), ttfw=300)
    client = staff_client()

    page = client.get("/admin/turn-charts/?window=24h&avatar=ava").content.decode()
    assert "<strong>1</strong> turn," in page
    assert charts_in(page) == ["ttfw", "turns", "fallbacks", "cache"]  # no per-avatar chart

    empty = client.get("/admin/turn-charts/?window=24h&avatar=bob").content.decode()
    assert "no turns" in empty and charts_in(empty) == []


def test_an_avatar_name_is_shown_as_written() -> None:
    odd = make_avatar("odd")
    Avatar.objects.filter(pk=odd.pk).update(name="<b>Ms $5</b> & co")
    make_avatar("ava")
    record(odd, timezone.now(), ttfw=300)
    record(Avatar.objects.get(slug="ava"), timezone.now(), ttfw=300)
    page = staff_client().get("/admin/turn-charts/").content.decode()
    assert "<b>Ms" not in page
    assert page.count("&lt;b&gt;Ms $5&lt;/b&gt; &amp; co") >= 2  # the table and the chart's label


def test_the_page_is_for_staff_and_linked_from_the_admin() -> None:
    customer = get_user_model().objects.create_user("someone", password="x")
    client = Client()
    client.force_login(customer)
    refused = client.get("/admin/turn-charts/")
    assert refused.status_code == 302 and refused["Location"].startswith("/admin/login/")

    index = staff_client().get("/admin/").content.decode()
    assert '<a href="/admin/turn-charts/">Turn charts</a>' in index
