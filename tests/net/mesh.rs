//! The Mesh API under `/mesh/` (issue 21) against a live node: every
//! balance change is an operation, an equivocation bounty included (a
//! devnet produces none: python/tests/test_mesh.py runs the checks of
//! `mesh-cli` there for the other kinds), and schemathesis holds every
//! route to the official specification (`tests/mesh/api.json`, version
//! 1.5.1, unchanged).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use goodwill::chain::block::{Header, VERSION};
use goodwill::chain::crypto::{Hash, Keypair};
use goodwill::chain::tx::TxKind;
use serde_json::{json, Value};

use crate::http::{chain, node, traffic};
use crate::openapi::schemathesis;

/// POSTs `body` to `/mesh/{route}`: (status, JSON).
fn post(addr: &str, route: &str, body: &Value) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.to_string();
    write!(
        s,
        "POST /mesh/{route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let (head, body) = out.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).expect("JSON"))
}

fn ok(addr: &str, network: &Value, route: &str, mut body: Value) -> Value {
    body["network_identifier"] = network.clone();
    let (status, v) = post(addr, route, &body);
    assert_eq!(status, 200, "{route}: {v}");
    v
}

/// Two headers of `forger` for one slot, each signed (the evidence).
fn equivocation(net: &goodwill::testkit::TestNet, forger: &Keypair, slot: u64) -> TxKind {
    let header = |root: u8| Header {
        version: VERSION,
        chain_id: net.params.chain_id(),
        height: 9,
        slot,
        parent: Hash([1; 32]),
        tx_root: Hash([root; 32]),
        state_digest: Hash([3; 32]),
        forger: forger.public(),
        vrf: goodwill::chain::crypto::vrf_prove(forger, b"any").0,
    };
    TxKind::ReportEquivocation {
        header_a: Box::new(header(1).sign(forger)),
        header_b: Box::new(header(2).sign(forger)),
    }
}

#[test]
fn every_balance_change_is_an_operation_and_an_equivocation_bounty_reconciles() {
    let (net, _) = chain(0);
    let mut c = net.chain();
    for i in 0..3 {
        let tx = c.transfer_from_user(i, net.users[i + 1].public(), 1_000 + i as u64);
        c.forge(vec![tx]);
    }
    // Evidence for an epoch far ahead: the forger is voided from then on,
    // and the chain here goes on with it; the bounty is taken now.
    let offender = net.forgers[1].clone();
    let slot = net.params.genesis().epoch_slots * 50;
    let report = c.tx_from_user(0, equivocation(&net, &offender, slot));
    c.forge(vec![report]);
    let tx = c.transfer_from_user(2, offender.public(), 5);
    c.forge(vec![tx]);
    let dir = tempfile::tempdir().unwrap();
    let (_procs, addr) = node(dir.path(), &net, &c.blocks);

    let (_, list) = post(&addr, "network/list", &json!({}));
    let network = list["network_identifiers"][0].clone();
    assert_eq!(network["blockchain"], "goodwill");
    let status = ok(&addr, &network, "network/status", json!({}));
    let tip = status["current_block_identifier"]["index"]
        .as_u64()
        .unwrap();
    assert_eq!(tip, c.blocks.len() as u64);

    let mut sums: BTreeMap<String, i128> = BTreeMap::new();
    let mut types: BTreeMap<String, i128> = BTreeMap::new();
    let mut parent = Value::Null;
    for h in 0..=tip {
        let b = ok(
            &addr,
            &network,
            "block",
            json!({ "block_identifier": { "index": h } }),
        )["block"]
            .clone();
        if h > 0 {
            assert_eq!(b["parent_block_identifier"], parent, "height {h}");
        }
        parent = b["block_identifier"].clone();
        for t in b["transactions"].as_array().unwrap() {
            for o in t["operations"].as_array().unwrap() {
                let units: i128 = o["amount"]["value"].as_str().unwrap().parse().unwrap();
                *sums
                    .entry(o["account"]["address"].as_str().unwrap().to_string())
                    .or_default() += units;
                *types.entry(o["type"].as_str().unwrap().into()).or_default() += units;
            }
        }
    }
    let l = net.params.limits();
    let share = (l.equivocation_bounty as u128 * l.reporter_share_percent as u128 / 100) as i128;
    // The offender pays the bounty; the reporter gets its share; the rest is burned.
    assert_eq!(types["BOUNTY"], share - l.equivocation_bounty as i128);
    assert!(types["GENESIS"] > 0 && types["REWARD"] > 0 && types["TRANSFER"] == 0);
    assert_eq!(types["FEE"], 0, "every fee paid reaches a forger");
    for (address, sum) in &sums {
        let r = ok(
            &addr,
            &network,
            "account/balance",
            json!({ "account_identifier": { "address": address } }),
        );
        assert_eq!(r["block_identifier"]["index"], tip);
        let value: i128 = r["balances"][0]["value"].as_str().unwrap().parse().unwrap();
        assert_eq!(value, *sum, "{address}");
    }
    assert!(sums.contains_key(&offender.public().to_string()));
    // A refusal is a Mesh Error (HTTP 500, as the specification says).
    let (status, e) = post(
        &addr,
        "block",
        &json!({ "network_identifier": network, "block_identifier": { "index": tip + 5 } }),
    );
    assert_eq!(status, 500);
    assert_eq!(
        (e["code"].as_u64(), e["retriable"].as_bool()),
        (Some(3), Some(true))
    );
    let (status, e) = post(&addr, "block", &json!({ "network_identifier": 7 }));
    assert_eq!((status, e["code"].as_u64()), (500, Some(1)), "{e}");
}

#[test]
#[cfg_attr(
    goodwill_emulated,
    ignore = "under GOODWILL_TEST_RUNNER: the routes are the same on every target; the host suite runs schemathesis"
)]
#[cfg_attr(
    all(not(goodwill_emulated), not(has_schemathesis)),
    ignore = "needs schemathesis (PyPI) on PATH; .ci/run installs it in a venv"
)]
fn schemathesis_holds_the_mesh_api_to_the_official_specification() {
    let dir = tempfile::tempdir().unwrap();
    let t = traffic(4);
    let (_procs, addr) = node(dir.path(), &t.net, &t.blocks);
    schemathesis(
        dir.path(),
        "mesh_schemathesis.toml",
        "mesh_schemathesis_hooks",
        &[
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mesh/api.json"),
            "--url",
            &format!("http://{addr}/mesh"),
            "--max-examples",
            "30",
            "--seed",
            "21",
        ],
        &[("GOODWILL_MESH_NETWORK", &t.net.params.genesis().chain_name)],
    );
}
