"""Signing keys: only from an encrypted keystore (eth-account v3 keyfile, password from the environment) or the environment.

The key never leaves this module as text: callers get a ``LocalAccount`` (whose ``repr`` shows only the address).
Errors never include the key, the password or the keystore contents.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from bot.config import WalletConfig
from bot.errors import OperationalError
from bot.redact import register


class KeyError_(OperationalError):
    """No usable key (message never contains secret material)."""


def load_account(wallet: WalletConfig, environ: dict[str, str] | None = None) -> LocalAccount:
    env = os.environ if environ is None else environ
    if wallet.keystore:
        path = Path(wallet.keystore)
        if not path.is_file():
            raise KeyError_(f"keystore file not found: {path}")
        password = env.get(wallet.password_env)
        register(password)
        if password is None:
            raise KeyError_(f"keystore password missing: set the environment variable {wallet.password_env}")
        try:
            keyfile = json.loads(path.read_text())
            key = Account.decrypt(keyfile, password)
        except (ValueError, KeyError, TypeError):
            raise KeyError_(f"cannot decrypt keystore {path}: wrong password or not a v3 keyfile") from None
        return Account.from_key(key)
    raw = env.get(wallet.private_key_env)
    register(raw)
    if not raw:
        raise KeyError_(
            f"no signing key: configure wallet.keystore (password in ${wallet.password_env}) "
            f"or set ${wallet.private_key_env}"
        )
    try:
        return Account.from_key(raw.strip())
    except (ValueError, TypeError, Exception):  # noqa: BLE001 — any parse failure must hide the input
        raise KeyError_(f"${wallet.private_key_env} does not hold a valid private key") from None


def new_keystore(path: Path, password: str, private_key: str | None = None) -> str:
    """Write an encrypted v3 keyfile (new random key unless one is given); return the address."""
    if path.exists():
        raise OperationalError(f"refusing to overwrite existing keystore {path}")
    acct = Account.from_key(private_key) if private_key else Account.create()
    keyfile = Account.encrypt(acct.key, password)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(keyfile, fh)
    return str(acct.address)


def keystore_address(path: Path) -> str:
    """The address stored (unencrypted) in a v3 keyfile, without decrypting it."""
    try:
        data = json.loads(path.read_text())
        return "0x" + str(data["address"]).removeprefix("0x")
    except (OSError, ValueError, KeyError) as exc:
        raise OperationalError(f"cannot read keystore {path}: {type(exc).__name__}") from None
