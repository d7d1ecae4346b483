"""The local nonce counter: a nonce reserved but never broadcast (a refused signature) is handed out again first, so
the next transaction does not wait forever behind a gap (the 20-market bench lost a bet that way)."""

from __future__ import annotations

from types import SimpleNamespace

from bot.chain.nonce import NonceManager

ACCOUNT = "0x" + "ab" * 20


def manager(pending: int) -> NonceManager:
    eth = SimpleNamespace(get_transaction_count=lambda account, block: pending)
    return NonceManager(SimpleNamespace(eth=eth))  # type: ignore[arg-type]


def test_a_released_nonce_is_reused_before_new_ones() -> None:
    nonces = manager(7)
    a, b, c = (nonces.reserve(ACCOUNT) for _ in range(3))
    assert (a, b, c) == (7, 8, 9)
    nonces.release(ACCOUNT, 8)  # the middle one was refused: not the last handed out
    assert nonces.reserve(ACCOUNT) == 8 and nonces.reserve(ACCOUNT) == 10
    nonces.release(ACCOUNT, 10)  # the last one: the counter steps back
    assert nonces.reserve(ACCOUNT) == 10


def test_resync_forgets_released_nonces() -> None:
    nonces = manager(3)
    first = nonces.reserve(ACCOUNT)
    nonces.reserve(ACCOUNT)
    nonces.release(ACCOUNT, first)
    nonces.resync(ACCOUNT)  # the node's pending count is the truth again
    assert nonces.reserve(ACCOUNT) == 3 and nonces.reserve(ACCOUNT) == 4
