"""The ledger of every mined transaction our accounts sent: what each cost (value + gas) and what it was.

Sources, cheapest first:
1. the journal (``TxAttempt`` rows the bot signed: bets, claims, approvals — reverted ones included);
2. our market events (``AccountEvent``): bets and claims made outside the bot, e.g. by hand from the same key;
3. the account's nonces: every transaction an account sends uses the next nonce, so ``nonce(head) - nonce(start)``
   transactions were mined in the window. A nonce no row explains (a reverted hand-made bet leaves no event, a plain
   transfer goes elsewhere) is located by bisecting ``eth_getTransactionCount`` over blocks, then read from its block.
   That needs historical state (an archive node or anvil); where the node refuses, the gap is reported as unattributed.

With every nonce explained, the native balance change of an account over the window is exactly
``claims received - value sent by successful transactions - gas of every transaction`` (plus incoming transfers,
which this ledger does not see).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from eth_utils import to_checksum_address
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from bot.chain.abicall import AbiFunction
from bot.markets.base import PredictionMarket
from bot.reconcile.chainread import MinedTx, mined_transactions, nonce_at, tx_by_nonce_in_block
from bot.reconcile.scanner import topic_int
from bot.store.db import session_scope
from bot.store.journal import TxAttempt
from bot.store.outcomes import AccountEvent, AccountTx, AccountWindow

log = logging.getLogger(__name__)

APPROVE_SELECTOR = "0x" + bytes(Web3.keccak(text="approve(address,uint256)")[:4]).hex()


@dataclass
class TxSyncReport:
    imported: int = 0
    dropped: int = 0  # rows whose transaction left the chain (reorg)
    found_by_nonce: int = 0
    unattributed: dict[str, int] = field(default_factory=dict)  # account -> nonces still unexplained


class TxLedger:
    """Keeps ``AccountTx`` complete for our accounts over their windows (start block .. head)."""

    def __init__(
        self,
        w3: Web3,
        sessions: sessionmaker[Session],
        markets: Sequence[PredictionMarket],
        accounts: Sequence[str],
        *,
        reorg_depth: int = 12,
        batch_size: int = 200,
    ) -> None:
        self.w3 = w3
        self.sessions = sessions
        self.markets = {m.address.lower(): m for m in markets}
        self.accounts = [to_checksum_address(a) for a in accounts]
        self.reorg_depth = reorg_depth
        self.batch_size = batch_size
        self._tokens: dict[str, PredictionMarket] | None = None
        self._selectors: dict[str, dict[str, str]] = {}  # market address -> selector -> function name
        # markets whose events are not known (V2.1) name their epochs in the transaction input only
        known = [m for m in markets if m.spec.events_known]
        self._claim_topics = {m.address.lower(): m.event_topic("Claim").lower() for m in known}
        self._bet_topics = {
            m.address.lower(): {m.event_topic("BetBull").lower(), m.event_topic("BetBear").lower()} for m in known
        }

    # -- classification -----------------------------------------------------------------------------------------------
    def tokens(self) -> dict[str, PredictionMarket]:
        if self._tokens is None:
            self._tokens = {}
            for market in self.markets.values():
                token = market.token_address()
                if token is not None:
                    self._tokens[token.lower()] = market
        return self._tokens

    def classify(self, tx: MinedTx) -> tuple[str, str, list[int]]:
        """(kind, market name, epochs) of a transaction."""
        to = tx.to.lower()
        market = self.markets.get(to)
        if market is not None:
            return self._market_call(market, tx)
        token_market = self.tokens().get(to)
        if token_market is not None:
            kind = "approve" if tx.selector == APPROVE_SELECTOR else "token"
            return kind, token_market.name, []
        return "other", "", []

    def _function_name(self, market: PredictionMarket, selector: str) -> str | None:
        names = self._selectors.get(market.address)
        if names is None:
            names = {}
            for item in market.abi:
                if item.get("type") == "function":
                    fn = AbiFunction.from_abi([item], str(item["name"]))
                    names["0x" + fn.selector.hex()] = fn.name
            self._selectors[market.address] = names
        return names.get(selector)

    def _market_call(self, market: PredictionMarket, tx: MinedTx) -> tuple[str, str, list[int]]:
        name = self._function_name(market, tx.selector)
        if name is None:
            return "market", market.name, []
        address = market.address.lower()
        if name in (market.spec.bet_bull, market.spec.bet_bear):
            epochs = self._log_epochs(tx, self._bet_topics.get(address, set()), market.address)
            if not epochs:  # reverted, or no known events: the epoch it names
                epochs = self._input_epochs(market, tx, "epoch")
            return "bet", market.name, epochs
        if name == market.spec.claim:
            if address in self._claim_topics:
                return "claim", market.name, self._log_epochs(tx, {self._claim_topics[address]}, market.address)
            # no known events: a successful claim paid every epoch it names (it reverts as a whole otherwise)
            return "claim", market.name, sorted(set(self._input_epochs(market, tx, "epochs"))) if tx.status == 1 else []
        return "market", market.name, []

    @staticmethod
    def _input_epochs(market: PredictionMarket, tx: MinedTx, arg: str) -> list[int]:
        try:
            value = market.contract.decode_function_input(tx.input)[1][arg]
        except (ValueError, KeyError):
            return []
        return [int(e) for e in value] if isinstance(value, list | tuple) else [int(value)]

    @staticmethod
    def _log_epochs(tx: MinedTx, topics: set[str], address: str) -> list[int]:
        epochs = []
        for entry in tx.logs:
            t = entry.get("topics") or []
            if str(entry.get("address", "")).lower() == address.lower() and len(t) > 2 and str(t[0]).lower() in topics:
                epochs.append(topic_int(t[2]))
        return sorted(epochs)

    # -- syncing ------------------------------------------------------------------------------------------------------
    def ensure_window(self, account: str, start_block: int) -> AccountWindow:
        """The account's accounting window (created on first use: starts at ``start_block``)."""
        with session_scope(self.sessions) as s:
            row = s.scalars(select(AccountWindow).where(AccountWindow.account == account)).first()
            if row is None:
                start_nonce = self._start_nonce(account, start_block)
                row = AccountWindow(account=account, start_block=start_block, start_nonce=start_nonce)
                s.add(row)
                s.flush()
            s.expunge(row)
            return row

    def _start_nonce(self, account: str, start_block: int) -> int:
        """Transactions sent before the window; -1 when the node has no state that old (pruned)."""
        if start_block <= 0:
            return 0
        try:
            return nonce_at(self.w3, account, start_block - 1)
        except Exception as exc:  # noqa: BLE001 — a pruned node: gaps before our first known transaction go unseen
            log.warning("%s: no state at block %d (%s): nonce gaps are checked from the first known transaction",
                        account, start_block - 1, str(exc)[:80])  # fmt: skip
            return -1

    def sync(self, head: int, start_block: int) -> TxSyncReport:
        report = TxSyncReport()
        report.dropped = self._recheck_recent(head)
        with session_scope(self.sessions) as s:
            known = set(s.scalars(select(AccountTx.tx_hash)).all())
            journal = s.scalars(
                select(TxAttempt.tx_hash).where(
                    TxAttempt.account.in_(self.accounts), TxAttempt.status.in_(("sent", "mined"))
                )
            ).all()
            events = s.scalars(select(AccountEvent.tx_hash).where(AccountEvent.account.in_(self.accounts))).all()
        report.imported += self.import_hashes([h for h in journal if h.lower() not in known], "journal")
        report.imported += self.import_hashes([h for h in set(events) if h.lower() not in known], "event")
        for account in self.accounts:
            window = self.ensure_window(account, start_block)
            found, missing = self._fill_nonce_gaps(account, window, head)
            report.found_by_nonce += found
            if missing:
                report.unattributed[account] = missing
            with session_scope(self.sessions) as s:
                row = s.scalars(select(AccountWindow).where(AccountWindow.account == account)).one()
                row.checked_block = head
                row.unattributed = missing
        return report

    def import_hashes(self, hashes: Sequence[str], source: str) -> int:
        if not hashes:
            return 0
        mined = mined_transactions(self.w3, hashes, self.batch_size)
        with session_scope(self.sessions) as s:
            stored = self._stored(s, list(mined))
            for tx in mined.values():
                self._upsert(s, tx, source, stored)
        return len(mined)

    @staticmethod
    def _stored(session: Session, hashes: list[str]) -> dict[str, AccountTx]:
        out: dict[str, AccountTx] = {}
        for start in range(0, len(hashes), 900):
            rows = session.scalars(select(AccountTx).where(AccountTx.tx_hash.in_(hashes[start : start + 900]))).all()
            out.update({r.tx_hash: r for r in rows})
        return out

    def _upsert(self, session: Session, tx: MinedTx, source: str, stored: dict[str, AccountTx] | None = None) -> None:
        if tx.sender not in self.accounts:
            return
        kind, market, epochs = self.classify(tx)
        if stored is None:
            stored = self._stored(session, [tx.tx_hash])
        row = stored.get(tx.tx_hash)
        if row is None:
            row = AccountTx(account=tx.sender, tx_hash=tx.tx_hash, source=source)
            session.add(row)
        row.nonce = tx.nonce
        row.block_number = tx.block_number
        row.block_hash = tx.block_hash.lower()
        row.to = tx.to
        row.market = market
        row.kind = kind
        row.status = tx.status
        row.value_wei = tx.value
        row.gas_used = tx.gas_used
        row.gas_wei = tx.gas_cost
        row.epochs = ",".join(str(e) for e in epochs)

    def _recheck_recent(self, head: int) -> int:
        """Re-read transactions of the last ``reorg_depth`` blocks; drop those no longer on chain."""
        with session_scope(self.sessions) as s:
            recent = s.scalars(select(AccountTx.tx_hash).where(AccountTx.block_number > head - self.reorg_depth)).all()
        if not recent:
            return 0
        mined = mined_transactions(self.w3, list(recent), self.batch_size)
        gone = [h for h in recent if h.lower() not in mined]
        with session_scope(self.sessions) as s:
            stored = self._stored(s, list(mined))
            for tx in mined.values():
                self._upsert(s, tx, "event", stored)
            if gone:
                s.execute(delete(AccountTx).where(AccountTx.tx_hash.in_(gone)))
        return len(gone)

    def _fill_nonce_gaps(self, account: str, window: AccountWindow, head: int) -> tuple[int, int]:
        """Find the transactions of nonces no row explains. Returns (found, still missing)."""
        head_nonce = nonce_at(self.w3, account, head)
        with session_scope(self.sessions) as s:
            rows = s.execute(
                select(AccountTx.nonce, AccountTx.block_number).where(
                    AccountTx.account == account, AccountTx.block_number <= head
                )
            ).all()
        blocks = {int(n): int(b) for n, b in rows if int(b) >= window.start_block}
        first = window.start_nonce if window.start_nonce >= 0 else min(blocks, default=head_nonce)
        missing = [n for n in range(first, head_nonce) if n not in blocks]
        found = 0
        for nonce in missing:
            lower = [b for n, b in blocks.items() if n < nonce]
            upper = [b for n, b in blocks.items() if n > nonce]
            lo = max(lower) if lower else window.start_block
            hi = min(upper) if upper else head
            try:
                block = self._block_of_nonce(account, nonce, max(lo, 0), hi)
                tx = tx_by_nonce_in_block(self.w3, account, nonce, block) if block is not None else None
            except Exception as exc:  # noqa: BLE001 — pruned nodes refuse historical state: report, do not crash
                log.warning("%s: cannot locate nonce %d (%s)", account, nonce, str(exc)[:120])
                tx = None
            if tx is None:
                continue
            with session_scope(self.sessions) as s:
                self._upsert(s, tx, "nonce")
            blocks[nonce] = tx.block_number
            found += 1
        return found, len(missing) - found

    def _block_of_nonce(self, account: str, nonce: int, lo: int, hi: int) -> int | None:
        """Smallest block in ``lo..hi`` after which the account's nonce exceeds ``nonce``."""
        if nonce_at(self.w3, account, hi) <= nonce:
            return None
        while lo < hi:
            mid = (lo + hi) // 2
            if nonce_at(self.w3, account, mid) > nonce:
                hi = mid
            else:
                lo = mid + 1
        return lo
