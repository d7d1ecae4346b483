"""Our V3-dialect market (PredictionV3, ERC-20 stakes) on anvil, through abis/PancakePredictionV3.json."""

from __future__ import annotations

import pytest
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3ValidationError

from bot import payout
from bot.domain import Position
from devkit.devnet.anvil import AnvilNode
from devkit.devnet.deploy import Deployment
from devkit.devnet.keeper import Keeper
from devkit.devnet.tx import transact
from tests.contracts.market_helpers import Market

pytestmark = pytest.mark.anvil

TOKEN = 10**18
P = 2 * 10**8


@pytest.fixture
def m(w3: Web3, v3: Deployment) -> Market:
    return Market(w3, v3)


def test_approve_bet_and_claim_in_token(chain: AnvilNode, m: Market, v3: Deployment, bettors: list[str]) -> None:
    a, b = bettors[:2]
    w3 = chain.w3
    token = v3.token(w3)
    assert m.contract.functions.token().call() == v3.token_address
    keeper = Keeper(w3, v3)
    t0 = chain.chain_time() + 10
    keeper.genesis_start(at=t0)

    a_tokens, a_eth = m.balance(a), chain.balance(a)
    receipt = m.bet(a, Position.BULL, 5 * TOKEN, at=t0 + 1)
    assert m.balance(a) == a_tokens - 5 * TOKEN
    assert chain.balance(a) == a_eth - receipt["gasUsed"] * receipt["effectiveGasPrice"]  # no native value moved
    m.bet(b, Position.BEAR, 15 * TOKEN, at=t0 + 2)
    assert token.functions.balanceOf(v3.market_address).call() == 20 * TOKEN

    keeper.genesis_lock(P, at=t0 + 300)
    keeper.execute(P + 1, at=t0 + 600)
    rnd = m.round(1)
    expected = payout.payout_for(5 * TOKEN, rnd.reward_amount, rnd.reward_base_cal_amount)
    assert expected == 20 * TOKEN * 9700 // 10_000
    assert m.claim(a, [1], at=t0 + 601) == expected
    assert m.treasury() == 20 * TOKEN - expected

    admin = v3.roles.admin
    transact(w3, m.contract.functions.claimTreasury(), {"from": admin})
    assert token.functions.balanceOf(admin).call() == 20 * TOKEN - expected
    assert token.functions.balanceOf(v3.market_address).call() == 0


def test_bet_needs_allowance_and_no_native_value(chain: AnvilNode, m: Market, v3: Deployment) -> None:
    w3 = chain.w3
    keeper = Keeper(w3, v3)
    t0 = chain.chain_time() + 10
    keeper.genesis_start(at=t0)
    fresh = chain.accounts[0]  # the owner: a plain wallet without tokens or approval
    transact(w3, v3.token(w3).functions.mint(fresh, 10 * TOKEN), {"from": fresh})
    with pytest.raises(ContractLogicError, match="SafeTransfer: token transfer failed"):
        m.bet(fresh, Position.BULL, TOKEN, at=t0 + 1)
    with pytest.raises(Web3ValidationError):  # not payable: web3 refuses to send value
        m.contract.functions.betBull(1, TOKEN).transact({"from": fresh, "value": 1})


def test_keeper_role(chain: AnvilNode, m: Market, v3: Deployment, bettors: list[str]) -> None:
    w3 = chain.w3
    fns = m.contract.functions
    keeper_account = bettors[-1]
    with pytest.raises(ContractLogicError, match="Not keeper/operator"):
        fns.genesisStartRound().call({"from": keeper_account})
    transact(w3, fns.setKeeper(keeper_account), {"from": v3.roles.admin})
    assert fns.keeperAddress().call() == keeper_account
    t0 = chain.chain_time() + 10
    Keeper(w3, v3, sender=keeper_account).genesis_start(at=t0)
    assert m.current_epoch() == 1
    with pytest.raises(ContractLogicError, match="Cannot be prediction token address"):
        fns.recoverToken(v3.token_address, 1).call({"from": v3.roles.owner})
