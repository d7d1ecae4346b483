"""The fault proxy itself: every fault kind as configured, method/batch restriction, seeded determinism, admin route."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from devkit.devnet.anvil import AnvilNode
from devkit.devnet.faultproxy import FAULT_KINDS, MALFORMED_BODIES, FaultInjector, FaultPlan, FaultProxy

pytestmark = [pytest.mark.anvil, pytest.mark.timeout(30)]

BLOCK_NUMBER = {"jsonrpc": "2.0", "id": 7, "method": "eth_blockNumber", "params": []}


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def _call(proxy: FaultProxy, payload: Any, timeout: float = 2.0) -> requests.Response | BaseException:
    try:
        return _session().post(proxy.url, json=payload, timeout=timeout)
    except requests.RequestException as exc:
        return exc


def _rpc(method: str, rid: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": []}


def test_clean_proxy_forwards(proxies: tuple[FaultProxy, FaultProxy], anvil: AnvilNode) -> None:
    primary, _ = proxies
    answer = _call(primary, BLOCK_NUMBER)
    assert isinstance(answer, requests.Response) and answer.status_code == 200
    assert answer.json() == {"jsonrpc": "2.0", "id": 7, "result": hex(anvil.block_number())}
    assert primary.counters() == {"requests": 1, "forwarded": 1}


def _status(proxy: FaultProxy, payload: Any) -> int:
    answer = _call(proxy, payload)
    assert isinstance(answer, requests.Response), answer
    return answer.status_code


def _ok_json(answer: requests.Response | BaseException) -> Any:
    assert isinstance(answer, requests.Response) and answer.status_code == 200
    return json.loads(answer.content)


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_kind(proxies: tuple[FaultProxy, FaultProxy], kind: str) -> None:
    primary, _ = proxies
    primary.set_plan(FaultPlan(rate=1.0, kinds=(kind,), delay_ms=30, blackhole_timeout=0.2))
    answer = _call(primary, BLOCK_NUMBER)
    if kind in ("drop", "blackhole"):
        assert isinstance(answer, requests.ConnectionError)
    elif kind == "truncated":
        assert isinstance(answer, requests.exceptions.ChunkedEncodingError)
    elif kind == "http_5xx":
        assert isinstance(answer, requests.Response) and answer.status_code == 503
    elif kind == "http_429":
        assert isinstance(answer, requests.Response) and answer.status_code == 429
        assert answer.headers["Retry-After"] == "1"
    elif kind == "malformed":
        assert isinstance(answer, requests.Response) and answer.content in MALFORMED_BODIES
    elif kind == "rpc_error":
        assert _ok_json(answer) == {"jsonrpc": "2.0", "id": 7, "error": {"code": -32005, "message": "limit exceeded"}}
    elif kind == "deep":  # valid JSON, 100,000 arrays deep
        assert isinstance(answer, requests.Response) and answer.status_code == 200
        assert answer.content.startswith(b'{"jsonrpc": "2.0", "id": 7, "result": ' + b"[" * 100_000)
        assert answer.content.count(b"]") == 100_000
    elif kind == "huge":  # valid JSON, 20 MiB, honest length
        assert isinstance(answer, requests.Response) and answer.status_code == 200
        assert len(answer.content) == int(answer.headers["Content-Length"]) == 20 * 1024 * 1024
        assert json.loads(answer.content)["id"] == 7
    else:  # delay: answered after the delay
        assert "result" in _ok_json(answer)
    counters = primary.counters()
    assert counters[kind] == 1 and counters["faulted"] == 1 and counters["requests"] == 1
    assert counters.get("forwarded", 0) == (1 if kind in ("delay", "truncated") else 0)


def test_garbage_kind_answers_the_configured_status_and_body(proxies: tuple[FaultProxy, FaultProxy]) -> None:
    primary, _ = proxies
    primary.set_plan(FaultPlan(rate=1.0, kinds=("garbage",), garbage_status=418, garbage_body=b"\x00teapot"))
    answer = _call(primary, BLOCK_NUMBER)
    assert isinstance(answer, requests.Response) and (answer.status_code, answer.content) == (418, b"\x00teapot")
    assert primary.counters()["garbage"] == 1


def test_forward_faulted_reaches_the_upstream(proxies: tuple[FaultProxy, FaultProxy]) -> None:
    primary, _ = proxies
    primary.set_plan(FaultPlan(rate=1.0, kinds=("drop",), forward_faulted=True))
    assert isinstance(_call(primary, BLOCK_NUMBER), requests.ConnectionError)
    assert primary.counters()["forwarded"] == 1 and primary.counters()["drop"] == 1


def test_restriction_by_method(proxies: tuple[FaultProxy, FaultProxy]) -> None:
    primary, _ = proxies
    primary.set_plan(FaultPlan(rate=1.0, kinds=("http_5xx",), methods=frozenset({"eth_call"})))
    assert _status(primary, _rpc("eth_chainId")) == 200
    assert _status(primary, _rpc("eth_call")) == 503

    primary.set_plan(FaultPlan(rate=1.0, kinds=("http_5xx",), exclude_methods=frozenset({"eth_sendRawTransaction"})))
    assert _status(primary, _rpc("eth_chainId")) == 503
    # an excluded method is forwarded (anvil answers the empty params with a JSON-RPC error)
    assert _status(primary, _rpc("eth_sendRawTransaction")) == 200
    assert primary.counters()["http_5xx"] == 2


def test_batches_are_faulted_per_item_or_spared(proxies: tuple[FaultProxy, FaultProxy]) -> None:
    primary, _ = proxies
    batch = [_rpc("eth_chainId", 1), _rpc("eth_blockNumber", 2)]
    primary.set_plan(FaultPlan(rate=1.0, kinds=("rpc_error",), methods=frozenset({"eth_blockNumber"})))
    answers = _ok_json(_call(primary, batch))
    assert [a["id"] for a in answers] == [1, 2] and all(a["error"]["code"] == -32005 for a in answers)

    primary.set_plan(FaultPlan(rate=1.0, kinds=("rpc_error",), batches=False))
    assert all("result" in a for a in _ok_json(_call(primary, batch)))
    assert primary.counters()["batches"] == 2 and primary.counters()["rpc_error"] == 1


def test_faults_are_deterministic_for_a_seed(anvil: AnvilNode) -> None:
    plan = FaultPlan(rate=0.5, kinds=("http_5xx", "http_429", "malformed", "rpc_error"))
    runs = []
    for seed in (5, 5, 6):
        with FaultProxy(anvil.url, seed=seed, plan=plan) as proxy:
            session = _session()
            for _ in range(30):
                session.post(proxy.url, json=BLOCK_NUMBER, timeout=2)
            runs.append(proxy.history())
    assert len(runs[0]) == 30 and runs[0] == runs[1] and runs[0] != runs[2]
    assert {"ok", "http_5xx"} <= set(runs[0])


def test_rate_is_the_share_of_faulted_requests() -> None:
    injector = FaultInjector(seed=3, plan=FaultPlan(rate=0.3))
    decisions = [injector.decide(["eth_call"], False)[1].kind for _ in range(2_000)]
    share = sum(k is not None for k in decisions) / len(decisions)
    assert 0.26 < share < 0.34
    assert set(decisions) == {None, *FAULT_KINDS}
    injector.reseed()
    assert [injector.decide(["eth_call"], False)[1].kind for _ in range(2_000)] == decisions


def test_admin_route_sets_the_plan_and_reports_counters(proxies: tuple[FaultProxy, FaultProxy]) -> None:
    primary, _ = proxies
    session = _session()
    plan = {"rate": 1.0, "kinds": ["http_429"], "methods": ["eth_blockNumber"], "seed": 9}
    answer = session.post(primary.url + "/_faults", json=plan, timeout=2)
    assert answer.status_code == 200 and answer.json()["plan"]["kinds"] == ["http_429"]
    assert primary.plan.methods == frozenset({"eth_blockNumber"}) and primary.injector.seed == 9
    assert session.post(primary.url, json=BLOCK_NUMBER, timeout=2).status_code == 429
    status = session.get(primary.url + "/_faults", timeout=2).json()
    assert status["counters"]["http_429"] == 1
    assert session.post(primary.url + "/_faults", json={"rate": 2}, timeout=2).status_code == 400
    assert session.post(primary.url + "/_faults", json={"nope": 1}, timeout=2).status_code == 400
    assert session.post(primary.url + "/_faults", json={"reset_counters": True}, timeout=2).json()["counters"] == {}
    assert primary.plan == FaultPlan()


def test_plan_validation() -> None:
    for bad in ({"rate": -0.1}, {"kinds": ("teleport",)}, {"kinds": ()}, {"delay_ms": 10**6}, {"status_5xx": 404}):
        with pytest.raises(ValueError):
            FaultPlan(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy("http://10.0.0.1:8545", seed=1)


def test_stop_releases_black_holes_and_restart_keeps_the_url(anvil: AnvilNode) -> None:
    import threading

    proxy = FaultProxy(anvil.url, seed=1, plan=FaultPlan(blackhole=True, blackhole_timeout=30)).start()
    url = proxy.url
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(_call(proxy, BLOCK_NUMBER, timeout=20)))
    worker.start()
    deadline = time.monotonic() + 5
    while proxy.counters().get("blackhole", 0) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    proxy.stop()  # cuts the held connection instead of waiting 30 s
    worker.join(timeout=5)
    assert not worker.is_alive() and isinstance(results[0], requests.ConnectionError)
    assert isinstance(_call(proxy, BLOCK_NUMBER), requests.ConnectionError)  # down: connection refused

    proxy.clear()
    with proxy:
        assert proxy.url == url
        assert _ok_json(_call(proxy, BLOCK_NUMBER))["result"] == hex(anvil.block_number())
