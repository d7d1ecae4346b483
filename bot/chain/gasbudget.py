"""Daily gas-spend cap of one account, enforced when a transaction is signed.

Today's spend (since midnight UTC, the same day as the stake caps) is read from the journal's ``tx_attempts`` on every
signing: the ``gas_cost_wei`` of mined attempts (reverted ones burn gas too) plus the worst case of attempts still in
flight (``signed``/``sent``: gas limit × max fee per gas; of several attempts sharing a nonce only one can be mined, so
per nonce the costliest counts). Transactions signed in this process but not journaled yet count as in flight too, so
two threads cannot pass the cap between them. A signing whose worst case would take the total above the cap is refused
with ``GasCapReached`` — nothing is signed.

Reads stay cheap as the journal grows: today's attempts are read from a watermark on the primary key. Below it every
attempt of ours is out of flight: the mined ones' gas is kept as a running sum (``mined`` is final), the others
(failed, replaced, dropped — any of which may still turn out mined, a receipt found later) are "parked" and re-read by
id on every read until they are mined. Each read thus fetches the rows from the oldest in-flight attempt on plus the
parked ones, then moves the watermark up. This relies on attempt ids being committed in id order, which the journal's
write lock gives (one writer at a time, on SQLite and on PostgreSQL). Everything restarts at the first attempt of each
new day.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from bot.chain.policy import PolicyRefusal
from bot.chain.txcodec import gas_limit_of
from bot.store import hotjournal
from bot.store.hotjournal import day_start

IN_FLIGHT = ("signed", "sent")
# static SQL on the journal's pooled hot-path connection (SQLite, or PostgreSQL translated by hotjournal)
COLUMNS = "id, account, status, nonce, max_fee_wei, gas_cost_wei, raw_tx, tx_hash"
TAIL = f"SELECT {COLUMNS} FROM tx_attempts WHERE id >= ? AND created_at >= ? ORDER BY id"  # noqa: S608
PARKED = f"SELECT {COLUMNS} FROM tx_attempts WHERE id = ?"  # noqa: S608
FIRST_OF_DAY = "SELECT MIN(id) FROM tx_attempts WHERE id >= ? AND created_at >= ?"
LAST_ID = "SELECT MAX(id) FROM tx_attempts"


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
        self._watermark = 0  # no attempt of ours below this id (today) is in flight ...
        self._settled_wei = 0  # ... the mined ones cost this much ...
        self._parked: set[int] = set()  # ... and these ids are not mined (yet): re-read every time

    def spend(self) -> GasSpend:
        """Today's spend of the account: the journal's attempts plus what this process signed and has not journaled."""
        with self._lock:
            return self._spend()

    def sign_within(self, nonce: int, worst_wei: int, sign: Callable[[], tuple[bytes, str]]) -> tuple[bytes, str]:
        """Run ``sign`` only if a transaction costing at most ``worst_wei`` at ``nonce`` fits today's cap."""
        with self._lock:
            spend = self._spend()
            if spend.total(nonce, worst_wei) > self.cap_wei:
                raise GasCapReached(
                    f"refusing to sign: daily gas cap {self.cap_wei} wei reached ({spend.mined_wei} wei paid today, "
                    f"{spend.total() - spend.mined_wei} in flight at worst, this transaction up to {worst_wei})"
                )
            raw, tx_hash = sign()
            self._pending[tx_hash.lower()] = (day_start(self.clock()), nonce, worst_wei)
        return raw, tx_hash

    def journaled(self, tx_hash: str) -> None:
        """The attempt ``tx_hash`` is in the journal now (its worst case is read from there)."""
        with self._lock:
            self._pending.pop(tx_hash.lower(), None)

    # -- reading the journal (lock held) ----------------------------------------------------------------------------
    def _spend(self) -> GasSpend:
        day = day_start(self.clock())
        with hotjournal.connection(self.engine) as conn:
            if day != self._day:
                self._start_day(conn, day)
            parked = [row for i in sorted(self._parked) for row in conn.execute(PARKED, (i,)).fetchall()]
            tail = conn.execute(TAIL, (self._watermark, day)).fetchall()
        flights: dict[int, int] = {}
        journaled: set[str] = set()

        def in_flight(nonce: int, max_fee: int, raw_hex: str, tx_hash: str) -> None:
            worst = gas_limit_of(bytes.fromhex(str(raw_hex))) * int(max_fee)
            flights[int(nonce)] = max(flights.get(int(nonce), 0), worst)
            journaled.add(str(tx_hash).lower())

        for attempt_id, _, status, nonce, max_fee, gas_cost, raw_hex, tx_hash in parked:
            if status == "mined":
                self._settled_wei += int(gas_cost or 0)
                self._parked.discard(int(attempt_id))
            elif status in IN_FLIGHT:
                in_flight(nonce, max_fee, raw_hex, tx_hash)
        mined_above = 0
        below = True  # still in the prefix without anything of ours in flight: folded below the watermark
        for attempt_id, account, status, nonce, max_fee, gas_cost, raw_hex, tx_hash in tail:
            ours = account == self.account
            if below and not (ours and status in IN_FLIGHT):
                self._watermark = int(attempt_id) + 1
                if ours and status == "mined":
                    self._settled_wei += int(gas_cost or 0)
                elif ours:
                    self._parked.add(int(attempt_id))
                continue
            below = False
            if ours and status == "mined":
                mined_above += int(gas_cost or 0)
            elif ours and status in IN_FLIGHT:
                in_flight(nonce, max_fee, raw_hex, tx_hash)
        for tx_hash, (signed_on, nonce, worst) in list(self._pending.items()):
            if signed_on != day:
                del self._pending[tx_hash]  # yesterday's: its cost no longer counts today
            elif tx_hash not in journaled:
                flights[nonce] = max(flights.get(nonce, 0), worst)
        return GasSpend(self._settled_wei + mined_above, flights)

    def _start_day(self, conn: hotjournal.Conn, day: float) -> None:
        """Watermark at the day's first attempt (scanning forward from the previous day's), nothing settled or parked."""
        first = conn.execute(FIRST_OF_DAY, (self._watermark, day)).fetchone()[0]
        if first is None:
            first = int(conn.execute(LAST_ID).fetchone()[0] or 0) + 1
        self._day, self._watermark, self._settled_wei = day, int(first), 0
        self._parked.clear()
