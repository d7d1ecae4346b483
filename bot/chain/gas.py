"""Gas policy: legacy or EIP-1559 from config, node suggestion clamped between a floor and a ceiling."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from web3 import Web3

from bot.config import GasConfig

GWEI = 10**9


def gwei(value: Decimal) -> int:
    return int(value * GWEI)


@dataclass(frozen=True)
class Fees:
    legacy: bool
    gas_price: int = 0
    max_fee: int = 0
    priority_fee: int = 0

    def tx_fields(self) -> dict[str, int]:
        if self.legacy:
            return {"gasPrice": self.gas_price}
        return {"maxFeePerGas": self.max_fee, "maxPriorityFeePerGas": self.priority_fee}

    def bumped(self, percent: int) -> Fees:
        """Fees for a same-nonce replacement (nodes need at least +10 % on every field)."""

        def up(v: int) -> int:
            return v + max(1, v * percent // 100)

        if self.legacy:
            return Fees(True, gas_price=up(self.gas_price))
        return Fees(False, max_fee=up(self.max_fee), priority_fee=up(self.priority_fee))

    @property
    def ceiling_cost_per_gas(self) -> int:
        return self.gas_price if self.legacy else self.max_fee


class GasPolicy:
    def __init__(self, config: GasConfig) -> None:
        self.config = config
        self.floor = gwei(config.floor_gwei)
        self.ceiling = gwei(config.ceiling_gwei)

    def clamp(self, value: int) -> int:
        return max(self.floor, min(self.ceiling, value))

    def fees(self, w3: Web3) -> Fees:
        if self.config.mode == "legacy":
            return Fees(True, gas_price=self.clamp(int(w3.eth.gas_price)))
        block = w3.eth.get_block("latest")
        base = int(block.get("baseFeePerGas", 0) or 0)
        priority = self.clamp(gwei(self.config.priority_gwei))
        max_fee = self.clamp(2 * base + priority)
        return Fees(False, max_fee=max(max_fee, priority), priority_fee=min(priority, max_fee))

    def bump(self, fees: Fees) -> Fees:
        bumped = fees.bumped(self.config.bump_percent)
        if bumped.ceiling_cost_per_gas > self.ceiling:
            # never pay above the ceiling; a replacement that cannot outbid is not sent
            raise ValueError("replacement fee would exceed the gas ceiling")
        return bumped
