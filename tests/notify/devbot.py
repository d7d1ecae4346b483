"""A running devnet bot for the operator-facing tests: the demo's world (anvil, our V2 market, a keeper on real BTC
prices, a crowd, the local Allora service) and ``python main.py run --live`` as a real subprocess on it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


@dataclass
class DevBot:
    world: Any
    proc: subprocess.Popen[bytes]
    config: Path
    database_url: str
    logfile: Path
    output: Path

    def out(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_output(self, needle: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.out():
            assert self.proc.poll() is None, f"daemon exited {self.proc.returncode}: {self.out()[-3000:]}"
            assert time.monotonic() < deadline, f"{needle!r} not seen: {self.out()[-3000:]}"
            time.sleep(0.2)

    def wait_log(self, predicate: Any, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
            if predicate(text):
                return text
            assert self.proc.poll() is None, f"daemon exited {self.proc.returncode}: {self.out()[-3000:]}"
            assert time.monotonic() < deadline, f"not in the log file in time: {text[-3000:]}"
            time.sleep(0.3)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        return int(self.proc.returncode)


@contextmanager
def running_bot(workdir: Path, *, interval: int = 8, rounds: int = 8, config: dict[str, Any] | None = None,
                env: dict[str, str] | None = None, args: tuple[str, ...] = (), verbose: bool = False) -> Iterator[DevBot]:
    from devkit.demo.run import demo_settings
    from devkit.demo.world import build_world, start

    with ExitStack() as stack:
        world = build_world(stack, interval=interval, rounds=rounds)
        tree = merge(demo_settings(world, workdir).model_dump(mode="json"), config or {})
        path = workdir / "bot.yaml"
        path.write_text(yaml.safe_dump(tree))
        start(world)
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("ALLORA", "NOTIFY_", "WATCHDOG_"))}
        environ.update(ALLORA_BOT_PRIVATE_KEY=world.bot_key, PYTHONUNBUFFERED="1", **(env or {}))
        logfile, output = workdir / "logs" / "bot.log", workdir / "daemon.out"
        argv = [sys.executable, "main.py", "-c", str(path), *(["-v"] if verbose else []), "run", "--live",
                "--logfile", str(logfile), *args]
        with output.open("wb") as out:
            proc = subprocess.Popen(argv, cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        bot = DevBot(world, proc, path, str(tree["database_url"]), logfile, output)
        try:
            yield bot
        finally:
            bot.stop()
