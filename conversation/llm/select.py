"""Where a session's answers come from, decided once from configuration: the FAQ match that
answers a question itself, and the LLM that answers the rest (none: the polite hand-off)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from conversation.llm.base import FaqMatch, FaqMatcher, LlmBackend
from conversation.llm.faq import FaqAnswerer
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


class StrongMatches:
    """The FAQ matcher of the hybrid: only matches at least `threshold` answer from the FAQ."""

    def __init__(self, faq: FaqAnswerer, threshold: float = STRONG_FAQ_THRESHOLD) -> None:
        self.faq = faq
        self.threshold = threshold

    def match(self, question: str, language: str, readings: Sequence[str] = ()) -> FaqMatch | None:
        found = self.faq.match(question, language, readings)
        return found if found is not None and found.score >= self.threshold else None


@dataclass(frozen=True)
class Answering:
    """A question is matched against the FAQ once; a match is answered with its entry, anything
    else by `llm`, or with the hand-off answer when there is no LLM."""

    faq: FaqMatcher
    llm: LlmBackend | None

    @property
    def name(self) -> str:
        return "faq" if self.llm is None else f"faq+{self.llm.name}"


def build_answering(
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
) -> Answering:
    """Claude when a key is set, else an OpenAI-compatible server when a URL is set, else the FAQ
    alone. With a remote LLM, only strong FAQ matches answer from the FAQ (none at all when
    `strong_faq_threshold` is None)."""
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
        return Answering(faq=faq, llm=None)
    if strong_faq_threshold is None:
        return Answering(faq=_NoMatches(), llm=remote)
    return Answering(faq=StrongMatches(faq, strong_faq_threshold), llm=remote)


class _NoMatches:
    def match(self, question: str, language: str, readings: Sequence[str] = ()) -> FaqMatch | None:
        return None
