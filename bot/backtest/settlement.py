"""Exact settlement of a block of decisions (see ``bot.backtest.engine`` for the accounting rules).

Two implementations with identical results: ``_settle_fast`` for int64 pools (NumPy only, in cache-sized chunks, with
the exact long-double/uint64 payout of ``bot.backtest.exact``) and ``_settle_generic`` for object pools (amounts
beyond int64, e.g. real BNB rounds), which goes through ``payouts_if_win`` and Python ints where needed.
Both feed a ``BetStats`` with the bets they keep, so metrics need no second pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.backtest.exact import (
    CHUNK,
    EXTENDED_PRECISION,
    exact_sum,
    payout_block,
    payouts_if_win,
    python_payouts,
    to_float,
)
from bot.backtest.market import (
    BET_COLUMNS,
    DRAW,
    LOST,
    NOT_EXECUTED,
    REFUND,
    EngineConfig,
    PreparedRounds,
)
from bot.backtest.stats import BetStats, fee_share_ratio

_U64 = np.uint64


@dataclass(slots=True)
class Settled:
    """A settled block: the bets frame, exact totals, and where (if anywhere) the bankroll ran out."""

    bets: pd.DataFrame
    final_equity: int
    staked: int
    payout: int
    gas: int
    cut_round: int | None  # row (in this block) of the first bet the bankroll could not cover


def settle(
    prep: PreparedRounds,
    side: npt.NDArray[np.int8],
    stake: npt.NDArray[np.int64],
    config: EngineConfig,
    *,
    start_equity: int | None = None,
    round_offset: int = 0,
    force_generic: bool = False,
    stats: BetStats | None = None,
) -> Settled:
    """Settle every bet (``side >= 0``) of a block of prepared rounds exactly; feed ``stats`` with the kept bets."""
    equity0 = config.bankroll_wei if start_equity is None else start_equity
    fast = not force_generic and EXTENDED_PRECISION and prep.bull.dtype == np.int64 and prep.bear.dtype == np.int64
    impl = _settle_fast if fast else _settle_generic
    sink = stats if stats is not None else BetStats(float(equity0))
    return impl(prep, np.asarray(side, dtype=np.int8), np.asarray(stake, dtype=np.int64), config, equity0, round_offset, sink)


def _equity_path(
    start: float, pnl_f: npt.NDArray[np.float64], out: npt.NDArray[np.float64] | None = None
) -> npt.NDArray[np.float64]:
    """Float equity after each bet, accumulated left to right from ``start`` (the order a loop would use)."""
    steps = pnl_f.copy()
    if len(steps):
        steps[0] += start
    return np.cumsum(steps, out=out)


def _result_codes(
    won: npt.NDArray[np.bool_], outcome: npt.NDArray[np.int8], refund: npt.NDArray[np.bool_]
) -> npt.NDArray[np.int8]:
    """WON 0, LOST 1, HOUSE 2, REFUND 3 (the four cases are exclusive)."""
    code = (outcome == DRAW).view(np.int8) - won.view(np.int8)
    code += refund.view(np.int8) * np.int8(REFUND - LOST)
    code += np.int8(LOST)
    return code


def _settle_fast(
    prep: PreparedRounds,
    side: npt.NDArray[np.int8],
    stake: npt.NDArray[np.int64],
    config: EngineConfig,
    equity0: int,
    round_offset: int,
    stats: BetStats,
) -> Settled:
    n = prep.n
    is_bet = side >= 0
    n_bets = int(np.count_nonzero(is_bet))
    # one allocation per dtype (fewer, larger blocks are cheaper to fault in than one array per column)
    ints = np.empty((5, n_bets), dtype=np.int64)
    small = np.empty((2, n_bets), dtype=np.int8)
    cols: dict[str, np.ndarray] = {
        "round_index": ints[0],
        "epoch": ints[1],
        "side": small[0],
        "stake_wei": ints[2],
        "result": small[1],
        "payout_wei": ints[3],
        "pnl_wei": ints[4],
        "equity_wei": np.empty(n_bets, dtype=np.float64),
    }
    bull_u = prep.bull.view(_U64)
    bear_u = prep.bear.view(_U64)
    fee_u = _U64(config.fee_bp)
    ratio = fee_share_ratio(config.fee_bp)
    gas_bet = config.gas_per_bet_wei
    gas_claim = config.gas_per_claim_wei
    carry = float(equity0)
    pos = 0
    n_claims = 0
    cut_round: int | None = None
    for a in range(0, n, CHUNK):
        rows = np.flatnonzero(is_bet[a : a + CHUNK])
        k = len(rows)
        if k == 0:
            continue
        rows += a
        # results go straight into the output columns (rows past a ruin cut are simply not kept)
        sl = slice(pos, pos + k)
        np.add(rows, round_offset, out=cols["round_index"][sl])
        np.take(prep.epoch, rows, out=cols["epoch"][sl])
        s_side = np.take(side, rows, out=cols["side"][sl])
        s_stake = np.take(stake, rows, out=cols["stake_wei"][sl])
        out = prep.outcome[rows]
        won = s_side == out
        refund = out == NOT_EXECUTED
        # exact payouts, for the winning bets only
        w = np.flatnonzero(won)
        rw = rows[w]
        bull = bull_u[rw]
        bear = bear_u[rw]
        both = bull + bear
        pool = bear + (1 - s_side[w]).astype(_U64) * (bull - bear)  # sides are 0/1: exact select, wrapping
        won_stake = s_stake[w]
        q, ok = payout_block(won_stake.view(_U64), pool, both - pool, fee_u)
        if not ok.all():
            fix = python_payouts(
                won_stake, pool.view(np.int64), (both - pool).view(np.int64), np.full(len(w), config.fee_bp), ~ok
            )
            if fix.dtype == object:
                raise OverflowError("a payout exceeds int64: use object pools (settle(..., force_generic=True))")
            q = np.where(ok, q, fix)
        payout = np.multiply(s_stake, refund, out=cols["payout_wei"][sl])
        payout[w] = q
        pnl = np.subtract(payout, s_stake, out=cols["pnl_wei"][sl])
        pnl -= gas_bet
        if gas_claim:
            claimed = won | refund
            pnl -= claimed * gas_claim
        pnl_f = pnl.astype(np.float64)
        equity = cols["equity_wei"][sl]
        _equity_path(carry, pnl_f, out=equity)
        stake_f = s_stake.astype(np.float64)
        keep = k
        if config.stop_on_ruin:
            need = stake_f + float(gas_bet)
            if carry < need[0]:
                keep = 0
            else:
                short = equity[:-1] < need[1:]  # the equity before bet i is the equity after bet i - 1
                if short.any():
                    keep = int(np.argmax(short)) + 1
            if keep < k:
                cut_round = int(rows[keep])
        result = _result_codes(won, out, refund)
        cols["result"][sl] = result
        if keep < k:
            fees = float(np.where(won[:keep], payout[:keep], 0).sum(dtype=np.float64)) * ratio
        else:
            fees = float(q.sum(dtype=np.float64)) * ratio
        stats.update(s_side[:keep], result[:keep], stake_f[:keep], pnl_f[:keep], equity[:keep], fees)
        if gas_claim:
            n_claims += int(np.count_nonzero(claimed[:keep]))
        pos += keep
        if keep < k:
            break
        carry = float(equity[-1])
    for key in cols:
        cols[key] = cols[key][:pos]
    staked = exact_sum(cols["stake_wei"])
    paid = exact_sum(cols["payout_wei"])
    gas_total = gas_bet * pos + gas_claim * n_claims
    final = equity0 + paid - staked - gas_total
    return Settled(pd.DataFrame(cols, copy=False), final, staked, paid, gas_total, cut_round)


def _settle_generic(
    prep: PreparedRounds,
    side: npt.NDArray[np.int8],
    stake: npt.NDArray[np.int64],
    config: EngineConfig,
    equity0: int,
    round_offset: int,
    stats: BetStats,
) -> Settled:
    idx = np.flatnonzero(side >= 0)
    b_side = side[idx]
    b_stake = stake[idx]
    out = prep.outcome[idx]
    won = b_side == out
    refund = out == NOT_EXECUTED
    result = _result_codes(won, out, refund)

    w = np.flatnonzero(won)
    on_bull = b_side[w] == 0
    bull_w = prep.bull[idx[w]]
    bear_w = prep.bear[idx[w]]
    pool = np.where(on_bull, bull_w, bear_w)
    other = np.where(on_bull, bear_w, bull_w)
    if pool.dtype != object:
        pool = pool.astype(np.int64)
        other = other.astype(np.int64)
    won_pay = payouts_if_win(b_stake[w], pool, other, config.fee_bp)
    payout: np.ndarray = np.zeros(len(idx), dtype=object if won_pay.dtype == object else np.int64)
    payout[w] = won_pay
    payout[refund] = b_stake[refund]

    claimed = won | refund
    gas = config.gas_per_bet_wei + config.gas_per_claim_wei * claimed.astype(np.int64)
    pnl = payout - b_stake - gas
    pnl_f = to_float(pnl)
    equity = _equity_path(float(equity0), pnl_f)

    keep = len(idx)
    cut_round: int | None = None
    if config.stop_on_ruin and len(idx):
        before = np.concatenate(([float(equity0)], equity[:-1]))
        short = before < b_stake + float(config.gas_per_bet_wei)
        if short.any():
            keep = int(np.argmax(short))
            cut_round = int(idx[keep])
    k = slice(0, keep)
    won_kept = np.flatnonzero(won[k])
    fees = float(to_float(np.asarray(payout[won_kept])).sum()) * fee_share_ratio(config.fee_bp)
    stats.update(b_side[k], result[k], to_float(b_stake[k]), pnl_f[k], equity[k], fees)
    cols = {
        "round_index": idx[k] + round_offset,
        "epoch": prep.epoch[idx[k]],
        "side": b_side[k],
        "stake_wei": b_stake[k],
        "result": result[k],
        "payout_wei": payout[k],
        "pnl_wei": pnl[k],
        "equity_wei": equity[k],
    }
    assert tuple(cols) == BET_COLUMNS
    n_claims = int(np.count_nonzero(claimed[k]))
    return Settled(
        pd.DataFrame(cols, copy=False),
        equity0 + exact_sum(np.asarray(pnl[k])),
        exact_sum(b_stake[k]),
        exact_sum(np.asarray(payout[k])),
        config.gas_per_bet_wei * keep + config.gas_per_claim_wei * n_claims,
        cut_round,
    )

