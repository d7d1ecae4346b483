"""Sign, journal, broadcast and watch transactions.

Every signed transaction is committed to the journal (``TxAttempt``) before it is broadcast, so a crash at any point
leaves a record from which recovery can find it on chain. What may be signed is decided by ``bot.chain.policy`` on the
exact bytes about to be signed (chain id, to, value, decoded calldata) — a caller's ``kind`` label must agree with what
the calldata decodes to, it never decides — and within the daily gas cap (``bot.chain.gasbudget``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError

from bot.chain.gas import Fees, GasPolicy
from bot.chain.gasbudget import GasBudget
from bot.chain.nonce import NonceManager
from bot.chain.policy import Permit, PolicyRefusal, SigningPolicy
from bot.chain.rpc import FailoverProvider
from bot.chain.txcodec import Signer, UnsignedTx
from bot.errors import TemporaryError
from bot.markets.base import TxRequest
from bot.store import hotjournal
from bot.store.db import engine_of

log = logging.getLogger(__name__)

ALREADY_KNOWN = ("already known", "known transaction", "already imported", "alreadyknown")
NONCE_TOO_LOW = ("nonce too low", "nonce is too low", "invalid nonce", "oldnonce")
UNDERPRICED = ("underpriced", "fee too low", "replacement transaction")


@dataclass
class Broadcast:
    attempt_id: int
    tx_hash: str
    nonce: int
    fees: Fees
    handed_at: float
    outcome: str  # sent | known (the refusals raise NotSent)
    error: str = ""


class NotSent(TemporaryError):
    """The nodes refused a signed transaction (it will never be mined): ``outcome`` nonce-too-low or rejected."""

    def __init__(self, outcome: str, message: str, tx_hash: str | None) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.tx_hash = tx_hash


@dataclass
class Receipt:
    tx_hash: str
    status: int
    block_number: int
    gas_used: int
    gas_cost_wei: int


class TxSender:
    mode = "live"  # the executor's sender for live mode (``bot.chain.papersender.PaperSender`` is paper's)

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        sessions: sessionmaker[Session],
        gas: GasPolicy,
        policy: SigningPolicy,
        chain_id: int,
        max_gas_per_day_wei: int,
        gas_limit: int = 250_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if policy.chain_id != chain_id:
            raise ValueError(f"signing policy for chain id {policy.chain_id}, sender for {chain_id}")
        self.w3 = w3
        self.account = account
        self.address = str(account.address)
        self._signer = Signer(bytes(account.key))
        self.sessions = sessions
        self.gas = gas
        self.policy = policy
        self.budget = GasBudget(engine_of(sessions), self.address, max_gas_per_day_wei, clock)
        self.chain_id = chain_id
        self.gas_limit = gas_limit
        self.nonces = NonceManager(w3)
        self.clock = clock
        self._fees: Fees | None = None
        self._fees_at = 0.0

    # -- fees -------------------------------------------------------------------------------------------------------
    def fees(self, max_age: float = 2.0) -> Fees:
        """Cached suggestion (refreshed every ``max_age`` seconds) so the hot path makes no fee RPC."""
        now = self.clock()
        if self._fees is None or now - self._fees_at > max_age:
            self._fees = self.gas.fees(self.w3)
            self._fees_at = now
        return self._fees

    def warm(self) -> None:
        """Prefetch the nonce and fee suggestion (keeps RPC round-trips out of the bet's critical path) and read the
        day's gas spend once (folds the day's resolved attempts)."""
        self.nonces.sync(self.address)
        self.fees(max_age=0)
        self.budget.spend()

    # -- signing ----------------------------------------------------------------------------------------------------
    def _check(self, tx: TxRequest, to: bytes, data: bytes) -> Permit:
        """The policy's verdict on the bytes about to be signed; the caller's label must agree with it."""
        permit = self.policy.check(self.chain_id, to, tx.value, data)
        if tx.kind != permit.action.value or permit.epochs != tuple(tx.epochs):
            raise PolicyRefusal(f"refusing to sign: labelled {tx.kind!r} for epochs {list(tx.epochs)}, but the calldata "
                                f"is a {permit.action.value} for epochs {list(permit.epochs)} on {permit.market}")
        return permit

    def sign(self, tx: TxRequest, nonce: int, fees: Fees, gas_limit: int | None = None) -> tuple[bytes, str]:
        """(raw signed transaction, hash), legacy or EIP-1559 as the fees say — only what the signing policy allows
        and the daily gas cap still covers (else ``PolicyRefusal``, an ``OperationalError``: nothing is signed)."""
        try:
            to = bytes.fromhex(tx.to.removeprefix("0x"))
            data = bytes.fromhex(tx.data.removeprefix("0x"))
        except ValueError:
            raise PolicyRefusal("refusing to sign: 'to' or calldata is not hex") from None
        self._check(tx, to, data)
        gas = gas_limit or self.gas_limit
        unsigned = UnsignedTx(
            chain_id=self.chain_id,
            nonce=nonce,
            gas=gas,
            to=to,
            value=tx.value,
            data=data,
            gas_price=fees.gas_price if fees.legacy else None,
            max_fee=fees.max_fee,
            priority_fee=fees.priority_fee,
        )
        return self.budget.sign_within(nonce, gas * fees.ceiling_cost_per_gas, lambda: self._signer.sign(unsigned))

    def journal_attempt(
        self, tx: TxRequest, market: str, nonce: int, fees: Fees, intent_id: int | None = None, gas_limit: int | None = None
    ) -> tuple[int, bytes, str]:
        """Sign and commit the attempt (status ``signed``) — before any broadcast."""
        raw, tx_hash = self.sign(tx, nonce, fees, gas_limit)
        return self.record_attempt(tx, market, nonce, fees, raw, tx_hash, intent_id), raw, tx_hash

    def record_attempt(
        self, tx: TxRequest, market: str, nonce: int, fees: Fees, raw: bytes, tx_hash: str, intent_id: int | None = None
    ) -> int:
        """Commit a signed attempt (status ``signed``; the intent, if any, moves to SIGNED) — before any broadcast."""
        fields = {
            "intent_id": intent_id,
            "kind": tx.kind,
            "market": market,
            "account": self.address,
            "nonce": nonce,
            "tx_hash": tx_hash,
            "raw_tx": raw.hex(),
            "epochs": ",".join(str(e) for e in tx.epochs),
            "max_fee_wei": fees.ceiling_cost_per_gas,
            "priority_fee_wei": fees.priority_fee,
        }
        with hotjournal.write(engine_of(self.sessions), self.address) as conn:
            attempt_id = hotjournal.insert_attempt(conn, fields, time.time())
        self.budget.journaled(tx_hash)
        return attempt_id

    # -- broadcast --------------------------------------------------------------------------------------------------
    def broadcast_raw(self, raw: bytes) -> tuple[str, str]:
        """Send to every endpoint. Returns (outcome, error text)."""
        provider = self.w3.provider
        try:
            if isinstance(provider, FailoverProvider):
                answers = provider.broadcast(raw)
                errors = [str(a.get("error", {}).get("message", "")) for a in answers if "error" in a]
                if len(errors) < len(answers):
                    return "sent", ""
                text = "; ".join(errors)
            else:
                self.w3.eth.send_raw_transaction(HexBytes(raw))
                return "sent", ""
        except Web3RPCError as exc:
            text = str(exc)
        low = text.lower()
        if any(k in low for k in ALREADY_KNOWN):
            return "known", text
        if any(k in low for k in NONCE_TOO_LOW):
            return "nonce-too-low", text
        return "rejected", text

    def mark_attempt(self, attempt_id: int, status: str) -> None:
        with hotjournal.write(engine_of(self.sessions), self.address) as conn:
            hotjournal.mark_attempt(conn, attempt_id, status)

    # -- receipts ---------------------------------------------------------------------------------------------------
    def receipt(self, tx_hash: str) -> Receipt | None:
        try:
            r = self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None
        except TemporaryError:
            return None
        if r is None or r.get("blockNumber") is None:
            return None
        price = int(r.get("effectiveGasPrice", 0) or 0)
        gas_used = int(r["gasUsed"])
        return Receipt(tx_hash, int(r["status"]), int(r["blockNumber"]), gas_used, gas_used * price)

    def submit(
        self,
        tx: TxRequest,
        market: str,
        *,
        intent_id: int | None = None,
        gas_limit: int | None = None,
        may_resign: Callable[[int], bool] = lambda nonce: True,
        step: Callable[[str], None] | None = None,
        mark: Callable[..., None] | None = None,
    ) -> Broadcast:
        """The one send loop of bets, claims and approvals: reserve a nonce, sign (only what the policy and the daily
        gas cap allow), commit the attempt (status ``signed``) *before* the broadcast, broadcast to every endpoint and
        mark the attempt ``sent``.

        "Nonce too low": the nonce is resynced and this very transaction's receipt gets a bounded chance (another
        endpoint may have taken it a moment ago); otherwise the attempt is ``failed`` and — once, when ``may_resign``
        (given the lost nonce) agrees; a bet checks the lock deadline and the ledger there — the transaction is signed
        again with a fresh nonce. A broadcast that reached no endpoint (``TemporaryError``) counts as sent: the journal
        holds the raw transaction, so a watcher or recovery rebroadcasts it.

        Raises ``PolicyRefusal`` (a ``NeedsHuman``: nothing signed, the nonce given back), ``TemporaryError`` /
        ``OperationalError`` when signing or journaling failed (nonce given back), ``NotSent`` when the nodes refused
        the signed transaction. ``step`` names each step to a test's crash hook; ``mark`` traces the hot path."""
        for attempt_no in range(2):
            nonce = self.nonces.reserve(self.address)
            try:
                fees = self.fees()
                if mark:
                    mark("nonce-fees")
                raw, tx_hash = self.sign(tx, nonce, fees, gas_limit)
                if mark:
                    mark("sign")
                attempt_id = self.record_attempt(tx, market, nonce, fees, raw, tx_hash, intent_id)
                if mark:
                    mark("journal-commit")
            except BaseException:
                self.nonces.release(self.address, nonce)  # never broadcast: no gap for the next transaction
                raise
            if step:
                step("after-sign")
            handed = time.perf_counter()  # the raw transaction is handed to the RPC client
            if mark:
                mark("handed", handed)
            outcome, err = self.broadcast_or_unknown(raw)
            if step:
                step("after-broadcast")
            if outcome in ("sent", "known"):
                self.mark_attempt(attempt_id, "sent")
                return Broadcast(attempt_id, tx_hash, nonce, fees, handed, outcome, err)
            self.nonces.resync(self.address)
            if outcome == "nonce-too-low" and self.wait(tx_hash, timeout=1.0) is not None:
                self.mark_attempt(attempt_id, "sent")
                return Broadcast(attempt_id, tx_hash, nonce, fees, handed, "known", err)
            self.mark_attempt(attempt_id, "failed")  # refused outright: this signed transaction will never be mined
            if outcome == "nonce-too-low" and attempt_no == 0 and may_resign(nonce):
                log.warning("nonce %s already used by another transaction; re-signing with a fresh nonce", nonce)
                continue
            if outcome == "nonce-too-low":
                raise NotSent(outcome, f"nonce {nonce} already used; resynced ({err[:80]})", tx_hash)
            raise NotSent(outcome, f"{tx.kind} rejected by the node: {err[:160]}", tx_hash)
        raise NotSent("nonce-too-low", "nonce conflict persisted", None)  # pragma: no cover — the loop returns or raises

    def replace(self, tx: TxRequest, market: str, nonce: int, fees: Fees, intent_id: int | None = None) -> str:
        """Sign the same call again on the same ``nonce`` with ``fees`` (bumped), journal it, broadcast it: outcome."""
        attempt_id, raw, _ = self.journal_attempt(tx, market, nonce, fees, intent_id)
        outcome, _ = self.broadcast_or_unknown(raw)
        self.mark_attempt(attempt_id, "sent" if outcome in ("sent", "known") else "failed")
        return outcome

    def broadcast_or_unknown(self, raw: bytes) -> tuple[str, str]:
        """``broadcast_raw``, where reaching no endpoint (``TemporaryError``) counts as ``sent``: not known to have
        reached a node, and the journal holds the raw transaction to rebroadcast."""
        try:
            return self.broadcast_raw(raw)
        except TemporaryError as exc:
            return "sent", str(exc)

    def send(self, tx: TxRequest, market: str, gas_limit: int | None = None) -> tuple[str, Receipt | None]:
        """Claims and approvals: ``submit`` (the one send loop), then a bounded wait for the receipt, recorded on the
        attempt. (Claims come with their gas limit from ``ClaimSweeper.claim_gas_limit``.)"""
        sent = self.submit(tx, market, gas_limit=gas_limit or self.gas_limit)
        receipt = self.wait(sent.tx_hash, timeout=30.0)
        if receipt is not None:
            self.finish_attempt(sent.attempt_id, receipt)
        return sent.tx_hash, receipt

    def wait(self, tx_hash: str, timeout: float, poll: float = 0.05) -> Receipt | None:
        deadline = time.monotonic() + timeout
        while True:
            receipt = self.receipt(tx_hash)
            if receipt is not None or time.monotonic() >= deadline:
                return receipt
            time.sleep(poll)

    def finish_attempt(self, attempt_id: int, receipt: Receipt) -> None:
        with hotjournal.write(engine_of(self.sessions), self.address) as conn:
            hotjournal.mine_attempt(conn, receipt.tx_hash, receipt.status, receipt.block_number, receipt.gas_cost_wei)
