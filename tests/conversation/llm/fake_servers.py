"""Real HTTP servers on 127.0.0.1 that speak the Anthropic and OpenAI streaming wire formats.

Each reply is scripted: status, headers, and body chunks with a delay before each, or a hang
before the first byte. The server records every request and notices when the client drops
the connection before the reply is complete.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunks: tuple[tuple[float, bytes], ...] = ()  # (delay before it, bytes)
    hang: bool = False  # send nothing at all until the client gives up


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any


class FakeServer:
    """Serves `reply` to every request from a daemon thread until `stop()`."""

    def __init__(self) -> None:
        self.reply = Reply()
        self.requests: list[Received] = []
        self.client_closed = threading.Event()  # a client left before its reply was complete
        self.closed_at: float | None = None
        self.chunks_sent = 0
        self._stopping = threading.Event()
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def wait_closed(self, timeout: float) -> bool:
        return self.client_closed.wait(timeout)

    def _note_closed(self) -> None:
        if self.closed_at is None:
            self.closed_at = time.monotonic()
        self.client_closed.set()


def _handler_for(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            fake.requests.append(
                Received(
                    method="POST",
                    path=self.path,
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=json.loads(raw) if raw else None,
                )
            )
            reply = fake.reply
            if reply.hang:
                while not self._peer_gone(0.05):
                    if fake._stopping.is_set():
                        return
                fake._note_closed()
                self.close_connection = True
                return
            self._send(reply)

        def _send(self, reply: Reply) -> None:
            streamed = reply.headers.get("Content-Type", "").startswith("text/event-stream")
            body = b"".join(chunk for _, chunk in reply.chunks)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if streamed:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                self.wfile.flush()
                if not streamed:
                    self.wfile.write(body)
                    return
                for delay, chunk in reply.chunks:
                    if self._peer_gone(delay):
                        fake._note_closed()
                        return
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                    fake.chunks_sent += 1
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                fake._note_closed()

        def _peer_gone(self, wait_s: float) -> bool:
            """Wait up to `wait_s`; True as soon as the client has closed its end."""
            deadline = time.monotonic() + wait_s
            while True:
                left = deadline - time.monotonic()
                readable, _, _ = select.select([self.connection], [], [], max(left, 0))
                if readable:
                    try:
                        peeked = self.connection.recv(1, socket.MSG_PEEK)
                    except (ConnectionResetError, OSError):
                        return True
                    if peeked == b"":
                        return True
                    time.sleep(min(0.01, max(left, 0)))  # unexpected bytes: just wait
                if left <= 0:
                    return False

    return Handler


def _per_text(delay: float | Sequence[float], count: int) -> list[float]:
    if isinstance(delay, int | float):
        return [float(delay)] * count
    assert len(delay) == count, "one delay per text"
    return list(delay)


def _sse(event: str | None, data: str) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def anthropic_reply(
    texts: list[str],
    *,
    delay: float | Sequence[float] = 0.0,
    broken_at: int | None = None,
    truncated: bool = False,
    model: str = "claude-test",
) -> Reply:
    """A Messages API stream of `texts` as text_delta events; `broken_at` makes one invalid."""

    def event(name: str, payload: dict[str, Any]) -> bytes:
        return _sse(name, json.dumps({"type": name, **payload}))

    start: dict[str, Any] = {
        "id": "msg_fake01",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": model,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 25, "output_tokens": 1},
    }
    block = {"index": 0, "content_block": {"type": "text", "text": ""}}
    chunks: list[tuple[float, bytes]] = [
        (0.0, event("message_start", {"message": start})),
        (0.0, event("content_block_start", block)),
        (0.0, event("ping", {})),
    ]
    broken = b'event: content_block_delta\ndata: {"type": "content_bl\n\n'
    for index, (text, wait) in enumerate(zip(texts, _per_text(delay, len(texts)), strict=True)):
        delta = {"index": 0, "delta": {"type": "text_delta", "text": text}}
        chunks.append((wait, broken if index == broken_at else event("content_block_delta", delta)))
    stop = {
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 15},
    }
    if not truncated:
        chunks += [
            (0.0, event("content_block_stop", {"index": 0})),
            (0.0, event("message_delta", stop)),
            (0.0, event("message_stop", {})),
        ]
    headers = {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache",
        "request-id": "req_fake01",
        "anthropic-organization-id": "org-fake",
    }
    return Reply(headers=headers, chunks=tuple(chunks))


def anthropic_error(status: int = 500, kind: str = "api_error") -> Reply:
    body = json.dumps(
        {"type": "error", "error": {"type": kind, "message": "Internal server error"}}
    ).encode()
    headers = {"Content-Type": "application/json", "request-id": "req_fake02"}
    return Reply(status=status, headers=headers, chunks=((0.0, body),))


def openai_reply(
    texts: list[str],
    *,
    delay: float | Sequence[float] = 0.0,
    broken_at: int | None = None,
    truncated: bool = False,
    model: str = "local-model",
) -> Reply:
    """A chat-completions stream of `texts` as chat.completion.chunk events, then [DONE]."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        payload = {
            "id": "chatcmpl-fake01",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        return _sse(None, json.dumps(payload))

    chunks: list[tuple[float, bytes]] = [(0.0, chunk({"role": "assistant", "content": ""}))]
    broken = b'data: {"id": "chatcmpl-fake01", "choices": [{\n\n'
    for index, (text, wait) in enumerate(zip(texts, _per_text(delay, len(texts)), strict=True)):
        chunks.append((wait, broken if index == broken_at else chunk({"content": text})))
    if not truncated:
        chunks += [(0.0, chunk({}, "stop")), (0.0, b"data: [DONE]\n\n")]
    headers = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    return Reply(headers=headers, chunks=tuple(chunks))


def openai_error(status: int = 500) -> Reply:
    error = {"message": "The server had an error", "type": "server_error", "param": None}
    body = json.dumps({"error": {**error, "code": None}}).encode()
    return Reply(status=status, headers={"Content-Type": "application/json"}, chunks=((0.0, body),))
