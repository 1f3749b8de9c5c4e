//! What ships and how it is run: the systemd units (`systemd`), the Debian
//! package (`packaging`), `goodwill provision` into a fake root
//! (`provision`), the documentation's examples (`readme`),
//! `examples/records.rs` (`example`), `goodwill devnet` (`devnet`) and the
//! log lines under journald (`logging`). Tests
//! that need a tool this machine may lack are ignored, saying which, unless
//! CI=true (build.rs).
//!
//! A new installed file, unit, package or documented command is tested here.
//! Run this group with `cargo test --test delivery`, one file of it with
//! `cargo test --test delivery devnet::`.
//!
//! Where a test goes: tests/README.md.

#[path = "../common/mod.rs"]
mod common;

mod devnet;
mod example;
mod logging;
mod packaging;
mod provision;
mod readme;
mod systemd;
