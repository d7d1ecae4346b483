"""Hook our ground truth into the allora-sdk reputer (``AlloraWorker.reputer`` + ``make_reputer_function``).

The SDK calls ``get_ground_truth(ctx)`` once per (topic, nonce) — ``ctx.nonce`` is the epoch-start Allora block, the
same ``BlockHeight`` the offchain node puts in ``GroundTruthEndpoint`` — then ``loss_fn(ground_truth, inference)``
once per value of the network inference bundle, and submits ``log10(loss + 1e-100)``.

Example (a reputer for Allora mainnet topic 18, BTC 20 min log-return, scored with squared error)::

    import asyncio
    from allora_sdk import AlloraNetworkConfig, AlloraWalletConfig, AlloraWorker, make_reputer_function
    from bot.config import load_settings
    from bot.truth.reputer import make_get_ground_truth, make_loss_fn
    from bot.truth.service import build_resolver

    async def main() -> None:
        settings = load_settings("config/bsc-mainnet.yaml")
        resolver = build_resolver(settings)                      # or make_get_ground_truth("http://127.0.0.1:8088")
        reputer_fn = make_reputer_function(make_get_ground_truth(resolver), make_loss_fn("sqe"))
        worker = AlloraWorker.reputer(
            reputer_fn=reputer_fn, topic_id=18,
            wallet=AlloraWalletConfig.from_env("ALLORA_"), network=AlloraNetworkConfig.mainnet(),
        )
        async for result in worker.run():
            print(result)

    asyncio.run(main())

``get_ground_truth`` raises :class:`~bot.truth.groundtruth.NotFinalError` (a ``TemporaryError``) while the epoch's
outcome is not final, so the SDK skips that submission instead of sending a made-up value; the loss function raises
``LossError`` rather than ever returning NaN/inf.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from bot.truth.groundtruth import (
    BadTruthRequest,
    GroundTruthResolver,
    NotFinalError,
    SourceUnavailableError,
    TruthError,
    UnknownEpochError,
    UnknownTopicError,
)
from bot.truth.losses import LossError, Real, make_loss, to_float

GroundTruthFn = Callable[[Any], Awaitable[float]]
Inference = float | Mapping[str, float]

_STATUS_ERRORS: dict[int, type[TruthError]] = {
    400: BadTruthRequest,
    404: UnknownEpochError,
    425: NotFinalError,
    503: SourceUnavailableError,
}


def make_get_ground_truth(
    source: GroundTruthResolver | str,
    *,
    topic_id: int | None = None,
    token: str | None = None,
    timeout: float = 30.0,
) -> GroundTruthFn:
    """``get_ground_truth(ctx) -> float`` for ``make_reputer_function``.

    ``source`` is an in-process :class:`GroundTruthResolver`, or the base URL of a running truth service (then the same
    ``/gt`` route the offchain node uses is called). ``topic_id`` overrides ``ctx.topic_id``.
    """
    if isinstance(source, str):
        return _http_ground_truth(source.rstrip("/"), topic_id, token, timeout)
    resolver = source

    async def get_ground_truth(ctx: Any) -> float:
        topic = int(ctx.topic_id if topic_id is None else topic_id)
        truth = await resolver.resolve(topic, int(ctx.nonce), token)
        return to_float("ground truth", truth.value)

    return get_ground_truth


def _http_ground_truth(base: str, topic_id: int | None, token: str | None, timeout: float) -> GroundTruthFn:
    import aiohttp

    async def get_ground_truth(ctx: Any) -> float:
        topic = int(ctx.topic_id if topic_id is None else topic_id)
        params = {"block": str(int(ctx.nonce)), "topic": str(topic)}
        if token:
            params["token"] = token
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(f"{base}/gt", params=params) as resp,
        ):
            text = (await resp.text()).strip()
            if resp.status != 200:
                error = _STATUS_ERRORS.get(resp.status, SourceUnavailableError)
                if resp.status == 404 and "unknown topic" in text:
                    error = UnknownTopicError
                raise error(f"ground truth HTTP {resp.status}: {text}")
        return to_float("ground truth", Decimal(text.strip('"')))

    return get_ground_truth


def make_loss_fn(
    method: str = "sqe",
    options: Mapping[str, Any] | None = None,
    *,
    returns: Iterable[Real] | None = None,
    label: str = "y",
) -> Callable[[Any, Inference], float]:
    """``loss_fn(ground_truth, inference) -> float`` for ``make_reputer_function``.

    Scalar topics pass ``inference`` as a float; with ``multi_output=True`` the SDK passes ``{label: value}`` and the
    value under ``label`` is scored. Raises ``LossError`` for NaN/inf inputs or results.
    """
    loss = make_loss(method, options, returns=returns)

    def loss_fn(ground_truth: Any, inference: Inference) -> float:
        if isinstance(inference, Mapping):
            if label not in inference:
                raise LossError(f"inference has no label {label!r}: {sorted(inference)}")
            inference = inference[label]
        value = loss(to_float("ground truth", ground_truth), to_float("inference", inference))
        if not math.isfinite(value):
            raise LossError(f"{method} loss is not finite")
        return value

    return loss_fn
