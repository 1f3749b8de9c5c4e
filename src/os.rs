//! The one module that reads the wall clock and the operating system's random
//! source. Everything else takes time and randomness as arguments, so that
//! ledger rules, schedules and whole networks run deterministically in tests.
//! `clippy.toml` forbids these calls anywhere else.
#![allow(clippy::disallowed_methods)]

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).expect("the operating system's random source is unavailable");
    out
}

/// A random u64 (seeds for demos and simulations).
pub fn random_u64() -> u64 {
    u64::from_le_bytes(random_bytes())
}
