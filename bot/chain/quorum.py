"""Quorum reads: the reads a bet depends on, confirmed by ``quorum`` distinct endpoints of one chain.

Contract of :func:`confirmed` (used by ``FailoverProvider.make_request`` for ``QUORUM_METHODS`` when the chain's
``quorum`` > 1):
- ``eth_call`` at ``latest``/``pending`` (or no block) is pinned to the lowest head among the endpoints asked, so two
  honest nodes a block apart answer the same question; heads more than ``MAX_HEAD_LAG`` blocks apart are a
  disagreement. A call at an explicit block is asked as it is.
- The answers (result or JSON-RPC error) of ``quorum`` endpoints that proved their chain id must be equal. Equal: the
  answer is returned. Different: ``QuorumError`` (a ``TemporaryError``: the bet is not placed) naming both answers,
  and a WARNING log line with both.
- A receipt that one endpoint has and another does not yet have is "not yet" (``null``): a receipt counts only once
  the quorum sees it, so a bet is never recorded as landed on one endpoint's word.
- Fewer than ``quorum`` endpoints answering is a ``TemporaryError`` (no answer is trusted alone).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from web3.types import RPCEndpoint, RPCResponse

from bot.errors import TemporaryError
from bot.redact import redact_url

if TYPE_CHECKING:
    from bot.chain.rpc import FailoverProvider

log = logging.getLogger(__name__)
FLOATING_BLOCKS = ("latest", "pending", "safe", "finalized")
MAX_HEAD_LAG = 2  # blocks two honest endpoints may be apart; more is a disagreement (a stale or lying node)


class QuorumError(TemporaryError):
    """Endpoints disagree on a read a bet depends on: no bet on either answer."""


def _answers(provider: FailoverProvider, method: RPCEndpoint, params: Any) -> list[tuple[int, RPCResponse]]:
    """(endpoint, answer) from the first ``provider.quorum`` endpoints that prove their chain id and answer."""
    from bot.chain.rpc import TRANSPORT_ERRORS, _Dropped

    args = list(params) if isinstance(params, list | tuple) else [params]
    floating = method == "eth_call" and (len(args) < 2 or args[1] in FLOATING_BLOCKS)
    chosen: list[int] = []
    heads: list[int] = []
    for i in provider._order():
        try:
            provider._ready(i)
            if floating:
                heads.append(int(str(provider._call(i, RPCEndpoint("eth_blockNumber"), []).get("result")), 16))
        except _Dropped:
            continue
        except TRANSPORT_ERRORS as exc:
            provider._mark_failed(i, exc)
            continue
        chosen.append(i)
        if len(chosen) == provider.quorum:
            break
    if len(chosen) < provider.quorum:
        raise TemporaryError(f"quorum {provider.quorum} for {method}: only {len(chosen)} endpoint(s) answered")
    if floating:  # the same block for everyone: the lowest head among them, if they are close
        if max(heads) - min(heads) > MAX_HEAD_LAG:
            urls = ", ".join(f"{redact_url(provider.health[i].url)} at block {h}" for i, h in zip(chosen, heads,
                                                                                                 strict=True))
            log.warning("quorum: endpoints' heads are far apart (%s) — no bet", urls)
            raise QuorumError(f"endpoints disagree on the chain head ({urls}): no bet")
        args = [args[0], hex(min(heads)), *args[2:]]
    got: list[tuple[int, RPCResponse]] = []
    for i in chosen:
        try:
            got.append((i, provider._call(i, method, args)))
            provider._mark_ok(i)
        except TRANSPORT_ERRORS as exc:
            provider._mark_failed(i, exc)
            raise TemporaryError(f"quorum {provider.quorum} for {method}: an endpoint failed ({type(exc).__name__})") \
                from None
    return got


def _essence(answer: RPCResponse) -> Any:
    return answer.get("error") if "error" in answer else answer.get("result")


def confirmed(provider: FailoverProvider, method: RPCEndpoint, params: Any) -> RPCResponse:
    """The answer ``provider.quorum`` endpoints agree on (see the module contract)."""
    got = _answers(provider, method, params)
    first_i, first = got[0]
    for i, answer in got[1:]:
        if _essence(answer) == _essence(first):
            continue
        if method == "eth_getTransactionReceipt" and None in (_essence(answer), _essence(first)):
            return cast(RPCResponse, {**first, "result": None})  # not yet seen by the whole quorum
        a, b = (str(_essence(x))[:200] for x in (first, answer))
        urls = (redact_url(provider.health[first_i].url), redact_url(provider.health[i].url))
        log.warning("quorum: endpoints disagree on %s: %s answered %s; %s answered %s — no bet on either", method,
                    urls[0], a, urls[1], b)
        raise QuorumError(f"endpoints disagree on {method} ({urls[0]}: {a[:80]}; {urls[1]}: {b[:80]}): no bet")
    return first
