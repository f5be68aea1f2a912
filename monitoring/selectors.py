"""Turn records summed up over a window of time, bucket by bucket and avatar by avatar.

Read straight from the TurnRecord rows, the same on SQLite and PostgreSQL: the window's rows are
streamed once and tallied here (percentiles need every value). A window holds at most 30 days,
the default retention.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from django.utils import timezone

from avatars.models import Avatar, TurnRecord


@dataclass(frozen=True)
class Window:
    key: str
    label: str
    span: timedelta
    step: timedelta  # one bucket; divides a day, so buckets start on round UTC times


WINDOWS = {
    w.key: w
    for w in [
        Window("6h", "last 6 hours", timedelta(hours=6), timedelta(minutes=10)),
        Window("24h", "last 24 hours", timedelta(hours=24), timedelta(hours=1)),
        Window("7d", "last 7 days", timedelta(days=7), timedelta(hours=6)),
        Window("30d", "last 30 days", timedelta(days=30), timedelta(days=1)),
    ]
}
DEFAULT_WINDOW = WINDOWS["24h"]


@dataclass
class Tally:
    """What a set of turns came to: counts, time to first word, fallbacks by kind."""

    turns: int = 0
    barge_ins: int = 0
    cache_hits: int = 0
    ttfw_ms: list[float] = field(default_factory=list)
    fallbacks: Counter[str] = field(default_factory=Counter)

    def add(
        self, ttfw_ms: float | None, interrupted: bool, fallbacks: list, cache_hit: bool
    ) -> None:
        self.turns += 1
        self.barge_ins += interrupted
        self.cache_hits += cache_hit
        if ttfw_ms is not None:
            self.ttfw_ms.append(ttfw_ms)
        self.fallbacks.update(str(kind) for kind in fallbacks)

    def ttfw_percentile(self, q: float) -> float | None:
        return float(np.percentile(self.ttfw_ms, q)) if self.ttfw_ms else None

    @property
    def ttfw_p50(self) -> float | None:
        return self.ttfw_percentile(50)

    @property
    def ttfw_p95(self) -> float | None:
        return self.ttfw_percentile(95)

    @property
    def fallback_count(self) -> int:
        return sum(self.fallbacks.values())

    @property
    def cache_hit_rate(self) -> float | None:
        """Share of turns answered from a canned clip, 0..1 (None: no turns)."""
        return self.cache_hits / self.turns if self.turns else None

    @property
    def cache_hit_percent(self) -> float | None:
        rate = self.cache_hit_rate
        return None if rate is None else rate * 100


@dataclass
class Bucket(Tally):
    start: datetime = field(default_factory=timezone.now)


@dataclass
class AvatarTally(Tally):
    name: str = ""
    slug: str = ""


@dataclass(frozen=True)
class TurnSeries:
    window: Window
    start: datetime
    end: datetime
    buckets: list[Bucket]
    avatars: list[AvatarTally]  # most turns first
    total: Tally


def window_bounds(window: Window, now: datetime) -> tuple[datetime, datetime]:
    """The window ending at the end of `now`'s bucket, in whole buckets."""
    step = window.step.total_seconds()
    end = datetime.fromtimestamp(-(-now.timestamp() // step) * step, tz=UTC)
    return end - window.span, end


def turn_series(
    *, window: Window, avatar: Avatar | None = None, now: datetime | None = None
) -> TurnSeries:
    start, end = window_bounds(window, now or timezone.now())
    count = int(window.span / window.step)
    buckets = [Bucket(start=start + i * window.step) for i in range(count)]
    per_avatar: dict[int | None, AvatarTally] = {}
    total = Tally()
    rows = TurnRecord.objects.filter(started_at__gte=start, started_at__lt=end)
    if avatar is not None:
        rows = rows.filter(avatar=avatar)
    fields = ("started_at", "avatar_id", "ttfw_ms", "interrupted", "fallbacks", "cache_hit")
    for started_at, avatar_id, *outcome in rows.values_list(*fields).iterator(chunk_size=2000):
        index = min(count - 1, int((started_at - start) / window.step))
        buckets[index].add(*outcome)
        per_avatar.setdefault(avatar_id, AvatarTally()).add(*outcome)
        total.add(*outcome)
    names: dict[int | None, tuple[str, str]] = {
        a.pk: (a.name, a.slug) for a in Avatar.objects.filter(pk__in=list(per_avatar))
    }
    for avatar_id, tally in per_avatar.items():
        tally.name, tally.slug = names.get(avatar_id, ("(avatar deleted)", ""))
    avatars = sorted(per_avatar.values(), key=lambda t: (-t.turns, t.name))
    return TurnSeries(window, start, end, buckets, avatars, total)
