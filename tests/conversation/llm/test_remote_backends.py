"""Behaviour both HTTP adapters share, driven against real local servers in their wire formats."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from avatars.demo_data import DEMO_FAQ, DEMO_FAQ_JA
from conversation.llm.anthropic_backend import ClaudeBackend
from conversation.llm.base import (
    ChatTurn,
    FaqItem,
    LlmBackend,
    LlmError,
    LlmErrorKind,
    LlmRequest,
    system_for,
    system_prompts,
)
from conversation.llm.openai_compat import OpenAICompatBackend
from tests.conversation.llm.fake_servers import (
    FakeServer,
    Reply,
    anthropic_error,
    anthropic_reply,
    openai_error,
    openai_reply,
)

SECRET_QUESTION = "My card number is 4111 and my name is Jo Example, when do you open?"
REQUEST = LlmRequest(
    system="You are Eileen.",
    history=(ChatTurn("user", SECRET_QUESTION),),
    language="en",
)


@dataclass(frozen=True)
class Flavour:
    name: str
    backend: Callable[[str, float], LlmBackend]
    reply: Callable[..., Reply]
    error: Callable[[int], Reply]


FLAVOURS = [
    Flavour(
        "claude",
        lambda url, timeout_s: ClaudeBackend(
            api_key="sk-ant-test", model="claude-test", timeout_s=timeout_s, base_url=url
        ),
        anthropic_reply,
        anthropic_error,
    ),
    Flavour(
        "openai",
        lambda url, timeout_s: OpenAICompatBackend(
            base_url=f"{url}/v1", model="local-model", api_key="sk-local", timeout_s=timeout_s
        ),
        openai_reply,
        openai_error,
    ),
]


@pytest.fixture(params=FLAVOURS, ids=lambda flavour: flavour.name)
def flavour(request: pytest.FixtureRequest) -> Flavour:
    flavour: Flavour = request.param
    return flavour


async def collect(backend: LlmBackend, into: list[str] | None = None) -> list[str]:
    deltas = [] if into is None else into
    async for delta in backend.stream(REQUEST):
        deltas.append(delta)
    return deltas


async def test_a_question_heard_in_japanese_asks_for_a_japanese_reply(
    fake_server: FakeServer, flavour: Flavour
) -> None:
    faq = [
        FaqItem(index, question, (), answer, language, 0)
        for index, (language, (question, _, answer)) in enumerate(
            [*(("en", e) for e in DEMO_FAQ[:3]), *(("ja", e) for e in DEMO_FAQ_JA[:3])]
        )
    ]
    prompts = system_prompts("You are Eileen.", faq, ("en", "ja"))
    request = LlmRequest(
        system=system_for(prompts, "ja"),
        history=(ChatTurn("user", "営業時間は何時までですか？"),),
        language="ja",
    )
    fake_server.reply = flavour.reply(["午後6時までです。"])

    deltas = [d async for d in flavour.backend(fake_server.url, 5.0).stream(request)]

    assert "".join(deltas) == "午後6時までです。"
    [received] = fake_server.requests
    body = received.body
    system = body["system"] if "system" in body else body["messages"][0]["content"]
    if isinstance(system, list):  # Claude's system blocks
        system = "".join(block["text"] for block in system)
    assert 'Reply in the language with code "ja"' in system
    assert DEMO_FAQ_JA[0][2] in system and DEMO_FAQ[0][2] not in system
    assert "営業時間は何時までですか？" in str(body["messages"])


async def test_deltas_arrive_in_order_as_they_are_streamed(
    fake_server: FakeServer, flavour: Flavour
) -> None:
    texts = ["Hello", " there,", " we open", " at nine."]
    fake_server.reply = flavour.reply(texts, delay=[0.0, 0.3, 0.3, 0.3])
    backend = flavour.backend(fake_server.url, 5.0)
    received: list[str] = []
    sent_by_then: list[int] = []  # chunks the server had written when each delta arrived
    async for delta in backend.stream(REQUEST):
        received.append(delta)
        sent_by_then.append(fake_server.chunks_sent)
    assert received == texts
    # The first delta is handed on while the server is still writing the rest.
    assert sent_by_then[0] < fake_server.chunks_sent
    assert len(fake_server.requests) == 1


async def test_hang_before_first_byte_is_a_timeout_within_the_limit(
    fake_server: FakeServer, flavour: Flavour
) -> None:
    fake_server.reply = Reply(hang=True)
    backend = flavour.backend(fake_server.url, 0.5)
    started = time.monotonic()
    with pytest.raises(LlmError) as caught:
        await collect(backend)
    elapsed = time.monotonic() - started
    assert caught.value.kind is LlmErrorKind.TIMEOUT
    assert 0.45 <= elapsed < 1.0
    assert len(fake_server.requests) == 1, "a timed-out request is not retried"
    assert fake_server.wait_closed(2.0), "the client left the hung connection open"


async def test_stall_mid_stream_is_a_timeout_after_the_deltas_so_far(
    fake_server: FakeServer, flavour: Flavour
) -> None:
    fake_server.reply = flavour.reply(["We open", " at nine."], delay=[0.0, 3.0])
    backend = flavour.backend(fake_server.url, 0.5)
    got: list[str] = []
    started = time.monotonic()
    with pytest.raises(LlmError) as caught:
        await collect(backend, got)
    assert caught.value.kind is LlmErrorKind.TIMEOUT
    assert got == ["We open"]
    assert time.monotonic() - started < 1.5
    assert fake_server.wait_closed(2.0)


async def test_http_500_is_a_status_error_without_user_text(
    fake_server: FakeServer, flavour: Flavour
) -> None:
    fake_server.reply = flavour.error(500)
    backend = flavour.backend(fake_server.url, 2.0)
    with pytest.raises(LlmError) as caught:
        await collect(backend)
    assert caught.value.kind is LlmErrorKind.HTTP_STATUS
    assert caught.value.status == 500
    assert "500" in str(caught.value)
    for secret in ("4111", "Jo Example", "when do you open"):
        assert secret not in str(caught.value)
    assert len(fake_server.requests) == 1, "a failed request is not retried"


async def test_invalid_json_mid_stream_is_a_bad_stream_after_the_deltas_so_far(
    fake_server: FakeServer, flavour: Flavour
) -> None:
    fake_server.reply = flavour.reply(["We open", " at", " nine."], broken_at=1)
    backend = flavour.backend(fake_server.url, 2.0)
    got: list[str] = []
    with pytest.raises(LlmError) as caught:
        await collect(backend, got)
    assert caught.value.kind is LlmErrorKind.BAD_STREAM
    assert got == ["We open"]


async def test_stream_cut_before_its_end_marker_is_a_bad_stream(
    fake_server: FakeServer, flavour: Flavour
) -> None:
    fake_server.reply = flavour.reply(["We open", " at nine."], truncated=True)
    backend = flavour.backend(fake_server.url, 2.0)
    got: list[str] = []
    with pytest.raises(LlmError) as caught:
        await collect(backend, got)
    assert caught.value.kind is LlmErrorKind.BAD_STREAM
    assert got == ["We open", " at nine."]


async def test_cancelling_the_consumer_closes_the_connection_promptly(
    fake_server: FakeServer, flavour: Flavour
) -> None:
    texts = [f" word{i}" for i in range(40)]
    fake_server.reply = flavour.reply(texts, delay=0.05)
    backend = flavour.backend(fake_server.url, 5.0)
    got: list[str] = []
    third_delta = asyncio.Event()

    async def consume() -> None:
        async for delta in backend.stream(REQUEST):
            got.append(delta)
            if len(got) == 3:
                third_delta.set()

    consumer = asyncio.create_task(consume())
    await asyncio.wait_for(third_delta.wait(), 5.0)
    consumer.cancel()
    cancelled_at = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert await asyncio.to_thread(fake_server.wait_closed, 2.0), "the server never saw a close"
    assert fake_server.closed_at is not None
    assert fake_server.closed_at - cancelled_at < 0.3
    assert fake_server.chunks_sent < len(texts)
    assert got == texts[: len(got)]


async def test_closing_the_stream_early_closes_the_connection(
    fake_server: FakeServer, flavour: Flavour
) -> None:
    fake_server.reply = flavour.reply([f" word{i}" for i in range(40)], delay=0.05)
    backend = flavour.backend(fake_server.url, 5.0)
    deltas = backend.stream(REQUEST)
    assert await anext(deltas) == " word0"
    await deltas.aclose()  # type: ignore[attr-defined]
    assert await asyncio.to_thread(fake_server.wait_closed, 1.0)


async def test_unreachable_server_is_unavailable(flavour: Flavour) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = flavour.backend(f"http://127.0.0.1:{port}", 2.0)
    with pytest.raises(LlmError) as caught:
        await collect(backend)
    assert caught.value.kind is LlmErrorKind.UNAVAILABLE
