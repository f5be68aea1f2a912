"""/favicon.ico: every browser asks each site for it, and the admin's pages name no icon of
their own, so without it each page view logged a 404."""

from __future__ import annotations

from pathlib import Path

from django.http import FileResponse, HttpRequest
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

ICON = Path(__file__).with_name("favicon.ico")


@require_safe
@cache_control(public=True, max_age=7 * 24 * 3600)
def favicon(request: HttpRequest) -> FileResponse:
    return FileResponse(ICON.open("rb"), content_type="image/x-icon")
