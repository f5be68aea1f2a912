"""Backend choice from configuration, and the FAQ-first rule when a remote LLM is configured."""

from __future__ import annotations

import asyncio

import pytest

from avatars.demo_data import DEMO_FAQ
from conversation.llm.anthropic_backend import ClaudeBackend
from conversation.llm.base import ChatTurn, FaqItem, LlmBackend, LlmRequest
from conversation.llm.faq import FaqAnswerer
from conversation.llm.openai_compat import OpenAICompatBackend
from conversation.llm.select import STRONG_FAQ_THRESHOLD, StrongMatches, build_answering
from tests.conversation.llm.fake_servers import FakeServer, openai_reply

ITEMS = [
    FaqItem(index + 1, question, tuple(paraphrases), answer, "en", 0)
    for index, (question, paraphrases, answer) in enumerate(DEMO_FAQ)
]
PASSWORD_ANSWER = DEMO_FAQ[5][2]


@pytest.fixture(scope="module")
def faq() -> FaqAnswerer:
    answerer = FaqAnswerer(ITEMS)
    answerer.warm_up()
    return answerer


def request(question: str) -> LlmRequest:
    return LlmRequest(system="s", history=(ChatTurn("user", question),), language="en")


def test_no_configuration_means_the_faq_alone(faq: FaqAnswerer) -> None:
    answering = build_answering(faq=faq)
    assert answering.faq is faq and answering.llm is None
    assert answering.name == "faq"


def test_an_anthropic_key_means_claude_behind_the_faq(faq: FaqAnswerer) -> None:
    answering = build_answering(
        faq=faq, anthropic_api_key="sk-ant", llm_base_url="http://llm:8000/v1"
    )
    assert isinstance(answering.llm, ClaudeBackend)
    assert isinstance(answering.faq, StrongMatches)
    assert answering.faq.threshold == STRONG_FAQ_THRESHOLD
    assert answering.name == "faq+claude"


def test_a_base_url_means_the_openai_compatible_server(faq: FaqAnswerer) -> None:
    answering = build_answering(faq=faq, llm_base_url="http://llm:8000/v1", llm_model="qwen")
    assert isinstance(answering.llm, OpenAICompatBackend)
    assert answering.llm.url == "http://llm:8000/v1/chat/completions"


def test_the_hybrid_can_be_turned_off(faq: FaqAnswerer) -> None:
    answering = build_answering(faq=faq, anthropic_api_key="sk-ant", strong_faq_threshold=None)
    assert isinstance(answering.llm, ClaudeBackend)
    assert answering.faq.match("I forgot my password", "en") is None


def test_a_strong_match_is_answered_from_the_faq(faq: FaqAnswerer) -> None:
    answering = build_answering(faq=faq, llm_base_url="http://llm:8000/v1")
    found = answering.faq.match("I forgot my password", "en")
    assert found is not None and found.answer == PASSWORD_ANSWER


@pytest.mark.parametrize(
    "question",
    [
        "how can I send back a jacket",  # an FAQ match, but not a strong one
        "what's the weather like tomorrow",  # no match at all
    ],
)
def test_other_questions_are_left_to_the_llm(faq: FaqAnswerer, question: str) -> None:
    answering = build_answering(faq=faq, llm_base_url="http://llm:8000/v1")
    assert answering.faq.match(question, "en") is None


async def test_closing_a_remote_stream_closes_its_http_stream(fake_server: FakeServer) -> None:
    fake_server.reply = openai_reply([f" w{i}" for i in range(40)], delay=0.05)
    remote = OpenAICompatBackend(base_url=fake_server.url, model="m", timeout_s=2.0)
    deltas = remote.stream(request("tell me a joke about cats"))
    assert await anext(deltas) == " w0"
    await deltas.aclose()  # type: ignore[attr-defined]
    assert await asyncio.to_thread(fake_server.wait_closed, 1.0)


def test_every_backend_meets_the_protocol() -> None:
    for backend in (ClaudeBackend(api_key="k", model="m"), OpenAICompatBackend("http://x", "m")):
        assert isinstance(backend, LlmBackend)
