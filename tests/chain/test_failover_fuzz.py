"""Property: whatever garbage an endpoint answers (body and HTTP status), a call through FailoverProvider ends in a
valid answer from the healthy endpoint, or in a TemporaryError when every endpoint answers garbage — never another
exception, never a hang."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3

from bot.errors import TemporaryError
from devkit.devnet.anvil import AnvilNode
from devkit.devnet.faultproxy import FaultPlan, FaultProxy
from tests.chain.conftest import make_w3

pytestmark = [pytest.mark.anvil, pytest.mark.timeout(60)]

VALID = b'{"jsonrpc":"2.0","id":0,"result":"0x5"}'
STATUSES = st.one_of(
    st.sampled_from([200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 408, 413, 418, 429, 500, 502, 503, 504]),
    st.integers(200, 599),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
RPC_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0", 2.0, None, ""]),
        "id": st.one_of(st.none(), st.integers(), st.text(max_size=4), st.lists(st.integers(), max_size=2)),
        "result": JSON_VALUES,
        "error": st.one_of(
            JSON_VALUES,
            st.fixed_dictionaries(
                {}, optional={"code": st.one_of(st.integers(), st.text(max_size=4)), "message": JSON_VALUES}
            ),
        ),
    },
)


def _well_formed(obj: Any) -> bool:
    """A JSON-RPC 2.0 answer (success or error) by the spec: not garbage, so not part of this property."""
    if isinstance(obj, list):
        return bool(obj) and all(_well_formed(o) for o in obj)
    if not isinstance(obj, dict) or obj.get("jsonrpc") != "2.0" or ("result" in obj) == ("error" in obj):
        return False
    if "error" in obj:
        err = obj["error"]
        return isinstance(err, dict) and isinstance(err.get("code"), int) and isinstance(err.get("message"), str)
    rid = obj.get("id")
    return isinstance(rid, int) or (isinstance(rid, str) and rid.strip().lstrip("+-").isdigit())


GARBAGE = st.one_of(
    st.binary(max_size=120),
    st.text(max_size=60).map(str.encode),
    st.integers(0, len(VALID) - 1).map(lambda n: VALID[:n]),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.one_of(RPC_LIKE, st.lists(RPC_LIKE, min_size=1, max_size=3))
    .filter(lambda v: not _well_formed(v))
    .map(lambda v: json.dumps(v).encode()),
)


@pytest.fixture
def fuzz_w3(proxies: tuple[FaultProxy, FaultProxy]) -> Web3:
    """One web3 for all examples (built once: hypothesis reuses function-scoped fixtures across examples)."""
    return make_w3([p.url for p in proxies], timeout=1.0)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=GARBAGE, status=STATUSES)
def test_garbage_from_an_endpoint_never_escapes(
    proxies: tuple[FaultProxy, FaultProxy], fuzz_w3: Web3, anvil: AnvilNode, body: bytes, status: int
) -> None:
    primary, secondary = proxies
    garbage = FaultPlan(rate=1.0, kinds=("garbage",), garbage_body=body, garbage_status=status)
    primary.set_plan(garbage)
    secondary.clear()
    w3 = fuzz_w3
    who = anvil.accounts[6]

    assert w3.eth.block_number == anvil.block_number()
    with w3.batch_requests() as batch:
        batch.add(w3.eth.get_block_number())
        batch.add(w3.eth.get_balance(who))
        assert batch.execute() == [anvil.block_number(), anvil.balance(who)]

    secondary.set_plan(garbage)
    with pytest.raises(TemporaryError):
        w3.eth.get_balance(who)
    with pytest.raises(TemporaryError), w3.batch_requests() as batch:
        batch.add(w3.eth.get_block_number())
        batch.execute()
