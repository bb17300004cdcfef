"""The backend's apps stand on floors and import downwards only (docs/architecture.md, "Floors").

The analysis is scripts/app_deps.py (which also prints the figures); these tests hold the shape:
every app has a floor, no import goes up, no import cycle runs through the live pipeline, and no
benchmark or demo module sits inside a domain app."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_app_deps() -> ModuleType:
    spec = importlib.util.spec_from_file_location("app_deps", ROOT / "scripts" / "app_deps.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


app_deps = _load_app_deps()
# Apps below the demo floor hold the product; tooling (demo data, benchmarks) lives above them.
DOMAIN_APPS = app_deps.FLOORS[: app_deps.FLOORS.index("demo")]


def test_every_backend_app_has_exactly_one_floor() -> None:
    assert len(set(app_deps.FLOORS)) == len(app_deps.FLOORS)
    assert set(app_deps.backend_apps()) == set(app_deps.FLOORS)


def test_no_app_imports_an_app_on_a_higher_floor() -> None:
    upward = app_deps.upward_imports()
    assert upward == [], "imports that go up a floor:\n" + "\n".join(f"{p} imports {m}" for p, m in upward)


def test_no_two_apps_import_each_other() -> None:
    assert app_deps.mutual_pairs(app_deps.app_edges()) == []


def test_no_import_cycle_runs_through_the_live_pipeline() -> None:
    cycles = app_deps.import_cycles(app_deps.module_graph())
    live = [c for c in cycles if any(m.split(".")[1] in app_deps.LIVE_PIPELINE_APPS for m in c)]
    assert live == []


def test_no_benchmark_or_demo_module_inside_a_domain_app() -> None:
    misplaced = [
        str(path.relative_to(ROOT))
        for app in DOMAIN_APPS
        for path in app_deps.source_files(app)
        if "benchmark" in path.stem or path.stem.startswith("demo")
    ]
    assert misplaced == []


# --- the analysis itself: it must see the imports that would break the shape -----------------


@pytest.fixture
def fake_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A module at backend/alerts/sample.py of a throw-away tree."""
    monkeypatch.setattr(app_deps, "ROOT", tmp_path)
    path = tmp_path / "backend" / "alerts" / "sample.py"
    path.parent.mkdir(parents=True)
    return path


def test_imports_inside_functions_relative_imports_and_import_module_are_all_seen(fake_file: Path) -> None:
    fake_file.write_text(
        textwrap.dedent(
            """
            import os
            from backend.core import metrics
            from ..recognition.pipeline import frame_process
            from . import models

            def later():
                from backend.dashboard.views import home
                import importlib
                return importlib.import_module("backend.evaluation.stats")
            """
        )
    )
    found = app_deps.imported_modules(fake_file)
    assert {
        "backend.core",
        "backend.core.metrics",
        "backend.recognition.pipeline",
        "backend.recognition.pipeline.frame_process",
        "backend.alerts",
        "backend.alerts.models",
        "backend.dashboard.views.home",
        "backend.evaluation.stats",
    } <= found
    assert "os" not in found


def test_a_cycle_of_three_modules_is_found_and_a_chain_is_not() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert app_deps.import_cycles(graph) == [["a", "b", "c"]]
    assert app_deps.import_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_mutual_pairs_are_reported_once_each() -> None:
    edges = {("a", "b"): ["x"], ("b", "a"): ["y"], ("a", "c"): ["z"]}
    assert app_deps.mutual_pairs(edges) == [("a", "b")]
