"""Keys, addresses and transactions against the pinned vectors of the Rust
side (tests/vectors/encodings.json): the same seeds and fields give the
same bytes, ids and signatures."""

import pytest

from goodwill import InvalidAddress, Key, address_of, parse_address, tx
from goodwill.errors import EncodingError, InvalidAmount

COIN = 1_000_000


def key(n: int) -> Key:
    return Key(bytes([n]) * 32)


def test_the_documented_address_of_seed_1():
    k = key(1)
    assert k.public_key.hex() == "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
    assert k.address == "gw132yw8ht5p8cetl2jmvknewjawt9xwzdlrk2pyxlnwjyqrdq0dawqqjelha"
    assert parse_address(k.address) == k.public_key
    assert parse_address(k.address.upper()) == k.public_key


@pytest.mark.parametrize(
    "text, says",
    [
        ("gw132yw8ht5p8cetl2jmvknewjawt9xwzdlrk2pyxlnwjyqrdq0dawqqjelhq", "bad checksum"),
        ("bc132yw8ht5p8cetl2jmvknewjawt9xwzdlrk2pyxlnwjyqrdq0dawqqjelha", "prefix"),
        ("gw132yw8ht5p8cetl2jmvknewjawt9xwzdlrk2pyxlnwjyqrdq0dawqqjelh", "61"),
        ("gw132yw8ht5p8cetl2jmvknewjawt9xwzdlrk2pyxlnwjyqrdq0dawqqjelhi", "holds 'i'"),
        ("Gw132yw8ht5p8cetl2jmvknewjawt9xwzdlrk2pyxlnwjyqrdq0dawqqjelha", "mixes"),
        ("nothing", "no '1'"),
    ],
)
def test_a_bad_address_is_refused_by_name(text, says):
    with pytest.raises(InvalidAddress, match=says):
        parse_address(text)


def sample_txs(chain_id: bytes) -> list[tx.Transaction]:
    """The samples of tests/ledger/vectors.rs, field for field."""
    sender = key(3)
    name, url = b"Croix-Rouge", b"https://www.croix-rouge.fr"

    def t(nonce, kind, memo=b""):
        return tx.Transaction(chain_id, sender.public_key, nonce, 1_000 + nonce, kind, memo)

    return [
        t(0, tx.Transfer(key(4).public_key, 12_345_678), b"invoice 2024-001"),
        t(1, tx.BuyWeight(7, 50 * COIN, key(9).public_key)),
        t(2, tx.ProposeAssociation(name, url, key(10).public_key,
                                   tx.ProposeAssociation.proof_of(key(10), chain_id, name, url))),
        t(3, tx.VoteAssociation(b"\x44" * 32, True), b"yes"),
        t(4, tx.PutData(b"sensor/temp", bytes([0x00, 0xFF, 0x80, 0x15, ord("C")]))),
        None,  # report-equivocation: its headers come as bytes, checked below
        t(6, tx.DeployContract(b"\0asm\x01\0\0\0", (500).to_bytes(8, "little"), 100_000)),
        t(7, tx.CallContract(b"\x55" * 32, b"\x01", 600, 50_000), b"pay"),
    ]


def test_every_kind_signs_to_the_pinned_bytes_and_id(vectors):
    chain_id = bytes.fromhex(vectors["genesis"]["chain_id"])
    pinned = vectors["transactions"]
    for t, v in zip(sample_txs(chain_id), pinned, strict=True):
        if t is None:
            continue
        signed = t.sign(key(3))
        assert signed.hex() == v["bytes_hex"], v["kind"]
        assert signed.id.hex() == v["id"], v["kind"]


def test_a_report_of_two_headers_encodes_them_as_given(vectors):
    """The report's bytes are its fields' bytes: the pinned one splits into
    the transaction's head, the two headers, and the memo and signature."""
    chain_id = bytes.fromhex(vectors["genesis"]["chain_id"])
    pinned = bytes.fromhex(vectors["transactions"][5]["bytes_hex"])
    head = tx.Transaction(chain_id, key(3).public_key, 5, 1_005, tx.Transfer(b"\0" * 32, 0)).encode()
    prefix = head[:64] + tx.varint(5) + tx.varint(1_005)
    assert pinned.startswith(prefix + tx.varint(5))
    headers = pinned[len(prefix) + 1 : -65]
    half = len(headers) // 2
    t = tx.Transaction(chain_id, key(3).public_key, 5, 1_005, tx.ReportEquivocation(headers[:half], headers[half:]))
    assert t.sign(key(3)).bytes == pinned


def test_the_signing_message_is_the_documented_one(vectors):
    v = vectors["tx_signing_message"]
    chain_id = bytes.fromhex(vectors["genesis"]["chain_id"])
    t = sample_txs(chain_id)[0]
    from goodwill.keys import tagged_message

    assert tagged_message(v["tag"], chain_id, t.encode()).hex() == v["message_hex"]


def test_bounds_and_amounts_are_refused_by_name():
    chain = b"\x01" * 32
    k = key(3)
    with pytest.raises(EncodingError, match="memo is 65 bytes; it holds at most 64"):
        tx.Transaction(chain, k.public_key, 0, 1000, tx.Transfer(k.public_key, 1), b"m" * 65).sign(k)
    with pytest.raises(InvalidAmount):
        tx.Transaction(chain, k.public_key, 0, -1, tx.Transfer(k.public_key, 1)).sign(k)
    with pytest.raises(InvalidAmount):
        tx.Transaction(chain, k.public_key, 0, 1000, tx.Transfer(k.public_key, 2**64)).sign(k)
    with pytest.raises(EncodingError, match="sign with the sender's key"):
        tx.Transaction(chain, k.public_key, 0, 1000, tx.Transfer(k.public_key, 1)).sign(key(4))
