"""A reduced chaos run (``make chaos`` is the full one): a faulty primary RPC (30 %), Allora fault stretches, and the
daemon process SIGKILLed and restarted. The invariants must hold exactly."""

from __future__ import annotations

import pytest

from devkit.chaos import run_chaos

pytestmark = [pytest.mark.anvil, pytest.mark.slow]


def test_reduced_chaos_run_keeps_every_invariant(tmp_path):
    figures = run_chaos(rounds=10, kills=4, interval=8, rpc_fault_rate=0.3, seed=5, workdir=tmp_path / "chaos")
    assert figures["kills"] == 4
    assert figures["rpc_faults"]["faulted"] > 0  # the primary really failed requests
    assert figures["daemon_crashes"] == []  # no daemon died on its own (deep / huge answers included)
    assert figures["double_bets"] == 0
    assert figures["journal_rows_lost"] == 0
    assert figures["pnl_difference_wei"] == 0
    assert figures["bets_on_rejected_inferences"] == 0
    assert figures["bets_intended"] >= 2
    # every intended bet landed before lock or is classified (a bet lost to a kill is counted, never silent)
    assert figures["bets_landed_before_lock"] + figures["bets_lost_to_faults"] == figures["bets_intended"]
