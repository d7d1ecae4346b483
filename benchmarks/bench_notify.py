"""What notifications cost the bet path: ``EventBus.publish`` of a BetPlaced with Telegram + webhook notifiers and the
activity log subscribed (real HTTP to devkit.botapi on loopback, sending on the notifier threads), and how fast the
queues drain. Prints figures; asserts nothing.

    .venv/bin/python -m benchmarks.bench_notify [--events 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bot.coins import coins_of
from bot.config import parse_settings
from bot.engine.control import Control
from bot.events import BetPlaced, EventBus
from bot.logs import ActivityLog
from bot.notify import build_notifiers
from bot.store.db import make_engine
from devkit.botapi import BotApiServer, WebhookReceiver

TOKEN = "1:bench-token-abcdefgh"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-notify-"))
    with BotApiServer(TOKEN) as telegram, WebhookReceiver() as hook:
        settings = parse_settings({
            "database_url": f"sqlite:///{workdir / 'bot.db'}",
            "chains": {"dev": {"chain_id": 1, "rpc_urls": ["http://127.0.0.1:9"]}},
            "markets": [{"name": "m1", "chain": "dev", "dialect": "v2", "address": "0x" + "ab" * 20}],
            "notify": {"telegram": {"enabled": True, "chat_id": 1, "api_base": telegram.api_base, "commands": False},
                       "webhook": {"enabled": True}, "max_per_minute": 1e9, "burst": 10**9, "queue_size": 10**6},
        })
        bus = EventBus()
        env = {"ALLORA_BOT_TELEGRAM_TOKEN": TOKEN, "ALLORA_BOT_WEBHOOK_URL": hook.url()}
        notifiers = build_notifiers(settings, bus, Control(make_engine(settings.database_url)), environ=env).start()
        bus.subscribe(ActivityLog(coins_of(settings)))
        event = BetPlaced(market="m1", epoch=1, side="bull", amount_wei=10**16, coin="ETH", intent_id=1, mode="live",
                          state="landed")
        times = []
        for _ in range(args.events):
            t0 = time.perf_counter()
            bus.publish(event)
            times.append(time.perf_counter() - t0)
        times.sort()
        n = len(times)
        print(f"publish (2 channels + activity log), {n} events: p50 {times[n // 2] * 1e6:.1f} us, "
              f"p99 {times[int(n * 0.99)] * 1e6:.1f} us, max {times[-1] * 1e6:.0f} us")
        t0 = time.perf_counter()
        notifiers.flush(600)
        drained = time.perf_counter() - t0
        stats = notifiers.stats()
        print(f"drained in {drained:.1f} s after the last publish; sent telegram {stats['telegram']['sent']}, "
              f"webhook {stats['webhook']['sent']}")
        notifiers.close()


if __name__ == "__main__":
    main()
