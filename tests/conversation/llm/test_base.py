"""The LLM stage's shared types: prompt, hand-off answers, errors."""

from __future__ import annotations

from conversation.llm.base import (
    HANDOFF_ANSWERS,
    ChatTurn,
    FaqItem,
    LlmError,
    LlmErrorKind,
    LlmRequest,
    handoff_answer,
    primary_language,
    system_prompt,
)

FAQ = [
    FaqItem(1, "When are you open?", (), "Nine to six, Monday to Saturday.", "en", 0),
    FaqItem(2, "Do you take PayPal?", ("PayPal?",), "Yes, we take PayPal.", "en", 9),
    FaqItem(3, "Wann haben Sie geöffnet?", (), "Von neun bis achtzehn Uhr.", "de", 0),
]


def test_system_prompt_has_persona_spoken_rules_and_the_faq_of_the_language() -> None:
    prompt = system_prompt("You are Eileen of Northwind Goods.", FAQ, "en-GB")
    assert prompt.startswith("You are Eileen of Northwind Goods.")
    for rule in ("short sentences", "no markdown", "no lists", "URL"):
        assert rule in prompt
    assert "Nine to six, Monday to Saturday." in prompt
    assert "Yes, we take PayPal." in prompt
    assert "Von neun bis achtzehn Uhr." not in prompt
    assert prompt.index("PayPal") < prompt.index("When are you open?"), "priority first"
    assert '"en"' in prompt


def test_system_prompt_falls_back_to_every_entry_for_a_language_without_entries() -> None:
    prompt = system_prompt("Persona.", FAQ, "fr")
    assert "Nine to six" in prompt and "Von neun" in prompt
    assert "Reference answers" not in system_prompt("Persona.", [], "en")


def test_hand_off_answers_cover_the_languages_and_fall_back_to_english() -> None:
    assert {"en", "de", "fr", "es", "ja"} <= HANDOFF_ANSWERS.keys()
    assert handoff_answer("de-CH") == HANDOFF_ANSWERS["de"]
    assert handoff_answer("sw") == HANDOFF_ANSWERS["en"]
    assert "colleague" in HANDOFF_ANSWERS["en"]


def test_primary_language() -> None:
    assert primary_language("en_US") == "en"
    assert primary_language("PT-br") == "pt"
    assert primary_language("") == "en"


def test_request_question_is_the_last_user_turn() -> None:
    request = LlmRequest(
        system="s",
        history=(ChatTurn("user", "first"), ChatTurn("assistant", "a"), ChatTurn("user", "last")),
        language="en",
    )
    assert request.question == "last"
    assert request.max_tokens == 300


def test_llm_error_has_a_kind_and_a_message() -> None:
    error = LlmError(LlmErrorKind.TIMEOUT, "no text within 2 s")
    assert error.kind == "timeout"
    assert str(error) == "timeout: no text within 2 s"
    assert {kind.value for kind in LlmErrorKind} == {
        "timeout",
        "http_status",
        "bad_stream",
        "unavailable",
    }
