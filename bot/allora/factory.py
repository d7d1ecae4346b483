"""Build the configured inference source and poller from ``Settings`` (what the daemon calls)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.allora.backoff import Backoff
from bot.allora.journal import InferenceJournal
from bot.allora.poller import Poller, ReferencePrice
from bot.allora.sources.api import ApiSource
from bot.allora.sources.base import InferenceSource
from bot.allora.sources.chain import ChainSource
from bot.allora.sources.replay import ReplaySource
from bot.config import AlloraConfig, ConfigError, Settings


def _setting(config: AlloraConfig, name: str, default: Any) -> Any:
    """Optional ``AlloraConfig`` fields proposed to the config owner; defaults until they exist."""
    value = getattr(config, name, None)
    return default if value is None else value


def build_source(
    config: AlloraConfig,
    *,
    session_factory: sessionmaker[Session] | None = None,
    clock: Callable[[], float] = time.time,
    environ: Mapping[str, str] | None = None,
    timeout: float | None = None,
    replay_source: str | None = None,
) -> InferenceSource:
    """``allora.source``: "api" (consumer API), "rpc" (chain query) or "replay" (the inference log)."""
    timeout = timeout if timeout is not None else float(_setting(config, "request_timeout", 10.0))
    replay_source = replay_source if replay_source is not None else _setting(config, "replay_source", None)
    if config.source == "api":
        return ApiSource(config, environ=environ, timeout=timeout, clock=clock)
    if config.source == "rpc":
        return ChainSource(config, timeout=timeout, clock=clock)
    if session_factory is None:
        raise ConfigError("allora.source: replay needs the database (a session factory)")
    return ReplaySource(session_factory, clock=clock, source=replay_source)


def build_poller(
    settings: Settings,
    session_factory: sessionmaker[Session] | None,
    *,
    clock: Callable[[], float] = time.time,
    source: InferenceSource | None = None,
    reference_price: ReferencePrice | None = None,
    backoff: Backoff | None = None,
    seed: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> Poller:
    """A poller over every ``allora.topics`` entry, logging to the database when a session factory is given.

    In replay mode fetches are not logged again (they come from the log).
    """
    config = settings.allora
    chosen = source or build_source(config, session_factory=session_factory, clock=clock, environ=environ)
    chain: ChainSource | None = None
    if chosen.name == "api" and config.rpc_url and any(t.trust == "chain" for t in config.topics):
        # "chain"-trust topics: every API value is compared with the chain's network inference (emissions client)
        chain = ChainSource(config, timeout=float(_setting(config, "request_timeout", 10.0)), clock=clock)
    journal = None if session_factory is None or chosen.name == "replay" else InferenceJournal(session_factory)
    poller = Poller(
        chosen,
        config,
        journal=journal,
        clock=clock,
        backoff=backoff
        or Backoff(
            cap_seconds=float(_setting(config, "backoff_cap_seconds", 300.0)),
            jitter=float(_setting(config, "backoff_jitter", 0.1)),
        ),
        rng=random.Random(seed),  # noqa: S311 - jitter only
        reference_price=reference_price,
        chain=chain.fetch if chain is not None else None,
    )
    if journal is not None:
        poller.restore()
    return poller
