"""Inference sources: consumer API, chain (emissions v9/v10) and replay of the inference log."""

from bot.allora.sources.api import ApiSource
from bot.allora.sources.base import AsyncSource, InferenceSource, LoopThread
from bot.allora.sources.chain import ChainSource
from bot.allora.sources.replay import ReplaySource

__all__ = ["ApiSource", "AsyncSource", "ChainSource", "InferenceSource", "LoopThread", "ReplaySource"]
