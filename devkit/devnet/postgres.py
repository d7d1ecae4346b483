"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl on a free loopback port, removed after.

``PostgresCluster`` finds the server binaries (``$PG_BIN``, ``pg_config --bindir``, ``/usr/lib/postgresql/*/bin``),
creates a cluster in a temporary folder, starts it on ``127.0.0.1:<free port>`` (Unix socket in the same folder, no
TCP on any other interface) with ``trust`` authentication for the ``postgres`` role, and stops and deletes it on exit.
PostgreSQL refuses to run as root: when we are root the folder is handed to the ``postgres`` OS user and the server
commands run through ``runuser -u postgres --``. ``create_database()`` gives each test its own empty database;
``url(db)`` is the SQLAlchemy URL for the bot (``postgresql+psycopg://postgres@127.0.0.1:<port>/<db>``).

Durability settings are the server's defaults (fsync on, synchronous_commit on): the journal's commit cost measured
here is the real one.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

OS_USER = "postgres"  # the Debian package's server account
ROLE = "postgres"


class PostgresUnavailable(RuntimeError):
    """The server binaries are not installed (Debian package ``postgresql``) or the cluster would not start."""


def find_bindir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``."""
    candidates = [os.environ.get("PG_BIN", "")]
    pg_config = shutil.which("pg_config")
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)  # noqa: S603
        candidates.append(done.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    raise PostgresUnavailable("PostgreSQL server binaries not found (install the Debian package `postgresql` or set PG_BIN)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """``with PostgresCluster() as pg: url = pg.url(pg.create_database("t1"))``."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.port = 0
        self._tmp: Path | None = None
        self._as_root = os.geteuid() == 0

    @property
    def datadir(self) -> Path:
        assert self._tmp is not None, "cluster not started"
        return self._tmp / "data"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self._as_root:
            cmd = ["runuser", "-u", OS_USER, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603 — fixed binaries
        if check and done.returncode != 0:
            raise PostgresUnavailable(f"{Path(args[0]).name} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
        return done

    def start(self) -> PostgresCluster:
        self._tmp = Path(tempfile.mkdtemp(prefix="bot-pg-"))
        if self._as_root:
            shutil.chown(self._tmp, user=OS_USER, group=OS_USER)
        self.port = _free_port()
        try:
            self._run(str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", ROLE, "-A", "trust", "-E", "UTF8",
                      "--no-sync", "--no-instructions")
            options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self._tmp} -c max_connections=200"
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-o", options, "-w", "-t", "60",
                      "-l", str(self._tmp / "server.log"), "start")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._tmp is None:
            return
        if (self.datadir / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{ROLE}@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=ROLE, dbname="postgres", autocommit=True) as conn:
            conn.execute(sql.encode())

    def create_database(self, name: str) -> str:
        """Create an empty database ``name`` (letters, digits, underscores); returns the name."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"not a plain database name: {name!r}")
        self._admin(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, closing any connection still open on it."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"not a plain database name: {name!r}")
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
