"""Shared CLI plumbing: the context object, exit codes, output helpers."""

from __future__ import annotations

import json
import re
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


AMOUNT_MAX_DIGITS = 40  # integer digits of an amount in coin units or wei: more is a typo, not a stake
_COIN_AMOUNT = re.compile(r"([0-9]+)(?:\.([0-9]+))?|\.([0-9]+)")
_WEI_AMOUNT = re.compile(r"([0-9]+)\s*wei")


def parse_amount(text: str, decimals: int = 18) -> int:
    """'0.01' (coin units) or '10000000000000000wei' -> wei, exactly.

    ASCII digits only (no exponent, sign, separators or other scripts' digits), at most ``decimals`` fraction digits
    (more is an error, never rounding), at most ``AMOUNT_MAX_DIGITS`` integer digits; positive. One-line ``CliError``
    otherwise."""
    raw = text.strip().lower()
    shown = text if len(text) <= 48 else text[:45] + "..."
    if raw.startswith("-") and raw[1:2].isascii() and raw[1:2].isdigit():
        raise CliError(f"amount must be positive, got {shown!r}")
    wei = _WEI_AMOUNT.fullmatch(raw) if raw.isascii() else None
    coin = _COIN_AMOUNT.fullmatch(raw) if raw.isascii() and wei is None else None
    if wei is None and coin is None:
        raise CliError(f"not an amount: {shown!r} (ASCII digits like 0.01, or 10000000000000000wei)")
    whole = wei.group(1) if wei else (coin.group(1) or "") if coin else ""
    fraction = "" if wei or coin is None else coin.group(2) or coin.group(3) or ""
    if len(whole.lstrip("0")) > AMOUNT_MAX_DIGITS:
        raise CliError(f"amount {shown!r} is too large")
    if len(fraction.rstrip("0")) > decimals:
        raise CliError(f"amount {shown!r} has more than {decimals} decimals (the coin's smallest unit)")
    fraction = fraction.rstrip("0")
    value = int(whole or "0") if wei else int(whole or "0") * 10**decimals + int(fraction.ljust(decimals, "0") or "0")
    if value <= 0:
        raise CliError(f"amount must be positive, got {shown!r}")
    return value
