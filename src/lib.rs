//! goodwill: a low-energy blockchain forged by Raspberry Pis, running Proof of
//! Good-Will — forgers buy forging weight for a future epoch, and what they
//! pay is donated to a charity association the forgers voted in.
//!
//! # Layout
//!
//! Pure logic (no `.await`, no clock, no socket, no file):
//!
//! | module | owns |
//! |---|---|
//! | [`crypto`] | SHA-256, ed25519 keys and signatures, the block VRF (RFC 9381 ECVRF), domain tags: the only door to the ed25519 and VRF code |
//! | [`address`] | `gw1…` addresses (bech32m: a typo is refused, never paid) |
//! | [`codec`] | canonical, bounded postcard encoding; byte strings with a bound in their type |
//! | [`limits`] | every fixed size limit of the formats |
//! | [`amount`] | coins as people write them ↔ units |
//! | [`genesis`] | the genesis file, the chain id, every consensus constant, slot/epoch arithmetic, weak-subjectivity checkpoints |
//! | [`tx`] | transactions: kinds, signing, ids, stateless checks |
//! | [`block`] | headers, signed headers, blocks, block hashes |
//! | [`merkle`] | the transaction Merkle tree and inclusion proofs |
//! | [`state`] | ledger state as keys and values, [`state::StateRead`], changes, the state digest, the in-memory state |
//! | [`schedule`] | the leader schedule: seeds, weight tables, leaders, live forgers |
//! | [`ledger`] | the rules: genesis state, applying a transaction and a block, building a block |
//! | [`fork`] | fork choice and finality |
//! | [`mempool`] | pending transactions: bounded, by fee, nonce gaps held back |
//! | [`testkit`] | deterministic keys, genesis and in-memory chains for tests, benches and demos |
//! | `sim` | a deterministic simulation of a whole network in one process: virtual time, seeded faults, Byzantine forgers, the invariants (hidden from the docs: for `tests/sim.rs`) |
//!
//! At the edge (files, clock, processes):
//!
//! | module | owns |
//! |---|---|
//! | [`os`] | the wall clock and the OS random source (the only module allowed to read them); the one bounded file reader; writes to stdout/stderr that never panic |
//! | [`led`] | the status LEDs: their pattern (pure: state and time in, levels out) and the pins that show it (GPIO line, LED class, log) |
//! | [`board`] | board profiles (`board/*.toml`): LED pins and polarity, idle and load watts, the energy estimate |
//! | [`wire`] | the TCP protocol: frames, messages, limits, the handshake |
//! | [`store`] | the redb chain store: blocks, canonical chain, state, indexes, reorganisations, the signing record; its door refuses a damaged file |
//! | [`node`] | `goodwill node`: the main node ([`node::core`] decides, [`node::policy`] holds the runtime's own choices — redial, flood limit, bans — and `node` runs it on smol) |
//! | [`client`] | a connection to a main node: handshake, queries, submissions, subscriptions |
//! | [`keyfile`] | key files: 0600, never overwritten |
//! | [`provision`] | `goodwill provision`: the appliance into a mounted Raspberry Pi OS root filesystem (ELF check, accounts, what each file needs) |
//! | [`demo`] | `goodwill ledger-demo`: a chain forged in memory |
//! | [`devnet`] | `goodwill devnet`: main nodes and forgers as child processes on 127.0.0.1, a live view, weight bought each epoch ([`devnet::view`] and [`devnet::plan`] are pure) |
//! | [`cli`] | the `goodwill` command line |
//! | [`cli_wallet`] | the wallet, association, data and payment verbs |
//! | [`cli_net`] | the command line's network verbs (`node`, `status`, `forgers`, `chain tip/block/tx`) |
// One reviewed exception: `os::kernel_clock_synced` reads the kernel's clock
// state with adjtimex (there is no safe wrapper); everything else is safe code.
#![deny(unsafe_code)]
// Rejections carry the context a person needs (keys, hashes, heights), which
// puts block errors at ~150 bytes; they are the cold path, so they stay unboxed.
#![allow(clippy::result_large_err)]
#![warn(missing_docs)]

// The crate prints through these instead of std's macros of the same names
// (these shadow them in every module below): a closed stdout or stderr
// (`goodwill status | head -1`, a journal restarted under a node) must never
// stop the work half-done, as std's panic does. See `os::write_std`.
macro_rules! println {
    () => { $crate::os::write_std(format_args!(""), true, false) };
    ($($arg:tt)*) => { $crate::os::write_std(format_args!($($arg)*), true, false) };
}
#[allow(unused_macros)]
macro_rules! print {
    ($($arg:tt)*) => { $crate::os::write_std(format_args!($($arg)*), false, false) };
}
macro_rules! eprintln {
    () => { $crate::os::write_std(format_args!(""), true, true) };
    ($($arg:tt)*) => { $crate::os::write_std(format_args!($($arg)*), true, true) };
}
#[allow(unused_macros)]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::os::write_std(format_args!($($arg)*), false, true) };
}

pub mod address;
pub mod amount;
pub mod block;
pub mod board;
pub mod cli;
pub mod cli_net;
pub mod cli_wallet;
pub mod client;
pub mod codec;
pub mod crypto;
pub mod demo;
pub mod devnet;
pub mod forge;
pub mod fork;
pub mod genesis;
pub mod keyfile;
pub mod led;
pub mod ledger;
pub mod limits;
pub mod mempool;
pub mod merkle;
pub mod node;
pub mod os;
pub mod provision;
pub mod schedule;
#[doc(hidden)]
pub mod sim;
pub mod state;
pub mod store;
pub mod testkit;
pub mod tx;
pub mod wire;
