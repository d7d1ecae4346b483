"""AnvilNode: start/stop, time control, snapshots, mining modes."""

from __future__ import annotations

import time

import pytest
from eth_account import Account

from devkit.devnet.anvil import AnvilError, AnvilNode, dev_private_keys

pytestmark = pytest.mark.anvil


def test_session_node_basics(chain: AnvilNode) -> None:
    w3 = chain.w3
    assert chain.running and chain.url.startswith("http://127.0.0.1:")
    assert w3.eth.chain_id == 31337
    assert len(chain.accounts) == 20
    assert [Account.from_key(k).address for k in chain.private_keys[:3]] == chain.accounts[:3]
    assert dev_private_keys(1)[0] == "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def test_time_control_and_snapshots(chain: AnvilNode) -> None:
    now = chain.chain_time()
    assert chain.mine(now + 100) == now + 100
    chain.set_next_timestamp(now + 100)  # several blocks may share a second
    block = chain.block_number()
    assert chain.mine() == now + 100 and chain.block_number() == block + 1
    assert chain.advance_to(now + 50) == now + 100  # never backwards
    with pytest.raises(AnvilError, match="Timestamp"):
        chain.set_next_timestamp(now)

    snap = chain.snapshot()
    chain.set_balance(chain.accounts[5], 123)
    chain.mine(now + 1_000)
    assert chain.balance(chain.accounts[5]) == 123
    assert chain.revert(snap)
    assert chain.chain_time() == now + 100 and chain.balance(chain.accounts[5]) != 123


def test_automine_off_keeps_transactions_pending(chain: AnvilNode) -> None:
    w3 = chain.w3
    a, b = chain.accounts[5], chain.accounts[6]
    chain.set_automine(False)
    try:
        block = chain.block_number()
        h1 = w3.eth.send_transaction({"from": a, "to": b, "value": 1})
        h2 = w3.eth.send_transaction({"from": b, "to": a, "value": 1})
        assert chain.block_number() == block
        chain.mine(chain.chain_time() + 1)
        r1, r2 = w3.eth.get_transaction_receipt(h1), w3.eth.get_transaction_receipt(h2)
        assert r1["blockNumber"] == r2["blockNumber"] == block + 1  # one block, both transactions
    finally:
        chain.set_automine(True)


def test_interval_mining_node_and_clean_stop() -> None:
    with AnvilNode(block_time=0.5, chain_id=1337, accounts=2) as node:
        assert node.w3.eth.chain_id == 1337 and len(node.accounts) == 2
        start = node.block_number()
        tx = node.w3.eth.send_transaction({"from": node.accounts[0], "to": node.accounts[1], "value": 1})
        receipt = node.w3.eth.wait_for_transaction_receipt(tx, timeout=10, poll_latency=0.05)
        assert receipt["status"] == 1 and receipt["blockNumber"] > start
        deadline = time.monotonic() + 5
        while node.block_number() < start + 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert node.block_number() >= start + 3  # blocks keep coming without transactions
        proc = node._proc
    assert proc is not None and proc.poll() is not None  # stopped
    assert not node.running
    with pytest.raises(AnvilError, match="not running"):
        node.rpc("eth_blockNumber")


def test_bad_binary_is_reported() -> None:
    with pytest.raises(AnvilError, match="cannot run"):
        AnvilNode(binary="/nonexistent/anvil", startup_timeout=2).start()
