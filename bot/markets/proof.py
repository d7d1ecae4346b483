"""Dialect proof: does the contract at a market's address speak the configured dialect, and may our account bet there?

Selectors are shared between dialects (V2, V2.1 and AI all have ``rounds(uint256)``, ``betBull(uint256)``...), so
answering the getters proves little: a V2 contract read as AI "works" and yields nonsense rounds. The proof decodes
real data with the dialect's layout and checks that it is self-consistent:

- the last ``depth`` rounds (``rounds(epoch)``, raw ``eth_call`` decoded strictly by eth-abi: a bool word must be 0 or 1,
  a uint64 must fit) — epoch field equal to the epoch asked, timestamps ordered (start < lock <= close, all in the
  past of the chain for a started round, lock − start = one interval at most two), amounts summing (total = bull +
  bear, reward base one of 0 / bull / bear, reward <= total), nothing rewarded before the oracle was called;
- the dialect's extra getters answer (V3: ``token()`` holds code);
- a ledger entry: the account's latest bets (``getUserRounds``) decode with the dialect's bet layout, agree with
  ``ledger(epoch, account)`` and fit in the round's pool of their side (skipped when the account never bet here).

``prove(market)`` returns the problems (empty: proven) — ``check_dialect`` raises ``OperationalError`` naming the
dialects the contract does read as. A contract with no started round yet proves nothing either way (``vacuous``).

``check_wallet`` refuses an account with code (a smart wallet, an EIP-7702 delegation) unless the dialect allows smart
wallets: V2's ``notContract`` reverts every bet from it with "Contract not allowed".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from web3 import Web3

from bot.domain import LedgerEntry, Round
from bot.errors import OperationalError, RevertError, TemporaryError, one_line
from bot.markets.base import PredictionMarket
from bot.markets.dialects import DIALECTS, DialectSpec

#: a block timestamp before 2001 is not a timestamp
MIN_TIMESTAMP = 1_000_000_000


@dataclass
class DialectProof:
    dialect: str
    problems: list[str] = field(default_factory=list)
    rounds_checked: int = 0
    bets_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def vacuous(self) -> bool:
        """Nothing was there to check (no started round, no bet)."""
        return self.ok and self.rounds_checked == 0 and self.bets_checked == 0


def round_problems(rnd: Round, epoch: int, has_epoch_field: bool, interval: int, now: int) -> list[str]:
    """What is inconsistent in ``rnd`` read as round ``epoch`` (empty: consistent). Pure."""
    out: list[str] = []
    if not rnd.started:
        if any((rnd.lock_timestamp, rnd.close_timestamp, rnd.total_amount, rnd.oracle_called)):
            out.append(f"round {epoch}: not started but has lock/close/amounts")
        return out
    if has_epoch_field and rnd.epoch != epoch:
        out.append(f"round {epoch}: epoch field reads {rnd.epoch}")
    start, lock, close = rnd.start_timestamp, rnd.lock_timestamp, rnd.close_timestamp
    if not (MIN_TIMESTAMP <= start < lock <= close):
        out.append(f"round {epoch}: timestamps not ordered (start {start}, lock {lock}, close {close})")
    elif start > now:
        out.append(f"round {epoch}: starts in the future ({start} > chain time {now})")
    elif interval and not (0 < lock - start <= 2 * interval):
        out.append(f"round {epoch}: lock - start = {lock - start} s for a {interval} s interval")
    if rnd.total_amount != rnd.bull_amount + rnd.bear_amount:
        out.append(f"round {epoch}: total {rnd.total_amount} != bull {rnd.bull_amount} + bear {rnd.bear_amount}")
    if rnd.reward_base_cal_amount not in (0, rnd.bull_amount, rnd.bear_amount):
        out.append(f"round {epoch}: reward base {rnd.reward_base_cal_amount} is neither pool")
    if rnd.reward_amount > rnd.total_amount:
        out.append(f"round {epoch}: reward {rnd.reward_amount} above total {rnd.total_amount}")
    if not rnd.oracle_called and (rnd.reward_amount or rnd.reward_base_cal_amount):
        out.append(f"round {epoch}: rewards set before the oracle was called")
    return out


def bet_problems(entry: LedgerEntry, again: LedgerEntry, rnd: Round | None) -> list[str]:
    """``entry`` (from ``getUserRounds``) against ``again`` (``ledger``) and its round. Pure."""
    out: list[str] = []
    if (entry.position, entry.amount, entry.claimed) != (again.position, again.amount, again.claimed):
        out.append(f"bet {entry.epoch}: getUserRounds and ledger disagree")
    if entry.amount <= 0:
        out.append(f"bet {entry.epoch}: listed with no stake")
    if rnd is not None and rnd.started:
        pool = rnd.bull_amount if entry.position.value == 0 else rnd.bear_amount
        if entry.amount > pool:
            out.append(f"bet {entry.epoch}: stake {entry.amount} above its side's pool {pool}")
    return out


def _reader(market: PredictionMarket, spec: DialectSpec) -> PredictionMarket:
    if spec.name == market.spec.name:
        return market
    return PredictionMarket(market.w3, market.address, spec, name=f"{market.name}?{spec.name}")


def prove(market: PredictionMarket, account: str | None = None, *, depth: int = 4) -> DialectProof:
    """Decode and check recent rounds (and the account's latest bets) with ``market``'s dialect."""
    proof = DialectProof(market.spec.name)
    try:
        _prove(market, account, depth, proof)
    except TemporaryError:
        raise
    except Exception as exc:  # noqa: BLE001 — any decoding failure (bad bool word, short answer, revert) disproves
        proof.problems.append(_why(exc))
    return proof


def _why(exc: BaseException) -> str:
    """The short cause: eth-abi's error class for a decoding failure, else the message."""
    if exc.__cause__ is not None:
        return type(exc.__cause__).__name__
    return one_line(exc, 120)


def _prove(market: PredictionMarket, account: str | None, depth: int, proof: DialectProof) -> None:
    spec = market.spec
    for getter in spec.extra_getters:
        try:
            (value,) = market.call_fn(getter)
        except (RevertError, OperationalError) as exc:
            proof.problems.append(f"{getter}() is not answered ({_why(exc)})")
            return
        if isinstance(value, str) and not market.w3.eth.get_code(Web3.to_checksum_address(value)):
            proof.problems.append(f"{getter}() -> {value} holds no contract")
    params = market.params(refresh=True)
    current = market.current_epoch()
    now = market.chain_time()
    has_epoch = "epoch" in spec.round_fields
    rounds: dict[int, Round] = {}
    for epoch in range(max(1, current - depth + 1), current + 1):
        try:
            rnd = market.round(epoch)
        except OperationalError as exc:
            proof.problems.append(f"rounds({epoch}) does not decode with the {spec.name} layout ({_why(exc)})")
            return
        rounds[epoch] = rnd
        proof.problems.extend(round_problems(rnd, epoch, has_epoch, params.interval_seconds, now))
        proof.rounds_checked += int(rnd.started)
    if account is None:
        return
    length = market.user_rounds_length(account)
    if length == 0:
        return
    entries, _ = market.user_rounds_page(account, max(0, length - 2), min(2, length))
    for entry in entries:
        rnd = rounds.get(entry.epoch) or market.round(entry.epoch)
        proof.problems.extend(bet_problems(entry, market.ledger(entry.epoch, account), rnd))
        proof.bets_checked += 1


def likely_dialects(market: PredictionMarket, account: str | None = None, among: list[str] | None = None) -> list[str]:
    """The known dialects (or those ``among``) the contract reads as, most specific first (more extra getters)."""
    found = []
    for spec in DIALECTS.values():
        if among is not None and spec.name not in among:
            continue
        proof = prove(_reader(market, spec), account)
        if proof.ok and not proof.vacuous:
            found.append(spec)
    found.sort(key=lambda s: -len(s.extra_getters))
    return [s.name for s in found]


def check_dialect(market: PredictionMarket, account: str | None = None) -> DialectProof:
    """Refuse (``OperationalError``, one line) a market whose contract does not read as its configured dialect, or
    also reads as a dialect asking more of it (V3's ``token()`` on a market configured as V2)."""
    proof = prove(market, account)
    wider = [d for d, spec in DIALECTS.items() if set(spec.extra_getters) > set(market.spec.extra_getters)]
    more_specific = likely_dialects(market, account, among=wider) if proof.ok and not proof.vacuous else []
    if proof.ok and not more_specific:
        return proof
    others = more_specific or [d for d in likely_dialects(market, account) if d != market.spec.name]
    reason = proof.problems[0] if proof.problems else f"it also answers the {more_specific[0]} dialect's getters"
    hint = (
        f"it reads as {' or '.join(others)}: set `dialect: {others[0]}`"
        if others
        else "it reads as no known dialect: wrong address, or a dialect this bot does not know"
    )
    raise OperationalError(
        f"market {market.name}: {market.address} does not speak the {market.spec.name} dialect ({reason}); {hint}"
    )


def check_wallet(market: PredictionMarket, account: str) -> None:
    """Refuse an account with code on a dialect that only takes bets from plain wallets."""
    code = bytes(market.w3.eth.get_code(Web3.to_checksum_address(account)))
    if not code or market.spec.smart_wallets:
        return
    kind = "an EIP-7702 delegation" if code[:3] == b"\xef\x01\x00" else f"{len(code)} bytes of contract code"
    raise OperationalError(
        f"account {account} has code ({kind}): the {market.spec.name} market {market.name} only takes bets and claims "
        "from plain wallets (\"Contract not allowed\"); use a key without code"
    )


def describe(proof: DialectProof) -> dict[str, Any]:
    return {
        "dialect": proof.dialect,
        "rounds_checked": proof.rounds_checked,
        "bets_checked": proof.bets_checked,
        "proven": proof.ok and not proof.vacuous,
    }


def check_token(market: PredictionMarket) -> str:
    """ERC-20 markets: the stake token pinned in the config, proven against the chain's ``token()`` (returned).

    The token joins the signer's allowlist (``approve``), so an RPC answer alone never puts it there: with no pin, or a
    chain answer that differs from the pin (``PredictionMarket.token_address`` refuses it: the wrong contract, or an
    RPC lying), live trading is refused.
    """
    actual = market.token_address()
    if market.pinned_token is None or actual is None:
        raise OperationalError(
            f"market {market.name}: its stake token is not pinned; trading an ERC-20 market live needs markets.<n>.token "
            f"in the config (the RPC reports {actual}: verify it from another source before pinning it) or the market "
            "disabled"
        )
    return actual
