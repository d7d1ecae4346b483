"""Pure settlement math: gas split, paper fills against bot.payout, live verdicts, claim comparison."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.domain import LedgerEntry, Position, Round
from bot.payout import claim_amount, expected_payout_if_win
from bot.reconcile.claims import compare_claims
from bot.reconcile.paperbook import with_our_stake
from bot.reconcile.pnl import AccountPnl, StakeFlows
from bot.reconcile.settle import live_verdict, split_gas

WEI = st.integers(min_value=0, max_value=10**24)
STAKE = st.integers(min_value=1, max_value=10**22)


def executed(lock: int, close: int, bull: int, bear: int, fee_bp: int = 300, ai: int | None = None) -> Round:
    from bot.payout import calculate_rewards, winning_position

    winner = winning_position(lock, close)
    if ai is not None:
        from bot.payout import ai_winning_position

        winner = ai_winning_position(lock, close, ai)
    r = calculate_rewards(bull + bear, bull, bear, winner, fee_bp)
    return Round(1, 100, 400, 700, lock, close, bull + bear, bull, bear, r.reward_base_cal_amount, r.reward_amount,
                 True, ai)  # fmt: skip


@given(total=WEI, epochs=st.lists(st.integers(1, 10**6), min_size=1, max_size=40, unique=True))
def test_split_gas_is_exact_with_remainder_to_first(total, epochs):
    shares = split_gas(total, epochs)
    assert sum(shares.values()) == total
    first = min(epochs)
    base = total // len(epochs)
    assert all(v == base for e, v in shares.items() if e != first)
    assert shares[first] == base + total % len(epochs)


def paper_verdict(rnd: Round, position: Position, stake: int, fee: int, now: int, buffer: int):
    """A paper fill settled as settlement does it: the live verdict on the round with our stake folded in."""
    entry = LedgerEntry(rnd.epoch, position, stake, False)
    return live_verdict(with_our_stake(rnd, entry, fee, empty_side_to_treasury=True), entry, now, buffer)


@given(stake=STAKE, side=WEI, other=WEI, fee=st.integers(0, 1000), up=st.booleans())
def test_paper_win_matches_expected_payout_when_pools_do_not_move(stake, side, other, fee, up):
    """With the pools at close equal to the pools at decision, the paper payout is bot.payout's expectation."""
    position = Position.BULL if up else Position.BEAR
    bull, bear = (side, other) if up else (other, side)
    rnd = executed(100, 101 if up else 99, bull, bear, fee)
    verdict = paper_verdict(rnd, position, stake, fee, now=10**6, buffer=30)
    assert verdict.status == "won" and verdict.final
    assert verdict.payout == expected_payout_if_win(stake, side, other, fee)


@given(stake=STAKE, bull=WEI, bear=WEI, fee=st.integers(0, 1000), lock=st.integers(1, 10**12),
       close=st.integers(1, 10**12), position=st.sampled_from(list(Position)))  # fmt: skip
def test_a_paper_fill_settles_as_the_same_live_bet_would(stake, bull, bear, fee, lock, close, position):
    """The round without our stake + a paper fill == the round with our real bet in it: same status, same payout."""
    entry = LedgerEntry(1, position, stake, False)
    with_bet = executed(lock, close, bull + (stake if position is Position.BULL else 0),
                        bear + (stake if position is Position.BEAR else 0), fee)
    live = live_verdict(with_bet, entry, 10**6, 30)
    paper = paper_verdict(executed(lock, close, bull, bear, fee), position, stake, fee, 10**6, 30)
    assert (paper.status, paper.payout, paper.final) == (live.status, live.payout, live.final)
    assert paper.payout == claim_amount(with_bet, entry, 10**6, 30)


@given(stake=STAKE, bull=WEI, bear=WEI)
def test_paper_draw_loss_and_refund(stake, bull, bear):
    flat = executed(100, 100, bull, bear)
    assert paper_verdict(flat, Position.BULL, stake, 300, 10**6, 30).status == "house-won"
    down = executed(100, 99, bull, bear)
    assert paper_verdict(down, Position.BULL, stake, 300, 10**6, 30).payout == 0
    never = Round(1, 100, 400, 700, 100, 0, bull + bear, bull, bear, 0, 0, False)
    refund = paper_verdict(never, Position.BEAR, stake, 300, 10**6, 30)
    assert (refund.status, refund.payout) == ("refund", stake)
    pending = paper_verdict(never, Position.BEAR, stake, 300, 710, 30)
    assert not pending.final


@given(amount=STAKE, bull=WEI, bear=WEI, lock=st.integers(1, 10**12), close=st.integers(1, 10**12),
       position=st.sampled_from(list(Position)))  # fmt: skip
def test_live_verdict_pays_exactly_what_claim_pays(amount, bull, bear, lock, close, position):
    bull += amount if position is Position.BULL else 0
    bear += amount if position is Position.BEAR else 0
    rnd = executed(lock, close, bull, bear)
    entry = LedgerEntry(1, position, amount, False)
    verdict = live_verdict(rnd, entry, 10**6, 30)
    assert verdict.final and verdict.payout == claim_amount(rnd, entry, 10**6, 30)
    assert verdict.payout == 0 or verdict.status == "won"  # a win may round down to 0 wei (dust stakes)
    assert verdict.status in ("won", "lost", "house-won")


def test_compare_claims_reports_each_difference():
    assert compare_claims({1: 5, 2: 7}, {1: 5, 2: 7}) == ""
    text = compare_claims({1: 5, 2: 7}, {1: 5, 2: 6, 3: 1})
    assert "epoch 2: expected 7 wei, Claim event 6" in text and "epoch 3" in text


def test_account_pnl_identities():
    pnl = AccountPnl("0x" + "1" * 40, native=StakeFlows(100, 150, 20, 30, 0), value_to_markets_wei=100,
                     gas_bets_wei=3, gas_claims_wei=2, gas_reverted_wei=1)  # fmt: skip
    assert pnl.gas_wei == 6
    assert pnl.pnl_wei == 150 + 20 + 30 - 100 - 6
    assert pnl.realized_pnl_wei == pnl.pnl_wei - 30
    assert pnl.expected_balance_change_wei == 170 - 100 - 6
