"""The intelligibility bench's arithmetic: comparable words and the word error count."""

from __future__ import annotations

from bench.voices import edit_distance, words


def test_reference_and_transcript_are_compared_in_spoken_form() -> None:
    assert words("Shipping costs $4.95.") == [
        "shipping",
        "costs",
        "four",
        "dollars",
        "ninety",
        "five",
    ]
    assert words("Shipping costs four dollars, ninety-five!") == words("Shipping costs $4.95.")
    assert words("We'll call 555-0199.") == [
        "well",
        "call",
        "five",
        "five",
        "five",
        "zero",
        "one",
        "nine",
        "nine",
    ]


def test_japanese_is_compared_character_by_character() -> None:
    assert words("午後6時まで、営業します。", "ja") == list("午後6時まで営業します")
    assert words("午後 6時まで営業します", "ja") == words("午後6時まで、営業します。", "ja")


def test_edit_distance_counts_substitutions_deletions_and_insertions() -> None:
    ref = ["we", "open", "at", "nine"]
    assert edit_distance(ref, ref) == 0
    assert edit_distance(ref, ["we", "open", "at", "five"]) == 1
    assert edit_distance(ref, ["we", "open", "nine"]) == 1
    assert edit_distance(ref, ["oh", "we", "open", "at", "nine", "today"]) == 2
    assert edit_distance(ref, []) == 4 and edit_distance([], ref) == 4
