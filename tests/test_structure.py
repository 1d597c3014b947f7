"""The shape of the code that the design relies on, read from the source with ``ast``: the group
committer is the only writer, and the packages import each other in one direction."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("protocol", "storage", "resolver")


def _modules() -> dict[str, ast.Module]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            out[str(path.relative_to(ROOT))] = ast.parse(path.read_text(), str(path))
    return out


def _calls(tree: ast.AST) -> list[tuple[str, int]]:
    """Names of what is called (``f`` of ``f(…)`` and ``x.f(…)``), with line numbers."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name:
                found.append((name, node.lineno))
    return found


def test_only_the_group_committer_opens_write_transactions():
    """Every acknowledged write is durable because one writer commits it: an import, a mirror's first
    snapshot or an escrow restore that ran its own transactions would bypass it."""
    offenders = []
    for path, tree in _modules().items():
        if path == "storage/commit.py":
            continue
        for name, line in _calls(tree):
            if name in ("run_group", "begin_write"):
                offenders.append(f"{path}:{line} calls {name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "write" and path != "storage/env.py":
                offenders.append(f"{path}:{node.value.lineno} opens a transaction with write=")
    assert offenders == []
