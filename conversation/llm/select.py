"""Picks the LLM backend from configuration, and the FAQ-first hybrid used with a remote LLM."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from conversation.llm.base import FaqMatch, LlmBackend, LlmRequest
from conversation.llm.faq import WORDS_PER_DELTA, FaqAnswerer, word_groups
from conversation.llm.openai_compat import OpenAICompatBackend

# Fast and cheap enough for spoken turns; settings override it.
DEFAULT_CLAUDE_MODEL = "claude-haiku-4-5"
# The hybrid rule: with a remote LLM configured, a question that matches a FAQ entry at least
# this well is still answered from the FAQ: word for word the operator's answer, no network
# round trip, and its pre-rendered clip can stream at once. On the calibration set, 0.8 is
# met only by near-verbatim askings ("do you take paypal", "I forgot my password"), where
# the FAQ answer is what Claude would say anyway; looser matches go to the LLM, which has
# the whole FAQ in its system prompt and can handle the nuance.
STRONG_FAQ_THRESHOLD = 0.8


class FaqFirst:
    """Answers from the FAQ when the match is strong, else streams from the remote LLM."""

    def __init__(
        self,
        faq: FaqAnswerer,
        remote: LlmBackend,
        strong_threshold: float = STRONG_FAQ_THRESHOLD,
    ) -> None:
        self.faq = faq
        self.remote = remote
        self.strong_threshold = strong_threshold
        self.name = f"faq+{remote.name}"

    def match(self, question: str, language: str) -> FaqMatch | None:
        """The FAQ match that the hybrid answers itself, or None when the LLM answers."""
        found = self.faq.match(question, language)
        if found is None or found.score < self.strong_threshold:
            return None
        return found

    async def stream(self, request: LlmRequest) -> AsyncIterator[str]:
        found = await asyncio.to_thread(self.match, request.question, request.language)
        if found is not None:
            for group in word_groups(found.answer, WORDS_PER_DELTA):
                yield group
            return
        deltas = self.remote.stream(request)
        try:
            async for delta in deltas:
                yield delta
        finally:
            # Closing this generator (barge-in) must close the remote HTTP stream now, not
            # when the garbage collector gets to it.
            aclose = getattr(deltas, "aclose", None)
            if aclose is not None:
                await aclose()


def build_llm(
    *,
    faq: FaqAnswerer,
    anthropic_api_key: str | None = None,
    anthropic_model: str = DEFAULT_CLAUDE_MODEL,
    anthropic_base_url: str | None = None,
    llm_base_url: str | None = None,
    llm_model: str = "default",
    llm_api_key: str | None = None,
    max_tokens: int = 300,
    timeout_s: float = 10.0,
    strong_faq_threshold: float | None = STRONG_FAQ_THRESHOLD,
) -> LlmBackend:
    """Claude when a key is set, else an OpenAI-compatible server when a URL is set, else the FAQ.

    A remote LLM is wrapped in `FaqFirst` unless `strong_faq_threshold` is None.
    """
    remote: LlmBackend
    if anthropic_api_key:
        # Imported here: the anthropic package takes seconds to import, and most deployments
        # of the embedded defaults never call it.
        from conversation.llm.anthropic_backend import ClaudeBackend

        remote = ClaudeBackend(
            api_key=anthropic_api_key,
            model=anthropic_model,
            max_tokens=max_tokens,
            timeout_s=timeout_s,
            base_url=anthropic_base_url,
        )
    elif llm_base_url:
        remote = OpenAICompatBackend(
            base_url=llm_base_url,
            model=llm_model,
            api_key=llm_api_key,
            timeout_s=timeout_s,
            max_tokens=max_tokens,
        )
    else:
        return faq
    if strong_faq_threshold is None:
        return remote
    return FaqFirst(faq, remote, strong_faq_threshold)
