//! A damaged store is refused — never started afresh, served, or a panic.
//!
//! - A store file that held a chain and is now zeroed, emptied, missing or
//!   without a header is refused (the marker beside it says it held one).
//! - Bytes flipped anywhere in a store file give a clean error at open or
//!   the right answers after it (the store's own checks, redb's panics
//!   caught at the door); flipped in the last blocks, they are refused at
//!   open.
//! - Through the real binary: `goodwill node` and `goodwill forge` refuse a
//!   damaged store with exit status 2 and name the way back, which works.

use crate::common;

use std::path::{Path, PathBuf};

use goodwill::chain::block::Block;
use goodwill::ledger::state::{StateKey, StateValue, Tip};
use goodwill::store::{Indexes, Store, StoreError, FILE_NAME, LOG_FILE, MARKER, STATE_FILE_NAME};
use goodwill::testkit::{TestNet, TestNetConfig};

const WAIT_MS: u64 = 30_000;

/// A network whose finality depth covers the whole test chain, so the
/// check at open covers all of it.
fn net() -> TestNet {
    TestNet::new(&TestNetConfig {
        finality_depth: 16,
        ..TestNetConfig::default()
    })
}

struct Built {
    net: TestNet,
    blocks: Vec<Block>,
    tip: Tip,
    entries: Vec<(StateKey, StateValue)>,
    bytes: Vec<u8>,
    /// Its state file's bytes.
    state_bytes: Vec<u8>,
}

/// A main node's store in `dir` with six blocks of transfers and a signing
/// record; returns it closed, with its file's bytes.
fn build(dir: &Path) -> Built {
    let net = net();
    let store = Store::open(dir, &net.params).unwrap();
    let mut chain = net.chain();
    let mut blocks = Vec::new();
    for i in 0..6 {
        let to = net.users[(i + 1) % net.users.len()].public();
        let tx = chain.transfer_from_user(i % net.users.len(), to, 1_000 + i as u64);
        let b = chain.forge(vec![tx]);
        store
            .import_block(&b, goodwill::testkit::EVERY_SLOT_STARTED)
            .unwrap();
        blocks.push(b);
    }
    store
        .record_signature(&net.forgers[0].public(), 40_211, &blocks[5].hash())
        .unwrap();
    let tip = store.tip().unwrap();
    let entries = store.state_entries().unwrap();
    drop(store);
    let bytes = std::fs::read(dir.join(FILE_NAME)).unwrap();
    let state_bytes = std::fs::read(dir.join(STATE_FILE_NAME)).unwrap();
    Built {
        net,
        blocks,
        tip,
        entries,
        bytes,
        state_bytes,
    }
}

fn damaged(r: Result<Store, StoreError>) -> String {
    match r {
        Err(e @ StoreError::Damaged { .. }) => e.to_string(),
        Err(e) => panic!("refused, but not as damaged: {e}"),
        Ok(_) => panic!("a damaged store was opened"),
    }
}

#[test]
fn a_store_that_held_a_chain_is_refused_when_zeroed_emptied_missing_or_headless() {
    let dir = tempfile::tempdir().unwrap();
    let b = build(dir.path());
    let file = dir.path().join(FILE_NAME);
    assert!(
        dir.path().join(MARKER).exists(),
        "the first commit marks it"
    );

    // Zeroed, the same size: refused, and left as it is.
    std::fs::write(&file, vec![0u8; b.bytes.len()]).unwrap();
    let e = damaged(Store::open(dir.path(), &b.net.params));
    for needle in ["zeroed", "goodwill signing-record import", "re-syncs"] {
        assert!(e.contains(needle), "{e}: should say {needle}");
    }
    damaged(Store::open_existing(dir.path()));
    assert_eq!(std::fs::read(&file).unwrap(), vec![0u8; b.bytes.len()]);

    // Empty.
    std::fs::write(&file, b"").unwrap();
    assert!(damaged(Store::open(dir.path(), &b.net.params)).contains("empty"));
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 0, "not recreated");

    // Another header.
    let mut other = b.bytes.clone();
    other[..4].copy_from_slice(b"RIFF");
    std::fs::write(&file, &other).unwrap();
    assert!(damaged(Store::open(dir.path(), &b.net.params)).contains("no valid header"));

    // Gone.
    std::fs::remove_file(&file).unwrap();
    assert!(damaged(Store::open(dir.path(), &b.net.params)).contains("missing"));
    assert!(!file.exists(), "not recreated");

    // Put back, it opens where it was.
    std::fs::write(&file, &b.bytes).unwrap();
    let store = Store::open(dir.path(), &b.net.params).unwrap();
    assert_eq!(store.tip().unwrap(), b.tip);
}

#[test]
fn a_state_file_with_another_header_is_named_by_every_opening() {
    let dir = tempfile::tempdir().unwrap();
    let b = build(dir.path());
    let mut other = b.state_bytes.clone();
    other[..4].copy_from_slice(b"RIFF");
    std::fs::write(dir.path().join(STATE_FILE_NAME), &other).unwrap();
    // `chain verify` and the signing record's export open it so too.
    for e in [
        damaged(Store::open(dir.path(), &b.net.params)),
        damaged(Store::open_existing(dir.path())),
    ] {
        assert!(
            e.contains(STATE_FILE_NAME),
            "{e}: should name the state file"
        );
    }
}

#[test]
fn a_data_directory_that_is_a_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let not_dir = dir.path().join("data");
    std::fs::write(&not_dir, b"").unwrap();
    let e = Store::open(&not_dir, &net().params)
        .unwrap_err()
        .to_string();
    assert!(e.contains("is not a directory"), "{e}");
}

/// The offsets of `bytes` to flip: every `step`th of those that are not
/// zero (the pages in use) and every `step * 8`th zero.
fn offsets(bytes: &[u8], step: usize) -> Vec<usize> {
    let (mut nz, mut z) = (0usize, 0usize);
    let mut out = Vec::new();
    for (i, b) in bytes.iter().enumerate() {
        if *b != 0 {
            nz += 1;
            if nz % step == 0 {
                out.push(i);
            }
        } else {
            z += 1;
            if z % (step * 8) == 0 {
                out.push(i);
            }
        }
    }
    out
}

/// Flips a byte at each offset; each must give a clean error at open (no
/// panic), or a store whose answers are right: its tip the last block or
/// the one before (redb falls back to the previous commit when its newest
/// commit slot does not verify), a chain that verifies, and at the last
/// tip, the state as it was.
fn sweep(name: &str, step: usize, also: &[usize]) {
    let dir = tempfile::tempdir().unwrap();
    let b = build(dir.path());
    let originals = [
        (FILE_NAME, b.bytes.clone()),
        (STATE_FILE_NAME, b.state_bytes.clone()),
    ];
    let original = &originals.iter().find(|(n, _)| *n == name).unwrap().1;
    let parent_tip = b.blocks[b.blocks.len() - 2].hash();
    let (mut refused, mut same, mut previous) = (0, 0, 0);
    let mut panics = Vec::new();
    let mut offsets = offsets(original, step);
    offsets.extend(also.iter().filter(|a| **a < original.len()));
    for &at in &offsets {
        // Both files as built (opening may have written to them), one byte
        // of one of them flipped.
        for (n, bytes) in &originals {
            let mut bytes = bytes.clone();
            if *n == name {
                bytes[at] ^= 0x5a;
            }
            std::fs::write(dir.path().join(n), &bytes).unwrap();
        }
        match Store::open(dir.path(), &b.net.params) {
            Err(e) => {
                refused += 1;
                if e.to_string().contains("panicked") {
                    panics.push((at, e.to_string()));
                }
            }
            Ok(store) => {
                let tip = store.tip().unwrap();
                match store.verify_chain() {
                    Ok(_) => {}
                    Err(e) => panic!("offset {at}: opened, but the chain does not verify: {e}"),
                }
                if tip == b.tip {
                    assert_eq!(
                        store.state_entries().unwrap(),
                        b.entries,
                        "offset {at}: opened at the tip with another state"
                    );
                    same += 1;
                } else {
                    assert_eq!(tip.hash, parent_tip, "offset {at}: opened at {tip:?}");
                    previous += 1;
                }
            }
        }
    }
    println!(
        "{} flips in a {}-byte {name}: {refused} refused at open ({} of them redb panics caught), \
         {same} opened unchanged, {previous} opened at the previous commit",
        offsets.len(),
        original.len(),
        panics.len()
    );
    for (at, e) in panics.iter().take(5) {
        println!("  panic caught at offset {at}: {e}");
    }
    assert!(refused > 0 && same > 0);
}

/// Offsets of this test's store where one flipped byte made redb 4.4.0
/// panic: loading the allocator state in `Builder::create_with_backend`
/// (`buddy_allocator.rs:136`, `buddy_allocator.rs:306` in a debug build,
/// `region.rs:64`) and committing it in `Database::drop`
/// (`bitmap.rs:275`). The store is built the same way each time, so they
/// stay where they are while redb's format and the store's tables do (the
/// first four were found before the state moved to its own file, 22,473
/// after).
const PANICKED_REDB: [usize; 5] = [28_749, 29_052, 32_874, 33_489, 22_473];
/// The same in the state file: loading its allocator state and bringing
/// it up to the blocks (`table_tree.rs:212`, a bitmap assertion).
const PANICKED_REDB_STATE: [usize; 3] = [45_081, 61_457, 61_625];

#[test]
fn flipped_bytes_give_clean_errors_or_the_right_answers() {
    sweep(FILE_NAME, 997, &PANICKED_REDB);
    sweep(STATE_FILE_NAME, 397, &PANICKED_REDB_STATE);
}

#[test]
#[ignore = "slow: a wider flip sweep (every 5th byte in use)"]
fn flipped_bytes_give_clean_errors_or_the_right_answers_wide() {
    sweep(FILE_NAME, 5, &PANICKED_REDB);
    sweep(STATE_FILE_NAME, 97, &PANICKED_REDB_STATE);
}

/// A main node's state file deleted or emptied is rebuilt from its blocks
/// at open: the same tip, the same state.
#[test]
fn a_lost_state_file_is_rebuilt_from_the_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let b = build(dir.path());
    let state = dir.path().join(STATE_FILE_NAME);
    std::fs::remove_file(&state).unwrap();
    let store = Store::open(dir.path(), &b.net.params).unwrap();
    assert_eq!(store.tip().unwrap(), b.tip);
    assert_eq!(store.state_entries().unwrap(), b.entries);
    drop(store);
    std::fs::write(&state, []).unwrap();
    let store = Store::open(dir.path(), &b.net.params).unwrap();
    assert_eq!(store.tip().unwrap(), b.tip);
    assert_eq!(store.state_entries().unwrap(), b.entries);
    store.verify_chain().unwrap();
}

/// Every occurrence of `needle` in `hay`.
fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn a_flipped_byte_in_the_last_blocks_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let b = build(dir.path());
    let file = dir.path().join(FILE_NAME);
    let mut checked = 0;
    for block in [&b.blocks[5], &b.blocks[2]] {
        let enc = block.to_bytes();
        let at = find_all(&b.bytes, &enc);
        assert!(!at.is_empty(), "the block's bytes are in the file");
        // The signature (the header's last 64 bytes before the
        // transactions), the transactions, and a byte every 17.
        for i in (0..enc.len()).step_by(17).chain([enc.len() - 1]) {
            let mut bytes = b.bytes.clone();
            for a in &at {
                bytes[a + i] ^= 0x01;
            }
            std::fs::write(&file, &bytes).unwrap();
            let e = damaged(Store::open(dir.path(), &b.net.params));
            // Found at the block, or at its child (whose parent's digest
            // no longer chains).
            let h = block.height();
            assert!(
                e.contains(&format!("height {h}:")) || e.contains(&format!("height {}:", h + 1)),
                "{e}"
            );
            checked += 1;
        }
    }
    println!("{checked} flips in two stored blocks, each refused at open");
}

fn genesis_file(dir: &Path, net: &TestNet) -> PathBuf {
    let g = dir.join("genesis.toml");
    std::fs::write(&g, net.params.to_file_text()).unwrap();
    g
}

#[test]
fn the_binary_refuses_a_damaged_store_with_exit_status_2_and_the_way_back_works() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let b = build(&data);
    let genesis = genesis_file(dir.path(), &b.net);
    let key = common::keygen(dir.path(), "forger", WAIT_MS);
    let file = data.join(FILE_NAME);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let addr = common::free_addr().to_string();
    let node = common::node_args(&s(&data), &s(&genesis), &addr);
    let forge = common::forge_args(&s(&data), &s(&genesis), &key.file, &addr, &addr);

    // A flipped byte in the tip block: refused by both, with status 2.
    let enc = b.blocks[5].to_bytes();
    let mut bytes = b.bytes.clone();
    for a in find_all(&b.bytes, &enc) {
        bytes[a + enc.len() / 2] ^= 0x10;
    }
    std::fs::write(&file, &bytes).unwrap();
    let out = common::run(&common::strs(&node), WAIT_MS);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("is damaged"), "{}", out.stderr);
    assert!(
        out.stderr.contains("goodwill signing-record import"),
        "{}",
        out.stderr
    );
    let out = common::run(&common::strs(&forge), WAIT_MS);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("is damaged"), "{}", out.stderr);
    assert!(out.stderr.contains("red:on"), "the red LED: {}", out.stderr);
    assert!(!out.stderr.contains("goodwill node:"), "{}", out.stderr);

    // The record still exports from it; moved aside, a new store takes it.
    let record = dir.path().join("record.json");
    common::run_ok(
        &[
            "signing-record",
            "export",
            "--data",
            &s(&data),
            "--out",
            &s(&record),
        ],
        WAIT_MS,
    );
    // Zeroed: refused too.
    std::fs::write(&file, vec![0u8; bytes.len()]).unwrap();
    let out = common::run(&common::strs(&node), WAIT_MS);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("zeroed"), "{}", out.stderr);
    let aside = dir.path().join("aside");
    std::fs::create_dir(&aside).unwrap();
    std::fs::rename(&file, aside.join(FILE_NAME)).unwrap();
    std::fs::rename(data.join(MARKER), aside.join(MARKER)).unwrap();
    // The signing log is a file of its own, untouched by the store's damage:
    // moved aside with the store, as docs/operate.md says, the exported
    // record brings it back.
    assert!(data.join(LOG_FILE).exists());
    std::fs::rename(data.join(LOG_FILE), aside.join(LOG_FILE)).unwrap();
    let out = common::run_ok(
        &[
            "signing-record",
            "import",
            "--data",
            &s(&data),
            "--genesis",
            &s(&genesis),
            "--file",
            &s(&record),
        ],
        WAIT_MS,
    );
    assert!(out.stdout.contains("imported 1 new"), "{out:?}");
    let store = Store::open_with(&data, &b.net.params, Indexes::Skip).unwrap();
    assert_eq!(
        store.last_signed_slot(&b.net.forgers[0].public()).unwrap(),
        Some(40_211)
    );
    assert_eq!(store.tip().unwrap().height, 0, "the chain re-syncs");
    drop(store);

    // A data directory that is a file: named, status 2.
    let not_dir = dir.path().join("not-a-dir");
    std::fs::write(&not_dir, b"").unwrap();
    let node = common::node_args(&s(&not_dir), &s(&genesis), &addr);
    let out = common::run(&common::strs(&node), WAIT_MS);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("is not a directory"), "{}", out.stderr);
    assert!(!out.stderr.contains("os error 17"), "{}", out.stderr);
}
