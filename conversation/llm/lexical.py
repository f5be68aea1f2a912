"""Lexical FAQ scoring: TF-IDF cosine on character n-grams, for any language and without a model."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

_NON_WORD = re.compile(r"[^\w]+")
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Casefold, drop accents (ü ~ u, é ~ e) and punctuation, collapse spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", _NON_WORD.sub(" ", stripped)).strip()


def ngrams(text: str) -> Counter[str]:
    """Character 3-grams across word edges; 1- and 2-grams for scripts written without spaces."""
    norm = normalize(text)
    if not norm:
        return Counter()
    if " " not in norm and any(ord(ch) > 0x2E80 for ch in norm):
        sizes: tuple[int, ...] = (1, 2)
    else:
        sizes = (3,)
        norm = f" {norm} "
    grams: Counter[str] = Counter()
    for size in sizes:
        grams.update(norm[i : i + size] for i in range(max(len(norm) - size + 1, 1)))
    return grams


class LexicalIndex:
    """TF-IDF vectors (sublinear tf, smoothed idf) of a fixed set of texts."""

    def __init__(self, texts: Sequence[str]) -> None:
        counts = [ngrams(text) for text in texts]
        documents = Counter(gram for count in counts for gram in count)
        total = len(counts)
        self._idf = {gram: math.log((1 + total) / (1 + df)) + 1.0 for gram, df in documents.items()}
        self._default_idf = math.log(1 + total) + 1.0
        self._vectors = [self._weigh(count) for count in counts]

    def _weigh(self, count: Counter[str]) -> dict[str, float]:
        weights = {
            gram: (1.0 + math.log(n)) * self._idf.get(gram, self._default_idf)
            for gram, n in count.items()
        }
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        return {gram: w / norm for gram, w in weights.items()}

    def scores(self, query: str) -> list[float]:
        """Cosine similarity of `query` to every indexed text, in [0, 1]."""
        vector = self._weigh(ngrams(query))
        return [
            sum(weight * document.get(gram, 0.0) for gram, weight in vector.items())
            for document in self._vectors
        ]
