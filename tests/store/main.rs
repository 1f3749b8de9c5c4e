//! The chain store on a real redb file: import and reads, crash safety by
//! fault injection, damaged files refused, processes SIGKILLed,
//! reorganisations, and the forger's signing record.
//!
//! A new behaviour of `src/store/` is tested here. Run this group with `cargo
//! test --test store`, one file of it with `cargo test --test store
//! store_basics::`.
//!
//! Where a test goes: tests/README.md.

#[path = "../common/mod.rs"]
mod common;

mod store_basics;
mod store_crash;
mod store_damage;
mod store_events;
mod store_index;
mod store_kill;
mod store_prune;
mod store_reorg;
mod store_signing;
