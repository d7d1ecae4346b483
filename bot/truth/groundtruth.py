"""Resolve the ground truth of one Allora epoch: ``(topic, BlockHeight) -> value``, with the source it came from.

Alignment: ``anchor = block_time(BlockHeight)`` (the epoch-start block), ``target = anchor + topic.horizon_seconds``.

- ``price`` topics: the price at ``target``;
- ``log-return`` topics: ``ln(price(target) / price(anchor))`` (natural log, 18 decimal places);
- ``classification`` topics: the realised direction of the same window, one-hot over the topic's labels.

Value sources, in order:

1. a :class:`~bot.store.outcomes.RoundOutcome` of a market mapped to the topic whose ``lock_ts`` is within
   ``tolerance_seconds`` of ``anchor`` and whose ``close_ts`` is within it of ``target`` (start price = lockPrice, end
   price = closePrice) — source ``round:<market>:<epoch>``. If such a round exists but is not final yet, the answer is
   "not final" until ``round_grace_seconds`` past ``target``, after which the exchange is used;
2. otherwise a price-at-time source for the topic's asset (ccxt candles) — source ``exchange:<id>:<symbol>``.

Nothing is served before ``target + finality_lag_seconds`` (wall clock); refundable rounds (never executed, no close
price) are skipped. A price that is missing ``round_grace_seconds`` after ``target`` (or a gap in the exchange's
history) will never come: that epoch is answered 404, not 425, so a reputer that submits nonces strictly oldest first
moves on instead of retrying it forever. Final values are kept in memory (``MEMO_SIZE`` epochs): they never change.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from bot.allora.kinds import kind_of
from bot.domain import RoundStatus
from bot.errors import BotError, TemporaryError
from bot.query import RoundMatch
from bot.truth.blocktime import BlockTimeSource, UnknownBlockError
from bot.truth.prices import NoPriceError, PriceNotAvailableError, PriceSource
from bot.truth.topics import TopicSpec, labeled_values, token_matches

LOG_RETURN_PLACES = Decimal("1e-18")
MEMO_SIZE = 4096


class TruthError(BotError):
    """A ground-truth request that cannot be answered with a value. ``http_status`` is what the service returns."""

    http_status = 500

    def __init__(self, reason: str, *, retry_after: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class BadTruthRequest(TruthError):
    http_status = 400


class UnknownTopicError(TruthError):
    http_status = 404


class UnknownEpochError(TruthError):
    http_status = 404


class NotFinalError(TruthError, TemporaryError):
    """The outcome exists in the future or is not final yet: ask again later (HTTP 425 Too Early)."""

    http_status = 425


class SourceUnavailableError(TruthError, TemporaryError):
    http_status = 503


class RoundLookup(Protocol):
    """The round outcomes the reconciler wrote; ``bot.query.QueryService`` is the one implementation."""

    def aligned_round(self, markets: Sequence[str], lock_ts: int, close_ts: int, tolerance: int) -> RoundMatch | None:
        ...

    def recent_round_log_returns(self, markets: Sequence[str], limit: int) -> list[float]: ...


@dataclass(frozen=True, slots=True)
class GroundTruth:
    topic_id: int
    block_height: int
    kind: str
    anchor_ts: int
    target_ts: int
    start_price: Decimal
    end_price: Decimal
    source: str

    @property
    def direction(self) -> int:
        return (self.end_price > self.start_price) - (self.end_price < self.start_price)

    @property
    def log_return(self) -> Decimal:
        with localcontext() as ctx:
            ctx.prec = 40
            value = (self.end_price / self.start_price).ln()
        return value.quantize(LOG_RETURN_PLACES)

    @property
    def value(self) -> Decimal:
        """The scalar ground truth: the end price for price topics, the log-return otherwise (``bot.allora.kinds``)."""
        kind = kind_of(self.kind)
        return kind.truth_value(self.start_price, self.end_price,
                                self.log_return if kind.needs_start_price else Decimal(0))

    def labeled(self, labels: Sequence[str]) -> list[dict[str, str]]:
        return labeled_values(labels, self.direction)


def plain(value: Decimal) -> str:
    """A Decimal as plain text without exponent or trailing zeros (what ``alloraMath.NewDecFromString`` parses)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


class GroundTruthResolver:
    """Answers ``(topic_id, block_height)`` with a :class:`GroundTruth` or raises a :class:`TruthError`."""

    def __init__(
        self,
        topics: Sequence[TopicSpec],
        block_times: BlockTimeSource,
        *,
        rounds: RoundLookup | None = None,
        prices: Mapping[str, PriceSource] | None = None,
        tolerance_seconds: int = 15,
        round_grace_seconds: int = 600,
        finality_lag_seconds: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.topics = {t.topic_id: t for t in topics}
        if len(self.topics) != len(topics):
            raise ValueError("duplicate topic ids in the truth service topics")
        self.block_times = block_times
        self.rounds = rounds
        self.prices = {k.upper(): v for k, v in (prices or {}).items()}
        self.tolerance = tolerance_seconds
        self.round_grace = round_grace_seconds
        self.finality_lag = finality_lag_seconds
        self.clock = clock
        self._final: OrderedDict[tuple[int, int, bool], GroundTruth] = OrderedDict()

    def final_value(self, topic_id: int, block_height: int) -> GroundTruth | None:
        """The memoised final ground truth of an epoch, if it was resolved already."""
        return self._final.get((topic_id, block_height, False)) or self._final.get((topic_id, block_height, True))

    def _remember(self, key: tuple[int, int, bool], truth: GroundTruth) -> GroundTruth:
        self._final[key] = truth
        while len(self._final) > MEMO_SIZE:
            self._final.popitem(last=False)
        return truth

    def topic(self, topic_id: int) -> TopicSpec:
        spec = self.topics.get(topic_id)
        if spec is None:
            known = ", ".join(str(t) for t in sorted(self.topics)) or "none"
            raise UnknownTopicError(f"unknown topic {topic_id} (served: {known})")
        return spec

    async def window(self, spec: TopicSpec, block_height: int) -> tuple[int, int]:
        try:
            anchor = await self.block_times.block_time(block_height)
        except UnknownBlockError as exc:
            raise UnknownEpochError(str(exc)) from exc
        except TemporaryError as exc:
            raise SourceUnavailableError(str(exc), retry_after=30) from exc
        return anchor, anchor + spec.horizon_seconds

    async def resolve(
        self, topic_id: int, block_height: int, token: str | None = None, *, need_direction: bool = False
    ) -> GroundTruth:
        """The ground truth of the epoch starting at ``block_height``; ``need_direction`` also fetches the start price
        of price topics (for the labeled route)."""
        spec = self.topic(topic_id)
        if block_height < 1:
            raise BadTruthRequest(f"block height must be >= 1, got {block_height}")
        if not token_matches(token, spec.asset):
            raise BadTruthRequest(f"token {token!r} does not match topic {topic_id} asset {spec.asset}")
        key = (topic_id, block_height, need_direction or kind_of(spec.kind).needs_start_price)
        memo = self._final.get(key)
        if memo is not None:
            self._final.move_to_end(key)
            return memo
        return self._remember(key, await self._resolve(spec, block_height, need_direction))

    async def _resolve(self, spec: TopicSpec, block_height: int, need_direction: bool) -> GroundTruth:
        anchor, target = await self.window(spec, block_height)
        now = self.clock()
        ready_at = target + self.finality_lag
        if now < ready_at:
            wait = int(ready_at - now) + 1
            reason = f"epoch at block {block_height} ends at {target}: not final for {wait}s"
            raise NotFinalError(reason, retry_after=wait)
        match = await self._round(spec, anchor, target)
        if match is not None:
            if match.final:
                return GroundTruth(spec.topic_id, block_height, spec.kind, anchor, target, match.lock_price,
                                   match.close_price, match.source)
            if now < target + self.round_grace:
                raise NotFinalError(f"{match.source} covers this epoch but is not final yet", retry_after=30)
        return await self._from_prices(spec, block_height, anchor, target, need_direction)

    async def _round(self, spec: TopicSpec, anchor: int, target: int) -> RoundMatch | None:
        if self.rounds is None or not spec.markets:
            return None
        try:
            match = await asyncio.to_thread(self.rounds.aligned_round, spec.markets, anchor, target, self.tolerance)
        except SQLAlchemyError as exc:  # e.g. the database is locked by a long writer: retry later
            raise SourceUnavailableError(f"round lookup failed: {type(exc).__name__}", retry_after=10) from exc
        if match is None:
            return None
        if match.final and (match.status == RoundStatus.REFUNDABLE or match.lock_price <= 0 or match.close_price <= 0):
            return None  # never executed: no valid prices; fall back to the exchange
        return match

    async def _from_prices(
        self, spec: TopicSpec, block_height: int, anchor: int, target: int, need_direction: bool
    ) -> GroundTruth:
        source = self.prices.get(spec.asset.upper())
        if source is None:
            raise UnknownEpochError(
                f"no round of {list(spec.markets) or 'any market'} lines up with [{anchor}, {target}] and no price "
                f"source is configured for {spec.asset}"
            )
        try:
            end = await source.price_at(target)
            needs_start = need_direction or kind_of(spec.kind).needs_start_price
            start = await source.price_at(anchor) if needs_start else end
        except NoPriceError as exc:
            raise UnknownEpochError(f"no price for [{anchor}, {target}] will ever be served: {exc}") from exc
        except PriceNotAvailableError as exc:
            if self.clock() >= target + self.round_grace:
                raise UnknownEpochError(f"no price for [{anchor}, {target}] {self.round_grace}s after the epoch "
                                        f"ended: none will come ({exc})") from exc
            raise NotFinalError(str(exc), retry_after=30) from exc
        except TemporaryError as exc:
            raise SourceUnavailableError(str(exc), retry_after=60) from exc
        return GroundTruth(topic_id=spec.topic_id, block_height=block_height, kind=spec.kind, anchor_ts=anchor,
                           target_ts=target, start_price=start.price, end_price=end.price, source=source.label)

    async def recent_returns(self, topic_id: int, limit: int = 100) -> list[float]:
        """Recent realised per-round log-returns of the topic's markets (to estimate ``std`` for ztae/zptae)."""
        spec = self.topic(topic_id)
        if self.rounds is None or not spec.markets:
            return []
        return await asyncio.to_thread(self.rounds.recent_round_log_returns, spec.markets, limit)

    async def aclose(self) -> None:
        closers = [getattr(self.block_times, "aclose", None)]
        closers += [getattr(p, "aclose", None) for p in self.prices.values()]
        for closer in closers:
            if closer is not None:
                await closer()
