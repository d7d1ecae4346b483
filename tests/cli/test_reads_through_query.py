"""The CLI reads the bot's records only through the query service (``bot.query``): no command module imports an ORM
model or builds a SQL query of its own."""

from __future__ import annotations

import ast
from pathlib import Path

CLI = Path(__file__).resolve().parents[2] / "bot" / "cli"
ORM_MODULES = ("bot.store.journal", "bot.store.outcomes", "bot.store.inferences", "bot.store.truth_cache")
ORM_NAMES = {"Intent", "TxAttempt", "Settlement", "RoundOutcome", "ClaimRecord", "InferenceRecord", "AccountEvent",
             "AccountTx", "session_scope", "session_factory", "select"}


def test_no_cli_module_reads_the_orm():
    offenders = []
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = {a.name for a in node.names}
                if node.module.startswith("sqlalchemy") or (node.module.startswith(ORM_MODULES) and names & ORM_NAMES) \
                        or (node.module == "bot.store.db" and names & ORM_NAMES):
                    offenders.append(f"{path.name}:{node.lineno} from {node.module} import {', '.join(sorted(names))}")
    assert offenders == []
