"""Journal/settlement figures the risk limits need (I/O at the edge, one small query each)."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.journal import Intent, IntentState
from bot.store.outcomes import Settlement

COUNTED = (IntentState.SIGNED, IntentState.SENT, IntentState.LANDED, IntentState.PAPER)


def day_start(now: float) -> float:
    return now - (now % 86_400)


def staked_today(session: Session, account: str, now: float | None = None) -> int:
    start = day_start(time.time() if now is None else now)
    rows = session.scalars(
        select(Intent.amount_wei).where(
            Intent.account == account, Intent.created_at >= start, Intent.state.in_([s.value for s in COUNTED])
        )
    ).all()
    return sum(int(v) for v in rows)


def pnl_today(session: Session, account: str, now: float | None = None, mode: str = "live") -> int:
    start = int(day_start(time.time() if now is None else now))
    rows = session.scalars(
        select(Settlement.net_pnl_wei).where(
            Settlement.account == account, Settlement.settled_at >= start, Settlement.mode == mode
        )
    ).all()
    return sum(int(v) for v in rows)


def consecutive_losses(session: Session, account: str, limit: int = 100, mode: str = "live") -> int:
    rows = session.scalars(
        select(Settlement.status)
        .where(
            Settlement.account == account,
            Settlement.mode == mode,
            Settlement.status.in_(["won", "lost", "house-won"]),
        )
        .order_by(Settlement.epoch.desc())
        .limit(limit)
    ).all()
    count = 0
    for status in rows:
        if status == "won":
            break
        count += 1
    return count
