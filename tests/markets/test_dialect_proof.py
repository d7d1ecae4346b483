"""Dialect proof at start (``bot.markets.proof`` through ``config check --online``, a real process): a contract read
with the wrong dialect is refused with exit 4 and one line naming the dialect it reads as; an account with code is
refused where the dialect takes plain wallets only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.domain import Position, Round
from bot.markets.proof import MIN_TIMESTAMP, round_problems
from devkit.devnet.anvil import AnvilNode
from devkit.devnet.deploy import Deployment
from devkit.devnet.keeper import Keeper
from devkit.devnet.tx import rpc
from tests.contracts.market_helpers import Market

ROOT = Path(__file__).resolve().parents[2]
P = 600 * 10**8
STAKE = 10**16


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ALLORA_BOT")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, env=full_env, capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def config(tmp_path: Path, url: str, address: str, dialect: str) -> Path:
    tree = {
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "chains": {"dev": {"chain_id": 31337, "rpc_urls": [url], "request_timeout": 5}},
        "markets": [{"name": "m1", "chain": "dev", "dialect": dialect, "address": address}],
        # the tests stamp blocks ahead of the wall clock: the clock check is not what is tested here
        "execution": {"max_clock_skew_seconds": 10**7},
    }
    path = tmp_path / f"{dialect}.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def played(chain: AnvilNode, dep: Deployment, bettor_index: int = 5) -> str:
    """Four rounds started, two executed, bets on both sides (the last one from dev account ``bettor_index``); returns that account."""
    w3 = chain.w3
    keeper = Keeper(w3, dep)
    m = Market(w3, dep)
    t0 = chain.chain_time() + 10
    keeper.genesis_start(at=t0)
    me = chain.accounts[bettor_index]
    m.bet(chain.accounts[6], Position.BULL, STAKE, at=t0 + 1)
    m.bet(me, Position.BEAR, 3 * STAKE, at=t0 + 2)
    keeper.genesis_lock(P, at=t0 + 300)
    m.bet(me, Position.BULL, STAKE, at=t0 + 301)
    keeper.execute(P + 5, at=t0 + 600)
    keeper.execute(P - 5, at=t0 + 900)
    return me


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    err = proc.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


@pytest.mark.anvil
@pytest.mark.parametrize("wrong", ["v3", "ai", "v2.1"])
def test_v2_contract_configured_as_another_dialect_is_refused(chain, v2, tmp_path, wrong):
    played(chain, v2)
    proc = cli("-c", str(config(tmp_path, chain.url, v2.market_address, wrong)), "config", "check", "--online")
    line = one_line(proc)
    assert proc.returncode == 4, line
    assert f"does not speak the {wrong} dialect" in line and "set `dialect: v2`" in line


@pytest.mark.anvil
def test_v21_contract_configured_as_v2_is_refused(chain, v21, tmp_path):
    played(chain, v21)
    proc = cli("-c", str(config(tmp_path, chain.url, v21.market_address, "v2")), "config", "check", "--online")
    line = one_line(proc)
    assert proc.returncode == 4 and "does not speak the v2 dialect" in line and "set `dialect: v2.1`" in line


@pytest.mark.anvil
@pytest.mark.parametrize("dialect", ["v2", "v2.1"])
def test_right_dialect_is_proven_with_our_bets(chain, deployments, tmp_path, dialect):
    dep = deployments[dialect]
    me = played(chain, dep)
    key = chain.private_keys[chain.accounts.index(me)]
    proc = cli(
        "-c", str(config(tmp_path, chain.url, dep.market_address, dialect)), "config", "check", "--online", "--json",
        env={"ALLORA_BOT_PRIVATE_KEY": key},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    proof = json.loads(proc.stdout)["checks"]["m1"]["dialect"]
    assert proof == {"dialect": dialect, "rounds_checked": 4, "bets_checked": 2, "proven": True}


def delegate(chain: AnvilNode, account: str) -> None:
    """Give ``account`` the code an EIP-7702 delegation leaves on it: 0xef0100 || delegate address."""
    rpc(chain.w3, "anvil_setCode", account, "0xef0100" + "11" * 20)


@pytest.mark.anvil
def test_account_with_code_is_refused_for_v2_not_for_v21(chain, v2, v21, tmp_path):
    me = chain.accounts[7]
    key = chain.private_keys[7]
    delegate(chain, me)
    proc = cli(
        "-c", str(config(tmp_path, chain.url, v2.market_address, "v2")), "config", "check", "--online",
        env={"ALLORA_BOT_PRIVATE_KEY": key},
    )  # fmt: skip
    line = one_line(proc)
    assert proc.returncode == 4 and f"account {me} has code (an EIP-7702 delegation)" in line
    ok = cli(
        "-c", str(config(tmp_path, chain.url, v21.market_address, "v2.1")), "config", "check", "--online",
        env={"ALLORA_BOT_PRIVATE_KEY": key},
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr


@pytest.mark.anvil
def test_delegated_account_really_cannot_bet_on_v2(chain, v2, v21):
    """What the wallet check prevents: V2 reverts the bet of an account with code; V2.1 takes it."""
    me = chain.accounts[7]
    delegate(chain, me)
    t0 = chain.chain_time() + 10
    Keeper(chain.w3, v2).genesis_start(at=t0)
    Keeper(chain.w3, v21).genesis_start(at=t0 + 1)
    with pytest.raises(Exception, match="Contract not allowed"):
        Market(chain.w3, v2).bet(me, Position.BULL, STAKE, at=t0 + 2)
    Market(chain.w3, v21).bet(me, Position.BULL, STAKE, at=t0 + 3)
    assert Market(chain.w3, v21).ledger(1, me).amount == STAKE


amounts = st.integers(0, 10**24)


@given(bull=amounts, bear=amounts, extra=st.integers(1, 10**24))
def test_round_with_amounts_not_summing_is_inconsistent(bull, bear, extra):
    base = Round(1, MIN_TIMESTAMP, MIN_TIMESTAMP + 300, MIN_TIMESTAMP + 600, 1, 2, bull + bear, bull, bear, bull,
                 bull + bear, True)  # fmt: skip
    assert round_problems(base, 1, True, 300, MIN_TIMESTAMP + 700) == []
    off = Round(1, MIN_TIMESTAMP, MIN_TIMESTAMP + 300, MIN_TIMESTAMP + 600, 1, 2, bull + bear + extra, bull, bear, 0, 0,
                True)  # fmt: skip
    assert any("total" in p for p in round_problems(off, 1, True, 300, MIN_TIMESTAMP + 700))


@given(start=st.integers(0, 2 * MIN_TIMESTAMP), lock=st.integers(0, 2 * MIN_TIMESTAMP))
def test_round_with_unordered_timestamps_is_inconsistent(start, lock):
    rnd = Round(1, start or 1, lock, lock, 0, 0, 0, 0, 0, 0, 0, False)
    problems = round_problems(rnd, 1, True, 10**9, 3 * MIN_TIMESTAMP)
    assert (problems == []) == (MIN_TIMESTAMP <= (start or 1) < lock)


@pytest.mark.anvil
def test_every_dialect_is_told_apart_from_every_other(chain, deployments):
    """Each of our four markets, with a bet and an executed round, proves only as its own dialect."""
    from bot.errors import OperationalError
    from bot.markets import PredictionMarket, dialect_for
    from bot.markets.proof import check_dialect

    for dep in deployments.values():
        keeper = Keeper(chain.w3, dep, ai_price_for=lambda epoch, price: price + 1)
        t0 = chain.chain_time() + 10
        keeper.genesis_start(price=P, at=t0)
        Market(chain.w3, dep).bet(chain.accounts[5], Position.BULL, STAKE, at=t0 + 1)
        keeper.genesis_lock(P, at=t0 + 300)
        keeper.execute(P + 1, at=t0 + 600)
    for actual, dep in deployments.items():
        for configured in deployments:
            market = PredictionMarket(chain.w3, dep.market_address, dialect_for(configured), name="m")
            if configured == actual:
                assert check_dialect(market).ok
            else:
                with pytest.raises(OperationalError, match=f"set `dialect: {actual}`"):
                    check_dialect(market)
