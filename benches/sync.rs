//! How fast a new main node syncs over the network, against how fast the
//! same blocks import into a store with no network at all: both measured in
//! this run, on this machine and this disk.
//!
//! `cargo bench --bench sync` forges a chain in memory (testkit: 10,000
//! blocks of 4 signed transfers each, from 16 funded users in turn), then:
//!
//! 1. **offline**: imports it with `Store::import_block` into an empty redb
//!    store X in a temporary directory (`TMPDIR` chooses the disk), one
//!    durable commit per block, as a node does: the baseline, in blocks/s;
//! 2. **sync**: starts main node A on X (now holding the chain) and main node
//!    B on an empty store with `peers = [A]`, both on 127.0.0.1, and times
//!    from B's start until B's tip is A's tip (a client asks B for its tip
//!    every 10 ms): blocks/s over the wire.
//!
//! The two are timed in interleaved rounds (offline, sync, offline, sync, …,
//! each into fresh directories), and each figure is the fastest round, the
//! median beside it: on a shared machine other work (and other fsyncs on the
//! same disk) only ever adds time.
//!
//! It prints both rates, the ratio sync / offline (goal ≥ 0.8: the network
//! and the protocol should cost at most a fifth of what importing costs) and
//! a last line for scripts: `sync: blocks_per_s=… offline_blocks_per_s=…
//! ratio=…`. Goals are printed, never asserted: a timed assertion would fail
//! on a busy machine for no fault of the code. See docs/performance.md.
//!
//! `GOODWILL_BENCH_QUICK=1` syncs 1,000 blocks (CI). Run without `--bench`
//! (as `cargo test --all-targets` does), it only checks that it works, on a
//! tiny chain, and judges nothing.

// A benchmark must read the clock; clippy.toml forbids `Instant::now` outside
// src/runtime/os.rs so that the ledger logic never does. This file is not logic.
#![allow(clippy::disallowed_methods)]

mod common;

use goodwill::testkit::EVERY_SLOT_STARTED;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{timed, Mode};
use futures_lite::future;
use goodwill::chain::block::Block;
use goodwill::peer::core::SYNC_BATCH;
use goodwill::runtime::client::Client;
use goodwill::runtime::node::{spawn, NodeConfig, NodeLimits, RunningNode};
use goodwill::store::{Imported, Store};
use goodwill::testkit::{self, TestNet, TestNetConfig};

const RATIO_GOAL: f64 = 0.8;
const TXS_PER_BLOCK: usize = 4;
const USERS: u32 = 16;

struct Config {
    blocks: usize,
    rounds: usize,
    mode: &'static str,
    judge: bool,
}

impl Config {
    fn from_env() -> Config {
        let mode = Mode::from_env();
        match mode {
            Mode::Smoke => Config {
                blocks: 50,
                rounds: 1,
                mode: mode.label(),
                judge: false,
            },
            Mode::Quick => Config {
                blocks: 1_000,
                rounds: 5,
                mode: mode.label(),
                judge: true,
            },
            Mode::Full => Config {
                blocks: 10_000,
                rounds: 3,
                mode: mode.label(),
                judge: true,
            },
        }
    }
}

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

/// Imports `blocks` into a new store in `dir`; returns the seconds it took.
fn offline_import(tn: &TestNet, dir: &Path, blocks: &[Block]) -> f64 {
    let store = Store::open(dir, &tn.params).expect("open store X");
    let ((), t) = timed(|| {
        for b in blocks {
            match store.import_block(b, EVERY_SLOT_STARTED) {
                Ok(Imported::Extended { .. }) => {}
                other => panic!("block {} did not extend the chain: {other:?}", b.height()),
            }
        }
    });
    t.as_secs_f64()
}

fn node(tn: &TestNet, dir: &Path, key: u32, peers: Vec<String>) -> RunningNode {
    spawn(NodeConfig {
        data: dir.to_path_buf(),
        params: tn.params.clone(),
        listen: "127.0.0.1:0".parse().expect("an address"),
        advertise: None,
        peers,
        key: testkit::key(7, key),
        limits: NodeLimits::default(),
        forge: None,
        http: None,
        releases: None,
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

/// Starts B with A as its peer; returns the seconds until B's tip is `tip`.
fn sync(tn: &TestNet, a: &RunningNode, dir: &Path, tip: goodwill::chain::crypto::Hash) -> f64 {
    let limit = Duration::from_secs(900);
    let poll = Duration::from_millis(5);
    // A is up (its store open, its core running) before the clock starts.
    let mut ready = within(
        Duration::from_secs(10),
        Client::connect(&a.addr.to_string()),
    )
    .expect("A answers")
    .expect("connect to A");
    let a_tip = within(Duration::from_secs(10), ready.tip())
        .expect("A answers")
        .expect("A's tip");
    assert_eq!(a_tip.hash, tip, "A holds the chain");
    drop(ready);
    let t = Instant::now();
    let b = node(tn, dir, 2, vec![a.addr.to_string()]);
    let addr = b.addr.to_string();
    let mut client = within(Duration::from_secs(10), Client::connect(&addr))
        .expect("B answers")
        .expect("connect to B");
    let max_polls = limit.as_millis() / poll.as_millis();
    let mut reached = None;
    for _ in 0..max_polls {
        let got = within(Duration::from_secs(10), client.tip())
            .expect("B answers")
            .expect("B's tip");
        if got.hash == tip {
            reached = Some(t.elapsed().as_secs_f64());
            break;
        }
        if t.elapsed() > limit {
            break;
        }
        std::thread::sleep(poll);
    }
    let secs = reached.unwrap_or_else(|| panic!("B did not reach A's tip in {limit:?}"));
    drop(client);
    b.stop().expect("B stops cleanly");
    secs
}

/// The fastest and the median of some rates.
fn best_and_median(rates: &[f64]) -> (f64, f64) {
    let s = common::sorted(rates);
    (s[s.len() - 1], s[s.len() / 2])
}

fn main() {
    let cfg = Config::from_env();
    let tn = TestNet::new(&TestNetConfig {
        users: USERS,
        ..TestNetConfig::default()
    });
    println!("sync benchmark, {}", cfg.mode);
    println!(
        "chain: {} blocks of {TXS_PER_BLOCK} transfers (testkit, {USERS} users); sync batch {SYNC_BATCH} blocks per request",
        cfg.blocks
    );
    let (blocks, forge_time) = timed(|| forge(&tn, cfg.blocks));
    let tip = blocks.last().expect("at least one block").hash();
    let bytes: usize = blocks.iter().map(|b| b.to_bytes().len()).sum();
    println!(
        "forged in memory in {:.1} s; {} bytes per block on average",
        forge_time.as_secs_f64(),
        bytes / blocks.len()
    );

    let mut offline_rates = Vec::new();
    let mut sync_rates = Vec::new();
    for round in 1..=cfg.rounds {
        let x = tempfile::tempdir().expect("a temporary directory");
        let y = tempfile::tempdir().expect("a temporary directory");
        let offline_s = offline_import(&tn, x.path(), &blocks);
        let a = node(&tn, x.path(), 1, Vec::new());
        let sync_s = sync(&tn, &a, y.path(), tip);
        a.stop().expect("A stops cleanly");
        let b = Store::open(y.path(), &tn.params).expect("reopen B's store");
        assert_eq!(b.tip().expect("B's tip").hash, tip, "B holds A's chain");
        drop(b);
        let (off, syn) = (
            blocks.len() as f64 / offline_s,
            blocks.len() as f64 / sync_s,
        );
        println!(
            "round {round}/{}: offline {off:.0} blocks/s ({offline_s:.2} s), sync {syn:.0} blocks/s ({sync_s:.2} s)",
            cfg.rounds
        );
        offline_rates.push(off);
        sync_rates.push(syn);
    }
    let (offline, offline_median) = best_and_median(&offline_rates);
    let (rate, rate_median) = best_and_median(&sync_rates);
    println!(
        "offline import into an empty store:    {offline:>7.0} blocks/s (median {offline_median:.0}; one durable commit per block)"
    );
    println!(
        "sync over loopback into an empty node: {rate:>7.0} blocks/s (median {rate_median:.0}; from B's start to A's tip)"
    );
    let ratio = rate / offline;
    if cfg.judge {
        println!(
            "ratio sync / offline: {ratio:.3} (goal ≥ {RATIO_GOAL}: {})",
            if ratio >= RATIO_GOAL {
                "met"
            } else {
                "NOT met"
            }
        );
    } else {
        println!(
            "ratio sync / offline: {ratio:.3} (not judged: {})",
            cfg.mode
        );
    }
    println!("sync: blocks_per_s={rate:.0} offline_blocks_per_s={offline:.0} ratio={ratio:.3}");
}
