"""Transactions built and signed here, on the client: the private key never
leaves the process. The bytes are postcard, as docs/protocol.md §3 and §8
give them; tests/vectors/encodings.json pins them."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import EncodingError, InvalidAmount
from .keys import Key, sha256

#: Bounds of the variable-length fields (docs/protocol.md §3).
MEMO, DATA_KEY, DATA_VALUE, NAME, URL = 64, 64, 1024, 64, 256
CONTRACT_CODE, CONTRACT_INPUT = 65536, 1024
TX_TAG, ASSOCIATION_TAG = "goodwill/tx/v1", "goodwill/association/v1"
U64_MAX = 2**64 - 1


def varint(n: int) -> bytes:
    """An unsigned LEB128 varint, as postcard writes every integer."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0 or n > U64_MAX:
        raise InvalidAmount(f"{n!r} is not a whole number from 0 to 2^64 - 1")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def byte_string(name: str, b: bytes | str, limit: int) -> bytes:
    """A length-prefixed byte string of at most `limit` bytes (text: UTF-8)."""
    raw = b.encode() if isinstance(b, str) else bytes(b)
    if len(raw) > limit:
        raise EncodingError(f"{name} is {len(raw)} bytes; it holds at most {limit}")
    return varint(len(raw)) + raw


def fixed(name: str, b: bytes, n: int) -> bytes:
    if len(b) != n:
        raise EncodingError(f"{name} is {len(b)} bytes, not {n}")
    return bytes(b)


# --- the kinds, in TxKind order (docs/protocol.md §8) -----------------------


@dataclass(frozen=True)
class Transfer:
    to: bytes
    amount: int

    def encode(self) -> bytes:
        return varint(0) + fixed("to", self.to, 32) + varint(self.amount)


@dataclass(frozen=True)
class BuyWeight:
    epoch: int
    amount: int
    association: bytes

    def encode(self) -> bytes:
        return varint(1) + varint(self.epoch) + varint(self.amount) + fixed("association", self.association, 32)


@dataclass(frozen=True)
class ProposeAssociation:
    name: bytes
    url: bytes
    account: bytes
    proof: bytes

    def encode(self) -> bytes:
        return (varint(2) + byte_string("name", self.name, NAME) + byte_string("url", self.url, URL)
                + fixed("account", self.account, 32) + fixed("proof", self.proof, 64))

    @staticmethod
    def proof_of(association: Key, chain_id: bytes, name: bytes, url: bytes) -> bytes:
        """The association key's signature that it wants to be proposed."""
        body = byte_string("name", name, NAME) + byte_string("url", url, URL)
        return association.sign(ASSOCIATION_TAG, chain_id, body)


@dataclass(frozen=True)
class VoteAssociation:
    proposal: bytes
    approve: bool

    def encode(self) -> bytes:
        return varint(3) + fixed("proposal", self.proposal, 32) + (b"\x01" if self.approve else b"\x00")


@dataclass(frozen=True)
class PutData:
    key: bytes
    value: bytes

    def encode(self) -> bytes:
        return varint(4) + byte_string("key", self.key, DATA_KEY) + byte_string("value", self.value, DATA_VALUE)


@dataclass(frozen=True)
class ReportEquivocation:
    """Two signed headers of one forger for one slot, as their encoded
    bytes (a main node files these; clients rarely do)."""

    header_a: bytes
    header_b: bytes

    def encode(self) -> bytes:
        return varint(5) + bytes(self.header_a) + bytes(self.header_b)


@dataclass(frozen=True)
class DeployContract:
    code: bytes
    init: bytes = b""
    fuel_limit: int = 0

    def encode(self) -> bytes:
        return (varint(6) + byte_string("code", self.code, CONTRACT_CODE)
                + byte_string("init", self.init, CONTRACT_INPUT) + varint(self.fuel_limit))


@dataclass(frozen=True)
class CallContract:
    contract: bytes
    input: bytes = b""
    value: int = 0
    fuel_limit: int = 0

    def encode(self) -> bytes:
        return (varint(7) + fixed("contract", self.contract, 32) + byte_string("input", self.input, CONTRACT_INPUT)
                + varint(self.value) + varint(self.fuel_limit))


Kind = Transfer | BuyWeight | ProposeAssociation | VoteAssociation | PutData | ReportEquivocation | DeployContract | CallContract


@dataclass(frozen=True)
class Transaction:
    """An unsigned transaction."""

    chain_id: bytes
    sender: bytes
    nonce: int
    fee: int
    kind: Kind
    memo: bytes = field(default=b"")

    def encode(self) -> bytes:
        """encode(Transaction): what the signature covers (after its tag
        and the chain id)."""
        return (fixed("chain_id", self.chain_id, 32) + fixed("sender", self.sender, 32) + varint(self.nonce)
                + varint(self.fee) + self.kind.encode() + byte_string("memo", self.memo, MEMO))

    def sign(self, key: Key) -> "SignedTransaction":
        if key.public_key != self.sender:
            raise EncodingError(f"the sender is not {key.address}: sign with the sender's key")
        body = self.encode()
        return SignedTransaction(body + key.sign(TX_TAG, self.chain_id, body))


@dataclass(frozen=True)
class SignedTransaction:
    """A signed transaction's bytes: encode(Transaction) ‖ 64 signature
    bytes, what `POST /api/v1/tx` takes as `bytes` (hex)."""

    bytes: bytes

    @property
    def id(self) -> bytes:
        """SHA-256 of the signed bytes."""
        return sha256(self.bytes)

    def hex(self) -> str:
        return self.bytes.hex()


def contract_address(chain_id: bytes, deployer: bytes, nonce: int) -> bytes:
    """The address of the contract `deployer` deploys with `nonce`."""
    return sha256(b"goodwill/contract/v1", chain_id, deployer, nonce.to_bytes(8, "little"))
