"""Which backend apps import which: every import in `backend/` (module level and inside functions,
`import_module("...")` calls too), tests and migrations left out.

The apps stand on floors (FLOORS, lowest first; docs/architecture.md draws them): an app may import
apps on lower floors only. tests/unit/test_layering.py keeps it so.

    python scripts/app_deps.py            # pairs of apps that import each other, imports that go up
    python scripts/app_deps.py --edges    # and every app -> app edge, with one example file each
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKEND = ROOT / "backend"
# Project-level modules (settings, urls, asgi, celery, routing, health) wire apps together; they
# sit above every app and are not an app themselves. devstack (the embedded-stack supervisor) is
# plain Python that imports no app.
NOT_APPS = {"settings", "devstack"}

# Lowest first. Why this order (docs/architecture.md, "Floors"): zones is what everything is scoped
# by; audit records events by zone and refers to actors through Django's AUTH_USER_MODEL, so it
# needs no account code, while accounts audits every change it makes; cameras, then faces (Triton client,
# thresholds, inference errors: what enrolment, search, live recognition and evaluation share);
# watchlists enrol and search through faces; operations authorise cameras x watchlists; alerts
# record matches under an operation; recognition runs the live pipeline that ends in alerts;
# maintenance (backup, restore, the state gauges alerting reads) reads the product below it; demo
# seeds data through all of them and registers its frame composer with recognition; evaluation
# replays demo scenes through recognition; dashboard pages read everything; benchmarks is tooling.
FLOORS = [
    "core",
    "zones",
    "audit",
    "accounts",
    "cameras",
    "faces",
    "watchlists",
    "operations",
    "alerts",
    "recognition",
    "maintenance",
    "demo",
    "evaluation",
    "dashboard",
    "benchmarks",
]
# Modules of the live path (a frame from intake to alert): no import cycle may run through them.
LIVE_PIPELINE_APPS = {"core", "cameras", "faces", "operations", "alerts", "recognition"}


def backend_apps() -> list[str]:
    return sorted(
        p.name for p in BACKEND.iterdir() if p.is_dir() and (p / "__init__.py").exists() and p.name not in NOT_APPS
    )


def source_files(app: str) -> list[Path]:
    return sorted(f for f in (BACKEND / app).rglob("*.py") if "migrations" not in f.parts and "tests" not in f.parts)


def imported_modules(path: Path) -> set[str]:
    """Absolute `backend.*` module names a file imports, anywhere in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and _is_import_module(node):
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value)
    return {m for m in found if m.startswith("backend.")}


def _is_import_module(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name == "import_module" and bool(node.args)


def app_edges() -> dict[tuple[str, str], list[str]]:
    """(importer, imported) -> files of the importer that make the edge."""
    apps = set(backend_apps())
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for app in sorted(apps):
        for path in source_files(app):
            targets = {m.split(".")[1] for m in imported_modules(path)}
            for target in sorted(targets & apps - {app}):
                edges[(app, target)].append(str(path.relative_to(ROOT)))
    return dict(edges)


def upward_imports() -> list[tuple[str, str]]:
    """(file, module) for every import of an app on a higher floor than the importing app's."""
    floor = {app: index for index, app in enumerate(FLOORS)}
    found = []
    for app in backend_apps():
        for path in source_files(app):
            for module in sorted(imported_modules(path)):
                target = module.split(".")[1]
                if target in floor and app in floor and floor[target] > floor[app]:
                    found.append((str(path.relative_to(ROOT)), module))
    return found


def module_graph() -> dict[str, set[str]]:
    """backend module -> backend modules it imports (a `from pkg import name` counts as pkg.name
    when that is a module, else pkg)."""
    modules: dict[str, Path] = {}
    for path in BACKEND.rglob("*.py"):
        if "migrations" in path.parts or "tests" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for module in imported_modules(path):
            while module and module not in modules:
                module = module.rpartition(".")[0]
            if module and module != name:
                targets.add(module)
        graph[name] = targets
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected sets of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def mutual_pairs(edges: dict[tuple[str, str], list[str]]) -> list[tuple[str, str]]:
    return sorted((a, b) for (a, b) in edges if a < b and (b, a) in edges)


def main(argv: list[str]) -> int:
    edges = app_edges()
    if "--edges" in argv:
        for (a, b), files in sorted(edges.items()):
            print(f"{a} -> {b}  ({len(files)} files, e.g. {files[0]})")
        print()
    pairs = mutual_pairs(edges)
    print(f"{len(pairs)} pairs of apps import each other")
    for a, b in pairs:
        print(f"  {a} <-> {b}: {edges[(a, b)][0]} / {edges[(b, a)][0]}")
    upward = upward_imports()
    print(f"{len(upward)} imports go up a floor ({' <- '.join(FLOORS)})")
    for path, module in upward:
        print(f"  {path} imports {module}")
    cycles = import_cycles(module_graph())
    print(f"{len(cycles)} import cycles between modules")
    for cycle in cycles:
        print("  " + " <-> ".join(cycle))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
