"""How customers phrase a spoken question: what to strip (fillers, greetings, pleasantries),
where the question is (its sentences), and numbers and prices written one way."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CURRENCY = {"$": "dollars", "£": "pounds", "€": "euros"}
_PRICE = re.compile(r"([$£€])\s?(\d[\d,]*(?:\.\d+)?)")
_PERCENT = re.compile(r"(\d)\s?%")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_WORD = re.compile(r"[A-Za-z]+(?:-[A-Za-z]+)*|[^A-Za-z]+")

_UNIT_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
)
_TENS_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety"
_UNITS = {name: value for value, name in enumerate(_UNIT_WORDS.split())}
_TENS = {name: 10 * (index + 2) for index, name in enumerate(_TENS_WORDS.split())}
_SCALES = {"thousand": 1000, "million": 1_000_000}
_HYPHENATED = re.compile(
    rf"\b({'|'.join(_TENS)})-({'|'.join(list(_UNITS)[1:10])})\b", re.IGNORECASE
)


def _number_run(words: list[str]) -> list[str]:
    """Spoken number words as digit strings: "twenty five" -> 25, "one hundred and five" -> 105,
    "five five five" -> 5 5 5 (a digit after a digit starts a new number, as in phone numbers)."""
    out: list[str] = []
    total, current, last = 0, 0, ""

    def flush() -> None:
        nonlocal total, current
        if last:
            out.append(str(total + current))
        total, current = 0, 0

    for word in words:
        if word == "and":
            continue  # only inside a run: "one hundred and five"
        if word in _SCALES:
            total, current, last = total + max(current, 1) * _SCALES[word], 0, "scale"
            continue
        if word == "hundred":
            current, last = max(current, 1) * 100, "hundred"
            continue
        value = _UNITS.get(word, _TENS.get(word, 0))
        joins = last in {"scale", "hundred"} or (last == "tens" and 0 < value < 10)
        if last and not joins:
            flush()
        current = current + value if joins else value
        last = "tens" if word in _TENS else "unit"
    flush()
    return out


def _is_number_word(word: str) -> bool:
    return word in _UNITS or word in _TENS or word in _SCALES or word == "hundred"


def spoken_numbers(text: str) -> str:
    """Numbers and prices one way: "$20" and "twenty dollars" both read "20 dollars",
    "10%" reads "10 percent", "1,000" reads "1000". Casing and other words are kept."""
    text = _HYPHENATED.sub(r"\1 \2", _THOUSANDS.sub("", text))
    text = _PRICE.sub(lambda m: f"{m.group(2)} {_CURRENCY[m.group(1)]}", text)
    text = _PERCENT.sub(r"\1 percent", text)
    pieces = _WORD.findall(text)
    out: list[str] = []
    i = 0
    while i < len(pieces):
        word = pieces[i].lower()
        if not _is_number_word(word) or word in {"hundred", *_SCALES}:
            out.append(pieces[i])
            i += 1
            continue
        run, j = [word], i + 1
        # A run goes on over single spaces (and "and" between number words).
        while j + 1 < len(pieces) and pieces[j] == " ":
            following = pieces[j + 1].lower()
            if _is_number_word(following) or (
                following == "and"
                and j + 3 < len(pieces)
                and pieces[j + 2] == " "
                and _is_number_word(pieces[j + 3].lower())
                and run[-1] in {"hundred", *_SCALES}
            ):
                run.append(following)
                j += 2
            else:
                break
        # A lone "one" is mostly a word ("the blue one"), not a number.
        out.append(pieces[i] if run == ["one"] else " ".join(_number_run(run)))
        i = j
    return "".join(out)


# Said around a question, never part of it. Fillers go anywhere; the others only open a sentence.
_FILLERS = re.compile(r"\b(?:u+h+m*|u+m+|e+r+m*|h+m+|m+h*m+|a+h+)\b[,.]?\s*", re.IGNORECASE)
_OPENERS = re.compile(
    r"^(?:(?:hi|hello|hey|hiya|howdy|greetings|good (?:morning|afternoon|evening|day))"
    r"(?: there| again| everyone)?|well|so|okay|ok|oh|right|yeah|yes|alright|all right|"
    r"and|also|actually|excuse me|sorry|please)\b[,!.]?\s*",
    re.IGNORECASE,
)
_POLITE = re.compile(r",?\s*\b(?:please|thank you|thanks)\b[,!.]?", re.IGNORECASE)
_WONDER = re.compile(
    r"^(?:i (?:was|am|'m) (?:just )?wondering|i (?:would|'d) like to know|"
    r"(?:can|could) you (?:please )?tell me|do you know)\b,?\s*(?:if |whether )?",
    re.IGNORECASE,
)
# Whole sentences that ask for nothing in particular.
_PLEASANTRY = re.compile(
    r"^(?:(?:can|could) you help(?: me)?(?: out)?|i (?:have|'ve got|got) a (?:quick )?question|"
    r"(?:quick|one) question|i need (?:some )?help|how are you(?: doing)?(?: today)?|"
    r"nice to meet you|i hope you can help(?: me)?)$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.?!;])\s+")
# Speech has no full stops: "my shoes are too small, can I swap them?" is two sentences.
_QUESTION_AFTER_COMMA = re.compile(
    r",\s+(?=(?:what|when|where|which|who|why|how|can|could|do|does|is|are|will|would)\b)",
    re.IGNORECASE,
)
_ASKING = re.compile(
    r"^(?:what|when|where|which|who|whom|whose|why|how|can|could|may|do|does|did|is|are|was|"
    r"were|will|would|should|shall|have|has|am)\b",
    re.IGNORECASE,
)
_EDGE = re.compile(r"^[\s,;:.!-]+|[\s,;:-]+$")
# The condition after a question ("can I return it | if he does not like it?") is context; the
# question before it, on its own, is closer to how an FAQ asks.
_CONDITION = re.compile(r",?\s+\b(?:if|because|since|unless|in case|so that|as long as)\b", re.I)


@dataclass(frozen=True)
class Sentence:
    text: str
    asks: bool  # a question, by its mark or its first word

    @property
    def main_clause(self) -> str | None:
        """A question without its condition, when it has one and keeps three words or more."""
        if not self.asks:
            return None
        head = _CONDITION.split(self.text, maxsplit=1)[0]
        return f"{head}?" if head != self.text and len(head.split()) >= 3 else None


@dataclass(frozen=True)
class Asked:
    """What an utterance asks: the whole of it and its sentences, without what asks nothing."""

    whole: str
    sentences: tuple[Sentence, ...]


def _clean_sentence(sentence: str) -> str:
    text = _FILLERS.sub("", sentence)
    previous = None
    while previous != text:  # "Hi there, um, so ..." loses each opener in turn
        previous = text
        text = _EDGE.sub("", _OPENERS.sub("", text))
    text = _WONDER.sub("", text)
    text = _EDGE.sub("", _POLITE.sub("", text))
    text = re.sub(r"\s+", " ", text).strip()
    if _PLEASANTRY.match(text.rstrip("?.!")):
        return ""
    return text


def asked(utterance: str) -> Asked:
    """The parts of `utterance` worth matching: "Hi there! Um, I bought a kettle on Monday. When
    will it get here?" -> whole "I bought a kettle on Monday. When will it get here?" and the
    two sentences, the second one asking."""
    sentences: list[Sentence] = []
    said = spoken_numbers(utterance).strip()
    for raw in (c for s in _SENTENCE_END.split(said) for c in _QUESTION_AFTER_COMMA.split(s)):
        text = _clean_sentence(raw)
        if text and re.search(r"\w", text):
            asks = raw.rstrip().endswith("?") or bool(_ASKING.match(text))
            sentences.append(Sentence(text, asks))
    whole = " ".join(s.text for s in sentences)
    return Asked(whole=whole, sentences=tuple(sentences))


# A part of an utterance that asks nothing (the story before a question) counts a little less:
# "my parcel is late" should not outscore the question that follows it.
STATEMENT_WEIGHT = 0.9


def scored_parts(utterance: str) -> list[tuple[str, float]]:
    """The texts an utterance is matched by, each with its weight (at most 1): the whole of
    what it asks; when it has several sentences, each sentence alone, so that a story neither
    drowns the question nor hides the question it makes clear; and each question without its
    condition."""
    found = asked(utterance)
    if not found.sentences:
        return []
    parts = [(found.whole, 1.0)]
    if len(found.sentences) > 1:
        parts += [(s.text, 1.0 if s.asks else STATEMENT_WEIGHT) for s in found.sentences]
    parts += [(clause, 1.0) for s in found.sentences if (clause := s.main_clause)]
    return parts
