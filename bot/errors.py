"""Error taxonomy that drives behaviour (translate web3/ccxt/allora-sdk errors into these at the adapter edge).

- TemporaryError: retry later (timeouts, 5xx, 429, dropped connections).
- OperationalError: needs a human — stop and say so (wrong chain, wrong contract, missing key, bad config);
  NeedsHuman is the mid-run kind: the daemon pauses betting on it.
- RevertError: an expected contract outcome to record (e.g. "Round not bettable"), never retried blindly.
- InputError: the user gave us something unusable (a file that is missing or malformed, a bad parameter): say what
  and where in one line; the CLI exits 2.
"""

from __future__ import annotations


class BotError(Exception):
    """Base class for every error the bot raises on purpose."""


class InputError(BotError, ValueError):
    """Bad user input (a file, a parameter, a value): one clear line, exit 2. A ``ValueError`` for callers that
    catch that."""


class TemporaryError(BotError):
    """Transient: retry with backoff."""


class OperationalError(BotError):
    """Needs a human: stop acting and explain."""


class NeedsHuman(OperationalError):
    """Raised on the bet path when continuing would need a human's decision (the signer refused by policy, the daily
    gas cap reached, a key or contract mismatch found mid-run). The daemon catches it, pauses betting (state
    ``paused``, with this message as the reason) and notifies; it never counts it and goes on."""


class WrongChainError(OperationalError):
    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"connected to chain id {actual}, but the config expects {expected}: refusing to act")
        self.expected = expected
        self.actual = actual


class RevertError(BotError):
    """A contract call reverted with ``reason`` (the revert string, or a short description)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one short line for a user (library messages can carry newlines or whole response bodies)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
