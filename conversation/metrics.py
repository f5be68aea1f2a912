"""Prometheus metrics of conversations (exported by /metrics with django-prometheus's registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_MS_BUCKETS = (25, 50, 100, 150, 200, 300, 400, 600, 800, 1000, 1500, 2000, 3000, 5000, 10000)

TTFW = Histogram("avatar_ttfw_ms", "Time to first word of a turn, in ms.", buckets=_MS_BUCKETS)
STAGE = Histogram(
    "avatar_stage_latency_ms", "Latency of a pipeline stage, in ms.", ["stage"], buckets=_MS_BUCKETS
)
BARGE_IN = Histogram(
    "avatar_barge_in_ms", "From an interruption to `interrupted` sent, in ms.", buckets=_MS_BUCKETS
)
BARGE_INS = Counter("avatar_barge_ins_total", "Turns interrupted by the user.")
FALLBACKS = Counter("avatar_fallbacks_total", "Fallbacks fired, by kind.", ["kind"])
CACHE = Counter("avatar_canned_clip_lookups_total", "Canned-answer cache lookups.", ["result"])
ACTIVE_SESSIONS = Gauge("avatar_active_sessions", "Open conversation sessions in this process.")
SESSIONS_REFUSED = Counter(
    "avatar_sessions_refused_total", "Sessions refused at connect, by reason.", ["reason"]
)
TURNS = Counter("avatar_turns_total", "Finished turns.", ["input"])
