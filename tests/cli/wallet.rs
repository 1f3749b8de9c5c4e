//! The wallet, association, data and payment verbs end to end: `goodwill
//! node` and `goodwill forge` as real processes on 127.0.0.1, a genesis that
//! starts now with 300 ms slots, 10-slot epochs and a finality depth of 2,
//! keys made with `goodwill keygen`, and every verb run as the binary.
//!
//! - coins: a bad address, an amount above the balance, a low fee, a used
//!   nonce are refused before anything is sent; `send --wait` lands, the
//!   sender's balance falls by exactly amount + fee and the receiver's rises
//!   by the amount; `history` lists it both ways; `watch` (a child process
//!   printing JSON lines) shows every transaction exactly once, across a
//!   restart of the node; `pay check` exits 0 once the payment is final and 1
//!   for a wrong amount, memo, sender or height; `send --wait` for a
//!   transaction the node drops (an earlier one spent what it needs) exits 1
//!   with the node's reason.
//! - records: `data put`/`get`/`history` round-trip with `verified: true`;
//!   a record or proof tampered with fails `runtime::client::verify_record`.
//! - associations: a proposal signed by the association's own key, votes by
//!   the bootstrap forgers (the live forgers while nobody holds weight), still
//!   pending at 2 of 4 and approved at 3 of 4 (75 %); a vote by a key that is
//!   not a live forger and weight for a too-close epoch are refused before
//!   sending; weight bought from it shows as a donation in its balance.
//!
//! Every wait is bounded; every child process is killed when a test ends.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{keygen, listening_on, now_ms, strs, within, Key, Out, Procs};
use goodwill::chain::codec::Bytes;
use goodwill::chain::crypto::Hash;
use goodwill::chain::tx::{Transaction, TxKind};
use goodwill::runtime::client::{verify_record, Client, ProofError};
use goodwill::wire::{Answer, Query};
use serde_json::Value;

const SLOT_MS: u64 = 300;
const EPOCH_SLOTS: u64 = 10;
const FINALITY: u64 = 2;
const COIN: u64 = 1_000_000;
/// How long any one thing may take.
pub(crate) const WAIT_MS: u64 = 20_000;
const POLL: Duration = Duration::from_millis(50);

/// Polls `f` every 50 ms until it gives `Some`, for at most `ms` ms.
fn wait_for<T>(ms: u64, what: &str, f: impl FnMut() -> Option<T>) -> T {
    common::wait_for_every(POLL, ms, what, f)
}

/// Runs `goodwill args…` to completion (killed after `WAIT_MS`).
pub(crate) fn run(args: &[&str]) -> Out {
    common::run(args, WAIT_MS)
}

/// Runs `goodwill args…`, which must succeed.
pub(crate) fn run_ok(args: &[&str]) -> Out {
    common::run_ok(args, WAIT_MS)
}

/// Runs `goodwill args…`, which must fail with `code` and say each of `needles`.
pub(crate) fn run_err(args: &[&str], code: i32, needles: &[&str]) -> Out {
    let out = run(args);
    assert_eq!(out.code, Some(code), "goodwill {args:?}: {out:?}");
    for n in needles {
        assert!(
            out.stderr.contains(n),
            "goodwill {args:?} should say {n:?}: {out:?}"
        );
    }
    out
}

/// A chain on loopback: one main node and the running forgers (the
/// contract verbs' tests use it too).
pub(crate) struct Net {
    // Dropped first: the processes stop before their directory goes.
    procs: Procs,
    dir: tempfile::TempDir,
    genesis: String,
    pub(crate) node: String,
    node_proc: usize,
    forgers: Vec<Key>,
    pub(crate) user: Key,
    pub(crate) bob: Key,
}

impl Net {
    /// A chain with `bootstrap` forgers taking turns, the first `running` of
    /// them forging; the user and every forger hold 1,000 coins at genesis
    /// (a forger that votes pays a fee).
    pub(crate) fn start(bootstrap: usize, running: usize) -> Net {
        Net::start_with_finality(bootstrap, running, FINALITY)
    }

    /// [`Net::start`] with another finality depth.
    pub(crate) fn start_with_finality(bootstrap: usize, running: usize, finality: u64) -> Net {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let forgers: Vec<Key> = (0..bootstrap)
            .map(|i| keygen(&d, &format!("forger{i}"), WAIT_MS))
            .collect();
        let user = keygen(&d, "user", WAIT_MS);
        let bob = keygen(&d, "bob", WAIT_MS);
        let genesis = d.join("genesis.toml").to_str().unwrap().to_string();
        common::NewGenesis {
            out: &genesis,
            chain_name: None,
            forgers: forgers.iter().map(|f| f.addr.as_str()).collect(),
            funds: std::iter::once(&user)
                .chain(&forgers)
                .map(|k| format!("{}=1000", k.addr))
                .collect(),
            slot_ms: SLOT_MS,
            epoch_slots: EPOCH_SLOTS,
            finality_depth: Some(finality),
        }
        .write(WAIT_MS);
        let mut procs = Procs::new(&d, POLL);
        let data = d.join("node").to_str().unwrap().to_string();
        let node_proc = procs.start(
            "node",
            &strs(&common::node_args(&data, &genesis, "127.0.0.1:0")),
        );
        let node = procs.wait_line(node_proc, WAIT_MS, listening_on);
        let mut net = Net {
            procs,
            dir,
            genesis,
            node,
            node_proc,
            forgers,
            user,
            bob,
        };
        for i in 0..running {
            net.start_forger(i);
        }
        wait_for(WAIT_MS, "the chain grows", || {
            (net.height() >= 1).then_some(())
        });
        net
    }

    fn start_forger(&mut self, i: usize) {
        let d = self.dir.path();
        let data = d.join(format!("forger{i}")).to_str().unwrap().to_string();
        let key = self.forgers[i].file.clone();
        let args = common::forge_args(&data, &self.genesis, &key, &self.node, "127.0.0.1:0");
        let idx = self.procs.start(&format!("forge{i}"), &strs(&args));
        self.procs.wait_line(idx, WAIT_MS, listening_on);
    }

    /// Stops the main node (SIGTERM) and starts it again on the same
    /// address and data.
    fn restart_node(&mut self) {
        let (status, _) = self.procs.terminate(self.node_proc, 10_000);
        assert_eq!(status.code(), Some(0), "node stop");
        let data = self.dir.path().join("node").to_str().unwrap().to_string();
        let node = self.node.clone();
        for attempt in 0..50 {
            let args = common::node_args(&data, &self.genesis, &node);
            let i = self
                .procs
                .start(&format!("node-restart{attempt}"), &strs(&args));
            let up = self.procs.wait_line(i, WAIT_MS, |l| {
                if l.contains("listening on") {
                    Some(true)
                } else if l.contains("error") {
                    Some(false)
                } else {
                    None
                }
            });
            if up {
                self.node_proc = i;
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the node could not listen on {node} again");
    }

    pub(crate) fn client(&self) -> Client {
        within(WAIT_MS, "connect", Client::connect(&self.node)).expect("connect to the node")
    }

    fn height(&self) -> u64 {
        let Ok(mut c) = within(WAIT_MS, "connect", Client::connect(&self.node)) else {
            return 0;
        };
        within(WAIT_MS, "tip", c.tip())
            .map(|t| t.height)
            .unwrap_or(0)
    }

    /// The nonce the account's next transaction would carry (counting the
    /// node's mempool): unchanged means nothing was submitted.
    pub(crate) fn next_nonce(&self, k: &Key) -> u64 {
        within(WAIT_MS, "next nonce", self.client().next_nonce(k.pk())).expect("next nonce")
    }

    pub(crate) fn balance(&self, k: &Key) -> Value {
        run_ok(&["wallet", "balance", &k.addr, "--node", &self.node, "--json"]).json()
    }

    /// The current epoch by the clock, as the verbs compute it.
    fn epoch_now(&self) -> u64 {
        let info = within(WAIT_MS, "params", self.client().params()).expect("params");
        info.epoch_of(info.slot_at(now_ms()))
    }
}

pub(crate) fn units(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn send_balance_history_watch_and_pay_check() {
    let mut net = Net::start(1, 1);
    let node = net.node.clone();
    let (user, bob) = (net.user.clone(), net.bob.clone());

    // Watch bob from the next block on (JSON lines, a child process), and
    // the user from "now" (no --since).
    let from = (net.height() + 1).to_string();
    let watch_bob = net.procs.start_with(
        "watch-bob",
        &[
            "wallet", "watch", &bob.addr, "--node", &node, "--since", &from, "--json",
        ],
        &[],
        true,
    );
    let watch_user = net.procs.start_with(
        "watch-user",
        &["wallet", "watch", &user.addr, "--node", &node, "--json"],
        &[],
        true,
    );
    for w in [watch_bob, watch_user] {
        net.procs
            .wait_line(w, WAIT_MS, |l| l.contains("watching").then_some(()));
    }

    // Bad input: refused with what was wrong and what to do, nothing sent.
    let b = net.balance(&user);
    assert_eq!(b["address"], user.addr.as_str());
    assert_eq!(units(&b["balance"]), 1_000 * COIN);
    assert_eq!(b["balance_coins"], "1000");
    assert_eq!(units(&b["nonce"]), 0);
    let mut typo = bob.addr.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == 'q' { 'p' } else { 'q' });
    let send = |to: &str, amount: &str, extra: &[&str]| {
        let mut a = vec![
            "wallet", "send", "--key", &user.file, "--to", to, "--amount", amount, "--node", &node,
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    run_err(
        &strs(&send(&typo, "1", &[])),
        1,
        &[&format!(
            "address {typo} has a bad checksum — check for a typo"
        )],
    );
    run_err(
        &strs(&send(&bob.addr, "5000", &[])),
        1,
        &[&format!(
            "amount 5000 GWL + fee 0.001 GWL is more than the balance 1000 GWL of {}",
            user.addr
        )],
    );
    run_err(
        &strs(&send(&bob.addr, "1", &["--fee", "0.000001"])),
        1,
        &["fee 1 below the minimum 1000", "--fee 0.001"],
    );
    run_err(
        &strs(&send(&bob.addr, "1.0000001", &[])),
        1,
        &["--amount", "6 decimals"],
    );
    run_err(
        &strs(&send(&bob.addr, "0", &[])),
        1,
        &["--amount 0: must be more than 0"],
    );
    // What people type on their first day: a negative amount (with or
    // without `=`), a short or foreign address, a node without its port,
    // a directory or the genesis as the key, the genesis' height.
    for amount in [vec!["--amount", "-5"], vec!["--amount=-5"]] {
        let mut a = vec!["wallet", "send", "--key", &user.file, "--to", &bob.addr];
        a.extend(amount);
        a.extend(["--node", &node]);
        run_err(&a, 1, &["amounts are positive"]);
    }
    run_err(
        &strs(&send("gw1abc", "1", &[])),
        1,
        &["character 'b' at position 5 cannot be in an address"],
    );
    run_err(
        &strs(&send(&bob.addr[..40], "1", &[])),
        1,
        &["it has 40 characters; an address has 61"],
    );
    let host = node.rsplit_once(':').unwrap().0.to_string();
    run_err(
        &["wallet", "balance", &bob.addr, "--node", &host],
        1,
        &[&format!(
            "--node {host}: no port; give HOST:PORT, e.g. {host}:7070"
        )],
    );
    let keys_dir = net.dir.path().to_str().unwrap().to_string();
    let out = run_err(
        &[
            "wallet", "send", "--key", &keys_dir, "--to", &bob.addr, "--amount", "1", "--node",
            &node,
        ],
        1,
        &["is a directory; give the path of a key file"],
    );
    assert!(!out.stderr.contains("chmod"), "{out:?}");
    let out = run_err(
        &[
            "wallet",
            "send",
            "--key",
            &net.genesis,
            "--to",
            &bob.addr,
            "--amount",
            "1",
            "--node",
            &node,
        ],
        1,
        &["is not a goodwill key file"],
    );
    assert!(!out.stderr.contains("chmod"), "{out:?}");
    run_err(
        &["chain", "block", "0", "--node", &node],
        1,
        &["the first block is at height 1"],
    );
    let long_memo = "m".repeat(65);
    run_err(
        &strs(&send(&bob.addr, "1", &["--memo", &long_memo])),
        1,
        &["--memo is 65 bytes; a memo holds at most 64"],
    );
    assert_eq!(
        net.next_nonce(&user),
        0,
        "a refused send submitted something"
    );

    // A send with --wait: in a block when it returns.
    let out = run_ok(&strs(&send(
        &bob.addr,
        "2.5",
        &["--fee", "0.002", "--memo", "order-42", "--wait", "--json"],
    )))
    .json();
    assert_eq!(out["status"], "included", "{out}");
    let id1 = out["id"].as_str().expect("an id").to_string();
    let h1 = units(&out["height"]);
    assert!(h1 >= 1, "{out}");
    assert_eq!(out["verified"], true);
    // Right after: final or not, `pay check` says which.
    let early = run(&[
        "pay",
        "check",
        "--from",
        &user.addr,
        "--to",
        &bob.addr,
        "--min-amount",
        "2.5",
        "--memo",
        "order-42",
        "--node",
        &node,
        "--json",
    ]);
    let v = early.json();
    match early.code {
        Some(0) => assert!(units(&v["depth"]) >= FINALITY, "{v}"),
        Some(1) => {
            assert_eq!(v["paid"], false, "{v}");
            assert_eq!(v["pending"]["id"], id1.as_str(), "{v}");
            assert!(units(&v["pending"]["depth"]) < FINALITY, "{v}");
        }
        other => panic!("pay check: exit {other:?}: {early:?}"),
    }

    // Balances moved by exactly amount + fee, and amount.
    let b = net.balance(&user);
    assert_eq!(
        units(&b["balance"]),
        1_000 * COIN - 2_500_000 - 2_000,
        "{b}"
    );
    assert_eq!(b["balance_coins"], "997.498");
    assert_eq!(units(&b["nonce"]), 1);
    let b = net.balance(&bob);
    assert_eq!(units(&b["balance"]), 2_500_000, "{b}");
    assert_eq!(units(&b["nonce"]), 0);

    // A used nonce is refused before sending.
    run_err(
        &strs(&send(&bob.addr, "1", &["--nonce", "0"])),
        1,
        &["nonce 0 already used", "leave out --nonce"],
    );

    // History, newest first, both ways.
    let h = run_ok(&["wallet", "history", &user.addr, "--node", &node, "--json"]).json_lines();
    assert_eq!(h.len(), 1, "{h:?}");
    let t = &h[0];
    assert_eq!(t["id"], id1.as_str());
    assert_eq!(t["height"].as_u64(), Some(h1));
    assert_eq!(t["kind"], "transfer");
    assert_eq!(t["from"], user.addr.as_str());
    assert_eq!(t["to"], bob.addr.as_str());
    assert_eq!(units(&t["amount"]), 2_500_000);
    assert_eq!(t["amount_coins"], "2.5");
    assert_eq!(units(&t["fee"]), 2_000);
    assert_eq!(t["memo"], "order-42");
    assert_eq!(t["direction"], "out");
    assert_eq!(t["verified"], true);
    let h = run_ok(&["wallet", "history", &bob.addr, "--node", &node, "--json"]).json_lines();
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["id"], id1.as_str());
    assert_eq!(h[0]["direction"], "in");
    let text = run_ok(&["wallet", "history", &bob.addr, "--node", &node]).stdout;
    assert!(
        text.contains(&id1) && text.contains(" in ") && text.contains("2.5 GWL"),
        "{text}"
    );

    // Both watchers saw it.
    let seen = |lines: &[String], id: &str| {
        lines
            .iter()
            .filter(|l| {
                let v: Value = serde_json::from_str(l).expect("a JSON line");
                v["id"] == id
            })
            .count()
    };
    let mut bob_lines = net
        .procs
        .read_stdout(watch_bob, WAIT_MS, |l| seen(l, &id1) > 0);
    let mut user_lines = net
        .procs
        .read_stdout(watch_user, WAIT_MS, |l| seen(l, &id1) > 0);
    let v: Value = serde_json::from_str(&bob_lines[0]).unwrap();
    assert_eq!(v["height"].as_u64(), Some(h1), "{v}");
    assert_eq!(v["direction"], "in");
    assert_eq!(units(&v["amount"]), 2_500_000);

    // The node restarts; the watchers reconnect and go on from where they
    // were, without repeating or missing one.
    net.restart_node();
    let id2 = run_ok(&strs(&send(&bob.addr, "1", &["--wait", "--json"]))).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let id3 = run_ok(&strs(&send(&bob.addr, "0.25", &["--wait", "--json"]))).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    bob_lines.extend(
        net.procs
            .read_stdout(watch_bob, WAIT_MS, |l| seen(l, &id3) > 0),
    );
    user_lines.extend(
        net.procs
            .read_stdout(watch_user, WAIT_MS, |l| seen(l, &id3) > 0),
    );
    for (who, lines) in [("bob", &bob_lines), ("user", &user_lines)] {
        assert_eq!(lines.len(), 3, "{who}'s watcher: {lines:#?}");
        for id in [&id1, &id2, &id3] {
            assert_eq!(seen(lines, id), 1, "{who}'s watcher, {id}: {lines:#?}");
        }
    }
    let b = net.balance(&bob);
    assert_eq!(units(&b["balance"]), 3_750_000, "{b}");

    // pay check: final → exit 0 with the transaction.
    let check = |args: &[&str]| {
        let mut a = vec!["pay", "check", "--node", &node, "--json"];
        a.extend_from_slice(args);
        run(&a)
    };
    let paid = [
        "--from",
        &user.addr,
        "--to",
        &bob.addr,
        "--min-amount",
        "2.5",
        "--memo",
        "order-42",
    ];
    let out = wait_for(WAIT_MS, "the payment is final", || {
        let o = check(&paid);
        (o.code == Some(0)).then_some(o)
    });
    let v = out.json();
    assert_eq!(v["paid"], true);
    assert_eq!(v["id"], id1.as_str());
    assert_eq!(v["height"].as_u64(), Some(h1));
    assert_eq!(v["verified"], true);
    assert!(units(&v["depth"]) >= FINALITY, "{v}");
    // A smaller minimum, or no memo asked: the same payment.
    let out = check(&["--from", &user.addr, "--to", &bob.addr, "--min-amount", "1"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    // Not paid: a larger amount, another memo, another payer, a later height.
    let since = (h1 + 1).to_string();
    for (what, args) in [
        (
            "more than paid",
            vec![
                "--from",
                &user.addr,
                "--to",
                &bob.addr,
                "--min-amount",
                "2.500001",
                "--memo",
                "order-42",
            ],
        ),
        (
            "another memo",
            vec![
                "--from",
                &user.addr,
                "--to",
                &bob.addr,
                "--min-amount",
                "2.5",
                "--memo",
                "order-43",
            ],
        ),
        (
            "another payer",
            vec![
                "--from",
                &bob.addr,
                "--to",
                &user.addr,
                "--min-amount",
                "0.1",
            ],
        ),
        (
            "since a later height",
            vec![
                "--from",
                &user.addr,
                "--to",
                &bob.addr,
                "--min-amount",
                "2.5",
                "--memo",
                "order-42",
                "--since",
                &since,
            ],
        ),
    ] {
        let out = check(&args);
        assert_eq!(out.code, Some(1), "{what}: {out:?}");
        assert_eq!(out.json()["paid"], false, "{what}: {out:?}");
    }
    // Text: says so; a bad address is an error (exit 2).
    let out = run(&[
        "pay",
        "check",
        "--from",
        &user.addr,
        "--to",
        &bob.addr,
        "--min-amount",
        "2.5",
        "--memo",
        "order-42",
        "--node",
        &node,
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains("paid") && out.stdout.contains(&id1),
        "{out:?}"
    );
    run_err(
        &[
            "pay",
            "check",
            "--from",
            &typo,
            "--to",
            &bob.addr,
            "--min-amount",
            "1",
            "--node",
            &node,
        ],
        2,
        &["bad checksum"],
    );

    // --wait reports the node's reason when a transaction is dropped: bob
    // sends 1 GWL with nonce 1, which his balance covers on its own and the
    // node holds back behind nonce 0; then nonce 0 spends all but 0.749 GWL
    // of it, and the held-back one can no longer apply.
    let waiting = net.procs.start_with(
        "send-dropped",
        &[
            "wallet",
            "send",
            "--key",
            &bob.file,
            "--to",
            &user.addr,
            "--amount",
            "1",
            "--nonce",
            "1",
            "--node",
            &node,
            "--wait",
            "--timeout",
            "15",
        ],
        &[],
        true,
    );
    net.procs.read_stdout(waiting, WAIT_MS, |l| {
        l.iter().any(|l| l.starts_with("sending 1 GWL"))
    });
    let bob_key = goodwill::runtime::keyfile::read(Path::new(&bob.file)).expect("bob's key");
    let mut c = net.client();
    let spend = Transaction {
        chain_id: c.chain_id(),
        sender: bob_key.public(),
        nonce: 0,
        fee: 1_000,
        kind: TxKind::Transfer {
            to: user.pk(),
            amount: 3 * COIN,
        },
        memo: Bytes::empty(),
    }
    .sign(&bob_key);
    let verdict = within(WAIT_MS, "submit", c.submit(spend)).expect("submit");
    assert_eq!(verdict, goodwill::wire::TxVerdict::Accepted);
    let why = net.procs.wait_line(waiting, WAIT_MS, |l| {
        l.contains("was dropped").then(|| l.to_string())
    });
    assert!(
        why.contains(&format!("{} has 749000, needs 1001000", bob.addr)),
        "{why}"
    );
    assert_eq!(net.procs.exit_code(waiting, WAIT_MS), Some(1));
}

#[test]
fn data_put_get_history_and_tampered_proofs() {
    let net = Net::start(1, 1);
    let node = net.node.clone();
    let user = net.user.clone();
    let put = |name: &str, value: &str| {
        run_ok(&[
            "data", "put", "--key", &user.file, "--name", name, "--value", value, "--node", &node,
            "--wait", "--json",
        ])
        .json()
    };
    let first = put("profile", "hello, chain");
    assert_eq!(first["status"], "included", "{first}");
    let g = run_ok(&[
        "data", "get", &user.addr, "profile", "--node", &node, "--json",
    ])
    .json();
    assert_eq!(g["value"], "hello, chain", "{g}");
    assert_eq!(g["verified"], true, "{g}");
    assert_eq!(g["height"], first["height"], "{g}");
    assert_eq!(g["tx"], first["id"], "{g}");
    assert_eq!(g["owner"], user.addr.as_str());
    assert_eq!(g["key"], "profile");

    // The latest write wins; the history keeps both, newest first.
    let second = put("profile", "bonjour");
    let g = run_ok(&[
        "data", "get", &user.addr, "profile", "--node", &node, "--json",
    ])
    .json();
    assert_eq!(g["value"], "bonjour", "{g}");
    assert_eq!(g["verified"], true);
    let text = run_ok(&["data", "get", &user.addr, "profile", "--node", &node]).stdout;
    assert!(
        text.contains("bonjour") && text.contains("verified  yes"),
        "{text}"
    );
    let h = run_ok(&[
        "data", "history", &user.addr, "profile", "--node", &node, "--json",
    ])
    .json_lines();
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(h[0]["tx"], second["id"]);
    assert_eq!(h[0]["value"], "bonjour");
    assert_eq!(h[1]["tx"], first["id"]);
    assert_eq!(h[1]["value"], "hello, chain");
    assert!(h.iter().all(|w| w["verified"] == true), "{h:?}");

    // Not found: a non-zero exit that says so.
    run_err(
        &["data", "get", &user.addr, "nothing-here", "--node", &node],
        1,
        &["no record \"nothing-here\""],
    );
    // Too large: refused before sending.
    let big = net.dir.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 1025]).unwrap();
    let nonce = net.next_nonce(&user);
    run_err(
        &[
            "data",
            "put",
            "--key",
            &user.file,
            "--name",
            "big",
            "--file",
            big.to_str().unwrap(),
            "--node",
            &node,
        ],
        1,
        &["1025 bytes; a record holds at most 1024"],
    );
    assert_eq!(
        net.next_nonce(&user),
        nonce,
        "a refused put submitted something"
    );

    // At the library level: a real record and proof check out, and fail
    // once the value, a sibling of the Merkle path or the header is changed.
    // Two writes submitted back to back usually share a block, which gives
    // the proof a sibling; if a slot boundary fell between them, try again.
    let key = goodwill::runtime::keyfile::read(Path::new(&user.file)).expect("the user's key");
    let owner = key.public();
    let mut c = net.client();
    let mut tried = 0;
    let (name, record, proof) = loop {
        tried += 1;
        assert!(tried <= 5, "never two writes in one block");
        let chain_id = c.chain_id();
        let n0 = within(WAIT_MS, "nonce", c.next_nonce(owner)).unwrap();
        let mut ids = Vec::new();
        for (i, name) in ["a", "b"].iter().enumerate() {
            let tx = Transaction {
                chain_id,
                sender: owner,
                nonce: n0 + i as u64,
                fee: 1_000,
                kind: TxKind::PutData {
                    key: Bytes::new(format!("{name}{tried}").into_bytes()).unwrap(),
                    value: Bytes::new(b"v".to_vec()).unwrap(),
                },
                memo: Bytes::empty(),
            }
            .sign(&key);
            ids.push(tx.id());
            let verdict = within(WAIT_MS, "submit", c.submit(tx)).unwrap();
            assert_eq!(verdict, goodwill::wire::TxVerdict::Accepted);
        }
        within(WAIT_MS * 2, "included", async {
            for id in &ids {
                c.wait_for_tx(*id, WAIT_MS).await.expect("included");
            }
        });
        let name = format!("a{tried}");
        let q = Query::Record {
            owner,
            key: Bytes::new(name.clone().into_bytes()).unwrap(),
        };
        let Answer::Record(Some((r, p))) = within(WAIT_MS, "record", c.query(q)).unwrap() else {
            panic!("no record {name}");
        };
        if !p.proof.siblings.is_empty() {
            break (name, r, p);
        }
    };
    verify_record(&owner, name.as_bytes(), &record, &proof).expect("the real proof verifies");
    // The CLI agrees.
    let g = run_ok(&[
        "data",
        "get",
        &owner.to_string(),
        &name,
        "--node",
        &node,
        "--json",
    ])
    .json();
    assert_eq!(g["verified"], true, "{g}");

    let mut r = record.clone();
    r.value = Bytes::new(b"w".to_vec()).unwrap();
    let e = verify_record(&owner, name.as_bytes(), &r, &proof).unwrap_err();
    assert_eq!(e, ProofError::OtherData);
    assert!(
        e.to_string().contains("does not write this key and value"),
        "{e}"
    );

    let mut p = proof.clone();
    p.proof.siblings[0] = Hash::of(&[b"not the sibling"]);
    let e = verify_record(&owner, name.as_bytes(), &record, &p).unwrap_err();
    assert!(matches!(e, ProofError::NotUnderRoot(_)), "{e}");
    assert!(
        e.to_string()
            .contains("not under the header's transaction root"),
        "{e}"
    );

    let mut p = proof.clone();
    p.header.header.tx_root = Hash::of(&[b"another root"]);
    let e = verify_record(&owner, name.as_bytes(), &record, &p).unwrap_err();
    assert!(matches!(e, ProofError::HeaderSignature(_)), "{e}");
    assert!(e.to_string().contains("signature"), "{e}");

    let e = verify_record(&net.bob.pk(), name.as_bytes(), &record, &proof).unwrap_err();
    assert!(matches!(e, ProofError::OtherSender { .. }), "{e}");
    assert!(e.to_string().contains("was sent by"), "{e}");
}

#[test]
fn associations_propose_vote_at_75_percent_and_buy_weight() {
    // Four bootstrap forgers, two of them running: while nobody holds
    // weight the four are the live forgers, and 3 of them are 75 %.
    let net = Net::start(4, 2);
    let node = net.node.clone();
    let d = net.dir.path();
    let water = keygen(d, "water", WAIT_MS);
    let (user, f) = (net.user.clone(), net.forgers.clone());

    let out = run_ok(&[
        "association",
        "propose",
        "--key",
        &user.file,
        "--association-key",
        &water.file,
        "--name",
        "Clean Water",
        "--url",
        "https://water.example",
        "--node",
        &node,
        "--wait",
        "--json",
    ])
    .json();
    assert_eq!(out["status"], "included", "{out}");
    let id = out["id"].as_str().unwrap().to_string();

    let list = || -> BTreeMap<String, Value> {
        run_ok(&["association", "list", "--node", &node, "--json"])
            .json_lines()
            .into_iter()
            .map(|v| (v["id"].as_str().unwrap().to_string(), v))
            .collect()
    };
    let p = &list()[&id];
    assert_eq!(p["status"], "pending", "{p}");
    assert_eq!(p["name"], "Clean Water");
    assert_eq!(p["url"], "https://water.example");
    assert_eq!(p["account"], water.addr.as_str());
    assert_eq!(p["proposer"], user.addr.as_str());
    assert_eq!(units(&p["live_forgers"]), 4, "{p}");
    // Four bootstrap forgers of 100 GWL notional weight each: a decision
    // takes 300 GWL of the 400.
    assert_eq!(units(&p["live_weight"]), 400 * COIN, "{p}");
    assert_eq!(units(&p["weight_needed"]), 300 * COIN, "{p}");
    assert_eq!(units(&p["yes_votes"]), 0);

    // Proposed again while pending: refused before sending.
    let nonce = net.next_nonce(&user);
    run_err(
        &[
            "association",
            "propose",
            "--key",
            &user.file,
            "--association-key",
            &water.file,
            "--name",
            "Clean Water",
            "--node",
            &node,
        ],
        1,
        &["already pending under proposal", &id],
    );
    // A key that is not a live forger may not vote: refused before sending.
    run_err(
        &[
            "association",
            "vote",
            "--key",
            &user.file,
            "--proposal",
            &id,
            "--yes",
            "--node",
            &node,
        ],
        1,
        &["is not a live forger in epoch", "4 forgers may vote now"],
    );
    assert_eq!(
        net.next_nonce(&user),
        nonce,
        "a refused verb submitted something"
    );
    // Weight cannot go to an association that is not approved yet.
    run_err(
        &[
            "wallet",
            "buy-weight",
            "--key",
            &f[0].file,
            "--epoch",
            "1000",
            "--amount",
            "1",
            "--association",
            &water.addr,
            "--node",
            &node,
        ],
        1,
        &["is not an approved association", "pending"],
    );

    let vote = |k: &Key| {
        run_ok(&[
            "association",
            "vote",
            "--key",
            &k.file,
            "--proposal",
            &id,
            "--yes",
            "--node",
            &node,
            "--wait",
        ])
    };
    // Two of four: 50 %, still pending. A second yes by the same voter is refused.
    vote(&f[0]);
    vote(&f[3]);
    let p = &list()[&id];
    assert_eq!(p["status"], "pending", "{p}");
    assert_eq!(units(&p["yes_votes"]), 2, "{p}");
    assert_eq!(units(&p["yes_weight"]), 200 * COIN, "{p}");
    run_err(
        &[
            "association",
            "vote",
            "--key",
            &f[3].file,
            "--proposal",
            &id,
            "--yes",
            "--node",
            &node,
        ],
        1,
        &["already voted yes"],
    );
    // Three of four: 75 %, approved.
    let out = vote(&f[2]);
    assert!(out.stdout.contains("is now approved"), "{out:?}");
    let p = &list()[&id];
    // Listed `association_delay_epochs` (2) after the vote.
    assert!(
        p["status"] == "approved-later" || p["status"] == "approved",
        "{p}"
    );
    let listed = p["approved_epoch"].as_u64().expect("an approval epoch");
    wait_for(WAIT_MS, "the approval to take effect", || {
        (net.epoch_now() >= listed).then_some(())
    });
    assert_eq!(list()[&id]["status"], "approved");

    // Weight for an epoch too close is refused with the rule, before sending.
    let forger_nonce = net.next_nonce(&f[0]);
    let too_close = net.epoch_now().to_string();
    let out = run_err(
        &[
            "wallet",
            "buy-weight",
            "--key",
            &f[0].file,
            "--epoch",
            &too_close,
            "--amount",
            "5",
            "--association",
            &water.addr,
            "--node",
            &node,
        ],
        1,
        &[
            &format!("weight for epoch {too_close} can no longer be bought: the current epoch is "),
            "(the table is fixed when the epoch before it starts)",
        ],
    );
    let current: u64 = out
        .stderr
        .split("the current epoch is ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the current epoch in the message");
    assert!(
        out.stderr
            .contains(&format!("sold only for epoch {} or later", current + 2)),
        "{out:?}"
    );
    assert_eq!(
        net.next_nonce(&f[0]),
        forger_nonce,
        "a refused buy was sent"
    );

    // Weight five epochs ahead (a margin for a slow machine; the buyer is a
    // running forger, so the chain goes on when it alone leads): the
    // donation lands in the association's account.
    let epoch = (net.epoch_now() + 5).to_string();
    let out = run_ok(&[
        "wallet",
        "buy-weight",
        "--key",
        &f[0].file,
        "--epoch",
        &epoch,
        "--amount",
        "5",
        "--association",
        &water.addr,
        "--node",
        &node,
        "--wait",
        "--json",
    ])
    .json();
    assert_eq!(out["status"], "included", "{out}");
    let b = net.balance(&water);
    assert_eq!(units(&b["balance"]), 5 * COIN, "{b}");
    let p = &list()[&id];
    assert_eq!(p["donations"], 5_000_000, "{p}");
    assert_eq!(p["donations_coins"], "5", "{p}");
    let h = run_ok(&["wallet", "history", &water.addr, "--node", &node, "--json"]).json_lines();
    assert_eq!(h[0]["kind"], "buy-weight", "{h:?}");
    assert_eq!(h[0]["direction"], "in");
    assert_eq!(h[0]["epoch"].as_u64(), epoch.parse().ok());
    let text = run_ok(&["association", "list", "--node", &node]).stdout;
    assert!(
        text.contains("approved")
            && text.contains("Clean Water")
            && text.contains("donations 5 GWL"),
        "{text}"
    );
}
