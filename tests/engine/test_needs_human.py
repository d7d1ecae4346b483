"""A signer refusal on the bet path needs a human: the executor journals the intent as failed with the reason, then
raises ``NeedsHuman`` (the daemon pauses on it) — nothing signed, nothing sent, the nonce given back. On anvil."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.chain.gasbudget import GasBudget
from bot.chain.policy import SigningPolicy, rule_for
from bot.domain import Position
from bot.engine.executor import BetRequest
from bot.errors import NeedsHuman
from bot.markets import PredictionMarket, dialect_for
from bot.store.db import engine_of, session_scope
from bot.store.journal import Intent, IntentState, TxAttempt
from devkit.devnet.keeper import Keeper
from tests.engine.helpers import build_live

pytestmark = pytest.mark.anvil
STAKE = 10**16
P = 600 * 10**8


@pytest.fixture
def live(chain, v2, tmp_path):
    keeper = Keeper(chain.w3, v2)
    keeper.genesis_start(price=P)
    ex, market, sessions, _ = build_live(chain.url, v2.market_address, "v2", chain.private_keys[11],
                                         f"sqlite:///{tmp_path / 'h.db'}")
    chain.advance_to(market.round(1).start_timestamp + 1)
    return chain, ex, market, sessions, keeper


def bet(market, epoch=1, position=Position.BULL):
    return BetRequest(market=market, epoch=epoch, position=position, amount=STAKE,
                      lock_ts=market.round(epoch).lock_timestamp)


def journal(sessions):
    with session_scope(sessions) as s:
        intents = [(i.epoch, i.state, i.reason) for i in s.scalars(select(Intent))]
        attempts = [(a.nonce, a.status) for a in s.scalars(select(TxAttempt))]
    return intents, attempts


def refuses_then_lands(chain, ex, market, sessions, why: str) -> None:
    nonce = chain.w3.eth.get_transaction_count(ex.account)
    ex.sender.warm()
    with pytest.raises(NeedsHuman, match=why) as raised:
        ex.place(bet(market))
    assert "\n" not in str(raised.value)
    intents, attempts = journal(sessions)
    [(epoch, state, reason)] = intents
    assert epoch == 1 and state == IntentState.FAILED.value  # the journal recorded it first, with the reason
    assert reason.startswith("signer refused: ") and str(raised.value) in reason
    assert attempts == [] and chain.w3.eth.get_transaction_count(ex.account) == nonce  # nothing signed or sent
    assert market.ledger(1, ex.account).amount == 0


def test_a_bet_the_signing_policy_refuses_raises_needs_human_after_the_journal(live):
    chain, ex, market, sessions, keeper = live
    strict = SigningPolicy(31337, [rule_for(market)], STAKE - 1)  # the signer's per-bet cap is below the stake
    ex.sender.policy = strict
    refuses_then_lands(chain, ex, market, sessions, "above the per-bet cap")
    # a human raised the signer's cap: the next bet takes the nonce that was given back (no gap, lands at once)
    ex.sender.policy = SigningPolicy(31337, [rule_for(market)], STAKE)
    nonce = chain.w3.eth.get_transaction_count(ex.account)
    keeper.genesis_lock(P, at=market.round(1).lock_timestamp)
    chain.advance_to(market.round(2).start_timestamp + 1)
    result = ex.place(bet(market, epoch=2))
    assert result.state is IntentState.LANDED, result.reason
    assert chain.w3.eth.get_transaction(result.tx_hash)["nonce"] == nonce


def test_a_disabled_market_is_refused_as_needs_human(live, v21):
    chain, ex, market, sessions, keeper = live
    other = PredictionMarket(ex.sender.w3, v21.market_address, dialect_for("v2.1"), name="other")
    ex.sender.policy = SigningPolicy(31337, [rule_for(other)], STAKE)  # only another market is enabled
    refuses_then_lands(chain, ex, market, sessions, "not an enabled configured market")


def test_the_daily_gas_cap_on_the_bet_path_raises_needs_human(live):
    chain, ex, market, sessions, keeper = live
    ex.sender.budget = GasBudget(engine_of(sessions), ex.account, 1)  # 1 wei of gas a day: any bet is above it
    refuses_then_lands(chain, ex, market, sessions, "daily gas cap")
