"""Widget origins managed in the admin: for every avatar or for one, beside WIDGET_ORIGINS."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse

from avatars.models import WidgetOrigin
from avatarsite.http import access, origins
from tests.avatars.factories import make_avatar

SHOP = "https://shop.example"
BLOG = "https://blog.example"
HOST = "avatar.example"


@pytest.fixture(autouse=True)
def fresh_table() -> Iterator[None]:
    """Each test reads the rows it made: no table cached by an earlier test."""
    origins.forget()
    yield
    origins.forget()


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-123456")
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
@override_settings(WIDGET_ORIGINS=[])
def test_an_origin_for_every_avatar_and_one_for_a_single_avatar() -> None:
    shop_avatar = make_avatar("shopper")
    make_avatar("other")
    WidgetOrigin.objects.create(origin=BLOG)
    WidgetOrigin.objects.create(origin=SHOP, avatar=shop_avatar)

    assert access.origin_allowed(BLOG, HOST, avatar_slug="shopper")
    assert access.origin_allowed(BLOG, HOST, avatar_slug="other")
    assert access.origin_allowed(SHOP + ":443", HOST, avatar_slug="shopper")
    assert not access.origin_allowed(SHOP, HOST, avatar_slug="other")
    # Without an avatar (the WebSocket, whose token names it): allowed for some avatar.
    assert access.origin_allowed(SHOP, HOST)
    assert not access.origin_allowed("https://elsewhere.example", HOST)


@pytest.mark.django_db
def test_widget_origins_stays_the_bootstrap_list() -> None:
    with override_settings(WIDGET_ORIGINS=[SHOP]):
        assert access.origin_allowed(SHOP, HOST, avatar_slug="anyone")
    with override_settings(WIDGET_ORIGINS=[]):
        assert not access.origin_allowed(SHOP, HOST, avatar_slug="anyone")


@pytest.mark.django_db
@override_settings(WIDGET_ORIGINS=[])
def test_a_change_is_read_again_after_the_refresh_interval(monkeypatch) -> None:
    assert not access.origin_allowed(SHOP, HOST)
    WidgetOrigin.objects.create(origin=SHOP)
    monkeypatch.setattr(origins, "REFRESH_S", 0.0)  # "a few seconds later", without waiting
    assert access.origin_allowed(SHOP, HOST)
    WidgetOrigin.objects.all().delete()
    assert not access.origin_allowed(SHOP, HOST)


@pytest.mark.django_db(transaction=True)
@override_settings(WIDGET_ORIGINS=[])
def test_the_websocket_side_reads_the_rows_from_inside_an_event_loop() -> None:
    WidgetOrigin.objects.create(origin=SHOP)

    async def on_the_loop() -> bool:
        return access.origin_allowed(SHOP, HOST)  # as the consumer calls it: sync, on the loop

    assert asyncio.run(on_the_loop())


@pytest.mark.django_db
@override_settings(WIDGET_ORIGINS=[])
def test_the_admin_form_stores_an_origin_the_way_it_is_compared(staff: Client) -> None:
    add = reverse("admin:avatars_widgetorigin_add")
    saved = staff.post(add, {"origin": " HTTPS://Shop.Example:443/ ", "note": "Our shop"})
    assert saved.status_code == 302
    assert list(WidgetOrigin.objects.values_list("origin", flat=True)) == [SHOP]
    assert access.origin_allowed(SHOP, HOST)  # this process at once

    for written, error in [
        ("https://shop.example/help", "origin only"),
        ("shop.example", "origin only"),
        ("*", "origin only"),
        ("https://Shop.example", "already allowed for every avatar"),
    ]:
        refused = staff.post(add, {"origin": written})
        assert refused.status_code == 200, written
        assert error in refused.content.decode(), written
    assert WidgetOrigin.objects.count() == 1

    listing = staff.get(reverse("admin:avatars_widgetorigin_changelist")).content.decode()
    assert SHOP in listing and "every avatar" in listing
