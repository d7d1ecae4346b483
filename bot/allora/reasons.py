"""Why an inference was not used: one typed reason per failure, from transport errors to sanity checks.

The poller never raises out of a poll; every failure becomes a ``RejectReason`` that is stored in the inference log
and counted in the topic's health. ``SourceError`` carries a reason across the adapter edge.
"""

from __future__ import annotations

import enum


class RejectReason(enum.StrEnum):
    # verification of a parsed inference
    STALE = "stale"  # older than the replay window (allora.max_age_seconds, at most one topic epoch)
    FUTURE = "future"  # timestamp more than allora.max_future_seconds ahead
    BAD_SIGNATURE = "bad-signature"  # signature present but unusable (wrong length, not recoverable)
    UNTRUSTED_SIGNER = "untrusted-signer"  # recovered signer not in signature.trusted_signers
    UNSIGNED = "unsigned"  # no signature while signature.required
    NOT_A_NUMBER = "not-a-number"  # NaN, infinity or a non-numeric value
    NEGATIVE_PRICE = "negative-price"  # a price topic served a value <= 0
    OUT_OF_RANGE = "out-of-range"  # a classification probability outside [0, 1]
    ABSURD_JUMP = "absurd-jump"  # |predicted log-return| > jump_sigmas x topic volatility (capped by max_jump)
    WRONG_TOPIC = "wrong-topic"  # payload is for another topic than requested
    RESCALED = "rescaled"  # payload token_decimals differs from the topic's (the signature does not cover it)
    CHAIN_DISAGREES = "chain-disagrees"  # "chain" trust: the API value is not the chain's network inference
    UNVERIFIABLE = "unverifiable"  # "chain" trust: the chain could not be read to confirm the value
    # transport and payload
    HTTP_401 = "http-401"  # bad or missing API key (also 403)
    HTTP_404 = "http-404"  # unknown topic / no inference yet
    HTTP_429 = "http-429"  # rate limited
    HTTP_5XX = "http-5xx"  # server error
    HTTP_OTHER = "http-other"  # any other non-2xx status
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"  # connection refused/reset, DNS, nothing recorded for replay
    MALFORMED = "malformed"  # not JSON, wrong shape, missing fields
    INTERNAL = "internal"  # a bug on our side, caught at the boundary

    @property
    def retryable(self) -> bool:
        """Temporary failures: poll again with exponential backoff."""
        return self in _RETRYABLE


_RETRYABLE = frozenset({RejectReason.HTTP_429, RejectReason.HTTP_5XX, RejectReason.TIMEOUT, RejectReason.UNAVAILABLE})


def reason_for_status(status: int) -> RejectReason:
    if status in (401, 403):
        return RejectReason.HTTP_401
    if status == 404:
        return RejectReason.HTTP_404
    if status == 429:
        return RejectReason.HTTP_429
    if 500 <= status <= 599:
        return RejectReason.HTTP_5XX
    return RejectReason.HTTP_OTHER


class SourceError(Exception):
    """A fetch failed for a known reason. ``raw`` is the response body when there was one."""

    def __init__(self, reason: RejectReason, detail: str = "", *, status: int | None = None, raw: bytes = b"") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
        self.status = status
        self.raw = raw
