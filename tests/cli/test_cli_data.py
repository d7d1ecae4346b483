"""download-data, backtest, sweep and truth serve through the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from devkit.cli import main  # the CLI main.py runs: the product commands and the devkit's
from tests.backtest.fake_binance import FakeBinance

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *args: str):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_download_data_through_ccxt_against_a_local_exchange(capsys, tmp_path):
    frame = pd.read_csv(ROOT / "bot/data/BTCUSDT_5m_2025-05_06.csv.gz").head(1500)
    fake = FakeBinance(frame).start()
    try:
        since, until = int(frame.open_time_ms.iloc[0]), int(frame.open_time_ms.iloc[-1]) + 300_000
        rc, out, err = run(capsys, "download-data", "--exchange", "binance", "--symbol", "BTC/USDT", "--timeframe",
                           "5m", "--since", str(since), "--until", str(until), "--cache-dir", str(tmp_path),
                           "--api-url", fake.base_url, "--json")
    finally:
        fake.stop()
    assert rc == 0, err
    data = json.loads(out)
    assert data["rows"] == 1500 and data["gaps"] == 0
    assert fake.klines_calls >= 2  # paginated


def test_backtest_json_holds_strategy_and_baselines(capsys):
    rc, out, err = run(capsys, "backtest", "--strategy", "edge", "--set", "end=2025-05-08", "--json")
    assert rc == 0, err
    report = json.loads(out)
    metrics = report["metrics"]
    for key in ("rounds", "bets", "hit_rate", "hit_rate_pvalue", "pnl_wei", "roi", "max_drawdown_wei", "sharpe_per_bet",
                "sortino_per_bet", "longest_losing_streak", "fees_wei", "gas_wei", "profit_factor"):
        assert key in metrics, key
    assert {"always_bull", "coin_flip", "crowd"} <= set(report["baselines"])
    assert report["signal_is_allora"] is False  # the offline forecaster is labelled as not Allora's


def test_backtest_bad_strategy_is_a_clear_error(capsys):
    rc, _, err = run(capsys, "backtest", "--strategy", "nope")
    assert rc == 2 and "unknown strategy 'nope'" in err and "Traceback" not in err


def test_backtest_plots(capsys, tmp_path):
    rc, out, err = run(capsys, "backtest", "--set", "end=2025-05-04", "--plots", str(tmp_path), "--json")
    assert rc == 0, err
    files = json.loads(out)["files"]
    assert any(str(f).endswith(".png") for f in files.values()) and any(str(f).endswith(".html") for f in files.values())


def test_truth_serve_answers_and_stops_on_sigint(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "database_url: sqlite:///" + str(tmp_path / "t.db") + "\n"
        "allora: {rpc_url: 'rest+http://127.0.0.1:9', topics: [{name: btc, topic_id: 14}]}\n"
        "truth: {port: 0}\n"
    )
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "-c", str(cfg), "truth", "serve", "--port",
                             str(port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        body = None
        for _ in range(100):
            try:
                r = requests.post(f"http://127.0.0.1:{port}/calculate",
                                  json={"y_true": "1", "y_pred": "0.5", "options": {"loss_method": "mse"}}, timeout=2)
                body = r.json()
                break
            except requests.RequestException:
                time.sleep(0.2)
        assert body == {"loss": "0.25"}
        r = requests.get(f"http://127.0.0.1:{port}/gt", params={"block": "10", "topic": "999", "token": "BTC"}, timeout=5)
        assert r.status_code == 404
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert proc.returncode in (0, 130)


def test_sweep_grid_with_train_test_split(capsys):
    rc, out, err = run(capsys, "sweep", "--strategy", "follow", "--grid", "threshold=0.02,0.1", "--workers", "1",
                       "--json")
    assert rc == 0, err
    rows = json.loads(out)
    assert len(rows) == 2 and {"train_sharpe_per_bet", "test_sharpe_per_bet"} <= set(rows[0])


@pytest.mark.anvil
def test_rounds_export_command(capsys, chain, v2, tmp_path):
    from devkit.devnet.keeper import Keeper

    Keeper(chain.w3, v2).run([600 * 10**8 + i for i in range(8)])
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"database_url: sqlite:///{tmp_path / 'x.db'}\n"
        f"chains: {{dev: {{chain_id: 31337, rpc_urls: ['{chain.url}']}}}}\n"
        f"markets: [{{name: m1, chain: dev, dialect: v2, address: '{v2.market_address}'}}]\n"
    )
    out_csv = tmp_path / "r.csv"
    rc, out, err = run(capsys, "-c", str(cfg), "rounds", "export", "-m", "m1", "--out", str(out_csv), "--json")
    assert rc == 0, err
    assert json.loads(out)["written"] >= 4 and out_csv.read_text().startswith("epoch,")
