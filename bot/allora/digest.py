"""The AlloraConsumer signature: digest, signing and signer recovery (pure).

Non-standard EIP-712 as documented in docs/allora.md: the struct hash abi-encodes ``bytes`` and the ``uint256[]``
arrays instead of hashing them, and the signature is an EIP-191 ``personal_sign`` over the 32-byte digest.
Negative integers (log-return topics) are encoded as 256-bit two's complement.
"""

from __future__ import annotations

from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak, to_checksum_address

from bot.allora.model import ConsumerData

INFERENCE_TYPE = (
    "NetworkInferenceData(uint256 networkInference,uint256 timestamp,uint256 topicId,bytes extraData,"
    "uint256[] confidenceIntervalPercentiles,uint256[] confidenceIntervalValues)"
)
DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
DOMAIN_NAME = "AlloraConsumer"
DOMAIN_VERSION = "1"
INFERENCE_TYPEHASH = keccak(text=INFERENCE_TYPE)
DOMAIN_TYPEHASH = keccak(text=DOMAIN_TYPE)
UINT256_MOD = 2**256


def as_uint256(value: int) -> int:
    """Two's complement for negatives; raises ``ValueError`` outside the int256/uint256 range."""
    if value < -(2**255) or value >= UINT256_MOD:
        raise ValueError(f"{value} does not fit in 256 bits")
    return value % UINT256_MOD


def domain_separator(chain_id: int, consumer_address: str) -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                DOMAIN_TYPEHASH,
                keccak(text=DOMAIN_NAME),
                keccak(text=DOMAIN_VERSION),
                chain_id,
                to_checksum_address(consumer_address),
            ],
        )
    )


def struct_hash(data: ConsumerData) -> bytes:
    return keccak(
        encode(
            ["bytes32", "uint256", "uint256", "uint256", "bytes", "uint256[]", "uint256[]"],
            [
                INFERENCE_TYPEHASH,
                as_uint256(data.network_inference),
                as_uint256(data.timestamp),
                as_uint256(data.topic_id),
                data.extra_data,
                [as_uint256(p) for p in data.percentiles],
                [as_uint256(v) for v in data.interval_values],
            ],
        )
    )


def inference_digest(data: ConsumerData, chain_id: int, consumer_address: str) -> bytes:
    """keccak256(0x1901 || domainSeparator || structHash)."""
    return keccak(b"\x19\x01" + domain_separator(chain_id, consumer_address) + struct_hash(data))


def sign_digest(digest: bytes, private_key: bytes | str) -> bytes:
    """personal_sign over the 32-byte digest (what the Allora API does)."""
    signed = Account.sign_message(encode_defunct(primitive=digest), private_key=private_key)
    return bytes(signed.signature)


def recover_signer(digest: bytes, signature: bytes) -> str:
    """The checksummed address that signed ``digest``; ``ValueError`` when the signature is unusable."""
    if len(signature) != 65:
        raise ValueError(f"signature must be 65 bytes, got {len(signature)}")
    try:
        return str(Account.recover_message(encode_defunct(primitive=digest), signature=signature))
    except Exception as exc:  # eth_keys BadSignature, eth_utils ValidationError: all mean "not recoverable"
        raise ValueError(f"signature not recoverable: {exc}") from None
