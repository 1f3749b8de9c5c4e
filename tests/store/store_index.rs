//! A main node's indexes as runs (issue 18): every answer equals what the
//! canonical blocks say, across one-block runs, merged runs of 64 and of
//! 4,096 heights, a branch switch, a reopen, and a store of the previous
//! schema reindexed at open.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use goodwill::chain::block::Block;
use goodwill::chain::crypto::{Hash, PublicKey};
use goodwill::chain::merkle;
use goodwill::chain::tx::TxKind;
use goodwill::store::{self, Indexes, SimDisk, Store, TxLocation};
use goodwill::testkit::{TestChain, TestNet, TestNetConfig, EVERY_SLOT_STARTED};

/// (height, position, transaction id), oldest first.
type Places = Vec<(u64, u32, Hash)>;

/// What the indexes must answer, computed from the blocks alone.
#[derive(Default)]
struct Model {
    txs: BTreeMap<Hash, (u64, u32)>,
    accounts: BTreeMap<PublicKey, Places>,
    records: BTreeMap<(PublicKey, Vec<u8>), Places>,
}

impl Model {
    fn of(blocks: &[Block]) -> Model {
        let mut m = Model::default();
        for b in blocks {
            for (i, t) in b.txs.iter().enumerate() {
                let at = (b.height(), i as u32, t.id());
                m.txs.insert(t.id(), (b.height(), i as u32));
                let mut seen = store::touched(t);
                seen.sort();
                seen.dedup();
                for a in seen {
                    m.accounts.entry(a).or_default().push(at);
                }
                if let TxKind::PutData { key, .. } = &t.tx.kind {
                    m.records
                        .entry((t.tx.sender, key.as_slice().to_vec()))
                        .or_default()
                        .push(at);
                }
            }
        }
        m
    }

    /// Checks every query of `store` against the model, paging through
    /// account histories `page` at a time.
    fn check(&self, store: &Store, page: usize) {
        let snap = store.snapshot().unwrap();
        for (id, &(height, index)) in &self.txs {
            assert_eq!(
                snap.tx_location(id).unwrap(),
                Some(TxLocation { height, index }),
                "tx {id}"
            );
            let (tx, block, proof) = snap.tx_with_proof(id).unwrap().unwrap();
            assert_eq!(tx.id(), *id);
            let at = snap.tx_with_proof_at(id, height).unwrap().unwrap();
            assert_eq!(
                (at.0.id(), at.1.hash(), at.2),
                (*id, block.hash(), proof.clone())
            );
            assert!(snap.tx_with_proof_at(id, height + 1).unwrap().is_none());
            assert!(
                merkle::verify(&block.header.header.tx_root, id, &proof),
                "proof of {id}"
            );
        }
        assert_eq!(snap.tx_location(&Hash([7; 32])).unwrap(), None);
        for (account, want) in &self.accounts {
            let mut got = Vec::new();
            let mut before = None;
            loop {
                let p = snap.account_txs_page(account, before, page).unwrap();
                assert!(p.len() <= page);
                if p.is_empty() {
                    break;
                }
                before = Some(p.last().unwrap().0);
                got.extend(p.into_iter().map(|(l, id)| (l.height, l.index, id)));
            }
            got.reverse();
            assert_eq!(&got, want, "history of {account}");
        }
        for ((owner, key), want) in &self.records {
            let got: Vec<(u64, u32, Hash)> = snap
                .record_history(owner, key)
                .unwrap()
                .into_iter()
                .map(|v| (v.height, v.index, v.tx))
                .collect();
            assert_eq!(&got, want, "record {key:?} of {owner}");
        }
    }
}

/// A block of a few transfers and record writes, different each height.
fn busy_block(chain: &mut TestChain, n: u64) -> Block {
    let users = chain.net.users.len();
    let mut txs = Vec::new();
    if !n.is_multiple_of(3) {
        let from = (n as usize) % users;
        let to = chain.net.users[(from + 1) % users].public();
        txs.push(chain.transfer_from_user(from, to, 1 + n));
    }
    if n.is_multiple_of(5) {
        let from = (n as usize + 2) % users;
        let key = goodwill::chain::codec::Bytes::new(vec![(n % 4) as u8; 3]).unwrap();
        let value = goodwill::chain::codec::Bytes::new(n.to_le_bytes().to_vec()).unwrap();
        txs.push(chain.tx_from_user(from, TxKind::PutData { key, value }));
    }
    chain.forge(txs)
}

fn in_memory(net: &TestNet) -> Store {
    Store::with_backend_indexes(
        SimDisk::new(),
        &net.params,
        "index test".into(),
        Arc::new(AtomicU64::new(0)),
        Indexes::Keep,
    )
    .unwrap()
}

/// A merge happens once 64 aligned heights are final: the runs are one per
/// block above the last merged span, one per merged span below, and every
/// query answers what the blocks say on both sides of each boundary.
#[test]
fn the_indexes_answer_what_the_blocks_say_across_merged_runs() {
    let net = TestNet::new(&TestNetConfig::default());
    let mut chain = net.chain();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &net.params).unwrap();
    let mut blocks = Vec::new();
    for n in 1..=150 {
        let b = busy_block(&mut chain, n);
        store.import_block(&b, EVERY_SLOT_STARTED).unwrap();
        blocks.push(b);
        if n == 71 || n == 72 {
            // 63 is final once the tip is at 71: heights 1..=63 become one run.
            let runs = store.snapshot().unwrap().index_runs().unwrap();
            assert_eq!(runs[0], (0, 63), "tip {n}: {runs:?}");
            assert_eq!(runs.len(), 1 + (n - 63) as usize);
        }
        if n == 70 {
            let runs = store.snapshot().unwrap().index_runs().unwrap();
            assert_eq!(runs.len(), 70, "nothing final merged yet: {runs:?}");
        }
    }
    let runs = store.snapshot().unwrap().index_runs().unwrap();
    let mut want = vec![(0, 63), (64, 127)];
    want.extend((128..=150).map(|h| (h, h)));
    assert_eq!(runs, want);
    let model = Model::of(&blocks);
    assert!(model.records.len() >= 3 && model.accounts.len() >= 4);
    model.check(&store, 7);
    model.check(&store, 1);
    // A reopened store answers the same.
    drop(store);
    let store = Store::open(dir.path(), &net.params).unwrap();
    model.check(&store, 5);
}

/// A branch switch undoes blocks within finality (one-block runs) and
/// indexes the new branch; the merged runs below are untouched.
#[test]
fn a_branch_switch_above_merged_runs_keeps_every_answer() {
    let net = TestNet::new(&TestNetConfig::default());
    let mut chain = net.chain();
    let store = in_memory(&net);
    let mut blocks = Vec::new();
    let mut fork = None;
    for n in 1..=80 {
        let b = busy_block(&mut chain, n);
        store.import_block(&b, EVERY_SLOT_STARTED).unwrap();
        blocks.push(b);
        if n == 76 {
            fork = Some(chain.clone());
        }
    }
    // A rival branch from height 76: five blocks against four.
    let mut rival = fork.expect("forked at 76");
    let mut branch = Vec::new();
    for n in 1000..1005 {
        let b = busy_block(&mut rival, n);
        branch.push(b);
    }
    for b in &branch {
        store.import_block(b, EVERY_SLOT_STARTED).unwrap();
    }
    assert_eq!(store.tip().unwrap().hash, branch.last().unwrap().hash());
    let mut canonical = blocks[..76].to_vec();
    canonical.extend(branch.iter().cloned());
    let model = Model::of(&canonical);
    model.check(&store, 4);
    // The undone blocks' transactions are gone from every index.
    let snap = store.snapshot().unwrap();
    for b in &blocks[76..] {
        for t in &b.txs {
            if !model.txs.contains_key(&t.id()) {
                assert_eq!(snap.tx_location(&t.id()).unwrap(), None);
            }
        }
    }
    assert_eq!(snap.index_runs().unwrap()[0], (0, 63));
}

/// 4,104 blocks: 64 runs of 64 heights become one run of 4,096, and the
/// answers stay those of the blocks.
#[test]
#[ignore = "slow: 4,110 blocks"]
fn slow_a_second_level_merge_keeps_every_answer() {
    let net = TestNet::new(&TestNetConfig::default());
    let mut chain = net.chain();
    let store = in_memory(&net);
    let mut blocks = Vec::new();
    for n in 1..=4110 {
        let b = busy_block(&mut chain, n);
        store.import_block(&b, EVERY_SLOT_STARTED).unwrap();
        blocks.push(b);
    }
    let runs = store.snapshot().unwrap().index_runs().unwrap();
    assert_eq!(runs[0], (0, 4095), "{:?}", &runs[..3]);
    assert_eq!(runs.len(), 1 + (4110 - 4096 + 1) as usize, "{runs:?}");
    Model::of(&blocks).check(&store, 9);
}

/// A main node's store of schema 2 (indexes as random-key B-trees) or 4
/// (each transaction's id stored by height) is reindexed when it opens: the
/// old tables go, the runs and spans are built from the canonical blocks,
/// and every answer is the blocks'.
#[test]
fn a_store_of_a_previous_schema_is_reindexed_at_open() {
    use redb::{ReadableDatabase, TableDefinition, TableHandle};
    const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    for schema in [2u32, 4] {
        let net = TestNet::new(&TestNetConfig::default());
        let mut chain = net.chain();
        let dir = tempfile::tempdir().unwrap();
        let mut blocks = Vec::new();
        {
            let store = Store::open(dir.path(), &net.params).unwrap();
            for n in 1..=90 {
                let b = busy_block(&mut chain, n);
                store.import_block(&b, EVERY_SLOT_STARTED).unwrap();
                blocks.push(b);
            }
        }
        // Make it look like that schema: its version, its old index
        // tables, and none of the new ones; up to schema 3 its state in
        // its one file.
        if schema < 4 {
            state_back_in(dir.path());
        }
        let file = dir.path().join(store::FILE_NAME);
        {
            let db = redb::Database::open(&file).unwrap();
            let w = db.begin_write().unwrap();
            let ours: Vec<_> = w
                .list_tables()
                .unwrap()
                .filter(|t| ["index_runs", "index_chunks", "tx_spans"].contains(&t.name()))
                .collect();
            assert_eq!(ours.len(), 3);
            for t in ours {
                w.delete_table(t).unwrap();
            }
            w.open_table(META)
                .unwrap()
                .insert("schema", schema.to_le_bytes().as_slice())
                .unwrap();
            let old = if schema == 2 { "txs" } else { "tx_ids" };
            if schema == 2 {
                w.open_table(TableDefinition::<&[u8; 32], (u64, u32)>::new(old))
                    .unwrap()
                    .insert(&[1; 32], (1, 0))
                    .unwrap();
            } else {
                w.open_table(TableDefinition::<(u64, u32), &[u8]>::new(old))
                    .unwrap()
                    .insert((1, 0), [7u8; 32].as_slice())
                    .unwrap();
            }
            w.commit().unwrap();
        }
        let store = Store::open(dir.path(), &net.params).unwrap();
        Model::of(&blocks).check(&store, 6);
        assert_eq!(store.snapshot().unwrap().index_runs().unwrap()[0], (0, 63));
        drop(store);
        let db = redb::Database::open(&file).unwrap();
        let r = db.begin_read().unwrap();
        let names: Vec<String> = r
            .list_tables()
            .unwrap()
            .map(|t| t.name().to_string())
            .collect();
        assert!(
            !names.iter().any(|n| n == "txs" || n == "tx_ids"),
            "schema {schema}: {names:?}"
        );
        assert!(names.iter().any(|n| n == "tx_spans"), "{names:?}");
        let found = r.open_table(META).unwrap().get("schema").unwrap().unwrap();
        assert_eq!(found.value(), store::SCHEMA_VERSION.to_le_bytes());
    }
}

/// Moves a store's state and undo tables back into its blocks' file and
/// removes its state file: a store as schema 3 and before kept them.
fn state_back_in(dir: &std::path::Path) {
    use redb::{ReadableDatabase, ReadableTable, TableDefinition};
    const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
    const UNDO: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("undo");
    let state_file = dir.join(store::STATE_FILE_NAME);
    {
        let from = redb::Database::open(&state_file).unwrap();
        let r = from.begin_read().unwrap();
        let to = redb::Database::open(dir.join(store::FILE_NAME)).unwrap();
        let w = to.begin_write().unwrap();
        {
            let mut t = w.open_table(STATE).unwrap();
            for item in r.open_table(STATE).unwrap().iter().unwrap() {
                let (k, v) = item.unwrap();
                t.insert(k.value(), v.value()).unwrap();
            }
            let mut t = w.open_table(UNDO).unwrap();
            for item in r.open_table(UNDO).unwrap().iter().unwrap() {
                let (k, v) = item.unwrap();
                t.insert(k.value(), v.value()).unwrap();
            }
            w.open_table(META)
                .unwrap()
                .insert("schema", 3u32.to_le_bytes().as_slice())
                .unwrap();
        }
        w.commit().unwrap();
    }
    std::fs::remove_file(state_file).unwrap();
}

/// A store of schema 3 (its state in its one file) gets a state file at
/// open: the state moves there, every answer stays, and it imports on.
#[test]
fn a_store_of_schema_3_moves_its_state_to_its_own_file_at_open() {
    use redb::{ReadableDatabase, TableDefinition, TableHandle};
    const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    let net = TestNet::new(&TestNetConfig::default());
    let mut chain = net.chain();
    let dir = tempfile::tempdir().unwrap();
    let mut blocks = Vec::new();
    let before = {
        let store = Store::open(dir.path(), &net.params).unwrap();
        for n in 1..=40 {
            let b = busy_block(&mut chain, n);
            store.import_block(&b, EVERY_SLOT_STARTED).unwrap();
            blocks.push(b);
        }
        store.state_entries().unwrap()
    };
    state_back_in(dir.path());
    {
        let store = Store::open(dir.path(), &net.params).unwrap();
        assert_eq!(store.state_entries().unwrap(), before);
        Model::of(&blocks).check(&store, 6);
        for n in 41..=45 {
            let b = busy_block(&mut chain, n);
            store.import_block(&b, EVERY_SLOT_STARTED).unwrap();
            blocks.push(b);
        }
        Model::of(&blocks).check(&store, 6);
    }
    let db = redb::Database::open(dir.path().join(store::FILE_NAME)).unwrap();
    let r = db.begin_read().unwrap();
    let names: Vec<String> = r
        .list_tables()
        .unwrap()
        .map(|t| t.name().to_string())
        .collect();
    assert!(
        !names.iter().any(|n| n == "state" || n == "undo"),
        "{names:?}"
    );
    let schema = r.open_table(META).unwrap().get("schema").unwrap().unwrap();
    assert_eq!(schema.value(), store::SCHEMA_VERSION.to_le_bytes());
    assert!(dir.path().join(store::STATE_FILE_NAME).is_file());
}

/// A block bigger than a page is stored in page-sized parts and read back
/// whole; when its body is pruned, its parts go with it.
#[test]
fn a_big_block_is_stored_in_parts_and_pruned_whole() {
    let net = TestNet::new(&TestNetConfig {
        users: 60,
        ..TestNetConfig::default()
    });
    let mut chain = net.chain();
    let to = net.users[0].public();
    let txs = (1..60)
        .map(|i| chain.transfer_from_user(i, to, 5))
        .collect();
    let big = chain.forge(txs);
    assert!(big.to_bytes().len() > 8_100, "{}", big.to_bytes().len());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), &net.params, Indexes::Skip).unwrap();
    store.set_pruning(true);
    store.import_block(&big, EVERY_SLOT_STARTED).unwrap();
    let parts = |s: &Store| {
        s.space()
            .unwrap()
            .into_iter()
            .find(|(name, ..)| name == "block_parts")
            .map(|(_, stored, _)| stored)
            .unwrap()
    };
    assert!(parts(&store) > big.to_bytes().len() as u64);
    assert_eq!(
        store.snapshot().unwrap().block_at(1).unwrap(),
        Some(big.clone())
    );
    drop(store);
    let store = Store::open_with(dir.path(), &net.params, Indexes::Skip).unwrap();
    store.set_pruning(true);
    assert_eq!(
        store.snapshot().unwrap().block(&big.hash()).unwrap(),
        Some(big.clone())
    );
    for _ in 0..20 {
        store
            .import_block(&chain.forge(vec![]), EVERY_SLOT_STARTED)
            .unwrap();
    }
    assert_eq!(store.snapshot().unwrap().block_at(1).unwrap(), None);
    assert_eq!(parts(&store), 0, "the pruned block's parts are gone");
    drop(store);
    // A part of the body stream lost to damage is named, not decoded as
    // something else.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &net.params).unwrap();
    store.import_block(&big, EVERY_SLOT_STARTED).unwrap();
    drop(store);
    {
        use redb::TableDefinition;
        let db = redb::Database::open(dir.path().join(store::FILE_NAME)).unwrap();
        let w = db.begin_write().unwrap();
        // A main node packs it in the body stream.
        w.open_table(TableDefinition::<u64, &[u8]>::new("body_stream"))
            .unwrap()
            .remove(1)
            .unwrap()
            .unwrap();
        w.commit().unwrap();
    }
    let store = Store::open_existing(dir.path());
    let err = match store {
        Err(e) => e.to_string(),
        Ok(s) => s.snapshot().unwrap().block_at(1).unwrap_err().to_string(),
    };
    assert!(err.contains(&big.hash().to_string()), "{err}");
}

/// A store that keeps every body packs them end to end; when it starts to
/// prune (a forger run with `--keep-blocks all`, then without), the bodies
/// it packed go as they fall below the finality depth, and with the last
/// of them the stream itself.
#[test]
fn packed_bodies_are_pruned_and_the_stream_goes_with_the_last() {
    let net = TestNet::new(&TestNetConfig::default());
    let mut chain = net.chain();
    let dir = tempfile::tempdir().unwrap();
    let table = |s: &Store, name: &str| {
        s.space()
            .unwrap()
            .into_iter()
            .find(|(n, ..)| n == name)
            .map(|(_, stored, _)| stored)
    };
    let mut blocks = Vec::new();
    {
        let store = Store::open_with(dir.path(), &net.params, Indexes::Skip).unwrap();
        for _ in 0..150 {
            let b = chain.forge(vec![]);
            store.import_block(&b, EVERY_SLOT_STARTED).unwrap();
            blocks.push(b);
        }
        let encoded: usize = blocks.iter().map(|b| b.to_bytes().len()).sum();
        // End to end, in parts of 4,080 bytes, each with its 8-byte key.
        let parts = (encoded as u64).div_ceil(4_080);
        assert_eq!(
            table(&store, "body_stream"),
            Some(encoded as u64 + 8 * parts)
        );
        assert_eq!(table(&store, "blocks"), Some(0));
    }
    let store = Store::open_with(dir.path(), &net.params, Indexes::Skip).unwrap();
    store.set_pruning(true);
    let snap = store.snapshot().unwrap();
    for b in &blocks {
        assert_eq!(snap.block_at(b.height()).unwrap().as_ref(), Some(b));
    }
    drop(snap);
    // Pruning takes at most 64 bodies a block: 20 blocks (more than the
    // finality depth) see the 150 packed ones go.
    for _ in 0..20 {
        let b = chain.forge(vec![]);
        store.import_block(&b, EVERY_SLOT_STARTED).unwrap();
        blocks.push(b);
    }
    let from = store.snapshot().unwrap().blocks_from().unwrap();
    assert!(from > 150, "{from}");
    assert_eq!(table(&store, "body_stream"), Some(0));
    let snap = store.snapshot().unwrap();
    for b in &blocks[from as usize - 1..] {
        assert_eq!(snap.block_at(b.height()).unwrap().as_ref(), Some(b));
    }
}

/// A crash at any write or sync while blocks 71 to 74 are imported — the
/// commit of block 71 is followed by the merge of heights 0..=63 in a
/// commit of its own — leaves a store that opens on a committed tip, answers
/// what that tip's blocks say, and takes the rest of the blocks, merging
/// then if it had not.
#[test]
fn a_crash_at_any_point_of_a_merge_loses_nothing() {
    use goodwill::store::CrashKind;
    let net = TestNet::new(&TestNetConfig::default());
    let mut chain = net.chain();
    let blocks: Vec<Block> = (1..=74).map(|n| busy_block(&mut chain, n)).collect();
    let open = |disk: &SimDisk| {
        Store::with_backend(
            disk.clone(),
            &net.params,
            "merge crash".into(),
            Arc::new(AtomicU64::new(0)),
        )
    };
    let base = SimDisk::new();
    {
        let store = open(&base).unwrap();
        for b in &blocks[..70] {
            store.import_block(b, EVERY_SLOT_STARTED).unwrap();
        }
        assert_eq!(store.snapshot().unwrap().index_runs().unwrap().len(), 70);
    }
    let base = base.crash(CrashKind::PowerCut);
    // The operations the last four imports take, merge included.
    let total = {
        let disk = base.crash(CrashKind::PowerCut);
        let store = open(&disk).unwrap();
        let before = disk.ops();
        for b in &blocks[70..] {
            store.import_block(b, EVERY_SLOT_STARTED).unwrap();
        }
        assert_eq!(store.merge_stats().commits, 1);
        disk.ops() - before
    };
    let mut tips = std::collections::BTreeSet::new();
    for n in crate::common::fault_points(total) {
        let disk = base.crash(CrashKind::PowerCut);
        {
            let store = open(&disk).unwrap();
            disk.fail_after(n);
            for b in &blocks[70..] {
                if store.import_block(b, EVERY_SLOT_STARTED).is_err() {
                    break;
                }
            }
        }
        assert!(disk.failed(), "fault point {n} of {total} fired");
        for kind in [CrashKind::PowerCut, CrashKind::ProcessKill] {
            let store = open(&disk.crash(kind)).unwrap();
            let tip = store.tip().unwrap().height;
            assert!((70..=74).contains(&tip), "{kind:?} at {n}: tip {tip}");
            tips.insert(tip);
            Model::of(&blocks[..tip as usize]).check(&store, 50);
            for b in &blocks[tip as usize..] {
                store.import_block(b, EVERY_SLOT_STARTED).unwrap();
            }
            let runs = store.snapshot().unwrap().index_runs().unwrap();
            assert_eq!(runs[0], (0, 63), "{kind:?} at {n}");
            assert_eq!(runs.len(), 1 + 74 - 63, "{kind:?} at {n}");
            Model::of(&blocks).check(&store, 50);
        }
    }
    assert!(tips.len() >= 3, "crashes landed between imports: {tips:?}");
}
