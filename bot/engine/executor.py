"""Executors: turn a decided bet into a journaled intent and — live — a transaction that lands before lock.

Live path (each step one DB transaction, in this order):
1. intent row committed (unique per market/epoch/account: a second intent for the round is impossible), the spending
   caps checked in the same transaction (a violation is committed as a FAILED intent);
2. timing guard (never send when chain time >= lock - 1); pre-flight ``eth_call`` against pending;
3. sign, commit the raw transaction + hash, then broadcast to every RPC;
4. watch: landed / reverted (with the contract's reason) / too late / dropped; same-nonce fee bump while still bettable.
Paper path: the same intent row, filled at the pools seen at decision time; settled later on the real outcome.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.chain.clock import last_bettable_second
from bot.chain.sender import Receipt, TxSender
from bot.domain import Position
from bot.engine.trace import BetTrace
from bot.errors import OperationalError, RevertError, TemporaryError
from bot.markets.base import PredictionMarket, TxRequest
from bot.store import hotjournal
from bot.store.db import engine_of, session_scope
from bot.store.journal import Intent, IntentState, TxAttempt

log = logging.getLogger(__name__)

LATE_REASONS = ("Round not bettable", "Bet is too early/late")


@dataclass
class BetRequest:
    market: PredictionMarket
    epoch: int
    position: Position
    amount: int
    lock_ts: int
    start_ts: int = 0
    strategy: str = ""
    decision: dict[str, Any] = field(default_factory=dict)
    origin: str = "daemon"
    fired_at: float = 0.0
    trace: BetTrace | None = None  # phase marks along the hot path (None: not traced)

    def mark(self, phase: str, at: float | None = None) -> None:
        if self.trace is not None:
            self.trace.mark(phase, at)


@dataclass
class BetResult:
    intent_id: int | None
    state: IntentState
    reason: str = ""
    tx_hash: str | None = None
    latency: float | None = None  # seconds from trigger to raw tx handed to the RPC
    duplicate: bool = False
    phases: dict[str, float] | None = None  # ms per hot-path phase, when the request was traced


@dataclass
class SpendingCaps:
    """Hard caps enforced by the executor itself, whatever the strategy or risk plugins said."""

    max_per_bet: int
    max_per_day: int

    def check(self, conn: sqlite3.Connection, account: str, amount: int, now: float) -> str | None:
        if amount > self.max_per_bet:
            return f"stake {amount} wei exceeds the per-bet cap {self.max_per_bet}"
        spent = hotjournal.staked_today(conn, account, now)
        if spent + amount > self.max_per_day:
            return f"daily cap: {spent} wei already staked today, cap {self.max_per_day}"
        return None


class Executor(Protocol):
    account: str
    mode: str

    def place(self, req: BetRequest) -> BetResult: ...

    def prepare(self) -> None:
        """Refresh caches the bet path reads (called by the daemon's watch job)."""


def _crashpoint(name: str) -> None:
    """Fault injection for crash tests: ``ALLORA_BOT_CRASH_AT=<name>`` kills the process here (no cleanup)."""
    if os.environ.get("ALLORA_BOT_CRASH_AT") == name:
        os._exit(137)


def _open_intent(
    sessions: sessionmaker[Session], req: BetRequest, account: str, mode: str, caps: SpendingCaps | None = None
) -> tuple[int, bool, str]:
    """Commit the intent row (one transaction under the write lock; a cap violation is committed as a FAILED intent).

    Returns (intent id, created, state).
    """
    now = time.time()
    with hotjournal.write(engine_of(sessions)) as conn:
        existing = hotjournal.intent_state(conn, req.market.name, req.epoch, account)
        if existing is not None:
            return existing[0], False, existing[1]
        denied = caps.check(conn, account, req.amount, now) if caps is not None else None
        fields = {
            "market": req.market.name,
            "epoch": req.epoch,
            "account": account,
            "mode": mode,
            "origin": req.origin,
            "position": int(req.position),
            "amount_wei": req.amount,
            "strategy": req.strategy,
            "decision": json.dumps(req.decision, default=str, sort_keys=True),
            "lock_ts": req.lock_ts,
            "fired_at": req.fired_at,
        }
        if denied:
            fields |= {"state": IntentState.FAILED.value, "reason": denied}
        return hotjournal.insert_intent(conn, fields, now), True, str(fields.get("state", IntentState.INTENDED.value))


def _set_state(sessions: sessionmaker[Session], intent_id: int, state: IntentState, reason: str = "", **attrs: Any) -> None:
    with session_scope(sessions) as s:
        intent = s.get(Intent, intent_id)
        if intent is None:
            return
        intent.set_state(state, reason or None)
        for key, value in attrs.items():
            setattr(intent, key, value)


class PaperExecutor:
    """Simulated fills: the journal records what would have been bet, at the pools seen at decision time."""

    mode = "paper"

    def __init__(self, sessions: sessionmaker[Session], account: str, caps: SpendingCaps | None = None) -> None:
        self.sessions = sessions
        self.account = account
        self.caps = caps

    def prepare(self) -> None:
        """Nothing cached: a paper fill makes no RPC."""

    def place(self, req: BetRequest) -> BetResult:
        intent_id, created, state = _open_intent(self.sessions, req, self.account, self.mode, self.caps)
        if not created:
            return BetResult(intent_id, IntentState(state), "already decided for this round", duplicate=True)
        if state == IntentState.FAILED.value:
            return BetResult(intent_id, IntentState.FAILED, "spending cap")
        _set_state(self.sessions, intent_id, IntentState.PAPER, "simulated fill at decision-time pools")
        return BetResult(intent_id, IntentState.PAPER, "paper fill", latency=time.perf_counter() - req.fired_at if req.fired_at else None)


class LiveExecutor:
    mode = "live"

    def __init__(
        self,
        sender: TxSender,
        sessions: sessionmaker[Session],
        chain_now: Callable[[], float],
        caps: SpendingCaps | None = None,
        replace_after: float = 3.0,
        late_grace: float = 15.0,
        preflight: bool = True,
        watch: bool = True,
    ) -> None:
        self.sender = sender
        self.sessions = sessions
        self.account = sender.address
        self.chain_now = chain_now
        self.caps = caps
        self.replace_after = replace_after
        self.late_grace = late_grace
        self.preflight = preflight
        self.watch_receipts = watch
        self.last_accepted_latency = 0.0  # seconds the node took to answer the last broadcast

    def prepare(self) -> None:
        """Refresh the cached fee suggestion when it is over a second old (the watch job calls this)."""
        self.sender.fees(max_age=1.0)

    # -- placing ------------------------------------------------------------------------------------------------------
    def place(self, req: BetRequest) -> BetResult:
        fired = req.fired_at or time.perf_counter()
        if req.market.spec.currency == "erc20":
            self.ensure_allowance(req.market, req.amount)
        tx = req.market.build_bet(req.position, req.epoch, req.amount)
        req.mark("build")
        intent_id, created, state = _open_intent(self.sessions, req, self.account, self.mode, self.caps)
        req.mark("intent-commit")
        if not created and state != IntentState.INTENDED.value:
            return BetResult(intent_id, IntentState(state), "already decided for this round", duplicate=True)
        if state == IntentState.FAILED.value:
            return BetResult(intent_id, IntentState.FAILED, "spending cap")
        _crashpoint("after-intent")
        checked = self._checks(req, tx)  # chain clock + pre-flight eth_call against pending
        req.mark("preflight")
        return self._drive(intent_id, req, fired, tx, checked)

    def ensure_allowance(self, market: PredictionMarket, amount: int) -> None:
        """ERC-20 markets: approve exactly the stake when the allowance is short (never an unlimited approval)."""
        if market.allowance(self.account) >= amount:
            return
        _, receipt = self.sender.send(market.build_approve(amount), market.name)
        if receipt is None or receipt.status != 1:
            raise TemporaryError("token approval did not land")

    def _checks(self, req: BetRequest, tx: TxRequest) -> tuple[float, RevertError | TemporaryError | None]:
        """(chain time, the pre-flight's error or None)."""
        try:
            now = self.chain_now()
        except TemporaryError as exc:
            return float("inf"), exc
        if not self.preflight or now >= last_bettable_second(req.lock_ts):
            return now, None
        try:
            req.market.simulate(tx, self.account)
        except (RevertError, TemporaryError) as exc:
            return now, exc
        return now, None

    def _drive(
        self,
        intent_id: int,
        req: BetRequest,
        fired: float,
        tx: TxRequest | None = None,
        checks: tuple[float, RevertError | TemporaryError | None] | None = None,
    ) -> BetResult:
        tx = tx or req.market.build_bet(req.position, req.epoch, req.amount)
        now, error = checks if checks is not None else self._checks(req, tx)
        if now >= last_bettable_second(req.lock_ts):
            _set_state(self.sessions, intent_id, IntentState.TOO_LATE, "chain time at or past lock - 1: not sent")
            return BetResult(intent_id, IntentState.TOO_LATE, "too late to send")
        if isinstance(error, RevertError):
            state = IntentState.TOO_LATE if error.reason in LATE_REASONS else IntentState.REVERTED
            _set_state(self.sessions, intent_id, state, f"pre-flight: {error.reason}")
            return BetResult(intent_id, state, error.reason)
        if isinstance(error, TemporaryError):
            _set_state(self.sessions, intent_id, IntentState.FAILED, f"pre-flight unavailable: {error}")
            return BetResult(intent_id, IntentState.FAILED, str(error))
        sent = self._sign_and_send(intent_id, req, tx)
        if isinstance(sent, BetResult):
            return sent
        nonce, fees, tx_hash, handed = sent
        latency = handed - fired
        phases = req.trace.phases_ms() if req.trace is not None else None
        if not self.watch_receipts:
            return BetResult(intent_id, IntentState.SENT, "", tx_hash, latency, phases=phases)
        result = self.watch(intent_id, req, tx, nonce, fees)
        result.latency = latency
        result.phases = phases
        return result

    def _sign_and_send(
        self, intent_id: int, req: BetRequest, tx: TxRequest
    ) -> BetResult | tuple[int, Any, str, float]:
        """Reserve a nonce, journal the signed tx, broadcast. One retry with a fresh nonce on "nonce too low"."""
        for attempt_no in range(2):
            try:
                nonce = self.sender.nonces.reserve(self.account)
                fees = self.sender.fees()
                req.mark("nonce-fees")
                raw, tx_hash = self.sender.sign(tx, nonce, fees)
                req.mark("sign")
                attempt_id = self.sender.record_attempt(tx, req.market.name, nonce, fees, raw, tx_hash, intent_id)
                req.mark("journal-commit")
            except TemporaryError as exc:
                _set_state(self.sessions, intent_id, IntentState.FAILED, f"could not sign: {exc}")
                return BetResult(intent_id, IntentState.FAILED, str(exc))
            _crashpoint("after-sign")
            handed = time.perf_counter()  # the raw transaction is handed to the RPC client
            req.mark("handed", handed)
            outcome, err = self._broadcast(raw)
            self.last_accepted_latency = time.perf_counter() - handed
            _crashpoint("after-broadcast")
            if outcome in ("sent", "known"):
                self.sender.mark_attempt(attempt_id, "sent")
                _set_state(self.sessions, intent_id, IntentState.SENT, "", handed_at=time.time())
                return nonce, fees, tx_hash, handed
            self.sender.nonces.resync(self.account)
            if outcome == "nonce-too-low" and self.sender.wait(tx_hash, timeout=1.0) is not None:
                self.sender.mark_attempt(attempt_id, "sent")
                return nonce, fees, tx_hash, handed
            # refused outright: this signed transaction will never be mined
            self.sender.mark_attempt(attempt_id, "failed")
            if outcome == "nonce-too-low" and attempt_no == 0 and self.chain_now() < last_bettable_second(req.lock_ts):
                log.warning("nonce %s already used by another transaction; re-signing with a fresh nonce", nonce)
                continue
            _set_state(self.sessions, intent_id, IntentState.FAILED, f"broadcast {outcome}: {err[:160]}")
            return BetResult(intent_id, IntentState.FAILED, err[:160], tx_hash)
        _set_state(self.sessions, intent_id, IntentState.FAILED, "nonce conflict persisted")
        return BetResult(intent_id, IntentState.FAILED, "nonce conflict persisted")

    def _broadcast(self, raw: bytes) -> tuple[str, str]:
        try:
            return self.sender.broadcast_raw(raw)
        except TemporaryError as exc:
            # not known to have reached any node; the journal holds the raw tx so recovery can rebroadcast it
            return "sent", str(exc)

    # -- watching -----------------------------------------------------------------------------------------------------
    def watch(self, intent_id: int, req: BetRequest, tx: TxRequest, nonce: int, fees: Any) -> BetResult:
        hashes = self._attempt_hashes(intent_id)
        last_send = time.monotonic()
        while True:
            for h in hashes:
                receipt = self.sender.receipt(h)
                if receipt is not None:
                    return self._finish(intent_id, req, tx, h, receipt)
            now = self.chain_now()
            if now > req.lock_ts + self.late_grace:
                return self._unresolved(intent_id, req)
            if (
                time.monotonic() - last_send > self.replace_after
                and now < last_bettable_second(req.lock_ts)
                and fees is not None
            ):
                fees = self._replace(intent_id, req, tx, nonce, fees)
                hashes = self._attempt_hashes(intent_id)
                last_send = time.monotonic()
            time.sleep(0.02)

    def _replace(self, intent_id: int, req: BetRequest, tx: TxRequest, nonce: int, fees: Any) -> Any:
        try:
            bumped = self.sender.gas.bump(fees)
        except ValueError:
            return None  # at the ceiling: keep waiting on what was sent
        attempt_id, raw, _ = self.sender.journal_attempt(tx, req.market.name, nonce, bumped, intent_id)
        outcome, _ = self._broadcast(raw)
        self.sender.mark_attempt(attempt_id, "sent" if outcome in ("sent", "known") else "failed")
        log.info("replaced stuck bet for %s epoch %s (nonce %s): %s", req.market.name, req.epoch, nonce, outcome)
        return bumped

    def _attempt_hashes(self, intent_id: int) -> list[str]:
        with session_scope(self.sessions) as s:
            rows = s.scalars(select(TxAttempt.tx_hash).where(TxAttempt.intent_id == intent_id).order_by(TxAttempt.id))
            return list(rows)

    def _finish(self, intent_id: int, req: BetRequest, tx: TxRequest, tx_hash: str, receipt: Receipt) -> BetResult:
        block = self.sender.w3.eth.get_block(receipt.block_number)
        attrs = {
            "tx_hash": tx_hash,
            "block_number": receipt.block_number,
            "block_timestamp": int(block["timestamp"]),
            "gas_used": receipt.gas_used,
            "gas_cost_wei": receipt.gas_cost_wei,
        }
        with session_scope(self.sessions) as s:
            for attempt in s.scalars(select(TxAttempt).where(TxAttempt.intent_id == intent_id)):
                if attempt.tx_hash == tx_hash:
                    attempt.status = "mined"
                    attempt.receipt_status = receipt.status
                    attempt.block_number = receipt.block_number
                    attempt.gas_cost_wei = receipt.gas_cost_wei
                elif attempt.status in ("sent", "signed"):
                    attempt.status = "replaced"
        if receipt.status == 1:
            _set_state(self.sessions, intent_id, IntentState.LANDED, "", **attrs)
            return BetResult(intent_id, IntentState.LANDED, "", tx_hash)
        reason = self._revert_reason(req, tx, receipt.block_number)
        state = IntentState.TOO_LATE if reason in LATE_REASONS else IntentState.REVERTED
        _set_state(self.sessions, intent_id, state, f"mined and reverted: {reason}", **attrs)
        return BetResult(intent_id, state, reason, tx_hash)

    def _revert_reason(self, req: BetRequest, tx: TxRequest, block_number: int) -> str:
        try:
            req.market.simulate(tx, self.account, block=block_number)
        except RevertError as exc:
            return exc.reason
        except Exception as exc:  # noqa: BLE001 — the reason is informational
            return f"unknown ({type(exc).__name__})"
        return "unknown"

    def _unresolved(self, intent_id: int, req: BetRequest) -> BetResult:
        entry = req.market.ledger(req.epoch, self.account)
        if entry.amount > 0:
            _set_state(self.sessions, intent_id, IntentState.LANDED, "bet found in ledger; receipt not seen")
            return BetResult(intent_id, IntentState.LANDED, "ledger")
        _set_state(self.sessions, intent_id, IntentState.DROPPED, "not mined before lock")
        return BetResult(intent_id, IntentState.DROPPED, "not mined before lock")

    # -- recovery -----------------------------------------------------------------------------------------------------
    def recover(self, markets: dict[str, PredictionMarket]) -> list[BetResult]:
        """Resolve every open intent from the chain before anything new is sent."""
        results: list[BetResult] = []
        with session_scope(self.sessions) as s:
            rows = s.scalars(
                select(Intent).where(
                    Intent.account == self.account,
                    Intent.mode == self.mode,
                    Intent.state.in_([IntentState.INTENDED, IntentState.SIGNED, IntentState.SENT]),
                )
            ).all()
            pending = [(r.id, r.market, r.epoch, r.state, r.lock_ts, r.position, r.amount_wei) for r in rows]
        for intent_id, market_name, epoch, state, lock_ts, position, amount in pending:
            market = markets.get(market_name)
            if market is None:
                continue
            results.append(self._recover_one(intent_id, market, epoch, state, lock_ts, Position(position), amount))
        return results

    def _recover_one(
        self, intent_id: int, market: PredictionMarket, epoch: int, state: str, lock_ts: int, position: Position, amount: int
    ) -> BetResult:
        req = BetRequest(market=market, epoch=epoch, position=position, amount=amount, lock_ts=lock_ts)
        tx = market.build_bet(position, epoch, amount)
        for h in self._attempt_hashes(intent_id):
            receipt = self.sender.receipt(h)
            if receipt is not None:
                return self._finish(intent_id, req, tx, h, receipt)
        entry = market.ledger(epoch, self.account)
        if entry.amount > 0:
            _set_state(self.sessions, intent_id, IntentState.LANDED, "recovered: bet found in ledger")
            return BetResult(intent_id, IntentState.LANDED, "recovered from ledger")
        bettable = self.chain_now() < last_bettable_second(lock_ts) and market.current_epoch() == epoch
        if state == IntentState.INTENDED.value:
            if bettable:
                return self._drive(intent_id, req, time.perf_counter())
            _set_state(self.sessions, intent_id, IntentState.TOO_LATE, "recovered after restart: round no longer bettable")
            return BetResult(intent_id, IntentState.TOO_LATE, "recovered: too late")
        # signed or sent: the same signed bytes may be rebroadcast safely (same nonce, same hash)
        if bettable:
            with session_scope(self.sessions) as s:
                last = s.scalars(
                    select(TxAttempt).where(TxAttempt.intent_id == intent_id).order_by(TxAttempt.id.desc())
                ).first()
                raw = bytes.fromhex(last.raw_tx) if last is not None else None
                nonce = last.nonce if last is not None else None
            if raw is not None and nonce is not None:
                outcome, err = self._broadcast(raw)
                if outcome in ("sent", "known"):
                    _set_state(self.sessions, intent_id, IntentState.SENT, "rebroadcast after restart")
                    return self.watch(intent_id, req, tx, nonce, None)
                self.sender.nonces.resync(self.account)
                _set_state(self.sessions, intent_id, IntentState.DROPPED, f"rebroadcast refused: {err[:120]}")
                return BetResult(intent_id, IntentState.DROPPED, err[:120])
        self.sender.nonces.resync(self.account)
        _set_state(self.sessions, intent_id, IntentState.DROPPED, "recovered after restart: not mined before lock")
        return BetResult(intent_id, IntentState.DROPPED, "recovered: not mined")


def require_live_ok(mode: str, mainnet: bool, confirm_mainnet: bool) -> None:
    if mode == "live" and mainnet and not confirm_mainnet:
        raise OperationalError("live trading on a mainnet chain needs risk.confirm_mainnet: true in the config")
