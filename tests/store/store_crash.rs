//! Crash safety by fault injection, the way redb's own fuzz harness does it:
//! the store runs on a [`SimDisk`] that fails its Nth write or sync (and
//! every one after it). For every N over a run of imports that includes a
//! side branch and a reorganisation, the disk is "crashed" (power cut: only
//! synced bytes survive; process kill: every completed write survives), the
//! store is reopened, and its state must equal the reference model's state
//! after the last import that returned `Ok` — or after the import that was in
//! flight, since a commit may be durable before it returns. The reopened
//! store must verify and accept the rest of the run.

use goodwill::testkit::EVERY_SLOT_STARTED;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use goodwill::chain::block::Block;
use goodwill::chain::crypto::Hash;
use goodwill::ledger::fork::{self, Head};
use goodwill::ledger::state::{MemState, StateKey, StateValue};
use goodwill::store::{CrashKind, Imported, SimDisk, Store, StoreError};
use goodwill::testkit::{TestNet, TestNetConfig};

type Entries = Vec<(StateKey, StateValue)>;

fn entries(state: &MemState) -> Entries {
    state.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn open(disk: &SimDisk, net: &TestNet) -> Result<Store, StoreError> {
    Store::with_backend(
        disk.clone(),
        &net.params,
        "sim".into(),
        Arc::new(AtomicU64::new(0)),
    )
}

/// A store's blocks file and its state file, on one disk: a fault counts
/// the operations of both, and a crash takes both at the same instant.
#[derive(Clone)]
struct Disks {
    blocks: SimDisk,
    state: SimDisk,
}

impl Disks {
    fn new() -> Disks {
        let blocks = SimDisk::new();
        Disks {
            state: blocks.sibling(),
            blocks,
        }
    }
    fn crash(&self, kind: CrashKind) -> Disks {
        let blocks = self.blocks.crash(kind);
        Disks {
            state: self.state.crash_beside(kind, &blocks),
            blocks,
        }
    }
}

/// Opens a store on both disks, with every `every`th block commit durable
/// (a forger's store when above 1) and its state durable every 2nd block,
/// so that the sweep meets a state that lags its blocks and one left on a
/// branch they switched away from.
fn open_every(disks: &Disks, net: &TestNet, every: u64) -> Result<Store, StoreError> {
    open_as(disks, net, Keeping::node(every))
}

/// How a swept store keeps its blocks: every how many commits one is
/// durable, and whether it keeps the indexes (a main node) or not (a
/// forger, whose store also holds the pages it writes between durable
/// commits in memory: `store::HOLD_WRITES_BYTES`).
#[derive(Debug, Clone, Copy)]
struct Keeping {
    every: u64,
    indexes: goodwill::store::Indexes,
    /// Whether it prunes bodies below the finality depth (`goodwill forge`
    /// without `--keep-blocks all`); the scenario's chain then has a
    /// finality depth of 3, so that pruning reaches the branch it switches.
    prunes: bool,
}

impl Keeping {
    fn node(every: u64) -> Keeping {
        Keeping {
            every,
            indexes: goodwill::store::Indexes::Keep,
            prunes: false,
        }
    }
}

fn open_as(disks: &Disks, net: &TestNet, k: Keeping) -> Result<Store, StoreError> {
    let every = k.every;
    let store = Store::with_backends(
        disks.blocks.clone(),
        SimDisk::new(),
        disks.state.clone(),
        &net.params,
        "sim".into(),
        "sim signing log".into(),
        Arc::new(AtomicU64::new(0)),
        k.indexes,
    )?;
    store.set_durable_every(every);
    store.set_state_durable_every(2);
    store.set_pruning(k.prunes);
    Ok(store)
}

/// What an import is expected to do, per the reference model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Extended,
    SideBranch,
    Reorganised,
}

fn kind_of(r: &Imported) -> Option<Kind> {
    match r {
        Imported::Extended { .. } => Some(Kind::Extended),
        Imported::SideBranch { .. } => Some(Kind::SideBranch),
        Imported::Reorganised { .. } => Some(Kind::Reorganised),
        Imported::AlreadyKnown => None,
    }
}

/// The run: blocks in import order, and the reference model's view after
/// each prefix of it.
struct Scenario {
    net: TestNet,
    seq: Vec<Block>,
    /// `expected[i]`: the state after the first `i` imports (`expected[0]`
    /// is genesis).
    expected: Vec<Entries>,
    /// `tips[i]`: the canonical tip hash after the first `i` imports.
    tips: Vec<Hash>,
    /// `kinds[i]`: what importing `seq[i]` does on a store that holds
    /// exactly `seq[..i]`.
    kinds: Vec<Kind>,
}

/// Chain A: 8 blocks with transfers. Chain B forks from A at height 5, in a
/// later slot, with other transfers, and grows to height 10. Imported A then
/// B, so B is first a side branch and then wins.
fn scenario(k: Keeping) -> Scenario {
    let net = TestNet::new(&TestNetConfig {
        finality_depth: if k.prunes { 3 } else { 8 },
        ..TestNetConfig::default()
    });
    let genesis_id = net.params.chain_id();
    let mut state_after: BTreeMap<Hash, Entries> = BTreeMap::new();
    let mut a = net.chain();
    state_after.insert(genesis_id, entries(&a.state));
    let mut b = None;
    for i in 0..8usize {
        if i == 5 {
            b = Some(a.clone());
        }
        let tx = a.transfer_from_user(i % 4, net.users[(i + 1) % 4].public(), 1_000 + i as u64);
        let blk = a.forge(vec![tx]);
        state_after.insert(blk.hash(), entries(&a.state));
    }
    let mut b = b.expect("cloned at height 5");
    let a6_slot = a.blocks[5].header.header.slot;
    for i in 0..5usize {
        let tx = b.transfer_from_user((i + 2) % 4, net.users[i % 4].public(), 7_000 + i as u64);
        let after = if i == 0 { a6_slot + 3 } else { 0 };
        let blk = b.forge_after(after, vec![tx]);
        state_after.insert(blk.hash(), entries(&b.state));
    }
    assert_ne!(a.blocks[5].hash(), b.blocks[5].hash());
    let seq: Vec<Block> = a.blocks.iter().chain(&b.blocks[5..]).cloned().collect();

    // The model: after each prefix, the canonical tip is the best head (fork
    // choice) among the blocks imported so far (all of them connect, and no
    // switch here undoes more than the finality depth).
    let mut best = Head {
        height: 0,
        hash: genesis_id,
    };
    let mut expected = vec![state_after[&genesis_id].clone()];
    let mut tips = vec![genesis_id];
    let mut kinds = Vec::new();
    for blk in &seq {
        let head = Head {
            height: blk.height(),
            hash: blk.hash(),
        };
        let kind = if fork::compare(&head, &best) != std::cmp::Ordering::Greater {
            Kind::SideBranch
        } else if blk.header.header.parent == best.hash {
            Kind::Extended
        } else {
            Kind::Reorganised
        };
        if kind != Kind::SideBranch {
            best = head;
        }
        kinds.push(kind);
        expected.push(state_after[&best.hash].clone());
        tips.push(best.hash);
    }
    assert!(kinds.contains(&Kind::SideBranch), "{kinds:?}");
    assert!(kinds.contains(&Kind::Reorganised), "{kinds:?}");
    assert_eq!(*tips.last().unwrap(), b.blocks[9].hash());
    Scenario {
        net,
        seq,
        expected,
        tips,
        kinds,
    }
}

/// The run without a fault: every import does what the model says. Returns
/// the number of disk operations, including those of closing the store.
fn clean_run(s: &Scenario, k: Keeping) -> u64 {
    let disks = Disks::new();
    let disk = &disks.blocks;
    let store = open_as(&disks, &s.net, k).unwrap();
    assert_eq!(store.state_entries().unwrap(), s.expected[0]);
    for (i, blk) in s.seq.iter().enumerate() {
        let r = store.import_block(blk, EVERY_SLOT_STARTED).unwrap();
        assert_eq!(kind_of(&r), Some(s.kinds[i]), "import {i}: {r:?}");
        assert_eq!(store.tip().unwrap().hash, s.tips[i + 1], "import {i}");
        assert_eq!(
            store.state_entries().unwrap(),
            s.expected[i + 1],
            "import {i}"
        );
    }
    drop(store);
    assert!(!disk.failed());
    disk.ops()
}

/// What one faulty run left behind.
struct Outcome {
    /// Whether opening the store failed.
    open_failed: bool,
    /// How many imports returned `Ok` (they are `seq[..ok]`).
    ok: usize,
    /// Whether `seq[ok]` was in flight when the failure hit.
    in_flight: bool,
}

fn faulty_run(s: &Scenario, disks: &Disks, n: u64, k: Keeping) -> Outcome {
    let disk = &disks.blocks;
    let store = match open_as(disks, &s.net, k) {
        Ok(store) => store,
        Err(_) => {
            assert!(
                disk.failed(),
                "N={n}: opening failed without the injected fault"
            );
            return Outcome {
                open_failed: true,
                ok: 0,
                in_flight: false,
            };
        }
    };
    let mut ok = 0;
    let mut in_flight = false;
    for blk in &s.seq {
        match store.import_block(blk, EVERY_SLOT_STARTED) {
            Ok(_) => ok += 1,
            Err(e) => {
                assert!(
                    disk.failed(),
                    "N={n}: import {ok} failed without the fault: {e}"
                );
                assert!(e.is_fatal(), "N={n}: a storage failure is fatal: {e:?}");
                in_flight = true;
                break;
            }
        }
    }
    if in_flight {
        // The store refuses further work without reopening: neither the
        // failed block again nor the next one goes in.
        for blk in s.seq[ok..].iter().take(2) {
            match store.import_block(blk, EVERY_SLOT_STARTED) {
                Err(e) => assert!(e.is_fatal(), "N={n}: after the failure: {e:?}"),
                Ok(r) => panic!("N={n}: the store went on after a storage failure: {r:?}"),
            }
        }
    }
    drop(store);
    assert!(disk.failed(), "N={n}: the fault never fired");
    Outcome {
        open_failed: false,
        ok,
        in_flight,
    }
}

/// Reopens the crashed disk and checks it against the model; then runs the
/// rest of the sequence. Returns whether the in-flight import turned out
/// durable, and whether reopening took blocks back to the state. With
/// every `every`th commit durable, up to `every - 1` imports that returned
/// may be lost (none when `every` is 1).
fn check_recovery(
    s: &Scenario,
    crashed: Disks,
    o: &Outcome,
    n: u64,
    kind: CrashKind,
    k: Keeping,
) -> (bool, bool) {
    let every = k.every;
    let ctx = format!("N={n} {kind:?} (ok={}, in_flight={})", o.ok, o.in_flight);
    let store = open_as(&crashed, &s.net, k).unwrap_or_else(|e| panic!("{ctx}: reopen: {e}"));
    let taken_back = store.taken_back_at_open() > 0;
    let state = store.state_entries().unwrap();
    let tip = store.tip().unwrap().hash;
    let hi = if o.in_flight { o.ok + 1 } else { o.ok };
    let least = o.ok.saturating_sub(every as usize - 1);
    // The store holds some prefix seq[..j], least <= j <= hi: its state and
    // tip are those after import j (a side block leaves them as they were,
    // so j itself is found by importing again below).
    assert!(
        (least..=hi).any(|i| state == s.expected[i] && tip == s.tips[i]),
        "{ctx}: reopened at tip {tip}, which is the state after no import from {least} to {hi}"
    );
    if o.open_failed {
        assert_eq!(tip, s.net.params.chain_id(), "{ctx}");
    }
    if k.indexes == goodwill::store::Indexes::Keep {
        log_replays_to_the_chain(&store, &ctx);
    }
    match store.verify_chain() {
        Ok(_) => {}
        // A pruned store says it cannot replay; check_at_open checked the
        // bodies it keeps when it reopened.
        Err(goodwill::store::VerifyError::Pruned { .. }) if k.prunes => {}
        Err(e) => panic!("{ctx}: verify_chain: {e}"),
    }
    // Imported again from the oldest possible: the blocks it holds are a run
    // from there (known already), and every block after the run does what
    // the model says of a store holding exactly the blocks before it.
    let mut held = least;
    for (i, blk) in s.seq.iter().enumerate().skip(least) {
        let r = store
            .import_block(blk, EVERY_SLOT_STARTED)
            .unwrap_or_else(|e| panic!("{ctx}: import {i} after reopening: {e}"));
        match kind_of(&r) {
            None => {
                assert!(
                    held == i && i < hi,
                    "{ctx}: import {i} already known, but the store held only imports {least}..{held}"
                );
                held = i + 1;
                continue;
            }
            Some(k) => assert_eq!(k, s.kinds[i], "{ctx}: import {i}"),
        }
        assert_eq!(
            store.tip().unwrap().hash,
            s.tips[i + 1],
            "{ctx}: import {i}"
        );
    }
    assert_eq!(
        store.state_entries().unwrap(),
        *s.expected.last().unwrap(),
        "{ctx}: final state"
    );
    if k.indexes == goodwill::store::Indexes::Keep {
        // A forger's lean store keeps no chain-event log.
        log_replays_to_the_chain(&store, &ctx);
    }
    (held > o.ok, taken_back)
}

/// The chain-event log, replayed (push on connect, pop on retract), is the
/// canonical chain: it was written in the commits that moved the chain, so
/// no crash leaves it ahead of or behind it.
fn log_replays_to_the_chain(store: &Store, ctx: &str) {
    let snap = store.snapshot().unwrap();
    let mut chain = Vec::new();
    for (i, e) in snap.chain_events(0, 1_000).unwrap().iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "{ctx}: {e:?}");
        if e.connected {
            assert_eq!(e.height, chain.len() as u64 + 1, "{ctx}: {e:?}");
            chain.push(e.hash);
        } else {
            assert_eq!(chain.pop(), Some(e.hash), "{ctx}: {e:?}");
        }
    }
    for (i, h) in chain.iter().enumerate() {
        assert_eq!(snap.hash_at(i as u64 + 1).unwrap(), Some(*h), "{ctx}");
    }
    assert_eq!(snap.hash_at(chain.len() as u64 + 1).unwrap(), None, "{ctx}");
}

#[test]
fn every_write_and_sync_can_fail() {
    sweep(Keeping::node(1));
}

/// The same with a forger's store, whose commits are durable every 3rd
/// block only (`--durable-blocks 3`; 1,024 by default): a crash loses at most
/// the two before, never opens on anything but a committed prefix.
#[test]
fn every_write_and_sync_can_fail_when_only_every_third_commit_is_durable() {
    sweep(Keeping::node(3));
}

/// The same with a forger's store as `goodwill forge` keeps it: no indexes,
/// and what redb writes between durable commits held in memory until the
/// durable one writes it out and syncs.
#[test]
fn every_write_and_sync_can_fail_in_a_forgers_store_that_holds_its_writes() {
    sweep(Keeping {
        every: 3,
        indexes: goodwill::store::Indexes::Skip,
        prunes: false,
    });
}

/// The same with a forger's store that prunes the bodies below the
/// finality depth, the bodies above its state's last durable commit
/// included: a crash between its two files' durable commits leaves the
/// state behind bodies that are gone, and the reopened store takes its
/// blocks back to the state rather than refusing to open.
#[test]
fn every_write_and_sync_can_fail_in_a_forgers_store_that_prunes() {
    // Six blocks between durable commits, more than the finality depth
    // keeps: the bodies a lagging state would apply again are pruned.
    sweep(Keeping {
        every: 6,
        indexes: goodwill::store::Indexes::Skip,
        prunes: true,
    });
}

fn sweep(k: Keeping) {
    let s = scenario(k);
    let total = clean_run(&s, k);
    assert!(total > s.seq.len() as u64, "{total} disk operations");
    let mut opens_failed = 0;
    let mut imports_failed = 0;
    let mut close_failed = 0;
    let mut durable_in_flight = [0u32; 2];
    let mut taken_back = 0u32;
    // Under the ARM emulators, a share of the fault points, spread over the
    // whole run (the host takes every one).
    let mut exercised = 0;
    for n in crate::common::fault_points(total) {
        exercised += 1;
        let disks = Disks::new();
        disks.blocks.fail_after(n);
        let o = faulty_run(&s, &disks, n, k);
        if o.open_failed {
            opens_failed += 1;
        } else if o.in_flight {
            imports_failed += 1;
        } else {
            close_failed += 1;
        }
        for (i, kind) in [CrashKind::PowerCut, CrashKind::ProcessKill]
            .into_iter()
            .enumerate()
        {
            let (durable, back) = check_recovery(&s, disks.crash(kind), &o, n, kind, k);
            durable_in_flight[i] += u32::from(durable);
            taken_back += u32::from(back);
        }
    }
    println!(
        "fault points N exercised: {exercised} of {total} disk operations \
         ({opens_failed} while opening, {imports_failed} during an import, {close_failed} while closing); \
         failed import durable anyway: {} after a power cut, {} after a process kill; \
         blocks taken back to the state at {taken_back} reopening(s)",
        durable_in_flight[0], durable_in_flight[1]
    );
    assert!(
        opens_failed > 0 && imports_failed > 0,
        "the faults must hit both opening and importing"
    );
    // Only a store that prunes ever needs to; one that does must meet it
    // (the crash between its two files' durable commits).
    assert_eq!(
        taken_back > 0,
        k.prunes,
        "{taken_back} reopening(s) took blocks back"
    );
}

/// A creation cut short leaves a sized file with no magic number and nothing
/// after redb's header page: the store starts over on it. Anything else that
/// is not a redb file is refused and left as it is.
#[test]
fn a_creation_cut_short_starts_over_but_other_files_are_kept() {
    use goodwill::store::FILE_NAME;
    use redb::StorageBackend;

    let net = TestNet::new(&TestNetConfig::default());
    let genesis = net.params.chain_id();

    // A torn creation: sized, a header without its magic number, zeros.
    let disk = SimDisk::new();
    disk.set_len(1 << 20).unwrap();
    disk.write(9, &[3, 0, 0, 0, 16]).unwrap();
    let store = open(&disk, &net).unwrap();
    assert_eq!(store.tip().unwrap().hash, genesis);
    store.verify_chain().unwrap();
    drop(store);

    // The same on a real file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(FILE_NAME), vec![0u8; 1 << 20]).unwrap();
    let store = Store::open(dir.path(), &net.params).unwrap();
    assert_eq!(store.tip().unwrap().hash, genesis);
    drop(store);

    // A store whose magic number was damaged still holds data: refused, kept.
    let disk = SimDisk::new();
    let store = open(&disk, &net).unwrap();
    let mut chain = net.chain();
    let b = chain.forge(vec![]);
    store.import_block(&b, EVERY_SLOT_STARTED).unwrap();
    store
        .record_signature(&net.forgers[0].public(), 7, &b.hash())
        .unwrap();
    drop(store);
    disk.write(0, &[0; 9]).unwrap();
    let damaged = disk.crash(CrashKind::ProcessKill);
    let len = damaged.len().unwrap();
    let e = open(&damaged, &net).unwrap_err();
    assert!(e.to_string().contains("redb"), "{e}");
    assert_eq!(
        damaged.len().unwrap(),
        len,
        "a damaged store is not emptied"
    );
    disk.write(0, b"redb\x1A\x0A\xA9\x0D\x0A").unwrap();
    let repaired = disk.crash(CrashKind::ProcessKill);
    let store = open(&repaired, &net).unwrap();
    assert_eq!(
        store.tip().unwrap().hash,
        b.hash(),
        "the data was still there"
    );

    // A foreign file is refused and left alone.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    std::fs::write(&path, b"not a database").unwrap();
    assert!(Store::open(dir.path(), &net.params).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), b"not a database");
}

/// A store that holds block commits in memory holds them by count
/// (`set_durable_every`) and by size (`set_held_bytes`; 8 MiB of blocks by
/// default): a power cut takes back at most the blocks held, so with big
/// blocks what is fetched again stays bounded however high the count.
#[test]
fn a_power_cut_takes_back_no_more_than_the_bytes_a_store_holds() {
    let net = TestNet::new(&TestNetConfig::default());
    let mut chain = net.chain();
    let blocks: Vec<Block> = (0..12).map(|_| chain.forge(vec![])).collect();
    let biggest = blocks.iter().map(|b| b.to_bytes().len()).max().unwrap() as u64;

    // Held by count alone: the power cut takes every block back.
    let disks = Disks::new();
    let store = open_every(&disks, &net, 1_000).unwrap();
    for b in &blocks {
        store.import_block(b, EVERY_SLOT_STARTED).unwrap();
    }
    assert_eq!(store.not_durable(), 12);
    let after = open_every(&disks.crash(CrashKind::PowerCut), &net, 1_000).unwrap();
    assert_eq!(after.tip().unwrap().height, 0);
    drop((store, after));

    // Held by size too: never more than three blocks' bytes in memory, and
    // the power cut keeps everything up to the last durable commit.
    let disks = Disks::new();
    let store = open_every(&disks, &net, 1_000).unwrap();
    store.set_held_bytes(3 * biggest + 1);
    let mut durable_at = 0;
    for b in &blocks {
        store.import_block(b, EVERY_SLOT_STARTED).unwrap();
        assert!(store.not_durable() <= 3, "{} held", store.not_durable());
        if store.not_durable() == 0 {
            durable_at = b.height();
        }
    }
    assert!(durable_at >= 9, "last durable at height {durable_at}");
    let after = open_every(&disks.crash(CrashKind::PowerCut), &net, 1_000).unwrap();
    assert_eq!(after.tip().unwrap().height, durable_at);
    after.verify_chain().unwrap();
}

/// A forger's store holds what redb writes between durable commits in
/// memory: the block commits between reach the disk not at all, and the
/// durable one writes them out and syncs. A power cut then keeps exactly up
/// to it; a process killed before it loses the held blocks (fetched again
/// from the main nodes), never the store.
#[test]
fn a_forgers_store_writes_nothing_to_the_disk_between_durable_commits() {
    let net = TestNet::new(&TestNetConfig::default());
    let mut chain = net.chain();
    let blocks: Vec<Block> = (0..6).map(|_| chain.forge(vec![])).collect();
    let forger = Keeping {
        every: 4,
        indexes: goodwill::store::Indexes::Skip,
        prunes: false,
    };
    let disks = Disks::new();
    let store = open_as(&disks, &net, forger).unwrap();
    let opened = disks.blocks.ops();
    for b in &blocks[..3] {
        store.import_block(b, EVERY_SLOT_STARTED).unwrap();
    }
    assert_eq!(store.not_durable(), 3);
    assert_eq!(
        disks.blocks.ops(),
        opened,
        "three block commits held: no write or sync reached either file"
    );
    let killed = disks.crash(CrashKind::ProcessKill);
    store.import_block(&blocks[3], EVERY_SLOT_STARTED).unwrap();
    assert_eq!(store.not_durable(), 0);
    assert!(
        disks.blocks.ops() > opened,
        "the durable commit wrote and synced"
    );
    store.import_block(&blocks[4], EVERY_SLOT_STARTED).unwrap();
    let after = open_as(&disks.crash(CrashKind::PowerCut), &net, forger).unwrap();
    assert_eq!(after.tip().unwrap().height, 4);
    after.verify_chain().unwrap();
    let after = open_as(&killed, &net, forger).unwrap();
    assert_eq!(after.tip().unwrap().height, 0);
    after.verify_chain().unwrap();
}
