"""Build a live executor for a devnet market (used by engine tests and the crash-test child process)."""

from __future__ import annotations

from decimal import Decimal

from eth_account import Account
from web3 import Web3

from bot.chain.clock import fast_block_time
from bot.chain.connection import connect
from bot.chain.gas import GasPolicy
from bot.chain.papersender import PaperSender
from bot.chain.policy import SigningPolicy, rule_for
from bot.chain.sender import TxSender
from bot.config import ChainConfig, GasConfig
from bot.engine.executor import BetExecutor, SpendingCaps
from bot.markets import PredictionMarket, dialect_for
from bot.store.db import engine_of, make_engine, session_factory


def chain_now_of(w3: Web3):
    return lambda: float(fast_block_time(w3))


def build_live(url: str, market_address: str, dialect: str, key: str, db_url: str, *, name: str = "m", watch=True,
               caps: SpendingCaps | None = None, replace_after: float = 3.0):
    w3 = connect(ChainConfig(chain_id=31337, rpc_urls=[url]))
    market = PredictionMarket(w3, market_address, dialect_for(dialect), name=name)
    sessions = session_factory(make_engine(db_url))
    account = Account.from_key(key)
    gas = GasPolicy(GasConfig(mode="eip1559", floor_gwei=Decimal("1"), ceiling_gwei=Decimal("500"),
                              priority_gwei=Decimal("1")))
    cap = caps.max_per_bet if caps is not None else 10**18
    policy = SigningPolicy(31337, [rule_for(market, market.token_address() if dialect == "v3" else None)], cap)
    sender = TxSender(w3, account, sessions, gas, policy, 31337, max_gas_per_day_wei=10**19)
    executor = BetExecutor(sender, sessions, chain_now_of(w3), caps, replace_after=replace_after, late_grace=5,
                            watch=watch)
    return executor, market, sessions, w3


PAPER_ACCOUNT = "0x000000000000000000000000000000000000dEaD"


def build_paper(w3: Web3, sessions, account: str = PAPER_ACCOUNT, caps: SpendingCaps | None = None,
                chain_now=None) -> BetExecutor:
    """The paper executor as the composition root builds it: the same executor, a ``PaperSender``."""
    sender = PaperSender(w3, account, engine_of(sessions))
    return BetExecutor(sender, sessions, chain_now or chain_now_of(w3), caps, preflight=False, owns_account=False)
