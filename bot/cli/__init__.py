"""Command line: ``python main.py COMMAND`` or the ``allora-bot`` console script.

Exit codes scripts can rely on: 0 ok; 1 unexpected error; 2 bad usage or input; 3 bad config; 4 needs a human
(wrong chain, missing key, wrong contract); 5 temporary (RPC or API down); 6 trade refused (risk limit, revert, too late).
User mistakes print one line on stderr, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from bot import __version__
from bot.cli.common import EXIT, CliError, Ctx, pass_ctx
from bot.config import ConfigError
from bot.errors import InputError, OperationalError, RevertError, TemporaryError, one_line
from bot.redact import redact_text

COMMAND_MODULES = ("config_cmd", "wallet", "trade", "records", "data", "backtest", "truth", "daemon", "topics",
                   "control")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="allora-bot", message="%(prog)s %(version)s")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), default=None, envvar="ALLORA_BOT_CONFIG",
              help="YAML config (default: config/devnet.yaml if present).")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.pass_context
def cli(click_ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """Allora prediction bot: Allora inferences -> bets on PancakeSwap-style prediction markets."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))  # one line per job run is noise
    click_ctx.obj = Ctx(config_path=config_path)


def _register() -> None:
    import importlib

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"bot.cli.{name}")
        except ModuleNotFoundError as exc:  # a command whose subsystem is not installed
            if exc.name and exc.name.startswith("bot.cli"):
                continue
            raise
        module.register(cli)
    add_config_option(cli)


def _set_config(click_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        click_ctx.ensure_object(Ctx).config_path = value


def add_config_option(group: click.Group) -> None:
    """``-c/--config`` accepted after every subcommand too (``allora-bot history -c cfg.yaml``)."""
    for command in group.commands.values():
        if not any(isinstance(p, click.Option) and "--config" in p.opts for p in command.params):
            command.params.append(click.Option(
                ["-c", "--config"], type=click.Path(dir_okay=False), expose_value=False, callback=_set_config,
                help="YAML config (also accepted before the command; default: config/devnet.yaml if present)."))
        if isinstance(command, click.Group):
            add_config_option(command)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code (the documented codes above, also when a command returns or raises one)."""
    add_config_option(cli)  # commands added after import (main.py's devkit commands) take it too
    try:
        rv = cli.main(args=argv, prog_name="allora-bot", standalone_mode=False)
        # click hands back a command's return value, and the code of a click.exceptions.Exit it caught
        return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
    except click.exceptions.Abort:
        _err("aborted")
        return EXIT["usage"]
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        _err(f"error: {exc.format_message()}")
        return EXIT["usage"]
    except CliError as exc:
        _err(f"error: {exc}")
        return exc.code
    except ConfigError as exc:
        _err(f"error: {exc}")
        return EXIT["config"]
    except OperationalError as exc:
        _err(f"error: {exc}")
        return EXIT["operational"]
    except TemporaryError as exc:
        _err(f"error (temporary, try again): {exc}")
        return EXIT["temporary"]
    except RevertError as exc:
        _err(f"refused by the contract: {exc.reason}")
        return EXIT["refused"]
    except InputError as exc:
        _err(f"error: {one_line(exc)}")
        return EXIT["usage"]
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback only when asked for (-vv)
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            logging.getLogger("bot.cli").exception("unexpected error")
        _err(f"unexpected error ({type(exc).__name__}): {one_line(exc)} — run with -vv for the traceback, "
             "and please report it")
        return EXIT["error"]


def _err(message: str) -> None:
    """One line on stderr, with every secret the process has read (and credentials in URLs) masked."""
    click.echo(redact_text(message), err=True)


__all__ = ["cli", "main", "pass_ctx", "Ctx", "Any"]

if __name__ == "__main__":
    sys.exit(main())
