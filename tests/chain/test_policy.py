"""The signer decodes what it signs: random calldata, values, targets and labels through ``TxSender``'s sign path.

An independent oracle (eth-abi decoding + canonical re-encoding, selectors from the function signatures' text, not
from our ABIs) says what the policy allows; every generated transaction goes through ``TxSender.journal_attempt`` (sign,
then journal) on a real SQLite journal, and is signed and journaled exactly when the oracle allows it — a refusal is
one ``OperationalError`` line and leaves no row. The signed bytes are decoded back and compared with what was asked.
"""

from __future__ import annotations

import itertools
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from web3 import Web3

from bot.chain.gas import Fees, GasPolicy
from bot.chain.policy import Action, MarketRule, PolicyRefusal, SigningPolicy, rule_for
from bot.chain.sender import TxSender
from bot.config import GasConfig
from bot.domain import Position
from bot.errors import OperationalError
from bot.markets.base import PredictionMarket, TxRequest
from bot.markets.dialects import AI, V2, V3, V21
from bot.store.db import make_engine, session_factory, session_scope
from bot.store.journal import TxAttempt

CHAIN_ID = 31337
CAP = 10**17
KEY = "0x" + "42" * 32


def sel(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


def addr(n: int) -> str:
    return to_checksum_address(f"0x{n:040x}")


BET_NATIVE = {sel("betBull(uint256)"): Position.BULL, sel("betBear(uint256)"): Position.BEAR}
BET_ERC20 = {sel("betBull(uint256,uint256)"): Position.BULL, sel("betBear(uint256,uint256)"): Position.BEAR}
CLAIM = sel("claim(uint256[])")
APPROVE = sel("approve(address,uint256)")
OTHER = [sel(s) for s in ("transferOwnership(address)", "transfer(address,uint256)", "pause()", "setAdmin(address)",
                          "setOperator(address)", "claimTreasury()", "recoverToken(address,uint256)",
                          "transferFrom(address,address,uint256)", "increaseAllowance(address,uint256)")]
SELECTORS = [*BET_NATIVE, *BET_ERC20, CLAIM, APPROVE, *OTHER]

V2_M, V21_M, AI_M, V3_M, V3_UNPINNED, DISABLED_V2, DISABLED_V3 = (addr(0xA000 + i) for i in range(7))
TOKEN, TOKEN_UNPINNED, TOKEN_DISABLED, STRANGER = addr(0xB001), addr(0xB002), addr(0xB003), addr(0xC001)
# the oracle's view of the configuration: enabled markets (form, pinned token), and that is all
ENABLED: dict[str, tuple[str, str | None]] = {
    V2_M: ("native", None), V21_M: ("native", None), AI_M: ("native", None), V3_M: ("erc20", TOKEN),
    V3_UNPINNED: ("erc20", None),
}
TARGETS = [V2_M, V21_M, AI_M, V3_M, V3_UNPINNED, DISABLED_V2, DISABLED_V3, TOKEN, TOKEN_UNPINNED, TOKEN_DISABLED,
           STRANGER]


def canonical(types: list[str], args: bytes) -> tuple[Any, ...] | None:
    """The decoded arguments when ``args`` is exactly their canonical ABI encoding, else None."""
    try:
        values = decode(types, args)
    except Exception:  # noqa: BLE001 — any decoding failure means "not this call"
        return None
    return tuple(values) if encode(types, list(values)) == args else None


def oracle(to: str, value: int, data: bytes, kind: str, epochs: tuple[int, ...]) -> bool:
    """What may be signed, restated from the issue with eth-abi (independent of bot.chain.policy)."""
    if len(data) < 4:
        return False
    selector, args = data[:4], data[4:]
    if to in ENABLED:
        form, token = ENABLED[to]
        if selector in (BET_ERC20 if form == "erc20" else BET_NATIVE):
            decoded = canonical(["uint256", "uint256"] if form == "erc20" else ["uint256"], args)
            if decoded is None or (form == "erc20" and (value != 0 or token is None)):
                return False
            stake = decoded[1] if form == "erc20" else value
            return kind == "bet" and 0 < stake <= CAP and epochs == (decoded[0],)
        if selector == CLAIM:
            decoded = canonical(["uint256[]"], args)
            return (decoded is not None and len(decoded[0]) > 0 and value == 0 and kind == "claim"
                    and epochs == tuple(decoded[0]))
        return False
    if to == TOKEN and selector == APPROVE:
        decoded = canonical(["address", "uint256"], args)
        return (decoded is not None and decoded[0].lower() == V3_M.lower() and decoded[1] <= CAP and value == 0
                and kind == "approve" and epochs == ())
    return False


def _market(w3: Web3, address: str, spec: Any, name: str) -> PredictionMarket:
    return PredictionMarket(w3, address, spec, name=name)


def build_policy(w3: Web3) -> SigningPolicy:
    """Enabled markets only: the disabled ones (and their tokens) are simply not there."""
    rules = [
        rule_for(_market(w3, V2_M, V2, "v2")), rule_for(_market(w3, V21_M, V21, "v21")),
        rule_for(_market(w3, AI_M, AI, "ai")), rule_for(_market(w3, V3_M, V3, "v3"), TOKEN),
        rule_for(_market(w3, V3_UNPINNED, V3, "v3-unpinned"), None),
    ]
    return SigningPolicy(CHAIN_ID, rules, CAP)


@pytest.fixture(scope="module")
def signer() -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'policy.db'}")
        sessions = session_factory(engine)
        w3 = Web3(Web3.HTTPProvider("http://127.0.0.1:9"))  # never contacted: signing makes no RPC
        gas = GasPolicy(GasConfig(floor_gwei=Decimal(1), ceiling_gwei=Decimal(100), priority_gwei=Decimal(1)))
        sender = TxSender(w3, Account.from_key(KEY), sessions, gas, build_policy(w3), CHAIN_ID,
                          max_gas_per_day_wei=10**30)
        yield sender, sessions
        engine.dispose()


def journaled(sessions: Any) -> int:
    with session_scope(sessions) as s:
        return int(s.scalar(select(func.count()).select_from(TxAttempt)) or 0)


# -- generators -----------------------------------------------------------------------------------------------------
uint = st.one_of(st.sampled_from([0, 1, CAP - 1, CAP, CAP + 1, 2**255, 2**256 - 1]), st.integers(0, 2**256 - 1),
                 st.integers(CAP - 10, 20 * CAP))  # around the cap
epoch = st.one_of(st.integers(0, 10**6), uint)
address_word = st.sampled_from(TARGETS).map(lambda a: encode(["address"], [a]))
valid_args = st.one_of(
    epoch.map(lambda e: encode(["uint256"], [e])),
    st.tuples(epoch, uint).map(lambda t: encode(["uint256", "uint256"], list(t))),
    st.lists(epoch, min_size=0, max_size=6).map(lambda es: encode(["uint256[]"], [es])),
    st.tuples(st.sampled_from(TARGETS), uint).map(lambda t: encode(["address", "uint256"], list(t))),
    address_word,
    st.binary(max_size=160),
)


@st.composite
def calldata(draw: st.DrawFn) -> bytes:
    selector = draw(st.one_of(st.sampled_from(SELECTORS), st.binary(min_size=0, max_size=4)))
    args = draw(valid_args)
    mutation = draw(st.sampled_from(["none", "none", "none", "truncate", "pad", "flip"]))
    if mutation == "truncate" and args:
        args = args[: draw(st.integers(0, len(args) - 1))]
    elif mutation == "pad":
        args += draw(st.binary(min_size=1, max_size=64))
    elif mutation == "flip" and args:
        i = draw(st.integers(0, len(args) - 1))
        args = args[:i] + bytes([args[i] ^ draw(st.integers(1, 255))]) + args[i + 1 :]
    return selector + args


def natural_epochs(data: bytes) -> tuple[int, ...]:
    """The epochs a caller building this call honestly would label it with."""
    claim = canonical(["uint256[]"], data[4:])
    if data[:4] == CLAIM and claim is not None:
        return tuple(claim[0])
    if data[:4] == APPROVE:
        return ()
    return (int.from_bytes(data[4:36], "big"),) if len(data) >= 36 else ()


Case = tuple[str, int, bytes, str, tuple[int, ...]]


@st.composite
def random_requests(draw: st.DrawFn) -> Case:
    to = draw(st.sampled_from(TARGETS))
    data = draw(calldata())
    value = draw(st.one_of(st.sampled_from([0, 0, 1, CAP, CAP + 1, 100 * 10**18]), uint))
    kind = draw(st.sampled_from(["bet", "claim", "approve", "transfer", "", "BET"]))
    epochs = natural_epochs(data) if draw(st.booleans()) or draw(st.booleans()) else tuple(
        draw(st.lists(st.integers(0, 10), max_size=3)))
    return to, value, data, kind, epochs


@st.composite
def well_formed_requests(draw: st.DrawFn) -> Case:
    """A well-formed bet, claim or approve (built from the signatures' text) to a market or token, enabled or not."""
    shape = draw(st.sampled_from(["native", "erc20", "claim", "approve"]))
    e = draw(epoch)
    stake = draw(st.one_of(st.just(0), st.integers(1, CAP), st.integers(CAP + 1, 20 * CAP)))
    if shape == "native":
        to = draw(st.sampled_from([V2_M, V21_M, AI_M, DISABLED_V2]))
        return to, stake, draw(st.sampled_from(list(BET_NATIVE))) + encode(["uint256"], [e]), "bet", (e,)
    if shape == "erc20":
        to = draw(st.sampled_from([V3_M, V3_UNPINNED, DISABLED_V3]))
        data = draw(st.sampled_from(list(BET_ERC20))) + encode(["uint256", "uint256"], [e, stake])
        return to, 0, data, "bet", (e,)
    if shape == "claim":
        to = draw(st.sampled_from([*ENABLED, DISABLED_V2, DISABLED_V3]))
        epochs = draw(st.lists(epoch, min_size=0, max_size=5))
        return to, 0, CLAIM + encode(["uint256[]"], [epochs]), "claim", tuple(epochs)
    token, spender = draw(st.sampled_from([(TOKEN, V3_M), (TOKEN, V3_M), (TOKEN, V3_M), (TOKEN_UNPINNED, V3_UNPINNED),
                                           (TOKEN_DISABLED, DISABLED_V3), (TOKEN, DISABLED_V3), (TOKEN, V2_M)]))
    amount = draw(st.one_of(st.integers(0, CAP), st.integers(CAP + 1, 20 * CAP)))
    return token, 0, APPROVE + encode(["address", "uint256"], [spender, amount]), "approve", ()


@st.composite
def near_valid_requests(draw: st.DrawFn) -> Case:
    """A well-formed transaction with one thing changed (or none): where a lax check would show."""
    to, value, data, kind, epochs = draw(well_formed_requests())
    change = draw(st.sampled_from(["none", "none", "to", "value", "kind", "epochs", "selector", "truncate", "pad",
                                   "flip", "word", "word", "dirty"]))
    if change == "to":
        to = draw(st.sampled_from(TARGETS))
    elif change == "value":
        value = draw(st.one_of(st.sampled_from([0, 1, CAP, CAP + 1, 100 * 10**18]), uint))
    elif change == "kind":
        kind = draw(st.sampled_from(["bet", "claim", "approve", "transfer", ""]))
    elif change == "epochs":
        epochs = tuple(draw(st.lists(epoch, max_size=3)))
    elif change == "selector":
        data = draw(st.sampled_from(SELECTORS)) + data[4:]
    elif change == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif change == "pad":
        data += draw(st.binary(min_size=1, max_size=64))
    elif change == "flip":
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :]
    elif change == "word" and len(data) >= 36:  # replace one whole argument word (amounts, spender, offsets)
        i = draw(st.integers(0, (len(data) - 4) // 32 - 1))
        dirty = st.tuples(st.sampled_from(TARGETS), st.integers(1, 2**96 - 1)).map(lambda t: int(t[0], 16) | t[1] << 160)
        word = draw(st.one_of(uint, st.integers(0, 200), st.sampled_from(TARGETS).map(lambda a: int(a, 16)), dirty,
                              st.integers(0, 2**256 - 1).map(lambda n: n | (1 << 200))))
        data = data[: 4 + 32 * i] + word.to_bytes(32, "big") + data[4 + 32 * (i + 1) :]
    elif change == "dirty" and len(data) >= 36:  # high bits set in the first word (an approve's spender)
        data = data[:4] + draw(st.binary(min_size=12, max_size=12).filter(any)) + data[16:]
    return to, value, data, kind, epochs


NONCES = itertools.count()


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=near_valid_requests())
def test_nothing_outside_the_policy_is_ever_signed(signer: Any, case: Case) -> None:
    """Well-formed bets, claims and approves to enabled or disabled markets and tokens, one thing changed or none."""
    check_sign_path(signer, case)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=random_requests())
def test_random_calldata_is_never_signed_outside_the_policy(signer: Any, case: Case) -> None:
    """Random selectors (known ones and random bytes), random argument words, truncated or padded, any label."""
    check_sign_path(signer, case)


def check_sign_path(signer: Any, case: Case) -> None:
    sender, sessions = signer
    to, value, data, kind, epochs = case
    tx = TxRequest(to=to, data="0x" + data.hex(), value=value, kind=kind, epochs=epochs)
    allowed = oracle(to, value, data, kind, epochs)
    event("allowed" if allowed else "refused")
    before = journaled(sessions)
    fees = Fees(False, max_fee=2 * 10**9, priority_fee=10**9)
    try:
        _, raw, _ = sender.journal_attempt(tx, "m", next(NONCES), fees)
    except OperationalError as exc:
        assert not allowed, f"refused an allowed transaction: {exc}"
        assert "\n" not in str(exc)
        assert journaled(sessions) == before
        return
    assert allowed, f"signed {kind!r} to {to} value {value} data 0x{data.hex()}"
    assert journaled(sessions) == before + 1
    fields = rlp.decode(raw[1:])  # type 2: chain id, nonce, tip, max fee, gas, to, value, data, ...
    assert int.from_bytes(fields[0], "big") == CHAIN_ID
    assert fields[5] == bytes.fromhex(to[2:]) and int.from_bytes(fields[6], "big") == value and fields[7] == data


# -- the policy alone (pure) ------------------------------------------------------------------------------------------
W3 = Web3(Web3.HTTPProvider("http://127.0.0.1:9"))
POLICY = build_policy(W3)


def test_a_bet_permit_carries_what_the_calldata_and_value_say() -> None:
    native = POLICY.check(CHAIN_ID, V2_M, CAP, sel("betBear(uint256)") + encode(["uint256"], [7]))
    assert (native.action, native.market, native.amount, native.epochs, native.position) == (
        Action.BET, "v2", CAP, (7,), Position.BEAR)
    erc20 = POLICY.check(CHAIN_ID, V3_M, 0, sel("betBull(uint256,uint256)") + encode(["uint256", "uint256"], [9, 5]))
    assert (erc20.amount, erc20.epochs, erc20.position) == (5, (9,), Position.BULL)
    claim = POLICY.check(CHAIN_ID, AI_M, 0, CLAIM + encode(["uint256[]"], [[3, 1, 2]]))
    assert (claim.action, claim.epochs, claim.amount) == (Action.CLAIM, (3, 1, 2), 0)
    approve = POLICY.check(CHAIN_ID, TOKEN, 0, APPROVE + encode(["address", "uint256"], [V3_M, CAP]))
    assert (approve.action, approve.market, approve.amount) == (Action.APPROVE, "v3", CAP)


@pytest.mark.parametrize(("to", "value", "data", "why"), [
    (V2_M, 100 * 10**18, sel("transferOwnership(address)") + encode(["address"], [STRANGER]), "only betBull"),
    (V2_M, CAP + 1, sel("betBull(uint256)") + encode(["uint256"], [1]), "per-bet cap"),
    (V2_M, 0, sel("betBull(uint256)") + encode(["uint256"], [1]), "bet of 0"),
    (V2_M, 1, sel("betBull(uint256,uint256)") + encode(["uint256", "uint256"], [1, 1]), "only betBull"),
    (V3_M, 0, sel("betBull(uint256,uint256)") + encode(["uint256", "uint256"], [1, CAP + 1]), "per-bet cap"),
    (V3_M, 5, sel("betBull(uint256,uint256)") + encode(["uint256", "uint256"], [1, 5]), "carrying 5 wei"),
    (V3_UNPINNED, 0, sel("betBull(uint256,uint256)") + encode(["uint256", "uint256"], [1, 5]), "not pinned"),
    (DISABLED_V2, 1, sel("betBull(uint256)") + encode(["uint256"], [1]), "not an enabled configured market"),
    (V2_M, 1, sel("claim(uint256[])") + encode(["uint256[]"], [[1]]), "carrying 1 wei"),
    (V2_M, 0, sel("claim(uint256[])") + encode(["uint256[]"], [[]]), "malformed claim"),
    (V2_M, 0, sel("claim(uint256[])") + encode(["uint256[]"], [[1]]) + b"\0" * 32, "malformed claim"),
    (V2_M, 1, sel("betBull(uint256)") + encode(["uint256"], [1])[:31], "malformed bet"),
    (TOKEN, 0, APPROVE + encode(["address", "uint256"], [STRANGER, 1]), "not an enabled market staking this token"),
    (TOKEN, 0, APPROVE + encode(["address", "uint256"], [V3_M, CAP + 1]), "per-bet cap"),
    (TOKEN, 0, APPROVE + b"\x01" + encode(["address", "uint256"], [V3_M, 1])[1:], "spender is not an address"),
    (TOKEN, 0, sel("transfer(address,uint256)") + encode(["address", "uint256"], [STRANGER, 1]), "only approve"),
    (TOKEN_DISABLED, 0, APPROVE + encode(["address", "uint256"], [DISABLED_V3, 1]), "not an enabled"),
    (TOKEN_UNPINNED, 0, APPROVE + encode(["address", "uint256"], [V3_UNPINNED, 1]), "not an enabled"),
    (STRANGER, 0, b"", "without a function selector"),
])
def test_the_policy_refuses_with_one_line_naming_why(to: str, value: int, data: bytes, why: str) -> None:
    with pytest.raises(PolicyRefusal, match=why):
        POLICY.check(CHAIN_ID, to, value, data)


def test_another_chain_is_refused_and_a_market_cannot_double_as_a_token() -> None:
    with pytest.raises(PolicyRefusal, match="chain id 56"):
        POLICY.check(56, V2_M, 1, sel("betBull(uint256)") + encode(["uint256"], [1]))
    rule = MarketRule("x", V3_M, b"1234", b"5678", b"9abc", True, token=V2_M)
    with pytest.raises(ValueError, match="both as a market and as a stake token"):
        SigningPolicy(CHAIN_ID, [rule_for(_market(W3, V2_M, V2, "v2")), rule], CAP)


def test_the_label_must_match_the_calldata(signer: Any) -> None:
    """A claim labelled as a bet, or a bet labelled with another round, is refused: the journal would lie."""
    sender, sessions = signer
    fees = Fees(False, max_fee=2 * 10**9, priority_fee=10**9)
    before = journaled(sessions)
    claim = "0x" + (CLAIM + encode(["uint256[]"], [[4]])).hex()
    with pytest.raises(PolicyRefusal, match="labelled 'bet'"):
        sender.journal_attempt(TxRequest(to=V2_M, data=claim, value=0, kind="bet", epochs=(4,)), "v2", 10**9, fees)
    bet = "0x" + (sel("betBull(uint256)") + encode(["uint256"], [4])).hex()
    with pytest.raises(PolicyRefusal, match="epochs"):
        sender.journal_attempt(TxRequest(to=V2_M, data=bet, value=1, kind="bet", epochs=(5,)), "v2", 10**9, fees)
    assert journaled(sessions) == before
