"""Daily gas-spend cap of one account, enforced when a transaction is signed.

Today's spend (since midnight UTC, the same day as the stake caps) is read from the journal's ``tx_attempts`` on every
signing: the ``gas_cost_wei`` of mined attempts (reverted ones burn gas too) plus the worst case of attempts still in
flight (``signed``/``sent``: gas limit × max fee per gas; of several attempts sharing a nonce only one can be mined, so
per nonce the costliest counts). Transactions signed in this process but not journaled yet count as in flight too, so
two threads cannot pass the cap between them. A signing whose worst case would take the total above the cap is refused
with ``GasCapReached`` — nothing is signed.

Reads stay cheap as the journal grows: the first attempt id of the day is found once a day (scanning forward from the
previous day's), and every later read is a range on the primary key.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy.engine import Connection, Engine

from bot.chain.policy import PolicyRefusal
from bot.chain.txcodec import gas_limit_of
from bot.store.hotjournal import day_start
from bot.store.journal import TxAttempt

ATTEMPTS = TxAttempt.__table__
IN_FLIGHT = ("signed", "sent")


class GasCapReached(PolicyRefusal):
    """Signing would take today's gas spend (mined + worst case in flight) above ``risk.max_gas_per_day_wei``."""


@dataclass(frozen=True)
class GasSpend:
    mined_wei: int  # gas paid by today's mined attempts
    in_flight: dict[int, int]  # nonce -> worst-case cost of today's unresolved attempts with that nonce

    def total(self, nonce: int | None = None, worst_wei: int = 0) -> int:
        """Today's spend if one more transaction (``nonce``, ``worst_wei``) were signed."""
        flights = dict(self.in_flight)
        if nonce is not None:
            flights[nonce] = max(flights.get(nonce, 0), worst_wei)
        return self.mined_wei + sum(flights.values())


class GasBudget:
    def __init__(self, engine: Engine, account: str, cap_wei: int, clock: Callable[[], float] = time.time) -> None:
        if isinstance(cap_wei, bool) or not isinstance(cap_wei, int) or cap_wei <= 0:
            raise ValueError("cap_wei: a positive int (wei)")
        self.engine = engine
        self.account = account
        self.cap_wei = cap_wei
        self.clock = clock
        self._lock = threading.Lock()
        # tx hash -> (day, nonce, worst case): signed here, not journaled yet
        self._pending: dict[str, tuple[float, int, int]] = {}
        self._day = -1.0
        self._first_id = 0

    def spend(self) -> GasSpend:
        """Today's spend of the account: the journal's attempts plus what this process signed and has not journaled."""
        with self._lock:
            return self._spend()

    def _spend(self) -> GasSpend:
        day = day_start(self.clock())
        with self.engine.connect() as conn:
            first = self._first_id_of(conn, day)
            recent = (ATTEMPTS.c.id >= first, ATTEMPTS.c.account == self.account, ATTEMPTS.c.created_at >= day)
            mined = conn.execute(
                select(func.sum(cast(ATTEMPTS.c.gas_cost_wei, BigInteger))).where(*recent, ATTEMPTS.c.status == "mined")
            ).scalar()
            rows = conn.execute(
                select(ATTEMPTS.c.nonce, ATTEMPTS.c.max_fee_wei, ATTEMPTS.c.raw_tx, ATTEMPTS.c.tx_hash).where(
                    *recent, ATTEMPTS.c.status.in_(IN_FLIGHT)
                )
            ).all()
        flights: dict[int, int] = {}
        journaled: set[str] = set()
        for nonce, max_fee, raw_hex, tx_hash in rows:
            worst = gas_limit_of(bytes.fromhex(str(raw_hex))) * int(max_fee)
            flights[int(nonce)] = max(flights.get(int(nonce), 0), worst)
            journaled.add(str(tx_hash).lower())
        for tx_hash, (signed_on, nonce, worst) in list(self._pending.items()):
            if signed_on != day:
                del self._pending[tx_hash]  # yesterday's: its cost no longer counts today
            elif tx_hash not in journaled:
                flights[nonce] = max(flights.get(nonce, 0), worst)
        return GasSpend(int(mined or 0), flights)

    def sign_within(self, nonce: int, worst_wei: int, sign: Callable[[], tuple[bytes, str]]) -> tuple[bytes, str]:
        """Run ``sign`` only if a transaction costing at most ``worst_wei`` at ``nonce`` fits today's cap."""
        with self._lock:
            spend = self._spend()
            total = spend.total(nonce, worst_wei)
            if total > self.cap_wei:
                raise GasCapReached(
                    f"refusing to sign: daily gas cap {self.cap_wei} wei reached ({spend.mined_wei} wei paid today, "
                    f"{spend.total() - spend.mined_wei} in flight, this transaction up to {worst_wei})"
                )
            raw, tx_hash = sign()
            self._pending[tx_hash.lower()] = (day_start(self.clock()), nonce, worst_wei)
        return raw, tx_hash

    def journaled(self, tx_hash: str) -> None:
        """The attempt ``tx_hash`` is in the journal now (its worst case is read from there)."""
        with self._lock:
            self._pending.pop(tx_hash.lower(), None)

    def _first_id_of(self, conn: Connection, day: float) -> int:
        """The lowest attempt id created today (or the next id when none is), found once a day."""
        if day != self._day:
            first = conn.execute(
                select(func.min(ATTEMPTS.c.id)).where(ATTEMPTS.c.id >= self._first_id, ATTEMPTS.c.created_at >= day)
            ).scalar()
            if first is None:
                first = int(conn.execute(select(func.max(ATTEMPTS.c.id))).scalar() or 0) + 1
            self._day, self._first_id = day, int(first)
        return self._first_id
