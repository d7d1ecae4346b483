"""One scenario suite every market dialect must pass, driven through our adapter (``bot.markets``) on anvil."""

from __future__ import annotations

import pytest
from web3 import Web3

from bot.domain import Position, RoundStatus
from bot.errors import RevertError
from bot.markets import PredictionMarket, dialect_for
from bot.markets.base import TxRequest
from bot.payout import settle
from devkit.devnet.keeper import Keeper
from devkit.devnet.tx import set_next_timestamp

pytestmark = pytest.mark.anvil
DIALECTS = ["v2", "v2.1", "v3", "ai"]
STAKE = 10**16
P = 600 * 10**8  # V2/V3 8-decimal price; the AI dialect takes the same integers as its 18-decimal prices


def adapter(w3: Web3, dep) -> PredictionMarket:
    return PredictionMarket(w3, dep.market_address, dialect_for(dep.dialect), name=f"test-{dep.dialect}")


def send(w3: Web3, tx: TxRequest, sender: str, at: int | None = None, gas: int = 400_000):
    if at is not None:
        set_next_timestamp(w3, at)
    h = w3.eth.send_transaction({**tx.as_call(sender), "gas": gas})
    return w3.eth.wait_for_transaction_receipt(h)


def keeper_for(w3, dep) -> Keeper:
    # AI dialect: the AI always predicts "up" by 1 unit unless a test passes an explicit AI price
    return Keeper(w3, dep, ai_price_for=lambda epoch, price: price + 1)


@pytest.fixture(params=DIALECTS)
def market(request, w3, deployments):
    dep = deployments[request.param]
    return dep, adapter(w3, dep), keeper_for(w3, dep)


def bet(w3, m: PredictionMarket, who: str, position: Position, epoch: int, amount: int = STAKE, at=None, check=True):
    """A bet from an unlocked account, stamped one second after the latest block unless ``at`` is given."""
    if at is None:
        at = m.chain_time() + 1
    receipt = send(w3, m.build_bet(position, epoch, amount), who, at=at)
    if check and at < m.round(epoch).lock_timestamp:
        assert receipt["status"] == 1, "bet reverted"
    return receipt


def test_params_and_empty_state(market, chain):
    dep, m, _ = market
    params = m.params()
    assert (params.interval_seconds, params.buffer_seconds, params.treasury_fee_bp) == (300, 30, 300)
    assert params.min_bet_amount == 10**15 and not params.paused
    assert m.current_epoch() == 0


def test_full_lifecycle_and_status(market, chain, bettors):
    dep, m, k = market
    k.genesis_start(price=P)
    rnd = m.round(1)
    assert m.status(rnd, now=rnd.start_timestamp + 1, current_epoch=1) is RoundStatus.OPEN
    bet(w3 := chain.w3, m, bettors[0], Position.BULL, 1)
    bet(w3, m, bettors[1], Position.BEAR, 1, amount=3 * STAKE)
    rnd = m.round(1)
    assert (rnd.bull_amount, rnd.bear_amount, rnd.total_amount) == (STAKE, 3 * STAKE, 4 * STAKE)
    k.genesis_lock(P, at=rnd.lock_timestamp)
    assert m.status(m.round(1), current_epoch=m.current_epoch()) is RoundStatus.LOCKED
    k.execute(P + 100, at=m.round(2).lock_timestamp)  # closes round 1 up (AI predicted up: AI right)
    closed = m.round(1)
    assert m.status(closed) is RoundStatus.SETTLED_UP
    assert m.claimable(1, bettors[0]) and not m.claimable(1, bettors[1])
    entry = m.ledger(1, bettors[0])
    assert entry.position is Position.BULL and entry.amount == STAKE
    expected = settle(closed, entry, m.chain_time(), 30)
    assert expected == STAKE * (4 * STAKE - 4 * STAKE * 300 // 10_000) // STAKE


def test_betting_window_is_strict(market, chain, bettors):
    dep, m, k = market
    w3 = chain.w3
    ev = k.genesis_start(price=P)
    rnd = m.round(1)
    start, lock = rnd.start_timestamp, rnd.lock_timestamp
    # same second as start: rejected
    set_next_timestamp(w3, start)
    with pytest.raises(RevertError, match="Round not bettable"):
        m.simulate(m.build_bet(Position.BULL, 1, STAKE), bettors[0], block="pending")
    # start + 1 and lock - 1: accepted
    r = bet(w3, m, bettors[0], Position.BULL, 1, at=start + 1)
    assert r["status"] == 1
    r = bet(w3, m, bettors[1], Position.BEAR, 1, at=lock - 1)
    assert r["status"] == 1
    # at lock (before executeRound): mined and reverted, "Round not bettable"
    r = bet(w3, m, bettors[2], Position.BULL, 1, at=lock)
    assert r["status"] == 0
    with pytest.raises(RevertError, match="Round not bettable"):
        m.simulate(m.build_bet(Position.BULL, 1, STAKE), bettors[2], block=r["blockNumber"])
    assert ev.epoch == 1


def test_several_blocks_in_one_second(market, chain, bettors):
    dep, m, k = market
    w3 = chain.w3
    k.genesis_start(price=P)
    rnd = m.round(1)
    second = rnd.lock_timestamp - 1
    blocks = []
    for who in bettors[:3]:
        r = bet(w3, m, who, Position.BULL, 1, at=second)
        blocks.append(r["blockNumber"])
    assert len(set(blocks)) == 3  # three blocks ...
    assert {w3.eth.get_block(b)["timestamp"] for b in blocks} == {second}  # ... stamped the same second
    assert m.round(1).bull_amount == 3 * STAKE


def test_one_bet_per_round_and_min_bet(market, chain, bettors):
    dep, m, k = market
    k.genesis_start(price=P)
    bet(chain.w3, m, bettors[0], Position.BULL, 1)
    with pytest.raises(RevertError, match="Can only bet once per round"):
        m.simulate(m.build_bet(Position.BEAR, 1, STAKE), bettors[0])
    with pytest.raises(RevertError, match="Bet amount must be greater than minBetAmount"):
        m.simulate(m.build_bet(Position.BULL, 1, 10**15 - 1), bettors[1])
    m.simulate(m.build_bet(Position.BULL, 1, 10**15), bettors[1])  # exactly the minimum is fine
    with pytest.raises(RevertError, match="Bet is too early/late"):
        m.simulate(m.build_bet(Position.BULL, 2, STAKE), bettors[1])


def test_paused_market(market, chain, bettors):
    dep, m, k = market
    k.genesis_start(price=P)
    k.pause()
    assert m.params(refresh=True).paused
    # V2/V3 revert with the string; the AI dialect (OpenZeppelin 5 style) with the custom error, named from the ABI
    with pytest.raises(RevertError, match="EnforcedPause" if dep.dialect == "ai" else "Pausable: paused"):
        m.simulate(m.build_bet(Position.BULL, 1, STAKE), bettors[0])


def test_draw_house_wins_nothing_claimable(market, chain, bettors):
    dep, m, k = market
    if dep.dialect == "ai":
        pytest.skip("the AI dialect has no draw: equal prices settle by the AI rule (covered below)")
    k.genesis_start(price=P)
    bet(chain.w3, m, bettors[0], Position.BULL, 1)
    bet(chain.w3, m, bettors[1], Position.BEAR, 1)
    k.genesis_lock(P, at=m.round(1).lock_timestamp)
    k.execute(P, at=m.round(2).lock_timestamp)
    assert m.status(m.round(1)) is RoundStatus.HOUSE_WON
    assert m.eligible_for_claim(bettors[0], [1]) == [] and m.eligible_for_claim(bettors[1], [1]) == []


def test_one_sided_pool_winner_empty_is_house_won(market, chain, bettors):
    """Nobody on the winning side: nobody can claim. V2 family: the pot less the fee stays in the contract (as on the
    genuine V2); AI dialect: the house takes it all."""
    dep, m, k = market
    k.genesis_start(price=P)
    bet(chain.w3, m, bettors[0], Position.BEAR, 1)  # only bears; bull wins (AI: AI right)
    k.genesis_lock(P, at=m.round(1).lock_timestamp)
    k.execute(P + 100, at=m.round(2).lock_timestamp)
    rnd = m.round(1)
    kept = 0 if m.spec.empty_side_to_treasury else STAKE - STAKE * 300 // 10_000
    assert rnd.reward_base_cal_amount == 0 and rnd.reward_amount == kept
    assert m.status(rnd) is RoundStatus.HOUSE_WON
    assert not m.claimable(1, bettors[0])


def test_one_sided_pool_winner_side_full(market, chain, bettors):
    dep, m, k = market
    k.genesis_start(price=P)
    bet(chain.w3, m, bettors[0], Position.BULL, 1)  # only bulls, bull wins: the bettor gets stake minus fee
    k.genesis_lock(P, at=m.round(1).lock_timestamp)
    k.execute(P + 100, at=m.round(2).lock_timestamp)
    rnd = m.round(1)
    entry = m.ledger(1, bettors[0])
    assert settle(rnd, entry, m.chain_time(), 30) == STAKE - STAKE * 300 // 10_000


def test_missed_execution_refunds_in_full(market, chain, bettors):
    dep, m, k = market
    w3 = chain.w3
    k.genesis_start(price=P)
    bet(w3, m, bettors[0], Position.BULL, 1)
    k.genesis_lock(P, at=m.round(1).lock_timestamp)
    bet(w3, m, bettors[0], Position.BEAR, 2)
    k.miss_and_recover(P + 5, at=m.round(2).lock_timestamp + 31)  # operator late beyond buffer
    # round 1 never closed, round 2 never locked: both refundable once past close + buffer
    k.advance_to(m.round(2).close_timestamp + 31)
    for epoch in (1, 2):
        assert m.status(m.round(epoch)) is RoundStatus.REFUNDABLE
    assert m.eligible_for_claim(bettors[0], [1, 2]) == [1, 2]
    before = _balance(m, w3, bettors[0])
    r = send(w3, m.build_claim([1, 2]), bettors[0])
    assert r["status"] == 1
    gas = r["gasUsed"] * r["effectiveGasPrice"]
    assert _balance(m, w3, bettors[0]) - before + (0 if dep.dialect == "v3" else gas) == 2 * STAKE


def _balance(m: PredictionMarket, w3: Web3, who: str) -> int:
    return m.token_balance(who) if m.spec.currency == "erc20" else w3.eth.get_balance(who)


def test_claim_batches_only_contain_eligible_epochs(market, chain, bettors):
    dep, m, k = market
    w3 = chain.w3
    me, other = bettors[0], bettors[1]
    k.genesis_start(price=P)
    prices = [P, P + 10, P + 5, P + 5, P + 20]  # lock r1, close r1 up, r2 down, r3 draw-ish, r4 up
    for i, price in enumerate(prices):
        epoch = m.current_epoch()
        bet(w3, m, me, Position.BULL, epoch)
        bet(w3, m, other, Position.BEAR, epoch)
        if i == 0:
            k.genesis_lock(price, at=m.round(epoch).lock_timestamp)
        else:
            k.execute(price, at=m.round(epoch).lock_timestamp)
    k.advance_to(m.chain_time() + 1)  # past the closing second of the last closed round
    candidates = list(range(1, m.current_epoch() + 1))
    eligible = m.eligible_for_claim(me, candidates)
    assert eligible and set(eligible) < set(candidates)
    with pytest.raises(RevertError):
        m.simulate(m.build_claim(candidates), me)  # the whole batch reverts with one bad epoch ...
    m.simulate(m.build_claim(eligible), me)  # ... and passes with the eligible ones only
    assert send(w3, m.build_claim(eligible), me)["status"] == 1
    assert m.eligible_for_claim(me, candidates) == []  # claimed: nothing left
    history = list(m.iter_user_rounds(me, page_size=2))
    assert [e.epoch for e in history] == sorted(e.epoch for e in history) and len(history) == len(prices)
    assert all(e.claimed == (e.epoch in eligible) for e in history)


def test_v3_approve_exact_stake_then_bet(w3, deployments, chain):
    dep = deployments["v3"]
    m = adapter(w3, dep)
    k = keeper_for(w3, dep)
    newcomer = chain.accounts[-1]
    k.genesis_start(price=P)
    send(w3, m.build_approve(0), newcomer)  # start from no allowance
    with pytest.raises(RevertError):
        m.simulate(m.build_bet(Position.BULL, 1, STAKE), newcomer)  # no allowance yet
    approve = m.build_approve(STAKE)
    assert approve.to == dep.token_address and approve.kind == "approve"
    send(w3, approve, newcomer)
    assert m.allowance(newcomer) == STAKE  # exactly the stake, never unlimited
    before = m.token_balance(newcomer)
    assert send(w3, m.build_bet(Position.BULL, 1, STAKE), newcomer, at=m.chain_time() + 1)["status"] == 1
    assert before - m.token_balance(newcomer) == STAKE and m.allowance(newcomer) == 0
    assert m.round(1).bull_amount == STAKE


@pytest.mark.parametrize(
    "ai_price, close, winner",
    [(P + 50, P + 10, Position.BULL), (P + 50, P - 10, Position.BEAR), (P - 50, P - 10, Position.BULL),
     (P - 50, P + 10, Position.BEAR)],
)
def test_ai_follow_against_settlement(w3, deployments, chain, bettors, ai_price, close, winner):
    dep = deployments["ai"]
    m = adapter(w3, dep)
    k = Keeper(w3, dep)
    k.genesis_start(ai_price=ai_price)
    assert m.round(1).ai_price == ai_price
    bet(w3, m, bettors[0], Position.BULL, 1)  # follow: the AI is right
    bet(w3, m, bettors[1], Position.BEAR, 1)  # against
    k.genesis_lock(P, ai_price=P, at=m.round(1).lock_timestamp)
    k.execute(close, ai_price=P, at=m.round(2).lock_timestamp)
    rnd = m.round(1)
    expected = RoundStatus.SETTLED_UP if winner is Position.BULL else RoundStatus.SETTLED_DOWN
    assert m.status(rnd) is expected
    winner_addr = bettors[0] if winner is Position.BULL else bettors[1]
    loser_addr = bettors[1] if winner is Position.BULL else bettors[0]
    # in the very second the round closed, claim() would still revert "Round has not ended": not eligible yet
    assert m.claimable(1, winner_addr) and m.eligible_for_claim(winner_addr, [1]) == []
    k.advance_to(m.chain_time() + 1)
    assert m.eligible_for_claim(winner_addr, [1]) == [1] and m.eligible_for_claim(loser_addr, [1]) == []
