"""The LLM stage's interface: requests, the streaming backend protocol, errors, FAQ types, prompt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable


@dataclass(frozen=True)
class ChatTurn:
    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True)
class LlmRequest:
    """One reply to produce; the last history item is the user's utterance."""

    system: str
    history: tuple[ChatTurn, ...]
    language: str
    max_tokens: int = 300

    @property
    def question(self) -> str:
        for turn in reversed(self.history):
            if turn.role == "user":
                return turn.text
        return ""


@runtime_checkable
class LlmBackend(Protocol):
    name: str

    def stream(self, request: LlmRequest) -> AsyncIterator[str]:
        """Yield text deltas as they arrive; cancelling the consumer closes the stream."""
        ...


class LlmErrorKind(StrEnum):
    TIMEOUT = "timeout"
    HTTP_STATUS = "http_status"
    BAD_STREAM = "bad_stream"
    UNAVAILABLE = "unavailable"


class LlmError(Exception):
    """A backend failed; the message names the backend and the cause, never the user's text."""

    def __init__(self, kind: LlmErrorKind, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.status = status


@dataclass(frozen=True)
class FaqItem:
    entry_id: int
    question: str
    paraphrases: tuple[str, ...]
    answer: str
    language: str
    priority: int


@dataclass(frozen=True)
class FaqMatch:
    entry_id: int
    answer: str
    score: float


class FaqMatcher(Protocol):
    def match(self, question: str, language: str, readings: Sequence[str] = ()) -> FaqMatch | None:
        """The entry that answers the question, or None. Synchronous: callers use a thread.
        `readings`: other readings of a spoken question; the entry may be found in any."""
        ...


HANDOFF_ANSWERS: dict[str, str] = {
    "en": "I'm sorry, I don't know that one. Let me connect you with a colleague who can help.",
    "de": (
        "Das weiß ich leider nicht. Ich verbinde Sie mit einer Kollegin oder einem Kollegen, "
        "die Ihnen weiterhelfen können."
    ),
    "fr": (
        "Je suis désolée, je ne sais pas répondre à cela. Je vous mets en relation avec "
        "un collègue qui pourra vous aider."
    ),
    "es": "Lo siento, eso no lo sé. Le pongo en contacto con un compañero que podrá ayudarle.",
    "it": "Mi dispiace, non lo so. La metto in contatto con un collega che potrà aiutarla.",
    "nl": "Sorry, dat weet ik niet. Ik verbind u door met een collega die u verder kan helpen.",
    "pt": "Desculpe, não sei responder a isso. Vou ligá-lo a um colega que pode ajudar.",
    "ja": "申し訳ありません、その件はわかりません。対応できる担当者におつなぎします。",
}


# What a customer hears when they speak a language the avatar does not (it answers in its own).
UNSUPPORTED_LANGUAGE_ANSWERS: dict[str, str] = {
    "en": "I'm sorry, I can only help you in English. Could you ask me in English, please?",
    "de": "Es tut mir leid, ich kann Ihnen nur auf Deutsch helfen. Fragen Sie mich bitte auf Deutsch.",
    "fr": "Je suis désolée, je ne peux vous aider qu'en français. Pouvez-vous me poser la question en français ?",
    "es": "Lo siento, solo puedo ayudarle en español. ¿Puede preguntarme en español, por favor?",
    "it": "Mi dispiace, posso aiutarla solo in italiano. Può chiedermelo in italiano, per favore?",
    "nl": "Sorry, ik kan u alleen in het Nederlands helpen. Wilt u het in het Nederlands vragen?",
    "pt": "Desculpe, só posso ajudar em português. Pode perguntar em português, por favor?",
    "ja": "申し訳ありません、日本語でのみご案内できます。日本語でお尋ねください。",
}


def primary_language(language: str) -> str:
    """`en-US`, `EN_gb` and `en` all mean `en` here."""
    return language.replace("_", "-").split("-", 1)[0].strip().lower() or "en"


def handoff_answer(language: str) -> str:
    return HANDOFF_ANSWERS.get(primary_language(language), HANDOFF_ANSWERS["en"])


def unsupported_language_answer(language: str) -> str:
    """The polite answer, in the avatar's `language`, to a question in one it does not speak."""
    return UNSUPPORTED_LANGUAGE_ANSWERS.get(
        primary_language(language), UNSUPPORTED_LANGUAGE_ANSWERS["en"]
    )


_SPOKEN_RULES = """\
Your words are spoken aloud by a talking avatar, so write the way people speak:
- Answer in one to three short sentences. Put the most useful sentence first.
- Plain text only: no markdown, no lists, no headings, no emoji, no code.
- Never read out a URL, email address or code character by character; say where to find it \
("on our website, under orders").
- Write numbers, times and prices the way you would say them.
- Reply in the language with code "{language}" unless the customer clearly uses another.
- If the reference below does not cover the question and you are not sure, say so \
and offer to connect the customer with a colleague. Never invent policies, prices or dates."""


def system_prompt(persona: str, faq: Sequence[FaqItem], language: str) -> str:
    """The avatar's persona, the rules for spoken answers, and its FAQ as reference."""
    code = primary_language(language)
    parts = [persona.strip(), _SPOKEN_RULES.format(language=code)]
    entries = [item for item in faq if primary_language(item.language) == code] or list(faq)
    if entries:
        lines = ["Reference answers from the business (use them, reworded if needed):"]
        for item in sorted(entries, key=lambda item: -item.priority):
            lines.append(f"Q: {item.question.strip()}\nA: {item.answer.strip()}")
        parts.append("\n\n".join(lines))
    return "\n\n".join(part for part in parts if part)


def system_prompts(
    persona: str, faq: Sequence[FaqItem], languages: Sequence[str]
) -> dict[str, str]:
    """The system prompt of each language the avatar speaks, its own first: a turn heard in
    another of them asks the model to reply in that one, with that language's reference."""
    return {language: system_prompt(persona, faq, language) for language in languages}


def system_for(prompts: Mapping[str, str], language: str) -> str:
    """The prompt of the turn's `language`, else the avatar's own (the first); "" for none."""
    return prompts.get(language) or next(iter(prompts.values()), "")


async def deltas_within(deltas: AsyncGenerator[str, None], timeout_s: float) -> AsyncIterator[str]:
    """Re-yield `deltas`, failing with a timeout when any one of them takes over `timeout_s`.

    The deadline is per delta rather than per reply: a long answer that keeps streaming is
    healthy, a stream that stalls (before the first byte or in the middle) is not. Closing
    this iterator closes `deltas`, and with it the HTTP stream.
    """
    try:
        while True:
            try:
                async with asyncio.timeout(timeout_s):
                    delta = await anext(deltas)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise LlmError(LlmErrorKind.TIMEOUT, f"no text within {timeout_s:g} s") from None
            yield delta
    finally:
        await deltas.aclose()
