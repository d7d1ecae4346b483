"""Trust, freshness and sanity checks, each with its typed reason: the replay window is one topic epoch at most, the
future skew a few seconds, the jump limit a multiple of the topic's volatility."""

from __future__ import annotations

from decimal import Decimal

from bot.allora.model import Inference
from bot.allora.reasons import RejectReason
from bot.allora.verify import verify
from bot.config import AlloraConfig, SignatureConfig
from tests.allora.conftest import LOG_RETURN, PRICE, UPDOWN

CONFIG = AlloraConfig(max_age_seconds=600, max_future_seconds=5, max_jump=0.2, signature=SignatureConfig(required=True))


def chain(value: str, *, ts: int = 1000, topic_id: int = 14, labels: tuple[tuple[str, Decimal], ...] = (),
          intervals: tuple[Decimal, ...] = ()) -> Inference:
    return Inference(topic_name="t", topic_id=topic_id, value=Decimal(value), decimals=18, timestamp=ts, source="rpc",
                     raw=b"", labels=labels, interval_values=intervals, percentiles=tuple(Decimal(1) for _ in intervals))


def test_fresh_chain_inference_is_accepted_without_signature() -> None:
    assert verify(chain("0.01"), CONFIG, LOG_RETURN, now=1100).accepted


def test_time_window() -> None:
    # the 5-minute topic: a 600 s max_age is capped at one epoch (300 s, its horizon by default)
    assert verify(chain("0.01"), CONFIG, LOG_RETURN, now=1300).accepted
    assert verify(chain("0.01"), CONFIG, LOG_RETURN, now=1301).reason is RejectReason.STALE
    shorter = LOG_RETURN.model_copy(update={"epoch_seconds": 60})
    assert verify(chain("0.01"), CONFIG, shorter, now=1061).reason is RejectReason.STALE
    assert verify(chain("0.01", ts=1005), CONFIG, LOG_RETURN, now=1000).accepted
    assert verify(chain("0.01", ts=1006), CONFIG, LOG_RETURN, now=1000).reason is RejectReason.FUTURE


def test_values() -> None:
    assert verify(chain("NaN"), CONFIG, LOG_RETURN, now=1000).reason is RejectReason.NOT_A_NUMBER
    assert verify(chain("0.01", intervals=(Decimal("Infinity"),)), CONFIG, LOG_RETURN, now=1000).reason \
        is RejectReason.NOT_A_NUMBER
    assert verify(chain("-5", topic_id=77), CONFIG, PRICE, now=1000).reason is RejectReason.NEGATIVE_PRICE
    assert verify(chain("0", topic_id=77), CONFIG, PRICE, now=1000).reason is RejectReason.NEGATIVE_PRICE
    # 8 sigma of the topic's 0.0015 per-horizon volatility: 0.012
    assert verify(chain("0.012"), CONFIG, LOG_RETURN, now=1000).accepted
    assert verify(chain("0.0121"), CONFIG, LOG_RETURN, now=1000).reason is RejectReason.ABSURD_JUMP
    assert verify(chain("-0.25"), CONFIG, LOG_RETURN, now=1000).reason is RejectReason.ABSURD_JUMP
    up = (("up", Decimal("1.2")), ("down", Decimal("-0.2")))
    assert verify(chain("1.2", labels=up, topic_id=90), CONFIG, UPDOWN, now=1000).reason is RejectReason.OUT_OF_RANGE


def test_price_jump_needs_a_reference() -> None:
    inference = chain("90000", topic_id=77)
    assert verify(inference, CONFIG, PRICE, now=1000).accepted
    assert verify(inference, CONFIG, PRICE, now=1000, reference_price=Decimal(89000)).accepted
    assert verify(inference, CONFIG, PRICE, now=1000, reference_price=Decimal(85000)).reason is RejectReason.ABSURD_JUMP


def test_unsigned_api_inference() -> None:
    api = Inference(topic_name="t", topic_id=14, value=Decimal("0.01"), decimals=18, timestamp=1000, source="api", raw=b"")
    assert verify(api, CONFIG, LOG_RETURN, now=1000).reason is RejectReason.UNSIGNED
    lenient = CONFIG.model_copy(update={"signature": SignatureConfig(required=False)})
    assert verify(api, lenient, LOG_RETURN, now=1000).accepted


def test_api_key_tls_is_accepted_and_labelled_unverified() -> None:
    api = Inference(topic_name="t", topic_id=14, value=Decimal("0.01"), decimals=18, timestamp=1000, source="api", raw=b"")
    opted_in = LOG_RETURN.model_copy(update={"trust": "api-key-tls"})
    verdict = verify(api, CONFIG, opted_in, now=1000)
    assert verdict.accepted and "unverified" in verdict.detail


def test_chain_agreement_within_the_stated_tolerance() -> None:
    from bot.allora.trust import chain_agreement

    topic = LOG_RETURN.model_copy(update={"trust": "chain", "chain_tolerance": 0.01})
    on_chain = chain("0.004")
    assert chain_agreement(chain("0.00404"), on_chain, topic).accepted  # within 1 % of 0.004
    assert chain_agreement(chain("0.00405"), on_chain, topic).reason is RejectReason.CHAIN_DISAGREES
    # near zero the scale is the topic's volatility, not the tiny value
    assert chain_agreement(chain("0.000014"), chain("0"), topic).accepted
    assert chain_agreement(chain("0.000016"), chain("0"), topic).reason is RejectReason.CHAIN_DISAGREES
