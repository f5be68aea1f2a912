"""A webhook receiver on this machine, as a customer's helpdesk would run one: it checks each
delivery's signature and answers with the status codes a test scripts."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from handoff.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_valid


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    signed: bool

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str
    answers: list[int] = field(default_factory=list)  # then 200 for every further delivery
    delay_s: float = 0.0
    deliveries: list[Delivery] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/handoff"

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                signed = signature_valid(
                    receiver.secret,
                    self.headers.get(TIMESTAMP_HEADER, ""),
                    body,
                    self.headers.get(SIGNATURE_HEADER, ""),
                )
                receiver.deliveries.append(Delivery(dict(self.headers), body, signed))
                time.sleep(receiver.delay_s)
                status = (
                    401 if not signed else (receiver.answers.pop(0) if receiver.answers else 200)
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
