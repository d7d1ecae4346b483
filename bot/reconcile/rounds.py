"""Round state for the reconciler: final rounds from the database, the rest read from chain in JSON-RPC batches.

Every round seen from lock on is stored as a ``RoundOutcome`` (status, direction, log-return, final flag); a final
round (settled, house-won or refundable) never changes, so it is never read from chain again unless a re-scan of the
reorg window saw one of its events.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.domain import Round, RoundStatus
from bot.markets.base import PredictionMarket
from bot.payout import round_status
from bot.store.db import session_scope
from bot.store.outcomes import RoundOutcome

FINAL_STATUSES = frozenset(
    {RoundStatus.SETTLED_UP, RoundStatus.SETTLED_DOWN, RoundStatus.HOUSE_WON, RoundStatus.REFUNDABLE}
)
STORED_STATUSES = FINAL_STATUSES | {RoundStatus.LOCKED}


def direction(rnd: Round) -> int:
    """+1 the price went up, -1 down, 0 flat or the round was never executed."""
    if not rnd.oracle_called:
        return 0
    return (rnd.close_price > rnd.lock_price) - (rnd.close_price < rnd.lock_price)


def log_return(rnd: Round) -> float | None:
    """ln(close / lock) of an executed round (statistics only)."""
    if not rnd.oracle_called or rnd.lock_price <= 0 or rnd.close_price <= 0:
        return None
    return math.log(rnd.close_price / rnd.lock_price)


def round_from_outcome(row: RoundOutcome) -> Round:
    return Round(
        epoch=row.epoch,
        start_timestamp=row.start_ts,
        lock_timestamp=row.lock_ts,
        close_timestamp=row.close_ts,
        lock_price=row.lock_price,
        close_price=row.close_price,
        total_amount=row.total_wei,
        bull_amount=row.bull_wei,
        bear_amount=row.bear_wei,
        reward_base_cal_amount=row.reward_base_wei,
        reward_amount=row.reward_wei,
        oracle_called=bool(row.oracle_called),
        ai_price=row.ai_price,
    )


def write_outcome(
    session: Session,
    market: PredictionMarket,
    rnd: Round,
    status: RoundStatus,
    stored: dict[int, RoundOutcome] | None = None,
) -> None:
    """Upsert the ``RoundOutcome`` of a round (idempotent: keyed by market and epoch).

    ``stored``: the rows already loaded for the epochs being written (absent there means absent in the DB).
    """
    if stored is not None:
        row = stored.get(rnd.epoch)
    else:
        row = session.scalars(
            select(RoundOutcome).where(RoundOutcome.market == market.name, RoundOutcome.epoch == rnd.epoch)
        ).first()
    if row is None:
        row = RoundOutcome(market=market.name, epoch=rnd.epoch)
        session.add(row)
    row.start_ts = rnd.start_timestamp
    row.lock_ts = rnd.lock_timestamp
    row.close_ts = rnd.close_timestamp
    row.lock_price = rnd.lock_price
    row.close_price = rnd.close_price
    row.price_decimals = market.spec.price_decimals
    row.ai_price = rnd.ai_price
    row.total_wei = rnd.total_amount
    row.bull_wei = rnd.bull_amount
    row.bear_wei = rnd.bear_amount
    row.reward_base_wei = rnd.reward_base_cal_amount
    row.reward_wei = rnd.reward_amount
    row.oracle_called = rnd.oracle_called
    row.status = status.value
    row.direction = direction(rnd)
    row.log_return = log_return(rnd)
    row.final = status in FINAL_STATUSES


class RoundBook:
    """Rounds of one market as of chain time ``now``."""

    def __init__(self, market: PredictionMarket, sessions: sessionmaker[Session], batch_size: int = 200) -> None:
        self.market = market
        self.sessions = sessions
        self.batch_size = batch_size
        self.chain_reads = 0  # rounds read from chain (statistics)

    def final_rounds(self, epochs: Iterable[int]) -> dict[int, Round]:
        wanted = sorted(set(epochs))
        out: dict[int, Round] = {}
        with session_scope(self.sessions) as s:
            for start in range(0, len(wanted), 900):
                chunk = wanted[start : start + 900]
                rows = s.scalars(
                    select(RoundOutcome).where(
                        RoundOutcome.market == self.market.name,
                        RoundOutcome.final.is_(True),
                        RoundOutcome.epoch.in_(chunk),
                    )
                ).all()
                out.update({r.epoch: round_from_outcome(r) for r in rows})
        return out

    def non_final_epochs(self) -> set[int]:
        with session_scope(self.sessions) as s:
            rows = s.scalars(
                select(RoundOutcome.epoch).where(RoundOutcome.market == self.market.name, RoundOutcome.final.is_(False))
            ).all()
        return set(rows)

    def last_epoch(self) -> int:
        with session_scope(self.sessions) as s:
            rows = s.scalars(
                select(RoundOutcome.epoch)
                .where(RoundOutcome.market == self.market.name)
                .order_by(RoundOutcome.epoch.desc())
                .limit(1)
            ).all()
        return int(rows[0]) if rows else 0

    def rounds(
        self, epochs: Iterable[int], now: int, *, current_epoch: int | None = None, force: Iterable[int] = ()
    ) -> dict[int, Round]:
        """Rounds for ``epochs``: final ones from the DB (unless in ``force``), others read from chain and stored."""
        wanted = {e for e in epochs if e > 0}
        forced = set(force) & wanted
        known = {e: r for e, r in self.final_rounds(wanted - forced).items()}
        to_read = sorted(wanted - set(known))
        fresh = self.market.rounds(to_read, self.batch_size) if to_read else []
        self.chain_reads += len(fresh)
        buffer = self.market.params().buffer_seconds
        with session_scope(self.sessions) as s:
            stored: dict[int, RoundOutcome] = {}
            for start in range(0, len(to_read), 900):
                chunk = to_read[start : start + 900]
                rows = s.scalars(
                    select(RoundOutcome).where(RoundOutcome.market == self.market.name, RoundOutcome.epoch.in_(chunk))
                ).all()
                stored.update({r.epoch: r for r in rows})
            for rnd in fresh:
                status = round_status(rnd, now, buffer, current_epoch=current_epoch)
                if status in STORED_STATUSES:
                    write_outcome(s, self.market, rnd, status, stored)
        known.update({r.epoch: r for r in fresh})
        return known
