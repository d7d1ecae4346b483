"""Parimutuel payout math, exactly as the prediction contracts compute it, in integer wei.

This is the one place the payout formula lives. Every function is pure.

Facts (docs: prediction-contracts.md, "Payout math"):
- close > lock: bull wins; close < lock: bear wins; close == lock: house wins (nobody can claim).
- treasury = floor(total * fee_bp / 10000); rewardAmount = total - treasury; rewardBaseCalAmount = winning side's pool.
- payout of a winning bet = floor(amount * rewardAmount / rewardBaseCalAmount).
- A round that was never executed (no oracle call) refunds every stake in full once close + buffer has passed.
- Our contracts (and the AI dialect) give the pot to the treasury when the winning side is empty.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import LedgerEntry, Position, Round, RoundStatus

BP_DENOMINATOR = 10_000


@dataclass(frozen=True, slots=True)
class Rewards:
    """What ``_calculateRewards`` stores for a round."""

    winner: Position | None  # None: house wins
    reward_base_cal_amount: int
    reward_amount: int
    treasury_amount: int


def winning_position(lock_price: int, close_price: int) -> Position | None:
    """V2/V3 rule: the side the price moved to; ``None`` on a draw."""
    if close_price > lock_price:
        return Position.BULL
    if close_price < lock_price:
        return Position.BEAR
    return None


def ai_winning_position(lock_price: int, close_price: int, ai_price: int) -> Position:
    """AI dialect: Bull ("the AI is right") wins when the AI price and the close price are on the same side of lock.

    All three equal counts as right; the AI calling a move that did not happen (or vice versa) is wrong.
    """
    ai_dir = (ai_price > lock_price) - (ai_price < lock_price)
    real_dir = (close_price > lock_price) - (close_price < lock_price)
    return Position.BULL if ai_dir == real_dir else Position.BEAR


def calculate_rewards(
    total: int, bull: int, bear: int, winner: Position | None, fee_bp: int, *, empty_side_to_treasury: bool = True
) -> Rewards:
    """Rewards as the contract stores them at close.

    ``empty_side_to_treasury``: our contracts and the AI dialect give the pot to the treasury when nobody is on the winning
    side. The original V2 leaves ``rewardAmount`` set and locked (``False`` reproduces that for real V2 rounds).
    """
    if winner is None:
        return Rewards(None, 0, 0, total)
    base = bull if winner is Position.BULL else bear
    treasury = total * fee_bp // BP_DENOMINATOR
    if base == 0 and empty_side_to_treasury:
        return Rewards(winner, 0, 0, total)
    return Rewards(winner, base, total - treasury, treasury)


def payout_for(amount: int, reward_amount: int, reward_base_cal_amount: int) -> int:
    """Payout of a winning bet of ``amount`` wei."""
    if reward_base_cal_amount == 0:
        return 0
    return amount * reward_amount // reward_base_cal_amount


def round_status(rnd: Round, now: int, buffer_seconds: int, *, current_epoch: int | None = None) -> RoundStatus:
    """Normalise a V2/V3/AI round into one status at chain time ``now``."""
    if not rnd.started:
        return RoundStatus.PENDING
    if rnd.oracle_called:
        if rnd.reward_base_cal_amount == 0:
            return RoundStatus.HOUSE_WON
        won: Position | None
        if rnd.ai_price is not None:
            won = ai_winning_position(rnd.lock_price, rnd.close_price, rnd.ai_price)
        else:
            won = winning_position(rnd.lock_price, rnd.close_price)
        if won is None:
            return RoundStatus.HOUSE_WON
        return RoundStatus.SETTLED_UP if won is Position.BULL else RoundStatus.SETTLED_DOWN
    if now > rnd.close_timestamp + buffer_seconds and rnd.close_timestamp != 0:
        return RoundStatus.REFUNDABLE
    if now < rnd.lock_timestamp and (current_epoch is None or current_epoch == rnd.epoch):
        return RoundStatus.OPEN
    return RoundStatus.LOCKED


def round_winner(rnd: Round) -> Position | None:
    """Winning side of an executed round (``None``: house won or not executed)."""
    if not rnd.oracle_called or rnd.reward_base_cal_amount == 0:
        return None
    if rnd.ai_price is not None:
        return ai_winning_position(rnd.lock_price, rnd.close_price, rnd.ai_price)
    return winning_position(rnd.lock_price, rnd.close_price)


def is_claimable(rnd: Round, entry: LedgerEntry) -> bool:
    """Contract ``claimable``: executed, a stake, not claimed, on the winning side."""
    if not rnd.oracle_called or entry.amount == 0 or entry.claimed:
        return False
    if rnd.ai_price is None and rnd.lock_price == rnd.close_price:
        return False
    return round_winner(rnd) is entry.position


def is_refundable(rnd: Round, entry: LedgerEntry, now: int, buffer_seconds: int) -> bool:
    """Contract ``refundable``: never executed, a stake, not claimed, and past close + buffer."""
    return (
        not rnd.oracle_called
        and not entry.claimed
        and entry.amount > 0
        and rnd.close_timestamp != 0
        and now > rnd.close_timestamp + buffer_seconds
    )


def claim_amount(rnd: Round, entry: LedgerEntry, now: int, buffer_seconds: int) -> int:
    """What ``claim([epoch])`` would pay this entry now (0 if not eligible)."""
    if is_refundable(rnd, entry, now, buffer_seconds):
        return entry.amount
    if is_claimable(rnd, entry):
        return payout_for(entry.amount, rnd.reward_amount, rnd.reward_base_cal_amount)
    return 0


def settle(rnd: Round, entry: LedgerEntry, now: int, buffer_seconds: int) -> int:
    """Gross amount returned to the bettor for this round (payout, refund or 0), regardless of claimed flag."""
    if entry.amount == 0:
        return 0
    if not rnd.oracle_called:
        return entry.amount if (rnd.close_timestamp and now > rnd.close_timestamp + buffer_seconds) else 0
    if round_winner(rnd) is entry.position:
        return payout_for(entry.amount, rnd.reward_amount, rnd.reward_base_cal_amount)
    return 0


def gross_multiple(side_pool: int, total_pool: int, fee_bp: int, our_stake: int = 0) -> float:
    """Gross payout multiple for a winning stake on a side, including the dilution of our own stake.

    (T + b)(1 - fee) / (S + b). Statistics only (float); the exact payout is ``payout_for``.
    """
    denom = side_pool + our_stake
    if denom == 0:
        return 0.0
    return (total_pool + our_stake) * (BP_DENOMINATOR - fee_bp) / BP_DENOMINATOR / denom


def expected_payout_if_win(stake: int, side_pool: int, other_pool: int, fee_bp: int) -> int:
    """Exact wei paid back to ``stake`` if its side wins, given the pools before our bet and nobody else betting."""
    total = side_pool + other_pool + stake
    treasury = total * fee_bp // BP_DENOMINATOR
    return stake * (total - treasury) // (side_pool + stake)
