"""Checking what a node answers against a block's signed header alone: the
forger's signature over the header, and a transaction's Merkle path to the
header's `tx_root` (docs/http.md, `GET /api/v1/tx/{id}`; docs/protocol.md
§9). A node that lies fails these checks."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import GoodwillError
from .keys import sha256, verify

HEADER_TAG = "goodwill/header/v1"


class ProofInvalid(GoodwillError):
    """A node's answer that does not prove what it says: a header whose
    signature is not its forger's, a path that does not reach the root, a
    transaction that is not the one asked for."""


def _varint(b: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if i >= len(b) or shift > 63:
            raise ProofInvalid("a header's varint runs off its end")
        byte = b[i]
        i += 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return n, i


@dataclass(frozen=True)
class Header:
    """A signed header's fields, parsed from its canonical bytes."""

    version: int
    chain_id: bytes
    height: int
    slot: int
    parent: bytes
    tx_root: bytes
    state_digest: bytes
    forger: bytes
    signed_part: bytes
    signature: bytes

    @property
    def hash(self) -> bytes:
        """The block's hash: SHA-256 of the header without its signature."""
        return sha256(self.signed_part)


def parse_header(raw: bytes) -> Header:
    """Parses a signed header's bytes (docs/protocol.md §8)."""
    version, i = _varint(raw, 0)
    chain_id = raw[i : i + 32]
    i += 32
    height, i = _varint(raw, i)
    slot, i = _varint(raw, i)
    parent, tx_root, state_digest, forger = (raw[i + 32 * k : i + 32 * (k + 1)] for k in range(4))
    i += 128 + 80  # the four hashes and keys, then the VRF proof
    if len(raw) != i + 64:
        raise ProofInvalid(f"a signed header is {i + 64} bytes here, not {len(raw)}")
    return Header(version, chain_id, height, slot, parent, tx_root, state_digest, forger, raw[:i], raw[i:])


def check_header(h: Header, chain_id: bytes | None = None) -> None:
    """The header is signed by its forger (for `chain_id`, when given)."""
    if chain_id is not None and h.chain_id != chain_id:
        raise ProofInvalid(f"the header is of chain {h.chain_id.hex()}, not {chain_id.hex()}")
    if not verify(h.forger, HEADER_TAG, h.chain_id, h.signed_part, h.signature):
        raise ProofInvalid(f"the header at height {h.height} is not signed by its forger")


def merkle_root(tx_id: bytes, index: int, leaf_count: int, siblings: list[bytes]) -> bytes:
    """The root a Merkle path leads to (docs/protocol.md §9)."""
    if not 0 <= index < leaf_count:
        raise ProofInvalid(f"index {index} is outside a block of {leaf_count} transactions")
    acc, i, n, rest = sha256(b"\x00", tx_id), index, leaf_count, list(siblings)
    while n > 1:
        if i ^ 1 < n:
            if not rest:
                raise ProofInvalid("the Merkle path is too short")
            s = rest.pop(0)
            acc = sha256(b"\x01", acc, s) if i % 2 == 0 else sha256(b"\x01", s, acc)
        i, n = i // 2, (n + 1) // 2
    if rest:
        raise ProofInvalid("the Merkle path has siblings left over")
    return acc


def check_inclusion(tx_bytes: bytes, header_bytes: bytes, index: int, leaf_count: int, siblings: list[str],
                    tx_id: bytes | None = None, chain_id: bytes | None = None) -> Header:
    """A transaction's signed bytes are in the block of this signed
    header: its id (SHA-256 of the bytes; `tx_id` when the caller asked
    for one) leads by the path to the header's `tx_root`, and the header is
    its forger's. Returns the header."""
    got = sha256(tx_bytes)
    if tx_id is not None and got != tx_id:
        raise ProofInvalid(f"the node answered transaction {got.hex()} for {tx_id.hex()}")
    h = parse_header(header_bytes)
    check_header(h, chain_id)
    root = merkle_root(got, index, leaf_count, [bytes.fromhex(s) for s in siblings])
    if root != h.tx_root:
        raise ProofInvalid(f"transaction {got.hex()} is not under the header's transaction root")
    return h
