"""Allora block times, cached: a block's time never changes once the block exists (owned by ``bot.truth``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.store.db import Base


class AlloraBlockTime(Base):
    """Unix time (seconds, floor) of one Allora block on one network (e.g. ``allora-testnet-1``)."""

    __tablename__ = "allora_block_times"
    __table_args__ = (UniqueConstraint("network", "height", name="uq_allora_block_time"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network: Mapped[str] = mapped_column(String(64))
    height: Mapped[int] = mapped_column(BigInteger)
    unix_ts: Mapped[int] = mapped_column(BigInteger)


def cached_block_time(session: Session, network: str, height: int) -> int | None:
    return session.scalar(
        select(AlloraBlockTime.unix_ts).where(AlloraBlockTime.network == network, AlloraBlockTime.height == height)
    )


def store_block_time(session: Session, network: str, height: int, unix_ts: int) -> None:
    """Insert once; a concurrent insert of the same block is not an error (the value is the same)."""
    if cached_block_time(session, network, height) is not None:
        return
    try:
        with session.begin_nested():
            session.add(AlloraBlockTime(network=network, height=height, unix_ts=unix_ts))
    except IntegrityError:
        pass
