from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversation.reply.chunker import SentenceChunker


def whole(text: str, chunker: SentenceChunker | None = None) -> list[str]:
    chunker = chunker or SentenceChunker()
    return chunker.push(text) + chunker.flush()


def by_pieces(pieces: list[str], chunker: SentenceChunker | None = None) -> list[str]:
    chunker = chunker or SentenceChunker()
    out: list[str] = []
    for piece in pieces:
        out += chunker.push(piece)
    return out + chunker.flush()


# The first chunk of a turn may be cut at a clause mark, so most cases open with a short
# sentence: what they test is the sentence rule.
CASES = [
    ("Hi. How are you? Fine!", ["Hi.", "How are you?", "Fine!"]),
    ("Hi. Mr. Smith will call you.", ["Hi.", "Mr. Smith will call you."]),
    (
        "Hi. Dr. Jones and Mrs. Lee are in. St. Mary's too.",
        ["Hi.", "Dr. Jones and Mrs. Lee are in.", "St. Mary's too."],
    ),
    ("Hi. Bring ID, e.g. a passport. Thanks.", ["Hi.", "Bring ID, e.g. a passport.", "Thanks."]),
    ("Hi. Use cash, i.e. coins. Thanks.", ["Hi.", "Use cash, i.e. coins.", "Thanks."]),
    (
        "Hi. Pens, paper, etc. are free. Etc. Done.",
        ["Hi.", "Pens, paper, etc. are free.", "Etc.", "Done."],
    ),
    (
        "Hi. We open at 9 a.m. and close at 5 p.m. See you.",
        ["Hi.", "We open at 9 a.m. and close at 5 p.m.", "See you."],
    ),
    (
        "Hi. We ship to the U.S. and Canada. Thanks.",
        ["Hi.", "We ship to the U.S. and Canada.", "Thanks."],
    ),
    (
        "Hi. It costs 3.50 dollars. Or 3.5 euros.",
        ["Hi.", "It costs 3.50 dollars.", "Or 3.5 euros."],
    ),
    (
        "Hi. See example.com/returns for details. Thanks.",
        ["Hi.", "See example.com/returns for details.", "Thanks."],
    ),
    (
        "Hi. Visit https://shop.example/a?b=1 now! Bye.",
        ["Hi.", "Visit https://shop.example/a?b=1 now!", "Bye."],
    ),
    (
        "Hi. Mail help@shop.example. We answer fast.",
        ["Hi.", "Mail help@shop.example.", "We answer fast."],
    ),
    ("Hi. Well... I think so. Yes.", ["Hi.", "Well... I think so.", "Yes."]),
    ("Hi. Wait\u2026 yes. Ok.", ["Hi.", "Wait\u2026 yes.", "Ok."]),
    ("Hi. Call J. Smith now. Ok.", ["Hi.", "Call J. Smith now.", "Ok."]),
    (
        "Hi. Ask for No. 5 please. The answer is no. Sorry.",
        ["Hi.", "Ask for No. 5 please.", "The answer is no.", "Sorry."],
    ),
    ('Hi. He said "yes." Then left.', ["Hi.", 'He said "yes."', "Then left."]),
    ("Hi. (See above.) Next.", ["Hi.", "(See above.)", "Next."]),
    ("Really?! Yes!!! Ok.", ["Really?!", "Yes!!!", "Ok."]),
    ("Line one\nLine two\n\nLine three", ["Line one", "Line two", "Line three"]),
    ("1. First step.\n2. Second step.", ["1. First step.", "2. Second step."]),
    ("你好。我们明天见！好吗？", ["你好。", "我们明天见！", "好吗？"]),
    ("\u300c你好。\u300d再见。", ["\u300c你好。\u300d", "再见。"]),
    ("Hi. ... . Bye.", ["Hi.", "Bye."]),  # pieces with nothing to say are dropped
    ("no final punctuation", ["no final punctuation"]),
    ("", []),
    ("   \n  ", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_chunks(text: str, expected: list[str]) -> None:
    assert whole(text) == expected


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_character_by_character_equals_whole(text: str, expected: list[str]) -> None:
    assert by_pieces(list(text)) == expected


def test_period_waits_for_the_character_that_proves_it() -> None:
    chunker = SentenceChunker()
    assert chunker.push("Hi. Please see Mr") == ["Hi."]
    assert chunker.push(".") == []
    assert chunker.push(" Smith") == []
    assert chunker.push(" today. He") == ["Please see Mr. Smith today."]
    assert chunker.push(" is 3") == []
    assert chunker.push(".") == []
    assert chunker.push("5 m tall") == []
    assert chunker.flush() == ["He is 3.5 m tall"]


def test_abbreviation_that_may_end_waits_for_the_next_word() -> None:
    chunker = SentenceChunker()
    assert chunker.push("Hi. Bring pens, etc.") == ["Hi."]
    assert chunker.push("  ") == []
    assert chunker.push("We") == ["Bring pens, etc."]


def test_first_chunk_is_cut_at_a_clause_after_enough_words() -> None:
    text = "Sure, I can help you with that order, it ships today, and arrives soon."
    assert whole(text) == [
        "Sure, I can help you with that order,",
        "it ships today, and arrives soon.",
    ]


def test_only_the_first_sentence_of_a_turn_is_cut_at_a_clause() -> None:
    chunker = SentenceChunker()
    sentence = "Thank you for calling us today, how can I help you?"
    assert whole(sentence, chunker) == ["Thank you for calling us today,", "how can I help you?"]
    # flush ended that turn: the next one starts with a short chunk again
    assert whole(sentence, chunker) == ["Thank you for calling us today,", "how can I help you?"]
    assert whole("Ok. " + sentence, chunker) == ["Ok.", sentence]


LONG_FIRST = [
    (
        "Our customer service is open from 9 a.m. to 6 p.m., Monday to Saturday. We answer.",
        [
            "Our customer service is open",
            "from 9 a.m. to 6 p.m., Monday to Saturday.",
            "We answer.",
        ],
    ),
    (
        "Express shipping arrives the next working day when you order before two o'clock.",
        ["Express shipping arrives the next working day", "when you order before two o'clock."],
    ),
    (
        "Your refund has been approved and we send it back today.",
        ["Your refund has been approved", "and we send it back today."],
    ),
    # too few words before the cut, or too few after it: one chunk
    ("Bread and butter are on the table today.", ["Bread and butter are on the table today."]),
    ("You can return any item within 30 days.", ["You can return any item within 30 days."]),
    ("We will call you back today and so on.", ["We will call you back today and so on."]),
    ("We will call you back today and then. Ok.", ["We will call you back today and then.", "Ok."]),
    # "android" is no "and"; "or" joins words more often than clauses
    (
        "Our app now runs smoothly everywhere android phones are sold.",
        ["Our app now runs smoothly everywhere android phones are sold."],
    ),
    (
        "It usually takes about two days or three days tops.",
        ["It usually takes about two days or three days tops."],
    ),
]


@pytest.mark.parametrize(("text", "expected"), LONG_FIRST)
def test_a_long_first_sentence_is_cut_where_a_phrase_starts(text: str, expected: list[str]) -> None:
    assert whole(text) == expected
    assert by_pieces(list(text)) == expected
    assert by_pieces(re.findall(r" ?\S+", text)) == expected  # as an LLM streams words


def test_only_the_first_chunk_is_cut_where_a_phrase_starts() -> None:
    text = "Hi. Your refund has been approved and we send it back today."
    assert whole(text) == ["Hi.", text.removeprefix("Hi. ")]


def test_the_phrase_cut_waits_for_the_words_that_prove_it() -> None:
    chunker = SentenceChunker()
    assert chunker.push("Your refund has been approved an") == []
    assert chunker.push("d we send") == []
    assert chunker.push(" it back") == ["Your refund has been approved"]
    assert chunker.flush() == ["and we send it back"]


@pytest.mark.parametrize(
    "text", ["It costs 1,000 dollars in total today.", "We open at 10:30 every single day."]
)
def test_clause_marks_inside_numbers_do_not_cut(text: str) -> None:
    assert whole(text) == [text]


def test_cjk_first_chunk_cuts_at_a_full_width_comma() -> None:
    assert whole("您好，我们的商店今天营业，欢迎光临。") == [
        "您好，我们的商店今天营业，",
        "欢迎光临。",
    ]


def test_long_text_is_cut_at_the_last_space_within_max_chars() -> None:
    chunker = SentenceChunker(max_chars=40)
    text = "word " * 30
    chunks = whole(text, chunker)
    assert all(len(chunk) <= 40 for chunk in chunks)
    assert " ".join(chunks).split() == text.split()
    assert chunks[0] == " ".join(["word"] * 8)


def test_text_without_spaces_is_cut_hard_at_max_chars() -> None:
    chunks = whole("x" * 95, SentenceChunker(max_chars=40))
    assert chunks == ["x" * 40, "x" * 40, "x" * 15]


def test_reset_drops_pending_text() -> None:
    chunker = SentenceChunker()
    chunker.push("This half sentence is abandoned")
    chunker.reset()
    assert whole("New turn.", chunker) == ["New turn."]


def test_too_small_max_chars_is_refused() -> None:
    with pytest.raises(ValueError):
        SentenceChunker(max_chars=5)


ALPHABET = st.sampled_from(
    list("abcXYZ019 .,;:!?\n\u2026\"')(")
    + ["Mr", "e.g", "U.S", "etc", "no", "3.5", "。", "，", "www.x.com", " and", " an", " when"]
)


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(st.lists(ALPHABET, max_size=8).map("".join), max_size=40))
def test_any_split_of_the_stream_gives_the_same_chunks(parts: list[str]) -> None:
    text = "".join(parts)
    expected = whole(text, SentenceChunker(max_chars=30))
    assert by_pieces(parts, SentenceChunker(max_chars=30)) == expected
    assert by_pieces(list(text), SentenceChunker(max_chars=30)) == expected
    assert all(0 < len(chunk) <= 30 for chunk in expected)
    # Nothing is lost but pieces that have no letter or digit.
    kept = "".join(expected).replace(" ", "").replace("\n", "")
    assert [c for c in kept if c.isalnum()] == [c for c in text if c.isalnum()]
