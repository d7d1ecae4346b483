"""Batched raw JSON-RPC reads the reconciler needs: transactions with receipts, nonces at a block, block headers
(over ``bot.chain.abicall.rpc_batch``).

web3's own batch raises for the whole batch when one answer is ``null`` (a receipt not found); here every answer is
returned on its own (``None`` when the node does not know it), so one dropped transaction never hides the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from bot.chain.abicall import DEFAULT_BATCH, rpc_batch


def _int(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    return int(str(value), 16)


@dataclass(frozen=True, slots=True)
class MinedTx:
    """A mined transaction and what it cost its sender. ``logs`` are the receipt's raw logs."""

    tx_hash: str
    sender: str
    to: str
    nonce: int
    value: int
    input: str
    block_number: int
    block_hash: str
    status: int
    gas_used: int
    gas_cost: int
    logs: tuple[dict[str, Any], ...]

    @property
    def selector(self) -> str:
        return self.input[:10].lower()


def _mined(tx: dict[str, Any], receipt: dict[str, Any]) -> MinedTx:
    gas_used = _int(receipt.get("gasUsed"))
    price = _int(receipt.get("effectiveGasPrice") or tx.get("gasPrice"))
    l1_fee = _int(receipt.get("l1Fee"))  # OP-stack chains charge the L1 data fee on top (absent elsewhere)
    return MinedTx(
        tx_hash=str(tx["hash"]).lower(),
        sender=Web3.to_checksum_address(tx["from"]),
        to=Web3.to_checksum_address(tx["to"]) if tx.get("to") else "",
        nonce=_int(tx["nonce"]),
        value=_int(tx.get("value")),
        input=str(tx.get("input") or tx.get("data") or "0x"),
        block_number=_int(receipt["blockNumber"]),
        block_hash=str(receipt.get("blockHash") or ""),
        status=_int(receipt.get("status")),
        gas_used=gas_used,
        gas_cost=gas_used * price + l1_fee,
        logs=tuple(receipt.get("logs") or ()),
    )


def mined_transactions(w3: Web3, hashes: Sequence[str], batch_size: int = DEFAULT_BATCH) -> dict[str, MinedTx]:
    """The mined ones among ``hashes`` (lower-case hash -> ``MinedTx``); unknown or pending hashes are left out."""
    unique = sorted({h.lower() for h in hashes})
    calls: list[tuple[str, list[Any]]] = []
    for h in unique:
        calls.append(("eth_getTransactionByHash", [h]))
        calls.append(("eth_getTransactionReceipt", [h]))
    answers = rpc_batch(w3, calls, batch_size)
    found: dict[str, MinedTx] = {}
    for i, h in enumerate(unique):
        tx, receipt = answers[2 * i], answers[2 * i + 1]
        if tx is None or receipt is None or receipt.get("blockNumber") is None:
            continue
        found[h] = _mined(tx, receipt)
    return found


def nonce_at(w3: Web3, account: str, block: int) -> int:
    """Transactions ``account`` had sent once ``block`` was mined (needs state at that block)."""
    return int(w3.eth.get_transaction_count(Web3.to_checksum_address(account), block))


def tx_by_nonce_in_block(w3: Web3, account: str, nonce: int, block: int) -> MinedTx | None:
    """The transaction of ``account`` with ``nonce`` inside ``block`` (full block read + its receipt)."""
    raw = rpc_batch(w3, [("eth_getBlockByNumber", [hex(block), True])])[0]
    if raw is None:
        return None
    want = account.lower()
    for tx in raw.get("transactions", []):
        if str(tx.get("from", "")).lower() == want and _int(tx.get("nonce")) == nonce:
            receipt = rpc_batch(w3, [("eth_getTransactionReceipt", [tx["hash"]])])[0]
            return None if receipt is None else _mined(tx, receipt)
    return None


def block_timestamps(w3: Web3, blocks: Sequence[int], batch_size: int = DEFAULT_BATCH) -> dict[int, int]:
    answers = rpc_batch(w3, [("eth_getBlockByNumber", [hex(b), False]) for b in blocks], batch_size)
    return {b: _int(a["timestamp"]) for b, a in zip(blocks, answers, strict=True) if a is not None}
