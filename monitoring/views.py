"""The turn charts page, for staff (wrapped by the admin site in avatarsite/urls.py)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from avatars.models import Avatar
from monitoring.selectors import DEFAULT_WINDOW, WINDOWS, turn_series


def turn_charts_page(request: HttpRequest) -> HttpResponse:
    """GET ?window=6h|24h|7d|30d&avatar=SLUG: the window's turns, for one avatar or all."""
    # matplotlib (0.7 s and 40 MB to import) loads with the first chart drawn, not in every
    # process that reads the URLs.
    from monitoring.charts import turn_charts

    window = WINDOWS.get(request.GET.get("window", ""), DEFAULT_WINDOW)
    avatars = list(Avatar.objects.order_by("name"))
    chosen = next((a for a in avatars if a.slug == request.GET.get("avatar")), None)
    series = turn_series(window=window, avatar=chosen)
    context = {
        **admin.site.each_context(request),
        "title": "Turn charts",
        "series": series,
        "charts": turn_charts(series) if series.total.turns else [],
        "windows": WINDOWS.values(),
        "avatars": avatars,
        "chosen": chosen,
    }
    return render(request, "monitoring/turn_charts.html", context)
