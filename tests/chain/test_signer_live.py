"""The signer on anvil with our contracts, built the way the bot builds it (``build_app`` -> ``App.sender``).

- the attack from issue 13: ``transferOwnership`` with 100 coins attached, labelled "bet", with the owner's key —
  refused, nothing journaled, nothing sent, the owner unchanged;
- a lying RPC (a JSON-RPC server on loopback in front of anvil answering ``token()`` with another contract): ``bet
  --live`` and ``run --live`` refuse at start with exit 4 and one line, nothing signed; the same bet through the honest
  node lands (the control);
- a V3 market without a pinned token is not traded live (exit 4);
- ``approve`` to a disabled market, or above the per-bet cap, is refused; up to the cap to an enabled one is signed;
- the daily gas cap: mined gas (a reverted bet's too) plus the worst case of what is in flight.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from eth_abi import encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.chain.gasbudget import GasCapReached
from bot.chain.policy import PolicyRefusal
from bot.config import Settings, parse_settings
from bot.domain import Position
from bot.errors import OperationalError
from bot.markets.base import TxRequest
from bot.store.db import session_scope
from bot.store.journal import TxAttempt
from devkit.devnet.keeper import Keeper

pytestmark = [pytest.mark.anvil, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
P = 600 * 10**8
TOKEN_SELECTOR = "0x" + function_signature_to_4byte_selector("token()").hex()
CAP = 10**17


def settings_for(chain: Any, tmp_path: Path, markets: list[dict[str, Any]], url: str | None = None,
                 **extra: Any) -> dict[str, Any]:
    return {
        "mode": "live",
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}",
        "chains": {"dev": {"chain_id": 31337, "rpc_urls": [url or chain.url], "request_timeout": 5}},
        "markets": [{"chain": "dev", **m} for m in markets],
        "risk": {"kill_switch_file": str(tmp_path / "KILL"), "max_stake_per_bet_wei": CAP,
                 "max_stake_per_day_wei": 10 * CAP},
        # the session chain's clock stands still between a test's blocks: a slow run must not trip the skew check
        "execution": {"max_clock_skew_seconds": 10**7},
        **extra,
    }


def live_app(tree: dict[str, Any], key: str, monkeypatch: pytest.MonkeyPatch) -> App:
    monkeypatch.setenv("ALLORA_BOT_PRIVATE_KEY", key)
    settings: Settings = parse_settings(tree)
    return build_app(settings, live=True)


def attempts(app: App) -> int:
    with session_scope(app.sessions) as s:
        return int(s.scalar(select(func.count()).select_from(TxAttempt)) or 0)


def start_round(chain: Any, deployment: Any) -> None:
    """Round 1 open, and the chain a second past its start (a bet in the start's second reverts)."""
    Keeper(chain.w3, deployment).genesis_start(price=P)
    chain.advance_to(chain.chain_time() + 1)


def calldata(signature: str, types: list[str], args: list[Any]) -> str:
    return "0x" + (function_signature_to_4byte_selector(signature) + encode(types, args)).hex()


# -- the attack ------------------------------------------------------------------------------------------------------
def test_transfer_ownership_with_coins_labelled_a_bet_is_refused(chain, v2, tmp_path, monkeypatch):
    owner_key = chain.private_keys[0]  # the market's owner: signed, this call would hand the market away
    attacker = chain.accounts[19]
    app = live_app(settings_for(chain, tmp_path, [{"name": "m", "dialect": "v2", "address": v2.market_address}]),
                   owner_key, monkeypatch)
    sender = app.sender("m")
    contract = v2.market(chain.w3)
    data = calldata("transferOwnership(address)", ["address"], [attacker])
    owner = contract.functions.owner().call()
    chain.w3.eth.call({"from": owner, "to": v2.market_address, "data": data})  # control: the owner may call it
    nonce, balance = chain.w3.eth.get_transaction_count(owner), chain.w3.eth.get_balance(owner)

    for value, kind, epochs in ((100 * 10**18, "bet", (1,)), (0, "claim", ()), (0, "bet", ())):
        with pytest.raises(PolicyRefusal, match="only betBull, betBear and claim") as refused:
            sender.send(TxRequest(to=v2.market_address, data=data, value=value, kind=kind, epochs=epochs), "m")
        assert "\n" not in str(refused.value)

    assert contract.functions.owner().call() == owner
    assert chain.w3.eth.get_transaction_count(owner) == nonce and chain.w3.eth.get_balance(owner) == balance
    assert attempts(app) == 0


# -- a lying RPC -----------------------------------------------------------------------------------------------------
class LyingRpc:
    """JSON-RPC on 127.0.0.1 forwarding to ``upstream``, except ``token()`` of ``market``: answered with ``liar``."""

    def __init__(self, upstream: str, market: str, liar: str) -> None:
        self.upstream, self.market, self.liar = upstream, market.lower(), liar
        self.lies = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                answer = json.dumps(outer.answer(json.loads(body))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, request: Any) -> Any:
        if isinstance(request, list):
            return [self.answer(r) for r in request]
        call = (request.get("params") or [{}])[0] if request.get("method") == "eth_call" else {}
        if isinstance(call, dict) and str(call.get("to", "")).lower() == self.market and \
                str(call.get("data") or call.get("input") or "").startswith(TOKEN_SELECTOR):
            self.lies += 1
            return {"jsonrpc": "2.0", "id": request.get("id"), "result": "0x" + encode(["address"], [self.liar]).hex()}
        req = urllib.request.Request(self.upstream, json.dumps(request).encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 — loopback anvil
            return json.loads(resp.read())

    def __enter__(self) -> LyingRpc:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def lying_rpc(chain, v2, v3) -> Iterator[LyingRpc]:
    with LyingRpc(chain.url, v3.market_address, liar=v2.market_address) as rpc:  # the "attacker's contract" has code
        yield rpc


def cli(config: Path, *args: str, key: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLORA_BOT")}
    env["ALLORA_BOT_PRIVATE_KEY"] = key
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "-c", str(config), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)


def write_config(tmp_path: Path, tree: dict[str, Any]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def journal_rows(tmp_path: Path) -> int:
    import sqlite3

    db = tmp_path / "bot.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return int(conn.execute("SELECT COUNT(*) FROM tx_attempts").fetchone()[0]) if "tx_attempts" in tables else 0


@pytest.mark.parametrize("command", [("bet", "bull", "--market", "v3", "--amount", "0.01", "--live", "--yes"),
                                     ("run", "--live", "--rounds", "1")])
def test_a_lying_rpc_token_answer_refuses_the_start_and_nothing_is_signed(chain, v2, v3, tmp_path, lying_rpc,
                                                                          command):
    start_round(chain, v3)
    key = chain.private_keys[3]  # a bettor holding test tokens, the market already approved
    market = {"name": "v3", "dialect": "v3", "address": v3.market_address, "token": v3.token_address}
    nonce = chain.w3.eth.get_transaction_count(Account.from_key(key).address)

    proc = cli(write_config(tmp_path, settings_for(chain, tmp_path, [market], url=lying_rpc.url)), *command, key=key)

    err = proc.stderr.strip()
    assert proc.returncode == 4, err
    assert "Traceback" not in err and err.splitlines()[-1].startswith("error: market v3: the chain answers token() = "
                                                                      f"{v2.market_address}, the config pins"), err
    assert lying_rpc.lies >= 1
    assert chain.w3.eth.get_transaction_count(Account.from_key(key).address) == nonce
    assert journal_rows(tmp_path) == 0


def test_the_same_bet_through_the_honest_node_lands(chain, v3, tmp_path):
    """The control of the test above: same config, same key, the node itself answering."""
    start_round(chain, v3)
    key = chain.private_keys[3]
    market = {"name": "v3", "dialect": "v3", "address": v3.market_address, "token": v3.token_address}
    proc = cli(write_config(tmp_path, settings_for(chain, tmp_path, [market])), "bet", "bull", "--market", "v3",
               "--amount", "0.01", "--live", "--yes", key=key)
    assert proc.returncode == 0, proc.stderr
    assert v3.market(chain.w3).functions.ledger(1, Account.from_key(key).address).call()[1] == 10**16


def test_a_v3_market_without_a_pinned_token_is_not_traded_live(chain, v3, tmp_path):
    start_round(chain, v3)
    key = chain.private_keys[3]
    market = {"name": "v3", "dialect": "v3", "address": v3.market_address}
    proc = cli(write_config(tmp_path, settings_for(chain, tmp_path, [market])), "bet", "bull", "--market", "v3",
               "--amount", "0.01", "--live", "--yes", key=key)
    assert proc.returncode == 4, proc.stderr
    assert "its stake token is not pinned" in proc.stderr.strip().splitlines()[-1]
    assert journal_rows(tmp_path) == 0


# -- approve ---------------------------------------------------------------------------------------------------------
def test_approve_only_to_an_enabled_market_of_that_token_and_up_to_the_per_bet_cap(chain, v3, deploy_market, tmp_path,
                                                                                monkeypatch):
    other = deploy_market("v3")  # a second V3 market, disabled in the config, staking its own token
    markets = [{"name": "v3", "dialect": "v3", "address": v3.market_address, "token": v3.token_address},
               {"name": "off", "dialect": "v3", "address": other.market_address, "token": other.token_address,
                "enabled": False}]
    app = live_app(settings_for(chain, tmp_path, markets), chain.private_keys[3], monkeypatch)
    sender = app.sender("v3")
    fees = sender.fees(max_age=0)

    def approve(token: str, spender: str, amount: int) -> None:
        data = calldata("approve(address,uint256)", ["address", "uint256"], [spender, amount])
        sender.journal_attempt(TxRequest(to=token, data=data, value=0, kind="approve"), "v3", 0, fees)

    with pytest.raises(PolicyRefusal, match="not an enabled market staking this token"):
        approve(v3.token_address, other.market_address, 1)  # the disabled market as spender
    with pytest.raises(PolicyRefusal, match="not an enabled configured market or pinned token"):
        approve(other.token_address, other.market_address, 1)  # the disabled market's own token
    with pytest.raises(PolicyRefusal, match="above the per-bet cap"):
        approve(v3.token_address, v3.market_address, CAP + 1)
    assert attempts(app) == 0
    approve(v3.token_address, v3.market_address, CAP)  # the one allowed shape: signed and journaled
    assert attempts(app) == 1
    # the market adapter's own approval goes through the same gate
    with pytest.raises(PolicyRefusal, match="above the per-bet cap"):
        sender.send(app.market("v3").build_approve(CAP + 1), "v3")
    assert attempts(app) == 1


# -- the daily gas cap -----------------------------------------------------------------------------------------------
GAS = {"mode": "legacy", "floor_gwei": 2, "ceiling_gwei": 2, "priority_gwei": 1, "gas_limit": 250_000}
WORST = 250_000 * 2 * 10**9  # gas limit x gas price: the most one transaction can cost here


def gas_capped(chain: Any, v2: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str,
               cap: int) -> tuple[App, Any, Any]:
    """(app, its sender, the market) for a V2 market with round 1 open, gas at 2 gwei and a daily gas cap."""
    start_round(chain, v2)
    tree = settings_for(chain, tmp_path, [{"name": "m", "dialect": "v2", "address": v2.market_address}],
                        execution={"gas": GAS})
    tree["risk"]["max_gas_per_day_wei"] = cap
    app = live_app(tree, key, monkeypatch)
    return app, app.sender("m"), app.market("m")


def test_the_daily_gas_cap_counts_mined_gas_and_refuses_once_reached(chain, v2, tmp_path, monkeypatch):
    key = chain.private_keys[7]
    app, sender, market = gas_capped(chain, v2, tmp_path, monkeypatch, key, WORST + 10**13)
    account = Account.from_key(key).address

    _, receipt = sender.send(market.build_bet(Position.BULL, 1, 10**16), "m")
    assert receipt is not None and receipt.status == 1 and receipt.gas_cost_wei > 10**13
    assert sender.budget.spend().mined_wei == receipt.gas_cost_wei
    nonce = chain.w3.eth.get_transaction_count(account)
    with pytest.raises(GasCapReached, match="daily gas cap"):  # paid + the next one's worst case > cap
        sender.send(market.build_bet(Position.BEAR, 1, 10**16), "m")
    with pytest.raises(OperationalError, match="daily gas cap"):
        sender.send(market.build_claim([1]), "m")
    assert chain.w3.eth.get_transaction_count(account) == nonce and attempts(app) == 1


def test_a_reverted_bet_burns_gas_that_counts(chain, v2, tmp_path, monkeypatch):
    _, sender, market = gas_capped(chain, v2, tmp_path, monkeypatch, chain.private_keys[8], 10 * WORST)
    _, first = sender.send(market.build_bet(Position.BULL, 1, 10**16), "m")
    _, again = sender.send(market.build_bet(Position.BULL, 1, 10**16), "m")  # "Can only bet once per round"
    assert first is not None and again is not None and first.status == 1 and again.status == 0
    assert sender.budget.spend().mined_wei == first.gas_cost_wei + again.gas_cost_wei


def test_in_flight_attempts_count_at_their_worst_case_once_per_nonce(chain, v2, tmp_path, monkeypatch):
    app, sender, market = gas_capped(chain, v2, tmp_path, monkeypatch, chain.private_keys[9], 2 * WORST)
    fees = sender.fees(max_age=0)
    bet = market.build_bet(Position.BULL, 1, 10**16)
    sender.journal_attempt(bet, "m", 40, fees)  # signed and journaled, never broadcast: in flight
    sender.journal_attempt(market.build_bet(Position.BULL, 1, 2 * 10**16), "m", 40, fees)  # a replacement: same nonce
    sender.journal_attempt(market.build_bet(Position.BEAR, 2, 10**16), "m", 41, fees)  # 2 x worst case: at the cap
    with pytest.raises(GasCapReached):
        sender.journal_attempt(market.build_bet(Position.BEAR, 3, 10**16), "m", 42, fees)
    assert sender.budget.spend().total() == 2 * WORST and attempts(app) == 3
