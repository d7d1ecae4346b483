"""Daemon health file: written by the heartbeat job (owner-only, secrets masked), read by ``status``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.redact import redact_text


def health_path(settings: Settings) -> Path:
    url = settings.database_url
    base = Path(url.removeprefix("sqlite:///")).parent if url.startswith("sqlite:///") else Path("data")
    return base / "daemon-health.json"


def write_health(settings: Settings, data: dict[str, Any]) -> None:
    path = health_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    text = redact_text(json.dumps({**data, "written_at": time.time(), "pid": os.getpid()}, default=str))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # owner-only, whatever the umask
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)  # an older .tmp keeps its mode through O_CREAT
    tmp.replace(path)


def to_plain(obj: Any) -> Any:
    """Dataclasses (and lists of them) as plain dicts for JSON output."""
    from dataclasses import asdict, is_dataclass

    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if isinstance(obj, list | tuple):
        return [to_plain(o) for o in obj]
    return obj
