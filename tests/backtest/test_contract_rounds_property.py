"""Property: rounds kept by the contract's own bookkeeping (V2 ``_calculateRewards``) always pass
``contract_problems``, at any size, and breaking one round's total is always reported with that round's epoch."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.backtest.contract_rounds import contract_problems

FEE = 300
amounts = st.integers(min_value=0, max_value=2**100)


@st.composite
def rounds(draw: st.DrawFn) -> list[dict]:
    out = []
    for epoch in range(1, draw(st.integers(1, 12)) + 1):
        bull, bear = draw(amounts), draw(amounts)
        lock = draw(st.integers(1, 10**12))
        close = draw(st.sampled_from([lock, lock + 1, lock - 1, draw(st.integers(1, 10**12))]))
        called = draw(st.booleans())
        total = bull + bear
        winner = "bull" if close > lock else "bear" if close < lock else "draw"
        base = {"bull": bull, "bear": bear, "draw": 0}[winner] if called else 0
        reward = (0 if winner == "draw" else total - total * FEE // 10_000) if called else 0
        out.append({"epoch": epoch, "startTimestamp": 300 * epoch, "lockTimestamp": 300 * epoch + 300,
                    "closeTimestamp": 300 * epoch + 600, "lockPrice": lock, "closePrice": close, "totalAmount": total,
                    "bullAmount": bull, "bearAmount": bear, "rewardBaseCalAmount": base, "rewardAmount": reward,
                    "oracleCalled": called})
    return out


@settings(max_examples=200, deadline=None)
@given(rounds())
def test_consistent_rounds_pass(rows: list[dict]) -> None:
    assert contract_problems(rows, FEE) == []


@settings(max_examples=200, deadline=None)
@given(rounds(), st.data())
def test_a_broken_total_is_named(rows: list[dict], data: st.DataObject) -> None:
    target = data.draw(st.sampled_from(rows))
    target["totalAmount"] += data.draw(st.integers(1, 2**80))
    problems = contract_problems(rows, FEE)
    assert any(p.startswith("bullAmount + bearAmount != totalAmount") and str(target["epoch"]) in p for p in problems)
