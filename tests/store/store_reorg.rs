//! Competing branches on a real redb file: side branches, switching to a
//! better branch in one transaction, fork choice at equal length, the
//! finality limit, refused branches leaving the chain intact, and the
//! indexes following the canonical chain.

use goodwill::testkit::EVERY_SLOT_STARTED;
use std::cmp::Ordering;

use goodwill::chain::block::Block;
use goodwill::chain::codec::Bytes;
use goodwill::chain::crypto::{Hash, Keypair, PublicKey};
use goodwill::chain::tx::{SignedTransaction, Transaction, TxKind};
use goodwill::ledger::fork::{self, Head};
use goodwill::ledger::state::{MemState, Record, StateKey, StateReadExt, StateValue};
use goodwill::ledger::BlockError;
use goodwill::store::{ImportError, Imported, RecordVersion, Store, TxLocation};
use goodwill::testkit::{TestChain, TestNet, TestNetConfig};

type Entries = Vec<(StateKey, StateValue)>;

fn entries(state: &MemState) -> Entries {
    state.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn head(b: &Block) -> Head {
    Head {
        height: b.height(),
        hash: b.hash(),
    }
}

fn hashes(blocks: &[Block]) -> Vec<Hash> {
    blocks.iter().map(|b| b.hash()).collect()
}

/// Forges `chain`'s next block, trying later and later slots until its hash
/// satisfies `want` (to decide equal-length fork choice ahead of time).
fn forge_where(
    chain: &mut TestChain,
    txs: Vec<SignedTransaction>,
    want: impl Fn(&Hash) -> bool,
) -> Block {
    let tip_slot = chain.state.tip().unwrap().slot;
    for extra in 0..500 {
        let mut c = chain.clone();
        let b = c.forge_after(tip_slot + extra, txs.clone());
        if want(&b.hash()) {
            *chain = c;
            return b;
        }
    }
    panic!("no slot gives a block hash as wanted");
}

/// A block at the same height as `rival`, for importing after it: it loses
/// because `rival` was seen first. Its hash is kept higher as well, so that
/// these setups do not depend on the tie-break rule.
fn forge_losing(chain: &mut TestChain, txs: Vec<SignedTransaction>, rival: &Block) -> Block {
    assert_eq!(chain.height() + 1, rival.height());
    let r = rival.hash();
    forge_where(chain, txs, |h| *h > r)
}

fn import_all(store: &Store, blocks: &[Block]) {
    for b in blocks {
        let r = store.import_block(b, EVERY_SLOT_STARTED).unwrap();
        assert!(
            matches!(r, Imported::Extended { .. }),
            "block {}: {r:?}",
            b.height()
        );
    }
}

fn side(store: &Store, b: &Block) {
    match store.import_block(b, EVERY_SLOT_STARTED).unwrap() {
        Imported::SideBranch { height } => assert_eq!(height, b.height()),
        other => panic!("block {} should be a side block: {other:?}", b.height()),
    }
}

/// The pieces of a reorganisation, for comparisons.
struct Reorg {
    tip: Hash,
    undone: Vec<Hash>,
    applied: Vec<Hash>,
    returned: Vec<SignedTransaction>,
}

fn reorg(store: &Store, b: &Block) -> Reorg {
    match store.import_block(b, EVERY_SLOT_STARTED).unwrap() {
        Imported::Reorganised {
            tip,
            undone,
            applied,
            returned,
            bytes_written,
        } => {
            assert_eq!(tip.height, b.height());
            assert!(bytes_written > 0);
            Reorg {
                tip: tip.hash,
                undone: hashes(&undone),
                applied: hashes(&applied),
                returned,
            }
        }
        other => panic!("block {} should switch branches: {other:?}", b.height()),
    }
}

/// Asserts the store sits on `tip` with exactly `state`, and verifies.
fn assert_at(store: &Store, tip: &Block, state: &MemState) {
    assert_eq!(store.tip().unwrap().hash, tip.hash());
    assert_eq!(store.state_entries().unwrap(), entries(state));
    assert_eq!(store.verify_chain().unwrap(), tip.height());
}

fn net(finality_depth: u64) -> TestNet {
    TestNet::new(&TestNetConfig {
        finality_depth,
        ..TestNetConfig::default()
    })
}

/// `n` blocks on `chain`, each with a transfer from user `i % 4`.
fn grow(chain: &mut TestChain, n: usize, salt: u64) {
    for i in 0..n {
        let to = chain.net.users[(i + 1) % 4].public();
        let tx = chain.transfer_from_user(i % 4, to, salt + i as u64);
        chain.forge(vec![tx]);
    }
}

#[test]
fn side_branch_waits_and_at_equal_length_the_first_seen_stays() {
    let net = net(8);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &net.params).unwrap();
    let mut a = net.chain();
    grow(&mut a, 3, 100);
    let mut b = a.clone();
    grow(&mut a, 3, 200);
    let tx = b.transfer_from_user(3, net.users[0].public(), 55);
    b.forge_after(a.blocks[3].header.header.slot + 2, vec![tx]);
    b.forge(vec![]);
    let a6 = a.blocks[5].clone();
    let mut b_hi = b.clone();
    let b6_hi = forge_losing(&mut b_hi, vec![], &a6);
    let mut b_lo = b.clone();
    let b6_lo = forge_where(&mut b_lo, vec![], |h| *h < a6.hash());
    // Equal length is a tie whatever the hashes (the lower hash won before:
    // a rule the next leader could grind, see issue 13).
    assert_eq!(fork::compare(&head(&b6_hi), &head(&a6)), Ordering::Equal);
    assert_eq!(fork::compare(&head(&b6_lo), &head(&a6)), Ordering::Equal);

    import_all(&store, &a.blocks);
    // Shorter: stored, the tip does not move.
    side(&store, &b.blocks[3]);
    side(&store, &b.blocks[4]);
    assert_at(&store, &a6, &a.state);
    // Equal length, higher hash: stored, the tip does not move.
    side(&store, &b6_hi);
    assert_at(&store, &a6, &a.state);
    let snap = store.snapshot().unwrap();
    assert!(
        snap.block(&b6_hi.hash()).unwrap().is_some(),
        "side blocks are stored"
    );
    assert_eq!(snap.hash_at(6).unwrap(), Some(a6.hash()));
    drop(snap);
    assert!(matches!(
        store.import_block(&b6_hi, EVERY_SLOT_STARTED).unwrap(),
        Imported::AlreadyKnown
    ));

    // Equal length, lower hash: stored, and the tip still does not move:
    // the block seen first stays.
    side(&store, &b6_lo);
    assert_at(&store, &a6, &a.state);

    // One more block on B: longer, the chain switches.
    let b7 = b_lo.forge(vec![]);
    let r = reorg(&store, &b7);
    assert_eq!(r.tip, b7.hash());
    assert_eq!(
        r.undone,
        hashes(&[
            a.blocks[5].clone(),
            a.blocks[4].clone(),
            a.blocks[3].clone()
        ])
    );
    assert_eq!(r.applied, hashes(&b_lo.blocks[3..]));
    assert_at(&store, &b7, &b_lo.state);

    // A longer A switches back: its undone blocks come back from storage.
    // (Its block 7 alone ties, and waits.)
    let a7 = a.forge(vec![]);
    side(&store, &a7);
    assert_at(&store, &b7, &b_lo.state);
    let a8 = a.forge(vec![]);
    let r = reorg(&store, &a8);
    assert_eq!(
        r.undone,
        hashes(&[
            b7.clone(),
            b6_lo.clone(),
            b.blocks[4].clone(),
            b.blocks[3].clone()
        ])
    );
    assert_eq!(r.applied, hashes(&a.blocks[3..]));
    assert_at(&store, &a8, &a.state);
}

#[test]
fn longer_branch_switches_atomically_and_indexes_follow() {
    let net = net(8);
    let users: Vec<PublicKey> = net.users.iter().map(|k| k.public()).collect();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &net.params).unwrap();
    let mut a = net.chain();
    grow(&mut a, 5, 100);
    let mut b = a.clone();
    let t1 = a.transfer_from_user(0, users[1], 11);
    let t2 = a.transfer_from_user(1, users[2], 22);
    let t3 = a.transfer_from_user(2, users[3], 33);
    a.forge(vec![t1.clone()]);
    a.forge(vec![t2.clone()]);
    a.forge(vec![t3.clone()]);
    // B keeps t2 (in another block, at another height), not t1 or t3.
    let t4 = b.transfer_from_user(3, users[0], 44);
    b.forge_after(
        a.blocks[5].header.header.slot + 1,
        vec![t2.clone(), t4.clone()],
    );
    let t5 = b.transfer_from_user(3, users[1], 55);
    b.forge(vec![t5.clone()]);
    forge_losing(&mut b, vec![], &a.blocks[7]);
    let b9 = b.forge(vec![]);

    import_all(&store, &a.blocks);
    let a_state = entries(&a.state);
    for blk in &b.blocks[5..8] {
        side(&store, blk);
        assert_eq!(store.state_entries().unwrap(), a_state);
    }
    let r = reorg(&store, &b9);
    assert_eq!(r.tip, b9.hash());
    assert_eq!(
        r.undone,
        hashes(&[
            a.blocks[7].clone(),
            a.blocks[6].clone(),
            a.blocks[5].clone()
        ]),
        "undone: tip first"
    );
    assert_eq!(r.applied, hashes(&b.blocks[5..]), "applied: lowest first");
    let mut returned: Vec<Hash> = r.returned.iter().map(|t| t.id()).collect();
    returned.sort();
    let mut want = vec![t1.id(), t3.id()];
    want.sort();
    assert_eq!(
        returned, want,
        "returned: the undone txs the new branch lacks"
    );
    assert_at(&store, &b9, &b.state);

    // The same as a store that only ever saw B.
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = Store::open(fresh_dir.path(), &net.params).unwrap();
    import_all(&fresh, &b.blocks);
    assert_eq!(
        store.state_entries().unwrap(),
        fresh.state_entries().unwrap()
    );
    let snap = store.snapshot().unwrap();
    let fsnap = fresh.snapshot().unwrap();
    for h in 0..=10 {
        assert_eq!(
            snap.hash_at(h).unwrap(),
            fsnap.hash_at(h).unwrap(),
            "height {h}"
        );
    }
    let all_txs: Vec<&SignedTransaction> = a
        .blocks
        .iter()
        .chain(&b.blocks)
        .flat_map(|b| &b.txs)
        .collect();
    for t in &all_txs {
        assert_eq!(
            snap.tx_location(&t.id()).unwrap(),
            fsnap.tx_location(&t.id()).unwrap(),
            "tx {}",
            t.id()
        );
    }
    let accounts: Vec<PublicKey> = net
        .users
        .iter()
        .chain(&net.forgers)
        .map(|k| k.public())
        .chain([net.association.public()])
        .collect();
    for acc in &accounts {
        assert_eq!(
            snap.account_txs(acc, 1000).unwrap(),
            fsnap.account_txs(acc, 1000).unwrap(),
            "account {acc}"
        );
    }
    // And spelled out.
    assert_eq!(snap.tx_location(&t1.id()).unwrap(), None);
    assert_eq!(snap.tx_location(&t3.id()).unwrap(), None);
    assert_eq!(
        snap.tx_location(&t2.id()).unwrap(),
        Some(TxLocation {
            height: 6,
            index: 0
        })
    );
    assert_eq!(
        snap.tx_location(&t4.id()).unwrap(),
        Some(TxLocation {
            height: 6,
            index: 1
        })
    );
    let (_, blk, _) = snap.tx_with_proof(&t2.id()).unwrap().unwrap();
    assert_eq!(blk.hash(), b.blocks[5].hash());
    assert!(!snap
        .account_txs(&users[0], 1000)
        .unwrap()
        .contains(&t1.id()));
    let u1 = snap.account_txs(&users[1], 1000).unwrap();
    assert_eq!(u1.iter().filter(|id| **id == t2.id()).count(), 1);
    assert!(
        snap.block(&a.blocks[5].hash()).unwrap().is_some(),
        "undone blocks stay as a side branch"
    );
    drop((snap, fsnap));

    // A returned transaction included again is found again, where it now is.
    let b10 = b.forge(vec![t1.clone()]);
    assert!(matches!(
        store.import_block(&b10, EVERY_SLOT_STARTED).unwrap(),
        Imported::Extended { .. }
    ));
    assert_eq!(
        store.snapshot().unwrap().tx_location(&t1.id()).unwrap(),
        Some(TxLocation {
            height: 10,
            index: 0
        })
    );

    // Reopening after the switch: the same tip, and the chain verifies.
    drop(store);
    let store = Store::open(dir.path(), &net.params).unwrap();
    assert_at(&store, &b10, &b.state);
}

#[test]
fn fork_deeper_than_finality_is_refused() {
    let finality = 3;
    let net = net(finality);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &net.params).unwrap();
    let mut a = net.chain();
    grow(&mut a, 4, 100);
    let mut deep = a.clone();
    grow(&mut a, 1, 200);
    let mut edge = a.clone();
    grow(&mut a, 3, 300);
    import_all(&store, &a.blocks);
    let a8 = a.blocks[7].clone();
    assert_eq!(fork::finalized_height(8, finality), 5);

    // Forks at 4: undoing 5..=8 is 4 blocks, more than the finality depth,
    // however long the branch.
    let s = deep.blocks[3].header.header.slot;
    deep.forge_after(s + 5, vec![]);
    grow(&mut deep, 5, 400);
    let first = &deep.blocks[4];
    match store.import_block(first, EVERY_SLOT_STARTED) {
        Err(ImportError::BeyondFinality {
            height,
            hash,
            undo,
            finality_depth,
        }) => {
            assert_eq!(
                (height, hash, undo, finality_depth),
                (5, first.hash(), 4, finality)
            );
        }
        other => panic!("{other:?}"),
    }
    for blk in &deep.blocks[5..] {
        match store.import_block(blk, EVERY_SLOT_STARTED) {
            Err(e @ ImportError::UnknownParent { .. }) => assert!(!e.is_fatal()),
            other => panic!("block {}: {other:?}", blk.height()),
        }
    }
    assert!(store
        .snapshot()
        .unwrap()
        .block(&first.hash())
        .unwrap()
        .is_none());
    assert_at(&store, &a8, &a.state);

    // Forks at 5: undoing exactly the finality depth is allowed.
    let s = edge.blocks[4].header.header.slot;
    edge.forge_after(s + 5, vec![]);
    edge.forge(vec![]);
    forge_losing(&mut edge, vec![], &a8);
    let e9 = edge.forge(vec![]);
    for blk in &edge.blocks[5..8] {
        side(&store, blk);
    }
    let r = reorg(&store, &e9);
    assert_eq!(r.undone.len() as u64, finality);
    assert_at(&store, &e9, &edge.state);

    // A's blocks are now a side branch forking at 5; the one at 6 fell below
    // finality and was pruned. A block on that branch is refused, naming the
    // true depth (undoing 6..=9 is 4 blocks), and so is growing it further.
    assert!(store
        .snapshot()
        .unwrap()
        .block(&a.blocks[5].hash())
        .unwrap()
        .is_none());
    let a9 = forge_losing(&mut a, vec![], &e9);
    match store.import_block(&a9, EVERY_SLOT_STARTED) {
        Err(e @ ImportError::BeyondFinality { undo: 4, .. }) => assert!(!e.is_fatal()),
        other => panic!("{other:?}"),
    }
    // Its child finds no parent (a9 was never stored): nothing to build on.
    let a10 = a.forge(vec![]);
    match store.import_block(&a10, EVERY_SLOT_STARTED) {
        Err(e @ ImportError::UnknownParent { .. }) => assert!(!e.is_fatal()),
        other => panic!("{other:?}"),
    }
    assert_at(&store, &e9, &edge.state);
}

/// `block` with its header changed by `edit`, signed again by its forger.
fn resigned(
    net: &TestNet,
    block: &Block,
    edit: impl FnOnce(&mut goodwill::chain::block::Header),
) -> Block {
    let mut header = block.header.header.clone();
    edit(&mut header);
    let key: &Keypair = net.forger_key(&header.forger).expect("our forger");
    Block {
        header: header.sign(key),
        txs: block.txs.clone(),
    }
}

#[test]
fn unknown_parent_and_invalid_branches_change_nothing() {
    let net = net(8);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &net.params).unwrap();
    let mut a = net.chain();
    grow(&mut a, 5, 100);
    let mut b = a.clone();
    grow(&mut a, 3, 200);
    let a8 = a.blocks[7].clone();
    let tx = b.transfer_from_user(2, net.users[0].public(), 66);
    b.forge_after(a.blocks[5].header.header.slot + 1, vec![tx]);
    grow(&mut b, 1, 300);
    forge_losing(&mut b, vec![], &a8);
    let b9 = b.forge(vec![]);
    let (b6, b7, b8) = (
        b.blocks[5].clone(),
        b.blocks[6].clone(),
        b.blocks[7].clone(),
    );
    import_all(&store, &a.blocks);

    // A parent never seen.
    match store.import_block(&b7, EVERY_SLOT_STARTED) {
        Err(e @ ImportError::UnknownParent { .. }) => {
            assert!(!e.is_fatal());
            let ImportError::UnknownParent {
                height,
                hash,
                parent,
            } = e
            else {
                unreachable!()
            };
            assert_eq!((height, hash, parent), (7, b7.hash(), b6.hash()));
        }
        other => panic!("{other:?}"),
    }
    assert_at(&store, &a8, &a.state);

    // A header that is not properly signed is not even stored.
    let mut forged = b6.clone();
    forged.header.signature.0[0] ^= 1;
    match store.import_block(&forged, EVERY_SLOT_STARTED) {
        Err(e @ ImportError::BadSideBlock { .. }) => {
            assert!(e.to_string().contains("signature"), "{e}")
        }
        other => panic!("{other:?}"),
    }

    // A better branch whose middle block has a wrong state digest (but a
    // valid signature): the whole switch is refused.
    let b7_bad = resigned(&net, &b7, |h| h.state_digest = Hash([7; 32]));
    let b8_bad = (0u8..=255)
        .map(|i| {
            resigned(&net, &b8, |h| {
                h.parent = b7_bad.hash();
                h.state_digest = Hash([i; 32]);
            })
        })
        .find(|blk| blk.hash() > a8.hash())
        .expect("a losing hash");
    let b9_bad = resigned(&net, &b9, |h| h.parent = b8_bad.hash());
    side(&store, &b6);
    side(&store, &b7_bad);
    side(&store, &b8_bad);
    match store.import_block(&b9_bad, EVERY_SLOT_STARTED) {
        Err(e @ ImportError::Invalid(BlockError::StateDigest { height: 7, .. })) => {
            assert!(!e.is_fatal(), "a bad block is not a storage failure")
        }
        other => panic!("{other:?}"),
    }
    assert_at(&store, &a8, &a.state);
    assert!(store
        .snapshot()
        .unwrap()
        .block(&b9_bad.hash())
        .unwrap()
        .is_none());

    // A better branch whose last block is invalid: the blocks before it were
    // applied inside the switch, and are undone with it.
    let b9_wrong = resigned(&net, &b9, |h| h.state_digest = Hash([9; 32]));
    side(&store, &b7);
    side(&store, &b8);
    match store.import_block(&b9_wrong, EVERY_SLOT_STARTED) {
        Err(ImportError::Invalid(BlockError::StateDigest { height: 9, .. })) => {}
        other => panic!("{other:?}"),
    }
    assert_at(&store, &a8, &a.state);

    // The genuine branch still wins.
    let r = reorg(&store, &b9);
    assert_eq!(r.applied, hashes(&b.blocks[5..]));
    assert_at(&store, &b9, &b.state);
}

fn put(
    net: &TestNet,
    chain: &TestChain,
    from: &Keypair,
    nonce_offset: u64,
    key: &[u8],
    value: &[u8],
) -> SignedTransaction {
    let nonce = chain.state.account(&from.public()).unwrap().nonce + nonce_offset;
    Transaction {
        chain_id: net.params.chain_id(),
        sender: from.public(),
        nonce,
        fee: net.params.genesis().min_fee,
        kind: TxKind::PutData {
            key: Bytes::new(key.to_vec()).unwrap(),
            value: Bytes::new(value.to_vec()).unwrap(),
        },
        memo: Bytes::empty(),
    }
    .sign(from)
}

#[test]
fn record_history_follows_the_canonical_chain() {
    let net = net(8);
    let (u0, u1) = (net.users[0].clone(), net.users[1].clone());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &net.params).unwrap();
    let mut a = net.chain();
    let w1 = put(&net, &a, &u0, 0, b"k", b"first");
    a.forge(vec![w1.clone()]);
    grow(&mut a, 1, 100);
    let mut b = a.clone();
    let w2 = put(&net, &a, &u0, 0, b"k", b"second");
    let other_key = put(&net, &a, &u0, 1, b"kk", b"x");
    let other_owner = put(&net, &a, &u1, 0, b"k", b"y");
    a.forge(vec![w2.clone(), other_key.clone(), other_owner.clone()]);
    import_all(&store, &a.blocks);

    let snap = store.snapshot().unwrap();
    assert_eq!(
        snap.record_history(&u0.public(), b"k").unwrap(),
        vec![
            RecordVersion {
                height: 1,
                index: 0,
                tx: w1.id()
            },
            RecordVersion {
                height: 3,
                index: 0,
                tx: w2.id()
            },
        ],
        "both writes, oldest first; not (u0, \"kk\") nor (u1, \"k\")"
    );
    assert_eq!(
        snap.record_history(&u0.public(), b"kk").unwrap(),
        vec![RecordVersion {
            height: 3,
            index: 1,
            tx: other_key.id()
        }]
    );
    assert_eq!(
        snap.record_history(&u1.public(), b"k").unwrap(),
        vec![RecordVersion {
            height: 3,
            index: 2,
            tx: other_owner.id()
        }]
    );
    let key = Bytes::new(b"k".to_vec()).unwrap();
    assert_eq!(
        snap.record(&u0.public(), &key).unwrap(),
        Some(Record {
            value: Bytes::new(b"second".to_vec()).unwrap(),
            height: 3,
            tx: w2.id()
        }),
        "the latest write is in the state"
    );
    drop(snap);

    // A branch without the second write wins: history and state follow it.
    let a3 = a.blocks[2].clone();
    forge_losing(&mut b, vec![], &a3);
    let b4 = b.forge(vec![]);
    side(&store, &b.blocks[2]);
    reorg(&store, &b4);
    let snap = store.snapshot().unwrap();
    assert_eq!(
        snap.record_history(&u0.public(), b"k").unwrap(),
        vec![RecordVersion {
            height: 1,
            index: 0,
            tx: w1.id()
        }]
    );
    assert!(snap.record_history(&u0.public(), b"kk").unwrap().is_empty());
    assert_eq!(
        snap.record(&u0.public(), &key).unwrap().map(|r| r.value),
        Some(Bytes::new(b"first".to_vec()).unwrap())
    );
    drop(snap);
    assert_at(&store, &b4, &b.state);
}
