"""Allora inferences: sources over allora-sdk (consumer API, chain, replay), verification, normalisation, polling.

Typical daemon wiring::

    poller = build_poller(settings, session_factory)         # source chosen by settings.allora.source
    scheduler.add_job(poller.poll_due, "interval", seconds=1)
    signal = poller.latest_signal("btc-5m", reference_price=Decimal("64000.5"))   # None unless fresh and accepted

Names are imported lazily: ``from bot.allora.model import Signal`` does not load allora-sdk (seconds of imports).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.allora.backoff import Backoff
    from bot.allora.factory import build_poller, build_source
    from bot.allora.journal import InferenceJournal
    from bot.allora.model import (
        ConsumerData,
        FetchResult,
        Inference,
        Rejection,
        Signal,
        TopicInfo,
        Verdict,
        WorkerValue,
    )
    from bot.allora.normalise import to_signal
    from bot.allora.parsing import parse_api_payload, parse_chain_bundle
    from bot.allora.poller import Poller, PollOutcome, TopicHealth
    from bot.allora.reasons import RejectReason, SourceError
    from bot.allora.sources import ApiSource, ChainSource, InferenceSource, ReplaySource
    from bot.allora.verify import verify

_HOMES = {
    "Backoff": "backoff",
    "build_poller": "factory",
    "build_source": "factory",
    "InferenceJournal": "journal",
    "ConsumerData": "model",
    "FetchResult": "model",
    "Inference": "model",
    "Rejection": "model",
    "Signal": "model",
    "TopicInfo": "model",
    "Verdict": "model",
    "WorkerValue": "model",
    "to_signal": "normalise",
    "parse_api_payload": "parsing",
    "parse_chain_bundle": "parsing",
    "Poller": "poller",
    "PollOutcome": "poller",
    "TopicHealth": "poller",
    "RejectReason": "reasons",
    "SourceError": "reasons",
    "ApiSource": "sources",
    "ChainSource": "sources",
    "InferenceSource": "sources",
    "ReplaySource": "sources",
    "verify": "verify",
}
__all__ = [
    "ApiSource",
    "Backoff",
    "ChainSource",
    "ConsumerData",
    "FetchResult",
    "Inference",
    "InferenceJournal",
    "InferenceSource",
    "PollOutcome",
    "Poller",
    "RejectReason",
    "Rejection",
    "ReplaySource",
    "Signal",
    "SourceError",
    "TopicHealth",
    "TopicInfo",
    "Verdict",
    "WorkerValue",
    "build_poller",
    "build_source",
    "parse_api_payload",
    "parse_chain_bundle",
    "to_signal",
    "verify",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'bot.allora' has no attribute {name!r}")
    return getattr(importlib.import_module(f"bot.allora.{home}"), name)
