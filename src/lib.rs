//! goodwill: a low-energy blockchain forged by Raspberry Pis, running Proof of
//! Good-Will — forgers buy forging weight for a future epoch, and what they
//! pay is donated to a charity association the forgers voted in.
//!
//! # Layout
//!
//! The folders are the layers. A layer uses the ones above it in this
//! table, never one below (`tests/architecture.rs` checks it):
//!
//! | folder | layer | owns |
//! |---|---|---|
//! | [`chain`] | formats | codec, limits, amounts, keys and signatures, addresses, transactions, blocks, the genesis and its slot arithmetic, Merkle proofs |
//! | [`ledger`] | rules | applying transactions and blocks, the state, the leader schedule, fork choice, the mempool |
//! | [`store`] | storage | the redb chain store: blocks, canonical chain, state, indexes, reorganisations, the chain-event log, the signing record; its door refuses a damaged file |
//! | [`wire`] | protocol | frames, messages, limits, the handshake |
//! | [`peer`] | decisions | the sans-io core of a main node and a forger: sessions, sync, relay, forging, the appliance's decisions; the loop around it (`peer::driver`), shared by the runtime and the simulation |
//! | [`runtime`] | the machine | smol, TCP, files, clock, GPIO: `goodwill node` and `goodwill forge`, key files, the client |
//! | [`tools`] | verbs | provisioning, the devnet, the ledger demo |
//! | [`cli`] | the command line | one file per verb group |
//!
//! Beside them: [`testkit`] (deterministic keys, genesis and chains for
//! tests, benches and demos) and `sim` (a deterministic simulation of a
//! whole network in one process: virtual time, seeded faults, Byzantine
//! forgers, the invariants; hidden from the docs, for `tests/sim.rs`).
//! `chain`, `ledger` and `peer` are pure: no `.await`, no clock, no socket,
//! no file.
// One reviewed exception: `runtime::os::kernel_clock_synced` reads the kernel's clock
// state with adjtimex (there is no safe wrapper); everything else is safe code.
#![deny(unsafe_code)]
// Rejections carry the context a person needs (keys, hashes, heights), which
// puts block errors at ~150 bytes; they are the cold path, so they stay unboxed.
#![allow(clippy::result_large_err)]
#![warn(missing_docs)]

// The crate prints through these instead of std's macros of the same names
// (these shadow them in every module below): a closed stdout or stderr
// (`goodwill status | head -1`, a journal restarted under a node) must never
// stop the work half-done, as std's panic does. See `runtime::os::write_std`.
macro_rules! println {
    () => { $crate::runtime::os::write_std(format_args!(""), true, false) };
    ($($arg:tt)*) => { $crate::runtime::os::write_std(format_args!($($arg)*), true, false) };
}
#[allow(unused_macros)]
macro_rules! print {
    ($($arg:tt)*) => { $crate::runtime::os::write_std(format_args!($($arg)*), false, false) };
}
macro_rules! eprintln {
    () => { $crate::runtime::os::write_std(format_args!(""), true, true) };
    ($($arg:tt)*) => { $crate::runtime::os::write_std(format_args!($($arg)*), true, true) };
}
#[allow(unused_macros)]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::runtime::os::write_std(format_args!($($arg)*), false, true) };
}

pub mod chain;
pub mod cli;
pub mod ledger;
pub mod peer;
pub mod runtime;
#[doc(hidden)]
pub mod sim;
pub mod store;
pub mod testkit;
pub mod tools;
pub mod wire;

/// This build's version, as status answers, handshakes, the forger table
/// and a release's `selfcheck` show it: the package's. A test build may
/// carry another, marked in its binary by the update tests
/// (`runtime::update::marks`), so that one binary can play two releases.
pub fn version() -> &'static str {
    #[cfg(feature = "fault-injection")]
    if let Some(v) = runtime::update::marks::version() {
        return v;
    }
    env!("CARGO_PKG_VERSION")
}
