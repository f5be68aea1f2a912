"""deploy/: the Prometheus alert rules and the Grafana dashboard ask only for series the web
processes export at /metrics; promtool checks the files and unit-tests the alerts where it is
installed (scripts/promtool.sh puts it in var/tools for `make test`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.test import Client, override_settings
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
RULES = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
DASHBOARD = json.loads((GRAFANA / "dashboards" / "avatar-service.json").read_text())
PROMETHEUS_OWN = {"up"}  # made by Prometheus itself for every scrape target
SERIES_OF_TYPE = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}
_NOT_METRICS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                "unless", "bool", "offset"}  # fmt: skip


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (a small reading of PromQL: strings, label
    matchers, ranges and label lists are dropped; a word before `(` is a function)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for word in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        if word.start() and (expr[word.start() - 1].isdigit() or expr[word.start() - 1] == "."):
            continue  # the unit of a number or duration: 5m, 1e3
        if expr[word.end() :].lstrip().startswith("(") or word.group() in _NOT_METRICS:
            continue
        names.add(word.group())
    return names


@pytest.fixture(scope="module")
def exported() -> set[str]:
    """Every series name the web process's /metrics or a lipsync worker's metrics port may
    show, observed yet or not."""
    import conversation.metrics  # noqa: F401  registered as the web process registers them

    with override_settings(METRICS_PUBLIC=True):
        body = Client().get("/metrics").content.decode()
    names = set()
    for family in text_string_to_metric_families(body):
        names.update(family.name + suffix for suffix in SERIES_OF_TYPE.get(family.type, ("",)))
    return names | worker_exported()


def worker_exported() -> set[str]:
    """What a lipsync worker serves on LIPSYNC_METRICS_PORT (prometheus_client's own server
    over the worker's default registry), read from a registry holding only its metrics."""
    from prometheus_client import CollectorRegistry, generate_latest

    from lipsync_worker.renderers import metrics

    registry = CollectorRegistry()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            registry.register(value)
    names = set()
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        names.update(family.name + suffix for suffix in SERIES_OF_TYPE.get(family.type, ("",)))
    return names


def alert_rules() -> list[dict]:
    return [rule for group in RULES["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in DASHBOARD["panels"] for t in p["targets"]]


def test_the_reading_of_promql_finds_each_metric_and_nothing_else(exported: set[str]) -> None:
    expr = (
        'sum by (kind) (rate(avatar_fallbacks_total{kind!="x"}[10m])) / ignoring(kind) '
        "group_left sum(rate(avatar_turns_total[$__rate_interval] offset 5m)) > 1e3 and up == 1"
    )
    assert promql_metric_names(expr) == {"avatar_fallbacks_total", "avatar_turns_total", "up"}
    assert {"avatar_ttfw_ms_bucket", "avatar_active_sessions", "avatar_turns_total"} <= exported
    assert "avatar_ttfw_bucket" not in exported  # a misspelt name would be caught


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_each_alert_asks_for_exported_series_and_says_what_to_do(
    rule: dict, exported: set[str]
) -> None:
    names = promql_metric_names(rule["expr"])
    assert names and names <= exported | PROMETHEUS_OWN, names - exported
    assert rule["labels"]["severity"] in {"page", "warning", "ticket"} and rule["for"]
    assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    assert f"`{rule['alert']}`" in (ROOT / "docs" / "operations.md").read_text()


def test_the_dashboard_asks_for_exported_series_on_the_provisioned_source(
    exported: set[str],
) -> None:
    source = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    uid = source["datasources"][0]["uid"]
    panels = DASHBOARD["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells = [
        (p["gridPos"]["x"] + dx, p["gridPos"]["y"] + dy)
        for p in panels
        for dx in range(p["gridPos"]["w"])
        for dy in range(p["gridPos"]["h"])
    ]
    assert len(cells) == len(set(cells)), "panels overlap"
    for panel in panels:
        assert panel["datasource"]["uid"] == uid and panel["targets"], panel["title"]
    for title, expr in dashboard_queries():
        names = promql_metric_names(expr)
        assert names and names <= exported | PROMETHEUS_OWN, (title, names - exported)


def promtool() -> str | None:
    local = ROOT / "var" / "tools" / "promtool"
    return shutil.which("promtool") or (str(local) if local.exists() else None)


@pytest.mark.skipif(promtool() is None, reason="promtool is not installed (scripts/promtool.sh)")
def test_promtool_accepts_the_files_and_the_alerts_pass_their_unit_tests(tmp_path: Path) -> None:
    def check(*args: str | Path, cwd: Path = PROMETHEUS) -> None:
        done = subprocess.run(
            [promtool(), *map(str, args)], cwd=cwd, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr

    check("check", "config", "--syntax-only", "prometheus.yml")
    check("check", "rules", "alerts.yml")
    check("test", "rules", "alerts_test.yml")
    # The dashboard's queries parse too: written as recording rules, with Grafana's variable.
    queries = [
        {"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "5m")}
        for i, (_, expr) in enumerate(dashboard_queries())
    ]
    (tmp_path / "dashboard.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": queries}]})
    )
    check("check", "rules", tmp_path / "dashboard.yml")
