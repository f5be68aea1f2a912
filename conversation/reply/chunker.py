"""Streaming sentence chunker: LLM tokens in, speakable chunks out, as early as it is safe.

A candidate boundary counts only once the text after it proves it (a "." followed by a space,
not by "5" or "com"), so feeding a reply token by token gives exactly the chunks that feeding
it whole gives. Pure: no I/O, no clock.
"""

from __future__ import annotations

import enum

_CLOSERS = frozenset("\"')]}\u201d\u2019\u00bb\u300d\u300f\uff09")  # ” ’ » 」 』 ）
_OPENERS = "\"'([{\u201c\u2018\u00ab"  # “ ‘ «
_ASCII_ENDS = frozenset("!?")
_CJK_ENDS = frozenset("\u3002\uff01\uff1f")  # 。！？
_CLAUSE_MARKS = frozenset(",;:")
_CJK_CLAUSE_MARKS = frozenset("\uff0c\u3001\uff1b\uff1a")  # ，、；：
_ALL_CLAUSE_MARKS = _CLAUSE_MARKS | _CJK_CLAUSE_MARKS

# Abbreviations before a "." that never end a sentence (a name or an example follows).
_NEVER_END = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "capt", "gen", "rev", "hon",
    "sgt", "lt", "col", "vs", "approx", "dept", "est", "fig", "e.g", "i.e", "cf", "u.s",
    "u.k", "u.s.a", "e.u",
})  # fmt: skip
# Abbreviations that end a sentence only when the next word starts with a capital letter.
_END_IF_CAPITAL = frozenset({"etc", "a.m", "p.m", "inc", "ltd", "co", "corp"})
# "No. 5" is an abbreviation, "The answer is no. We..." is not.
_END_UNLESS_DIGIT = frozenset({"no", "nos"})
# A long first sentence without a clause mark may be cut before one of these: a clause or a
# phrase starts there, so the voice can pause. ("or" and "so" often join words: not these.)
_PHRASE_STARTS = frozenset({
    "and", "but", "because", "which", "while", "when", "then", "until", "unless", "although",
    "though", "whereas", "where", "if", "after", "before", "from", "with", "within", "for",
    "at", "on", "in", "by", "to",
})  # fmt: skip
_WORDS_AFTER_CUT = 3  # a cut never leaves a stub such as "and so on."


class _Scan(enum.Enum):
    BOUNDARY = "boundary"  # the chunk ends at the returned position
    NONE = "none"  # no boundary here; scanning resumes at the returned position
    WAIT = "wait"  # the text after this point is not here yet


class SentenceChunker:
    """Cuts a streamed reply into chunks for TTS: sentences, a short first chunk, a max length.

    `push` returns the chunks that are certain now; `flush` ends the turn (the rest comes out
    and the next turn starts afresh with a short first chunk); `reset` drops everything, e.g.
    on an interruption. Chunks are stripped and never empty; pieces with no letter or digit
    ("...", a lone emoji) are dropped, as they have nothing to say.
    """

    def __init__(
        self,
        *,
        max_chars: int = 200,
        first_chunk_min_words: int = 4,
        first_chunk_phrase_words: int = 5,
    ) -> None:
        if max_chars < 20:
            raise ValueError("max_chars below 20 would cut most words")
        self.max_chars = max_chars
        self.first_chunk_min_words = first_chunk_min_words
        self.first_chunk_phrase_words = first_chunk_phrase_words
        self._buffer = ""
        self._first_pending = True

    def push(self, text: str) -> list[str]:
        self._buffer += text
        return self._drain(final=False)

    def flush(self) -> list[str]:
        chunks = self._drain(final=True)
        rest = self._buffer.strip()
        self.reset()
        return chunks + ([rest] if _speakable(rest) else [])

    def reset(self) -> None:
        self._buffer = ""
        self._first_pending = True

    def _drain(self, *, final: bool) -> list[str]:
        chunks: list[str] = []
        while True:
            self._buffer = self._buffer.lstrip()
            outcome, position = self._find_boundary(final)
            if outcome is _Scan.BOUNDARY and position <= self.max_chars:
                cut = position
            elif outcome is _Scan.WAIT and position <= self.max_chars:
                break
            elif len(self._buffer) > self.max_chars:
                cut = _length_cut(self._buffer, self.max_chars)
            else:
                break
            chunk, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:]
            if _speakable(chunk):
                chunks.append(chunk)
                self._first_pending = False
        return chunks

    def _find_boundary(self, final: bool) -> tuple[_Scan, int]:
        """The first decided boundary, or where the scan has to wait, or (NONE, len)."""
        text, i = self._buffer, 0
        while i < len(text):
            char = text[i]
            if char == "\n":
                return _Scan.BOUNDARY, i + 1
            if char == ".":
                outcome, position = _after_period(text, i, final)
            elif char in _ASCII_ENDS:
                outcome, position = _after_mark(text, i, final, _ASCII_ENDS, needs_space=True)
            elif char in _CJK_ENDS:
                outcome, position = _after_mark(text, i, final, _CJK_ENDS, needs_space=False)
            elif self._first_pending and char in _ALL_CLAUSE_MARKS:
                outcome, position = self._after_clause_mark(text, i, final)
            elif self._first_pending and char == " ":
                outcome, position = self._before_phrase(text, i, final)
            else:
                i += 1
                continue
            if outcome is not _Scan.NONE:
                return outcome, position
            i = position
        return _Scan.NONE, len(text)

    def _after_clause_mark(self, text: str, i: int, final: bool) -> tuple[_Scan, int]:
        """The first chunk of a turn may end at a clause mark once enough words have come."""
        prefix = text[:i]
        if text[i] in _CJK_CLAUSE_MARKS:
            # No spaces between CJK words: count characters, two per word.
            if len(prefix.replace(" ", "")) < 2 * self.first_chunk_min_words:
                return _Scan.NONE, i + 1
            return _Scan.BOUNDARY, i + 1
        if i + 1 == len(text):
            return (_Scan.BOUNDARY, i + 1) if final else (_Scan.WAIT, i + 1)
        if not text[i + 1].isspace():  # 1,000 / 3:30 / https://
            return _Scan.NONE, i + 1
        if len(prefix.split()) < self.first_chunk_min_words:
            return _Scan.NONE, i + 1
        return _Scan.BOUNDARY, i + 1

    def _before_phrase(self, text: str, i: int, final: bool) -> tuple[_Scan, int]:
        """The first chunk of a turn may end where a clause or phrase starts ("Our customer
        service is open | from 9 a.m. to 6 p.m."), once enough words have come and enough
        follow: the first audio waits for the neural voice to render the whole first chunk,
        and a long first sentence without a comma would keep it waiting for all of it."""
        if len(text[:i].split()) < self.first_chunk_phrase_words:
            return _Scan.NONE, i + 1
        word_end = i + 1
        while word_end < len(text) and text[word_end].isalpha():
            word_end += 1
        word = text[i + 1 : word_end].lower()
        if word_end == len(text) and not final:
            # The word may still grow: "an" may become "and", "and" may become "android".
            if any(c.startswith(word) for c in _PHRASE_STARTS):
                return _Scan.WAIT, i
            return _Scan.NONE, i + 1
        if word not in _PHRASE_STARTS or (word_end < len(text) and not text[word_end].isspace()):
            return _Scan.NONE, i + 1
        following = text[word_end:]
        words = following.split()
        if not final and not following[-1:].isspace():
            words = words[:-1]  # the last word may still grow
        for after in words[:_WORDS_AFTER_CUT]:
            if _stops(after):  # a clause mark or the sentence's end comes soon: cut there
                return _Scan.NONE, i + 1
        if len(words) < _WORDS_AFTER_CUT:
            return (_Scan.NONE, i + 1) if final else (_Scan.WAIT, i)
        return _Scan.BOUNDARY, i


def _stops(word: str) -> bool:
    """Whether a word ends with a clause mark or (as far as one word can tell) a sentence."""
    core = word.rstrip("".join(_CLOSERS))
    if not core:
        return False
    last = core[-1]
    if last in _ALL_CLAUSE_MARKS or last in _ASCII_ENDS or last in _CJK_ENDS:
        return True
    if last != ".":
        return False
    stem = core.rstrip(".").lstrip(_OPENERS).lower()
    abbreviation = stem in _NEVER_END or stem in _END_IF_CAPITAL or len(stem) == 1
    return not abbreviation


def _speakable(chunk: str) -> bool:
    return any(char.isalnum() for char in chunk)


def _skip_closers(text: str, i: int) -> int:
    while i < len(text) and text[i] in _CLOSERS:
        i += 1
    return i


def _after_mark(
    text: str, i: int, final: bool, run: frozenset[str], *, needs_space: bool
) -> tuple[_Scan, int]:
    """! ? (a run of them, then closing quotes) end a sentence when a space follows.

    。！？ end one whatever follows; the wait is only for closing quotes.
    """
    end = i
    while end < len(text) and text[end] in run:
        end += 1
    end = _skip_closers(text, end)
    if end == len(text):
        return (_Scan.BOUNDARY, end) if final else (_Scan.WAIT, end)
    if needs_space and not text[end].isspace():  # ?q=1 in a URL, Yahoo!Mail
        return _Scan.NONE, end
    return _Scan.BOUNDARY, end


def _after_period(text: str, i: int, final: bool) -> tuple[_Scan, int]:
    dots = i
    while dots < len(text) and text[dots] == ".":
        dots += 1
    if dots == len(text) and not final:
        return _Scan.WAIT, dots  # "." may become "..." or "3.5" or "example.com"
    if dots - i > 1:
        return _Scan.NONE, dots  # an ellipsis trails off, it does not end the sentence
    end = _skip_closers(text, dots)
    if end == len(text):
        return (_Scan.BOUNDARY, end) if final else (_Scan.WAIT, end)
    if not text[end].isspace():  # 3.5, example.com/returns, help@shop.example, e.g
        return _Scan.NONE, end

    word_start = i
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:i].lstrip(_OPENERS).lower()
    if word in _NEVER_END or (len(word) == 1 and word.isalpha()):  # Mr. / U.S. / J. Smith
        return _Scan.NONE, end
    if word.isdigit() and not text[:word_start].strip():  # "1." opening a numbered list
        return _Scan.NONE, end
    if word in _END_IF_CAPITAL or word in _END_UNLESS_DIGIT:
        following = end
        while following < len(text) and text[following].isspace():
            following += 1
        if following == len(text):
            return (_Scan.BOUNDARY, end) if final else (_Scan.WAIT, following)
        upcoming = text[following]
        if word in _END_UNLESS_DIGIT:
            return (_Scan.NONE, end) if upcoming.isdigit() else (_Scan.BOUNDARY, end)
        return (_Scan.BOUNDARY, end) if upcoming.isupper() else (_Scan.NONE, end)
    return _Scan.BOUNDARY, end


def _length_cut(text: str, max_chars: int) -> int:
    """Where to cut a chunk that found no boundary: the last space in reach, else hard."""
    for i in range(max_chars, 0, -1):
        if text[i].isspace():
            return i
    return max_chars
