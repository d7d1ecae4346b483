"""Daemon health file: written by the heartbeat job, read by ``status``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from bot.config import Settings


def health_path(settings: Settings) -> Path:
    url = settings.database_url
    base = Path(url.removeprefix("sqlite:///")).parent if url.startswith("sqlite:///") else Path("data")
    return base / "daemon-health.json"


def write_health(settings: Settings, data: dict[str, Any]) -> None:
    path = health_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**data, "written_at": time.time(), "pid": os.getpid()}, default=str))
    tmp.replace(path)


def to_plain(obj: Any) -> Any:
    """Dataclasses (and lists of them) as plain dicts for JSON output."""
    from dataclasses import asdict, is_dataclass

    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if isinstance(obj, list | tuple):
        return [to_plain(o) for o in obj]
    return obj
