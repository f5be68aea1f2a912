"""The embedded LLM default: answer from the FAQ by semantic (or lexical) match, else hand off."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from conversation.llm.base import FaqItem, FaqMatch, LlmRequest, handoff_answer, primary_language
from conversation.llm.embedding import Embedder, MiniLmEmbedder, cached_embeddings
from conversation.llm.lexical import LexicalIndex
from conversation.llm.phrasing import scored_parts

logger = logging.getLogger(__name__)

# The semantic score: MiniLM cosine, blended with a little of the lexical score below so that a
# recognition slip ("pay pal", "passwerd", "a count") still counts what it shares with the
# entry's words. Calibrated on the demo FAQ with the spoken test set's transcripts and the
# phrasings of tests/conversation/llm/test_faq.py (docs/faq-matching.md): customers' wordings that
# find their entry score 0.5-0.9; questions outside the FAQ up to 0.50, the near miss "can you
# gift wrap my order" (-> gift cards) 0.51. At 0.45 the matches outside the FAQ double; at 0.55
# five to seven right answers per set are lost. A wrong answer costs more than a hand-off.
SEMANTIC_THRESHOLD = 0.5
LEXICAL_SHARE = 0.15
# An entry's answer is matched too (weighed as much as its questions): "is it too late to add
# something to the order I placed an hour ago?" is closer to "you can change or cancel an order
# within one hour of placing it" than to any way of asking; "can I pay using a gift card or amex"
# finds the answer naming American Express rather than the gift-card entry.
ANSWER_WEIGHT = 1.0
# TF-IDF cosine on character 3-grams (no model, or a language MiniLM does not cover):
# rewordings that share the key words score 0.42-1.0 (demo FAQ, a German FAQ), unrelated
# questions up to 0.36, from shared filler ("what is your", "wie kann ich"). Rewordings with
# other words ("how long until my package arrives", 0.28) fall below and are handed off.
LEXICAL_THRESHOLD = 0.4
# Scores this close count as a tie, and the entry with the higher priority wins.
TIE_MARGIN = 0.02
WORDS_PER_DELTA = 6


@dataclass
class _Pool:
    """The entries of one language, flattened to one row per question or paraphrase."""

    items: list[FaqItem]
    texts: list[str] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)  # texts[i] belongs to items[owners[i]]
    lexical: LexicalIndex | None = None

    def __post_init__(self) -> None:
        for index, item in enumerate(self.items):
            for text in (item.question, *item.paraphrases):
                if text.strip():
                    self.texts.append(text.strip())
                    self.owners.append(index)

    @property
    def answers(self) -> list[str]:
        return [item.answer.strip() or item.question for item in self.items]

    def lexical_scores(self, question: str) -> list[float]:
        if self.lexical is None:
            self.lexical = LexicalIndex(self.texts)
        return self.lexical.scores(question)


class FaqAnswerer:
    """Matches a question against FAQ questions, paraphrases and answers; implements `LlmBackend`.

    Semantic scoring (MiniLM) is used where the model covers the language and loads;
    everything else is scored lexically, with its own threshold.
    """

    name = "faq"

    def __init__(
        self,
        items: Sequence[FaqItem],
        *,
        threshold: float = SEMANTIC_THRESHOLD,
        lexical_threshold: float = LEXICAL_THRESHOLD,
        language: str | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.items = tuple(items)
        self.threshold = threshold
        self.lexical_threshold = lexical_threshold
        # The avatar's language: where questions in a language without entries look.
        self.language = primary_language(language or (items[0].language if items else "en"))
        self._embedder: Embedder = embedder if embedder is not None else MiniLmEmbedder()
        self._semantic_failed = False
        grouped: dict[str, list[FaqItem]] = {}
        for item in self.items:
            grouped.setdefault(primary_language(item.language), []).append(item)
        self._pools = {lang: _Pool(entries) for lang, entries in grouped.items()}

    def warm_up(self) -> None:
        """Load the model and embed the FAQ now, so the first question is as fast as the rest."""
        for lang, pool in self._pools.items():
            pool.lexical_scores("warm up")
            if self._semantic_for(lang, lang):
                self._semantic_scores(pool, ["warm up"])

    def match(self, question: str, language: str, readings: Sequence[str] = ()) -> FaqMatch | None:
        """The best entry scoring above the threshold, or None. Synchronous, a few ms warm.

        The question is scored as customers say it (conversation/llm/phrasing.py): without
        fillers and greetings, as a whole and sentence by sentence, each entry by its best part.
        Other `readings` of a spoken question (a recognizer's runners-up) add their parts: a
        word the best reading misheard may be right in another.
        """
        asked = primary_language(language)
        lang = asked if asked in self._pools else self.language
        pool = self._pools.get(lang)
        parts = list(dict.fromkeys(p for text in (question, *readings) for p in scored_parts(text)))
        if pool is None or not parts:
            return None
        texts = [text for text, _ in parts]
        weights = np.array([[weight] for _, weight in parts], dtype=np.float32)
        lexical = np.asarray([pool.lexical_scores(text) for text in texts], dtype=np.float32)
        if self._semantic_for(asked, lang):
            found = self._semantic_scores(pool, texts)
            if found is not None:
                cosines, answers = found
                blended = (1 - LEXICAL_SHARE) * cosines + LEXICAL_SHARE * lexical
                per_item = self._per_item(pool, (blended * weights).max(axis=0))
                by_answer = (answers * weights).max(axis=0) * ANSWER_WEIGHT
                return self._best(pool, np.maximum(per_item, by_answer), self.threshold)
        per_item = self._per_item(pool, (lexical * weights).max(axis=0))
        return self._best(pool, per_item, self.lexical_threshold)

    async def stream(self, request: LlmRequest) -> AsyncIterator[str]:
        # Off the event loop: the first call may load the model, later ones take a few ms.
        found = await asyncio.to_thread(self.match, request.question, request.language)
        answer = found.answer if found is not None else handoff_answer(request.language)
        for group in word_groups(answer, WORDS_PER_DELTA):
            yield group
            await asyncio.sleep(0)

    def _semantic_for(self, asked: str, lang: str) -> bool:
        return not self._semantic_failed and asked == lang and lang in self._embedder.languages

    def _semantic_scores(
        self, pool: _Pool, texts: list[str]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Cosines of each text (rows) to the FAQ's texts and to its answers (columns); None
        when the model fails."""
        try:
            matrix = cached_embeddings(self._embedder, pool.texts)
            answers = cached_embeddings(self._embedder, pool.answers)
            queries = self._embedder.embed(texts)
        except Exception as exc:  # a broken model must not break the conversation
            self._semantic_failed = True
            logger.warning("semantic FAQ matching off, lexical from now on: %s", type(exc).__name__)
            return None
        return queries @ matrix.T, queries @ answers.T

    @staticmethod
    def _per_item(pool: _Pool, scores: np.ndarray) -> np.ndarray:
        """Each entry's best score over its question and paraphrases."""
        per_item = np.full(len(pool.items), -1.0, dtype=np.float32)
        np.maximum.at(per_item, np.asarray(pool.owners), scores)
        return per_item

    @staticmethod
    def _best(pool: _Pool, per_item: np.ndarray, threshold: float) -> FaqMatch | None:
        top = float(per_item.max(initial=-1.0))
        if top < threshold:
            return None
        floor = max(threshold, top - TIE_MARGIN)
        contenders = [i for i, score in enumerate(per_item) if score >= floor]
        best = max(contenders, key=lambda i: (pool.items[i].priority, per_item[i]))
        item = pool.items[best]
        return FaqMatch(entry_id=item.entry_id, answer=item.answer, score=float(per_item[best]))


def word_groups(text: str, size: int) -> list[str]:
    """`text` cut into groups of `size` words, spaces kept, so the groups join back exactly."""
    words = re.findall(r"\s*\S+", text)
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]
