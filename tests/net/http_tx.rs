//! The HTTP API's write side and the reads that go through the core
//! (issue 17): against the real binary on 127.0.0.1, a client that knows
//! no postcard encodes a transaction over HTTP, signs the bytes it is
//! given with a plain ed25519 key (as another language would), submits
//! it, sees it in `/mempool`, and once a forger's block holds it reads it
//! back from `/tx/{id}` with its Merkle proof checked; refusals carry the
//! node's typed reason; bad bodies are problems, never a 5xx; submissions
//! past the per-address rate are 429 with `Retry-After`.

use std::path::Path;
use std::sync::OnceLock;

use crate::common::{self, now_ms, strs, within, Procs};
use crate::http::{connect_from, exchange, get, send, Answer};

use goodwill::chain::block::Block;
use goodwill::chain::crypto::{Hash, Keypair, PublicKey, Signature};
use goodwill::chain::genesis::ChainParams;
use goodwill::chain::merkle;
use goodwill::chain::tx::SignedTransaction;
use goodwill::runtime::client::{verify_receipt_proof, Client, ProofError};
use goodwill::store::Store;
use goodwill::testkit::{self, TestNet, TestNetConfig};
use goodwill::wire::{ForgerStatus, Message, Role};
use serde_json::{json, Value};

const WAIT_MS: u64 = 30_000;

/// The test network with its genesis an hour back (as tests/net/network.rs
/// explains: a node checks a new transaction for the slot of now, and a
/// genesis at time 0 would make that walk every epoch since 1970).
fn net() -> TestNet {
    static START_MS: OnceLock<u64> = OnceLock::new();
    let start = *START_MS.get_or_init(|| (now_ms() - 3_600_000) / 1_000 * 1_000);
    let mut tn = TestNet::new(&TestNetConfig::default());
    let mut genesis = tn.params.genesis().clone();
    genesis.start_ms = start;
    tn.params = ChainParams::new(genesis).expect("a valid genesis");
    tn
}

/// A node over a store holding `blocks`, serving HTTP on a free port:
/// its procs, its protocol address and its HTTP address.
fn node(dir: &Path, tn: &TestNet, blocks: &[Block]) -> (Procs, String, String) {
    let data = dir.join("data");
    let store = Store::open(&data, &tn.params).unwrap();
    for b in blocks {
        store.import_block(b, testkit::EVERY_SLOT_STARTED).unwrap();
    }
    drop(store);
    let genesis = dir.join("genesis.toml");
    std::fs::write(&genesis, tn.params.to_file_text()).unwrap();
    // The default idle time (10 s): these tests are not about it.
    let args = common::node_args_http(
        data.to_str().unwrap(),
        genesis.to_str().unwrap(),
        "127.0.0.1:0",
        10,
    );
    let mut procs = Procs::new(dir, common::POLL);
    let i = procs.start("node", &strs(&args));
    let listen = procs.wait_line(i, WAIT_MS, common::listening_on);
    let http = procs.wait_line(i, WAIT_MS, common::http_on);
    (procs, listen, http)
}

fn post_raw(path: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    req
}

fn post(addr: &str, path: &str, body: &Value) -> Answer {
    send(
        addr,
        &post_raw(path, "application/json", body.to_string().as_bytes()),
    )
}

/// What `/tx/encode` answers for `body`, signed by `key` the way a client
/// in any language would: ed25519 over `signing_bytes`, the signature
/// appended to `tx_bytes`, the id their SHA-256.
struct Signed {
    encoded: Value,
    signature: Signature,
    bytes: Vec<u8>,
    id: Hash,
}

fn encode_and_sign(addr: &str, key: &Keypair, body: &Value) -> Signed {
    let a = post(addr, "/api/v1/tx/encode", body);
    assert_eq!(a.status, 200, "{a:?}");
    let encoded = a.json();
    let signing = hex::decode(encoded["signing_bytes"].as_str().unwrap()).unwrap();
    let tx_bytes = hex::decode(encoded["tx_bytes"].as_str().unwrap()).unwrap();
    // signing_bytes = len(tag) ‖ tag ‖ chain id ‖ tx_bytes.
    let tag = b"goodwill/tx/v1";
    assert_eq!(signing[0] as usize, tag.len());
    assert_eq!(&signing[1..1 + tag.len()], tag);
    assert_eq!(
        hex::encode(&signing[1 + tag.len()..1 + tag.len() + 32]),
        encoded["tx"]["chain_id"].as_str().unwrap()
    );
    assert_eq!(&signing[1 + tag.len() + 32..], &tx_bytes[..]);
    let signature = key.sign_raw(&signing);
    let mut bytes = tx_bytes;
    bytes.extend_from_slice(&signature.0);
    let id = Hash::of(&[&bytes]);
    Signed {
        encoded,
        signature,
        bytes,
        id,
    }
}

fn transfer(from: &PublicKey, to: &PublicKey, amount: u64, memo: &str) -> Value {
    json!({
        "sender": from.to_string(),
        "kind": {"type": "transfer", "to": to.to_string(), "amount": amount.to_string()},
        "memo": memo,
    })
}

fn forger(tn: &TestNet, addr: &str) -> Client {
    within(
        WAIT_MS,
        "forger handshake",
        Client::connect_as(
            addr,
            &tn.forgers[0],
            Role::Forger,
            tn.params.chain_id(),
            None,
        ),
    )
    .expect("a forger connects")
}

fn send_block(f: &mut Client, b: &Block) {
    within(
        WAIT_MS,
        "send a block",
        f.send(&Message::NewBlock(Box::new(b.clone()))),
    )
    .expect("send a block");
}

#[test]
fn encode_sign_submit_mine_and_read_back_with_a_checked_proof() {
    let tn = net();
    let dir = tempfile::tempdir().unwrap();
    let (_procs, listen, addr) = node(dir.path(), &tn, &[]);
    let (a, b) = (&tn.users[0], &tn.users[1]);
    let min_fee = tn.params.genesis().min_fee;

    // Encode with nonce and fee left out: the node fills them in.
    let one = encode_and_sign(
        &addr,
        a,
        &transfer(&a.public(), &b.public(), 5, "invoice 42"),
    );
    let tx = &one.encoded["tx"];
    assert_eq!(tx["nonce"], 0, "{tx}");
    assert_eq!(tx["fee"], min_fee.to_string(), "{tx}");
    assert_eq!(tx["memo"], "invoice 42", "{tx}");
    assert_eq!(tx["kind"]["amount"], "5", "{tx}");
    // Submitted as canonical bytes: accepted, the id as the client derived it.
    let s = post(
        &addr,
        "/api/v1/tx",
        &json!({"bytes": hex::encode(&one.bytes)}),
    );
    assert_eq!(s.status, 202, "{s:?}");
    assert_eq!(s.json()["id"], one.id.to_hex());
    assert_eq!(s.json()["accepted"], true);
    // Again: the same transaction is accepted once more (nothing changes).
    let again = post(
        &addr,
        "/api/v1/tx",
        &json!({"bytes": hex::encode(&one.bytes)}),
    );
    assert_eq!(again.status, 202, "{again:?}");

    // Pending: in /mempool, /tx/{id} says so, the account's next nonce counts it.
    let m = get(&addr, "/api/v1/mempool").json();
    assert_eq!(m["count"], 1, "{m}");
    assert_eq!(m["txs"][0]["id"], one.id.to_hex(), "{m}");
    assert!(
        m["bytes"].as_u64().unwrap() >= one.bytes.len() as u64,
        "{m}"
    );
    let p = get(&addr, &format!("/api/v1/tx/{}", one.id.to_hex()));
    assert_eq!(p.status, 200, "{p:?}");
    assert_eq!(p.json()["status"], "pending");
    assert_eq!(p.json()["tx"]["bytes"], hex::encode(&one.bytes));
    let acc = get(
        &addr,
        &format!("/api/v1/accounts/{}?next_nonce=true", a.public()),
    )
    .json();
    assert_eq!(
        (acc["nonce"].as_u64(), acc["next_nonce"].as_u64()),
        (Some(0), Some(1)),
        "{acc}"
    );

    // The second, nonce left out again (1: the pending one counts), sent
    // as the JSON form plus the signature.
    let two = encode_and_sign(&addr, a, &transfer(&a.public(), &b.public(), 7, ""));
    assert_eq!(two.encoded["tx"]["nonce"], 1);
    let mut form = two.encoded["tx"].clone();
    form["signature"] = json!(hex::encode(two.signature.0));
    let s = post(&addr, "/api/v1/tx", &form);
    assert_eq!(s.status, 202, "{s:?}");
    assert_eq!(s.json()["id"], two.id.to_hex());
    let m = get(&addr, "/api/v1/mempool?limit=1").json();
    assert_eq!(
        (m["count"].as_u64(), m["listed"].as_u64()),
        (Some(2), Some(1)),
        "{m}"
    );

    // A forger's block holds both; then enough blocks on top to be final.
    let txs: Vec<SignedTransaction> = [&one, &two]
        .iter()
        .map(|s| SignedTransaction::from_bytes(&s.bytes).unwrap())
        .collect();
    let mut chain = tn.chain();
    let block = chain.forge(txs);
    let mut f = forger(&tn, &listen);
    send_block(&mut f, &block);
    let path = format!("/api/v1/tx/{}", two.id.to_hex());
    let v = common::wait_for(WAIT_MS, "the transaction on chain", || {
        let v = get(&addr, &path).json();
        (v["status"] != "pending").then_some(v)
    });
    assert_eq!(v["status"], "included", "{v}");
    assert_eq!(v["proof_checked"], true, "{v}");
    assert_eq!(v["block"]["height"], 1, "{v}");
    assert_eq!(v["block"]["hash"], block.hash().to_hex(), "{v}");
    let forger_key = block.header.header.forger.to_string();
    assert_eq!(v["receipt"]["confirmations"], 1, "{v}");
    assert_eq!(v["receipt"]["finalized"], false, "{v}");
    assert_eq!(v["receipt"]["fee"], min_fee.to_string(), "{v}");
    assert_eq!(v["receipt"]["fee_to"], forger_key, "{v}");
    assert_eq!(v["tx"]["id"], two.id.to_hex(), "{v}");
    // The proof checks here too, from its JSON alone, against tx_root.
    let proof = merkle::Proof {
        index: v["proof"]["index"].as_u64().unwrap() as u32,
        leaf_count: v["proof"]["leaf_count"].as_u64().unwrap() as u32,
        siblings: v["proof"]["siblings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| Hash::from_hex(h.as_str().unwrap()).unwrap())
            .collect(),
    };
    let root = Hash::from_hex(v["block"]["tx_root"].as_str().unwrap()).unwrap();
    assert_eq!(root, block.header.header.tx_root);
    assert!(merkle::verify(&root, &two.id, &proof));
    assert!(!merkle::verify(&root, &one.id, &proof));
    // Mined: out of the mempool.
    common::wait_for(WAIT_MS, "the mempool emptied", || {
        (get(&addr, "/api/v1/mempool").json()["count"] == 0).then_some(())
    });

    let depth = tn.params.genesis().finality_depth;
    for _ in 1..depth {
        let b = chain.forge(vec![]);
        send_block(&mut f, &b);
    }
    let v = common::wait_for(WAIT_MS, "the transaction final", || {
        let v = get(&addr, &path).json();
        (v["receipt"]["finalized"] == true).then_some(v)
    });
    assert_eq!(v["status"], "final", "{v}");
    assert_eq!(v["receipt"]["confirmations"], depth, "{v}");

    // The forger table: the forger's report, LEDs as an object.
    let report = ForgerStatus {
        version: "0.1.0-test".into(),
        height: depth,
        leds: "green:heartbeat amber:off red:off".into(),
        forged: 3,
        weight: 12_345,
        clock_offset_ms: -42,
        ..ForgerStatus::default()
    };
    within(
        WAIT_MS,
        "report",
        f.send(&Message::Status(Box::new(report))),
    )
    .unwrap();
    let e = common::wait_for(WAIT_MS, "the forger's report in /forgers", || {
        let v = get(&addr, "/api/v1/forgers").json();
        v["forgers"]
            .as_array()?
            .iter()
            .find(|e| e["forged"] == 3)
            .cloned()
    });
    assert_eq!(e["key"], tn.forgers[0].public().to_string(), "{e}");
    assert_eq!(e["connected"], true, "{e}");
    assert_eq!(e["leds"]["green"], "heartbeat", "{e}");
    assert_eq!(e["weight"], "12345", "{e}");
    assert_eq!(e["clock_offset_ms"], -42, "{e}");
    assert!(e["reported_ms"].as_u64().unwrap() > 0, "{e}");
}

#[test]
fn refused_and_malformed_submissions_are_problems_with_the_reason_never_a_5xx() {
    let tn = net();
    // User 0 used nonce 0 in block 1.
    let mut chain = tn.chain();
    let first = chain.transfer_from_user(0, tn.users[1].public(), 1);
    let block = chain.forge(vec![first]);
    let dir = tempfile::tempdir().unwrap();
    let (_procs, _listen, addr) = node(dir.path(), &tn, &[block]);
    let (a, b) = (&tn.users[0], &tn.users[1]);
    let min_fee = tn.params.genesis().min_fee;
    let refused = |body: &Value, reason: &str| -> String {
        let r = post(&addr, "/api/v1/tx", body);
        let d = r.problem(422);
        let v = r.json();
        assert_eq!(v["type"], "urn:goodwill:problem:tx-refused", "{v}");
        assert_eq!(v["reason"], reason, "{v}");
        d
    };

    // Nonce reused: the reason names it as the command line does.
    // (Another transaction than block 1's: that one, sent again, is
    // accepted as already on chain.)
    let mut t = transfer(&a.public(), &b.public(), 2, "");
    t["nonce"] = json!(0);
    let used = encode_and_sign(&addr, a, &t);
    let d = refused(&json!({"bytes": hex::encode(&used.bytes)}), "nonce-used");
    assert!(d.contains("nonce 0 already used"), "{d}");
    assert!(d.contains(&used.id.to_hex()), "{d}");
    // A bad signature.
    let ok = encode_and_sign(&addr, a, &transfer(&a.public(), &b.public(), 1, ""));
    assert_eq!(ok.encoded["tx"]["nonce"], 1);
    let mut bad = ok.bytes.clone();
    *bad.last_mut().unwrap() ^= 1;
    let d = refused(&json!({"bytes": hex::encode(&bad)}), "bad-signature");
    assert!(d.contains("signature"), "{d}");
    // Signed by another key.
    let mut form = ok.encoded["tx"].clone();
    form["signature"] = json!(hex::encode(
        b.sign_raw(&hex::decode(ok.encoded["signing_bytes"].as_str().unwrap()).unwrap())
            .0
    ));
    refused(&form, "bad-signature");
    // A fee below the minimum.
    let mut t = transfer(&a.public(), &b.public(), 1, "");
    t["fee"] = json!((min_fee - 1).to_string());
    let cheap = encode_and_sign(&addr, a, &t);
    let d = refused(&json!({"bytes": hex::encode(&cheap.bytes)}), "fee-too-low");
    assert!(d.contains(&format!("below the minimum {min_fee}")), "{d}");
    // Nothing of it reached the mempool.
    assert_eq!(get(&addr, "/api/v1/mempool").json()["count"], 0);

    // Bad bodies: problems naming what is wrong.
    let r = send(
        &addr,
        &post_raw("/api/v1/tx", "application/json", b"{\"bytes\": "),
    );
    let d = r.problem(400);
    assert!(
        r.json()["type"] == "urn:goodwill:problem:bad-json" && d.contains("JSON"),
        "{r:?}"
    );
    let mut t = transfer(&a.public(), &b.public(), 1, "");
    t["colour"] = json!("red");
    for path in ["/api/v1/tx/encode", "/api/v1/tx"] {
        let r = post(&addr, path, &t);
        let d = r.problem(400);
        assert_eq!(r.json()["field"], "colour", "{r:?}");
        assert!(d.contains("unknown field"), "{d}");
    }
    let r = post(&addr, "/api/v1/tx", &json!({"bytes": "zz"}));
    r.problem(400);
    assert_eq!(r.json()["field"], "bytes");
    let r = post(&addr, "/api/v1/tx", &json!({"bytes": "00ff"}));
    r.problem(400);
    assert_eq!(r.json()["field"], "bytes");
    // Wrong or missing content type: 415.
    let body = json!({"bytes": hex::encode(&ok.bytes)}).to_string();
    let d = send(
        &addr,
        &post_raw("/api/v1/tx", "text/plain", body.as_bytes()),
    )
    .problem(415);
    assert!(d.contains("text/plain"), "{d}");
    let raw = format!(
        "POST /api/v1/tx HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    send(&addr, raw.as_bytes()).problem(415);
    // With a charset parameter it is fine (and this one is valid: 202).
    let r = send(
        &addr,
        &post_raw(
            "/api/v1/tx",
            "application/json; charset=utf-8",
            body.as_bytes(),
        ),
    );
    assert_eq!(r.status, 202, "{r:?}");
    // Over 160 KiB: 413.
    let big = format!("{{\"bytes\": \"{}\"}}", "00".repeat(90 * 1024));
    send(
        &addr,
        &post_raw("/api/v1/tx", "application/json", big.as_bytes()),
    )
    .problem(413);
    // Wrong methods.
    let r = get(&addr, "/api/v1/tx/encode");
    r.problem(405);
    assert!(r.headers.contains("allow: post"), "{r:?}");
    let r = post(&addr, "/api/v1/mempool", &json!({}));
    r.problem(405);
    assert!(r.headers.contains("allow: get"), "{r:?}");
    // Ids and limits.
    let d = get(&addr, "/api/v1/tx/xyz").problem(400);
    assert!(d.contains("xyz"), "{d}");
    let d = get(&addr, &format!("/api/v1/tx/{}", "ab".repeat(32))).problem(404);
    assert!(d.contains(&"ab".repeat(32)), "{d}");
    let d = get(&addr, "/api/v1/mempool?limit=101").problem(400);
    assert!(d.contains("limit"), "{d}");
}

#[test]
fn submissions_past_the_rate_are_429_with_retry_after_and_counted() {
    let tn = net();
    let dir = tempfile::tempdir().unwrap();
    let (_procs, _listen, addr) = node(dir.path(), &tn, &[]);
    let req = post_raw("/api/v1/tx", "application/json", b"{}");
    // From one address: the burst (40) passes, then 429.
    let mut answered = 0;
    let limited = loop {
        let r = exchange(connect_from(77, &addr), &req);
        if r.status == 429 {
            break r;
        }
        r.problem(400);
        answered += 1;
        assert!(answered < 400, "no 429 after {answered} submissions");
    };
    assert!(answered >= 40, "429 after {answered}");
    let d = limited.problem(429);
    assert!(d.contains("127.0.0.77"), "{d}");
    assert!(limited.headers.contains("retry-after: "), "{limited:?}");
    // Another address is not held back; reads are not limited.
    exchange(connect_from(78, &addr), &req).problem(400);
    let r = exchange(
        connect_from(77, &addr),
        b"GET /api/v1/mempool HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let m = get(&addr, "/metrics");
    let line = m
        .body
        .lines()
        .find(|l| l.starts_with("goodwill_http_rate_limited_total "))
        .unwrap_or_else(|| panic!("{}", m.body));
    let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 1, "{line}");
}

/// A contract from a client that knows no postcard: the paywall deployed
/// and paid through `/tx/encode` and `/tx` (the module as hex), both
/// mined, and their outcomes read back from `/tx/{id}`'s receipt.
#[test]
fn a_contract_is_deployed_and_paid_over_http_and_its_receipts_read_back() {
    let tn = net();
    let dir = tempfile::tempdir().unwrap();
    let (_procs, listen, addr) = node(dir.path(), &tn, &[]);
    let (owner, payer) = (&tn.users[0], &tn.users[1]);
    let min_fee = tn.params.genesis().min_fee;
    let price = tn
        .params
        .contracts()
        .expect("the test chain has contracts")
        .fuel_price;
    let code = std::fs::read(format!(
        "{}/contracts/paywall.wasm",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let fuel = 100_000u64;
    let fee = (min_fee + fuel * price).to_string();
    let deploy = encode_and_sign(
        &addr,
        owner,
        &json!({
            "sender": owner.public().to_string(),
            "fee": fee,
            "kind": {
                "type": "deploy-contract",
                "code_hex": hex::encode(&code),
                "init_hex": hex::encode(500u64.to_le_bytes()),
                "fuel_limit": fuel.to_string(),
            },
        }),
    );
    assert_eq!(deploy.encoded["tx"]["kind"]["type"], "deploy-contract");
    let s = post(
        &addr,
        "/api/v1/tx",
        &json!({"bytes": hex::encode(&deploy.bytes)}),
    );
    assert_eq!(s.status, 202, "{s:?}");

    // A module the chain would not run is refused by name, never mined.
    let mut bad = code.clone();
    bad.truncate(20);
    let refused = encode_and_sign(
        &addr,
        payer,
        &json!({
            "sender": payer.public().to_string(),
            "fee": fee,
            "kind": {"type": "deploy-contract", "code_hex": hex::encode(&bad), "fuel_limit": fuel.to_string()},
        }),
    );
    let r = post(
        &addr,
        "/api/v1/tx",
        &json!({"bytes": hex::encode(&refused.bytes)}),
    );
    let d = r.problem(422);
    assert_eq!(r.json()["reason"], "bad-contract", "{r:?}");
    assert!(d.contains("invalid"), "{d}");

    let mut chain = tn.chain();
    let mut f = forger(&tn, &listen);
    let block = chain.forge(vec![SignedTransaction::from_bytes(&deploy.bytes).unwrap()]);
    assert_eq!(block.txs.len(), 1);
    send_block(&mut f, &block);
    let path = format!("/api/v1/tx/{}", deploy.id.to_hex());
    let v = common::wait_for(WAIT_MS, "the deploy on chain", || {
        let v = get(&addr, &path).json();
        (v["status"] == "included").then_some(v)
    });
    let r = &v["receipt"]["contract"];
    assert_eq!(r["status"], "ok", "{v}");
    let address = goodwill::ledger::contract::address(&tn.params.chain_id(), &owner.public(), 0);
    assert_eq!(r["contract"], address.to_hex(), "{v}");
    let used: u64 = r["fuel_used"].as_str().unwrap().parse().unwrap();
    assert!(used < fuel, "{v}");
    assert_eq!(
        v["receipt"]["fee"],
        (min_fee + used * price).to_string(),
        "the fee charged is for the fuel used: {v}"
    );

    // Pay 600 (the price is 500): ok, and the event names the payer.
    let pay = encode_and_sign(
        &addr,
        payer,
        &json!({
            "sender": payer.public().to_string(),
            "fee": fee,
            "kind": {
                "type": "call-contract",
                "contract": address.to_hex(),
                "input_hex": "01",
                "value": "600",
                "fuel_limit": fuel.to_string(),
            },
        }),
    );
    let s = post(
        &addr,
        "/api/v1/tx",
        &json!({"bytes": hex::encode(&pay.bytes)}),
    );
    assert_eq!(s.status, 202, "{s:?}");
    let block = chain.forge(vec![SignedTransaction::from_bytes(&pay.bytes).unwrap()]);
    send_block(&mut f, &block);
    let path = format!("/api/v1/tx/{}", pay.id.to_hex());
    let v = common::wait_for(WAIT_MS, "the payment on chain", || {
        let v = get(&addr, &path).json();
        (v["status"] == "included").then_some(v)
    });
    let r = &v["receipt"]["contract"];
    assert_eq!(r["status"], "ok", "{v}");
    let mut event = payer.public().0.to_vec();
    event.extend(600u64.to_le_bytes());
    assert_eq!(r["events_hex"][0], hex::encode(&event), "{v}");

    // The contract's account, and a read-only call: paid(payer) → 600,
    // with nothing written (the account is the same afterwards).
    let c = get(&addr, &format!("/api/v1/contracts/{}", address.to_hex()));
    assert_eq!(c.status, 200, "{c:?}");
    let c = c.json();
    assert_eq!(c["balance"], "600", "{c}");
    assert_eq!(c["code_bytes"], code.len(), "{c}");
    assert_eq!(c["deployer"], owner.public().to_string(), "{c}");
    let mut input = vec![2u8];
    input.extend(payer.public().0);
    let path = format!(
        "/api/v1/contracts/{}/query?input={}",
        address.to_hex(),
        hex::encode(&input)
    );
    let q = get(&addr, &path);
    assert_eq!(q.status, 200, "{q:?}");
    let q = q.json();
    assert_eq!(q["status"], "ok", "{q}");
    assert_eq!(q["return_hex"], hex::encode(600u64.to_le_bytes()), "{q}");
    assert_eq!(
        q["fuel_used"],
        (code.len() as u64 * 50 + 1_219).to_string(),
        "{q}"
    );
    assert_eq!(
        get(&addr, &format!("/api/v1/contracts/{}", address.to_hex())).json(),
        c
    );
    // A payment under the price, as a query: trapped, and still nothing kept.
    let q = get(
        &addr,
        &format!(
            "/api/v1/contracts/{}/query?input=01&value=499&caller={}",
            address.to_hex(),
            payer.public()
        ),
    )
    .json();
    assert_eq!(
        (q["status"].as_str(), q["trap"].as_str()),
        (Some("trapped"), Some("unreachable")),
        "{q}"
    );
    // Its transactions with their receipts, newest first, a page at a
    // time: the payment, then the deploy.
    let base = format!("/api/v1/contracts/{}/history", address.to_hex());
    let h = get(&addr, &format!("{base}?limit=1")).json();
    assert_eq!(h["txs"].as_array().unwrap().len(), 1, "{h}");
    assert_eq!(h["txs"][0]["id"], pay.id.to_hex(), "{h}");
    assert_eq!(
        h["txs"][0]["receipt"]["events_hex"][0],
        hex::encode(&event),
        "{h}"
    );
    let next = h["next"].as_str().expect("a second page").to_string();
    let h = get(&addr, &next).json();
    assert_eq!(h["txs"].as_array().unwrap().len(), 1, "{h}");
    assert_eq!(h["txs"][0]["id"], deploy.id.to_hex(), "{h}");
    assert_eq!(h["txs"][0]["tx"]["kind"]["type"], "deploy-contract", "{h}");
    assert_eq!(h["next"], Value::Null, "{h}");
    get(&addr, &format!("{base}?limit=0")).problem(400);

    // Refusals: no contract there, not an address, too much fuel.
    let nowhere = format!("/api/v1/contracts/{}", Hash([7; 32]).to_hex());
    get(&addr, &nowhere).problem(404);
    get(&addr, &format!("{nowhere}/query")).problem(404);
    get(&addr, &format!("{nowhere}/history")).problem(404);
    get(&addr, "/api/v1/contracts/xyz").problem(400);
    let d = get(
        &addr,
        &format!("/api/v1/contracts/{}/query?fuel=0", address.to_hex()),
    )
    .problem(400);
    assert!(d.contains("fuel limit"), "{d}");
    // Over a query's fuel: a query's worth.
    let q = get(
        &addr,
        &format!(
            "/api/v1/contracts/{}/query?input=04&fuel=999999999999",
            address.to_hex()
        ),
    )
    .json();
    assert_eq!(q["status"], "ok", "{q}");

    // Over the binary protocol, the payment's receipt proven against its
    // block's signed header alone; a proof tampered with does not hold.
    let mut c = within(WAIT_MS, "connect", Client::connect(&listen)).unwrap();
    let proven = within(WAIT_MS, "receipt", c.proven_receipt(pay.id))
        .unwrap()
        .expect("a receipt");
    assert!(proven.verified, "{:?}", proven.problem);
    assert_eq!(proven.receipt.events[0].as_slice(), event.as_slice());
    let goodwill::wire::Answer::ReceiptProof(Some(p)) = within(
        WAIT_MS,
        "proof",
        c.query(goodwill::wire::Query::ReceiptProof(pay.id)),
    )
    .unwrap() else {
        panic!("a receipt proof")
    };
    let mut bent = (*p).clone();
    for (_, v) in bent.changes.iter_mut() {
        if let Some(goodwill::ledger::state::StateValue::Receipt(r)) = v {
            r.fuel_used -= 1;
        }
    }
    assert_eq!(
        verify_receipt_proof(&bent),
        Err(ProofError::StateDigest),
        "a receipt changed"
    );
    let mut bent = (*p).clone();
    bent.parent_digest.0[0] ^= 1;
    assert_eq!(verify_receipt_proof(&bent), Err(ProofError::StateDigest));
    let mut bent = (*p).clone();
    bent.tx.tx.tx.fee += 1;
    assert!(
        matches!(
            verify_receipt_proof(&bent),
            Err(ProofError::NotUnderRoot(_))
        ),
        "another transaction"
    );
    assert_eq!(verify_receipt_proof(&p), Ok(proven.receipt.clone()));
    // A transfer has no receipt; an unknown id neither.
    assert_eq!(
        within(WAIT_MS, "none", c.proven_receipt(Hash([9; 32]))).unwrap(),
        None
    );

    // Past the finality depth the node keeps no proof: the receipt is its
    // word, and the client says so.
    let depth = tn.params.genesis().finality_depth;
    for _ in 0..depth {
        send_block(&mut f, &chain.forge(vec![]));
    }
    let tip = chain.height();
    common::wait_for(WAIT_MS, "the node at the tip", || {
        (get(&addr, "/api/v1/status").json()["height"] == tip).then_some(())
    });
    let old = within(WAIT_MS, "old receipt", c.proven_receipt(deploy.id))
        .unwrap()
        .expect("a receipt");
    assert!(!old.verified);
    assert!(
        old.problem
            .as_deref()
            .unwrap()
            .contains("no longer provable"),
        "{:?}",
        old.problem
    );
    assert_eq!(old.receipt.contract, address);
}
