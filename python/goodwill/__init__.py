"""goodwill from Python: keys and addresses, key files interchangeable with
the `goodwill` binary, and transactions built and signed locally.

    >>> from goodwill import Key, keyfile, tx
    >>> key = keyfile.read("alice.key")
    >>> t = tx.Transaction(chain_id, key.public_key, nonce, fee, tx.Transfer(to, 5_000_000))
    >>> signed = t.sign(key)   # POST /api/v1/tx {"bytes": signed.hex()}
"""

from . import keyfile, proof, tx
from .client import Client, Included, NotFound, Record, Refused, TimedOut, Unreachable, coins
from .proof import ProofInvalid
from .errors import (
    EncodingError,
    GoodwillError,
    InvalidAddress,
    InvalidAmount,
    KeyFileError,
    WrongPassphrase,
)
from .keys import Key, address_of, parse_address

__all__ = [
    "Client",
    "Included",
    "NotFound",
    "ProofInvalid",
    "Record",
    "Refused",
    "TimedOut",
    "Unreachable",
    "coins",
    "proof",
    "EncodingError",
    "GoodwillError",
    "InvalidAddress",
    "InvalidAmount",
    "Key",
    "KeyFileError",
    "WrongPassphrase",
    "address_of",
    "keyfile",
    "parse_address",
    "tx",
]
__version__ = "0.1.0"
