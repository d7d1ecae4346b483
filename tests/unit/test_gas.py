"""Gas policy: the node's suggestion clamped to [floor, ceiling]; replacements bump every fee field by >= 10 % and
never past the ceiling."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.chain.gas import Fees, GasPolicy
from bot.config import GasConfig


class FakeEth:
    def __init__(self, gas_price: int, base_fee: int) -> None:
        self.gas_price = gas_price
        self._base = base_fee

    def get_block(self, _):
        return {"baseFeePerGas": self._base}


class FakeW3:
    def __init__(self, gas_price: int, base_fee: int = 0) -> None:
        self.eth = FakeEth(gas_price, base_fee)


GWEI = 10**9


@given(st.integers(0, 10**12))
def test_legacy_suggestion_is_clamped(price):
    policy = GasPolicy(GasConfig(mode="legacy", floor_gwei=Decimal("1"), ceiling_gwei=Decimal("5")))
    fees = policy.fees(FakeW3(price))
    assert fees.legacy and GWEI <= fees.gas_price <= 5 * GWEI
    assert fees.tx_fields() == {"gasPrice": fees.gas_price}


@given(st.integers(0, 10**12))
def test_eip1559_fees_are_consistent_and_clamped(base):
    policy = GasPolicy(GasConfig(mode="eip1559", floor_gwei=Decimal("0.1"), ceiling_gwei=Decimal("50"),
                                 priority_gwei=Decimal("2")))
    fees = policy.fees(FakeW3(0, base))
    assert fees.priority_fee <= fees.max_fee <= 50 * GWEI
    assert fees.max_fee >= GWEI // 10


def test_bump_raises_every_field_and_respects_the_ceiling():
    policy = GasPolicy(GasConfig(mode="eip1559", ceiling_gwei=Decimal("10"), bump_percent=15))
    fees = Fees(False, max_fee=4 * GWEI, priority_fee=GWEI)
    bumped = policy.bump(fees)
    assert bumped.max_fee >= fees.max_fee * 110 // 100 and bumped.priority_fee >= fees.priority_fee * 110 // 100
    with pytest.raises(ValueError, match="ceiling"):
        policy.bump(Fees(False, max_fee=9 * GWEI, priority_fee=GWEI))
