"""The webhook's signature and its limits, without Celery: one POST at a time."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from handoff import webhook
from tests.handoff.receiver import Receiver


def test_a_signed_body_verifies_and_any_change_breaks_it() -> None:
    body = b'{"event":"handoff.created"}'
    signature = webhook.sign("s3cret", 1700000000, body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert webhook.signature_valid("s3cret", "1700000000", body, signature)
    assert not webhook.signature_valid("other", "1700000000", body, signature)
    assert not webhook.signature_valid("s3cret", "1700000001", body, signature)  # replayed later
    assert not webhook.signature_valid("s3cret", "1700000000", body + b" ", signature)
    assert not webhook.signature_valid("s3cret", "not a time", body, signature)


@override_settings(DEBUG=True)
def test_a_post_is_signed_and_a_receiver_with_another_secret_refuses_it() -> None:
    with Receiver(secret="s3cret") as good, Receiver(secret="not the same") as other:
        kept = webhook.post(url=good.url, secret="s3cret", body=b"{}", delivery="d/1", timeout_s=5)
        refused = webhook.post(
            url=other.url, secret="s3cret", body=b"{}", delivery="d/1", timeout_s=5
        )
    assert kept.delivered and good.deliveries[0].signed
    assert good.deliveries[0].headers[webhook.DELIVERY_HEADER] == "d/1"
    assert not refused.delivered and refused.status_code == 401


@override_settings(DEBUG=True)
def test_a_slow_receiver_times_out() -> None:
    with Receiver(secret="s", delay_s=3) as slow:
        outcome = webhook.post(url=slow.url, secret="s", body=b"{}", delivery="d", timeout_s=0.5)
    assert not outcome.delivered and outcome.error == "timed out after 0.5 s"


@override_settings(DEBUG=False)
def test_plain_http_is_refused_at_send_time_outside_development() -> None:
    with Receiver(secret="s") as receiver:
        outcome = webhook.post(url=receiver.url, secret="s", body=b"{}", delivery="d", timeout_s=1)
    assert outcome.error.startswith("refused:") and not receiver.deliveries
    with pytest.raises(ValidationError):
        webhook.validate_webhook_url("ftp://127.0.0.1/x")
