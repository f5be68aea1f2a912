"""Who may open a session: allowed origins, short-lived signed session tokens, sessions per origin.

A browser always names the page's origin, on the token request and on the WebSocket; the widget
may run on the server's own pages and on the allowed origins (`origins.py`: `WIDGET_ORIGINS` and
the admin's Widget origins, for every avatar or for one), nowhere else. A client
that names no origin (a kiosk app, a site's backend, the benchmark) is not a browser page; it
still needs a token, and a token it fetched without an origin cannot be used by a browser.

Tokens are signed with the secret key and expire after `SESSION_TOKEN_TTL_S`: a page fetches a
fresh one for every connection, so a leaked URL is worthless a minute later. They carry the
avatar and the origin they were issued to, nothing about the person.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis
import redis.asyncio as aioredis
from django.conf import settings
from django.core import signing

from avatarsite.http.origins import allowed_origins, normalize_origin

TOKEN_SALT = "avatarsite.access.session-token"  # kept across moves: tokens in flight stay valid
NO_ORIGIN = "-"  # the sessions-per-origin bucket of clients that name none
HEARTBEAT_S = 30.0  # a live session refreshes its place in the per-origin count this often
STALE_AFTER_S = 3 * HEARTBEAT_S  # a place not refreshed for this long belonged to a dead process


class AccessRefused(Exception):
    """The request may not open a session; `reason` is safe to show to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def origin_allowed(origin: str | None, host: str | None, avatar_slug: str | None = None) -> bool:
    """May a page at `origin` use the widget (of `avatar_slug`, or of some avatar) of the server
    reached as `host`?"""
    if origin is None:
        return True  # not a browser page: the token decides
    normal = normalize_origin(origin)
    if normal is None:
        return False
    if host and urlsplit(normal).netloc == host.strip().lower():
        return True  # the server's own pages (behind a TLS proxy the scheme may differ)
    return allowed_origins().allows(normal, avatar_slug)


def _bucket(origin: str | None) -> str:
    return (normalize_origin(origin) if origin else None) or NO_ORIGIN


def token_issue(*, avatar_slug: str, origin: str | None) -> str:
    payload = {"a": avatar_slug, "o": _bucket(origin), "n": secrets.token_urlsafe(8)}
    return signing.dumps(payload, salt=TOKEN_SALT, compress=False)


def token_check(token: str | None, *, avatar_slug: str, origin: str | None) -> None:
    """Raise AccessRefused unless `token` is fresh, for this avatar and for this origin."""
    if not token:
        raise AccessRefused("A session token is required.")
    try:
        payload = signing.loads(token, salt=TOKEN_SALT, max_age=settings.SESSION_TOKEN_TTL_S)
    except signing.SignatureExpired:
        raise AccessRefused("The session token has expired.") from None
    except signing.BadSignature:
        raise AccessRefused("The session token is not valid.") from None
    if not isinstance(payload, dict) or payload.get("a") != avatar_slug:
        raise AccessRefused("The session token is for another avatar.")
    if payload.get("o") != _bucket(origin):
        raise AccessRefused("The session token was issued to another origin.")


@dataclass(frozen=True)
class OriginSeats:
    """Live sessions per origin, shared by every web process through a Redis sorted set.

    Each session holds a member scored with its last heartbeat; members older than
    STALE_AFTER_S are swept, so a web process that dies frees its seats within minutes.
    """

    origin: str | None

    @property
    def key(self) -> str:
        return f"access:sessions:{_bucket(self.origin)}"

    @staticmethod
    def limit() -> int:
        return int(settings.SESSIONS_PER_ORIGIN)

    async def take(self, client: aioredis.Redis, member: str) -> bool:
        """Take a seat for `member`; False (and nothing held) when the origin is full."""
        now = time.time()
        pipe = client.pipeline(transaction=True)
        pipe.zremrangebyscore(self.key, 0, now - STALE_AFTER_S)
        pipe.zadd(self.key, {member: now})
        pipe.zcard(self.key)
        pipe.expire(self.key, int(STALE_AFTER_S) + 60)
        _, _, count, _ = await pipe.execute()
        if self.limit() and count > self.limit():
            await client.zrem(self.key, member)
            return False
        return True

    async def refresh(self, client: aioredis.Redis, member: str) -> None:
        pipe = client.pipeline(transaction=False)
        pipe.zadd(self.key, {member: time.time()}, xx=True)
        pipe.expire(self.key, int(STALE_AFTER_S) + 60)
        await pipe.execute()

    async def release(self, client: aioredis.Redis, member: str) -> None:
        await client.zrem(self.key, member)

    def in_use(self, client: redis.Redis) -> int:
        """Seats taken now (sync, for the token endpoint)."""
        return int(client.zcount(self.key, time.time() - STALE_AFTER_S, "+inf"))
