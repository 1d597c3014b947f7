"""The shape of the code that the design relies on, read from the source with ``ast``: the group
committer is the only writer, and the packages import each other in one direction."""

from __future__ import annotations

import ast
import functools
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


# --- the import graph -------------------------------------------------------------------------------
# The layers of resolver/, lowest first (README "How it is built"): a module imports its own layer or
# lower ones, never a higher one; within a layer, no cycle. A package (resolver/http/) is one node; a module
# directly in resolver/ is its own. A new module or package must be placed here (the test says so).
LAYERS = (
    # below everything the node does: settings, who a caller is, limits, counters, the audit trail's writer,
    # keys and what is done with them
    {"resolver", "resolver.config", "resolver.credentials", "resolver.limits", "resolver.lockout", "resolver.kdfpool",
     "resolver.quotas", "resolver.labels", "resolver.logs", "resolver.counters", "resolver.audit_trail",
     "resolver.keys", "resolver.tlscert", "resolver.version"},
    {"resolver.handleclient"},  # the Handle-protocol client
    {"resolver.federation"},  # other nodes: peers, the remote resolver, upstreams, traces
    {"resolver.service"},  # the service core: every operation, one admission path
    # what runs beside the service and drives it: reports, escrow, metrics, mirror, imports, backups
    {"resolver.reports", "resolver.escrow", "resolver.metrics", "resolver.mirror", "resolver.importer",
     "resolver.events_import", "resolver.resumable_import", "resolver.changelog_pruning", "resolver.backup"},
    {"resolver.http", "resolver.handle"},  # the adapters: HTTP and the Handle protocol (UDP, TCP)
    {"resolver.tunnel"},  # the Handle protocol over HTTP: uses both adapters
    {"resolver.assembly"},  # builds the node and wires the parts together
    {"resolver.cli"},  # the idnode command
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.Module) -> set[int]:
    """The import statements under ``if TYPE_CHECKING:`` (never run, so no cycle)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return out


@functools.cache
def _imports() -> dict[str, set[str]]:
    """Every module of the project and the project modules it imports, at its top or inside a function."""
    graph: dict[str, set[str]] = {}
    for path, tree in _modules().items():
        name = _module_name(ROOT / path)
        here = name.split(".") if path.endswith("__init__.py") else name.split(".")[:-1]
        skip = _type_checking_only(tree)
        found = graph.setdefault(name, set())
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.ImportFrom):
                base = ".".join(here[:len(here) - node.level + 1] + [node.module or ""]).strip(".") \
                    if node.level else node.module
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            found.update(t for t in targets if t.split(".")[0] in PACKAGES)
    return {m: {t for t in ts if t in graph or t.rsplit(".", 1)[0] in graph} for m, ts in graph.items()}


def _package(module: str) -> str:
    """``resolver.http.app`` → ``resolver.http``; a module directly in resolver/ is its own node."""
    parts = module.split(".")
    if parts[0] != "resolver":
        return parts[0]
    if len(parts) > 2 or (ROOT / "resolver" / parts[1]).is_dir() if len(parts) > 1 else False:
        return ".".join(parts[:2])
    return module


def _package_edges() -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = {}
    graph = _imports()
    for src, targets in graph.items():
        for t in targets:
            a, b = _package(src), _package(t if t in graph else t.rsplit(".", 1)[0])
            if a != b:
                edges.setdefault((a, b), []).append(f"{src} imports {t}")
    return edges


def _in_cycles(edges) -> set[tuple[str, str]]:
    """The edges that lie on a cycle (both ends reach each other)."""
    succ: dict[str, set[str]] = {}
    for a, b in edges:
        succ.setdefault(a, set()).add(b)

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in succ.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reaches = {n: reach(n) for n in succ}
    return {(a, b) for a, b in edges if a in reaches.get(b, set())}


def test_the_layers_import_downwards_only():
    """protocol/ imports nothing of the node's, storage/ only protocol/ (DESIGN.md)."""
    wrong = [f"{src} imports {t}" for src, ts in _imports().items() for t in ts
             if (src.startswith("protocol") and not t.startswith("protocol"))
             or (src.startswith("storage") and t.startswith("resolver"))]
    assert wrong == []


def test_no_import_cycle_between_packages():
    """Top-level and function-level imports alike: a lazy import does not hide a cycle here."""
    edges = _package_edges()
    cyclic = sorted(f"{a} -> {b}: {edges[(a, b)][0]}" for a, b in _in_cycles(edges))
    assert cyclic == [], "an import cycle between packages"


def _layer(node: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if node in layer)


def test_every_package_of_the_resolver_has_a_layer():
    nodes = {_package(m) for m in _imports() if m.startswith("resolver")}
    assert sorted(n for n in nodes if not any(n in layer for layer in LAYERS)) == []


def test_the_resolver_imports_downwards_through_its_layers():
    """The service never imports an adapter, an adapter never imports the assembly, and so on."""
    upward = sorted(f"{a} -> {b}: {why[0]}" for (a, b), why in _package_edges().items()
                    if a.startswith("resolver") and b.startswith("resolver") and _layer(b) > _layer(a))
    assert upward == []


def test_http_and_the_handle_protocol_do_not_import_each_other():
    """Both are adapters around the service; neither re-uses the other's code."""
    found = {(src, t) for src, ts in _imports().items() for t in ts
             if (src.startswith("resolver.http.") and t.startswith("resolver.handle"))
             or (src.startswith("resolver.handle.") and t.startswith("resolver.http"))}
    assert sorted(found) == []


# --- no module-level mutable collaborator ------------------------------------------------------------
# Issue 13: what a request or the node depends on is passed in (the service's collaborators, the
# caller as a value), never a module global set from elsewhere or a context variable. Allowed, each
# with its reason (none today):
MODULE_STATE_ALLOWED: dict[str, str] = {}


def _module_names(path: str, tree: ast.Module) -> set[str]:
    """The names a module binds to modules (``import x``, ``from .. import audit``)."""
    names = {a.asname or a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    here = (ROOT / path).parent
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom):
            base = here
            for _ in range(max(n.level - 1, 0)):
                base = base.parent
            if n.level == 0:
                base = ROOT
            base = base.joinpath(*(n.module or "").split(".")) if n.module else base
            names |= {a.asname or a.name for a in n.names
                      if (base / f"{a.name}.py").exists() or (base / a.name / "__init__.py").exists()}
    return names


def _module_state(path: str, tree: ast.Module) -> list[str]:
    """A module's ways of keeping mutable state for others: ``global`` rebinding, a ``ContextVar``,
    and another module's attribute assigned (``credentials._sealer = …``, ``metrics.X = …``)."""
    modules = _module_names(path, tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            found.append(f"{path}:{node.lineno} global {', '.join(node.names)}")
        elif isinstance(node, ast.Name | ast.Attribute) and "ContextVar" in (getattr(node, "id", None),
                                                                              getattr(node, "attr", None)):
            found.append(f"{path}:{node.lineno} ContextVar")
        elif isinstance(node, ast.ImportFrom) and node.module == "contextvars":
            found.append(f"{path}:{node.lineno} imports contextvars")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [f"{path}:{node.lineno} sets {t.value.id}.{t.attr}" for t in targets
                      if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id in modules]
    return found


def test_no_module_level_mutable_collaborator():
    """resolver/ keeps no state in module globals rebound at run time, context variables, or
    attributes set on another module: the caller travels as a value (resolver/audit_trail.py ``Caller``),
    collaborators (the sealer of secrets included) are given to the objects that use them."""
    found = [f for path, tree in _modules().items() if path.startswith("resolver/")
             for f in _module_state(path, tree) if f.split(":")[0] not in MODULE_STATE_ALLOWED]
    assert found == [], "module-level mutable state: " + "; ".join(found)
