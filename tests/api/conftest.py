"""A live bot on its own devnet (anvil + our V2 market + keeper + crowd + local Allora service, ``devkit.demo.world``)
with the REST API on a free loopback port: what the API tests drive through real HTTP."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from bot.app import App, build_app, build_runtime
from bot.config import Settings, parse_settings
from bot.engine.runner import Runtime
from bot.store.db import session_scope
from bot.store.journal import Intent
from devkit.demo.world import TOPIC_ID, World, build_world, start

MARKET = "btc-api"
STAKE = 10**15  # the market minimum
INTERVAL = 8


def bot_settings(world: World, workdir: Path, *, token_env: str, risk: dict[str, Any] | None = None,
                 mode: str = "live") -> Settings:
    return parse_settings({
        "mode": mode,
        "database_url": f"sqlite:///{workdir / 'bot.db'}",
        "chains": {"devnet": {"chain_id": 31337, "rpc_urls": [world.node.url]}},
        "markets": [{"name": MARKET, "chain": "devnet", "dialect": world.deployment.dialect,
                     "address": world.deployment.market_address, "topic": "btc-5m", "price_decimals": 8}],
        "allora": {
            "source": "api", "api_url": world.allora_url, "rpc_url": world.allora_rest_url, "max_age_seconds": 120,
            "signature": {"required": True, "trusted_signers": [world.signer_address]},
            "topics": [{"name": "btc-5m", "topic_id": TOPIC_ID, "kind": "log-return", "horizon_seconds": world.interval,
                        "asset": "BTC", "poll_seconds": 1.0, "volatility": 0.0015}],
        },
        "strategy": {"name": "always_bull", "params": {"stake_wei": STAKE}},
        "risk": {"max_stake_per_bet_wei": 10**17, "max_stake_per_day_wei": 10**19, "max_daily_loss_wei": 10**19,
                 "pause_after_losses": 0, "bankroll_fraction": 0.5, "kill_switch_file": str(workdir / "KILL"),
                 **(risk or {})},
        "execution": {"lead_seconds": 2.5, "claim_interval_seconds": 4, "confirmations": 1,
                      "gas": {"mode": "eip1559", "floor_gwei": "1", "ceiling_gwei": "200", "priority_gwei": "1"}},
        "api": {"enabled": True, "host": "127.0.0.1", "port": 0, "token_env": token_env},
    })


@dataclass
class LiveBot:
    world: World
    app: App
    runtime: Runtime
    url: str
    token: str
    workdir: Path
    config_path: Path

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **params: Any) -> Any:
        reply = requests.get(self.url + path, params=params, timeout=30)
        assert reply.status_code == 200, (path, reply.status_code, reply.text)
        return reply.json()

    def get_text(self, path: str) -> str:
        reply = requests.get(self.url + path, timeout=30)
        assert reply.status_code == 200, (path, reply.status_code, reply.text)
        return reply.text

    def post(self, path: str, body: Any = None, *, auth: bool = True) -> requests.Response:
        return requests.post(self.url + path, json=body, headers=self.auth if auth else {}, timeout=120)

    def intents(self) -> list[tuple[int, str, str]]:
        """(epoch, state, origin) of every journal intent, by epoch."""
        with session_scope(self.app.sessions) as s:
            return sorted((i.epoch, i.state, i.origin) for i in s.scalars(select(Intent)))

    def epoch(self) -> int:
        return self.app.markets[MARKET].current_epoch()

    def wait_lock_passed(self, epoch: int, timeout: float = 120) -> None:
        """Until round ``epoch`` has locked on chain (its bet job, if any, has run)."""
        market = self.app.markets[MARKET]
        wait_for(lambda: market.current_epoch() > epoch + 1, timeout, f"round {epoch} to lock")


def wait_for(cond: Callable[[], Any], timeout: float, what: str, poll: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def start_bot(stack: ExitStack, workdir: Path, *, risk: dict[str, Any] | None = None, mode: str = "live") -> LiveBot:
    """World + live daemon + API, all stopped by ``stack``."""
    world = build_world(stack, interval=INTERVAL, rounds=None)
    token = secrets.token_urlsafe(24)
    token_env = f"BOT_TEST_API_TOKEN_{os.getpid()}"
    settings = bot_settings(world, workdir, token_env=token_env, risk=risk, mode=mode)
    key_env = settings.wallet.private_key_env
    previous = os.environ.get(key_env)
    os.environ[key_env] = world.bot_key  # a public anvil dev key
    stack.callback(lambda: os.environ.pop(key_env, None) if previous is None else os.environ.update({key_env: previous}))
    app = build_app(settings)
    stack.callback(app.release_locks)
    runtime = build_runtime(app, watch_interval=0.25, start_blocks={MARKET: world.deployment.block_number},
                            environ={token_env: token})
    stack.callback(runtime.stop)
    assert runtime.api_url is not None
    config_path = workdir / "bot.yaml"
    config_path.write_text(f"database_url: {settings.database_url}\n")  # what `pause` from another process needs
    start(world)
    runtime.start()
    return LiveBot(world, app, runtime, runtime.api_url, token, workdir, config_path)


@pytest.fixture(scope="module")
def live_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveBot]:
    with ExitStack() as stack:
        yield start_bot(stack, tmp_path_factory.mktemp("api-bot"))
