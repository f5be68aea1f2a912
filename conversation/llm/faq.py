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

logger = logging.getLogger(__name__)

# Cosine on MiniLM embeddings, calibrated on the demo FAQ (tests/conversation/llm/test_faq.py):
# rephrasings that hit the right entry score 0.65-0.96; off-topic questions score 0.14-0.28,
# small talk up to 0.44 ("how old are you"); near misses that pick a wrong entry 0.43-0.52
# ("can I pick up in person" -> contact). A wrong answer costs more than a polite hand-off.
SEMANTIC_THRESHOLD = 0.55
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

    def lexical_scores(self, question: str) -> list[float]:
        if self.lexical is None:
            self.lexical = LexicalIndex(self.texts)
        return self.lexical.scores(question)


class FaqAnswerer:
    """Matches a question against FAQ questions and paraphrases; implements `LlmBackend`.

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
                self._semantic_scores(pool, "warm up")

    def match(self, question: str, language: str) -> FaqMatch | None:
        """The best entry scoring above the threshold, or None. Synchronous, a few ms warm."""
        asked = primary_language(language)
        lang = asked if asked in self._pools else self.language
        pool = self._pools.get(lang)
        if pool is None or not question.strip():
            return None
        scores: list[float] | None = None
        threshold = self.threshold
        if self._semantic_for(asked, lang):
            scores = self._semantic_scores(pool, question)
        if scores is None:
            scores = pool.lexical_scores(question)
            threshold = self.lexical_threshold
        return self._best(pool, scores, threshold)

    async def stream(self, request: LlmRequest) -> AsyncIterator[str]:
        # Off the event loop: the first call may load the model, later ones take a few ms.
        found = await asyncio.to_thread(self.match, request.question, request.language)
        answer = found.answer if found is not None else handoff_answer(request.language)
        for group in word_groups(answer, WORDS_PER_DELTA):
            yield group
            await asyncio.sleep(0)

    def _semantic_for(self, asked: str, lang: str) -> bool:
        return not self._semantic_failed and asked == lang and lang in self._embedder.languages

    def _semantic_scores(self, pool: _Pool, question: str) -> list[float] | None:
        try:
            matrix = cached_embeddings(self._embedder, pool.texts)
            query = self._embedder.embed([question])[0]
        except Exception as exc:  # a broken model must not break the conversation
            self._semantic_failed = True
            logger.warning("semantic FAQ matching off, lexical from now on: %s", type(exc).__name__)
            return None
        return [float(score) for score in np.asarray(matrix @ query)]

    @staticmethod
    def _best(pool: _Pool, scores: Sequence[float], threshold: float) -> FaqMatch | None:
        per_item = [-1.0] * len(pool.items)
        for owner, score in zip(pool.owners, scores, strict=True):
            per_item[owner] = max(per_item[owner], score)
        top = max(per_item, default=-1.0)
        if top < threshold:
            return None
        floor = max(threshold, top - TIE_MARGIN)
        contenders = [i for i, score in enumerate(per_item) if score >= floor]
        best = max(contenders, key=lambda i: (pool.items[i].priority, per_item[i]))
        item = pool.items[best]
        return FaqMatch(entry_id=item.entry_id, answer=item.answer, score=per_item[best])


def word_groups(text: str, size: int) -> list[str]:
    """`text` cut into groups of `size` words, spaces kept, so the groups join back exactly."""
    words = re.findall(r"\s*\S+", text)
    return ["".join(words[i : i + size]) for i in range(0, len(words), size)]
