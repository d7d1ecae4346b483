"""The daemon on a real-time anvil (0.5 s blocks): bets land before lock or are classified, one bet per round at most,
paper and live make the same decisions, and a manual bet (same journal) is respected."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from web3 import Web3

from bot.config import Settings, TopicConfig
from bot.domain import Position
from bot.engine.daemon import Daemon, MarketRuntime
from bot.engine.executor import BetRequest
from bot.engine.risk import MinBet
from bot.markets import PredictionMarket, dialect_for
from bot.store.db import make_engine, session_factory, session_scope
from bot.store.journal import Intent, IntentState
from devkit.devnet.anvil import AnvilNode
from devkit.devnet.deploy import MarketConfig, deploy_v2
from devkit.devnet.keeper import Keeper
from strategies.signals import FollowStrategy
from tests.engine.helpers import build_live, build_paper

pytestmark = [pytest.mark.anvil, pytest.mark.slow]
INTERVAL = 5
ROUNDS = 8


@dataclass
class FixedSignal:
    p_up: float
    predicted_return: float = 0.0
    age_seconds: float = 1.0


class EpochSignals:
    """Signal source at our own interface: a deterministic p_up per epoch (the Allora layer is tested on its own)."""

    def __init__(self, market: PredictionMarket) -> None:
        self.market = market

    def poll_due(self) -> None:
        return None

    def latest_signal(self, topic_name, reference_price, now=None):
        epoch = self.market.current_epoch()
        if epoch % 4 == 0:
            return None  # no signal: skip
        return FixedSignal(0.8 if epoch % 3 else 0.2)


def make_daemon(settings, market, executor, sessions, w3):
    def chain_now() -> float:
        return max(float(w3.eth.get_block("latest")["timestamp"]), time.time())

    topic = TopicConfig(name="btc", topic_id=1)
    return Daemon(
        settings, [MarketRuntime(market, topic)], executor, EpochSignals(market), FollowStrategy(stake_wei=10**16),
        [MinBet()], sessions, chain_now, bankroll=lambda: 10**20, watch_interval=0.25,
    )


def test_daemon_many_rounds_live_and_paper(tmp_path):
    with AnvilNode(block_time=0.5, accounts=10) as node:
        w3 = node.w3
        dep = deploy_v2(w3, MarketConfig(interval_seconds=INTERVAL, buffer_seconds=3, oracle_update_allowance=3600))
        settings = Settings.model_validate({"execution": {"lead_seconds": 2.0}})
        live_db = f"sqlite:///{tmp_path / 'live.db'}"
        ex, market, live_sessions, lw3 = build_live(node.url, dep.market_address, "v2", node.private_keys[5], live_db)
        paper_sessions = session_factory(make_engine(f"sqlite:///{tmp_path / 'paper.db'}"))
        paper_market = PredictionMarket(node.w3, dep.market_address, dialect_for("v2"), name="m")
        paper = build_paper(node.w3, paper_sessions)  # the same executor, the paper sender
        live_daemon = make_daemon(settings, market, ex, live_sessions, lw3)
        paper_daemon = make_daemon(settings, paper_market, paper, paper_sessions, node.w3)

        keeper = Keeper(Web3(Web3.HTTPProvider(node.url)), dep)  # its own connection: it runs on another thread
        stop = threading.Event()
        prices = [600 * 10**8 + (i * 37 % 11 - 5) * 10**6 for i in range(ROUNDS + 2)]
        kt = threading.Thread(target=keeper.run_realtime, args=(prices,), kwargs={"delay": 0.6, "stop": stop})
        live_daemon.start()
        paper_daemon.start()
        kt.start()
        # a manual bet through the same journal for round 3, placed before the daemon decides it
        manual_done = threading.Event()

        def manual() -> None:
            while market.current_epoch() < 3:
                time.sleep(0.2)
            rnd = market.round(3)
            req = BetRequest(market=market, epoch=3, position=Position.BEAR, amount=2 * 10**16,
                             lock_ts=rnd.lock_timestamp, origin="manual", fired_at=time.perf_counter())
            ex.place(req)
            manual_done.set()

        mt = threading.Thread(target=manual)
        mt.start()
        kt.join(timeout=INTERVAL * (ROUNDS + 4))
        stop.set()
        mt.join(timeout=10)
        time.sleep(1)
        live_daemon.stop()
        paper_daemon.stop()

        with session_scope(live_sessions) as s:
            live = {i.epoch: (i.position, i.amount_wei, i.state, i.origin, i.block_timestamp, i.lock_ts)
                    for i in s.scalars(select(Intent))}
        with session_scope(paper_sessions) as s:
            paper_rows = {i.epoch: (i.position, i.amount_wei, i.state) for i in s.scalars(select(Intent))}

        assert manual_done.is_set()
        assert live[3][3] == "manual" and live[3][1] == 2 * 10**16  # the daemon did not bet round 3 again
        daemon_live = {e: v for e, v in live.items() if v[3] == "daemon"}
        assert len(daemon_live) >= 4, live
        for epoch, (pos, amount, state, origin, block_ts, lock_ts) in daemon_live.items():
            # every intended bet landed before lock, or is classified
            assert state in {s.value for s in IntentState if s.terminal}, (epoch, state)
            if state == "landed":
                assert block_ts < lock_ts
                entry = market.ledger(epoch, ex.account)
                assert entry.amount == amount and int(entry.position) == pos
        landed = [e for e, v in daemon_live.items() if v[2] == "landed"]
        assert len(landed) >= len(daemon_live) - 1
        # the same decisions in paper and live, round by round (round 3 differs only because of the manual bet)
        common = set(daemon_live) & set(paper_rows)
        assert len(common) >= 4
        for epoch in common:
            assert (daemon_live[epoch][0], daemon_live[epoch][1]) == paper_rows[epoch][:2]
        assert all(v[2] == "landed" for v in paper_rows.values())  # the same lifecycle as live
        # skipped rounds (no signal) were skipped by both
        assert not any(e % 4 == 0 for e in daemon_live) and not any(e % 4 == 0 for e in paper_rows)
