"""Per-dialect descriptions: what differs between contract families, as data.

A fork or clone (e.g. BSC's "V2.1" markets) is supported by an ABI file plus one of these descriptions — never by
hard-coded selectors. Selectors and event topics are always computed from the ABI. Field layouts (``round_fields``,
``bet_fields``) name the ABI outputs in order; the adapter decodes every ``rounds``/``ledger``/``getUserRounds`` answer
through them, so a dialect with another struct order is one entry here.
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
    #: the AI dialect sends an empty-winning-side pot to the treasury; V2-family contracts keep it (unclaimable)
    empty_side_to_treasury: bool = False
    extra_getters: tuple[str, ...] = field(default_factory=tuple)
    #: names of a ledger entry's fields (``ledger()`` outputs, ``getUserRounds`` BetInfo components), in ABI order
    bet_fields: tuple[str, ...] = ("position", "amount", "claimed")
    #: the ABI's events are the contract's real ones; False: reconcile from contract reads, never from logs
    events_known: bool = True
    #: accounts with code (smart wallets, EIP-7702 delegations) may bet and claim
    smart_wallets: bool = False

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

#: BSC "V2.1" (docs/prediction-contracts.md 2b): the V2 names with oracleCalled moved to word 8 (and uint64 timestamps,
#: uint80 oracle ids: the types come from the ABI)
_V21_FIELDS = (*_V2_FIELDS[:8], "oracleCalled", *_V2_FIELDS[8:13])

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
V21 = DialectSpec(
    name="v2.1",
    abi_file="PancakePredictionV2_1.json",
    currency="native",
    round_fields=_V21_FIELDS,
    bet_fields=("position", "claimed", "amount"),
    events_known=False,  # not published: reconcile from getUserRounds/rounds reads
    smart_wallets=True,  # "New v2.1 contracts support smart wallets" (PancakeSwap frontend)
)
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
    empty_side_to_treasury=True,
)

DIALECTS: dict[str, DialectSpec] = {d.name: d for d in (V2, V21, V3, AI)}


def dialect_for(name: str) -> DialectSpec:
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown dialect {name!r} (known: {', '.join(DIALECTS)})") from None
