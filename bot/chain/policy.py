"""Signing policy: the one place that decides whether a transaction may be signed. Pure (no I/O).

The decision is made on the exact fields that will be signed — chain id, ``to``, ``value`` and the calldata, decoded
here (4-byte selector + strict ABI words) — never on a caller's label or a caller's amount. Allowed, and nothing else:

- ``betBull``/``betBear`` to an enabled configured market, with that market's dialect selectors (computed from its ABI):
  native form ``bet(uint256 epoch)`` with ``value`` = the stake; ERC-20 form ``bet(uint256 epoch, uint256 amount)``
  with ``value == 0`` (V3; only when the market's stake token is pinned in the config). The stake (``value`` or the
  ``amount`` argument) must be > 0 and <= the per-bet cap;
- ``claim(uint256[] epochs)`` to an enabled configured market, ``value == 0``, at least one epoch;
- ``approve(address spender, uint256 amount)`` to a token pinned in the config for an enabled ERC-20 market,
  ``value == 0``, the spender an enabled market staking that very token, ``amount`` <= the per-bet cap.

Calldata must be the canonical ABI encoding of exactly those arguments: truncated or padded data, a non-canonical
dynamic-array offset or an address word with high bits set is refused. Disabled markets are not in the policy at all.
``SigningPolicy.check`` returns a typed ``Permit`` (what the bytes do) or raises ``PolicyRefusal`` with one line.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from bot.domain import Position
from bot.errors import NeedsHuman

if TYPE_CHECKING:
    from bot.markets.base import PredictionMarket

WORD = 32
APPROVE = function_signature_to_4byte_selector("approve(address,uint256)")


class PolicyRefusal(NeedsHuman):
    """The signing policy refused a transaction (nothing was signed). A ``NeedsHuman``: on the bet path the executor
    journals the intent as failed with this reason and lets it through, and the daemon pauses betting."""


class Action(enum.StrEnum):
    BET = "bet"
    CLAIM = "claim"
    APPROVE = "approve"


@dataclass(frozen=True)
class MarketRule:
    """What may be sent to one enabled market (selectors from its ABI, the pinned stake token for ERC-20 markets)."""

    name: str
    address: str
    bet_bull: bytes
    bet_bear: bytes
    claim: bytes
    stake_in_args: bool  # ERC-20 form: bet(epoch, amount) with value 0
    token: str | None = None  # pinned stake token (ERC-20 markets); None: an ERC-20 market cannot be traded

    @property
    def tradeable(self) -> bool:
        return not self.stake_in_args or self.token is not None


@dataclass(frozen=True)
class Permit:
    """What an allowed transaction does, decoded from its bytes."""

    action: Action
    market: str  # the market bet on / claimed from / approved as spender
    amount: int  # bet: the stake; approve: the allowance; claim: 0
    epochs: tuple[int, ...] = ()
    position: Position | None = None


def rule_for(market: PredictionMarket, token: str | None = None) -> MarketRule:
    """The rule of an (enabled) market: its dialect's bet and claim selectors from its ABI, its pinned stake token."""
    spec = market.spec
    return MarketRule(
        name=market.name,
        address=market.address,
        bet_bull=market.selector(spec.bet_bull),
        bet_bear=market.selector(spec.bet_bear),
        claim=market.selector(spec.claim),
        stake_in_args=spec.bet_takes_amount,
        token=token if spec.bet_takes_amount else None,
    )


def _address_key(address: str | bytes) -> bytes:
    if isinstance(address, bytes):
        return address
    return bytes.fromhex(address.removeprefix("0x").removeprefix("0X"))


def _word(data: bytes, index: int) -> int:
    start = 4 + WORD * index
    return int.from_bytes(data[start : start + WORD], "big")


def _hex(selector: bytes) -> str:
    return "0x" + selector.hex()


class SigningPolicy:
    """The allowlist of one chain: its enabled markets and their pinned tokens, and the per-bet cap."""

    __slots__ = ("chain_id", "max_stake_per_bet", "rules", "_markets", "_tokens")

    def __init__(self, chain_id: int, rules: Iterable[MarketRule], max_stake_per_bet: int) -> None:
        if isinstance(max_stake_per_bet, bool) or not isinstance(max_stake_per_bet, int) or max_stake_per_bet <= 0:
            raise ValueError("max_stake_per_bet: a positive int (wei)")
        self.chain_id = chain_id
        self.max_stake_per_bet = max_stake_per_bet
        self.rules = tuple(rules)
        self._markets: dict[bytes, MarketRule] = {}
        self._tokens: dict[bytes, dict[bytes, MarketRule]] = {}  # token -> spender market -> rule
        for rule in self.rules:
            key = _address_key(rule.address)
            if len(key) != 20:
                raise ValueError(f"market {rule.name}: not a 20-byte address")
            self._markets[key] = rule
            if rule.stake_in_args and rule.token is not None:
                self._tokens.setdefault(_address_key(rule.token), {})[key] = rule
        clash = set(self._markets) & set(self._tokens)
        if clash:
            raise ValueError(f"{to_checksum_address(clash.pop())} is configured both as a market and as a stake token")

    def check(self, chain_id: int, to: str | bytes, value: int, data: bytes) -> Permit:
        """The ``Permit`` for these exact fields, or ``PolicyRefusal`` naming why not."""
        if chain_id != self.chain_id:
            raise PolicyRefusal(f"refusing to sign for chain id {chain_id}: this signer is for chain id {self.chain_id}")
        target = _address_key(to)
        if value < 0:
            raise PolicyRefusal("refusing to sign: negative value")
        if len(data) < 4:
            raise PolicyRefusal(f"refusing to sign a call to {self._name(target)} without a function selector")
        rule = self._markets.get(target)
        if rule is not None:
            return self._market_call(rule, value, data)
        spenders = self._tokens.get(target)
        if spenders is not None:
            return self._approve(target, spenders, value, data)
        raise PolicyRefusal(f"refusing to sign: {self._name(target)} is not an enabled configured market or pinned token")

    # -- markets -------------------------------------------------------------------------------------------------------
    def _market_call(self, rule: MarketRule, value: int, data: bytes) -> Permit:
        selector = data[:4]
        if selector in (rule.bet_bull, rule.bet_bear):
            return self._bet(rule, value, data)
        if selector == rule.claim:
            return self._claim(rule, value, data)
        raise PolicyRefusal(f"refusing to sign function {_hex(selector)} on market {rule.name}: only betBull, betBear "
                            "and claim are signed for a market")

    def _bet(self, rule: MarketRule, value: int, data: bytes) -> Permit:
        position = Position.BULL if data[:4] == rule.bet_bull else Position.BEAR
        if not rule.tradeable:
            raise PolicyRefusal(f"refusing to bet on market {rule.name}: its stake token is not pinned in the config")
        if rule.stake_in_args:
            if len(data) != 4 + 2 * WORD:
                raise PolicyRefusal(f"refusing to sign a malformed bet on {rule.name}: {len(data)} bytes of calldata, "
                                    f"expected {4 + 2 * WORD}")
            if value != 0:
                raise PolicyRefusal(f"refusing to sign a bet on {rule.name} (ERC-20 stake) carrying {value} wei")
            stake = _word(data, 1)
        else:
            if len(data) != 4 + WORD:
                raise PolicyRefusal(f"refusing to sign a malformed bet on {rule.name}: {len(data)} bytes of calldata, "
                                    f"expected {4 + WORD}")
            stake = value
        if stake <= 0:
            raise PolicyRefusal(f"refusing to sign a bet of 0 on {rule.name}")
        if stake > self.max_stake_per_bet:
            raise PolicyRefusal(f"refusing to sign a bet of {stake} wei on {rule.name}: above the per-bet cap "
                                f"{self.max_stake_per_bet}")
        return Permit(Action.BET, rule.name, stake, (_word(data, 0),), position)

    def _claim(self, rule: MarketRule, value: int, data: bytes) -> Permit:
        if value != 0:
            raise PolicyRefusal(f"refusing to sign a claim on {rule.name} carrying {value} wei")
        if len(data) < 4 + 2 * WORD or _word(data, 0) != WORD:
            raise PolicyRefusal(f"refusing to sign a malformed claim on {rule.name}")
        count = _word(data, 1)
        if count == 0 or len(data) != 4 + 2 * WORD + count * WORD:
            raise PolicyRefusal(f"refusing to sign a malformed claim on {rule.name}: {len(data)} bytes of calldata "
                                f"for {count} epoch(s)")
        return Permit(Action.CLAIM, rule.name, 0, tuple(_word(data, 2 + i) for i in range(count)))

    # -- tokens --------------------------------------------------------------------------------------------------------
    def _approve(self, token: bytes, spenders: dict[bytes, MarketRule], value: int, data: bytes) -> Permit:
        where = f"token {to_checksum_address(token)}"
        if data[:4] != APPROVE:
            raise PolicyRefusal(f"refusing to sign function {_hex(data[:4])} on {where}: only approve is signed for a "
                                "token")
        if len(data) != 4 + 2 * WORD:
            raise PolicyRefusal(f"refusing to sign a malformed approve on {where}: {len(data)} bytes of calldata")
        if value != 0:
            raise PolicyRefusal(f"refusing to sign an approve on {where} carrying {value} wei")
        spender_word = data[4 : 4 + WORD]
        if any(spender_word[:12]):
            raise PolicyRefusal(f"refusing to sign a malformed approve on {where}: the spender is not an address")
        spender = spender_word[12:]
        rule = spenders.get(spender)
        if rule is None:
            raise PolicyRefusal(f"refusing to approve {to_checksum_address(spender)} on {where}: the spender is not an "
                                "enabled market staking this token")
        amount = _word(data, 1)
        if amount > self.max_stake_per_bet:
            raise PolicyRefusal(f"refusing to approve {amount} on {where} for {rule.name}: above the per-bet cap "
                                f"{self.max_stake_per_bet}")
        return Permit(Action.APPROVE, rule.name, amount)

    def _name(self, target: bytes) -> str:
        return to_checksum_address(target) if len(target) == 20 else f"0x{target.hex()} (not a 20-byte address)"
