"""Our AI-dialect market (AIPrediction) on anvil, through abis/PancakeAIPrediction.json.

Bull = follow the AI ("the AI is right"), Bear = against it. Prices are operator-fed, 18 decimals.
"""

from __future__ import annotations

import pytest
from eth_utils import abi_to_signature, function_signature_to_4byte_selector
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD

from bot import payout
from bot.domain import Position, RoundStatus
from devkit.devnet.anvil import AnvilNode
from devkit.devnet.deploy import Deployment, load_abi
from devkit.devnet.keeper import Keeper
from tests.contracts.market_helpers import Market

pytestmark = pytest.mark.anvil

ETH = 10**18
LOCK = 60_000 * 10**18
UP, DOWN = LOCK + 150 * 10**18, LOCK - 150 * 10**18


@pytest.fixture
def m(w3: Web3, ai: Deployment) -> Market:
    return Market(w3, ai)


@pytest.fixture
def keeper(w3: Web3, ai: Deployment) -> Keeper:
    return Keeper(w3, ai)


@pytest.mark.parametrize(
    "ai_price,close,winner",
    [
        (UP, UP, Position.BULL),  # AI said up, price went up: the AI was right
        (DOWN, DOWN, Position.BULL),
        (UP, DOWN, Position.BEAR),  # AI wrong
        (DOWN, UP, Position.BEAR),
        (LOCK, LOCK, Position.BULL),  # all equal counts as right
        (UP, LOCK, Position.BEAR),  # AI called a move that did not happen
        (LOCK, UP, Position.BEAR),  # AI called no move, price moved
    ],
)
def test_follow_against_settlement(
    chain: AnvilNode, m: Market, keeper: Keeper, bettors: list[str], ai_price: int, close: int, winner: Position
) -> None:
    follow, against = bettors[:2]
    assert payout.ai_winning_position(LOCK, close, ai_price) is winner
    t0 = chain.chain_time() + 10
    keeper.genesis_start(ai_price, at=t0)
    assert m.round(1).ai_price == ai_price
    m.bet(follow, Position.BULL, 1 * ETH, at=t0 + 1)
    m.bet(against, Position.BEAR, 3 * ETH, at=t0 + 2)
    keeper.genesis_lock(LOCK, UP, at=t0 + 300)
    keeper.execute(close, DOWN, at=t0 + 600)

    rnd = m.round(1)
    assert rnd.oracle_called and (rnd.lock_price, rnd.close_price) == (LOCK, close)
    assert m.round(2).ai_price == UP and m.round(3).ai_price == DOWN  # each round's AI price stored at its start
    rewards = payout.calculate_rewards(4 * ETH, 1 * ETH, 3 * ETH, winner, 300)
    assert (rnd.reward_base_cal_amount, rnd.reward_amount) == (rewards.reward_base_cal_amount, rewards.reward_amount)
    expected_status = RoundStatus.SETTLED_UP if winner is Position.BULL else RoundStatus.SETTLED_DOWN
    assert payout.round_status(rnd, t0 + 601, 30) is expected_status

    win, lose = (follow, against) if winner is Position.BULL else (against, follow)
    assert m.claimable(1, win) and not m.claimable(1, lose)
    stake = 1 * ETH if winner is Position.BULL else 3 * ETH
    assert m.claim(win, [1], at=t0 + 601) == payout.payout_for(stake, rewards.reward_amount, stake)
    with pytest.raises(ContractLogicError, match="Not eligible for claim"):
        m.contract.functions.claim([1]).call({"from": lose})


def test_event_shapes(chain: AnvilNode, m: Market, keeper: Keeper, bettors: list[str]) -> None:
    t0 = chain.chain_time() + 10
    start = keeper.genesis_start(UP, at=t0)
    events = m.contract.events
    w3 = chain.w3
    receipt = w3.eth.get_transaction_receipt(start.tx_hash)
    assert [dict(e["args"]) for e in events.StartRound().process_receipt(receipt, errors=DISCARD)] == [
        {"epoch": 1, "AIPrice": UP}
    ]
    bet = m.bet(bettors[0], Position.BULL, ETH, at=t0 + 1)
    assert dict(events.BetBull().process_receipt(bet, errors=DISCARD)[0]["args"])["amount"] == ETH
    lock = w3.eth.get_transaction_receipt(keeper.genesis_lock(LOCK, DOWN, at=t0 + 300).tx_hash)
    assert [dict(e["args"]) for e in events.LockRound().process_receipt(lock, errors=DISCARD)] == [
        {"epoch": 1, "price": LOCK}
    ]
    ex = w3.eth.get_transaction_receipt(keeper.execute(UP, UP, at=t0 + 600).tx_hash)
    assert [dict(e["args"]) for e in events.EndRound().process_receipt(ex, errors=DISCARD)] == [
        {"epoch": 1, "price": UP}
    ]
    assert len(m.contract.functions.rounds(1).call()) == 12


def test_empty_winning_side_goes_to_treasury(chain: AnvilNode, m: Market, keeper: Keeper, bettors: list[str]) -> None:
    t0 = chain.chain_time() + 10
    keeper.genesis_start(UP, at=t0)
    m.bet(bettors[0], Position.BEAR, 2 * ETH, at=t0 + 1)  # everybody bets against the AI
    keeper.genesis_lock(LOCK, UP, at=t0 + 300)
    keeper.execute(UP, UP, at=t0 + 600)  # ... and the AI is right
    rnd = m.round(1)
    assert (rnd.reward_base_cal_amount, rnd.reward_amount) == (0, 0)
    assert m.treasury() == 2 * ETH
    assert payout.round_status(rnd, t0 + 601, 30) is RoundStatus.HOUSE_WON
    assert not m.claimable(1, bettors[0])


def test_paused_reverts_with_custom_error(chain: AnvilNode, m: Market, keeper: Keeper, bettors: list[str]) -> None:
    t0 = chain.chain_time() + 10
    keeper.genesis_start(UP, at=t0)
    keeper.pause(at=t0 + 1)
    selectors = {
        abi_to_signature(e): "0x" + function_signature_to_4byte_selector(abi_to_signature(e)).hex()
        for e in load_abi("PancakeAIPrediction")
        if e["type"] == "error"
    }
    with pytest.raises(ContractCustomError) as paused:
        m.bet(bettors[0], Position.BULL, ETH, at=t0 + 2)
    assert paused.value.data == selectors["EnforcedPause()"]
    with pytest.raises(ContractCustomError) as not_owner:
        m.contract.functions.setAdmin(bettors[0]).call({"from": bettors[0]})
    assert str(not_owner.value.data).startswith(selectors["OwnableUnauthorizedAccount(address)"])
    with pytest.raises(ContractLogicError, match="Not admin/operator"):
        m.contract.functions.unpause().call({"from": bettors[0]})
    keeper.unpause()
    assert keeper.genesis_state() == (False, False)
