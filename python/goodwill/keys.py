"""Keys and addresses: an ed25519 seed, its public key, and the address
`gw1…` (bech32m of the public key, with a checksum: a typo is refused).
docs/keyfile.md and docs/protocol.md §4 are the reference."""

from __future__ import annotations

import hashlib
import os

from nacl.signing import SigningKey, VerifyKey
from nacl.exceptions import BadSignatureError

from .errors import InvalidAddress

HRP = "gw"
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32M_CONST = 0x2BC830A3


def _polymod(values: list[int]) -> int:
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert(data: bytes | list[int], frm: int, to: int, pad: bool) -> list[int]:
    acc, bits, out = 0, 0, []
    maxv = (1 << to) - 1
    for v in data:
        acc = (acc << frm) | v
        bits += frm
        while bits >= to:
            bits -= to
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to - bits)) & maxv)
    elif bits >= frm or (acc << (to - bits)) & maxv:
        raise InvalidAddress("its last characters carry bits a key does not have")
    return out


def address_of(public_key: bytes) -> str:
    """The address of a 32-byte public key."""
    if len(public_key) != 32:
        raise ValueError(f"a public key is 32 bytes, not {len(public_key)}")
    data = _convert(public_key, 8, 5, True)
    poly = _polymod(_hrp_expand(HRP) + data + [0] * 6) ^ _BECH32M_CONST
    check = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return HRP + "1" + "".join(_CHARSET[d] for d in data + check)


def parse_address(text: str) -> bytes:
    """The public key an address names; InvalidAddress says what is wrong
    (a bad checksum — a typo —, another prefix, a wrong length)."""
    if not isinstance(text, str):
        raise InvalidAddress(f"an address is text, not {type(text).__name__}")
    if text.lower() != text and text.upper() != text:
        raise InvalidAddress(f"address {text!r} mixes upper and lower case")
    s = text.lower()
    pos = s.rfind("1")
    if pos < 1:
        raise InvalidAddress(f"{text!r} is not an address: it has no '1' after its prefix")
    hrp, rest = s[:pos], s[pos + 1 :]
    if hrp != HRP:
        raise InvalidAddress(f"address {text!r} has the prefix {hrp!r}; goodwill addresses start with gw1")
    if len(s) != 61:
        raise InvalidAddress(f"address {text!r} has {len(s)} characters; a goodwill address has 61")
    try:
        values = [_CHARSET.index(c) for c in rest]
    except ValueError:
        bad = next(c for c in rest if c not in _CHARSET)
        raise InvalidAddress(f"address {text!r} holds {bad!r}, which no address holds") from None
    if _polymod(_hrp_expand(hrp) + values) != _BECH32M_CONST:
        raise InvalidAddress(f"address {text} has a bad checksum — check for a typo")
    key = bytes(_convert(values[:-6], 5, 8, False))
    if len(key) != 32:
        raise InvalidAddress(f"address {text!r} holds {len(key)} bytes, not a 32-byte key")
    return key


def sha256(*parts: bytes) -> bytes:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def tagged_message(tag: str, chain_id: bytes, body: bytes) -> bytes:
    """What goodwill signs: the tag's length (one byte), the tag, the chain
    id, then the body."""
    t = tag.encode()
    return bytes([len(t)]) + t + chain_id + body


class Key:
    """An ed25519 key from its 32-byte seed (RFC 8032)."""

    def __init__(self, seed: bytes):
        if len(seed) != 32:
            raise ValueError(f"a seed is 32 bytes, not {len(seed)}")
        self._seed = bytes(seed)
        self._signing = SigningKey(self._seed)
        self.public_key: bytes = bytes(self._signing.verify_key)
        self.address: str = address_of(self.public_key)

    @classmethod
    def generate(cls) -> "Key":
        """A new key from the operating system's random source."""
        return cls(os.urandom(32))

    @property
    def seed(self) -> bytes:
        """The secret: whoever holds it signs as this address."""
        return self._seed

    def sign(self, tag: str, chain_id: bytes, body: bytes) -> bytes:
        """The 64-byte signature over `tagged_message(tag, chain_id, body)`."""
        return self._signing.sign(tagged_message(tag, chain_id, body)).signature

    def __repr__(self) -> str:
        return f"Key({self.address})"


def verify(public_key: bytes, tag: str, chain_id: bytes, body: bytes, signature: bytes) -> bool:
    """Whether `signature` is `public_key`'s over the tagged message."""
    try:
        VerifyKey(public_key).verify(tagged_message(tag, chain_id, body), signature)
        return True
    except (BadSignatureError, ValueError):
        return False
