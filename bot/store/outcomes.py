"""Closed rounds (outcomes), settled bets, our accounts' events and transactions, claims, and scan cursors.

``RoundOutcome`` is what the ground-truth service and accuracy scoring read; the reconciler (``bot.reconcile``) writes
every table here. Wei amounts are exact (``WeiType``); every write is an idempotent upsert keyed by chain facts
(market + epoch, transaction hash + log index), so re-scanning a block range never double counts.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.store.db import Base, WeiType


class RoundOutcome(Base):
    __tablename__ = "round_outcomes"
    __table_args__ = (
        UniqueConstraint("market", "epoch", name="uq_outcome_market_epoch"),
        Index("ix_outcome_market_final", "market", "final"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    market: Mapped[str] = mapped_column(String(64), index=True)
    epoch: Mapped[int] = mapped_column(BigInteger)
    start_ts: Mapped[int] = mapped_column(BigInteger)
    lock_ts: Mapped[int] = mapped_column(BigInteger, index=True)
    close_ts: Mapped[int] = mapped_column(BigInteger, index=True)
    lock_price: Mapped[int] = mapped_column(WeiType)  # raw contract integer; see price_decimals
    close_price: Mapped[int] = mapped_column(WeiType)
    price_decimals: Mapped[int] = mapped_column(Integer, default=8)
    ai_price: Mapped[int | None] = mapped_column(WeiType, nullable=True)
    total_wei: Mapped[int] = mapped_column(WeiType)
    bull_wei: Mapped[int] = mapped_column(WeiType)
    bear_wei: Mapped[int] = mapped_column(WeiType)
    reward_base_wei: Mapped[int] = mapped_column(WeiType)
    reward_wei: Mapped[int] = mapped_column(WeiType)
    oracle_called: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))  # bot.domain.RoundStatus value
    direction: Mapped[int] = mapped_column(Integer)  # +1 up, -1 down, 0 flat / not executed
    log_return: Mapped[float | None] = mapped_column(Float, nullable=True)  # statistics only
    final: Mapped[bool] = mapped_column(Boolean, default=False)  # settled or refundable: will not change


class Settlement(Base):
    """One bet of one of our accounts (live) or one paper fill, settled exactly from chain state.

    ``mode`` separates live money from paper fills (a paper fill and a hand-made live bet may share market, epoch and
    account). ``origin``: bot (journaled intent), adopted (made outside the bot, found on chain) or paper.
    """

    __tablename__ = "settlements"
    __table_args__ = (UniqueConstraint("market", "epoch", "account", "mode", name="uq_settlement"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    market: Mapped[str] = mapped_column(String(64), index=True)
    epoch: Mapped[int] = mapped_column(BigInteger)
    account: Mapped[str] = mapped_column(String(42), index=True)
    mode: Mapped[str] = mapped_column(String(8), default="live")  # live | paper
    position: Mapped[int] = mapped_column(Integer)
    stake_wei: Mapped[int] = mapped_column(WeiType)
    bet_tx: Mapped[str | None] = mapped_column(String(66), nullable=True)
    bet_gas_wei: Mapped[int] = mapped_column(WeiType, default=0)
    origin: Mapped[str] = mapped_column(String(16), default="bot")  # bot | adopted | paper
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | won | lost | house-won | refund
    payout_wei: Mapped[int] = mapped_column(WeiType, default=0)  # gross amount the claim returns (payout or refund)
    claimable: Mapped[bool] = mapped_column(Boolean, default=False)  # a winning bet not claimed yet
    refundable: Mapped[bool] = mapped_column(Boolean, default=False)  # a never-executed round, not claimed yet
    claimed: Mapped[bool] = mapped_column(Boolean, default=False)
    claim_tx: Mapped[str | None] = mapped_column(String(66), nullable=True)
    claimed_wei: Mapped[int] = mapped_column(WeiType, default=0)  # from the Claim event
    claim_gas_wei: Mapped[int] = mapped_column(WeiType, default=0)  # our share of the claim transaction's gas
    net_pnl_wei: Mapped[int] = mapped_column(WeiType, default=0)  # payout - stake - bet gas - claim gas
    final: Mapped[bool] = mapped_column(Boolean, default=False)  # outcome known (payout fixed)
    settled_at: Mapped[int] = mapped_column(BigInteger, default=0)  # chain time the outcome became known


class ScanCursor(Base):
    """Progress of one log scan (``block``: last block scanned) and its adaptive chunk size."""

    __tablename__ = "scan_cursors"
    __table_args__ = (UniqueConstraint("market", "kind", name="uq_cursor"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    market: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))  # rounds | account | user-rounds:<account>
    block: Mapped[int] = mapped_column(BigInteger, default=0)  # last block scanned (user-rounds: entries read)
    start_block: Mapped[int] = mapped_column(BigInteger, default=0)  # where the scan began (first block covered)
    chunk: Mapped[int] = mapped_column(Integer, default=0)  # last good chunk size (blocks per eth_getLogs)


class AccountEvent(Base):
    """A BetBull / BetBear / Claim log of one of our accounts (re-scans upsert on tx hash + log index)."""

    __tablename__ = "account_events"
    __table_args__ = (
        UniqueConstraint("tx_hash", "log_index", name="uq_account_event"),
        Index("ix_account_event_lookup", "market", "account", "epoch"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    market: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(42), index=True)
    name: Mapped[str] = mapped_column(String(16))  # BetBull | BetBear | Claim
    epoch: Mapped[int] = mapped_column(BigInteger)
    amount_wei: Mapped[int] = mapped_column(WeiType)
    tx_hash: Mapped[str] = mapped_column(String(66), index=True)
    log_index: Mapped[int] = mapped_column(Integer)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    block_hash: Mapped[str] = mapped_column(String(66), default="")


class AccountTx(Base):
    """One mined transaction sent by one of our accounts: what it cost (value + gas) and what it was.

    ``kind``: bet | claim | approve | market (another call to a market) | token (another call to a stake token) | other.
    ``source``: journal (our TxAttempt), event (a market log of ours), nonce (found by walking the account's nonces).
    """

    __tablename__ = "account_txs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(42), index=True)
    tx_hash: Mapped[str] = mapped_column(String(66), unique=True)
    nonce: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    block_hash: Mapped[str] = mapped_column(String(66), default="")
    to: Mapped[str] = mapped_column(String(42), default="")
    market: Mapped[str] = mapped_column(String(64), default="")  # the market it concerns ("" if none)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[int] = mapped_column(Integer)  # receipt status: 1 ok, 0 reverted
    value_wei: Mapped[int] = mapped_column(WeiType, default=0)  # native value sent (returned if reverted)
    gas_used: Mapped[int] = mapped_column(Integer, default=0)
    gas_wei: Mapped[int] = mapped_column(WeiType, default=0)  # gasUsed * effectiveGasPrice (+ L1 fee if reported)
    epochs: Mapped[str] = mapped_column(Text, default="")  # bet: its epoch; claim: epochs paid (Claim events)
    source: Mapped[str] = mapped_column(String(8), default="event")


class AccountWindow(Base):
    """Accounting window of one of our accounts: from ``start_block`` (nonce ``start_nonce``) to ``checked_block``."""

    __tablename__ = "account_windows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(42), unique=True)
    start_block: Mapped[int] = mapped_column(BigInteger)
    start_nonce: Mapped[int] = mapped_column(BigInteger)  # transactions sent before start_block
    checked_block: Mapped[int] = mapped_column(BigInteger, default=0)  # every nonce up to here is explained...
    unattributed: Mapped[int] = mapped_column(Integer, default=0)  # ...except this many (node had no history)


class ClaimRecord(Base):
    """A claim transaction the bot sent: what it expected, what the Claim events say, and whether it is confirmed."""

    __tablename__ = "claim_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    market: Mapped[str] = mapped_column(String(64), index=True)
    account: Mapped[str] = mapped_column(String(42), index=True)
    tx_hash: Mapped[str] = mapped_column(String(66), unique=True)
    epochs: Mapped[str] = mapped_column(Text)  # comma-separated, ascending
    expected_wei: Mapped[int] = mapped_column(WeiType, default=0)
    claimed_wei: Mapped[int] = mapped_column(WeiType, default=0)  # sum of the receipt's Claim events
    gas_wei: Mapped[int] = mapped_column(WeiType, default=0)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)  # receipt status
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    mismatch: Mapped[str] = mapped_column(Text, default="")  # "" when the events match what we expected
    created_at: Mapped[int] = mapped_column(BigInteger, default=0)


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
