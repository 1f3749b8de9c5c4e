"""The client against a real devnet (`goodwill devnet`, three forgers and a
main node as processes of the binary, 300 ms slots): every call, proofs
checked here, a proof tampered with refused, payments, records, contracts,
the event stream, and the named errors."""

import pathlib

import httpx
import pytest

from goodwill import (
    Client,
    InvalidAddress,
    InvalidAmount,
    NotFound,
    ProofInvalid,
    Refused,
    Unreachable,
    coins,
    parse_address,
    tx,
)
from conftest import key

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_status_params_balance_and_a_transfer_with_its_proof_checked(client, devnet):
    p = client.params()
    assert p["chain_id"] == client.status()["chain_id"]
    alice, bob = key(devnet, "alice"), key(devnet, "bob")
    before = client.balance(bob.address)
    inc = client.transfer(alice, bob.address, coins("0.5"), memo="thanks", wait=True)
    assert inc.height >= 1 and len(inc.block) == 64
    assert client.balance(bob.address) == before + 500_000
    page = client.history(bob.address, limit=5)
    assert page["txs"][0]["id"] == inc.id
    fee = int(inc.receipt["fee"])
    assert fee == int(p["min_fee"])
    # Final, once finality_depth blocks deep.
    final = client.wait(inc.id, final=True, timeout=60)
    assert final.final and final.height == inc.height


def test_a_record_is_stored_and_read_back_verified(client, devnet):
    alice = key(devnet, "alice")
    client.put_record(alice, "doc/1", b"\x00\xffhash", wait=True)
    r = client.get_record(alice.address, "doc/1")
    assert r.value == b"\x00\xffhash" and r.owner == alice.address
    assert client.get_record(alice.address, "never written") is None


def test_a_node_that_lies_is_caught(devnet, client):
    alice = key(devnet, "alice")
    client.put_record(alice, "lie", "the truth", wait=True)

    def bend(request: httpx.Request) -> httpx.Response:
        real = httpx.get(str(request.url).replace("http://node", devnet["url"]))
        body = real.json()
        if "/data/" in request.url.path:
            body["value_hex"] = b"a lie".hex()
        if "/tx/" in request.url.path and "proof" in body:
            body["proof"]["siblings"] = ["00" * 32] + body["proof"]["siblings"]
        return httpx.Response(real.status_code, json=body)

    liar = Client("http://node", http=httpx.Client(base_url="http://node", transport=httpx.MockTransport(bend)))
    with pytest.raises(ProofInvalid, match="does not write this value"):
        liar.get_record(alice.address, "lie")
    inc = client.history(alice.address, limit=1)["txs"][0]
    with pytest.raises(ProofInvalid):
        liar.wait(inc["id"], timeout=5)


def test_payment_received_only_once_final_with_the_memo(client, devnet):
    carol, bob = key(devnet, "carol"), key(devnet, "bob")
    start = client.status()["height"]
    assert client.payment_received(carol.address, bob.address, 1_000, memo="order 7", since=start) is None
    client.transfer(carol, bob.address, 1_000, memo="order 7", final=True, timeout=60)
    paid = client.payment_received(carol.address, bob.address, 1_000, memo="order 7", since=start)
    assert paid is not None and paid.final
    assert client.payment_received(carol.address, bob.address, 1_001, memo="order 7", since=start) is None
    assert client.payment_received(carol.address, bob.address, 1_000, memo="order 8", since=start) is None


def test_the_paywall_from_python(client, devnet):
    alice, bob = key(devnet, "alice"), key(devnet, "bob")
    code = (ROOT / "contracts/paywall.wasm").read_bytes()
    address, inc = client.deploy_contract(alice, code, (500).to_bytes(8, "little"), 200_000, wait=True)
    assert inc.receipt["contract"]["status"] == "ok"
    # The address computed before it landed is the one the node filed it under.
    assert inc.receipt["contract"]["contract"] == address
    assert client.contract(address)["deployer"] == alice.address
    paid = client.call_contract(bob, address, b"\x01", value=600, fuel_limit=200_000, wait=True)
    assert paid.receipt["contract"]["status"] == "ok"
    q = client.query_contract(address, b"\x02" + bob.public_key)
    assert int.from_bytes(bytes.fromhex(q["return_hex"]), "little") == 600
    under = client.call_contract(bob, address, b"\x01", value=10, fuel_limit=200_000, wait=True)
    assert under.receipt["contract"]["status"] == "trapped"
    h = client.contract_history(address)
    assert [t["id"] for t in h["txs"]] == [under.id, paid.id, inc.id]


def follow(stream, until, timeout=60.0):
    """Reads `stream` in a thread until `until(events)` holds; fails after
    `timeout` seconds rather than hanging."""
    import threading

    events, done = [], threading.Event()

    def run():
        for ev in stream:
            events.append(ev)
            if until(events):
                done.set()
                return

    threading.Thread(target=run, daemon=True).start()
    return events, done


def test_watch_yields_the_transactions_of_an_address(client, devnet):
    import time

    alice, carol = key(devnet, "alice"), key(devnet, "carol")
    txs = lambda evs: [e for e in evs if e.kind == "tx"]  # noqa: E731
    events, done = follow(client.watch([carol.address]), lambda evs: len(txs(evs)) >= 1)
    time.sleep(1.0)  # the stream is open, at the tip
    first = client.transfer(alice, carol.address, 7, memo="w1", wait=True).id
    assert done.wait(60), events
    assert [e.data["id"] for e in txs(events)] == [first]
    # Resuming after the last event gives what came next, nothing twice.
    last = events[-1].id
    second = client.transfer(alice, carol.address, 8, memo="w2", wait=True).id
    again, done = follow(client.watch([carol.address], after=last), lambda evs: len(txs(evs)) >= 1)
    assert done.wait(60), again
    assert last not in [e.id for e in again]
    assert [e.data["id"] for e in txs(again)] == [second]


def test_bad_input_raises_named_errors(client, devnet):
    alice = key(devnet, "alice")
    with pytest.raises(InvalidAddress, match="checksum"):
        client.balance(alice.address[:-1] + ("q" if alice.address[-1] != "q" else "p"))
    with pytest.raises(InvalidAmount):
        coins("0.0000001")
    with pytest.raises(Refused) as e:
        client.send(alice, tx.Transfer(alice.public_key, 1), fee=1)
    assert e.value.reason == "fee-too-low"
    with pytest.raises(NotFound):
        client._get("/api/v1/contracts/" + "77" * 32)
    with pytest.raises(Unreachable):
        Client("http://127.0.0.1:9", timeout=2).status()


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_watch_resumes_across_a_node_restart(client, devnet, goodwill_bin, tmp_path):
    """A second main node following the devnet's, on a fixed HTTP port: a
    watcher on it sees a transfer, the node is stopped and started again on
    the same store while another transfer lands, and the watcher, which
    reconnects by itself, sees the second one exactly once."""
    import signal
    import subprocess
    import threading
    import time

    port = _free_port()
    args = [goodwill_bin, "node", "--data", str(tmp_path / "follower"), "--genesis",
            str(devnet["dir"] / "genesis.toml"), "--listen", "127.0.0.1:0", "--peer", devnet["node"],
            "--http", f"127.0.0.1:{port}", "--http-idle-s", "5"]

    def start():
        log = open(tmp_path / "follower.log", "a")
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

    follower = start()
    try:
        near = Client(f"http://127.0.0.1:{port}", timeout=3)
        tip = client.status()["height"]
        for _ in range(300):
            try:
                if near.status()["height"] >= tip:
                    break
            except Unreachable:
                pass
            time.sleep(0.1)
        alice, dave = key(devnet, "alice"), key(devnet, "carol")
        seen, stop = [], threading.Event()

        def follow():
            for ev in near.watch([dave.address], retry=0.2):
                if ev.kind == "tx":
                    seen.append(ev)
                if stop.is_set() or len(seen) >= 2:
                    return

        t = threading.Thread(target=follow, daemon=True)
        t.start()
        time.sleep(1.0)  # the stream is open, at the tip
        one = client.transfer(alice, dave.address, 11, memo="before", wait=True).id
        for _ in range(200):
            if seen:
                break
            time.sleep(0.1)
        assert [e.data["id"] for e in seen] == [one]

        follower.send_signal(signal.SIGTERM)
        assert follower.wait(30) == 0
        two = client.transfer(alice, dave.address, 12, memo="while down", wait=True).id
        follower = start()
        t.join(60)
        stop.set()
        assert [e.data["id"] for e in seen] == [one, two], [e.data for e in seen]
    finally:
        follower.send_signal(signal.SIGTERM)
        follower.wait(30)


def test_the_bytes_signed_here_are_the_nodes_own_encoding(client, devnet):
    """Every kind a client sends, built here and by the node's
    /api/v1/tx/encode from its JSON form: the same bytes to sign."""
    alice, bob = key(devnet, "alice"), key(devnet, "bob")
    assoc = next(a for a in client.associations() if a["status"] == "approved")
    code = (ROOT / "contracts/counter.wasm").read_bytes()
    cases = [
        (tx.Transfer(bob.public_key, 5), {"type": "transfer", "to": bob.address, "amount": "5"}),
        (tx.BuyWeight(99, 7, parse_address(assoc["account"])),
         {"type": "buy-weight", "epoch": 99, "amount": "7", "association": assoc["account"]}),
        (tx.VoteAssociation(bytes.fromhex(assoc["id"]), False),
         {"type": "vote-association", "proposal": assoc["id"], "approve": False}),
        (tx.PutData(b"k\x00", b"\xffv"), {"type": "put-data", "key_hex": "6b00", "value_hex": "ff76"}),
        (tx.DeployContract(code, b"\x01", 90_000),
         {"type": "deploy-contract", "code_hex": code.hex(), "init_hex": "01", "fuel_limit": "90000"}),
        (tx.CallContract(b"\x55" * 32, b"\x02", 3, 50_000),
         {"type": "call-contract", "contract": "55" * 32, "input_hex": "02", "value": "3", "fuel_limit": "50000"}),
    ]
    for kind, json_kind in cases:
        t = tx.Transaction(client.chain_id, alice.public_key, 41, 2_000_000, kind, b"memo")
        node = client._post("/api/v1/tx/encode", {"sender": alice.address, "nonce": 41, "fee": "2000000",
                                                   "kind": json_kind, "memo": "memo"})
        assert node["tx_bytes"] == t.encode().hex(), json_kind["type"]
        assert node["signing_bytes"] == (b"\x0egoodwill/tx/v1" + client.chain_id + t.encode()).hex()


def test_associations_and_buying_weight(client, devnet):
    alice = key(devnet, "alice")
    assoc = next(a for a in client.associations() if a["status"] == "approved")
    epoch = client.status()["epoch"] + 2
    before = client.balance(assoc["account"])
    inc = client.buy_weight(alice, epoch, coins(1), assoc["account"], wait=True)
    assert inc.tx["kind"]["type"] == "buy-weight"
    assert client.balance(assoc["account"]) >= before + coins(1)
    weights = {w["epoch"]: int(w["weight"]) for w in client.account(alice.address)["weights"]}
    assert epoch not in weights or weights[epoch] >= coins(1)
