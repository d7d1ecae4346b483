"""Pure payout math: properties, and agreement with real PancakeSwap V2 rounds."""

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.domain import LedgerEntry, Position, Round, RoundStatus
from bot.payout import (
    ai_winning_position,
    calculate_rewards,
    claim_amount,
    expected_payout_if_win,
    gross_multiple,
    payout_for,
    round_status,
    winning_position,
)

REAL_ROUNDS = Path(__file__).resolve().parents[2] / "bot" / "data" / "pcs-v2-bnb-2021-12-slice.ndjson"
wei = st.integers(min_value=0, max_value=10**24)


def make_round(**kw):
    base = dict(
        epoch=5, start_timestamp=1000, lock_timestamp=1300, close_timestamp=1600, lock_price=100, close_price=101,
        total_amount=0, bull_amount=0, bear_amount=0, reward_base_cal_amount=0, reward_amount=0, oracle_called=True,
    )
    base.update(kw)
    return Round(**base)


@given(st.lists(st.integers(min_value=1, max_value=10**22), min_size=1, max_size=20), wei, st.integers(0, 1000))
def test_winners_never_get_more_than_the_reward_pot(stakes, losers, fee):
    bull = sum(stakes)
    total = bull + losers
    r = calculate_rewards(total, bull, losers, Position.BULL, fee)
    paid = sum(payout_for(s, r.reward_amount, r.reward_base_cal_amount) for s in stakes)
    assert paid <= r.reward_amount
    assert r.reward_amount + r.treasury_amount == total
    # rounding dust is below one wei per winner
    assert r.reward_amount - paid < len(stakes)


@given(wei, wei, st.integers(0, 1000))
def test_draw_gives_everything_to_the_house(bull, bear, fee):
    r = calculate_rewards(bull + bear, bull, bear, None, fee)
    assert (r.reward_amount, r.reward_base_cal_amount, r.treasury_amount) == (0, 0, bull + bear)


@given(st.integers(1, 10**22), st.integers(0, 10**22), st.integers(0, 1000))
def test_empty_winning_side_goes_to_treasury(bear, _x, fee):
    r = calculate_rewards(bear, 0, bear, Position.BULL, fee)
    assert r.treasury_amount == bear and r.reward_amount == 0


@given(st.integers(1, 10**21), st.integers(0, 10**22), st.integers(0, 10**22), st.integers(0, 1000))
def test_expected_payout_matches_contract_settlement(stake, side, other, fee):
    total = stake + side + other
    r = calculate_rewards(total, side + stake, other, Position.BULL, fee)
    assert expected_payout_if_win(stake, side, other, fee) == payout_for(stake, r.reward_amount, r.reward_base_cal_amount)


def test_gross_multiple_models_our_dilution():
    # T=10, S=2 (bull), fee 3 %: without us 10*0.97/2 = 4.85; with b=2: 12*0.97/4 = 2.91
    assert abs(gross_multiple(2, 10, 300) - 4.85) < 1e-12
    assert abs(gross_multiple(2, 10, 300, our_stake=2) - 2.91) < 1e-12


@given(st.integers(1, 10**12), st.integers(1, 10**12), st.integers(1, 10**12))
def test_ai_rule(lock, close, ai):
    won = ai_winning_position(lock, close, ai)
    same_side = (ai > lock) == (close > lock) and (ai < lock) == (close < lock)
    assert (won is Position.BULL) == same_side


def test_status_and_claims_lifecycle():
    entry = LedgerEntry(5, Position.BULL, 10, False)
    open_round = make_round(oracle_called=False, close_timestamp=1600)
    assert round_status(open_round, 1100, 30) is RoundStatus.OPEN
    assert round_status(open_round, 1300, 30) is RoundStatus.LOCKED  # strict: at lock it is no longer open
    assert round_status(open_round, 1630, 30) is RoundStatus.LOCKED
    assert round_status(open_round, 1631, 30) is RoundStatus.REFUNDABLE
    assert claim_amount(open_round, entry, 1631, 30) == 10  # refund in full
    assert claim_amount(open_round, entry, 1630, 30) == 0
    won = make_round(total_amount=30, bull_amount=10, bear_amount=20, reward_base_cal_amount=10, reward_amount=29)
    assert round_status(won, 2000, 30) is RoundStatus.SETTLED_UP
    assert claim_amount(won, entry, 2000, 30) == 29
    assert claim_amount(won, LedgerEntry(5, Position.BEAR, 10, False), 2000, 30) == 0
    assert claim_amount(won, LedgerEntry(5, Position.BULL, 10, True), 2000, 30) == 0  # already claimed
    draw = make_round(close_price=100, total_amount=30, bull_amount=10, bear_amount=20)
    assert round_status(draw, 2000, 30) is RoundStatus.HOUSE_WON
    assert claim_amount(draw, entry, 2000, 30) == 0


def test_real_rounds_reproduce_outcomes_and_multiples():
    """1,000 real BNB rounds (Dec 2021): outcome from prices, and the UI multiples within their 2-decimal rounding.

    The amounts went through a float upstream (not wei-exact). The file's multiples are the gross pool ratio T/S rounded
    to 2 decimals (the UI's figure before the 3 % fee), so our exact after-fee payout per unit, divided by 0.97, must
    match them within that rounding (0.005).
    """
    checked = 0
    for line in REAL_ROUNDS.read_text().splitlines():
        r = json.loads(line)
        lock, close = int(r["lockPrice"]), int(r["closePrice"])
        bull, bear = int(r["bullAmount"]), int(r["bearAmount"])
        won = winning_position(lock, close)
        expected = {Position.BULL: "bull", Position.BEAR: "bear", None: "draw"}[won]
        assert r["resultString"] == expected, r["epoch"]
        total = bull + bear
        if bull and bear:
            rw = calculate_rewards(total, bull, bear, Position.BULL, 300)
            bull_mult = payout_for(10**18, rw.reward_amount, rw.reward_base_cal_amount) / 1e18
            rw = calculate_rewards(total, bull, bear, Position.BEAR, 300)
            bear_mult = payout_for(10**18, rw.reward_amount, rw.reward_base_cal_amount) / 1e18
            assert abs(bull_mult / 0.97 - float(r["bullMultiplier"])) <= 0.005 + 1e-9, r["epoch"]
            assert abs(bear_mult / 0.97 - float(r["bearMultiplier"])) <= 0.005 + 1e-9, r["epoch"]
            checked += 1
    assert checked > 900
