"""The AlloraConsumer digest against an independent computation, and signature verification end to end."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from bot.allora.digest import (
    INFERENCE_TYPEHASH,
    as_uint256,
    domain_separator,
    inference_digest,
    recover_signer,
    sign_digest,
    struct_hash,
)
from bot.allora.model import ConsumerData, Inference
from bot.allora.reasons import RejectReason
from bot.allora.verify import check_signature
from bot.config import SignatureConfig

SEPOLIA = 11155111
CONSUMER = "0x8E45fbef38DaC54e32AfB27AC8cBab30E6818ce6"
KEY = keccak(text="test signer")
SIGNER = Account.from_key(KEY).address

DATA = ConsumerData(
    network_inference=64609501828101036794984,
    timestamp=1785448720,
    topic_id=69,
    extra_data=b"",
    percentiles=(2280000000000000000, 15870000000000000000, 50 * 10**18, 84130000000000000000, 97720000000000000000),
    interval_values=(64000 * 10**18, 64300 * 10**18, 64609 * 10**18, 64900 * 10**18, 65200 * 10**18),
)


def independent_digest(data: ConsumerData, chain_id: int, consumer: str) -> bytes:
    """Written out from docs/allora.md with eth-abi, word by word, without the module under test."""
    typehash = keccak(
        b"NetworkInferenceData(uint256 networkInference,uint256 timestamp,uint256 topicId,bytes extraData,"
        b"uint256[] confidenceIntervalPercentiles,uint256[] confidenceIntervalValues)"
    )
    struct = keccak(
        encode(
            ["bytes32", "uint256", "uint256", "uint256", "bytes", "uint256[]", "uint256[]"],
            [typehash, data.network_inference, data.timestamp, data.topic_id, data.extra_data,
             list(data.percentiles), list(data.interval_values)],
        )
    )
    domain = keccak(
        keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
        + keccak(b"AlloraConsumer")
        + keccak(b"1")
        + chain_id.to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(consumer[2:])
    )
    return keccak(b"\x19\x01" + domain + struct)


def test_digest_matches_independent_eth_abi_computation() -> None:
    assert inference_digest(DATA, SEPOLIA, CONSUMER) == independent_digest(DATA, SEPOLIA, CONSUMER)


def test_domain_separator_matches_eth_account_eip712() -> None:
    from eth_account.messages import hash_domain

    expected = hash_domain(
        {"name": "AlloraConsumer", "version": "1", "chainId": SEPOLIA, "verifyingContract": CONSUMER}
    )
    assert domain_separator(SEPOLIA, CONSUMER) == bytes(expected)


def test_struct_hash_abi_encodes_bytes_and_arrays_not_hashes() -> None:
    """The non-standard part: standard EIP-712 would hash the dynamic members first."""
    standard = keccak(
        encode(
            ["bytes32", "uint256", "uint256", "uint256", "bytes32", "bytes32", "bytes32"],
            [INFERENCE_TYPEHASH, DATA.network_inference, DATA.timestamp, DATA.topic_id, keccak(DATA.extra_data),
             keccak(encode(["uint256"] * 5, list(DATA.percentiles))),
             keccak(encode(["uint256"] * 5, list(DATA.interval_values)))],
        )
    )
    assert struct_hash(DATA) != standard


def test_negative_values_use_twos_complement() -> None:
    assert as_uint256(-1) == 2**256 - 1
    negative = replace(DATA, network_inference=-5, interval_values=(-7, -6, -5, -4, -3))
    twos = replace(DATA, network_inference=2**256 - 5, interval_values=tuple(2**256 + v for v in (-7, -6, -5, -4, -3)))
    assert inference_digest(negative, SEPOLIA, CONSUMER) == independent_digest(twos, SEPOLIA, CONSUMER)
    with pytest.raises(ValueError):
        as_uint256(2**256)


def test_sign_is_personal_sign_over_the_digest() -> None:
    digest = inference_digest(DATA, SEPOLIA, CONSUMER)
    signature = sign_digest(digest, KEY)
    assert Account.recover_message(encode_defunct(primitive=digest), signature=signature) == SIGNER
    assert recover_signer(digest, signature) == SIGNER
    with pytest.raises(ValueError):
        recover_signer(digest, b"\x00" * 64 + b"\x1b")
    with pytest.raises(ValueError):
        recover_signer(digest, b"\x01\x02")


def _inference(data: ConsumerData, signature: bytes) -> Inference:
    return Inference(
        topic_name="t", topic_id=data.topic_id, value=Decimal(data.network_inference).scaleb(-18), decimals=18,
        timestamp=data.timestamp, source="api", raw=b"{}", consumer_data=data, signature=signature,
    )


TRUSTED = SignatureConfig(required=True, trusted_signers=[SIGNER], consumer_address=CONSUMER, consumer_chain_id=SEPOLIA)


def test_correctly_signed_inference_verifies() -> None:
    signature = sign_digest(inference_digest(DATA, SEPOLIA, CONSUMER), KEY)
    verdict = check_signature(_inference(DATA, signature), TRUSTED)
    assert verdict.accepted and verdict.signer == SIGNER


@pytest.mark.parametrize(
    "change",
    [
        {"network_inference": DATA.network_inference + 1},
        {"timestamp": DATA.timestamp + 1},
        {"topic_id": 70},
        {"extra_data": b"\x01"},
        {"interval_values": (1, 2, 3, 4, 5)},
    ],
)
def test_tampered_data_is_rejected(change: dict[str, object]) -> None:
    signature = sign_digest(inference_digest(DATA, SEPOLIA, CONSUMER), KEY)
    verdict = check_signature(_inference(replace(DATA, **change), signature), TRUSTED)  # type: ignore[arg-type]
    assert verdict.reason is RejectReason.UNTRUSTED_SIGNER


@pytest.mark.parametrize(
    ("chain_id", "consumer"),
    [(42161, CONSUMER), (SEPOLIA, "0xd75A47C0e5Eb0CeDF57072268F48ba971d2cD7F3")],
)
def test_wrong_domain_is_rejected(chain_id: int, consumer: str) -> None:
    signature = sign_digest(inference_digest(DATA, chain_id, consumer), KEY)
    verdict = check_signature(_inference(DATA, signature), TRUSTED)
    assert verdict.reason is RejectReason.UNTRUSTED_SIGNER


def test_unknown_signer_unsigned_and_garbage_signature() -> None:
    other = sign_digest(inference_digest(DATA, SEPOLIA, CONSUMER), keccak(text="someone else"))
    assert check_signature(_inference(DATA, other), TRUSTED).reason is RejectReason.UNTRUSTED_SIGNER
    assert check_signature(_inference(DATA, b""), TRUSTED).reason is RejectReason.UNSIGNED
    assert check_signature(_inference(DATA, b"\x00" * 65), TRUSTED).reason is RejectReason.BAD_SIGNATURE
    lenient = SignatureConfig(required=False)
    assert check_signature(_inference(DATA, b""), lenient).accepted
    assert check_signature(_inference(DATA, other), lenient).accepted
    assert check_signature(_inference(DATA, other), lenient).signer != SIGNER
