"""Raw-web3 helpers for the contract tests: bet, claim, read rounds into bot.domain types.

Deliberately independent of the bot's market adapters: these tests are about the contracts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxParams, TxReceipt

from bot.domain import LedgerEntry, Position, Round
from devkit.devnet.deploy import Deployment
from devkit.devnet.tx import transact

BET_GAS = 300_000  # explicit gas: the transaction is mined even if it reverts


@dataclass
class Market:
    """One deployed market seen through its public ABI."""

    w3: Web3
    deployment: Deployment

    @cached_property
    def contract(self) -> Contract:
        return self.deployment.market(self.w3)

    @cached_property
    def token(self) -> Contract:
        return self.deployment.token(self.w3)

    @property
    def is_ai(self) -> bool:
        return self.deployment.dialect == "ai"

    @property
    def is_v21(self) -> bool:
        """The BSC V2.1 layout: oracleCalled at word 8 of a round; a bet is (position, claimed, amount)."""
        return self.deployment.dialect == "v2.1"

    @property
    def is_token(self) -> bool:
        return self.deployment.dialect == "v3"

    # ---------------------------------------------------------------- reads

    def current_epoch(self) -> int:
        return int(self.contract.functions.currentEpoch().call())

    def round(self, epoch: int) -> Round:
        r = self.contract.functions.rounds(epoch).call()
        if self.is_ai:
            start, lock, close, ai_price, lock_p, close_p, total, bull, bear, base, reward, called = r
            return Round(epoch, start, lock, close, lock_p, close_p, total, bull, bear, base, reward, called, ai_price)
        if self.is_v21:
            (_, start, lock, close, lock_p, close_p, lock_id, close_id, called, total, bull, bear, base, reward) = r
        else:
            (_, start, lock, close, lock_p, close_p, lock_id, close_id, total, bull, bear, base, reward, called) = r
        return Round(
            epoch, start, lock, close, lock_p, close_p, total, bull, bear, base, reward, called, None, lock_id, close_id
        )

    def ledger(self, epoch: int, user: str) -> LedgerEntry:
        if self.is_v21:
            position, claimed, amount = self.contract.functions.ledger(epoch, user).call()
        else:
            position, amount, claimed = self.contract.functions.ledger(epoch, user).call()
        return LedgerEntry(epoch, Position(position), amount, claimed)

    def claimable(self, epoch: int, user: str) -> bool:
        return bool(self.contract.functions.claimable(epoch, user).call())

    def refundable(self, epoch: int, user: str) -> bool:
        return bool(self.contract.functions.refundable(epoch, user).call())

    def treasury(self) -> int:
        return int(self.contract.functions.treasuryAmount().call())

    def balance(self, account: str) -> int:
        if self.is_token:
            return int(self.token.functions.balanceOf(account).call())
        return int(self.w3.eth.get_balance(Web3.to_checksum_address(account)))

    # ---------------------------------------------------------------- writes

    def bet(
        self,
        account: str,
        position: Position,
        amount: int,
        *,
        epoch: int | None = None,
        at: int | None = None,
        mined: bool = False,
    ) -> TxReceipt:
        """Bet ``amount`` on ``position``. Default: gas estimated, so a revert raises ``ContractLogicError`` and
        nothing is sent. ``mined=True``: fixed gas, the transaction is mined and a revert raises ``TxFailed``."""
        epoch = self.current_epoch() if epoch is None else epoch
        fns = self.contract.functions
        tx: TxParams = {"from": Web3.to_checksum_address(account)}
        if mined:
            tx["gas"] = BET_GAS
        if self.is_token:
            fn = fns.betBull(epoch, amount) if position is Position.BULL else fns.betBear(epoch, amount)
        else:
            tx["value"] = amount
            fn = fns.betBull(epoch) if position is Position.BULL else fns.betBear(epoch)
        return transact(self.w3, fn, tx, at=at)

    def claim(self, account: str, epochs: list[int], *, at: int | None = None) -> int:
        """Claim ``epochs``; return what the account received (net of gas for native markets)."""
        before = self.balance(account)
        sender = Web3.to_checksum_address(account)
        receipt = transact(self.w3, self.contract.functions.claim(epochs), {"from": sender}, at=at)
        gas = 0 if self.is_token else receipt["gasUsed"] * receipt["effectiveGasPrice"]
        return self.balance(account) - before + gas

    def claim_events(self, receipt: TxReceipt) -> list[dict[str, Any]]:
        return [dict(ev["args"]) for ev in self.contract.events.Claim().process_receipt(receipt, errors=DISCARD)]
