//! What a contract call costs, against what a signature check costs: both
//! measured in this run, on this machine (natively, or under qemu-aarch64
//! when .ci/arm runs it), so the ratios compare like with like.
//!
//! `cargo bench --bench contracts` prints:
//!
//! - raw ed25519-compact verifies per second: the baseline (a transfer
//!   through `apply_block` costs about one; docs/performance.md, "Ledger");
//! - the paywall's `pay` run by the contract engine (`contract::run`, its
//!   module cached, storage in memory holding 1,000 earlier payers): runs
//!   per second, and their ratio to the verifies — the engine's share of
//!   the goal "calls/s ÷ transfers/s through `apply_block` ≥ 0.5" (a call
//!   also carries a signature, so the engine must cost at most about one
//!   verify for the goal to hold);
//! - nanoseconds per unit of fuel for the kinds of work a contract can
//!   buy: arithmetic, memory, storage reads, storage writes, hashing. The
//!   worst of them is what sets a block's fuel limit (docs/design.md,
//!   "Contracts");
//! - compiling: nanoseconds per byte of module, for the paywall and for a
//!   module of nearly 64 KiB (compiling is not metered in fuel, so a
//!   deploy must pay for it per byte).
//!
//! The last line, `contracts: …`, is for scripts. Goals are printed, never
//! asserted. `GOODWILL_BENCH_QUICK=1` makes fewer rounds; without `--bench`
//! (as `cargo test --all-targets` runs it) it only checks that it works.

// A benchmark must read the clock; clippy.toml forbids `Instant::now` outside
// src/runtime/os.rs so that the ledger logic never does. This file is not logic.
#![allow(clippy::disallowed_methods)]

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use common::Mode;
use goodwill::chain::crypto::{self, Hash, PublicKey};
use goodwill::ledger::contract::{self, Context, Entry, Status, Storage};
use goodwill::ledger::state::ReadError;

const CALL_GOAL: f64 = 1.0;
/// Calls/s ÷ transfers/s through `apply_block`: a simple call costs at most
/// two transfers.
const BLOCK_GOAL: f64 = 0.5;

#[derive(Default)]
struct Mem(RefCell<BTreeMap<Vec<u8>, Vec<u8>>>);

impl Storage for Mem {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ReadError> {
        Ok(self.0.borrow().get(key).cloned())
    }
}

fn example(name: &str) -> Vec<u8> {
    let path = format!("{}/contracts/{name}.wasm", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn ctx(caller: PublicKey, value: u64, input: &[u8]) -> Context {
    Context {
        contract: Hash([9; 32]),
        caller,
        value,
        balance: value,
        height: 10,
        slot: 10,
        input: input.to_vec(),
    }
}

/// The fastest of `rounds` runs of `f` (each `per` operations), per operation.
/// A block of `n` paywall payments and one of `n` transfers, from the same
/// senders with the same nonces, on a chain where the paywall is deployed;
/// returns the time `apply_block` takes for each (fastest of `rounds`, per
/// transaction, one thread).
fn through_apply_block(paywall: &[u8], n: usize, rounds: usize) -> (Duration, Duration) {
    use goodwill::chain::codec::Bytes;
    use goodwill::chain::tx::{Transaction, TxKind};
    use goodwill::ledger::{self, Parallelism};
    use goodwill::testkit::{TestNet, TestNetConfig};

    let net = TestNet::new(&TestNetConfig {
        users: 16,
        ..TestNetConfig::default()
    });
    let fuel_price = net
        .params
        .contracts()
        .expect("the test net has contracts")
        .fuel_price;
    let min_fee = net.params.genesis().min_fee;
    let signed = |k: &goodwill::chain::crypto::Keypair, nonce: u64, kind: TxKind| {
        let fee = min_fee + kind.fuel_limit().unwrap_or(0) * fuel_price;
        Transaction {
            chain_id: net.params.chain_id(),
            sender: k.public(),
            nonce,
            fee,
            kind,
            memo: Bytes::empty(),
        }
        .sign(k)
    };
    let mut chain = net.chain();
    let owner = &net.users[0];
    chain.forge(vec![signed(
        owner,
        0,
        TxKind::DeployContract {
            code: Bytes::new(paywall.to_vec()).expect("≤ 64 KiB"),
            init: Bytes::new(100u64.to_le_bytes().to_vec()).expect("8 bytes"),
            fuel_limit: 100_000,
        },
    )]);
    let address = contract::address(&net.params.chain_id(), &owner.public(), 0);
    // Senders 1..16 in turn; each one's nonces from 0 (the owner's from 1).
    let senders: Vec<_> = (0..n).map(|i| &net.users[1 + i % 15]).collect();
    let nonce = |i: usize| (i / 15) as u64;
    let pays: Vec<_> = senders
        .iter()
        .enumerate()
        .map(|(i, k)| {
            // The first call in a block loads the module (50 fuel a byte).
            let fuel = if i == 0 { 60_000 } else { 10_000 };
            signed(
                k,
                nonce(i),
                TxKind::CallContract {
                    contract: address,
                    input: Bytes::new(vec![1]).expect("1 byte"),
                    value: 150,
                    fuel_limit: fuel,
                },
            )
        })
        .collect();
    let transfers: Vec<_> = senders
        .iter()
        .enumerate()
        .map(|(i, k)| {
            signed(
                k,
                nonce(i),
                TxKind::Transfer {
                    to: owner.public(),
                    amount: 150,
                },
            )
        })
        .collect();
    let time = |txs: Vec<goodwill::chain::tx::SignedTransaction>| {
        let mut ahead = chain.clone();
        let block = ahead.forge(txs);
        assert_eq!(block.txs.len(), n, "every transaction applies");
        fastest(rounds, n, || {
            black_box(
                ledger::apply_block(&net.params, &chain.state, &block, Parallelism::Single)
                    .expect("the block applies"),
            );
        })
    };
    (time(pays), time(transfers))
}

fn fastest(rounds: usize, per: usize, mut f: impl FnMut()) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed() / per as u32);
    }
    best
}

/// A module whose `call` loops `n` times over a body of one kind of work.
fn worker(kind: &str, n: u32) -> Vec<u8> {
    let body = match kind {
        // Integer arithmetic on locals.
        "arithmetic" => {
            "(local.set $a (i64.add (i64.mul (local.get $a) (i64.const 6364136223846793005)) (i64.const 1442695040888963407)))
             (local.set $a (i64.xor (local.get $a) (i64.shr_u (local.get $a) (i64.const 29))))"
        }
        // Loads and stores spread over the whole first page.
        "memory" => {
            "(i64.store (i32.and (i32.wrap_i64 (local.get $a)) (i32.const 65528))
               (i64.add (i64.load (i32.and (i32.wrap_i64 (local.get $a)) (i32.const 65528))) (i64.const 1)))
             (local.set $a (i64.add (local.get $a) (i64.const 7919)))"
        }
        // A storage read of an 8-byte value present in storage.
        "storage-read" => "(drop (call $read (i32.const 0) (i32.const 1) (i32.const 64) (i32.const 8)))",
        // A storage write of 8 bytes to one of 64 keys.
        "storage-write" => {
            "(i32.store8 (i32.const 0) (i32.and (i32.wrap_i64 (local.get $a)) (i32.const 63)))
             (call $write (i32.const 0) (i32.const 1) (i32.const 64) (i32.const 8))
             (local.set $a (i64.add (local.get $a) (i64.const 1)))"
        }
        // SHA-256 of 1 KiB.
        "sha256" => "(call $sha (i32.const 1024) (i32.const 1024) (i32.const 128))",
        _ => unreachable!("{kind}"),
    };
    wat::parse_str(format!(
        r#"(module
             (import "env" "storage_read" (func $read (param i32 i32 i32 i32) (result i32)))
             (import "env" "storage_write" (func $write (param i32 i32 i32 i32)))
             (import "env" "sha256" (func $sha (param i32 i32 i32)))
             (memory (export "memory") 1)
             (func (export "call")
               (local $i i32) (local $a i64)
               (local.set $a (i64.const 1))
               (loop $l
                 {body}
                 (local.set $i (i32.add (local.get $i) (i32.const 1)))
                 (br_if $l (i32.lt_u (local.get $i) (i32.const {n}))))
               (i64.store (i32.const 200) (local.get $a))))"#
    ))
    .expect("the worker module is valid")
}

/// A valid module of nearly 64 KiB: many small functions of arithmetic
/// (each body well above wasmi's strict average of 40 bytes a function).
fn big_module() -> Vec<u8> {
    let text = |n: usize| {
        let mut t = String::from(r#"(module (memory (export "memory") 1) (func (export "call"))"#);
        for i in 0..n {
            t.push_str(&format!(
                "(func $f{i} (param i64) (result i64) local.get 0 i64.const 1000003 i64.mul i64.const {i} i64.add \
                 i64.const 2000003 i64.mul i64.const 77777 i64.xor i64.const 3000017 i64.mul i64.const 99991 i64.add \
                 i64.const 4000037 i64.mul i64.const 55555 i64.xor i64.const 5000011 i64.mul i64.const 12345 i64.add)"
            ));
        }
        t.push(')');
        wat::parse_str(t).expect("the big module is valid")
    };
    let per = (text(200).len() - text(100).len()) / 100;
    let mut n = (contract::CODE_BYTES - 1024) / per;
    loop {
        let module = text(n);
        if module.len() <= contract::CODE_BYTES {
            return module;
        }
        n -= 16;
    }
}

fn main() {
    let mode = Mode::from_env();
    let (rounds, verifies, calls, loops) = match mode {
        Mode::Smoke => (1, 10, 10, 100),
        Mode::Quick => (5, 500, 500, 20_000),
        Mode::Full => (15, 2_000, 2_000, 100_000),
    };
    println!("contracts benchmark, {}", mode.label());

    // The baseline: raw verifies of distinct messages.
    let key = goodwill::testkit::key(7, 1);
    let signed: Vec<(Vec<u8>, crypto::Signature)> = (0..verifies)
        .map(|i| {
            let msg = format!("message {i}").into_bytes();
            let sig = key.sign_raw(&msg);
            (msg, sig)
        })
        .collect();
    let pk = key.public();
    let verify = fastest(rounds, verifies, || {
        for (m, s) in &signed {
            black_box(crypto::verify_raw(&pk, black_box(m), s)).expect("verifies");
        }
    });

    // The paywall's pay, cached, over a storage with 1,000 payers.
    let paywall = example("paywall");
    let hash = Hash::of(&[&paywall]);
    let mem = Mem::default();
    let deploy = contract::run(
        &hash,
        &paywall,
        Entry::Deploy,
        &ctx(pk, 0, &100u64.to_le_bytes()),
        &mem,
        1_000_000,
    )
    .expect("no storage error");
    assert_eq!(deploy.status, Status::Ok);
    for (k, v) in deploy.effects.writes {
        mem.0.borrow_mut().insert(k, v.expect("written"));
    }
    for i in 0..1000u32 {
        let mut k = b"p".to_vec();
        k.extend(Hash::of(&[&i.to_le_bytes()]).0);
        mem.0.borrow_mut().insert(k, 100u64.to_le_bytes().to_vec());
    }
    let payers: Vec<PublicKey> = (0..calls as u32)
        .map(|i| goodwill::testkit::key(8, i).public())
        .collect();
    let mut pay_fuel = 0;
    let pay = fastest(rounds, calls, || {
        for p in &payers {
            let r = contract::run(
                &hash,
                &paywall,
                Entry::Call,
                &ctx(*p, 150, &[1]),
                &mem,
                1_000_000,
            )
            .expect("no storage error");
            assert_eq!(r.status, Status::Ok);
            pay_fuel = r.fuel_used;
        }
    });
    let call_ratio = verify.as_secs_f64() / pay.as_secs_f64();

    println!(
        "raw ed25519-compact verify                {:>9.2} µs   ({:.0}/s; the baseline)",
        verify.as_secs_f64() * 1e6,
        1.0 / verify.as_secs_f64()
    );
    println!(
        "paywall pay, engine only                  {:>9.2} µs   ({:.0}/s, {pay_fuel} fuel)",
        pay.as_secs_f64() * 1e6,
        1.0 / pay.as_secs_f64()
    );
    println!(
        "engine pay ÷ verify (runs/s ÷ verifies/s)  {:>8.2}      goal ≥ {CALL_GOAL:.1}: {}",
        call_ratio,
        if call_ratio >= CALL_GOAL {
            "met"
        } else {
            "NOT met"
        }
    );

    // Through the ledger: a block of payments against a block of transfers.
    let in_block = match mode {
        Mode::Smoke => 15,
        Mode::Quick => 150,
        Mode::Full => 600,
    };
    let (pay_block, transfer_block) = through_apply_block(&paywall, in_block, rounds);
    let block_ratio = transfer_block.as_secs_f64() / pay_block.as_secs_f64();
    println!(
        "apply_block, a paywall pay                {:>9.2} µs   ({in_block} in a block, one thread)",
        pay_block.as_secs_f64() * 1e6
    );
    println!(
        "apply_block, a transfer                   {:>9.2} µs",
        transfer_block.as_secs_f64() * 1e6
    );
    println!(
        "calls/s ÷ transfers/s through apply_block  {:>8.2}      goal ≥ {BLOCK_GOAL:.1}: {}",
        block_ratio,
        if block_ratio >= BLOCK_GOAL {
            "met"
        } else {
            "NOT met"
        }
    );

    // Nanoseconds per fuel, per kind of work.
    let mut worst = ("", 0.0f64);
    let mut per_kind = Vec::new();
    for kind in [
        "arithmetic",
        "memory",
        "storage-read",
        "storage-write",
        "sha256",
    ] {
        let n = match kind {
            "arithmetic" | "memory" => loops,
            "sha256" => loops / 50,
            _ => (loops / 100).min(64 * 4),
        };
        let code = worker(kind, n as u32);
        let h = Hash::of(&[&code]);
        let store = Mem::default();
        store.0.borrow_mut().insert(vec![0], vec![1; 8]);
        let mut fuel = 0;
        let t = fastest(rounds, 1, || {
            let r = contract::run(
                &h,
                &code,
                Entry::Call,
                &ctx(pk, 0, &[]),
                &store,
                u64::MAX / 2,
            )
            .expect("no storage error");
            assert_eq!(r.status, Status::Ok, "{kind}");
            fuel = r.fuel_used;
        });
        let ns = t.as_secs_f64() * 1e9 / fuel as f64;
        println!(
            "ns per fuel, {kind:<14}                {ns:>9.3}      ({fuel} fuel in {:.2} ms)",
            t.as_secs_f64() * 1e3
        );
        per_kind.push((kind, ns));
        if ns > worst.1 {
            worst = (kind, ns);
        }
    }

    // Compiling, per byte.
    let big = if mode == Mode::Smoke {
        paywall.clone()
    } else {
        big_module()
    };
    let mut compile_ns = 0.0f64;
    for (name, code) in [("paywall", &paywall), ("a module of ~64 KiB", &big)] {
        let t = fastest(rounds.min(5), 1, || {
            black_box(contract::compile(black_box(code)).expect("compiles"));
        });
        compile_ns = compile_ns.max(t.as_secs_f64() * 1e9 / code.len() as f64);
        println!(
            "compile {name:<20}              {:>9.1} ns/byte ({} bytes in {:.2} ms)",
            t.as_secs_f64() * 1e9 / code.len() as f64,
            code.len(),
            t.as_secs_f64() * 1e3
        );
    }
    println!(
        "contracts: verify_us={:.2} pay_us={:.2} pay_fuel={pay_fuel} pay_vs_verify={call_ratio:.2} calls_vs_transfers={block_ratio:.2} worst_ns_per_fuel={:.3} worst_kind={} {} compile_ns_per_byte={compile_ns:.1}",
        verify.as_secs_f64() * 1e6,
        pay.as_secs_f64() * 1e6,
        worst.1,
        worst.0,
        per_kind
            .iter()
            .map(|(k, ns)| format!("ns_per_fuel_{}={ns:.3}", k.replace('-', "_")))
            .collect::<Vec<_>>()
            .join(" ")
    );
}
