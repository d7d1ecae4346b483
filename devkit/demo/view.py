"""The demo's round-by-round view: one row per round the daemon decided on, kept until the round is closed.

A row says what the bot saw (p_up, both pools), what it did (side, stake, transaction state) and **why** — the expected
value of each side at the pools' payout multiples after the fee and our own stake, and, when it bets against its own
p_up, that the other side's crowded pool makes the less likely side pay more than it risks. A row is *closed* when the
chain has closed its round (up, down or a tie) and, for a landed bet, reconciliation has settled it; closed rows are
printed once, in epoch order, so the output scrolls and keeps every round (a terminal gets a live footer with the rounds
still open). Amounts are coins, exact from wei (``bot.coins.format_units``) and cut, never rounded, to a few places.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.coins import format_units
from bot.domain import Position
from bot.payout import gross_multiple
from bot.store.db import session_scope
from bot.store.outcomes import Settlement

DECIMALS = 18
CROWD_WARNING = ("the crowd is simulated: 2-4 small bets a round from dev accounts; pools this thin pay multiples a "
                 "real market does not, so returns in % are not realistic")
HEADER = (f"{'epoch':>5} {'p_up':>5} {'bull pool':>9} {'bear pool':>9} {'bet':<4} {'stake':>7} {'tx':<8} "
          f"{'outcome':<7} {'result':<6} {'net PnL':>9}  why")


def coin_text(wei: int, places: int | None = None) -> str:
    """Exact coin text of ``wei``; ``places``: cut (toward zero) to that many decimals, zeros kept for alignment."""
    if places is None:
        return format_units(wei, DECIMALS)
    step = 10 ** (DECIMALS - places)
    cut = abs(wei) // step * step
    whole, frac = divmod(cut, 10**DECIMALS)
    sign = "-" if wei < 0 else ""
    return f"{sign}{whole}.{str(frac // step).rjust(places, '0')}" if places else f"{sign}{whole}"


def explain(side: Position | None, stake: int, reason: str, ctx: dict[str, Any]) -> str:
    """Why this decision, in one line: each side's expected value per coin staked, and a bet against p_up named."""
    p_up = float(ctx.get("p_up", math.nan))
    if p_up != p_up:
        return reason
    bull, bear, fee = int(ctx.get("bull_pool_wei", 0)), int(ctx.get("bear_pool_wei", 0)), int(ctx.get("fee_bp", 300))
    probe = stake or int(ctx.get("min_bet_wei", 10**15))
    total = bull + bear
    m_bull, m_bear = gross_multiple(bull, total, fee, probe), gross_multiple(bear, total, fee, probe)
    ev_bull, ev_bear = p_up * m_bull - 1, (1 - p_up) * m_bear - 1
    evs = f"EV bull {ev_bull:+.0%} (pays {m_bull:.2f}x), bear {ev_bear:+.0%} (pays {m_bear:.2f}x)"
    if side is None:
        return f"{reason.removeprefix('skip: ')}: {evs}"
    against = (side is Position.BULL and p_up < 0.5) or (side is Position.BEAR and p_up > 0.5)
    if not against:
        return f"{side.label}: {evs}"
    p_side = p_up if side is Position.BULL else 1 - p_up
    other = "bear" if side is Position.BULL else "bull"
    pays = m_bull if side is Position.BULL else m_bear
    return (f"{side.label} against p_up: the {other} pool is crowded, {side.label} (p {p_side:.2f}) pays {pays:.2f}x "
            f"> 1/p; {evs}")


@dataclass
class Row:
    epoch: int
    p_up: float | None = None
    bull_pool: int = 0
    bear_pool: int = 0
    side: str = "skip"
    stake: int = 0
    tx: str = "-"
    why: str = ""
    outcome: str | None = None  # up / down / tie, from the chain
    result: str | None = None  # open / won / lost / house-won / refund, from reconciliation
    net_pnl: int | None = None
    printed: bool = False

    @property
    def waits_for_settlement(self) -> bool:
        return self.tx in ("landed", "sent") and self.result in (None, "open")

    @property
    def closed(self) -> bool:
        return self.outcome is not None and not self.waits_for_settlement

    def line(self) -> str:
        p = "" if self.p_up is None else f"{self.p_up:.3f}"
        stake = coin_text(self.stake, 4) if self.stake else "-"
        pnl = "" if self.net_pnl is None else ("+" if self.net_pnl >= 0 else "") + coin_text(self.net_pnl, 5)
        return (f"{self.epoch:>5} {p:>5} {coin_text(self.bull_pool, 3):>9} {coin_text(self.bear_pool, 3):>9} "
                f"{self.side:<4} {stake:>7} {self.tx:<8} {self.outcome or 'open':<7} {self.result or '':<6} "
                f"{pnl:>9}  {self.why}")

    def to_json(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "p_up": self.p_up, "bull_pool_wei": self.bull_pool, "bear_pool_wei": self.bear_pool,
                "side": self.side, "stake_wei": self.stake, "tx": self.tx, "outcome": self.outcome or "open",
                "result": self.result, "net_pnl_wei": self.net_pnl, "why": self.why}


@dataclass
class DemoView:
    """Rows by epoch; ``on_decision`` is the daemon's hook (scheduler threads), ``refresh`` reads chain and books."""

    market_name: str
    rounds: dict[int, Row] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_decision(self, decision: Any, result: Any) -> None:
        ctx = decision.context
        p_up = ctx.get("p_up")
        with self.lock:
            row = self.rounds.setdefault(decision.epoch, Row(decision.epoch))
            row.p_up = None if p_up is None or p_up != p_up else float(p_up)
            row.bull_pool, row.bear_pool = int(ctx.get("bull_pool_wei", 0)), int(ctx.get("bear_pool_wei", 0))
            row.side = decision.side.label if decision.side is not None else "skip"
            row.stake = int(decision.stake_wei) if decision.side is not None else 0
            row.tx = result.state.value if result is not None else "-"
            row.why = explain(decision.side, row.stake, decision.reason, ctx)

    def refresh(self, market: Any, sessions: Any, account: str) -> None:
        """Outcomes of decided rounds from the chain; results and PnL of our bets from reconciliation."""
        with self.lock:
            pending = [r.epoch for r in self.rounds.values() if r.outcome is None]
        outcomes: dict[int, str] = {}
        for epoch in pending:
            rnd = market.round(epoch)
            if rnd.oracle_called:
                outcomes[epoch] = ("up" if rnd.close_price > rnd.lock_price else
                                   "down" if rnd.close_price < rnd.lock_price else "tie")
        with session_scope(sessions) as s:
            settled = {st.epoch: (st.status, int(st.net_pnl_wei)) for st in s.scalars(
                select(Settlement).where(Settlement.market == self.market_name, Settlement.account == account))}
        with self.lock:
            for epoch, outcome in outcomes.items():
                self.rounds[epoch].outcome = outcome
            for epoch, (status, pnl) in settled.items():
                if epoch in self.rounds:
                    self.rounds[epoch].result, self.rounds[epoch].net_pnl = status, pnl

    def newly_closed(self) -> list[Row]:
        """Closed rows not printed yet, in epoch order, up to the first still-open one (the output stays ordered)."""
        out: list[Row] = []
        with self.lock:
            for epoch in sorted(self.rounds):
                row = self.rounds[epoch]
                if row.printed:
                    continue
                if not row.closed:
                    break
                row.printed = True
                out.append(row)
        return out

    def open_rows(self) -> list[Row]:
        with self.lock:
            return [r for _, r in sorted(self.rounds.items()) if not r.printed]

    def hits(self) -> tuple[int, int]:
        """(rounds whose p_up pointed to the outcome, rounds with a p_up and an up/down outcome)."""
        hits = total = 0
        for r in self.rounds.values():
            if r.p_up is None or r.p_up == 0.5 or r.outcome not in ("up", "down"):
                continue
            total += 1
            hits += (r.p_up > 0.5) == (r.outcome == "up")
        return hits, total
