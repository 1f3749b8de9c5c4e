//! What the benchmarks share: how big a run is (`Mode`), timing, medians,
//! and reading figures from `/proc`.
//!
//! Each benchmark includes it with `mod common;` and uses a part of it, so
//! the parts one benchmark does not use would each be a dead-code warning
//! there. (A module in a subdirectory is not a bench target of its own.)
#![allow(dead_code)]
// A benchmark must read the clock; clippy.toml forbids `Instant::now` outside
// src/runtime/os.rs so that the ledger logic never does. This file is not logic.
#![allow(clippy::disallowed_methods)]

use std::cmp::Ordering;
use std::time::{Duration, Instant};

/// How a benchmark was started, and so how big a run it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Without `--bench`: `cargo test --benches` runs an unoptimised build,
    /// so it only shows that the benchmark works.
    Smoke,
    /// `cargo bench` with `GOODWILL_BENCH_QUICK=1` (CI).
    Quick,
    /// `cargo bench`.
    Full,
}

impl Mode {
    /// `cargo bench` passes `--bench`; `cargo test --benches` does not.
    pub fn from_env() -> Mode {
        let benching = std::env::args().any(|a| a == "--bench");
        let quick = std::env::var("GOODWILL_BENCH_QUICK").is_ok_and(|v| v == "1");
        match (benching, quick) {
            (false, _) => Mode::Smoke,
            (true, true) => Mode::Quick,
            (true, false) => Mode::Full,
        }
    }

    /// What the run is, for its first lines.
    pub fn label(self) -> &'static str {
        match self {
            Mode::Smoke => "smoke test (no --bench): figures mean nothing",
            Mode::Quick => "quick (GOODWILL_BENCH_QUICK=1)",
            Mode::Full => "full",
        }
    }
}

/// Runs `f`; returns what it gave and how long it took.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

/// A figure that can be sorted: times, counts, and rates (floats by
/// `total_cmp`).
pub trait Figure: Copy {
    fn order(&self, other: &Self) -> Ordering;
}

impl Figure for Duration {
    fn order(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }
}

impl Figure for u64 {
    fn order(&self, other: &Self) -> Ordering {
        self.cmp(other)
    }
}

impl Figure for f64 {
    fn order(&self, other: &Self) -> Ordering {
        self.total_cmp(other)
    }
}

/// `v`, smallest first.
pub fn sorted<T: Figure>(v: &[T]) -> Vec<T> {
    let mut s = v.to_vec();
    s.sort_by(T::order);
    s
}

/// The median of `v` (the upper one of an even count).
pub fn median<T: Figure>(v: &[T]) -> T {
    let s = sorted(v);
    s[s.len() / 2]
}

/// The number after `name` on its line of a `/proc` file such as
/// `/proc/PID/status` (`VmRSS:  1234 kB`) or `/proc/PID/io`.
pub fn proc_field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}
