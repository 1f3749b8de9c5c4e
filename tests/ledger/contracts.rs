//! The contract engine (`goodwill::ledger::contract`): what it refuses at
//! deploy and why, what the example contracts under `contracts/` do, the
//! fuel they use (pinned: these figures are consensus, and this file runs
//! on x86-64 and under qemu on aarch64 and armv7, so a figure that moved on
//! one architecture fails here), and that no module, however made, panics
//! the node.

use std::cell::RefCell;
use std::collections::BTreeMap;

use goodwill::chain::crypto::{Hash, PublicKey};
use goodwill::ledger::contract::{
    self, compile, run, CodeError, Context, Effects, Entry, Run, Status, Storage, Trap,
};
use goodwill::ledger::state::ReadError;
use proptest::prelude::*;

fn wat(name: &str) -> Vec<u8> {
    let path = format!("{}/contracts/{name}.wat", env!("CARGO_MANIFEST_DIR"));
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn module(text: &str) -> Vec<u8> {
    wat::parse_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A contract's storage in memory, with the effects of successful runs
/// applied as the ledger would.
#[derive(Default)]
struct Mem {
    map: RefCell<BTreeMap<Vec<u8>, Vec<u8>>>,
    fail: bool,
}

impl Storage for Mem {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ReadError> {
        if self.fail {
            return Err(ReadError("the disk said no".into()));
        }
        Ok(self.map.borrow().get(key).cloned())
    }
}

impl Mem {
    fn apply(&self, effects: &Effects) {
        let mut map = self.map.borrow_mut();
        for (k, v) in &effects.writes {
            match v {
                Some(v) => map.insert(k.clone(), v.clone()),
                None => map.remove(k),
            };
        }
    }
}

/// Not a usable key (all zeros is a point of small order): coins sent to it
/// could never be spent, so a contract's transfer to it is refused.
const OWNER: PublicKey = PublicKey([0; 32]);
const PAYER: PublicKey = PublicKey([2; 32]);

fn ctx(caller: PublicKey, value: u64, balance: u64, input: &[u8]) -> Context {
    Context {
        contract: Hash([9; 32]),
        caller,
        value,
        balance,
        height: 100,
        slot: 120,
        input: input.to_vec(),
    }
}

/// Runs and, when it ended well, applies its storage effects.
fn go(code: &[u8], entry: Entry, ctx: &Context, mem: &Mem, fuel: u64) -> Run {
    let hash = Hash::of(&[code]);
    let r = run(&hash, code, entry, ctx, mem, fuel).expect("storage does not fail");
    if r.status == Status::Ok {
        mem.apply(&r.effects);
    } else {
        assert_eq!(r.effects, Effects::default(), "a failed run has no effects");
    }
    r
}

fn le(n: u64) -> Vec<u8> {
    n.to_le_bytes().to_vec()
}

const FUEL: u64 = 1_000_000;

/// The examples ship compiled too (contracts/*.wasm, for the CLI and the
/// README: no WebAssembly toolchain needed to try them); they must be what
/// their text says. To rebuild one after editing its text:
/// `GOODWILL_WRITE_WASM=1 cargo test --test ledger contracts::the_compiled`.
#[test]
fn the_compiled_examples_match_their_text() {
    for name in ["paywall", "counter", "escrow"] {
        let path = format!("{}/contracts/{name}.wasm", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("GOODWILL_WRITE_WASM").is_some() {
            std::fs::write(&path, wat(name)).unwrap();
        }
        let shipped = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            shipped == wat(name),
            "{path} is not {name}.wat compiled: see this test's docs"
        );
    }
}

#[test]
fn the_examples_compile() {
    for name in ["paywall", "counter", "escrow"] {
        compile(&wat(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn paywall_records_payers_refuses_short_payments_and_pays_its_owner() {
    let code = wat("paywall");
    let mem = Mem::default();
    let r = go(
        &code,
        Entry::Deploy,
        &ctx(OWNER, 0, 0, &le(500)),
        &mem,
        FUEL,
    );
    assert_eq!(r.status, Status::Ok);
    assert_eq!(mem.map.borrow().get(&b"owner"[..]), Some(&OWNER.0.to_vec()));

    // Less than the price traps: nothing is recorded (the ledger returns the value).
    let r = go(&code, Entry::Call, &ctx(PAYER, 499, 499, &[1]), &mem, FUEL);
    assert_eq!(r.status, Status::Trapped(Trap::Unreachable));

    let r = go(&code, Entry::Call, &ctx(PAYER, 500, 500, &[1]), &mem, FUEL);
    assert_eq!(r.status, Status::Ok);
    let mut event = PAYER.0.to_vec();
    event.extend(le(500));
    assert_eq!(r.effects.events, vec![event]);

    let r = go(&code, Entry::Call, &ctx(PAYER, 700, 1200, &[1]), &mem, FUEL);
    assert_eq!(r.status, Status::Ok);

    let mut ask = vec![2];
    ask.extend(PAYER.0);
    let r = go(&code, Entry::Call, &ctx(OWNER, 0, 1200, &ask), &mem, FUEL);
    assert_eq!((r.status, r.effects.return_data), (Status::Ok, le(1200)));
    let mut ask = vec![2];
    ask.extend([7; 32]);
    let r = go(&code, Entry::Call, &ctx(OWNER, 0, 1200, &ask), &mem, FUEL);
    assert_eq!(r.effects.return_data, le(0), "someone who never paid");

    let r = go(&code, Entry::Call, &ctx(PAYER, 0, 1200, &[4]), &mem, FUEL);
    assert_eq!(r.effects.return_data, le(500));

    // Only the owner withdraws, and takes the whole balance. OWNER is not a
    // usable key, so the transfer is refused and the call traps: a contract
    // cannot send coins where no key could spend them.
    let r = go(&code, Entry::Call, &ctx(PAYER, 0, 1200, &[3]), &mem, FUEL);
    assert_eq!(r.status, Status::Trapped(Trap::Unreachable));
    let r = go(&code, Entry::Call, &ctx(OWNER, 0, 1200, &[3]), &mem, FUEL);
    assert_eq!(r.status, Status::Trapped(Trap::Unreachable));

    let owner = goodwill::testkit::key(7, 1).public();
    let mem = Mem::default();
    go(&code, Entry::Deploy, &ctx(owner, 0, 0, &le(5)), &mem, FUEL);
    let r = go(&code, Entry::Call, &ctx(owner, 0, 1200, &[3]), &mem, FUEL);
    assert_eq!(r.status, Status::Ok);
    assert_eq!(r.effects.transfers, vec![(owner, 1200)]);
}

#[test]
fn counter_counts_and_a_query_changes_nothing_it_does_not_apply() {
    let code = wat("counter");
    let mem = Mem::default();
    for n in 1..=3u64 {
        let r = go(&code, Entry::Call, &ctx(PAYER, 0, 0, &[1]), &mem, FUEL);
        assert_eq!(r.effects.return_data, le(n));
    }
    let r = go(&code, Entry::Call, &ctx(PAYER, 0, 0, &[2]), &mem, FUEL);
    assert_eq!(r.effects.return_data, le(3));
    assert!(r.effects.writes.is_empty(), "a read writes nothing");
    // No `deploy` export: deploying runs nothing and uses no fuel.
    let r = go(&code, Entry::Deploy, &ctx(PAYER, 0, 0, &[]), &mem, FUEL);
    assert_eq!((r.status, r.fuel_used), (Status::Ok, 0));
}

#[test]
fn escrow_releases_from_its_height_and_refunds_before_it() {
    let code = wat("escrow");
    let depositor = goodwill::testkit::key(7, 3).public();
    let receiver = goodwill::testkit::key(7, 4).public();
    let mut init = receiver.0.to_vec();
    init.extend(le(150));
    let mem = Mem::default();
    let at = |height: u64, caller, input: &[u8]| {
        let mut c = ctx(caller, 0, 900, input);
        c.height = height;
        c
    };
    assert_eq!(
        go(&code, Entry::Deploy, &at(100, depositor, &init), &mem, FUEL).status,
        Status::Ok
    );

    let r = go(&code, Entry::Call, &at(149, PAYER, &[2]), &mem, FUEL);
    assert_eq!(
        r.status,
        Status::Trapped(Trap::Unreachable),
        "too early to release"
    );
    let r = go(&code, Entry::Call, &at(149, PAYER, &[3]), &mem, FUEL);
    assert_eq!(
        r.status,
        Status::Trapped(Trap::Unreachable),
        "only the depositor refunds"
    );
    let r = go(&code, Entry::Call, &at(149, depositor, &[3]), &mem, FUEL);
    assert_eq!(r.effects.transfers, vec![(depositor, 900)]);
    let r = go(&code, Entry::Call, &at(150, depositor, &[3]), &mem, FUEL);
    assert_eq!(
        r.status,
        Status::Trapped(Trap::Unreachable),
        "too late to refund"
    );
    let r = go(&code, Entry::Call, &at(150, PAYER, &[2]), &mem, FUEL);
    assert_eq!(r.effects.transfers, vec![(receiver, 900)]);

    let r = go(&code, Entry::Call, &at(150, PAYER, &[4]), &mem, FUEL);
    let mut state = receiver.0.to_vec();
    state.extend(le(150));
    state.extend(le(900));
    assert_eq!(r.effects.return_data, state);
}

/// The fuel each example uses, pinned. These are consensus figures: a
/// change means the engine, its configuration or a host function's cost
/// changed, which only a fork may do (and then this table changes with it).
#[test]
fn fuel_used_by_the_examples_is_pinned() {
    let paywall = wat("paywall");
    let counter = wat("counter");
    let mem = Mem::default();
    let mut ask = vec![2];
    ask.extend(PAYER.0);
    let figures = [
        (
            "paywall deploy",
            go(
                &paywall,
                Entry::Deploy,
                &ctx(OWNER, 0, 0, &le(500)),
                &mem,
                FUEL,
            ),
        ),
        (
            "paywall pay",
            go(
                &paywall,
                Entry::Call,
                &ctx(PAYER, 500, 500, &[1]),
                &mem,
                FUEL,
            ),
        ),
        (
            "paywall pay again",
            go(
                &paywall,
                Entry::Call,
                &ctx(PAYER, 500, 1000, &[1]),
                &mem,
                FUEL,
            ),
        ),
        (
            "paywall short",
            go(
                &paywall,
                Entry::Call,
                &ctx(PAYER, 1, 1001, &[1]),
                &mem,
                FUEL,
            ),
        ),
        (
            "paywall paid",
            go(
                &paywall,
                Entry::Call,
                &ctx(OWNER, 0, 1001, &ask),
                &mem,
                FUEL,
            ),
        ),
        (
            "counter add",
            go(&counter, Entry::Call, &ctx(PAYER, 0, 0, &[1]), &mem, FUEL),
        ),
    ]
    .map(|(name, r)| (name, r.fuel_used));
    let pinned = [
        ("paywall deploy", 9009),
        ("paywall pay", 6752),
        ("paywall pay again", 6760),
        ("paywall short", 1156),
        ("paywall paid", 1219),
        ("counter add", 5316),
    ];
    assert_eq!(figures, pinned, "fuel is consensus: see this test's docs");
}

#[test]
fn an_endless_loop_runs_out_of_fuel_and_is_charged_its_limit() {
    let code = module(
        r#"(module (memory (export "memory") 1)
             (func (export "call") (loop $l (br $l))))"#,
    );
    let r = go(
        &code,
        Entry::Call,
        &ctx(PAYER, 0, 0, &[]),
        &Mem::default(),
        50_000,
    );
    assert_eq!((r.status, r.fuel_used), (Status::OutOfFuel, 50_000));
}

/// wasmi's default dispatch chains its instruction handlers by tail calls
/// and needs the optimiser to turn them into jumps; a build where it did
/// not (opt-level "s", measured) overflowed the native stack on a long
/// loop of loads and stores and aborted the process. The engine uses the
/// portable dispatch (a loop), so a run's native stack is bounded however
/// long it runs: here, millions of instructions on a 256 KiB thread.
#[test]
fn a_long_run_keeps_the_native_stack_bounded() {
    let code = module(
        r#"(module (memory (export "memory") 1)
             (func (export "call") (local $a i32)
               (loop $l
                 (i64.store (i32.and (local.get $a) (i32.const 65528))
                   (i64.add (i64.load (i32.and (local.get $a) (i32.const 65528))) (i64.const 1)))
                 (local.set $a (i32.add (local.get $a) (i32.const 7919)))
                 (br $l))))"#,
    );
    let r = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            go(
                &code,
                Entry::Call,
                &ctx(PAYER, 0, 0, &[]),
                &Mem::default(),
                3_000_000,
            )
        })
        .unwrap()
        .join()
        .expect("the run's thread ends without overflowing its stack");
    assert_eq!(r.status, Status::OutOfFuel);
}

#[test]
fn host_functions_charge_fuel_and_stop_at_the_limit() {
    // Writes a key forever: each write costs the host's fuel, so the run
    // stops at its limit, and its writes are gone.
    let code = module(
        r#"(module (import "env" "storage_write" (func $w (param i32 i32 i32 i32)))
             (memory (export "memory") 1) (data (i32.const 0) "k")
             (func (export "call") (loop $l (call $w (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1)) (br $l))))"#,
    );
    let r = go(
        &code,
        Entry::Call,
        &ctx(PAYER, 0, 0, &[]),
        &Mem::default(),
        100_000,
    );
    assert_eq!(r.status, Status::OutOfFuel);
    assert!(r.effects.writes.is_empty());
}

#[test]
fn memory_grows_to_a_mebibyte_and_no_further() {
    // memory.grow answers -1 past 16 pages; the contract sees it and goes on.
    let code = module(
        r#"(module (import "env" "set_return" (func $r (param i32 i32)))
             (memory (export "memory") 1)
             (func (export "call")
               (i32.store (i32.const 0) (memory.grow (i32.const 15)))
               (i32.store (i32.const 4) (memory.grow (i32.const 1)))
               (call $r (i32.const 0) (i32.const 8))))"#,
    );
    let r = go(
        &code,
        Entry::Call,
        &ctx(PAYER, 0, 0, &[]),
        &Mem::default(),
        FUEL,
    );
    assert_eq!(r.status, Status::Ok);
    let mut want = 1i32.to_le_bytes().to_vec();
    want.extend((-1i32).to_le_bytes());
    assert_eq!(r.effects.return_data, want);
}

#[test]
fn host_functions_refuse_bad_arguments_by_name() {
    let cases = [
        // A key over 64 bytes.
        (
            r#"(call $w (i32.const 0) (i32.const 65) (i32.const 0) (i32.const 1))"#,
            Trap::BadKey,
        ),
        // An empty key.
        (
            r#"(call $w (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1))"#,
            Trap::BadKey,
        ),
        // A value over 1 KiB.
        (
            r#"(call $w (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1025))"#,
            Trap::ValueTooLarge,
        ),
        // A value outside the memory.
        (
            r#"(call $w (i32.const 0) (i32.const 1) (i32.const 65530) (i32.const 100))"#,
            Trap::MemoryOutOfBounds,
        ),
        // An address near the top of the 32-bit space.
        (
            r#"(call $w (i32.const -1) (i32.const 8) (i32.const 0) (i32.const 1))"#,
            Trap::MemoryOutOfBounds,
        ),
        (
            r#"(call $r (i32.const 0) (i32.const 1025))"#,
            Trap::ReturnTooLarge,
        ),
        (
            r#"(loop $l (call $e (i32.const 0) (i32.const 1)) (br $l))"#,
            Trap::TooManyEvents,
        ),
        (
            r#"(call $e (i32.const 0) (i32.const 257))"#,
            Trap::TooManyEvents,
        ),
        (
            r#"(i32.div_u (i32.const 1) (i32.const 0)) drop"#,
            Trap::DivisionByZero,
        ),
        (r#"(call $f)"#, Trap::StackOverflow),
    ];
    for (body, trap) in cases {
        let code = module(&format!(
            r#"(module (import "env" "storage_write" (func $w (param i32 i32 i32 i32)))
                 (import "env" "set_return" (func $r (param i32 i32)))
                 (import "env" "emit_event" (func $e (param i32 i32)))
                 (memory (export "memory") 1)
                 (func $f (call $f))
                 (func (export "call") {body}))"#
        ));
        let r = go(
            &code,
            Entry::Call,
            &ctx(PAYER, 0, 0, &[]),
            &Mem::default(),
            10_000_000,
        );
        assert_eq!(r.status, Status::Trapped(trap), "{body}");
        assert!(r.fuel_used > 0, "{body}: a trap still pays for what ran");
    }
}

#[test]
fn a_storage_error_stops_the_block_not_the_call() {
    let code = wat("counter");
    let mem = Mem {
        fail: true,
        ..Mem::default()
    };
    let hash = Hash::of(&[&code]);
    let e = run(
        &hash,
        &code,
        Entry::Call,
        &ctx(PAYER, 0, 0, &[1]),
        &mem,
        FUEL,
    )
    .expect_err("the store's error is returned, not turned into a trap");
    assert!(e.0.contains("the disk said no"), "{e:?}");
}

#[test]
fn deploy_refuses_modules_by_name() {
    let ok_exports = r#"(memory (export "memory") 1) (func (export "call"))"#;
    let cases: Vec<(String, &str)> = vec![
        (
            format!(r#"(module {ok_exports} (func $s) (start $s))"#),
            "start-function",
        ),
        (
            format!(r#"(module {ok_exports} (func (export "f") (result f32) (f32.const 1)))"#),
            "floats",
        ),
        (
            format!(r#"(module (import "env" "clock" (func)) {ok_exports})"#),
            "unknown-import",
        ),
        (
            format!(r#"(module (import "wasi" "input_len" (func (result i32))) {ok_exports})"#),
            "unknown-import",
        ),
        (
            format!(r#"(module (import "env" "input_len" (func (result i64))) {ok_exports})"#),
            "import-signature",
        ),
        (
            r#"(module (memory (export "memory") 1))"#.into(),
            "missing-export",
        ),
        (
            r#"(module (func (export "call")))"#.into(),
            "missing-export",
        ),
        (
            r#"(module (memory (export "memory") 1) (func (export "call") (param i32)))"#.into(),
            "missing-export",
        ),
        (
            r#"(module (memory (export "memory") 17) (func (export "call")))"#.into(),
            "memory-too-large",
        ),
        (
            format!(r#"(module {ok_exports} (table (export "t") 100000 funcref))"#),
            "table-too-large",
        ),
        (
            format!(r#"(module {ok_exports} (table 100000 funcref))"#),
            "instantiation",
        ),
        (
            format!(r#"(module {ok_exports} (data (i32.const 65535) "xy"))"#),
            "instantiation",
        ),
        (format!(r#"(module {ok_exports} (memory 1))"#), "invalid"),
        (
            format!(
                r#"(module {ok_exports} (func (param {})))"#,
                "i32 ".repeat(33)
            ),
            "limit",
        ),
        (
            r#"(module (memory (export "memory") 1) (func (export "call") (i32.const 1)))"#.into(),
            "invalid",
        ),
        ("not wasm".into(), "invalid"),
    ];
    for (text, code) in cases {
        let bytes = if text == "not wasm" {
            b"not wasm".to_vec()
        } else {
            module(&text)
        };
        match compile(&bytes) {
            Err(e) => {
                assert_eq!(e.code(), code, "{text}: {e}");
                assert!(!e.to_string().is_empty());
            }
            Ok(_) => panic!("{text} was accepted"),
        }
    }
    let big = vec![0u8; contract::CODE_BYTES + 1];
    assert!(matches!(compile(&big), Err(CodeError::TooLarge { .. })));
}

/// Found by the slow fuzz: a body whose blocks end before its last
/// operator (a mutated `if` turned the rest into operators after the
/// function's `end`). wasmi 2.0.0 translates while it validates and trips
/// a debug assertion on it, so `compile` validates the whole module first.
#[test]
fn operators_after_a_functions_end_are_refused_before_translation() {
    let code = module(
        r#"(module (memory (export "memory") 1)
             (func (export "call") unreachable end i32.const 1 drop))"#,
    );
    let e = compile(&code).expect_err("operators after the end");
    assert_eq!(e.code(), "invalid", "{e}");
}

/// Bytes near a valid module (the examples, mutated) and bytes at random:
/// compiling never panics, and whatever compiles runs to an end within its
/// fuel without panicking either.
fn never_panics(code: &[u8]) {
    if compile(code).is_ok() {
        let mem = Mem::default();
        for entry in [Entry::Deploy, Entry::Call] {
            let hash = Hash::of(&[code]);
            let _ = run(&hash, code, entry, &ctx(PAYER, 1, 1, &[1]), &mem, 20_000);
        }
    }
}

fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let seeds = [wat("paywall"), wat("counter"), wat("escrow")];
    (
        0..3usize,
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    )
        .prop_map(move |(i, edits)| {
            let mut code = seeds[i].clone();
            for (at, byte) in edits {
                let at = at.index(code.len());
                code[at] = byte;
            }
            code
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn mutated_modules_never_panic(code in mutated()) {
        never_panics(&code);
    }

    #[test]
    fn random_bytes_never_panic(mut code in prop::collection::vec(any::<u8>(), 0..512)) {
        // Half of them with a valid header, so the parser gets past it.
        if code.len() > 8 && code[0] & 1 == 0 {
            code[..8].copy_from_slice(b"\0asm\x01\0\0\0");
        }
        never_panics(&code);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100_000))]
    /// The deploy path under 100,000 mutated modules (slow profile).
    #[test]
    #[ignore = "slow: run by .ci/run's slow profile"]
    fn slow_mutated_modules_never_panic(code in mutated()) {
        never_panics(&code);
    }
}
