//! What the HTTP/JSON API costs, against the binary protocol and against
//! the chain: every figure a ratio or a distribution measured in this run,
//! on this machine, against one real node on 127.0.0.1.
//!
//! `cargo bench --bench http` forges a chain in memory (testkit: 10,000
//! blocks of 4 signed transfers each, from 64 funded users in turn),
//! imports it into a store X, starts main node A on X with HTTP on, then:
//!
//! 1. **queries/s**: 4 client threads ask A for the balances of the 64
//!    users in turn, as fast as A answers, for a fixed time: once over HTTP
//!    (`GET /api/v1/accounts/{address}`, one keep-alive connection per
//!    thread, the JSON read to its `Content-Length`), once over the binary
//!    protocol (`runtime::client::Client::account`, i.e. `Query::Account`,
//!    one connection per thread), in interleaved rounds; the ratio HTTP /
//!    binary (goal ≥ 0.6);
//! 2. **latency**: 50 clients, each on its own thread and keep-alive
//!    connection, ask `/api/v1/accounts/{address}` one after the other:
//!    p50, p99 and the slowest of every request's time;
//! 3. **import under load**: main node B (HTTP on) starts on an empty store
//!    with `peers = [A]` and syncs A's chain as benches/sync.rs does, timed
//!    from B's start until B's tip is A's tip: once idle, once while 50 HTTP
//!    clients hammer B's `/api/v1/accounts/{address}`, in interleaved
//!    rounds, same node config; the ratio loaded / idle (goal ≥ 0.9: the
//!    explorer must not slow the chain).
//!
//! Each rate is the best round, the median beside it: on a shared machine
//! other work only ever takes time away. All 50 clients come from
//! 127.0.0.1, so the nodes here allow 64 HTTP connections from one address
//! (`HttpLimits::max_per_ip`, 16 by default) and the binary connections
//! as many messages per second as they send (`NodeLimits::max_msgs_per_s`,
//! 500 by default); everything else is the default. The clients run on the
//! same cores as the node: under load they take CPU from it too.
//!
//! Goals are printed, never asserted (a timed assertion would fail on a
//! busy machine for no fault of the code); the last line is for scripts:
//! `http: ratio_queries=… p50_us=… p99_us=… ratio_import=…`. See
//! docs/performance.md.
//!
//! `GOODWILL_BENCH_QUICK=1` makes a shorter run (CI). Run without `--bench`
//! (as `cargo test --all-targets` does), it only checks that it works, on a
//! tiny chain, and judges nothing.

// A benchmark must read the clock; clippy.toml forbids `Instant::now` outside
// src/runtime/os.rs so that the ledger logic never does. This file is not logic.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use common::{timed, Mode};
use futures_lite::future;
use goodwill::chain::block::Block;
use goodwill::chain::crypto::{Hash, PublicKey};
use goodwill::runtime::client::Client;
use goodwill::runtime::http::{HttpConfig, HttpLimits};
use goodwill::runtime::node::{spawn, NodeConfig, NodeLimits, RunningNode};
use goodwill::store::{Imported, Store};
use goodwill::testkit::{self, TestNet, TestNetConfig, EVERY_SLOT_STARTED};

const QUERIES_GOAL: f64 = 0.6;
const IMPORT_GOAL: f64 = 0.9;
const TXS_PER_BLOCK: usize = 4;
const USERS: u32 = 64;
/// Client threads for queries/s, on both protocols.
const THREADS: usize = 4;
/// Concurrent HTTP clients for the latency and the load.
const CLIENTS: usize = 50;
/// Bounds of one HTTP answer the client reads.
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 1024 * 1024;
/// Any single network call that takes longer fails the run.
const CALL_LIMIT: Duration = Duration::from_secs(30);

struct Config {
    blocks: usize,
    rounds: usize,
    window: Duration,
    latency_requests: usize,
    mode: &'static str,
    judge: bool,
}

impl Config {
    fn from_env() -> Config {
        let mode = Mode::from_env();
        match mode {
            Mode::Smoke => Config {
                blocks: 40,
                rounds: 1,
                window: Duration::from_millis(200),
                latency_requests: 4,
                mode: mode.label(),
                judge: false,
            },
            Mode::Quick => Config {
                blocks: 2_000,
                rounds: 3,
                window: Duration::from_secs(1),
                latency_requests: 100,
                mode: mode.label(),
                judge: true,
            },
            Mode::Full => Config {
                blocks: 10_000,
                rounds: 3,
                window: Duration::from_secs(3),
                latency_requests: 400,
                mode: mode.label(),
                judge: true,
            },
        }
    }
}

// ---------------------------------------------------------------- HTTP client

/// A blocking HTTP/1.1 client on one keep-alive connection: it writes a
/// GET, reads the head to its blank line and the body to its
/// `Content-Length`, both bounded.
struct Http {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Http {
    fn connect(addr: SocketAddr) -> std::io::Result<Http> {
        let stream = TcpStream::connect_timeout(&addr, CALL_LIMIT)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(CALL_LIMIT))?;
        stream.set_write_timeout(Some(CALL_LIMIT))?;
        Ok(Http {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Connects, retrying every 10 ms for up to 10 s (a node just spawned
    /// starts its HTTP server a moment after it returns).
    fn connect_soon(addr: SocketAddr) -> Http {
        let mut last = None;
        for _ in 0..1_000 {
            match Http::connect(addr) {
                Ok(h) => return h,
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("HTTP {addr} did not answer within 10 s: {last:?}")
    }

    /// GETs `path`; returns the status and the body.
    fn get(&mut self, path: &str) -> Result<(u16, Vec<u8>), String> {
        let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        self.stream
            .write_all(req.as_bytes())
            .map_err(|e| format!("write: {e}"))?;
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        // The head: read until its blank line, at most MAX_HEAD bytes.
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(format!("a head longer than {MAX_HEAD} bytes"));
            }
            let n = self
                .stream
                .read(&mut chunk)
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).map_err(|e| e.to_string())?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("no status in {head:?}"))?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .ok_or_else(|| format!("no Content-Length in {head:?}"))?;
        if length > MAX_BODY {
            return Err(format!("a body of {length} bytes (at most {MAX_BODY})"));
        }
        let want = head_end + length;
        while self.buf.len() < want {
            let n = self
                .stream
                .read(&mut chunk)
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("the server closed the connection mid-body".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        if self.buf.len() > want {
            return Err("bytes after the body that no request asked for".into());
        }
        Ok((status, self.buf[head_end..].to_vec()))
    }

    /// GETs the account of `address`; fails on anything but a 200.
    fn account(&mut self, address: &str) -> Result<(), String> {
        let (status, body) = self.get(&format!("/api/v1/accounts/{address}"))?;
        if status != 200 {
            return Err(format!(
                "{status}: {}",
                String::from_utf8_lossy(&body).trim()
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- nodes

fn forge(tn: &TestNet, n: usize) -> Vec<Block> {
    let mut chain = tn.chain();
    let to = tn.association.public();
    for i in 0..n {
        let txs = (0..TXS_PER_BLOCK)
            .map(|k| chain.transfer_from_user((i * TXS_PER_BLOCK + k) % tn.users.len(), to, 1))
            .collect();
        chain.forge(txs);
    }
    chain.blocks
}

fn import(tn: &TestNet, dir: &Path, blocks: &[Block]) {
    let store = Store::open(dir, &tn.params).expect("open store X");
    for b in blocks {
        match store.import_block(b, EVERY_SLOT_STARTED) {
            Ok(Imported::Extended { .. }) => {}
            other => panic!("block {} did not extend the chain: {other:?}", b.height()),
        }
    }
}

/// A free port on 127.0.0.1 for a node's HTTP server (`RunningNode` names
/// only its binary address).
fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("an address")
}

/// A main node on `dir`, HTTP on `http`; the bounds this bench needs (see
/// the top of this file), every other one the default.
fn node(tn: &TestNet, dir: &Path, key: u32, peers: Vec<String>, http: SocketAddr) -> RunningNode {
    spawn(NodeConfig {
        data: dir.to_path_buf(),
        params: tn.params.clone(),
        listen: "127.0.0.1:0".parse().expect("an address"),
        advertise: None,
        peers,
        key: testkit::key(7, key),
        limits: NodeLimits {
            max_msgs_per_s: 10_000_000,
            ..NodeLimits::default()
        },
        forge: None,
        releases: None,
        http: Some(HttpConfig {
            listen: http,
            limits: HttpLimits {
                max_per_ip: 64,
                ..HttpLimits::default()
            },
        }),
    })
    .expect("a node starts")
}

/// Runs `f`, or gives up after `limit`.
fn within<T>(limit: Duration, f: impl std::future::Future<Output = T>) -> Option<T> {
    smol::block_on(future::or(async { Some(f.await) }, async {
        smol::Timer::after(limit).await;
        None
    }))
}

fn client(addr: SocketAddr) -> Client {
    within(CALL_LIMIT, Client::connect(&addr.to_string()))
        .expect("the node answers")
        .expect("connect")
}

// ---------------------------------------------------------------- 1. queries/s

/// `threads` threads ask for balances in turn, each for `window` from a
/// common start; returns answers per second, all threads together.
fn rate<F>(threads: usize, window: Duration, ask: impl Fn() -> F + Sync) -> f64
where
    F: FnMut(usize),
{
    let start = Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (start, ask) = (&start, &ask);
                s.spawn(move || {
                    let mut one = ask();
                    start.wait();
                    let t0 = Instant::now();
                    let mut n = 0usize;
                    // Bounded by the window.
                    while t0.elapsed() < window {
                        one(n * threads + t);
                        n += 1;
                    }
                    n as f64 / t0.elapsed().as_secs_f64()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a client thread"))
            .sum()
    })
}

fn http_rate(http: SocketAddr, addresses: &[String], window: Duration) -> f64 {
    rate(THREADS, window, || {
        let mut c = Http::connect_soon(http);
        move |i: usize| {
            c.account(&addresses[i % addresses.len()])
                .unwrap_or_else(|e| panic!("HTTP account: {e}"))
        }
    })
}

/// The binary protocol's rate: as [`rate`], but each thread's whole window
/// is one future under one time limit, so that no timer per query is in
/// the baseline (the client's own cost is: what a Rust client pays).
fn binary_rate(addr: SocketAddr, keys: &[PublicKey], window: Duration) -> f64 {
    let start = Barrier::new(THREADS);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let start = &start;
                s.spawn(move || {
                    let mut c = client(addr);
                    start.wait();
                    let t0 = Instant::now();
                    let n = within(window + CALL_LIMIT, async {
                        let mut n = 0usize;
                        // Bounded by the window (and `within`'s limit).
                        while t0.elapsed() < window {
                            c.account(keys[(n * THREADS + t) % keys.len()])
                                .await
                                .expect("Query::Account");
                            n += 1;
                        }
                        n
                    })
                    .expect("the node answers within the window");
                    n as f64 / t0.elapsed().as_secs_f64()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a client thread"))
            .sum()
    })
}

// ---------------------------------------------------------------- 2. latency

/// `CLIENTS` clients each ask `per_client` balances one after the other;
/// returns every request's time, sorted, and the answers per second.
fn latencies(http: SocketAddr, addresses: &[String], per_client: usize) -> (Vec<Duration>, f64) {
    let start = Barrier::new(CLIENTS);
    let (all, took) = timed(|| {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..CLIENTS)
                .map(|t| {
                    let start = &start;
                    s.spawn(move || {
                        let mut c = Http::connect_soon(http);
                        start.wait();
                        let mut times = Vec::with_capacity(per_client);
                        for i in 0..per_client {
                            let a = &addresses[(i * CLIENTS + t) % addresses.len()];
                            let (r, d) = timed(|| c.account(a));
                            r.unwrap_or_else(|e| panic!("HTTP account: {e}"));
                            times.push(d);
                        }
                        times
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a client thread"))
                .collect::<Vec<_>>()
        })
    });
    let n = all.len() as f64;
    (common::sorted(&all), n / took.as_secs_f64())
}

/// The `q`-quantile (0..=1) of sorted `v`.
fn quantile(v: &[Duration], q: f64) -> Duration {
    let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

// ---------------------------------------------------------------- 3. import

/// What one sync of B took, and what the HTTP load got from B meanwhile.
struct Synced {
    secs: f64,
    http_answers: u64,
}

/// Sets its flag when dropped: the load's clients stop even if the
/// thread that polls B panics.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Starts B (HTTP on) on an empty store in `dir` with A as its peer and, if
/// `load`, `CLIENTS` HTTP clients asking B for balances until B's tip is
/// `tip`; returns the time from B's start until then.
fn sync(
    tn: &TestNet,
    a: &RunningNode,
    dir: &Path,
    tip: Hash,
    addresses: &[String],
    load: bool,
) -> Synced {
    let limit = Duration::from_secs(900);
    let poll = Duration::from_millis(5);
    let http = free_port();
    let stop = AtomicBool::new(false);
    let answers = AtomicU64::new(0);
    let t = Instant::now();
    let b = node(tn, dir, 2, vec![a.addr.to_string()], http);
    // The clients are joined at the scope's end, before B stops.
    let reached = std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        if load {
            for k in 0..CLIENTS {
                let (stop, answers) = (&stop, &answers);
                s.spawn(move || {
                    let mut c = Http::connect_soon(http);
                    let mut i = k;
                    // Bounded by `stop`, set once B is synced or gave up.
                    while !stop.load(Ordering::Relaxed) {
                        c.account(&addresses[i % addresses.len()])
                            .unwrap_or_else(|e| panic!("HTTP account during the sync: {e}"));
                        answers.fetch_add(1, Ordering::Relaxed);
                        i += CLIENTS;
                    }
                });
            }
        }
        let mut c = client(b.addr);
        let max_polls = limit.as_millis() / poll.as_millis();
        for _ in 0..max_polls {
            let got = within(CALL_LIMIT, c.tip())
                .expect("B answers")
                .expect("B's tip");
            if got.hash == tip {
                return Some(t.elapsed().as_secs_f64());
            }
            if t.elapsed() > limit {
                break;
            }
            std::thread::sleep(poll);
        }
        None
    });
    let secs = reached.unwrap_or_else(|| panic!("B did not reach A's tip in {limit:?}"));
    b.stop().expect("B stops cleanly");
    Synced {
        secs,
        http_answers: answers.load(Ordering::Relaxed),
    }
}

/// The best and the median of some rates.
fn best_and_median(rates: &[f64]) -> (f64, f64) {
    let s = common::sorted(rates);
    (s[s.len() - 1], s[s.len() / 2])
}

fn verdict(judge: bool, ratio: f64, goal: f64) -> String {
    match (judge, ratio >= goal) {
        (false, _) => "not judged".into(),
        (true, true) => format!("goal ≥ {goal}: met"),
        (true, false) => format!("goal ≥ {goal}: NOT met"),
    }
}

fn main() {
    let cfg = Config::from_env();
    let tn = TestNet::new(&TestNetConfig {
        users: USERS,
        ..TestNetConfig::default()
    });
    println!("http benchmark, {}", cfg.mode);
    let (blocks, forge_time) = timed(|| forge(&tn, cfg.blocks));
    let tip = blocks.last().expect("at least one block").hash();
    println!(
        "chain: {} blocks of {TXS_PER_BLOCK} transfers (testkit, {USERS} users), forged in {:.1} s",
        blocks.len(),
        forge_time.as_secs_f64()
    );
    let keys: Vec<PublicKey> = tn.users.iter().map(|k| k.public()).collect();
    let addresses: Vec<String> = keys.iter().map(|k| k.to_string()).collect();

    let x = tempfile::tempdir().expect("a temporary directory");
    import(&tn, x.path(), &blocks);
    let a_http = free_port();
    let a = node(&tn, x.path(), 1, Vec::new(), a_http);

    // Both protocols answer the same balance.
    let mut c = client(a.addr);
    let bin = within(CALL_LIMIT, c.account(keys[0]))
        .expect("A answers")
        .expect("Query::Account");
    drop(c);
    let (status, body) = Http::connect_soon(a_http)
        .get(&format!("/api/v1/accounts/{}", addresses[0]))
        .expect("an HTTP answer");
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["balance"], bin.balance.to_string(), "{json}");
    assert_eq!(json["nonce"], bin.nonce, "{json}");

    // 1. queries/s
    let (mut over_http, mut over_binary) = (Vec::new(), Vec::new());
    for round in 1..=cfg.rounds {
        let h = http_rate(a_http, &addresses, cfg.window);
        let b = binary_rate(a.addr, &keys, cfg.window);
        println!(
            "round {round}/{}: balances over HTTP {h:.0}/s, over the binary protocol {b:.0}/s ({THREADS} threads, {:.1} s each)",
            cfg.rounds,
            cfg.window.as_secs_f64()
        );
        over_http.push(h);
        over_binary.push(b);
    }
    let (h, h_med) = best_and_median(&over_http);
    let (b, b_med) = best_and_median(&over_binary);
    let ratio_queries = h / b;
    println!("balances over HTTP:            {h:>7.0}/s (median {h_med:.0}; GET /api/v1/accounts/{{address}}, keep-alive)");
    println!("balances over binary protocol: {b:>7.0}/s (median {b_med:.0}; Query::Account)");
    println!(
        "ratio HTTP / binary: {ratio_queries:.3} ({})",
        verdict(cfg.judge, ratio_queries, QUERIES_GOAL)
    );

    // 2. latency
    let (times, qps) = latencies(a_http, &addresses, cfg.latency_requests);
    let (p50, p99, max) = (
        quantile(&times, 0.5),
        quantile(&times, 0.99),
        quantile(&times, 1.0),
    );
    println!(
        "latency of /api/v1/accounts/{{address}}, {CLIENTS} clients × {} requests: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({qps:.0} answers/s)",
        cfg.latency_requests,
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3,
    );

    // 3. import, idle and under load
    let (mut idle, mut loaded) = (Vec::new(), Vec::new());
    for round in 1..=cfg.rounds {
        let y = tempfile::tempdir().expect("a temporary directory");
        let quiet = sync(&tn, &a, y.path(), tip, &addresses, false);
        let z = tempfile::tempdir().expect("a temporary directory");
        let busy = sync(&tn, &a, z.path(), tip, &addresses, true);
        let (i, l) = (
            blocks.len() as f64 / quiet.secs,
            blocks.len() as f64 / busy.secs,
        );
        println!(
            "round {round}/{}: import idle {i:.0} blocks/s ({:.2} s), under {CLIENTS} HTTP clients {l:.0} blocks/s ({:.2} s; they got {:.0} answers/s)",
            cfg.rounds,
            quiet.secs,
            busy.secs,
            busy.http_answers as f64 / busy.secs
        );
        idle.push(i);
        loaded.push(l);
    }
    let (i, i_med) = best_and_median(&idle);
    let (l, l_med) = best_and_median(&loaded);
    let ratio_import = l / i;
    println!("import (sync from A), idle:             {i:>7.0} blocks/s (median {i_med:.0})");
    println!("import under {CLIENTS} HTTP clients:         {l:>7.0} blocks/s (median {l_med:.0})");
    println!(
        "ratio loaded / idle: {ratio_import:.3} ({})",
        verdict(cfg.judge, ratio_import, IMPORT_GOAL)
    );
    a.stop().expect("A stops cleanly");
    println!(
        "http: ratio_queries={ratio_queries:.3} http_per_s={h:.0} binary_per_s={b:.0} p50_us={} p99_us={} ratio_import={ratio_import:.3} idle_blocks_per_s={i:.0} loaded_blocks_per_s={l:.0}",
        p50.as_micros(),
        p99.as_micros()
    );
}
