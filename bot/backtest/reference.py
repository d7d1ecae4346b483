"""The backtest as a plain per-round Python loop: the reference the vectorised engine is checked and timed against.

It produces what the vectorised run produces — a decision (side, stake, reason) for every round, a record for every
settled bet and the full metrics dict of ``compute_metrics`` — with the same decisions
(``strategies.edge.edge_decide_scalar``), settlement straight from ``bot.payout`` (``calculate_rewards`` +
``payout_for`` on Python ints), the same gas and ruin rules, and the metrics kept incrementally. Only the edge strategy
and the V2 dialect with sizing from the initial bankroll are covered: that is what the benchmark compares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from scipy.stats import binomtest

from bot.backtest.engine import fingerprint_rows
from bot.backtest.market import HOUSE, LOST, REASON_RUINED, REFUND, WON, EngineConfig
from bot.backtest.metrics import METRIC_BASIS, WEI_PER_ETHER
from bot.backtest.stats import fee_share_ratio
from bot.domain import Position
from bot.markets.dialects import dialect_for
from bot.payout import calculate_rewards, payout_for, winning_position
from strategies.base import SKIP
from strategies.edge import EdgeStrategy, edge_decide_scalar


@dataclass(slots=True)
class ReferenceResult:
    decisions: list[tuple[int, int, str]] = field(default_factory=list)  # per round: (side, stake, reason)
    # per bet: (round_index, epoch, side, stake, result, payout, pnl, equity after)
    bets: list[tuple[int, int, int, int, int, int, int, float]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return fingerprint_rows((b[1], b[2], b[3], b[5]) for b in self.bets)


def _pvalue(wins: int, trials: int) -> float | None:
    return float(binomtest(wins, trials, 0.5).pvalue) if trials else None


def reference_edge_backtest(  # noqa: C901 - one loop on purpose: it is the readable reference
    rounds: pd.DataFrame, p_up: list[float], strategy: EdgeStrategy, config: EngineConfig
) -> ReferenceResult:
    """Decide, settle and score every round one at a time (sizing from the initial bankroll, like the engine)."""
    if dialect_for(config.dialect).ai_positions or config.rebalance_every is not None:
        raise ValueError("the reference loop covers the V2 dialect with sizing from the initial bankroll only")
    out = ReferenceResult()
    bankroll = config.bankroll_wei
    bankroll_f = float(bankroll)
    fee = config.fee_bp
    fee_f = float(fee)
    min_bet_f = float(config.min_bet_wei)
    ratio = fee_share_ratio(fee)
    lock_times = rounds["lock_ts"].tolist()
    n_rounds = len(lock_times)
    equity = bankroll
    equity_f = bankroll_f
    peak = bankroll_f
    max_dd = max_frac = 0.0
    counts = [[0, 0, 0, 0], [0, 0, 0, 0]]
    staked = paid = gas_paid = 0
    abs_pnl = sum_pnl = fees = 0.0
    ret_sum = ret_sq = down_sq = 0.0
    streak = longest = 0
    under = False
    peak_round = -1  # round of the last bet at the running peak (-1: before the first bet)
    stretch_start = 0
    longest_under = longest_under_s = 0
    ruined: int | None = None
    columns = zip(
        rounds["epoch"].tolist(),
        rounds["lock_price"].tolist(),
        rounds["close_price"].tolist(),
        rounds["bull_wei"].tolist(),
        rounds["bear_wei"].tolist(),
        rounds["oracle_called"].tolist(),
        p_up,
        strict=True,
    )
    for i, (epoch, lock, close, bull, bear, called, p) in enumerate(columns):
        side, stake, reason = edge_decide_scalar(strategy, p, float(bull), float(bear), fee_f, bankroll_f, min_bet_f)
        if side == SKIP:
            out.decisions.append((side, 0, reason))
            continue
        gas = config.gas_per_bet_wei
        if ruined is None and config.stop_on_ruin and equity_f < stake + float(gas):
            ruined = epoch
        if ruined is not None:
            out.decisions.append((SKIP, 0, REASON_RUINED))
            continue
        out.decisions.append((side, stake, reason))
        payout = 0
        if not called:
            result = REFUND
            payout = stake
            gas += config.gas_per_claim_wei
        else:
            winner = winning_position(lock, close)
            if winner is None:
                result = HOUSE
            elif int(winner) == side:
                result = WON
                bull_after = bull + stake if side == Position.BULL else bull
                bear_after = bear + stake if side == Position.BEAR else bear
                rewards = calculate_rewards(bull_after + bear_after, bull_after, bear_after, winner, fee)
                payout = payout_for(stake, rewards.reward_amount, rewards.reward_base_cal_amount)
                gas += config.gas_per_claim_wei
                fees += payout * ratio
            else:
                result = LOST
        pnl = payout - stake - gas
        counts[side][result] += 1
        staked += stake
        paid += payout
        gas_paid += gas
        equity += pnl
        pnl_f = float(pnl)
        equity_f += pnl_f
        out.bets.append((i, epoch, side, stake, result, payout, pnl, equity_f))
        sum_pnl += pnl_f
        abs_pnl += abs(pnl_f)
        r = pnl_f / stake
        ret_sum += r
        ret_sq += r * r
        if r < 0:
            down_sq += r * r
        if equity_f >= peak:
            peak = equity_f
        drawdown = peak - equity_f
        if drawdown > 0:
            max_dd = max(max_dd, drawdown)
            max_frac = max(max_frac, drawdown / peak)
            if not under:
                under = True
                stretch_start = peak_round if peak_round >= 0 else i
        else:
            if under:
                under = False
                longest_under = max(longest_under, i - stretch_start)
                longest_under_s = max(longest_under_s, lock_times[i] - lock_times[stretch_start])
            peak_round = i
        streak = streak + 1 if result in (LOST, HOUSE) else 0
        longest = max(longest, streak)
    if under:
        longest_under = max(longest_under, n_rounds - 1 - stretch_start)
        longest_under_s = max(longest_under_s, lock_times[-1] - lock_times[stretch_start])

    n_bets = len(out.bets)
    won = counts[0][WON] + counts[1][WON]
    refunds = counts[0][REFUND] + counts[1][REFUND]
    settled = n_bets - refunds
    pnl_total = equity - bankroll
    gross_profit = (abs_pnl + sum_pnl) / 2
    gross_loss = (abs_pnl - sum_pnl) / 2
    sharpe = sortino = None
    if n_bets >= 2:
        mean = ret_sum / n_bets
        var = (ret_sq - n_bets * mean * mean) / (n_bets - 1)
        sharpe = mean / math.sqrt(var) if var > 0 else None
        sortino = mean / math.sqrt(down_sq / n_bets) if down_sq > 0 else None
    m: dict[str, Any] = {
        "rounds": n_rounds,
        "bets": n_bets,
        "skipped": n_rounds - n_bets,
        "won": won,
        "lost": counts[0][LOST] + counts[1][LOST],
        "house": counts[0][HOUSE] + counts[1][HOUSE],
        "refunds": refunds,
        "hit_rate": won / settled if settled else None,
        "hit_rate_pvalue": _pvalue(won, settled),
    }
    for label, c in (("bull", counts[0]), ("bear", counts[1])):
        trials = c[WON] + c[LOST] + c[HOUSE]
        m[f"{label}_bets"] = sum(c)
        m[f"{label}_hit_rate"] = c[WON] / trials if trials else None
        m[f"{label}_pvalue"] = _pvalue(c[WON], trials)
    m.update(
        staked_wei=staked,
        payout_wei=paid,
        pnl_wei=pnl_total,
        pnl_ether=pnl_total / WEI_PER_ETHER,
        roi=pnl_total / staked if staked else None,
        profit_factor=gross_profit / gross_loss if gross_loss else None,
        expectancy_wei=pnl_total / n_bets if n_bets else None,
        bankroll_wei=bankroll,
        final_bankroll_wei=equity,
        ruined_epoch=ruined,
        ruined=ruined is not None,
        ruined_at_epoch=ruined,
        rounds_played=n_rounds if ruined is None else sum(1 for e in rounds["epoch"].tolist() if e < ruined),
        max_drawdown_wei=int(round(max_dd)),
        max_drawdown_pct=max_frac,
        max_drawdown_duration_rounds=longest_under,
        max_drawdown_duration_seconds=longest_under_s,
        sharpe_per_bet=sharpe,
        sortino_per_bet=sortino,
        longest_losing_streak=longest,
        fees_wei=int(round(fees)),
        gas_wei=gas_paid,
        basis=METRIC_BASIS,
    )
    out.metrics = m
    return out
