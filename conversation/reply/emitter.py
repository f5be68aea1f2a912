"""The last stage of a reply: chunks go to the client in seq order the moment their frames are
back (or, late, as audio over the idle loop), paced to stay a little ahead of playback.

A canned clip replays through the same send path, so subtitles, TTFW and the gate behave alike.
"""

from __future__ import annotations

import asyncio
import time

from conversation.canned.clips import StoredClip
from conversation.protocol import Fallback, MediaChunk, Subtitle, media_audio_seconds
from conversation.reply.outbox import ReplyMedia
from conversation.reply.turn import Turn, TurnContext

# A chunk still waiting for frames goes out this long before the client would run out of audio:
# room for the network and the client's scheduling.
NEED_MARGIN_S = 0.25


class Pacer:
    """Keeps sent media at most `lead` seconds ahead of what the client has played."""

    def __init__(self, lead: float) -> None:
        self.lead = lead
        self.start: float | None = None
        self.audio_s = 0.0

    async def wait(self) -> None:
        if self.start is None:
            return
        ahead = self.audio_s - (time.monotonic() - self.start)
        if ahead > self.lead:
            await asyncio.sleep(ahead - self.lead)

    def sent(self, seconds: float) -> None:
        if self.start is None:
            self.start = time.monotonic()
        self.audio_s += seconds

    def needed_at(self) -> float | None:
        """When the client would run out of audio unless more is sent (None: nothing sent)."""
        if self.start is None:
            return None
        return self.start + self.audio_s - NEED_MARGIN_S


async def emit(turn: Turn, ctx: TurnContext, media: ReplyMedia) -> None:
    """Send every chunk of the reply, then the subtitles of sentences spoken by nobody."""
    pacer = Pacer(ctx.timeouts.max_lead_s)
    while not ctx.streaming and not media.settled(time.monotonic()):
        await media.wait(0.05)
    while not media.done:
        needed_at = pacer.needed_at()
        released = media.release(time.monotonic(), needed_at=needed_at)
        if not released:
            deadline = media.next_deadline(needed_at=needed_at)
            await media.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
            continue
        for item in released:
            if item.lipsync_late:
                turn.fallback(Fallback.AUDIO_ONLY)
            await pacer.wait()
            await send_chunk(turn, ctx, item.chunk, media.subtitles_for(item.chunk.seq))
            pacer.sent(len(item.chunk.audio) / 2 / item.chunk.sample_rate)
            if not item.lipsync_late:
                media.played(item.chunk)
    for subtitle in media.leftover_subtitles():
        await ctx.output.send_json(turn, subtitle)


async def play_stored(turn: Turn, ctx: TurnContext, stored: StoredClip) -> None:
    """Replay a canned clip at once, paced like a live reply."""
    subtitles: dict[int, list[Subtitle]] = {}
    for sentence in stored.sentences:
        subtitles.setdefault(sentence.seq, []).append(
            Subtitle(
                turn_id=turn.turn_id,
                seq=sentence.seq,
                text=sentence.text,
                sentence=sentence.sentence,
            )
        )
    pacer = Pacer(ctx.timeouts.max_lead_s)
    for seq, packed in stored.replay(turn.turn_id):
        await pacer.wait()
        header = MediaChunk(turn_id=turn.turn_id, seq=seq)  # subtitles and TTFW key on seq
        await send_chunk(turn, ctx, header, subtitles.pop(seq, []), packed)
        pacer.sent(media_audio_seconds(packed))


async def send_chunk(
    turn: Turn,
    ctx: TurnContext,
    chunk: MediaChunk,
    subtitles: list[Subtitle],
    packed: bytes | None = None,
) -> None:
    if turn.ttfw_ms is None and turn.floor is not None:
        await turn.floor.wait()  # the customer may still be in the middle of a sentence
    for subtitle in subtitles:
        await ctx.output.send_json(turn, subtitle)
    if not await ctx.output.send_media(turn, packed or chunk.pack()):
        return
    turn.end_seq = chunk.seq + 1
    if turn.ttfw_ms is None:
        turn.ttfw_ms = round((time.monotonic() - turn.started) * 1000, 2)
        await ctx.output.turn_speaking(turn)
