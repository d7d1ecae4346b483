"""An endpoint that will never serve eth_getLogs is recognised at its first answer (no chunk halving against it),
through the fault proxy answering the way public endpoints phrase it; "too many results" answers still shrink the
range first."""

from __future__ import annotations

import json

import pytest
from web3 import Web3

from bot.reconcile.scanner import LogScanner, LogsRefused, is_refusal
from devkit.devnet.faultproxy import GARBAGE, FaultPlan, FaultProxy
from tests.reconcile.helpers import make_sessions, open_market

pytestmark = pytest.mark.anvil


def refusing(message: str, code: int) -> FaultPlan:
    body = {"jsonrpc": "2.0", "id": 0, "error": {"code": code, "message": message}}
    return FaultPlan(rate=1.0, kinds=(GARBAGE,), methods=frozenset({"eth_getLogs"}), garbage_body=json.dumps(body).encode())


@pytest.mark.parametrize(
    ("message", "code"),
    [("the method eth_getLogs does not exist/is not available", -32601), ("eth_getLogs is disabled", -32000)],
)
def test_refusal_is_recognised_at_the_first_answer(chain, v2, tmp_path, message, code):
    with FaultProxy(chain.url, seed=1) as proxy:
        proxy.set_plan(refusing(message, code))
        market = open_market(Web3(Web3.HTTPProvider(proxy.url)), v2)
        scanner = LogScanner(market, make_sessions(tmp_path), "rounds", [], start_block=0)
        with pytest.raises(LogsRefused, match="eth_getLogs refused"):
            scanner.scan(chain.block_number(), lambda *_: None)
        assert proxy.counters().get(GARBAGE) == 1  # one question, no halving
    assert scanner.cursor() is None  # nothing recorded as scanned


def test_limit_answers_shrink_the_range_before_giving_up(chain, v2, tmp_path):
    with FaultProxy(chain.url, seed=1) as proxy:
        proxy.set_plan(FaultPlan(rate=1.0, kinds=("rpc_error",), methods=frozenset({"eth_getLogs"})))
        market = open_market(Web3(Web3.HTTPProvider(proxy.url)), v2)
        scanner = LogScanner(market, make_sessions(tmp_path), "rounds", [], start_block=0)
        with pytest.raises(LogsRefused, match="keeps failing"):
            scanner.scan(chain.block_number(), lambda *_: None)
        assert proxy.counters().get("rpc_error", 0) > 4  # halved down to one block before giving up


def test_is_refusal_words():
    assert is_refusal({"code": -32601, "message": "Method not found"})
    assert is_refusal({"code": -32000, "message": "eth_getLogs is not supported on this endpoint"})
    assert not is_refusal({"code": -32005, "message": "query returned more than 10000 results"})
    assert not is_refusal({"code": -32005, "message": "limit exceeded"})
