"""Per-dialect descriptions: what differs between contract families, as data.

A fork or clone (e.g. BSC's "V2.1" markets) is supported by an ABI file plus one of these descriptions — never by
hard-coded selectors. Selectors and event topics are always computed from the ABI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

ABI_DIR = Path(__file__).resolve().parents[2] / "abis"


@dataclass(frozen=True)
class DialectSpec:
    name: str
    abi_file: str
    currency: Literal["native", "erc20"]
    #: names of the ``rounds(epoch)`` outputs, in ABI order (epoch may be absent)
    round_fields: tuple[str, ...]
    #: True when Bull means "the AI is right" rather than "price goes up"
    ai_positions: bool = False
    bet_bull: str = "betBull"
    bet_bear: str = "betBear"
    #: the bet takes the stake as an argument (ERC-20) instead of msg.value
    bet_takes_amount: bool = False
    claim: str = "claim"
    price_decimals: int = 8
    #: our own contracts (and the AI dialect) send an empty-winning-side pot to the treasury; original V2 locks it
    empty_side_to_treasury: bool = True
    extra_getters: tuple[str, ...] = field(default_factory=tuple)

    def abi_path(self, abi_dir: Path | None = None) -> Path:
        return (abi_dir or ABI_DIR) / self.abi_file


_V2_FIELDS = (
    "epoch",
    "startTimestamp",
    "lockTimestamp",
    "closeTimestamp",
    "lockPrice",
    "closePrice",
    "lockOracleId",
    "closeOracleId",
    "totalAmount",
    "bullAmount",
    "bearAmount",
    "rewardBaseCalAmount",
    "rewardAmount",
    "oracleCalled",
)

_AI_FIELDS = (
    "startTimestamp",
    "lockTimestamp",
    "closeTimestamp",
    "AIPrice",
    "lockPrice",
    "closePrice",
    "totalAmount",
    "bullAmount",
    "bearAmount",
    "rewardBaseCalAmount",
    "rewardAmount",
    "oracleCalled",
)

V2 = DialectSpec(name="v2", abi_file="PancakePredictionV2.json", currency="native", round_fields=_V2_FIELDS)
V3 = DialectSpec(
    name="v3",
    abi_file="PancakePredictionV3.json",
    currency="erc20",
    round_fields=_V2_FIELDS,
    bet_takes_amount=True,
    extra_getters=("token",),
)
AI = DialectSpec(
    name="ai",
    abi_file="PancakeAIPrediction.json",
    currency="native",
    round_fields=_AI_FIELDS,
    ai_positions=True,
    price_decimals=18,
)

DIALECTS: dict[str, DialectSpec] = {d.name: d for d in (V2, V3, AI)}


def dialect_for(name: str) -> DialectSpec:
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown dialect {name!r} (known: {', '.join(DIALECTS)})") from None
