"""The paper side of the books: what the chain would hold had our paper fills been real, for the one settlement code.

A paper fill's "ledger entry" is its journaled intent (side, stake). Its round is the real round with our stake added
to our side's pool and to the total, and — once the oracle closed it — the rewards recomputed exactly as the contract
computes them at close (``bot.payout.calculate_rewards``: treasury fee on the new total, reward base = the winning
side's pool with our stake). ``bot.reconcile.settle.settle_live`` then settles it like any bet: a live bet of the same
stake on the same round (whose pools hold it for real) settles to the same payout, to the wei.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace

from bot.domain import LedgerEntry, Position, Round
from bot.payout import ai_winning_position, calculate_rewards, winning_position
from bot.store.journal import Intent


def paper_entry(intent: Intent) -> LedgerEntry:
    """The ledger entry a paper fill stands for (never claimed: a paper payout is counted, not claimed)."""
    return LedgerEntry(epoch=intent.epoch, position=Position(intent.position), amount=intent.amount_wei, claimed=False)


def with_our_stake(rnd: Round, entry: LedgerEntry, fee_bp: int, *, empty_side_to_treasury: bool) -> Round:
    """``rnd`` as it would be with ``entry``'s stake in it."""
    bull = rnd.bull_amount + (entry.amount if entry.position is Position.BULL else 0)
    bear = rnd.bear_amount + (entry.amount if entry.position is Position.BEAR else 0)
    total = rnd.total_amount + entry.amount
    if not rnd.oracle_called:
        return replace(rnd, total_amount=total, bull_amount=bull, bear_amount=bear)
    winner: Position | None
    if rnd.ai_price is not None:
        winner = ai_winning_position(rnd.lock_price, rnd.close_price, rnd.ai_price)
    else:
        winner = winning_position(rnd.lock_price, rnd.close_price)
    rewards = calculate_rewards(total, bull, bear, winner, fee_bp, empty_side_to_treasury=empty_side_to_treasury)
    return replace(rnd, total_amount=total, bull_amount=bull, bear_amount=bear,
                   reward_base_cal_amount=rewards.reward_base_cal_amount, reward_amount=rewards.reward_amount)


def fee_of(intent: Intent, default: int) -> int:
    """The treasury fee (basis points) the fill was decided under (its decision's ``fee_bp``), else ``default``."""
    try:
        decision = json.loads(intent.decision or "{}")
    except ValueError:
        return default
    value = decision.get("fee_bp") if isinstance(decision, dict) else None
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else default


def paper_books(
    intents: Sequence[Intent], rounds: Mapping[int, Round], fee_bp: int, *, empty_side_to_treasury: bool
) -> dict[str, tuple[dict[int, LedgerEntry], dict[int, Round]]]:
    """Per paper account: (its ledger entries, the rounds with its stakes in them) for ``settle_live``."""
    books: dict[str, tuple[dict[int, LedgerEntry], dict[int, Round]]] = {}
    for intent in intents:
        rnd = rounds.get(intent.epoch)
        if rnd is None:
            continue
        entries, folded = books.setdefault(intent.account, ({}, {}))
        entry = paper_entry(intent)
        entries[intent.epoch] = entry
        folded[intent.epoch] = with_our_stake(rnd, entry, fee_of(intent, fee_bp),
                                              empty_side_to_treasury=empty_side_to_treasury)
    return books
