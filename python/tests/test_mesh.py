"""The Mesh API (`/mesh/`) against a real devnet, as an exchange uses it,
with the two checks of the reference tool `mesh-cli` rebuilt here (it
cannot be installed on these machines; docs/mesh.md says how to run it
where it can):

- check:construction-like: derive → preprocess → metadata → payloads →
  sign offline with PyNaCl (libsodium, not goodwill's Rust ed25519) →
  combine → parse (the intended operations) → hash (the id the node
  computes) → submit → the transaction in /block, for a transfer with a
  memo and for a weight purchase;
- check:data-like: traffic of every kind a client sends (transfers,
  records, a weight purchase, an association proposed and voted on, a
  paywall contract deployed, paid, refused and emptied by its owner), then
  every block from genesis through /block, its operations applied per
  account, each account compared with /account/balance at the block that
  answer names; no transaction missing, none invented.

Equivocation bounties (which a devnet does not produce) are reconciled by
the simulation on every main node (src/sim/invariants.rs)."""

import hashlib
import pathlib
import time

import httpx
import nacl.signing
import pytest

from goodwill import Key, coins, tx
from conftest import key
from goodwill.keys import address_of

ROOT = pathlib.Path(__file__).resolve().parents[2]
GWL = {"symbol": "GWL", "decimals": 6}


class Mesh:
    def __init__(self, url):
        self.http = httpx.Client(base_url=url + "/mesh", timeout=30)
        nets = self.http.post("/network/list", json={}).json()["network_identifiers"]
        assert len(nets) == 1
        self.network = nets[0]

    def call(self, route, **body):
        r = self.http.post("/" + route, json={"network_identifier": self.network, **body})
        assert r.status_code == 200, f"{route}: {r.status_code} {r.text}"
        return r.json()

    def error(self, route, body):
        """A refusal: HTTP 500 with a Mesh Error, as the specification says."""
        r = self.http.post("/" + route, json=body)
        assert r.status_code == 500, f"{route}: {r.status_code} {r.text}"
        e = r.json()
        assert {"code", "message", "retriable"} <= e.keys(), e
        return e

    def block(self, index):
        return self.call("block", block_identifier={"index": index})["block"]

    def tip(self):
        return self.call("network/status")["current_block_identifier"]

    def close(self):
        self.http.close()


@pytest.fixture
def mesh(devnet):
    m = Mesh(devnet["url"])
    yield m
    m.close()


def op(kind, address, units):
    return {
        "operation_identifier": {"index": 0},
        "type": kind,
        "account": {"address": address},
        "amount": {"value": str(units), "currency": GWL},
    }


def numbered(ops):
    return [dict(o, operation_identifier={"index": i}) for i, o in enumerate(ops)]


def essence(ops):
    """What an operation means, for comparing intent and parse."""
    return sorted((o["type"], o["account"]["address"], int(o["amount"]["value"])) for o in ops)


def find_in_blocks(mesh, tx_hash, from_index, timeout=60.0):
    """The block (and transaction) that carries `tx_hash`, at or after `from_index`."""
    deadline, at = time.monotonic() + timeout, from_index
    while time.monotonic() < deadline:
        while at <= mesh.tip()["index"]:
            b = mesh.block(at)
            for t in b["transactions"]:
                if t["transaction_identifier"]["hash"] == tx_hash:
                    return b, t
            at += 1
        time.sleep(0.2)
    pytest.fail(f"{tx_hash} did not appear in a block within {timeout} s")


def construct(mesh, signer: nacl.signing.SigningKey, ops, metadata=None):
    """The whole construction flow, signing here; returns (signed hex, hash, payload)."""
    pub = bytes(signer.verify_key)
    derived = mesh.call("construction/derive", public_key={"hex_bytes": pub.hex(), "curve_type": "edwards25519"})
    sender = derived["account_identifier"]["address"]
    assert sender == address_of(pub)
    pre = mesh.call("construction/preprocess", operations=ops, metadata=metadata or {})
    assert pre["required_public_keys"] == [{"address": sender}]
    meta = mesh.call("construction/metadata", options=pre["options"],
                     public_keys=[{"hex_bytes": pub.hex(), "curve_type": "edwards25519"}])
    assert meta["suggested_fee"][0]["currency"] == GWL
    pay = mesh.call("construction/payloads", operations=ops, metadata=meta["metadata"])
    [payload] = pay["payloads"]
    assert payload["account_identifier"] == {"address": sender} and payload["signature_type"] == "ed25519"
    unsigned = mesh.call("construction/parse", signed=False, transaction=pay["unsigned_transaction"])
    # Every intended operation is there; the one more is the fee the metadata chose.
    assert set(essence(ops)) <= set(essence(unsigned["operations"]))
    assert "account_identifier_signers" not in unsigned
    # Offline: libsodium signs the exact bytes the node gave.
    sig = signer.sign(bytes.fromhex(payload["hex_bytes"])).signature
    signature = {
        "signing_payload": payload,
        "public_key": {"hex_bytes": pub.hex(), "curve_type": "edwards25519"},
        "signature_type": "ed25519",
        "hex_bytes": sig.hex(),
    }
    signed = mesh.call("construction/combine", unsigned_transaction=pay["unsigned_transaction"],
                       signatures=[signature])["signed_transaction"]
    assert signed == pay["unsigned_transaction"] + sig.hex()
    parsed = mesh.call("construction/parse", signed=True, transaction=signed)
    assert essence(parsed["operations"]) == essence(unsigned["operations"])
    assert parsed["account_identifier_signers"] == [{"address": sender}]
    h = mesh.call("construction/hash", signed_transaction=signed)["transaction_identifier"]["hash"]
    assert h == hashlib.sha256(bytes.fromhex(signed)).hexdigest()
    # A signature over anything else is refused, naming it.
    bad = dict(signature, hex_bytes=(bytes([sig[0] ^ 1]) + sig[1:]).hex())
    e = mesh.error("construction/combine", {"network_identifier": mesh.network,
                                             "unsigned_transaction": pay["unsigned_transaction"],
                                             "signatures": [bad]})
    assert e["code"] == 9 and "verify" in e["details"]["why"]
    return signed, h, unsigned


def test_construction_like_a_transfer_and_a_weight_purchase_signed_offline(mesh, client, devnet):
    alice, bob = key(devnet, "alice"), key(devnet, "bob")
    signer = nacl.signing.SigningKey.generate()
    me = address_of(bytes(signer.verify_key))
    client.transfer(alice, me, coins(5), wait=True)
    start = mesh.tip()["index"]

    # A transfer with a memo (an exchange's deposit tag) and a fee named.
    fee = int(client.params()["min_fee"]) + 7
    ops = numbered([op("TRANSFER", me, -1_250_000), op("TRANSFER", bob.address, 1_250_000), op("FEE", me, -fee)])
    signed, h, unsigned = construct(mesh, signer, ops, {"memo": "deposit-42"})
    assert unsigned["metadata"]["memo_hex"] == b"deposit-42".hex()
    assert mesh.call("construction/submit", signed_transaction=signed)["transaction_identifier"]["hash"] == h
    block, t = find_in_blocks(mesh, h, start)
    assert essence(t["operations"]) == essence(ops)
    assert all(o["status"] == "SUCCESS" for o in t["operations"])
    assert t["metadata"]["memo"] == "deposit-42"
    assert client.tx(h)["status"] in ("included", "final")
    same = mesh.call("block/transaction", block_identifier=block["block_identifier"],
                     transaction_identifier={"hash": h})["transaction"]
    assert same == t
    # The same bytes again: taken as the same transaction (submit is idempotent).
    assert mesh.call("construction/submit", signed_transaction=signed)["transaction_identifier"]["hash"] == h
    # More than the sender holds: refused with goodwill's stable reason.
    ops = numbered([op("TRANSFER", me, -coins(1000)), op("TRANSFER", bob.address, coins(1000))])
    signed, h, _ = construct(mesh, signer, ops)
    e = mesh.error("construction/submit", {"network_identifier": mesh.network, "signed_transaction": signed})
    assert e["code"] == 10 and e["details"]["reason"] == "insufficient-balance", e

    # A weight purchase: the donation goes to an approved association.
    assoc = next(a for a in client.associations() if a["status"] == "approved")["account"]
    ops = numbered([op("BUY_WEIGHT", me, -1_000_000), op("BUY_WEIGHT", assoc, 1_000_000)])
    signed, h, unsigned = construct(mesh, signer, ops)
    assert unsigned["metadata"]["epoch"] >= client.status()["epoch"] + 2
    mesh.call("construction/submit", signed_transaction=signed)
    _, t = find_in_blocks(mesh, h, start)
    assert set(essence(ops)) <= set(essence(t["operations"]))
    min_fee = int(client.params()["min_fee"])
    left = coins(5) - 1_250_000 - fee - 1_000_000 - min_fee
    assert client.balance(me) == left

    # mesh-cli's return_funds (docs/mesh/goodwill.ros): everything but the
    # fee back, no FEE operation named; the account ends at exactly zero.
    ops = numbered([op("TRANSFER", me, -(left - min_fee)), op("TRANSFER", bob.address, left - min_fee)])
    signed, h, _ = construct(mesh, signer, ops)
    mesh.call("construction/submit", signed_transaction=signed)
    find_in_blocks(mesh, h, start)
    r = mesh.call("account/balance", account_identifier={"address": me})
    assert r["balances"] == [{"value": "0", "currency": GWL}]


def test_the_shipped_mesh_cli_configuration_fits_this_node(mesh, devnet, tmp_path):
    import json
    import re
    import subprocess
    import sys

    subprocess.run([sys.executable, str(ROOT / "scripts/mesh-cli-config.py"), "--url", devnet["url"],
                    "--key", str(devnet["dir"] / "keys" / "alice.key"), "--out", str(tmp_path)], check=True)
    config = json.loads((tmp_path / "goodwill.json").read_text())
    assert config["network"] == mesh.network
    assert config["online_url"] == config["construction"]["offline_url"] == devnet["url"] + "/mesh"
    assert config["data"]["historical_balance_enabled"] is False
    [funded] = config["construction"]["prefunded_accounts"]
    assert funded["curve_type"] == "edwards25519" and funded["currency"] == GWL
    pub = bytes(nacl.signing.SigningKey(bytes.fromhex(funded["privkey"])).verify_key)
    assert funded["account_identifier"]["address"] == address_of(pub) == key(devnet, "alice").address
    ros = (tmp_path / "goodwill.ros").read_text()
    types = set(mesh.call("network/options")["allow"]["operation_types"])
    assert set(re.findall(r'"type":"([A-Z_]+)"', ros)) <= types
    for n in re.findall(r'network = (\{[^}]*\})', ros) + re.findall(r'network = (\{[^}]*\})', ros.replace("transfer.network", "network")):
        assert json.loads(n) == mesh.network
    for c in re.findall(r'currency = (\{[^}]*\})', ros):
        assert json.loads(c) == GWL
    assert '"curve_type": "edwards25519"' in ros and "FAUCET_ADDRESS" not in ros
    assert int(re.search(r'max_fee = "(\d+)"', ros).group(1)) == int(mesh.call("construction/metadata", options={"sender": funded["account_identifier"]["address"]})["metadata"]["fee"])


def test_construction_refuses_what_it_cannot_build_by_name(mesh, devnet):
    n = {"network_identifier": mesh.network}
    bob = key(devnet, "bob").address
    e = mesh.error("construction/derive", dict(n, public_key={"hex_bytes": "00" * 31, "curve_type": "edwards25519"}))
    assert e["code"] == 6
    e = mesh.error("construction/derive", dict(n, public_key={"hex_bytes": "00" * 32, "curve_type": "secp256k1"}))
    assert e["code"] == 6 and e["details"]["field"] == "public_key.curve_type"
    e = mesh.error("construction/preprocess", dict(n, operations=[op("REWARD", bob, 5)]))
    assert e["code"] == 7
    e = mesh.error("construction/preprocess", dict(n, operations=[op("TRANSFER", bob, -5), op("TRANSFER", "gw1xyz", 5)]))
    assert e["code"] == 5
    e = mesh.error("construction/parse", dict(n, signed=True, transaction="00ff"))
    assert e["code"] == 8
    e = mesh.error("construction/hash", dict(n, signed_transaction="zz"))
    assert e["code"] == 1 and e["details"]["field"] == "signed_transaction"
    e = mesh.error("network/status", {"network_identifier": {"blockchain": "goodwill", "network": "other"}})
    assert e["code"] == 2
    e = mesh.error("account/balance", dict(n, account_identifier={"address": bob}, block_identifier={"index": 1}))
    assert e["code"] == 12
    opts = mesh.call("network/options")
    codes = {x["code"] for x in opts["allow"]["errors"]}
    assert {1, 2, 5, 6, 7, 8, 9, 10, 12} <= codes
    assert opts["allow"]["historical_balance_lookup"] is False


def traffic_of_every_kind(client, devnet):
    alice, bob, forger = key(devnet, "alice"), key(devnet, "bob"), key(devnet, "forger-1")
    client.transfer(alice, bob.address, coins("0.3"), memo="every kind", wait=True)
    client.put_record(bob, "mesh/doc", b"a record", wait=True)
    assoc = next(a for a in client.associations() if a["status"] == "approved")["account"]
    client.buy_weight(alice, client.status()["epoch"] + 3, coins(1), assoc, wait=True)
    charity = Key.generate()
    chain_id = client.chain_id
    name, url = b"Mesh Shelter", b"https://shelter.example"
    proof = tx.ProposeAssociation.proof_of(charity, chain_id, name, url)
    proposal = client.send(bob, tx.ProposeAssociation(name, url, charity.public_key, proof), wait=True)
    client.send(forger, tx.VoteAssociation(bytes.fromhex(proposal.id), True), wait=True)
    code = (ROOT / "contracts/paywall.wasm").read_bytes()
    address, _ = client.deploy_contract(alice, code, (500).to_bytes(8, "little"), 200_000, wait=True)
    client.call_contract(bob, address, b"\x01", value=600, fuel_limit=200_000, wait=True)
    client.call_contract(bob, address, b"\x01", value=10, fuel_limit=200_000, wait=True)
    withdrawn = client.call_contract(alice, address, b"\x03", fuel_limit=200_000, wait=True)
    assert withdrawn.receipt["contract"]["status"] == "ok"
    return address, [alice.address, bob.address, forger.address, charity.address, assoc]


def test_data_like_every_account_reconciles_from_genesis(mesh, client, devnet):
    contract, known = traffic_of_every_kind(client, devnet)
    status = mesh.call("network/status")
    assert status["genesis_block_identifier"]["index"] == 0
    assert "oldest_block_identifier" not in status  # this node recorded everything
    computed: dict[str, int] = {}
    seen_types: set[str] = set()
    state = {"next": 0, "prev": None}

    def walk_to(index):
        while state["next"] <= index:
            h = state["next"]
            b = mesh.block(h)
            assert b["block_identifier"]["index"] == h
            if state["prev"] is None:
                assert b["parent_block_identifier"] == b["block_identifier"]
            else:
                assert b["parent_block_identifier"] == state["prev"]
            assert b["timestamp"] > 946_713_600_000
            hashes = [t["transaction_identifier"]["hash"] for t in b["transactions"]]
            assert len(set(hashes)) == len(hashes)
            if h > 0:
                # Every transaction of the block, in order, then its reward
                # (named by the block's hash); nothing else.
                on_chain = client._get(f"/api/v1/blocks/{h}")
                ids = [t["id"] for t in on_chain["transactions"]]
                assert hashes == ids + [b["block_identifier"]["hash"]]
            for t in b["transactions"]:
                for i, o in enumerate(t["operations"]):
                    assert o["operation_identifier"] == {"index": i}
                    assert o["status"] == "SUCCESS" and o["amount"]["currency"] == GWL
                    a = o["account"]["address"]
                    computed[a] = computed.get(a, 0) + int(o["amount"]["value"])
                    seen_types.add(o["type"])
            state["prev"] = b["block_identifier"]
            state["next"] += 1

    walk_to(mesh.tip()["index"])
    accounts = set(computed) | set(known) | {contract}
    checked = 0
    for a in sorted(accounts):
        r = mesh.call("account/balance", account_identifier={"address": a})
        at = r["block_identifier"]["index"]
        walk_to(at)
        assert r["block_identifier"] == state["prev"]
        [bal] = r["balances"]
        assert bal["currency"] == GWL
        assert int(bal["value"]) == computed.get(a, 0), f"{a} at {at}: ops sum to {computed.get(a, 0)}, node says {bal['value']}"
        checked += 1
    assert checked >= 8
    # The contract's own balance reconciled too: paid 600, emptied by its owner.
    assert computed.get(contract, 0) == 0
    assert {"GENESIS", "REWARD", "FEE", "TRANSFER", "BUY_WEIGHT", "CONTRACT_CALL", "BURN"} <= seen_types


def test_the_mempool_lists_what_is_pending(mesh, client, devnet):
    alice, bob = key(devnet, "alice"), key(devnet, "bob")
    # A transfer two nonces ahead of its sender waits in the mempool behind
    # the gap (held back): it stays pending for as long as this test looks.
    gap = Key.generate()
    client.transfer(alice, gap.address, coins(1), wait=True)
    held = client.submit(client.sign(gap, tx.Transfer(bob.public_key, 1_000), nonce=2))
    listed = {t["hash"] for t in mesh.call("mempool")["transaction_identifiers"]}
    assert held in listed
    t = mesh.call("mempool/transaction", transaction_identifier={"hash": held})["transaction"]
    assert t["transaction_identifier"] == {"hash": held}
    assert [o["type"] for o in t["operations"]] == ["FEE", "TRANSFER", "TRANSFER"]
    assert all("status" not in o for o in t["operations"])
    assert t["metadata"]["nonce"] == 2 and t["metadata"]["sender"] == gap.address
    e = mesh.error("mempool/transaction", {"network_identifier": mesh.network,
                                            "transaction_identifier": {"hash": "00" * 32}})
    assert e["code"] == 4 and e["retriable"] is True
