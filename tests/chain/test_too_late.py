"""When a bet may still be sent: the next block must be able to carry a timestamp before lock."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.chain.clock import too_late_to_send, wait_for_first_bettable_second
from bot.config import Settings


@given(now=st.floats(min_value=0, max_value=2e9, allow_nan=False), lock=st.integers(min_value=0, max_value=2 * 10**9))
def test_one_second_blocks_keep_the_lock_minus_one_rule(now: float, lock: int) -> None:
    assert too_late_to_send(now, lock) == (now >= lock - 1)


@given(lock=st.integers(min_value=10, max_value=2 * 10**9), block=st.floats(min_value=0.05, max_value=30))
def test_never_sends_when_the_next_block_can_be_stamped_at_lock(lock: int, block: float) -> None:
    assert too_late_to_send(lock - block, lock, block)  # the next block could come exactly at lock
    assert too_late_to_send(float(lock), lock, block)


def test_bsc_blocks_send_at_lock_minus_0_6_not_at_lock_minus_0_4() -> None:
    lock = 1_800_000_000
    # latest block stamped lock - 1 (0.45 s blocks: more blocks stamped lock - 1 may follow)
    assert not too_late_to_send(lock - 1, lock, 0.45)
    assert not too_late_to_send(lock - 0.6, lock, 0.45)
    assert too_late_to_send(lock - 0.4, lock, 0.45)
    assert too_late_to_send(lock - 1, lock, 1.0)  # 1-second blocks: the next block is stamped lock


def test_block_seconds_is_a_chain_setting_and_bsc_ships_0_45() -> None:
    import yaml

    tree = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "bsc-mainnet.yaml").read_text())
    assert tree["chains"]["bsc"]["block_seconds"] == 0.45
    assert Settings.model_validate({"chains": {"c": {"chain_id": 1, "rpc_urls": ["http://127.0.0.1:9"]}}}
                                   ).chains["c"].block_seconds == 1.0


@given(start=st.integers(min_value=1, max_value=2 * 10**9),
       steps=st.lists(st.floats(min_value=0, max_value=0.5, allow_nan=False), min_size=1, max_size=40))
def test_a_bet_at_round_open_waits_for_a_whole_second_after_start(start: int, steps: list[float]) -> None:
    """Block stamps are whole seconds: an estimate of start + 0.3 may still put the next block at start (not bettable),
    so the wait returns True only once the estimate reaches start + 1, and never sleeps once it has."""
    estimates = [start + sum(steps[: i + 1]) for i in range(len(steps))]
    seen: list[float] = []
    slept: list[float] = []

    def chain_now() -> float:
        seen.append(estimates[min(len(seen), len(estimates) - 1)])
        return seen[-1]

    ticks = iter(range(10**6))
    ok = wait_for_first_bettable_second(chain_now, start, limit=len(steps) * 2.0, sleep=slept.append,
                                        monotonic=lambda: float(next(ticks)))
    assert ok == (seen[-1] >= start + 1)
    assert all(e < start + 1 for e in seen[:-1])  # it stopped at the first estimate past the start second
    assert len(slept) == len(seen) - 1
