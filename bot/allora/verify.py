"""Is an inference fit to trade on? Trust, freshness and sanity checks (pure).

Consumer API inferences are trusted per topic (``bot.allora.trust``): ``signature`` recovers the signer of the
AlloraConsumer digest and, when ``signature.required``, needs it in ``signature.trusted_signers``; ``chain`` leaves
the decision to the chain comparison the poller makes after these checks (``trust.chain_agreement``);
``api-key-tls`` accepts and labels the verdict unverified. Chain bundles are authenticated by the node we query and
carry no signature. Freshness: within the topic's replay window (at most one epoch) and at most
``max_future_seconds`` ahead; sanity: finite, in range, ``|log-return|`` within the topic's jump limit. Every
rejection has a typed ``RejectReason``.
"""

from __future__ import annotations

from decimal import Decimal

from bot.allora.digest import inference_digest, recover_signer
from bot.allora.kinds import kind_of
from bot.allora.model import Inference, Verdict
from bot.allora.reasons import RejectReason
from bot.allora.trust import UNVERIFIED, jump_limit, replay_window
from bot.config import AlloraConfig, SignatureConfig, TopicConfig


def check_signature(inference: Inference, config: SignatureConfig) -> Verdict:
    """Recover the signer; reject unsigned/unrecoverable/untrusted data when signatures are required."""
    data = inference.consumer_data
    if data is None or not inference.signature:
        return Verdict(RejectReason.UNSIGNED, "no signature") if config.required else Verdict()
    try:
        digest = inference_digest(data, config.consumer_chain_id, config.consumer_address)
        signer = recover_signer(digest, inference.signature)
    except ValueError as exc:
        if config.required:
            return Verdict(RejectReason.BAD_SIGNATURE, str(exc))
        return Verdict(detail=f"signature ignored: {exc}")
    trusted = {address.lower() for address in config.trusted_signers}
    if config.required and signer.lower() not in trusted:
        return Verdict(RejectReason.UNTRUSTED_SIGNER, f"signed by {signer}", signer=signer)
    return Verdict(signer=signer)


def _finite(inference: Inference) -> bool:
    numbers = [inference.value, *inference.interval_values, *(value for _, value in inference.labels)]
    return all(number.is_finite() for number in numbers)


def predicted_jump(inference: Inference, topic: TopicConfig, reference_price: Decimal | None) -> float | None:
    """|predicted log-return| when it can be known without a model (None for classification or unknown reference)."""
    try:
        predicted = kind_of(topic.kind).predicted_log_return(inference.value, reference_price)
    except ValueError:  # a price <= 0: check_values rejects it by name
        return None
    return None if predicted is None else abs(predicted)


def check_values(inference: Inference, topic: TopicConfig, max_jump: float, reference_price: Decimal | None) -> Verdict:
    if not _finite(inference):
        return Verdict(RejectReason.NOT_A_NUMBER, "value or interval is NaN/infinite")
    problem = kind_of(topic.kind).value_problem(inference.value, tuple(value for _, value in inference.labels))
    if problem is not None:
        return Verdict(*problem)
    jump = predicted_jump(inference, topic, reference_price)
    if jump is not None and jump > max_jump:
        return Verdict(RejectReason.ABSURD_JUMP, f"|log-return| {jump:.4f} > {max_jump}")
    return Verdict()


def check_time(inference: Inference, config: AlloraConfig, topic: TopicConfig, now: float) -> Verdict:
    ahead = inference.timestamp - now
    if ahead > config.max_future_seconds:
        return Verdict(RejectReason.FUTURE, f"timestamp {ahead:.0f}s in the future (> {config.max_future_seconds}s)")
    age = now - inference.timestamp
    window = replay_window(config, topic)
    if age > window:
        return Verdict(RejectReason.STALE, f"age {age:.0f}s > {window}s (replay window: one topic epoch at most)")
    return Verdict()


def verify(
    inference: Inference,
    config: AlloraConfig,
    topic: TopicConfig,
    now: float,
    *,
    reference_price: Decimal | None = None,
) -> Verdict:
    """Trust (API only: the topic's mode), then time, then values. The verdict carries the recovered signer; an
    ``api-key-tls`` verdict says it is unverified; a ``chain`` one still needs the poller's chain comparison."""
    signer: str | None = None
    detail = ""
    if inference.source == "api" and topic.trust == "signature":
        signed = check_signature(inference, config.signature)
        if not signed.accepted:
            return signed
        signer = signed.signer
    elif inference.source == "api" and topic.trust == "api-key-tls":
        detail = UNVERIFIED
    for verdict in (
        check_time(inference, config, topic, now),
        check_values(inference, topic, jump_limit(config, topic), reference_price),
    ):
        if not verdict.accepted:
            return Verdict(verdict.reason, verdict.detail, signer=signer)
    return Verdict(detail=detail, signer=signer)
