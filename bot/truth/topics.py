"""What the truth service knows about a topic: kind, horizon, labels, asset, and which markets' rounds measure it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.allora.kinds import KINDS as _KINDS

KINDS = tuple(_KINDS)  # the topic kinds, each described in bot.allora.kinds

UP_LABELS = frozenset({"up", "bull", "higher", "long", "rise", "increase"})
DOWN_LABELS = frozenset({"down", "bear", "lower", "short", "fall", "decrease"})
FLAT_LABELS = frozenset({"flat", "mid", "unchanged", "draw", "neutral", "same"})

# Token aliases people put in offchain-node configs (CoinGecko ids): mapped to tickers.
TOKEN_ALIASES = {"BITCOIN": "BTC", "ETHEREUM": "ETH", "BINANCECOIN": "BNB", "SOLANA": "SOL", "ARBITRUM": "ARB"}


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One Allora topic as the truth service serves it. ``markets``: names of markets whose rounds measure it."""

    name: str
    topic_id: int
    kind: str = "log-return"
    horizon_seconds: int = 300
    asset: str = "BTC"
    labels: tuple[str, ...] = ("up", "down")
    markets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"topic {self.name}: unknown kind {self.kind!r} (one of {', '.join(KINDS)})")
        if self.horizon_seconds <= 0:
            raise ValueError(f"topic {self.name}: horizon_seconds must be > 0")

    @classmethod
    def from_config(cls, topic: Any, markets: Iterable[Any] = ()) -> TopicSpec:
        """From a ``bot.config.TopicConfig`` (and the ``MarketConfig`` list: markets whose ``topic`` names it)."""
        mapped = tuple(
            m.name for m in markets if getattr(m, "topic", None) == topic.name and getattr(m, "enabled", True)
        )
        return cls(
            name=topic.name,
            topic_id=int(topic.topic_id),
            kind=topic.kind,
            horizon_seconds=int(topic.horizon_seconds),
            asset=str(topic.asset).upper(),
            labels=tuple(topic.labels),
            markets=mapped,
        )


def topics_from_settings(settings: Any) -> list[TopicSpec]:
    """Every ``allora.topics`` entry of a ``bot.config.Settings``, with the markets mapped to it."""
    return [TopicSpec.from_config(t, settings.markets) for t in settings.allora.topics]


def as_specs(topics: Sequence[Any]) -> list[TopicSpec]:
    return [t if isinstance(t, TopicSpec) else TopicSpec.from_config(t) for t in topics]


def token_matches(token: str | None, asset: str) -> bool:
    """A ``{Token}`` parameter such as ``BTC``, ``btcusd``, ``BTC/USDT`` or ``bitcoin`` names ``asset`` (empty: any)."""
    if token is None or not token.strip() or (token.startswith("{") and token.endswith("}")):
        return True  # not given, or a template placeholder the node config left unfilled
    norm = re.sub(r"[^A-Za-z0-9]", "", token).upper()
    norm = TOKEN_ALIASES.get(norm, norm)
    return norm.startswith(asset.upper())


def label_class(label: str) -> str | None:
    key = label.strip().lower()
    if key in UP_LABELS:
        return "up"
    if key in DOWN_LABELS:
        return "down"
    if key in FLAT_LABELS:
        return "flat"
    return None


def labeled_values(labels: Sequence[str], direction: int) -> list[dict[str, str]]:
    """One-hot ``[{"label","value"}]`` in the topic's label order for a realised direction (+1 up, -1 down, 0 flat).

    A flat outcome is the ``flat``-class label when the topic has one; otherwise it counts as "not up" (down = 1),
    which is how a binary up/down question resolves a tie. Raises ``ValueError`` for a label we cannot interpret.
    """
    classes = [label_class(label) for label in labels]
    unknown = [label for label, c in zip(labels, classes, strict=True) if c is None]
    if unknown:
        raise ValueError(f"cannot map labels {unknown} to up/down/flat")
    realised = "up" if direction > 0 else "down" if direction < 0 else "flat"
    if realised == "flat" and "flat" not in classes:
        realised = "down"
    return [{"label": label, "value": "1" if c == realised else "0"} for label, c in zip(labels, classes, strict=True)]
