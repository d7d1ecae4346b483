"""Chain time: what ``block.timestamp`` the next block will carry, and the betting-window rule in one place."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from web3 import Web3


def latest_block_time(w3: Web3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"])


def in_betting_window(start_ts: int, lock_ts: int, block_ts: int) -> bool:
    """The contracts accept a bet only while ``start < block.timestamp < lock`` — strict on both ends."""
    return start_ts < block_ts < lock_ts


def first_bettable_second(start_ts: int) -> int:
    """The first block timestamp that can carry a bet: block stamps are whole seconds, so a chain-time estimate of
    ``start + 0.3`` still means the next block may be stamped ``start`` (not bettable)."""
    return start_ts + 1


def wait_for_first_bettable_second(
    chain_now: Callable[[], float], start_ts: int, limit: float = 3.0, *,
    sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic,
) -> bool:
    """Block until the chain-time estimate reaches ``first_bettable_second(start_ts)`` (True) or ``limit`` seconds
    pass (False). A bet fired in the round's start second (a manual bet right as the round opens) then lands instead
    of reverting "not bettable". ``chain_now`` may raise ``TemporaryError``: the caller's pre-flight decides then."""
    from bot.errors import TemporaryError

    deadline = monotonic() + limit
    while True:
        try:
            if chain_now() >= first_bettable_second(start_ts):
                return True
        except TemporaryError:
            return False
        if monotonic() >= deadline:
            return False
        sleep(0.1)


def last_bettable_second(lock_ts: int) -> int:
    """The last block timestamp that can carry a bet."""
    return lock_ts - 1


def too_late_to_send(now: float, lock_ts: int, block_seconds: float = 1.0) -> bool:
    """Whether a bet sent at chain time ``now`` (seconds, fractional estimate) can no longer land in a block stamped
    before ``lock_ts``: the next block comes within ``block_seconds`` and carries the whole second it is made in.
    With 1-second blocks (the default) this is exactly ``now >= lock_ts - 1``; on BSC (0.45 s blocks, two or three
    blocks per timestamp second) a bet at lock - 0.6 s still lands, and is still sent."""
    return now + block_seconds >= lock_ts


@dataclass
class ChainClock:
    """Estimates chain time from the latest block and the local clock (offset measured at each sync)."""

    w3: Web3
    wall: Callable[[], float] = time.time
    offset: float = 0.0
    synced_at: float = 0.0

    def sync(self) -> float:
        block_ts = latest_block_time(self.w3)
        now = self.wall()
        # block_ts is whole seconds and lags the wall clock by up to a block interval; never run ahead of the chain
        self.offset = block_ts - now
        self.synced_at = now
        return self.offset

    def now(self) -> float:
        """Best estimate of the chain's current time."""
        return self.wall() + self.offset

    def skew(self) -> float:
        """Local clock minus chain time, seconds (positive: we run ahead)."""
        return -self.offset


def fast_block_time(w3: Web3) -> int:
    """Latest block timestamp with one raw request (no result formatters: used on the bet path)."""
    response = w3.provider.make_request("eth_getBlockByNumber", ["latest", False])  # type: ignore[arg-type]
    result = response.get("result")
    if not isinstance(result, dict) or "timestamp" not in result:
        from bot.errors import TemporaryError

        raise TemporaryError(f"malformed block answer: {str(response)[:120]}")
    ts = result["timestamp"]
    return int(ts, 16) if isinstance(ts, str) else int(ts)
