//! What importing a block costs the chain store, against what it cannot
//! avoid: both measured in this run, on this machine and this disk, so the
//! figures compare and never depend on the hardware.
//!
//! `cargo bench --bench store` forges a chain in memory (testkit: blocks of
//! 1,000 signed transfers from 1,000 distinct users, then empty blocks),
//! imports it with `Store::import_block` into a real redb file in a temporary
//! directory (`TMPDIR` chooses the disk), and prints:
//!
//! - blocks per second importing 1,000-transaction blocks;
//! - the baseline, per block: the same block's 1,000 raw ed25519 verifies
//!   (`crypto::verify_raw` on the exact signed messages, one thread) plus one
//!   bare durable redb commit (one small key, `Durability::Immediate`, in a
//!   separate file); the ratio import / baseline (goal ≤ 1.25), taken per
//!   block (each import against its own baseline, timed just before it) and
//!   then the median over blocks;
//! - the same baseline with the verifies spread over all cores, as
//!   `import_block` spreads them: the stricter, like-for-like ratio (goal
//!   ≤ 1.15, issue 18; the baseline verifies one signature at a time, the
//!   import checks each thread's share as one batch);
//! - a breakdown: `apply_block` in memory on one thread and on all cores
//!   (what `Parallelism` buys), and the rest, which is the store;
//! - bytes written per imported block, as counted under redb
//!   (`Imported::Extended::bytes_written`), for empty blocks (median, goal
//!   ≤ 32 KiB) and 1,000-transaction blocks, with the bare commit's bytes
//!   (redb's floor for a durable commit that changes one table) and the kernel's
//!   `/proc/self/io` `write_bytes` as a cross-check.
//!
//! The last line, `store: import_ratio=… empty_block_bytes=…`, is for
//! scripts. Goals are printed, never asserted: a timed assertion would fail
//! on a busy machine for no fault of the code. See docs/performance.md.
//!
//! `GOODWILL_BENCH_QUICK=1` imports fewer blocks (CI). Run without `--bench`
//! (as `cargo test --all-targets` does), it only checks that it works, on a
//! tiny chain.

// A benchmark must read the clock; clippy.toml forbids `Instant::now` outside
// src/runtime/os.rs so that the ledger logic never does. This file is not logic.
#![allow(clippy::disallowed_methods)]

mod common;

use goodwill::testkit::EVERY_SLOT_STARTED;
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{median, proc_field, timed, Mode};
use goodwill::chain::block::Block;
use goodwill::chain::codec;
use goodwill::chain::crypto::{self, tag, PublicKey, Signature};
use goodwill::chain::genesis::{Limits, COIN};
use goodwill::ledger::state::MemState;
use goodwill::ledger::{apply_block, Parallelism};
use goodwill::store::{CountingFile, Imported, Store};
use goodwill::testkit::{TestNet, TestNetConfig};
use redb::{Database, Durability, TableDefinition};

const RATIO_GOAL: f64 = 1.25;
/// Issue 18: the import against the same verifies spread over as many
/// threads, plus the bare commit. The verifies are one by one; a block's
/// signatures are checked as one batch since 2026-12-06.
const RATIO_ALL_CORES_GOAL: f64 = 1.15;
const EMPTY_BYTES_GOAL: u64 = 32 << 10;
/// A forger's bytes to the disk per imported block (issue 18).
const FORGER_IMPORT_GOAL: u64 = 4 << 10;
/// ... and per forged block: the signing record and the block.
const FORGER_FORGED_GOAL: u64 = 8 << 10;

/// A forger's store, as `goodwill forge` opens it (no indexes; every
/// `every`th block commit durable), importing `blocks` (each one signed
/// first in the signing record when `forged`): bytes per block as counted
/// (redb's file and the signing log) and as the kernel counted them, after
/// the store made everything durable.
struct ForgerBytes {
    /// Bytes per block, as the store counted them.
    counted: f64,
    /// Bytes per block, as the kernel counted them (where readable).
    os: Option<f64>,
    /// Counted bytes per block over the first and the last `every` blocks.
    first: f64,
    last: f64,
    /// The store file's size at the end, bytes.
    file: u64,
}

fn forger_bytes(blocks: &[Block], every: u64, forged: bool, prune: bool) -> ForgerBytes {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let net = TestNet::new(&TestNetConfig::default());
    let store = Store::open_with(dir.path(), &net.params, goodwill::store::Indexes::Skip)
        .expect("the store opens");
    store.set_durable_every(every);
    store.set_pruning(prune);
    let key = net.forgers[0].public();
    store
        .record_signature(&key, 0, &goodwill::chain::crypto::Hash::ZERO)
        .expect("the first record");
    let (b0, os0) = (store.bytes_written(), os_write_bytes());
    let mut windows = Vec::new();
    let mut window_start = b0;
    for (i, block) in blocks.iter().enumerate() {
        if forged {
            let h = &block.header.header;
            store
                .record_signature(&key, h.slot, &block.hash())
                .expect("the slot records");
        }
        store
            .import_block(block, EVERY_SLOT_STARTED)
            .expect("the block imports");
        if (i as u64 + 1).is_multiple_of(every) {
            windows.push((store.bytes_written() - window_start) as f64 / every as f64);
            window_start = store.bytes_written();
        }
    }
    store.make_durable().expect("the store syncs");
    let n = blocks.len().max(1) as f64;
    let counted = (store.bytes_written() - b0) as f64 / n;
    let os = os0.and_then(|b| os_write_bytes().map(|a| a.saturating_sub(b) as f64 / n));
    drop(store);
    let file = std::fs::metadata(goodwill::store::file_in(dir.path())).map_or(0, |m| m.len());
    ForgerBytes {
        file,
        counted,
        os,
        first: windows.first().copied().unwrap_or(counted),
        last: windows.last().copied().unwrap_or(counted),
    }
}

/// How big and how many.
struct Config {
    txs: usize,
    full_blocks: usize,
    empty_blocks: usize,
    /// Empty blocks a forger's store imports (and forges) for its figures.
    forger_blocks: usize,
    mode: &'static str,
}

impl Config {
    fn from_env() -> Config {
        let mode = Mode::from_env();
        let mut c = Config::for_mode(mode);
        // GOODWILL_BENCH_FORGER_BLOCKS: a longer chain for the forger's figures.
        if let Some(n) = std::env::var("GOODWILL_BENCH_FORGER_BLOCKS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            c.forger_blocks = n;
        }
        c
    }

    fn for_mode(mode: Mode) -> Config {
        match mode {
            Mode::Smoke => Config {
                txs: 20,
                full_blocks: 2,
                empty_blocks: 3,
                forger_blocks: 130,
                mode: "smoke test (no --bench): figures are meaningless",
            },
            Mode::Quick => Config {
                txs: 1_000,
                full_blocks: 5,
                empty_blocks: 30,
                forger_blocks: 256,
                mode: mode.label(),
            },
            Mode::Full => Config {
                txs: 1_000,
                full_blocks: 20,
                empty_blocks: 50,
                forger_blocks: 512,
                mode: mode.label(),
            },
        }
    }
}

/// A chain forged in memory, and what the baseline needs of it.
struct Fixture {
    net: TestNet,
    /// Blocks of `txs` transfers, height 1 first.
    full: Vec<Block>,
    /// The state each full block applies to (its parent's).
    parents: Vec<MemState>,
    /// Per full block, the exact messages its transactions' signatures cover.
    messages: Vec<Vec<(PublicKey, Vec<u8>, Signature)>>,
    /// Empty blocks after the full ones.
    empty: Vec<Block>,
    /// Empty blocks of a small chain of its own, for a forger's store.
    forger: Vec<Block>,
}

fn fixture(cfg: &Config) -> Fixture {
    let n = cfg.txs;
    let net = TestNet::new(&TestNetConfig {
        forgers: 3,
        // User i pays user i+1: every sender and receiver is an existing
        // account, as in a busy chain; one more user than senders.
        users: n as u32 + 1,
        balance: 1_000_000 * COIN,
        epoch_slots: 100,
        finality_depth: 8,
        limits: Limits {
            max_block_txs: (n as u32).max(Limits::default().max_block_txs),
            ..Limits::default()
        },
    });
    let chain_id = net.params.chain_id();
    let mut chain = net.chain();
    let mut full = Vec::new();
    let mut parents = Vec::new();
    let mut messages = Vec::new();
    for b in 0..cfg.full_blocks {
        // Distinct senders, so each one's next nonce is the chain's.
        let txs = (0..n)
            .map(|i| chain.transfer_from_user(i, net.users[i + 1].public(), 1 + (b * n + i) as u64))
            .collect();
        parents.push(chain.state.clone());
        let block = chain.forge(txs);
        assert_eq!(block.txs.len(), n, "every transfer fits in the block");
        messages.push(
            block
                .txs
                .iter()
                .map(|stx| {
                    let msg = crypto::signing_message(tag::TX, &chain_id, &codec::encode(&stx.tx));
                    (stx.tx.sender, msg, stx.signature)
                })
                .collect(),
        );
        full.push(block);
    }
    let empty = (0..cfg.empty_blocks).map(|_| chain.forge(vec![])).collect();
    let mut small = TestNet::new(&TestNetConfig::default()).chain();
    let forger = (0..cfg.forger_blocks)
        .map(|_| small.forge(vec![]))
        .collect();
    Fixture {
        net,
        full,
        parents,
        messages,
        empty,
        forger,
    }
}

/// A redb file with nothing but one small table: what any durable commit
/// costs, in time and in bytes.
struct BareDb {
    db: Database,
    written: Arc<AtomicU64>,
    next: u64,
}

const BARE: TableDefinition<u64, u64> = TableDefinition::new("bare");

impl BareDb {
    fn open(path: &Path) -> BareDb {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .expect("the bare redb file opens");
        let written = Arc::new(AtomicU64::new(0));
        let backend = CountingFile::new(file, written.clone()).expect("a file backend");
        let db = Database::builder()
            .create_with_backend(backend)
            .expect("the bare redb database opens");
        let mut bare = BareDb {
            db,
            written,
            next: 0,
        };
        // The first commit creates the table; later ones only insert.
        bare.commit();
        bare
    }

    /// Inserts one small key and commits durably; returns the bytes written.
    fn commit(&mut self) -> u64 {
        let before = self.written.load(Ordering::Relaxed);
        let mut w = self.db.begin_write().expect("begin_write");
        w.set_durability(Durability::Immediate).expect("durability");
        w.open_table(BARE)
            .expect("open table")
            .insert(self.next, self.next)
            .expect("insert");
        w.commit().expect("commit");
        self.next += 1;
        self.written.load(Ordering::Relaxed) - before
    }
}

fn verify_all(messages: &[(PublicKey, Vec<u8>, Signature)]) {
    for (pk, msg, sig) in messages {
        black_box(crypto::verify_raw(pk, black_box(msg), sig)).expect("verifies");
    }
}

fn verify_all_cores(messages: &[(PublicKey, Vec<u8>, Signature)], cores: usize) {
    let chunk = messages.len().div_ceil(cores).max(1);
    std::thread::scope(|s| {
        for part in messages.chunks(chunk) {
            s.spawn(move || verify_all(part));
        }
    });
}

/// The kernel's count of bytes this process sent towards the disk
/// (`write_bytes` in /proc/self/io), where readable.
fn os_write_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    proc_field(&io, "write_bytes:")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn kib(b: u64) -> f64 {
    b as f64 / 1024.0
}

/// Imports `block`, which must extend the chain; returns its bytes as the
/// store counted them, and the kernel's count if readable.
fn import(store: &Store, block: &Block) -> (u64, Option<u64>) {
    let os_before = os_write_bytes();
    let r = store
        .import_block(block, EVERY_SLOT_STARTED)
        .expect("the block imports");
    let os = os_before.and_then(|b| os_write_bytes().map(|a| a.saturating_sub(b)));
    match r {
        Imported::Extended { bytes_written, .. } => {
            assert_eq!(bytes_written, store.last_block_bytes());
            (bytes_written, os)
        }
        other => panic!(
            "block {} did not extend the chain: {other:?}",
            block.height()
        ),
    }
}

fn main() {
    let cfg = Config::from_env();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (f, forge_time) = timed(|| fixture(&cfg));
    let n = cfg.txs;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Store::open(dir.path(), &f.net.params).expect("the store opens");
    let mut bare = BareDb::open(&dir.path().join("bare.redb"));

    // Warm-up, untimed: code paths, the allocator, the bare file.
    verify_all(&f.messages[0]);
    bare.commit();

    let mut import_t = Vec::new();
    let mut base1_t = Vec::new();
    let mut base_all_t = Vec::new();
    let mut verify_all_t = Vec::new();
    let mut commit_t = Vec::new();
    let mut verify1_t = Vec::new();
    let mut apply1_t = Vec::new();
    let mut apply_all_t = Vec::new();
    let mut full_bytes = Vec::new();
    let mut full_os = Vec::new();
    let mut bare_bytes = Vec::new();
    // Each block: its baselines, in-memory applies and import, one after the
    // other, so slow drift (heat, a neighbour's build) touches all alike.
    for (i, block) in f.full.iter().enumerate() {
        let msgs = &f.messages[i];
        let (_, t) = timed(|| verify_all(msgs));
        verify1_t.push(t);
        let (b, c) = timed(|| bare.commit());
        bare_bytes.push(b);
        commit_t.push(c);
        base1_t.push(t + c);
        let (_, t) = timed(|| verify_all_cores(msgs, cores));
        verify_all_t.push(t);
        let (_, c) = timed(|| bare.commit());
        base_all_t.push(t + c);
        let parent = &f.parents[i];
        let (r, t) = timed(|| {
            apply_block(&f.net.params, parent, block, Parallelism::Single).expect("applies")
        });
        black_box(r);
        apply1_t.push(t);
        let (r, t) = timed(|| {
            apply_block(&f.net.params, parent, block, Parallelism::AllCores).expect("applies")
        });
        black_box(r);
        apply_all_t.push(t);
        let ((bytes, os), t) = timed(|| import(&store, block));
        import_t.push(t);
        full_bytes.push(bytes);
        full_os.extend(os);
    }
    let mut empty_bytes = Vec::new();
    let mut empty_os = Vec::new();
    let mut empty_t = Vec::new();
    for block in &f.empty {
        let ((bytes, os), t) = timed(|| import(&store, block));
        empty_t.push(t);
        empty_bytes.push(bytes);
        empty_os.extend(os);
    }
    let file_size = std::fs::metadata(store.path())
        .map(|m| m.len())
        .unwrap_or(0);
    let height = store.tip().expect("a tip").height;
    assert_eq!(height as usize, f.full.len() + f.empty.len());

    let import_m = median(&import_t);
    let base1_m = median(&base1_t);
    let base_all_m = median(&base_all_t);
    // Each block against its own baselines, measured moments before it: a
    // burst of other load then touches both sides of a ratio alike, and the
    // median of the per-block ratios is the figure.
    let per_block = |base: &[Duration]| -> Vec<f64> {
        import_t
            .iter()
            .zip(base)
            .map(|(i, b)| i.as_secs_f64() / b.as_secs_f64())
            .collect()
    };
    let per_block_1 = per_block(&base1_t);
    let sorted_1 = common::sorted(&per_block_1);
    let ratio = median(&per_block_1);
    let ratio_all = median(&per_block(&base_all_t));
    let blocks_per_s = 1.0 / import_m.as_secs_f64();
    // What the machine gave this run: bare verifies on all cores against one.
    // Below 0.9 × the cores, other work held a core, and import_block, which
    // counts on them, was slowed where its one-thread baseline was not.
    let ceiling = median(&verify1_t).as_secs_f64() / median(&verify_all_t).as_secs_f64();
    let busy = ceiling < 0.9 * cores as f64;
    let apply_all_m = median(&apply_all_t);
    let store_part = import_m.saturating_sub(apply_all_m);
    let empty_m = median(&empty_bytes);
    let full_m = median(&full_bytes);
    let bare_m = median(&bare_bytes);
    let empty_vs_bare = empty_m as f64 / bare_m as f64;
    // What the blocks themselves weigh: bytes written over bytes of block is
    // the write amplification.
    let full_size = median(
        &f.full
            .iter()
            .map(|b| b.to_bytes().len() as u64)
            .collect::<Vec<_>>(),
    );
    let empty_size = median(
        &f.empty
            .iter()
            .map(|b| b.to_bytes().len() as u64)
            .collect::<Vec<_>>(),
    );
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };

    println!(
        "goodwill store bench: {} blocks of {n} transfers, then {} empty blocks; {cores} cores; {} mode",
        f.full.len(),
        f.empty.len(),
        cfg.mode
    );
    println!(
        "redb file in {} (set TMPDIR to measure another disk); chain forged in memory in {:.1} s",
        dir.path().display(),
        forge_time.as_secs_f64()
    );
    println!();
    println!(
        "time per {n}-transaction block (median of {}):",
        f.full.len()
    );
    let row = |name: &str, d: Duration| {
        println!(
            "  {name:<52} {:>8.2} ms  {:>5.3} × baseline",
            ms(d),
            d.as_secs_f64() / base1_m.as_secs_f64()
        );
    };
    row("Store::import_block (signatures on all cores)", import_m);
    row(
        "baseline: raw verifies (1 thread) + bare durable commit",
        base1_m,
    );
    row("  raw ed25519 verifies, 1 thread", median(&verify1_t));
    row(
        "  bare durable redb commit (one small key)",
        median(&commit_t),
    );
    row(
        &format!("baseline, verifies on {cores} threads + bare commit"),
        base_all_m,
    );
    row(
        "apply_block in memory, Parallelism::Single",
        median(&apply1_t),
    );
    row(
        &format!("apply_block in memory, Parallelism::AllCores ({cores})"),
        apply_all_m,
    );
    row(
        "import − in-memory apply (AllCores): the store's part",
        store_part,
    );
    println!(
        "  empty block import (median of {}): {:.2} ms",
        f.empty.len(),
        ms(median(&empty_t))
    );
    println!();
    println!(
        "{:<58} {:>6.3}  goal ≤ {RATIO_GOAL:.2}: {}",
        "ratio import / (1-thread verifies + bare commit) [1]",
        ratio,
        verdict(ratio <= RATIO_GOAL)
    );
    println!(
        "  per block: first {:.3}, last {:.3}, min {:.3}, max {:.3} (later blocks write bigger indexes;\n  \
         other load on the machine adds noise)",
        per_block_1[0],
        per_block_1[per_block_1.len() - 1],
        sorted_1[0],
        sorted_1[sorted_1.len() - 1]
    );
    println!(
        "{:<58} {:>6.3}  goal ≤ {RATIO_ALL_CORES_GOAL:.2}: {} (like for like: both use {cores} cores)",
        format!("ratio import / ({cores}-thread verifies + bare commit) [1]"),
        ratio_all,
        verdict(ratio_all <= RATIO_ALL_CORES_GOAL)
    );
    println!(
        "  import_block checks signatures on all {cores} cores while the issue's baseline verifies on one:\n  \
         the first ratio flatters the store by up to the parallel speed-up; the second one does not."
    );
    println!(
        "  [1] median over blocks of each block's import / its own baseline, timed just before it"
    );
    println!(
        "  this machine's ceiling: raw verifies on {cores} threads ran {ceiling:.2}× one thread{}",
        if busy {
            " — other work held a core during this run: the ratio above is pessimistic"
        } else {
            ""
        }
    );
    println!("{:<58} {:>6.1}", "blocks/s importing", blocks_per_s);
    println!();
    let os_note = |v: &[u64]| {
        if v.is_empty() {
            "n/a".to_string()
        } else {
            format!("{:.1} KiB", kib(median(v)))
        }
    };
    println!("bytes written per imported block (as counted under redb; kernel write_bytes as a cross-check):");
    println!(
        "  {:<40} median {:>8.1} KiB  min {:>7.1}  max {:>7.1}  kernel {}",
        format!("empty block ({} blocks)", empty_bytes.len()),
        kib(empty_m),
        kib(*empty_bytes.iter().min().expect("some")),
        kib(*empty_bytes.iter().max().expect("some")),
        os_note(&empty_os)
    );
    println!(
        "  {:<40} median {:>8.1} KiB  min {:>7.1}  max {:>7.1}  kernel {}",
        format!("{n}-tx block ({} blocks)", full_bytes.len()),
        kib(full_m),
        kib(*full_bytes.iter().min().expect("some")),
        kib(*full_bytes.iter().max().expect("some")),
        os_note(&full_os)
    );
    println!(
        "  {:<40} median {:>8.1} KiB  (redb's floor: a durable commit changing one table)",
        "bare commit, one small key",
        kib(bare_m)
    );
    println!(
        "  {:<40} empty {:.1} KiB, {n}-tx {:.1} KiB: written / encoded = {:.0}× and {:.1}×",
        "encoded block size",
        kib(empty_size),
        kib(full_size),
        empty_m as f64 / empty_size as f64,
        full_m as f64 / full_size as f64
    );
    println!(
        "  {n}-tx blocks cost more as the chain grows: first {:.1} KiB, last {:.1} KiB (random-key\n  \
         index inserts, txs and account_txs, rewrite more distinct 4 KiB leaves as those tables grow)",
        kib(full_bytes[0]),
        kib(*full_bytes.last().expect("some"))
    );
    println!(
        "  {:<40} {:>15.1} KiB  ({:.1} KiB per block stored)",
        "file size after the run",
        kib(file_size),
        kib(file_size) / height as f64
    );
    println!(
        "{:<58} {:>6.1} KiB  goal ≤ {:.0} KiB: {}",
        "empty block bytes",
        kib(empty_m),
        kib(EMPTY_BYTES_GOAL),
        verdict(empty_m <= EMPTY_BYTES_GOAL)
    );
    println!(
        "{:<58} {:>6.2}  (an empty block's bytes / a bare one-key commit's)",
        "empty block / bare commit", empty_vs_bare
    );
    println!();
    let fmt_os =
        |os: Option<f64>| os.map_or("n/a".to_string(), |b| format!("{:.1} KiB", b / 1024.0));
    let every = goodwill::peer::policy::FORGER_DURABLE_BLOCKS;
    let one = forger_bytes(&f.forger, 1, false, true);
    let default = forger_bytes(&f.forger, every, false, true);
    let forging = forger_bytes(&f.forger, every, true, true);
    let unpruned = forger_bytes(&f.forger, every, false, false);
    let (imp_1, imp_1_os) = (one.counted, one.os);
    let (imp, imp_os) = (default.counted, default.os);
    let (forged, forged_os) = (forging.counted, forging.os);
    println!(
        "a forger's store (no indexes), {} empty blocks, bytes per block after making all durable:",
        f.forger.len()
    );
    for (what, counted, os) in [
        (
            "imported, every block durable (--durable-blocks 1)".to_string(),
            imp_1,
            imp_1_os,
        ),
        (
            format!("imported, every {every}th durable (the default)"),
            imp,
            imp_os,
        ),
        (
            format!("forged: signing record + block, every {every}th durable"),
            forged,
            forged_os,
        ),
    ] {
        println!(
            "  {what:<58} counted {:>7.1} KiB  kernel write_bytes {}",
            counted / 1024.0,
            fmt_os(os)
        );
    }
    println!(
        "  {:<58} first {every}: {:.1} KiB/block, last {every}: {:.1} KiB/block (every block durable: {:.1} and {:.1})",
        "as the chain grows (counted)",
        default.first / 1024.0,
        default.last / 1024.0,
        one.first / 1024.0,
        one.last / 1024.0
    );
    println!(
        "  {:<58} {:.1} KiB/block, last {every}: {:.1} KiB/block; file {:.0} KiB (pruned: {:.0} KiB)",
        format!("imported, every {every}th durable, --keep-blocks all"),
        unpruned.counted / 1024.0,
        unpruned.last / 1024.0,
        kib(unpruned.file),
        kib(default.file)
    );
    // The kernel's figure is what reaches the card (a 512-byte record is a
    // 4 KiB page); where /proc/self/io is unreadable, the counted one.
    let to_disk = |counted: f64, os: Option<f64>| os.unwrap_or(counted) as u64;
    let (imp_disk, forged_disk) = (to_disk(imp, imp_os), to_disk(forged, forged_os));
    println!(
        "{:<58} {:>6.1} KiB  goal ≤ {:.0} KiB: {}",
        "forger: bytes to the disk per imported block",
        kib(imp_disk),
        kib(FORGER_IMPORT_GOAL),
        verdict(imp_disk <= FORGER_IMPORT_GOAL)
    );
    println!(
        "{:<58} {:>6.1} KiB  goal ≤ {:.0} KiB: {}",
        "forger: bytes to the disk per forged block",
        kib(forged_disk),
        kib(FORGER_FORGED_GOAL),
        verdict(forged_disk <= FORGER_FORGED_GOAL)
    );
    println!();
    println!(
        "store: import_ratio={ratio:.3} import_ratio_all_cores={ratio_all:.3} cores_ceiling={ceiling:.2} empty_block_bytes={empty_m} full_block_bytes={full_m} bare_commit_bytes={bare_m} empty_vs_bare={empty_vs_bare:.2} blocks_per_s={blocks_per_s:.1} forger_import_bytes={imp_disk} forger_forged_bytes={forged_disk}"
    );
}
