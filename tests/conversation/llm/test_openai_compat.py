"""What the OpenAI-compatible adapter sends, and how it reads chat.completion.chunk events."""

from __future__ import annotations

import dataclasses

import pytest

from conversation.llm.base import ChatTurn, LlmError, LlmErrorKind, LlmRequest
from conversation.llm.openai_compat import OpenAICompatBackend, chunk_text, sse_data
from tests.conversation.llm.fake_servers import FakeServer, openai_reply

REQUEST = LlmRequest(
    system="You are Eileen.",
    history=(
        ChatTurn("user", "Hi"),
        ChatTurn("assistant", "Hello!"),
        ChatTurn("user", "Do you take PayPal?"),
    ),
    language="en",
    max_tokens=100,
)


async def test_request_carries_model_messages_stream_flag_and_key(
    fake_server: FakeServer,
) -> None:
    fake_server.reply = openai_reply(["Yes,", " we do."])
    backend = OpenAICompatBackend(
        base_url=f"{fake_server.url}/v1/", model="llama-3-8b", api_key="sk-local", timeout_s=2.0
    )
    assert [delta async for delta in backend.stream(REQUEST)] == ["Yes,", " we do."]

    [received] = fake_server.requests
    assert received.path == "/v1/chat/completions"
    assert received.headers["authorization"] == "Bearer sk-local"
    assert received.headers["accept"] == "text/event-stream"
    assert received.body == {
        "model": "llama-3-8b",
        "messages": [
            {"role": "system", "content": "You are Eileen."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Do you take PayPal?"},
        ],
        "max_tokens": 100,
        "stream": True,
    }


async def test_no_key_sends_no_authorization(fake_server: FakeServer) -> None:
    fake_server.reply = openai_reply(["Yes."])
    backend = OpenAICompatBackend(base_url=fake_server.url, model="m", timeout_s=2.0)
    assert [delta async for delta in backend.stream(REQUEST)] == ["Yes."]
    assert "authorization" not in fake_server.requests[0].headers


async def test_comments_and_usage_chunks_are_skipped(fake_server: FakeServer) -> None:
    reply = openai_reply(["Yes."])
    usage = b'data: {"id": "c", "object": "chat.completion.chunk", "choices": [], "usage": {}}\n\n'
    chunks = ((0.0, b": keep-alive\n\n"), *reply.chunks[:-1], (0.0, usage), reply.chunks[-1])
    fake_server.reply = dataclasses.replace(reply, chunks=chunks)
    backend = OpenAICompatBackend(base_url=fake_server.url, model="m", timeout_s=2.0)
    assert [delta async for delta in backend.stream(REQUEST)] == ["Yes."]


def test_sse_data_reads_only_data_lines() -> None:
    assert sse_data('data: {"a": 1}') == '{"a": 1}'
    assert sse_data("data:[DONE]") == "[DONE]"
    assert sse_data(": comment") is None
    assert sse_data("event: message") is None
    assert sse_data("") is None


@pytest.mark.parametrize(
    "data",
    [
        '{"choices": [{"delta": {"content": "x"}',
        "[1, 2]",
        '{"object": "chat.completion.chunk"}',
        '{"choices": [{"index": 0}]}',
        '{"choices": [{"delta": {"content": 5}}]}',
        '{"error": {"message": "model crashed"}}',
    ],
)
def test_malformed_chunks_are_bad_stream(data: str) -> None:
    with pytest.raises(LlmError) as caught:
        chunk_text(data)
    assert caught.value.kind is LlmErrorKind.BAD_STREAM


def test_role_and_finish_chunks_carry_no_text() -> None:
    assert chunk_text('{"choices": [{"delta": {"role": "assistant"}}]}') == ""
    assert chunk_text('{"choices": [{"delta": {}, "finish_reason": "stop"}]}') == ""
    assert chunk_text('{"choices": [{"delta": {"content": "Hi"}}]}') == "Hi"
