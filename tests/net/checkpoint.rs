//! Weak-subjectivity checkpoints (issue 13, finding 4): a node given
//! `HEIGHT:HASH` refuses every chain that contradicts it — on a real redb
//! store, and between real nodes syncing over TCP on 127.0.0.1.
//!
//! The attack they stop: bootstrap keys (or any old keys) can grow an old
//! branch to any length; a fresh node trusts whichever peer claims the
//! highest tip, and its finality is relative to what it has seen, so once
//! fed a forged prefix deeper than the finality depth it can never come back.

// Import results carry the context a person needs (see src/lib.rs).
#![allow(clippy::result_large_err)]

use crate::common;

use goodwill::chain::block::Block;
use goodwill::chain::genesis::{ChainParams, Checkpoint};
use goodwill::ledger::state::StateReadExt;
use goodwill::runtime::node::{self};
use goodwill::store::{ImportError, Imported, Store, StoreError};
use goodwill::testkit::{self, TestChain, TestNet, TestNetConfig};

const FINALITY: u64 = 3;

fn net() -> TestNet {
    TestNet::new(&TestNetConfig {
        finality_depth: FINALITY,
        ..TestNetConfig::default()
    })
}

/// `n` blocks on `chain`, each with a transfer (salted, so two chains
/// grown with different salts differ from their first block).
fn grow(chain: &mut TestChain, n: usize, salt: u64) {
    for i in 0..n {
        let to = chain.net.users[(i + 1) % 4].public();
        let tx = chain.transfer_from_user(i % 4, to, salt + i as u64);
        chain.forge(vec![tx]);
    }
}

/// The honest chain (10 blocks) and a forged one from the genesis
/// (12 blocks, so longer), both by the genesis's bootstrap forgers.
fn branches(net: &TestNet) -> (Vec<Block>, Vec<Block>) {
    let mut honest = net.chain();
    grow(&mut honest, 10, 100);
    let mut forged = net.chain();
    grow(&mut forged, 12, 900);
    assert_ne!(honest.blocks[0].hash(), forged.blocks[0].hash());
    (honest.blocks, forged.blocks)
}

fn import(store: &Store, blocks: &[Block]) -> Vec<Result<Imported, ImportError>> {
    blocks
        .iter()
        .map(|b| store.import_block(b, goodwill::testkit::EVERY_SLOT_STARTED))
        .collect()
}

#[test]
fn without_a_checkpoint_a_fresh_store_fed_a_forged_prefix_never_comes_back() {
    // What the checkpoint is for: the forged chain arrives first, and the
    // honest one would undo more than the finality depth.
    let net = net();
    let (honest, forged) = branches(&net);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &net.params).unwrap();
    for r in import(&store, &forged[..7]) {
        assert!(matches!(r, Ok(Imported::Extended { .. })), "{r:?}");
    }
    let results = import(&store, &honest);
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(ImportError::BeyondFinality { .. }))),
        "{results:?}"
    );
    assert_eq!(store.tip().unwrap().hash, forged[6].hash());
}

#[test]
fn a_checkpoint_refuses_the_forged_chain_and_lets_the_honest_one_replace_its_prefix() {
    let net = net();
    let (honest, forged) = branches(&net);
    let cp = Checkpoint {
        height: 8,
        hash: honest[7].hash(),
    };
    let params = net.params.clone().with_checkpoints(&[cp]).unwrap();
    assert_eq!(params.chain_id(), net.params.chain_id());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &params).unwrap();

    // Below the checkpoint nothing contradicts it yet: the forged blocks
    // are taken (a node cannot tell them apart from the honest ones)...
    for r in import(&store, &forged[..7]) {
        assert!(matches!(r, Ok(Imported::Extended { .. })), "{r:?}");
    }
    // ...and refused at its height, by name, and nothing above it follows.
    let e = store
        .import_block(&forged[7], goodwill::testkit::EVERY_SLOT_STARTED)
        .unwrap_err();
    match &e {
        ImportError::Checkpoint {
            height,
            hash,
            expected,
        } => assert_eq!(
            (*height, *hash, *expected),
            (8, forged[7].hash(), honest[7].hash())
        ),
        other => panic!("{other:?}"),
    }
    assert!(!e.is_fatal());
    let text = e.to_string();
    assert!(
        text.contains(&format!("contradicts checkpoint {cp}")),
        "{text}"
    );
    assert!(matches!(
        store.import_block(&forged[8], goodwill::testkit::EVERY_SLOT_STARTED),
        Err(ImportError::UnknownParent { .. })
    ));
    assert_eq!(store.tip().unwrap().height, 7);

    // The honest chain undoes all 7 forged blocks (more than the finality
    // depth of 3): below its checkpoint a node has no finality of its own.
    for r in import(&store, &honest) {
        assert!(r.is_ok(), "{r:?}");
    }
    let tip = store.tip().unwrap();
    assert_eq!(tip.hash, honest[9].hash());
    assert_eq!(store.snapshot().unwrap().hash_at(8).unwrap(), Some(cp.hash));
    assert_eq!(store.verify_chain().unwrap(), 10);

    // Past the checkpoint the finality depth binds again, and the forged
    // chain can never come back: its block 8 is refused whatever follows.
    assert!(matches!(
        store.import_block(&forged[7], goodwill::testkit::EVERY_SLOT_STARTED),
        Err(ImportError::Checkpoint { .. })
    ));
    assert_eq!(store.tip().unwrap().hash, honest[9].hash());
}

#[test]
fn a_store_that_contradicts_a_checkpoint_does_not_open() {
    let net = net();
    let (honest, forged) = branches(&net);
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), &net.params).unwrap();
        for r in import(&store, &forged) {
            assert!(r.is_ok(), "{r:?}");
        }
    }
    let cp = Checkpoint {
        height: 5,
        hash: honest[4].hash(),
    };
    let params = net.params.clone().with_checkpoints(&[cp]).unwrap();
    let e = Store::open(dir.path(), &params).unwrap_err();
    assert!(
        matches!(e, StoreError::Checkpoint { height: 5, .. }),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("contradicts checkpoint 5:") && text.contains(&forged[4].hash().to_string()),
        "{text}"
    );
    // Its own block, or a height it has not reached, opens.
    for ok in [
        Checkpoint {
            height: 5,
            hash: forged[4].hash(),
        },
        Checkpoint {
            height: 40,
            hash: honest[0].hash(),
        },
    ] {
        let params = net.params.clone().with_checkpoints(&[ok]).unwrap();
        Store::open(dir.path(), &params).unwrap();
    }
}

#[test]
fn checkpoints_parse_print_and_stay_out_of_the_chain_id() {
    let net = net();
    let h = net.chain().state.tip().unwrap().hash;
    let cp: Checkpoint = format!("12:{h}").parse().unwrap();
    assert_eq!(
        cp,
        Checkpoint {
            height: 12,
            hash: h
        }
    );
    assert_eq!(cp.to_string(), format!("12:{h}"));
    for bad in ["12", "0:00", "x:00", &format!("0:{h}"), &format!("5:{h}0")] {
        let e = bad.parse::<Checkpoint>().unwrap_err().to_string();
        assert!(e.contains("HEIGHT:HASH"), "{bad}: {e}");
    }
    let other = Checkpoint {
        height: 12,
        hash: goodwill::chain::crypto::Hash([9; 32]),
    };
    let e = net
        .params
        .clone()
        .with_checkpoints(&[cp, other])
        .unwrap_err()
        .to_string();
    assert!(e.contains("two checkpoints for height 12"), "{e}");

    // In a genesis file: the same chain id, the checkpoint held.
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.toml");
    let with = dir.path().join("with.toml");
    let text = net.params.to_file_text();
    std::fs::write(&plain, &text).unwrap();
    std::fs::write(&with, format!("checkpoints = [\"{cp}\"]\n{text}")).unwrap();
    let p = goodwill::runtime::config::load_genesis(&plain).unwrap();
    let w = goodwill::runtime::config::load_genesis(&with).unwrap();
    assert_eq!(p.chain_id(), w.chain_id());
    assert_eq!(w.checkpoints(), vec![cp]);
    assert_eq!(w.checkpoint_at(12), Some(h));
    assert!(p.checkpoints().is_empty());
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, format!("checkpoints = [\"12:zz\"]\n{text}")).unwrap();
    let e = goodwill::runtime::config::load_genesis(&bad)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("checkpoints") && e.contains("HEIGHT:HASH"),
        "{e}"
    );
}

/// A store in `dir` holding `blocks`.
fn prefilled(dir: &std::path::Path, params: &ChainParams, blocks: &[Block]) {
    let store = Store::open(dir, params).unwrap();
    for b in blocks {
        store
            .import_block(b, goodwill::testkit::EVERY_SLOT_STARTED)
            .unwrap();
    }
}

#[test]
fn a_real_node_syncing_from_a_forger_of_history_and_an_honest_node_ends_on_the_checkpoint() {
    let net = net();
    let (honest, forged) = branches(&net);
    let dir = tempfile::tempdir().unwrap();
    prefilled(&dir.path().join("honest"), &net.params, &honest);
    prefilled(&dir.path().join("forged"), &net.params, &forged);
    let start = |name: &str, params: &ChainParams, peers: Vec<String>, k: u8| {
        node::spawn(common::node_config(
            &dir.path().join(name),
            params,
            testkit::key(k, 0),
            peers,
        ))
        .expect("the node starts")
    };
    let h = start("honest", &net.params, vec![], 71);
    let m = start("forged", &net.params, vec![], 72);
    let cp = Checkpoint {
        height: 8,
        hash: honest[7].hash(),
    };
    let params = net.params.clone().with_checkpoints(&[cp]).unwrap();
    // The forger of history claims the higher tip (12 against 10).
    let v = start(
        "victim",
        &params,
        vec![m.addr.to_string(), h.addr.to_string()],
        73,
    );
    let data = dir.path().join("victim");
    let addr = v.addr.to_string();
    let tip = common::wait_for(60_000, "the victim to reach the honest tip", || {
        let t = smol::block_on(async {
            let mut c = goodwill::runtime::client::Client::connect(&addr)
                .await
                .ok()?;
            c.tip().await.ok()
        })?;
        (t.hash == honest[9].hash()).then_some(t)
    });
    assert_eq!(tip.height, 10);
    v.stop().unwrap();
    let store = Store::open(&data, &params).unwrap();
    assert_eq!(store.snapshot().unwrap().hash_at(8).unwrap(), Some(cp.hash));
    drop(store);
    h.stop().unwrap();
    m.stop().unwrap();
}

#[test]
fn chain_checkpoint_prints_a_final_block_of_a_trusted_node() {
    let net = net();
    let (honest, _) = branches(&net);
    let dir = tempfile::tempdir().unwrap();
    prefilled(&dir.path().join("data"), &net.params, &honest);
    let n = node::spawn(common::node_config(
        &dir.path().join("data"),
        &net.params,
        testkit::key(71, 0),
        vec![],
    ))
    .expect("the node starts");
    let genesis = dir.path().join("genesis.toml");
    std::fs::write(&genesis, net.params.to_file_text()).unwrap();
    let out = common::goodwill_command()
        .args(["chain", "checkpoint", "--node"])
        .arg(n.addr.to_string())
        .arg("--genesis")
        .arg(&genesis)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    // Tip 10, finality 3: block 7 is the highest final one.
    assert_eq!(stdout.trim(), format!("7:{}", honest[6].hash()));
    let printed: Checkpoint = stdout.trim().parse().unwrap();
    assert_eq!(printed.height, 7);
    n.stop().unwrap();
}
