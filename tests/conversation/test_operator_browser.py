"""What operators and customers see in a real Chromium against the real stack: the avatar's
shape kept at every panel size, an unknown avatar named as such, a site allowed or refused in
the admin while the stack runs, and the avatar list following a bake by itself."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.error import HTTPError

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connections
from PIL import Image
from playwright.sync_api import Page

from avatars.models import Avatar, WidgetOrigin
from tests.avatars.factories import grant, make_avatar, portrait
from tests.conversation.test_widget_browser import WIDGET, ConsoleWatch, shop_page, wait_for
from tests.conversation.ws_client import session_token

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
STAGE_GREY = np.array([233, 233, 238])  # the stage's background: what letterboxing shows
ADMIN_PASSWORD = "pw-123456"


@pytest.fixture
def shaped_avatars(transactional_db: None) -> dict[str, Avatar]:
    """A tall portrait and a wide one (crops of the demo portrait), baked for real."""
    from lipsync_worker.tasks import bake_avatar

    crops = {"tall": (110, 0, 340, 512), "wide": (0, 20, 512, 240)}
    baked = {}
    for slug, box in crops.items():
        out = io.BytesIO()
        portrait().crop(box).save(out, "PNG")
        avatar = Avatar.objects.create(slug=slug, name=slug.title(), renderer="cpu")
        avatar.source_media.save("face.png", ContentFile(out.getvalue()), save=True)
        grant(avatar)
        bake_avatar(avatar.pk)
        avatar.refresh_from_db()
        assert avatar.status == Avatar.Status.READY, avatar.status_reason
        baked[slug] = avatar
    return baked


def off_the_loop(function: Callable[[], Any]) -> Any:
    """Run a database call on a thread of its own: Playwright's sync API keeps an event loop
    running on the test's thread, where Django refuses the ORM."""

    def run() -> object:
        try:
            return function()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def shown_shape(screenshot: Path) -> float:
    """Width / height of the picture inside a screenshot of the stage: the rows and columns
    that are mostly picture, not the grey of a letterbox (nor the page's white corners)."""
    pixels = np.asarray(Image.open(screenshot).convert("RGB")).astype(int)
    background = (np.abs(pixels - STAGE_GREY).max(axis=2) <= 10) | (pixels.min(axis=2) >= 245)
    picture = ~background
    rows = np.flatnonzero(picture.mean(axis=1) > 0.3)
    columns = np.flatnonzero(picture.mean(axis=0) > 0.3)
    return (columns[-1] - columns[0] + 1) / (rows[-1] - rows[0] + 1)


def test_tall_and_wide_portraits_keep_their_shape_on_desktop_and_phone(
    shaped_avatars, start_daphne, browser_for, output_dir
) -> None:
    _, port = start_daphne()
    browser = browser_for()
    for screen_name, screen in [("desktop", DESKTOP), ("phone", PHONE)]:
        page = browser.new_page(viewport=screen)
        console = ConsoleWatch(page)
        for slug, avatar in shaped_avatars.items():
            page.goto(f"http://127.0.0.1:{port}/?avatar={slug}")
            wait_for(page, f"{WIDGET}.stats().state === 'idle' && {WIDGET}.video.readyState >= 2")
            page.wait_for_timeout(300)  # a few painted frames of the idle loop
            page.screenshot(path=str(output_dir / f"{slug}-{screen_name}-page.png"))
            page.evaluate(f"{WIDGET}.badge.style.visibility = 'hidden'")
            stage = output_dir / f"{slug}-{screen_name}.png"
            page.locator(".stage").screenshot(path=str(stage))
            box = page.locator(".stage").bounding_box()
            assert box is not None and box["width"] <= screen["width"]
            want = avatar.geometry["width"] / avatar.geometry["height"]
            got = shown_shape(stage)
            assert abs(got / want - 1) < 0.04, f"{slug} on {screen_name}: {got:.3f} for {want:.3f}"
        assert console.errors == []
    wide, tall = (shaped_avatars[s].geometry for s in ("wide", "tall"))
    assert wide["width"] > wide["height"] and tall["width"] < tall["height"]


def test_an_unknown_or_unready_avatar_is_named_not_replaced_by_another(
    demo_avatar, start_daphne, browser_for, output_dir
) -> None:
    off_the_loop(lambda: Avatar.objects.create(slug="draft", name="Draft"))
    _, port = start_daphne()
    page = browser_for().new_page(viewport=PHONE)
    for slug, words in [
        ("nobody", "There is no assistant called “nobody”."),
        ("draft", "The assistant “draft” isn't available right now"),
    ]:
        response = page.goto(f"http://127.0.0.1:{port}/?avatar={slug}")
        assert response is not None and response.status == 404
        assert words in (page.get_by_role("alert").text_content() or "")
        assert page.evaluate("typeof window.AvatarWidget") == "undefined"  # no demo avatar
        assert page.get_by_role("link", name="Talk to Eileen").get_attribute("href") == (
            "?avatar=demo"
        )
        page.screenshot(path=str(output_dir / f"{slug}.png"))


def admin_login(page: Page, port: int, next_path: str) -> None:
    off_the_loop(
        lambda: get_user_model().objects.create_superuser("boss", "boss@x.example", ADMIN_PASSWORD)
    )
    page.goto(f"http://127.0.0.1:{port}/admin/login/?next={next_path}")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{next_path}")


def token_status(port: int, origin: str) -> int:
    try:
        session_token(port, "demo", origin)
    except HTTPError as refusal:
        return refusal.code
    return 201


def within(seconds: float, check, what: str) -> None:
    """Poll `check` until it holds; fail once `seconds` have passed (a deadline, not a timing)."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} within {seconds:.0f} s"
        time.sleep(0.2)


def test_a_site_allowed_in_the_admin_embeds_the_widget_within_seconds_and_removing_it_refuses(
    demo_avatar, start_daphne, browser_for, other_site, output_dir
) -> None:
    site, folder = other_site()
    # Two web processes: the operator works on one, the site's widget talks to the other.
    _, admin_port = start_daphne(WIDGET_ORIGINS="")
    _, port = start_daphne(WIDGET_ORIGINS="")
    (folder / "index.html").write_text(
        shop_page(f"http://127.0.0.1:{port}/static/avatar/widget.js")
    )
    assert token_status(port, site) == 403  # and that process has read the list
    browser = browser_for()

    admin = browser.new_page()
    admin_login(admin, admin_port, "/admin/avatars/widgetorigin/add/")
    admin.get_by_label("Origin").fill(site)
    admin.get_by_label("Note").fill("The shop, added while the stack runs")
    admin.get_by_role("button", name="Save", exact=True).click()
    admin.wait_for_url("**/admin/avatars/widgetorigin/")
    within(5, lambda: token_status(port, site) == 201, "the new site allowed")

    shop = browser.new_page()
    console = ConsoleWatch(shop)
    shop.goto(site + "/")
    shop.get_by_role("button", name="Ask us").click()
    wait_for(shop, f"{WIDGET}.stats().state === 'idle'", 30)
    shop.screenshot(path=str(output_dir / "allowed-from-the-admin.png"))
    assert console.errors == []

    row = off_the_loop(lambda: WidgetOrigin.objects.get(origin=site))
    admin.goto(f"http://127.0.0.1:{admin_port}/admin/avatars/widgetorigin/{row.pk}/delete/")
    admin.get_by_role("button", name="Yes, I’m sure").click()
    admin.wait_for_url("**/admin/avatars/widgetorigin/")
    within(5, lambda: token_status(port, site) == 403, "the removed site refused")

    refused = browser.new_page()
    refused.goto(site + "/")
    refused.get_by_role("button", name="Ask us").click()
    wait_for(refused, f"{WIDGET}.stats().state === 'offline'", 30)
    assert refused.get_by_role("alert").text_content() == (
        "This site isn't allowed to show the assistant."
    )
    refused.screenshot(path=str(output_dir / "removed-in-the-admin.png"))


def test_the_avatar_list_follows_a_bake_by_itself(
    start_worker, start_daphne, browser_for, output_dir
) -> None:
    off_the_loop(lambda: call_command("load_demo", stdout=io.StringIO()))  # not baked yet
    broken = off_the_loop(lambda: make_avatar("broken"))  # not a picture: the bake fails
    start_worker("lipsync")
    _, port = start_daphne()
    page = browser_for().new_page(viewport=DESKTOP)
    admin_login(page, port, "/admin/avatars/avatar/")
    for slug in ("demo", "broken"):
        page.get_by_role("row", name=slug).get_by_role("checkbox").check()
    page.locator("select[name=action]").select_option("bake")
    page.get_by_role("button", name="Go").click()
    page.wait_for_url("**/admin/avatars/avatar/")
    status = page.locator(".bake-status")
    assert status.all_text_contents() == ["Baking", "Baking"]  # ordered by name: broken, demo
    page.evaluate("window.notReloaded = true")
    page.screenshot(path=str(output_dir / "baking.png"))

    page.wait_for_function(
        "() => [...document.querySelectorAll('.bake-status')].every("
        "(cell) => cell.dataset.status !== 'baking')",
        timeout=120_000,
    )
    assert page.evaluate("window.notReloaded") is True
    cell = page.locator(f'.bake-status[data-avatar="{broken.pk}"]')
    assert cell.text_content() == "Failed"
    reason = page.locator(f'tr:has(.bake-status[data-avatar="{broken.pk}"]) .bake-reason')
    assert "could not be read" in (reason.text_content() or "")
    demo = off_the_loop(lambda: Avatar.objects.get(slug="demo"))
    assert page.locator(f'.bake-status[data-avatar="{demo.pk}"]').text_content() == "Ready"
    page.screenshot(path=str(output_dir / "baked.png"))
