"""Word error rate: Levenshtein distance over words, after both texts are written one way.

"Hi there! It's $20." and "hi there it is twenty dollars" are the same words here: case,
punctuation, contractions, hyphens, number words and currency signs do not count as errors,
the way Whisper's own evaluations normalize before scoring.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from conversation.llm.phrasing import spoken_numbers

_CONTRACTIONS = (
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bcannot\b"), "can not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'d\b"), " would"),
    (re.compile(r"\b(it|that|what|there|here|where|who|how|he|she)'s\b"), r"\1 is"),
    (re.compile(r"\blet's\b"), "let us"),
)
_SPELLINGS = {"ok": "okay", "mr": "mister", "mrs": "missus", "&": "and"}
_EMAIL = re.compile(r"\be-mail")
_NOT_WORD = re.compile(r"[^a-z0-9.' ]+")


def normalize_words(text: str) -> list[str]:
    """The words of `text`: lower case, no punctuation, contractions spelled out, numbers and
    prices as digits ("twenty dollars", "$20" -> "20 dollars"), hyphenated words apart."""
    text = _EMAIL.sub("email", spoken_numbers(text.replace("’", "'")).lower())
    for pattern, spelled in _CONTRACTIONS:
        text = pattern.sub(spelled, text)
    words = []
    for token in text.split():
        token = _SPELLINGS.get(token.strip(",.!?;:"), token)
        words.extend(_NOT_WORD.sub(" ", token.replace("-", " ")).split())
    # A dot or apostrophe counts only inside a number ("4.95") or a possessive ("customer's").
    cleaned = [word.strip(".'") for word in words]
    return [word for word in cleaned if word]


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Substitutions + deletions + insertions turning `reference` into `hypothesis`."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(
                min(
                    previous[j] + 1,  # deletion
                    current[j - 1] + 1,  # insertion
                    previous[j - 1] + (ref_word != hyp_word),  # substitution or match
                )
            )
        previous = current
    return previous[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Errors per reference word (can exceed 1 when the hypothesis adds words)."""
    ref = normalize_words(reference)
    errors = edit_distance(ref, normalize_words(hypothesis))
    return errors / len(ref) if ref else float(errors > 0)


def corpus_word_error_rate(pairs: Iterable[tuple[str, str]]) -> float:
    """Total errors over total reference words of (reference, hypothesis) pairs: long
    utterances weigh more than short ones, as in every published WER."""
    errors = words = 0
    for reference, hypothesis in pairs:
        ref = normalize_words(reference)
        errors += edit_distance(ref, normalize_words(hypothesis))
        words += len(ref)
    return errors / words if words else 0.0
