"""Operator surfaces are closed to the public: admin, Flower and /metrics, as really started."""

from __future__ import annotations

import base64
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from avatars.models import ConsentRecord
from avatarsite.stack import stack_children
from tests.avatars.factories import make_avatar
from tests.environment import free_port
from tests.processes import Process, child_env, daphne, http_answers, wait_until

ROOT = Path(__file__).resolve().parents[2]


def status_of(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5):
            return 200
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.django_db(transaction=True)
def test_a_logged_in_user_who_is_not_staff_gets_no_admin() -> None:
    avatar = make_avatar("guarded")
    consent = avatar.consents.get()
    user = get_user_model().objects.create_user("visitor", "v@example.com", "pw-123456")
    client = Client()
    client.force_login(user)
    for page in ("admin:index", "admin:avatars_avatar_changelist"):
        response = client.get(reverse(page))
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.post(
        reverse("admin:avatars_consentrecord_changelist"),
        {"action": "revoke", "_selected_action": [consent.pk], "confirm": "1", "reason": "x"},
    )
    assert ConsentRecord.objects.get(pk=consent.pk).revoked_at is None


@pytest.mark.stack
def test_flower_as_the_supervisor_starts_it_wants_basic_auth(
    monkeypatch, tmp_path: Path, output_dir: Path
) -> None:
    monkeypatch.setenv("FLOWER_PASSWORD", "flower-pw-1")
    port = free_port()
    flower = next(c for c in stack_children("127.0.0.1", free_port(), port) if c.name == "flower")
    assert flower.argv[0] == sys.executable
    assert not [arg for arg in flower.argv if "flower-pw-1" in arg]  # `ps` shows argv to all
    process = Process("flower", flower.argv, child_env(**flower.env), output_dir)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until(lambda: status_of(url) in (200, 401), 60, "Flower answering")
        assert status_of(url) == 401
        wrong = base64.b64encode(b"operator:guess").decode()
        assert status_of(url, {"Authorization": f"Basic {wrong}"}) == 401
        right = base64.b64encode(b"operator:flower-pw-1").decode()
        assert status_of(url, {"Authorization": f"Basic {right}"}) == 200
    finally:
        process.stop()


def test_compose_flower_needs_a_password_and_stays_on_loopback() -> None:
    flower = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["flower"]
    assert "basic-auth" not in " ".join(flower["command"])  # in its environment, not in argv
    assert "${FLOWER_PASSWORD:?" in flower["environment"]["FLOWER_BASIC_AUTH"]
    assert all(p.startswith("127.0.0.1:") for p in flower["ports"])


@pytest.mark.stack
@pytest.mark.parametrize("token", ["metrics-t0ken", ""], ids=["token-set", "no-token"])
def test_metrics_are_closed_when_debug_is_off(
    transactional_db: None, output_dir: Path, token: str
) -> None:
    """Real settings with DEBUG off: no override of METRICS_PUBLIC stands in for the rule."""
    port = free_port()
    web = daphne(child_env(DEBUG="0", METRICS_TOKEN=token), output_dir, port)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_until(http_answers(port), 60, "daphne answering")
        assert status_of(url) == 403
        assert status_of(url, {"Authorization": "Bearer wrong"}) == 403
        assert status_of(url, {"Authorization": "Bearer "}) == 403
        if token:
            assert status_of(url, {"Authorization": f"Bearer {token}"}) == 200
    finally:
        web.stop()
