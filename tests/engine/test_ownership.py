"""One owner for every bet, across processes: the lifecycle's moves, caps on what is signed, one live sender per
account, manual bets handed to the running daemon, and two hosts sharing one key.

The races run as separate OS processes (``tests/engine/race_child.py`` and ``main.py``) against anvil and real SQLite
files; each prints what it did and the test counts what reached the chain. The tests that do not need two hosts run on
SQLite and on PostgreSQL (``database_url``: the throwaway cluster of tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import Position
from bot.engine.account_lock import AccountBusy, AccountLock
from bot.engine.executor import BetRequest, SpendingCaps, hand_over
from bot.store import hotjournal
from bot.store.db import make_engine, session_factory
from bot.store.journal import TRANSITIONS, IllegalTransition, IntentState
from devkit.devnet.keeper import Keeper
from tests.engine.helpers import build_live, build_paper

ROOT = Path(__file__).resolve().parents[2]
CHILD = str(ROOT / "tests/engine/race_child.py")
P = 600 * 10**8
MILLI = 10**15
TRIALS = 30


def child_env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("ALLORA_BOT")}, "PYTHONPATH": str(ROOT)}


# -- the lifecycle's moves ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def journal(store_engine):
    return store_engine


@settings(max_examples=80, deadline=None)
@given(path=st.lists(st.sampled_from(list(IntentState)), min_size=1, max_size=6))
def test_only_allowed_moves_are_written(journal, path: list[IntentState]) -> None:
    with hotjournal.write(journal) as conn:
        epoch = int(conn.execute("SELECT COUNT(*) FROM intents").fetchone()[0]) + 1
        intent_id = hotjournal.insert_intent(conn, {"market": "m", "epoch": epoch, "account": "0xA", "mode": "live",
                                                    "position": 0, "amount_wei": 1}, 1.0)
    state = IntentState.INTENDED
    for target in path:
        allowed = target in TRANSITIONS[state]
        try:
            with hotjournal.write(journal) as conn:
                hotjournal.transition(conn, intent_id, target, 2.0, "test")
        except IllegalTransition:
            assert not allowed, f"{state} -> {target} refused"
        else:
            assert allowed, f"{state} -> {target} written"
            state = target
        with hotjournal.connection(journal) as conn:
            row = hotjournal.intent_by_id(conn, intent_id)
        assert row is not None and row.state is state  # a refused move leaves the row as it was


# -- caps on what is signed -----------------------------------------------------------------------------------------

@pytest.fixture
def round_one(chain, v2, tmp_path):
    keeper = Keeper(chain.w3, v2)
    keeper.genesis_start(price=P)
    keeper.advance_to(chain.chain_time() + 1)
    return keeper


def _journal_intent(db_url: str, account: str, epoch: int, position: int, amount: int, lock_ts: int) -> int:
    engine = make_engine(db_url)
    with hotjournal.write(engine) as conn:
        intent_id = hotjournal.insert_intent(conn, {"market": "m", "epoch": epoch, "account": account, "mode": "live",
                                                    "position": position, "amount_wei": amount, "lock_ts": lock_ts,
                                                    "owner": "daemon:1:0.000"}, time.time())
    engine.dispose()
    return intent_id


@pytest.mark.anvil
def test_an_open_intent_is_driven_with_its_journaled_side_and_amount(chain, v2, round_one, database_url) -> None:
    """The issue's reproduction: an intended 0.001 BULL (a crash after the intent commit), then place(BEAR, 5 coins)
    with a 0.01 per-bet cap. Only the journaled 0.001 BULL may land."""
    db_url = database_url
    executor, market, _, w3 = build_live(chain.url, v2.market_address, "v2", chain.private_keys[9], db_url,
                                         caps=SpendingCaps(max_per_bet=10 * MILLI, max_per_day=10**18))
    lock_ts = market.round(1).lock_timestamp
    _journal_intent(db_url, executor.account, 1, int(Position.BULL), MILLI, lock_ts)
    result = executor.place(BetRequest(market=market, epoch=1, position=Position.BEAR, amount=5 * 10**18,
                                       lock_ts=lock_ts))
    assert result.state is IntentState.LANDED
    entry = market.ledger(1, executor.account)
    assert (entry.position, entry.amount) == (Position.BULL, MILLI)
    with hotjournal.connection(executor.engine) as conn:
        assert hotjournal.open_intents(conn, executor.account, "live") == []
        row = hotjournal.round_intent(conn, "m", 1, executor.account)
        assert row is not None and row.amount_wei == MILLI and row.owner == executor.owner  # adopted by the holder
        assert hotjournal.staked_today(conn, executor.account, time.time()) == MILLI


@pytest.mark.anvil
def test_an_open_intent_above_todays_caps_is_failed_not_signed(chain, v2, round_one, database_url) -> None:
    db_url = database_url
    executor, market, _, w3 = build_live(chain.url, v2.market_address, "v2", chain.private_keys[9], db_url,
                                         caps=SpendingCaps(max_per_bet=10 * MILLI, max_per_day=10**18))
    lock_ts = market.round(1).lock_timestamp
    _journal_intent(db_url, executor.account, 1, int(Position.BULL), 20 * MILLI, lock_ts)  # journaled under old caps
    nonce = w3.eth.get_transaction_count(executor.account)
    result = executor.place(BetRequest(market=market, epoch=1, position=Position.BULL, amount=MILLI, lock_ts=lock_ts))
    assert result.state is IntentState.FAILED and "per-bet cap" in result.reason
    assert w3.eth.get_transaction_count(executor.account) == nonce and market.ledger(1, executor.account).amount == 0


def test_the_daily_cap_counts_intents_in_flight(database_url) -> None:
    engine = make_engine(database_url)
    caps = SpendingCaps(max_per_bet=10**18, max_per_day=100 * MILLI)
    markets = [SimpleNamespace(name=f"m{i}") for i in range(2)]
    first = hand_over(engine, BetRequest(market=markets[0], epoch=5, position=Position.BULL,  # type: ignore[arg-type]
                                         amount=60 * MILLI, lock_ts=1), "0xA", caps)
    assert first.created and first.denied is None and first.row.state is IntentState.INTENDED  # in flight, unsigned
    paper = build_paper(None, session_factory(engine), "0xA", caps, chain_now=lambda: 0.0)  # type: ignore[arg-type]
    second = paper.place(  # refused at the intent commit, before anything reads the chain
        BetRequest(market=markets[1], epoch=5, position=Position.BEAR, amount=60 * MILLI, lock_ts=1))  # type: ignore[arg-type]
    assert second.state is IntentState.FAILED and "daily cap" in second.reason


def _race(*args: str, trials: int = TRIALS, lead: float = 4.0) -> list[list[str]]:
    """Two child processes running the same scenario trial by trial (``race_child.py``); their lines per trial."""
    procs = [subprocess.Popen([sys.executable, CHILD, *args], env=child_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    lines = [o[0].strip().splitlines() for o in outs]
    assert all(len(x) == trials for x in lines), lines
    return [[lines[0][i], lines[1][i]] for i in range(trials)]


def test_the_daily_cap_holds_for_two_processes_committing_together(database_url, tmp_path) -> None:
    """Two processes on one database journal a 0.06 intent each against a 0.1/day cap at the same instant: exactly
    one is accepted, in every trial. (SQLite: a database per trial; PostgreSQL: one database, an account per trial.)"""
    template = database_url
    if database_url.startswith("sqlite"):
        template = f"sqlite:///{tmp_path / 'cap{i}.db'}"
        for trial in range(TRIALS):
            make_engine(template.format(i=trial)).dispose()  # migrated, like a database in use
    else:
        make_engine(database_url).dispose()
    start = time.time() + 4.0
    results = _race("intent", template, "m", str(start), "0.2", str(TRIALS))
    print(f"daily-cap race ({database_url.split(':')[0]}): {TRIALS} trials, "
          f"outcomes {sorted({tuple(sorted(r)) for r in results})}")
    assert [sorted(r) for r in results] == [["accepted", "denied"]] * TRIALS


@pytest.mark.anvil
def test_v3_approves_only_after_the_caps(chain, v3, tmp_path) -> None:
    keeper = Keeper(chain.w3, v3)
    keeper.genesis_start(price=P)
    keeper.advance_to(chain.chain_time() + 1)
    executor, market, _, _ = build_live(chain.url, v3.market_address, "v3", chain.private_keys[3],
                                        f"sqlite:///{tmp_path / 'bot.db'}",
                                        caps=SpendingCaps(max_per_bet=10**18, max_per_day=10**24))
    before = market.allowance(executor.account)
    result = executor.place(BetRequest(market=market, epoch=1, position=Position.BULL, amount=1000 * 10**18,
                                       lock_ts=market.round(1).lock_timestamp))
    assert result.state is IntentState.FAILED and "cap" in result.reason
    assert market.allowance(executor.account) == before  # no approve was sent for a stake the caps refuse


# -- one live sender per account ------------------------------------------------------------------------------------

def test_two_processes_racing_for_one_account_one_wins(database_url, tmp_path) -> None:
    account = "0x" + "ab" * 20
    db_url = database_url
    # the winner holds until the loser has tried too (mark files), however long the loser's try takes on a loaded
    # machine (on PostgreSQL it opens a connection): two "held" in one trial can only mean two holders at once
    spacing = "0.3" if db_url.startswith("sqlite") else "0.5"
    results = _race("lock", db_url, "31337", account, str(time.time() + 4.0), spacing, str(TRIALS), str(tmp_path))
    print(f"lock race ({db_url.split(':')[0]}): {TRIALS} trials, "
          f"outcomes {sorted({tuple(sorted(r.split(' ')[0] for r in t)) for t in results})}")
    for trial in results:
        assert sorted(r.split(" ")[0] for r in trial) == ["busy", "held"], trial
        busy = json.loads(next(r for r in trial if r.startswith("busy ")).removeprefix("busy "))
        assert busy["role"] == "daemon" and isinstance(busy["pid"], int)  # the refusal names the holder


def test_a_dead_holder_leaves_no_stale_lock(database_url) -> None:
    db_url = database_url
    code = ("import os, sys; from bot.engine.account_lock import AccountLock; "
            f"AccountLock({db_url!r}, 31337, '0x' + 'cd' * 20, 'daemon').acquire(); os.kill(os.getpid(), 9)")
    proc = subprocess.run([sys.executable, "-c", code], env=child_env(), timeout=60)
    assert proc.returncode == -signal.SIGKILL
    with AccountLock(db_url, 31337, "0x" + "cd" * 20, "daemon") as lock:
        assert lock.held
    first = AccountLock(db_url, 31337, "0x" + "cd" * 20, "bet")
    first.acquire()
    with pytest.raises(AccountBusy, match=r"in use by another live process \(bet, pid"):
        AccountLock(db_url, 31337, "0x" + "cd" * 20, "daemon").acquire()
    first.release()


def _devnet_config(tmp_path: Path, url: str, market: str, database_url: str) -> Path:
    tree = {
        "database_url": database_url,
        "chains": {"dev": {"chain_id": 31337, "rpc_urls": [url], "request_timeout": 3}},
        "markets": [{"name": "m1", "chain": "dev", "dialect": "v2", "address": market}],  # no topic: never bets alone
        "risk": {"kill_switch_file": str(tmp_path / "KILL")},
        # the test chain's clock stands still between blocks: a slow machine must not trip the skew check
        "execution": {"claim_interval_seconds": 5, "max_clock_skew_seconds": 3600},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def _follow(proc: subprocess.Popen[str]) -> list[str]:
    """Collect a child's stderr lines on a thread (so a test can wait for one without blocking on the pipe)."""
    import threading

    lines: list[str] = []
    assert proc.stderr is not None
    threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    return lines


def _main(*args: str, key: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**child_env(), "ALLORA_BOT_PRIVATE_KEY": key}
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.anvil
@pytest.mark.slow
def test_second_daemon_refuses_and_a_manual_bet_goes_through_the_running_daemon(chain, v2, round_one, tmp_path,
                                                                              database_url):
    key = chain.private_keys[11]
    account = Account.from_key(key).address
    cfg = str(_devnet_config(tmp_path, chain.url, v2.market_address, database_url))
    env = {**child_env(), "ALLORA_BOT_PRIVATE_KEY": key}
    daemon = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "-c", cfg, "run", "--live"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        lines = _follow(daemon)
        deadline = time.time() + 60
        while not any("daemon running" in x for x in lines) and daemon.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        assert any("daemon running" in x for x in lines), "".join(lines)
        second = _main("-c", cfg, "run", "--live", key=key)
        assert second.returncode == 4, second.stderr
        err = second.stderr.strip().splitlines()[-1]
        assert account.lower() in err.lower() and f"pid {daemon.pid}" in err and "daemon" in err
        nonce = chain.w3.eth.get_transaction_count(account)
        manual = _main("-c", cfg, "bet", "bear", "--market", "m1", "--amount", "0.002", "--live", "--yes", "--json",
                       key=key)
        assert manual.returncode == 0, manual.stderr
        out = json.loads(manual.stdout)
        assert out["result"] == "landed" and f"pid {daemon.pid}" in out["executed_by"] and out["tx_hash"]
        assert chain.w3.eth.get_transaction_count(account) == nonce + 1  # one transaction, signed by the daemon
        entry = v2.market(chain.w3).functions.ledger(1, account).call()
        assert entry[0] == int(Position.BEAR) and entry[1] == 2 * MILLI
        again = _main("-c", cfg, "bet", "bull", "--market", "m1", "--amount", "0.002", "--live", "--yes", key=key)
        assert again.returncode == 6 and chain.w3.eth.get_transaction_count(account) == nonce + 1
        claim = _main("-c", cfg, "claim", "--live", "--yes", key=key)  # a claim is a live send too: the daemon claims by itself
        assert claim.returncode == 4 and "in use by another live process" in claim.stderr
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
    engine = make_engine(database_url)
    with hotjournal.connection(engine) as conn:
        rows = conn.execute("SELECT origin, state, owner FROM intents").fetchall()
    engine.dispose()
    assert [(r[0], r[1]) for r in rows] == [("manual", "landed")] and rows[0][2].startswith("daemon:")


# -- two hosts: two databases, one key ------------------------------------------------------------------------------

@pytest.mark.anvil
@pytest.mark.slow
def test_two_hosts_with_one_key_put_at_most_one_bet_on_chain(chain, v2, round_one, tmp_path) -> None:
    """Each trial: a fresh funded key, two processes with their own databases (nothing shared but the chain) bet the
    same round at the same instant. Counted on chain: transactions mined from the key, and reverted ones."""
    lock_ts = v2.market(chain.w3).functions.rounds(1).call()[2]
    first_block = chain.w3.eth.block_number + 1
    start = time.time() + 8.0
    trials = []
    for trial in range(TRIALS):
        acct = Account.create()
        chain.w3.provider.make_request("anvil_setBalance", [acct.address, hex(10**19)])
        trials.append({"key": acct.key.hex(), "address": acct.address, "start": start + trial * 0.6,
                       "sides": ["bull", "bear"],
                       "db_urls": [f"sqlite:///{tmp_path / f'host{trial}-{i}.db'}" for i in range(2)]})
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"url": chain.url, "market": v2.market_address, "epoch": 1, "lock_ts": lock_ts,
                                "amount": MILLI, "trials": trials}))
    procs = [subprocess.Popen([sys.executable, CHILD, "bet", str(plan), str(host)], env=child_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for host in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    states = list(zip(*(o[0].split() for o in outs), strict=True))
    mined = [chain.w3.eth.get_transaction_count(t["address"]) for t in trials]
    ours = {t["address"].lower() for t in trials}
    receipts = [chain.w3.eth.get_transaction_receipt(h) for h in _mined_hashes(chain, first_block, ours)]
    reverted = sum(1 for r in receipts if r["status"] == 0)
    print(f"two hosts, one key: {TRIALS} trials; txs mined per round: max {max(mined)}, total {sum(mined)}; "
          f"reverted {reverted}; outcomes {sorted({tuple(sorted(s)) for s in states})}")
    assert max(mined) <= 1 and reverted == 0
    assert all(v2.market(chain.w3).functions.ledger(1, t["address"]).call()[1] == MILLI for t in trials)


def _mined_hashes(chain, first_block: int, senders: set[str]) -> list[str]:
    out = []
    for number in range(first_block, chain.w3.eth.block_number + 1):
        block = chain.w3.eth.get_block(number, full_transactions=True)
        out += [tx["hash"].hex() for tx in block["transactions"] if tx["from"].lower() in senders]
    return out
