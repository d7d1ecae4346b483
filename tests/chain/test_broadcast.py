"""FailoverProvider.broadcast and TxSender.broadcast_raw against real anvil, with endpoints down or duplicated.

Also pins anvil's wording for an already-known transaction, a used nonce and an underpriced replacement against the
keyword lists in bot.chain.sender (the node's error text drives the sender's outcome).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from eth_account import Account
from web3 import Web3

from bot.chain.gas import GasPolicy
from bot.chain.policy import SigningPolicy
from bot.chain.sender import ALREADY_KNOWN, NONCE_TOO_LOW, UNDERPRICED, TxSender
from bot.config import GasConfig
from bot.errors import TemporaryError
from bot.store.db import make_engine, session_factory
from devkit.devnet.anvil import AnvilNode
from devkit.devnet.faultproxy import FaultPlan, FaultProxy
from tests.chain.conftest import make_w3, provider, signed_transfer

pytestmark = [pytest.mark.anvil, pytest.mark.timeout(30)]

# anvil's messages (all JSON-RPC code -32003), as checked by test_sender_keywords_match_anvils_messages
ANVIL_ALREADY_KNOWN = "transaction already imported"
ANVIL_NONCE_TOO_LOW = "nonce too low"
ANVIL_UNDERPRICED = "replacement transaction underpriced"


@pytest.fixture
def sender_for(clean_chain: AnvilNode) -> Iterator[object]:
    engine = make_engine("sqlite://")
    sessions = session_factory(engine)
    gas = GasPolicy(GasConfig(floor_gwei=Decimal(1), ceiling_gwei=Decimal(100), priority_gwei=Decimal(1)))

    def build(w3: Web3) -> TxSender:
        return TxSender(w3, Account.from_key(clean_chain.private_keys[9]), sessions, gas, SigningPolicy(31337, [], 1),
                        31337, max_gas_per_day_wei=10**18)

    yield build
    engine.dispose()


def _nonce(anvil: AnvilNode) -> int:
    return int(anvil.w3.eth.get_transaction_count(Account.from_key(anvil.private_keys[9]).address))


def _mined(anvil: AnvilNode, tx_hash: str) -> bool:
    """Wait (bounded) for the receipt: anvil's automine answers eth_sendRawTransaction a moment before the block."""
    receipt = anvil.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=5, poll_latency=0.02)  # type: ignore[arg-type]
    return int(receipt["status"]) == 1


def _errors(answers: list) -> list[str]:  # type: ignore[type-arg]
    return [str(a["error"]["message"]) for a in answers if "error" in a]


@pytest.mark.parametrize("down", ["refused", "drop", "http_5xx", "rpc_error"])
def test_broadcast_reaches_the_chain_with_one_endpoint_down(
    proxies: tuple[FaultProxy, FaultProxy], clean_chain: AnvilNode, down: str
) -> None:
    primary, secondary = proxies
    w3 = make_w3([primary.url, secondary.url])
    raw, tx_hash = signed_transfer(clean_chain, w3)
    before = _nonce(clean_chain)
    if down == "refused":
        primary.stop()
    else:
        primary.set_plan(FaultPlan(rate=1.0, kinds=(down,)))

    answers = provider(w3).broadcast(raw)

    assert [a.get("result") for a in answers] == [tx_hash]
    assert _mined(clean_chain, tx_hash) and _nonce(clean_chain) == before + 1
    assert provider(w3).health[0].failures == 1 and provider(w3).health[1].failures == 0


def test_broadcast_with_every_endpoint_down_is_a_temporary_error(
    proxies: tuple[FaultProxy, FaultProxy], clean_chain: AnvilNode
) -> None:
    w3 = make_w3([p.url for p in proxies])
    raw, _ = signed_transfer(clean_chain, w3)
    for proxy in proxies:
        proxy.set_plan(FaultPlan(rate=1.0, kinds=("drop",)))
    with pytest.raises(TemporaryError, match="broadcast reached no RPC endpoint"):
        provider(w3).broadcast(raw)
    assert all(p.counters()["drop"] == 1 for p in proxies)  # one pass: a broadcast is never retried blindly


def test_two_healthy_endpoints_mine_one_transaction(
    proxies: tuple[FaultProxy, FaultProxy], clean_chain: AnvilNode, sender_for
) -> None:
    w3 = make_w3([p.url for p in proxies])
    raw, tx_hash = signed_transfer(clean_chain, w3)
    before = _nonce(clean_chain)

    answers = provider(w3).broadcast(raw)

    # automine: the first copy is usually mined before the second arrives (a used nonce), else it is still pending
    assert answers[0]["result"] == tx_hash and _errors(answers) in ([ANVIL_NONCE_TOO_LOW], [ANVIL_ALREADY_KNOWN])
    assert sender_for(w3).broadcast_raw(raw)[0] in ("sent", "nonce-too-low", "known")
    assert _mined(clean_chain, tx_hash) and _nonce(clean_chain) == before + 1
    assert sender_for(w3).broadcast_raw(raw) == ("nonce-too-low", f"{ANVIL_NONCE_TOO_LOW}; {ANVIL_NONCE_TOO_LOW}")


def test_two_healthy_endpoints_without_automine(
    proxies: tuple[FaultProxy, FaultProxy], clean_chain: AnvilNode, sender_for
) -> None:
    w3 = make_w3([p.url for p in proxies])
    raw, tx_hash = signed_transfer(clean_chain, w3)
    before = _nonce(clean_chain)
    clean_chain.set_automine(False)

    answers = provider(w3).broadcast(raw)
    assert answers[0]["result"] == tx_hash and _errors(answers) == [ANVIL_ALREADY_KNOWN]
    assert sender_for(w3).broadcast_raw(raw) == ("known", f"{ANVIL_ALREADY_KNOWN}; {ANVIL_ALREADY_KNOWN}")

    clean_chain.mine()
    assert _mined(clean_chain, tx_hash) and _nonce(clean_chain) == before + 1


def test_lost_answer_then_nonce_too_low_is_ambiguous_until_the_receipt(
    proxies: tuple[FaultProxy, FaultProxy], clean_chain: AnvilNode, sender_for
) -> None:
    """The primary forwards the tx but its answer is lost; the secondary then reports the nonce as used."""
    primary, secondary = proxies
    w3 = make_w3([primary.url, secondary.url])
    raw, tx_hash = signed_transfer(clean_chain, w3)
    primary.set_plan(FaultPlan(rate=1.0, kinds=("drop",), forward_faulted=True))

    outcome, error = sender_for(w3).broadcast_raw(raw)

    # the secondary saw the forwarded copy mined (nonce too low) or, rarely, still pending (already imported)
    assert (outcome, error) in (("nonce-too-low", ANVIL_NONCE_TOO_LOW), ("known", ANVIL_ALREADY_KNOWN))
    assert _mined(clean_chain, tx_hash)  # TxSender.send resolves "nonce-too-low" by looking for the receipt


def test_sender_keywords_match_anvils_messages(proxies: tuple[FaultProxy, FaultProxy], clean_chain: AnvilNode) -> None:
    primary, _ = proxies
    w3 = make_w3([primary.url])
    clean_chain.set_automine(False)
    raw, _ = signed_transfer(clean_chain, w3, value=1)
    replacement, _ = signed_transfer(clean_chain, w3, value=2)  # same nonce and fees, other payload
    assert provider(w3).broadcast(raw)[0].get("result")

    known = _errors(provider(w3).broadcast(raw))
    underpriced = _errors(provider(w3).broadcast(replacement))
    clean_chain.mine()
    used = _errors(provider(w3).broadcast(replacement))

    assert (known, underpriced, used) == ([ANVIL_ALREADY_KNOWN], [ANVIL_UNDERPRICED], [ANVIL_NONCE_TOO_LOW])
    assert any(k in ANVIL_ALREADY_KNOWN for k in ALREADY_KNOWN)
    assert any(k in ANVIL_NONCE_TOO_LOW for k in NONCE_TOO_LOW)
    assert any(k in ANVIL_UNDERPRICED for k in UNDERPRICED)
    assert not any(k in ANVIL_UNDERPRICED for k in ALREADY_KNOWN + NONCE_TOO_LOW)
