"""Hostile servers on loopback: the bot, as a real process, survives endpoints that answer deeply nested or huge JSON.

Before bounded parsing, eth-account's raised recursion limit let ``json.loads`` of a ~200 KB body of nested brackets
overflow the C stack: the process died with SIGSEGV (exit 139) — during a bet when any RPC endpoint answered it (every
bet is broadcast to every endpoint), and in the truth service on one POST. Each test runs the bot's CLI in a
subprocess and checks its exit code, its one-line output and the money on chain.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from devkit.devnet.faultproxy import FaultPlan, FaultProxy
from devkit.devnet.keeper import Keeper

ROOT = Path(__file__).resolve().parents[1]
P = 600 * 10**8
STAKE = 2 * 10**16


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env=env,
    )


def _env(**extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLORA_BOT")}
    env.update(extra)
    return env


def _bet_config(tmp_path: Path, urls: list[str], market: str) -> Path:
    tree = {
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "chains": {"dev": {"chain_id": 31337, "rpc_urls": urls, "request_timeout": 3}},
        "markets": [{"name": "m1", "chain": "dev", "dialect": "v2", "address": market}],
        "risk": {"kill_switch_file": str(tmp_path / "KILL")},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


@pytest.mark.anvil
@pytest.mark.timeout(180)
@pytest.mark.parametrize("position", ["first", "second"])
@pytest.mark.parametrize("kind", ["deep", "huge"])
def test_a_live_bet_survives_a_hostile_endpoint(chain, v2, tmp_path, kind, position):
    keeper = Keeper(chain.w3, v2)
    keeper.genesis_start(price=P)
    keeper.advance_to(chain.chain_time() + 1)
    bettor = chain.accounts[7]
    with FaultProxy(chain.url, seed=3) as hostile:
        # every request to the hostile endpoint is answered with the bad body (and still reaches the node)
        hostile.set_plan(FaultPlan(rate=1.0, kinds=(kind,), forward_faulted=True))
        urls = [hostile.url, chain.url] if position == "first" else [chain.url, hostile.url]
        cfg = _bet_config(tmp_path, urls, v2.market_address)
        done = _cli("-c", str(cfg), "bet", "bull", "--market", "m1", "--amount", "0.02", "--live", "--yes", "--json",
                    env=_env(ALLORA_BOT_PRIVATE_KEY=chain.private_keys[7]))
        seen = hostile.counters()
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    assert json.loads(done.stdout)["result"] == "landed"
    assert seen.get(kind, 0) >= 1  # the hostile answers were really served
    # exactly one bet of exactly the stake, from our account, on chain
    market = v2.market(chain.w3)
    info = market.functions.ledger(1, bettor).call()
    assert info[1] == STAKE
    assert market.functions.rounds(1).call()[8:10] == [STAKE, STAKE]  # totalAmount, bullAmount


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _oversized_post_status(port: int, path: str, *, declared: int, sent: int) -> int:
    """POST announcing ``declared`` bytes but sending only ``sent`` (past the limit): the status the server answers.
    Sending the whole body would block once the server stops reading, until the client's timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {declared}\r\n\r\n").encode()
        sock.sendall(head + b'{"y_true": "' + b"1" * (sent - 13))
        status_line = sock.makefile("rb").readline()
    return int(status_line.split()[1])


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 - loopback
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.timeout(120)
def test_the_truth_service_survives_deep_and_huge_request_bodies(tmp_path):
    port = _free_port()
    tree = {
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "allora": {"rpc_url": "rest+http://127.0.0.1:9", "topics": [{"name": "btc", "topic_id": 64}]},
        "truth": {"host": "127.0.0.1", "port": port},
    }
    cfg = tmp_path / "truth.yaml"
    cfg.write_text(yaml.safe_dump(tree))
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, str(ROOT / "main.py"), "-c", str(cfg), "truth", "serve"], cwd=ROOT, env=_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(base + "/health", timeout=1):  # noqa: S310 - loopback
                    break
            except urllib.error.HTTPError:  # it answers (503: its Allora node is unreachable here): it is up
                break
            except (ConnectionError, urllib.error.URLError):
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
        deep = b'{"y_true": "1", "y_pred": ' + b"[" * 100_000 + b"]" * 100_000 + b', "options": {}}'
        for route in ("/calculate", "/is_never_negative", "/labeled/calculate"):
            status, body = _post(base + route, deep)
            assert status == 400, (route, status, body[:200])
            assert b"deeper than" in body and len(body) < 300
        # a 2 MiB body announced; the service answers 413 once it has read past its 256 KiB limit, unread beyond
        assert _oversized_post_status(port, "/calculate", declared=2 * 1024 * 1024, sent=300 * 1024) == 413
        assert proc.poll() is None  # alive
        status, body = _post(base + "/calculate", json.dumps(
            {"y_true": "1.5", "y_pred": "1.0", "options": {"loss_method": "sqe"}}).encode())
        assert (status, json.loads(body)) == (200, {"loss": "0.25"})
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# -- endpoints on the wrong chain, endpoints that lie ----------------------------------------------------------------

@pytest.fixture
def bsc_testnet_node():
    """A second anvil answering chain id 97 (BSC testnet), as a fallback endpoint misconfigured onto another chain."""
    from devkit.devnet.anvil import AnvilNode

    with AnvilNode(chain_id=97, accounts=2) as node:
        yield node


def _open_round(chain, v2) -> None:
    keeper = Keeper(chain.w3, v2)
    keeper.genesis_start(price=P)
    keeper.advance_to(chain.chain_time() + 1)


@pytest.mark.anvil
@pytest.mark.timeout(180)
def test_a_wrong_chain_fallback_is_dropped_never_read(chain, v2, tmp_path, bsc_testnet_node):
    _open_round(chain, v2)
    with FaultProxy(chain.url, seed=5) as primary:
        # the primary proves its chain id, then fails every read: the reads fail over to the chain-97 endpoint
        primary.set_plan(FaultPlan(rate=1.0, kinds=("http_5xx",), exclude_methods=frozenset({"eth_chainId"})))
        cfg = _bet_config(tmp_path, [primary.url, bsc_testnet_node.url], v2.market_address)
        done = _cli("-c", str(cfg), "status", "--json", env=_env())
    assert done.returncode == 5, done.stderr  # temporary (the primary is down), never an answer from chain 97
    assert f"rpc endpoint {bsc_testnet_node.url} is on chain id 97, not 31337: dropped" in done.stderr
    assert "Traceback" not in done.stderr
    # only a wrong-chain endpoint: needs a human
    only = _bet_config(tmp_path, [bsc_testnet_node.url], v2.market_address)
    done = _cli("-c", str(only), "status", env=_env())
    assert done.returncode == 4 and "chain id 97" in done.stderr and "refusing to act" in done.stderr
    # a wrong-chain endpoint listed first: dropped, the bet lands on the right chain, nothing reaches chain 97
    cfg = _bet_config(tmp_path, [bsc_testnet_node.url, chain.url], v2.market_address)
    done = _cli("-c", str(cfg), "bet", "bear", "--market", "m1", "--amount", "0.02", "--live", "--yes", "--json",
                env=_env(ALLORA_BOT_PRIVATE_KEY=chain.private_keys[7]))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["result"] == "landed"
    assert v2.market(chain.w3).functions.ledger(1, chain.accounts[7]).call()[1] == STAKE
    assert bsc_testnet_node.w3.eth.block_number == 0  # no transaction ever reached chain 97


@pytest.fixture
def lying_node():
    """Another anvil on the same chain id with none of our contracts: it answers every read, differently."""
    from devkit.devnet.anvil import AnvilNode

    with AnvilNode(chain_id=31337, accounts=2) as node:
        yield node


@pytest.mark.anvil
@pytest.mark.timeout(180)
def test_quorum_disagreement_means_no_bet(chain, v2, tmp_path, lying_node):
    _open_round(chain, v2)
    cfg = _bet_config(tmp_path, [chain.url, lying_node.url], v2.market_address)
    tree = yaml.safe_load(cfg.read_text())
    tree["chains"]["dev"]["quorum"] = 2
    cfg.write_text(yaml.safe_dump(tree))
    key = _env(ALLORA_BOT_PRIVATE_KEY=chain.private_keys[7])
    nonce = chain.w3.eth.get_transaction_count(chain.accounts[7])
    bet = ("-c", str(cfg), "bet", "bull", "--market", "m1", "--amount", "0.02", "--live", "--yes")
    done = _cli(*bet, env=key)  # the lying node is far behind: its head alone is a disagreement
    assert done.returncode == 5, done.stderr[-2000:]
    assert "endpoints disagree on the chain head" in done.stderr and "no bet" in done.stderr
    # the lying node at the same height: it answers the round read differently
    lying_node.w3.provider.make_request("anvil_mine", [hex(chain.w3.eth.block_number - lying_node.w3.eth.block_number)])
    done = _cli(*bet, env=key)
    assert done.returncode == 5, done.stderr[-2000:]
    assert "endpoints disagree on eth_call" in done.stderr and "no bet" in done.stderr
    assert f"{chain.url} answered" in done.stderr and f"{lying_node.url} answered" in done.stderr  # both answers
    assert v2.market(chain.w3).functions.ledger(1, chain.accounts[7]).call()[1] == 0
    assert chain.w3.eth.get_transaction_count(chain.accounts[7]) == nonce  # nothing was sent


@pytest.mark.anvil
@pytest.mark.timeout(180)
def test_quorum_of_two_honest_endpoints_bets(chain, v2, tmp_path):
    _open_round(chain, v2)
    with FaultProxy(chain.url, seed=9) as second:
        cfg = _bet_config(tmp_path, [chain.url, second.url], v2.market_address)
        tree = yaml.safe_load(cfg.read_text())
        tree["chains"]["dev"]["quorum"] = 2
        cfg.write_text(yaml.safe_dump(tree))
        done = _cli("-c", str(cfg), "bet", "bull", "--market", "m1", "--amount", "0.02", "--live", "--yes", "--json",
                    env=_env(ALLORA_BOT_PRIVATE_KEY=chain.private_keys[7]))
        asked = second.counters()["requests"]
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["result"] == "landed"
    assert asked >= 3  # the second endpoint confirmed the reads (chain id, round, receipt)
    assert v2.market(chain.w3).functions.ledger(1, chain.accounts[7]).call()[1] == STAKE


# -- exchange data -----------------------------------------------------------------------------------------------------

@pytest.mark.timeout(120)
@pytest.mark.parametrize("body", ["deep", "huge"])
def test_a_hostile_exchange_answer_is_refused_before_ccxt_parses_it(tmp_path, body):
    import pandas as pd
    from aiohttp import web

    from tests.backtest.fake_binance import FakeBinance

    class HostileBinance(FakeBinance):
        async def _klines(self, request: web.Request) -> web.Response:
            self.klines_calls += 1
            text = "[" * 100_000 + "]" * 100_000 if body == "deep" else '["' + "9" * (9 * 1024 * 1024) + '"]'
            return web.Response(text=text, content_type="application/json")

    frame = pd.read_csv(ROOT / "bot/data/BTCUSDT_5m_2025-05_06.csv.gz").head(10)
    fake = HostileBinance(frame).start()
    try:
        since = int(frame.open_time_ms.iloc[0])
        done = _cli("download-data", "--exchange", "binance", "--symbol", "BTC/USDT", "--timeframe", "5m", "--since",
                    str(since), "--until", str(since + 3_000_000), "--cache-dir", str(tmp_path), "--api-url",
                    fake.base_url, "--retries", "0", env=_env())
    finally:
        fake.stop()
    assert fake.klines_calls >= 1
    assert done.returncode in (2, 5), (done.returncode, done.stderr[-1500:])  # a clear failure, not SIGSEGV (-11)
    assert "Traceback" not in done.stderr
    err = done.stderr.strip().splitlines()[-1]  # (a progress bar comes first)
    assert err.startswith("error: "), err
    assert ("deeper than" in err) if body == "deep" else ("larger than" in err or "limit" in err), err


# -- an Allora node answering the truth service's block-time lookups ---------------------------------------------------

def test_a_hostile_allora_node_never_reaches_the_sdk_parser():
    """The truth service maps BlockHeight to time through the SDK's REST client: a deep body is refused by our body
    check before the SDK parses it (a temporary error naming why), never a crash or a RecursionError."""
    import asyncio
    import threading

    from aiohttp import web

    from bot.errors import TemporaryError
    from bot.truth.blocktime import SdkBlockTimes

    async def deep(request: web.Request) -> web.Response:
        return web.Response(text='{"block": ' + "[" * 100_000 + "]" * 100_000 + "}", content_type="application/json")

    app = web.Application()
    app.router.add_get("/cosmos/base/tendermint/v1beta1/blocks/{height}", deep)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        times = SdkBlockTimes(f"rest+http://127.0.0.1:{port}")
        with pytest.raises(TemporaryError, match="deeper than 64"):
            asyncio.run(times.block_time(5))
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
