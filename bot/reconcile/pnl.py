"""Reconciled PnL of one account, in wei, from chain facts only (our events, our transactions, settled bets).

Cash view over the account's window (``AccountWindow``: from the first scanned block):
- stakes: our BetBull/BetBear events; payouts and refunds claimed: our Claim events (refund = round never executed);
- unclaimed: what ``claim`` would pay now for settled bets not claimed yet;
- gas: every mined transaction the account sent (bets, claims, approvals, reverted ones, anything else), found in the
  journal, via our events, or by walking the account's nonces.
For a native-coin market, once everything is claimed ``pnl_wei`` equals the account's balance change to the wei
(``expected_balance_change_wei`` states it for any moment; incoming transfers are not seen). ERC-20 markets (V3) keep
their stake flows in token units, apart (``tokens``); their gas is native and counted in the gas fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.outcomes import AccountEvent, AccountTx, AccountWindow, RoundOutcome, Settlement


@dataclass
class StakeFlows:
    """Stake-currency flows of one currency (the native coin, or one market's token)."""

    stakes_wei: int = 0
    payouts_claimed_wei: int = 0
    refunds_claimed_wei: int = 0
    unclaimed_wei: int = 0  # winnings and refunds claimable now
    open_stakes_wei: int = 0  # part of stakes_wei in rounds not settled yet

    @property
    def claimed_wei(self) -> int:
        return self.payouts_claimed_wei + self.refunds_claimed_wei

    @property
    def net_wei(self) -> int:
        """Returned (claimed + claimable) minus staked. Open stakes count as spent until their round settles."""
        return self.claimed_wei + self.unclaimed_wei - self.stakes_wei


@dataclass
class AccountPnl:
    account: str
    native: StakeFlows = field(default_factory=StakeFlows)
    tokens: dict[str, StakeFlows] = field(default_factory=dict)  # ERC-20 market name -> flows in token units
    value_to_markets_wei: int = 0  # native value carried by successful transactions to our markets
    value_other_wei: int = 0  # native value sent anywhere else
    gas_bets_wei: int = 0
    gas_claims_wei: int = 0
    gas_approvals_wei: int = 0
    gas_reverted_wei: int = 0  # every reverted transaction (bets too late, bad claims, ...): gas is still paid
    gas_other_wei: int = 0  # other successful transactions (other market calls, transfers, ...)
    transactions: int = 0
    unattributed_txs: int = 0  # nonces whose transaction could not be found (PnL is then incomplete)
    start_block: int = 0

    @property
    def gas_wei(self) -> int:
        return sum(
            (self.gas_bets_wei, self.gas_claims_wei, self.gas_approvals_wei, self.gas_reverted_wei, self.gas_other_wei)
        )

    @property
    def pnl_wei(self) -> int:
        """Reconciled PnL in the native coin: native-market flows (claimable counted) minus all gas."""
        return self.native.net_wei - self.gas_wei

    @property
    def realized_pnl_wei(self) -> int:
        return self.pnl_wei - self.native.unclaimed_wei

    @property
    def expected_balance_change_wei(self) -> int:
        """Native balance change implied by the ledger (outgoing transactions and claims received)."""
        return self.native.claimed_wei - self.value_to_markets_wei - self.value_other_wei - self.gas_wei


def _flows(pnl: AccountPnl, market: str, currencies: Mapping[str, str]) -> StakeFlows:
    if currencies.get(market, "native") == "native":
        return pnl.native
    return pnl.tokens.setdefault(market, StakeFlows())


def account_pnl(session: Session, account: str, currencies: Mapping[str, str]) -> AccountPnl:
    """The breakdown for ``account`` over the markets in ``currencies`` (market name -> "native" | "erc20")."""
    markets = list(currencies)
    pnl = AccountPnl(account=account)
    window = session.scalars(select(AccountWindow).where(AccountWindow.account == account)).first()
    if window is not None:
        pnl.start_block = window.start_block
        pnl.unattributed_txs = window.unattributed
    _add_events(session, pnl, account, markets, currencies)
    _add_settlements(session, pnl, account, markets, currencies)
    _add_transactions(session, pnl, account, markets)
    return pnl


def _add_events(
    session: Session, pnl: AccountPnl, account: str, markets: list[str], currencies: Mapping[str, str]
) -> None:
    events = session.scalars(
        select(AccountEvent).where(AccountEvent.account == account, AccountEvent.market.in_(markets))
    ).all()
    claimed_epochs: dict[str, set[int]] = {}
    for ev in events:
        if ev.name == "Claim":
            claimed_epochs.setdefault(ev.market, set()).add(ev.epoch)
    unexecuted: dict[str, set[int]] = {}
    for market, epochs in claimed_epochs.items():
        rows = session.scalars(
            select(RoundOutcome.epoch).where(
                RoundOutcome.market == market,
                RoundOutcome.epoch.in_(epochs),
                RoundOutcome.oracle_called.is_(False),
            )
        ).all()
        unexecuted[market] = set(rows)
    for ev in events:
        flows = _flows(pnl, ev.market, currencies)
        if ev.name == "Claim":
            if ev.epoch in unexecuted.get(ev.market, set()):
                flows.refunds_claimed_wei += ev.amount_wei
            else:
                flows.payouts_claimed_wei += ev.amount_wei
        else:
            flows.stakes_wei += ev.amount_wei


def _add_settlements(
    session: Session, pnl: AccountPnl, account: str, markets: list[str], currencies: Mapping[str, str]
) -> None:
    rows = session.scalars(
        select(Settlement).where(
            Settlement.account == account, Settlement.mode == "live", Settlement.market.in_(markets)
        )
    ).all()
    for row in rows:
        flows = _flows(pnl, row.market, currencies)
        if not row.claimed and (row.claimable or row.refundable):
            flows.unclaimed_wei += row.payout_wei
        if not row.final:
            flows.open_stakes_wei += row.stake_wei


def _add_transactions(session: Session, pnl: AccountPnl, account: str, markets: list[str]) -> None:
    start = pnl.start_block
    txs = session.scalars(select(AccountTx).where(AccountTx.account == account, AccountTx.block_number >= start)).all()
    for tx in txs:
        pnl.transactions += 1
        if tx.status != 1:
            pnl.gas_reverted_wei += tx.gas_wei
            continue
        if tx.market in markets and tx.kind in ("bet", "claim", "market"):
            pnl.value_to_markets_wei += tx.value_wei
        else:
            pnl.value_other_wei += tx.value_wei
        if tx.kind == "bet":
            pnl.gas_bets_wei += tx.gas_wei
        elif tx.kind == "claim":
            pnl.gas_claims_wei += tx.gas_wei
        elif tx.kind == "approve":
            pnl.gas_approvals_wei += tx.gas_wei
        else:
            pnl.gas_other_wei += tx.gas_wei
