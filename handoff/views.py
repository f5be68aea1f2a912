"""The agents' console page: staff with the console permission only."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache


@never_cache
def console(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    if not (user.is_staff and user.has_perm("handoff.use_console")):
        raise PermissionDenied("The console is for staff with the console permission.")
    return render(request, "handoff/console.html", {"agent": user})
