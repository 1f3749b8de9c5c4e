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
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
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

/// The `goodwill` binary Cargo built for this bench
/// (`CARGO_BIN_EXE_goodwill`: `target/release/goodwill` under `cargo bench`).
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_goodwill"))
}

/// Runs a short `goodwill` command in `dir`; returns its stdout.
pub fn run(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(bin())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("run goodwill {args:?}: {e}"));
    assert!(
        out.status.success(),
        "goodwill {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A `goodwill node` or `goodwill forge` running in the background, its
/// stderr in a log file. Dropped while running (a panic), it is killed.
pub struct Proc {
    pub name: &'static str,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    pub fn start(dir: &Path, name: &'static str, args: &[&str]) -> Proc {
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(bin())
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("create a log file"))
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Proc {
            name,
            child: Some(child),
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The address from its log line `goodwill node: listening on ADDR; …`
    /// (`goodwill forge: …` for a forger).
    pub fn addr(&mut self) -> String {
        wait_for(Duration::from_secs(30), self, "its listening line", |p| {
            p.log()
                .lines()
                .find_map(|l| {
                    l.strip_prefix("goodwill node: listening on ")
                        .or_else(|| l.strip_prefix("goodwill forge: listening on "))
                })
                .and_then(|rest| rest.split(';').next())
                .map(str::to_string)
        })
    }

    /// Blocks it has forged, from its log (`… forged block H in slot S`).
    pub fn forged(&self) -> u64 {
        self.log()
            .lines()
            .filter(|l| l.contains(": forged block "))
            .count() as u64
    }

    /// Panics with its log if it has exited.
    pub fn check_running(&mut self) {
        let child = self.child.as_mut().expect("running");
        if let Ok(Some(st)) = child.try_wait() {
            panic!("{} exited ({st}); its log:\n{}", self.name, self.log());
        }
    }

    /// SIGTERM, then waits (at most 20 s; then SIGKILL).
    pub fn stop(mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let pid = libc::pid_t::try_from(child.id()).expect("a pid");
        // SAFETY: kill(2) on our own child, which has not been waited for
        // (so its pid cannot have been reused).
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Polls `f` every 100 ms until it gives a value; panics with the process's
/// log after `limit`.
pub fn wait_for<T>(
    limit: Duration,
    p: &mut Proc,
    what: &str,
    mut f: impl FnMut(&Proc) -> Option<T>,
) -> T {
    let t = Instant::now();
    loop {
        if let Some(v) = f(p) {
            return v;
        }
        p.check_running();
        if t.elapsed() > limit {
            panic!(
                "{}: no {what} after {limit:?}; its log:\n{}",
                p.name,
                p.log()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
