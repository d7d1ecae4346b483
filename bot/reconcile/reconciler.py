"""The facade the daemon calls periodically: ``reconcile()`` (scan, outcomes, settlements) and ``claim()`` (sweeps).

One ``Reconciler`` per chain (its markets share one ``Web3``). Wiring:
- live: ``Reconciler(sessions, markets, accounts=[sender.address], senders={sender.address: sender},
  settings=ReconcileSettings.from_execution(settings.execution))``;
  ``Daemon(..., claimer=rec.claim, reconciler=rec.reconcile)``.
- paper: ``Reconciler(sessions, markets)`` (no accounts, no senders): round outcomes and paper fills are settled,
  ``claim()`` does nothing.
``account_pnl(account)`` gives the reconciled breakdown (``bot.reconcile.pnl.AccountPnl``).

A market whose dialect's events are unknown (V2.1), or whose endpoint refuses ``eth_getLogs`` (``LogsRefused``: from
then on, for this reconciler's life), is reconciled without logs: rounds from contract reads (every epoch since the last
stored one), our market events derived from our transactions and contract reads (``bot.reconcile.logless``). The
results are the same to the wei.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from eth_utils import to_checksum_address
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.chain.sender import TxSender
from bot.markets.base import PredictionMarket
from bot.reconcile.claims import ClaimReport, ClaimSweeper
from bot.reconcile.logless import derive_events, drop_orphans, needed_epochs, pending_txs
from bot.reconcile.paperbook import paper_books
from bot.reconcile.pnl import AccountPnl, account_pnl
from bot.reconcile.rounds import RoundBook
from bot.reconcile.scanner import ChunkPolicy, LogsRefused, MarketEventScanner
from bot.reconcile.settle import LANDED_STATES, LIVE, PAPER, settle_live
from bot.reconcile.transactions import TxLedger, TxSyncReport
from bot.store.db import session_scope
from bot.store.journal import Intent
from bot.store.outcomes import AccountEvent, ScanCursor, Settlement

log = logging.getLogger(__name__)


@dataclass
class ReconcileSettings:
    #: market name -> first block to scan (e.g. the deployment block); default: the head at the first run
    start_blocks: dict[str, int] = field(default_factory=dict)
    reorg_depth: int = 12  # every scan re-reads this many blocks below its cursor
    confirmations: int = 1  # a claim counts as done once its receipt is this many blocks deep
    claim_batch_size: int = 20
    page_size: int = 500  # getUserRounds page
    read_batch: int = 200  # calls per JSON-RPC batch
    chunks: ChunkPolicy = field(default_factory=ChunkPolicy)
    settle_paper: bool = True

    @classmethod
    def from_execution(cls, execution: object, **overrides: object) -> ReconcileSettings:
        """From ``bot.config.ExecutionConfig`` (confirmations, claim_batch_size) plus overrides."""
        base = cls(
            confirmations=int(getattr(execution, "confirmations", 1)),
            claim_batch_size=int(getattr(execution, "claim_batch_size", 20)),
        )
        for key, value in overrides.items():
            setattr(base, key, value)
        return base


@dataclass
class MarketReport:
    market: str
    touched_epochs: int = 0
    rounds_read: int = 0
    bets_settled: int = 0
    paper_settled: int = 0
    account_logs: int = 0
    logless: bool = False  # reconciled from contract reads (events unknown, or eth_getLogs refused)
    derived_events: int = 0


@dataclass
class ReconcileReport:
    head: int
    chain_time: int
    markets: list[MarketReport] = field(default_factory=list)
    txs: TxSyncReport = field(default_factory=TxSyncReport)


class Reconciler:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        markets: Sequence[PredictionMarket],
        accounts: Sequence[str] = (),
        *,
        senders: Mapping[str, TxSender] | None = None,
        settings: ReconcileSettings | None = None,
    ) -> None:
        if not markets:
            raise ValueError("a Reconciler needs at least one market")
        if len({id(m.w3) for m in markets}) != 1:
            raise ValueError("one Reconciler per chain: every market must share the same Web3")
        self.sessions = sessions
        self.markets = list(markets)
        self.w3 = markets[0].w3
        self.settings = settings or ReconcileSettings()
        senders = dict(senders or {})
        self.accounts = sorted({to_checksum_address(a) for a in [*accounts, *senders]})
        s = self.settings
        #: markets reconciled from contract reads: events unknown, or eth_getLogs refused (added on the fly)
        self.logless = {m.name for m in self.markets if not m.spec.events_known}
        self.scanners = {
            m.name: MarketEventScanner(
                m, sessions, self.accounts, start_block=s.start_blocks.get(m.name), reorg_depth=s.reorg_depth,
                policy=s.chunks,
            )
            for m in self.markets
            if m.name not in self.logless
        }  # fmt: skip
        self.books = {m.name: RoundBook(m, sessions, s.read_batch) for m in self.markets}
        self.ledger = TxLedger(self.w3, sessions, self.markets, self.accounts, reorg_depth=s.reorg_depth,
                               batch_size=s.read_batch)  # fmt: skip
        self.sweepers = [
            ClaimSweeper(
                m, sender, sessions, batch_size=s.claim_batch_size, confirmations=s.confirmations,
                page_size=s.page_size, read_batch=s.read_batch,
            )
            for sender in senders.values()
            for m in self.markets
        ]  # fmt: skip
        self.currencies = {m.name: m.spec.currency for m in self.markets}
        self._lock = threading.Lock()  # the daemon may run reconcile() and claim() from two scheduler threads

    # -- reconcile ----------------------------------------------------------------------------------------------------
    def reconcile(self) -> ReconcileReport:
        """Scan new blocks, store round outcomes, sync our transactions, settle every bet and paper fill."""
        with self._lock:
            return self._reconcile()

    def _reconcile(self) -> ReconcileReport:
        head = int(self.w3.eth.block_number)
        now = int(self.w3.eth.get_block(head)["timestamp"])
        report = ReconcileReport(head, now)
        touched: dict[str, set[int]] = {}
        for market in self.markets:
            touched[market.name] = set()
            if market.name not in self.logless:
                try:
                    touched[market.name] = self.scanners[market.name].scan(head).touched_epochs
                except LogsRefused as exc:
                    log.warning("%s: %s: reconciling from contract reads from now on", market.name, exc)
                    self.logless.add(market.name)
            report.markets.append(
                MarketReport(market.name, len(touched[market.name]), logless=market.name in self.logless)
            )
        if self.accounts:
            report.txs = self.ledger.sync(head, self.window_start(head))
        for market, mreport in zip(self.markets, report.markets, strict=True):
            self._reconcile_market(market, head, now, touched[market.name], mreport)
        for sweeper in self.sweepers:
            sweeper.confirm_pending()
        return report

    def window_start(self, head: int) -> int:
        starts = [
            c[0] for name, sc in self.scanners.items() if name not in self.logless and (c := sc.account.cursor())
        ]
        starts += [self.settings.start_blocks[n] for n in self.logless if n in self.settings.start_blocks]
        return min(starts) if starts else head

    def _reconcile_market(
        self, market: PredictionMarket, head: int, now: int, touched: set[int], report: MarketReport
    ) -> None:
        book = self.books[market.name]
        before = book.chain_reads
        buffer = market.params().buffer_seconds
        current = market.current_epoch(block=head)
        if market.name in self.logless:
            report.derived_events = sum(self._derive_events(market, a, head, now) for a in self.accounts)
        wanted: dict[str, set[int]] = {a: self._bets_to_settle(market, a, head) for a in self.accounts}
        paper = self._paper_intents(market) if self.settings.settle_paper else []
        epochs = set(touched) | book.non_final_epochs() | {i.epoch for i in paper}
        for bets in wanted.values():
            epochs |= bets
        last = book.last_epoch()
        if last:  # a safety net for a crash between scanning and storing: every epoch since the last stored one
            epochs |= set(range(last + 1, current))
        elif market.name in self.logless and epochs:  # no round events: every round since our first one
            epochs |= set(range(min(epochs), current))
        rounds = book.rounds(epochs, now, current_epoch=current, force=touched)
        report.rounds_read = book.chain_reads - before
        for account, bets in wanted.items():
            ordered = sorted(e for e in bets if e in rounds)
            entries = market.ledgers(account, ordered, head, self.settings.read_batch)
            with session_scope(self.sessions) as s:
                gone = [e for e, entry in entries.items() if entry.amount == 0]
                if gone:  # a bet we had seen left the chain (reorg)
                    s.execute(delete(Settlement).where(
                        Settlement.market == market.name, Settlement.account == account, Settlement.mode == LIVE,
                        Settlement.epoch.in_(gone),
                    ))  # fmt: skip
                report.bets_settled += len(settle_live(s, market.name, account, entries, rounds, now, buffer))
        if paper:  # the same settlement code, on the paper ledger and the rounds with our paper stakes in them
            books = paper_books(paper, rounds, market.params().treasury_fee_bp,
                                empty_side_to_treasury=market.spec.empty_side_to_treasury)
            with session_scope(self.sessions) as s:
                for account, (entries, folded) in books.items():
                    report.paper_settled += len(
                        settle_live(s, market.name, account, entries, folded, now, buffer, mode=PAPER))

    def _derive_events(self, market: PredictionMarket, account: str, head: int, now: int) -> int:
        """Logless markets: our bet/claim events from our transactions, the ledger and the rounds."""
        with session_scope(self.sessions) as s:
            drop_orphans(s, market.name)
            txs = pending_txs(s, market.name, account)
        if not txs:
            return 0
        epochs = sorted(needed_epochs(txs))
        entries = market.ledgers(account, epochs, head, self.settings.read_batch)
        rounds = self.books[market.name].rounds(epochs, now)
        with session_scope(self.sessions) as s:
            return derive_events(s, market.name, account, txs, entries, rounds)

    def _bets_to_settle(self, market: PredictionMarket, account: str, head: int) -> set[int]:
        """Epochs of this account's bets whose settlement may still change."""
        new = self._new_user_rounds(market, account)
        with session_scope(self.sessions) as s:
            events = s.execute(
                select(AccountEvent.epoch, AccountEvent.block_number).where(
                    AccountEvent.market == market.name,
                    AccountEvent.account == account,
                )
            ).all()
            rows = s.execute(
                select(Settlement.epoch, Settlement.final, Settlement.payout_wei, Settlement.claimed).where(
                    Settlement.market == market.name, Settlement.account == account, Settlement.mode == LIVE
                )
            ).all()
        done = {e for e, final, payout, claimed in rows if final and (payout == 0 or claimed)}
        recent = {e for e, block in events if block > head - self.settings.reorg_depth}
        return ((new | {e for e, _ in events} | {e for e, *_ in rows}) - done) | recent

    def _new_user_rounds(self, market: PredictionMarket, account: str) -> set[int]:
        """Bets listed by ``getUserRounds`` since the last call (adopts bets made before the scan window)."""
        kind = f"user-rounds:{account}"
        with session_scope(self.sessions) as s:
            row = s.scalars(select(ScanCursor).where(ScanCursor.market == market.name, ScanCursor.kind == kind)).first()
            seen = row.block if row is not None else 0
        entries = list(market.iter_user_rounds(account, self.settings.page_size, start=seen))
        if entries:
            with session_scope(self.sessions) as s:
                row = s.scalars(
                    select(ScanCursor).where(ScanCursor.market == market.name, ScanCursor.kind == kind)
                ).first()
                if row is None:
                    row = ScanCursor(market=market.name, kind=kind, start_block=0, block=0, chunk=0)
                    s.add(row)
                row.block = seen + len(entries)
        return {e.epoch for e in entries}

    def _paper_intents(self, market: PredictionMarket) -> list[Intent]:
        with session_scope(self.sessions) as s:
            done = {
                (int(epoch), str(account))
                for epoch, account in s.execute(
                    select(Settlement.epoch, Settlement.account).where(
                        Settlement.market == market.name, Settlement.mode == PAPER, Settlement.final.is_(True)
                    )
                ).all()
            }
            rows = s.scalars(
                select(Intent).where(
                    Intent.market == market.name, Intent.mode == PAPER, Intent.state.in_(LANDED_STATES)
                )
            ).all()
            return [r for r in rows if (r.epoch, r.account) not in done]

    # -- claims -------------------------------------------------------------------------------------------------------
    def claim(self) -> list[ClaimReport]:
        """Sweep every live account in every market (nothing in paper mode). Call ``reconcile()`` afterwards to
        attribute the claims (amounts and gas) to the settled bets."""
        with self._lock:
            return [sweeper.sweep() for sweeper in self.sweepers]

    # -- reporting ----------------------------------------------------------------------------------------------------
    def account_pnl(self, account: str) -> AccountPnl:
        with session_scope(self.sessions) as s:
            return account_pnl(s, to_checksum_address(account), self.currencies)
