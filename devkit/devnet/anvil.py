"""A local anvil node for tests and the demo: start, wait until it answers, control chain time, stop.

``AnvilNode`` runs the pinned anvil from ``node_modules`` (npm package ``@foundry-rs/anvil``) on a free loopback
port (or a fixed one). anvil dies with the process that started it (from its main thread), even on SIGKILL
(``devkit.devnet.procs.die_with_parent``), and a signal during ``start`` stops it before the exception goes on.
Chain time is the latest block's timestamp. With automine (the default) every transaction gets its own block; anvil
lets several blocks share one second, like BSC's sub-second blocks. To place a transaction at an exact second, call
``set_next_timestamp(ts)`` and then send it — but only after the previous transaction's receipt is in, or the earlier
transaction may take the new timestamp (docs/prediction-contracts.md, "Betting window and timing").
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
from eth_account import Account
from eth_typing import ChecksumAddress
from web3 import Web3

from devkit.devnet.procs import die_with_parent

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MNEMONIC = "test test test test test test test test test test test junk"  # anvil's well-known dev mnemonic
DEFAULT_CHAIN_ID = 31337


class AnvilError(RuntimeError):
    """anvil could not be found or started, or answered an RPC call with an error."""


def find_anvil() -> str:
    """Path of the anvil executable: ``$ANVIL_BIN``, the native binary in node_modules, its npm wrapper, or PATH."""
    env = os.environ.get("ANVIL_BIN")
    if env:
        return env
    modules = REPO_ROOT / "node_modules"
    for native in sorted((modules / "@foundry-rs").glob("anvil-*/bin/anvil")):
        if os.access(native, os.X_OK):
            return str(native)
    wrapper = modules / ".bin" / "anvil"
    if wrapper.exists():
        return str(wrapper)
    found = shutil.which("anvil")
    if found:
        return found
    raise AnvilError("anvil not found: run `npm ci` in the repository root or set ANVIL_BIN")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dev_private_keys(count: int, mnemonic: str = DEFAULT_MNEMONIC) -> list[str]:
    """Private keys (0x-hex) of anvil's dev accounts, derived like anvil does (m/44'/60'/0'/0/i)."""
    Account.enable_unaudited_hdwallet_features()
    return [
        "0x" + bytes(Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}").key).hex()
        for i in range(count)
    ]


class AnvilNode:
    """An anvil process on ``127.0.0.1:<port>``; use as a context manager or call ``start``/``stop``.

    ``block_time``: ``None`` automines every transaction; a float (e.g. 0.5) mines on that interval instead.
    ``accounts`` dev accounts are unlocked and funded with ``balance_eth`` ether each.
    """

    def __init__(
        self,
        *,
        block_time: float | None = None,
        chain_id: int = DEFAULT_CHAIN_ID,
        accounts: int = 10,
        balance_eth: int = 10_000,
        port: int | None = None,
        genesis_timestamp: int | None = None,
        extra_args: tuple[str, ...] = (),
        binary: str | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.block_time = block_time
        self.chain_id = chain_id
        self.account_count = accounts
        self.balance_eth = balance_eth
        self.port = port or 0
        self.genesis_timestamp = genesis_timestamp
        self.extra_args = extra_args
        self.binary = binary
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self._state_dir: str | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> AnvilNode:
        if self.running:
            return self
        fixed_port = self.port != 0
        last_error = ""
        for _ in range(1 if fixed_port else 3):
            if not fixed_port:
                self.port = free_port()
            self._spawn()  # AnvilError if the binary cannot run: no retry
            try:
                self._wait_ready()
            except AnvilError as exc:
                last_error = str(exc)
                self.stop()
                continue
            except BaseException:  # a signal (KeyboardInterrupt, devkit.devnet.procs.Stopped) mid start-up
                self.stop()
                raise
            atexit.register(self.stop)
            return self
        raise AnvilError(f"anvil did not start: {last_error}")

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate anvil (SIGTERM to its own process group), then kill it if it does not exit in ``timeout``."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            self._signal(proc, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(proc, signal.SIGKILL)
                proc.wait(timeout)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._state_dir:
            shutil.rmtree(self._state_dir, ignore_errors=True)
            self._state_dir = None
        atexit.unregister(self.stop)

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _command(self) -> list[str]:
        cmd = [
            self.binary or find_anvil(),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--accounts", str(self.account_count),
            "--balance", str(self.balance_eth),
            "--mnemonic", DEFAULT_MNEMONIC,
        ]  # fmt: skip
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        if self.genesis_timestamp is not None:
            cmd += ["--timestamp", str(self.genesis_timestamp)]
        # anvil persists old states to disk (~100 KB a block); keep them in a folder of ours, removed on stop, instead
        # of ~/.foundry/anvil/tmp where a killed node leaves them behind
        state_dir = tempfile.mkdtemp(prefix="anvil-states-")
        self._state_dir = state_dir
        cmd += ["--cache-path", state_dir]
        return cmd + list(self.extra_args)

    def _spawn(self) -> None:
        cmd = self._command()
        self._log = tempfile.TemporaryFile(prefix="anvil-")  # noqa: SIM115 - closed in stop()
        # the kernel kills anvil when the thread starting it ends (even on SIGKILL of this process): only from the
        # main thread, whose end is the process's
        main = threading.current_thread() is threading.main_thread()
        try:
            self._proc = subprocess.Popen(
                cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=die_with_parent() if main else None,  # noqa: PLW1509 - async-signal-safe calls only
            )
        except OSError as exc:
            self._log.close()
            self._log = None
            raise AnvilError(f"cannot run {cmd[0]}: {exc}") from exc

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise AnvilError(f"anvil exited early: {self._log_tail()}")
            try:
                self._post("web3_clientVersion", [])
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.05)
        raise AnvilError(f"anvil did not answer on {self.url} within {self.startup_timeout}s: {self._log_tail()}")

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return bytes(self._log.read()[-2000:]).decode(errors="replace").strip()

    @staticmethod
    def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)  # the group we created with start_new_session: anvil (and its npm wrapper)

    # ------------------------------------------------------------------ RPC

    def _post(self, method: str, params: list[Any]) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback URL we built
            reply = json.loads(resp.read())
        if "error" in reply:
            raise AnvilError(f"{method}: {reply['error'].get('message', reply['error'])}")
        return reply.get("result")

    def rpc(self, method: str, *params: Any) -> Any:
        """Raw JSON-RPC call; raises ``AnvilError`` on an error reply."""
        if not self.running:
            raise AnvilError("anvil is not running")
        return self._post(method, list(params))

    @cached_property
    def w3(self) -> Web3:
        session = requests.Session()
        session.trust_env = False  # loopback: skip proxy lookups from the environment on every request
        provider = Web3.HTTPProvider(
            self.url, request_kwargs={"timeout": 30}, session=session, cache_allowed_requests=True
        )
        return Web3(provider)

    @cached_property
    def accounts(self) -> list[ChecksumAddress]:
        """The unlocked, funded dev accounts (index 0 deploys by default)."""
        return [Web3.to_checksum_address(a) for a in self.rpc("eth_accounts")]

    @cached_property
    def private_keys(self) -> list[str]:
        """Private keys of ``accounts``, same order (anvil's well-known dev keys)."""
        return dev_private_keys(self.account_count)

    # ------------------------------------------------------------------ chain time and state

    def chain_time(self) -> int:
        """Timestamp of the latest block."""
        return int(self.rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16)

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def set_next_timestamp(self, ts: int) -> None:
        """The next block gets timestamp ``ts`` (>= the latest block's). Call after the previous receipt is in."""
        self.rpc("evm_setNextBlockTimestamp", int(ts))

    def mine(self, ts: int | None = None) -> int:
        """Mine one (empty unless transactions are pending) block, at ``ts`` if given; return its timestamp."""
        if ts is None:
            self.rpc("evm_mine")
        else:
            self.rpc("evm_mine", {"timestamp": int(ts), "blocks": 1})
        return self.chain_time()

    def advance_to(self, ts: int) -> int:
        """Mine an empty block at ``ts`` (no-op if chain time is already there); return chain time."""
        now = self.chain_time()
        return now if ts <= now else self.mine(ts)

    def snapshot(self) -> str:
        """Snapshot the whole chain state; ``revert(id)`` returns to it (each id can be reverted once)."""
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> bool:
        return bool(self.rpc("evm_revert", snapshot_id))

    def set_automine(self, enabled: bool) -> None:
        self.rpc("evm_setAutomine", enabled)

    def set_interval_mining(self, seconds: float) -> None:
        """Mine a block every ``seconds`` (0 disables interval mining)."""
        self.rpc("evm_setIntervalMining", seconds)

    def set_balance(self, address: str, wei: int) -> None:
        self.rpc("anvil_setBalance", Web3.to_checksum_address(address), hex(wei))

    def balance(self, address: str) -> int:
        return int(self.rpc("eth_getBalance", Web3.to_checksum_address(address), "latest"), 16)
