"""Keeper: rounds from a price series, explicit time and real time, late operator (miss) and recovery."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from web3 import Web3
from web3.exceptions import ContractLogicError

from bot import payout
from bot.domain import Position, RoundStatus
from devkit.devnet.anvil import AnvilNode
from devkit.devnet.deploy import Deployment, Dialect, MarketConfig
from devkit.devnet.keeper import Keeper, KeeperError, KeeperEvent
from tests.contracts.market_helpers import Market

pytestmark = pytest.mark.anvil


def test_run_v2_price_series(chain: AnvilNode, w3: Web3, v2: Deployment) -> None:
    keeper = Keeper(w3, v2)
    t0 = chain.chain_time() + 10
    events = keeper.run([100, 101, 99, 99, 105], delay=5, start_at=t0)
    actions = [e.action for e in events if e.action != "price"]
    assert actions == ["genesis_start", "genesis_lock", "execute", "execute", "execute"]
    assert [e.timestamp for e in events if e.action in ("genesis_lock", "execute")] == [
        t0 + 305,
        t0 + 610,
        t0 + 915,
        t0 + 1220,
    ]  # each lands exactly `delay` after lock: rounds 305 s apart, as on mainnet
    m = Market(w3, v2)
    winners = [payout.winning_position(m.round(e).lock_price, m.round(e).close_price) for e in (1, 2, 3)]
    assert winners == [Position.BEAR, None, Position.BULL]
    now = chain.chain_time()
    assert {payout.round_status(m.round(e), now, 30) for e in (1, 2, 3)} == {RoundStatus.HOUSE_WON}  # no bets
    for epoch in (1, 2, 3):
        assert m.round(epoch + 1).lock_price == m.round(epoch).close_price
    assert m.current_epoch() == 5 and keeper.lock_timestamp() == t0 + 1220 + 300


def test_run_with_a_missed_execution(chain: AnvilNode, w3: Web3, v2: Deployment) -> None:
    keeper = Keeper(w3, v2)
    seen: list[KeeperEvent] = []
    keeper.on_event = seen.append
    events = keeper.run([100, 101, 102, 103, 104, 105], misses={3})
    assert events == seen  # the run's events also reach the on_event hook
    actions = [e.action for e in events if e.action != "price"]
    assert actions == [
        "genesis_start",
        "genesis_lock",
        "execute",
        "miss",
        "pause",
        "unpause",
        "genesis_start",
        "genesis_lock",
        "execute",
    ]
    m = Market(w3, v2)
    assert m.round(1).oracle_called
    assert not m.round(2).oracle_called and not m.round(3).oracle_called  # left behind: refundable later
    assert m.round(4).start_timestamp == next(e for e in events if e.action == "miss").timestamp
    assert m.round(4).oracle_called and m.current_epoch() == 6
    assert keeper.genesis_state() == (True, True)


@pytest.mark.parametrize("dialect", ["v2", "v2.1"])
def test_missed_round_recovered_with_admin_not_operator(
    chain: AnvilNode, w3: Web3, deployments: dict[str, Deployment], dialect: str
) -> None:
    """As on the genuine V2 only the admin may unpause: the keeper pauses from the operator, unpauses from the admin
    (a different account) and rounds run again; a keeper holding only the operator key cannot recover."""
    dep = deployments[dialect]
    assert dep.roles.admin != dep.roles.operator
    keeper = Keeper(w3, dep)
    events = keeper.run([100, 101, 102, 103, 104, 105], misses={3})
    by_action = {e.action: e for e in events}
    assert w3.eth.get_transaction(by_action["pause"].tx_hash)["from"] == dep.roles.operator
    assert w3.eth.get_transaction(by_action["unpause"].tx_hash)["from"] == dep.roles.admin
    m = Market(w3, dep)
    assert m.round(4).oracle_called and m.current_epoch() == 6  # rounds run again after the recovery

    stuck = Keeper(w3, dep, admin=dep.roles.operator)  # only the operator key
    stuck.pause()
    with pytest.raises(ContractLogicError, match="Not admin"):
        stuck.unpause()


def test_run_ai_uses_ai_prices(chain: AnvilNode, w3: Web3, ai: Deployment) -> None:
    def predict(epoch: int, price: int) -> int:
        return price + epoch

    keeper = Keeper(w3, ai, ai_price_for=predict)
    prices = [p * 10**18 for p in (60_000, 60_010, 59_990, 60_000)]
    keeper.run(prices, delay=2)
    m = Market(w3, ai)
    assert [m.round(e).ai_price for e in (1, 2, 3, 4)] == [prices[0] + 1, prices[1] + 2, prices[2] + 3, prices[3] + 4]
    assert (m.round(1).lock_price, m.round(1).close_price) == (prices[1], prices[2])
    assert m.round(2).oracle_called and not m.round(3).oracle_called


def test_run_v3(chain: AnvilNode, w3: Web3, v3: Deployment) -> None:
    Keeper(w3, v3).run([5, 6, 7])
    assert Market(w3, v3).round(1).oracle_called


def test_keeper_errors(chain: AnvilNode, w3: Web3, v2: Deployment, ai: Deployment) -> None:
    ai_keeper = Keeper(w3, ai)
    with pytest.raises(KeeperError, match="no AI price"):
        ai_keeper.genesis_start()
    with pytest.raises(KeeperError, match="no oracle"):
        ai_keeper.push_price(1)
    with pytest.raises(KeeperError, match="chain time is already"):
        Keeper(w3, v2).genesis_start(at=chain.chain_time() - 1)


@pytest.mark.slow
def test_run_realtime(
    chain: AnvilNode, w3: Web3, deploy_market: Callable[[Dialect, MarketConfig | None], Deployment]
) -> None:
    """Real-time pacing with a short interval: 2 s rounds, 1 s buffer (about 5 s of wall time)."""
    market = deploy_market("v2", MarketConfig(interval_seconds=2, buffer_seconds=1, oracle_update_allowance=60))
    keeper = Keeper(w3, market)
    stop = threading.Event()
    assert keeper.run_realtime([100, 110, 120], delay=0.2, stop=stop) == 3
    m = Market(w3, market)
    r1 = m.round(1)
    assert r1.oracle_called and (r1.lock_price, r1.close_price) == (110, 120)
    assert m.round(2).lock_timestamp - r1.lock_timestamp in (2, 3)  # one interval (+1 s of timing slack)
    stop.set()
    assert keeper.run_realtime([130], stop=stop) == 0


@pytest.mark.slow
def test_run_realtime_recovers_when_it_is_late_by_accident(
    chain: AnvilNode, w3: Web3, deploy_market: Callable[[Dialect, MarketConfig | None], Deployment]
) -> None:
    """A loaded machine makes the keeper late: its genesis lock lands after lock + buffer and reverts. It recovers as
    from a scheduled miss (pause, admin unpause, genesis again) and the rounds go on, instead of the thread dying."""
    market = deploy_market("v2", MarketConfig(interval_seconds=3, buffer_seconds=1, oracle_update_allowance=60))
    lag = [0.0]  # the keeper's clock runs behind by this much: it believes it is on time when it is not
    events: list[KeeperEvent] = []

    def on_event(ev: KeeperEvent) -> None:
        events.append(ev)
        if ev.action == "genesis_start" and len(events) == 1:
            lag[0] = 2.5  # from the first round's start until the next receipt re-measures the clock

    keeper = Keeper(w3, market, on_event=on_event, wall_clock=lambda: time.time() - lag[0])
    assert keeper.run_realtime([100, 110, 120, 130], delay=0.2, stop=threading.Event()) == 4
    assert [e.action for e in events] == ["genesis_start", "price", "miss", "pause", "unpause", "genesis_start",
                                         "price", "genesis_lock", "price", "execute"]
    m = Market(w3, market)
    assert not m.round(1).oracle_called  # round 1 was never locked: refundable
    r2 = m.round(2)
    assert r2.oracle_called and (r2.lock_price, r2.close_price) == (120, 130)  # the rounds went on after the miss
