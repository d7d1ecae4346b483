"""Helpers and fixtures for bot.truth tests: a tiny local tendermint REST app, a settable clock, a SQLite file."""

from __future__ import annotations

import base64
import hashlib
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from aiohttp import web

from bot.store.db import make_engine, session_factory, session_scope
from bot.store.outcomes import RoundOutcome
from bot.truth.service import ServerThread

T0 = 1746057600  # 2025-05-01T00:00:00Z
H0 = 1000  # block H0 is at T0
BLOCK_SECONDS = 5


def block_ts(height: int) -> int:
    return T0 + (height - H0) * BLOCK_SECONDS


def _b64(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _rfc3339(ts: int) -> str:
    # nanosecond fraction, like a real node
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S") + ".123456789Z"


def block_json(height: int, chain_id: str = "allora-testnet-1") -> dict:
    """GetBlockByHeightResponse in proto3 JSON, as a cosmos-sdk 0.50 node serves it (int64 as strings)."""
    block_id = {"hash": _b64(f"block{height}"), "part_set_header": {"total": 1, "hash": _b64(f"parts{height}")}}
    header = {
        "version": {"block": "11", "app": "0"},
        "chain_id": chain_id,
        "height": str(height),
        "time": _rfc3339(block_ts(height)),
        "last_block_id": {"hash": _b64(f"block{height - 1}"), "part_set_header": {"total": 1, "hash": _b64("p")}},
        "last_commit_hash": _b64("lc"),
        "data_hash": _b64("d"),
        "validators_hash": _b64("v"),
        "next_validators_hash": _b64("nv"),
        "consensus_hash": _b64("c"),
        "app_hash": _b64("a"),
        "last_results_hash": _b64("lr"),
        "evidence_hash": _b64("e"),
    }
    commit = {"height": str(height - 1), "round": 0, "block_id": header["last_block_id"], "signatures": []}
    return {
        "block_id": block_id,
        "block": {"header": {**header, "proposer_address": _b64("prop")}, "data": {"txs": []},
                  "evidence": {"evidence": []}, "last_commit": commit},
        "sdk_block": {"header": {**header, "proposer_address": "allovalcons1qyqszqgpqyqszqgpqyqszqgpqyqszqgp0jzxl6"},
                      "data": {"txs": []}, "evidence": {"evidence": []}, "last_commit": commit},
    }


@dataclass
class Tendermint:
    latest: int = H0 + 100_000
    requests: list[int] = field(default_factory=list)
    server: ServerThread | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.base_url

    @property
    def sdk_url(self) -> str:
        return "rest+" + self.url


def tendermint_app(state: Tendermint) -> web.Application:
    async def by_height(request: web.Request) -> web.Response:
        raw = request.match_info["height"]
        if raw == "latest":
            return web.json_response(block_json(state.latest))
        height = int(raw)
        state.requests.append(height)
        if height > state.latest:  # grpc-gateway maps InvalidArgument to HTTP 400
            return web.json_response({"code": 3, "message": f"requested block height {height} is bigger then the "
                                      f"chain length {state.latest}: invalid request", "details": []}, status=400)
        return web.json_response(block_json(height))

    app = web.Application()
    app.router.add_get("/cosmos/base/tendermint/v1beta1/blocks/{height}", by_height)
    return app


@pytest.fixture
def tendermint() -> Iterator[Tendermint]:
    state = Tendermint()
    state.server = ServerThread(tendermint_app(state))
    state.server.start()
    yield state
    state.server.stop()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + 100_000)


def outcome(market: str, epoch: int, lock_ts: int, close_ts: int, lock: int, close: int, *, final: bool = True,
            status: str | None = None, decimals: int = 8) -> RoundOutcome:
    direction = (close > lock) - (close < lock)
    if status is None:
        status = "settled-up" if direction > 0 else "settled-down" if direction < 0 else "house-won"
    return RoundOutcome(
        market=market, epoch=epoch, start_ts=lock_ts - 300, lock_ts=lock_ts, close_ts=close_ts, lock_price=lock,
        close_price=close, price_decimals=decimals, total_wei=10**18, bull_wei=5 * 10**17, bear_wei=5 * 10**17,
        reward_base_wei=0, reward_wei=0, status=status, direction=direction, log_return=None, final=final,
    )


@pytest.fixture
def db(tmp_path):
    """(session factory, engine) on a SQLite file."""
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    yield session_factory(engine)
    engine.dispose()


def add_rows(factory, rows) -> None:
    with session_scope(factory) as s:
        s.add_all(rows)


def http_get(url: str) -> tuple[int, str, dict[str, str]]:
    """A plain GET like Go's http.Get: status, body, headers; non-2xx is a result, not an exception."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - loopback only
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), dict(err.headers)


def http_post(url: str, body: bytes | str) -> tuple[int, str]:
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def fill_template(template: str, params: dict[str, str], block_height: int, topic_id: int) -> str:
    """What allora-offchain-node's apiAdapter does: {BlockHeight}, {TopicId}, then every parameter, e.g. {Token}."""
    url = template.replace("{BlockHeight}", str(block_height)).replace("{TopicId}", str(topic_id))
    for key, value in params.items():
        url = url.replace("{" + key + "}", value)
    return url
