"""Imports point one way: ``tools`` → ``trades`` → ``shops`` → ``ordersync``; the TOP client
and the sandbox stand alone (they share only the signing function); no cycle between the
subpackages of ``trades``. Every import is read with ``ast``, the ones inside functions too, and
a broken rule is named with its file and line (docs/architecture.md)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.support import ROOT

APPS = ("ordersync", "shops", "trades", "tools")

# (who imports, what it must not import, except what): first match of the importer wins.
RULES = [
    ("ordersync.taobao", ("ordersync", "shops", "trades", "tools"), ("ordersync.taobao",)),
    (
        "ordersync.sandbox",
        ("ordersync", "shops", "trades", "tools"),
        ("ordersync.sandbox", "ordersync.taobao.signing"),
    ),
    ("ordersync", ("shops", "trades", "tools"), ()),
    ("shops", ("trades", "tools"), ()),
    ("trades", ("tools",), ()),
]


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for each import; ``from a import b`` gives ``a.b``: b may be one."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            yield from ((node.lineno, f"{base}.{alias.name}") for alias in node.names)


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    anchor = ".".join(parts[: len(parts) - node.level + 1])
    return f"{anchor}.{node.module}" if node.module else anchor


def sources(root: Path) -> Iterator[tuple[Path, str]]:
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path, module_name(path, root)


def broken_rules(root: Path) -> list[str]:
    """One line per import against RULES."""
    found = []
    for path, module in sources(root):
        rule = next((r for r in RULES if _within(module, r[0])), None)
        if rule is None:
            continue
        _, banned, allowed = rule
        for line, name in imported(path, module):
            if any(_within(name, b) for b in banned) and not any(_within(name, a) for a in allowed):
                where = path.relative_to(root)
                found.append(f"{where}:{line}: {module} imports {name} ({rule[0]} must not)")
    return found


def trades_graph(root: Path) -> dict[str, set[str]]:
    """Which subpackage of trades imports which other one."""
    packages = {
        f"trades.{p.name}" for p in (root / "trades").iterdir() if (p / "__init__.py").exists()
    }
    graph: dict[str, set[str]] = {p: set() for p in packages}
    for path, module in sources(root):
        source = _package_of(module, packages)
        for _, name in imported(path, module) if source else ():
            target = _package_of(name, packages)
            if target and target != source:
                graph[source].add(target)
    return graph


def _package_of(module: str, packages: set[str]) -> str | None:
    return next((p for p in packages if _within(module, p)), None)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first walk, each as the path that closes it."""
    found, done = [], set()

    def walk(node: str, path: list[str]) -> None:
        if node in path:
            found.append([*path[path.index(node) :], node])
            return
        if node in done:
            return
        for target in sorted(graph[node]):
            walk(target, [*path, node])
        done.add(node)

    for node in sorted(graph):
        walk(node, [])
    return found


def test_every_import_points_the_way_of_the_flow():
    assert broken_rules(ROOT) == []


def test_no_cycle_between_the_subpackages_of_trades():
    graph = trades_graph(ROOT)
    assert {"trades.sync", "trades.feed", "trades.api", "trades.webhooks"} <= graph.keys()
    assert cycles(graph) == []


def _plant(root: Path, module: str, text: str) -> None:
    path = root / Path(*module.split(".")).with_suffix(".py")
    for folder in [path.parent, *path.parent.parents]:
        if folder == root:
            break
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").touch()
    path.write_text(text)


def test_the_check_names_each_kind_of_bad_import(tmp_path):
    """The same check on a small tree with one bad import of each kind."""
    _plant(tmp_path, "ordersync.taobao.client", "from shops.models import Shop\n")
    _plant(tmp_path, "ordersync.sandbox.gateway", "from ordersync.taobao.client import x\n")
    _plant(tmp_path, "ordersync.sandbox.apis", "from ordersync.taobao.signing import sign\n")
    _plant(tmp_path, "ordersync.observability", "def f():\n    from trades import models\n")
    _plant(tmp_path, "shops.jobs", "from trades import models\n")
    _plant(tmp_path, "trades.api.views", "import tools.bench.world\n")
    _plant(tmp_path, "tools.bench.world", "from trades.models import Trade\n")

    found = broken_rules(tmp_path)

    assert [line.split(":")[0] for line in found] == [
        "ordersync/observability.py",
        "ordersync/sandbox/gateway.py",
        "ordersync/taobao/client.py",
        "shops/jobs.py",
        "trades/api/views.py",
    ], found
    assert "ordersync.observability imports trades.models (ordersync must not)" in found[0]


def test_the_check_finds_a_cycle_between_subpackages(tmp_path):
    _plant(tmp_path, "trades.feed.changes", "from trades.webhooks.outbox import append\n")
    _plant(tmp_path, "trades.webhooks.outbox", "from trades.feed.models import ChangeEvent\n")
    _plant(tmp_path, "trades.sync.write", "from trades.feed.changes import record_changes\n")

    assert cycles(trades_graph(tmp_path)) == [["trades.feed", "trades.webhooks", "trades.feed"]]
