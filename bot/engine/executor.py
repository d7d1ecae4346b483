"""Executors: turn a decided bet into a journaled intent and — live — a transaction that lands before lock.

Live path (each step one DB transaction, in this order):
1. intent row committed (unique per market/epoch/account: a second intent for the round is impossible), the spending
   caps checked in the same transaction against the journaled stake, in-flight intents counted (a violation is
   committed as a FAILED intent). An intent that already exists is driven with its *journaled* side and amount —
   never the caller's — after the caps are checked again against exactly that;
2. ERC-20 markets: the allowance, approved for exactly the journaled stake, only now (after the caps and the journal);
3. timing guard (never send when chain time >= lock - 1); pre-flight: one JSON-RPC batch reading our ``ledger`` entry
   on ``latest`` (a bet already there — another host with the same key — means nothing is sent) and ``eth_call``-ing
   the bet against ``pending``;
4. ``TxSender.submit`` — the one send loop bets, claims and approvals share: sign (the signing policy and the daily gas
   cap decide on the exact bytes), commit the raw transaction + hash, then broadcast to every RPC (a re-sign after
   "nonce too low" re-reads the ledger first). A refusal by the policy or the gas cap is journaled as the intent's
   failure and raised as ``NeedsHuman`` (``PolicyRefusal``): the daemon pauses instead of betting on;
5. watch: landed / reverted (with the contract's reason and the gas it burnt) / too late / dropped; same-nonce fee bump
   while still bettable.
Every state change goes through ``bot.store.hotjournal.transition`` (the lifecycle's allowed moves). A live executor is
the *owner* of its account's intents: it is built only by the holder of the account lock (``bot.engine.account_lock``),
so it may adopt any open intent of the account (the previous owner is gone) and the manual intents a CLI hands over.
Paper mode is the sender, not a flag: ``bot.chain.papersender.PaperSender`` journals the same attempt and fills it in
the head block (the pools seen at decision time), so a paper bet moves intended -> signed -> sent -> landed like a live
one and settles through the same code (``bot.reconcile.paperbook``).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from bot.chain.clock import too_late_to_send, wait_for_first_bettable_second
from bot.chain.policy import PolicyRefusal
from bot.chain.sender import Broadcast, NotSent, Receipt
from bot.domain import LedgerEntry, Position
from bot.engine.trace import BetTrace
from bot.errors import BotError, OperationalError, RevertError, TemporaryError
from bot.markets.base import PredictionMarket, TxRequest
from bot.store import hotjournal
from bot.store.db import engine_of
from bot.store.hotjournal import IntentRow
from bot.store.journal import IntentState

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

    def check(self, conn: hotjournal.Conn, account: str, amount: int, now: float, excluding: int = -1) -> str | None:
        """Why ``amount`` may not be staked now (None: it may). Counts today's stakes, in-flight intents included,
        except the intent ``excluding`` (the one being checked)."""
        return self.check_spent(amount, hotjournal.staked_today(conn, account, now, excluding))

    def check_spent(self, amount: int, spent: int) -> str | None:
        """``check`` with today's other stakes (``spent`` wei) already read."""
        if amount > self.max_per_bet:
            return f"stake {amount} wei exceeds the per-bet cap {self.max_per_bet}"
        if spent + amount > self.max_per_day:
            return f"daily cap: {spent} wei already staked or in flight today, cap {self.max_per_day}"
        return None


class Executor(Protocol):
    account: str
    mode: str

    def place(self, req: BetRequest) -> BetResult: ...

    def prepare(self) -> None:
        """Refresh caches the bet path reads (called by the daemon's watch job)."""


@dataclass(frozen=True)
class Opened:
    """The intent a request resolved to: ``row`` holds what will be signed; ``drive`` says whether we sign it."""

    row: IntentRow
    created: bool
    drive: bool
    denied: str | None = None


def _open_intent(
    engine: Engine, req: BetRequest, account: str, mode: str, caps: SpendingCaps | None, owner: str, adopt: bool
) -> Opened:
    """Commit the round's intent, or resolve the one the journal already holds (one transaction under the write lock).

    A new intent carries the request's side and amount, checked against the caps (a violation is committed as a
    FAILED intent). An existing INTENDED intent is adopted (``adopt``: we own the account) with its journaled values,
    checked against the caps again; anything else is a duplicate.
    """
    now = time.time()
    with hotjournal.write(engine, account) as conn:
        row, spent = hotjournal.round_and_staked(conn, req.market.name, req.epoch, account, now)
        if row is not None:
            if not (adopt and row.state is IntentState.INTENDED):
                return Opened(row, False, False)
            denied = caps.check_spent(row.amount_wei, spent) if caps is not None else None
            if denied:
                hotjournal.transition(conn, row.id, IntentState.FAILED, now, f"spending cap: {denied}")
            elif row.owner != owner and not hotjournal.claim_intent(conn, row.id, owner, row.owner, now):
                return Opened(row, False, False)
            return Opened(hotjournal.intent_by_id(conn, row.id) or row, False, denied is None, denied)
        denied = caps.check_spent(req.amount, spent) if caps is not None else None
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
            "owner": owner,
        }
        reason = f"spending cap: {denied}" if denied else ""
        if denied:
            fields |= {"state": IntentState.FAILED.value, "reason": reason}
        intent_id = hotjournal.insert_intent(conn, fields, now)
        created = IntentRow(intent_id, req.market.name, req.epoch, account, mode, req.origin, int(req.position),
                            req.amount, IntentState.FAILED if denied else IntentState.INTENDED, owner, req.lock_ts,
                            reason)  # what was just inserted: no read back
        return Opened(created, True, denied is None, denied)


def _move(engine: Engine, account: str, intent_id: int, state: IntentState, reason: str | None = None,
          **attrs: Any) -> None:
    """One lifecycle move of ``account``'s intent, in its own durable transaction."""
    with hotjournal.write(engine, account) as conn:
        hotjournal.transition(conn, intent_id, state, time.time(), reason, **attrs)


def process_owner(role: str) -> str:
    """An owner token for a process that is not (yet) a lock holder: ``role:pid``."""
    return f"{role}:{os.getpid()}"


class Nonces(Protocol):
    def resync(self, account: str) -> int: ...


class BetSender(Protocol):
    """What the executor needs from a sender: ``TxSender`` (live: signs and broadcasts) or ``PaperSender`` (paper:
    journals the same attempt and fills it in the head block). The executor never asks which one it has."""

    @property
    def mode(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def w3(self) -> Web3: ...
    @property
    def nonces(self) -> Nonces: ...
    @property
    def gas(self) -> Any: ...
    def fees(self, max_age: float = ...) -> Any: ...
    def submit(self, tx: TxRequest, market: str, *, intent_id: int | None = ..., gas_limit: int | None = ...,
               may_resign: Callable[[int], bool] = ..., step: Callable[[str], None] | None = ...,
               mark: Callable[..., None] | None = ...) -> Broadcast: ...
    def replace(self, tx: TxRequest, market: str, nonce: int, fees: Any, intent_id: int | None = ...) -> str: ...
    def receipt(self, tx_hash: str) -> Receipt | None: ...
    def broadcast_or_unknown(self, raw: bytes) -> tuple[str, str]: ...
    def send(self, tx: TxRequest, market: str, gas_limit: int | None = ...) -> tuple[str, Receipt | None]: ...


class BetExecutor:
    """Drives bets for one account through the lifecycle, live or paper as its sender is (the composition root picks
    the sender; nothing here asks). ``owns_account``: built by the holder of the account lock (live), so it may adopt
    the account's open intents; a paper executor shares its account with other paper processes and adopts none."""

    def __init__(
        self,
        sender: BetSender,
        sessions: sessionmaker[Session],
        chain_now: Callable[[], float],
        caps: SpendingCaps | None = None,
        replace_after: float = 3.0,
        late_grace: float = 15.0,
        preflight: bool = True,
        watch: bool = True,
        owner: str = "",
        crash_hook: Callable[[str], None] | None = None,
        owns_account: bool = True,
        block_seconds: float = 1.0,
    ) -> None:
        self.sender = sender
        self.block_seconds = block_seconds  # the chain's block interval: see bot.chain.clock.too_late_to_send
        self.mode = sender.mode
        self.owns_account = owns_account
        self.sessions = sessions
        self.engine = engine_of(sessions)
        self.account = sender.address
        self.chain_now = chain_now
        self.caps = caps
        self.replace_after = replace_after
        self.late_grace = late_grace
        self.preflight = preflight
        self.watch_receipts = watch
        self.owner = owner or process_owner(self.mode)
        self.crash_hook = crash_hook  # tests only: called at each named step ("after-intent", "after-sign", ...)
        self.last_accepted_latency = 0.0  # seconds the node took to answer the last broadcast

    def _too_late(self, now: float, lock_ts: int) -> bool:
        return too_late_to_send(now, lock_ts, self.block_seconds)

    def prepare(self) -> None:
        """Refresh the cached fee suggestion when it is over a second old (the watch job calls this)."""
        self.sender.fees(max_age=1.0)

    def _step(self, name: str) -> None:
        if self.crash_hook is not None:
            self.crash_hook(name)

    # -- placing ------------------------------------------------------------------------------------------------------
    def place(self, req: BetRequest) -> BetResult:
        fired = req.fired_at or time.perf_counter()
        req.mark("build")
        opened = _open_intent(self.engine, req, self.account, self.mode, self.caps, self.owner,
                              adopt=self.owns_account)
        req.mark("intent-commit")
        if opened.denied:
            return BetResult(opened.row.id, IntentState.FAILED, f"spending cap: {opened.denied}")
        if not opened.drive:
            return BetResult(opened.row.id, opened.row.state, "already decided for this round", duplicate=True)
        self._step("after-intent")
        return self._drive_row(opened.row, req, fired)

    def _drive_row(self, row: IntentRow, req: BetRequest, fired: float) -> BetResult:
        """Drive an intent we own with its journaled side and amount (whatever the request said)."""
        req = replace(req, position=Position(row.position), amount=row.amount_wei, lock_ts=row.lock_ts or req.lock_ts)
        if req.market.spec.currency == "erc20":
            try:
                self.ensure_allowance(req.market, row.amount_wei)  # after the caps passed and the intent is journaled
            except PolicyRefusal as exc:  # needs a human: journaled as the intent's failure, then raised (pause)
                _move(self.engine, self.account, row.id, IntentState.FAILED, f"token approval: signer refused: {exc}")
                raise
            except (TemporaryError, RevertError, OperationalError) as exc:
                _move(self.engine, self.account, row.id, IntentState.FAILED, f"token approval: {exc}")
                return BetResult(row.id, IntentState.FAILED, f"token approval: {exc}")
        tx = req.market.build_bet(req.position, req.epoch, req.amount)
        self._wait_for_start(req)
        checked = self._checks(req, tx)  # chain clock + one batch: our ledger entry (latest) + the bet (pending)
        req.mark("preflight")
        return self._drive(row.id, req, fired, tx, checked)

    def _wait_for_start(self, req: BetRequest) -> None:
        if req.start_ts:
            wait_for_first_bettable_second(self.chain_now, req.start_ts)

    def ensure_allowance(self, market: PredictionMarket, amount: int) -> None:
        """ERC-20 markets: approve exactly the stake when the allowance is short (never an unlimited approval)."""
        if market.allowance(self.account) >= amount:
            return
        _, receipt = self.sender.send(market.build_approve(amount), market.name)
        if receipt is None or receipt.status != 1:
            raise TemporaryError("token approval did not land")

    def _checks(self, req: BetRequest, tx: TxRequest) -> tuple[float, BotError | None]:
        """(chain time, the reason not to send or None). ``AlreadyBet`` when the chain holds our bet for the round."""
        try:
            now = self.chain_now()
        except TemporaryError as exc:
            return float("inf"), exc
        if self._too_late(now, req.lock_ts):
            return now, None
        try:
            entry, error = req.market.preflight(tx, self.account, req.epoch, simulate=self.preflight)
        except (TemporaryError, OperationalError) as exc:
            return now, TemporaryError(str(exc))
        if entry.amount > 0:
            return now, AlreadyBet(entry)
        return now, error

    def _drive(
        self,
        intent_id: int,
        req: BetRequest,
        fired: float,
        tx: TxRequest,
        checks: tuple[float, BotError | None],
    ) -> BetResult:
        now, error = checks
        if self._too_late(now, req.lock_ts):
            _move(self.engine, self.account, intent_id, IntentState.TOO_LATE, "too close to lock for the next block: not sent")
            return BetResult(intent_id, IntentState.TOO_LATE, "too late to send")
        if isinstance(error, AlreadyBet):
            reason = f"not sent: {error}"
            _move(self.engine, self.account, intent_id, IntentState.FAILED, reason)
            return BetResult(intent_id, IntentState.FAILED, reason, duplicate=True)
        if isinstance(error, RevertError):
            state = IntentState.TOO_LATE if error.reason in LATE_REASONS else IntentState.REVERTED
            _move(self.engine, self.account, intent_id, state, f"pre-flight: {error.reason}")
            return BetResult(intent_id, state, error.reason)
        if isinstance(error, TemporaryError):
            _move(self.engine, self.account, intent_id, IntentState.FAILED, f"pre-flight unavailable: {error}")
            return BetResult(intent_id, IntentState.FAILED, str(error))
        sent = self._send(intent_id, req, tx)
        if isinstance(sent, BetResult):
            return sent
        latency = sent.handed_at - fired
        phases = req.trace.phases_ms() if req.trace is not None else None
        if not self.watch_receipts:
            return BetResult(intent_id, IntentState.SENT, "", sent.tx_hash, latency, phases=phases)
        result = self.watch(intent_id, req, tx, sent.nonce, sent.fees)
        result.latency = latency
        result.phases = phases
        return result

    def _send(self, intent_id: int, req: BetRequest, tx: TxRequest) -> BetResult | Broadcast:
        """The bet through the sender's one send loop (``TxSender.submit``); its outcome as the intent's move. A re-sign
        after "nonce too low" happens only while the round is bettable and the ledger holds no bet of ours.

        The signing policy or the daily gas cap refusing (``PolicyRefusal``, a ``NeedsHuman``) is journaled as the
        intent's failure and raised: continuing needs a human (the daemon pauses)."""

        def may_resign(nonce: int) -> bool:
            if self._too_late(self.chain_now(), req.lock_ts):
                return False
            entry = req.market.ledger(req.epoch, self.account)
            if entry.amount > 0:  # the nonce went to a bet on this very round (another host, same key)
                raise AlreadyBet(entry)
            return True

        try:
            sent = self.sender.submit(tx, req.market.name, intent_id=intent_id, may_resign=may_resign,
                                      step=self._step, mark=req.mark)
        except PolicyRefusal as exc:
            _move(self.engine, self.account, intent_id, IntentState.FAILED, f"signer refused: {exc}")
            raise
        except AlreadyBet as exc:
            reason = f"not re-signed: {exc}"
            _move(self.engine, self.account, intent_id, IntentState.FAILED, reason)
            return BetResult(intent_id, IntentState.FAILED, reason, duplicate=True)
        except NotSent as exc:
            _move(self.engine, self.account, intent_id, IntentState.FAILED, f"broadcast {exc.outcome}: {str(exc)[:160]}")
            return BetResult(intent_id, IntentState.FAILED, str(exc)[:160], exc.tx_hash)
        except (TemporaryError, OperationalError) as exc:
            _move(self.engine, self.account, intent_id, IntentState.FAILED, f"could not sign: {exc}")
            return BetResult(intent_id, IntentState.FAILED, str(exc))
        self.last_accepted_latency = time.perf_counter() - sent.handed_at
        _move(self.engine, self.account, intent_id, IntentState.SENT, "", handed_at=time.time())
        return sent

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
                and not self._too_late(now, req.lock_ts)
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
        outcome = self.sender.replace(tx, req.market.name, nonce, bumped, intent_id)
        log.info("replaced stuck bet for %s epoch %s (nonce %s): %s", req.market.name, req.epoch, nonce, outcome)
        return bumped

    def _attempt_hashes(self, intent_id: int) -> list[str]:
        with hotjournal.connection(self.engine) as conn:
            return hotjournal.attempt_hashes(conn, intent_id)

    def _finish(self, intent_id: int, req: BetRequest, tx: TxRequest, tx_hash: str, receipt: Receipt) -> BetResult:
        block = self.sender.w3.eth.get_block(receipt.block_number)
        attrs = {
            "tx_hash": tx_hash,
            "block_number": receipt.block_number,
            "block_timestamp": int(block["timestamp"]),
            "gas_used": receipt.gas_used,
            "gas_cost_wei": receipt.gas_cost_wei,
        }
        if receipt.status == 1:
            state, reason, why = IntentState.LANDED, "", ""
        else:
            why = self._revert_reason(req, tx, receipt.block_number)
            state = IntentState.TOO_LATE if why in LATE_REASONS else IntentState.REVERTED
            reason = f"mined and reverted: {why}"  # the gas it burnt is in gas_cost_wei
        with hotjournal.write(self.engine, self.account) as conn:
            hotjournal.mine_attempt(conn, tx_hash, receipt.status, receipt.block_number, receipt.gas_cost_wei, intent_id)
            hotjournal.transition(conn, intent_id, state, time.time(), reason, **attrs)
        return BetResult(intent_id, state, why, tx_hash)

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
            _move(self.engine, self.account, intent_id, IntentState.LANDED, "bet found in ledger; receipt not seen")
            return BetResult(intent_id, IntentState.LANDED, "ledger")
        _move(self.engine, self.account, intent_id, IntentState.DROPPED, "not mined before lock")
        return BetResult(intent_id, IntentState.DROPPED, "not mined before lock")

    # -- ownership: recovery and hand-overs ----------------------------------------------------------------------------
    def _adopt(self, rows: list[IntentRow]) -> list[IntentRow]:
        """Take ownership of ``rows`` (we hold the account lock: their previous owner is gone, or handed them over)."""
        adopted = []
        with hotjournal.write(self.engine, self.account) as conn:
            for row in rows:
                if row.owner == self.owner or hotjournal.claim_intent(conn, row.id, self.owner, row.owner, time.time()):
                    adopted.append(row)
        return adopted

    def recover(self, markets: dict[str, PredictionMarket]) -> list[BetResult]:
        """Resolve every open intent of the account from the chain before anything new is sent."""
        with hotjournal.connection(self.engine) as conn:
            rows = hotjournal.open_intents(conn, self.account, self.mode)
        return [self._recover_one(row, markets[row.market]) for row in self._adopt([r for r in rows if r.market in markets])]

    def drive_handed_over(self, markets: dict[str, PredictionMarket]) -> list[BetResult]:
        """Execute the manual intents a CLI handed to this running process, through the same caps and lifecycle."""
        with hotjournal.connection(self.engine) as conn:
            rows = hotjournal.unclaimed_manual(conn, self.account, self.mode)
        results = []
        for row in self._adopt([r for r in rows if r.market in markets]):
            market = markets[row.market]
            try:  # the journal keeps no start time: a bet handed over as the round opens waits for its first second
                start_ts = market.round(row.epoch).start_timestamp
            except TemporaryError:
                start_ts = 0
            req = BetRequest(market=market, epoch=row.epoch, position=Position(row.position), amount=row.amount_wei,
                             lock_ts=row.lock_ts, start_ts=start_ts, origin="manual", fired_at=time.perf_counter())
            now = time.time()
            with hotjournal.write(self.engine, self.account) as conn:
                denied = self.caps.check(conn, self.account, row.amount_wei, now, excluding=row.id) if self.caps else None
                if denied:
                    hotjournal.transition(conn, row.id, IntentState.FAILED, now, f"spending cap: {denied}")
            result = (BetResult(row.id, IntentState.FAILED, f"spending cap: {denied}") if denied
                      else self._drive_row(row, req, req.fired_at))
            log.info("manual bet %s epoch %d (handed over): %s %s", row.market, row.epoch, result.state.value,
                     result.reason)
            results.append(result)
        return results

    def _recover_one(self, row: IntentRow, market: PredictionMarket) -> BetResult:
        intent_id, epoch, lock_ts = row.id, row.epoch, row.lock_ts
        req = BetRequest(market=market, epoch=epoch, position=Position(row.position), amount=row.amount_wei,
                         lock_ts=lock_ts)
        tx = market.build_bet(req.position, epoch, req.amount)
        for h in self._attempt_hashes(intent_id):
            receipt = self.sender.receipt(h)
            if receipt is not None:
                return self._finish(intent_id, req, tx, h, receipt)
        bettable = not self._too_late(self.chain_now(), lock_ts) and market.current_epoch() == epoch
        if row.state is IntentState.INTENDED:  # nothing was signed for it: any bet in the ledger is not ours
            if bettable:
                return self._drive_row(row, req, time.perf_counter())  # its ledger check refuses if a bet is there
            _move(self.engine, self.account, intent_id, IntentState.TOO_LATE, "recovered after restart: round no longer bettable")
            return BetResult(intent_id, IntentState.TOO_LATE, "recovered: too late")
        if market.ledger(epoch, self.account).amount > 0:
            _move(self.engine, self.account, intent_id, IntentState.LANDED, "recovered: bet found in ledger")
            return BetResult(intent_id, IntentState.LANDED, "recovered from ledger")
        # signed or sent: the same signed bytes may be rebroadcast safely (same nonce, same hash)
        if bettable:
            with hotjournal.connection(self.engine) as conn:
                last = hotjournal.last_attempt(conn, intent_id)
            if last is not None:
                raw, nonce = last
                outcome, err = self.sender.broadcast_or_unknown(raw)
                if outcome in ("sent", "known"):
                    _move(self.engine, self.account, intent_id, IntentState.SENT, "rebroadcast after restart")
                    return self.watch(intent_id, req, tx, nonce, None)
                self.sender.nonces.resync(self.account)
                _move(self.engine, self.account, intent_id, IntentState.DROPPED, f"rebroadcast refused: {err[:120]}")
                return BetResult(intent_id, IntentState.DROPPED, err[:120])
        self.sender.nonces.resync(self.account)
        _move(self.engine, self.account, intent_id, IntentState.DROPPED, "recovered after restart: not mined before lock")
        return BetResult(intent_id, IntentState.DROPPED, "recovered: not mined")


class AlreadyBet(BotError):
    """The chain already holds a bet of our account in this round (not one of this intent's transactions)."""

    def __init__(self, entry: LedgerEntry) -> None:
        super().__init__(f"the account already has a {entry.position.label} bet of {entry.amount} wei in round "
                         f"{entry.epoch} on chain (placed by another process or host)")
        self.entry = entry


def hand_over(engine: Engine, req: BetRequest, account: str, caps: SpendingCaps | None) -> Opened:
    """Journal a manual live intent for the process that holds the account (the daemon adopts and drives it). The
    caps are checked here as for any new intent, and again by the daemon right before it signs."""
    return _open_intent(engine, req, account, "live", caps, owner="", adopt=False)


def await_outcome(engine: Engine, intent_id: int, deadline: float, poll: float = 0.2) -> IntentRow:
    """Wait (until the wall-clock ``deadline``) for an intent to reach a terminal state; the last row seen."""
    while True:
        with hotjournal.connection(engine) as conn:
            row = hotjournal.intent_by_id(conn, intent_id)
        if row is None:
            raise OperationalError(f"intent {intent_id} vanished from the journal")
        if row.state.terminal or time.time() >= deadline:
            return row
        time.sleep(poll)


def require_live_ok(mode: str, mainnet: bool, confirm_mainnet: bool) -> None:
    if mode == "live" and mainnet and not confirm_mainnet:
        raise OperationalError("live trading on a mainnet chain needs risk.confirm_mainnet: true in the config")
