"""The query service on SQLite and PostgreSQL: bets paper and live apart, open vs settled, real dates (no 1970 rows
for open bets), PnL per market and UTC day, equity curve, summary and inferences with their verdicts — to the wei, from
journal and settlement rows written through the ORM."""

from __future__ import annotations

import datetime
import json

import pytest

from bot.coins import Coin
from bot.query import QueryService, to_plain
from bot.store.db import make_engine, session_factory, session_scope
from bot.store.inferences import record_inference
from bot.store.journal import Intent
from bot.store.outcomes import ClaimRecord, Settlement

A = "0x" + "aa" * 20
DAY1 = int(datetime.datetime(2026, 11, 30, 23, 59, 30, tzinfo=datetime.UTC).timestamp())
DAY2 = DAY1 + 60  # just after midnight UTC: the next day
E = 10**18


def _intent(market: str, epoch: int, mode: str, state: str, amount: int, position: int = 0, **kw) -> Intent:
    return Intent(market=market, epoch=epoch, account=A, mode=mode, origin=kw.pop("origin", "daemon"),
                  position=position, amount_wei=amount, state=state, lock_ts=kw.pop("lock_ts", DAY1 - 100),
                  created_at=kw.pop("created_at", DAY1 - 200), decision=json.dumps(kw.pop("decision", {})), **kw)


def _settlement(market: str, epoch: int, mode: str, status: str, stake: int, payout: int, gas: int, at: int,
                final: bool = True, **kw) -> Settlement:
    net = payout - stake - gas if final else 0
    return Settlement(market=market, epoch=epoch, account=A, mode=mode, position=kw.pop("position", 0),
                      stake_wei=stake, status=status, payout_wei=payout, bet_gas_wei=gas, claim_gas_wei=0,
                      net_pnl_wei=net, final=final, settled_at=at if final else 0, origin=kw.pop("origin", "bot"),
                      **kw)


@pytest.fixture
def service(database_url):
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    with session_scope(sessions) as s:
        # paper: a won bet (day 1) and an open one
        s.add(_intent("btc", 10, "paper", "landed", 10**16, decision={"p_up": 0.61}, tx_hash="paper:" + "ab" * 30))
        s.add(_settlement("btc", 10, "paper", "won", 10**16, 19 * 10**15, 0, DAY1, origin="paper"))
        s.add(_intent("btc", 12, "paper", "paper", 3 * 10**16, position=1))
        # live: a lost bet settled on day 2 with gas, a won+claimable one on day 1, a landed open one with gas paid,
        # a reverted-after-lock one (gas only), a failed one (no cost, not a bet), an adopted bet (no intent)
        s.add(_intent("btc", 11, "live", "landed", 2 * 10**16, position=1, tx_hash="0x" + "11" * 32))
        s.add(_settlement("btc", 11, "live", "lost", 2 * 10**16, 0, 21_000 * 10**9, DAY2, position=1,
                          bet_tx="0x" + "11" * 32))
        s.add(_intent("eth", 11, "live", "landed", 5 * 10**16, tx_hash="0x" + "22" * 32))
        s.add(_settlement("eth", 11, "live", "won", 5 * 10**16, 9 * 10**16, 30_000 * 10**9, DAY1,
                          claimable=True, bet_tx="0x" + "22" * 32))
        s.add(_intent("btc", 13, "live", "landed", 10**16, gas_cost_wei=25_000 * 10**9, tx_hash="0x" + "33" * 32))
        s.add(_intent("btc", 14, "live", "too-late", 10**16, gas_cost_wei=40_000 * 10**9, block_number=99,
                      block_timestamp=DAY2 + 5, tx_hash="0x" + "44" * 32))
        s.add(_intent("btc", 15, "live", "failed", 10**16))
        s.add(_settlement("btc", 9, "live", "refund", 4 * 10**16, 4 * 10**16, 0, DAY1 - 3600, origin="adopted",
                          refundable=True, claimed=True, claim_tx="0x" + "55" * 32))
        s.add(ClaimRecord(market="btc", account=A, tx_hash="0x" + "55" * 32, epochs="9", expected_wei=4 * 10**16,
                          claimed_wei=4 * 10**16, gas_wei=7, status=1, block_number=5, confirmed=True,
                          created_at=DAY1))
        record_inference(s, source="api", topic_id=14, topic_name="btc-5m", fetched_at_ms=DAY1 * 1000, raw=b"{}",
                         accepted=True, timestamp=DAY1 - 1, value="0.0012")
        record_inference(s, source="api", topic_id=14, topic_name="btc-5m", fetched_at_ms=DAY1 * 1000 + 5000,
                         raw=b"x", accepted=False, reason="stale", detail="too old", timestamp=DAY1 - 900)
    yield QueryService(engine, {"btc": Coin("BNB", 18), "eth": Coin("ETH", 18)})
    engine.dispose()


def _keys(bets):
    return sorted((b.mode, b.market, b.epoch, b.outcome) for b in bets)


def test_bets_paper_and_live_apart_open_and_settled(service):
    assert _keys(service.bets(mode="paper", limit=None)) == [("paper", "btc", 10, "won"), ("paper", "btc", 12, "open")]
    assert _keys(service.open_bets(mode="live")) == [("live", "btc", 13, "open")]
    assert _keys(service.settlements(mode="live", limit=None)) == [
        ("live", "btc", 9, "refund"), ("live", "btc", 11, "lost"), ("live", "btc", 14, "reverted"),
        ("live", "eth", 11, "won")]
    by = {(b.mode, b.market, b.epoch): b for b in service.bets(limit=None)}
    assert ("live", "btc", 15) not in by  # failed before sending: not a bet, no cost
    won = by[("live", "eth", 11)]
    assert (won.side, won.amount_wei, won.payout_wei, won.gas_wei, won.net_pnl_wei, won.coin) == (
        "bull", 5 * 10**16, 9 * 10**16, 30_000 * 10**9, 4 * 10**16 - 30_000 * 10**9, "ETH")
    assert won.tx == "0x" + "22" * 32 and won.settled_at == DAY1 and won.claimable and not won.claimed
    lost = by[("live", "btc", 11)]
    assert lost.side == "bear" and lost.net_pnl_wei == -2 * 10**16 - 21_000 * 10**9 and lost.coin == "BNB"
    open_live = by[("live", "btc", 13)]
    assert open_live.settled_at is None and open_live.placed_at == DAY1 - 200 and open_live.gas_wei == 25_000 * 10**9
    assert open_live.net_pnl_wei == 0 and open_live.payout_wei == 0
    assert by[("paper", "btc", 10)].p_up == 0.61 and by[("paper", "btc", 10)].tx is None
    assert by[("live", "btc", 9)].origin == "adopted" and by[("live", "btc", 9)].placed_at is None
    assert [b.epoch for b in service.bets(limit=2)] == [14, 11]  # newest first, limit honoured
    assert [b.epoch for b in service.claimable()] == [11]
    assert [c.epochs for c in service.claims()] == [(9,)]


def test_pnl_per_market_and_utc_day_has_no_1970_row(service):
    rows = {(r.mode, r.market, r.day): r for r in service.pnl()}
    assert set(rows) == {("paper", "btc", "2026-11-30"), ("live", "btc", "2026-12-01"), ("live", "btc", "2026-11-30"),
                         ("live", "eth", "2026-11-30")}
    day2 = rows[("live", "btc", "2026-12-01")]  # the lost bet and the reverted one (gas only)
    assert (day2.bets, day2.lost, day2.staked_wei, day2.gas_wei) == (1, 1, 2 * 10**16, 61_000 * 10**9)
    assert day2.net_pnl_wei == -2 * 10**16 - 61_000 * 10**9
    assert all(not r.day.startswith("1970") for r in rows.values())
    live_total = sum(r.net_pnl_wei for r in service.pnl(mode="live"))
    assert live_total == sum(b.net_pnl_wei for b in service.settlements(mode="live", limit=None))


def test_equity_curve_and_summary(service):
    curve = service.equity_curve("live")
    assert [p.at for p in curve] == sorted(p.at for p in curve)
    by_coin: dict[str, int] = {}
    for p in curve:
        by_coin[p.coin] = by_coin.get(p.coin, 0) + p.net_pnl_wei
        assert p.equity_wei == by_coin[p.coin]
    assert by_coin["ETH"] == 4 * 10**16 - 30_000 * 10**9
    [paper] = service.summary(mode="paper")
    assert (paper.bets, paper.open, paper.won, paper.lost, paper.hit_rate) == (2, 1, 1, 0, 1.0)
    assert paper.net_pnl_wei == 9 * 10**15


def test_inferences_with_verdicts(service):
    rows = service.inferences(topic_id=14)
    assert [(r.verdict, r.value) for r in rows] == [("stale", None), ("accepted", "0.0012")]
    assert rows[0].detail == "too old" and rows[1].fetched_at == DAY1
    latest = service.latest_inference(14)
    assert latest is not None and latest.value == "0.0012" and service.latest_inference(99) is None


def test_inference_verdict_counts(service):
    assert service.inference_verdict_counts() == {"accepted": 1, "stale": 1}  # what /metrics exports by verdict


def test_results_are_plain_json(service):
    data = json.loads(json.dumps(to_plain(service.bets(limit=None))))
    assert {d["amount_wei"] for d in data} >= {5 * 10**16} and all(isinstance(d["amount_wei"], int) for d in data)


def test_status_inputs(service):
    inputs = service.status_inputs(A, topic_ids=(14, 99), recent=3)
    assert [b.epoch for b in inputs.recent_bets] == [14, 11, 11]
    assert sorted((b.mode, b.epoch) for b in inputs.open_bets) == [("live", 13), ("paper", 12)]
    assert [i.value for i in inputs.latest_inferences] == ["0.0012"]  # topic 99 has none
    assert {(x.mode, x.coin) for x in inputs.summary} == {("paper", "BNB"), ("live", "BNB"), ("live", "ETH")}
