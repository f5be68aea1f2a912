"""When a customer asks for a person, repeats a question, hits an operator's keyword, or says
yes or no to sharing: the pure text rules, in English and Japanese."""

from __future__ import annotations

import pytest

from conversation.handoff.phrases import (
    Reason,
    asks_for_person,
    consent_answer,
    handoff_line,
    has_keyword,
    same_question,
)


@pytest.mark.parametrize(
    "text",
    [
        "Can I talk to someone?",
        "I want to speak with a real person",
        "Could I chat with an agent please",
        "human, please",
        "Please connect me to your staff.",
        "Kann ich mit einem Mitarbeiter sprechen?",
        "Je voudrais parler à quelqu'un",
        "¿Puedo hablar con una persona?",
        "担当者と話したいです",
        "人と話せますか？",
        "オペレーターにつないでください",
    ],
)
def test_asking_for_a_person_is_heard(text: str) -> None:
    assert asks_for_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "When are you open?",
        "Can someone deliver on Sunday?",
        "Do you sell personal gifts?",
        "Is the human hair wig in stock?",
        "営業時間を教えてください",
    ],
)
def test_questions_are_not_requests_for_a_person(text: str) -> None:
    assert not asks_for_person(text)


def test_the_same_question_again() -> None:
    assert same_question("Where is my refund?", "where is my refund")
    assert same_question(
        "Why was my card charged twice this month", "why was my card charged twice this month?!"
    )
    assert same_question("返金はいつですか", "返金はいつですか？")
    assert not same_question("Where is my refund?", "Where is my order?")
    assert not same_question("", "anything")


def test_operator_keywords_are_whole_words_or_japanese_substrings() -> None:
    assert has_keyword("I want to file a Complaint now", ("complaint",))
    assert not has_keyword("complaints department hours", ("complaint",))
    assert has_keyword("解約したいのですが", ("解約",))
    assert not has_keyword("anything", ("", "  "))


@pytest.mark.parametrize(
    ("text", "meaning"),
    [
        ("Yes", True),
        ("okay.", True),
        ("no thanks", False),
        ("はい", True),
        ("いいえ、結構です", False),
    ],
)
def test_a_short_yes_or_no(text: str, meaning: bool) -> None:
    assert consent_answer(text) is meaning


def test_a_question_is_no_answer_to_the_consent_question() -> None:
    assert consent_answer("yes but where is my order, it is late") is None
    assert consent_answer("what?") is None


def test_the_avatar_says_what_happens_next_in_its_language() -> None:
    english = handoff_line(Reason.NO_ANSWER, "en-US")
    assert english.startswith("I'm sorry") and "join this chat" in english
    assert english.endswith("repeat yourself?")
    assert handoff_line(Reason.ASKED_FOR_PERSON, "ja").startswith("かしこまりました。")
    assert "担当者" in handoff_line(Reason.ASKED_FOR_PERSON, "ja")
    assert "colleague" not in handoff_line(Reason.NO_ANSWER, "it")  # the short Italian hand-off
