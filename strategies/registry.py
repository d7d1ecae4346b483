"""Find a strategy by name, or load a user's ``Strategy`` subclass from a ``.py`` file (``StrategyConfig``)."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
from pathlib import Path
from typing import Any

from bot.config import ConfigError, StrategyConfig
from strategies.base import Strategy, StrategyError
from strategies.baselines import (
    AlwaysBearStrategy,
    AlwaysBullStrategy,
    CoinFlipStrategy,
    ContrarianStrategy,
    CrowdStrategy,
)
from strategies.edge import EdgeStrategy
from strategies.signals import AiFadeStrategy, AiFollowStrategy, FollowStrategy

BUILTIN: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (
        FollowStrategy,
        EdgeStrategy,
        AiFollowStrategy,
        AiFadeStrategy,
        AlwaysBullStrategy,
        AlwaysBearStrategy,
        CoinFlipStrategy,
        CrowdStrategy,
        ContrarianStrategy,
    )
}
ALIASES: dict[str, str] = {
    "follow_the_crowd": "crowd",
    "coinflip": "coin_flip",
    "bull": "always_bull",
    "bear": "always_bear",
}


def _normalise(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    return ALIASES.get(key, key)


def strategy_class(name: str) -> type[Strategy]:
    """The built-in strategy class called ``name`` (hyphens or underscores)."""
    key = _normalise(name)
    if key not in BUILTIN:
        raise StrategyError(f"unknown strategy {name!r} (built-in: {', '.join(sorted(BUILTIN))}; or give a file)")
    return BUILTIN[key]


def build_strategy(cls: type[Strategy], params: dict[str, Any] | None = None) -> Strategy:
    """Instantiate ``cls`` with ``params``, turning a wrong parameter into a ``StrategyError`` naming it."""
    params = dict(params or {})
    try:
        inspect.signature(cls).bind(**params)
    except TypeError as exc:
        accepted = [p for p in inspect.signature(cls).parameters if p not in ("self", "args", "kwargs")]
        raise StrategyError(
            f"strategy {cls.name!r}: bad parameters ({exc}); accepted: {', '.join(accepted) or 'none'}"
        ) from None
    try:
        return cls(**params)
    except StrategyError:
        raise
    except (TypeError, ValueError) as exc:
        raise StrategyError(f"strategy {cls.name!r}: {exc}") from exc


def load_strategy_class_from_file(path: str | Path, class_name: str | None = None) -> type[Strategy]:
    """Import ``path`` and return its ``class_name`` (or its only ``Strategy`` subclass when not given)."""
    file = Path(path)
    if not file.is_file():
        raise StrategyError(f"strategy file not found: {file}")
    if file.suffix != ".py":
        raise StrategyError(f"strategy file must be a .py file: {file}")
    digest = hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(f"user_strategy_{digest}", file)
    if spec is None or spec.loader is None:
        raise StrategyError(f"cannot import strategy file {file}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a user's file can raise anything on import
        raise StrategyError(f"strategy file {file} failed to import: {type(exc).__name__}: {exc}") from exc
    if class_name is None:
        found = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, Strategy) and obj.__module__ == module.__name__
        ]
        concrete = [c for c in found if not inspect.isabstract(c)]
        if len(concrete) != 1:
            names = ", ".join(c.__name__ for c in concrete) or "none"
            raise StrategyError(f"{file}: set strategy.class_name (Strategy subclasses found: {names})")
        return concrete[0]
    obj = getattr(module, class_name, None)
    if obj is None:
        raise StrategyError(f"{file}: no class named {class_name!r}")
    if not (inspect.isclass(obj) and issubclass(obj, Strategy)):
        raise StrategyError(f"{file}: {class_name!r} is not a subclass of strategies.base.Strategy")
    if inspect.isabstract(obj):
        raise StrategyError(f"{file}: {class_name!r} is abstract (implement propose)")
    return obj


def load_strategy(config: StrategyConfig) -> Strategy:
    """The strategy ``config`` describes: a user class when ``config.file`` is set, else the built-in ``config.name``."""
    if config.file:
        cls = load_strategy_class_from_file(config.file, config.class_name)
    else:
        if config.class_name:
            raise StrategyError("strategy.class_name needs strategy.file (the .py file that defines it)")
        cls = strategy_class(config.name)
    return build_strategy(cls, config.params)


def check_strategy_config(config: StrategyConfig) -> Strategy:
    """``load_strategy`` for a config file's ``strategy`` section: a wrong name or parameter is a ``ConfigError``
    naming ``strategy.params`` (the CLI exits 3), so ``config check`` catches a typo before ``run`` does."""
    try:
        return load_strategy(config)
    except StrategyError as exc:
        raise ConfigError(f"strategy: {exc}") from None
