"""Closed rounds (outcomes), settled bets, and scan cursors.

``RoundOutcome`` is what the ground-truth service and accuracy scoring read; the reconciler writes it.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.store.db import Base, WeiType


class RoundOutcome(Base):
    __tablename__ = "round_outcomes"
    __table_args__ = (UniqueConstraint("market", "epoch", name="uq_outcome_market_epoch"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    market: Mapped[str] = mapped_column(String(64), index=True)
    epoch: Mapped[int] = mapped_column(Integer)
    start_ts: Mapped[int] = mapped_column(Integer)
    lock_ts: Mapped[int] = mapped_column(Integer, index=True)
    close_ts: Mapped[int] = mapped_column(Integer, index=True)
    lock_price: Mapped[int] = mapped_column(WeiType)  # raw contract integer; see price_decimals
    close_price: Mapped[int] = mapped_column(WeiType)
    price_decimals: Mapped[int] = mapped_column(Integer, default=8)
    ai_price: Mapped[int | None] = mapped_column(WeiType, nullable=True)
    total_wei: Mapped[int] = mapped_column(WeiType)
    bull_wei: Mapped[int] = mapped_column(WeiType)
    bear_wei: Mapped[int] = mapped_column(WeiType)
    reward_base_wei: Mapped[int] = mapped_column(WeiType)
    reward_wei: Mapped[int] = mapped_column(WeiType)
    status: Mapped[str] = mapped_column(String(16))  # bot.domain.RoundStatus value
    direction: Mapped[int] = mapped_column(Integer)  # +1 up, -1 down, 0 flat / not executed
    log_return: Mapped[float | None] = mapped_column(Float, nullable=True)  # statistics only
    final: Mapped[bool] = mapped_column(Boolean, default=False)  # settled or refundable: will not change


class Settlement(Base):
    """One bet of one of our accounts, settled exactly from chain state."""

    __tablename__ = "settlements"
    __table_args__ = (UniqueConstraint("market", "epoch", "account", name="uq_settlement"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    market: Mapped[str] = mapped_column(String(64), index=True)
    epoch: Mapped[int] = mapped_column(Integer)
    account: Mapped[str] = mapped_column(String(42), index=True)
    position: Mapped[int] = mapped_column(Integer)
    stake_wei: Mapped[int] = mapped_column(WeiType)
    bet_tx: Mapped[str | None] = mapped_column(String(66), nullable=True)
    bet_gas_wei: Mapped[int] = mapped_column(WeiType, default=0)
    origin: Mapped[str] = mapped_column(String(16), default="bot")  # bot | adopted (made outside the bot)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | won | lost | house-won | refund | pending
    payout_wei: Mapped[int] = mapped_column(WeiType, default=0)  # gross amount the claim returns (payout or refund)
    claimable: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed: Mapped[bool] = mapped_column(Boolean, default=False)
    claim_tx: Mapped[str | None] = mapped_column(String(66), nullable=True)
    claimed_wei: Mapped[int] = mapped_column(WeiType, default=0)  # from the Claim event
    claim_gas_wei: Mapped[int] = mapped_column(WeiType, default=0)  # our share of the claim transaction's gas
    net_pnl_wei: Mapped[int] = mapped_column(WeiType, default=0)
    settled_at: Mapped[int] = mapped_column(Integer, default=0)


class ScanCursor(Base):
    __tablename__ = "scan_cursors"
    __table_args__ = (UniqueConstraint("market", "kind", name="uq_cursor"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    market: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    block: Mapped[int] = mapped_column(Integer, default=0)


def outcome_at_close(session: Session, market: str, close_ts: int, tolerance: int) -> RoundOutcome | None:
    """The final outcome whose close time is nearest ``close_ts`` within ``tolerance`` seconds."""
    rows = session.scalars(
        select(RoundOutcome).where(
            RoundOutcome.market == market,
            RoundOutcome.final.is_(True),
            RoundOutcome.close_ts >= close_ts - tolerance,
            RoundOutcome.close_ts <= close_ts + tolerance,
        )
    ).all()
    if not rows:
        return None
    return min(rows, key=lambda r: abs(r.close_ts - close_ts))
