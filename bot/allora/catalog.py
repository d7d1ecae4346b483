"""The Allora topic catalog as the chain describes it: what ``topics list`` and ``topics show ID`` print.

Read through allora-sdk's emissions query client (``ChainSource``: v10 by default, v9 when configured) and the
tendermint client: ``next_topic_id`` bounds the ids, ``topics/{id}`` gives the metadata, loss method, epoch length and
ground-truth lag (in blocks), ``is_topic_active/{id}`` whether the topic runs, and two block headers the chain's
seconds per block, so epoch and lag are also shown in seconds — the number to hold against a market's round length.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from bot.allora.model import TopicInfo
from bot.allora.reasons import SourceError
from bot.allora.sources.chain import ChainSource

BLOCK_SAMPLE = 1000  # blocks between the two headers that measure the block time
CONCURRENCY = 8  # topic reads in flight at once (a public node rate-limits)


@dataclass(frozen=True, slots=True)
class TopicRow:
    """One topic: the chain's metadata, whether it is active, and the measured seconds per block (None: unknown)."""

    info: TopicInfo
    active: bool
    seconds_per_block: float | None

    def seconds(self, blocks: int) -> int | None:
        return None if self.seconds_per_block is None else round(blocks * self.seconds_per_block)

    @property
    def epoch_seconds(self) -> int | None:
        return self.seconds(self.info.epoch_length)

    @property
    def ground_truth_lag_seconds(self) -> int | None:
        return self.seconds(self.info.ground_truth_lag)

    def to_dict(self) -> dict[str, Any]:
        i = self.info
        return {
            "topic_id": i.topic_id, "metadata": i.metadata, "active": self.active, "loss_method": i.loss_method,
            "epoch_length_blocks": i.epoch_length, "epoch_seconds": self.epoch_seconds,
            "ground_truth_lag_blocks": i.ground_truth_lag, "ground_truth_lag_seconds": self.ground_truth_lag_seconds,
            "worker_submission_window_blocks": i.worker_submission_window, "topic_type": i.topic_type,
            "output_arity": i.output_arity, "labels": list(i.labels), "allow_negative": i.allow_negative,
        }


@dataclass(frozen=True, slots=True)
class Catalog:
    rows: tuple[TopicRow, ...]
    next_topic_id: int
    seconds_per_block: float | None


async def seconds_per_block(source: ChainSource, sample: int = BLOCK_SAMPLE) -> float | None:
    """Mean block time over the last ``sample`` blocks (None when the node cannot say, e.g. it pruned them)."""
    try:
        latest = await source.latest_height_async()
        earlier = max(1, latest - sample)
        if earlier >= latest:
            return None
        t_latest, t_earlier = await source.block_time(latest), await source.block_time(earlier)
    except SourceError:
        return None
    return (t_latest - t_earlier) / (latest - earlier) if t_latest > t_earlier else None


async def read_topic(source: ChainSource, topic_id: int, spb: float | None) -> TopicRow:
    """One topic (raises ``SourceError``: ``not_found`` when no topic has that id)."""
    info = await source.topic_info_async(topic_id)
    return TopicRow(info=info, active=await source.topic_active_async(topic_id), seconds_per_block=spb)


async def read_catalog(source: ChainSource, *, active_only: bool = False) -> Catalog:
    """Every topic 1 .. next_topic_id - 1 the node knows (ids it does not serve are skipped)."""
    next_id = await source.next_topic_id_async()
    spb = await seconds_per_block(source)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(topic_id: int) -> TopicRow | None:
        async with gate:
            try:
                return await read_topic(source, topic_id, spb)
            except SourceError as exc:
                if exc.status == 404:
                    return None  # a deleted or never-created id
                raise

    found = await asyncio.gather(*(one(i) for i in range(1, next_id)))
    rows = tuple(r for r in found if r is not None and (r.active or not active_only))
    return Catalog(rows=rows, next_topic_id=next_id, seconds_per_block=spb)


def horizon_note(row: TopicRow, horizon_seconds: int) -> str:
    """How a topic's epoch compares with a wanted horizon (a market's round length), in one phrase."""
    epoch = row.epoch_seconds
    if epoch is None:
        return "epoch length in seconds unknown (block time not measurable)"
    if abs(epoch - horizon_seconds) <= max(5, horizon_seconds // 10):
        return f"epoch ~{epoch}s matches {horizon_seconds}s"
    return f"epoch ~{epoch}s does NOT match {horizon_seconds}s"
