"""The agents' console over its WebSocket, in-process on the real Redis channel layer: only
staff with the console permission, from this site; one taker; words reach the session's
channel only from the person holding the hand-off; giving back tells the session."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from avatarsite.routing import websocket_urlpatterns
from contracts.messages import AgentChat, AgentSays, DeskNotice
from handoff import services
from handoff.desk import DeskForSession
from handoff.models import HandOff
from tests.avatars.factories import make_avatar
from tests.handoff.conftest import make_agent, open_handoff
from tests.handoff.sessions import play

pytestmark = pytest.mark.django_db(transaction=True)

SITE = "http://127.0.0.1"


def cookie_of(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def console(cookie: str | None, origin: str = SITE) -> tuple[WebsocketCommunicator, bool]:
    headers = [(b"origin", origin.encode()), (b"host", b"127.0.0.1")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    socket = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns), "/ws/handoff/console/", headers
    )
    connected, _ = await socket.connect()
    return socket, connected


async def next_of(
    socket: WebsocketCommunicator, kind: str, where: Any = None, timeout: float = 5
) -> dict[str, Any]:
    """The next message of `kind` (for which `where` holds, if given)."""
    async with asyncio.timeout(timeout):
        while True:
            message = await socket.receive_json_from(timeout)
            if message["type"] == kind and (where is None or where(message)):
                return message


def test_the_console_page_is_for_staff_with_the_permission_only() -> None:
    agent, clerk = make_agent("agent"), make_agent("clerk", console=False)
    customer = get_user_model().objects.create_user("customer", password="pw-123456")
    pages = {}
    for name, user in (
        ("anonymous", None),
        ("customer", customer),
        ("clerk", clerk),
        ("agent", agent),
    ):
        client = Client()
        if user is not None:
            client.force_login(user)
        pages[name] = client.get("/handoff/console/")
    assert pages["anonymous"].status_code == 302
    assert pages["anonymous"]["Location"].startswith("/admin/login/")
    assert pages["customer"].status_code == 403 and pages["clerk"].status_code == 403
    assert pages["agent"].status_code == 200 and b"handoff/console.js" in pages["agent"].content


def test_the_console_socket_refuses_anyone_but_console_staff_and_other_sites() -> None:
    customer = get_user_model().objects.create_user("customer", password="pw-123456")
    cookies = {
        "anonymous": None,
        "customer": cookie_of(customer),
        "clerk": cookie_of(make_agent("clerk", console=False)),
    }
    agent = cookie_of(make_agent("agent"))

    async def scenario() -> dict[str, Any]:
        outcomes: dict[str, Any] = {}
        for name, cookie in cookies.items():
            socket, _ = await console(cookie)
            outcomes[name] = await socket.receive_output(5)
            await socket.disconnect()
        _, outcomes["other site"] = await console(agent, origin="https://evil.example")
        socket, connected = await console(agent)
        outcomes["agent"] = (connected, await next_of(socket, "list"))
        await socket.disconnect()
        return outcomes

    outcomes = play(scenario())
    for name in cookies:
        assert outcomes[name] == {"type": "websocket.close", "code": 4003}, name
    assert outcomes["other site"] is False
    assert outcomes["agent"] == (True, {"type": "list", "handoffs": []})


def test_a_new_hand_off_appears_live_and_only_one_agent_takes_it() -> None:
    avatar = make_avatar()
    first, second = make_agent("first"), make_agent("second")
    first_cookie, second_cookie = cookie_of(first), cookie_of(second)

    async def scenario() -> dict[str, Any]:
        layer = get_channel_layer()
        session_channel = await layer.new_channel()
        one, _ = await console(first_cookie)
        two, _ = await console(second_cookie)
        await next_of(one, "list")
        await next_of(two, "list")
        desk = DeskForSession(
            avatar_id=avatar.pk, session_id="0" * 32, channel_name=session_channel
        )
        hand_off_id = await desk.open(reason="asked_for_person", language="en", faq_entry_ids=[])
        listed = await next_of(one, "list")
        await next_of(two, "list")
        await one.send_json_to({"type": "take", "handoff_id": hand_off_id})
        taken = await layer.receive(session_channel)
        await two.send_json_to({"type": "take", "handoff_id": hand_off_id})
        refused = await next_of(two, "error")
        await two.send_json_to({"type": "say", "handoff_id": hand_off_id, "text": "hi"})
        not_holding = await next_of(two, "error")
        await one.send_json_to(
            {"type": "say", "handoff_id": hand_off_id, "text": "Hello, I'm Ann."}
        )
        said = await layer.receive(session_channel)
        await one.send_json_to(
            {"type": "say", "handoff_id": hand_off_id, "text": "One moment.", "spoken": False}
        )
        chatted = await layer.receive(session_channel)
        await one.send_json_to({"type": "give_back", "handoff_id": hand_off_id})
        given_back = await layer.receive(session_channel)
        after = await next_of(one, "list", where=lambda m: not m["handoffs"])
        await one.disconnect()
        await two.disconnect()
        return locals()

    got = play(scenario())
    assert [h["id"] for h in got["listed"]["handoffs"]] == [got["hand_off_id"]]
    assert DeskNotice.decode(got["taken"]) == DeskNotice(got["hand_off_id"], "taken", "first")
    assert got["refused"]["message"] == "Someone else took it already."
    assert got["not_holding"]["message"].startswith("Take the hand-off first")
    assert AgentSays.decode(got["said"]) == AgentSays(
        got["hand_off_id"], "first", "Hello, I'm Ann."
    )
    assert AgentChat.decode(got["chatted"]).text == "One moment."
    assert DeskNotice.decode(got["given_back"]).status == "closed"
    assert got["after"]["handoffs"] == []
    hand_off = HandOff.objects.get()
    assert hand_off.status == HandOff.Status.CLOSED and hand_off.taken_by == first


def test_watching_shows_the_transcript_only_with_consent_and_new_lines_live() -> None:
    shared, private = open_handoff(), open_handoff()
    services.handoff_consent_record(
        hand_off_id=str(shared.pk), given=True, lines=[("customer", "my parcel never came")]
    )
    services.handoff_consent_record(
        hand_off_id=str(private.pk), given=False, lines=[("customer", "my secret")]
    )
    cookie = cookie_of(make_agent())

    async def scenario() -> dict[str, Any]:
        socket, _ = await console(cookie)
        await socket.send_json_to({"type": "watch", "handoff_id": str(private.pk)})
        private_view = await next_of(socket, "handoff")
        await socket.send_json_to({"type": "watch", "handoff_id": str(shared.pk)})
        shared_view = await next_of(socket, "handoff")
        desk = DeskForSession(avatar_id=0, session_id="", channel_name="")
        await desk.line(str(private.pk), role="customer", text="not watched now", store=False)
        await desk.line(str(shared.pk), role="customer", text="are you there?", store=True)
        line = await next_of(socket, "line")
        await socket.send_json_to({"type": "refresh"})  # what the page asks now and then
        refreshed = await next_of(socket, "list")
        refreshed_status = await next_of(socket, "status")
        await socket.send_json_to({"type": "watch", "handoff_id": "nonsense"})
        bad = await next_of(socket, "error")
        await socket.disconnect()
        return locals()

    got = play(scenario())
    assert got["private_view"]["transcript"] == []
    assert got["private_view"]["handoff"]["transcript_consent"] is False
    assert got["shared_view"]["transcript"] == [
        {"role": "customer", "text": "my parcel never came"}
    ]
    assert got["line"] == {"type": "line", "role": "customer", "text": "are you there?"}
    assert {h["id"] for h in got["refreshed"]["handoffs"]} == {str(shared.pk), str(private.pk)}
    assert got["refreshed_status"]["handoff"]["id"] == str(shared.pk)
    assert got["bad"]["message"].startswith("handoff_id:")
    assert [line.text for line in shared.transcript.all()] == [
        "my parcel never came",
        "are you there?",
    ]


def test_an_agent_watching_before_the_customer_consents_gets_the_transcript_then() -> None:
    waiting = open_handoff()
    cookie = cookie_of(make_agent())

    async def scenario() -> dict[str, Any]:
        socket, _ = await console(cookie)
        await socket.send_json_to({"type": "watch", "handoff_id": str(waiting.pk)})
        before = await next_of(socket, "handoff")
        desk = DeskForSession(avatar_id=0, session_id="", channel_name="")
        await desk.consent(str(waiting.pk), given=True, lines=[("customer", "can I talk to you?")])
        after = await next_of(socket, "handoff")
        await socket.disconnect()
        return locals()

    got = play(scenario())
    assert (
        got["before"]["transcript"] == [] and got["before"]["handoff"]["transcript_consent"] is None
    )
    assert got["after"]["transcript"] == [{"role": "customer", "text": "can I talk to you?"}]
    assert got["after"]["handoff"]["transcript_consent"] is True
