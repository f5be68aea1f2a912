"""The Celery app. Queues: `lipsync` (model-resident renderers, solo pool) and `speech`."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "avatarsite.settings")

app = Celery("avatarsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue("lipsync"), Queue("speech"))
app.autodiscover_tasks()

QUEUES = ("lipsync", "speech")
