"""Our market events from contract reads, for markets whose logs we cannot use.

Two cases: the dialect's events are not known (``DialectSpec.events_known`` is False: BSC "V2.1"), or the endpoint
refuses ``eth_getLogs`` (BSC's public endpoints). The rest of the reconciler works from ``AccountEvent`` rows (stakes,
claims, which transaction paid which epoch), so here those rows are derived from facts that need no logs:

- our transactions (``AccountTx``: the journal plus every nonce of the account, found by ``TxLedger``) — a successful
  bet names its epoch in its input, a successful claim pays every epoch of its input (``claim`` reverts as a whole
  otherwise);
- the stake of each bet: ``ledger(epoch, account)`` (one bet per round, decoded with the dialect's layout);
- what a claim paid per epoch: the round's exact payout (``bot.payout``, the contract's integer formula) or the stake
  for a round never executed (refund).

Derived rows get ``log_index`` = 1,000,000 + the epoch's position in the transaction, so they never collide with real
log indexes of the same transaction. Rows whose transaction left the chain (reorg) are deleted with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.domain import LedgerEntry, Position, Round
from bot.payout import payout_for
from bot.store.outcomes import AccountEvent, AccountTx

DERIVED_LOG_INDEX = 1_000_000


@dataclass(frozen=True, slots=True)
class PendingTx:
    """A successful bet or claim of ours with no market event yet."""

    tx_hash: str
    kind: str  # bet | claim
    epochs: tuple[int, ...]
    block_number: int
    block_hash: str


def pending_txs(session: Session, market: str, account: str) -> list[PendingTx]:
    """Our successful bets and claims on ``market`` that no ``AccountEvent`` explains yet."""
    with_events = select(AccountEvent.tx_hash).where(AccountEvent.market == market, AccountEvent.account == account)
    rows = session.scalars(
        select(AccountTx).where(
            AccountTx.market == market,
            AccountTx.account == account,
            AccountTx.kind.in_(("bet", "claim")),
            AccountTx.status == 1,
            AccountTx.tx_hash.not_in(with_events),
        )
    ).all()
    return [
        PendingTx(r.tx_hash, r.kind, tuple(int(e) for e in r.epochs.split(",") if e), r.block_number, r.block_hash)
        for r in rows
    ]


def claimed_amount(rnd: Round, stake: int) -> int:
    """What ``claim`` paid for a bet of ``stake`` in ``rnd``: the payout of a win, or the stake of a refund."""
    if not rnd.oracle_called:
        return stake
    return payout_for(stake, rnd.reward_amount, rnd.reward_base_cal_amount)


def derive_events(
    session: Session,
    market: str,
    account: str,
    txs: Sequence[PendingTx],
    entries: Mapping[int, LedgerEntry],
    rounds: Mapping[int, Round],
) -> int:
    """Add the ``AccountEvent`` rows of ``txs`` from ledger ``entries`` and ``rounds``; returns the rows added.

    A transaction whose epochs are not all in ``entries``/``rounds`` is left for the next call.
    """
    added = 0
    for tx in txs:
        if not tx.epochs or any(e not in entries or (tx.kind == "claim" and e not in rounds) for e in tx.epochs):
            continue
        for i, epoch in enumerate(tx.epochs):
            entry = entries[epoch]
            if tx.kind == "bet":
                name = "BetBull" if entry.position is Position.BULL else "BetBear"
                amount = entry.amount
            else:
                name, amount = "Claim", claimed_amount(rounds[epoch], entry.amount)
            session.add(
                AccountEvent(
                    market=market, account=account, name=name, epoch=epoch, amount_wei=amount, tx_hash=tx.tx_hash,
                    log_index=DERIVED_LOG_INDEX + i, block_number=tx.block_number, block_hash=tx.block_hash,
                )
            )  # fmt: skip
            added += 1
    session.flush()
    return added


def drop_orphans(session: Session, market: str) -> int:
    """Delete derived events whose transaction is no longer among ours (it left the chain)."""
    result = session.execute(
        delete(AccountEvent).where(
            AccountEvent.market == market,
            AccountEvent.log_index >= DERIVED_LOG_INDEX,
            AccountEvent.tx_hash.not_in(select(AccountTx.tx_hash)),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def needed_epochs(txs: Sequence[PendingTx]) -> set[int]:
    return {e for tx in txs for e in tx.epochs}

