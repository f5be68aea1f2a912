"""Any OpenAI-compatible server (vLLM, llama.cpp, Ollama, ...): chat-completions streaming over httpx."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx

from conversation.llm.base import LlmError, LlmErrorKind, LlmRequest, deltas_within


class OpenAICompatBackend:
    """Streams `POST {base_url}/chat/completions` with `stream: true` and reads its SSE lines.

    `timeout_s` bounds the wait for each text delta, the first included.
    """

    name = "openai_compat"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        max_tokens: int = 300,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        headers = {"Accept": "text/event-stream"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(timeout_s))

    def stream(self, request: LlmRequest) -> AsyncIterator[str]:
        return deltas_within(self._deltas(request), self.timeout_s)

    async def aclose(self) -> None:
        await self._client.aclose()

    def payload(self, request: LlmRequest) -> dict[str, Any]:
        messages = [{"role": "system", "content": request.system}] if request.system else []
        messages += [{"role": turn.role, "content": turn.text} for turn in request.history]
        return {
            "model": self.model,
            "messages": messages,
            "max_tokens": min(request.max_tokens, self.max_tokens),
            "stream": True,
        }

    async def _deltas(self, request: LlmRequest) -> AsyncGenerator[str, None]:
        try:
            async with self._client.stream(
                "POST", self.url, json=self.payload(request)
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise LlmError(
                        LlmErrorKind.HTTP_STATUS,
                        f"{self.name} answered HTTP {response.status_code}",
                        status=response.status_code,
                    )
                done = False
                async for line in response.aiter_lines():
                    data = sse_data(line)
                    if data is None:
                        continue
                    if data == "[DONE]":
                        done = True
                        break
                    text = chunk_text(data)
                    if text:
                        yield text
                if not done:
                    raise LlmError(
                        LlmErrorKind.BAD_STREAM, f"{self.name} stream ended before [DONE]"
                    )
        except httpx.TimeoutException:
            raise LlmError(LlmErrorKind.TIMEOUT, f"{self.name} did not answer in time") from None
        except httpx.TransportError as exc:
            raise LlmError(
                LlmErrorKind.UNAVAILABLE, f"{self.name} could not be reached ({type(exc).__name__})"
            ) from None


def sse_data(line: str) -> str | None:
    """The payload of a `data:` line; None for comments, other fields and blank lines."""
    if not line.startswith("data:"):
        return None
    return line[5:].strip()


def chunk_text(data: str) -> str:
    """The text delta of one `chat.completion.chunk`, or a bad_stream error."""
    try:
        chunk = json.loads(data)
    except ValueError:
        raise LlmError(LlmErrorKind.BAD_STREAM, "invalid JSON in the stream") from None
    if not isinstance(chunk, dict):
        raise LlmError(LlmErrorKind.BAD_STREAM, "a stream event that is not an object")
    if "error" in chunk:
        # Servers like vLLM report a failure mid-stream as an event with an error object.
        raise LlmError(LlmErrorKind.BAD_STREAM, "the server reported an error mid-stream")
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        raise LlmError(LlmErrorKind.BAD_STREAM, "a stream event without choices")
    if not choices:  # usage-only chunks at the end
        return ""
    first = choices[0]
    delta = first.get("delta") if isinstance(first, dict) else None
    if not isinstance(delta, dict):
        raise LlmError(LlmErrorKind.BAD_STREAM, "a choice without a delta")
    content = delta.get("content")
    if content is None:
        return ""
    if not isinstance(content, str):
        raise LlmError(LlmErrorKind.BAD_STREAM, "a delta whose content is not text")
    return content
