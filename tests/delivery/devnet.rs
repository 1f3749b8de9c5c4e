//! `goodwill devnet` as a user runs it: the real binary starts its main
//! node and forgers as child processes on 127.0.0.1; the chain grows, every
//! node agrees, a wallet payment lands, Ctrl-C stops every child, the same
//! directory resumes the same chain; a dead child is shown while the others
//! go on; and no child outlives a devnet killed outright.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::{run_ok, wait_for_every, Procs, POLL};
use goodwill::runtime::client::Client;
use serde_json::Value;

/// A devnet started with `--json-log`, and the events it printed so far.
struct Devnet {
    procs: Procs,
    at: usize,
    events: Vec<Value>,
    started_ms: u64,
    /// The devnet's directory, when the test gave one (`--dir`).
    dir: Option<std::path::PathBuf>,
}

impl Devnet {
    fn start(procs: Procs, args: &[&str]) -> Devnet {
        let mut procs = procs;
        let mut all = vec!["devnet", "--json-log"];
        all.extend_from_slice(args);
        let started_ms = common::now_ms();
        let at = procs.start_with("devnet", &all, &[], true);
        let dir = args
            .iter()
            .position(|a| *a == "--dir")
            .and_then(|i| args.get(i + 1))
            .map(std::path::PathBuf::from);
        Devnet {
            procs,
            at,
            events: Vec::new(),
            started_ms,
            dir,
        }
    }

    /// The first event (seen before or arriving within `ms`) that `f` accepts.
    fn event(&mut self, ms: u64, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        if let Some(e) = self.events.iter().find(|e| f(e)) {
            return e.clone();
        }
        let parse = |l: &str| -> Value {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON event ({e}): {l:?}"))
        };
        let lines = self
            .procs
            .read_stdout(self.at, ms, |got| got.last().is_some_and(|l| f(&parse(l))));
        self.events.extend(lines.iter().map(|l| parse(l)));
        match self.events.iter().rev().find(|e| f(e)) {
            Some(e) => e.clone(),
            None => panic!(
                "no {what} event within {ms} ms; events: {:#?}\n{}",
                self.events,
                self.procs.logs(20)
            ),
        }
    }

    fn ready(&mut self) -> Value {
        self.event(60_000, "ready", |e| e["event"] == "ready")
    }

    fn signal(&self, sig: &str) {
        let pid = self.procs.pid(self.at).to_string();
        let ok = Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill {sig} {pid}");
    }
}

/// On a failing test: every event the devnet printed (those not read yet
/// too, within a second) and the end of each child's log under `dir`, so a
/// child that died says why.
impl Drop for Devnet {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let rest = self.procs.read_stdout(self.at, 1_000, |_| false);
        eprintln!("--- devnet events ---");
        for e in &self.events {
            eprintln!("{e}");
        }
        for l in rest {
            eprintln!("{l}");
        }
        let Some(dir) = &self.dir else { return };
        let Ok(members) = std::fs::read_dir(dir) else {
            return;
        };
        for m in members.flatten() {
            let log = m.path().join("log");
            let Ok(text) = std::fs::read_to_string(&log) else {
                continue;
            };
            let lines: Vec<&str> = text.lines().collect();
            eprintln!("--- {} (last 30 lines) ---", log.display());
            for l in &lines[lines.len().saturating_sub(30)..] {
                eprintln!("{l}");
            }
        }
    }
}

/// GET `path` from `addr` over plain HTTP/1.1: the whole answer as text.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    // The node binds its HTTP port just after its peer port: a moment.
    let mut s = wait_for_every(POLL, 10_000, "the devnet's http port", || {
        std::net::TcpStream::connect(addr).ok()
    });
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn tip(addr: &str) -> Option<(u64, String)> {
    let out = common::run(&["chain", "tip", "--node", addr, "--json"], 20_000);
    if !out.status.success() {
        return None;
    }
    let v = out.json();
    Some((v["height"].as_u64()?, v["tip"].as_str()?.to_string()))
}

fn addrs(ready: &Value, group: &str) -> Vec<String> {
    ready[group]
        .as_array()
        .expect("a list")
        .iter()
        .map(|n| n["addr"].as_str().expect("an address").to_string())
        .collect()
}

fn pids(ready: &Value) -> Vec<u32> {
    ["main_nodes", "forgers"]
        .iter()
        .flat_map(|g| ready[g].as_array().expect("a list").clone())
        .map(|n| n["pid"].as_u64().expect("a pid") as u32)
        .collect()
}

/// Gone: no such process, or a zombie (dead, not yet reaped by init).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

fn all_gone(pids: &[u32], what: &str) {
    wait_for_every(Duration::from_millis(50), 30_000, what, || {
        pids.iter().all(|&p| gone(p)).then_some(())
    });
}

#[test]
fn devnet_forges_agrees_takes_a_payment_stops_cleanly_and_resumes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("net");
    let dir_s = dir.to_str().expect("utf-8");
    let procs = Procs::new(tmp.path(), POLL);
    let mut net = Devnet::start(
        procs,
        &[
            "--forgers",
            "3",
            "--slot-ms",
            "300",
            "--epoch-slots",
            "10",
            "--dir",
            dir_s,
        ],
    );
    let ready = net.ready();
    assert_eq!(ready["created"], true);
    let main = addrs(&ready, "main_nodes")[0].clone();
    let forgers = addrs(&ready, "forgers");
    assert_eq!(forgers.len(), 3);
    let children = pids(&ready);
    assert_eq!(children.len(), 4);

    // The first main node serves the explorer and the JSON API, and the
    // ready output says where, with curl lines for it.
    let http = ready["http"].as_str().expect("an http URL").to_string();
    let host = http
        .strip_prefix("http://127.0.0.1:")
        .and_then(|p| p.strip_suffix('/'))
        .unwrap_or_else(|| panic!("not http://127.0.0.1:PORT/: {http}"));
    let commands = ready["commands"].to_string();
    assert!(
        commands.contains(&format!("curl -s {http}api/v1/status")),
        "{commands}"
    );
    let home = http_get(&format!("127.0.0.1:{host}"), "/");
    assert!(home.starts_with("HTTP/1.1 200"), "{home}");
    assert!(home.contains("goodwill explorer"), "{home}");

    // The same directory again while this devnet runs: said once, with
    // the running devnet's pid, and nothing started.
    let twice = common::run(&["devnet", "--dir", dir_s], 20_000);
    assert_eq!(twice.code, Some(1), "{twice:?}");
    let pid = net.procs.pid(net.at);
    let said = format!("is in use: a devnet is running in it now (pid {pid})");
    assert_eq!(twice.stderr.matches(&said).count(), 1, "{twice:?}");
    assert!(!twice.stderr.contains("already open"), "{twice:?}");
    assert!(twice.stdout.is_empty(), "{twice:?}");

    // The first block, then height 10, forged by the devnet's forgers.
    net.event(30_000, "first block", |e| e["event"] == "block");
    let block_ms = common::now_ms() - net.started_ms;
    let (h, _) = wait_for_every(Duration::from_millis(200), 90_000, "height 10", || {
        tip(&main).filter(|(h, _)| *h >= 10)
    });
    eprintln!("height {h} reached");
    let block = net.event(10_000, "block", |e| e["event"] == "block");
    eprintln!(
        "first block event {} ms after the devnet started (debug build)",
        block_ms
    );
    assert!(
        block["forger"].as_str().unwrap().starts_with("forger-"),
        "{block}"
    );
    // The forgers bought weight for the epoch after next (2, unless the
    // first block came late) with a donation.
    let bought = net.event(10_000, "bought", |e| e["event"] == "bought");
    assert!(bought["epoch"].as_u64().unwrap() >= 2, "{bought}");
    assert_eq!(bought["amount"], 10_000_000, "{bought}");

    // Every node reports the same tip: asked in one quick round over kept
    // connections (retried while a block is in flight between them).
    let nodes: Vec<String> = std::iter::once(main.clone()).chain(forgers).collect();
    let agreed = common::within(60_000, "one tip on every node", async {
        let mut clients = Vec::new();
        for a in &nodes {
            clients.push(Client::connect(a).await.expect("a node answers"));
        }
        loop {
            let mut tips = Vec::new();
            for c in &mut clients {
                let t = c.tip().await.expect("a tip");
                tips.push((t.height, t.hash.to_hex()));
            }
            if tips.iter().all(|t| *t == tips[0]) {
                break tips[0].clone();
            }
            smol::Timer::after(Duration::from_millis(20)).await;
        }
    });
    eprintln!("all 4 nodes on height {} tip {}", agreed.0, agreed.1);

    // A payment with the wallet verb lands in a block.
    let users = ready["users"].as_array().unwrap();
    let alice_key = users[0]["key"].as_str().unwrap();
    let bob = users[1]["address"].as_str().unwrap();
    let sent = run_ok(
        &[
            "wallet", "send", "--key", alice_key, "--to", bob, "--amount", "5", "--node", &main,
            "--wait", "--json",
        ],
        60_000,
    )
    .json();
    assert_eq!(sent["status"], "included", "{sent}");
    assert_eq!(sent["verified"], true, "{sent}");
    let balance = run_ok(
        &["wallet", "balance", bob, "--node", &main, "--json"],
        20_000,
    )
    .json();
    assert_eq!(balance["balance_coins"], "1005", "{balance}");

    // Ctrl-C: every child stops cleanly, the devnet exits 0.
    net.signal("-INT");
    let stopped = net.event(60_000, "stopped", |e| e["event"] == "stopped");
    assert_eq!(
        (stopped["clean"].as_u64(), stopped["of"].as_u64()),
        (Some(4), Some(4))
    );
    assert_eq!(net.procs.exit_code(net.at, 30_000), Some(0));
    all_gone(&children, "every child gone after Ctrl-C");

    // The same directory resumes the same chain, from where it was.
    let procs = Procs::new(&tmp.path().join("again"), POLL);
    std::fs::create_dir_all(tmp.path().join("again")).unwrap();
    let until = (agreed.0 + 3).to_string();
    let mut again = Devnet::start(procs, &["--dir", dir_s, "--until-height", &until]);
    let ready2 = again.ready();
    assert_eq!(ready2["created"], false);
    assert_eq!(ready2["chain_id"], ready["chain_id"]);
    let first = again.event(60_000, "block", |e| e["event"] == "block");
    assert!(first["height"].as_u64().unwrap() > agreed.0, "{first}");
    let stopped = again.event(90_000, "stopped", |e| e["event"] == "stopped");
    assert_eq!(stopped["clean"], 4, "{stopped}");
    assert_eq!(again.procs.exit_code(again.at, 30_000), Some(0));
    all_gone(&pids(&ready2), "every child gone after --until-height");

    // A child that cannot start (forger-3's data directory is a file now)
    // is named with its log's last words, before any ready line, and the
    // devnet exits 1.
    let data = dir.join("forger-3").join("data");
    let kept = tmp.path().join("forger-3-data");
    std::fs::rename(&data, &kept).unwrap();
    std::fs::write(&data, "not a directory").unwrap();
    let out = common::run(&["devnet", "--dir", dir_s, "--json-log"], 90_000);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("forger-3 exited at start"), "{out:?}");
    assert!(out.stderr.contains("data is not a directory"), "{out:?}");
    assert!(!out.stdout.contains("\"ready\""), "{out:?}");
    std::fs::remove_file(&data).unwrap();
    std::fs::rename(&kept, &data).unwrap();

    // Asking a resumed devnet for another shape is refused, naming it.
    let out = common::run(&["devnet", "--dir", dir_s, "--forgers", "5"], 20_000);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("--forgers 5"), "{out:?}");
}

#[test]
fn devnet_shows_a_dead_child_keeps_forging_and_never_outlives_itself() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("net");
    let procs = Procs::new(tmp.path(), POLL);
    let mut net = Devnet::start(
        procs,
        &[
            "--forgers",
            "3",
            "--slot-ms",
            "300",
            "--dir",
            dir.to_str().unwrap(),
        ],
    );
    let ready = net.ready();
    let main = addrs(&ready, "main_nodes")[0].clone();
    let children = pids(&ready);
    wait_for_every(Duration::from_millis(200), 60_000, "height 2", || {
        tip(&main).filter(|(h, _)| *h >= 2)
    });

    // forger-3 dies: the devnet says so, and the others go on forging.
    let victim = ready["forgers"][2]["pid"].as_u64().unwrap().to_string();
    assert!(Command::new("kill")
        .args(["-KILL", &victim])
        .status()
        .unwrap()
        .success());
    let exited = net.event(30_000, "exited", |e| e["event"] == "exited");
    assert_eq!(exited["name"], "forger-3", "{exited}");
    assert_eq!(exited["how"], "killed by signal 9", "{exited}");
    let (h0, _) = tip(&main).expect("main node answers");
    wait_for_every(Duration::from_millis(200), 60_000, "3 more blocks", || {
        tip(&main).filter(|(h, _)| *h >= h0 + 3)
    });

    // The devnet killed outright: its children stop by themselves.
    let devnet = net.procs.pid(net.at);
    net.procs.kill(net.at);
    assert!(gone(devnet));
    all_gone(&children, "every child gone after the devnet was killed");
}
