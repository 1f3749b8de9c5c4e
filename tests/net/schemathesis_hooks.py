"""Schemathesis hooks for tests/net/openapi.rs: teach it goodwill's formats.

An address's bech32m checksum cannot be said in a JSON Schema pattern, so
the document marks addresses `format: goodwill-address` and this module
gives schemathesis a strategy for valid ones (BIP-350 bech32m over 32
random bytes, prefix "gw"); without it every generated "valid" address
would fail its checksum and be refused, rightly, with a 400.
"""

import schemathesis
from hypothesis import strategies as st

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32M_CONST = 0x2BC830A3


def _polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((top >> i) & 1) else 0
    return chk


def _hrp_expand(hrp):
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def _to_5bit(data):
    acc, bits, out = 0, 0, []
    for b in data:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def address(key: bytes) -> str:
    """The goodwill address of a 32-byte public key."""
    data = _to_5bit(key)
    pm = _polymod(_hrp_expand("gw") + data + [0] * 6) ^ BECH32M_CONST
    checksum = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return "gw1" + "".join(CHARSET[d] for d in data + checksum)


schemathesis.openapi.format("goodwill-address", st.binary(min_size=32, max_size=32).map(address))
