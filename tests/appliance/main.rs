//! The forging appliance of a Raspberry Pi: `goodwill forge` with its main
//! node (`forge`), the LED code table (`led`), board profiles with their
//! sysfs readings (`board`), and its signed self-update (`update`).
//!
//! A new behaviour of `src/runtime/forge`, the LEDs or a board profile is
//! tested here. Run this group with `cargo test --test appliance`, one file
//! of it with `cargo test --test appliance board::`.
//!
//! Where a test goes: tests/README.md.

#[path = "../common/mod.rs"]
mod common;

mod board;
mod forge;
mod led;
mod update;
