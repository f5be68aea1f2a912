"""Word error rate: edit distance over words after normalization."""

from __future__ import annotations

import pytest

from bench.wer import corpus_word_error_rate, edit_distance, normalize_words, word_error_rate


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hi there! It's $20.", ["hi", "there", "it", "is", "20", "dollars"]),
        ("hi there, it is twenty dollars", ["hi", "there", "it", "is", "20", "dollars"]),
        ("I can't log in", ["i", "can", "not", "log", "in"]),
        ("I won't wait - OK?", ["i", "will", "not", "wait", "okay"]),
        ("one hundred and five e-mails", ["105", "emails"]),
        ("Twenty-five percent", ["25", "percent"]),
        ("25% off", ["25", "percent", "off"]),
        ("It costs $4.95.", ["it", "costs", "4.95", "dollars"]),
        ("the customer's order", ["the", "customer's", "order"]),
        ("Shipping: 1,500 miles!", ["shipping", "1500", "miles"]),
    ],
)
def test_texts_are_written_one_way_before_scoring(text: str, words: list[str]) -> None:
    assert normalize_words(text) == words


def test_the_distance_counts_substitutions_deletions_and_insertions() -> None:
    assert edit_distance(["a", "b", "c", "d"], ["a", "x", "c"]) == 2  # b->x, d deleted
    assert edit_distance(["a", "b"], ["x", "a", "b", "y"]) == 2  # two insertions
    assert edit_distance([], ["a"]) == 1
    assert edit_distance(["a"], []) == 1
    assert edit_distance(["a", "b", "c"], ["c", "b", "a"]) == 2


def test_word_error_rate_is_errors_per_reference_word() -> None:
    assert word_error_rate("When do you open on Sunday?", "when do you open on sunday") == 0
    assert word_error_rate("how do I return a jacket", "how do I return the jacket") == 1 / 6
    assert word_error_rate("is delivery free", "is the delivery fee free at all") == 4 / 3
    assert word_error_rate("", "") == 0.0
    assert word_error_rate("", "hello") == 1.0


def test_the_corpus_rate_weighs_utterances_by_their_words() -> None:
    pairs = [("one two three four five six seven eight nine", "1 2 3 4 5 6 7 8 9"), ("yes", "no")]
    # Digits and number words are the same words: one error in ten words, not 50 %.
    assert corpus_word_error_rate(pairs) == pytest.approx(1 / 10)
    assert corpus_word_error_rate([]) == 0.0
