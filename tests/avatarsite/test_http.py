"""/healthz and /metrics, and the demo page."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from avatars.models import Avatar
from tests.avatars.factories import make_avatar

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthz_is_503_with_the_queues_named_when_no_worker_runs() -> None:
    response = Client().get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert body["queues"]["lipsync"] == {"ok": False, "workers": []}
    assert body["queues"]["speech"]["ok"] is False


def test_healthz_shows_a_voice_that_fell_back_to_espeak_ng(tmp_path, monkeypatch) -> None:
    from conversation.tts import select
    from conversation.tts.voices import PIPER, installed_voices

    monkeypatch.setattr(select, "_fallbacks", {})
    (tmp_path / "en_US-broken-medium.onnx").write_bytes(b"not a model")
    (tmp_path / "en_US-broken-medium.onnx.json").write_text(
        '{"audio": {"sample_rate": 22050}, "espeak": {"voice": "en-us"}}'
    )
    assert Client().get("/healthz").json()["tts"]["fallbacks"] == {}

    voice = select.usable_voice(
        installed_voices(tmp_path), "en_US-broken-medium", "en", engine=PIPER
    )

    tts = Client().get("/healthz").json()["tts"]
    assert voice.id == "espeak-ng:en-us"
    assert "piper:en_US-broken-medium" in tts["fallbacks"] and "espeak-ng" in tts["warning"]


@pytest.mark.stack
def test_healthz_is_200_when_both_queues_have_a_live_worker(start_worker) -> None:
    start_worker("lipsync")
    start_worker("speech")
    response = Client().get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert all(q["workers"] for q in body["queues"].values())


@pytest.mark.stack
def test_healthz_is_503_while_the_web_process_still_loads_its_models(
    start_worker, monkeypatch
) -> None:
    import threading

    from conversation.edge import warmup

    start_worker("lipsync")
    start_worker("speech")
    started, finished = threading.Event(), threading.Event()
    started.set()  # the warm-up thread of a web process is running, not done
    monkeypatch.setattr(warmup, "_started", started)
    monkeypatch.setattr(warmup, "_finished", finished)
    response = Client().get("/healthz")
    assert response.status_code == 503 and response.json()["warm"] == "warming"
    finished.set()
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json()["warm"] == "warm"


@override_settings(METRICS_PUBLIC=False, METRICS_TOKEN="s3cret")
def test_metrics_are_not_public_in_production() -> None:
    assert Client().get("/metrics").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    ok = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
    assert ok.status_code == 200 and b"django_http_requests" in ok.content
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("s", "s@example.com", "pw-98765"))
    assert staff.get("/metrics").status_code == 200


def test_demo_page_shows_only_ready_avatars_with_consent() -> None:
    make_avatar("drafty")
    ready = make_avatar("shown", status=Avatar.Status.READY, idle_clip="avatars/1/idle.webm")
    make_avatar("nocons", consent=False, status=Avatar.Status.READY)
    page = Client().get("/").content.decode()
    assert ready.name in page and "Drafty" not in page and "Nocons" not in page
