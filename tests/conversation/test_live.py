"""The conversation engine end to end: daphne, a real lipsync worker, Redis, a real WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re

import pytest

from avatars.models import TurnRecord
from contracts.messages import cancel_key
from conversation.protocol import MediaKind
from tests.conversation.ws_client import AvatarClient, db_call, is_turn_end, media, of_type
from tests.processes import wait_until

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

HOURS = "When are you open?"
HOURS_ANSWER_START = "Our customer service is open"


def run(coro):  # the test body is sync so Django's DB fixtures stay on this thread
    return asyncio.run(coro)


def test_typed_question_streams_subtitles_and_lips_in_order(
    demo_avatar, start_worker, start_daphne
) -> None:
    worker = start_worker("lipsync")
    _, port = start_daphne(LIPSYNC_TIMEOUT_S="20")

    async def scenario():
        client = await AvatarClient.connect(port)
        ready = await client.next_event(10)
        assert ready.type == "ready" and ready.message.avatar.slug == "demo"
        await client.send({"type": "text", "text": HOURS})
        events = await client.until(is_turn_end, 90)
        after = await client.quiet_for(1.0)
        await client.close()
        return events, after

    events, after = run(scenario())
    states = of_type(events, "state")
    turn_id = states[0].turn_id
    assert [s.state for s in states] == ["thinking", "speaking"]
    subtitles = of_type(events, "subtitle")
    assert subtitles and subtitles[0].text.startswith("Our customer service is open")
    assert {s.turn_id for s in subtitles} == {turn_id}
    chunks = media(events)
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert {c.turn_id for c in chunks} == {turn_id}
    assert chunks[-1].kind is MediaKind.END
    assert all(c.kind is MediaKind.CHUNK for c in chunks[:-1])  # audio and its frames together
    for c in chunks[:-1]:
        assert len(c.frames) == -(-len(c.audio) // 2 // 640)
    # Piper, the demo's voice, says when each phoneme is spoken: every chunk's render request
    # carries the phonemes, and the worker shapes the mouth by them.
    rendered = re.findall(
        rf"rendering turn {turn_id} chunk (\d+): \d+ frames, (\d+) phonemes", worker.output()
    )
    assert sorted(int(seq) for seq, _ in rendered) == [c.seq for c in chunks[:-1]]
    assert all(int(count) > 0 for _, count in rendered), rendered
    first_media = next(i for i, e in enumerate(events) if e.type.startswith("media"))
    assert events[first_media - 1].type in ("subtitle", "state")
    turn_end = of_type(events, "turn_end")[0]
    assert turn_end.turn_id == turn_id and turn_end.ttfw_ms > 0 and not turn_end.interrupted
    assert [e.message.state for e in after if e.type == "state"] == ["idle"]

    wait_until(lambda: TurnRecord.objects.filter(turn_id=turn_id).exists(), 10, "turn record")
    record = TurnRecord.objects.get(turn_id=turn_id)
    assert [t[0] for t in record.transitions] == ["thinking", "speaking", "idle"]
    assert record.ttfw_ms == pytest.approx(turn_end.ttfw_ms)
    assert "lipsync_first_frames_ms" in record.stage_ms
    import urllib.request

    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    assert "avatar_ttfw_ms_count 1.0" in metrics
    assert 'avatar_canned_clip_lookups_total{result="miss"} 1.0' in metrics


def test_barge_in_stops_every_stage(demo_avatar, start_worker, start_daphne, redis_client) -> None:
    from avatarsite.celery import app

    worker = start_worker("lipsync")
    _, port = start_daphne(LIPSYNC_TIMEOUT_S="30")
    long_question = "How can I return an item?"

    async def scenario():
        client = await AvatarClient.connect(port)
        await client.next_event(10)
        await client.send({"type": "text", "text": long_question})
        await client.until(lambda e: e.type == "media:chunk", 60)
        # Hold the rest of the answer's chunks in the queue, so the interrupt has some to revoke.
        app.control.cancel_consumer("lipsync", reply=True, timeout=5)
        await asyncio.sleep(0.5)
        await client.send({"type": "interrupt"})
        until_interrupted = await client.until(lambda e: e.type == "interrupted", 10)
        app.control.add_consumer("lipsync", reply=True, timeout=5)
        after = await client.quiet_for(3.0)
        await client.send({"type": "text", "text": HOURS})
        next_turn = await client.until(is_turn_end, 90)
        await client.close()
        return until_interrupted, after, next_turn

    until_interrupted, after, next_turn = run(scenario())
    interrupted = until_interrupted[-1].message
    old = interrupted.turn_id
    assert interrupted.reason == "client"
    assert not [c for c in media(after) if c.turn_id == old]  # nothing of the old turn after it
    assert [e.message.state for e in after if e.type == "state"] == ["idle"]
    assert redis_client.exists(cancel_key(str(old)))

    def revoked_not_rendered() -> bool:
        log = worker.output()
        return "Discarding revoked task" in log or "skipped: cancelled or revoked" in log

    wait_until(revoked_not_rendered, 15, "queued tasks of the old turn dropped unrendered")
    assert f"rendering turn {old}" in worker.output()  # the first chunk did render

    new_turn = of_type(next_turn, "turn_end")[0]
    assert new_turn.turn_id != old and not new_turn.interrupted
    assert any(c.kind is MediaKind.CHUNK for c in media(next_turn))
    wait_until(lambda: TurnRecord.objects.filter(turn_id=old).exists(), 10, "turn record")
    record = TurnRecord.objects.get(turn_id=old)
    assert record.interrupted and record.barge_in_ms is not None
    assert [t[0] for t in record.transitions][-1] == "interrupted"


def test_protocol_errors_leave_the_session_working(demo_avatar, start_worker, start_daphne) -> None:
    start_worker("lipsync")
    _, port = start_daphne()

    async def scenario():
        client = await AvatarClient.connect(port)
        await client.next_event(10)
        answers = []
        for bad in [
            "{not json",
            json.dumps({"type": "dance"}),
            json.dumps({"type": "text", "text": 5}),
            json.dumps({"type": "text", "text": "x" * 20_000}),
            b"\x01\x02\x03",
        ]:
            await client.send(bad)
            answers.append((await client.next_event(10)).message)
        await client.send({"type": "text", "text": HOURS})
        events = await client.until(is_turn_end, 90)
        await client.close()
        return answers, events

    answers, events = run(scenario())
    assert [a.type for a in answers] == ["error"] * 5
    assert [a.code for a in answers] == [
        "invalid_json",
        "unknown_type",
        "invalid_field",
        "too_large",
        "audio_malformed",
    ]
    assert all(not a.fatal for a in answers)
    assert of_type(events, "turn_end")


def test_typed_text_reaches_no_log_and_no_turn_record(
    demo_avatar, start_worker, start_daphne
) -> None:
    worker = start_worker("lipsync")
    web, port = start_daphne(LOG_LEVEL="DEBUG")
    secret = "zebracornia"

    async def scenario():
        client = await AvatarClient.connect(port)
        await client.next_event(10)
        for question in [f"When are you open, {secret}?", f"Tell me about {secret} please"]:
            await client.send({"type": "text", "text": question})
            await client.until(is_turn_end, 90)
        await client.close()

    run(scenario())
    wait_until(lambda: TurnRecord.objects.count() == 2, 10, "two turn records")
    for record in TurnRecord.objects.all():
        row = json.dumps({f.name: str(getattr(record, f.name)) for f in TurnRecord._meta.fields})
        assert secret not in row
    assert '"event":"turn"' in web.output()
    assert secret not in web.output() and secret not in worker.output()


def test_sessions_are_refused_with_a_clear_close_code(demo_avatar, start_daphne) -> None:
    from avatars import services
    from avatars.models import Avatar
    from avatarsite.http import access

    Avatar.objects.create(slug="nocons", name="No consent", status=Avatar.Status.READY)
    _, port = start_daphne()
    consent = demo_avatar.consents.get()

    async def refused(slug: str) -> tuple[str, int | None]:
        origin = f"http://127.0.0.1:{port}"
        token = access.token_issue(avatar_slug=slug, origin=origin)  # the endpoint would refuse
        client = await AvatarClient.connect(port, slug, origin=origin, token=token)
        error = await client.next_event(10)
        with contextlib.suppress(Exception):
            await client.next_event(10)
        return error.message.code, client.socket.close_code

    async def revoked_mid_session() -> tuple[list, int | None]:
        client = await AvatarClient.connect(port)
        await client.next_event(10)
        await db_call(
            services.consent_revoke, consent=consent, revoked_by="test", reason="asked to stop"
        )
        events = await client.quiet_for(3)
        return events, client.socket.close_code

    assert asyncio.run(refused("nobody")) == ("not_ready", 4004)
    assert asyncio.run(refused("nocons")) == ("not_ready", 4009)
    events, code = asyncio.run(revoked_mid_session())
    assert code == 4011 and events[-1].message.fatal
