"""The one contract-call codec and JSON-RPC batch reader: ``AbiFunction`` encodes a call and decodes its answer from
the ABI (no web3 formatters on the hot path), ``rpc_batch`` sends raw JSON-RPC batches and returns every answer in
order, ``batch_eth_call`` reads one function for many arguments. Used by the market adapter (every round, ledger and
getter read) and by the reconciler's transaction reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3
from web3.providers import JSONBaseProvider
from web3.types import RPCEndpoint

from bot.errors import TemporaryError

DEFAULT_BATCH = 200


def rpc_batch(w3: Web3, calls: Sequence[tuple[str, list[Any]]], batch_size: int = DEFAULT_BATCH) -> list[Any]:
    """Answer of each call in order (``None`` for a null result). An error answer raises ``TemporaryError``."""
    out: list[Any] = []
    for start in range(0, len(calls), batch_size):
        chunk = [(RPCEndpoint(m), p) for m, p in calls[start : start + batch_size]]
        if not chunk:
            continue
        provider = cast(JSONBaseProvider, w3.provider)
        answers = provider.make_batch_request(chunk)
        if not isinstance(answers, list):
            raise TemporaryError(f"batch of {len(chunk)} answered with one response: {str(answers)[:120]}")
        by_id = sorted(answers, key=lambda a: int(a.get("id", 0) or 0))
        for (method, _), answer in zip(chunk, by_id, strict=True):
            if "error" in answer and answer["error"]:
                raise TemporaryError(f"{method} failed: {str(answer['error'])[:160]}")
            out.append(answer.get("result"))
    return out


def abi_type(param: dict[str, Any]) -> str:
    """Canonical ABI type of an input/output, tuples expanded (e.g. ``(uint8,uint256,bool)[]``)."""
    kind = str(param["type"])
    if kind.startswith("tuple"):
        return "(" + ",".join(abi_type(c) for c in param.get("components", [])) + ")" + kind[len("tuple") :]
    return kind


@dataclass(frozen=True, slots=True)
class AbiFunction:
    """One contract function from its ABI: encode a call, decode its answer (no web3 formatters on the hot path)."""

    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @classmethod
    def from_abi(cls, abi: Sequence[dict[str, Any]], name: str) -> AbiFunction:
        for item in abi:
            if item.get("type") == "function" and item.get("name") == name:
                inputs = tuple(abi_type(i) for i in item.get("inputs", []))
                outputs = tuple(abi_type(o) for o in item.get("outputs", []))
                return cls(name, function_signature_to_4byte_selector(f"{name}({','.join(inputs)})"), inputs, outputs)
        raise ValueError(f"function {name!r} is not in the ABI")

    def encode(self, *args: Any) -> str:
        return "0x" + (self.selector + abi_encode(list(self.inputs), list(args))).hex()

    def decode(self, result: str) -> tuple[Any, ...]:
        return tuple(abi_decode(list(self.outputs), bytes.fromhex(result.removeprefix("0x"))))


def batch_eth_call(
    w3: Web3,
    to: str,
    fn: AbiFunction,
    args: Sequence[tuple[Any, ...]],
    block: int | str = "latest",
    batch_size: int = DEFAULT_BATCH,
) -> list[tuple[Any, ...]]:
    """``fn(*a)`` for every ``a`` in ``args`` at ``block``, as raw JSON-RPC batches of ``eth_call``."""
    tag = block if isinstance(block, str) else hex(block)
    calls = [("eth_call", [{"to": to, "data": fn.encode(*a)}, tag]) for a in args]
    return [fn.decode(str(result)) for result in rpc_batch(w3, calls, batch_size)]
