"""Site-level HTTP views: the demo page, /healthz and the guarded /metrics."""

from __future__ import annotations

import hmac
import json
import posixpath
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from django.views.static import serve
from django_prometheus.exports import ExportToDjangoView

from avatars.selectors import AvatarUnavailable, Unavailable, avatar_get_usable, avatar_list_public
from avatarsite.http import access
from avatarsite.http.health import health_report
from avatarsite.infra import redis_clients


def home(request: HttpRequest) -> HttpResponse:
    """The demo page: the widget, full size, for the chosen (or first) ready avatar. A chosen
    avatar that cannot be shown is said so, never replaced by another one."""
    avatars = list(avatar_list_public().order_by("name"))
    chosen = request.GET.get("avatar")
    if chosen is None:
        first = avatars[0] if avatars else None
        return render(request, "home.html", {"avatars": avatars, "avatar": first})
    avatar = next((a for a in avatars if a.slug == chosen), None)
    if avatar is not None:
        return render(request, "home.html", {"avatars": avatars, "avatar": avatar})
    try:
        avatar_get_usable(slug=chosen)
        unknown = False  # made ready since the list was read: still not shown on this page
    except AvatarUnavailable as refusal:
        unknown = refusal.reason == Unavailable.UNKNOWN
    context: dict[str, object] = {"avatars": avatars, "unavailable": chosen, "unknown": unknown}
    return render(request, "home.html", context, status=404)


def public_media(request: HttpRequest, path: str) -> HttpResponse:
    """Idle clips and posters: public by design, and readable by widgets on other origins
    (the widget paints them on a canvas, which needs CORS). A CDN or the reverse proxy serves
    MEDIA_ROOT in front of this in production."""
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


# What staff may open under PRIVATE_MEDIA_URL: a folder of PRIVATE_MEDIA_ROOT and the right it
# needs. Baked artifacts and canned clips are not listed: never served.
PRIVATE_FOLDERS = {"sources": "avatars.view_avatar", "consent": "avatars.view_consentrecord"}
SHOWN_INLINE = ("image/jpeg", "image/png", "image/webp", "video/")


@never_cache
def private_media(request: HttpRequest, path: str) -> HttpResponseBase:
    """An uploaded source or consent evidence, for staff allowed to view it; 404 for anyone
    else, so the address does not even say that a file exists. Sandboxed: an uploaded file
    never runs as a page of this site."""
    path = posixpath.normpath(path).lstrip("/")
    permission = PRIVATE_FOLDERS.get(path.split("/", 1)[0])
    user = request.user
    if permission is None or not (user.is_active and user.is_staff):
        raise Http404("No such file.")
    if not user.has_perm(permission):
        raise PermissionDenied
    response = serve(request, path, document_root=str(settings.PRIVATE_MEDIA_ROOT))
    response["Content-Security-Policy"] = (
        "sandbox; default-src 'none'; img-src 'self'; media-src 'self'"
    )
    response["X-Content-Type-Options"] = "nosniff"
    if not response["Content-Type"].startswith(SHOWN_INLINE):
        response["Content-Type"] = "application/octet-stream"
        response["Content-Disposition"] = f'attachment; filename="{posixpath.basename(path)}"'
    return response


def _cors(response: HttpResponse, origin: str | None) -> HttpResponse:
    if origin is not None:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    return response


def _refuse(status: int, error: str, message: str, origin: str | None) -> HttpResponse:
    return _cors(JsonResponse({"error": error, "message": message}, status=status), origin)


@csrf_exempt  # no cookie or login is involved: the origin check and the token are the guard
@never_cache
@require_http_methods(["POST", "OPTIONS"])
def session_token(request: HttpRequest) -> HttpResponse:
    """POST /api/sessions (avatar=SLUG): a short-lived signed token for one WebSocket session."""
    origin = request.headers.get("Origin")
    if not access.origin_allowed(origin, request.get_host()):
        # Readable by the refused page (a CORS-blocked answer looks like a network fault and
        # would be retried for ever); the refusal tells it nothing but "no".
        return _refuse(403, "origin_refused", "This site may not embed the assistant.", origin)
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), origin)
    slug = request.POST.get("avatar")
    if slug is None and request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = None
        slug = body.get("avatar") if isinstance(body, dict) else None
    if not isinstance(slug, str) or not slug:
        return _refuse(400, "invalid_field", "avatar: a slug is required", origin)
    if not access.origin_allowed(origin, request.get_host(), avatar_slug=slug):
        return _refuse(403, "origin_refused", "This site may not embed the assistant.", origin)
    try:
        avatar = avatar_get_usable(slug=slug)
    except AvatarUnavailable as refusal:
        status = 404 if refusal.reason == Unavailable.UNKNOWN else 409
        return _refuse(status, refusal.reason.value, refusal.message, origin)
    seats = access.OriginSeats(origin)
    if seats.limit() and seats.in_use(redis_clients.sync_client()) >= seats.limit():
        return _refuse(429, "too_many_sessions", "Too many conversations are open.", origin)
    token = access.token_issue(avatar_slug=avatar.slug, origin=origin)
    answer = {
        "token": token,
        "websocket": f"/ws/avatar/{avatar.slug}/?token={quote(token)}",
        "expires_in": settings.SESSION_TOKEN_TTL_S,
    }
    return _cors(JsonResponse(answer, status=201), origin)


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
