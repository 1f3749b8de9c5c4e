//! The chain-event log (the HTTP API's Server-Sent Event ids come from it):
//! one entry per block connected to or taken off the canonical chain, in
//! the order it happened, written in the commit that moved the chain, kept
//! across a reopen, absent from a forger's lean store, and started empty in
//! a store made before it existed.

use goodwill::chain::block::Block;
use goodwill::chain::crypto::Hash;
use goodwill::store::{ChainEvent, Imported, Indexes, Store};
use goodwill::testkit::{TestChain, TestNet, TestNetConfig, EVERY_SLOT_STARTED};

fn log(store: &Store) -> Vec<ChainEvent> {
    store.snapshot().unwrap().chain_events(0, 10_000).unwrap()
}

/// (connected, height, hash) of each entry, and checks the numbering:
/// 1, 2, 3… with no gap.
fn moves(store: &Store) -> Vec<(bool, u64, Hash)> {
    let l = log(store);
    for (i, e) in l.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "{l:?}");
    }
    assert_eq!(
        store.snapshot().unwrap().last_chain_event().unwrap(),
        l.len() as u64
    );
    l.iter().map(|e| (e.connected, e.height, e.hash)).collect()
}

fn on(blocks: &[Block]) -> Vec<(bool, u64, Hash)> {
    blocks
        .iter()
        .map(|b| (true, b.height(), b.hash()))
        .collect()
}

fn off(blocks: &[Block]) -> Vec<(bool, u64, Hash)> {
    blocks
        .iter()
        .map(|b| (false, b.height(), b.hash()))
        .collect()
}

/// Replaying the log (push on connect, pop on retract) gives the canonical
/// chain: the log never disagrees with `canon`.
fn replays_to_the_chain(store: &Store) {
    let mut chain: Vec<Hash> = Vec::new();
    for e in log(store) {
        if e.connected {
            assert_eq!(e.height, chain.len() as u64 + 1, "{e:?}");
            chain.push(e.hash);
        } else {
            assert_eq!(chain.pop(), Some(e.hash), "{e:?}");
        }
    }
    let snap = store.snapshot().unwrap();
    for (i, h) in chain.iter().enumerate() {
        assert_eq!(snap.hash_at(i as u64 + 1).unwrap(), Some(*h));
    }
    assert_eq!(snap.hash_at(chain.len() as u64 + 1).unwrap(), None);
}

fn grow(chain: &mut TestChain, n: usize) {
    for i in 0..n {
        let to = chain.net.users[(i + 1) % 4].public();
        let tx = chain.transfer_from_user(i % 4, to, 1 + i as u64);
        chain.forge(vec![tx]);
    }
}

#[test]
fn a_reorganisation_logs_each_block_retracted_tip_first_then_each_connected() {
    let net = TestNet::new(&TestNetConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &net.params).unwrap();
    assert!(moves(&store).is_empty(), "a new store's log is empty");
    let mut a = net.chain();
    grow(&mut a, 2);
    let mut b = a.clone();
    grow(&mut a, 2);
    for blk in &a.blocks {
        store.import_block(blk, EVERY_SLOT_STARTED).unwrap();
    }
    assert_eq!(moves(&store), on(&a.blocks));
    // Branch B forks after block 2 and grows to height 5.
    let tx = b.transfer_from_user(3, net.users[0].public(), 77);
    b.forge_after(a.blocks[3].header.header.slot + 2, vec![tx]);
    grow(&mut b, 2);
    let before = moves(&store);
    for blk in &b.blocks[2..4] {
        let r = store.import_block(blk, EVERY_SLOT_STARTED).unwrap();
        assert!(matches!(r, Imported::SideBranch { .. }), "{r:?}");
    }
    assert_eq!(moves(&store), before, "a side block is not logged");
    let r = store
        .import_block(&b.blocks[4], EVERY_SLOT_STARTED)
        .unwrap();
    assert!(matches!(r, Imported::Reorganised { .. }), "{r:?}");
    let mut want = on(&a.blocks);
    want.extend(off(&[a.blocks[3].clone(), a.blocks[2].clone()]));
    want.extend(on(&b.blocks[2..]));
    assert_eq!(moves(&store), want);
    replays_to_the_chain(&store);
    // Already known: nothing logged.
    store
        .import_block(&b.blocks[4], EVERY_SLOT_STARTED)
        .unwrap();
    assert_eq!(moves(&store), want);

    // Reopened, the log is the same and goes on from its last number.
    drop(store);
    let store = Store::open(dir.path(), &net.params).unwrap();
    assert_eq!(moves(&store), want);
    let next = b.forge(vec![]);
    store.import_block(&next, EVERY_SLOT_STARTED).unwrap();
    want.extend(on(std::slice::from_ref(&next)));
    assert_eq!(moves(&store), want);
    replays_to_the_chain(&store);
    // Reading from a position: strictly after it, at most `limit`.
    let snap = store.snapshot().unwrap();
    let part = snap.chain_events(5, 2).unwrap();
    assert_eq!(part.iter().map(|e| e.seq).collect::<Vec<_>>(), [6, 7]);
    assert!(snap.chain_events(want.len() as u64, 10).unwrap().is_empty());
    assert!(snap.chain_events(u64::MAX, 10).unwrap().is_empty());
}

#[test]
fn a_commit_that_moves_the_chain_wakes_a_listener() {
    let net = TestNet::new(&TestNetConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &net.params).unwrap();
    let mut a = net.chain();
    grow(&mut a, 1);
    let listener = store.listen_chain();
    store
        .import_block(&a.blocks[0], EVERY_SLOT_STARTED)
        .unwrap();
    // Already notified: completes at once.
    smol::block_on(async {
        futures_lite::future::or(
            async {
                listener.await;
                true
            },
            async {
                smol::Timer::after(std::time::Duration::from_secs(5)).await;
                false
            },
        )
        .await
    })
    .then_some(())
    .expect("the listener taken before the commit is woken");
}

#[test]
fn a_lean_store_keeps_no_log_and_an_old_store_starts_one() {
    let net = TestNet::new(&TestNetConfig::default());
    let mut a = net.chain();
    grow(&mut a, 3);
    let lean = tempfile::tempdir().unwrap();
    let store = Store::open_with(lean.path(), &net.params, Indexes::Skip).unwrap();
    for blk in &a.blocks {
        store.import_block(blk, EVERY_SLOT_STARTED).unwrap();
    }
    assert!(moves(&store).is_empty(), "a forger's store writes no log");

    // A store from before the log: the table is missing. It opens, its
    // log starts empty and numbers from 1 with the next block.
    let old = tempfile::tempdir().unwrap();
    let store = Store::open(old.path(), &net.params).unwrap();
    for blk in &a.blocks[..2] {
        store.import_block(blk, EVERY_SLOT_STARTED).unwrap();
    }
    drop(store);
    {
        let db = redb::Database::create(goodwill::store::file_in(old.path())).unwrap();
        let w = db.begin_write().unwrap();
        let t: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("chain_events");
        assert!(w.delete_table(t).unwrap(), "the table existed");
        w.commit().unwrap();
    }
    let store = Store::open(old.path(), &net.params).unwrap();
    assert!(moves(&store).is_empty());
    store
        .import_block(&a.blocks[2], EVERY_SLOT_STARTED)
        .unwrap();
    assert_eq!(moves(&store), on(&a.blocks[2..]));
    store.verify_chain().unwrap();
}
