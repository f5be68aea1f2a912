"""Site-level HTTP views: the demo page, /healthz and the guarded /metrics."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import render
from django_prometheus.exports import ExportToDjangoView

from avatars.selectors import avatar_list_public
from avatarsite.health import health_report


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"avatars": avatar_list_public()})


def healthz(request: HttpRequest) -> JsonResponse:
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)


def _may_read_metrics(request: HttpRequest) -> bool:
    if settings.METRICS_PUBLIC:
        return True
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(header, f"Bearer {token}")


def metrics(request: HttpRequest) -> HttpResponse:
    if not _may_read_metrics(request):
        return HttpResponseForbidden("metrics need a staff login or the metrics token\n")
    return ExportToDjangoView(request)
