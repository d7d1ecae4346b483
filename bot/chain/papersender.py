"""The paper sender: the executor's sender for paper mode (``TxSender``'s surface, nothing signed or broadcast).

Paper mode is this adapter and nothing else: the executor drives a paper bet through the same lifecycle as a live one
(intent -> attempt journaled -> sent -> landed) and the reconciler settles it through the same code, on the round as it
would have been with our stake in it (``bot.reconcile.paperbook``). Here ``submit`` journals an attempt carrying the
unsigned call (``raw_tx`` = the calldata, a ``paper:`` hash that can never be a real transaction's) and "fills" it at
once: its receipt is status 1 in the chain's head block at that moment, 0 gas — a fill at the pools seen at decision
time, exactly the stake the intent holds. No key, no nonce from the chain, no gas budget.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

from eth_utils import keccak
from sqlalchemy.engine import Engine
from web3 import Web3

from bot.chain.gas import Fees
from bot.chain.sender import Broadcast, Receipt
from bot.markets.base import TxRequest
from bot.store import hotjournal

PAPER_HASH_PREFIX = "paper:"
NO_FEES = Fees(legacy=True)


class PaperNonces:
    """Nonces of paper attempts: a local count (they only order one account's paper attempts in the journal)."""

    def __init__(self) -> None:
        self._count = itertools.count()
        self._lock = threading.Lock()

    def reserve(self, account: str) -> int:
        with self._lock:
            return next(self._count)

    def release(self, account: str, nonce: int) -> None:
        """Nothing to give back: a paper nonce leaves no gap."""

    def resync(self, account: str) -> int:
        return 0

    def sync(self, account: str) -> int:
        return 0


class PaperGas:
    def bump(self, fees: Fees) -> Fees:
        raise ValueError("a paper fill is never replaced")


class PaperSender:
    mode = "paper"

    def __init__(self, w3: Web3, address: str, engine: Engine) -> None:
        self.w3 = w3
        self.address = address
        self.engine = engine
        self.nonces = PaperNonces()
        self.gas = PaperGas()
        self._filled: dict[str, Receipt] = {}

    def fees(self, max_age: float = 2.0) -> Fees:
        return NO_FEES

    def warm(self) -> None:
        """Nothing cached."""

    def submit(
        self,
        tx: TxRequest,
        market: str,
        *,
        intent_id: int | None = None,
        gas_limit: int | None = None,
        may_resign: Callable[[int], bool] = lambda nonce: True,
        step: Callable[[str], None] | None = None,
        mark: Callable[..., None] | None = None,
    ) -> Broadcast:
        """Journal the paper attempt (the intent moves to SIGNED), fill it in the head block, mark it sent."""
        nonce = self.nonces.reserve(self.address)
        if mark:
            mark("nonce-fees")
        digest = keccak(f"{self.address}:{market}:{intent_id}:{nonce}:{time.time_ns()}:{tx.data}".encode())
        tx_hash = PAPER_HASH_PREFIX + digest.hex()[:60]
        if mark:
            mark("sign")
        fields = {
            "intent_id": intent_id, "kind": tx.kind, "market": market, "account": self.address, "nonce": nonce,
            "tx_hash": tx_hash, "raw_tx": tx.data.removeprefix("0x"), "epochs": ",".join(str(e) for e in tx.epochs),
            "max_fee_wei": 0, "priority_fee_wei": 0,
        }
        with hotjournal.write(self.engine, self.address) as conn:
            attempt_id = hotjournal.insert_attempt(conn, fields, time.time())
        if mark:
            mark("journal-commit")
        if step:
            step("after-sign")
        handed = time.perf_counter()
        if mark:
            mark("handed", handed)
        self._filled[tx_hash] = Receipt(tx_hash, 1, int(self.w3.eth.block_number), 0, 0)
        with hotjournal.write(self.engine, self.address) as conn:
            hotjournal.mark_attempt(conn, attempt_id, "sent")
        if step:
            step("after-broadcast")
        return Broadcast(attempt_id, tx_hash, nonce, NO_FEES, handed, "sent")

    def receipt(self, tx_hash: str) -> Receipt | None:
        return self._filled.pop(tx_hash, None) if tx_hash.startswith(PAPER_HASH_PREFIX) else None

    def wait(self, tx_hash: str, timeout: float, poll: float = 0.05) -> Receipt | None:
        return self.receipt(tx_hash)

    def broadcast_or_unknown(self, raw: bytes) -> tuple[str, str]:
        """A paper attempt left open by a crash is not rebroadcast: nothing was ever sent."""
        return "rejected", "a paper fill is not rebroadcast"

    def replace(self, tx: TxRequest, market: str, nonce: int, fees: Fees, intent_id: int | None = None) -> str:
        raise ValueError("a paper fill is never replaced")

    def send(self, tx: TxRequest, market: str, gas_limit: int | None = None) -> tuple[str, Receipt | None]:
        """Approvals in paper mode: nothing to approve (no token moves); reported as done."""
        return "", Receipt("", 1, int(self.w3.eth.block_number), 0, 0)
