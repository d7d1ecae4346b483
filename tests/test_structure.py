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
