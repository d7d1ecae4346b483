"""Issue 17, part 2: candles combined with real rounds are cross-checked against the rounds' oracle prices; a feed
stamped a bar early (look-ahead) or of another asset is refused with the measured offset, a correct one passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bot.backtest.crosscheck import CandleClockError, measure_offset
from bot.backtest.feeds import load_csv
from bot.backtest.rounds import build_rounds, load_rounds_file, write_rounds_export
from bot.backtest.runner import SHIPPED_CANDLES, run_backtest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    candles = load_csv(SHIPPED_CANDLES)
    candles = candles[candles["open_time_ms"] < pd.Timestamp("2025-05-04", tz="UTC").value // 10**6].reset_index(drop=True)
    # the rounds' oracle reads these candles on their real clock (as the chain's oracle reads its feed)
    rounds = build_rounds(candles, seed=3)
    path = write_rounds_export(rounds, tmp_path_factory.mktemp("r") / "rounds.csv")
    return candles, path


def _shifted(candles: pd.DataFrame, seconds: int) -> pd.DataFrame:
    return candles.assign(open_time_ms=candles["open_time_ms"] + seconds * 1000)


def test_candles_on_the_rounds_clock_pass(setup: tuple[pd.DataFrame, Path]) -> None:
    candles, path = setup
    r = run_backtest("edge", data=candles, rounds_file=path, baselines=())
    assert any("cross-checked" in n and "best fit at +0 s" in n for n in r.notes)
    fit = measure_offset(load_rounds_file(path), candles, 300)
    assert fit.low_seconds <= 0 <= fit.high_seconds and fit.median_diff == 0.0


@pytest.mark.parametrize("early", [300, 600])
def test_candles_stamped_early_are_refused_with_the_offset(setup: tuple[pd.DataFrame, Path], early: int) -> None:
    candles, path = setup
    fit = measure_offset(load_rounds_file(path), _shifted(candles, -early), 300)
    assert fit.low_seconds == -early and fit.high_seconds < 0
    with pytest.raises(CandleClockError, match=f"clock is off by {-early:+d} s to"):
        run_backtest("edge", data=_shifted(candles, -early), rounds_file=path, baselines=())


def test_candles_of_another_asset_are_refused(setup: tuple[pd.DataFrame, Path]) -> None:
    candles, path = setup
    other = candles.assign(**{c: candles[c] / 20 for c in ("open", "high", "low", "close")})
    with pytest.raises(CandleClockError, match="do not match"):
        run_backtest("edge", data=other, rounds_file=path, baselines=())


def test_refusal_through_the_cli_is_one_line_exit_2(setup: tuple[pd.DataFrame, Path], tmp_path: Path) -> None:
    candles, path = setup
    csv = tmp_path / "early.csv"
    _shifted(candles, -300)[["open_time_ms", "open", "high", "low", "close", "volume"]].to_csv(csv, index=False)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "backtest", "--data", str(csv), "--rounds-file", str(path)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert proc.returncode == 2 and "clock is off by -300 s to" in proc.stderr and "Traceback" not in proc.stderr
