"""The house rules that keep the product package the product: ``bot/`` never imports the devkit."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_product_never_imports_the_devkit() -> None:
    offenders = {str(p.relative_to(ROOT)): sorted(n for n in _imports(p) if n.split(".")[0] == "devkit")
                 for p in (ROOT / "bot").rglob("*.py")} | {
        str(p.relative_to(ROOT)): sorted(n for n in _imports(p) if n.split(".")[0] == "devkit")
        for p in (ROOT / "strategies").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_devkit_lives_outside_the_product() -> None:
    for gone in ("bot/devnet", "bot/demo", "bot/chaos.py", "bot/allora/localservice"):
        assert not (ROOT / gone).exists(), gone


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _module_level_imports(path: Path, modules: set[str]) -> set[str]:
    """The ``bot`` modules ``path`` imports when it is imported (top-level statements, ``if TYPE_CHECKING`` blocks
    left out; ``from bot.x import y`` counts ``bot.x.y`` when that is a module, else ``bot.x``)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.If) and not _is_type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)

    visit(tree.body)
    # the most specific module each import names (a parent package that runs first is not an edge of ours: Python
    # initialises it before any of its submodules, whoever imports them)
    out: set[str] = set()
    for target in found:
        parts = target.split(".")
        for i in range(len(parts), 0, -1):
            prefix = ".".join(parts[:i])
            if prefix in modules:
                if prefix != name:
                    out.add(prefix)
                break
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_no_import_cycle_among_bot_modules() -> None:
    """Module-level imports only (an import inside a function runs when it is called, after every module loaded)."""
    import sys

    paths = list((ROOT / "bot").rglob("*.py"))
    modules = {_module_name(p) for p in paths}
    graph = {_module_name(p): _module_level_imports(p, modules) for p in paths}
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10_000))  # the recursive SCC walk; put back after (tests/unit/test_wire.py checks it)
    try:
        cycles = _cycles(graph)
    finally:
        sys.setrecursionlimit(old)
    assert cycles == []


def test_the_engine_never_imports_the_composition_root() -> None:
    """Not even inside a function: ``bot.app`` builds the engine's parts; the engine is given them."""
    offenders = {str(p.relative_to(ROOT)): sorted(n for n in _imports(p) if n == "bot.app" or n.startswith("bot.app."))
                 for p in (ROOT / "bot" / "engine").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


# the modules that show records to a person or a reputer; their reads go through bot.query.QueryService
READERS = ("bot/cli", "bot/api", "bot/notify", "bot/truth/service.py", "bot/truth/groundtruth.py")
TABLE_MODULES = {"bot.store.outcomes", "bot.store.inferences", "sqlalchemy.orm"}


def _orm_reads(path: Path) -> list[str]:
    """What in ``path`` reads the database itself: an import of a table module or of ``select``/``session_scope``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = {alias.name for alias in node.names}
            if node.module in TABLE_MODULES or (node.module == "sqlalchemy" and "select" in names) or (
                    node.module == "bot.store.db" and "session_scope" in names):
                found.append(f"{node.module}: {sorted(names)}")
    return found


def test_the_user_facing_modules_read_through_the_query_service() -> None:
    files = [p for entry in READERS for p in ((ROOT / entry).rglob("*.py") if (ROOT / entry).is_dir()
                                              else [ROOT / entry])]
    assert len(files) > 10
    offenders = {str(p.relative_to(ROOT)): found for p in files if (found := _orm_reads(p))}
    assert offenders == {}


def test_the_orm_read_finder_finds_one() -> None:
    assert _orm_reads(ROOT / "bot" / "query.py")  # the query service itself reads the tables
