//! What the forging appliance costs in power, measured from outside on the
//! real binary: wake-ups per second, CPU time, resident memory, and, for a
//! forger that leads, CPU time and bytes written per forged block.
//!
//! `cargo bench --bench forge` starts, on 127.0.0.1 with free ports, in a
//! temporary directory (`TMPDIR` picks the disk):
//!
//! - a fresh chain (`goodwill genesis new`, 2 s slots) whose only bootstrap
//!   forger is key A;
//! - a main node (`goodwill node`);
//! - **the follower**: `goodwill forge --board none` with key B, which is not
//!   a bootstrap forger and holds no weight, so it follows and never leads.
//!
//! Then it measures, each over a window (30 s; `GOODWILL_BENCH_QUICK=1`:
//! 10 s) after a warm-up:
//!
//! 1. **quiet**: the follower on a chain with no blocks at all (A is not
//!    running): what an appliance costs while nothing happens;
//! 2. **busy**: A is started as a second appliance and forges every slot;
//!    the follower imports a block every 2 s. A (the leader) and the main
//!    node are measured over the same window.
//!
//! Each figure comes from `/proc`, never from the process itself, and nothing
//! talks to the measured processes during a window (no status query):
//!
//! - wake-ups per second: voluntary context switches
//!   (`/proc/PID/task/*/status`), summed over the threads, delta over the
//!   window; also per thread (named by `/proc/PID/task/*/comm`). A voluntary
//!   switch is a thread going to sleep (on a timer, a socket, a channel, a
//!   lock or the disk) and is therefore followed by one wake-up;
//! - CPU seconds in the window: `utime + stime` of `/proc/PID/stat` (10 ms
//!   ticks), and the scheduler's nanoseconds (`/proc/PID/task/*/schedstat`);
//! - resident memory: `VmRSS` at the end of the window;
//! - bytes written: `/proc/PID/io` (`write_bytes`: to the disk; `wchar`:
//!   through write calls), and per block in the busy window.
//!
//! After the busy window, once A has forged at least a few blocks, it reads
//! A's own figures with `goodwill status --json`: `appliance.cpu_us_per_block`
//! (the core thread's CPU time for a forged slot: build, record, sign, store,
//! send) and `appliance.bytes_per_block` (what the store wrote for the last
//! block). It stops every process with SIGTERM and checks that each exits 0.
//!
//! The last line is for scripts:
//! `forge: idle_wakeups_per_s=… busy_wakeups_per_s=… rss_mib=… cpu_us_per_block=… bytes_per_block=… leader_wakeups_per_s=… leader_disk_bytes_per_block=…`
//! (the follower's wake-ups in the quiet and busy windows, its RSS; the
//! leader's CPU time and bytes per block from its status, its wake-ups, and
//! the kernel's bytes to the disk per forged block, which include the
//! signing record's own commit). Figures, not goals: nothing is judged or
//! asserted. See docs/performance.md, "Appliance".
//!
//! The binary is the `goodwill` that Cargo builds for this bench
//! (`CARGO_BIN_EXE_goodwill`: `target/release/goodwill` under `cargo bench`).
//! Run without `--bench` (as `cargo test --all-targets` runs it) it only shows
//! that it works, with 2 s windows on the debug binary.

// A benchmark must read the clock; clippy.toml forbids `Instant::now` outside
// src/runtime/os.rs so that the ledger logic never does. This file is not logic.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{bin, proc_field as field, run, wait_for, Mode, Proc};

/// The genesis's slot length: a devnet's default.
const SLOT_MS: u64 = 2_000;
/// `/proc/PID/stat` counts CPU time in USER_HZ ticks: 100 per second on
/// every architecture goodwill targets.
const TICKS_PER_S: f64 = 100.0;

struct Config {
    window: Duration,
    warmup: Duration,
    /// Blocks A must have forged before its figures are read.
    blocks: u64,
    mode: &'static str,
}

impl Config {
    fn from_env() -> Config {
        // Without `--bench` the binary is a debug build: only show that the
        // benchmark works.
        let mode = Mode::from_env();
        match mode {
            Mode::Smoke => Config {
                window: Duration::from_secs(2),
                warmup: Duration::from_secs(1),
                blocks: 1,
                mode: mode.label(),
            },
            Mode::Quick => Config {
                window: Duration::from_secs(10),
                warmup: Duration::from_secs(3),
                blocks: 5,
                mode: mode.label(),
            },
            Mode::Full => Config {
                window: Duration::from_secs(30),
                warmup: Duration::from_secs(5),
                blocks: 10,
                mode: mode.label(),
            },
        }
    }
}

/// `goodwill status --node ADDR --json`, or None if it failed.
fn status(dir: &Path, addr: &str) -> Option<serde_json::Value> {
    let out = Command::new(bin())
        .args(["status", "--node", addr, "--json"])
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

#[derive(Debug, Clone)]
struct ThreadSample {
    comm: String,
    voluntary: u64,
    involuntary: u64,
    run_ns: Option<u64>,
}

#[derive(Debug, Clone)]
struct Sample {
    at: Instant,
    threads: BTreeMap<u32, ThreadSample>,
    cpu_ticks: u64,
    rss_kib: u64,
    /// `/proc/PID/io`: bytes sent to the disk (`write_bytes`) and through
    /// write calls (`wchar`); None where the kernel does not account them.
    write_bytes: Option<u64>,
    wchar: Option<u64>,
}

/// Reads a process's threads, CPU ticks and RSS from `/proc`.
fn sample(pid: u32) -> Sample {
    let at = Instant::now();
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let mut threads = BTreeMap::new();
    for entry in std::fs::read_dir(proc_dir.join("task")).expect("the process is running") {
        let Ok(entry) = entry else { continue };
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let path = entry.path();
        // A thread may end between the listing and the reads: skip it.
        let Ok(status) = std::fs::read_to_string(path.join("status")) else {
            continue;
        };
        let comm = std::fs::read_to_string(path.join("comm"))
            .unwrap_or_default()
            .trim()
            .to_string();
        let run_ns = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok());
        threads.insert(
            tid,
            ThreadSample {
                comm,
                voluntary: field(&status, "voluntary_ctxt_switches:").unwrap_or(0),
                involuntary: field(&status, "nonvoluntary_ctxt_switches:").unwrap_or(0),
                run_ns,
            },
        );
    }
    let stat = std::fs::read_to_string(proc_dir.join("stat")).expect("the process is running");
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')').expect("a stat line") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let cpu_ticks = f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
    let status = std::fs::read_to_string(proc_dir.join("status")).expect("the process is running");
    let io = std::fs::read_to_string(proc_dir.join("io")).unwrap_or_default();
    Sample {
        at,
        threads,
        cpu_ticks,
        rss_kib: field(&status, "VmRSS:").unwrap_or(0),
        write_bytes: field(&io, "write_bytes:"),
        wchar: field(&io, "wchar:"),
    }
}

/// What one process did over a window.
struct Window {
    secs: f64,
    /// Per thread name: (voluntary, involuntary) switches in the window.
    per_thread: BTreeMap<String, (u64, u64)>,
    voluntary: u64,
    cpu_s_ticks: f64,
    cpu_s_sched: f64,
    rss_mib: f64,
    /// Bytes the kernel sent to the disk for it, and its write calls' bytes.
    write_bytes: Option<u64>,
    wchar: Option<u64>,
    /// Threads that ended during the window (their switches are lost).
    ended: Vec<String>,
}

impl Window {
    fn between(a: &Sample, b: &Sample) -> Window {
        let mut per_thread: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let mut voluntary = 0;
        let mut run_ns = 0;
        for (tid, t1) in &b.threads {
            // A thread started in the window counts from zero.
            let (v0, i0, r0) = a
                .threads
                .get(tid)
                .map(|t0| (t0.voluntary, t0.involuntary, t0.run_ns.unwrap_or(0)))
                .unwrap_or((0, 0, 0));
            let dv = t1.voluntary.saturating_sub(v0);
            let di = t1.involuntary.saturating_sub(i0);
            voluntary += dv;
            run_ns += t1.run_ns.unwrap_or(0).saturating_sub(r0);
            let e = per_thread.entry(t1.comm.clone()).or_default();
            e.0 += dv;
            e.1 += di;
        }
        let ended = a
            .threads
            .iter()
            .filter(|(tid, _)| !b.threads.contains_key(tid))
            .map(|(tid, t)| format!("{} ({tid})", t.comm))
            .collect();
        Window {
            secs: b.at.duration_since(a.at).as_secs_f64(),
            per_thread,
            voluntary,
            cpu_s_ticks: b.cpu_ticks.saturating_sub(a.cpu_ticks) as f64 / TICKS_PER_S,
            cpu_s_sched: run_ns as f64 / 1e9,
            rss_mib: b.rss_kib as f64 / 1024.0,
            write_bytes: b
                .write_bytes
                .zip(a.write_bytes)
                .map(|(b, a)| b.saturating_sub(a)),
            wchar: b.wchar.zip(a.wchar).map(|(b, a)| b.saturating_sub(a)),
            ended,
        }
    }

    fn wakeups_per_s(&self) -> f64 {
        self.voluntary as f64 / self.secs
    }

    fn print(&self, title: &str) {
        println!("{title}, {:.1} s:", self.secs);
        println!(
            "  wake-ups      {:6.2} /s  (voluntary context switches, all threads)",
            self.wakeups_per_s()
        );
        for (name, (v, i)) in &self.per_thread {
            println!(
                "    {name:<16}{:6.2} /s  ({v} in the window; {i} involuntary)",
                *v as f64 / self.secs
            );
        }
        if !self.ended.is_empty() {
            println!(
                "    (threads that ended in the window, not counted: {})",
                self.ended.join(", ")
            );
        }
        println!(
            "  CPU           {:.2} s by /proc/PID/stat (10 ms ticks); {:.4} s by schedstat = {:.3} % of one core",
            self.cpu_s_ticks,
            self.cpu_s_sched,
            self.cpu_s_sched / self.secs * 100.0
        );
        println!("  resident      {:.1} MiB (VmRSS)", self.rss_mib);
        let kib =
            |b: Option<u64>| b.map_or("?".to_string(), |b| format!("{:.1}", b as f64 / 1024.0));
        println!(
            "  written       {} KiB to the disk (/proc/PID/io write_bytes); {} KiB through write calls (wchar)",
            kib(self.write_bytes),
            kib(self.wchar)
        );
    }

    /// Bytes sent to the disk per block, for `blocks` blocks in the window.
    fn disk_bytes_per(&self, blocks: u64) -> Option<u64> {
        (blocks > 0).then_some(self.write_bytes? / blocks)
    }
}

/// Samples every process over `window`; checks that none exits meanwhile.
fn measure(window: Duration, procs: &mut [&mut Proc]) -> Vec<Window> {
    let before: Vec<Sample> = procs.iter().map(|p| sample(p.pid())).collect();
    std::thread::sleep(window);
    let after: Vec<Sample> = procs.iter().map(|p| sample(p.pid())).collect();
    for p in procs.iter_mut() {
        p.check_running();
    }
    before
        .iter()
        .zip(&after)
        .map(|(a, b)| Window::between(a, b))
        .collect()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn forge_args<'a>(data: &'a str, key: &'a str, main: &'a str) -> Vec<&'a str> {
    vec![
        "forge",
        "--data",
        data,
        "--genesis",
        "genesis.toml",
        "--key",
        key,
        "--main",
        main,
        "--board",
        "none",
        "--status-listen",
        "127.0.0.1:0",
    ]
}

fn main() {
    let cfg = Config::from_env();
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("goodwill forge bench: {}", cfg.mode);
    println!(
        "binary {}; {cores} cores; load average {} at the start",
        bin().display(),
        loadavg()
    );

    // A fresh chain: A is its only bootstrap forger; B is just a key.
    run(dir, &["keygen", "--out", "a.key"]);
    run(dir, &["keygen", "--out", "b.key"]);
    run(dir, &["keygen", "--out", "node.key"]);
    let a_addr = run(dir, &["address", "--key", "a.key"]);
    let slot_ms = SLOT_MS.to_string();
    run(
        dir,
        &[
            "genesis",
            "new",
            "--out",
            "genesis.toml",
            "--forger",
            &a_addr,
            "--slot-ms",
            &slot_ms,
        ],
    );

    let mut node = Proc::start(
        dir,
        "node",
        &[
            "node",
            "--data",
            "node-data",
            "--genesis",
            "genesis.toml",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "off",
            "--key",
            "node.key",
        ],
    );
    let main_addr = node.addr();
    let mut follower = Proc::start(dir, "follower", &forge_args("b-data", "b.key", &main_addr));
    let follower_addr = follower.addr();
    wait_for(
        Duration::from_secs(30),
        &mut follower,
        "synced status with a main node",
        |_| {
            let s = status(dir, &follower_addr)?;
            let a = &s["appliance"];
            (a["synced"] == true && a["main_nodes"].as_u64() >= Some(1)).then_some(())
        },
    );
    println!(
        "chain: 2 s slots, one bootstrap forger (A); main node on {main_addr}; follower (key B, never leads) on {follower_addr}; windows of {:?} after {:?} of warm-up",
        cfg.window, cfg.warmup
    );
    println!();

    // 1. Quiet: nothing is forged.
    std::thread::sleep(cfg.warmup);
    let quiet = measure(cfg.window, &mut [&mut follower, &mut node]);
    assert_eq!(follower.forged(), 0, "the follower must never forge");
    quiet[0].print("follower, quiet chain (no blocks)");
    quiet[1].print("main node, same window (for comparison: it ticks every second)");
    println!();

    // 2. Busy: A forges every slot.
    let mut leader = Proc::start(dir, "leader", &forge_args("a-data", "a.key", &main_addr));
    let leader_addr = leader.addr();
    wait_for(
        Duration::from_secs(60),
        &mut leader,
        "two forged blocks",
        |p| (p.forged() >= 2).then_some(()),
    );
    std::thread::sleep(cfg.warmup);
    let forged_before = leader.forged();
    let busy = measure(cfg.window, &mut [&mut follower, &mut leader, &mut node]);
    let forged_in_window = leader.forged() - forged_before;
    busy[0].print(&format!(
        "follower, busy chain (A forged {forged_in_window} block{} in the window)",
        if forged_in_window == 1 { "" } else { "s" }
    ));
    if let Some(b) = busy[0].disk_bytes_per(forged_in_window) {
        println!(
            "  per imported block: {b} bytes to the disk (write_bytes / blocks in the window)"
        );
    }
    busy[1].print("leader A (forges every slot), same window");
    if forged_in_window > 0 {
        println!(
            "  per forged block: {:.0} µs of CPU for the whole process (schedstat / blocks in the window)",
            busy[1].cpu_s_sched / forged_in_window as f64 * 1e6
        );
    }
    let leader_disk = busy[1].disk_bytes_per(forged_in_window);
    if let Some(b) = leader_disk {
        println!("  per forged block: {b} bytes to the disk (write_bytes / blocks in the window: the block and the signing record)");
    }
    busy[2].print("main node, same window");
    println!();

    // 3. The leader's own figures, after enough blocks.
    wait_for(
        Duration::from_secs(cfg.blocks * SLOT_MS / 1000 * 3 + 30),
        &mut leader,
        "enough forged blocks",
        |p| (p.forged() >= cfg.blocks).then_some(()),
    );
    let a = status(dir, &leader_addr).expect("the leader's status");
    let b = status(dir, &follower_addr).expect("the follower's status");
    let (aa, ba) = (&a["appliance"], &b["appliance"]);
    let cpu_us_per_block = aa["cpu_us_per_block"].as_u64().unwrap_or(0);
    let bytes_per_block = aa["bytes_per_block"].as_u64().unwrap_or(0);
    println!(
        "leader A's `goodwill status --json` after {} forged blocks (height {}):",
        aa["forged_total"], a["height"]
    );
    println!("  cpu_us_per_block   {cpu_us_per_block} µs  (the core thread's CPU for a forged slot: build, record, sign, store, send)");
    println!("  bytes_per_block    {bytes_per_block} B  (what its store wrote for the last block)");
    println!(
        "  wakeups_per_s      {:.2}  (its own figure, last minute)",
        aa["wakeups_per_s"].as_f64().unwrap_or(0.0)
    );
    println!(
        "follower B: bytes_per_block {} B; its own wakeups_per_s {:.2} (last minute: quiet and busy mixed); leds {}",
        ba["bytes_per_block"],
        ba["wakeups_per_s"].as_f64().unwrap_or(0.0),
        ba["leds"]
    );

    // 4. Clean stops.
    let mut clean = true;
    for p in [leader, follower, node] {
        let name = p.name;
        let st = p.stop();
        if st.is_none_or(|s| !s.success()) {
            clean = false;
            println!("{name} did not stop cleanly on SIGTERM: {st:?}");
        }
    }
    if clean {
        println!("all three stopped on SIGTERM with exit status 0");
    }
    println!("load average {} at the end", loadavg());
    println!();
    println!(
        "forge: idle_wakeups_per_s={:.2} busy_wakeups_per_s={:.2} rss_mib={:.1} cpu_us_per_block={} bytes_per_block={} leader_wakeups_per_s={:.2} leader_disk_bytes_per_block={}",
        quiet[0].wakeups_per_s(),
        busy[0].wakeups_per_s(),
        busy[0].rss_mib,
        cpu_us_per_block,
        bytes_per_block,
        busy[1].wakeups_per_s(),
        leader_disk.map_or("?".to_string(), |b| b.to_string())
    );
}
