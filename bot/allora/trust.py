"""Inference trust, chosen per topic (``allora.topics[].trust``): how an API inference earns the right to be traded on.

Modes:
- ``signature``: a signer in ``allora.signature.trusted_signers`` signed the AlloraConsumer digest. The digest covers
  the value, timestamp, topic, extra data and confidence arrays; it does not cover ``token_decimals``, so the scale
  comes from the topic config (``token_decimals``) and a payload announcing another scale is refused (``rescaled``).
- ``chain``: the API value is accepted only when it agrees, within ``chain_tolerance`` (relative to
  ``max(|chain value|, volatility)``), with the network inference (``combined_value``) read from the Allora chain for
  the same topic through allora-sdk's emissions client (``allora.rpc_url``, ``emissions_version`` v10 on mainnet).
- ``api-key-tls``: explicit opt-in; the value is taken on the API key and TLS alone and labelled ``unverified`` in the
  inference log and the logs.
Whatever the mode: the replay window is at most one topic epoch (``replay_window``), a future-dated inference at most
``allora.max_future_seconds`` ahead, and ``|predicted log-return|`` at most ``jump_sigmas`` x the topic's volatility
(``jump_limit``). :func:`never_bets` says, per market, why a config can never bet and how to fix it (``config check``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.allora.model import Inference, Verdict
from bot.allora.reasons import RejectReason
from bot.config import AlloraConfig, Settings, TopicConfig

UNVERIFIED = "unverified (api-key-tls: no signature or chain check)"


def replay_window(config: AlloraConfig, topic: TopicConfig) -> int:
    """Oldest inference accepted, in seconds: ``allora.max_age_seconds``, and never more than one topic epoch."""
    return min(config.max_age_seconds, topic.epoch_seconds or topic.horizon_seconds)


def jump_limit(config: AlloraConfig, topic: TopicConfig) -> float:
    """Largest |predicted log-return| accepted: ``jump_sigmas`` x the topic's volatility, capped by ``max_jump``."""
    return min(config.max_jump, config.jump_sigmas * topic.volatility)


def chain_agreement(api: Inference, chain: Inference, topic: TopicConfig) -> Verdict:
    """Accept ``api`` when its value is within the topic's tolerance of the chain's network inference."""
    scale = max(abs(chain.value), Decimal(str(topic.volatility)))
    tolerance = Decimal(str(topic.chain_tolerance)) * scale
    gap = abs(api.value - chain.value)
    detail = f"api {api.value} vs chain {chain.value} (block {chain.block_height}), tolerance {tolerance:.3g}"
    if gap > tolerance:
        return Verdict(RejectReason.CHAIN_DISAGREES, detail)
    return Verdict(detail=f"chain-confirmed: {detail}")


@dataclass(frozen=True)
class Blocker:
    """Why ``market`` can never bet, and the fix."""

    market: str
    why: str
    fix: str

    def line(self) -> str:
        return f"market {self.market} can never bet: {self.why} — fix: {self.fix}"


def _topic_blocker(settings: Settings, topic: TopicConfig) -> tuple[str, str] | None:
    allora = settings.allora
    if allora.source != "api":
        if allora.source == "rpc" and not allora.rpc_url:
            return "allora.source is rpc but allora.rpc_url is not set", "set allora.rpc_url (rest+https://...)"
        return None
    if topic.trust == "signature":
        if allora.signature.required and not allora.signature.trusted_signers:
            return (f"topic {topic.name} trusts signatures, but allora.signature.trusted_signers is empty (Allora "
                    "publishes no signer for its consumer API), so every inference is rejected",
                    f"set allora.topics[{topic.name}].trust: chain with allora.rpc_url (the value must agree with the "
                    "Allora chain), or add the signer you trust to allora.signature.trusted_signers, or opt in to "
                    "trust: api-key-tls (unverified)")
    elif topic.trust == "chain" and not allora.rpc_url:
        return (f"topic {topic.name} trusts the chain, but allora.rpc_url is not set",
                "set allora.rpc_url to an Allora node (rest+https://... or grpc+https://...)")
    return None


def never_bets(settings: Settings) -> list[Blocker]:
    """Every enabled market with a topic whose inferences can never be accepted, with why and the fix."""
    blockers: list[Blocker] = []
    for market in settings.markets:
        if not market.enabled or market.topic is None:
            continue
        found = _topic_blocker(settings, settings.topic(market.topic))
        if found is not None:
            blockers.append(Blocker(market.name, *found))
    return blockers


def describe(settings: Settings) -> dict[str, str]:
    """One line per topic: its trust mode and windows (shown by ``config check``)."""
    allora = settings.allora
    lines: dict[str, str] = {}
    for topic in allora.topics:
        mode = topic.trust if allora.source == "api" else f"{allora.source} source (the node we query)"
        if allora.source == "api" and topic.trust == "api-key-tls":
            mode += " — UNVERIFIED"
        lines[topic.name] = (f"trust {mode}; replay window {replay_window(allora, topic)} s, future skew "
                             f"{allora.max_future_seconds} s, max |log-return| {jump_limit(allora, topic):.4g}")
    return lines
