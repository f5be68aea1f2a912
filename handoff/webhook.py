"""The outgoing hand-off webhook: which URLs are allowed, how a body is signed, one POST.

The signature is HMAC-SHA256 with the avatar's secret over `<timestamp>.<body>`, sent as
`X-Handoff-Signature: sha256=<hex>` beside `X-Handoff-Timestamp`, so a receiver can refuse both
forged and replayed deliveries (docs/handoff.md).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError

SIGNATURE_HEADER = "X-Handoff-Signature"
TIMESTAMP_HEADER = "X-Handoff-Timestamp"
DELIVERY_HEADER = "X-Handoff-Delivery"
USER_AGENT = "avatar-service-handoff/1"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_webhook_url(url: str) -> None:
    """https anywhere; plain http only to this machine, and only in development (DEBUG)."""
    if not url:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise ValidationError("The webhook URL needs a host.")
    if parts.username or parts.password:
        raise ValidationError("Put no credentials in the webhook URL; the secret signs each body.")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and is_loopback(host):
        if settings.DEBUG:
            return
        raise ValidationError("http is allowed only to localhost, and only in development.")
    raise ValidationError("The webhook URL must use https.")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def signature_valid(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver checks (the tests' receiving server uses it too)."""
    try:
        expected = sign(secret, int(timestamp), body)
    except ValueError:
        return False
    return hmac.compare_digest(expected, signature)


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str
    duration_ms: float

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(*, url: str, secret: str, body: bytes, delivery: str, timeout_s: float) -> Outcome:
    """One signed POST; never raises, never follows a redirect, never reads more than it needs."""
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        DELIVERY_HEADER: delivery,
    }
    started = time.monotonic()
    try:
        validate_webhook_url(url)  # again at send time: the setting may have changed since
        with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
            response = client.post(url, content=body, headers=headers)
        status, error = response.status_code, ""
    except ValidationError as refusal:
        status, error = None, f"refused: {refusal.messages[0]}"
    except httpx.TimeoutException:
        status, error = None, f"timed out after {timeout_s:g} s"
    except httpx.HTTPError as failure:
        status, error = None, type(failure).__name__
    duration_ms = round((time.monotonic() - started) * 1000, 1)
    return Outcome(status_code=status, error=error[:200], duration_ms=duration_ms)
