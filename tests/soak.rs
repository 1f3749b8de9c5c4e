//! A real-process soak: one main node and three forging appliances as
//! `goodwill` processes on 127.0.0.1, and a forger SIGKILLed and restarted
//! every few seconds for a few minutes. At the end the chain verifies on
//! every node, no forger ever signed two blocks for one slot (every block in
//! every store matches its forger's signing record), and all nodes agree.
//!
//! Slow (`slow_…`, ignored in the default suite): `cargo test --release --
//! --ignored --skip child_process_`. `GOODWILL_SOAK_SECS` sets how long the
//! kills go on (default 150 s); the kill schedule is drawn from a seed that
//! is printed (`GOODWILL_SOAK_SEED` replays it).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{free_addr, keygen, now_ms, run_ok, strs, wait_for, within, Key, NewGenesis, Procs};
use goodwill::chain::block::Block;
use goodwill::chain::crypto::{Hash, PublicKey};
use goodwill::ledger::state::StateReadExt;
use goodwill::runtime::client::Client;
use goodwill::sim::rng::Rng;
use goodwill::store::Store;
use goodwill::wire::{Answer, Query, TipInfo};

/// How long any one step may take.
const WAIT_MS: u64 = 30_000;
const SLOT_MS: u64 = 1_000;

fn figure(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

/// A node's tip as it answers (the main node's, or an appliance's on its
/// status port); None while it does not answer.
fn tip_at(addr: SocketAddr) -> Option<TipInfo> {
    let mut c = within(5_000, "connect", Client::connect(&addr.to_string())).ok()?;
    match within(5_000, "query", c.query(Query::Appliance)) {
        Ok(Answer::Appliance(a)) => Some(a.tip),
        _ => within(5_000, "tip", c.tip()).ok(),
    }
}

struct Forger {
    name: String,
    key: Key,
    data: PathBuf,
    status: SocketAddr,
    proc: usize,
}

/// Every block kept (`--keep-blocks all`): the end replays each store
/// from genesis and compares every block with its forger's record.
fn forge_args(f: &Forger, genesis: &str, main: SocketAddr) -> Vec<String> {
    let mut args = common::forge_args(
        f.data.to_str().unwrap(),
        genesis,
        &f.key.file,
        &main.to_string(),
        &f.status.to_string(),
    );
    args.extend(["--keep-blocks".to_string(), "all".to_string()]);
    args
}

/// Every canonical block of the store in `dir` (opened once the process
/// that held it has stopped).
fn chain_of(dir: &Path) -> (Vec<Block>, Store) {
    let store = Store::open_existing(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let snap = store.snapshot().unwrap();
    let tip = snap.tip().unwrap();
    let blocks = (1..=tip.height)
        .map(|h| snap.block_at(h).unwrap().expect("a canonical block"))
        .collect();
    drop(snap);
    (blocks, store)
}

#[test]
#[ignore = "slow: a forger SIGKILLed and restarted every few seconds for minutes"]
fn slow_soak_forgers_killed_and_restarted_never_double_sign() {
    let secs = env_u64("GOODWILL_SOAK_SECS").unwrap_or(150);
    let seed = env_u64("GOODWILL_SOAK_SEED").unwrap_or_else(goodwill::runtime::os::random_u64);
    figure(&format!(
        "soak: seed {seed} (GOODWILL_SOAK_SEED replays the kill schedule), {secs} s of kills"
    ));
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut procs = Procs::new(d, common::POLL);

    let keys: Vec<Key> = (0..3)
        .map(|i| keygen(d, &format!("f{i}"), WAIT_MS))
        .collect();
    let user = keygen(d, "user", WAIT_MS);
    let genesis = d.join("genesis.toml").to_str().unwrap().to_string();
    NewGenesis {
        out: &genesis,
        chain_name: Some("soak"),
        forgers: keys.iter().map(|k| k.addr.as_str()).collect(),
        funds: vec![format!("{}=1000", user.addr)],
        slot_ms: SLOT_MS,
        epoch_slots: 10,
        finality_depth: None,
    }
    .write(WAIT_MS);

    let main = free_addr();
    let main_data = d.join("main");
    let node_args = common::node_args(main_data.to_str().unwrap(), &genesis, &main.to_string());
    let node = procs.start("main", &strs(&node_args));
    wait_for(WAIT_MS, "the main node answers", || {
        smol::block_on(Client::connect(&main.to_string())).ok()
    });
    let mut forgers: Vec<Forger> = keys
        .into_iter()
        .enumerate()
        .map(|(i, key)| Forger {
            name: format!("f{i}"),
            key,
            data: d.join(format!("f{i}")),
            status: free_addr(),
            proc: 0,
        })
        .collect();
    for f in &mut forgers {
        let args = forge_args(f, &genesis, main);
        f.proc = procs.start(&f.name, &strs(&args));
    }
    wait_for(WAIT_MS, "the chain grows", || {
        tip_at(main).filter(|t| t.height >= 3)
    });

    // The kills: a forger at random every 2–5 s, restarted at once or
    // after up to 2 s (bounded: at most one kill per 2 s of the soak).
    let t_end = now_ms() + secs * 1_000;
    let mut kills = 0u64;
    for round in 0..secs / 2 + 1 {
        if now_ms() >= t_end {
            break;
        }
        std::thread::sleep(Duration::from_millis(rng.range(2_000, 5_000)));
        let i = rng.below(3) as usize;
        let f = &mut forgers[i];
        procs.kill(f.proc);
        kills += 1;
        std::thread::sleep(Duration::from_millis(rng.range(0, 2_000)));
        // Each run on a fresh status port (the old one may linger).
        f.status = free_addr();
        let args = forge_args(f, &genesis, main);
        f.proc = procs.start(&format!("{}-{round}", f.name), &strs(&args));
    }
    // Every forger still runs (none stopped itself: refused, doppelganger).
    for f in &mut forgers {
        assert!(
            procs.wait_exit(f.proc, 0).is_none(),
            "{} exited on its own: {}",
            f.name,
            procs.logs(20)
        );
    }
    // All nodes agree: the same tip on the main node and every appliance,
    // seen within one poll (a block lands every slot, so retry).
    let agreed = wait_for(60_000, "the main node and every forger agree", || {
        let m = tip_at(main)?;
        let all: Option<Vec<TipInfo>> = forgers.iter().map(|f| tip_at(f.status)).collect();
        all.filter(|v| v.iter().all(|t| t.hash == m.hash))
            .map(|_| m)
    });
    for f in &mut forgers {
        let (st, _) = procs.terminate(f.proc, 10_000);
        assert_eq!(st.code(), Some(0), "{}: {st}", f.name);
    }
    let (st, _) = procs.terminate(node, 15_000);
    assert_eq!(st.code(), Some(0), "main node: {st}");

    // The chain verifies on every node.
    for data in std::iter::once(&main_data).chain(forgers.iter().map(|f| &f.data)) {
        let out = run_ok(
            &["chain", "verify", "--data", data.to_str().unwrap()],
            WAIT_MS,
        );
        assert!(!out.stdout.is_empty() || !out.stderr.is_empty());
    }
    // No forger signed two blocks for one slot: every block in every store
    // is the one its forger's signing record holds for that slot.
    let mut records: BTreeMap<PublicKey, BTreeMap<u64, Hash>> = BTreeMap::new();
    for f in &forgers {
        let store = Store::open_existing(&f.data).unwrap();
        let doc = store.export_signing_record(Some(&f.key.pk())).unwrap();
        let mut slots = BTreeMap::new();
        for k in doc.data {
            for b in k.signed_blocks {
                let slot: u64 = b.slot.parse().unwrap();
                assert!(
                    slots.insert(slot, b.signing_root).is_none(),
                    "{}: slot {slot} recorded twice",
                    f.name
                );
            }
        }
        records.insert(f.key.pk(), slots);
    }
    let mut seen: BTreeMap<(PublicKey, u64), BTreeSet<Hash>> = BTreeMap::new();
    let mut heights = Vec::new();
    let mut chains = Vec::new();
    for (name, data) in std::iter::once(("main".to_string(), &main_data))
        .chain(forgers.iter().map(|f| (f.name.clone(), &f.data)))
    {
        let (blocks, _store) = chain_of(data);
        heights.push(blocks.len() as u64);
        for b in &blocks {
            let h = &b.header.header;
            seen.entry((h.forger, h.slot)).or_default().insert(b.hash());
            // The signing log keeps each key's newest records (a ring of
            // 32 pages): every slot from its oldest one on is there.
            let record = &records[&h.forger];
            if record.keys().next().is_none_or(|oldest| h.slot < *oldest) {
                continue;
            }
            let recorded = record.get(&h.slot);
            assert_eq!(
                recorded,
                Some(&b.hash()),
                "{name}: block {} (slot {}) is not what its forger's record holds",
                h.height,
                h.slot
            );
        }
        chains.push((name, blocks));
    }
    for ((forger, slot), hashes) in &seen {
        assert_eq!(
            hashes.len(),
            1,
            "{forger} signed {hashes:?} for slot {slot}"
        );
    }
    // One chain: the stores agree block for block (the forgers stopped a
    // moment after the tips agreed; at most a block or two apart).
    let (_, main_chain) = &chains[0];
    for (name, blocks) in &chains[1..] {
        assert!(
            main_chain.len().abs_diff(blocks.len()) <= 2,
            "{name}: height {} against the main node's {}",
            blocks.len(),
            main_chain.len()
        );
        for (h, (a, b)) in blocks.iter().zip(main_chain).enumerate() {
            assert_eq!(a.hash(), b.hash(), "{name}: height {}", h + 1);
        }
    }
    let signed: usize = records.values().map(|r| r.len()).sum();
    figure(&format!(
        "soak: {secs} s, {kills} SIGKILLs, final height {} (agreed at {}), {} blocks, {signed} signing-record entries; no slot signed twice",
        main_chain.len(),
        agreed.height,
        seen.len()
    ));
    assert!(kills >= secs / 5, "only {kills} kills in {secs} s");
    assert!(
        agreed.height >= 10,
        "the chain barely grew: {}",
        agreed.height
    );
}
