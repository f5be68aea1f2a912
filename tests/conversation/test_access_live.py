"""Who may open a session: origins, signed session tokens, seats per origin, consent expiry."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import timedelta
from urllib.error import HTTPError

import pytest
from django.core import signing
from django.test import override_settings
from django.utils import timezone

from avatarsite.http import access
from tests.conversation.ws_client import AvatarClient, db_call, session_token

ALLOWED = "http://shop.example"
REFUSED = "http://elsewhere.example"


@pytest.mark.parametrize(
    ("origin", "normal"),
    [
        ("HTTPS://Shop.Example:443", "https://shop.example"),
        ("http://shop.example:80", "http://shop.example"),
        ("http://shop.example:8080/", "http://shop.example:8080"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("null", None),
        ("file:///tmp/page.html", None),
        ("http://shop.example:99999", None),
    ],
)
def test_origins_are_compared_in_normal_form(origin: str, normal: str | None) -> None:
    assert access.normalize_origin(origin) == normal


@pytest.mark.django_db  # the admin's widget origins are read too
@override_settings(WIDGET_ORIGINS=[ALLOWED])
def test_a_page_may_use_the_widget_on_its_own_server_and_on_allowed_origins_only() -> None:
    assert access.origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert access.origin_allowed(ALLOWED, "avatar.example")
    assert access.origin_allowed(ALLOWED + ":80", "avatar.example")
    assert not access.origin_allowed(REFUSED, "avatar.example")
    assert not access.origin_allowed("http://127.0.0.1:9000", "127.0.0.1:8000")  # another port
    assert not access.origin_allowed("null", "avatar.example")  # sandboxed frames, file pages
    assert access.origin_allowed(None, "avatar.example")  # not a browser: the token decides
    with override_settings(WIDGET_ORIGINS=["*"]):
        assert access.origin_allowed(REFUSED, "avatar.example")


def test_a_token_holds_only_for_its_avatar_its_origin_and_its_lifetime() -> None:
    token = access.token_issue(avatar_slug="demo", origin=ALLOWED)
    access.token_check(token, avatar_slug="demo", origin=ALLOWED + ":80")
    refusals = {
        "another avatar": lambda: access.token_check(token, avatar_slug="other", origin=ALLOWED),
        "another origin": lambda: access.token_check(token, avatar_slug="demo", origin=REFUSED),
        "no origin": lambda: access.token_check(token, avatar_slug="demo", origin=None),
        "missing": lambda: access.token_check(None, avatar_slug="demo", origin=ALLOWED),
        "tampered": lambda: access.token_check(
            token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
            avatar_slug="demo",
            origin=ALLOWED,
        ),
        "forged": lambda: access.token_check(
            signing.dumps({"a": "demo", "o": ALLOWED}, salt="another-salt"),
            avatar_slug="demo",
            origin=ALLOWED,
        ),
    }
    for what, check in refusals.items():
        with pytest.raises(access.AccessRefused):
            check()
            pytest.fail(f"a token was accepted for {what}")
    with (
        override_settings(SESSION_TOKEN_TTL_S=-1),
        pytest.raises(access.AccessRefused, match="expired"),
    ):
        access.token_check(token, avatar_slug="demo", origin=ALLOWED)


@pytest.mark.django_db
@override_settings(WIDGET_ORIGINS=[ALLOWED], SESSIONS_PER_ORIGIN=1)
def test_the_token_endpoint_answers_allowed_pages_and_refuses_the_rest(
    client, demo_avatar, redis_client
) -> None:
    from avatars.models import Avatar

    Avatar.objects.create(slug="draft", name="Draft", status=Avatar.Status.DRAFT)
    ok = client.post("/api/sessions", {"avatar": "demo"}, headers={"Origin": ALLOWED})
    assert ok.status_code == 201
    assert ok["Access-Control-Allow-Origin"] == ALLOWED and ok["Cache-Control"].startswith(
        "max-age=0"
    )
    body = ok.json()
    assert body["expires_in"] == 60 and body["websocket"].startswith("/ws/avatar/demo/?token=")
    access.token_check(body["token"], avatar_slug="demo", origin=ALLOWED)

    preflight = client.options("/api/sessions", headers={"Origin": ALLOWED})
    assert preflight.status_code == 204 and preflight["Access-Control-Allow-Origin"] == ALLOWED

    refused = client.post("/api/sessions", {"avatar": "demo"}, headers={"Origin": REFUSED})
    assert refused.status_code == 403  # readable by the page, so that it can say why
    assert refused["Access-Control-Allow-Origin"] == REFUSED
    assert refused.json()["error"] == "origin_refused"

    as_json = client.post(
        "/api/sessions", json.dumps({"avatar": "demo"}), content_type="application/json"
    )
    assert as_json.status_code == 201  # no Origin: a kiosk or a site's backend
    for data, status, error in [
        ({"avatar": "nobody"}, 404, "unknown"),
        ({"avatar": "draft"}, 409, "no_consent"),
        ({}, 400, "invalid_field"),
    ]:
        answer = client.post("/api/sessions", data, headers={"Origin": ALLOWED})
        assert (answer.status_code, answer.json()["error"]) == (status, error)
    assert client.get("/api/sessions").status_code == 405

    seats = access.OriginSeats(ALLOWED)
    redis_client.zadd(seats.key, {"a-live-session": time.time()})
    full = client.post("/api/sessions", {"avatar": "demo"}, headers={"Origin": ALLOWED})
    assert full.status_code == 429 and full.json()["error"] == "too_many_sessions"
    assert client.post("/api/sessions", {"avatar": "demo"}).status_code == 201  # another bucket
    redis_client.delete(seats.key)


def _close_code(client: AvatarClient) -> int | None:
    return client.socket.close_code


async def _closed(client: AvatarClient, timeout: float = 10) -> int | None:
    with contextlib.suppress(Exception):
        await client.quiet_for(timeout)
    return _close_code(client)


def test_sessions_need_an_allowed_origin_and_a_fresh_token_of_their_own(
    demo_avatar, start_daphne
) -> None:
    _, port = start_daphne(WIDGET_ORIGINS=ALLOWED, SESSIONS_PER_ORIGIN="2")
    own = f"http://127.0.0.1:{port}"

    async def scenario() -> None:
        # The refused page gets no token, and a token of another page does not open its socket.
        with pytest.raises(HTTPError) as refused:
            await asyncio.to_thread(session_token, port, "demo", REFUSED)
        assert refused.value.code == 403
        stolen = await asyncio.to_thread(session_token, port, "demo", ALLOWED)
        for origin, token in [
            (REFUSED, stolen),
            (own, stolen),
            (ALLOWED, "not-a-token"),
            (ALLOWED, access.token_issue(avatar_slug="other", origin=ALLOWED)),
        ]:
            client = await AvatarClient.connect(port, origin=origin, token=token)
            assert await _closed(client) == 4003
            assert not client.events  # refused before anything about the avatar was sent

        # Allowed pages get sessions, up to the seats of their origin.
        first = await AvatarClient.connect(port, origin=ALLOWED)
        second = await AvatarClient.connect(port, origin=ALLOWED)
        for client in (first, second):
            assert (await client.next_event(10)).type == "ready"
        own_page = await AvatarClient.connect(port)  # the server's own page: another bucket
        assert (await own_page.next_event(10)).type == "ready"
        third = await AvatarClient.connect(port, origin=ALLOWED, token=stolen)
        error = await third.next_event(10)
        assert error.message.code == "rate_limited" and error.message.fatal
        assert await _closed(third) == 4029

        # A closed session gives its seat back (as soon as the server has seen the close).
        await first.close()
        for _ in range(100):
            try:
                token = await asyncio.to_thread(session_token, port, "demo", ALLOWED)
                break
            except HTTPError as full:
                assert full.code == 429
                await asyncio.sleep(0.1)
        fourth = await AvatarClient.connect(port, origin=ALLOWED, token=token)
        assert (await fourth.next_event(10)).type == "ready"
        await fourth.send({"type": "text", "text": "What are your opening hours?"})
        done = await fourth.until(lambda e: e.type == "turn_end", timeout=60)
        assert any(e.type in {"media:chunk", "media:audio"} for e in done)  # no lipsync worker here
        for client in (second, own_page, fourth):
            await client.close()

    asyncio.run(scenario())


def test_a_session_ends_politely_when_its_avatars_consent_expires(
    demo_avatar, start_daphne
) -> None:
    _, port = start_daphne()
    consent = demo_avatar.consents.get()
    consent.expires_at = timezone.now() + timedelta(seconds=5)
    consent.save(update_fields=["expires_at"])

    async def scenario() -> tuple[list, int | None]:
        client = await AvatarClient.connect(port)
        assert (await client.next_event(10)).type == "ready"
        events = await client.quiet_for(20)
        return events, client.socket.close_code

    events, code = asyncio.run(scenario())
    assert code == 4011
    last = events[-1].message
    assert last.type == "error" and last.fatal and "no longer available" in last.message
    demo_avatar.refresh_from_db()

    async def after_expiry() -> None:
        with pytest.raises(HTTPError) as refused:
            await asyncio.to_thread(session_token, port, "demo", f"http://127.0.0.1:{port}")
        assert refused.value.code == 409

    asyncio.run(after_expiry())


def test_revoking_consent_mid_answer_stops_it_politely_and_cancels_its_renders(
    demo_avatar, start_daphne, redis_client
) -> None:
    from avatars import services
    from contracts.messages import cancel_key

    _, port = start_daphne()
    consent = demo_avatar.consents.get()

    async def scenario() -> tuple[list, int | None]:
        client = await AvatarClient.connect(port)
        await client.next_event(10)
        await client.send({"type": "text", "text": "How do I return an item?"})
        await client.until(lambda e: e.type.startswith("media:"), timeout=60)
        await db_call(
            services.consent_revoke, consent=consent, revoked_by="test", reason="asked to stop"
        )
        events = await client.quiet_for(10)
        return events, client.socket.close_code

    events, code = asyncio.run(scenario())
    assert code == 4011
    kinds = [e.type for e in events]
    stop = kinds.index("interrupted")
    interrupted = events[stop].message
    assert interrupted.reason == "server"
    assert not any(k.startswith("media:") for k in kinds[stop:])
    assert events[-1].message.type == "error" and events[-1].message.fatal
    assert redis_client.exists(cancel_key(str(interrupted.turn_id)))
