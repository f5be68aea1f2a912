"""Each fallback, forced by a real failure in the real stack, and the conversation goes on."""

from __future__ import annotations

import asyncio

import pytest

from conversation.protocol import MediaKind
from tests.conversation.llm.fake_servers import FakeServer, Reply, openai_error, openai_reply
from tests.conversation.ws_client import AvatarClient, is_turn_end, media, of_type

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

OFF_FAQ = "Could a manager call me back about my complaint?"
# Other questions the FAQ cannot answer: the same one asked again would go to a person
# (docs/handoff.md) before the LLM is asked.
OFF_FAQ_TOO = (
    "Do you repair antique telescopes?",
    "Which charity do you support this year?",
    "Can I pay in Swiss francs at the warehouse?",
    "Is the founder of the shop still working there?",
)


async def ask(client: AvatarClient, text: str) -> tuple[list, object]:
    await client.send({"type": "text", "text": text})
    events = await client.until(is_turn_end, 60)
    return events, of_type(events, "turn_end")[0]


def subtitles(events: list) -> list[str]:
    return [s.text for s in of_type(events, "subtitle")]


def test_llm_late_failing_broken_or_hanging(demo_avatar, start_worker, start_daphne) -> None:
    fake = FakeServer().start()
    try:
        start_worker("lipsync")
        _, port = start_daphne(
            LLM_BASE_URL=f"{fake.url}/v1",
            LLM_FIRST_TOKEN_TIMEOUT_S="0.5",
            LLM_TIMEOUT_S="3",
            LIPSYNC_TIMEOUT_S="10",
        )

        async def scenario():
            client = await AvatarClient.connect(port)
            await client.next_event(10)
            results = {}
            fake.reply = openai_reply(["A manager will call ", "you back today."], delay=[1.5, 0.0])
            results["late"] = await ask(client, OFF_FAQ)
            fake.reply = openai_error(500)
            results["500"] = await ask(client, OFF_FAQ_TOO[0])
            fake.reply = openai_reply(["A manager ", "will call."], broken_at=1)
            results["broken"] = await ask(client, OFF_FAQ_TOO[1])
            fake.reply = Reply(hang=True)
            results["hang"] = await ask(client, OFF_FAQ_TOO[2])
            fake.reply = openai_reply(["Yes, today."])
            results["after"] = await ask(client, OFF_FAQ_TOO[3])
            await client.close()
            return results

        results = asyncio.run(scenario())
    finally:
        fake.stop()
    events, end = results["late"]
    assert end.fallbacks == ("one_moment",)
    assert subtitles(events) == ["One moment, please.", "A manager will call you back today."]
    for case in ("500", "broken"):
        events, end = results[case]
        assert end.fallbacks == ("handoff",), case
        assert "colleague" in " ".join(subtitles(events))
    events, end = results["hang"]
    assert end.fallbacks == ("one_moment", "handoff")
    events, end = results["after"]
    assert end.fallbacks == () and subtitles(events) == ["Yes, today."]
    assert fake.requests[0].body["stream"] is True


def test_tts_missing_gives_subtitles_only(demo_avatar, start_worker, start_daphne) -> None:
    # The avatar's neural voice is not installed, so espeak-ng speaks instead; and that is
    # missing too: nothing can speak, the answers come as subtitles.
    demo_avatar.voice = "en_US-not-installed-medium"
    demo_avatar.save(update_fields=["voice"])
    start_worker("lipsync")
    _, port = start_daphne(ESPEAK_PROGRAM="/nonexistent/espeak-ng")

    async def scenario():
        client = await AvatarClient.connect(port)
        await client.next_event(10)
        first = await ask(client, "When are you open?")
        second = await ask(client, "How do I reset my password?")
        await client.close()
        return first, second

    (events, end), (events2, end2) = asyncio.run(scenario())
    assert end.fallbacks == ("subtitles_only",) and end2.fallbacks == ("subtitles_only",)
    assert subtitles(events)[0].startswith("Our customer service is open")
    assert [c.kind for c in media(events)] == [MediaKind.END]


def test_no_lipsync_worker_gives_audio_over_the_idle_loop(demo_avatar, start_daphne) -> None:
    _, port = start_daphne(LIPSYNC_TIMEOUT_S="0.5")

    async def scenario():
        client = await AvatarClient.connect(port)
        await client.next_event(10)
        first = await ask(client, "When are you open?")
        second = await ask(client, "Do you take PayPal?")
        await client.close()
        return first, second

    (events, end), (_, end2) = asyncio.run(scenario())
    assert end.fallbacks == ("audio_only",) and end2.fallbacks == ("audio_only",)
    chunks = media(events)
    assert {c.kind for c in chunks[:-1]} == {MediaKind.AUDIO} and chunks[-1].kind is MediaKind.END
    assert end.ttfw_ms is not None
