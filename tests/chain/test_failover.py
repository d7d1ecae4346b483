"""FailoverProvider through real web3 and real anvil, faults injected by FaultProxy on the endpoints.

Reads fail over on transport faults (and in-band "limit exceeded"), JSON-RPC error answers are returned as answers,
all-down ends in a TemporaryError after a bounded number of attempts, black holes are abandoned after the timeout.
"""

from __future__ import annotations

import time

import pytest
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from bot.chain.rpc import HealthReport
from bot.errors import TemporaryError
from devkit.devnet.anvil import AnvilNode
from devkit.devnet.faultproxy import FAULT_KINDS, MALFORMED_BODIES, FaultPlan, FaultProxy
from tests.chain.conftest import REVERTING_INITCODE, make_w3, provider, signed_transfer

pytestmark = [pytest.mark.anvil, pytest.mark.timeout(30)]

FAILING_KINDS = tuple(k for k in FAULT_KINDS if k != "delay")  # delay answers (late): not a failure


def _reads(w3: Web3, anvil: AnvilNode, count: int) -> None:
    """``count`` reads of several kinds, each checked against anvil itself."""
    truth = anvil.w3
    who = anvil.accounts[4]
    for i in range(count):
        match i % 4:
            case 0:
                assert w3.eth.block_number == truth.eth.block_number
            case 1:
                assert w3.eth.get_balance(who) == truth.eth.get_balance(who)
            case 2:
                assert w3.eth.chain_id == 31337
            case _:
                assert w3.eth.get_block("latest")["hash"] == truth.eth.get_block("latest")["hash"]


@pytest.mark.parametrize("rate", [0.3, 0.6])
def test_reads_survive_faults_of_every_kind_on_the_primary(
    proxies: tuple[FaultProxy, FaultProxy], anvil: AnvilNode, rate: float
) -> None:
    primary, secondary = proxies
    w3 = make_w3([primary.url, secondary.url], timeout=0.5)  # cooldown 0: the primary is tried first every time
    primary.reset_counters()
    secondary.reset_counters()
    primary.set_plan(FaultPlan(rate=rate, kinds=FAULT_KINDS, delay_ms=20, blackhole_timeout=2.0))

    _reads(w3, anvil, 32)

    seen = primary.counters()
    failed = sum(seen.get(k, 0) for k in FAILING_KINDS)
    health = provider(w3).health[0]
    # after each failure the primary proves its chain id again before its next read: one more request per failure
    assert failed > 0 and 32 <= seen["requests"] <= 32 + failed
    assert health.failures == failed and health.ok == 1 + 32 - failed  # 1: connect's chain id check
    # each failure of the primary: that read from the secondary, which proved its chain id once (+1)
    assert secondary.counters()["requests"] == failed + 1
    assert provider(w3).health[1].failures == 0


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_kind_fails_over_to_anvil(
    proxies: tuple[FaultProxy, FaultProxy], anvil: AnvilNode, kind: str
) -> None:
    primary, _ = proxies
    w3 = make_w3([primary.url, anvil.url], timeout=0.3)
    primary.set_plan(FaultPlan(rate=1.0, kinds=(kind,), delay_ms=20, blackhole_timeout=1.0))
    _reads(w3, anvil, 2)
    health = provider(w3).health[0]
    assert health.failures == (0 if kind == "delay" else 2)
    assert primary.counters()[kind] == 2


@pytest.mark.parametrize("body", MALFORMED_BODIES, ids=range(len(MALFORMED_BODIES)))
def test_every_malformed_body_fails_over(proxies: tuple[FaultProxy, FaultProxy], anvil: AnvilNode, body: bytes) -> None:
    primary, secondary = proxies
    w3 = make_w3([primary.url, secondary.url])
    primary.set_plan(FaultPlan(rate=1.0, kinds=("garbage",), garbage_body=body))
    _reads(w3, anvil, 2)
    assert provider(w3).health[0].failures == 2


def test_a_failed_primary_is_skipped_during_its_cooldown(
    proxies: tuple[FaultProxy, FaultProxy], anvil: AnvilNode
) -> None:
    primary, secondary = proxies
    w3 = make_w3([primary.url, secondary.url], cooldown=1.0, max_cooldown=1.0)
    primary.reset_counters()
    primary.set_plan(FaultPlan(rate=1.0, kinds=("http_5xx",)))

    _reads(w3, anvil, 6)

    assert primary.counters()["requests"] == 1  # tried once, then skipped while cooling down
    report = HealthReport.of(provider(w3)).endpoints
    assert report[0]["failures"] == 1 and report[0]["healthy"] is False and "503" in report[0]["last_error"]
    assert report[1]["healthy"] is True and report[1]["ok"] >= 6
    primary.clear()
    time.sleep(1.05)  # cooldown over: the primary is first again
    _reads(w3, anvil, 2)
    # 1 failed + 1 chain id proof after the failure + 2 reads
    assert primary.counters()["requests"] == 4 and provider(w3).health[0].consecutive_failures == 0


@pytest.mark.parametrize("kind", ["drop", "http_5xx", "rpc_error", "blackhole", "refused"])
def test_all_endpoints_down_is_a_temporary_error(proxies: tuple[FaultProxy, FaultProxy], kind: str) -> None:
    """Bounded: ``rounds`` attempts per endpoint (also while they cool down), then TemporaryError — never a hang."""
    w3 = make_w3([p.url for p in proxies], timeout=0.15, cooldown=5.0, max_cooldown=5.0)
    for proxy in proxies:
        proxy.reset_counters()
        if kind == "refused":
            proxy.stop()
        else:
            proxy.set_plan(FaultPlan(rate=1.0, kinds=(kind,), blackhole_timeout=5.0))

    with pytest.raises(TemporaryError, match="all RPC endpoints failed"):
        w3.eth.get_block_number()
    with pytest.raises(TemporaryError, match="all RPC endpoints failed for a batch"), w3.batch_requests() as batch:
        batch.add(w3.eth.get_block_number())
        batch.execute()

    policy = provider(w3).policy
    assert all(h.failures == 2 * policy.rounds for h in provider(w3).health)
    if kind != "refused":
        assert all(p.counters()["requests"] == 2 * policy.rounds for p in proxies)


def test_a_black_holed_endpoint_is_abandoned_after_the_timeout(
    proxies: tuple[FaultProxy, FaultProxy], anvil: AnvilNode
) -> None:
    primary, secondary = proxies
    w3 = make_w3([primary.url, secondary.url], timeout=0.3, cooldown=10.0, max_cooldown=10.0)
    primary.set_plan(FaultPlan(blackhole=True, blackhole_timeout=20.0))
    _reads(w3, anvil, 3)
    assert primary.counters()["blackhole"] == 1  # abandoned, then skipped during the cooldown
    assert "Timeout" in provider(w3).health[0].last_error


def test_json_rpc_error_answers_are_returned_not_failed_over(
    proxies: tuple[FaultProxy, FaultProxy], clean_chain: AnvilNode
) -> None:
    primary, secondary = proxies
    w3 = make_w3([primary.url, secondary.url])
    secondary.reset_counters()

    with pytest.raises(ContractLogicError, match="nope"):
        w3.eth.call({"data": REVERTING_INITCODE})  # type: ignore[typeddict-item]

    raw, tx_hash = signed_transfer(clean_chain, w3)
    assert "0x" + bytes(w3.eth.send_raw_transaction(raw)).hex() == tx_hash
    w3.eth.wait_for_transaction_receipt(tx_hash, timeout=5, poll_latency=0.02)  # type: ignore[arg-type]
    with pytest.raises(Web3RPCError, match="nonce too low"):
        w3.eth.send_raw_transaction(raw)  # mined already
    assert provider(w3).make_request("eth_noSuchMethod", [])["error"]["code"] == -32601  # type: ignore[arg-type]
    with pytest.raises(ContractLogicError, match="nope"), w3.batch_requests() as batch:
        batch.add(w3.eth.get_block_number())
        batch.add(w3.eth.call({"data": REVERTING_INITCODE}))  # type: ignore[typeddict-item]
        batch.execute()

    assert provider(w3).health[0].failures == 0 and secondary.counters().get("requests", 0) == 0


@pytest.mark.parametrize("kind", ["drop", "http_5xx", "malformed", "truncated", "rpc_error", "blackhole", "deep", "huge"])
def test_batch_requests_fail_over(proxies: tuple[FaultProxy, FaultProxy], anvil: AnvilNode, kind: str) -> None:
    primary, secondary = proxies
    w3 = make_w3([primary.url, secondary.url], timeout=0.3)
    primary.set_plan(FaultPlan(rate=1.0, kinds=(kind,), methods=frozenset({"eth_getBalance"}), blackhole_timeout=1.0))
    who = anvil.accounts[5]
    for _ in range(2):
        with w3.batch_requests() as batch:
            batch.add(w3.eth.get_block_number())
            batch.add(w3.eth.get_balance(who))
            number, balance = batch.execute()
        assert number == anvil.block_number() and balance == anvil.balance(who)
    assert provider(w3).health[0].failures == 2 and primary.counters()[kind] == 2
    assert secondary.counters()["batches"] == 2
