"""``wallet new|import|address``: encrypted v3 keystore handling. Keys are never printed."""

from __future__ import annotations

import os
from pathlib import Path

import click

from bot.cli.common import EXIT, CliError, Ctx, emit, json_option, pass_ctx
from bot.cli.render import examples


def _password(env_name: str) -> str:
    password = os.environ.get(env_name)
    if password:
        return password
    if not os.isatty(0):
        raise CliError(f"no keystore password: set ${env_name}", EXIT["operational"])
    return str(click.prompt("Keystore password", hide_input=True, confirmation_prompt=True))


KEYSTORE_HELP = "Keystore file (default: wallet.keystore from the config)."


def register(cli: click.Group) -> None:
    @cli.group("wallet", epilog=examples(
        "ALLORA_BOT_KEYSTORE_PASSWORD=... allora-bot wallet new --keystore keys/bot.json",
        "allora-bot wallet address"))
    def wallet() -> None:
        """Encrypted keystore (eth-account v3 keyfile)."""

    def _path(ctx: Ctx, keystore: str | None) -> Path:
        chosen = keystore or ctx.settings.wallet.keystore
        if not chosen:
            raise CliError("no keystore path: pass --keystore or set wallet.keystore in the config")
        return Path(chosen)

    @wallet.command("new", epilog=examples(
        "ALLORA_BOT_KEYSTORE_PASSWORD=... allora-bot wallet new --keystore keys/bot.json"))
    @click.option("--keystore", type=click.Path(dir_okay=False), default=None, help=KEYSTORE_HELP)
    @json_option
    @pass_ctx
    def new(ctx: Ctx, keystore: str | None, as_json: bool) -> None:
        """Create a new random key, encrypted with the password from the environment."""
        path = _path(ctx, keystore)
        from bot.chain.keys import new_keystore

        address = new_keystore(path, _password(ctx.settings.wallet.password_env))
        emit({"address": address, "keystore": str(path)}, as_json, f"created {path} for {address}")

    @wallet.command("import", epilog=examples(
        "ALLORA_BOT_PRIVATE_KEY=0x... ALLORA_BOT_KEYSTORE_PASSWORD=... allora-bot wallet import --keystore keys/bot.json"))
    @click.option("--keystore", type=click.Path(dir_okay=False), default=None, help=KEYSTORE_HELP)
    @click.option("--key-env", default=None, help="Environment variable holding the private key to import.")
    @json_option
    @pass_ctx
    def import_(ctx: Ctx, keystore: str | None, key_env: str | None, as_json: bool) -> None:
        """Encrypt a private key taken from the environment (never from the command line)."""
        env_name = key_env or ctx.settings.wallet.private_key_env
        key = os.environ.get(env_name)
        if not key:
            raise CliError(f"no key to import: set ${env_name}", EXIT["operational"])
        path = _path(ctx, keystore)
        try:
            from bot.chain.keys import new_keystore

            address = new_keystore(path, _password(ctx.settings.wallet.password_env), key.strip())
        except (ValueError, TypeError):
            raise CliError(f"${env_name} does not hold a valid private key") from None
        emit({"address": address, "keystore": str(path)}, as_json, f"imported into {path}: {address}")

    @wallet.command("address", epilog=examples(
        "allora-bot wallet address",
        "allora-bot wallet address --keystore keys/bot.json --json"))
    @click.option("--keystore", type=click.Path(dir_okay=False), default=None, help=KEYSTORE_HELP)
    @json_option
    @pass_ctx
    def address(ctx: Ctx, keystore: str | None, as_json: bool) -> None:
        """The keystore's address (no password needed)."""
        path = _path(ctx, keystore)
        if not path.is_file():
            raise CliError(f"keystore not found: {path}", EXIT["operational"])
        from bot.chain.keys import keystore_address

        addr = keystore_address(path)
        emit({"address": addr}, as_json, addr)
