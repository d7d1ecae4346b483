"""Bearer-token check for the API's state-changing routes (constant-time comparison; the token is never logged)."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Header, HTTPException, status

CHALLENGE = {"WWW-Authenticate": "Bearer"}


def bearer_guard(token: str | None) -> Callable[[str | None], None]:
    """A FastAPI dependency: 401 unless ``Authorization: Bearer <token>`` matches. No token configured: every request
    it guards is refused (state changes need a configured token)."""
    expected = token.encode() if token else None

    def check(authorization: str | None = Header(default=None)) -> None:
        if expected is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "no API token configured: state changes are disabled",
                                headers=CHALLENGE)
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not given or not hmac.compare_digest(given.strip().encode(), expected):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong bearer token", headers=CHALLENGE)

    return check
