"""Shared CLI plumbing: the context object, exit codes, output helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from bot.config import Settings, load_settings

EXIT = {"ok": 0, "error": 1, "usage": 2, "config": 3, "operational": 4, "temporary": 5, "refused": 6}
DEFAULT_CONFIG = Path("config/devnet.yaml")


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT["usage"]) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Ctx:
    config_path: str | None = None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            path = self.config_path
            if path is None and DEFAULT_CONFIG.is_file():
                path = str(DEFAULT_CONFIG)
            self._settings = load_settings(path)
            from bot.hardening import guard_output

            guard_output(self._settings)  # credentials in configured URLs never reach a log line
        return self._settings


pass_ctx = click.make_pass_decorator(Ctx)


def emit(data: Any, as_json: bool, human: Any = None) -> None:
    """Print ``data`` as JSON (``--json``) or call/print the human rendering."""
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
        return
    if callable(human):
        human()
    elif human is not None:
        click.echo(human)
    else:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def json_option(fn: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(fn)


def parse_amount(text: str, decimals: int = 18) -> int:
    """'0.01' (coin units) or '10000000000000000wei' -> wei, exactly, by the one rule of ``bot.coins.parse_units``
    (at most ``decimals`` fraction digits, never rounded; positive); a one-line ``CliError`` otherwise."""
    from bot.coins import parse_units
    from bot.errors import InputError

    try:
        return parse_units(text, decimals)
    except InputError as exc:
        raise CliError(str(exc)) from None
