"""The compiled artifacts are fresh, and our contracts expose exactly the public interface in abis/."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from eth_utils import abi_to_signature, event_abi_to_log_topic, function_abi_to_4byte_selector

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "contracts" / "build"
ABIS = ROOT / "abis"

# our artifact -> the public ABI it must match exactly
EXACT = {
    "PredictionV2": "PancakePredictionV2",
    "PredictionV3": "PancakePredictionV3",
    "AIPrediction": "PancakeAIPrediction",
}

# The few selectors docs/prediction-contracts.md states; everything else is computed from the ABI.
DOCUMENTED = {
    "PancakePredictionV2": {
        "betBull(uint256)": "0x57fb096f",
        "betBear(uint256)": "0xaa6b873a",
        "claim(uint256[])": "0x6ba4c138",
        "claimable(uint256,address)": "0xa0c7f71c",
        "refundable(uint256,address)": "0x7bf41254",
        "getUserRounds(address,uint256,uint256)": "0x951fd600",
        "getUserRoundsLength(address)": "0x273867d4",
        "currentEpoch()": "0x76671808",
        "rounds(uint256)": "0x8c65c81f",
        "ledger(uint256,address)": "0x7285c58b",
        "intervalSeconds()": "0x7d1cd04f",
        "bufferSeconds()": "0xeaba2361",
        "minBetAmount()": "0xfa968eea",
        "treasuryFee()": "0xcc32d176",
        "paused()": "0x5c975abb",
    },
    "PancakePredictionV3": {"betBull(uint256,uint256)": "0x3923e1b4", "betBear(uint256,uint256)": "0x0e89e5a4"},
    "PancakeAIPrediction": {"betBull(uint256)": "0x57fb096f", "betBear(uint256)": "0xaa6b873a"},
}


def _abi(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    return data["abi"] if isinstance(data, dict) else data


def _functions(abi: list[dict[str, Any]]) -> dict[str, tuple[str, tuple[str, ...], str]]:
    """selector -> (signature, output types, state mutability)"""
    out = {}
    for e in abi:
        if e["type"] == "function":
            outputs = tuple(_type(o) for o in e.get("outputs", []))
            out["0x" + function_abi_to_4byte_selector(e).hex()] = (abi_to_signature(e), outputs, e["stateMutability"])
    return out


def _events(abi: list[dict[str, Any]]) -> dict[str, tuple[str, tuple[bool, ...]]]:
    """topic0 -> (signature, indexed flags)"""
    return {
        "0x" + event_abi_to_log_topic(e).hex(): (abi_to_signature(e), tuple(i["indexed"] for i in e["inputs"]))
        for e in abi
        if e["type"] == "event"
    }


def _errors(abi: list[dict[str, Any]]) -> set[str]:
    return {abi_to_signature(e) for e in abi if e["type"] == "error"}


def _type(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        return "(" + ",".join(_type(c) for c in param["components"]) + ")" + param["type"][len("tuple") :]
    return str(param["type"])


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed: cannot recompile the contracts")
def test_build_artifacts_are_fresh() -> None:
    proc = subprocess.run(
        ["node", str(ROOT / "contracts" / "compile.js"), "--check"], capture_output=True, text=True, timeout=240
    )
    if "Cannot find module" in proc.stderr and "solc" in proc.stderr:
        pytest.skip("solc-js not installed (npm ci)")
    assert proc.returncode == 0, f"contracts/build is stale; run `node contracts/compile.js`\n{proc.stderr}"


@pytest.mark.parametrize("ours,public", sorted(EXACT.items()))
def test_contract_exposes_exactly_the_public_abi(ours: str, public: str) -> None:
    built, ref = _abi(BUILD / f"{ours}.json"), _abi(ABIS / f"{public}.json")
    assert _functions(built) == _functions(ref)
    assert _events(built) == _events(ref)
    assert _errors(built) == _errors(ref)
    ctor = [tuple(_type(i) for i in e["inputs"]) for e in built if e["type"] == "constructor"]
    ref_ctor = [tuple(_type(i) for i in e["inputs"]) for e in ref if e["type"] == "constructor"]
    assert ctor == ref_ctor


def test_mock_aggregator_implements_aggregator_v3() -> None:
    built, ref = _functions(_abi(BUILD / "MockAggregator.json")), _functions(_abi(ABIS / "AggregatorV3Interface.json"))
    assert ref.items() <= built.items()
    assert "updateAnswer(int256)" in {sig for sig, _, _ in built.values()}


def test_test_token_implements_erc20() -> None:
    built, ref = _abi(BUILD / "TestToken.json"), _abi(ABIS / "ERC20.json")
    assert _functions(ref).items() <= _functions(built).items()
    assert _events(ref) == _events(built)


@pytest.mark.parametrize("public", sorted(DOCUMENTED))
def test_documented_selectors(public: str) -> None:
    by_signature = {sig: sel for sel, (sig, _, _) in _functions(_abi(ABIS / f"{public}.json")).items()}
    for signature, selector in DOCUMENTED[public].items():
        assert by_signature[signature] == selector, signature


def test_dialect_shapes_differ_where_documented() -> None:
    """AI events carry uint128 amounts/prices, so their topics differ from V2's; V3 bets are not payable."""
    v2, v3, ai = (
        _abi(ABIS / f"{n}.json") for n in ("PancakePredictionV2", "PancakePredictionV3", "PancakeAIPrediction")
    )
    v2_events = {sig.split("(")[0]: topic for topic, (sig, _) in _events(v2).items()}
    ai_events = {sig.split("(")[0]: topic for topic, (sig, _) in _events(ai).items()}
    for name in ("BetBull", "BetBear", "StartRound", "LockRound", "EndRound"):
        assert v2_events[name] != ai_events[name], name
    for name in ("Claim", "RewardsCalculated"):
        assert v2_events[name] == ai_events[name], name
    payable = {sig for sig, _, mut in _functions(v3).values() if mut == "payable"}
    assert payable == set()
    ai_rounds = next(outs for sig, outs, _ in _functions(ai).values() if sig == "rounds(uint256)")
    assert len(ai_rounds) == 12 and ai_rounds[:3] == ("uint32",) * 3
    v2_rounds = next(outs for sig, outs, _ in _functions(v2).values() if sig == "rounds(uint256)")
    assert len(v2_rounds) == 14


def test_v21_contract_exposes_the_v21_interface() -> None:
    """Our V2.1 market answers every function of abis/PancakePredictionV2_1.json with the same outputs; that ABI has the
    V2 selectors with the documented V2.1 layouts and lists no events (the real ones are not published)."""
    built, ref, v2 = (
        _abi(p) for p in (BUILD / "PredictionV21.json", ABIS / "PancakePredictionV2_1.json", ABIS / "PancakePredictionV2.json")
    )
    assert _functions(built) == _functions(ref)
    assert _events(ref) == {} and _errors(ref) == set()
    assert set(_functions(ref)) == set(_functions(v2))  # same selectors as V2 ...
    outs = {sig: o for sig, o, _ in _functions(ref).values()}
    assert outs["rounds(uint256)"] == (
        "uint256", "uint64", "uint64", "uint64", "int256", "int256", "uint80", "uint80", "bool",
        "uint256", "uint256", "uint256", "uint256", "uint256",
    )  # fmt: skip
    assert outs["ledger(uint256,address)"] == ("uint8", "bool", "uint256")  # ... other layouts
    assert outs["getUserRounds(address,uint256,uint256)"] == ("uint256[]", "(uint8,bool,uint256)[]", "uint256")
