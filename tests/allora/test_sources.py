"""The real allora-sdk clients (AlloraAPIClient, AlloraRPCClient over REST) against the local Allora service."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from bot.allora.model import FetchResult, Inference
from bot.allora.normalise import to_signal
from bot.allora.reasons import RejectReason, SourceError
from bot.allora.sources import ApiSource, ChainSource
from bot.allora.verify import verify
from devkit.alloraservice import ServiceTopic
from tests.allora.conftest import LOG_RETURN, PRICE, TOPICS, UPDOWN, Env


def expected(env: Env, topic_id: int) -> tuple[int, int, object]:
    """(inference height, timestamp, Generated) the service should serve right now."""
    service = env.service
    topic: ServiceTopic = service.topics[topic_id]
    height = service.inference_height(topic, service.height_at(service.now()))
    return height, service.block_time(height), service.generate(topic, height)


@pytest.fixture
def api(env: Env) -> Iterator[ApiSource]:
    with ApiSource(env.config(), clock=env.clock, timeout=6.0) as source:
        yield source


@pytest.fixture(params=["v9", "v10"])
def chain(env: Env, request: pytest.FixtureRequest) -> Iterator[ChainSource]:
    with ChainSource(env.config(emissions_version=request.param), clock=env.clock, timeout=6.0) as source:
        yield source


def ok(result: FetchResult) -> Inference:
    assert result.reason is None, (result.reason, result.detail)
    assert result.inference is not None
    return result.inference


def test_api_log_return_with_confidence_intervals(env: Env, api: ApiSource) -> None:
    result = api.fetch(LOG_RETURN)
    inference = ok(result)
    _, timestamp, gen = expected(env, 14)
    assert inference.timestamp == timestamp and inference.topic_id == 14 and result.http_status == 200
    assert float(inference.value) == pytest.approx(gen.value, abs=1e-17)  # type: ignore[attr-defined]
    assert inference.percentiles == tuple(Decimal(p) for p in ("2.28", "15.87", "50", "84.13", "97.72"))
    assert inference.interval_values[0] < inference.interval_values[2] < inference.interval_values[4]
    assert result.raw.startswith(b'{"request_id"') and inference.raw == result.raw
    verdict = verify(inference, env.config(), LOG_RETURN, env.clock())
    assert verdict.accepted and verdict.signer == env.service.signer_address
    signal = to_signal(inference, LOG_RETURN, Decimal(60000), env.clock())
    assert signal.p_up_source == "intervals" and 0 < signal.p_up < 1
    assert signal.sigma == pytest.approx((float(inference.interval_values[3]) - float(inference.interval_values[1])) / 2,
                                         rel=1e-3)


def test_api_price_and_classification(env: Env, api: ApiSource) -> None:
    price = ok(api.fetch(PRICE))
    _, _, gen = expected(env, 77)
    assert float(price.value) == pytest.approx(gen.value, rel=1e-12)  # type: ignore[attr-defined]
    assert verify(price, env.config(), PRICE, env.clock(), reference_price=price.value).accepted
    updown = ok(api.fetch(UPDOWN))
    assert Decimal(0) < updown.value < Decimal(1) and updown.label_value("down") == 1 - updown.value
    assert to_signal(updown, UPDOWN, Decimal(1), env.clock()).p_up_source == "labels"


def test_api_topics_follow_continuation_tokens(env: Env, api: ApiSource, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(env.service.config, "topics_page_size", 2)
    topics = api.topics()
    assert [t.topic_id for t in topics] == [14, 77, 90]
    assert topics[0].epoch_length == 60 and topics[2].loss_method == "bce"


def test_chain_latest_bundle(env: Env, chain: ChainSource) -> None:
    height, timestamp, gen = expected(env, 14)
    inference = ok(chain.fetch(LOG_RETURN))
    assert inference.block_height == height and inference.timestamp == timestamp and inference.source == "rpc"
    assert float(inference.value) == pytest.approx(gen.value, abs=1e-15)  # type: ignore[attr-defined]
    assert len(inference.inferers) == 4 and len(inference.forecasters) == 2 and inference.naive_value is not None
    assert all(w.worker.startswith("allo1") for w in inference.inferers)
    assert verify(inference, env.config(), LOG_RETURN, env.clock()).accepted  # no signature needed from the chain
    price = ok(chain.fetch(PRICE))
    assert price.value > 1000


def test_chain_and_api_agree(env: Env, api: ApiSource, chain: ChainSource) -> None:
    from_api, from_chain = ok(api.fetch(PRICE)), ok(chain.fetch(PRICE))
    assert from_api.timestamp == from_chain.timestamp
    assert from_api.value == pytest.approx(from_chain.value, rel=Decimal("1e-15"))


def test_chain_multi_label_bundle(env: Env, chain: ChainSource) -> None:
    inference = ok(chain.fetch(UPDOWN))
    up, down = inference.label_value("up"), inference.label_value("down")
    assert up is not None and down is not None and up + down == pytest.approx(Decimal(1))
    if chain.version == "v10":
        assert {w.label for w in inference.inferers} == {"up", "down"} and len(inference.inferers) == 8
    signal = to_signal(inference, UPDOWN, Decimal(1), env.clock())
    assert signal.p_up == pytest.approx(float(up))


def test_chain_history_at_block(env: Env, chain: ChainSource) -> None:
    height, timestamp, _ = expected(env, 14)
    older = chain.fetch_at_block(LOG_RETURN, height - 60)
    inference = ok(older)
    assert inference.block_height == height - 60 and inference.timestamp == timestamp - 300
    future = chain.fetch_at_block(LOG_RETURN, height + 10_000)
    assert future.reason is RejectReason.HTTP_404 and future.inference is None


def test_chain_topic_metadata(env: Env, chain: ChainSource) -> None:
    info = chain.topic_info(90)
    assert info.topic_id == 90 and info.epoch_length == 60 and info.loss_method == "bce"
    if chain.version == "v10":  # enum names: the SDK cannot parse them, the fallback can
        assert (info.topic_type, info.output_arity, info.labels) == ("classification", "multi", ("up", "down"))
    with pytest.raises(SourceError) as caught:
        chain.topic_info(4242)
    assert caught.value.reason is RejectReason.HTTP_404


def test_unserved_emissions_version_is_a_typed_failure(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(env.service.config, "emissions_versions", ("v10",))
    with ChainSource(env.config(emissions_version="v9"), clock=env.clock, timeout=6.0) as source:
        assert source.fetch(LOG_RETURN).reason is RejectReason.HTTP_404


def test_sources_never_raise_when_nothing_listens(env: Env) -> None:
    config = env.config(api_url="http://127.0.0.1:9", rpc_url="rest+http://127.0.0.1:9")
    with ApiSource(config, clock=env.clock, timeout=2.0) as api, ChainSource(config, clock=env.clock, timeout=2.0) as rpc:
        for source in (api, rpc):
            result = source.fetch(TOPICS[0])
            assert result.inference is None and result.reason is RejectReason.UNAVAILABLE
