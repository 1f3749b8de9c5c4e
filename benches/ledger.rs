//! How fast a node validates and applies a block, against how fast the
//! ed25519 primitive verifies one signature: both measured in this run, on
//! this machine, so the ratios compare like with like on any hardware.
//!
//! `cargo bench --bench ledger` prints, for one block of signed transfers:
//!
//! - raw ed25519-compact verifies per second (`crypto::verify_raw` on the
//!   exact signed messages): the baseline;
//! - transactions validated and applied per second by `ledger::apply_block`
//!   on one thread, and its ratio to the baseline (goal ≥ 0.97: a transfer
//!   to an existing account costs one signature check and little else);
//! - the same on all cores, and the speed-up over one thread (goal ≥ 1.8 on
//!   two cores);
//! - a breakdown (raw verify on all cores — the machine's own ceiling —,
//!   domain-separated verify, receiver-key check, the stateless checks
//!   alone, as a block runs them — its signatures as one batch — and one
//!   by one, as before 2026-12-06) that says where the time goes, and the
//!   same block paying only keys with no account yet (each such
//!   receiver's point is decoded once).
//!
//! Each figure is the fastest of many interleaved rounds (the median is
//! shown beside it): on a shared machine other work only ever adds time.
//!
//! - the block header's VRF (ECVRF-EDWARDS25519-SHA512-TAI, RFC 9381): one
//!   proof per forged block, one verification per received block, each as
//!   a multiple of one raw ed25519 verify and as a share of this block's
//!   `apply_block`.
//!
//! The last line, `ratio_apply_vs_verify=… speedup_all_cores=…`, is for
//! scripts. Goals are printed, never asserted: a timed assertion would fail
//! on a busy machine for no fault of the code. See docs/performance.md.
//!
//! `GOODWILL_BENCH_QUICK=1` runs a smaller block with fewer repetitions (CI).
//! Run without `--bench` (as `cargo test --all-targets` does), it only checks
//! that it works, on a tiny block.

// A benchmark must read the clock; clippy.toml forbids `Instant::now` outside
// src/runtime/os.rs so that the ledger logic never does. This file is not logic.
#![allow(clippy::disallowed_methods)]

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{timed, Mode};
use goodwill::chain::codec::{self, Bytes};
use goodwill::chain::crypto::{self, tag, Keypair, PublicKey, Signature};
use goodwill::chain::genesis::{Balance, ChainParams, Genesis, Limits, COIN};
use goodwill::chain::tx::{SignedTransaction, Transaction, TxKind};
use goodwill::ledger::state::{MemState, StateChanges};
use goodwill::ledger::{self, apply_block, prepare_block, Parallelism};

const RATIO_GOAL: f64 = 0.97;
const SPEEDUP_GOAL: f64 = 1.8;

/// How big and how often.
struct Config {
    /// Transfers in the block.
    txs: usize,
    /// Rounds at least (each round times every measure once).
    runs: usize,
    /// More rounds while this much time has not passed: on a shared machine
    /// more rounds make an undisturbed one likelier.
    budget: Duration,
    mode: &'static str,
    /// Whether the figures are worth judging against the goals.
    judge: bool,
}

impl Config {
    fn from_env() -> Config {
        let mode = Mode::from_env();
        match mode {
            Mode::Smoke => Config {
                txs: 32,
                runs: 1,
                budget: Duration::ZERO,
                mode: mode.label(),
                judge: false,
            },
            Mode::Quick => Config {
                txs: 250,
                runs: 5,
                budget: Duration::from_secs(5),
                mode: mode.label(),
                judge: true,
            },
            Mode::Full => Config {
                txs: 1_000,
                runs: 21,
                budget: Duration::from_secs(20),
                mode: mode.label(),
                judge: true,
            },
        }
    }
}

/// A key from a small number, so every run signs the same bytes.
fn key(i: u32) -> Keypair {
    let mut seed = [0x5au8; 32];
    seed[..4].copy_from_slice(&i.to_le_bytes());
    Keypair::from_seed(seed).expect("a non-zero seed")
}

/// Everything the measurements share: a chain, its genesis state, one signed
/// block of `n` transfers from `n` distinct accounts, and the exact messages
/// their signatures cover.
struct Fixture {
    params: ChainParams,
    state: MemState,
    block: goodwill::chain::block::Block,
    messages: Vec<(PublicKey, Vec<u8>, Signature)>,
    receivers: Vec<PublicKey>,
}

fn fixture(n: usize, new_receivers: bool) -> Fixture {
    let forger = key(u32::MAX);
    let accounts: Vec<Keypair> = (0..n as u32).map(key).collect();
    let genesis = Genesis {
        chain_name: "ledger-bench".into(),
        contracts: None,
        start_ms: 0,
        slot_ms: 2_000,
        epoch_slots: 100,
        block_reward: COIN,
        min_fee: 1_000,
        finality_depth: 16,
        bootstrap_forgers: vec![forger.public()],
        limits: Limits {
            max_block_txs: (n as u32).max(Limits::default().max_block_txs),
            ..Limits::default()
        },
        balances: accounts
            .iter()
            .map(|k| Balance {
                address: k.public(),
                amount: 1_000 * COIN,
            })
            .collect(),
        associations: vec![],
    };
    let params = ChainParams::new(genesis).expect("a valid bench genesis");
    let chain_id = params.chain_id();
    let mut state = MemState::new();
    state.apply(&ledger::genesis_changes(&params));

    // Account i pays account i+1: every sender and every receiver is an
    // existing account, as in a busy chain. With `new_receivers`, account i
    // pays a key no account holds yet (whose point the ledger must decode).
    let txs: Vec<SignedTransaction> = accounts
        .iter()
        .enumerate()
        .map(|(i, k)| {
            Transaction {
                chain_id,
                sender: k.public(),
                nonce: 0,
                fee: params.genesis().min_fee,
                kind: TxKind::Transfer {
                    to: if new_receivers {
                        key(n as u32 + i as u32).public()
                    } else {
                        accounts[(i + 1) % n].public()
                    },
                    amount: 1 + i as u64,
                },
                memo: Bytes::empty(),
            }
            .sign(k)
        })
        .collect();
    let unsigned = prepare_block(&params, &state, &forger, 1, txs).expect("the bench block builds");
    assert!(
        unsigned.rejected.is_empty(),
        "bench transactions rejected: {:?}",
        unsigned.rejected
    );
    assert_eq!(unsigned.txs.len(), n, "every transaction fits in the block");
    let block = unsigned.sign(&forger);

    let messages = block
        .txs
        .iter()
        .map(|stx| {
            let msg = crypto::signing_message(tag::TX, &chain_id, &codec::encode(&stx.tx));
            (stx.tx.sender, msg, stx.signature)
        })
        .collect();
    let receivers = block
        .txs
        .iter()
        .filter_map(|stx| match stx.tx.kind {
            TxKind::Transfer { to, .. } => Some(to),
            _ => None,
        })
        .collect();
    Fixture {
        params,
        state,
        block,
        messages,
        receivers,
    }
}

/// One thing timed: a name and a pass over the whole block.
struct Measure<'a> {
    name: String,
    /// How many items one pass handles.
    items: usize,
    pass: Box<dyn Fn() + 'a>,
    times: Vec<Duration>,
}

impl<'a> Measure<'a> {
    fn new(name: impl Into<String>, items: usize, pass: impl Fn() + 'a) -> Self {
        Measure {
            name: name.into(),
            items,
            pass: Box::new(pass),
            times: Vec::new(),
        }
    }

    /// Items per second in the fastest run: the run least disturbed by
    /// anything else on the machine (interference only ever adds time).
    fn best(&self) -> f64 {
        self.items as f64 / common::sorted(&self.times)[0].as_secs_f64()
    }

    /// Items per second in the median run.
    fn median(&self) -> f64 {
        self.items as f64 / common::median(&self.times).as_secs_f64()
    }

    /// Microseconds per item in the fastest run.
    fn micros(&self) -> f64 {
        1e6 / self.best()
    }
}

fn main() {
    let cfg = Config::from_env();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let f = fixture(cfg.txs, false);
    let fresh = fixture(cfg.txs, true);
    let n = f.block.txs.len();

    // The parallelisms must agree before any of them is timed.
    let expected: StateChanges =
        apply_block(&f.params, &f.state, &f.block, Parallelism::Single).expect("the block applies");
    for p in [Parallelism::Threads(2), Parallelism::AllCores] {
        let got = apply_block(&f.params, &f.state, &f.block, p).expect("the block applies");
        assert_eq!(got, expected, "{p:?} changes the result");
    }

    let raw_verify = |part: &[(PublicKey, Vec<u8>, Signature)]| {
        for (pk, msg, sig) in part {
            black_box(crypto::verify_raw(pk, black_box(msg), sig)).expect("verifies");
        }
    };
    let checks = |p: Parallelism| {
        black_box(ledger::check_transactions(black_box(&f.block.txs), p).expect("checks"));
    };
    let apply = |p: Parallelism| {
        black_box(apply_block(&f.params, &f.state, black_box(&f.block), p).expect("applies"));
    };

    // Indices of the figures the summary uses.
    const BASE: usize = 0;
    const BASE_ALL: usize = 1;
    const RECEIVER: usize = 3;
    const CHECKS: usize = 4;
    const SINGLE: usize = 6;
    const ALL: usize = 8;
    const VRF_PROVE: usize = 9;
    const VRF_VERIFY: usize = 10;
    const NEW_RECEIVERS: usize = 11;
    const MERKLE: usize = 12;
    const DIGEST: usize = 13;
    const HEADER: usize = 14;
    const ONE_BY_ONE: usize = 15;
    let ids: Vec<goodwill::chain::crypto::Hash> = f.block.txs.iter().map(|t| t.id()).collect();
    // One VRF proof per forger key: what a forger makes and a node checks
    // once per block.
    let vrf_keys: Vec<Keypair> = (0..n.clamp(1, 64) as u32).map(key).collect();
    let vrf_alpha =
        goodwill::chain::block::vrf_input(&f.params.chain_id(), &f.params.chain_id(), 7);
    let vrf_proofs: Vec<(PublicKey, crypto::VrfProof)> = vrf_keys
        .iter()
        .map(|k| (k.public(), crypto::vrf_prove(k, &vrf_alpha).0))
        .collect();
    let mut measures = vec![
        Measure::new("raw ed25519 verify (baseline)", n, || {
            raw_verify(&f.messages)
        }),
        Measure::new(format!("raw verify, {cores} threads"), n, || {
            // The machine's own ceiling for the speed-up.
            let chunk = f.messages.len().div_ceil(cores);
            std::thread::scope(|s| {
                for part in f.messages.chunks(chunk) {
                    s.spawn(move || raw_verify(part));
                }
            });
        }),
        Measure::new("domain-separated verify", n, || {
            let chain_id = f.params.chain_id();
            for stx in &f.block.txs {
                let body = codec::encode(&stx.tx);
                let sig = &stx.signature;
                black_box(crypto::verify(
                    &stx.tx.sender,
                    tag::TX,
                    &chain_id,
                    &body,
                    sig,
                ))
                .expect("verifies");
            }
        }),
        Measure::new("receiver key check alone", f.receivers.len(), || {
            for to in &f.receivers {
                black_box(black_box(to).validate()).expect("a valid key");
            }
        }),
        Measure::new("stateless checks, 1 thread", n, || {
            checks(Parallelism::Single)
        }),
        Measure::new(format!("stateless checks, {cores} threads"), n, || {
            checks(Parallelism::AllCores)
        }),
        Measure::new("apply_block, Single", n, || apply(Parallelism::Single)),
        Measure::new("apply_block, Threads(2)", n, || {
            apply(Parallelism::Threads(2))
        }),
        Measure::new(format!("apply_block, AllCores ({cores})"), n, || {
            apply(Parallelism::AllCores)
        }),
        Measure::new("VRF prove (once per forged block)", vrf_keys.len(), || {
            for k in &vrf_keys {
                black_box(crypto::vrf_prove(k, black_box(&vrf_alpha)));
            }
        }),
        Measure::new("VRF verify (once per block)", vrf_proofs.len(), || {
            for (pk, proof) in &vrf_proofs {
                black_box(crypto::vrf_verify(pk, black_box(&vrf_alpha), proof)).expect("verifies");
            }
        }),
        Measure::new("apply_block, Single, new receivers", n, || {
            black_box(
                apply_block(
                    &fresh.params,
                    &fresh.state,
                    black_box(&fresh.block),
                    Parallelism::Single,
                )
                .expect("applies"),
            );
        }),
        // The rest of what the rules make every node compute for a block,
        // whatever its state: none of it can be skipped.
        Measure::new("Merkle root of the block's ids", n, || {
            black_box(goodwill::chain::merkle::root(black_box(&ids)));
        }),
        Measure::new("state digest of the block's changes", n, || {
            black_box(ledger::state::digest(
                &f.block.header.header.state_digest,
                black_box(&expected.changes),
            ));
        }),
        Measure::new("header signature (once per block)", 1, || {
            black_box(black_box(&f.block.header).verify()).expect("verifies");
        }),
        // What the stateless checks cost before they were batched
        // (2026-12-06): each transaction's `check_signature` alone.
        Measure::new("stateless checks one by one, 1 thread", n, || {
            for stx in &f.block.txs {
                black_box(black_box(stx).check_signature()).expect("checks");
            }
        }),
    ];

    // One untimed round warms caches and the allocator; then every round
    // times each measure once, so drift and a neighbour's load touch all of
    // them alike.
    for m in &measures {
        (m.pass)();
    }
    let started = Instant::now();
    let mut rounds = 0;
    while rounds < cfg.runs || started.elapsed() < cfg.budget {
        rounds += 1;
        for m in &mut measures {
            let ((), t) = timed(|| (m.pass)());
            m.times.push(t);
        }
    }

    let base = measures[BASE].best();
    let base_median = measures[BASE].median();
    let ratio = measures[SINGLE].best() / base;
    let speedup = measures[ALL].best() / measures[SINGLE].best();
    let ratio_median = measures[SINGLE].median() / base_median;
    let speedup_median = measures[ALL].median() / measures[SINGLE].median();
    let verdict = |ok: bool| match (cfg.judge, ok) {
        (false, _) => "not judged",
        (true, true) => "met",
        (true, false) => "NOT met",
    };

    println!(
        "goodwill ledger bench: {n} signed transfers in one block, {rounds} interleaved rounds, {cores} cores; {}",
        cfg.mode
    );
    println!();
    println!(
        "{:<34} {:>10} {:>8} {:>9} {:>10} {:>9}",
        "measurement", "best /s", "µs each", "vs verify", "median /s", "vs verify"
    );
    for m in &measures {
        println!(
            "{:<34} {:>10.0} {:>8.2} {:>9.3} {:>10.0} {:>9.3}",
            m.name,
            m.best(),
            m.micros(),
            m.best() / base,
            m.median(),
            m.median() / base_median,
        );
    }
    println!();
    // Where one thread's time goes beyond the verify, from the rows above.
    let verify_us = measures[BASE].micros();
    let receiver_us = measures[RECEIVER].micros();
    let serial_us = measures[SINGLE].micros() - measures[CHECKS].micros();
    println!(
        "receiver key check: {receiver_us:.2} µs per transfer ({:.1} % of a verify), paid only for a \
         receiver with no account yet: a block paying only new keys runs at {:.3} of raw verify",
        100.0 * receiver_us / verify_us,
        measures[NEW_RECEIVERS].best() / base,
    );
    println!(
        "signature batch: the stateless checks take {:.2} µs per transaction one by one, {:.2} µs as one batch ({:.2}× faster)",
        measures[ONE_BY_ONE].micros(),
        measures[CHECKS].micros(),
        measures[ONE_BY_ONE].micros() / measures[CHECKS].micros(),
    );
    println!(
        "sequential part of apply_block (header, state, Merkle root, digest): {serial_us:.2} µs per transaction ({:.1} % of a verify)",
        100.0 * serial_us / verify_us,
    );
    // What apply_block could reach on one thread if reading and writing
    // the state cost nothing: the stateless checks and the work the rules
    // fix per block (Merkle root, digest, header signature, VRF).
    let fixed_us = measures[MERKLE].micros()
        + measures[DIGEST].micros()
        + (measures[HEADER].micros() + measures[VRF_VERIFY].micros()) / n as f64;
    let rules_us = measures[CHECKS].micros() + fixed_us;
    println!(
        "of which the rules' fixed work (Merkle root {:.2}, digest {:.2}, header signature and VRF {:.2}): {fixed_us:.2} µs per transaction; \
         the state (leader, overlay reads and writes, the rest): {:.2} µs",
        measures[MERKLE].micros(),
        measures[DIGEST].micros(),
        (measures[HEADER].micros() + measures[VRF_VERIFY].micros()) / n as f64,
        measures[SINGLE].micros() - rules_us,
    );
    println!(
        "ceiling with a state that cost nothing: stateless checks + fixed work = {rules_us:.2} µs per transaction, \
         a ratio of {:.3} to raw verify",
        verify_us / rules_us,
    );
    let ceiling = measures[BASE_ALL].best() / base;
    let machine_busy = ceiling < 0.9 * cores as f64;
    println!(
        "this machine's own ceiling: raw verify on {cores} threads is {ceiling:.3}× one thread{}",
        if machine_busy {
            " (below the core count: other work held a core, the speed-up is not judged)"
        } else {
            ""
        }
    );
    println!();
    println!(
        "{:<44} {:>6.3}  (median {:.3})  goal ≥ {RATIO_GOAL:.2}: {}",
        "ratio apply_block 1 thread / raw verify",
        ratio,
        ratio_median,
        verdict(ratio >= RATIO_GOAL)
    );
    println!(
        "{:<44} {:>6.3}  (median {:.3})  goal ≥ {SPEEDUP_GOAL:.2}: {}",
        format!("speed-up apply_block {cores} cores / 1 thread"),
        speedup,
        speedup_median,
        if machine_busy {
            "not judged"
        } else {
            verdict(speedup >= SPEEDUP_GOAL)
        }
    );
    let block_us = 1e6 * n as f64 / measures[SINGLE].best();
    println!(
        "VRF per block: prove {:.1} µs ({:.2} raw verifies), verify {:.1} µs ({:.2} raw verifies, {:.2} % of this block's apply_block on one thread, {block_us:.0} µs)",
        measures[VRF_PROVE].micros(),
        measures[VRF_PROVE].micros() / verify_us,
        measures[VRF_VERIFY].micros(),
        measures[VRF_VERIFY].micros() / verify_us,
        100.0 * measures[VRF_VERIFY].micros() / block_us,
    );
    println!();
    println!("ratio_apply_vs_verify={ratio:.3} speedup_all_cores={speedup:.3}");
}
