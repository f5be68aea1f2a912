"""The console and the widget side by side in real Chromium during a take-over: the customer
asks for a person and taps "share", the agent signs in, takes the hand-off and types; the
widget speaks the agent's words under an "agent" badge; the agent gives it back.
Screenshots in test-output/<test>/ (handoff-side-by-side.png holds both pages)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page

from tests.conversation.conftest import browser_for
from tests.conversation.test_widget_browser import (
    OPENING_HOURS_ANSWER,
    WIDGET,
    ConsoleWatch,
    stats,
    wait_for,
)
from tests.handoff.conftest import make_agent

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]
__all__ = ["browser_for"]

AGENT_WORDS = "Hi, I'm Ann from support. I can see your order and will fix it now."


def side_by_side(left: Path, right: Path, out: Path) -> None:
    images = [Image.open(left), Image.open(right)]
    canvas = Image.new(
        "RGB", (sum(i.width for i in images), max(i.height for i in images)), "white"
    )
    canvas.paste(images[0], (0, 0))
    canvas.paste(images[1], (images[0].width, 0))
    canvas.save(out)


def sign_in(page: Page, port: int) -> None:
    page.goto(f"http://127.0.0.1:{port}/handoff/console/")  # -> the admin's sign-in page
    page.get_by_label("Username").fill("ann")
    page.get_by_label("Password").fill("pw-123456")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/handoff/console/")


@pytest.fixture
def ann(transactional_db: None) -> None:
    """The agent, made before the browser starts (playwright's loop then owns this thread)."""
    make_agent("ann")


def test_console_and_widget_side_by_side_during_a_take_over(
    demo_avatar, ann, start_worker, start_daphne, browser_for, output_dir
) -> None:
    start_worker("lipsync")
    _, port = start_daphne(LIPSYNC_TIMEOUT_S="20")
    browser = browser_for()
    widget = browser.new_context(viewport={"width": 420, "height": 860}).new_page()
    agent = browser.new_context(viewport={"width": 900, "height": 860}).new_page()
    watches = [ConsoleWatch(widget)]

    frames: list[str] = []  # what the console's socket received, kept for the record
    agent.on(
        "websocket",
        lambda socket: socket.on("framereceived", lambda frame: frames.append(str(frame))),
    )
    widget.goto(f"http://127.0.0.1:{port}/")
    wait_for(widget, f"{WIDGET}.stats().state === 'idle'", 30)
    sign_in(agent, port)  # (the admin's sign-in page has no icon: its 404 is not ours)
    watches.append(ConsoleWatch(agent))
    agent.get_by_text("No one is waiting.").wait_for()

    box = widget.get_by_role("textbox", name="Your question")
    box.fill("Can I talk to someone?")
    box.press("Enter")
    share = widget.get_by_role("button", name="Yes, share")
    share.wait_for(timeout=60_000)
    share.click()
    assert share.is_hidden()

    entry = agent.get_by_role("button", name="waiting", exact=False)
    try:
        entry.wait_for(timeout=30_000)
    finally:
        (output_dir / "console-frames.txt").write_text("\n".join(frames))
    entry.click()
    agent.get_by_text("Can I talk to someone?").wait_for(timeout=10_000)  # shared transcript
    agent.get_by_role("button", name="Take it").click()
    badge = widget.locator(".agent-badge")
    badge.wait_for(state="visible", timeout=20_000)
    assert badge.text_content() == "Agent: ann"

    agent.get_by_role("textbox", name="Your answer").fill(AGENT_WORDS)
    agent.get_by_role("button", name="Send").click()
    widget.wait_for_function(
        f"() => {WIDGET}.subtitle.textContent.startsWith('Hi, I')", timeout=60_000
    )
    wait_for(widget, f"{WIDGET}.stats().playing", 30)
    assert widget.evaluate(f"{WIDGET}.subtitle.dataset.speaker") == "ann"
    agent.locator(".line.agent").wait_for(timeout=10_000)
    widget.screenshot(path=str(output_dir / "widget-take-over.png"))
    agent.screenshot(path=str(output_dir / "console-take-over.png"))
    side_by_side(
        output_dir / "console-take-over.png",
        output_dir / "widget-take-over.png",
        output_dir / "handoff-side-by-side.png",
    )

    wait_for(widget, f"!{WIDGET}.stats().playing", 60)
    agent.get_by_role("button", name="Give back to the avatar").click()
    badge.wait_for(state="hidden", timeout=20_000)
    box.fill("What are your opening hours?")
    box.press("Enter")
    widget.wait_for_function(
        f"() => {WIDGET}.subtitle.textContent.startsWith({OPENING_HOURS_ANSWER!r})",
        timeout=60_000,
    )
    assert stats(widget)["state"] in ("speaking", "thinking", "idle")
    agent.get_by_text("No one is waiting.").wait_for(timeout=10_000)
    widget.screenshot(path=str(output_dir / "widget-given-back.png"))
    assert [w.errors for w in watches] == [[], []]
