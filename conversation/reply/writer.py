"""The first stage of a reply: answer text -> sentences, with the LLM's timeouts and fallbacks.

A known answer (an FAQ entry, the hand-off) is chunked at once; an LLM stream is chunked as its
deltas arrive, so the first sentence goes to TTS while the LLM still writes. A late first token
plays "one moment" and keeps waiting; a failed or silent stream ends in the hand-off answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from conversation.llm.base import (
    ChatTurn,
    LlmError,
    LlmErrorKind,
    LlmRequest,
    handoff_answer,
    system_for,
)
from conversation.protocol import Fallback
from conversation.reply.chunker import SentenceChunker
from conversation.reply.turn import Turn, TurnContext

log = logging.getLogger(__name__)

ONE_MOMENT = {
    "en": "One moment, please.",
    "de": "Einen Moment bitte.",
    "fr": "Un instant, s'il vous plaît.",
    "es": "Un momento, por favor.",
    "ja": "少々お待ちください。",
}
END = object()  # the last item on a sentence queue


async def _once(text: str) -> AsyncIterator[str]:
    yield text


async def _pump(stream: AsyncIterator[str], queue: asyncio.Queue[Any]) -> None:
    # aclosing: cancelling the pump (barge-in) must close the LLM's HTTP stream now.
    async with contextlib.aclosing(stream) as deltas:  # type: ignore[type-var]
        try:
            async for delta in deltas:
                await queue.put(delta)
        except LlmError as error:
            await queue.put(error)
        else:
            await queue.put(END)


async def write_sentences(
    turn: Turn, ctx: TurnContext, known: str | None, sentences: asyncio.Queue[Any]
) -> None:
    """Put the reply's sentences on `sentences`, then END. `known`: the answer, without an LLM."""
    if known is not None or ctx.llm is None:
        stream = _once(known if known is not None else handoff_answer(turn.language))
    else:
        request = LlmRequest(
            system=system_for(ctx.system_prompts, turn.language),
            history=(*turn.history, ChatTurn("user", turn.text)),
            language=turn.language,
        )
        stream = ctx.llm.stream(request)
    deltas: asyncio.Queue[Any] = asyncio.Queue()
    chunker = SentenceChunker()
    held: list[str] = []  # without streaming, sentences wait for the whole answer

    async def put(sentence: str) -> None:
        if ctx.streaming:
            await sentences.put(sentence)
        else:
            held.append(sentence)

    deadline = time.monotonic() + ctx.timeouts.llm_total_s
    async with asyncio.TaskGroup() as group:
        pump = group.create_task(_pump(stream, deltas))
        got_any = False
        while True:
            if got_any:
                wait = ctx.timeouts.llm_gap_s
            elif Fallback.ONE_MOMENT in turn.fallbacks:
                wait = deadline - time.monotonic()  # "one moment" is playing: wait it out
            else:
                wait = ctx.timeouts.llm_first_token_s
            wait = min(wait, max(0.0, deadline - time.monotonic()))
            try:
                # asyncio.timeout, not wait_for: see cancellation.wait_event.
                async with asyncio.timeout(wait):
                    item = await deltas.get()
            except TimeoutError:
                if (
                    not got_any
                    and Fallback.ONE_MOMENT not in turn.fallbacks
                    and time.monotonic() < deadline
                ):
                    turn.fallback(Fallback.ONE_MOMENT)
                    await sentences.put(ONE_MOMENT.get(turn.language, ONE_MOMENT["en"]))
                    continue
                item = LlmError(LlmErrorKind.TIMEOUT, "no answer within the LLM timeout")
            if item is END:
                break
            if isinstance(item, LlmError):
                pump.cancel()
                log.info("turn %s: LLM failed (%s); hand-off answer", turn.turn_id, item.kind)
                turn.fallback(Fallback.HANDOFF)
                chunker.reset()
                chunker.push(handoff_answer(turn.language))
                break
            if not got_any:
                got_any = True
                turn.mark("llm_first_token_ms")
            turn.answer_text += item
            for sentence in chunker.push(item):
                await put(sentence)
    for sentence in chunker.flush():
        await put(sentence)
    for sentence in held:
        await sentences.put(sentence)
    await sentences.put(END)
