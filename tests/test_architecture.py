"""The layout's promises, read from the source: dependencies point inward, the edges (`api/`,
`web/`, `cli/`) never import each other, and the command line has no import cycle. Every
import counts, including those inside functions."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "commcredits"


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every commcredits module `path` imports, as absolute dotted names."""
    me = _module(path)
    base = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("commcredits"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                target = ".".join(anchor + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("commcredits"):
                found.add(target)
                found.update(f"{target}.{a.name}" for a in node.names)
    return found


GRAPH = {_module(p): _imports(p) for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _offenders(layer: str, forbidden: set[str]) -> list[str]:
    return sorted(f"{m} imports {t}" for m, targets in GRAPH.items() if _layer(m) == layer
                  for t in targets if _layer(t) in forbidden)


@pytest.mark.parametrize(("layer", "forbidden"), [
    ("domain", {"db", "services", "api", "web", "cli", "app", "server", "notify", "payments", "documents"}),
    ("db", {"services", "api", "web", "cli", "app", "server"}),
    ("services", {"api", "web", "cli", "app", "server", "views"}),
    ("views", {"api", "web", "cli", "app", "server"}),
    ("api", {"web", "cli", "app", "server"}),
    ("web", {"api", "cli", "server"}),
    ("cli", {"api", "web"}),
    ("documents", {"api", "web", "cli", "services"}),
])
def test_dependencies_point_inward(layer: str, forbidden: set[str]) -> None:
    assert _offenders(layer, forbidden) == []


def test_the_command_line_has_no_import_cycle() -> None:
    cli = {m: {t for t in targets if t in GRAPH and t.startswith("commcredits.cli")}
           for m, targets in GRAPH.items() if m.startswith("commcredits.cli")}
    cli["commcredits.cli"].discard("commcredits.cli.main")  # the package re-exports the app: its entry point
    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, " -> ".join((*path, node))
        if node in done:
            return
        for nxt in cli[node]:
            visit(nxt, (*path, node))
        done.add(node)

    for module in cli:
        visit(module, ())


def test_the_switch_api_imports_nothing_of_the_admin_center() -> None:
    code = ("import sys, commcredits.api.app; "
            "print(sorted(m for m in sys.modules if m.startswith(('commcredits.web', 'weasyprint'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
