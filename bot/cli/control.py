"""``pause``, ``resume``, ``stop-entry``: steer a running daemon through the journal database it shares with us.

The daemon reads its control state on every bet and every watch tick, so the change takes effect within a tick; a
pause also holds across a daemon restart. Nothing here needs a key or a chain."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli.common import Ctx, emit, json_option, pass_ctx

if TYPE_CHECKING:  # the engine and store load when a command runs
    from bot.engine.control import Control, ControlStatus


def _control(ctx: Ctx) -> Control:
    from bot.engine.control import Control
    from bot.store.db import make_engine

    return Control(make_engine(ctx.settings.database_url))


def _show(status: ControlStatus, as_json: bool) -> None:
    flag = ", stop-entry (no new bets)" if status.stop_entry else ""
    emit(status.as_dict(), as_json, f"daemon {status.state.value}{flag} — by {status.by}: {status.reason}")


def register(cli: click.Group) -> None:
    @cli.command("pause")
    @click.option("--reason", default="paused by hand", show_default=True, help="Why (recorded and shown).")
    @json_option
    @pass_ctx
    def pause(ctx: Ctx, reason: str, as_json: bool) -> None:
        """Pause betting: no new bets; reconciling and claims go on. Holds across a restart until `resume`.

        \b
        Example:
          python main.py pause --reason "checking the oracle"
        """
        control = _control(ctx)
        try:
            _show(control.pause(reason, by="cli"), as_json)
        finally:
            control.engine.dispose()

    @cli.command("resume")
    @json_option
    @pass_ctx
    def resume(ctx: Ctx, as_json: bool) -> None:
        """Resume betting (clears a pause and stop-entry).

        \b
        Example:
          python main.py resume
        """
        control = _control(ctx)
        try:
            _show(control.resume(by="cli"), as_json)
        finally:
            control.engine.dispose()

    @cli.command("stop-entry")
    @json_option
    @pass_ctx
    def stop_entry(ctx: Ctx, as_json: bool) -> None:
        """Open no new bets, but keep reconciling and claiming (wind down); `resume` undoes it.

        \b
        Example:
          python main.py stop-entry
        """
        control = _control(ctx)
        try:
            _show(control.stop_entry(by="cli"), as_json)
        finally:
            control.engine.dispose()
