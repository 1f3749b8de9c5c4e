//! Issue 13, findings 1, 3 and 7, reproduced against the production code
//! (`Store::import_block`, `Core::connected` / `message` / `tick` /
//! `appliance`) and shown to fail now:
//!
//! 1. a leader that pre-forges its own future slots and serves them in a
//!    sync answer (or claims their tip) no longer moves a node to them: the
//!    clock is checked on every import path, and a claimed tip from the
//!    future is ignored;
//! 3. the leader of slot 11 building on the grandparent with a lower hash no
//!    longer orphans the slot-10 block (the first seen stays), and a rival
//!    gossiped past the lateness bound is neither stored nor relayed;
//! 7. a main node that claims a tip and delivers nothing no longer keeps a
//!    forger "not synced".
//!
//! The test chains start at 0 ms with 1 s slots and 500 ms of allowed drift.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use goodwill::chain::block::Block;
use goodwill::chain::codec::Bytes;
use goodwill::chain::crypto::{Hash, Keypair};
use goodwill::ledger::mempool::MempoolLimits;
use goodwill::ledger::schedule;
use goodwill::ledger::state::StateReadExt;
use goodwill::ledger::{self, Parallelism};
use goodwill::peer::core::{Action, ConnId, Core, CoreOptions};
use goodwill::peer::forging::ClockCheck;
use goodwill::peer::policy::{
    serves_from, CLAIM_PROOF_MS, DURABLE_AFTER_SYNC_BLOCKS, UNTRUSTED_CLAIM_MS,
};
use goodwill::peer::queries::blocks_from_store;
use goodwill::store::{ImportError, Imported, Indexes, SimDisk, Store};
use goodwill::testkit::{TestChain, TestNet, TestNetConfig, EVERY_SLOT_STARTED};
use goodwill::wire::{Hello, Message, Role, TipInfo, PROTOCOL_VERSION};

const SLOT_MS: u64 = 1_000;

fn net() -> TestNet {
    TestNet::new(&TestNetConfig {
        finality_depth: 32,
        ..TestNetConfig::default()
    })
}

fn store(net: &TestNet) -> Arc<Store> {
    Arc::new(
        Store::with_backend(
            SimDisk::new(),
            &net.params,
            "victim".into(),
            Arc::new(AtomicU64::new(0)),
        )
        .unwrap(),
    )
}

/// An honest chain of `n` blocks in slots 1..=n (the bootstrap forgers
/// take turns, so every slot is led).
fn honest(net: &TestNet, n: usize) -> TestChain {
    let mut c = net.chain();
    for _ in 0..n {
        c.forge(vec![]);
    }
    assert_eq!(c.state.tip().unwrap().slot, n as u64);
    c
}

/// What one leader can do alone: forge, ahead of time, a block in every
/// slot of `slots` that its key leads, each on the last.
fn pre_forge(chain: &mut TestChain, key: &Keypair, slots: std::ops::Range<u64>) -> Vec<Block> {
    let params = chain.net.params.clone();
    let mut out = Vec::new();
    for slot in slots {
        let tip = chain.state.tip().unwrap();
        if schedule::leader(&params, &chain.state, &tip, slot).unwrap() != Some(key.public()) {
            continue;
        }
        let block = ledger::prepare_block(&params, &chain.state, key, slot, vec![])
            .unwrap()
            .sign(key);
        let changes =
            ledger::apply_block(&params, &chain.state, &block, Parallelism::Single).unwrap();
        chain.state.apply(&changes);
        chain.blocks.push(block.clone());
        out.push(block);
    }
    out
}

fn tip_of(b: &Block) -> TipInfo {
    TipInfo {
        height: b.height(),
        hash: b.hash(),
        slot: b.header.header.slot,
    }
}

fn hello(net: &TestNet, who: u8, tip: TipInfo, now_ms: u64) -> Hello {
    Hello {
        version: PROTOCOL_VERSION,
        chain_id: net.params.chain_id(),
        role: Role::MainNode,
        tip,
        key: goodwill::testkit::key(40, who as u32).public(),
        nonce: [who; 32],
        clock_ms: now_ms,
        listen: None,
        software: Bytes::new(*b"test").unwrap(),
    }
}

fn ip(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, i))
}

/// The GetBlocks request sent on `conn`, if any: (id, from).
fn get_blocks(actions: &[Action], conn: ConnId) -> Option<(u32, u64)> {
    actions.iter().find_map(|a| match a {
        Action::Send(c, Message::GetBlocks { id, from, .. }) if *c == conn => Some((*id, *from)),
        _ => None,
    })
}

fn main_core(store: Arc<Store>, now_ms: u64) -> Core {
    Core::new(
        store,
        goodwill::testkit::key(41, 0).public(),
        None,
        MempoolLimits::default(),
        now_ms,
        CoreOptions::main_node(),
    )
}

/// The chain, its victim store, and the attacker's branch: forger 0
/// pre-forged every slot it leads from `from_slot` to 400 on the honest tip.
fn attack_setup(from_slot: u64) -> (TestNet, TestChain, Arc<Store>, Vec<Block>, Keypair) {
    let net = net();
    let chain = honest(&net, 10);
    let victim = store(&net);
    for b in &chain.blocks {
        victim.import_block(b, EVERY_SLOT_STARTED).unwrap();
    }
    let attacker = net.forgers[0].clone();
    let mut branch = chain.clone();
    let future = pre_forge(&mut branch, &attacker, from_slot..400);
    assert!(future.len() >= 100, "{} blocks pre-forged", future.len());
    (net, chain, victim, future, attacker)
}

// ---------------------------------------------------------------------------
// Finding 1: blocks for future slots.

#[test]
fn the_store_refuses_a_block_from_the_future_on_every_path() {
    let (net, chain, victim, future, _) = attack_setup(20);
    // Slot 11 is under way: the attacker's first block (slot 20 or later)
    // starts at least 9 s ahead.
    let now = 11 * SLOT_MS + 200;
    // Extending the tip.
    match victim.import_block(&future[0], now) {
        Err(e @ ImportError::Early { .. }) => {
            assert!(!e.is_fatal());
            assert!(e.to_string().contains("ahead of this node's clock"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // A side block from the future (on the tip's parent).
    let mut side = net.chain();
    for b in &chain.blocks[..9] {
        let c = ledger::apply_block(&net.params, &side.state, b, Parallelism::Single).unwrap();
        side.state.apply(&c);
        side.blocks.push(b.clone());
    }
    let side_future = side.clone().forge_after(30, vec![]);
    assert_eq!(side_future.height(), 10);
    assert!(matches!(
        victim.import_block(&side_future, now),
        Err(ImportError::Early { .. })
    ));
    // A branch that would be longer with its future block: its due block
    // waits as a side block; the future one, which would make the branch
    // win (a reorganisation), is refused, so the chain never switches.
    let mut branch = side.clone();
    let tx = branch.transfer_from_user(0, net.users[1].public(), 5);
    let due_side = branch.forge_after(9, vec![tx]);
    let ahead = branch.forge_after(40, vec![]);
    assert_eq!(ahead.height(), 11);
    assert!(matches!(
        victim.import_block(&due_side, now).unwrap(),
        Imported::SideBranch { .. }
    ));
    assert!(matches!(
        victim.import_block(&ahead, now),
        Err(ImportError::Early { .. })
    ));
    let tip = victim.tip().unwrap();
    assert_eq!((tip.height, tip.hash), (10, chain.blocks[9].hash()));
    // Within the drift the clock check lets a block in; once its slot has
    // started, any block is judged on the rules alone.
    let due = chain.clone().forge_after(10, vec![]);
    let slot = due.header.header.slot;
    assert!(victim.import_block(&due, slot * SLOT_MS - 500).is_ok());
    assert!(victim.import_block(&future[0], EVERY_SLOT_STARTED).is_ok());
}

/// The attack of the issue: one of three bootstrap forgers pre-forged
/// about a hundred blocks for its own slots up to 390 s ahead, and a sync
/// answer moved its victim to them. Now the answer is refused, the sender
/// struck, and the victim keeps following the honest chain.
#[test]
fn a_sync_answer_of_pre_forged_future_blocks_does_not_move_the_victim() {
    let (net, chain, victim, future, _) = attack_setup(20);
    let now = 11 * SLOT_MS + 200;
    let mut core = main_core(victim.clone(), now);
    // A claim that could be true now (height 11 in slot 11), then blocks
    // from the future in the answer.
    let claim = TipInfo {
        height: 11,
        hash: future[0].hash(),
        slot: 11,
    };
    let out = core
        .connected(
            1,
            &hello(&net, 1, claim, now),
            ip(1),
            Default::default(),
            now,
        )
        .unwrap();
    let (id, from) = get_blocks(&out, 1).expect("a plausible better tip is asked for");
    assert_eq!(from, 11);
    let out = core
        .message(
            1,
            Message::Blocks {
                id,
                blocks: future.clone(),
            },
            now + 50,
        )
        .unwrap();
    let tip = victim.tip().unwrap();
    assert_eq!(
        (tip.height, tip.hash),
        (10, chain.blocks[9].hash()),
        "the victim moved to the pre-forged branch"
    );
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::Log(_, l) if l.contains("ahead of this node's clock"))),
        "{out:?}"
    );
    // The honest chain goes on.
    let mut honest = chain.clone();
    let b11 = honest.forge_after(10, vec![]);
    assert_eq!(b11.header.header.slot, 11);
    let out = core
        .connected(
            2,
            &hello(&net, 2, tip_of(&chain.blocks[9]), now),
            ip(2),
            Default::default(),
            now,
        )
        .unwrap();
    assert!(get_blocks(&out, 2).is_none());
    core.message(2, Message::NewBlock(Box::new(b11.clone())), now + 100)
        .unwrap();
    assert_eq!(victim.tip().unwrap().hash, b11.hash());
}

#[test]
fn a_claimed_tip_from_the_future_or_with_more_blocks_than_slots_starts_no_sync() {
    let (net, _, victim, future, _) = attack_setup(20);
    let now = 11 * SLOT_MS + 200;
    let mut core = main_core(victim, now);
    let out = core
        .connected(
            1,
            &hello(&net, 1, tip_of(future.last().unwrap()), now),
            ip(1),
            Default::default(),
            now,
        )
        .unwrap();
    assert!(get_blocks(&out, 1).is_none(), "{out:?}");
    let out = core
        .message(1, Message::Tip(tip_of(&future[5])), now + 10)
        .unwrap();
    assert!(get_blocks(&out, 1).is_none(), "{out:?}");
    let huge = TipInfo {
        height: 1_000_000,
        hash: Hash([9; 32]),
        slot: 11,
    };
    let out = core.message(1, Message::Tip(huge), now + 20).unwrap();
    assert!(get_blocks(&out, 1).is_none(), "{out:?}");
    let out = core.tick(now + 1_000).unwrap();
    assert!(get_blocks(&out, 1).is_none(), "{out:?}");
}

// ---------------------------------------------------------------------------
// Finding 3: tie-break grinding.

/// The slot-11 leader builds on the grandparent (block 9) instead of the
/// slot-10 block, trying transaction sets until its block's hash is lower.
fn grind_rival(chain: &TestChain, b10: &Block) -> Block {
    let net = &chain.net;
    // The chain at block 9.
    let mut base = net.chain();
    for b in &chain.blocks[..chain.blocks.len() - 1] {
        let ch = ledger::apply_block(&net.params, &base.state, b, Parallelism::Single).unwrap();
        base.state.apply(&ch);
        base.blocks.push(b.clone());
    }
    for amount in 1..200 {
        let mut c = base.clone();
        let tx = c.transfer_from_user(0, net.users[1].public(), amount);
        let rival = c.forge_after(b10.header.header.slot, vec![tx]);
        assert_eq!(rival.header.header.slot, b10.header.header.slot + 1);
        assert_eq!(rival.height(), b10.height());
        if rival.hash() < b10.hash() {
            return rival;
        }
    }
    panic!("no lower hash in 200 tries");
}

#[test]
fn the_slot_11_leader_building_on_the_grandparent_with_a_lower_hash_orphans_nothing() {
    let net = net();
    let chain = honest(&net, 10);
    let b10 = chain.blocks[9].clone();
    let rival = grind_rival(&chain, &b10);
    let victim = store(&net);
    for b in &chain.blocks {
        victim.import_block(b, EVERY_SLOT_STARTED).unwrap();
    }
    // Gossiped at its slot's start: stored as a side block, and the slot-10
    // block, seen first, stays.
    let now = 11 * SLOT_MS + 100;
    let mut core = main_core(victim.clone(), now);
    core.connected(
        1,
        &hello(&net, 1, tip_of(&b10), now),
        ip(1),
        Default::default(),
        now,
    )
    .unwrap();
    core.message(1, Message::NewBlock(Box::new(rival.clone())), now)
        .unwrap();
    let snap = victim.snapshot().unwrap();
    assert!(snap.block(&rival.hash()).unwrap().is_some(), "stored");
    assert_eq!(snap.hash_at(10).unwrap(), Some(b10.hash()), "orphaned");
    drop(snap);
    assert_eq!(victim.tip().unwrap().hash, b10.hash());
}

#[test]
fn a_rival_gossiped_past_the_lateness_bound_is_neither_stored_nor_relayed() {
    let net = net();
    let chain = honest(&net, 10);
    let b10 = chain.blocks[9].clone();
    let rival = grind_rival(&chain, &b10);
    let victim = store(&net);
    for b in &chain.blocks {
        victim.import_block(b, EVERY_SLOT_STARTED).unwrap();
    }
    // Slot 11 started at 11 s: the bound is 2 slots and the drift, 13.5 s.
    let now = 13_501;
    let mut core = main_core(victim.clone(), now);
    for c in [1, 2] {
        core.connected(
            c,
            &hello(&net, c as u8, tip_of(&b10), now),
            ip(c as u8),
            Default::default(),
            now,
        )
        .unwrap();
    }
    let out = core
        .message(1, Message::NewBlock(Box::new(rival.clone())), now)
        .unwrap();
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::Log(_, l) if l.contains("late rival"))),
        "{out:?}"
    );
    assert!(
        !out.iter()
            .any(|a| matches!(a, Action::Send(2, Message::NewBlock(_)))),
        "relayed: {out:?}"
    );
    assert!(victim
        .snapshot()
        .unwrap()
        .block(&rival.hash())
        .unwrap()
        .is_none());
    // A block that extends the tip is never late, however old its slot.
    let b11 = chain.clone().forge_after(10, vec![]);
    core.message(1, Message::NewBlock(Box::new(b11.clone())), 60_000)
        .unwrap();
    assert_eq!(victim.tip().unwrap().hash, b11.hash());
}

// ---------------------------------------------------------------------------
// Finding 7: one main node can stop a forger.

fn forger_core(net: &TestNet, store: Arc<Store>, now_ms: u64) -> Core {
    let key = net.forgers[1].clone();
    Core::new(
        store,
        key.public(),
        None,
        MempoolLimits::default(),
        now_ms,
        CoreOptions::forger(key, ClockCheck::Peers),
    )
}

fn synced(core: &Core, now_ms: u64) -> bool {
    core.appliance(now_ms).unwrap().unwrap().synced
}

#[test]
fn a_main_node_that_claims_a_tip_and_delivers_nothing_does_not_keep_a_forger_unsynced() {
    let net = net();
    let chain = honest(&net, 10);
    let store = store(&net);
    for b in &chain.blocks {
        store.import_block(b, EVERY_SLOT_STARTED).unwrap();
    }
    let now = 11 * SLOT_MS + 200;
    let mut core = forger_core(&net, store, now);
    let ours = tip_of(&chain.blocks[9]);
    core.connected(
        1,
        &hello(&net, 1, ours, now),
        ip(1),
        Default::default(),
        now,
    )
    .unwrap();
    assert!(synced(&core, now));
    // The liar claims a better tip (one that could be true) …
    let claim = TipInfo {
        height: 11,
        hash: Hash([7; 32]),
        slot: 11,
    };
    let out = core
        .connected(
            2,
            &hello(&net, 2, claim, now),
            ip(2),
            Default::default(),
            now,
        )
        .unwrap();
    let (id, _) = get_blocks(&out, 2).expect("asked");
    assert!(
        !synced(&core, now + 10),
        "while it is asked, a claim counts"
    );
    // … and answers with nothing.
    core.message(2, Message::Blocks { id, blocks: vec![] }, now + 20)
        .unwrap();
    assert!(
        synced(&core, now + 30),
        "a claim not delivered counts no more"
    );
    // Claiming again changes nothing while it is not believed.
    let out = core.message(2, Message::Tip(claim), now + 40).unwrap();
    assert!(get_blocks(&out, 2).is_none());
    assert!(synced(&core, now + 50));
    // A claim of height 10⁶ is not even possible: ignored at once.
    let huge = TipInfo {
        height: 1_000_000,
        hash: Hash([8; 32]),
        slot: 11,
    };
    core.connected(
        3,
        &hello(&net, 3, huge, now),
        ip(3),
        Default::default(),
        now,
    )
    .unwrap();
    assert!(synced(&core, now + 60));
    // After the distrust lapses, it is asked once more.
    let later = now + 20 + UNTRUSTED_CLAIM_MS;
    let out = core.tick(later).unwrap();
    assert!(get_blocks(&out, 2).is_some(), "{out:?}");
}

#[test]
fn a_main_node_that_claims_a_tip_and_stays_silent_stops_a_forger_for_one_request_at_most() {
    let net = net();
    let chain = honest(&net, 10);
    let store = store(&net);
    for b in &chain.blocks {
        store.import_block(b, EVERY_SLOT_STARTED).unwrap();
    }
    let now = 11 * SLOT_MS + 200;
    let mut core = forger_core(&net, store, now);
    core.connected(
        1,
        &hello(&net, 1, tip_of(&chain.blocks[9]), now),
        ip(1),
        Default::default(),
        now,
    )
    .unwrap();
    let claim = TipInfo {
        height: 11,
        hash: Hash([7; 32]),
        slot: 11,
    };
    let out = core
        .connected(
            2,
            &hello(&net, 2, claim, now),
            ip(2),
            Default::default(),
            now,
        )
        .unwrap();
    assert!(get_blocks(&out, 2).is_some());
    assert!(!synced(&core, now + CLAIM_PROOF_MS - 1));
    assert!(synced(&core, now + CLAIM_PROOF_MS));
    // At the sync timeout it is distrusted, and not asked again.
    let out = core.tick(now + 16_000).unwrap();
    assert!(get_blocks(&out, 2).is_none(), "{out:?}");
    assert!(synced(&core, now + 16_000));
}

// ---------------------------------------------------------------------------
// Issue 18: a forger keeps only the newest blocks.

/// A node far behind is never sent to a pruned forger for blocks it no
/// longer holds (it would answer nothing, and be blamed for a claim it did
/// not break); near the tip the forger is asked, and a main node for any gap.
/// The window the core assumes is checked against a real pruned store.
#[test]
fn a_node_far_behind_asks_a_main_node_not_a_pruned_forger() {
    let net = net();
    let chain = honest(&net, 80);
    let depth = net.params.genesis().finality_depth;
    // The forger's store: lean and pruned, as `goodwill forge` keeps it.
    let forger_store = Store::with_backend_indexes(
        SimDisk::new(),
        &net.params,
        "forger".into(),
        Arc::new(AtomicU64::new(0)),
        Indexes::Skip,
    )
    .unwrap();
    forger_store.set_pruning(true);
    for b in &chain.blocks {
        forger_store.import_block(b, EVERY_SLOT_STARTED).unwrap();
    }
    let kept = serves_from(Role::Forger, 80, depth);
    assert_eq!(kept, 80 - depth);
    assert_eq!(serves_from(Role::MainNode, 80, depth), 1);
    let served = blocks_from_store(&forger_store, kept, 64).unwrap();
    assert_eq!(served.first().map(Block::height), Some(kept));
    assert_eq!(served.len() as u64, 80 - kept + 1);
    assert!(blocks_from_store(&forger_store, kept - 1, 64)
        .unwrap()
        .is_empty());

    let now = 80 * SLOT_MS + 200;
    let far_behind = store(&net);
    for b in &chain.blocks[..10] {
        far_behind.import_block(b, EVERY_SLOT_STARTED).unwrap();
    }
    let mut core = main_core(far_behind, now);
    let mut forger_hello = hello(&net, 1, tip_of(&chain.blocks[79]), now);
    forger_hello.role = Role::Forger;
    let out = core
        .connected(1, &forger_hello, ip(1), Default::default(), now)
        .unwrap();
    assert!(get_blocks(&out, 1).is_none(), "{out:?}");
    let out = core
        .connected(
            2,
            &hello(&net, 2, tip_of(&chain.blocks[79]), now),
            ip(2),
            Default::default(),
            now,
        )
        .unwrap();
    assert_eq!(get_blocks(&out, 2).map(|(_, from)| from), Some(11));

    let near = store(&net);
    for b in &chain.blocks[..60] {
        near.import_block(b, EVERY_SLOT_STARTED).unwrap();
    }
    let mut core = main_core(near, now);
    let out = core
        .connected(1, &forger_hello, ip(1), Default::default(), now)
        .unwrap();
    assert_eq!(get_blocks(&out, 1).map(|(_, from)| from), Some(61));
}

// ---------------------------------------------------------------------------
// A forger that catches up by a sync makes what it fetched durable.

/// Answers the core's GetBlocks on `conn` from `chain` until it asks no
/// more; returns every action it took.
fn serve_sync(
    core: &mut Core,
    chain: &TestChain,
    conn: ConnId,
    mut out: Vec<Action>,
    now_ms: u64,
) -> Vec<Action> {
    let mut all = Vec::new();
    for _ in 0..1_000 {
        let asked = out.iter().find_map(|a| match a {
            Action::Send(c, Message::GetBlocks { id, from, count }) if *c == conn => {
                Some((*id, *from, *count))
            }
            _ => None,
        });
        all.extend(out);
        let Some((id, from, count)) = asked else {
            return all;
        };
        let blocks: Vec<Block> = chain
            .blocks
            .iter()
            .skip(from as usize - 1)
            .take(count as usize)
            .cloned()
            .collect();
        out = core
            .message(conn, Message::Blocks { id, blocks }, now_ms)
            .unwrap();
    }
    panic!("the sync did not end in 1,000 answers");
}

#[test]
fn a_forger_that_catches_up_by_a_sync_makes_the_fetched_blocks_durable_at_once() {
    let net = net();
    let long = DURABLE_AFTER_SYNC_BLOCKS as usize + 36;
    let chain = honest(&net, long + DURABLE_AFTER_SYNC_BLOCKS as usize - 1);
    let now = 400 * SLOT_MS;
    let store = store(&net);
    let mut core = forger_core(&net, store.clone(), now);
    let short_chain = TestChain {
        blocks: chain.blocks[..long].to_vec(),
        ..chain.clone()
    };
    let out = core
        .connected(
            1,
            &hello(&net, 1, tip_of(&chain.blocks[long - 1]), now),
            ip(1),
            Default::default(),
            now,
        )
        .unwrap();
    let actions = serve_sync(&mut core, &short_chain, 1, out, now);
    assert_eq!(store.tip().unwrap().height, long as u64);
    assert_eq!(
        store.not_durable(),
        0,
        "{long} synced blocks are durable as the sync catches up"
    );
    assert!(
        actions.iter().any(|a| matches!(a, Action::Log(_, m)
            if m.contains("caught up") && m.contains(&format!("the {long} blocks held")))),
        "{actions:?}"
    );
    // A shorter sync (one block fewer than the bound) keeps them held
    // until the durable interval ends, as blocks that come one by one do.
    let out = core
        .message(1, Message::Tip(tip_of(chain.blocks.last().unwrap())), now)
        .unwrap();
    let actions = serve_sync(&mut core, &chain, 1, out, now);
    assert_eq!(
        store.tip().unwrap().hash,
        chain.blocks.last().unwrap().hash()
    );
    assert_eq!(store.not_durable(), DURABLE_AFTER_SYNC_BLOCKS - 1);
    assert!(!actions
        .iter()
        .any(|a| matches!(a, Action::Log(_, m) if m.contains("caught up"))));
}
