"""Prometheus metrics of hand-offs (exported by /metrics with django-prometheus's registry)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_S_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)

OPENED = Counter("avatar_handoffs_total", "Hand-offs opened, by reason.", ["reason"])
ENDED = Counter("avatar_handoffs_ended_total", "Hand-offs ended, by outcome.", ["status"])
TIME_TO_TAKE = Histogram(
    "avatar_handoff_time_to_take_seconds",
    "From a hand-off's opening to a person taking it.",
    buckets=_S_BUCKETS,
)
TIME_TO_CLOSE = Histogram(
    "avatar_handoff_time_to_close_seconds",
    "From a hand-off's opening to its closing by a person.",
    buckets=_S_BUCKETS,
)
WEBHOOK_ATTEMPTS = Counter(
    "avatar_handoff_webhook_attempts_total", "Webhook POSTs, by outcome.", ["outcome"]
)
