"""Bounded parsing (bot.wire): the depth check agrees with real nesting, refused bodies never reach the parser,
the recursion limit is back to Python's default after eth-account is imported."""

from __future__ import annotations

import json
import sys

import eth_account  # noqa: F401 - its py_ecc import is what raised the recursion limit
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import wire

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet="[]{}\"\\ax,:"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet="[]{}\"a"), inner, max_size=3),
    max_leaves=40,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@given(_json, st.integers(min_value=0, max_value=12))
def test_depth_check_matches_the_real_nesting(value: object, limit: int) -> None:
    raw = json.dumps(value).encode()
    assert wire.depth_ok(raw, limit) == (_depth(value) <= limit)


def test_deep_and_huge_bodies_are_refused_unparsed() -> None:
    limits = wire.Limits(max_bytes=1000, max_depth=8)
    with pytest.raises(wire.UnsafeBody, match="deeper than 8"):
        wire.loads(b"[" * 100_000 + b"]" * 100_000, wire.Limits(max_bytes=10**6, max_depth=8))
    with pytest.raises(wire.UnsafeBody, match="1001 bytes"):
        wire.loads(b'"' + b"a" * 999 + b'"', limits)
    assert wire.loads(b'{"a": [[["[[[[[[[[[[["]]]}', limits) == {"a": [[["[[[[[[[[[[["]]]}


def test_recursion_limit_is_restored_after_the_eth_account_import() -> None:
    assert sys.getrecursionlimit() <= wire.DEFAULT_RECURSION_LIMIT
