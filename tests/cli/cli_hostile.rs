//! The command line against hostile or unlucky surroundings, through the
//! real binary: files that never end (`/dev/zero`), a stdout whose reader
//! is gone, settings out of bounds.

use crate::common;

use std::path::Path;

use common::{run, run_ok, run_with_closed_stdout, strs};

const WAIT_MS: u64 = 30_000;

fn s(p: &Path) -> String {
    p.to_str().expect("utf-8").to_string()
}

/// A genesis written by `goodwill genesis new` in `dir`.
fn genesis(dir: &Path) -> String {
    let forger = common::keygen(dir, "forger", WAIT_MS);
    let g = s(&dir.join("genesis.toml"));
    common::NewGenesis {
        out: &g,
        chain_name: None,
        forgers: vec![&forger.addr],
        funds: vec![],
        slot_ms: 1_000,
        epoch_slots: 10,
        finality_depth: None,
    }
    .write(WAIT_MS);
    g
}

/// Every file goodwill reads is read through one bounded reader: a file
/// that never ends is refused at its bound within a second or so, instead
/// of growing the process's memory until it dies.
#[test]
fn files_that_never_end_are_refused_at_their_bound() {
    let dir = tempfile::tempdir().unwrap();
    let g = genesis(dir.path());
    let data = s(&dir.path().join("data"));
    let key = common::keygen(dir.path(), "k", WAIT_MS);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "node",
                "--data",
                &data,
                "--genesis",
                "/dev/zero",
                "--listen",
                "127.0.0.1:0",
            ],
            "a genesis file is at most",
        ),
        (
            vec!["node", "--config", "/dev/zero"],
            "a configuration file is at most",
        ),
        (
            vec![
                "forge",
                "--data",
                &data,
                "--genesis",
                "/dev/zero",
                "--key",
                &key.file,
                "--main",
                "127.0.0.1:7070",
            ],
            "a genesis file is at most",
        ),
        (vec!["genesis", "show", "--genesis", "/dev/zero"], "at most"),
        (
            vec![
                "forge",
                "--data",
                &data,
                "--genesis",
                &g,
                "--key",
                &key.file,
                "--main",
                "127.0.0.1:7070",
                "--board",
                "/dev/zero",
            ],
            "larger than",
        ),
    ];
    for (args, needle) in cases {
        let started = common::now_ms();
        let out = run(&args, 10_000);
        let took = common::now_ms() - started;
        assert!(!out.status.success(), "{args:?}: {out:?}");
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
        assert!(took < 5_000, "{args:?} took {took} ms");
        println!("{:?}: refused in {took} ms", &args[..2]);
    }
}

/// Printing to a stdout whose reader is gone never interrupts the work:
/// the chain is forged and kept in full, and the command exits 0 without a
/// word about the pipe (std's `println!` panicked at the first line, exit
/// 101, with nothing forged).
#[test]
fn a_closed_stdout_does_not_stop_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let data = s(&dir.path().join("demo"));
    let (status, stderr) = run_with_closed_stdout(
        &[
            "ledger-demo",
            "--blocks",
            "12",
            "--seed",
            "7",
            "--data",
            &data,
        ],
        60_000,
    );
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    let out = run_ok(&["chain", "verify", "--data", &data], WAIT_MS);
    assert!(out.stdout.contains("at height 12"), "{out:?}");

    // `goodwill status | head -1` against a live node.
    let g = genesis(dir.path());
    let addr = common::free_addr().to_string();
    let node_data = s(&dir.path().join("node"));
    let mut procs = common::Procs::new(dir.path(), common::POLL);
    procs.start("node", &strs(&common::node_args(&node_data, &g, &addr)));
    common::wait_for(WAIT_MS, "the node answers", || {
        run(&["status", "--node", &addr], WAIT_MS)
            .status
            .success()
            .then_some(())
    });
    let (status, stderr) = run_with_closed_stdout(&["status", "--node", &addr], WAIT_MS);
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Settings that cannot work are refused at start with status 2, naming
/// the flag; the forger's own log lines say `goodwill forge:`.
#[test]
fn bad_addresses_are_refused_at_start_and_the_forger_logs_as_itself() {
    let dir = tempfile::tempdir().unwrap();
    let g = genesis(dir.path());
    let data = s(&dir.path().join("data"));
    let long = format!("{}.example.org:7070", "a".repeat(60));
    let out = run(
        &[
            "node",
            "--data",
            &data,
            "--genesis",
            &g,
            "--listen",
            "127.0.0.1:0",
            "--advertise",
            &long,
        ],
        WAIT_MS,
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("--advertise") && out.stderr.contains("at most 64 bytes"),
        "{}",
        out.stderr
    );
    let key = common::keygen(dir.path(), "forger2", WAIT_MS);
    for main in ["no-port", "host:", ":7070", "host:0", "host:99999", &long] {
        let forge = common::forge_args(&data, &g, &key.file, main, "127.0.0.1:0");
        let out = run(&strs(&forge), WAIT_MS);
        assert_eq!(out.code, Some(2), "--main {main}: {out:?}");
        assert!(out.stderr.contains("--main"), "{}", out.stderr);
    }
    let node = common::node_args(&data, &g, "127.0.0.1:0");
    let mut args = strs(&node);
    args.extend(["--peer", "no-port"]);
    let out = run(&args, WAIT_MS);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("--peer"), "{}", out.stderr);

    // A forger with nothing to reach logs as `goodwill forge` until stopped.
    let forge = common::forge_args(
        &s(&dir.path().join("forger")),
        &g,
        &key.file,
        &common::free_addr().to_string(),
        &common::free_addr().to_string(),
    );
    let mut procs = common::Procs::new(dir.path(), common::POLL);
    let i = procs.start("forger", &strs(&forge));
    let lines = procs.wait_line(i, WAIT_MS, |l| {
        l.contains("listening on").then(|| l.to_string())
    });
    assert!(lines.starts_with("goodwill forge:"), "{lines}");
}

/// Genesis values out of their bounds are refused by `genesis new`, and at
/// load when a file written by hand holds them.
#[test]
fn genesis_values_out_of_bounds_are_refused_when_made_and_when_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let forger = common::keygen(dir.path(), "bounds", WAIT_MS);
    let big = i64::MAX.to_string();
    for (flag, value) in [
        ("--slot-ms", big.as_str()),
        ("--start-ms", big.as_str()),
        ("--finality-depth", big.as_str()),
        ("--block-reward", "9000000000000"),
    ] {
        let out_file = s(&dir.path().join(format!("g{flag}.toml")));
        let out = run(
            &[
                "genesis",
                "new",
                "--out",
                &out_file,
                "--forger",
                &forger.addr,
                flag,
                value,
            ],
            WAIT_MS,
        );
        assert!(!out.status.success(), "{flag} {value}: {out:?}");
        let name = flag.trim_start_matches("--").replace('-', "_");
        assert!(out.stderr.contains(&name), "{flag}: {}", out.stderr);
        assert!(!Path::new(&out_file).exists(), "{flag}: nothing written");
    }
    // A file edited by hand: refused at load, naming the value.
    let g = genesis(dir.path());
    let text = std::fs::read_to_string(&g).unwrap();
    let edited = text.replace(
        "max_clock_drift_ms = 500",
        &format!("max_clock_drift_ms = {big}"),
    );
    assert_ne!(edited, text);
    let hand = dir.path().join("hand.toml");
    std::fs::write(&hand, edited).unwrap();
    let out = run(&["genesis", "show", "--genesis", &s(&hand)], WAIT_MS);
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("max_clock_drift_ms"), "{}", out.stderr);
}
