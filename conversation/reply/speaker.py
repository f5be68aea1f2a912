"""The second stage of a reply: sentences -> TTS audio -> frame-aligned chunks queued for
lip-sync, each chunk handed to the reply's media as soon as it is queued.

A sentence TTS cannot speak becomes a subtitle alone; a broker that cannot take a chunk leaves
that chunk to play as audio over the idle loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from conversation.protocol import Fallback, Subtitle
from conversation.reply.audio_chunks import LipSyncChunk, TurnAudioChunker
from conversation.reply.media import PendingChunk
from conversation.reply.outbox import ReplyMedia
from conversation.reply.turn import Turn, TurnContext
from conversation.reply.writer import END
from conversation.tts.base import TtsError
from conversation.tts.spoken import spoken_form

log = logging.getLogger(__name__)


async def speak(
    turn: Turn, ctx: TurnContext, sentences: asyncio.Queue[Any], media: ReplyMedia
) -> None:
    """Speak every sentence until END, then close the media's input."""
    audio = TurnAudioChunker()
    held: list[tuple[LipSyncChunk, int, Subtitle | None]] = []  # without streaming: speech first
    index = 0

    async def submit(chunk: LipSyncChunk, sentence: str, first_seq: int) -> None:
        seq = media.next_seq + len(held)
        subtitle = (
            Subtitle(turn_id=turn.turn_id, seq=seq, text=sentence, sentence=index)
            if seq == first_seq
            else None
        )
        if ctx.streaming:
            await _queue(turn, ctx, media, chunk, index, subtitle)
        else:
            held.append((chunk, index, subtitle))

    while (sentence := await sentences.get()) is not END:
        first_seq = media.next_seq + len(held)
        started = time.monotonic()
        try:
            async with asyncio.timeout(ctx.timeouts.tts_sentence_s):
                # aclosing: a barge-in while a chunk is being queued must end the synthesis now,
                # not whenever the garbage collector finds the abandoned generator.
                # The voice says the spoken form ("$4.95": "four dollars ninety-five"); the
                # subtitle keeps the sentence as written.
                blocks = ctx.tts.synthesize(
                    spoken_form(sentence, turn.language),
                    voice=ctx.avatar.voice,
                    language=turn.language,
                )
                async with contextlib.aclosing(blocks):
                    async for block in blocks:
                        turn.mark("tts_first_audio_ms")
                        for chunk in audio.push(block):
                            await submit(chunk, sentence, first_seq)
            for chunk in audio.end_sentence():
                await submit(chunk, sentence, first_seq)
        except (TtsError, TimeoutError) as error:
            kind = error.kind if isinstance(error, TtsError) else "timeout"
            log.info(
                "turn %s: TTS failed (%s) after %.0f ms; subtitles only",
                turn.turn_id,
                kind,
                (time.monotonic() - started) * 1000,
            )
            turn.fallback(Fallback.SUBTITLES_ONLY)
            audio.reset()
            if media.next_seq + len(held) == first_seq:  # else its subtitle rides on its audio
                alone = Subtitle(turn_id=turn.turn_id, seq=first_seq, text=sentence, sentence=index)
                if media.subtitle_without_audio(alone):
                    await ctx.output.send_json(turn, alone)
        index += 1
    for chunk, sentence_index, subtitle in held:
        await _queue(turn, ctx, media, chunk, sentence_index, subtitle)
    media.close()


async def _queue(
    turn: Turn,
    ctx: TurnContext,
    media: ReplyMedia,
    chunk: LipSyncChunk,
    sentence: int,
    subtitle: Subtitle | None,
) -> None:
    pending = PendingChunk(
        seq=media.next_seq,
        audio=chunk.pcm.tobytes(),
        first_frame=chunk.first_frame,
        sentence=sentence,
        deadline=time.monotonic() + ctx.timeouts.lipsync_s,
    )
    media.queue(pending, subtitle)
    try:
        pending.task_id = await ctx.renders.submit(
            avatar=ctx.avatar,
            turn_id=turn.turn_id,
            seq=pending.seq,
            chunk=chunk,
            idle_start=turn.idle_start,
        )
    except Exception as error:  # the broker is away (Redis restarting): audio over the idle loop
        log.warning(
            "turn %s chunk %s not queued for lip-sync (%s)",
            turn.turn_id,
            pending.seq,
            type(error).__name__,
        )
