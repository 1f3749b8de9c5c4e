//! A forger's store prunes block bodies below the finality depth: its disk
//! use stays bounded however long the chain, the chain stays linked by its
//! hashes, branch switches within finality still work, and what is gone is
//! said, never served as if it were there.

use goodwill::chain::block::Block;
use goodwill::store::{Indexes, Store, VerifyError, PRUNE_PER_BLOCK};
use goodwill::testkit::{TestNet, TestNetConfig, EVERY_SLOT_STARTED};

fn lean(dir: &std::path::Path, net: &TestNet) -> Store {
    let store = Store::open_with(dir, &net.params, Indexes::Skip).unwrap();
    store.set_pruning(true);
    store
}

/// A pruned forger's store holding a chain of 60 empty blocks.
fn sixty_blocks() -> (
    TestNet,
    goodwill::testkit::TestChain,
    Vec<Block>,
    tempfile::TempDir,
    Store,
) {
    let net = TestNet::new(&TestNetConfig::default());
    let mut chain = net.chain();
    let blocks: Vec<Block> = (0..60).map(|_| chain.forge(vec![])).collect();
    let dir = tempfile::tempdir().unwrap();
    let store = lean(dir.path(), &net);
    for b in &blocks {
        store.import_block(b, EVERY_SLOT_STARTED).unwrap();
    }
    (net, chain, blocks, dir, store)
}

#[test]
fn a_forgers_store_keeps_only_the_bodies_within_finality_and_every_hash() {
    let (net, mut chain, blocks, dir, store) = sixty_blocks();
    let finality = net.params.genesis().finality_depth;
    let tip = store.tip().unwrap().height;
    assert_eq!(tip, 60);
    let snap = store.snapshot().unwrap();
    // The newest finality + 1 bodies stay (what a switch undoes and what
    // the check at open reads); every hash stays.
    assert_eq!(snap.blocks_from().unwrap(), tip - finality);
    for h in 1..=tip {
        assert_eq!(
            snap.hash_at(h).unwrap(),
            Some(blocks[h as usize - 1].hash())
        );
        let body = snap.block_at(h).unwrap();
        assert_eq!(body.is_some(), h >= tip - finality, "height {h}");
    }
    drop(snap);
    // The full replay says why it cannot run, by name.
    match store.verify_chain() {
        Err(e @ VerifyError::Pruned { .. }) => {
            assert!(e.to_string().contains("--keep-blocks all"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    drop(store);
    // It reopens (the check at open reads the kept bodies) and goes on.
    let store = lean(dir.path(), &net);
    let next = chain.forge(vec![]);
    store.import_block(&next, EVERY_SLOT_STARTED).unwrap();
    assert_eq!(
        store.snapshot().unwrap().blocks_from().unwrap(),
        61 - finality
    );
}

#[test]
fn a_branch_switch_within_finality_works_on_a_pruned_store() {
    let net = TestNet::new(&TestNetConfig::default());
    let finality = net.params.genesis().finality_depth;
    // A: 30 blocks. B forks finality - 1 blocks below A's tip, in a later
    // slot, and grows one longer.
    let fork_at = 30 - (finality as usize - 1);
    let mut a = net.chain();
    for _ in 0..fork_at {
        a.forge(vec![]);
    }
    let mut b = a.clone();
    for _ in fork_at..30 {
        a.forge(vec![]);
    }
    let a_tip_slot = a.blocks.last().unwrap().header.header.slot;
    for i in 0..finality {
        b.forge_after(if i == 0 { a_tip_slot } else { 0 }, vec![]);
    }
    let dir = tempfile::tempdir().unwrap();
    let store = lean(dir.path(), &net);
    for blk in &a.blocks {
        store.import_block(blk, EVERY_SLOT_STARTED).unwrap();
    }
    for blk in &b.blocks[fork_at..] {
        store.import_block(blk, EVERY_SLOT_STARTED).unwrap();
    }
    let tip = store.tip().unwrap();
    assert_eq!(tip.hash, b.blocks.last().unwrap().hash());
    assert!(store.snapshot().unwrap().blocks_from().unwrap() > 1);
}

#[test]
fn a_long_chain_is_caught_up_a_little_at_a_time_and_a_main_node_never_prunes() {
    let net = TestNet::new(&TestNetConfig::default());
    let finality = net.params.genesis().finality_depth;
    let mut chain = net.chain();
    let n = 2 * PRUNE_PER_BLOCK + 40;
    let blocks: Vec<Block> = (0..n).map(|_| chain.forge(vec![])).collect();
    let dir = tempfile::tempdir().unwrap();
    // Made with every body (--keep-blocks all), then pruned from a restart.
    let store = Store::open_with(dir.path(), &net.params, Indexes::Skip).unwrap();
    for b in &blocks {
        store.import_block(b, EVERY_SLOT_STARTED).unwrap();
    }
    assert_eq!(store.snapshot().unwrap().blocks_from().unwrap(), 1);
    store.verify_chain().unwrap();
    drop(store);
    let store = lean(dir.path(), &net);
    let mut from = 1;
    for _ in 0..3 {
        store
            .import_block(&chain.forge(vec![]), EVERY_SLOT_STARTED)
            .unwrap();
        let now = store.snapshot().unwrap().blocks_from().unwrap();
        let tip = store.tip().unwrap().height;
        assert_eq!(now, (from + PRUNE_PER_BLOCK).min(tip - finality));
        from = now;
    }
    drop(store);

    // A main node's store (indexed) keeps every body, whatever it is told.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &net.params).unwrap();
    store.set_pruning(true);
    for b in &blocks {
        store.import_block(b, EVERY_SLOT_STARTED).unwrap();
    }
    assert_eq!(store.snapshot().unwrap().blocks_from().unwrap(), 1);
    store.verify_chain().unwrap();
}

/// Asked (on the appliance's status port) for a block it pruned, a forger
/// says so and where to go, rather than answering "no such block".
#[test]
fn a_pruned_block_asked_for_is_refused_by_name() {
    use goodwill::peer::queries::answer_from_store;
    use goodwill::wire::{Answer, Query};
    let (net, _chain, blocks, _dir, store) = sixty_blocks();
    let finality = net.params.genesis().finality_depth;
    let from = 60 - finality;
    let kept = answer_from_store(&store, Query::BlockAt(from)).unwrap();
    assert!(
        matches!(kept, Answer::Block(Some(ref b)) if b.height() == from),
        "{kept:?}"
    );
    for q in [
        Query::BlockAt(from - 1),
        Query::BlockAt(1),
        Query::Block(blocks[0].hash()),
    ] {
        match answer_from_store(&store, q.clone()).unwrap() {
            Answer::Error(why) => {
                assert!(why.contains(&format!("from height {from} only")), "{why}");
                assert!(why.contains("ask a main node"), "{why}");
            }
            other => panic!("{q:?}: {other:?}"),
        }
    }
    // Beyond the tip, and on a store that keeps everything, nothing changes.
    assert!(matches!(
        answer_from_store(&store, Query::BlockAt(61)).unwrap(),
        Answer::Block(None)
    ));
    let all = tempfile::tempdir().unwrap();
    let store = Store::open_with(all.path(), &net.params, Indexes::Skip).unwrap();
    store.import_block(&blocks[0], EVERY_SLOT_STARTED).unwrap();
    assert!(matches!(
        answer_from_store(&store, Query::Block(blocks[1].hash())).unwrap(),
        Answer::Block(None)
    ));
}

/// A forger keeps only the last bodies, so a state file it lost cannot be
/// rebuilt: opening names the pruned block it would need and the way back.
#[test]
fn a_forger_that_lost_its_state_file_says_it_must_sync_again() {
    let (net, _chain, _blocks, dir, store) = sixty_blocks();
    drop(store);
    std::fs::remove_file(dir.path().join(goodwill::store::STATE_FILE_NAME)).unwrap();
    let e = Store::open_with(dir.path(), &net.params, Indexes::Skip).unwrap_err();
    let e = e.to_string();
    assert!(e.contains("is not stored (pruned)"), "{e}");
    assert!(e.contains("sync again"), "{e}");
}

/// A block whose body was pruned is still known by its hash on the
/// canonical chain: sent again (a peer syncing from far back, or the blocks
/// a crash took back being fetched again), it is `AlreadyKnown`, not a
/// fork; and a branch from below the kept bodies is refused as beyond
/// finality, not asked for as an unknown parent.
#[test]
fn a_pruned_block_sent_again_is_known_and_a_branch_from_below_the_kept_bodies_is_refused() {
    use goodwill::store::{ImportError, Imported};
    let net = TestNet::new(&TestNetConfig::default());
    let finality = net.params.genesis().finality_depth;
    let from = 60 - finality;
    // A branch on the block just below the kept bodies (height from - 2),
    // one slot after the canonical block at from - 1.
    let mut chain = net.chain();
    let mut blocks: Vec<Block> = (0..from - 2).map(|_| chain.forge(vec![])).collect();
    let mut fork = chain.clone();
    blocks.extend((from - 2..60).map(|_| chain.forge(vec![])));
    let side = fork.forge_after(blocks[from as usize - 2].header.header.slot, vec![]);
    assert_eq!(side.height(), from - 1);
    let dir = tempfile::tempdir().unwrap();
    let store = lean(dir.path(), &net);
    for b in &blocks {
        store.import_block(b, EVERY_SLOT_STARTED).unwrap();
    }
    assert_eq!(store.snapshot().unwrap().blocks_from().unwrap(), from);
    for b in [&blocks[0], &blocks[from as usize - 2], &blocks[59]] {
        assert!(
            matches!(
                store.import_block(b, EVERY_SLOT_STARTED).unwrap(),
                Imported::AlreadyKnown
            ),
            "height {}",
            b.height()
        );
    }
    match store.import_block(&side, EVERY_SLOT_STARTED) {
        Err(ImportError::BeyondFinality { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(store.tip().unwrap().hash, blocks[59].hash());
}

/// The height bodies are kept from is read at open: one past the tip + 1
/// (never written), or above 1 on a store that never prunes, is damage and
/// named, not a reason to skip checking the bodies.
#[test]
fn a_damaged_kept_from_height_is_refused_at_open() {
    use redb::{Database, TableDefinition};
    const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
    let (net, _chain, _blocks, dir, store) = sixty_blocks();
    drop(store);
    let set = |from: u64| {
        let db = Database::open(dir.path().join(goodwill::store::FILE_NAME)).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(META)
            .unwrap()
            .insert("blocks_from", from.to_le_bytes().as_slice())
            .unwrap();
        w.commit().unwrap();
    };
    set(62);
    let e = Store::open_with(dir.path(), &net.params, Indexes::Skip).unwrap_err();
    assert!(
        e.to_string().contains("keeps block bodies from height 62"),
        "{e}"
    );
    // The tip + 1 (what a rollback to the state leaves) opens.
    set(61);
    lean(dir.path(), &net);
}
