from __future__ import annotations

from django.apps import AppConfig


class HandOffConfig(AppConfig):
    name = "handoff"
    verbose_name = "Hand-off to a person"
