"""Property-based fuzzing over a real WebSocket against a real daphne, one connection reused.

Each case is one frame from tests/security/strategies.py followed by a `ping` carrying the case
number; everything the server sends up to that `pong` answers the case. The property: every
server message is valid protocol v1 (AvatarClient validates each), every refusal an `error` with a
documented code and never `internal`, the only fatal one an unsupported protocol version (closed
with 4000; the case then reconnects with a new token), and after the batch the same session
answers a typed question with its whole answer.

Counts: `EXAMPLES` derandomized cases per run (see test_fuzz_session.py for the total).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import pytest
import websockets
from hypothesis import HealthCheck, given, settings

from conversation.protocol import ErrorCode
from tests.conversation.conftest import demo_avatar  # noqa: F401  (a fixture)
from tests.conversation.ws_client import AvatarClient, Event, is_turn_end, of_type
from tests.security.strategies import SECRET, client_frame

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

EXAMPLES = 400
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
DOCUMENTED = {code.value for code in ErrorCode}


@dataclass
class Link:
    port: int
    client: AvatarClient | None = None
    cases: int = 0
    reconnects: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    async def connect(self) -> AvatarClient:
        self.client = await AvatarClient.connect(self.port)
        assert (await self.client.next_event(10)).type == "ready"
        return self.client


async def one_case(link: Link, frame: str | bytes) -> None:
    client = link.client or await link.connect()
    link.cases += 1
    nonce = f"case-{link.cases}"
    await client.send(frame)
    try:
        await client.send({"type": "ping", "nonce": nonce})
        events = await client.until(
            lambda e: e.type == "pong" and e.message.nonce == nonce, timeout=30
        )
    except websockets.ConnectionClosed as closed:
        fatal = [e for e in client.events[-5:] if e.type == "error" and e.message.fatal]
        assert fatal and fatal[-1].message.code == "invalid_field", "closed without a fatal error"
        assert closed.rcvd is not None and closed.rcvd.code == 4000
        link.client, link.reconnects = None, link.reconnects + 1
        return
    check(link, events)


def check(link: Link, events: list[Event]) -> None:
    for event in events:
        if event.raw is not None and event.type != "pong":
            assert SECRET not in json.dumps(event.raw)
        if event.type == "error":
            code = event.message.code
            assert code in DOCUMENTED and code != "internal", event.raw
            assert not event.message.fatal, event.raw
            link.errors[code] = link.errors.get(code, 0) + 1


def test_fuzzed_frames_over_a_real_socket_get_documented_answers(
    demo_avatar,  # noqa: F811
    start_daphne,
) -> None:
    daphne, port = start_daphne(LIPSYNC_TIMEOUT_S="0.3", TURNS_PER_MINUTE="1000")
    link = Link(port)
    with asyncio.Runner() as runner:

        @FUZZ
        @given(client_frame)
        def case(frame: str | bytes) -> None:
            runner.run(one_case(link, frame))

        case()

        async def still_answers() -> list[Event]:
            client = link.client or await link.connect()
            await client.send({"type": "text", "text": "When are you open?"})
            events = await client.until(
                lambda e: is_turn_end(e) and not e.message.interrupted, timeout=90
            )
            await client.close()
            return events

        events = runner.run(still_answers())

    assert link.cases == EXAMPLES
    assert link.errors.get("invalid_json") and link.errors.get("invalid_field")
    assert link.errors.get("audio_malformed") and link.errors.get("unknown_type")
    subtitles = of_type(events, "subtitle")
    assert subtitles and subtitles[0].text.startswith("Our customer service is open")
    assert "Traceback" not in daphne.output()
