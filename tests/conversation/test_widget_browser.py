"""The widget in a real Chromium against the real stack: voice, typing, stop, and embedding.

Chromium is Debian's (`/usr/bin/chromium`), driven by the `playwright` package; its fake
microphone plays an espeak-ng recording once (`%noloop`).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
from playwright.sync_api import ConsoleMessage, Page

from tests.speech_audio import espeak_pcm16, with_noise

WIDGET = "AvatarWidget.instances[0]"
OPENING_HOURS_ANSWER = "Our customer service is open"
RETURNS_ANSWER_QUESTION = "How do I return an item?"


def write_wav(path: Path, samples) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(samples.tobytes())
    return path


class ConsoleWatch:
    """Every console error and uncaught page error of a page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


def stats(page: Page) -> dict:
    return page.evaluate(f"{WIDGET}.stats()")


def wait_for(page: Page, condition: str, timeout_s: float = 60) -> None:
    page.wait_for_function(
        f"window.AvatarWidget && {WIDGET} && ({condition})", timeout=timeout_s * 1000
    )


def mouth_pixels(page: Page) -> str:
    """A digest of the canvas pixels in the lower half of the face box (the mouth region)."""
    return page.evaluate(
        f"""() => {{
        const widget = {WIDGET};
        const box = widget.stats().faceBox;
        const canvas = widget.canvas;
        const pixels = canvas.getContext("2d").getImageData(
            box.x + box.w / 4, box.y + box.h / 2, box.w / 2, box.h / 2).data;
        let sum = 0, weighted = 0;
        for (let i = 0; i < pixels.length; i += 4) {{ sum += pixels[i]; weighted += pixels[i] * (i % 97); }}
        return `${{sum}}/${{weighted}}`;
    }}"""
    )


def mouth_while_playing(page: Page, samples: int = 40) -> set[str]:
    seen = set()
    for _ in range(samples):
        if stats(page)["playing"]:
            seen.add(mouth_pixels(page))
        page.wait_for_timeout(60)
    return seen


def test_the_demo_page_listens_answers_with_moving_lips_and_stops(
    demo_avatar, start_worker, start_daphne, browser_for, output_dir
) -> None:
    start_worker("lipsync")
    _, port = start_daphne(LIPSYNC_TIMEOUT_S="20", ASR_LOCATION="web")
    question = with_noise(
        espeak_pcm16("What are your opening hours?", silence_before=1.5, silence_after=6.0)
    )
    browser = browser_for(write_wav(output_dir / "question.wav", question))
    page = browser.new_page(viewport={"width": 420, "height": 900})  # a phone-width screen
    console = ConsoleWatch(page)
    page.goto(f"http://127.0.0.1:{port}/")
    wait_for(page, f"{WIDGET}.stats().state === 'idle'", 30)
    page.screenshot(path=str(output_dir / "01-ready.png"))

    # Spoken question through the fake microphone; what the widget sends is kept for the record.
    page.evaluate(
        f"""() => {{
        const widget = {WIDGET}, send = widget.send.bind(widget);
        window.sentAudio = [];
        widget.send = (m) => {{ if (m instanceof ArrayBuffer) window.sentAudio.push(...new Int16Array(m)); return send(m); }};
    }}"""
    )
    page.get_by_role("button", name="Talk").click()
    wait_for(page, f"{WIDGET}.stats().micOn")
    final = page.locator(".heard .final")
    final.wait_for(timeout=60_000)
    heard = final.text_content() or ""
    assert "open" in heard or "hours" in heard
    subtitle = page.locator(".subtitle")
    page.wait_for_function(
        f"() => {WIDGET}.subtitle.textContent.startsWith({OPENING_HOURS_ANSWER!r})", timeout=60_000
    )
    wait_for(page, f"{WIDGET}.stats().playing")
    assert page.get_by_role("status").text_content() == "Speaking"
    mouths = mouth_while_playing(page)
    page.screenshot(path=str(output_dir / "02-speaking.png"))
    assert len(mouths) >= 3, "the mouth region did not change while the answer played"
    wait_for(page, f"!{WIDGET}.stats().playing && {WIDGET}.stats().state === 'idle'", 60)
    assert subtitle.text_content() == ""
    # Only now, with the answer over: handing the page's record over takes a while on a busy machine.
    sent = np.array(page.evaluate("window.sentAudio"), dtype=np.int16)
    write_wav(output_dir / "sent-by-widget.wav", sent)
    page.get_by_role("button", name="Listening").click()  # microphone off
    wait_for(page, f"!{WIDGET}.stats().micOn")

    # Typed question, stopped mid-answer with the stop button.
    box = page.get_by_role("textbox", name="Your question")
    box.fill(RETURNS_ANSWER_QUESTION)
    box.press("Enter")
    wait_for(page, f"{WIDGET}.stats().playing && {WIDGET}.stats().chunksPlayed >= 0", 60)
    stopped_turn = stats(page)["turnId"]
    page.wait_for_timeout(300)
    page.get_by_role("button", name="Stop the answer").click()
    after = stats(page)
    assert not after["playing"] and after["scheduledSources"] == 0 and after["bufferedFrames"] == 0
    page.wait_for_timeout(1500)  # anything of the stopped turn still in flight is dropped
    later = stats(page)
    assert not later["playing"] and later["bufferedFrames"] == 0
    assert later["turnId"] == stopped_turn
    assert subtitle.text_content() == ""

    # The next question is answered.
    box.fill("What are your opening hours?")
    page.get_by_role("button", name="Send").click()
    page.wait_for_function(
        f"() => {WIDGET}.subtitle.textContent.startsWith({OPENING_HOURS_ANSWER!r})", timeout=60_000
    )
    wait_for(page, f"{WIDGET}.stats().playing && {WIDGET}.stats().turnId !== {stopped_turn!r}")
    page.screenshot(path=str(output_dir / "03-answered-again.png"))
    assert console.errors == []


def shop_page(widget_url: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Shop</title>"
        '<link rel="icon" href="data:,"></head><body><h1>Shop</h1>'
        f'<script src="{widget_url}" data-avatar="demo" data-label="Ask us" defer></script>'
        "</body></html>"
    )


def test_another_site_embeds_the_widget_only_when_its_origin_is_allowed(
    demo_avatar, start_daphne, browser_for, other_site, output_dir
) -> None:
    allowed, allowed_folder = other_site()
    refused, refused_folder = other_site()
    _, port = start_daphne(WIDGET_ORIGINS=allowed)
    widget_url = f"http://127.0.0.1:{port}/static/avatar/widget.js"
    for folder in (allowed_folder, refused_folder):
        (folder / "index.html").write_text(shop_page(widget_url))
    browser = browser_for()

    page = browser.new_page()
    console = ConsoleWatch(page)
    page.goto(allowed + "/")
    launcher = page.get_by_role("button", name="Ask us")
    assert launcher.get_attribute("aria-expanded") == "false"
    launcher.click()
    wait_for(page, f"{WIDGET}.stats().state === 'idle'", 30)
    box = page.get_by_role("textbox", name="Your question")
    box.fill("What are your opening hours?")
    box.press("Enter")
    page.wait_for_function(
        f"() => {WIDGET}.subtitle.textContent.startsWith({OPENING_HOURS_ANSWER!r})", timeout=60_000
    )
    wait_for(page, f"{WIDGET}.stats().playing")
    page.screenshot(path=str(output_dir / "allowed-origin.png"))
    assert console.errors == []

    page = browser.new_page()
    page.goto(refused + "/")
    page.get_by_role("button", name="Ask us").click()
    wait_for(page, f"{WIDGET}.stats().state === 'offline'", 30)
    alert = page.get_by_role("alert")
    assert alert.text_content() == "This site isn't allowed to show the assistant."
    page.screenshot(path=str(output_dir / "refused-origin.png"))


def test_the_customer_reads_what_went_wrong_and_the_widget_reconnects(
    demo_avatar, start_daphne, browser_for, output_dir
) -> None:
    server, port = start_daphne()
    # The browser refuses the microphone, as a customer may.
    browser = browser_for(grant_microphone=False)
    page = browser.new_page()
    console = ConsoleWatch(page)
    page.goto(f"http://127.0.0.1:{port}/")
    wait_for(page, f"{WIDGET}.stats().state === 'idle'", 30)
    page.get_by_role("button", name="Talk").click()
    alert = page.get_by_role("alert")
    page.wait_for_function(f"() => {WIDGET}.alertBox.textContent.includes('microphone is blocked')")
    assert not stats(page)["micOn"]

    # The server goes away: the widget says so, backs off, and comes back by itself.
    server.stop()
    wait_for(page, f"{WIDGET}.stats().state === 'offline'", 30)
    assert "Reconnecting" in (alert.text_content() or "")
    page.screenshot(path=str(output_dir / "connection-lost.png"))
    start_daphne(port=port)
    wait_for(page, f"{WIDGET}.stats().state === 'idle'", 60)
    assert page.evaluate(f"{WIDGET}.alertBox.textContent") == ""  # hidden when empty
    box = page.get_by_role("textbox", name="Your question")
    box.fill("What are your opening hours?")
    box.press("Enter")
    page.wait_for_function(
        f"() => {WIDGET}.subtitle.textContent.startsWith({OPENING_HOURS_ANSWER!r})",
        timeout=60_000,
    )
    # Failed requests while the server was down are the only console errors.
    assert all("Failed to load resource" in e or "WebSocket" in e for e in console.errors)
