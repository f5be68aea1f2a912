"""What a spoken question asks: fillers and greetings away, its sentences, numbers one way."""

from __future__ import annotations

import pytest

from conversation.llm.phrasing import STATEMENT_WEIGHT, asked, scored_parts, spoken_numbers


@pytest.mark.parametrize(
    ("said", "written"),
    [
        ("Is it free over $35?", "Is it free over 35 dollars?"),
        ("thirty five dollars", "35 dollars"),
        ("Thirty-five dollars", "35 dollars"),
        ("a €10 card", "a 10 euros card"),
        ("£1,200 or more", "1200 pounds or more"),
        ("ten percent and 15% off", "10 percent and 15 percent off"),
        ("two hundred and fifty parcels", "250 parcels"),
        ("one thousand two hundred", "1200"),
        ("call five five five zero one nine nine", "call 5 5 5 0 1 9 9"),
        ("the blue one, not the red one", "the blue one, not the red one"),
        ("twenty twenty", "20 20"),
        ("nothing to convert here", "nothing to convert here"),
    ],
)
def test_numbers_and_prices_are_written_one_way(said: str, written: str) -> None:
    assert spoken_numbers(said) == written


def test_fillers_greetings_and_pleasantries_ask_nothing() -> None:
    found = asked("Hello there! Um, so, uh, could you tell me if you ship to Norway, please?")
    assert found.whole == "you ship to Norway?"
    assert [(s.text, s.asks) for s in found.sentences] == [("you ship to Norway?", True)]
    assert asked("Hi! I have a quick question. Can you help me? Erm... my kettle leaks.").whole == (
        "my kettle leaks."
    )
    assert asked("Hey, good morning!").sentences == ()
    assert asked("um uh hmm").whole == ""


def test_a_story_is_kept_apart_from_the_question_it_leads_to() -> None:
    found = asked("I ordered a rug three weeks ago and nothing came. Where can I see my parcel?")
    assert [s.asks for s in found.sentences] == [False, True]
    assert found.sentences[0].text == "I ordered a rug 3 weeks ago and nothing came."
    assert found.sentences[1].text == "Where can I see my parcel?"
    assert found.whole == " ".join(s.text for s in found.sentences)


def test_a_question_without_its_mark_still_asks() -> None:
    found = asked("ok so do you have the lamp in green")
    assert found.sentences[0].asks and found.whole == "do you have the lamp in green"
    assert not asked("my password does not work").sentences[0].asks


def test_words_that_only_look_like_fillers_stay() -> None:
    # "so" and "well" open a sentence as fillers, but inside one they are words.
    assert asked("Is it well packed so it does not break?").whole == (
        "Is it well packed so it does not break?"
    )
    assert asked("Does the hummus come chilled?").whole == "Does the hummus come chilled?"


def test_parts_to_score_weigh_the_question_over_the_story() -> None:
    assert scored_parts("Hello!") == []
    assert scored_parts("Do you ship to Spain?") == [("Do you ship to Spain?", 1.0)]
    parts = dict(scored_parts("I moved last week. Can I change the address if it has shipped?"))
    assert parts["I moved last week."] == STATEMENT_WEIGHT < 1.0
    assert parts["Can I change the address if it has shipped?"] == 1.0
    assert parts["Can I change the address?"] == 1.0, "the question without its condition"
    assert parts["I moved last week. Can I change the address if it has shipped?"] == 1.0
