"""Small transaction helpers for devnet code and tests: send from an unlocked account, wait, read revert reasons.

Every helper waits for the receipt before returning, so a following ``evm_setNextBlockTimestamp`` can never be taken
by an earlier transaction still waiting to be mined (the automine race in docs/prediction-contracts.md).
"""

from __future__ import annotations

from typing import Any

from eth_abi import abi
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError
from web3.types import RPCEndpoint, TxParams, TxReceipt, Wei

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)


class DevnetRpcError(RuntimeError):
    """A devnet RPC call (evm_*, anvil_*, debug_*) answered with an error."""


class TxFailed(RuntimeError):
    """A transaction was mined but reverted (status 0)."""

    def __init__(self, receipt: TxReceipt, reason: str | None) -> None:
        super().__init__(f"transaction {receipt['transactionHash'].hex()} reverted: {reason or '(no reason)'}")
        self.receipt = receipt
        self.reason = reason


def rpc(w3: Web3, method: str, *params: Any) -> Any:
    """Raw JSON-RPC call through ``w3``'s provider; raises ``DevnetRpcError`` on an error reply."""
    reply = w3.provider.make_request(RPCEndpoint(method), list(params))
    if "error" in reply:
        error = reply["error"]
        raise DevnetRpcError(f"{method}: {error.get('message', error) if isinstance(error, dict) else error}")
    return reply.get("result")


def chain_time(w3: Web3) -> int:
    """Timestamp of the latest block."""
    return int(w3.eth.get_block("latest")["timestamp"])


def block_timestamp(w3: Web3, receipt: TxReceipt) -> int:
    """Timestamp of the receipt's block (anvil puts ``blockTimestamp`` in receipts; else one more RPC)."""
    ts: Any = dict(receipt).get("blockTimestamp")
    if ts is None:
        ts = w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    return int(ts)


def set_next_timestamp(w3: Web3, ts: int) -> None:
    """Stamp the next block with ``ts`` (anvil allows several blocks in the same second)."""
    rpc(w3, "evm_setNextBlockTimestamp", int(ts))


def mine_at(w3: Web3, ts: int) -> None:
    """Mine one empty block at ``ts``."""
    rpc(w3, "evm_mine", {"timestamp": int(ts), "blocks": 1})


def transact(
    w3: Web3,
    call: ContractFunction,
    tx: TxParams,
    *,
    at: int | None = None,
    check: bool = True,
    timeout: float = 60,
) -> TxReceipt:
    """Send ``call`` with ``tx`` (needs ``from``; unlocked account), wait for the receipt and return it.

    ``at``: exact block timestamp for this transaction. Without ``gas`` in ``tx`` web3 estimates it first, so a
    reverting call raises ``ContractLogicError`` before anything is sent; with ``gas`` the transaction is mined and,
    if ``check``, a revert raises ``TxFailed`` carrying the revert reason.
    """
    if at is not None:
        if "gas" not in tx:
            # web3 would estimate at anvil's wall-clock "pending" time, not at ``at``: estimate at ``at`` instead.
            tx = {**tx, "gas": estimate_gas_at(w3, call, tx, at)}
        set_next_timestamp(w3, at)
    tx_hash = call.transact(tx)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    if check and receipt["status"] != 1:
        raise TxFailed(receipt, revert_reason(w3, receipt["transactionHash"]))
    return receipt


def estimate_gas_at(w3: Web3, call: ContractFunction, tx: TxParams, at: int) -> int:
    """Gas estimate for ``call`` in a block stamped ``at`` (anvil block overrides), with web3's 100k buffer.

    A revert raises ``ContractLogicError`` (``ContractCustomError`` for custom errors), as web3's own estimate does.
    """
    # placeholders so web3 does not look up gas or fees: only from/to/data/value are sent
    params: TxParams = {**tx, "gas": 30_000_000, "maxFeePerGas": Wei(1), "maxPriorityFeePerGas": Wei(1)}
    built = call.build_transaction(params)
    request = {k: built[k] for k in ("from", "to", "data", "value") if k in built}  # type: ignore[literal-required]
    request = {k: hex(v) if isinstance(v, int) else v for k, v in request.items()}
    reply = w3.provider.make_request(RPCEndpoint("eth_estimateGas"), [request, "latest", {}, {"time": hex(at)}])
    if "error" in reply:
        error = reply["error"]
        if isinstance(error, dict) and isinstance(error.get("data"), str):
            raise_revert(str(error["data"]))
        raise DevnetRpcError(f"eth_estimateGas: {error}")
    return int(reply["result"], 16) + 100_000


def raise_revert(data: str) -> None:
    """Raise the web3 exception matching revert ``data``: Error(string), Panic(uint256) or a custom error."""
    raw = HexBytes(data)
    if raw[:4] == ERROR_STRING_SELECTOR:
        reason = abi.decode(["string"], raw[4:])[0]
        raise ContractLogicError(f"execution reverted: {reason}", data=data)
    if raw[:4] == PANIC_SELECTOR:
        code = abi.decode(["uint256"], raw[4:])[0]
        raise ContractPanicError(f"Panic error 0x{code:02x}", data=data)
    raise ContractCustomError(data, data=data)


def revert_reason(w3: Web3, tx_hash: HexBytes | bytes | str) -> str | None:
    """The revert reason of a mined transaction, from anvil's ``debug_traceTransaction`` call tracer.

    Returns the ``Error(string)`` text, the custom error's 4-byte selector as ``0x........``, or ``None``.
    """
    h = tx_hash if isinstance(tx_hash, str) else HexBytes(tx_hash).to_0x_hex()
    trace = rpc(w3, "debug_traceTransaction", h, {"tracer": "callTracer"})
    if not isinstance(trace, dict) or "error" not in trace:
        return None
    reason = trace.get("revertReason")
    if reason:
        return str(reason)
    output = str(trace.get("output") or "")
    return output[:10] if len(output) >= 10 else None
