//! The chain and ledger as pure logic, in this process and without a disk or
//! a socket: the ledger's rules with exact numbers, its properties
//! (proptest), the mempool, the pinned encodings of every signed structure
//! (`vectors`, against `tests/vectors/`), and the ed25519/VRF conformance
//! vectors.
//!
//! A new rule of `src/chain/` or `src/ledger/` is tested here (or, for one
//! function's own contract, in a `#[cfg(test)] mod tests` beside it). Run
//! this group with `cargo test --test ledger`, one file of it with `cargo
//! test --test ledger ed25519_conformance::`.
//!
//! Where a test goes: tests/README.md.

#[path = "../common/mod.rs"]
mod common;

mod contract_txs;
mod contracts;
mod ed25519_conformance;
mod ledger_props;
mod ledger_rules;
mod mempool;
mod signature_batch;
mod vectors;
