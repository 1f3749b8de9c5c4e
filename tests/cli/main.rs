//! The command line as a user types it, through the real binary: the wallet,
//! association, data and payment verbs end to end (`wallet`), key files plain
//! and sealed (`keyfile`), release manifests signed and checked (`release`), and
//! hostile surroundings (`cli_hostile`).
//!
//! A new verb or a new way the command line can fail is tested here. Run this
//! group with `cargo test --test cli`, one file of it with `cargo test --test
//! cli cli_hostile::`.
//!
//! Where a test goes: tests/README.md.

#[path = "../common/mod.rs"]
mod common;

mod cli_hostile;
mod contract;
mod keyfile;
mod release;
mod wallet;
