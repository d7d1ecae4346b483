"""Issue 17, part 2: ``inferences export`` writes the bot's log in the backtest's input format; the backtest and
``report accuracy`` read it by one rule (usable from the fetch, accepted rows only), so content fetched after a
decision never leaks into it, and the provenance label follows where the log came from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bot.allora.logexport import SIGNAL_ALLORA, SIGNAL_EMULATED, available_at_ms
from bot.backtest.inferences import decision_times_ms
from bot.backtest.runner import run_backtest
from bot.store.db import make_engine, session_factory, session_scope
from bot.store.inferences import record_inference

ROOT = Path(__file__).resolve().parents[2]
END = "2025-05-02"


def _payload(ts: int, value: float) -> bytes:
    units = int(round(value * 10**18))
    body = {"network_inference": str(units), "timestamp": ts, "topic_id": "14"}
    return json.dumps({"status": True, "data": {"inference_data": body, "token_decimals": 18}}).encode()


def _config(tmp_path: Path, api_url: str) -> Path:
    tree = {
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "allora": {"api_url": api_url, "topics": [{"name": "btc-5m", "topic_id": 14, "kind": "log-return"}]},
        "risk": {"kill_switch_file": str(tmp_path / "KILL")},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def _fill_log(tmp_path: Path) -> pd.DataFrame:
    """Per round: a perfect-foresight inference stamped 100 s before the lock by the network but fetched 50 s AFTER
    the lock (accepted), and another perfect one fetched in time but rejected. Returns the rounds."""
    rounds = run_backtest("follow", end=END, baselines=()).rounds
    up = (rounds["close_price"] > rounds["lock_price"]).to_numpy()
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    factory = session_factory(engine)
    with session_scope(factory) as s:
        for lock, went_up in zip(rounds["lock_ts"].tolist(), up.tolist(), strict=True):
            value = 0.002 if went_up else -0.002
            for ts, fetched, accepted in ((lock - 100, (lock + 50) * 1000, True), (lock - 90, (lock - 60) * 1000, False)):
                record_inference(s, source="api", topic_id=14, topic_name="btc-5m", fetched_at_ms=fetched,
                                 raw=_payload(ts, value), accepted=accepted, reason=None if accepted else "stale",
                                 timestamp=ts, value=str(value))
    engine.dispose()
    return rounds


def _export(tmp_path: Path, api_url: str) -> tuple[Path, dict]:
    out = tmp_path / "log.csv"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "-c", str(_config(tmp_path, api_url)), "inferences", "export",
         "--out", str(out), "--json"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return out, json.loads(proc.stdout)


def test_export_is_aligned_on_fetch_time_with_accepted_rows_only(tmp_path: Path) -> None:
    rounds = _fill_log(tmp_path)
    path, summary = _export(tmp_path, "https://api.allora.network/v2")
    assert summary["rows"] == 2 * len(rounds) and summary["rejected"] == len(rounds)
    assert summary["provenance"] == SIGNAL_ALLORA
    frame = pd.read_csv(path)
    ok = frame[frame["accepted"]]
    assert (ok["available_at_ms"] == ok["fetched_at_ms"]).all()  # fetched after its network timestamp
    assert ok["p_up"].between(0.5, 1).sum() + ok["p_up"].between(0, 0.5).sum() == len(ok)  # live conversion ran

    r = run_backtest("follow", params={"threshold": 0.05}, inferences=path, end=END, baselines=())
    assert r.signal_provenance == SIGNAL_ALLORA and r.signal_is_allora
    # every signal used was fetched strictly before its round's decision time
    used = r.signals["signal_ts_ms"].to_numpy()
    decided = decision_times_ms(r.rounds, r.settings.lead_seconds)
    have = np.isfinite(used)
    assert have.sum() > 200 and (used[have] < decided[have]).all()
    # with the network timestamp (or the rejected rows) the file would be a perfect oracle; by fetch time it is
    # one round stale: no better than a coin
    assert r.metrics["bets"] > 200 and r.metrics["hit_rate"] < 0.6
    assert any("rejected inference" in n for n in r.notes)


def test_report_accuracy_reads_the_log_by_the_same_rule(tmp_path: Path) -> None:
    _fill_log(tmp_path)
    from bot.truth.accuracy import load_inferences

    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    with session_scope(session_factory(engine)) as s:
        frame = load_inferences(s, [14], source_url="http://127.0.0.1:8700")
    engine.dispose()
    exported, _ = _export(tmp_path, "http://127.0.0.1:8700")
    ok = pd.read_csv(exported).query("accepted")
    assert len(frame) == len(ok)  # rejected rows left out by both
    expected = [-(-available_at_ms(t, f) // 1000) for t, f in zip(ok["timestamp"], ok["fetched_at_ms"], strict=True)]
    assert frame["timestamp"].tolist() == expected
    assert frame.attrs["provenance"] == SIGNAL_EMULATED


def test_emulator_log_is_labelled_emulated(tmp_path: Path) -> None:
    _fill_log(tmp_path)
    path, summary = _export(tmp_path, "http://127.0.0.1:8700")
    assert summary["provenance"] == SIGNAL_EMULATED
    r = run_backtest("follow", inferences=path, end=END, baselines=())
    assert r.signal_provenance == SIGNAL_EMULATED and not r.signal_is_allora


@pytest.mark.parametrize(("network", "fetched", "expected"), [(100, 150_000, 150_000), (200, 150_000, 200_000)])
def test_available_at_is_the_later_of_the_two(network: int, fetched: int, expected: int) -> None:
    assert available_at_ms(network, fetched) == expected
