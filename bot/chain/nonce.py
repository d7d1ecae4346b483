"""One local nonce counter per account, resynced from the node's pending count."""

from __future__ import annotations

import threading

from web3 import Web3


class NonceManager:
    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self._next: dict[str, int] = {}
        self._returned: dict[str, set[int]] = {}  # reserved, never broadcast, given back
        self._lock = threading.Lock()

    def sync(self, account: str) -> int:
        pending = int(self.w3.eth.get_transaction_count(account, "pending"))  # type: ignore[arg-type]
        with self._lock:
            self._next[account] = max(pending, self._next.get(account, 0)) if account in self._next else pending
            return self._next[account]

    def resync(self, account: str) -> int:
        """Forget the local counter and take the node's pending count (after 'nonce too low' etc.)."""
        pending = int(self.w3.eth.get_transaction_count(account, "pending"))  # type: ignore[arg-type]
        with self._lock:
            self._next[account] = pending
            self._returned.pop(account, None)
            return pending

    def reserve(self, account: str) -> int:
        with self._lock:
            if account not in self._next:
                self._lock.release()
                try:
                    self.sync(account)
                finally:
                    self._lock.acquire()
            returned = self._returned.get(account)
            if returned:  # a nonce given back (never broadcast) goes first, or later ones would wait behind the gap
                nonce = min(returned)
                returned.discard(nonce)
                return nonce
            nonce = self._next[account]
            self._next[account] = nonce + 1
            return nonce

    def release(self, account: str, nonce: int) -> None:
        """Give back a reserved nonce that was never broadcast (a refused signature): it is handed out again next."""
        with self._lock:
            if self._next.get(account) == nonce + 1:
                self._next[account] = nonce
            elif nonce < self._next.get(account, 0):
                self._returned.setdefault(account, set()).add(nonce)
