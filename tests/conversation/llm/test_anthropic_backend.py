"""What the Claude adapter sends, and the Anthropic-specific parts of its stream handling."""

from __future__ import annotations

import dataclasses
import json

import pytest

from conversation.llm.anthropic_backend import ClaudeBackend, anthropic_messages
from conversation.llm.base import ChatTurn, LlmError, LlmErrorKind, LlmRequest
from tests.conversation.llm.fake_servers import FakeServer, anthropic_error, anthropic_reply


def backend_for(server: FakeServer, **overrides: object) -> ClaudeBackend:
    options: dict[str, object] = {
        "api_key": "sk-ant-test-key",
        "model": "claude-test",
        "max_tokens": 250,
        "timeout_s": 2.0,
        "base_url": server.url,
    }
    options.update(overrides)
    return ClaudeBackend(**options)  # type: ignore[arg-type]


async def test_request_carries_model_system_history_stream_flag_and_key(
    fake_server: FakeServer,
) -> None:
    fake_server.reply = anthropic_reply(["Nine", " to six."])
    request = LlmRequest(
        system="You are Eileen. Speak briefly.",
        history=(
            ChatTurn("user", "Hi"),
            ChatTurn("assistant", "Hello! How can I help?"),
            ChatTurn("user", "When do you open?"),
        ),
        language="en",
        max_tokens=120,
    )
    backend = backend_for(fake_server)
    assert [delta async for delta in backend.stream(request)] == ["Nine", " to six."]

    [received] = fake_server.requests
    assert received.method == "POST"
    assert received.path == "/v1/messages"
    # Older SDKs send the key as x-api-key, anthropic 2.x as a bearer token.
    assert "sk-ant-test-key" in (
        received.headers.get("x-api-key"),
        received.headers.get("authorization", "").removeprefix("Bearer "),
    )
    assert received.headers["anthropic-version"]
    assert received.headers["content-type"].startswith("application/json")
    assert received.body["model"] == "claude-test"
    assert received.body["stream"] is True
    assert received.body["max_tokens"] == 120  # the request's cap, under the backend's 250
    assert received.body["system"] == "You are Eileen. Speak briefly."
    assert received.body["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "When do you open?"},
    ]


async def test_backend_max_tokens_caps_the_request(fake_server: FakeServer) -> None:
    fake_server.reply = anthropic_reply(["Ok."])
    request = LlmRequest(system="s", history=(ChatTurn("user", "Hi"),), language="en")
    backend = backend_for(fake_server, max_tokens=64)
    assert [delta async for delta in backend.stream(request)] == ["Ok."]
    assert fake_server.requests[0].body["max_tokens"] == 64


def test_history_starts_with_the_user_alternates_and_drops_blanks() -> None:
    history = (
        ChatTurn("assistant", "Welcome to Northwind!"),
        ChatTurn("user", "Hello"),
        ChatTurn("user", "  are you there?  "),
        ChatTurn("assistant", ""),
        ChatTurn("assistant", "Yes."),
        ChatTurn("user", "Great"),
    )
    assert anthropic_messages(history) == [
        {"role": "user", "content": "Hello\nare you there?"},
        {"role": "assistant", "content": "Yes."},
        {"role": "user", "content": "Great"},
    ]


async def test_error_event_mid_stream_is_a_status_error(fake_server: FakeServer) -> None:
    reply = anthropic_reply(["We open"])
    overloaded = json.dumps(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    chunks = (*reply.chunks[:4], (0.0, f"event: error\ndata: {overloaded}\n\n".encode()))
    fake_server.reply = dataclasses.replace(reply, chunks=chunks)
    got: list[str] = []
    with pytest.raises(LlmError) as caught:
        async for delta in backend_for(fake_server).stream(
            LlmRequest(system="s", history=(ChatTurn("user", "Hi"),), language="en")
        ):
            got.append(delta)
    assert got == ["We open"]
    assert caught.value.kind is LlmErrorKind.HTTP_STATUS
    assert "overloaded_error" in str(caught.value)


async def test_rate_limit_names_status_and_error_type(fake_server: FakeServer) -> None:
    fake_server.reply = anthropic_error(429, "rate_limit_error")
    with pytest.raises(LlmError) as caught:
        async for _ in backend_for(fake_server).stream(
            LlmRequest(system="s", history=(ChatTurn("user", "Hi"),), language="en")
        ):
            pass
    assert caught.value.kind is LlmErrorKind.HTTP_STATUS
    assert caught.value.status == 429
    assert "rate_limit_error" in str(caught.value)
    assert len(fake_server.requests) == 1
