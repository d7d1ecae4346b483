"""The query service: every read of the bot's records that the CLI, the REST API and Telegram show, in one place.

Built from a SQLAlchemy engine (SQLite or PostgreSQL) and the markets' coins; returns frozen dataclasses (no ORM object
leaves this module). Wei is ``int``; times are unix seconds (``int``) in UTC; ``None`` when a time is not known (an open
bet has no settlement time, never 1970). ``to_plain(value)`` turns any result into JSON-ready data.

``QueryService(engine, coins)`` methods:

- ``bets(mode=None, market=None, account=None, settled=None, limit=50) -> list[Bet]``: our bets, newest first; paper
  and live apart (``Bet.mode``); open (``settled=False``) or settled (``True``), both when ``None``. A bet is a journal
  intent that was placed (paper fill, signed, sent, landed; or mined and reverted, which paid gas) and/or a settlement
  row (adopted bets made outside the bot included).
- ``open_bets(...)``, ``settlements(...)``: ``bets`` with ``settled`` False / True.
- ``recent_bets(account, limit)``: the status view's latest bets of an account.
- ``status_inputs(account=None, topic_ids=(), recent=10) -> StatusInputs``: what a status view reads from the database
  (recent and open bets, the latest inference per topic, the per-mode summary).
- ``claimable(mode="live", market=None, account=None) -> list[Bet]``: won or refundable, not claimed yet.
- ``claims(market=None, limit=50) -> list[ClaimView]``: claim transactions the bot sent.
- ``pnl(mode=None, market=None, account=None) -> list[PnlRow]``: per mode, market and UTC day of settlement.
- ``equity_curve(mode, market=None, account=None) -> list[EquityPoint]``: cumulative net PnL after each settled bet.
- ``summary(mode=None, account=None) -> list[BetSummary]``: per mode: counts (open, won, lost, refunds), hit rate,
  staked, returned, gas and net PnL.
- ``inferences(topic_id=None, accepted=None, limit=50) -> list[InferenceView]``: the inference log, newest fetch
  first, each with its verdict (accepted, or the rejection reason).
- ``latest_inference(topic_id) -> InferenceView | None``: the newest accepted inference of a topic (what the daemon
  would use).
- ``accuracy(settings, topic_ids=None) -> AccuracyReport``: hit rate of logged inferences against round outcomes
  (``bot.truth.accuracy``).
- ``aligned_round(markets, lock_ts, close_ts, tolerance) -> RoundMatch | None``: the round of ``markets`` (final or
  not) whose lock and close times are each within ``tolerance`` s of the window (the truth service's round source).
- ``recent_round_log_returns(markets, limit) -> list[float]``: ln(close/lock) of the newest ``limit`` final, executed
  rounds of ``markets``, oldest first (refunded rounds skipped).
- ``export_decision_pools(path, market=None) -> int`` and ``export_inferences(settings, path, topic_ids=None)``: the
  journal's decision-time pools and the inference log written as backtest inputs.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, is_dataclass
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select
from sqlalchemy.engine import Engine

from bot.coins import UNKNOWN, Coin
from bot.domain import Position, RoundStatus
from bot.store.db import session_factory, session_scope
from bot.store.inferences import InferenceRecord
from bot.store.journal import Intent, IntentState
from bot.store.outcomes import ClaimRecord, RoundOutcome, Settlement

if TYPE_CHECKING:
    from bot.allora.logexport import ExportSummary
    from bot.config import Settings
    from bot.truth.accuracy import AccuracyReport

# journal states of a bet that was placed (a paper fill, or a transaction that may land / landed)
PLACED = (IntentState.PAPER.value, IntentState.SIGNED.value, IntentState.SENT.value, IntentState.LANDED.value)
# mined and reverted: not a bet, but it paid gas (shown as settled, outcome "reverted")
REVERTED = (IntentState.REVERTED.value, IntentState.TOO_LATE.value)


def utc_day(ts: int) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d")


def utc_time(ts: int | float | None) -> str:
    """``2026-12-03 16:40:05`` (UTC), or ``-`` when unknown."""
    if ts is None:
        return "-"
    return datetime.datetime.fromtimestamp(int(ts), datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _matching(stmt: Any, table: Any, **equal: str | None) -> Any:
    """``stmt`` narrowed to rows of ``table`` whose columns equal the given values (a None or empty value: any)."""
    for column, value in equal.items():
        if value:
            stmt = stmt.where(getattr(table, column) == value)
    return stmt


@dataclass(frozen=True, slots=True)
class Bet:
    market: str
    epoch: int
    account: str
    mode: str  # paper | live
    origin: str  # daemon | manual | adopted (made outside the bot) | paper
    side: str  # bull | bear
    amount_wei: int
    coin: str  # symbol of the market's coin
    decimals: int
    settled: bool  # the outcome is known (payout fixed)
    outcome: str  # open | won | lost | house-won | refund | reverted
    payout_wei: int  # what the claim returns (0 while open or lost)
    gas_wei: int  # bet gas + our share of the claim's gas
    net_pnl_wei: int  # payout - stake - gas (0 while open)
    tx: str | None  # the bet transaction (None for paper)
    claimable: bool
    claimed: bool
    claim_tx: str | None
    placed_at: int | None  # when the bot journaled it (None for adopted bets)
    settled_at: int | None  # chain time the outcome became known (None while open)
    lock_ts: int | None
    strategy: str
    p_up: float | None  # the signal's probability of up at decision time (None: manual, adopted, no signal)
    state: str  # the journal state (paper, landed, ...) or "" for adopted bets
    intent_id: int | None

    @property
    def when(self) -> int:
        return self.settled_at or self.placed_at or self.lock_ts or 0


@dataclass(frozen=True, slots=True)
class ClaimView:
    market: str
    account: str
    tx: str
    epochs: tuple[int, ...]
    expected_wei: int
    claimed_wei: int
    gas_wei: int
    status: int | None  # receipt status (1 ok, 0 reverted), None until mined
    block_number: int | None
    confirmed: bool
    mismatch: str
    created_at: int | None


@dataclass(frozen=True, slots=True)
class PnlRow:
    mode: str
    market: str
    day: str  # UTC date of settlement, YYYY-MM-DD
    coin: str
    decimals: int
    bets: int
    won: int
    lost: int
    staked_wei: int
    returned_wei: int
    gas_wei: int
    net_pnl_wei: int


@dataclass(frozen=True, slots=True)
class EquityPoint:
    at: int  # unix seconds (settlement time)
    mode: str
    market: str
    epoch: int
    coin: str
    net_pnl_wei: int  # this bet's
    equity_wei: int  # cumulative net PnL of the mode (and coin) so far


@dataclass(frozen=True, slots=True)
class BetSummary:
    mode: str
    coin: str
    decimals: int
    bets: int
    open: int
    won: int
    lost: int
    refunds: int
    reverted: int
    hit_rate: float | None  # won / (won + lost); statistics only
    staked_wei: int
    returned_wei: int
    gas_wei: int
    net_pnl_wei: int


@dataclass(frozen=True, slots=True)
class InferenceView:
    id: int
    source: str
    topic_id: int
    topic_name: str
    timestamp: int | None  # the inference's own time (None: nothing parsed)
    fetched_at: float  # unix seconds
    accepted: bool
    verdict: str  # "accepted" or the rejection reason
    detail: str
    value: str | None  # Decimal text of the network inference
    signer: str | None
    block_height: int | None


def to_plain(value: Any) -> Any:
    """A result (dataclass, list, mapping) as JSON-ready data; wei stays an exact int."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    return value


def _p_up(decision: str) -> float | None:
    try:
        data = json.loads(decision or "{}")
    except ValueError:
        return None
    value = data.get("p_up") if isinstance(data, dict) else None
    if isinstance(value, int | float) and value == value:  # NaN: no signal
        return float(value)
    return None


_INTENT_FIELDS = ("id", "market", "epoch", "account", "mode", "origin", "position", "amount_wei", "state", "strategy",
                  "decision", "lock_ts", "created_at", "tx_hash", "block_number", "block_timestamp", "gas_cost_wei")
S_COLS = [c.label(f"s_{c.name}") for c in Settlement.__table__.c]
I_COLS = [Intent.__table__.c[name].label(f"i_{name}") for name in _INTENT_FIELDS]


def _part(row: Any, prefix: str) -> SimpleNamespace:
    """The columns of one table out of a joined row, as attributes (``row.market``)."""
    return SimpleNamespace(**{key[len(prefix):]: value for key, value in row.items() if key.startswith(prefix)})


def _real_tx(mode: str, tx: str | None) -> str | None:
    """A chain transaction hash; ``None`` for paper fills (their journal rows carry a ``paper:`` placeholder)."""
    return tx if mode == "live" and tx and tx.startswith("0x") else None


@dataclass(frozen=True, slots=True)
class RoundMatch:
    """A round outcome the reconciler recorded, prices in the oracle's units (``Decimal``)."""

    market: str
    epoch: int
    lock_ts: int
    close_ts: int
    lock_price: Decimal
    close_price: Decimal
    final: bool
    status: str

    @property
    def source(self) -> str:
        return f"round:{self.market}:{self.epoch}"


@dataclass(frozen=True, slots=True)
class StatusInputs:
    """What a status view reads from the database (the chain's side, pools and time to lock, comes from the market)."""

    recent_bets: tuple[Bet, ...]
    open_bets: tuple[Bet, ...]
    latest_inferences: tuple[InferenceView, ...]  # the newest accepted one of each topic asked for that has one
    summary: tuple[BetSummary, ...]


class QueryService:
    """Reads only; one short transaction per call."""

    def __init__(self, engine: Engine, coins: Mapping[str, Coin] | None = None, default_coin: Coin = UNKNOWN) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)
        self.coins = dict(coins or {})
        self.default_coin = default_coin

    def coin(self, market: str) -> Coin:
        return self.coins.get(market, self.default_coin)

    # -- bets -----------------------------------------------------------------------------------------------------

    def bets(self, mode: str | None = None, market: str | None = None, account: str | None = None,
             settled: bool | None = None, limit: int | None = 50) -> list[Bet]:
        """Our bets, newest first (settlement time, else journal time); see the module docstring."""
        out: list[Bet] = []
        joined = and_(Settlement.market == Intent.market, Settlement.epoch == Intent.epoch,
                      Settlement.account == Intent.account, Settlement.mode == Intent.mode)
        with session_scope(self.sessions) as s:
            # settlement rows (open ones too), with their intent if any; plain column rows (no ORM objects: a
            # journal of many thousand bets is read in a fraction of the time)
            stmt = select(*S_COLS, *I_COLS).select_from(Settlement).outerjoin(Intent, joined)
            stmt = _matching(stmt, Settlement, mode=mode, market=market, account=account)
            if settled is not None:
                stmt = stmt.where(Settlement.final.is_(settled))
            stmt = stmt.order_by(Settlement.epoch.desc(), Settlement.id.desc())
            if limit is not None:
                stmt = stmt.limit(limit)
            for row in s.execute(stmt).mappings():
                out.append(self._from_settlement(_part(row, "s_"), _part(row, "i_") if row["i_id"] is not None
                                                 else None))
            # journal intents with no settlement row yet: open, or mined-and-reverted (gas paid, settled as "reverted")
            states = PLACED if settled is False else REVERTED if settled else PLACED + REVERTED
            stmt2 = (select(*I_COLS).select_from(Intent).outerjoin(Settlement, joined)
                     .where(Settlement.id.is_(None), Intent.state.in_(states)))
            stmt2 = _matching(stmt2, Intent, mode=mode, market=market, account=account)
            stmt2 = stmt2.order_by(Intent.epoch.desc(), Intent.id.desc())
            for row in s.execute(stmt2).mappings():
                bet = self._from_intent(_part(row, "i_"))
                if bet is not None:
                    out.append(bet)
                    if limit is not None and len(out) >= 2 * limit:
                        break
        out.sort(key=lambda b: (b.when, b.epoch, b.market), reverse=True)
        return out[:limit] if limit is not None else out

    def open_bets(self, mode: str | None = None, market: str | None = None, account: str | None = None,
                  limit: int | None = 50) -> list[Bet]:
        return self.bets(mode, market, account, settled=False, limit=limit)

    def settlements(self, mode: str | None = None, market: str | None = None, account: str | None = None,
                    limit: int | None = 50) -> list[Bet]:
        return self.bets(mode, market, account, settled=True, limit=limit)

    def recent_bets(self, account: str | None = None, limit: int = 10) -> list[Bet]:
        return self.bets(account=account, limit=limit)

    def claimable(self, mode: str = "live", market: str | None = None, account: str | None = None) -> list[Bet]:
        """Won or refundable bets whose claim has not been seen yet."""
        return [b for b in self.bets(mode, market, account, settled=True, limit=None) if b.claimable and not b.claimed]

    def _from_settlement(self, row: Any, intent: Any | None) -> Bet:
        coin = self.coin(row.market)
        origin = row.origin if row.origin == "adopted" or intent is None else intent.origin
        gas = row.bet_gas_wei + row.claim_gas_wei
        if intent is not None and not row.final:
            gas = max(gas, intent.gas_cost_wei)
        return Bet(
            market=row.market, epoch=row.epoch, account=row.account, mode=row.mode, origin=origin,
            side=Position(row.position).label,
            amount_wei=row.stake_wei or (intent.amount_wei if intent is not None else 0),
            coin=coin.symbol, decimals=coin.decimals, settled=bool(row.final),
            outcome=row.status if row.final else "open", payout_wei=row.payout_wei if row.final else 0,
            gas_wei=gas, net_pnl_wei=row.net_pnl_wei if row.final else 0,
            tx=_real_tx(row.mode, row.bet_tx or (intent.tx_hash if intent is not None else None)),
            claimable=bool(row.claimable or row.refundable), claimed=bool(row.claimed), claim_tx=row.claim_tx,
            placed_at=int(intent.created_at) if intent is not None else None,
            settled_at=int(row.settled_at) if row.final and row.settled_at else None,
            lock_ts=(intent.lock_ts or None) if intent is not None else None,
            strategy=intent.strategy if intent is not None else "",
            p_up=_p_up(intent.decision) if intent is not None else None,
            state=intent.state if intent is not None else "", intent_id=intent.id if intent is not None else None,
        )

    def _from_intent(self, i: Any) -> Bet | None:
        coin = self.coin(i.market)
        reverted = i.state in REVERTED
        if reverted and (i.mode != "live" or i.block_number is None or i.gas_cost_wei <= 0):
            return None  # refused before sending: no bet, no cost
        return Bet(
            market=i.market, epoch=i.epoch, account=i.account, mode=i.mode, origin=i.origin,
            side=Position(i.position).label, amount_wei=i.amount_wei, coin=coin.symbol, decimals=coin.decimals,
            settled=reverted, outcome="reverted" if reverted else "open", payout_wei=0, gas_wei=i.gas_cost_wei,
            net_pnl_wei=-i.gas_cost_wei if reverted else 0, tx=_real_tx(i.mode, i.tx_hash), claimable=False,
            claimed=False,
            claim_tx=None, placed_at=int(i.created_at),
            settled_at=(int(i.block_timestamp or i.created_at) if reverted else None), lock_ts=i.lock_ts or None,
            strategy=i.strategy, p_up=_p_up(i.decision), state=i.state, intent_id=i.id,
        )

    def claims(self, market: str | None = None, limit: int | None = 50) -> list[ClaimView]:
        with session_scope(self.sessions) as s:
            stmt = select(ClaimRecord)
            if market:
                stmt = stmt.where(ClaimRecord.market == market)
            stmt = stmt.order_by(ClaimRecord.id.desc())
            if limit is not None:
                stmt = stmt.limit(limit)
            return [ClaimView(
                market=r.market, account=r.account, tx=r.tx_hash,
                epochs=tuple(int(e) for e in r.epochs.split(",") if e.strip()), expected_wei=r.expected_wei,
                claimed_wei=r.claimed_wei, gas_wei=r.gas_wei, status=r.status, block_number=r.block_number,
                confirmed=bool(r.confirmed), mismatch=r.mismatch or "", created_at=int(r.created_at) or None,
            ) for r in s.scalars(stmt)]

    def status_inputs(self, account: str | None = None, topic_ids: Sequence[int] = (),
                      recent: int = 10) -> StatusInputs:
        """Recent and open bets (of ``account``, or all), the latest inference of each topic, the per-mode summary."""
        latest = [self.latest_inference(t) for t in topic_ids]
        return StatusInputs(
            recent_bets=tuple(self.recent_bets(account, recent)),
            open_bets=tuple(self.open_bets(account=account, limit=None)),
            latest_inferences=tuple(v for v in latest if v is not None),
            summary=tuple(self.summary(account=account)),
        )

    # -- money over time ------------------------------------------------------------------------------------------

    def pnl(self, mode: str | None = None, market: str | None = None, account: str | None = None) -> list[PnlRow]:
        """Settled bets per (mode, market, UTC day of settlement); open bets are not in it."""
        table: dict[tuple[str, str, str], list[int]] = {}
        for b in self.bets(mode, market, account, settled=True, limit=None):
            acc = table.setdefault((b.mode, b.market, utc_day(b.settled_at or b.when)), [0] * 7)
            acc[0] += 0 if b.outcome == "reverted" else 1
            acc[1] += b.outcome == "won"
            acc[2] += b.outcome in ("lost", "house-won")
            acc[3] += 0 if b.outcome == "reverted" else b.amount_wei
            acc[4] += b.payout_wei
            acc[5] += b.gas_wei
            acc[6] += b.net_pnl_wei
        rows = []
        for (m, mk, day), v in sorted(table.items()):
            coin = self.coin(mk)
            rows.append(PnlRow(m, mk, day, coin.symbol, coin.decimals, v[0], v[1], v[2], v[3], v[4], v[5], v[6]))
        return rows

    def equity_curve(self, mode: str = "live", market: str | None = None,
                     account: str | None = None) -> list[EquityPoint]:
        """Cumulative net PnL after each settled bet, oldest first (per coin when markets stake different coins)."""
        bets = sorted(self.bets(mode, market, account, settled=True, limit=None), key=lambda b: (b.when, b.epoch))
        running: dict[str, int] = {}
        out = []
        for b in bets:
            running[b.coin] = running.get(b.coin, 0) + b.net_pnl_wei
            out.append(EquityPoint(b.when, b.mode, b.market, b.epoch, b.coin, b.net_pnl_wei, running[b.coin]))
        return out

    def summary(self, mode: str | None = None, account: str | None = None) -> list[BetSummary]:
        """Per mode (and coin): counts, hit rate and money of every bet."""
        groups: dict[tuple[str, str], list[Bet]] = {}
        for b in self.bets(mode, account=account, limit=None):
            groups.setdefault((b.mode, b.coin), []).append(b)
        out = []
        for (m, symbol), bets in sorted(groups.items()):
            won = sum(b.outcome == "won" for b in bets)
            lost = sum(b.outcome in ("lost", "house-won") for b in bets)
            placed = [b for b in bets if b.outcome != "reverted"]
            out.append(BetSummary(
                mode=m, coin=symbol, decimals=bets[0].decimals, bets=len(placed), open=sum(not b.settled for b in bets),
                won=won, lost=lost, refunds=sum(b.outcome == "refund" for b in bets),
                reverted=sum(b.outcome == "reverted" for b in bets),
                hit_rate=won / (won + lost) if won + lost else None,
                staked_wei=sum(b.amount_wei for b in placed), returned_wei=sum(b.payout_wei for b in bets),
                gas_wei=sum(b.gas_wei for b in bets), net_pnl_wei=sum(b.net_pnl_wei for b in bets)))
        return out

    # -- inferences -----------------------------------------------------------------------------------------------

    @staticmethod
    def _inference(r: InferenceRecord) -> InferenceView:
        return InferenceView(
            id=r.id, source=r.source, topic_id=r.topic_id, topic_name=r.topic_name, timestamp=r.timestamp,
            fetched_at=r.fetched_at_ms / 1000, accepted=bool(r.accepted),
            verdict="accepted" if r.accepted else (r.reason or "rejected"), detail=r.detail or "", value=r.value,
            signer=r.signer, block_height=r.block_height)

    def inferences(self, topic_id: int | None = None, accepted: bool | None = None,
                   limit: int | None = 50) -> list[InferenceView]:
        with session_scope(self.sessions) as s:
            stmt = select(InferenceRecord)
            if topic_id is not None:
                stmt = stmt.where(InferenceRecord.topic_id == topic_id)
            if accepted is not None:
                stmt = stmt.where(InferenceRecord.accepted.is_(accepted))
            stmt = stmt.order_by(InferenceRecord.fetched_at_ms.desc(), InferenceRecord.id.desc())
            if limit is not None:
                stmt = stmt.limit(limit)
            return [self._inference(r) for r in s.scalars(stmt)]

    def inference_verdict_counts(self) -> dict[str, int]:
        """The whole inference log counted by verdict ("accepted" or the rejection reason): one grouped read."""
        from sqlalchemy import func

        out: dict[str, int] = {}
        with session_scope(self.sessions) as s:
            stmt = select(InferenceRecord.accepted, InferenceRecord.reason, func.count()).group_by(
                InferenceRecord.accepted, InferenceRecord.reason)
            for accepted, reason, count in s.execute(stmt).all():
                verdict = "accepted" if accepted else (reason or "rejected")
                out[verdict] = out.get(verdict, 0) + int(count)
        return out

    def latest_inference(self, topic_id: int) -> InferenceView | None:
        from bot.store.inferences import latest_accepted

        with session_scope(self.sessions) as s:
            row = latest_accepted(s, topic_id)
            return None if row is None else self._inference(row)

    def accuracy(self, settings: Settings, topic_ids: Sequence[int] | None = None) -> AccuracyReport:
        from bot.allora.logexport import source_url
        from bot.truth.accuracy import load_inferences, load_rounds, round_topics_from_settings, score_accuracy

        with session_scope(self.sessions) as s:
            inferences = load_inferences(s, list(topic_ids or []) or None, source_url=source_url(settings))
            rounds = load_rounds(s)
        return score_accuracy(inferences, topics=settings.allora.topics, rounds=rounds,
                              round_topics=round_topics_from_settings(settings))

    # -- exports (backtest inputs) --------------------------------------------------------------------------------

    def aligned_round(self, markets: Sequence[str], lock_ts: int, close_ts: int, tolerance: int) -> RoundMatch | None:
        if not markets:
            return None
        with session_scope(self.sessions) as s:
            rows = s.scalars(select(RoundOutcome).where(
                RoundOutcome.market.in_(list(markets)),
                RoundOutcome.lock_ts.between(lock_ts - tolerance, lock_ts + tolerance),
                RoundOutcome.close_ts.between(close_ts - tolerance, close_ts + tolerance),
            )).all()
            if not rows:
                return None
            row = min(rows, key=lambda r: (abs(r.lock_ts - lock_ts) + abs(r.close_ts - close_ts), not r.final, r.market))
            scale = -int(row.price_decimals)
            return RoundMatch(row.market, row.epoch, row.lock_ts, row.close_ts, Decimal(row.lock_price).scaleb(scale),
                              Decimal(row.close_price).scaleb(scale), bool(row.final), row.status)

    def recent_round_log_returns(self, markets: Sequence[str], limit: int) -> list[float]:
        if not markets:
            return []
        with session_scope(self.sessions) as s:
            rows = s.scalars(
                select(RoundOutcome)
                .where(RoundOutcome.market.in_(list(markets)), RoundOutcome.final.is_(True))
                .order_by(RoundOutcome.close_ts.desc())
                .limit(limit * 2)
            ).all()
            out: list[float] = []
            for row in rows:
                if row.status == RoundStatus.REFUNDABLE or row.lock_price <= 0 or row.close_price <= 0:
                    continue
                out.append(float((Decimal(row.close_price) / Decimal(row.lock_price)).ln()))
                if len(out) >= limit:
                    break
        return out[::-1]

    def export_decision_pools(self, path: str | Path, market: str | None = None) -> int:
        from bot.backtest.decision_pools import export_decision_pools

        with session_scope(self.sessions) as s:
            return export_decision_pools(s, path, market)

    def export_inferences(self, settings: Settings, path: str | Path,
                          topic_ids: Iterable[int] | None = None) -> ExportSummary:
        from bot.allora.logexport import export_rows, write_export

        with session_scope(self.sessions) as s:
            return write_export(export_rows(s, settings, topic_ids=list(topic_ids or []) or None), path)


def for_settings(settings: Settings, engine: Engine | None = None) -> QueryService:
    """The service over the configured database, with each market's coin from the config."""
    from bot.coins import coins_of
    from bot.store.db import make_engine

    return QueryService(engine if engine is not None else make_engine(settings.database_url), coins_of(settings))


__all__ = ["Bet", "BetSummary", "ClaimView", "EquityPoint", "InferenceView", "PnlRow", "QueryService", "StatusInputs",
           "asdict", "for_settings", "to_plain", "utc_day", "utc_time"]
