"""A devnet scenario for the reconciler tests: a market, a keeper on explicit time, our bot accounts (journaled bets
through ``BetExecutor``/``TxSender``), hand-made bets from the same keys (raw web3), other bettors, paper fills."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from bot.chain.gas import GasPolicy
from bot.chain.policy import SigningPolicy, rule_for
from bot.chain.sender import TxSender
from bot.config import GasConfig
from bot.domain import Position
from bot.engine.executor import BetExecutor, BetRequest, BetResult
from bot.markets.base import PredictionMarket
from bot.markets.dialects import dialect_for
from bot.store.db import make_engine, session_factory
from devkit.devnet.anvil import AnvilNode
from devkit.devnet.deploy import Deployment
from devkit.devnet.keeper import Keeper
from tests.engine.helpers import build_paper

HAND_GAS = 300_000  # explicit gas: a hand-made transaction is mined even when it reverts


def ai_guess(epoch: int, price: int) -> int:
    """The AI dialect's prediction for a round: alternately up and down from the current price."""
    return price + (10**18 if epoch % 2 else -(10**18))


def make_sessions(tmp_path: Path) -> sessionmaker[Session]:
    return session_factory(make_engine(f"sqlite:///{tmp_path / 'bot.db'}"))


def open_market(w3: Web3, deployment: Deployment, name: str = "devnet") -> PredictionMarket:
    spec = dialect_for(deployment.dialect)
    return PredictionMarket(w3, deployment.market_address, spec, name=name)


@dataclass
class BotAccount:
    account: LocalAccount
    sender: TxSender
    executor: BetExecutor

    @property
    def address(self) -> ChecksumAddress:
        return self.account.address


@dataclass
class Scenario:
    node: AnvilNode
    deployment: Deployment
    sessions: sessionmaker[Session]
    market: PredictionMarket
    keeper: Keeper
    bots: list[BotAccount] = field(default_factory=list)
    paper: BetExecutor | None = None
    price: int = 600 * 10**8
    stamped: int = 0  # the timestamp ``tick`` set for the next block

    @property
    def w3(self) -> Web3:
        return self.node.w3

    # ------------------------------------------------------------------ setup
    @classmethod
    def create(
        cls, node: AnvilNode, deployment: Deployment, sessions: sessionmaker[Session], bot_keys: list[str]
    ) -> Scenario:
        market = open_market(node.w3, deployment)
        keeper = Keeper(node.w3, deployment, ai_price_for=ai_guess)
        price = 600 * 10**18 if deployment.dialect == "ai" else 600 * 10**8
        scenario = cls(node, deployment, sessions, market, keeper, price=price)
        # the scenarios approve and stake freely: a per-bet cap far above any stake here
        policy = SigningPolicy(node.chain_id, [rule_for(market, deployment.token_address)], max_stake_per_bet=10**30)
        for key in bot_keys:
            acct = Account.from_key(key)
            sender = TxSender(node.w3, acct, sessions, GasPolicy(GasConfig()), policy, node.chain_id,
                              max_gas_per_day_wei=10**20)
            executor = BetExecutor(sender, sessions, chain_now=scenario.chain_now, replace_after=60.0)
            scenario.bots.append(BotAccount(acct, sender, executor))
        scenario.paper = build_paper(node.w3, sessions, chain_now=scenario.chain_now)
        return scenario

    # ------------------------------------------------------------------ time and rounds
    def tick(self) -> int:
        """Stamp the next block one second after the latest (call before each transaction)."""
        ts = self.node.chain_time() + 1
        self.node.set_next_timestamp(ts)
        self.stamped = ts
        return ts

    def chain_now(self) -> float:
        """The executors' chain clock on explicit time: the stamp the next block carries once ``tick`` set it (the
        latest block's otherwise), so a bet in a round's first block does not wait for a second that never comes."""
        return float(max(self.node.chain_time(), self.stamped))

    def epoch(self) -> int:
        return self.market.current_epoch()

    def kickoff(self) -> None:
        self.keeper.genesis_start(price=self.price)
        self.keeper.genesis_lock(self.price, at=self.keeper.lock_timestamp())

    def next_round(self, move: int) -> None:
        """Execute at lock with the price moved by ``move`` (0: the locked round closes flat -> house wins)."""
        self.price += move
        started, locked = self.keeper.genesis_state()
        if started and not locked:
            self.keeper.genesis_lock(self.price, at=self.keeper.lock_timestamp())
        else:
            self.keeper.next_round(self.price)

    def miss(self) -> None:
        """The operator misses the lock: current and previous rounds become refundable; restart genesis."""
        self.keeper.miss_and_recover(self.price)

    # ------------------------------------------------------------------ bets
    def bot_bet(self, bot: BotAccount, position: Position, amount: int, *, preflight: bool = True) -> BetResult:
        epoch = self.epoch()
        rnd = self.market.round(epoch)
        bot.executor.preflight = preflight
        self.tick()
        req = BetRequest(
            market=self.market, epoch=epoch, position=position, amount=amount, lock_ts=rnd.lock_timestamp,
            start_ts=rnd.start_timestamp, strategy="test",
        )  # fmt: skip
        try:
            return bot.executor.place(req)
        finally:
            bot.executor.preflight = True

    def hand_bet(self, address: str, position: Position, amount: int, *, epoch: int | None = None) -> Any:
        """A bet sent outside the bot (raw web3 from the unlocked dev account); mined even if it reverts."""
        epoch = self.epoch() if epoch is None else epoch
        fns = self.market.contract.functions
        tx: dict[str, Any] = {"from": address, "gas": HAND_GAS}
        if self.market.spec.bet_takes_amount:
            fn = fns.betBull(epoch, amount) if position is Position.BULL else fns.betBear(epoch, amount)
        else:
            tx["value"] = amount
            fn = fns.betBull(epoch) if position is Position.BULL else fns.betBear(epoch)
        self.tick()
        receipt = self.w3.eth.wait_for_transaction_receipt(fn.transact(tx))  # type: ignore[arg-type]
        self._resync(address)
        return receipt

    def hand_claim(self, address: str, epochs: list[int]) -> Any:
        self.tick()
        tx_hash = self.market.contract.functions.claim(epochs).transact({"from": address, "gas": HAND_GAS})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        self._resync(address)
        return receipt

    def paper_bet(self, position: Position, amount: int) -> BetResult:
        assert self.paper is not None
        epoch = self.epoch()
        rnd = self.market.round(epoch)
        decision = {"bull_pool_wei": rnd.bull_amount, "bear_pool_wei": rnd.bear_amount, "fee_bp": 300}
        req = BetRequest(
            market=self.market, epoch=epoch, position=position, amount=amount, lock_ts=rnd.lock_timestamp,
            decision=decision,
        )  # fmt: skip
        return self.paper.place(req)

    def _resync(self, address: str) -> None:
        for bot in self.bots:
            if bot.address == Web3.to_checksum_address(address):
                bot.sender.nonces.resync(bot.address)

    def balance(self, address: str, block: int | str = "latest") -> int:
        return int(self.w3.eth.get_balance(Web3.to_checksum_address(address), block))
