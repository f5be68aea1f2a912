"""The limits on a real daphne, each set small through its environment variable.

Message size: WS_MAX_FRAME_BYTES reaches daphne's command line (tests/processes.py, as in
avatarsite/stack.py and docker-compose.yml), and autobahn refuses a frame whose header announces
more before reading its body: it drops the connection (autobahn fails it "by drop", so the client
sees no close frame: 1006), instead of waiting for the body. Under it, a control message over 16 KiB gets `too_large`
and the session goes on. Turns per minute and idle time reach the session from the settings.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct

import pytest
import websockets

from tests.conversation.conftest import demo_avatar  # noqa: F401  (a fixture)
from tests.conversation.ws_client import AvatarClient, is_turn_end, of_type

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

FRAME_LIMIT = 32 * 1024


def masked_frame_header(opcode: int, length: int) -> bytes:
    """A client frame header (FIN, masked) announcing `length` bytes, and its mask key."""
    return struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length) + os.urandom(4)


async def pong_after(client: AvatarClient, nonce: str) -> list:
    await client.send({"type": "ping", "nonce": nonce})
    return await client.until(lambda e: e.type == "pong" and e.message.nonce == nonce, 10)


def test_oversized_messages_are_refused_and_huge_frames_are_never_read(
    demo_avatar,  # noqa: F811
    start_daphne,
) -> None:
    daphne, port = start_daphne(WS_MAX_FRAME_BYTES=str(FRAME_LIMIT))

    async def scenario() -> None:
        client = await AvatarClient.connect(port)
        assert (await client.next_event(10)).type == "ready"
        # Over our 16 KiB, under the server's frame limit: a typed error, the session goes on.
        await client.send(json.dumps({"type": "text", "text": "x" * 20_000}))
        events = await pong_after(client, "after-20k")
        [error] = of_type(events, "error")
        assert error.code == "too_large" and not error.fatal

        # A frame announcing 1 GB, then a few bytes: dropped at once, not after a gigabyte
        # (a server that waited for the body would let `until` time out instead).
        client.socket.transport.write(masked_frame_header(0x2, 1 << 30) + b"\0" * 64)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await client.until(lambda e: False, timeout=10)
        assert closed.value.rcvd is None  # dropped, no close frame

        # Just over the configured limit, sent whole: refused the same way.
        client = await AvatarClient.connect(port)
        assert (await client.next_event(10)).type == "ready"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await client.send(b"\0" * (FRAME_LIMIT + 2))
            await client.until(lambda e: False, timeout=10)
        assert closed.value.rcvd is None
        # ... while a binary frame just under it is read, and refused by our own rule.
        client = await AvatarClient.connect(port)
        assert (await client.next_event(10)).type == "ready"
        await client.send(b"\0" * (FRAME_LIMIT - 2))
        [error] = of_type(await pong_after(client, "under"), "error")
        assert error.code == "audio_malformed"
        await client.close()

        # The server is fine: a new session still opens and answers.
        client = await AvatarClient.connect(port)
        assert (await client.next_event(10)).type == "ready"
        await pong_after(client, "still-here")
        await client.close()

    asyncio.run(scenario())
    assert "Traceback" not in daphne.output()


def test_turns_per_minute_and_idle_time_come_from_the_environment(
    demo_avatar,  # noqa: F811
    start_daphne,
) -> None:
    daphne, port = start_daphne(
        TURNS_PER_MINUTE="2", SESSION_IDLE_TIMEOUT_S="1.5", LIPSYNC_TIMEOUT_S="0.3"
    )

    async def scenario() -> None:
        client = await AvatarClient.connect(port)
        assert (await client.next_event(10)).type == "ready"
        for question in ("Hello?", "When are you open?", "And on Sunday?"):
            await client.send({"type": "text", "text": question})
        events = await client.until(lambda e: is_turn_end(e) and not e.message.interrupted, 90)
        [error] = of_type(events, "error")
        assert error.code == "rate_limited" and not error.fatal
        assert len([s for s in of_type(events, "state") if s.state == "thinking"]) == 2
        assert of_type(events, "subtitle")[-1].text  # the second question was answered

        # Now nothing more from the client: the server closes the session as idle.
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await client.until(lambda e: False, timeout=20)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
        assert [s.state for s in of_type(client.events, "state")][-1] == "idle"

        # A client that keeps talking is not idle.
        client = await AvatarClient.connect(port)
        assert (await client.next_event(10)).type == "ready"
        for n in range(6):  # 3 s, twice the idle time, one ping every 0.5 s
            await asyncio.sleep(0.5)
            await pong_after(client, str(n))
        await client.close()

    asyncio.run(scenario())
    assert "Traceback" not in daphne.output()
