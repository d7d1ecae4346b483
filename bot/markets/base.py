"""The market adapter: reads rounds, ledgers and parameters, and builds bet/claim/approve transactions.

One class serves every dialect; what differs lives in ``DialectSpec``. Reads that fan out over epochs are batched
(JSON-RPC batch). Transactions are returned as ``TxRequest`` (to, data, value): signing and sending is the executor's job.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

from bot.chain.abicall import DEFAULT_BATCH, AbiFunction, batch_eth_call, rpc_batch
from bot.domain import LedgerEntry, MarketParams, Position, Round, RoundStatus
from bot.errors import OperationalError, RevertError, TemporaryError
from bot.markets.dialects import DialectSpec, dialect_for
from bot.payout import round_status

ROUND_ATTRS = {
    "epoch": "epoch",
    "startTimestamp": "start_timestamp",
    "lockTimestamp": "lock_timestamp",
    "closeTimestamp": "close_timestamp",
    "lockPrice": "lock_price",
    "closePrice": "close_price",
    "lockOracleId": "lock_oracle_id",
    "closeOracleId": "close_oracle_id",
    "totalAmount": "total_amount",
    "bullAmount": "bull_amount",
    "bearAmount": "bear_amount",
    "rewardBaseCalAmount": "reward_base_cal_amount",
    "rewardAmount": "reward_amount",
    "oracleCalled": "oracle_called",
    "AIPrice": "ai_price",
}


@dataclass(frozen=True)
class TxRequest:
    """An unsigned call to a configured contract. ``kind`` is one of bet, claim, approve."""

    to: str
    data: str
    value: int
    kind: str
    epochs: tuple[int, ...] = ()
    position: Position | None = None
    amount: int = 0

    def as_call(self, sender: str) -> dict[str, Any]:
        return {"from": sender, "to": self.to, "data": self.data, "value": self.value}


def revert_reason(exc: BaseException) -> str:
    """The revert string of a failed call/estimate, e.g. "Round not bettable"."""
    text = str(exc.args[0]) if exc.args else str(exc)
    if isinstance(exc, ContractLogicError) and exc.message:
        text = exc.message
    for prefix in ("execution reverted: ", "execution reverted:", "VM Exception while processing transaction: revert "):
        if prefix in text:
            text = text.split(prefix, 1)[1]
            break
    return text.strip().strip("'\"") or "execution reverted"


ERROR_STRING_SELECTOR = "0x08c379a0"


def load_abi(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    if isinstance(data, dict) and "abi" in data:
        data = data["abi"]
    if not isinstance(data, list):
        raise ValueError(f"{path}: not an ABI (expected a JSON list or an object with 'abi')")
    return data


class PredictionMarket:
    """Adapter for one prediction contract."""

    def __init__(
        self,
        w3: Web3,
        address: str,
        spec: DialectSpec,
        abi: list[dict[str, Any]] | None = None,
        name: str = "",
        pinned_token: str | None = None,
    ) -> None:
        self.w3 = w3
        self.spec = spec
        self.name = name or spec.name
        #: ERC-20 markets: the stake token pinned in the config; ``token_address`` refuses a chain answer that differs
        self.pinned_token = to_checksum_address(pinned_token) if pinned_token else None
        self.address = to_checksum_address(address)
        self.abi = abi if abi is not None else load_abi(spec.abi_path())
        self.contract: Contract = w3.eth.contract(address=self.address, abi=self.abi)
        self._params: MarketParams | None = None
        self._oracle: Contract | None = None
        self._fns: dict[str, AbiFunction] = {}
        for item in self.abi:
            if item.get("type") == "function" and item["name"] not in self._fns:
                self._fns[item["name"]] = AbiFunction.from_abi([item], str(item["name"]))
        self._custom_errors = {
            "0x" + function_signature_to_4byte_selector(
                f"{e['name']}({','.join(i['type'] for i in e.get('inputs', []))})"
            ).hex(): e["name"]
            for e in self.abi
            if e.get("type") == "error"
        }

    # -- raw calls (the hot path: no ABI lookups, no formatters) ------------------------------------------------------
    def selector(self, fn: str) -> bytes:
        """The 4-byte selector of ABI function ``fn`` (the signing policy allows calls by these)."""
        return self._fns[fn].selector

    def encode_call(self, fn: str, args: Sequence[Any]) -> str:
        return self._fns[fn].encode(*args)

    def _raw_eth_call(self, call: dict[str, Any], block: Any = "latest") -> bytes:
        block_param = block if isinstance(block, str) else hex(int(block))
        response = self.w3.provider.make_request("eth_call", [call, block_param])  # type: ignore[arg-type]
        error = response.get("error")
        if error:
            raise RevertError(self._error_reason(error))
        result = response.get("result")
        if not isinstance(result, str):
            raise TemporaryError(f"malformed eth_call answer: {str(response)[:120]}")
        return bytes.fromhex(result[2:])

    def _error_reason(self, error: Any) -> str:
        if not isinstance(error, dict):
            return str(error)[:200]
        data = error.get("data")
        if isinstance(data, dict):
            data = data.get("data")
        message = str(error.get("message", ""))
        if isinstance(data, str) and data.startswith(ERROR_STRING_SELECTOR):
            try:
                return str(abi_decode(["string"], bytes.fromhex(data[10:]))[0])
            except Exception:  # noqa: BLE001, S110 — an undecodable reason falls back to the node's message
                pass
        if isinstance(data, str) and len(data) >= 10 and data[:10].lower() in self._custom_errors:
            return self._custom_errors[data[:10].lower()]
        if "revert" not in message.lower() and int(error.get("code", 0) or 0) not in (3, -32000, -32015):
            raise TemporaryError(f"eth_call failed: {message[:160]}")
        return message.replace("execution reverted: ", "").replace("execution reverted", "").strip() or "execution reverted"

    def call_fn(self, fn: str, *args: Any, block: Any = "latest") -> tuple[Any, ...]:
        meta = self._fns[fn]
        out = self._raw_eth_call({"to": self.address, "data": self.encode_call(fn, args)}, block)
        if not out and meta.outputs:
            raise OperationalError(f"no contract at {self.address} answers {fn}() (an account without code, or the "
                                   "wrong chain): check the market's address and chain in the config")
        try:
            return tuple(abi_decode(list(meta.outputs), out))
        except Exception as exc:  # eth-abi raises several decoding errors; all mean the same here
            raise OperationalError(f"the answer of {fn}() at {self.address} does not decode with the configured "
                                   f"dialect's ABI ({type(exc).__name__}): wrong contract or wrong dialect?") from exc

    # -- reads ----------------------------------------------------------------------------------------------------
    def current_epoch(self, block: Any = "latest") -> int:
        return int(self.call_fn("currentEpoch", block=block)[0])

    def decode_round(self, epoch: int, raw: Sequence[Any]) -> Round:
        """A ``rounds(epoch)`` answer (decoded ABI outputs) as a normalised ``Round``."""
        return self._decode_round(epoch, raw)

    def _decode_round(self, epoch: int, raw: Sequence[Any]) -> Round:
        fields = dict(zip(self.spec.round_fields, raw, strict=True))
        kwargs: dict[str, Any] = {"epoch": epoch}
        for key, value in fields.items():
            attr = ROUND_ATTRS.get(key)
            if attr is None or attr == "epoch":
                continue
            kwargs[attr] = bool(value) if attr == "oracle_called" else int(value)
        if not self.spec.ai_positions:
            kwargs.pop("ai_price", None)
        return Round(**kwargs)

    def round(self, epoch: int, block: Any = "latest") -> Round:
        return self._decode_round(epoch, self.call_fn("rounds", epoch, block=block))

    def rounds(self, epochs: Sequence[int], batch_size: int = DEFAULT_BATCH, block: int | str = "latest") -> list[Round]:
        """Several rounds at ``block``: raw JSON-RPC batches of ``rounds(epoch)`` eth_calls of ``batch_size`` each (no
        web3 contract machinery: ~20x less CPU per round than a web3 batch). The one round reader of the bot (hot path,
        reconciliation, claims, export)."""
        answers = batch_eth_call(self.w3, self.address, self._fns["rounds"], [(e,) for e in epochs], block, batch_size)
        return [self._decode_round(e, raw) for e, raw in zip(epochs, answers, strict=True)]

    def ledgers(
        self, user: str, epochs: Sequence[int], block: int | str = "latest", batch_size: int = DEFAULT_BATCH
    ) -> dict[int, LedgerEntry]:
        """``ledger(epoch, user)`` for many epochs at one block, in raw JSON-RPC batches."""
        who = to_checksum_address(user)
        answers = batch_eth_call(self.w3, self.address, self._fns["ledger"], [(e, who) for e in epochs], block, batch_size)
        return {e: self.decode_bet(e, raw) for e, raw in zip(epochs, answers, strict=True)}

    def decode_bet(self, epoch: int, raw: Sequence[Any]) -> LedgerEntry:
        """A ``ledger(epoch, user)`` answer or one ``getUserRounds`` BetInfo, in the dialect's field order."""
        fields = dict(zip(self.spec.bet_fields, raw, strict=True))
        return LedgerEntry(
            epoch=epoch,
            position=Position(int(fields["position"])),
            amount=int(fields["amount"]),
            claimed=bool(fields["claimed"]),
        )

    def ledger(self, epoch: int, user: str) -> LedgerEntry:
        return self.decode_bet(epoch, self.call_fn("ledger", epoch, to_checksum_address(user)))

    def claimable(self, epoch: int, user: str) -> bool:
        return bool(self.contract.functions.claimable(epoch, to_checksum_address(user)).call())

    def refundable(self, epoch: int, user: str) -> bool:
        return bool(self.contract.functions.refundable(epoch, to_checksum_address(user)).call())

    def params(self, refresh: bool = False) -> MarketParams:
        if self._params is None or refresh:
            f = self.contract.functions
            with self.w3.batch_requests() as batch:
                for call in (f.intervalSeconds(), f.bufferSeconds(), f.minBetAmount(), f.treasuryFee(), f.paused()):
                    batch.add(call)
                interval, buffer, min_bet, fee, paused = cast(list[Any], batch.execute())
            self._params = MarketParams(int(interval), int(buffer), int(min_bet), int(fee), bool(paused))
        return self._params

    def paused(self) -> bool:
        return bool(self.contract.functions.paused().call())

    def user_rounds_length(self, user: str) -> int:
        return int(self.contract.functions.getUserRoundsLength(to_checksum_address(user)).call())

    def user_rounds_page(self, user: str, cursor: int, size: int) -> tuple[list[LedgerEntry], int]:
        epochs, bets, next_cursor = self.contract.functions.getUserRounds(to_checksum_address(user), cursor, size).call()
        entries = [self.decode_bet(int(e), b) for e, b in zip(epochs, bets, strict=True)]
        return entries, int(next_cursor)

    def iter_user_rounds(self, user: str, page_size: int = 500, start: int = 0) -> Iterator[LedgerEntry]:
        """Every bet the account ever made here, oldest first, paged (``getUserRounds`` reverts past the end)."""
        length = self.user_rounds_length(user)
        cursor = start
        while cursor < length:
            entries, cursor = self.user_rounds_page(user, cursor, min(page_size, length - cursor))
            yield from entries
            if not entries:
                break

    def reference_price(self) -> int:
        """The price a new round will lock near, in the market's raw integer units.

        V2/V3: the oracle's latest answer. AI dialect (no on-chain oracle): the last executed round's close price.
        """
        if self.spec.ai_positions:
            epoch = self.current_epoch()
            for e in (epoch - 1, epoch - 2):
                if e > 0:
                    rnd = self.round(e)
                    if rnd.oracle_called:
                        return rnd.close_price
                    if rnd.lock_price:
                        return rnd.lock_price
            return 0
        if self._oracle is None:
            from bot.markets.dialects import ABI_DIR

            self._oracle = self.w3.eth.contract(
                address=to_checksum_address(self.contract.functions.oracle().call()),
                abi=load_abi(ABI_DIR / "AggregatorV3Interface.json"),
            )
        return int(self._oracle.functions.latestRoundData().call()[1])

    def chain_time(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def status(self, rnd: Round, now: int | None = None, current_epoch: int | None = None) -> RoundStatus:
        now = self.chain_time() if now is None else now
        return round_status(rnd, now, self.params().buffer_seconds, current_epoch=current_epoch)

    def eligible_for_claim(self, user: str, epochs: Sequence[int], batch_size: int = 150) -> list[int]:
        """The subset of ``epochs`` that ``claim`` would accept for ``user`` now.

        Asks the contract (``claimable``/``refundable``, batched) and also requires the round's close time to be
        strictly in the past: ``claimable`` is already true in the second the round closes, but ``claim`` reverts
        "Round has not ended" until a later block second.
        """
        user = to_checksum_address(user)
        now = self.chain_time()
        fns = [self._fns["claimable"], self._fns["refundable"], self._fns["rounds"]]
        calls = [
            ("eth_call", [{"to": self.address, "data": fn.encode(*args)}, "latest"])
            for epoch in epochs
            for fn, args in zip(fns, ((epoch, user), (epoch, user), (epoch,)), strict=True)
        ]
        answers = rpc_batch(self.w3, calls, 3 * batch_size)
        eligible: list[int] = []
        for i, epoch in enumerate(epochs):
            (claimable,), (refundable,) = fns[0].decode(answers[3 * i]), fns[1].decode(answers[3 * i + 1])
            rnd = self._decode_round(epoch, fns[2].decode(answers[3 * i + 2]))
            if refundable or (claimable and rnd.close_timestamp < now):
                eligible.append(epoch)
        return eligible

    # -- V3: the ERC-20 stake -----------------------------------------------------------------------------------------
    def token_address(self) -> str | None:
        """The stake token as the chain's ``token()`` answers it; with a pinned token, an answer that differs is
        refused (``OperationalError``) before anything — an allowance, decimals, an approval — uses it."""
        if self.spec.currency != "erc20":
            return None
        actual = to_checksum_address(self.contract.functions.token().call())
        if self.pinned_token is not None and actual != self.pinned_token:
            raise OperationalError(
                f"market {self.name}: the chain answers token() = {actual}, the config pins {self.pinned_token}: "
                "refusing to trade (the wrong contract, or an RPC lying)"
            )
        return actual

    def _erc20(self) -> Contract:
        from bot.markets.dialects import ABI_DIR

        token = self.token_address()
        if token is None:
            raise ValueError(f"market {self.name} takes the native coin, not a token")
        return self.w3.eth.contract(address=to_checksum_address(token), abi=load_abi(ABI_DIR / "ERC20.json"))

    def allowance(self, owner: str) -> int:
        return int(self._erc20().functions.allowance(to_checksum_address(owner), self.address).call())

    def coin_decimals(self) -> int:
        """Decimals of what a stake is counted in: 18 for the native coin, the stake token's ``decimals()`` else."""
        if self.spec.currency != "erc20":
            return 18
        return int(self._erc20().functions.decimals().call())

    def token_balance(self, owner: str) -> int:
        return int(self._erc20().functions.balanceOf(to_checksum_address(owner)).call())

    def build_approve(self, amount: int) -> TxRequest:
        """Approve exactly ``amount`` of the stake token for this market (never unlimited by default)."""
        token = self._erc20()
        data = token.encode_abi("approve", args=[self.address, amount])
        return TxRequest(to=token.address, data=data, value=0, kind="approve", amount=amount)

    # -- writes (unsigned) --------------------------------------------------------------------------------------------
    def build_bet(self, position: Position, epoch: int, amount: int) -> TxRequest:
        if amount <= 0:
            raise ValueError("stake must be positive")
        fn = self.spec.bet_bull if position is Position.BULL else self.spec.bet_bear
        if self.spec.bet_takes_amount:
            data = self.encode_call(fn, [epoch, amount])
            value = 0
        else:
            data = self.encode_call(fn, [epoch])
            value = amount
        return TxRequest(
            to=self.address, data=data, value=value, kind="bet", epochs=(epoch,), position=position, amount=amount
        )

    def build_claim(self, epochs: Sequence[int]) -> TxRequest:
        if not epochs:
            raise ValueError("nothing to claim")
        epochs = sorted(set(int(e) for e in epochs))
        data = self.contract.encode_abi(self.spec.claim, args=[epochs])
        return TxRequest(to=self.address, data=data, value=0, kind="claim", epochs=tuple(epochs))

    def simulate(self, tx: TxRequest, sender: str, block: str | int = "pending") -> None:
        """``eth_call`` the transaction; raise ``RevertError`` with the contract's reason if it would revert."""
        call = {"from": to_checksum_address(sender), "to": tx.to, "data": tx.data, "value": hex(tx.value)}
        try:
            self._raw_eth_call(call, block)
        except ContractCustomError as exc:
            raise RevertError(self.custom_error_name(exc)) from None
        except ContractLogicError as exc:
            raise RevertError(revert_reason(exc)) from None
        except Web3RPCError as exc:
            if "revert" in str(exc).lower():
                raise RevertError(revert_reason(exc)) from None
            raise

    def preflight(
        self, tx: TxRequest, sender: str, epoch: int, *, simulate: bool = True
    ) -> tuple[LedgerEntry, RevertError | None]:
        """One JSON-RPC batch before signing a bet: our ``ledger(epoch, sender)`` entry on ``latest`` and (``simulate``)
        the bet ``eth_call``-ed against ``pending``. Returns (the entry, the bet's revert or None)."""
        who = to_checksum_address(sender)
        requests: list[tuple[Any, Any]] = [
            ("eth_call", [{"to": self.address, "data": self.encode_call("ledger", [epoch, who])}, "latest"]),
        ]
        if simulate:
            call = {"from": who, "to": tx.to, "data": tx.data, "value": hex(tx.value)}
            requests.append(("eth_call", [call, "pending"]))
        answers = self.w3.provider.make_batch_request(requests)  # type: ignore[attr-defined]
        if not isinstance(answers, list) or len(answers) != len(requests):
            raise TemporaryError(f"pre-flight batch answered with {str(answers)[:120]}")
        ledger_answer = answers[0]
        if ledger_answer.get("error") or not isinstance(ledger_answer.get("result"), str):
            raise TemporaryError(f"pre-flight ledger read failed: {str(ledger_answer.get('error'))[:120]}")
        out = bytes.fromhex(str(ledger_answer["result"])[2:])
        if not out:
            raise OperationalError(f"no contract at {self.address} answers ledger() (wrong address or chain)")
        entry = self.decode_bet(epoch, abi_decode(list(self._fns["ledger"].outputs), out))
        error: RevertError | None = None
        if simulate and answers[1].get("error"):
            error = RevertError(self._error_reason(answers[1]["error"]))
        return entry, error

    def custom_error_name(self, exc: BaseException) -> str:
        """Name a custom-error revert (e.g. ``EnforcedPause``) from the ABI's error entries."""
        data = str(getattr(exc, "data", None) or (exc.args[0] if exc.args else ""))
        selector = data[:10].lower()
        return self._custom_errors.get(selector, f"custom error {selector}")

    # -- events -------------------------------------------------------------------------------------------------------
    def event_topic(self, name: str) -> str:
        event = getattr(self.contract.events, name)
        return "0x" + bytes(event.topic).hex() if not isinstance(event.topic, str) else event.topic


def open_market(w3: Web3, market_config: Any, abi_dir: Path | None = None) -> PredictionMarket:
    spec = dialect_for(market_config.dialect)
    if getattr(market_config, "price_decimals", None) is not None and not spec.ai_positions:  # AI: 18-decimal prices
        from dataclasses import replace

        spec = replace(spec, price_decimals=market_config.price_decimals)
    abi = load_abi(Path(market_config.abi)) if market_config.abi else load_abi(spec.abi_path(abi_dir))
    return PredictionMarket(w3, market_config.address, spec, abi=abi, name=market_config.name,
                            pinned_token=getattr(market_config, "token", None))
