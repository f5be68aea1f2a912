"""The speaker stage: the voice says the spoken form, the subtitle keeps the written one, and
each chunk carries the audio played after it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

import numpy as np

from conversation.protocol import Text
from conversation.reply.audio_chunks import LipSyncChunk, right_context_ms
from tests.conversation.dialogue.test_session import (
    AVATAR,
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
    musetalk = replace(AVATAR, renderer="musetalk")
    session, wire, _, _ = make_session(llm, tts=SentenceTts(), lipsync=lipsync, avatar=musetalk)

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


class SlowSecondSentenceTts(SentenceTts):
    """The second sentence's voice is late: a busy machine."""

    def __init__(self) -> None:
        super().__init__()
        self.second_started = asyncio.Event()
        self.go_on = asyncio.Event()

    async def synthesize(
        self, text: str, *, voice: str, language: str
    ) -> AsyncIterator[np.ndarray]:
        if self.spoken:
            self.second_started.set()
            await self.go_on.wait()
        async for block in super().synthesize(text, voice=voice, language=language):
            yield block


async def test_right_context_is_not_waited_for_when_the_renderer_reads_none() -> None:
    """The CPU renderer reads no audio after a chunk: the first sentence's last chunk goes to
    lip-sync before the second sentence has a sound, with nothing after it."""
    assert right_context_ms("cpu") == 0.0 and right_context_ms("musetalk") > 0
    llm = ScriptedLlm(["Our store opens at nine every day. ", "It closes at six."])
    lipsync = RecordingLipSync()
    tts = SlowSecondSentenceTts()
    session, wire, _, _ = make_session(llm, tts=tts, lipsync=lipsync)  # a CPU-rendered avatar

    async def second_sentence_late() -> list[int]:
        await tts.second_started.wait()
        await asyncio.sleep(0.05)
        sent = [c.sentence for c in lipsync.chunks]
        tts.go_on.set()
        return sent

    late = asyncio.create_task(second_sentence_late())
    await drive(session, wire, [(0, Text(type="text", text="When are you open?"))])

    assert await late == [0, 0, 0]  # the whole first sentence, the second not spoken yet
    assert all(len(c.right_audio) == 0 for c in lipsync.chunks)
