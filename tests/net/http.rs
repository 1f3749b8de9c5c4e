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
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: String,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// A problem details document with `status`; its `detail`.
    pub(crate) fn problem(&self, status: u16) -> String {
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
pub(crate) fn send(addr: &str, raw: &[u8]) -> Answer {
    exchange(TcpStream::connect(addr).expect("connect"), raw)
}

/// Sends `raw` on `s` and reads the answer to its end; a 5xx fails the test.
pub(crate) fn exchange(mut s: TcpStream, raw: &[u8]) -> Answer {
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

pub(crate) fn get(addr: &str, path: &str) -> Answer {
    send(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// A node over a store holding `blocks`, serving HTTP on a free port;
/// returns its procs and the HTTP address.
pub(crate) fn node(dir: &Path, net: &TestNet, blocks: &[Block]) -> (Procs, String) {
    let data = dir.join("data");
    let store = Store::open(&data, &net.params).unwrap();
    for b in blocks {
        store.import_block(b, testkit::EVERY_SLOT_STARTED).unwrap();
    }
    drop(store);
    let genesis = dir.join("genesis.toml");
    std::fs::write(&genesis, net.params.to_file_text()).unwrap();
    let args = common::node_args_http(
        data.to_str().unwrap(),
        genesis.to_str().unwrap(),
        "127.0.0.1:0",
        IDLE_S,
    );
    let mut procs = Procs::new(dir, common::POLL);
    let i = procs.start("node", &strs(&args));
    let addr = procs.wait_line(i, WAIT_MS, common::http_on);
    (procs, addr)
}

pub(crate) fn chain(n: usize) -> (TestNet, Vec<Block>) {
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
    // (Outside /api/ and /metrics the explorer answers HTML: tested below.)
    get(&addr, "/api/v2/status").problem(404);
    let post = send(
        &addr,
        b"POST /api/v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    post.problem(405);
    assert!(post.headers.contains("allow: get"), "{post:?}");

    // Bodies over 160 KiB: 413, declared or chunked.
    let big = vec![b'x'; 170 * 1024];
    let mut req =
        b"POST /api/v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: 174080\r\n\r\n".to_vec();
    req.extend_from_slice(&big);
    let d = send(&addr, &req).problem(413);
    assert!(d.contains("163840"), "{d}");
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
    promtool_check(&m.body);
}

/// `promtool check metrics` on `text`: passes, or the test fails with
/// what promtool said.
fn promtool_check(text: &str) {
    let mut p = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs (Debian package prometheus)");
    p.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(out.status.success(), "promtool: {out:?}\n{text}");
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
    promtool_check(&m.body);

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
pub(crate) fn connect_from(last: u8, to: &str) -> TcpStream {
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

/// The explorer's pages (HTML, src/runtime/http/explorer.rs) over a chain
/// holding a payment whose memo is a script and a record: each page
/// answers 200 with what it shows, user data escaped, unknown things 404
/// and bad input 400, each an HTML page that says why.
#[test]
fn the_explorer_pages_show_the_chain_and_keep_user_data_text() {
    use goodwill::chain::codec::Bytes;
    use goodwill::chain::tx::{Transaction, TxKind};
    const XSS: &str = "<script>alert(1)</script>";
    let dir = tempfile::tempdir().unwrap();
    let net = TestNet::new(&TestNetConfig::default());
    let mut c = net.chain();
    let alice = &net.users[0];
    let bob = net.users[1].public();
    let mut pay = net.transfer(alice, 0, bob, 7).tx;
    pay.memo = Bytes::new(XSS.as_bytes().to_vec()).unwrap();
    let pay = pay.sign(alice);
    c.forge(vec![pay.clone()]);
    let put = Transaction {
        chain_id: net.params.chain_id(),
        sender: alice.public(),
        nonce: 1,
        fee: net.params.genesis().min_fee,
        kind: TxKind::PutData {
            key: Bytes::new(b"note <i>1</i>".to_vec()).unwrap(),
            value: Bytes::new(b"<img src=x onerror=alert(2)>".to_vec()).unwrap(),
        },
        memo: Bytes::default(),
    }
    .sign(alice);
    let binary = net.tx(
        alice,
        2,
        TxKind::PutData {
            key: Bytes::new(vec![0, 1, 0xff]).unwrap(),
            value: Bytes::new(b"bin".to_vec()).unwrap(),
        },
    );
    c.forge(vec![put, binary]);
    let blocks = c.blocks.clone();
    let (_procs, addr) = node(dir.path(), &net, &blocks);

    let page = |path: &str, status: u16, shows: &[&str]| -> String {
        let a = get(&addr, path);
        assert_eq!(a.status, status, "{path}: {a:?}");
        assert!(
            a.headers.contains("content-type: text/html; charset=utf-8"),
            "{path}: {a:?}"
        );
        for s in shows {
            assert!(a.body.contains(s), "{path} lacks {s:?}: {}", a.body);
        }
        for raw in ["<script", "<img", "<i>"] {
            assert!(!a.body.contains(raw), "{path} holds {raw:?} unescaped");
        }
        a.body
    };
    let tx = pay.id().to_hex();
    let memo = "&lt;script&gt;alert(1)&lt;/script&gt;";
    let home = page(
        "/",
        200,
        &[
            "Latest blocks",
            "Forgers",
            "Schedule of epoch",
            "Associations",
            "/block/2",
        ],
    );
    assert!(home.contains("name=\"viewport\""));
    page("/block/1", 200, &["Block 1", &tx[..10], memo]);
    page(
        &format!("/block/{}", blocks[1].hash().to_hex()),
        200,
        &["Block 2"],
    );
    page(
        &format!("/tx/{tx}"),
        200,
        &[&tx, memo, "the proof leads to the block's tx root"],
    );
    let alice_addr = alice.public().to_string();
    let record = "/record/".to_string() + &alice_addr + "/note%20%3Ci%3E1%3C%2Fi%3E";
    // A binary key links as hex:…, the API's spelling.
    let binary = format!("/record/{alice_addr}/hex:0001ff");
    page(
        &format!("/account/{alice_addr}"),
        200,
        &["Balance", memo, &record, &binary],
    );
    page(&binary, 200, &["bin", "0001ff"]);
    page(
        &record,
        200,
        &[
            "&lt;img src=x onerror=alert(2)&gt;",
            "note &lt;i&gt;1&lt;/i&gt;",
        ],
    );
    page(&format!("/search?q={tx}"), 200, &[memo]);
    page("/search?q=2", 200, &["Block 2"]);
    page(
        &format!("/search?q={alice_addr}%2Fnote+%3Ci%3E1%3C%2Fi%3E"),
        200,
        &["onerror"],
    );
    // Unknown things: a 404 page with the search box.
    let nf = page("/block/99", 404, &["no block 99", "action=\"/search\""]);
    assert!(nf.contains("height 2"), "names the tip: {nf}");
    page(
        &format!("/tx/{}", "ab".repeat(32)),
        404,
        &["no transaction"],
    );
    page("/nowhere", 404, &["no page at /nowhere"]);
    page(
        &format!("/record/{alice_addr}/nothing"),
        404,
        &["no record"],
    );
    // Bad input: a 400 page naming what was wrong.
    page("/tx/xyz", 400, &["transaction id"]);
    page("/account/gw1nonsense", 400, &["address"]);
    page(
        "/search?q=%3Cscript%3E",
        400,
        &["&lt;script&gt;", "is not a height"],
    );
    page("/search?q=", 400, &["empty search"]);
    let max = goodwill::chain::limits::DATA_KEY;
    page(
        &format!("/record/{alice_addr}/{}", "k".repeat(max + 1)),
        400,
        &[&format!("at most {max} bytes")],
    );
    let post = send(
        &addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(post.status, 405, "{post:?}");
    assert!(post.headers.contains("allow: get, head"), "{post:?}");
}

/// A chain for the store-backed reads: `n` blocks of transfers around the
/// users, then records (a key written twice, a binary key), donations to
/// the genesis association and a new association's proposal.
pub(crate) struct Traffic {
    pub(crate) net: TestNet,
    pub(crate) blocks: Vec<Block>,
    /// The new association's key.
    proposed: goodwill::chain::crypto::Keypair,
    /// The sum of the BuyWeight amounts.
    donated: u64,
}

pub(crate) fn traffic(n: usize) -> Traffic {
    use goodwill::chain::codec::Bytes;
    use goodwill::chain::tx::TxKind;
    use goodwill::ledger::state::StateReadExt;
    let (net, _) = chain(0);
    let mut c = net.chain();
    for i in 0..n {
        let to = net.users[(i + 1) % 4].public();
        let tx = c.transfer_from_user(i % 4, to, 1 + i as u64);
        c.forge(vec![tx]);
    }
    let put = |key: &[u8], value: &[u8]| TxKind::PutData {
        key: Bytes::new(key.to_vec()).unwrap(),
        value: Bytes::new(value.to_vec()).unwrap(),
    };
    let tx = c.tx_from_user(1, put(b"greeting", b"hello"));
    c.forge(vec![tx]);
    let a = c.tx_from_user(1, put(b"greeting", b"<b>world</b>"));
    let b = c.tx_from_user(0, put(&[0, 1, 0xff], &[0xde, 0xad]));
    c.forge(vec![a, b]);
    let mut donated = 0;
    for amount in [1_000u64, 2_345] {
        let epoch = net.params.epoch_of(c.state.tip().unwrap().slot) + 3;
        let tx = c.tx_from_user(
            2,
            TxKind::BuyWeight {
                epoch,
                amount,
                association: net.association.public(),
            },
        );
        donated += amount;
        c.forge(vec![tx]);
    }
    let proposed = testkit::key(4, 0);
    let (name, url) = (b"Friends of <i>Trees</i>", b"https://trees.example");
    let proof =
        goodwill::chain::tx::association_proof(&proposed, &net.params.chain_id(), name, url);
    let tx = c.tx_from_user(
        3,
        TxKind::ProposeAssociation {
            name: Bytes::new(name.to_vec()).unwrap(),
            url: Bytes::new(url.to_vec()).unwrap(),
            account: proposed.public(),
            proof,
        },
    );
    c.forge(vec![tx]);
    Traffic {
        net,
        blocks: c.blocks.clone(),
        proposed,
        donated,
    }
}

/// Follows `next` from `first` to the end; every page's entries under
/// `field`.
fn walk(addr: &str, first: &str, field: &str) -> (Vec<serde_json::Value>, usize) {
    let mut out = Vec::new();
    let mut pages = 0;
    let mut at = Some(first.to_string());
    while let Some(path) = at {
        let a = get(addr, &path);
        assert_eq!(a.status, 200, "{path}: {a:?}");
        let v = a.json();
        out.extend(v[field].as_array().expect(field).iter().cloned());
        at = v["next"].as_str().map(str::to_string);
        pages += 1;
        assert!(pages < 100, "paging does not end");
    }
    (out, pages)
}

#[test]
fn blocks_and_histories_page_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let t = traffic(24);
    let tip = t.blocks.len() as u64;
    let (_procs, addr) = node(dir.path(), &t.net, &t.blocks);

    // Blocks, newest first by default, 20 a page.
    let first = get(&addr, "/api/v1/blocks").json();
    assert_eq!(first["tip"], tip, "{first}");
    assert_eq!(first["blocks"].as_array().unwrap().len(), 20);
    assert_eq!(first["blocks"][0]["height"], tip);
    assert_eq!(
        first["blocks"][0]["hash"],
        t.blocks.last().unwrap().hash().to_hex()
    );
    assert_eq!(
        first["next"],
        format!("/api/v1/blocks?from={}&limit=20", tip - 20)
    );
    // The summary is /blocks/{id}'s, without the transactions in full.
    let one = get(&addr, &format!("/api/v1/blocks/{tip}")).json();
    let mut summary = one.clone();
    summary.as_object_mut().unwrap().remove("transactions");
    assert_eq!(first["blocks"][0], summary);
    // Walked 7 at a time, both ways: every height once.
    let (down, pages) = walk(&addr, "/api/v1/blocks?limit=7", "blocks");
    let heights: Vec<u64> = down.iter().map(|b| b["height"].as_u64().unwrap()).collect();
    assert_eq!(heights, (1..=tip).rev().collect::<Vec<_>>());
    assert_eq!(pages as u64, tip.div_ceil(7));
    let (up, _) = walk(&addr, "/api/v1/blocks?order=asc&limit=7", "blocks");
    let heights: Vec<u64> = up.iter().map(|b| b["height"].as_u64().unwrap()).collect();
    assert_eq!(heights, (1..=tip).collect::<Vec<_>>());
    for (b, v) in t.blocks.iter().zip(&up) {
        assert_eq!(v["hash"], b.hash().to_hex());
    }
    // A page from a height above the tip starts at the tip; the last page
    // says there is no next.
    let v = get(&addr, "/api/v1/blocks?from=1000&limit=2").json();
    assert_eq!(v["blocks"][0]["height"], tip, "{v}");
    let v = get(&addr, "/api/v1/blocks?from=2&limit=5").json();
    assert_eq!(v["blocks"].as_array().unwrap().len(), 2, "{v}");
    assert!(v["next"].is_null(), "{v}");
    let v = get(&addr, "/api/v1/blocks?limit=100").json();
    assert_eq!(v["blocks"].as_array().unwrap().len() as u64, tip, "{v}");

    // Bad paging parameters: 400s naming them.
    for (q, kind, names) in [
        ("limit=0", "bad-paging", "limit"),
        ("limit=101", "bad-paging", "limit"),
        ("limit=ten", "bad-paging", "ten"),
        ("from=0", "bad-paging", "genesis"),
        ("from=-3", "bad-paging", "-3"),
        ("order=sideways", "bad-paging", "sideways"),
        ("page=2", "bad-query", "page"),
        ("limit=1&limit=2", "bad-query", "twice"),
        ("from=%zz", "bad-query", "%zz"),
    ] {
        let a = get(&addr, &format!("/api/v1/blocks?{q}"));
        let d = a.problem(400);
        assert!(
            a.json()["type"].as_str().unwrap().ends_with(kind),
            "{q}: {a:?}"
        );
        assert!(d.contains(names), "{q}: {d}");
    }

    // A block in full: its transactions as JSON, ids as before.
    let b = &t.blocks[t.blocks.len() - 4];
    let v = get(&addr, &format!("/api/v1/blocks/{}", b.hash().to_hex())).json();
    assert_eq!(v["txs"].as_array().unwrap().len(), 2, "{v}");
    for (i, tx) in b.txs.iter().enumerate() {
        assert_eq!(v["transactions"][i]["id"], tx.id().to_hex(), "{v}");
        assert_eq!(v["transactions"][i]["kind"]["type"], "put-data", "{v}");
        assert_eq!(v["transactions"][i]["sender"], tx.tx.sender.to_string());
    }

    // An account's history, newest first, 4 a page: exactly the
    // transactions that touch it, each once.
    let user = t.net.users[0].public();
    let expected: Vec<String> = t
        .blocks
        .iter()
        .rev()
        .flat_map(|b| b.txs.iter().rev())
        .filter(|tx| goodwill::store::touched(tx).contains(&user))
        .map(|tx| tx.id().to_hex())
        .collect();
    assert!(expected.len() > 8, "{}", expected.len());
    let (txs, pages) = walk(
        &addr,
        &format!("/api/v1/accounts/{user}/history?limit=4"),
        "txs",
    );
    let ids: Vec<String> = txs
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(pages, expected.len().div_ceil(4));
    for e in &txs {
        assert_eq!(e["tx"]["id"], e["id"], "{e}");
        let h = e["height"].as_u64().unwrap();
        assert_eq!(e["block"], t.blocks[h as usize - 1].hash().to_hex(), "{e}");
        assert_eq!(e["cursor"], format!("{h}:{}", e["index"]), "{e}");
        let kind = e["tx"]["kind"]["type"].as_str().unwrap();
        let sent = e["tx"]["sender"] == user.to_string();
        let (amount, fee) = (
            e["tx"]["kind"]["amount"]
                .as_str()
                .unwrap_or("0")
                .parse::<i64>()
                .unwrap(),
            e["tx"]["fee"].as_str().unwrap().parse::<i64>().unwrap(),
        );
        let (dir, change) = match (kind, sent) {
            ("transfer", true) => ("sent", -(amount + fee)),
            ("transfer", false) => ("received", amount),
            ("put-data", true) => ("fee", -fee),
            other => panic!("unexpected {other:?}: {e}"),
        };
        assert_eq!(e["direction"], dir, "{e}");
        let shown = e["balance_change"].as_str().unwrap();
        assert_eq!(
            shown.trim_start_matches('+').parse::<i64>().unwrap(),
            change,
            "{e}"
        );
    }
    // The association sees the donations as received.
    let assoc = t.net.association.public();
    let v = get(&addr, &format!("/api/v1/accounts/{assoc}/history")).json();
    assert_eq!(v["txs"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["txs"][0]["direction"], "donation", "{v}");
    assert_eq!(v["txs"][0]["balance_change"], "+2345", "{v}");
    assert!(v["next"].is_null(), "{v}");
    // An account with nothing: an empty page.
    let nobody = testkit::key(9, 9).public();
    let v = get(&addr, &format!("/api/v1/accounts/{nobody}/history")).json();
    assert_eq!(v["txs"], serde_json::json!([]), "{v}");

    // Bad input: the address, the cursor, the limit.
    let good = user.to_string();
    let typo = format!(
        "{}{}",
        &good[..good.len() - 1],
        if good.ends_with('q') { 'p' } else { 'q' }
    );
    let d = get(&addr, &format!("/api/v1/accounts/{typo}/history")).problem(400);
    assert!(d.contains("checksum"), "{d}");
    for (q, names) in [
        ("before=12", "12"),
        ("before=a:1", "a:1"),
        ("limit=0", "limit"),
        ("limit=1000", "limit"),
        ("since=3", "since"),
    ] {
        let d = get(&addr, &format!("/api/v1/accounts/{user}/history?{q}")).problem(400);
        assert!(d.contains(names), "{q}: {d}");
    }
}

#[test]
fn a_history_cursor_stays_put_while_blocks_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let t = traffic(30);
    let store = Store::open(dir.path(), &t.net.params).unwrap();
    let user = t.net.users[1].public();
    let (first, later) = t.blocks.split_at(20);
    for b in first {
        store.import_block(b, testkit::EVERY_SLOT_STARTED).unwrap();
    }
    let before_arrivals = store.snapshot().unwrap().account_txs(&user, 1000).unwrap();
    let page = store
        .snapshot()
        .unwrap()
        .account_txs_page(&user, None, 4)
        .unwrap();
    for b in later {
        store.import_block(b, testkit::EVERY_SLOT_STARTED).unwrap();
    }
    let mut seen: Vec<_> = page.iter().map(|(_, id)| *id).collect();
    let mut cursor = page.last().map(|(l, _)| *l);
    loop {
        let p = store
            .snapshot()
            .unwrap()
            .account_txs_page(&user, cursor, 4)
            .unwrap();
        if p.is_empty() {
            break;
        }
        assert!(p.len() <= 4);
        seen.extend(p.iter().map(|(_, id)| *id));
        cursor = p.last().map(|(l, _)| *l);
    }
    assert_eq!(seen, before_arrivals);
}

#[test]
fn records_come_with_a_checked_proof_and_their_history() {
    let dir = tempfile::tempdir().unwrap();
    let t = traffic(3);
    let (_procs, addr) = node(dir.path(), &t.net, &t.blocks);
    let owner = t.net.users[1].public();

    let v = get(&addr, &format!("/api/v1/data/{owner}/greeting")).json();
    assert_eq!(v["address"], owner.to_string(), "{v}");
    assert_eq!(v["key"], "greeting", "{v}");
    assert_eq!(v["key_hex"], hex::encode("greeting"), "{v}");
    assert_eq!(v["value"], "<b>world</b>", "{v}");
    assert_eq!(v["value_hex"], hex::encode("<b>world</b>"), "{v}");
    let block = &t.blocks[4];
    let tx = &block.txs[0];
    assert_eq!(v["height"], 5, "{v}");
    assert_eq!(v["tx"], tx.id().to_hex(), "{v}");
    assert_eq!(v["block"], block.hash().to_hex(), "{v}");
    assert_eq!(v["transaction"]["kind"]["type"], "put-data", "{v}");
    assert_eq!(v["proof_checked"], true, "{v}");
    // The proof checks on the client's side too.
    let proof = goodwill::chain::merkle::Proof {
        index: v["proof"]["merkle"]["index"].as_u64().unwrap() as u32,
        leaf_count: v["proof"]["merkle"]["leaf_count"].as_u64().unwrap() as u32,
        siblings: v["proof"]["merkle"]["siblings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| goodwill::chain::crypto::Hash::from_hex(s.as_str().unwrap()).unwrap())
            .collect(),
    };
    assert_eq!(proof.leaf_count, 2);
    let header = goodwill::chain::header::SignedHeader::from_bytes(
        &hex::decode(v["proof"]["header"]["bytes"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(header, block.header);
    assert!(goodwill::chain::merkle::verify(
        &header.header.tx_root,
        &tx.id(),
        &proof
    ));

    // Every write, newest first, by either form; paged with a cursor.
    let h = get(&addr, &format!("/api/v1/data/{owner}/greeting/history")).json();
    assert_eq!(
        h,
        get(
            &addr,
            &format!("/api/v1/data/{owner}/greeting?history=true")
        )
        .json()
    );
    let writes = h["writes"].as_array().unwrap();
    assert_eq!(writes.len(), 2, "{h}");
    assert_eq!(writes[0]["value"], "<b>world</b>", "{h}");
    assert_eq!(writes[1]["value"], "hello", "{h}");
    assert_eq!(writes[1]["height"], 4, "{h}");
    assert_eq!(writes[1]["tx"], t.blocks[3].txs[0].id().to_hex(), "{h}");
    let (paged, pages) = walk(
        &addr,
        &format!("/api/v1/data/{owner}/greeting/history?limit=1"),
        "writes",
    );
    assert_eq!(&paged, writes);
    assert_eq!(pages, 2);

    // A binary key, as hex:; a text key percent-encoded.
    let other = t.net.users[0].public();
    let v = get(&addr, &format!("/api/v1/data/{other}/hex:0001ff")).json();
    assert_eq!(v["key"], serde_json::Value::Null, "{v}");
    assert_eq!(v["key_hex"], "0001ff", "{v}");
    assert_eq!(v["value_hex"], "dead", "{v}");
    assert_eq!(v["proof_checked"], true, "{v}");
    let v = get(&addr, &format!("/api/v1/data/{owner}/%67reeting")).json();
    assert_eq!(v["value"], "<b>world</b>", "{v}");

    // Missing records and bad keys.
    let d = get(&addr, &format!("/api/v1/data/{owner}/nothing")).problem(404);
    assert!(
        d.contains("nothing") && d.contains(&owner.to_string()),
        "{d}"
    );
    for (key, names) in [
        ("bad%zzkey", "%zz"),
        ("bad%2", "not followed by two hex digits"),
        ("hex:abc", "malformed hex"),
        ("hex:zz", "malformed hex"),
        ("%ff%fe", "not UTF-8"),
        (&"k".repeat(65), "at most 64 bytes"),
        ("a/b", "%2F"),
    ] {
        let a = get(&addr, &format!("/api/v1/data/{owner}/{key}"));
        let d = a.problem(400);
        assert!(
            a.json()["type"]
                .as_str()
                .unwrap()
                .ends_with("bad-record-key"),
            "{a:?}"
        );
        assert!(d.contains(names), "{key}: {d}");
    }
    let d = get(&addr, "/api/v1/data/gw1nope/greeting").problem(400);
    assert!(d.contains("gw1nope"), "{d}");
    for q in [
        "history=maybe",
        "limit=2",
        "history=true&limit=0",
        "history=true&before=x",
    ] {
        let d = get(&addr, &format!("/api/v1/data/{owner}/greeting?{q}")).problem(400);
        assert!(!d.is_empty(), "{q}");
    }
}

#[test]
fn associations_show_their_votes_status_and_donations() {
    let dir = tempfile::tempdir().unwrap();
    let t = traffic(2);
    let (_procs, addr) = node(dir.path(), &t.net, &t.blocks);

    let v = get(&addr, "/api/v1/associations").json();
    let all = v["associations"].as_array().unwrap();
    assert_eq!(all.len(), 2, "{v}");
    let genesis = all
        .iter()
        .find(|a| a["account"] == t.net.association.public().to_string())
        .expect("the genesis association");
    assert_eq!(genesis["name"], "Test Association", "{genesis}");
    assert_eq!(genesis["status"], "approved", "{genesis}");
    assert_eq!(genesis["approved_since_epoch"], 0, "{genesis}");
    assert_eq!(genesis["listed"], true, "{genesis}");
    assert_eq!(genesis["donations"], t.donated.to_string(), "{genesis}");
    assert_eq!(genesis["balance"], t.donated.to_string(), "{genesis}");
    let proposed = all
        .iter()
        .find(|a| a["account"] == t.proposed.public().to_string())
        .expect("the proposal");
    assert_eq!(proposed["name"], "Friends of <i>Trees</i>", "{proposed}");
    assert_eq!(proposed["url"], "https://trees.example", "{proposed}");
    assert_eq!(proposed["proposer"], t.net.users[3].public().to_string());
    // Proposed in the test chain's first epochs, long before the node's
    // clock: its voting window has passed.
    assert_eq!(proposed["status"], "lapsed", "{proposed}");
    assert_eq!(proposed["listed"], false, "{proposed}");
    assert_eq!(proposed["donations"], "0", "{proposed}");
    assert_eq!(proposed["votes"], serde_json::json!([]), "{proposed}");
    let id = t.blocks.last().unwrap().txs[0].id().to_hex();
    assert_eq!(proposed["id"], id, "{proposed}");

    // One, by id or by its account.
    let by_id = get(&addr, &format!("/api/v1/associations/{id}")).json();
    let by_account = get(
        &addr,
        &format!("/api/v1/associations/{}", t.proposed.public()),
    )
    .json();
    assert_eq!(by_id, by_account);
    assert_eq!(&by_id, proposed);

    let d = get(&addr, &format!("/api/v1/associations/{}", "cd".repeat(32))).problem(404);
    assert!(d.contains(&"cd".repeat(32)), "{d}");
    let nobody = testkit::key(9, 9).public();
    let d = get(&addr, &format!("/api/v1/associations/{nobody}")).problem(404);
    assert!(d.contains(&nobody.to_string()), "{d}");
    let d = get(&addr, "/api/v1/associations/xyz").problem(400);
    assert!(d.contains("xyz"), "{d}");
    get(&addr, "/api/v1/associations?limit=3").problem(400);
}
