//! Smart contracts: WebAssembly modules run by wasmi, metered in fuel.
//!
//! This is consensus code. Every node must refuse the same modules and
//! charge the same fuel for the same call, on x86-64 and on a Pi alike, so
//! everything that decides either is fixed here: the engine's
//! configuration ([`engine`]), the limits below, the fuel each host function
//! charges ([`fuel`]), and the wasmi version (pinned exactly in
//! Cargo.toml). Changing any of them changes what a block means: only at a
//! fork height. `tests/ledger/contracts.rs` pins the fuel the example
//! contracts use, and runs on x86-64 and under qemu on aarch64.
//!
//! The ledger hands a call its context ([`Context`]) and read access to the
//! contract's storage ([`Storage`]); the call returns what it did
//! ([`Run`]): its status, the fuel it used, and — only when it ended well —
//! its writes, transfers, events and return data, which the ledger then
//! applies. A call that traps or runs out of fuel changes nothing, so
//! undoing it needs no journal. No clock, no file, no randomness: a call
//! depends on its module, its input, the context and the storage only.
//!
//! # What a module may be
//!
//! - At most [`CODE_BYTES`]; valid WebAssembly 1.0 with the mutable-global,
//!   sign-extension, saturating-conversion, multi-value, bulk-memory and
//!   extended-const proposals; no floating point, no SIMD, no reference
//!   types (so one table at most), no multiple memories, no 64-bit memory,
//!   no tail calls, no start function.
//! - It imports only functions of module `env` named in [`HOST_FUNCTIONS`].
//! - It exports `call: [] -> []` and a memory named `memory` of at most
//!   [`MEMORY_PAGES`] pages to start with (it may grow to that bound, never
//!   beyond); it may export `deploy: [] -> []`, run once when it is deployed.
//! - Its one table holds at most [`TABLE_ELEMENTS`] elements.
//!
//! No cross-contract calls in this version: a contract cannot call another
//! contract, so there is no re-entrancy to guard against.

use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};

use sha2::{Digest, Sha256};
use wasmi::errors::{ErrorKind, FuelError, MemoryError, TableError};
use wasmi::{
    Caller, CompilationMode, Config, EnforcedLimits, Engine, Error, Extern, ExternType, Linker,
    Module, Store, StoreLimits, StoreLimitsBuilder, TrapCode,
};

use crate::chain::crypto::{Hash, PublicKey};
use crate::chain::limits;
use crate::ledger::state::ReadError;

/// The largest module a deploy may carry, in bytes.
pub const CODE_BYTES: usize = limits::CONTRACT_CODE;
/// A module's memory, in 64 KiB pages, at most (1 MiB).
pub const MEMORY_PAGES: u32 = 16;
/// Elements in a module's table, at most.
pub const TABLE_ELEMENTS: usize = 1024;
/// Nested calls inside one contract call, at most (wasm functions calling
/// wasm functions; host functions do not count).
pub const CALL_DEPTH: usize = 256;
/// A storage key, in bytes (1 to 64, as a record's key).
pub const STORAGE_KEY: usize = limits::DATA_KEY;
/// A storage value, in bytes (as a record's value).
pub const STORAGE_VALUE: usize = limits::DATA_VALUE;
/// The return data a call may set, in bytes.
pub const RETURN_BYTES: usize = 1024;
/// Events one call may emit.
pub const EVENTS: usize = 16;
/// One event, in bytes.
pub const EVENT_BYTES: usize = 256;
/// Transfers out of the contract's balance in one call.
pub const TRANSFERS: usize = 16;
/// Storage keys one call may write or remove (distinct keys).
pub const WRITES: usize = 64;
/// Fuel charged per byte of code to load a module: for every deploy, and
/// for the first call to a module in a block. Compiling is not metered by
/// the engine; this makes a block's compiling fit its fuel limit
/// (docs/performance.md, "A block's fuel limit": ≈ 1.6 µs per byte on a
/// Pi 3-class core, ≈ 31 ns per fuel).
pub const LOAD_FUEL_PER_BYTE: u64 = 50;
/// Bytes a stored entry costs beyond its key and value (its share of the
/// store's index), for [`crate::ledger::state::ContractAccount::stored_bytes`]
/// and the storage charge.
pub const ENTRY_OVERHEAD: u64 = 32;

/// What the host functions charge, in fuel, on top of the fuel wasmi
/// charges for the instructions themselves (about one a simple
/// instruction). Consensus values: see the module's docs.
pub mod fuel {
    /// Any host function, before its own costs.
    pub const HOST_CALL: u64 = 20;
    /// Each byte copied between the module's memory and the host (input,
    /// addresses, keys, values read, return data, hashed bytes).
    pub const BYTE: u64 = 1;
    /// A storage read: a descent of the state's tree.
    pub const STORAGE_READ: u64 = 1_000;
    /// A storage write or removal (the state entry, its undo record, and
    /// the disk's pages it dirties).
    pub const STORAGE_WRITE: u64 = 4_000;
    /// Each byte of a stored value, written.
    pub const STORAGE_WRITE_BYTE: u64 = 20;
    /// A transfer out of the contract's balance (two account entries).
    pub const TRANSFER: u64 = 4_000;
    /// An event, plus [`BYTE`] per byte.
    pub const EVENT: u64 = 200;
    /// SHA-256, per 64-byte block hashed (plus [`BYTE`] per byte copied).
    pub const SHA256_BLOCK: u64 = 30;
}

/// The functions a module may import from module `env`, with their
/// WebAssembly signatures (`i32` addresses and lengths, `i64` amounts and
/// heights, read as unsigned). docs/design.md ("Contracts") says what each
/// does and charges.
pub const HOST_FUNCTIONS: &[(&str, &str)] = &[
    ("input_len", "[] -> [i32]"),
    ("input_read", "[i32 dst] -> []"),
    (
        "storage_read",
        "[i32 key, i32 key_len, i32 dst, i32 cap] -> [i32]",
    ),
    (
        "storage_write",
        "[i32 key, i32 key_len, i32 value, i32 value_len] -> []",
    ),
    ("storage_remove", "[i32 key, i32 key_len] -> []"),
    ("caller", "[i32 dst] -> []"),
    ("self_address", "[i32 dst] -> []"),
    ("value_received", "[] -> [i64]"),
    ("balance", "[] -> [i64]"),
    ("block_height", "[] -> [i64]"),
    ("block_slot", "[] -> [i64]"),
    ("transfer", "[i32 to, i64 amount] -> [i32]"),
    ("emit_event", "[i32 data, i32 len] -> []"),
    ("set_return", "[i32 data, i32 len] -> []"),
    ("sha256", "[i32 data, i32 len, i32 dst] -> []"),
];

/// The engine every node runs contracts with: eager translation (a module
/// is compiled whole when it is loaded, and compiling charges no fuel, so a
/// node that has it cached and one that has not charge alike), fuel
/// metering on, floats and every proposal a contract does not need off, no
/// start function, wasmi's strict limits, a bounded call stack.
pub fn engine() -> &'static Engine {
    static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
        let mut config = Config::default();
        config
            .consume_fuel(true)
            .compilation_mode(CompilationMode::Eager)
            .enforced_limits(EnforcedLimits::strict())
            .floats(false)
            .allow_start_fn(false)
            .ignore_custom_sections(true)
            .wasm_mutable_global(true)
            .wasm_sign_extension(true)
            .wasm_saturating_float_to_int(false)
            .wasm_multi_value(true)
            .wasm_bulk_memory(true)
            .wasm_extended_const(true)
            .wasm_reference_types(false)
            .wasm_multi_memory(false)
            .wasm_tail_call(false)
            .wasm_custom_page_sizes(false)
            .wasm_wide_arithmetic(false)
            .set_max_recursion_depth(CALL_DEPTH);
        Engine::new(&config)
    });
    &ENGINE
}

/// Why a module cannot be deployed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Over [`CODE_BYTES`].
    #[error("the module is {size} bytes; a contract's code is at most {max} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// It has a start function.
    #[error("the module has a start function; contracts run only through `deploy` and `call`")]
    StartFunction,
    /// It uses floating point.
    #[error("the module uses floating point ({0}); contracts may not: results must be bit-identical on every node")]
    Floats(String),
    /// Over one of wasmi's strict limits (functions, globals, data segments, parameters…).
    #[error("the module exceeds a limit: {0}")]
    Limit(String),
    /// Not valid WebAssembly, or a feature contracts may not use.
    #[error("the module is not valid for a contract: {0}")]
    Invalid(String),
    /// It imports something other than a host function.
    #[error("the module imports `{module}.{name}`, which is not a host function (imports come from `env`: {known})")]
    UnknownImport {
        /// The import's module.
        module: String,
        /// The import's name.
        name: String,
        /// The names it may import.
        known: String,
    },
    /// A host function imported with the wrong signature.
    #[error("the module imports `env.{name}` with another signature than {expected}")]
    ImportSignature {
        /// The import's name.
        name: String,
        /// What it must be.
        expected: &'static str,
    },
    /// A required export is missing or of the wrong kind.
    #[error("the module must export {0}")]
    MissingExport(&'static str),
    /// The memory starts above [`MEMORY_PAGES`].
    #[error("the module's memory starts at {pages} pages; a contract has at most {max} (1 MiB)")]
    MemoryTooLarge {
        /// Its initial size.
        pages: u64,
        /// The limit.
        max: u32,
    },
    /// The table starts above [`TABLE_ELEMENTS`].
    #[error(
        "the module's table starts at {elements} elements; a contract's table holds at most {max}"
    )]
    TableTooLarge {
        /// Its initial size.
        elements: u64,
        /// The limit.
        max: usize,
    },
    /// It cannot be set up within a contract's limits.
    #[error("the module cannot be instantiated within a contract's limits (memory {MEMORY_PAGES} pages, one table of {TABLE_ELEMENTS} elements, one instance): {0}")]
    Instantiation(String),
}

impl CodeError {
    /// A short stable name, for receipts, logs and JSON.
    pub fn code(&self) -> &'static str {
        match self {
            CodeError::TooLarge { .. } => "too-large",
            CodeError::StartFunction => "start-function",
            CodeError::Floats(_) => "floats",
            CodeError::Limit(_) => "limit",
            CodeError::Invalid(_) => "invalid",
            CodeError::UnknownImport { .. } => "unknown-import",
            CodeError::ImportSignature { .. } => "import-signature",
            CodeError::MissingExport(_) => "missing-export",
            CodeError::MemoryTooLarge { .. } => "memory-too-large",
            CodeError::TableTooLarge { .. } => "table-too-large",
            CodeError::Instantiation(_) => "instantiation",
        }
    }
}

/// Checks a module for deployment and compiles it: what a deploy
/// transaction's code must pass before anything runs. Deterministic, and
/// bounded by [`CODE_BYTES`] before wasmi reads a byte.
pub fn compile(code: &[u8]) -> Result<Module, CodeError> {
    if code.len() > CODE_BYTES {
        return Err(CodeError::TooLarge {
            size: code.len(),
            max: CODE_BYTES,
        });
    }
    // The whole module is validated before wasmi translates any of it:
    // `Module::new` validates each function as it translates it, and wasmi
    // 2.0.0's translator trips over some invalid bodies (operators after a
    // function's end: a debug assertion, found by the deploy fuzz) before
    // the validator reports them.
    Module::validate(engine(), code).map_err(|e| classify_compile_error(&e))?;
    let module = Module::new(engine(), code).map_err(|e| classify_compile_error(&e))?;
    for import in module.imports() {
        let known = HOST_FUNCTIONS
            .iter()
            .find(|(n, _)| import.module() == "env" && *n == import.name());
        match (known, import.ty()) {
            (Some((name, expected)), ExternType::Func(ty)) => {
                let want = host_signature(name);
                if ty.params() != want.params() || ty.results() != want.results() {
                    return Err(CodeError::ImportSignature {
                        name: (*name).to_string(),
                        expected,
                    });
                }
            }
            _ => {
                return Err(CodeError::UnknownImport {
                    module: import.module().to_string(),
                    name: import.name().to_string(),
                    known: HOST_FUNCTIONS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }
    match module.get_export("call") {
        Some(ExternType::Func(ty)) if ty.params().is_empty() && ty.results().is_empty() => {}
        _ => {
            return Err(CodeError::MissingExport(
                "a function `call` of type [] -> []",
            ))
        }
    }
    match module.get_export("deploy") {
        None => {}
        Some(ExternType::Func(ty)) if ty.params().is_empty() && ty.results().is_empty() => {}
        Some(_) => {
            return Err(CodeError::MissingExport(
                "`deploy`, if it exports one, as a function of type [] -> []",
            ))
        }
    }
    match module.get_export("memory") {
        Some(ExternType::Memory(ty)) => {
            if ty.minimum() > u64::from(MEMORY_PAGES) {
                return Err(CodeError::MemoryTooLarge {
                    pages: ty.minimum(),
                    max: MEMORY_PAGES,
                });
            }
        }
        _ => return Err(CodeError::MissingExport("its memory as `memory`")),
    }
    for export in module.exports() {
        if let ExternType::Table(ty) = export.ty() {
            if ty.minimum() > TABLE_ELEMENTS as u64 {
                return Err(CodeError::TableTooLarge {
                    elements: ty.minimum(),
                    max: TABLE_ELEMENTS,
                });
            }
        }
    }
    // Instantiating it once, under the limits every call runs with, finds
    // what the sections alone do not show: a table that is not exported,
    // data or elements that do not fit. Nothing runs (no start function).
    struct Empty;
    impl Storage for Empty {
        fn get(&self, _: &[u8]) -> Result<Option<Vec<u8>>, ReadError> {
            Ok(None)
        }
    }
    let ctx = Context {
        contract: Hash::ZERO,
        caller: PublicKey([0; 32]),
        value: 0,
        balance: 0,
        height: 0,
        slot: 0,
        input: Vec::new(),
    };
    let mut store = new_store(&ctx, &Empty, u64::MAX);
    if let Err(e) = linker().instantiate_and_start(&mut store, &module) {
        return Err(CodeError::Instantiation(e.to_string()));
    }
    Ok(module)
}

fn classify_compile_error(e: &Error) -> CodeError {
    let text = e.to_string();
    match e.kind() {
        ErrorKind::UserLimits(_) => CodeError::Limit(text),
        ErrorKind::Translation(_) if text.contains("start") => CodeError::StartFunction,
        _ if text.contains("float") => CodeError::Floats(text),
        _ => CodeError::Invalid(text),
    }
}

fn host_signature(name: &str) -> wasmi::FuncType {
    use wasmi::ValType::{I32, I64};
    let (params, results): (&[wasmi::ValType], &[wasmi::ValType]) = match name {
        "input_len" => (&[], &[I32]),
        "input_read" | "caller" | "self_address" => (&[I32], &[]),
        "storage_read" => (&[I32, I32, I32, I32], &[I32]),
        "storage_write" => (&[I32, I32, I32, I32], &[]),
        "storage_remove" | "emit_event" | "set_return" => (&[I32, I32], &[]),
        "value_received" | "balance" | "block_height" | "block_slot" => (&[], &[I64]),
        "transfer" => (&[I32, I64], &[I32]),
        "sha256" => (&[I32, I32, I32], &[]),
        _ => unreachable!("HOST_FUNCTIONS and host_signature disagree on {name}"),
    };
    wasmi::FuncType::new(params.iter().copied(), results.iter().copied())
}

/// A contract's address: SHA-256 of `goodwill/contract/v1 ‖ chain id ‖
/// deployer ‖ deployer's nonce (u64, little endian)`. Not a curve point,
/// so no key can sign for it: only the contract's code moves its balance.
pub fn address(chain_id: &Hash, deployer: &PublicKey, nonce: u64) -> Hash {
    Hash::of(&[
        b"goodwill/contract/v1",
        &chain_id.0,
        &deployer.0,
        &nonce.to_le_bytes(),
    ])
}

/// The contract a transaction deploys or calls, if it is a contract
/// transaction: what the indexes file it under, for its events.
pub fn contract_of(tx: &crate::chain::tx::Transaction) -> Option<Hash> {
    match &tx.kind {
        crate::chain::tx::TxKind::DeployContract { .. } => {
            Some(address(&tx.chain_id, &tx.sender, tx.nonce))
        }
        crate::chain::tx::TxKind::CallContract { contract, .. } => Some(*contract),
        _ => None,
    }
}

/// Which exported function a run starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// `deploy`, once, when the contract is created (skipped if the module
    /// exports none).
    Deploy,
    /// `call`, for every call and query.
    Call,
}

impl Entry {
    fn export(self) -> &'static str {
        match self {
            Entry::Deploy => "deploy",
            Entry::Call => "call",
        }
    }
}

/// What a run sees of the chain.
#[derive(Debug, Clone)]
pub struct Context {
    /// The contract's own address.
    pub contract: Hash,
    /// The transaction's sender.
    pub caller: PublicKey,
    /// Coins sent with the call, already in `balance`.
    pub value: u64,
    /// The contract's balance, `value` included.
    pub balance: u64,
    /// The height of the block the call is in.
    pub height: u64,
    /// That block's slot.
    pub slot: u64,
    /// The call's input.
    pub input: Vec<u8>,
}

/// Read access to one contract's storage, at the state the call starts
/// from. An error is the store's, never the contract's: it stops the block.
pub trait Storage {
    /// The value under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ReadError>;
}

/// Why a run ended without effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Trap {
    /// `unreachable` ran.
    Unreachable,
    /// A load or store outside the memory, or a host function given such an address.
    MemoryOutOfBounds,
    /// A table access outside the table.
    TableOutOfBounds,
    /// `call_indirect` to an empty element.
    IndirectCallToNull,
    /// An integer divided by zero.
    DivisionByZero,
    /// An integer overflow in a division or a conversion.
    IntegerOverflow,
    /// `call_indirect` with the wrong signature.
    BadSignature,
    /// More than [`CALL_DEPTH`] nested calls.
    StackOverflow,
    /// A storage key empty or over [`STORAGE_KEY`] bytes.
    BadKey,
    /// A storage value over [`STORAGE_VALUE`] bytes.
    ValueTooLarge,
    /// Return data over [`RETURN_BYTES`] bytes.
    ReturnTooLarge,
    /// Over [`EVENTS`] events, or one over [`EVENT_BYTES`] bytes.
    TooManyEvents,
    /// Over [`TRANSFERS`] transfers.
    TooManyTransfers,
    /// Over [`WRITES`] storage keys written.
    TooManyWrites,
    /// Anything else the engine stopped it for.
    Other,
}

impl Trap {
    /// A short stable name, for receipts, logs and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Trap::Unreachable => "unreachable",
            Trap::MemoryOutOfBounds => "memory-out-of-bounds",
            Trap::TableOutOfBounds => "table-out-of-bounds",
            Trap::IndirectCallToNull => "indirect-call-to-null",
            Trap::DivisionByZero => "division-by-zero",
            Trap::IntegerOverflow => "integer-overflow",
            Trap::BadSignature => "bad-signature",
            Trap::StackOverflow => "stack-overflow",
            Trap::BadKey => "bad-key",
            Trap::ValueTooLarge => "value-too-large",
            Trap::ReturnTooLarge => "return-too-large",
            Trap::TooManyEvents => "too-many-events",
            Trap::TooManyTransfers => "too-many-transfers",
            Trap::TooManyWrites => "too-many-writes",
            Trap::Other => "other",
        }
    }
}

impl std::fmt::Display for Trap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Status {
    /// It returned: its effects apply.
    Ok,
    /// It trapped: nothing it did applies.
    Trapped(Trap),
    /// It used its whole fuel limit: nothing it did applies.
    OutOfFuel,
}

/// What a contract did, applied by the ledger only when the run is
/// [`Status::Ok`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// Storage keys written (`Some`) or removed (`None`), sorted by key.
    pub writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// Transfers out of the contract's balance, in the order made.
    pub transfers: Vec<(PublicKey, u64)>,
    /// Events, in the order emitted.
    pub events: Vec<Vec<u8>>,
    /// The data set by `set_return` (the last call wins).
    pub return_data: Vec<u8>,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// How it ended.
    pub status: Status,
    /// Fuel used: the whole limit when it ran out.
    pub fuel_used: u64,
    /// Empty unless `status` is [`Status::Ok`].
    pub effects: Effects,
}

struct HostState<'a> {
    ctx: &'a Context,
    storage: &'a dyn Storage,
    limits: StoreLimits,
    effects: Effects,
    /// The balance left after the transfers so far.
    balance: u64,
    /// A trap a host function raised, named in our terms.
    trap: Option<Trap>,
    /// The store's error, which ends the block rather than the call.
    failed: Option<ReadError>,
}

/// [`compile`], keeping the module in the cache [`run`] uses, so that a
/// deploy checked before its block runs is not compiled twice.
pub fn precompile(code: &[u8]) -> Result<(), CodeError> {
    cached(&Hash::of(&[code]), code).map(|_| ())
}

/// A small cache of compiled modules, by code hash: compiling is the same
/// work for the same code, and charges no fuel (eager translation), so
/// whether a node has a module cached changes nothing but its speed.
fn cached(code_hash: &Hash, code: &[u8]) -> Result<Module, CodeError> {
    const ENTRIES: usize = 32;
    static CACHE: LazyLock<Mutex<Vec<(Hash, Module)>>> = LazyLock::new(Mutex::default);
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(i) = cache.iter().position(|(h, _)| h == code_hash) {
        let entry = cache.remove(i);
        let module = entry.1.clone();
        cache.insert(0, entry);
        return Ok(module);
    }
    drop(cache);
    let module = compile(code)?;
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    cache.insert(0, (*code_hash, module.clone()));
    cache.truncate(ENTRIES);
    Ok(module)
}

fn new_store<'a>(ctx: &'a Context, storage: &'a dyn Storage, fuel: u64) -> Store<HostState<'a>> {
    let state = HostState {
        ctx,
        storage,
        limits: StoreLimitsBuilder::new()
            .memory_size(MEMORY_PAGES as usize * 65_536)
            .table_elements(TABLE_ELEMENTS)
            .instances(1)
            .tables(1)
            .memories(1)
            .build(),
        effects: Effects::default(),
        balance: ctx.balance,
        trap: None,
        failed: None,
    };
    let mut store = Store::new(engine(), state);
    store.limiter(|s| &mut s.limits);
    store
        .set_fuel(fuel)
        .expect("the contract engine meters fuel");
    store
}

/// Runs `entry` of the contract whose code is `code` (hash `code_hash`)
/// with at most `fuel_limit` fuel. `Err` only for a storage error, which
/// must stop the block; everything the contract can do wrong is a
/// [`Status`]. A module that does not compile (it passed [`compile`] when
/// deployed, so only a changed engine could) traps with [`Trap::Other`]
/// and uses no fuel.
pub fn run(
    code_hash: &Hash,
    code: &[u8],
    entry: Entry,
    ctx: &Context,
    storage: &dyn Storage,
    fuel_limit: u64,
) -> Result<Run, ReadError> {
    let failed = |status| Run {
        status,
        fuel_used: 0,
        effects: Effects::default(),
    };
    let module = match cached(code_hash, code) {
        Ok(m) => m,
        Err(_) => return Ok(failed(Status::Trapped(Trap::Other))),
    };
    if entry == Entry::Deploy && module.get_export("deploy").is_none() {
        return Ok(failed(Status::Ok));
    }
    let mut store = new_store(ctx, storage, fuel_limit);
    let result = linker()
        .instantiate_and_start(&mut store, &module)
        .and_then(|instance| {
            instance
                .get_typed_func::<(), ()>(&store, entry.export())
                .and_then(|f| f.call(&mut store, ()))
        });
    let left = store.get_fuel().expect("the contract engine meters fuel");
    let mut state = store.into_data();
    if let Some(e) = state.failed.take() {
        return Err(e);
    }
    let status = match result {
        Ok(()) => Status::Ok,
        Err(e) if out_of_fuel(&e) => Status::OutOfFuel,
        Err(e) => Status::Trapped(state.trap.unwrap_or_else(|| trap_of(&e))),
    };
    let fuel_used = match status {
        Status::OutOfFuel => fuel_limit,
        _ => fuel_limit - left,
    };
    let effects = match status {
        Status::Ok => state.effects,
        _ => Effects::default(),
    };
    Ok(Run {
        status,
        fuel_used,
        effects,
    })
}

fn out_of_fuel(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::TrapCode(TrapCode::OutOfFuel)
            | ErrorKind::Memory(MemoryError::OutOfFuel { .. })
            | ErrorKind::Table(TableError::OutOfFuel { .. })
            | ErrorKind::Fuel(FuelError::OutOfFuel { .. })
    )
}

fn trap_of(e: &Error) -> Trap {
    match e.as_trap_code() {
        Some(TrapCode::UnreachableCodeReached) => Trap::Unreachable,
        Some(TrapCode::MemoryOutOfBounds) => Trap::MemoryOutOfBounds,
        Some(TrapCode::TableOutOfBounds) => Trap::TableOutOfBounds,
        Some(TrapCode::IndirectCallToNull) => Trap::IndirectCallToNull,
        Some(TrapCode::IntegerDivisionByZero) => Trap::DivisionByZero,
        Some(TrapCode::IntegerOverflow) | Some(TrapCode::BadConversionToInteger) => {
            Trap::IntegerOverflow
        }
        Some(TrapCode::StackOverflow) => Trap::StackOverflow,
        Some(TrapCode::BadSignature) => Trap::BadSignature,
        _ => match e.kind() {
            ErrorKind::Memory(_) => Trap::MemoryOutOfBounds,
            ErrorKind::Table(_) => Trap::TableOutOfBounds,
            _ => Trap::Other,
        },
    }
}

type Ctx<'c, 'a> = Caller<'c, HostState<'a>>;

/// Stops the call with `trap` (a host function's refusal).
fn stop(caller: &mut Ctx<'_, '_>, trap: Trap) -> Error {
    caller.data_mut().trap = Some(trap);
    Error::new(trap.name())
}

fn charge(caller: &mut Ctx<'_, '_>, fuel: u64) -> Result<(), Error> {
    let left = caller.get_fuel()?;
    if left < fuel {
        caller.set_fuel(0)?;
        return Err(Error::from(TrapCode::OutOfFuel));
    }
    caller.set_fuel(left - fuel)
}

fn memory(caller: &Ctx<'_, '_>) -> Result<wasmi::Memory, Error> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(Error::from(TrapCode::MemoryOutOfBounds)),
    }
}

/// `len` bytes of the module's memory at `ptr`, charged per byte.
fn read(
    caller: &mut Ctx<'_, '_>,
    ptr: i32,
    len: i32,
    max: usize,
    over: Trap,
) -> Result<Vec<u8>, Error> {
    let len = len as u32 as usize;
    if len > max {
        return Err(stop(caller, over));
    }
    charge(caller, fuel::BYTE * len as u64)?;
    let mem = memory(caller)?;
    let start = ptr as u32 as usize;
    let range = start..start.saturating_add(len);
    match mem.data(&*caller).get(range) {
        Some(bytes) => Ok(bytes.to_vec()),
        None => Err(stop(caller, Trap::MemoryOutOfBounds)),
    }
}

/// Writes `bytes` into the module's memory at `ptr`, charged per byte.
fn write(caller: &mut Ctx<'_, '_>, ptr: i32, bytes: &[u8]) -> Result<(), Error> {
    charge(caller, fuel::BYTE * bytes.len() as u64)?;
    let mem = memory(caller)?;
    let start = ptr as u32 as usize;
    let range = start..start.saturating_add(bytes.len());
    match mem.data_mut(&mut *caller).get_mut(range) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            Ok(())
        }
        None => Err(stop(caller, Trap::MemoryOutOfBounds)),
    }
}

fn key(caller: &mut Ctx<'_, '_>, ptr: i32, len: i32) -> Result<Vec<u8>, Error> {
    if len <= 0 {
        return Err(stop(caller, Trap::BadKey));
    }
    read(caller, ptr, len, STORAGE_KEY, Trap::BadKey)
}

fn storage_get(caller: &mut Ctx<'_, '_>, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    if let Some(v) = caller.data().effects.writes.get(key) {
        return Ok(v.clone());
    }
    let state = caller.data();
    match state.storage.get(key) {
        Ok(v) => Ok(v),
        Err(e) => {
            caller.data_mut().failed = Some(e);
            Err(Error::new("storage error"))
        }
    }
}

fn storage_put(
    caller: &mut Ctx<'_, '_>,
    key: Vec<u8>,
    value: Option<Vec<u8>>,
) -> Result<(), Error> {
    let writes = &caller.data().effects.writes;
    if !writes.contains_key(&key) && writes.len() >= WRITES {
        return Err(stop(caller, Trap::TooManyWrites));
    }
    caller.data_mut().effects.writes.insert(key, value);
    Ok(())
}

fn u64_result(caller: &mut Ctx<'_, '_>, value: u64) -> Result<i64, Error> {
    charge(caller, fuel::HOST_CALL)?;
    Ok(value as i64)
}

fn linker<'a>() -> Linker<HostState<'a>> {
    let mut l = Linker::<HostState<'a>>::new(engine());
    let env = "env";
    l.func_wrap(
        env,
        "input_len",
        |mut c: Ctx<'_, 'a>| -> Result<i32, Error> {
            charge(&mut c, fuel::HOST_CALL)?;
            Ok(c.data().ctx.input.len() as i32)
        },
    )
    .expect("host function names are distinct");
    l.func_wrap(
        env,
        "input_read",
        |mut c: Ctx<'_, 'a>, dst: i32| -> Result<(), Error> {
            charge(&mut c, fuel::HOST_CALL)?;
            let input = c.data().ctx.input.clone();
            write(&mut c, dst, &input)
        },
    )
    .expect("host function names are distinct");
    l.func_wrap(
        env,
        "storage_read",
        |mut c: Ctx<'_, 'a>, k: i32, k_len: i32, dst: i32, cap: i32| -> Result<i32, Error> {
            charge(&mut c, fuel::HOST_CALL + fuel::STORAGE_READ)?;
            let key = key(&mut c, k, k_len)?;
            match storage_get(&mut c, &key)? {
                None => Ok(-1),
                Some(v) => {
                    let n = v.len().min(cap.max(0) as usize);
                    write(&mut c, dst, &v[..n])?;
                    Ok(v.len() as i32)
                }
            }
        },
    )
    .expect("host function names are distinct");
    l.func_wrap(
        env,
        "storage_write",
        |mut c: Ctx<'_, 'a>, k: i32, k_len: i32, v: i32, v_len: i32| -> Result<(), Error> {
            charge(&mut c, fuel::HOST_CALL + fuel::STORAGE_WRITE)?;
            let key = key(&mut c, k, k_len)?;
            if v_len as u32 as usize > STORAGE_VALUE {
                return Err(stop(&mut c, Trap::ValueTooLarge));
            }
            charge(&mut c, fuel::STORAGE_WRITE_BYTE * v_len as u32 as u64)?;
            let value = read(&mut c, v, v_len, STORAGE_VALUE, Trap::ValueTooLarge)?;
            storage_put(&mut c, key, Some(value))
        },
    )
    .expect("host function names are distinct");
    l.func_wrap(
        env,
        "storage_remove",
        |mut c: Ctx<'_, 'a>, k: i32, k_len: i32| -> Result<(), Error> {
            charge(&mut c, fuel::HOST_CALL + fuel::STORAGE_WRITE)?;
            let key = key(&mut c, k, k_len)?;
            storage_put(&mut c, key, None)
        },
    )
    .expect("host function names are distinct");
    l.func_wrap(
        env,
        "caller",
        |mut c: Ctx<'_, 'a>, dst: i32| -> Result<(), Error> {
            charge(&mut c, fuel::HOST_CALL)?;
            let who = c.data().ctx.caller.0;
            write(&mut c, dst, &who)
        },
    )
    .expect("host function names are distinct");
    l.func_wrap(
        env,
        "self_address",
        |mut c: Ctx<'_, 'a>, dst: i32| -> Result<(), Error> {
            charge(&mut c, fuel::HOST_CALL)?;
            let me = c.data().ctx.contract.0;
            write(&mut c, dst, &me)
        },
    )
    .expect("host function names are distinct");
    l.func_wrap(env, "value_received", |mut c: Ctx<'_, 'a>| {
        let v = c.data().ctx.value;
        u64_result(&mut c, v)
    })
    .expect("host function names are distinct");
    l.func_wrap(env, "balance", |mut c: Ctx<'_, 'a>| {
        let v = c.data().balance;
        u64_result(&mut c, v)
    })
    .expect("host function names are distinct");
    l.func_wrap(env, "block_height", |mut c: Ctx<'_, 'a>| {
        let v = c.data().ctx.height;
        u64_result(&mut c, v)
    })
    .expect("host function names are distinct");
    l.func_wrap(env, "block_slot", |mut c: Ctx<'_, 'a>| {
        let v = c.data().ctx.slot;
        u64_result(&mut c, v)
    })
    .expect("host function names are distinct");
    l.func_wrap(
        env,
        "transfer",
        |mut c: Ctx<'_, 'a>, to: i32, amount: i64| -> Result<i32, Error> {
            charge(&mut c, fuel::HOST_CALL + fuel::TRANSFER)?;
            let to = read(&mut c, to, 32, 32, Trap::MemoryOutOfBounds)?;
            let to = PublicKey(to.try_into().expect("32 bytes were read"));
            let amount = amount as u64;
            if c.data().effects.transfers.len() >= TRANSFERS {
                return Err(stop(&mut c, Trap::TooManyTransfers));
            }
            if amount > c.data().balance {
                return Ok(1);
            }
            if crate::chain::tx::check_receiver(&to).is_err() {
                return Ok(2);
            }
            let state = c.data_mut();
            state.balance -= amount;
            state.effects.transfers.push((to, amount));
            Ok(0)
        },
    )
    .expect("host function names are distinct");
    l.func_wrap(
        env,
        "emit_event",
        |mut c: Ctx<'_, 'a>, data: i32, len: i32| -> Result<(), Error> {
            charge(&mut c, fuel::HOST_CALL + fuel::EVENT)?;
            if c.data().effects.events.len() >= EVENTS {
                return Err(stop(&mut c, Trap::TooManyEvents));
            }
            let event = read(&mut c, data, len, EVENT_BYTES, Trap::TooManyEvents)?;
            c.data_mut().effects.events.push(event);
            Ok(())
        },
    )
    .expect("host function names are distinct");
    l.func_wrap(
        env,
        "set_return",
        |mut c: Ctx<'_, 'a>, data: i32, len: i32| -> Result<(), Error> {
            charge(&mut c, fuel::HOST_CALL)?;
            let bytes = read(&mut c, data, len, RETURN_BYTES, Trap::ReturnTooLarge)?;
            c.data_mut().effects.return_data = bytes;
            Ok(())
        },
    )
    .expect("host function names are distinct");
    l.func_wrap(
        env,
        "sha256",
        |mut c: Ctx<'_, 'a>, data: i32, len: i32, dst: i32| -> Result<(), Error> {
            let n = len as u32 as u64;
            charge(&mut c, fuel::HOST_CALL + fuel::SHA256_BLOCK * (n / 64 + 1))?;
            let bytes = read(&mut c, data, len, 1 << 20, Trap::MemoryOutOfBounds)?;
            let digest: [u8; 32] = Sha256::digest(&bytes).into();
            write(&mut c, dst, &digest)
        },
    )
    .expect("host function names are distinct");
    l
}
