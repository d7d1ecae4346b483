"""A keeper (round operator) for our devnet markets: runs rounds from a price series.

Each price of the series is used by one keeper action, in order: genesis start, genesis lock, then one
``executeRound`` per price. V2/V3: the keeper pushes the price to the MockAggregator (``updateAnswer``) right before
each lock/execute. AI dialect: the price is passed to the contract, and ``ai_price_for(epoch, price)`` gives the AI's
prediction for each round the action starts.

Two ways to drive time:
- explicit (tests): ``run`` and ``next_round`` stamp every action at an exact chain second with
  ``evm_setNextBlockTimestamp`` (set only after the previous receipt is in); nothing waits on the wall clock.
- real time (demo): ``run_realtime`` sleeps until each round's lock (+ ``delay``) and executes. Deploy with a short
  interval (e.g. 10 s interval, 2 s buffer) to speed the demo up.

A step listed in ``misses`` is skipped (a late operator): the round can no longer be executed, so the keeper pauses
(operator), unpauses (admin: on the genuine V2 only the admin may) and restarts genesis with that step's price; the two
rounds left behind become refundable. In real time the keeper recovers the same way when it is late by accident (its
lock/execute lands after lock + buffer on a loaded machine) instead of stopping the rounds.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Literal

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError
from web3.types import TxReceipt

from devkit.devnet.deploy import Deployment
from devkit.devnet.tx import block_timestamp, chain_time, mine_at, transact

Action = Literal["genesis_start", "genesis_lock", "execute", "miss", "pause", "unpause", "price"]
AiPriceFor = Callable[[int, int], int]  # (epoch being started, current price) -> AI price


@dataclass(frozen=True, slots=True)
class KeeperEvent:
    """One keeper action. ``epoch`` is ``currentEpoch`` after it; ``timestamp`` its block time (0 for a miss)."""

    action: Action
    epoch: int
    timestamp: int
    price: int | None = None
    ai_price: int | None = None
    tx_hash: str | None = None


class KeeperError(RuntimeError):
    """The keeper cannot do what was asked (wrong dialect, missing AI price, time going backwards)."""


class Keeper:
    """Operates one deployed market (``Deployment``) from its operator account; unpauses from its admin account."""

    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        *,
        sender: ChecksumAddress | None = None,
        admin: ChecksumAddress | None = None,
        ai_price_for: AiPriceFor | None = None,
        on_event: Callable[[KeeperEvent], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.sender = sender or deployment.roles.operator
        self.admin = admin or deployment.roles.admin
        self.ai_price_for = ai_price_for
        self.on_event = on_event
        self._sleep = sleep
        self._wall = wall_clock
        self._clock_offset: float | None = None  # chain time - wall time, measured at each receipt
        self._last_block_ts = 0
        self.market: Contract = deployment.market(w3)
        self.oracle: Contract | None = deployment.oracle(w3) if deployment.oracle_address else None
        self.interval = deployment.config.interval_seconds
        self.buffer = deployment.config.buffer_seconds

    # ------------------------------------------------------------------ reads

    @property
    def is_ai(self) -> bool:
        return self.deployment.dialect == "ai"

    def current_epoch(self) -> int:
        return int(self.market.functions.currentEpoch().call())

    def lock_timestamp(self, epoch: int | None = None) -> int:
        """``lockTimestamp`` of ``epoch`` (default: the current round)."""
        rnd = self.market.functions.rounds(self.current_epoch() if epoch is None else epoch).call()
        return int(rnd[1] if self.is_ai else rnd[2])

    def genesis_state(self) -> tuple[bool, bool]:
        """(genesisStartOnce, genesisLockOnce)."""
        fns = self.market.functions
        return bool(fns.genesisStartOnce().call()), bool(fns.genesisLockOnce().call())

    def chain_time(self) -> int:
        return chain_time(self.w3)

    # ------------------------------------------------------------------ single actions (at: exact block second)

    def push_price(self, price: int, *, at: int | None = None) -> KeeperEvent:
        """V2/V3: ``updateAnswer(price)`` on the MockAggregator (new oracle round id)."""
        if self.oracle is None:
            raise KeeperError("the AI dialect has no oracle: prices go to executeRound")
        receipt = self._send(self.oracle.functions.updateAnswer(price), at)
        return self._event("price", receipt, price=price)

    def genesis_start(
        self, ai_price: int | None = None, *, price: int | None = None, at: int | None = None
    ) -> KeeperEvent:
        """Start round 1 (or the first round after unpause). AI: ``ai_price`` (or ``ai_price_for``) is required."""
        epoch = self.current_epoch() + 1
        if self.is_ai:
            ai = self._ai_price(epoch, price, ai_price)
            receipt = self._send(self.market.functions.genesisStartRound(ai), at)
        else:
            ai = None
            receipt = self._send(self.market.functions.genesisStartRound(), at)
        return self._event("genesis_start", receipt, price=price, ai_price=ai)

    def genesis_lock(self, price: int, ai_price: int | None = None, *, at: int | None = None) -> KeeperEvent:
        """Lock the genesis round at ``price`` and start the next round."""
        return self._lock_action("genesis_lock", price, ai_price, at)

    def execute(self, price: int, ai_price: int | None = None, *, at: int | None = None) -> KeeperEvent:
        """``executeRound``: lock the current round and close the previous one at ``price``; start the next."""
        return self._lock_action("execute", price, ai_price, at)

    def pause(self, *, at: int | None = None) -> KeeperEvent:
        return self._event("pause", self._send(self.market.functions.pause(), at))

    def unpause(self, *, at: int | None = None) -> KeeperEvent:
        """Unpause from the admin account (the operator may not); genesis must run again afterwards."""
        return self._event("unpause", self._send(self.market.functions.unpause(), at, sender=self.admin))

    # ------------------------------------------------------------------ explicit time (tests)

    def advance_to(self, ts: int) -> int:
        """Mine an empty block at ``ts`` unless chain time is already there; return chain time."""
        now = self.chain_time()
        if ts > now:
            mine_at(self.w3, ts)
            return ts
        return now

    def kickoff(self, start_price: int, lock_price: int, *, start_at: int | None = None, delay: int = 0) -> None:
        """Genesis start (at ``start_at`` or now) and genesis lock at lock + ``delay``."""
        self.genesis_start(price=start_price, at=start_at)
        self.genesis_lock(lock_price, at=self.lock_timestamp() + delay)

    def next_round(self, price: int, ai_price: int | None = None, *, delay: int = 0) -> KeeperEvent:
        """``executeRound`` exactly ``delay`` seconds after the current round's lock."""
        return self.execute(price, ai_price, at=self.lock_timestamp() + delay)

    def miss_and_recover(self, price: int, ai_price: int | None = None, *, at: int | None = None) -> KeeperEvent:
        """Let the current round's execution window pass (chain time -> lock + buffer + 1, or ``at``), then pause,
        unpause and genesis-start again with ``price``. Returns the miss event."""
        late = at if at is not None else self.lock_timestamp() + self.buffer + 1
        return self._recover(price, ai_price, late, late)

    def run(
        self,
        prices: Iterable[int],
        *,
        delay: int = 0,
        misses: Collection[int] = (),
        start_at: int | None = None,
    ) -> list[KeeperEvent]:
        """Explicit-time run: each price feeds one action (genesis start, genesis lock, execute, ...).

        Locks/executions land exactly ``delay`` s after lock; step indices in ``misses`` are skipped (late operator).
        """
        events: list[KeeperEvent] = []
        collect = self._collector(events)
        try:
            for step, price in enumerate(prices):
                phase = self._phase()
                if phase == "idle":
                    self.genesis_start(price=price, at=start_at if step == 0 else None)
                elif step in misses:
                    self.miss_and_recover(price)
                else:
                    lock = self.lock_timestamp()
                    action = self.genesis_lock if phase == "started" else self.execute
                    action(price, at=lock + delay)
        finally:
            self.on_event = collect.previous
        return events

    # ------------------------------------------------------------------ real time (demo)

    def run_realtime(
        self,
        prices: Iterable[int],
        *,
        delay: float = 1.0,
        misses: Collection[int] = (),
        stop: threading.Event | None = None,
    ) -> int:
        """Wall-clock run for the demo: sleep until each lock + ``delay``, then lock/execute. Returns steps done.

        ``stop`` ends the run between steps. Chain time is estimated as wall time + the offset seen in receipts.
        """
        done = 0
        for step, price in enumerate(prices):
            if stop is not None and stop.is_set():
                break
            phase = self._phase()
            if phase == "idle":
                self.genesis_start(price=price)
            elif step in misses:
                late = self.lock_timestamp() + self.buffer + 1
                if not self._sleep_until(late, stop):
                    break
                self._recover(price, None, late, None)
            else:
                lock = self.lock_timestamp()
                if not self._sleep_until(lock + delay, stop):
                    break
                action = self.genesis_lock if phase == "started" else self.execute
                try:
                    self._until_on_time(functools.partial(action, price), lock + self.buffer, stop)
                except ContractLogicError as exc:  # late (a loaded machine): recover as from a scheduled miss
                    if "within bufferSeconds" not in str(exc):
                        raise
                    self._recover(price, None, self.chain_time(), None)
            done += 1
        return done

    # ------------------------------------------------------------------ internals

    def _phase(self) -> Literal["idle", "started", "running"]:
        started, locked = self.genesis_state()
        if not started:
            return "idle"
        return "running" if locked else "started"

    def _recover(self, price: int, ai_price: int | None, late: int, at: int | None) -> KeeperEvent:
        miss = KeeperEvent("miss", self.current_epoch(), late, price=price)
        self._emit(miss)
        self.pause(at=at)
        self.unpause(at=at)
        self.genesis_start(ai_price, price=price, at=at)
        return miss

    def _lock_action(
        self, action: Literal["genesis_lock", "execute"], price: int, ai_price: int | None, at: int | None
    ) -> KeeperEvent:
        next_epoch = self.current_epoch() + 1
        fns = self.market.functions
        fn = fns.genesisLockRound if action == "genesis_lock" else fns.executeRound
        if self.is_ai:
            ai = self._ai_price(next_epoch, price, ai_price)
            receipt = self._send(fn(price, ai), at)
            return self._event(action, receipt, price=price, ai_price=ai)
        self.push_price(price, at=at)
        return self._event(action, self._send(fn(), at), price=price)

    def _ai_price(self, epoch: int, price: int | None, explicit: int | None) -> int:
        if explicit is not None:
            return explicit
        if self.ai_price_for is None or price is None:
            raise KeeperError(f"AI dialect: no AI price for epoch {epoch} (pass ai_price or ai_price_for)")
        return self.ai_price_for(epoch, price)

    def _send(self, call: ContractFunction, at: int | None, *, sender: ChecksumAddress | None = None) -> TxReceipt:
        if at is not None:
            now = self.chain_time()
            if at < now:
                raise KeeperError(f"cannot stamp a block at {at}: chain time is already {now}")
        receipt = transact(self.w3, call, {"from": sender or self.sender}, at=at)
        self._last_block_ts = block_timestamp(self.w3, receipt)
        self._clock_offset = self._last_block_ts - self._wall()
        return receipt

    def _event(
        self, action: Action, receipt: TxReceipt, *, price: int | None = None, ai_price: int | None = None
    ) -> KeeperEvent:
        tx_hash = receipt["transactionHash"].to_0x_hex()
        ev = KeeperEvent(action, self.current_epoch(), self._last_block_ts, price, ai_price, tx_hash)
        self._emit(ev)
        return ev

    def _emit(self, ev: KeeperEvent) -> None:
        if self.on_event is not None:
            self.on_event(ev)

    def _collector(self, events: list[KeeperEvent]) -> _Collector:
        collect = _Collector(events, self.on_event)
        self.on_event = collect
        return collect

    def _estimated_chain_time(self) -> float:
        if self._clock_offset is None:
            self._clock_offset = self.chain_time() - self._wall()
        return self._wall() + self._clock_offset

    def _sleep_until(self, chain_ts: float, stop: threading.Event | None) -> bool:
        """Sleep until the estimated chain time reaches ``chain_ts``; False if ``stop`` was set meanwhile."""
        while True:
            remaining = chain_ts - self._estimated_chain_time()
            if remaining <= 0:
                return True
            wait = min(remaining, 1.0)
            if stop is not None:
                if stop.wait(wait):
                    return False
            else:
                self._sleep(wait)

    def _until_on_time(self, action: Callable[[], KeeperEvent], deadline: int, stop: threading.Event | None) -> None:
        """Retry ``action`` while the chain is still before lockTimestamp (estimate a little early)."""
        while True:
            try:
                action()
                return
            except ContractLogicError as exc:
                early = "after lockTimestamp" in str(exc) or "after closeTimestamp" in str(exc)
                if not early or self._estimated_chain_time() > deadline:
                    raise
                self._clock_offset = (self._clock_offset or 0.0) - 0.25
                if not self._sleep_until(self._estimated_chain_time() + 0.25, stop):
                    return


class _Collector:
    """on_event hook that records events and forwards them to the previous hook."""

    def __init__(self, events: list[KeeperEvent], previous: Callable[[KeeperEvent], None] | None) -> None:
        self.events = events
        self.previous = previous

    def __call__(self, ev: KeeperEvent) -> None:
        self.events.append(ev)
        if self.previous is not None:
            self.previous(ev)
