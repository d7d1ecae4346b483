"""Backtest statistics from settled bets.

Wei totals (staked, payouts, PnL, gas) are exact Python ints; ratios and paths are float64 statistics.

- hit rate: wins / settled bets (won + lost + house; refunds excluded), overall and per side, each with a two-sided
  binomial test against 50 % (``scipy.stats.binomtest``);
- ROI: PnL / total staked; profit factor: gross profit / gross loss over bets; expectancy: mean PnL per bet;
- max drawdown: largest fall of the equity curve from a running peak (wei and fraction of the peak); its duration:
  the longest stretch spent below a previous peak, from the peak's round to the recovery round (or the last round);
- Sharpe and Sortino **per bet**: on per-bet returns ``pnl / stake`` (gas included), mean over the standard deviation
  (Sortino: over the downside deviation ``sqrt(mean(min(r, 0)^2))``); not annualised — rounds are not a time grid;
- longest losing streak: consecutive bets that lost or were won by the house;
- ruin: ``ruined`` (bool) and ``ruined_at_epoch`` (the first round whose bet the bankroll could no longer cover, or
  ``None``), ``rounds_played`` (rounds before it);
- fees: our share of the treasury cut on the pots we won (gross payout times the fee: ``payout * fee / (1 - fee)``);
  gas: what we paid.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import binomtest

from bot.backtest.engine import EngineResult
from bot.backtest.market import HOUSE, LOST, REFUND, WON
from bot.backtest.stats import stats_from_bets

WEI_PER_ETHER = 10**18
METRIC_BASIS = "sharpe/sortino per bet on returns pnl/stake (gas included), not annualised"


def _pvalue(wins: int, trials: int) -> float | None:
    if trials == 0:
        return None
    return float(binomtest(wins, trials, 0.5, alternative="two-sided").pvalue)


def _ratio(a: float, b: float) -> float | None:
    if b == 0:
        return None
    return a / b


def _runs(flags: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Start and end (exclusive) positions of every run of True."""
    if len(flags) == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    head, tail = flags[:-1], flags[1:]
    starts = np.flatnonzero(tail > head) + 1  # False -> True
    ends = np.flatnonzero(head > tail) + 1  # True -> False
    if flags[0]:
        starts = np.concatenate(([0], starts))
    if flags[-1]:
        ends = np.concatenate((ends, [len(flags)]))
    return starts, ends


def longest_run(flags: npt.NDArray[np.bool_]) -> int:
    if not flags.any():
        return 0
    starts, ends = _runs(flags)
    return int((ends - starts).max())


def drawdown_durations(
    underwater: npt.NDArray[np.bool_], round_pos: npt.NDArray[np.int64], round_lock_ts: npt.NDArray[np.int64]
) -> tuple[int, int]:
    """Longest stretch below a previous equity peak, in rounds and seconds, from the peak to the recovery (or the end).

    ``underwater[i]``: equity after bet i is below the running peak; bet i was made in round ``round_pos[i]`` (an
    index into ``round_lock_ts``). A stretch's peak is the bet before it (the first bet's round when it starts at the
    first bet); one never recovered lasts until the last round.
    """
    if not underwater.any():
        return 0, 0
    starts, ends = _runs(underwater)
    last = len(underwater) - 1
    peak_pos = round_pos[np.maximum(starts - 1, 0)]
    end_pos = np.where(ends <= last, round_pos[np.minimum(ends, last)], len(round_lock_ts) - 1)
    return int((end_pos - peak_pos).max()), int((round_lock_ts[end_pos] - round_lock_ts[peak_pos]).max())


def _rounds_played(result: EngineResult) -> int:
    """Rounds the run took part in: all of them, or those before the ruin epoch."""
    if result.ruined_epoch is None:
        return result.n_rounds
    return int((result.context["epoch"].to_numpy() < result.ruined_epoch).sum())


def compute_metrics(result: EngineResult) -> dict[str, Any]:
    """Every statistic of one run as a JSON-ready dict (wei as ints, ratios as floats, ``None`` when undefined)."""
    bets = result.bets
    stats = result.stats
    if stats is None:
        stats = stats_from_bets(bets, float(result.bankroll_wei), result.config.fee_bp)
    n_bets = len(bets)
    if stats.n != n_bets:
        raise ValueError(f"statistics cover {stats.n} bets but the run has {n_bets}")
    counts = stats.counts.reshape(2, 4)
    total = counts.sum(axis=0)
    n_won = int(total[WON])
    n_settled = n_bets - int(total[REFUND])
    out: dict[str, Any] = {"rounds": result.n_rounds, "bets": n_bets, "skipped": result.n_rounds - n_bets}
    out.update(
        won=n_won,
        lost=int(total[LOST]),
        house=int(total[HOUSE]),
        refunds=int(total[REFUND]),
        hit_rate=_ratio(n_won, n_settled),
        hit_rate_pvalue=_pvalue(n_won, n_settled),
    )
    for label, code in (("bull", 0), ("bear", 1)):
        c = counts[code]
        trials = int(c[WON] + c[LOST] + c[HOUSE])
        out[f"{label}_bets"] = int(c.sum())
        out[f"{label}_hit_rate"] = _ratio(int(c[WON]), trials)
        out[f"{label}_pvalue"] = _pvalue(int(c[WON]), trials)

    staked = result.staked_wei
    pnl_total = result.final_bankroll_wei - result.bankroll_wei
    gross_profit = (stats.sum_abs_pnl + stats.sum_pnl) / 2
    gross_loss = (stats.sum_abs_pnl - stats.sum_pnl) / 2
    out.update(
        staked_wei=staked,
        payout_wei=result.payout_wei,
        pnl_wei=pnl_total,
        pnl_ether=pnl_total / WEI_PER_ETHER,
        roi=_ratio(float(pnl_total), float(staked)),
        profit_factor=_ratio(gross_profit, gross_loss),
        expectancy_wei=(pnl_total / n_bets) if n_bets else None,
        bankroll_wei=result.bankroll_wei,
        final_bankroll_wei=result.final_bankroll_wei,
        ruined_epoch=result.ruined_epoch,
        ruined=result.ruined_epoch is not None,
        ruined_at_epoch=result.ruined_epoch,
        rounds_played=_rounds_played(result),
    )
    rounds_len, seconds_len = drawdown_durations(
        stats.underwater, bets["round_index"].to_numpy(dtype=np.int64), result.round_lock_ts
    )
    out.update(
        max_drawdown_wei=int(round(stats.max_drawdown)),
        max_drawdown_pct=stats.max_drawdown_frac,
        max_drawdown_duration_rounds=rounds_len,
        max_drawdown_duration_seconds=seconds_len,
    )
    sharpe = sortino = None
    if n_bets >= 2:
        mean = stats.sum_r / n_bets
        var = (stats.sum_r2 - n_bets * mean * mean) / (n_bets - 1)
        downside = math.sqrt(stats.sum_neg_r2 / n_bets)
        sharpe = mean / math.sqrt(var) if var > 0 else None
        sortino = mean / downside if downside > 0 else None
    out.update(
        sharpe_per_bet=sharpe,
        sortino_per_bet=sortino,
        longest_losing_streak=longest_run(stats.losing),
        fees_wei=int(round(stats.fees)),
        gas_wei=result.gas_wei,
        basis=METRIC_BASIS,
    )
    return out
