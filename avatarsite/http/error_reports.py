"""Error reports that cannot carry what a user typed or said.

Django's reports (the 500 page with DEBUG on, mail to ADMINS) list POST data, the query string
and every local variable of every frame. Any of those may hold a question or an utterance, so
they are always left out here, in development too; the traceback's lines and the exception
type stay, which is what a developer needs to find the bug.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

REDACTED = "[redacted: may hold user text]"


class PrivateReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request: HttpRequest | None) -> bool:
        return True

    def get_post_parameters(self, request: HttpRequest | None) -> dict[str, str]:
        if request is None:
            return {}
        return dict.fromkeys(request.POST, REDACTED)

    def get_safe_request_meta(self, request: HttpRequest) -> dict[str, Any]:
        meta = super().get_safe_request_meta(request)
        if meta.get("QUERY_STRING"):
            meta["QUERY_STRING"] = REDACTED
        return meta

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> list:
        return []


class PrivateExceptionReporter(ExceptionReporter):
    def get_traceback_data(self) -> dict[str, Any]:
        data = super().get_traceback_data()
        if self.request is not None:
            data["request_GET_items"] = [(key, REDACTED) for key in self.request.GET]
            data["request_FILES_items"] = [(key, REDACTED) for key in self.request.FILES]
            data["request_insecure_uri"] = self._get_raw_insecure_uri().split("?", 1)[0]
        return data
