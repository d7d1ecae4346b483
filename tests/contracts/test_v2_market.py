"""Our V2-dialect market (PredictionV2) on anvil, through raw web3 and abis/PancakePredictionV2.json."""

from __future__ import annotations

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from bot import payout
from bot.domain import Position, RoundStatus
from devkit.devnet.anvil import AnvilNode
from devkit.devnet.deploy import Deployment, MarketConfig, deploy_contract
from devkit.devnet.keeper import Keeper
from devkit.devnet.tx import TxFailed, transact
from tests.contracts.market_helpers import Market

pytestmark = pytest.mark.anvil

ETH = 10**18
BULL, BEAR = Position.BULL, Position.BEAR
P = 600 * 10**8  # a price with 8 decimals


@pytest.fixture
def m(w3: Web3, v2: Deployment) -> Market:
    return Market(w3, v2)


@pytest.fixture
def keeper(w3: Web3, v2: Deployment) -> Keeper:
    return Keeper(w3, v2)


def start(keeper: Keeper, chain: AnvilNode) -> int:
    """Genesis-start round 1 ten seconds from now; return its start timestamp."""
    t0 = chain.chain_time() + 10
    keeper.genesis_start(at=t0)
    return t0


def test_full_round_lifecycle(chain: AnvilNode, m: Market, keeper: Keeper, bettors: list[str], v2: Deployment) -> None:
    a, b, c = bettors[:3]
    t0 = start(keeper, chain)
    r1 = m.round(1)
    assert (r1.start_timestamp, r1.lock_timestamp, r1.close_timestamp) == (t0, t0 + 300, t0 + 600)

    m.bet(a, BULL, 1 * ETH, at=t0 + 1)
    m.bet(b, BEAR, 2 * ETH, at=t0 + 2)
    m.bet(c, BULL, 3 * ETH, at=t0 + 3)
    lock_ev = keeper.genesis_lock(P, at=t0 + 303)  # 3 s late, within the 30 s buffer
    assert lock_ev.epoch == 2
    r1 = m.round(1)
    assert r1.lock_price == P and r1.close_timestamp == t0 + 603  # close rewritten to lock time + interval
    assert m.round(2).lock_timestamp == t0 + 603 and r1.lock_oracle_id == 2

    exec_ev = keeper.execute(P + 10**8, at=t0 + 605)
    assert exec_ev.epoch == 3
    r1 = m.round(1)
    assert r1.oracle_called and r1.close_price == P + 10**8 and r1.close_oracle_id == 3
    assert m.round(2).lock_price == r1.close_price  # one oracle read locks n and closes n-1

    rewards = payout.calculate_rewards(6 * ETH, 4 * ETH, 2 * ETH, BULL, 300)
    assert (r1.reward_base_cal_amount, r1.reward_amount) == (rewards.reward_base_cal_amount, rewards.reward_amount)
    assert m.treasury() == rewards.treasury_amount == 6 * ETH * 300 // 10_000
    assert payout.round_status(r1, t0 + 606, 30) is RoundStatus.SETTLED_UP

    assert m.claimable(1, a) and m.claimable(1, c) and not m.claimable(1, b)
    with pytest.raises(ContractLogicError, match="Round has not ended"):  # same second as close: not yet
        m.contract.functions.claim([2]).call({"from": a})
    received = m.claim(a, [1], at=t0 + 606)
    assert received == payout.payout_for(1 * ETH, r1.reward_amount, r1.reward_base_cal_amount)
    assert m.ledger(1, a).claimed and not m.claimable(1, a)
    assert m.claim(c, [1]) == payout.payout_for(3 * ETH, r1.reward_amount, r1.reward_base_cal_amount)
    with pytest.raises(ContractLogicError, match="Not eligible for claim"):
        m.contract.functions.claim([1]).call({"from": b})

    epochs, bets, cursor = m.contract.functions.getUserRounds(a, 0, 10).call()
    assert epochs == [1] and cursor == 1 and tuple(bets[0]) == (0, 1 * ETH, True)
    assert m.contract.functions.getUserRoundsLength(a).call() == 1
    with pytest.raises(ContractLogicError):  # cursor beyond the user's bets
        m.contract.functions.getUserRounds(a, 2, 10).call()

    admin = v2.roles.admin
    before = chain.balance(admin)
    receipt = transact(chain.w3, m.contract.functions.claimTreasury(), {"from": admin})
    gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert chain.balance(admin) - before + gas == rewards.treasury_amount and m.treasury() == 0


def test_round_events(chain: AnvilNode, m: Market, keeper: Keeper, bettors: list[str]) -> None:
    t0 = start(keeper, chain)
    bet = m.bet(bettors[0], BEAR, ETH, at=t0 + 1)
    assert dict(m.contract.events.BetBear().process_receipt(bet, errors=DISCARD)[0]["args"]) == {
        "sender": bettors[0],
        "epoch": 1,
        "amount": ETH,
    }
    keeper.genesis_lock(P, at=t0 + 300)
    ev = keeper.execute(P - 1, at=t0 + 600)
    receipt = chain.w3.eth.get_transaction_receipt(ev.tx_hash)
    events = m.contract.events
    assert [dict(e["args"]) for e in events.LockRound().process_receipt(receipt, errors=DISCARD)] == [
        {"epoch": 2, "roundId": 3, "price": P - 1}
    ]
    assert [dict(e["args"]) for e in events.EndRound().process_receipt(receipt, errors=DISCARD)] == [
        {"epoch": 1, "roundId": 3, "price": P - 1}
    ]
    fee = ETH * 300 // 10_000
    assert [dict(e["args"]) for e in events.RewardsCalculated().process_receipt(receipt, errors=DISCARD)] == [
        {"epoch": 1, "rewardBaseCalAmount": ETH, "rewardAmount": ETH - fee, "treasuryAmount": fee}
    ]
    assert [e["args"]["epoch"] for e in events.StartRound().process_receipt(receipt, errors=DISCARD)] == [3]
    claim = transact(chain.w3, m.contract.functions.claim([1]), {"from": bettors[0]}, at=t0 + 601)
    assert m.claim_events(claim) == [{"sender": bettors[0], "epoch": 1, "amount": ETH - fee}]


def test_betting_window_is_strict(chain: AnvilNode, m: Market, keeper: Keeper, bettors: list[str]) -> None:
    a, b, c, d, e = bettors[:5]
    t0 = start(keeper, chain)
    lock = t0 + 300

    with pytest.raises(TxFailed) as same_second:  # mined in the start second: reverts and still costs gas
        m.bet(a, BULL, ETH, at=t0, mined=True)
    assert same_second.value.reason == "Round not bettable"
    assert same_second.value.receipt["gasUsed"] > 0

    m.bet(a, BULL, ETH, at=t0 + 1)
    r_b = m.bet(b, BEAR, ETH, at=lock - 1)
    r_c = m.bet(c, BEAR, ETH, at=lock - 1)  # several blocks share the last second
    assert r_c["blockNumber"] == r_b["blockNumber"] + 1
    assert {chain.w3.eth.get_block(r["blockNumber"])["timestamp"] for r in (r_b, r_c)} == {lock - 1}

    with pytest.raises(TxFailed) as at_lock:  # at lock, before executeRound
        m.bet(d, BULL, ETH, at=lock, mined=True)
    assert at_lock.value.reason == "Round not bettable"

    keeper.genesis_lock(P, at=lock)
    with pytest.raises(ContractLogicError, match="Bet is too early/late"):  # after the lock transaction
        m.bet(e, BULL, ETH, epoch=1, at=lock)
    with pytest.raises(ContractLogicError, match="Bet is too early/late"):
        m.bet(e, BULL, ETH, epoch=3)
    rnd = m.round(1)
    assert (rnd.bull_amount, rnd.bear_amount, rnd.total_amount) == (ETH, 2 * ETH, 3 * ETH)
    assert m.ledger(1, d).amount == 0


def test_one_bet_per_round_and_min_bet(chain: AnvilNode, m: Market, keeper: Keeper, bettors: list[str]) -> None:
    a, b = bettors[:2]
    t0 = start(keeper, chain)
    min_bet = m.contract.functions.minBetAmount().call()
    with pytest.raises(ContractLogicError, match="Bet amount must be greater than minBetAmount"):
        m.bet(a, BULL, min_bet - 1, at=t0 + 1)
    m.bet(a, BULL, min_bet, at=t0 + 1)
    with pytest.raises(ContractLogicError, match="Can only bet once per round"):
        m.bet(a, BEAR, ETH)
    with pytest.raises(ContractLogicError, match="Can only bet once per round"):
        m.bet(a, BULL, ETH)
    m.bet(b, BEAR, ETH)
    assert m.ledger(1, a).amount == min_bet


def test_paused_market_and_roles(
    chain: AnvilNode, m: Market, keeper: Keeper, bettors: list[str], v2: Deployment
) -> None:
    fns = m.contract.functions
    t0 = start(keeper, chain)
    with pytest.raises(ContractLogicError, match="Not operator"):
        fns.executeRound().call({"from": bettors[0]})
    with pytest.raises(ContractLogicError, match="Not operator/admin"):
        fns.pause().call({"from": bettors[0]})
    with pytest.raises(ContractLogicError, match="Pausable: not paused"):
        fns.setMinBetAmount(1).call({"from": v2.roles.admin})
    with pytest.raises(ContractLogicError, match="Not admin"):
        fns.claimTreasury().call({"from": v2.roles.operator})
    with pytest.raises(ContractLogicError, match="Ownable: caller is not the owner"):
        fns.setAdmin(bettors[0]).call({"from": v2.roles.admin})

    keeper.pause(at=t0 + 1)
    assert fns.paused().call()
    with pytest.raises(ContractLogicError, match="Pausable: paused"):
        m.bet(bettors[0], BULL, ETH, at=t0 + 2)
    with pytest.raises(ContractLogicError, match="Pausable: paused"):
        fns.genesisLockRound().call({"from": v2.roles.operator})
    transact(chain.w3, fns.setMinBetAmount(2 * 10**15), {"from": v2.roles.admin})
    assert fns.minBetAmount().call() == 2 * 10**15

    with pytest.raises(ContractLogicError, match="Not admin"):  # as on the genuine V2: only the admin unpauses
        fns.unpause().call({"from": v2.roles.operator})
    keeper.unpause()  # from the admin
    assert keeper.genesis_state() == (False, False)
    with pytest.raises(ContractLogicError, match="Can only run after genesisStartRound and genesisLockRound"):
        fns.executeRound().call({"from": v2.roles.operator})
    ev = keeper.genesis_start()
    assert ev.epoch == 2


def test_draw_house_wins(chain: AnvilNode, m: Market, keeper: Keeper, bettors: list[str]) -> None:
    a, b = bettors[:2]
    t0 = start(keeper, chain)
    m.bet(a, BULL, ETH, at=t0 + 1)
    m.bet(b, BEAR, 2 * ETH)
    keeper.genesis_lock(P, at=t0 + 300)
    keeper.execute(P, at=t0 + 600)
    rnd = m.round(1)
    assert (rnd.reward_base_cal_amount, rnd.reward_amount) == (0, 0)
    assert m.treasury() == 3 * ETH
    assert payout.round_status(rnd, t0 + 601, 30) is RoundStatus.HOUSE_WON
    chain.mine(t0 + 601)
    for user in (a, b):
        assert not m.claimable(1, user) and not m.refundable(1, user)
        with pytest.raises(ContractLogicError, match="Not eligible for claim"):
            m.contract.functions.claim([1]).call({"from": user})


@pytest.mark.parametrize("winner_moves_up", [True, False])
def test_empty_winning_side_pot_stays_in_the_contract(
    chain: AnvilNode, m: Market, keeper: Keeper, bettors: list[str], v2: Deployment, winner_moves_up: bool
) -> None:
    """As on the genuine V2: the fee goes to the treasury, rewardAmount = total - fee stays in the contract and
    nobody can claim it (rewardBaseCalAmount = 0)."""
    losing_side = BEAR if winner_moves_up else BULL
    t0 = start(keeper, chain)
    m.bet(bettors[0], losing_side, ETH, at=t0 + 1)
    m.bet(bettors[1], losing_side, 2 * ETH)
    keeper.genesis_lock(P, at=t0 + 300)
    keeper.execute(P + 1 if winner_moves_up else P - 1, at=t0 + 600)
    rnd = m.round(1)
    fee = 3 * ETH * 300 // 10_000
    assert (rnd.reward_base_cal_amount, rnd.reward_amount) == (0, 3 * ETH - fee)
    assert m.treasury() == fee
    assert payout.round_status(rnd, t0 + 601, 30) is RoundStatus.HOUSE_WON
    assert not m.claimable(1, bettors[0]) and not m.claimable(1, bettors[1])
    transact(chain.w3, m.contract.functions.claimTreasury(), {"from": v2.roles.admin})
    assert chain.balance(v2.market_address) == 3 * ETH - fee  # locked for good


def test_stale_oracle_answer_is_accepted_at_execution(
    chain: AnvilNode, bettors: list[str], deploy_market
) -> None:
    """The genuine V2 bounds the answer's timestamp only from above (block time + allowance): an old answer with a
    newer round id locks the round."""
    dep = deploy_market("v2", MarketConfig(oracle_update_allowance=10))
    keeper = Keeper(chain.w3, dep)
    m = Market(chain.w3, dep)
    t0 = start(keeper, chain)
    keeper.push_price(P + 7, at=t0 + 1)
    # the answer is 299 s old at lock, the allowance 10 s
    transact(chain.w3, m.contract.functions.genesisLockRound(), {"from": dep.roles.operator}, at=t0 + 300)
    assert m.round(1).lock_price == P + 7
    with pytest.raises(ContractLogicError, match="Oracle update roundId must be larger"):  # same answer again
        m.contract.functions.executeRound().call({"from": dep.roles.operator})


def test_constructor_accepts_buffer_equal_to_interval(chain: AnvilNode, deploy_market) -> None:
    dep = deploy_market("v2", MarketConfig(interval_seconds=60, buffer_seconds=60))
    fns = Market(chain.w3, dep).contract.functions
    assert (fns.intervalSeconds().call(), fns.bufferSeconds().call()) == (60, 60)


def test_missed_execution_makes_both_rounds_refundable(
    chain: AnvilNode, m: Market, keeper: Keeper, bettors: list[str]
) -> None:
    a, b, c = bettors[:3]
    t0 = start(keeper, chain)
    m.bet(a, BULL, ETH, at=t0 + 1)
    keeper.genesis_lock(P, at=t0 + 300)
    m.bet(b, BEAR, 2 * ETH, at=t0 + 301)
    m.bet(c, BULL, 3 * ETH, at=t0 + 302)

    late = t0 + 600 + 30 + 1  # beyond lock(2) + buffer
    chain.set_next_timestamp(late)
    with pytest.raises(ContractLogicError, match="Can only lock round within bufferSeconds"):
        keeper.execute(P + 1)
    keeper.miss_and_recover(P, at=late)
    assert m.current_epoch() == 3 and m.round(3).start_timestamp == late

    assert m.refundable(1, a)  # close(1) = lock(2) = t0 + 600, and now > close + buffer
    assert not m.refundable(2, b)  # close(2) = t0 + 900: not yet
    with pytest.raises(ContractLogicError, match="Round has not ended"):
        m.contract.functions.claim([2]).call({"from": b})
    assert m.claim(a, [1], at=late + 1) == ETH
    chain.mine(t0 + 900 + 30)
    with pytest.raises(ContractLogicError, match="Not eligible for refund"):  # close + buffer is not enough
        m.contract.functions.claim([2]).call({"from": b})
    chain.mine(t0 + 900 + 31)
    rnd2 = m.round(2)
    assert payout.round_status(rnd2, t0 + 931, 30) is RoundStatus.REFUNDABLE
    assert m.refundable(2, b) and m.refundable(2, c)
    assert m.claim(b, [2]) == 2 * ETH
    assert m.claim(c, [2]) == 3 * ETH
    assert m.treasury() == 0


def test_claim_batch_with_ineligible_epoch_reverts_whole(
    chain: AnvilNode, m: Market, keeper: Keeper, bettors: list[str]
) -> None:
    a, b = bettors[:2]
    t0 = start(keeper, chain)
    m.bet(a, BULL, ETH, at=t0 + 1)
    m.bet(b, BEAR, ETH, at=t0 + 2)
    keeper.genesis_lock(P, at=t0 + 300)
    m.bet(a, BULL, ETH, at=t0 + 301)
    m.bet(b, BEAR, ETH, at=t0 + 302)
    keeper.execute(P + 5, at=t0 + 600)  # round 1: bull
    keeper.execute(P, at=t0 + 900)  # round 2: bear
    chain.mine(t0 + 901)
    with pytest.raises(ContractLogicError, match="Not eligible for claim"):
        m.contract.functions.claim([1, 2]).call({"from": a})
    with pytest.raises(ContractLogicError, match="Round has not started"):
        m.contract.functions.claim([1, 99]).call({"from": a})
    with pytest.raises(ContractLogicError, match="Not eligible for claim"):  # the same epoch twice
        m.contract.functions.claim([1, 1]).call({"from": a})
    assert m.claimable(1, a) and not m.ledger(1, a).claimed  # nothing happened
    fee = 2 * ETH * 300 // 10_000
    assert m.claim(a, [1]) == 2 * ETH - fee
    assert m.claim(b, [2]) == 2 * ETH - fee


def test_contracts_may_not_bet(chain: AnvilNode, m: Market, keeper: Keeper, bettors: list[str]) -> None:
    t0 = start(keeper, chain)
    proxy, _ = deploy_contract(chain.w3, "BetProxy", sender=bettors[0])
    chain.set_next_timestamp(t0 + 1)
    proxy_contract = chain.w3.eth.contract(address=proxy, abi=_artifact_abi("BetProxy"))
    with pytest.raises(ContractLogicError, match="Contract not allowed"):
        proxy_contract.functions.betBull(m.deployment.market_address, 1).transact({"from": bettors[0], "value": ETH})
    with pytest.raises(Exception, match="Proxy contract not allowed"):  # constructor: no code yet, but not tx.origin
        deploy_contract(chain.w3, "ConstructorBettor", m.deployment.market_address, 1, sender=bettors[0])


def test_signed_raw_transaction_bet(chain: AnvilNode, m: Market, keeper: Keeper) -> None:
    """A bettor signing locally (not an unlocked account), as the bot does on real chains."""
    t0 = start(keeper, chain)
    key = chain.private_keys[9]
    account = Account.from_key(key)
    w3 = chain.w3
    tx = m.contract.functions.betBear(1).build_transaction(
        {"from": account.address, "value": ETH, "nonce": w3.eth.get_transaction_count(account.address), "gas": 200_000}
    )
    signed = account.sign_transaction(tx)
    chain.set_next_timestamp(t0 + 1)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
    assert receipt["status"] == 1
    assert m.ledger(1, account.address).amount == ETH and m.ledger(1, account.address).position is BEAR


def _artifact_abi(name: str) -> list[dict[str, object]]:
    from devkit.devnet.deploy import load_artifact

    return load_artifact(name).abi
