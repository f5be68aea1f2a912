"""A turn's reply: answer text -> sentences -> TTS -> lip-sync -> the client.

Every stage streams into the next: the first sentence goes to TTS while the LLM still writes,
each ~1 s of audio goes to a lipsync worker as soon as it exists, and each chunk goes to the
client the moment its frames are back (or its deadline passes: audio over the idle loop).
The three stages (writer, speaker, emitter) run in one TaskGroup, so cancelling the turn stops
every stage at once; they pass sentences over a queue and chunks through the reply's media.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from avatars.clip_keys import canned_clip_key
from conversation.handoff.phrases import Reason, consent_thanks
from conversation.llm.base import FaqMatch, handoff_answer, unsupported_language_answer
from conversation.protocol import Fallback
from conversation.reply.emitter import emit, play_stored
from conversation.reply.speaker import speak
from conversation.reply.turn import Turn, TurnContext
from conversation.reply.writer import write_sentences
from conversation.tts.select import AvatarVoice


async def run_turn(turn: Turn, ctx: TurnContext) -> None:
    """Answer the turn's text. Raises CancelledError when the turn is interrupted."""
    triage = ctx.triage
    if turn.input_kind == "agent":  # a person's words, in the avatar's voice
        if triage.agent_holds:
            await _reply(turn, ctx, turn.text)
            await triage.noted(agent=turn.text)
        return
    if turn.heard_language is not None:  # spoken in a language the avatar does not speak
        await _reply(turn, ctx, unsupported_language_answer(turn.language))
        return
    if triage.agent_holds:  # a person answers now: the avatar says nothing of its own
        await triage.noted(customer=turn.text)
        return
    if (given := triage.spoken_consent(turn.text)) is not None:
        await triage.record_consent(given)
        await _reply(turn, ctx, consent_thanks(given, turn.language))
        return
    await answer(turn, ctx, await understand(turn, ctx))


async def understand(turn: Turn, ctx: TurnContext) -> FaqMatch | None:
    """The FAQ entry that answers the turn's text, if one does (the one match per question)."""
    if ctx.triage.agent_holds:
        return None  # nothing to answer: no preemptive answer starts either
    match = await find_entry(ctx, turn.text, turn.language, turn.readings)
    turn.mark("understand_ms")
    return match


async def find_entry(
    ctx: TurnContext, text: str, language: str, readings: Sequence[str] = ()
) -> FaqMatch | None:
    """The FAQ entry that answers `text` or one of its other `readings`; None without text."""
    return await asyncio.to_thread(ctx.faq.match, text, language, readings) if text else None


async def answer(turn: Turn, ctx: TurnContext, match: FaqMatch | None) -> None:
    """Answer with `match`'s entry (its stored clip when there is one), else with the LLM; or
    hand the customer to a person (conversation/handoff) and say so."""
    triage = ctx.triage
    if (reason := triage.decide(turn.text, match=match, llm_on=ctx.llm is not None)) is not None:
        line = await triage.hand_off(reason, text=turn.text, language=turn.language)
        await _reply(turn, ctx, line)
        return
    cache_key: str | None = None
    # The clip of an answer is keyed by the voice of the turn's language: a Japanese answer
    # by the Japanese voice, so choosing another Japanese voice renders it again.
    speaking = ctx.avatar.speaking(turn.language)
    if match is not None:
        cache_key = canned_clip_key(
            avatar_id=speaking.id,
            baked_checksum=speaking.baked_checksum,
            voice=speaking.voice,
            renderer=speaking.renderer,
            text=match.answer,
        )
        stored = await ctx.clips.lookup(cache_key)
        turn.mark("cache_lookup_ms")
        if stored is not None:
            turn.cache_hit = True
            await play_stored(turn, ctx, stored)
            await triage.noted(customer=turn.text, avatar=match.answer)
            return
    await _reply(turn, ctx, match.answer if match else None)
    if Fallback.HANDOFF in turn.fallbacks:  # the LLM failed: the avatar said a colleague helps
        spoken = handoff_answer(turn.language)
        await triage.hand_off(
            Reason.LLM_FAILED, text=turn.text, language=turn.language, spoken=spoken
        )
    else:
        await triage.noted(customer=turn.text, avatar=turn.answer_text)
    clip = turn.media.clip()
    # A Piper voice that failed spoke with espeak-ng: that clip must not go under its key.
    fell_back = isinstance(ctx.tts, AvatarVoice) and ctx.tts.fell_back
    if (
        match is not None
        and cache_key
        and not turn.fallbacks
        and not fell_back
        and clip is not None
    ):
        await ctx.clips.save(
            cache_key=cache_key, avatar=speaking, faq_entry_id=match.entry_id, clip=clip
        )


async def _reply(turn: Turn, ctx: TurnContext, text: str | None) -> None:
    """The three stages in one TaskGroup: `text` as it is, or the LLM's answer when None."""
    async with asyncio.TaskGroup() as group:
        sentences: asyncio.Queue[Any] = asyncio.Queue()
        group.create_task(write_sentences(turn, ctx, text, sentences))
        group.create_task(speak(turn, ctx, sentences, turn.media))
        group.create_task(emit(turn, ctx, turn.media))
