"""The turn charts as SVG, drawn on the server with matplotlib (pinned in requirements.txt):
no script, no font or file fetched by the browser, and the page works offline.

Text stays text in the SVG (`svg.fonttype: none`), so the browser draws it in its own font and
the charts stay small. Figures are built with the object API, one at a time and in their own
style (matplotlib's settings are global to the process and not made for threads).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import matplotlib
import matplotlib.dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from avatars.models import TurnRecord
from monitoring.selectors import TurnSeries

STYLE: dict[Any, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "turn-charts",  # the same data draws the same SVG
    "text.parse_math": False,  # an avatar's name with a `$` is a name, not a formula
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
# Okabe-Ito: told apart with any colour vision.
BLUE, ORANGE, GREEN, VERMILION, PURPLE, SKY = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
)
FALLBACK_COLOURS: dict[str, str] = {
    TurnRecord.Fallback.ONE_MOMENT: ORANGE,
    TurnRecord.Fallback.HANDOFF: VERMILION,
    TurnRecord.Fallback.SUBTITLES_ONLY: PURPLE,
    TurnRecord.Fallback.AUDIO_ONLY: SKY,
}
_drawing = threading.Lock()


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    svg: str


def turn_charts(series: TurnSeries) -> list[Chart]:
    """Every chart of the page, for the window's turns."""
    drawings: list[tuple[str, str, Callable[[Axes, TurnSeries], None]]] = [
        ("ttfw", "Time to first word (ms)", _ttfw),
        ("turns", "Turns and barge-ins", _turns),
        ("fallbacks", "Fallbacks by kind", _fallbacks),
        ("cache", "Canned-answer cache hit rate (%)", _cache),
    ]
    charts = [Chart(slug, title, _svg(draw, series)) for slug, title, draw in drawings]
    if len(series.avatars) > 1:
        height = 0.6 + 0.28 * len(series.avatars)
        svg = _svg(_per_avatar, series, height=height)
        charts.append(Chart("avatars", "Turns and time to first word per avatar", svg))
    return charts


def _svg(draw: Callable[[Axes, TurnSeries], None], series: TurnSeries, height: float = 2.4) -> str:
    with _drawing, matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(7.2, height), layout="constrained")
        draw(figure.add_subplot(), series)
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    text = out.getvalue()
    return text[text.index("<svg") :]  # inline in the page: no XML prologue


def _times(series: TurnSeries) -> tuple[list[float], float]:
    """Bucket middles as matplotlib dates, and a bar's width."""
    step = series.window.step
    middles = [mdates.date2num(b.start + step / 2) for b in series.buckets]
    return middles, step.total_seconds() / 86400 * 0.8


def _time_axis(axes: Axes, series: TurnSeries) -> None:
    locator = mdates.AutoDateLocator(maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axes.set_xlim(mdates.date2num(series.start), mdates.date2num(series.end))
    axes.set_ylim(bottom=0)


def _legend(axes: Axes, columns: int) -> None:
    """Above the plot, where it never hides a bar."""
    axes.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=columns, frameon=False, fontsize=8)


def _ttfw(axes: Axes, series: TurnSeries) -> None:
    x, _ = _times(series)
    for q, colour in ((50, BLUE), (95, ORANGE)):
        values = [b.ttfw_percentile(q) for b in series.buckets]
        axes.plot(
            x,
            [v if v is not None else float("nan") for v in values],
            marker="o",
            markersize=3,
            color=colour,
            label=f"p{q}",
        )
    axes.set_ylabel("ms")
    _legend(axes, 2)
    _time_axis(axes, series)


def _turns(axes: Axes, series: TurnSeries) -> None:
    x, width = _times(series)
    axes.bar(x, [b.turns for b in series.buckets], width, color=SKY, label="turns")
    axes.bar(
        x, [b.barge_ins for b in series.buckets], width * 0.5, color=VERMILION, label="barge-ins"
    )
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    _legend(axes, 2)
    _time_axis(axes, series)


def _fallbacks(axes: Axes, series: TurnSeries) -> None:
    x, width = _times(series)
    kinds = list(TurnRecord.Fallback.values)
    kinds += sorted(set(series.total.fallbacks) - set(kinds))  # a kind this code does not know
    bottom = [0] * len(series.buckets)
    for kind in kinds:
        counts = [b.fallbacks[kind] for b in series.buckets]
        axes.bar(
            x,
            counts,
            width,
            bottom=bottom,
            color=FALLBACK_COLOURS.get(kind, GREEN),
            label=f"{kind} ({series.total.fallbacks[kind]})",
        )
        bottom = [a + b for a, b in zip(bottom, counts, strict=True)]
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    _legend(axes, 4)
    _time_axis(axes, series)
    axes.set_ylim(top=max(1, *bottom))


def _cache(axes: Axes, series: TurnSeries) -> None:
    x, _ = _times(series)
    rates = [b.cache_hit_rate for b in series.buckets]
    axes.plot(
        x,
        [r * 100 if r is not None else float("nan") for r in rates],
        marker="o",
        markersize=3,
        color=GREEN,
    )
    _time_axis(axes, series)
    axes.set_ylim(0, 105)


def _per_avatar(axes: Axes, series: TurnSeries) -> None:
    tallies = series.avatars[::-1]  # most turns at the top
    rows = range(len(tallies))
    axes.barh(rows, [t.turns for t in tallies], color=SKY, label="turns")
    axes.set_yticks(list(rows), [t.name for t in tallies])
    axes.set_xlabel("turns")
    axes.grid(axis="y", visible=False)
    p95 = axes.twiny()
    values = [t.ttfw_percentile(95) for t in tallies]
    p95.plot(
        [v if v is not None else float("nan") for v in values],
        rows,
        "D",
        color=ORANGE,
        label="TTFW p95 (ms)",
    )
    p95.set_xlabel("TTFW p95 (ms)", color=ORANGE)
    p95.set_xlim(left=0)
    p95.grid(visible=False)
