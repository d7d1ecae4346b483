"""A JSON-RPC provider over several HTTP endpoints with health tracking and failover.

Reads go to the first healthy endpoint and fail over on transport errors (timeouts, refused connections, HTTP 5xx/429,
malformed, truncated, too large or too deeply nested bodies). JSON-RPC error *responses* (reverts, "nonce too low") are
answers, not faults, and are returned as they are. A signed transaction is broadcast to every healthy endpoint
(``broadcast``). Retries are bounded.

With ``chain_id`` set, every endpoint proves its chain id (``eth_chainId``) before it is used, and again before it is
used after a failure (a failover can land on a different node behind the same URL). An endpoint on another chain is
dropped for the life of the provider, with an ERROR log line naming both ids; when every endpoint is dropped the
provider raises ``WrongChainError``. With ``quorum`` > 1 the reads a bet depends on are confirmed by that many
endpoints (``bot.chain.quorum``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import requests
import requests.adapters
from web3.providers import HTTPProvider, JSONBaseProvider
from web3.types import RPCEndpoint, RPCResponse

from bot import wire
from bot.errors import TemporaryError, WrongChainError
from bot.redact import redact_text, redact_url, register_url

log = logging.getLogger(__name__)

TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    requests.RequestException,
    ConnectionError,
    TimeoutError,
    ValueError,  # json decode errors of malformed / truncated bodies; wire.UnsafeBody (too large, too deep)
    UnicodeDecodeError,
)


# the reads a bet depends on (round state, pools, our ledger entry: eth_call; the receipt), confirmed under a quorum
QUORUM_METHODS = frozenset({"eth_call", "eth_getTransactionReceipt"})
IN_BAND_FAULT_CODES = (-32005, 429, -32603)  # rate limited / internal error reported inside a JSON-RPC answer


def _malformed(response: Any) -> str:
    """Why ``response`` is not a JSON-RPC 2.0 answer web3 can parse ("" if it is one); mirrors web3's own checks."""
    if not isinstance(response, dict):
        return "not an object"
    if response.get("jsonrpc") != "2.0":
        return 'no "jsonrpc": "2.0"'
    if ("result" in response) == ("error" in response):
        return "needs exactly one of result and error"
    rid = response.get("id", ...)
    if not (rid is None and "error" in response) and not isinstance(rid, int) and not _int_like(rid):
        return "bad id"
    err = response.get("error")
    if "error" in response and (
        not isinstance(err, dict) or not isinstance(err.get("code"), int) or not isinstance(err.get("message"), str)
    ):
        return "error is not an object with an integer code and a string message"
    return ""


def _int_like(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        int(value)
    except ValueError:
        return False
    return True


def _id_key(value: Any) -> int | None:
    return int(value) if isinstance(value, int | str) else None


def _checked(response: Any) -> RPCResponse:
    """``response`` if it is an answer; ``ValueError`` if malformed, ``HTTPError`` if an in-band endpoint fault."""
    why = _malformed(response)
    if why:
        raise ValueError(f"malformed JSON-RPC response ({why}): {str(response)[:80]}")
    err = response.get("error")
    if isinstance(err, dict) and err.get("code") in IN_BAND_FAULT_CODES and "revert" not in str(err.get("message")):
        # rate limited / internal server error reported in-band: a fault of this endpoint, not an answer
        raise requests.HTTPError(f"in-band rpc error {err.get('code')}: {str(err.get('message'))[:80]}")
    return cast(RPCResponse, response)


@dataclass
class EndpointHealth:
    url: str
    ok: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    down_until: float = 0.0
    last_error: str = ""
    verified: bool = False  # answered the expected chain id since its last failure
    wrong_chain: int | None = None  # the chain id it answered instead: dropped

    def healthy(self, now: float) -> bool:
        return now >= self.down_until and self.wrong_chain is None


class _Dropped(Exception):
    """Endpoint ``i`` answered another chain id (internal: never leaves the provider)."""


@dataclass
class FailoverPolicy:
    rounds: int = 3  # passes over all endpoints before giving up
    backoff: float = 0.05  # seconds, doubled per pass
    cooldown: float = 2.0  # seconds an endpoint is skipped after a failure (doubled while it keeps failing, capped)
    max_cooldown: float = 30.0
    timeout: float = 10.0


def _session() -> requests.Session:
    """A keep-alive session that ignores proxy/netrc environment lookups (they cost ~1 ms per request)."""
    session = requests.Session()
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class FailoverProvider(JSONBaseProvider):
    """web3 provider that fails over between ``urls`` (first is primary)."""

    def __init__(
        self,
        urls: list[str],
        policy: FailoverPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        *,
        chain_id: int | None = None,
        quorum: int = 1,
    ) -> None:
        super().__init__()
        if not urls:
            raise ValueError("at least one RPC URL is required")
        if not 1 <= quorum <= len(urls):
            raise ValueError(f"quorum {quorum} needs at least that many RPC URLs (have {len(urls)})")
        self.chain_id = chain_id
        self.quorum = quorum
        self.policy = policy or FailoverPolicy()
        for url in urls:
            register_url(url)  # an API key in a URL is masked wherever an error or log line repeats it
        self._sessions = [_session() for _ in urls]
        self.health = [EndpointHealth(u) for u in urls]
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()

    def __str__(self) -> str:
        return "FailoverProvider(" + ", ".join(redact_url(h.url) for h in self.health) + ")"

    # -- health ---------------------------------------------------------------------------------------------------
    def _order(self) -> list[int]:
        """Endpoints to try: healthy first, then those cooling down (soonest first); dropped ones never."""
        now = self._clock()
        with self._lock:
            usable = [i for i, h in enumerate(self.health) if h.wrong_chain is None]
            healthy = [i for i in usable if self.health[i].healthy(now)]
            sick = sorted((i for i in usable if i not in healthy), key=lambda i: self.health[i].down_until)
        return healthy + sick

    def _all_dropped(self) -> WrongChainError | None:
        dropped = [h.wrong_chain for h in self.health if h.wrong_chain is not None]
        if self.chain_id is None or len(dropped) < len(self.health):
            return None
        return WrongChainError(self.chain_id, int(dropped[0] or 0))

    def _ready(self, i: int) -> RPCResponse | None:
        """Prove endpoint ``i``'s chain id unless done since its last failure; the ``eth_chainId`` answer if asked.

        Raises ``_Dropped`` for another chain id (the endpoint is dropped and logged), a transport error if it
        cannot answer."""
        h = self.health[i]
        if self.chain_id is None or h.verified:
            return None
        answer = self._call(i, RPCEndpoint("eth_chainId"), [])
        result = answer.get("result")
        try:
            actual = int(str(result), 16) if isinstance(result, str) else int(cast(int, result))
        except (TypeError, ValueError):
            raise ValueError(f"eth_chainId answered {str(answer)[:80]}") from None
        if actual != self.chain_id:
            with self._lock:
                h.wrong_chain = actual
                h.last_error = f"on chain {actual}, not {self.chain_id}: dropped"
            log.error("rpc endpoint %s is on chain id %d, not %d: dropped (never used)", redact_url(h.url), actual,
                      self.chain_id)
            raise _Dropped(i)
        with self._lock:
            h.verified = True
        return answer

    def _mark_ok(self, i: int) -> None:
        with self._lock:
            h = self.health[i]
            h.ok += 1
            h.consecutive_failures = 0
            h.down_until = 0.0

    def _mark_failed(self, i: int, exc: BaseException) -> None:
        with self._lock:
            h = self.health[i]
            h.failures += 1
            h.consecutive_failures += 1
            cooldown = min(self.policy.cooldown * 2 ** (h.consecutive_failures - 1), self.policy.max_cooldown)
            h.down_until = self._clock() + cooldown
            h.verified = False  # prove the chain id again before it is used after this failure
            h.last_error = redact_text(f"{type(exc).__name__}: {str(exc)[:200]}")[:160]
        log.warning("rpc endpoint %s failed (%s)", redact_url(h.url), h.last_error)

    # -- requests -------------------------------------------------------------------------------------------------
    def _post(self, i: int, payload: bytes) -> Any:
        """POST ``payload`` to endpoint ``i``; its answer parsed within ``wire.RPC`` limits (read capped, never more).

        The one way any request reaches an endpoint (single, batch, broadcast): web3's HTTPProvider would read and
        parse an answer of any size and depth."""
        with self._sessions[i].post(
            self.health[i].url,
            data=payload,
            headers=HTTPProvider.get_request_headers(),
            timeout=self.policy.timeout,
            stream=True,
        ) as reply:
            reply.raise_for_status()
            body = wire.read_capped(reply, wire.RPC, "rpc answer")
        return wire.loads(body, wire.RPC, "rpc answer")

    def _call(self, i: int, method: RPCEndpoint, params: Any) -> RPCResponse:
        return _checked(self._post(i, self.encode_rpc_request(method, params)))

    def _failover(self, call: Callable[[int], Any], what: str, *, chain_id_probe: bool = False) -> Any:
        """Try ``call(endpoint)`` on healthy endpoints first, for ``policy.rounds`` passes with backoff between them.

        Each endpoint proves its chain id first (``_ready``); for ``eth_chainId`` itself (``chain_id_probe``) that
        proof is the answer."""
        last: BaseException | None = None
        for attempt in range(self.policy.rounds):
            for i in self._order():
                try:
                    probe = self._ready(i)
                    response = probe if chain_id_probe and probe is not None else call(i)
                except _Dropped:
                    continue
                except TRANSPORT_ERRORS as exc:
                    self._mark_failed(i, exc)
                    last = exc
                    continue
                self._mark_ok(i)
                return response
            wrong = self._all_dropped()
            if wrong is not None:
                raise wrong
            if attempt + 1 < self.policy.rounds:
                self._sleep(self.policy.backoff * 2**attempt)
        raise TemporaryError(
            redact_text(f"all RPC endpoints failed for {what}: {type(last).__name__}: {str(last)[:200]}")
        ) from last

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        if self.quorum > 1 and method in QUORUM_METHODS:
            from bot.chain.quorum import confirmed

            return confirmed(self, method, params)
        return cast(RPCResponse, self._failover(
            lambda i: self._call(i, method, params), method, chain_id_probe=method == "eth_chainId"
        ))

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        payload = self.encode_batch_rpc_request(batch_requests)
        return cast(list[RPCResponse], self._failover(lambda i: self._batch_call(i, payload), "a batch"))

    def _batch_call(self, i: int, payload: bytes) -> list[RPCResponse]:
        """POST the batch to endpoint ``i``; its answers in request order, each checked like a single answer.

        Not through web3's batch handling, which sorts the answers by id before they can be checked (and breaks on a
        list of non-objects or mixed id types)."""
        response = self._post(i, payload)
        if not isinstance(response, list):
            raise ValueError(f"batch answered with a single response: {str(response)[:80]}")
        answers = {_id_key(r.get("id")): r for r in (_checked(r) for r in response)}
        wanted = [int(r["id"]) for r in json.loads(payload)]
        if len(response) != len(wanted) or set(answers) != set(wanted):
            raise ValueError(f"batch of {len(wanted)} answered with {len(response)} responses or other ids")
        return [answers[rid] for rid in wanted]

    def broadcast(self, raw_tx: bytes) -> list[RPCResponse]:
        """Send a signed transaction to every endpoint; return every answer received (transport failures skipped)."""
        answers: list[RPCResponse] = []
        errors: list[str] = []
        params = ["0x" + raw_tx.hex()]
        for i in self._order():
            try:
                self._ready(i)
                answers.append(self._call(i, RPCEndpoint("eth_sendRawTransaction"), params))
                self._mark_ok(i)
            except _Dropped:
                continue
            except TRANSPORT_ERRORS as exc:
                self._mark_failed(i, exc)
                errors.append(f"{type(exc).__name__}")
        if not answers:
            wrong = self._all_dropped()
            if wrong is not None:
                raise wrong
            raise TemporaryError(f"broadcast reached no RPC endpoint ({', '.join(errors)})")
        return answers

    def is_connected(self, show_traceback: bool = False) -> bool:
        try:
            self.make_request(RPCEndpoint("web3_clientVersion"), [])
            return True
        except TemporaryError:
            return False


@dataclass
class HealthReport:
    endpoints: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, provider: FailoverProvider) -> HealthReport:
        now = time.monotonic()
        return cls(
            [
                {
                    "url": redact_url(h.url),
                    "healthy": h.healthy(now),
                    "ok": h.ok,
                    "failures": h.failures,
                    "last_error": h.last_error,
                    "chain_id_verified": h.verified,
                    "wrong_chain_id": h.wrong_chain,
                }
                for h in provider.health
            ]
        )

    def to_json(self) -> str:
        return json.dumps(self.endpoints)
