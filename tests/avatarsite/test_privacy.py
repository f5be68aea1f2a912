"""No user text or audio where operators look: Flower's task arguments and error reports."""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
import re
import threading
import uuid
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core import mail
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path

from avatarsite.celery import app
from avatarsite.infra.dispatch import send_render, send_transcription
from contracts import messages
from contracts.messages import RenderRequest, TranscribeRequest
from tests.speech_audio import espeak_pcm16

ROOT = Path(__file__).resolve().parents[2]
SECRET = "my card number is 4929 1234 5678 9012"


def quotes_secret(text: str) -> bool:
    """The secret, or part of it, in any spelling a page or report could use (raw, form or URL
    encoded). Single digit groups are not enough: memory addresses in a debug page contain them."""
    return any(
        sep.join(words) in text
        for words in (("card", "number"), ("4929", "1234"), ("5678", "9012"))
        for sep in (" ", "+", "%20")
    )


def audio_fingerprints(audio: bytes) -> list[str]:
    """Slices of the audio as repr would print them: none may appear in what Flower shows."""
    step = len(audio) // 8
    return [repr(audio[i : i + 24])[2:-1] for i in range(step, len(audio) - 24, step)]


class EventLog:
    """Celery events (what Flower reads), captured from the real broker in a thread."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._receiver: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with app.connection_for_read() as connection:
            self._receiver = app.events.Receiver(connection, handlers={"*": self.events.append})
            self._receiver.capture(limit=None, timeout=None, wakeup=False)

    def of(self, kind: str, task_id: str) -> dict[str, Any] | None:
        return next(
            (e for e in list(self.events) if e["type"] == kind and e.get("uuid") == task_id), None
        )

    def stop(self) -> None:
        if self._receiver is not None:
            self._receiver.should_stop = True
        self._thread.join(5)


def receive(channel: str, timeout: float) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        return await asyncio.wait_for(get_channel_layer().receive(channel), timeout)

    return async_to_sync(wait)()


@pytest.mark.stack
def test_flower_never_sees_the_audio_of_real_tasks(start_worker) -> None:
    from tests.processes import wait_until

    speech = start_worker("speech")
    lipsync = start_worker("lipsync")
    log = EventLog()
    try:
        # listening once worker heartbeats arrive: events sent from now on are seen
        wait_until(lambda: any(e["type"] == "worker-heartbeat" for e in log.events), 30, "events")
        audio = espeak_pcm16(SECRET).tobytes()
        channel = async_to_sync(get_channel_layer().new_channel)()
        asr_id = send_transcription(
            TranscribeRequest(channel=channel, request_id="r-1", audio=audio, language="en")
        )
        asr_answer = receive(channel, 120)
        assert asr_answer["type"] == "asr.result"  # the worker really got the audio
        render_id = send_render(
            RenderRequest(
                channel=channel,
                avatar_id=987654,  # no such avatar: the worker answers lipsync.failed
                baked_checksum="0" * 64,
                renderer="cpu",
                turn_id=str(uuid.uuid4()),
                seq=0,
                audio=audio,
                idle_start=0,
                turn_frame=0,
                left_audio=audio[:3200],
            )
        )
        assert receive(channel, 60)["type"] == "lipsync.failed"
        for task_id in (asr_id, render_id):
            wait_until(lambda t=task_id: log.of("task-received", t) is not None, 20, "received")
    finally:
        log.stop()
    fingerprints = audio_fingerprints(audio)
    for task_id in (asr_id, render_id):
        for kind in ("task-sent", "task-received"):
            event = log.of(kind, task_id)
            assert event is not None, f"no {kind} event for {task_id}"
            shown = f"{event.get('args')} {event.get('kwargs')}"
            assert f"<{len(audio)} bytes>" in shown  # sizes are shown, so this is the real field
            # No bytes literal: a b'…' not inside a word (hex ids end in "b" now and then).
            assert "\\x" not in shown and not re.search(r"(?<![0-9A-Za-z_])b'", shown), shown
            assert not any(f in str(event) for f in fingerprints)
    heard = asr_answer.get("text") or ""
    for worker in (speech, lipsync):
        output = worker.output()
        assert not any(f in output for f in fingerprints)
        assert not heard or heard not in output  # the recognised words are not logged


def queued_without_kwargsrepr(task_name: str, constant: str) -> list[str]:
    """Source lines that queue the task (by its function, its name or the name's constant)
    without hiding its arguments from Flower."""
    found = []
    short = task_name.rsplit(".", 1)[-1]
    for source in ROOT.glob("*/**/*.py"):
        if source.parts[len(ROOT.parts)] in {"tests", ".venv", "var"}:
            continue
        for node in ast.walk(ast.parse(source.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            text = ast.unparse(node)
            queues = node.func.attr in {"delay", "apply_async", "send_task", "s", "si"}
            named = short in ast.unparse(node.func) or task_name in text
            names_it = named or re.search(rf"\b{constant}\b", text) is not None
            hidden = node.func.attr != "delay" and "kwargsrepr" in text
            if queues and names_it and not hidden:
                found.append(f"{source.relative_to(ROOT)}:{node.lineno}: {text[:80]}")
    return found


def test_every_task_that_carries_bytes_is_queued_with_a_safe_repr() -> None:
    app.loader.import_default_modules()
    payloads = {
        ("RENDER_TASK", messages.RENDER_TASK): messages.RenderRequest,
        ("TRANSCRIBE_TASK", messages.TRANSCRIBE_TASK): messages.TranscribeRequest,
    }
    for (constant, name), payload in payloads.items():
        assert name in app.tasks  # the worker really registers it under that name
        assert any(f.type in ("bytes", bytes) for f in fields(payload))
        assert queued_without_kwargsrepr(name, constant) == [], name
        assert (
            "kwargsrepr=request.shown()"
            in (ROOT / "avatarsite" / "infra" / "dispatch.py").read_text()
        )
    # Every other task takes ids only (numbers, or UUIDs as text): nothing a customer said or
    # looked like.
    for name, task in app.tasks.items():
        if name.startswith("celery.") or name in {n for _, n in payloads}:
            continue
        params = inspect.signature(task.run).parameters.values()
        assert all(
            p.annotation in (int, "int")
            or (p.name.endswith("_id") and p.annotation in (str, "str"))
            for p in params
        ), name


# --- error reports ------------------------------------------------------------------------


class PrivateBoomError(Exception):
    pass


def boom(request: HttpRequest) -> HttpResponse:
    question = request.POST["question"]  # a local holding user text when the error happens
    raise PrivateBoomError(f"failed on a question of {len(question)} characters")


urlpatterns = [path("boom", boom)]


@pytest.mark.django_db
@override_settings(
    ROOT_URLCONF=__name__,
    DEBUG=False,
    ADMINS=[("Ops", "ops@example.com")],
    EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
)
def test_error_mail_and_log_of_a_500_carry_no_request_body(caplog) -> None:
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.post(f"/boom?q={SECRET}", {"question": SECRET})
    assert response.status_code == 500
    assert len(mail.outbox) == 1  # the report was made: the check below is not vacuous
    report = mail.outbox[0].body + mail.outbox[0].subject
    assert "PrivateBoomError" in report and "failed on a question of" in report
    assert "question" in report  # the POST key is listed, its value is not
    assert not quotes_secret(report)
    logged = "\n".join(r.getMessage() + str(r.exc_text or "") for r in caplog.records)
    assert "boom" in logged and not quotes_secret(logged)


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__, DEBUG=True)
def test_the_debug_500_page_carries_no_request_body_either() -> None:
    response = Client(raise_request_exception=False).post(f"/boom?q={SECRET}", {"question": SECRET})
    assert response.status_code == 500
    page = response.content.decode()
    assert "PrivateBoomError" in page and not quotes_secret(page)
