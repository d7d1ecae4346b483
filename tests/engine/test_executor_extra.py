"""Executor edge cases: a stuck bet is replaced with the same nonce while the round is still bettable; the sender
signs only bet/claim/approve transactions to configured contracts; startup checks refuse a poor or skewed setup."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from bot.app import build_app, startup_checks
from bot.config import parse_settings
from bot.domain import Position
from bot.engine.executor import BetRequest
from bot.errors import OperationalError
from bot.markets.base import TxRequest
from bot.store.db import session_scope
from bot.store.journal import IntentState, TxAttempt
from devkit.devnet.keeper import Keeper
from tests.engine.helpers import build_live

pytestmark = pytest.mark.anvil
P = 600 * 10**8


def test_stuck_bet_is_replaced_with_the_same_nonce(chain, v2, tmp_path):
    keeper = Keeper(chain.w3, v2)
    keeper.genesis_start(price=P)
    chain.advance_to(chain.chain_time() + 1)
    ex, market, sessions, _ = build_live(chain.url, v2.market_address, "v2", chain.private_keys[6],
                                         f"sqlite:///{tmp_path / 'b.db'}", replace_after=0.3)
    rnd = market.round(1)
    ex.chain_now = lambda: float(rnd.start_timestamp + 5)  # well before lock on our clock
    chain.set_automine(False)  # nothing gets mined: the first transaction is stuck
    try:
        import threading

        result: dict[str, object] = {}

        def place() -> None:
            result["r"] = ex.place(BetRequest(market=market, epoch=1, position=Position.BULL, amount=10**16,
                                              lock_ts=rnd.lock_timestamp))

        t = threading.Thread(target=place)
        t.start()
        deadline = time.time() + 15
        while time.time() < deadline:
            with session_scope(sessions) as s:
                if len(list(s.scalars(select(TxAttempt)))) >= 2:
                    break
            time.sleep(0.1)
        chain.mine(rnd.start_timestamp + 6)  # now let a block through
    finally:
        chain.set_automine(True)
    t.join(timeout=30)
    assert result["r"].state is IntentState.LANDED  # type: ignore[union-attr]
    with session_scope(sessions) as s:
        attempts = list(s.scalars(select(TxAttempt)))
    assert len(attempts) >= 2 and len({a.nonce for a in attempts}) == 1  # replacements reuse the nonce
    assert attempts[1].max_fee_wei > attempts[0].max_fee_wei  # with a higher fee
    assert sum(1 for a in attempts if a.status == "mined") == 1
    assert market.ledger(1, ex.account).amount == 10**16  # exactly one bet


def test_sender_refuses_anything_but_configured_bet_claim_approve(chain, v2, tmp_path):
    ex, market, _, _ = build_live(chain.url, v2.market_address, "v2", chain.private_keys[6],
                                  f"sqlite:///{tmp_path / 'c.db'}")
    bet = market.build_bet(Position.BULL, 1, 10**16)
    with pytest.raises(OperationalError, match="not an enabled configured market"):
        ex.sender.sign(TxRequest(to=chain.accounts[9], data=bet.data, value=10**16, kind="bet", epochs=(1,)), 0,
                       ex.sender.fees(max_age=0))
    with pytest.raises(OperationalError, match="without a function selector"):
        ex.sender.sign(TxRequest(to=market.address, data="0x", value=10**18, kind="transfer"), 0,
                       ex.sender.fees(max_age=0))


def _settings(chain, v2, tmp_path, **extra):
    return parse_settings({
        "mode": "live",
        "database_url": f"sqlite:///{tmp_path / 's.db'}",
        "chains": {"dev": {"chain_id": 31337, "rpc_urls": [chain.url]}},
        "markets": [{"name": "m", "chain": "dev", "dialect": "v2", "address": v2.market_address}],
        **extra,
    })


def test_startup_checks_refuse_an_empty_wallet_and_a_skewed_clock(chain, v2, tmp_path, monkeypatch):
    poor = "0x" + "77" * 32
    monkeypatch.setenv("ALLORA_BOT_PRIVATE_KEY", poor)
    lenient = _settings(chain, v2, tmp_path, execution={"max_clock_skew_seconds": 10**9})
    with pytest.raises(OperationalError, match="stake \\+ gas"):
        startup_checks(lenient, build_app(lenient))
    monkeypatch.setenv("ALLORA_BOT_PRIVATE_KEY", chain.private_keys[6])
    settings = _settings(chain, v2, tmp_path)
    app = build_app(settings)
    chain.advance_to(int(time.time()) + 3600)  # the chain runs an hour ahead of our clock
    with pytest.raises(OperationalError, match="clock"):
        startup_checks(settings, app)


def test_watch_job_refreshes_what_the_bet_path_reads_from_caches(chain, v2, tmp_path):
    """An admin pause and fee change reach the daemon's cached market parameters through the watch job (not the bet
    path), and the fee suggestion is refreshed there too."""
    from bot.config import Settings, TopicConfig
    from bot.engine.daemon import PARAMS_MAX_AGE, Daemon, MarketRuntime

    Keeper(chain.w3, v2).genesis_start(price=P)
    ex, market, sessions, lw3 = build_live(chain.url, v2.market_address, "v2", chain.private_keys[6],
                                           f"sqlite:///{tmp_path / 'w.db'}")
    rt = MarketRuntime(market, TopicConfig(name="btc", topic_id=1))
    daemon = Daemon(Settings(), [rt], ex, None, None, [], sessions, lambda: 0.0, bankroll=lambda: 0)  # type: ignore[arg-type]
    daemon.prepare(rt)
    assert market.params().treasury_fee_bp == 300 and not market.params().paused
    fees_read_at = ex.sender._fees_at

    contract = v2.market(chain.w3)
    admin = v2.roles.admin
    chain.w3.eth.wait_for_transaction_receipt(contract.functions.pause().transact({"from": admin}))
    chain.w3.eth.wait_for_transaction_receipt(contract.functions.setTreasuryFee(500).transact({"from": admin}))
    daemon.prepare(rt)  # within PARAMS_MAX_AGE: the cache stands
    assert market.params().treasury_fee_bp == 300
    rt.params_at -= PARAMS_MAX_AGE + 1
    time.sleep(1.1)  # the fee suggestion is refreshed when over a second old
    daemon.prepare(rt)
    assert market.params().paused and market.params().treasury_fee_bp == 500
    assert ex.sender._fees_at > fees_read_at


def test_strategy_chain_time_comes_from_the_watch_jobs_offset_without_an_rpc():
    from bot.config import Settings
    from bot.engine.daemon import Daemon

    reads: list[float] = []

    def chain_now() -> float:
        reads.append(time.time())
        return time.time() + 100.0  # the chain runs 100 s ahead of this machine's clock

    daemon = Daemon(Settings(), [], None, None, None, [], None, chain_now, bankroll=lambda: 0)  # type: ignore[arg-type]
    assert daemon.chain_estimate() == pytest.approx(time.time() + 100.0, abs=0.5) and len(reads) == 1  # no offset yet
    daemon.sync_chain_clock()  # the watch job measures the offset: one read
    assert len(reads) == 2
    assert daemon.chain_estimate() == pytest.approx(time.time() + 100.0, abs=0.5) and len(reads) == 2  # no RPC
    daemon._chain_offset = (100.0, time.monotonic() - 5.0)  # too old: read the chain
    daemon.chain_estimate()
    assert len(reads) == 3
