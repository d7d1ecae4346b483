"""Claim gas limits from measurement, never from a fixed per-epoch guess.

A claim costs a base plus a cost per epoch that depends on the contract: ~45k gas per extra epoch on ours, ~63k on the
genuine PancakePredictionV2, so any fixed figure is too low for some contract from a dozen epochs on. The limit is, in
order of preference:

1. ``eth_estimateGas`` of the very claim, plus ``MARGIN``;
2. when the node will not estimate: a line fitted to our own mined claims on this market (``AccountTx``: gas used
   against the number of epochs paid), plus ``MARGIN``;
3. neither: no limit (``None``) — the caller does not send a claim it cannot size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.outcomes import AccountTx

#: extra gas on top of an estimate or a fitted cost, as a fraction (storage refunds, state changes between)
MARGIN = 0.25


@dataclass(frozen=True, slots=True)
class ClaimGasModel:
    """gas(claim of n epochs) ~ base + per_epoch * n, fitted to measured claims."""

    base: int
    per_epoch: int
    samples: int

    def limit(self, epochs: int) -> int:
        return with_margin(self.base + self.per_epoch * max(1, epochs))


def with_margin(gas: int) -> int:
    return gas + int(gas * MARGIN) + 1


def fit(samples: Sequence[tuple[int, int]]) -> ClaimGasModel | None:
    """Fit (epochs, gas used) samples. One epoch count only: all the gas is charged per epoch (an upper bound for
    larger claims). Two or more: least squares, then raised so that no sample lies above the line."""
    points = [(n, g) for n, g in samples if n > 0 and g > 0]
    if not points:
        return None
    counts = {n for n, _ in points}
    if len(counts) == 1:
        per = max(-(-g // n) for n, g in points)
        return ClaimGasModel(0, per, len(points))
    mean_n = sum(n for n, _ in points) / len(points)
    mean_g = sum(g for _, g in points) / len(points)
    cov = sum((n - mean_n) * (g - mean_g) for n, g in points)
    var = sum((n - mean_n) ** 2 for n, _ in points)
    per = max(1, round(cov / var))
    base = max(0, max(g - per * n for n, g in points))
    return ClaimGasModel(base, per, len(points))


def measured_claims(session: Session, market: str) -> list[tuple[int, int]]:
    """(epochs paid, gas used) of our successful claims on ``market``."""
    rows = session.execute(
        select(AccountTx.epochs, AccountTx.gas_used).where(
            AccountTx.market == market, AccountTx.kind == "claim", AccountTx.status == 1
        )
    ).all()
    return [(len([e for e in epochs.split(",") if e]), int(gas)) for epochs, gas in rows]
