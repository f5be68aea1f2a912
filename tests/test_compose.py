"""docker-compose.yml cannot run here: check that it names real entry points and settings."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path

import pytest
import yaml

from avatarsite.celery import QUEUES
from avatarsite.env import VARIABLES, lipsync_pool_flags

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = {
    name: s for name, s in SERVICES.items() if s.get("image") == "avatar-service:latest"
}


def commands_of(service: dict) -> list[list[str]]:
    argv = service["command"]
    if argv[:2] == ["sh", "-c"]:
        script = argv[2].replace("$${", "${")
        return [shlex.split(part.strip().removeprefix("exec ")) for part in script.split("&&")]
    return [argv]


def check_entry_point(argv: list[str]) -> None:
    program = argv[0]
    if program == "daphne":
        module, _, attribute = argv[-1].partition(":")
        assert callable(getattr(importlib.import_module(module), attribute))
    elif program == "celery":
        app_module = argv[argv.index("-A") + 1]
        assert importlib.import_module(app_module).celery_app is not None
        assert argv[argv.index("-A") + 2] in {"worker", "flower", "beat"}
        if "-Q" in argv:
            assert set(argv[argv.index("-Q") + 1].split(",")) <= set(QUEUES)
    elif program == "python":
        assert argv[1] == "manage.py"
        from django.core.management import get_commands

        assert argv[2] in get_commands()
    else:
        pytest.fail(f"unknown entry point {program!r}")


def test_the_expected_services_are_there() -> None:
    assert set(SERVICES) == {
        "web",
        "lipsync-worker",
        "speech-worker",
        "beat",
        "flower",
        "redis",
        "postgres",
        "prometheus",
        "grafana",
    }
    assert set(APP_SERVICES) == {"web", "lipsync-worker", "speech-worker", "beat", "flower"}


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_commands_name_real_entry_points(name: str) -> None:
    for argv in commands_of(APP_SERVICES[name]):
        check_entry_point(argv)


def read_by_flower(name: str) -> bool:
    """Flower takes any of its options as FLOWER_<OPTION> from the environment."""
    from flower.options import default_options

    return name.startswith("FLOWER_") and name.removeprefix("FLOWER_").lower() in default_options


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_environment_is_read_by_the_settings(name: str) -> None:
    environment = set(APP_SERVICES[name]["environment"])
    if name == "flower":
        environment = {v for v in environment if not read_by_flower(v)}
    unknown = environment - set(VARIABLES)
    assert not unknown, f"{name} sets variables the settings never read: {unknown}"


def test_flower_password_is_not_on_its_command_line() -> None:
    flower = SERVICES["flower"]
    assert not [arg for arg in flower["command"] if "auth" in arg or "PASSWORD" in arg]
    assert "FLOWER_PASSWORD" in flower["environment"]["FLOWER_BASIC_AUTH"]


def with_defaults(value: str) -> str:
    """A compose value as compose reads it with none of its variables set: their defaults."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_lipsync_worker_batches_chunks_across_sessions_on_its_gpu() -> None:
    worker = SERVICES["lipsync-worker"]
    environment = {k: with_defaults(str(v)) for k, v in worker["environment"].items()}
    command = [with_defaults(arg) for arg in worker["command"]]
    chunks = int(environment["LIPSYNC_BATCH_CHUNKS"])
    assert chunks > 0 and int(environment["LIPSYNC_BATCH_FRAMES"]) > 0
    assert float(environment["LIPSYNC_BATCH_GATHER_MS"]) >= 0
    assert int(environment["LIPSYNC_DEVICE_MEMORY_MB"]) > 0
    # The pool `make run` gives a batching worker: a thread per chunk in hand.
    assert set(lipsync_pool_flags(environment)) <= set(command)
    assert lipsync_pool_flags(environment) == ["--pool=threads", f"--concurrency={chunks}"]
    # The command and the settings read the same variable: threads and chunks agree.
    concurrency = next(a for a in worker["command"] if a.startswith("--concurrency="))
    assert (
        concurrency.removeprefix("--concurrency=") == worker["environment"]["LIPSYNC_BATCH_CHUNKS"]
    )
    assert "--prefetch-multiplier=1" in command  # each thread holds one chunk, acks late
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]


def test_prometheus_scrapes_the_lipsync_workers_metrics_port() -> None:
    worker = SERVICES["lipsync-worker"]
    port = int(worker["environment"]["LIPSYNC_METRICS_PORT"])
    assert "ports" not in worker  # the metrics stay on the compose network
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    (job,) = [c for c in config["scrape_configs"] if c["job_name"] == "avatar-lipsync"]
    assert job["dns_sd_configs"][0]["names"] == ["lipsync-worker"]
    assert job["dns_sd_configs"][0]["port"] == port and job["metrics_path"] == "/metrics"


def test_redis_has_a_password_and_no_public_port() -> None:
    assert "--requirepass" in SERVICES["redis"]["command"]
    assert "ports" not in SERVICES["redis"] and "ports" not in SERVICES["postgres"]
    assert all(s["ports"][0].startswith("127.0.0.1:") for n, s in SERVICES.items() if n == "flower")


@pytest.mark.parametrize("name", ["prometheus", "grafana"])
def test_monitoring_is_optional_on_loopback_with_the_repositorys_files(name: str) -> None:
    service = SERVICES[name]
    assert service["profiles"] == ["monitoring"]  # `docker compose up` alone leaves it out
    assert all(port.startswith("127.0.0.1:") for port in service["ports"])
    for volume in service["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).is_dir(), volume


def test_prometheus_reads_its_config_and_the_metrics_token_as_a_secret() -> None:
    prometheus = SERVICES["prometheus"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert prometheus["secrets"] == ["metrics_token"]
    assert COMPOSE["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    assert "METRICS_TOKEN" in SERVICES["web"]["environment"]
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    scrape = config["scrape_configs"][0]
    assert scrape["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
    assert scrape["metrics_path"] == "/metrics" and scrape["dns_sd_configs"][0]["port"] == 8000
