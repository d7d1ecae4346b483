"""Event scanning: eth_getLogs over a market in adaptive block chunks, with a persisted cursor and a reorg window.

Two scans per market, each with its own ``ScanCursor``:
- ``rounds``: StartRound / LockRound / EndRound / RewardsCalculated (all indexed by epoch) -> the epochs that moved;
- ``account``: BetBull / BetBear / Claim whose indexed ``sender`` (topic 1) is one of our accounts -> ``AccountEvent``.

Topic hashes come from the market's ABI (``PredictionMarket.event_topic``), so the AI dialect's different event shapes
need nothing special. Every scan starts ``reorg_depth`` blocks below the cursor: the rows of a re-scanned range are
replaced by what the node returns now (one DB transaction per chunk, cursor included), so re-scans are idempotent and
logs of a reorged-out block disappear.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import to_checksum_address
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from web3.types import RPCEndpoint

from bot.errors import TemporaryError
from bot.markets.base import PredictionMarket
from bot.store.db import session_scope
from bot.store.outcomes import AccountEvent, ScanCursor

log = logging.getLogger(__name__)

ROUND_EVENTS = ("StartRound", "LockRound", "EndRound", "RewardsCalculated")
ACCOUNT_EVENTS = ("BetBull", "BetBear", "Claim")

RawLog = dict[str, Any]  # an eth_getLogs entry as the node sent it (hex strings), without web3's formatters
ChunkHandler = Callable[[Session, int, int, list[RawLog]], None]


class LogQueryError(RuntimeError):
    """The node refused an eth_getLogs query (too many results, range too wide, timeout...)."""


class LogsRefused(TemporaryError):
    """The endpoint does not serve eth_getLogs here (method disabled, or refused down to one-block ranges): the
    reconciler reads contracts instead (``bot.reconcile.logless``)."""


#: words of an eth_getLogs error meaning "never here" rather than "too much at once"
_REFUSAL_WORDS = ("not supported", "disabled", "not available", "not allowed", "method not found", "does not exist",
                  "forbidden", "unsupported")  # fmt: skip


def is_refusal(error: object) -> bool:
    """An eth_getLogs error answer that no smaller range will fix (JSON-RPC -32601 or a "disabled" message)."""
    if isinstance(error, dict) and error.get("code") == -32601:
        return True
    text = str(error).lower()
    return any(word in text for word in _REFUSAL_WORDS)


def account_topic(address: str) -> str:
    """An address as an indexed topic: 32 bytes, left-padded."""
    return "0x" + "0" * 24 + to_checksum_address(address)[2:].lower()


def topic_address(topic: Any) -> str:
    raw = topic.hex() if isinstance(topic, bytes | bytearray) else str(topic)
    return to_checksum_address("0x" + raw.removeprefix("0x")[-40:])


def topic_int(topic: Any) -> int:
    raw = topic.hex() if isinstance(topic, bytes | bytearray) else str(topic)
    return int(raw.removeprefix("0x") or "0", 16)


def event_data_types(abi: Sequence[dict[str, Any]], name: str) -> tuple[str, ...]:
    """ABI types of an event's non-indexed fields (its ``data``), from the ABI."""
    for item in abi:
        if item.get("type") == "event" and item.get("name") == name:
            return tuple(str(i["type"]) for i in item.get("inputs", []) if not i.get("indexed"))
    raise ValueError(f"event {name!r} is not in the ABI")


@dataclass
class ChunkPolicy:
    """Adaptive chunking: halve on an error (e.g. "query returned more than 10000 results"), double on success."""

    initial: int = 2_000
    min_size: int = 1
    max_size: int = 50_000
    max_failures: int = 12  # consecutive failed calls before giving up (the cursor keeps what was done)


@dataclass
class ScanResult:
    from_block: int
    to_block: int
    chunks: int = 0
    logs: int = 0
    shrinks: int = 0
    chunk_sizes: list[int] = field(default_factory=list)


class LogScanner:
    """One resumable log scan of one contract address (``kind`` names the cursor, e.g. ``rounds``)."""

    def __init__(
        self,
        market: PredictionMarket,
        sessions: sessionmaker[Session],
        kind: str,
        topics: Sequence[Any],
        *,
        start_block: int | None = None,
        reorg_depth: int = 12,
        policy: ChunkPolicy | None = None,
    ) -> None:
        self.market = market
        self.w3 = market.w3
        self.sessions = sessions
        self.kind = kind
        self.topics = list(topics)
        self.start_block = start_block
        self.reorg_depth = max(0, reorg_depth)
        self.policy = policy or ChunkPolicy()

    # -- cursor -------------------------------------------------------------------------------------------------------
    def cursor(self) -> tuple[int, int, int] | None:
        """(start block, last scanned block, chunk size) or ``None`` before the first scan."""
        with session_scope(self.sessions) as s:
            row = self._cursor_row(s)
            return None if row is None else (row.start_block, row.block, row.chunk)

    def _cursor_row(self, session: Session) -> ScanCursor | None:
        return session.scalars(
            select(ScanCursor).where(ScanCursor.market == self.market.name, ScanCursor.kind == self.kind)
        ).first()

    def _range(self, head: int) -> tuple[int, int, int]:
        """(first block to scan, first block of the scan, chunk size)."""
        state = self.cursor()
        if state is None:
            start = self.start_block if self.start_block is not None else max(0, head - self.reorg_depth)
            return start, start, self.policy.initial
        start, last, chunk = state
        # after a reorg to a shorter chain the head may be below the cursor: re-scan below the new head too
        return max(start, min(last, head) - self.reorg_depth + 1), start, chunk or self.policy.initial

    # -- scanning -----------------------------------------------------------------------------------------------------
    def fetch(self, from_block: int, to_block: int) -> list[RawLog]:
        """One raw eth_getLogs call (overridable in tests to emulate a node's result limits)."""
        params = {"fromBlock": hex(from_block), "toBlock": hex(to_block), "address": self.market.address,
                  "topics": self.topics}  # fmt: skip
        response = self.w3.provider.make_request(RPCEndpoint("eth_getLogs"), [params])
        if response.get("error"):
            if is_refusal(response["error"]):
                raise LogsRefused(f"eth_getLogs refused: {str(response['error'])[:160]}")
            raise LogQueryError(str(response["error"])[:200])
        result = response.get("result")
        if not isinstance(result, list):
            raise LogQueryError(f"malformed eth_getLogs answer: {str(response)[:120]}")
        return result

    def scan(self, head: int, handler: ChunkHandler) -> ScanResult:
        """Scan up to ``head`` (inclusive); ``handler(session, from, to, logs)`` stores each chunk."""
        first, start, chunk = self._range(head)
        result = ScanResult(first, head)
        block = first
        failures = 0
        while block <= head:
            end = min(head, block + chunk - 1)
            try:
                logs = self.fetch(block, end)
            except LogsRefused:
                raise
            except Exception as exc:  # noqa: BLE001 — every node phrases "too many results" differently
                failures += 1
                if failures > self.policy.max_failures or (chunk <= self.policy.min_size and failures > 3):
                    raise LogsRefused(f"eth_getLogs {self.kind} {block}-{end} keeps failing: {exc}") from exc
                chunk = max(self.policy.min_size, chunk // 2)
                result.shrinks += 1
                log.debug(
                    "%s %s: eth_getLogs %d-%d failed (%s): chunk -> %d",
                    self.market.name,
                    self.kind,
                    block,
                    end,
                    str(exc)[:80],
                    chunk,
                )
                continue
            failures = 0
            with session_scope(self.sessions) as s:
                handler(s, block, end, logs)
                self._advance(s, start, end, chunk)
            result.chunks += 1
            result.logs += len(logs)
            result.chunk_sizes.append(end - block + 1)
            block = end + 1
            chunk = min(self.policy.max_size, chunk * 2)
        return result

    def _advance(self, session: Session, start: int, block: int, chunk: int) -> None:
        row = self._cursor_row(session)
        if row is None:
            row = ScanCursor(market=self.market.name, kind=self.kind, start_block=start, block=block, chunk=chunk)
            session.add(row)
        else:
            row.block = block  # a re-scan may move it back for a moment: a crash then only re-scans more
            row.chunk = chunk


@dataclass
class ScanSummary:
    touched_epochs: set[int] = field(default_factory=set)  # rounds with a round event in the scanned range
    account_logs: int = 0
    round_logs: int = 0


class MarketEventScanner:
    """The two scans of one market for a set of our accounts."""

    def __init__(
        self,
        market: PredictionMarket,
        sessions: sessionmaker[Session],
        accounts: Sequence[str],
        *,
        start_block: int | None = None,
        reorg_depth: int = 12,
        policy: ChunkPolicy | None = None,
    ) -> None:
        self.market = market
        self.sessions = sessions
        self.accounts = [to_checksum_address(a) for a in accounts]
        self.round_topics = {market.event_topic(n).lower(): n for n in ROUND_EVENTS}
        self.account_topics = {market.event_topic(n).lower(): n for n in ACCOUNT_EVENTS}
        #: the non-indexed fields of BetBull/BetBear/Claim (just ``amount``; uint256 or uint128 by dialect)
        self.amount_types = {n: event_data_types(market.abi, n) for n in ACCOUNT_EVENTS}
        self.rounds = LogScanner(
            market, sessions, "rounds", [sorted(self.round_topics)],
            start_block=start_block, reorg_depth=reorg_depth, policy=policy,
        )  # fmt: skip
        self.account = LogScanner(
            market, sessions, "account", [sorted(self.account_topics), [account_topic(a) for a in self.accounts]],
            start_block=start_block, reorg_depth=reorg_depth, policy=policy,
        )  # fmt: skip

    def scan(self, head: int) -> ScanSummary:
        summary = ScanSummary()

        def on_rounds(_s: Session, _a: int, _b: int, logs: list[RawLog]) -> None:
            for entry in logs:
                if len(entry["topics"]) > 1 and str(entry["topics"][0]).lower() in self.round_topics:
                    summary.touched_epochs.add(topic_int(entry["topics"][1]))
            summary.round_logs += len(logs)

        self.rounds.scan(head, on_rounds)
        if self.accounts:
            self.account.scan(head, self.store_account_logs)
        return summary

    def store_account_logs(self, session: Session, from_block: int, to_block: int, logs: list[RawLog]) -> None:
        """Replace our events of blocks ``from_block..to_block`` with ``logs`` (idempotent, reorg-safe)."""
        session.execute(
            delete(AccountEvent).where(
                AccountEvent.market == self.market.name,
                AccountEvent.block_number >= from_block,
                AccountEvent.block_number <= to_block,
            )
        )
        hashes = {str(entry["transactionHash"]).lower() for entry in logs}
        if hashes:  # a transaction re-mined in another block after a reorg
            session.execute(delete(AccountEvent).where(AccountEvent.tx_hash.in_(hashes)))
        ours = set(self.accounts)
        for entry in logs:
            name = self.account_topics.get(str(entry["topics"][0]).lower())
            if name is None or entry.get("removed") or len(entry["topics"]) < 3:
                continue
            sender = topic_address(entry["topics"][1])
            if sender not in ours:
                continue
            (amount,) = abi_decode(list(self.amount_types[name]), bytes.fromhex(str(entry["data"])[2:]))
            session.add(
                AccountEvent(
                    market=self.market.name,
                    account=sender,
                    name=name,
                    epoch=topic_int(entry["topics"][2]),
                    amount_wei=int(amount),
                    tx_hash=str(entry["transactionHash"]).lower(),
                    log_index=topic_int(entry["logIndex"]),
                    block_number=topic_int(entry["blockNumber"]),
                    block_hash=str(entry["blockHash"]).lower(),
                )
            )
        session.flush()
