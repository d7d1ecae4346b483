"""Claim sweeps: collect every unclaimed winning or refundable bet of an account, however old, and claim it.

- Candidates come from the account's whole history, paged with ``getUserRounds`` (``iter_user_rounds``), filtered
  locally with ``bot.payout.claim_amount`` on the rounds (final rounds from the DB, others read in batches).
- Right before each claim transaction is built, its batch (``claim_batch_size`` epochs) is filtered again by the
  contract itself (``eligible_for_claim``): ``claim`` reverts as a whole for one ineligible epoch, so none is ever sent.
- The claim is sent with ``TxSender.send`` (journaled before broadcast). A ``ClaimRecord`` keeps what we expected per
  epoch; once the receipt is ``confirmations`` blocks deep, the receipt's Claim events are compared with it
  (a mismatch is logged as an error and recorded).
Paper mode never claims. Gas attribution to the bets is done by settlement, from the claim transaction's receipt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address
from hexbytes import HexBytes
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from web3.exceptions import TransactionNotFound

from bot.chain.sender import Receipt, TxSender
from bot.domain import LedgerEntry
from bot.errors import TemporaryError, one_line
from bot.markets.base import PredictionMarket, TxRequest
from bot.payout import claim_amount
from bot.reconcile.claimgas import fit, measured_claims, with_margin
from bot.reconcile.logless import claimed_amount
from bot.reconcile.rounds import RoundBook
from bot.reconcile.scanner import topic_address, topic_int
from bot.store.db import session_scope
from bot.store.outcomes import ClaimRecord

log = logging.getLogger(__name__)


@dataclass
class ClaimReport:
    market: str
    account: str
    candidates: int = 0
    sent: list[str] = field(default_factory=list)  # claim tx hashes
    claimed_epochs: list[int] = field(default_factory=list)
    ineligible: list[int] = field(default_factory=list)  # dropped by the contract's own check before sending
    confirmed: int = 0
    mismatches: list[str] = field(default_factory=list)


def compare_claims(expected: dict[int, int], events: dict[int, int]) -> str:
    """Empty when the Claim events pay exactly what we expected per epoch, else a description of the difference."""
    problems = []
    for epoch in sorted(set(expected) | set(events)):
        want, got = expected.get(epoch), events.get(epoch)
        if want != got:
            problems.append(f"epoch {epoch}: expected {want} wei, Claim event {got}")
    return "; ".join(problems)


class ClaimSweeper:
    """Claims for one live account in one market."""

    def __init__(
        self,
        market: PredictionMarket,
        sender: TxSender,
        sessions: sessionmaker[Session],
        *,
        batch_size: int = 20,
        confirmations: int = 1,
        page_size: int = 500,
        read_batch: int = 200,
        pending_timeout: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.market = market
        self.sender = sender
        self.account = to_checksum_address(sender.address)
        self.sessions = sessions
        self.batch_size = max(1, batch_size)
        self.confirmations = max(1, confirmations)
        self.page_size = page_size
        self.book = RoundBook(market, sessions, read_batch)
        self.pending_timeout = pending_timeout
        self.clock = clock
        # no known events (V2.1): a confirmed claim is checked by the ledger's claimed flags at its block instead
        self.claim_topic = market.event_topic("Claim").lower() if market.spec.events_known else None
        self._expected: dict[str, dict[int, int]] = {}  # claim tx hash -> epoch -> wei, until confirmed

    # -- candidates ---------------------------------------------------------------------------------------------------
    def unclaimed_entries(self) -> list[LedgerEntry]:
        """Every bet of the account not claimed yet, oldest first (the whole history, paged)."""
        return [e for e in self.market.iter_user_rounds(self.account, self.page_size) if e.amount > 0 and not e.claimed]

    def candidates(self) -> list[int]:
        """Unclaimed epochs that pay something now (local check with ``bot.payout.claim_amount``)."""
        entries = self.unclaimed_entries()
        if not entries:
            return []
        now = self.market.chain_time()
        buffer = self.market.params().buffer_seconds
        rounds = self.book.rounds([e.epoch for e in entries], now)
        return [e.epoch for e in entries if e.epoch in rounds and claim_amount(rounds[e.epoch], e, now, buffer) > 0]

    def expected_amounts(self, epochs: Sequence[int]) -> dict[int, int]:
        now = self.market.chain_time() + 1  # the claim is mined in a later block
        buffer = self.market.params().buffer_seconds
        rounds = self.book.rounds(epochs, now)
        entries = self.market.ledgers(self.account, epochs)
        return {epoch: claim_amount(rounds[epoch], entries[epoch], now, buffer) for epoch in epochs}

    # -- claiming -----------------------------------------------------------------------------------------------------
    def sweep(self) -> ClaimReport:
        """Confirm earlier claims, then claim everything claimable now."""
        report = ClaimReport(self.market.name, self.account)
        self.confirm_pending(report)
        candidates = self.candidates()
        report.candidates = len(candidates)
        self.claim_epochs(candidates, report)
        self.confirm_pending(report)
        return report

    def claim_epochs(self, epochs: Iterable[int], report: ClaimReport | None = None) -> ClaimReport:
        """Claim ``epochs`` in batches; every batch is filtered by the contract right before it is built."""
        report = report or ClaimReport(self.market.name, self.account)
        busy = self.pending_epochs()
        wanted = sorted({int(e) for e in epochs} - busy)
        for start in range(0, len(wanted), self.batch_size):
            batch = wanted[start : start + self.batch_size]
            eligible = self.market.eligible_for_claim(self.account, batch)
            report.ineligible.extend(e for e in batch if e not in set(eligible))
            if not eligible:
                continue
            expected = self.expected_amounts(eligible)
            tx = self.market.build_claim(eligible)
            tx_hash, receipt = self.send_claim(tx)
            with session_scope(self.sessions) as s:
                s.add(
                    ClaimRecord(
                        market=self.market.name,
                        account=self.account,
                        tx_hash=tx_hash.lower(),
                        epochs=",".join(str(e) for e in sorted(eligible)),
                        expected_wei=sum(expected.values()),
                        created_at=int(self.clock()),
                        status=None if receipt is None else receipt.status,
                        block_number=None if receipt is None else receipt.block_number,
                        gas_wei=0 if receipt is None else receipt.gas_cost_wei,
                        mismatch="",
                    )
                )
            self._expected[tx_hash.lower()] = expected
            report.sent.append(tx_hash)
            report.claimed_epochs.extend(eligible)
            log.info(
                "%s %s: claim %d epoch(s) %s..%s -> %s",
                self.market.name,
                self.account,
                len(eligible),
                eligible[0],
                eligible[-1],
                tx_hash,
            )
        return report

    def claim_gas_limit(self, tx: TxRequest) -> int:
        """``eth_estimateGas`` plus a margin; if the node will not estimate, the cost measured on our own mined claims
        here (``bot.reconcile.claimgas``); neither: ``TemporaryError`` (a claim is never sent with a guessed limit)."""
        try:
            return with_margin(int(self.market.w3.eth.estimate_gas(tx.as_call(self.account))))  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 — any failure to estimate falls back to measurement
            reason = one_line(exc, 120)
        with session_scope(self.sessions) as s:
            model = fit(measured_claims(s, self.market.name))
        if model is None:
            raise TemporaryError(
                f"cannot size a claim of {len(tx.epochs)} epoch(s) on {self.market.name}: eth_estimateGas failed "
                f"({reason}) and no claim was measured here yet"
            )
        limit = model.limit(len(tx.epochs))
        log.info("%s: eth_estimateGas failed (%s): claim gas limit %d from %d measured claim(s) (%d + %d/epoch)",
                 self.market.name, reason, limit, model.samples, model.base, model.per_epoch)  # fmt: skip
        return limit

    def send_claim(self, tx: TxRequest) -> tuple[str, Receipt | None]:
        """The sender's one send loop for claims and approvals, with the claim's estimated or measured gas limit."""
        return self.sender.send(tx, self.market.name, gas_limit=self.claim_gas_limit(tx))

    def pending_epochs(self) -> set[int]:
        """Epochs of claims sent recently whose receipt is not in yet (never claimed twice while in flight)."""
        horizon = int(self.clock() - self.pending_timeout)
        with session_scope(self.sessions) as s:
            rows = s.scalars(
                select(ClaimRecord.epochs).where(
                    ClaimRecord.market == self.market.name,
                    ClaimRecord.account == self.account,
                    ClaimRecord.block_number.is_(None),
                    ClaimRecord.created_at >= horizon,
                )
            ).all()
        return {int(e) for epochs in rows for e in epochs.split(",") if e}

    # -- confirmation -------------------------------------------------------------------------------------------------
    def confirm_pending(self, report: ClaimReport | None = None) -> int:
        """Check every unconfirmed claim of this account: confirmations reached -> compare its Claim events."""
        head = int(self.market.w3.eth.block_number)
        with session_scope(self.sessions) as s:
            pending = [
                (r.id, r.tx_hash, r.epochs)
                for r in s.scalars(
                    select(ClaimRecord).where(
                        ClaimRecord.market == self.market.name,
                        ClaimRecord.account == self.account,
                        ClaimRecord.confirmed.is_(False),
                    )
                ).all()
            ]
        done = 0
        for record_id, tx_hash, epochs in pending:
            receipt = self._receipt(tx_hash)
            if receipt is None:
                continue
            block = int(receipt["blockNumber"])
            status = int(receipt["status"])
            gas = int(receipt["gasUsed"]) * int(receipt.get("effectiveGasPrice", 0) or 0)
            confirmed = head - block + 1 >= self.confirmations
            if self.claim_topic is not None:
                events = self.claim_events(receipt)
            else:
                events = self._paid_by_reads(epochs, block) if status == 1 else {}
            mismatch = ""
            if confirmed:
                if status == 1:
                    expected = self._expected.get(tx_hash) or self._expected_after_restart(epochs)
                    mismatch = compare_claims(expected, events)
                else:
                    mismatch = "claim transaction reverted"
                if mismatch:
                    log.error("%s %s: claim %s does not match: %s", self.market.name, self.account, tx_hash, mismatch)
                    if report is not None:
                        report.mismatches.append(f"{tx_hash}: {mismatch}")
            with session_scope(self.sessions) as s:
                row = s.get(ClaimRecord, record_id)
                if row is None:
                    continue
                row.status, row.block_number, row.gas_wei = status, block, gas
                row.claimed_wei = sum(events.values())
                row.confirmed = confirmed
                row.mismatch = mismatch
            if confirmed:
                done += 1
                self._expected.pop(tx_hash, None)
        if report is not None:
            report.confirmed += done
        return done

    def _expected_after_restart(self, epochs: str) -> dict[int, int]:
        """The per-epoch expectation is kept in memory until confirmation; after a restart, recompute it exactly."""
        wanted = [int(e) for e in epochs.split(",") if e]
        now = self.market.chain_time()
        rounds = self.book.rounds(wanted, now)
        buffer = self.market.params().buffer_seconds
        entries = self.market.ledgers(self.account, wanted)
        return {
            e: claim_amount(rounds[e], LedgerEntry(e, entries[e].position, entries[e].amount, False), now, buffer)
            for e in wanted
        }

    def _paid_by_reads(self, epochs: str, block: int) -> dict[int, int]:
        """Without Claim events: epoch -> what the claim paid, for the epochs the ledger shows claimed at ``block``
        (the amount is the contract's payout formula on the round: exact, but not an independent check)."""
        wanted = [int(e) for e in epochs.split(",") if e]
        entries = self.market.ledgers(self.account, wanted, block)
        rounds = self.book.rounds(wanted, self.market.chain_time())
        return {e: claimed_amount(rounds[e], entries[e].amount) for e in wanted if entries[e].claimed and e in rounds}

    def _receipt(self, tx_hash: str) -> Any:
        try:
            return self.market.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    def claim_events(self, receipt: Any) -> dict[int, int]:
        """epoch -> amount of the receipt's Claim events for this account in this market."""
        out: dict[int, int] = {}
        for entry in receipt["logs"]:
            topics = entry["topics"]
            if str(entry["address"]).lower() != self.market.address.lower() or len(topics) < 3:
                continue
            head = topics[0].hex() if isinstance(topics[0], bytes) else str(topics[0])
            if "0x" + head.removeprefix("0x").lower() != self.claim_topic:
                continue
            if topic_address(topics[1]) != self.account:
                continue
            amount = int(self.market.contract.events.Claim().process_log(entry)["args"]["amount"])
            epoch = topic_int(topics[2])
            out[epoch] = out.get(epoch, 0) + amount
        return out
