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
from conversation.reply.audio_chunks import LipSyncChunk, TurnAudioChunker, right_context_ms
from conversation.reply.media import PendingChunk
from conversation.reply.outbox import ReplyMedia
from conversation.reply.turn import Turn, TurnContext
from conversation.reply.writer import END
from conversation.tts.base import TtsError, phonemes_of
from conversation.tts.spoken import spoken_form

log = logging.getLogger(__name__)


async def speak(
    turn: Turn, ctx: TurnContext, sentences: asyncio.Queue[Any], media: ReplyMedia
) -> None:
    """Speak every sentence until END, then close the media's input."""
    audio = TurnAudioChunker(right_ms=right_context_ms(ctx.avatar.renderer))
    held: list[tuple[LipSyncChunk, int, Subtitle | None]] = []  # without streaming: speech first
    texts: dict[int, str] = {}  # sentence index -> its written form, for its subtitle
    subtitled: set[int] = set()
    index = 0

    async def submit(chunks: list[LipSyncChunk]) -> None:
        # The chunker holds a chunk until the audio after it is known, so a chunk may come out
        # while the next sentence speaks: its subtitle is its own sentence's, on that
        # sentence's first chunk.
        for chunk in chunks:
            subtitle = None
            if chunk.sentence not in subtitled:
                subtitled.add(chunk.sentence)
                subtitle = Subtitle(
                    turn_id=turn.turn_id,
                    seq=media.next_seq + len(held),
                    text=texts[chunk.sentence],
                    sentence=chunk.sentence,
                )
            if ctx.streaming:
                await _queue(turn, ctx, media, chunk, chunk.sentence, subtitle)
            else:
                held.append((chunk, chunk.sentence, subtitle))

    while (sentence := await sentences.get()) is not END:
        texts[index] = sentence
        started = time.monotonic()
        try:
            async with asyncio.timeout(ctx.timeouts.tts_sentence_s):
                # aclosing: a barge-in while a chunk is being queued must end the synthesis now,
                # not whenever the garbage collector finds the abandoned generator.
                # The voice says the spoken form ("$4.95": "four dollars ninety-five"); the
                # subtitle keeps the sentence as written.
                blocks = ctx.tts.synthesize(
                    spoken_form(sentence, turn.language),
                    voice=ctx.avatar.voice_for(turn.language),
                    language=turn.language,
                )
                async with contextlib.aclosing(blocks):
                    async for block in blocks:
                        turn.mark("tts_first_audio_ms")
                        await submit(audio.push(block, phonemes_of(block)))
            ended = audio.end_sentence()
            # The sentence's last chunk waits for the next sentence's first words only when
            # that sentence is already written and the turn's first frames are not at stake;
            # else it goes now, with the silence it will be followed by.
            if sentences.empty() or media.next_seq + len(held) + len(ended) == 0:
                ended += audio.release_held()
            await submit(ended)
        except (TtsError, TimeoutError) as error:
            kind = error.kind if isinstance(error, TtsError) else "timeout"
            log.info(
                "turn %s: TTS failed (%s) after %.0f ms; subtitles only",
                turn.turn_id,
                kind,
                (time.monotonic() - started) * 1000,
            )
            turn.fallback(Fallback.SUBTITLES_ONLY)
            await submit(audio.drop_sentence())
            if index not in subtitled:  # else its subtitle rides on its audio
                subtitled.add(index)
                alone = Subtitle(
                    turn_id=turn.turn_id,
                    seq=media.next_seq + len(held),
                    text=sentence,
                    sentence=index,
                )
                if media.subtitle_without_audio(alone):
                    await ctx.output.send_json(turn, alone)
        index += 1
    await submit(audio.release_held())
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
