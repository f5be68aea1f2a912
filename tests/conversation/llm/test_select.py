"""Backend choice from configuration, and the FAQ-first rule when a remote LLM is configured."""

from __future__ import annotations

import asyncio

import pytest

from avatars.demo_data import DEMO_FAQ
from conversation.llm.anthropic_backend import ClaudeBackend
from conversation.llm.base import ChatTurn, FaqItem, LlmBackend, LlmRequest
from conversation.llm.faq import FaqAnswerer
from conversation.llm.openai_compat import OpenAICompatBackend
from conversation.llm.select import STRONG_FAQ_THRESHOLD, FaqFirst, build_llm
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


def test_no_configuration_means_the_faq_answerer(faq: FaqAnswerer) -> None:
    assert build_llm(faq=faq) is faq


def test_an_anthropic_key_means_claude_behind_the_faq(faq: FaqAnswerer) -> None:
    backend = build_llm(faq=faq, anthropic_api_key="sk-ant", llm_base_url="http://llm:8000/v1")
    assert isinstance(backend, FaqFirst)
    assert isinstance(backend.remote, ClaudeBackend)
    assert backend.strong_threshold == STRONG_FAQ_THRESHOLD
    assert backend.name == "faq+claude"


def test_a_base_url_means_the_openai_compatible_server(faq: FaqAnswerer) -> None:
    backend = build_llm(faq=faq, llm_base_url="http://llm:8000/v1", llm_model="qwen")
    assert isinstance(backend, FaqFirst)
    assert isinstance(backend.remote, OpenAICompatBackend)
    assert backend.remote.url == "http://llm:8000/v1/chat/completions"


def test_the_hybrid_can_be_turned_off(faq: FaqAnswerer) -> None:
    backend = build_llm(faq=faq, anthropic_api_key="sk-ant", strong_faq_threshold=None)
    assert isinstance(backend, ClaudeBackend)


async def test_a_strong_match_is_answered_from_the_faq_without_the_llm(
    faq: FaqAnswerer, fake_server: FakeServer
) -> None:
    fake_server.reply = openai_reply(["from", " the", " LLM"])
    backend = build_llm(faq=faq, llm_base_url=fake_server.url, timeout_s=2.0)
    deltas = [delta async for delta in backend.stream(request("I forgot my password"))]
    assert "".join(deltas) == PASSWORD_ANSWER
    assert fake_server.requests == []


@pytest.mark.parametrize(
    "question",
    [
        "how can I send back a jacket",  # an FAQ match, but not a strong one
        "what's the weather like tomorrow",  # no match at all
    ],
)
async def test_other_questions_go_to_the_llm(
    faq: FaqAnswerer, fake_server: FakeServer, question: str
) -> None:
    fake_server.reply = openai_reply(["from", " the", " LLM"])
    backend = build_llm(faq=faq, llm_base_url=fake_server.url, timeout_s=2.0)
    assert isinstance(backend, FaqFirst)
    assert backend.match(question, "en") is None
    assert [delta async for delta in backend.stream(request(question))] == ["from", " the", " LLM"]
    assert fake_server.requests[0].body["messages"][-1]["content"] == question


async def test_closing_the_hybrid_closes_the_remote_stream(
    faq: FaqAnswerer, fake_server: FakeServer
) -> None:
    fake_server.reply = openai_reply([f" w{i}" for i in range(40)], delay=0.05)
    backend = FaqFirst(faq, OpenAICompatBackend(base_url=fake_server.url, model="m", timeout_s=2.0))
    deltas = backend.stream(request("tell me a joke about cats"))
    assert await anext(deltas) == " w0"
    await deltas.aclose()  # type: ignore[attr-defined]
    assert await asyncio.to_thread(fake_server.wait_closed, 1.0)


def test_every_backend_meets_the_protocol(faq: FaqAnswerer) -> None:
    remote = ClaudeBackend(api_key="k", model="m")
    for backend in (faq, remote, OpenAICompatBackend("http://x", "m"), FaqFirst(faq, remote)):
        assert isinstance(backend, LlmBackend)
