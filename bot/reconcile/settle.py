"""Settlement: every bet of our accounts (live, including bets made outside the bot) and every paper fill, in wei.

Live bet: gross payout or refund from ``bot.payout.settle`` on the round as the chain has it; gas of the bet
transaction (``AccountTx`` of the bet's event, or the journal); our share of the claim transaction's gas (split
exactly across the epochs it paid, remainder to the first); ``net = payout - stake - bet gas - claim gas``.

Paper fill (``Intent.mode == "paper"``): the same code, on the paper ledger (the journal's paper fills) and the real
round with our simulated stake added to our side's pool and the rewards recomputed as the contract would at close
(``bot.reconcile.paperbook``); no gas. Stored with ``mode="paper"``, never mixed with live money.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain import LedgerEntry, Round, RoundStatus
from bot.payout import (
    is_claimable,
    is_refundable,
    round_status,
    round_winner,
    settle,
)
from bot.store.journal import Intent, IntentState
from bot.store.outcomes import AccountEvent, AccountTx, Settlement

LIVE = "live"
PAPER = "paper"
# an intent whose bet is in the (chain's or the paper) ledger; "paper" is the state of fills journaled before paper
# fills went through the lifecycle
LANDED_STATES = (IntentState.LANDED.value, IntentState.PAPER.value)


@dataclass(frozen=True, slots=True)
class BetVerdict:
    status: str  # open | won | lost | house-won | refund
    payout: int  # gross amount returned (payout or refund); 0 while open
    final: bool


def split_gas(total: int, epochs: Sequence[int]) -> dict[int, int]:
    """Split ``total`` wei across ``epochs`` (ascending): equal integer shares, the remainder to the first epoch."""
    ordered = sorted(set(epochs))
    if not ordered:
        return {}
    share, remainder = divmod(total, len(ordered))
    out = dict.fromkeys(ordered, share)
    out[ordered[0]] += remainder
    return out


def live_verdict(rnd: Round, entry: LedgerEntry, now: int, buffer: int) -> BetVerdict:
    """Outcome of a real bet: exactly what ``claim`` pays (or paid) for it."""
    status = round_status(rnd, now, buffer)
    payout = settle(rnd, entry, now, buffer)
    if status is RoundStatus.REFUNDABLE:
        return BetVerdict("refund", payout, True)
    if status is RoundStatus.HOUSE_WON:
        return BetVerdict("house-won", 0, True)
    if status in (RoundStatus.SETTLED_UP, RoundStatus.SETTLED_DOWN):
        return BetVerdict("won" if round_winner(rnd) is entry.position else "lost", payout, True)
    return BetVerdict("open", 0, False)


class SettlementRows:
    """The settlement rows of one market and mode, loaded once; ``get`` creates the missing ones."""

    def __init__(self, session: Session, market: str, mode: str, epochs: Iterable[int]) -> None:
        self.session = session
        self.market = market
        self.mode = mode
        self.rows: dict[tuple[int, str], Settlement] = {}
        wanted = sorted(set(epochs))
        for start in range(0, len(wanted), 900):
            rows = session.scalars(
                select(Settlement).where(
                    Settlement.market == market,
                    Settlement.mode == mode,
                    Settlement.epoch.in_(wanted[start : start + 900]),
                )
            ).all()
            self.rows.update({(r.epoch, r.account): r for r in rows})

    def get(self, epoch: int, account: str) -> Settlement:
        row = self.rows.get((epoch, account))
        if row is None:
            # every amount starts at 0 wei: a bet the journal never knew (another instance placed it) may have no
            # transaction of ours to take its gas from yet
            row = Settlement(market=self.market, epoch=epoch, account=account, mode=self.mode, position=0, stake_wei=0,
                             payout_wei=0, bet_gas_wei=0, claim_gas_wei=0, claimed_wei=0, net_pnl_wei=0)
            self.session.add(row)
            self.rows[(epoch, account)] = row
        return row


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    """What the chain says about claims of one account in one market: per epoch, amount, tx and our gas share."""

    amount: Mapping[int, int]
    tx: Mapping[int, str]
    gas: Mapping[int, int]


def claim_facts(session: Session, market: str, account: str, epochs: Iterable[int]) -> ClaimFacts:
    wanted = set(epochs)
    amount: dict[int, int] = {}
    tx: dict[int, str] = {}
    events = session.scalars(
        select(AccountEvent).where(
            AccountEvent.market == market, AccountEvent.account == account, AccountEvent.name == "Claim"
        )
    ).all()
    for ev in events:
        if ev.epoch in wanted:
            amount[ev.epoch] = amount.get(ev.epoch, 0) + ev.amount_wei
            tx[ev.epoch] = ev.tx_hash
    gas: dict[int, int] = {}
    hashes = set(tx.values())
    if hashes:
        rows = session.scalars(select(AccountTx).where(AccountTx.tx_hash.in_(hashes), AccountTx.status == 1)).all()
        for row in rows:
            paid = [int(e) for e in row.epochs.split(",") if e]
            for epoch, share in split_gas(row.gas_wei, paid).items():
                if epoch in wanted:
                    gas[epoch] = share
    return ClaimFacts(amount, tx, gas)


def bet_facts(
    session: Session, market: str, account: str, epochs: Iterable[int], mode: str = LIVE
) -> dict[int, tuple[str, int]]:
    """epoch -> (bet tx hash, gas of that tx) from our Bet events and the transaction ledger, else the journal."""
    wanted = set(epochs)
    out: dict[int, tuple[str, int]] = {}
    events = session.scalars(
        select(AccountEvent).where(
            AccountEvent.market == market,
            AccountEvent.account == account,
            AccountEvent.name.in_(("BetBull", "BetBear")),
        )
    ).all()
    hashes = {ev.epoch: ev.tx_hash for ev in events if ev.epoch in wanted}
    gas = {
        row.tx_hash: row.gas_wei
        for row in session.scalars(select(AccountTx).where(AccountTx.tx_hash.in_(set(hashes.values())))).all()
    }
    intents = session.scalars(
        select(Intent).where(
            Intent.market == market, Intent.account == account, Intent.mode == mode, Intent.epoch.in_(wanted)
        )
    ).all()
    by_intent = {i.epoch: i for i in intents}
    for epoch in wanted:
        if epoch in hashes:
            h = hashes[epoch]
            fallback = by_intent[epoch].gas_cost_wei if epoch in by_intent and by_intent[epoch].tx_hash == h else 0
            out[epoch] = (h, gas.get(h, fallback))
        elif epoch in by_intent and by_intent[epoch].state in LANDED_STATES and by_intent[epoch].tx_hash:
            out[epoch] = (str(by_intent[epoch].tx_hash), by_intent[epoch].gas_cost_wei)
    return out


def settle_live(
    session: Session,
    market: str,
    account: str,
    entries: Mapping[int, LedgerEntry],
    rounds: Mapping[int, Round],
    now: int,
    buffer: int,
    mode: str = LIVE,
) -> list[Settlement]:
    """Upsert the settlements of ``entries`` (the ledger state of our bets) on ``rounds``, stored under ``mode``.
    Paper fills come here too, with their ledger read from the journal and the rounds as they would have been with
    our stake in them (``bot.reconcile.paperbook``): one settlement code for both."""
    epochs = [e for e, entry in entries.items() if entry.amount > 0 and e in rounds]
    claims = claim_facts(session, market, account, epochs)
    bets = bet_facts(session, market, account, epochs, mode)
    bot_epochs = set(  # the bot's own intent landed; otherwise the bet was made outside the bot
        session.scalars(
            select(Intent.epoch).where(
                Intent.market == market,
                Intent.account == account,
                Intent.mode == mode,
                Intent.state.in_(LANDED_STATES),
                Intent.epoch.in_(epochs),
            )
        ).all()
    )
    out = []
    stored = SettlementRows(session, market, mode, epochs)
    for epoch in epochs:
        entry, rnd = entries[epoch], rounds[epoch]
        verdict = live_verdict(rnd, entry, now, buffer)
        row = stored.get(epoch, account)
        row.origin = ("bot" if mode == LIVE else mode) if epoch in bot_epochs else "adopted"  # paper rows: "paper"
        row.position = int(entry.position)
        row.stake_wei = entry.amount
        if epoch in bets:
            row.bet_tx, row.bet_gas_wei = bets[epoch]
        row.status = verdict.status
        row.payout_wei = verdict.payout
        row.final = verdict.final
        row.claimed = entry.claimed
        row.claimable = is_claimable(rnd, entry)
        row.refundable = is_refundable(rnd, entry, now, buffer)
        row.claimed_wei = claims.amount.get(epoch, verdict.payout if entry.claimed else 0)
        row.claim_tx = claims.tx.get(epoch)
        row.claim_gas_wei = claims.gas.get(epoch, 0)
        row.net_pnl_wei = row.payout_wei - row.stake_wei - row.bet_gas_wei - row.claim_gas_wei
        if verdict.final and not row.settled_at:
            row.settled_at = rnd.close_timestamp
        out.append(row)
    session.flush()
    return out
