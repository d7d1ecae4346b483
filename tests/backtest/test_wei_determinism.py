"""The float -> wei rule (``bot.money``) keeps backtest wei independent of floating-point noise.

A float computed by a library (numpy's SIMD ``exp``/``log``/``sqrt``, a BLAS, a reduction order) may differ in its last
bits between versions or machines. These tests inject exactly that kind of noise — a few ulps on every ``exp``,
``log`` and ``sqrt`` the pool model, the offline forecaster and the Kelly sizing compute — and check the fixed backtest
still gives the pinned fingerprint and PnL to the wei; and that the same noise *does* move the wei when the rule is
switched off (so the test can fail). A second check runs the same backtest in fresh processes with different thread
settings.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import bot.backtest.inferences as inferences_module
import bot.backtest.pools as pools_module
import strategies.base as base_module
import strategies.edge as edge_module
from bot.backtest.runner import run_backtest
from bot.money import floor_to_quantum, floor_to_quantum_scalar, pool_quantum, stake_quantum, stake_quantum_array
from tests.backtest.test_backtest_runner import FINGERPRINT_SHIPPED_WEEK, PNL_SHIPPED_WEEK

ROOT = Path(__file__).resolve().parents[2]
EPS = 2.0**-52


class NoisyNumpy:
    """numpy, except that ``exp``, ``log`` and ``sqrt`` are off by up to ``ulps`` units in the last place."""

    def __init__(self, seed: int, ulps: int = 4) -> None:
        self._rng = np.random.default_rng(seed)
        self._ulps = ulps
        self.perturbed = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    def _noisy(self, value: Any) -> Any:
        arr = np.asarray(value, dtype=np.float64)
        k = self._rng.integers(-self._ulps, self._ulps + 1, arr.shape)
        self.perturbed += int(np.count_nonzero(k))
        return arr * (1.0 + k * EPS)

    def exp(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        return self._noisy(np.exp(x, *args, **kwargs))

    def log(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        return self._noisy(np.log(x, *args, **kwargs))

    def sqrt(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        return self._noisy(np.sqrt(x, *args, **kwargs))


def _noisy_run(monkeypatch: pytest.MonkeyPatch, seed: int) -> tuple[str, int, int]:
    noisy = NoisyNumpy(seed)
    for module in (pools_module, inferences_module, edge_module):
        monkeypatch.setattr(module, "np", noisy)
    result = run_backtest("edge", end="2025-05-08")
    monkeypatch.undo()
    return result.fingerprint, int(result.metrics["pnl_wei"]), noisy.perturbed


def test_float_noise_does_not_reach_the_wei(monkeypatch: pytest.MonkeyPatch) -> None:
    for seed in (1, 2):
        fingerprint, pnl, perturbed = _noisy_run(monkeypatch, seed)
        assert perturbed > 10_000  # the noise really was injected (pools, signals and stakes)
        assert (fingerprint, pnl) == (FINGERPRINT_SHIPPED_WEEK, PNL_SHIPPED_WEEK)


def test_the_same_noise_moves_the_wei_without_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Control: flooring straight to whole wei (quantum 1) lets the same noise change the result."""

    def whole_wei(min_bet: Any) -> Any:
        return np.ones(np.shape(np.asarray(min_bet)) or (1,), dtype=np.int64)

    def fingerprint_without_rule(seed: int | None) -> str:
        monkeypatch.setattr(base_module, "stake_quantum_array", whole_wei)
        monkeypatch.setattr(pools_module, "pool_quantum", lambda median: 1)
        if seed is not None:
            noisy = NoisyNumpy(seed)
            for module in (pools_module, inferences_module, edge_module):
                monkeypatch.setattr(module, "np", noisy)
        fingerprint = run_backtest("edge", end="2025-05-08").fingerprint
        monkeypatch.undo()
        return fingerprint

    assert fingerprint_without_rule(None) != fingerprint_without_rule(1)


def test_same_fingerprint_in_fresh_processes_with_other_thread_settings() -> None:
    code = (
        "import json; from bot.backtest.runner import run_backtest; r = run_backtest('edge', end='2025-05-08'); "
        "print(json.dumps([r.fingerprint, int(r.metrics['pnl_wei'])]))"
    )
    seen = set()
    for threads in ("1", "2"):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
               "PYTHONHASHSEED": threads}
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=120, check=True)
        seen.add(tuple(json.loads(out.stdout.strip().splitlines()[-1])))
    assert seen == {(FINGERPRINT_SHIPPED_WEEK, PNL_SHIPPED_WEEK)}


# -- the rule itself ------------------------------------------------------------------------------------------------

def test_quanta() -> None:
    assert stake_quantum(10**15) == 10**12  # PancakeSwap BNB: min bet 0.001 -> stakes in whole micro-BNB
    assert stake_quantum(10**15 + 1) == 10**12 and stake_quantum(999 * 10**12) == 10**11
    assert [stake_quantum(v) for v in (0, 1, 999, 1000, 9999, 10_000)] == [1, 1, 1, 1, 1, 10]
    assert stake_quantum_array(np.array([1e15, 1e15])).tolist() == [10**12, 10**12]
    assert stake_quantum_array(np.array([1e15, 1e6, math.nan, 0.0, 5e3])).tolist() == [10**12, 10**3, 1, 1, 1]
    assert pool_quantum(2.5e19) == 10**13 and pool_quantum(math.nan) == 1 and pool_quantum(5e5) == 1


@given(
    x=st.floats(min_value=1.0, max_value=2.0**62, allow_subnormal=False, allow_nan=False, allow_infinity=False),
    q_exp=st.integers(0, 15),
    k=st.integers(-8, 8),
)
def test_floor_to_quantum_is_a_multiple_at_most_x_and_stable_under_noise(x: float, q_exp: int, k: int) -> None:
    q = 10**q_exp
    wei = int(floor_to_quantum(np.array([x]), q)[0])
    assert wei % q == 0 and wei <= x and wei == floor_to_quantum_scalar(x, q)
    noisy = x * (1.0 + k * EPS)
    # noise of k ulps changes the result only if a multiple of q lies between x and its noisy twin
    lo, hi = min(x, noisy), max(x, noisy)
    crosses = int(hi) // q != int(lo) // q
    if not crosses:
        assert int(floor_to_quantum(np.array([noisy]), q)[0]) == wei


@given(x=st.one_of(st.just(math.nan), st.just(math.inf), st.just(-math.inf), st.floats(max_value=0.0)))
def test_floor_to_quantum_of_nonsense_is_zero(x: float) -> None:
    assert int(floor_to_quantum(np.array([x]), 10**12)[0]) == 0
    assert floor_to_quantum_scalar(x, 10**12) == 0
