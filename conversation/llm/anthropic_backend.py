"""Claude through the official `anthropic` SDK: Messages API streaming, errors mapped to LlmError."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import cast

import anthropic
import httpx
from anthropic.types import MessageParam

from conversation.llm.base import ChatTurn, LlmError, LlmErrorKind, LlmRequest, deltas_within

try:  # anthropic 2.x speaks httpx2; older releases speak httpx
    import httpx2

    _TIMEOUTS: tuple[type[Exception], ...] = (httpx.TimeoutException, httpx2.TimeoutException)
    _TRANSPORT: tuple[type[Exception], ...] = (httpx.TransportError, httpx2.TransportError)
except ImportError:  # pragma: no cover - depends on the installed SDK
    _TIMEOUTS = (httpx.TimeoutException,)
    _TRANSPORT = (httpx.TransportError,)

# What a malformed or unexpected stream raises inside the SDK's decoder and accumulator.
_MALFORMED = (ValueError, KeyError, TypeError, AttributeError, IndexError, RuntimeError)


class ClaudeBackend:
    """Streams a reply from Claude. One client (and connection pool) per backend.

    `timeout_s` bounds the wait for each text delta, the first included; the SDK does not
    retry, since a retried request would arrive after the turn's fallback has played.
    """

    name = "claude"

    def __init__(
        self,
        api_key: str,
        model: str,
        max_tokens: int = 300,
        timeout_s: float = 10.0,
        base_url: str | None = None,
    ) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0
        )

    def stream(self, request: LlmRequest) -> AsyncIterator[str]:
        return deltas_within(self._deltas(request), self.timeout_s)

    async def aclose(self) -> None:
        await self._client.close()

    async def _deltas(self, request: LlmRequest) -> AsyncGenerator[str, None]:
        finished = False
        try:
            async with self._client.messages.stream(
                model=self.model,
                max_tokens=min(request.max_tokens, self.max_tokens),
                system=request.system,
                messages=anthropic_messages(request.history),
            ) as events:
                async for event in events:
                    if event.type == "content_block_delta" and event.delta.type == "text_delta":
                        if event.delta.text:
                            yield event.delta.text
                    elif event.type == "message_stop":
                        finished = True
        except anthropic.APITimeoutError:
            raise LlmError(LlmErrorKind.TIMEOUT, "Claude did not answer in time") from None
        except anthropic.APIStatusError as exc:
            raise LlmError(
                LlmErrorKind.HTTP_STATUS,
                f"Claude answered HTTP {exc.status_code} ({_error_type(exc.body)})",
                status=exc.status_code,
            ) from None
        except anthropic.APIConnectionError:
            raise LlmError(LlmErrorKind.UNAVAILABLE, "Claude could not be reached") from None
        except _TIMEOUTS:
            raise LlmError(LlmErrorKind.TIMEOUT, "Claude's stream stalled") from None
        except _TRANSPORT as exc:
            raise LlmError(
                LlmErrorKind.UNAVAILABLE, f"Claude's stream broke ({type(exc).__name__})"
            ) from None
        except (anthropic.AnthropicError, *_MALFORMED) as exc:
            raise LlmError(
                LlmErrorKind.BAD_STREAM, f"malformed Claude stream ({type(exc).__name__})"
            ) from None
        if not finished:
            raise LlmError(LlmErrorKind.BAD_STREAM, "Claude's stream ended before message_stop")


def anthropic_messages(history: tuple[ChatTurn, ...]) -> list[MessageParam]:
    """The history as Messages API turns: starting with the user, roles alternating, no blanks."""
    merged: list[ChatTurn] = []
    for turn in history:
        text = turn.text.strip()
        if not text or (not merged and turn.role != "user"):
            continue
        if merged and merged[-1].role == turn.role:
            merged[-1] = ChatTurn(turn.role, f"{merged[-1].text}\n{text}")
        else:
            merged.append(ChatTurn(turn.role, text))
    # One dict shape for both roles; the SDK's per-role TypedDicts differ only in `role`.
    return cast("list[MessageParam]", [{"role": t.role, "content": t.text} for t in merged])


def _error_type(body: object) -> str:
    """The error's type from an Anthropic error body; its message may quote the request."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("type"), str):
            return str(error["type"])
    return "no error type"
