"""Process hardening: what the bot does at start so that secrets stay secret.

Contract:
- :func:`guard_output` (every command, once the config is loaded): the credential parts of every configured URL are
  registered with ``bot.redact`` and every log handler masks them (and any other registered secret).
- :func:`harden_live_process` (live mode, before the key is read): no core dumps (``RLIMIT_CORE`` 0 and the process
  marked not dumpable with ``prctl(PR_SET_DUMPABLE, 0)``, so neither a crash nor ``gcore``/``ptrace`` by another user
  can copy the key out of memory), files created from now on are owner-only (umask 077), the bot's existing database
  and health files are made 0600, and a keystore readable by group or others is warned about.
- :func:`forget_secrets` (the daemon, once every secret is read): the secret environment variables are removed from
  ``os.environ`` and zeroed in the process's environment block, so that no child process, crash report or
  ``/proc/<pid>/environ`` reader of a later moment sees them.
Each step reports what it did; a step the platform does not support is reported, never fatal.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import resource
import stat
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Settings
from bot.redact import install_log_filter, register_url

log = logging.getLogger(__name__)

PR_SET_DUMPABLE = 4
OWNER_ONLY_UMASK = 0o077


@dataclass
class Hardening:
    """What :func:`harden_live_process` did (``failed`` names the steps the platform refused)."""

    core_dumps_off: bool = False
    not_dumpable: bool = False
    umask: int | None = None
    files_restricted: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def guard_output(settings: Settings) -> None:
    """Register the credentials of every configured URL and mask them (and every registered secret) in all logs."""
    for chain in settings.chains.values():
        for url in chain.rpc_urls:
            register_url(url)
    register_url(settings.allora.api_url)
    if settings.allora.rpc_url:
        register_url(settings.allora.rpc_url)
    install_log_filter()


def _no_core_dumps(report: Hardening) -> None:
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        report.core_dumps_off = True
    except (ValueError, OSError) as exc:
        report.failed.append(f"RLIMIT_CORE: {exc}")
    libc_name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")
        report.not_dumpable = True
    except (OSError, AttributeError) as exc:
        report.failed.append(f"prctl: {exc}")


def bot_files(settings: Settings) -> list[Path]:
    """The files the bot keeps next to its SQLite database (the database, its WAL and SHM, the health file)."""
    from bot.engine.health import health_path

    files = [health_path(settings)]
    url = settings.database_url
    if url.startswith("sqlite:///"):
        db = Path(url.removeprefix("sqlite:///"))
        files += [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"), db.with_name(db.name + "-journal")]
    return files


def keystore_warning(path: Path) -> str | None:
    """A warning when the keystore file is readable or writable by group or others, else ``None``."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (f"keystore {path} is accessible by group/others (mode {stat.S_IMODE(mode):03o}): "
                f"chmod 600 {path}")
    return None


def harden_live_process(settings: Settings) -> Hardening:
    """Core dumps off, not dumpable, owner-only files, existing bot files 0600, keystore permissions checked."""
    report = Hardening()
    _no_core_dumps(report)
    os.umask(OWNER_ONLY_UMASK)
    report.umask = OWNER_ONLY_UMASK
    for path in bot_files(settings):
        try:
            if path.is_file() and stat.S_IMODE(path.stat().st_mode) & 0o077:
                path.chmod(0o600)
                report.files_restricted.append(str(path))
        except OSError as exc:
            report.failed.append(f"chmod {path}: {exc}")
    if settings.wallet.keystore:
        warning = keystore_warning(Path(settings.wallet.keystore))
        if warning:
            report.warnings.append(warning)
            log.warning(warning)
    for failure in report.failed:
        log.warning("live hardening: %s", failure)
    return report


def _wipe_process_environment(name: str) -> None:
    """Overwrite the value of ``name`` in the C environment block with zero bytes.

    ``os.environ.pop`` unsets the variable, but the original ``NAME=value`` bytes stay in the memory that
    ``/proc/<pid>/environ`` shows for the life of the process: they are zeroed in place first."""
    try:
        libc = ctypes.CDLL(None)
        block = ctypes.POINTER(ctypes.c_void_p).in_dll(libc, "environ")
    except (OSError, ValueError, AttributeError):
        return
    prefix = name.encode() + b"="
    i = 0
    while block[i]:
        address = block[i]
        entry = ctypes.string_at(address)
        if entry.startswith(prefix):
            ctypes.memset(address + len(prefix), 0, len(entry) - len(prefix))
        i += 1


def forget_secrets(settings: Settings, environ: dict[str, str] | None = None) -> list[str]:
    """Remove the secret environment variables (key, keystore password, Allora API key); their names, sorted.

    With the process environment (``environ`` not given) their values are also zeroed in the C environment block."""
    env = os.environ if environ is None else environ
    names = {settings.wallet.private_key_env, settings.wallet.password_env, settings.allora.api_key_env}
    names |= {settings.notify.telegram.token_env, settings.notify.webhook.url_env}  # read by build_notifiers before
    if environ is None:
        for name in names:
            if name in env:
                _wipe_process_environment(name)
    removed = sorted(name for name in names if env.pop(name, None) is not None)
    if removed:
        log.info("secrets read; removed from the environment: %s", ", ".join(removed))
    return removed
