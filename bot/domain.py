"""Domain types shared by every layer: positions, rounds, round status, ledger entries, market parameters.

Pure data, no I/O. Amounts are wei (``int``) end to end; prices are the raw integer the contract stores
(with ``price_decimals`` on the market description telling how to read them).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Position(enum.IntEnum):
    """A side of a round, as the contract encodes it (``BetInfo.position``)."""

    BULL = 0
    BEAR = 1

    @property
    def label(self) -> str:
        return "bull" if self is Position.BULL else "bear"

    @classmethod
    def parse(cls, text: str) -> Position:
        key = text.strip().lower()
        if key in ("bull", "up", "0", "follow"):
            return cls.BULL
        if key in ("bear", "down", "1", "against"):
            return cls.BEAR
        raise ValueError(f"unknown position {text!r}: expected bull or bear")


class RoundStatus(enum.StrEnum):
    """One normalised status for a round, whatever the dialect."""

    PENDING = "pending"  # not started yet (epoch beyond currentEpoch)
    OPEN = "open"  # started, bettable until lockTimestamp
    LOCKED = "locked"  # locked, waiting for close
    SETTLED_UP = "settled-up"  # bull side won (AI dialect: the AI was right)
    SETTLED_DOWN = "settled-down"  # bear side won (AI dialect: the AI was wrong)
    HOUSE_WON = "house-won"  # draw or empty winning side: nobody can claim
    REFUNDABLE = "refundable"  # never executed: stakes returned in full


@dataclass(frozen=True, slots=True)
class Round:
    """A round normalised across dialects. ``ai_price`` is only set by the AI dialect."""

    epoch: int
    start_timestamp: int
    lock_timestamp: int
    close_timestamp: int
    lock_price: int
    close_price: int
    total_amount: int
    bull_amount: int
    bear_amount: int
    reward_base_cal_amount: int
    reward_amount: int
    oracle_called: bool
    ai_price: int | None = None
    lock_oracle_id: int = 0
    close_oracle_id: int = 0

    @property
    def started(self) -> bool:
        return self.start_timestamp != 0


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One account's bet in one round (``ledger(epoch, user)`` / ``BetInfo``)."""

    epoch: int
    position: Position
    amount: int
    claimed: bool

    @property
    def exists(self) -> bool:
        return self.amount > 0


@dataclass(frozen=True, slots=True)
class MarketParams:
    """Market-wide parameters read from the contract."""

    interval_seconds: int
    buffer_seconds: int
    min_bet_amount: int
    treasury_fee_bp: int
    paused: bool
