"""The alert rules of deploy/prometheus (docs/operations.md, "Alerts"): promtool accepts them, its
unit tests on sample series pass (and fail when a rule is broken), every metric a rule or the
dashboard reads is one the app or Triton exports, and every alert has its runbook section."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "face-recognition.json"
# Metrics from outside the app: Triton's own, Prometheus's `up`, the blackbox exporter's.
OUTSIDE_METRICS = {"nv_inference_request_failure", "up", "probe_ssl_earliest_cert_expiry"}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing (scripts/setup.sh installs Debian's prometheus package)")
        pytest.skip("promtool is missing: as root, apt-get install prometheus (scripts/setup.sh does)")
    return found


def run(*args: str | Path, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False)


def rules() -> list[dict]:  # type: ignore[type-arg]
    return [
        rule for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]
    ]


def test_promtool_checks_the_rules() -> None:
    result = run("check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    result = run("test", "rules", *RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_unit_tests_catch_a_broken_rule(tmp_path: Path) -> None:
    """A threshold moved (20% -> 50% offline) must make the sample series' test fail."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    for path in RULE_FILES:
        text = path.read_text().replace(
            '/ sum by (zone) (fr_cameras{health!="unknown"}) > 0.2',
            '/ sum by (zone) (fr_cameras{health!="unknown"}) > 0.5',
        )
        (tmp_path / "rules" / path.name).write_text(text)
    shutil.copy(PROMETHEUS / "tests" / "face-recognition-test.yml", tmp_path / "tests")
    result = run("test", "rules", "tests/face-recognition-test.yml", cwd=tmp_path)
    assert result.returncode != 0 and "CamerasOfflineInZone" in result.stdout + result.stderr


def test_every_alert_is_tested_and_has_a_runbook_section() -> None:
    tested = {
        case["alertname"]
        for path in RULE_TESTS
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    runbook = (ROOT / "docs" / "operations.md").read_text().lower()
    for rule in rules():
        assert rule["alert"] in tested, f"{rule['alert']} has no promtool test where it fires"
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert f"### {anchor}" in runbook.replace("`", ""), f"docs/operations.md has no section for {anchor}"


def exported_metric_names() -> set[str]:
    """Metric names as the app writes them in its source (counters gain _total in exposition)."""
    names = set()
    for path in (ROOT / "backend").rglob("*.py"):
        names |= set(re.findall(r'"(fr_[a-z_]+)"', path.read_text()))
    return names


def metrics_in(expression: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}", "", expression)
    without_strings = re.sub(r'"[^"]*"', "", without_labels)
    return {
        m
        for m in re.findall(r"\b([a-z_]+(?:_[a-z]+)+|up)\b(?!\s*\()", without_strings)
        if m.startswith(("fr_", "nv_", "probe_")) or m == "up"
    }


def test_rules_and_dashboard_read_only_metrics_that_exist() -> None:
    exported = exported_metric_names()
    known = exported | {f"{name}_total" for name in exported} | {f"{name}_bucket" for name in exported}
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [rule["expr"] for rule in rules()] + [
        target["expr"] for panel in dashboard["panels"] for target in panel["targets"]
    ]
    used = set().union(*(metrics_in(e) for e in expressions))
    assert {"fr_cameras", "fr_recognition_queue_frames", "fr_audit_checkpoint_last_timestamp_seconds"} <= used
    unknown = sorted(used - known - OUTSIDE_METRICS)
    assert unknown == [], f"rules or dashboard read metrics nobody exports: {unknown}"


def test_prometheus_config_loads_the_rules_and_scrapes_web_and_triton() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["web"]["authorization"]["credentials_file"] == "/tmp/metrics_token"
    assert jobs["triton"]["static_configs"][0]["targets"] == ["triton:8002"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert "./deploy/prometheus/rules:/etc/prometheus/rules:ro" in compose["prometheus"]["volumes"]
    assert {"alertmanager", "grafana"} <= set(compose)
