"""The speaker stage: the voice says the spoken form, the subtitle keeps the written one."""

from __future__ import annotations

from conversation.protocol import Text
from tests.conversation.dialogue.test_session import ScriptedLlm, ToneTts, drive, make_session


def subtitles(items: list) -> list[str]:
    return [i["text"] for i in items if isinstance(i, dict) and i["type"] == "subtitle"]


async def test_the_voice_gets_the_spoken_form_and_the_subtitle_the_written_one() -> None:
    tts = ToneTts()
    llm = ScriptedLlm(["Standard shipping costs $4.95 ", "below $50. ", "Call 555-0199 😀."])
    session, wire, _, _ = make_session(llm, tts=tts)

    await drive(session, wire, [(0, Text(type="text", text="How much is shipping?"))])

    assert subtitles(wire.items) == [
        "Standard shipping costs $4.95 below $50.",
        "Call 555-0199 😀.",
    ]
    assert tts.spoken == [
        "Standard shipping costs four dollars ninety-five below fifty dollars.",
        "Call five five five, zero one nine nine.",
    ]
