"""The hand-off end to end over real daphne processes, Redis and a lip-sync worker: a customer
on one web process, the agent's console on another. The FAQ cannot answer, the customer asks
for a person, the hand-off appears in the console, the agent takes it and types a reply that
the customer hears with lips and subtitles, then gives it back and the avatar answers again."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from django.conf import settings
from django.test import Client

from conversation.protocol import MediaKind
from handoff.models import HandOff
from tests.conversation.llm.fake_servers import FakeServer, openai_reply
from tests.conversation.ws_client import AvatarClient, is_turn_end, media, of_type
from tests.handoff.conftest import make_agent

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

OFF_FAQ = "Do you repair antique telescopes?"
LLM_ANSWER = "I'm not sure we do that."
ASK_PERSON = "Can I talk to someone?"
AGENT_WORDS = "Hello, this is Ann from support. We can repair it next week."
HOURS = "When are you open?"


class Console:
    """The agent's console socket, as its page opens it: the session cookie, this site's origin."""

    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket
        self.seen: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, port: int, cookie: str) -> Console:
        socket = await websockets.connect(
            f"ws://127.0.0.1:{port}/ws/handoff/console/",
            origin=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie},
        )
        return cls(socket)

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(message))

    async def until(self, kind: str, where: Any = None, timeout: float = 30) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                message = json.loads(await self.socket.recv())
                self.seen.append(message)
                if message["type"] == kind and (where is None or where(message)):
                    return message


def subtitles(events: list) -> str:
    return " ".join(s.text for s in of_type(events, "subtitle"))


def test_customer_to_agent_and_back_across_two_web_processes(
    demo_avatar, start_worker, start_daphne
) -> None:
    fake = FakeServer().start()
    fake.reply = openai_reply([LLM_ANSWER])
    agent = make_agent("ann")
    client = Client()
    client.force_login(agent)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    try:
        start_worker("lipsync")
        llm = {"LLM_BASE_URL": f"{fake.url}/v1", "LIPSYNC_TIMEOUT_S": "20"}
        _, customer_port = start_daphne(**llm)
        _, console_port = start_daphne(**llm)

        async def scenario() -> dict[str, Any]:
            customer = await AvatarClient.connect(customer_port)
            await customer.next_event(10)
            console = await Console.open(console_port, cookie)
            first_list = await console.until("list")

            await customer.send({"type": "text", "text": OFF_FAQ})
            llm_turn = await customer.until(is_turn_end, 90)
            await customer.send({"type": "text", "text": ASK_PERSON})
            handoff_turn = await customer.until(is_turn_end, 90)
            opened = of_type(handoff_turn, "handoff")[0]
            listed = await console.until("list", where=lambda m: m["handoffs"])

            await customer.send(
                {"type": "handoff_consent", "handoff_id": str(opened.handoff_id), "consent": True}
            )
            await customer.until(lambda e: e.type == "handoff", 10)
            await console.send({"type": "watch", "handoff_id": str(opened.handoff_id)})
            watched = await console.until("handoff")

            await console.send({"type": "take", "handoff_id": str(opened.handoff_id)})
            taken = await customer.until(lambda e: e.type == "handoff", 20)
            await console.send(
                {"type": "say", "handoff_id": str(opened.handoff_id), "text": AGENT_WORDS}
            )
            agent_turn = await customer.until(is_turn_end, 90)
            echoed = await console.until("line", where=lambda m: m["role"] == "agent")

            await customer.send({"type": "text", "text": "Great, thank you Ann!"})
            quiet_turn = await customer.until(is_turn_end, 30)
            heard = await console.until("line", where=lambda m: m["role"] == "customer")

            await console.send({"type": "give_back", "handoff_id": str(opened.handoff_id)})
            given_back = await customer.until(lambda e: e.type == "handoff", 20)
            await customer.send({"type": "text", "text": HOURS})
            avatar_again = await customer.until(is_turn_end, 90)
            await customer.close()
            await console.socket.close()
            return locals()

        got = asyncio.run(scenario())
    finally:
        fake.stop()

    assert got["first_list"]["handoffs"] == []
    assert subtitles(got["llm_turn"]) == LLM_ANSWER and not of_type(got["llm_turn"], "handoff")
    assert "passing you to a colleague" in subtitles(got["handoff_turn"])
    assert any(c.kind is MediaKind.CHUNK for c in media(got["handoff_turn"]))  # said with lips
    assert got["opened"].status == "waiting" and got["opened"].ask_consent
    [listed] = got["listed"]["handoffs"]
    assert listed["id"] == str(got["opened"].handoff_id)
    assert listed["reason"] == "asked_for_person" and listed["status"] == "waiting"
    assert [(line["role"], line["text"]) for line in got["watched"]["transcript"]][:3] == [
        ("customer", OFF_FAQ),
        ("avatar", LLM_ANSWER),
        ("customer", ASK_PERSON),
    ]
    taken = got["taken"][-1].message
    assert taken.status == "taken" and taken.agent == "ann"
    agent_turn = got["agent_turn"]
    assert subtitles(agent_turn) == AGENT_WORDS
    chunks = media(agent_turn)
    assert any(c.kind is MediaKind.CHUNK and c.frames for c in chunks)  # the agent's words, lips
    assert chunks[-1].kind is MediaKind.END
    assert got["echoed"]["text"] == AGENT_WORDS
    quiet = got["quiet_turn"]  # a person holds it: the avatar says nothing of its own
    assert not of_type(quiet, "subtitle") and [c.kind for c in media(quiet)] == [MediaKind.END]
    assert got["heard"]["text"] == "Great, thank you Ann!"
    assert got["given_back"][-1].message.status == "closed"
    assert subtitles(got["avatar_again"]).startswith("Our customer service is open")
    assert len(fake.requests) == 1  # the LLM answered only the first question
    hand_off = HandOff.objects.get()
    assert hand_off.status == HandOff.Status.CLOSED and hand_off.taken_by == agent
    roles = [line.role for line in hand_off.transcript.all()]
    assert roles.count("agent") == 1 and roles[-1] == "customer"
