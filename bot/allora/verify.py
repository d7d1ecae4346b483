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

from decimal import Decimal, localcontext

from bot.allora.digest import inference_digest, recover_signer
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
    if topic.kind == "log-return":
        return abs(float(inference.value))
    if topic.kind == "price" and reference_price is not None and reference_price > 0 and inference.value > 0:
        with localcontext() as ctx:
            ctx.prec = 40
            return abs(float((inference.value / reference_price).ln()))
    return None


def check_values(inference: Inference, topic: TopicConfig, max_jump: float, reference_price: Decimal | None) -> Verdict:
    if not _finite(inference):
        return Verdict(RejectReason.NOT_A_NUMBER, "value or interval is NaN/infinite")
    if topic.kind == "price" and inference.value <= 0:
        return Verdict(RejectReason.NEGATIVE_PRICE, f"price {inference.value}")
    if topic.kind == "classification":
        values = [value for _, value in inference.labels] or [inference.value]
        if any(value < 0 or value > 1 for value in values):
            return Verdict(RejectReason.OUT_OF_RANGE, "probability outside [0, 1]")
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
