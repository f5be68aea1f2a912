"""The speaker stage: the voice says the spoken form, the subtitle keeps the written one, and
each chunk carries the audio played after it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import numpy as np

from conversation.protocol import Text
from conversation.reply.audio_chunks import LipSyncChunk
from tests.conversation.dialogue.test_session import (
    FakeLipSync,
    ScriptedLlm,
    ToneTts,
    drive,
    make_session,
)


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


class SentenceTts(ToneTts):
    """Each sentence's samples hold its number (1, 2, ...): the audio says where it came from."""

    async def synthesize(
        self, text: str, *, voice: str, language: str
    ) -> AsyncIterator[np.ndarray]:
        self.spoken.append(text)
        for _ in range(len(text.split()) * 5):
            await asyncio.sleep(0)
            yield np.full(800, len(self.spoken), dtype=np.int16)


@dataclass
class RecordingLipSync(FakeLipSync):
    chunks: list[LipSyncChunk] = field(default_factory=list)

    async def submit(
        self, *, avatar: Any, turn_id: UUID, seq: int, chunk: Any, idle_start: int
    ) -> str:
        self.chunks.append(chunk)
        return await super().submit(
            avatar=avatar, turn_id=turn_id, seq=seq, chunk=chunk, idle_start=idle_start
        )


async def test_right_context_of_each_chunk_is_the_audio_played_after_it() -> None:
    """Across the sentence border too: the first sentence's last chunk waits for the second's
    first words; the turn's last chunk has silence after it."""
    llm = ScriptedLlm(["Our store opens at nine every day. ", "It closes at six."])
    lipsync = RecordingLipSync()
    session, wire, _, _ = make_session(llm, tts=SentenceTts(), lipsync=lipsync)

    await drive(session, wire, [(0, Text(type="text", text="When are you open?"))])

    chunks = lipsync.chunks
    assert [c.sentence for c in chunks] == [0, 0, 0, 1]
    played = np.concatenate([c.pcm for c in chunks])
    end = 0
    for chunk in chunks:
        end += len(chunk.pcm)
        assert np.array_equal(chunk.right_audio, played[end : end + 3200])
    border = chunks[2].right_audio
    assert len(border) == 3200 and set(border.tolist()) == {2}  # the second sentence's words
    assert len(chunks[-1].right_audio) == 0
    assert subtitles(wire.items) == ["Our store opens at nine every day.", "It closes at six."]
