"""The write-ahead journal of betting intents and the transactions signed for them.

Rules (the executor enforces them; the schema backs them):
- an ``Intent`` is unique per (market, epoch, account) and committed before anything is signed;
- a ``TxAttempt`` (raw signed bytes + hash + nonce) is committed before it is broadcast;
- every state change is one DB transaction.
"""

from __future__ import annotations

import enum
import time

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from bot.store.db import Base, WeiType


class IntentState(enum.StrEnum):
    INTENDED = "intended"  # decided, nothing signed
    SIGNED = "signed"  # a signed transaction is stored, maybe not sent
    SENT = "sent"  # handed to at least one RPC
    LANDED = "landed"  # mined, status 1
    REVERTED = "reverted"  # mined, status 0 (reason recorded) — or the pre-flight call reverted (nothing sent)
    TOO_LATE = "too-late"  # not sent: chain time too close to lock
    DROPPED = "dropped"  # sent, never mined, round no longer bettable
    PAPER = "paper"  # paper mode: simulated fill at decision-time pools
    FAILED = "failed"  # could not send (e.g. insufficient funds); reason recorded

    @property
    def terminal(self) -> bool:
        return self in (
            IntentState.LANDED,
            IntentState.REVERTED,
            IntentState.TOO_LATE,
            IntentState.DROPPED,
            IntentState.PAPER,
            IntentState.FAILED,
        )


_G, _S = IntentState.SIGNED, IntentState.SENT
# The bet lifecycle: the only moves an intent may make (``bot.store.hotjournal.transition`` enforces them; every other
# move is an ``IllegalTransition``, never a silent write). SIGNED -> SIGNED is a re-sign with a fresh nonce; SENT -> SENT
# a rebroadcast or a replacement with the same nonce. Terminal states never move.
TRANSITIONS: dict[IntentState, frozenset[IntentState]] = {
    IntentState.INTENDED: frozenset({_G, IntentState.PAPER, IntentState.TOO_LATE, IntentState.REVERTED,
                                     IntentState.FAILED}),
    IntentState.SIGNED: frozenset({_G, _S, IntentState.LANDED, IntentState.REVERTED, IntentState.TOO_LATE,
                                   IntentState.DROPPED, IntentState.FAILED}),
    IntentState.SENT: frozenset({_S, IntentState.LANDED, IntentState.REVERTED, IntentState.TOO_LATE,
                                 IntentState.DROPPED, IntentState.FAILED}),
    **{state: frozenset() for state in IntentState if state.terminal},
}


def allowed_from(target: IntentState) -> tuple[str, ...]:
    """The states an intent may be in to move to ``target``."""
    return tuple(sorted(s.value for s, nxt in TRANSITIONS.items() if target in nxt))


class IllegalTransition(RuntimeError):
    """A move the lifecycle does not allow (a bug, or another writer got there first)."""


class Intent(Base):
    __tablename__ = "intents"
    __table_args__ = (
        UniqueConstraint("market", "epoch", "account", name="uq_intent_market_epoch_account"),
        # the daily cap's read on the bet path (an account's intents since midnight): an index range, not the history
        Index("ix_intents_account_created_at", "account", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    market: Mapped[str] = mapped_column(String(64), index=True)
    epoch: Mapped[int] = mapped_column(BigInteger, index=True)
    account: Mapped[str] = mapped_column(String(42), index=True)
    mode: Mapped[str] = mapped_column(String(8))  # live | paper
    origin: Mapped[str] = mapped_column(String(16), default="daemon")  # daemon | manual
    position: Mapped[int] = mapped_column(Integer)
    amount_wei: Mapped[int] = mapped_column(WeiType)
    state: Mapped[str] = mapped_column(String(16), default=IntentState.INTENDED.value)
    reason: Mapped[str] = mapped_column(Text, default="")
    strategy: Mapped[str] = mapped_column(String(64), default="")
    decision: Mapped[str] = mapped_column(Text, default="{}")  # JSON: signal, pools, edge at decision time
    lock_ts: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[float] = mapped_column(default=time.time)
    updated_at: Mapped[float] = mapped_column(default=time.time)
    fired_at: Mapped[float] = mapped_column(default=0.0)  # trigger time (decision latency starts here)
    handed_at: Mapped[float] = mapped_column(default=0.0)  # raw tx handed to the RPC
    owner: Mapped[str] = mapped_column(String(96), default="", server_default="")  # lock holder driving it; '' = none yet
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)  # the hash that landed (or last sent)
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    block_timestamp: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    gas_used: Mapped[int] = mapped_column(Integer, default=0)
    gas_cost_wei: Mapped[int] = mapped_column(WeiType, default=0)

    attempts: Mapped[list[TxAttempt]] = relationship(back_populates="intent", order_by="TxAttempt.id")

    def set_state(self, state: IntentState, reason: str | None = None) -> None:
        self.state = state.value
        if reason is not None:
            self.reason = reason
        self.updated_at = time.time()


class TxAttempt(Base):
    """One signed transaction (a replacement is a new attempt with the same nonce)."""

    __tablename__ = "tx_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intent_id: Mapped[int | None] = mapped_column(ForeignKey("intents.id"), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # bet | claim | approve
    market: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(42), index=True)
    nonce: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66), unique=True)
    raw_tx: Mapped[str] = mapped_column(Text)  # signed bytes, hex; public once broadcast, contains no secret
    epochs: Mapped[str] = mapped_column(Text, default="")  # comma-separated (claims)
    max_fee_wei: Mapped[int] = mapped_column(WeiType, default=0)
    priority_fee_wei: Mapped[int] = mapped_column(WeiType, default=0)
    status: Mapped[str] = mapped_column(String(16), default="signed")  # signed | sent | mined | failed | replaced | dropped
    receipt_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    block_number: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    gas_cost_wei: Mapped[int] = mapped_column(WeiType, default=0)
    created_at: Mapped[float] = mapped_column(default=time.time)

    intent: Mapped[Intent | None] = relationship(back_populates="attempts")


def find_intent(session: Session, market: str, epoch: int, account: str) -> Intent | None:
    return session.scalars(
        select(Intent).where(Intent.market == market, Intent.epoch == epoch, Intent.account == account)
    ).first()


def open_intents(session: Session) -> list[Intent]:
    """Intents whose outcome is not known yet (recovery on start resolves these from the chain)."""
    live = [s.value for s in IntentState if not s.terminal]
    return list(session.scalars(select(Intent).where(Intent.state.in_(live)).order_by(Intent.id)).all())
