//! The main node's HTTP/JSON API and `/metrics` (issue 17, first part),
//! against the real binary on 127.0.0.1 with a store holding a few blocks,
//! through a tiny HTTP/1.1 client over `std::net::TcpStream`: every
//! endpoint, the problem details of bad input (never a 5xx), the body and
//! connection bounds, and a silent connection closed after `--http-idle-s`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use crate::common::{self, strs, Procs};

use goodwill::chain::block::Block;
use goodwill::store::Store;
use goodwill::testkit::{self, TestNet, TestNetConfig};

const WAIT_MS: u64 = 30_000;
const IDLE_S: u64 = 2;

/// An answer: status, the header block (lowercase), the body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// A problem details document with `status`; its `detail`.
    fn problem(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{self:?}");
        assert!(
            self.headers
                .contains("content-type: application/problem+json"),
            "{self:?}"
        );
        let v = self.json();
        assert_eq!(v["status"], status, "{v}");
        assert!(
            v["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:goodwill:problem:"),
            "{v}"
        );
        assert!(v["title"].is_string(), "{v}");
        v["detail"].as_str().expect("a detail").to_string()
    }
}

/// Sends `raw` on a fresh connection and reads the answer to its end (the
/// request asks the server to close); a 5xx fails the test.
fn send(addr: &str, raw: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status: {head:?}"));
    let a = Answer {
        status,
        headers: head.to_lowercase(),
        body: body.to_string(),
    };
    assert!(a.status < 500, "a 5xx: {a:?}");
    a
}

fn get(addr: &str, path: &str) -> Answer {
    send(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// A node over a store holding `blocks`, serving HTTP on a free port;
/// returns its procs and the HTTP address.
fn node(dir: &Path, net: &TestNet, blocks: &[Block]) -> (Procs, String) {
    let data = dir.join("data");
    let store = Store::open(&data, &net.params).unwrap();
    for b in blocks {
        store.import_block(b, testkit::EVERY_SLOT_STARTED).unwrap();
    }
    drop(store);
    let genesis = dir.join("genesis.toml");
    std::fs::write(&genesis, net.params.to_file_text()).unwrap();
    let mut args = common::node_args(
        data.to_str().unwrap(),
        genesis.to_str().unwrap(),
        "127.0.0.1:0",
    );
    // node_args turns HTTP off; this node serves it on a free port.
    let off = args.iter().position(|a| a == "--http").expect("--http off");
    args.splice(off..off + 2, []);
    let idle = IDLE_S.to_string();
    args.extend(["--http", "127.0.0.1:0", "--http-idle-s", &idle].map(String::from));
    let mut procs = Procs::new(dir, common::POLL);
    let i = procs.start("node", &strs(&args));
    let addr = procs.wait_line(i, WAIT_MS, |l| {
        let rest = l.split("http on http://").nth(1)?;
        Some(rest.trim_end().trim_end_matches('/').to_string())
    });
    (procs, addr)
}

fn chain(n: usize) -> (TestNet, Vec<Block>) {
    let net = TestNet::new(&TestNetConfig::default());
    let mut c = net.chain();
    for i in 0..n {
        let to = net.users[(i + 1) % 4].public();
        let tx = c.transfer_from_user(i % 4, to, 1 + i as u64);
        c.forge(vec![tx]);
    }
    let blocks = c.blocks.clone();
    (net, blocks)
}

#[test]
fn the_read_endpoints_answer_json_and_bad_input_is_a_problem_never_a_5xx() {
    let dir = tempfile::tempdir().unwrap();
    let (net, blocks) = chain(3);
    let (_procs, addr) = node(dir.path(), &net, &blocks);

    let s = get(&addr, "/api/v1/status");
    assert_eq!(s.status, 200, "{s:?}");
    assert!(
        s.headers.contains("content-type: application/json"),
        "{s:?}"
    );
    let v = s.json();
    assert_eq!(v["height"], 3, "{v}");
    assert_eq!(v["tip"], blocks[2].hash().to_hex(), "{v}");
    assert_eq!(v["chain_id"], net.params.chain_id().to_hex(), "{v}");
    for k in ["slot", "epoch", "tip_slot", "uptime_s"] {
        assert!(v[k].is_u64(), "{k}: {v}");
    }

    let p = get(&addr, "/api/v1/params").json();
    let g = net.params.genesis();
    assert_eq!(p["chain_name"], g.chain_name, "{p}");
    assert_eq!(p["slot_ms"], g.slot_ms, "{p}");
    assert_eq!(p["block_reward"], g.block_reward.to_string(), "{p}");
    assert_eq!(
        p["bootstrap_forgers"][0],
        g.bootstrap_forgers[0].to_string(),
        "{p}"
    );

    // A block by height and by hash: the same header fields and tx ids.
    let b = &blocks[1];
    let by_height = get(&addr, "/api/v1/blocks/2").json();
    let by_hash = get(&addr, &format!("/api/v1/blocks/{}", b.hash().to_hex())).json();
    assert_eq!(by_height, by_hash);
    assert_eq!(by_height["height"], 2);
    assert_eq!(by_height["hash"], b.hash().to_hex());
    assert_eq!(by_height["parent"], blocks[0].hash().to_hex());
    assert_eq!(by_height["forger"], b.header.header.forger.to_string());
    assert_eq!(by_height["canonical"], true);
    assert_eq!(by_height["txs"][0], b.txs[0].id().to_hex());

    // Unknown blocks: 404 problems saying what is missing.
    let d = get(&addr, "/api/v1/blocks/99").problem(404);
    assert!(d.contains("height 99") && d.contains("height 3"), "{d}");
    let d = get(&addr, &format!("/api/v1/blocks/{}", "ab".repeat(32))).problem(404);
    assert!(d.contains(&"ab".repeat(32)), "{d}");
    let d = get(&addr, "/api/v1/blocks/0").problem(404);
    assert!(d.contains("genesis"), "{d}");
    // Not a height nor a hash: 400 naming it.
    for bad in ["xyz", "12ab", "99999999999999999999999"] {
        let d = get(&addr, &format!("/api/v1/blocks/{bad}")).problem(400);
        assert!(d.contains(bad), "{d}");
    }

    // An account: balance as a string of base units, nonce, weights.
    let user = net.users[0].public();
    let a = get(&addr, &format!("/api/v1/accounts/{user}"));
    assert_eq!(a.status, 200, "{a:?}");
    let a = a.json();
    let store_account = {
        use goodwill::ledger::state::StateReadExt;
        let check = Store::open(&dir.path().join("check"), &net.params).unwrap();
        for b in &blocks {
            check.import_block(b, testkit::EVERY_SLOT_STARTED).unwrap();
        }
        let snap = check.snapshot().unwrap();
        snap.account(&user).unwrap()
    };
    assert_eq!(a["address"], user.to_string());
    assert_eq!(a["balance"], store_account.balance.to_string(), "{a}");
    assert_eq!(a["nonce"], store_account.nonce, "{a}");
    assert!(a["weights"][0]["epoch"].is_u64(), "{a}");

    // A typo in an address: 400 naming the checksum.
    let good = user.to_string();
    let last = good.chars().last().unwrap();
    let typo = format!(
        "{}{}",
        &good[..good.len() - 1],
        if last == 'q' { 'p' } else { 'q' }
    );
    let d = get(&addr, &format!("/api/v1/accounts/{typo}")).problem(400);
    assert!(d.contains("checksum"), "{d}");
    let d = get(&addr, "/api/v1/accounts/nonsense").problem(400);
    assert!(d.contains("nonsense"), "{d}");

    // Unknown routes and wrong methods.
    let d = get(&addr, "/api/v1/nothing-here").problem(404);
    assert!(d.contains("/api/v1/nothing-here"), "{d}");
    get(&addr, "/").problem(404);
    let post = send(
        &addr,
        b"POST /api/v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    post.problem(405);
    assert!(post.headers.contains("allow: get"), "{post:?}");

    // Bodies over 64 KiB: 413, declared or chunked.
    let big = vec![b'x'; 70 * 1024];
    let mut req =
        b"POST /api/v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 71680\r\n\r\n".to_vec();
    req.extend_from_slice(&big);
    let d = send(&addr, &req).problem(413);
    assert!(d.contains("65536"), "{d}");
    let mut req =
        b"POST /api/v1/status HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for chunk in big.chunks(8 * 1024) {
        req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend_from_slice(chunk);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    send(&addr, &req).problem(413);

    // Headers over the bound: 431, not a 5xx.
    let long = format!(
        "GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Long: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    let a = send(&addr, long.as_bytes());
    assert_eq!(a.status, 431, "{a:?}");
}

#[test]
fn metrics_are_prometheus_text_with_counters_ending_in_total() {
    let dir = tempfile::tempdir().unwrap();
    let (net, blocks) = chain(2);
    let (_procs, addr) = node(dir.path(), &net, &blocks);
    let m = metrics(&addr);
    assert_eq!(m.status, 200);
    assert!(
        m.headers
            .contains("content-type: text/plain; version=0.0.4"),
        "{m:?}"
    );
    assert!(m.body.contains("\ngoodwill_height 2\n"), "{}", m.body);
    for name in [
        "goodwill_blocks_imported_total",
        "goodwill_bans_total",
        "goodwill_http_requests_total",
        "goodwill_connections{role=\"main_node\"}",
    ] {
        assert!(m.body.contains(name), "{name}: {}", m.body);
    }
    // Each family: HELP, TYPE, then its samples; a counter's name ends in _total.
    let mut kind = None;
    for line in m.body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, k) = rest.split_once(' ').unwrap();
            assert!((k == "counter") == name.ends_with("_total"), "{line}");
            kind = Some(name.to_string());
        } else if !line.starts_with("# HELP ") {
            let (sample, value) = line.rsplit_once(' ').unwrap();
            let name = sample.split('{').next().unwrap();
            assert_eq!(Some(name), kind.as_deref(), "{line}");
            value
                .parse::<f64>()
                .unwrap_or_else(|e| panic!("{line}: {e}"));
        }
    }
}

/// Prometheus's own linter on the main node's `/metrics` (issue 17): the
/// test above checks the shape, promtool the conventions. Ignored where
/// promtool is missing (Debian's `prometheus` package ships it); under CI
/// it runs, and fails without it (build.rs).
#[test]
#[cfg_attr(
    not(has_promtool),
    ignore = "needs promtool (Debian package prometheus); .ci/run installs it"
)]
fn promtool_accepts_the_main_nodes_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (net, blocks) = chain(2);
    let (_procs, addr) = node(dir.path(), &net, &blocks);
    let m = metrics(&addr);
    let mut p = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian package prometheus)");
    p.stdin
        .take()
        .unwrap()
        .write_all(m.body.as_bytes())
        .unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(out.status.success(), "promtool: {out:?}\n{}", m.body);
}

/// The forging appliance's `--metrics-listen` runs on the same server
/// (issue 17): a real `goodwill forge` with a main node, its `/metrics`
/// through promtool once it holds figures, and every other path or
/// method a problem, not the old hand-written server's plain text.
#[test]
#[cfg_attr(
    not(has_promtool),
    ignore = "needs promtool (Debian package prometheus); .ci/run installs it"
)]
fn promtool_accepts_the_appliances_metrics_and_other_paths_are_problems() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let forger = common::keygen(d, "forger", WAIT_MS);
    let genesis = d.join("genesis.toml").to_str().unwrap().to_string();
    common::NewGenesis {
        out: &genesis,
        chain_name: None,
        forgers: vec![&forger.addr],
        funds: vec![],
        slot_ms: 500,
        epoch_slots: 10,
        finality_depth: None,
    }
    .write(WAIT_MS);
    let main = common::free_addr().to_string();
    let mut procs = Procs::new(d, common::POLL);
    let node_args = common::node_args(d.join("main").to_str().unwrap(), &genesis, &main);
    procs.start("node", &strs(&node_args));
    let mut args = common::forge_args(
        d.join("forger").to_str().unwrap(),
        &genesis,
        &forger.file,
        &main,
        &common::free_addr().to_string(),
    );
    args.extend(["--metrics-listen", "127.0.0.1:0"].map(String::from));
    let forge = procs.start("forge", &strs(&args));
    let addr = procs.wait_line(forge, WAIT_MS, |l| {
        let rest = l.split("metrics on http://").nth(1)?;
        Some(rest.trim_end().trim_end_matches("/metrics").to_string())
    });
    let m = common::wait_for(WAIT_MS, "the appliance's figures in /metrics", || {
        let m = get(&addr, "/metrics");
        m.body.contains("goodwill_blocks_forged_total").then_some(m)
    });
    assert_eq!(m.status, 200, "{m:?}");
    assert!(m.headers.contains("content-type: text/plain"), "{m:?}");
    assert!(
        m.body.contains("# TYPE goodwill_uptime_seconds gauge\n"),
        "{}",
        m.body
    );
    assert!(
        m.body
            .contains("# TYPE goodwill_http_requests_total counter\n"),
        "{}",
        m.body
    );
    let mut p = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian package prometheus)");
    p.stdin
        .take()
        .unwrap()
        .write_all(m.body.as_bytes())
        .unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(out.status.success(), "promtool: {out:?}\n{}", m.body);

    // Only /metrics: the main node's API is not here.
    let other = get(&addr, "/api/v1/status");
    assert!(
        other.problem(404).contains("serves GET /metrics only"),
        "{other:?}"
    );
    let post = send(
        &addr,
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    post.problem(405);
    assert!(post.headers.contains("allow: get"), "{post:?}");
}

/// `/metrics` once it holds the core's figures (they come with its first
/// tick).
fn metrics(addr: &str) -> Answer {
    common::wait_for(WAIT_MS, "the core's figures in /metrics", || {
        let m = get(addr, "/metrics");
        m.body
            .contains("goodwill_mempool_transactions")
            .then_some(m)
    })
}

/// A connection to `to` from the loopback address 127.0.0.`last`.
fn connect_from(last: u8, to: &str) -> TcpStream {
    let to: std::net::SocketAddr = to.parse().unwrap();
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&std::net::SocketAddr::from(([127, 0, 0, last], 0)).into())
        .unwrap();
    s.connect_timeout(&to.into(), Duration::from_secs(5))
        .unwrap();
    s.into()
}

/// What the node sends a connection it will not serve, until it closes.
fn busy_answer(mut s: TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads from `s` until it closes; how long that took.
fn closed_after(mut s: TcpStream) -> Duration {
    let t = common::now_ms();
    let took = || Duration::from_millis(common::now_ms() - t);
    s.set_read_timeout(Some(Duration::from_secs(IDLE_S * 5)))
        .unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return took(),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return took(),
            Err(e) => panic!("not closed within {} s: {e}", IDLE_S * 5),
        }
    }
}

#[test]
fn silent_and_slow_connections_are_closed_and_excess_ones_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (net, blocks) = chain(1);
    let (_procs, addr) = node(dir.path(), &net, &blocks);
    let idle = Duration::from_secs(IDLE_S);

    // Silent from the start: closed after the idle time.
    let took = closed_after(TcpStream::connect(&addr).unwrap());
    assert!(took + Duration::from_millis(300) >= idle, "{took:?}");
    // Half a request line, then silence (slowloris): closed too.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /api/v1/sta").unwrap();
    closed_after(s);
    // Silent after an answer on a kept-alive connection: closed.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    closed_after(s);

    // One address holds at most 16: the 17th is answered 503 naming why.
    let mut held: Vec<TcpStream> = (0..16).map(|_| connect_from(21, &addr)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let text = busy_answer(connect_from(21, &addr));
    assert!(text.starts_with("HTTP/1.1 503"), "{text:?}");
    assert!(text.contains("application/problem+json"), "{text:?}");
    assert!(text.contains("from one address"), "{text:?}");
    // The whole node holds 64 (four addresses × 16): from a fifth, 503.
    for last in 22..25 {
        held.extend((0..16).map(|_| connect_from(last, &addr)));
    }
    std::thread::sleep(Duration::from_millis(200));
    let text = busy_answer(connect_from(25, &addr));
    assert!(text.starts_with("HTTP/1.1 503"), "{text:?}");
    assert!(text.contains("64 HTTP connections at once;"), "{text:?}");
    drop(held);
    // Once they are gone, the node answers again.
    common::wait_for(WAIT_MS, "an answer after the cap", || {
        let mut s = TcpStream::connect(&addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        s.write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out.starts_with(b"HTTP/1.1 200").then_some(())
    });
}

#[test]
fn a_second_node_on_a_taken_http_port_is_refused_naming_http() {
    let dir = tempfile::tempdir().unwrap();
    let (net, blocks) = chain(1);
    let (_procs, addr) = node(dir.path(), &net, &blocks);
    let genesis = dir.path().join("genesis.toml");
    let data = dir.path().join("second");
    let mut args = common::node_args(
        data.to_str().unwrap(),
        genesis.to_str().unwrap(),
        "127.0.0.1:0",
    );
    let off = args.iter().position(|a| a == "--http").expect("--http off");
    args[off + 1] = addr.clone();
    let out = common::run(&strs(&args), WAIT_MS);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains(&format!("--http {addr}")), "{out:?}");
}
