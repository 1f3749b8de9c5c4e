//! The systemd units of `systemd/`: `systemd-analyze verify` finds nothing
//! to say about them, `systemd-analyze security` rates their sandbox at most
//! 2.0, their settings agree with the binary's (exit statuses, watchdog
//! period, paths), and the binary speaks the notify protocol they expect.

use crate::common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{keygen, run_ok, tool, NewGenesis, Procs};
use goodwill::runtime::forge::{run::TICK_S, EXIT_DOPPELGANGER, EXIT_REFUSED};
use goodwill::tools::provision;

/// The highest exposure `systemd-analyze security` may give a unit.
const EXPOSURE_MAX: f64 = 2.0;

const UNITS: [&str; 2] = [provision::FORGER_UNIT, provision::NODE_UNIT];

fn unit_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("systemd")
        .join(name)
}

fn unit_text(name: &str) -> String {
    std::fs::read_to_string(unit_path(name)).unwrap()
}

/// The values of `key=` in a unit's text, in order (empty: not set).
fn values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim().to_string())
        .collect()
}

/// The one value of `key=`.
fn value(text: &str, key: &str) -> String {
    let v = values(text, key);
    assert_eq!(v.len(), 1, "{key}= should be set once: {v:?}");
    v[0].clone()
}

/// `unit` copied into `dir` with its `ExecStart=` binary replaced by the one
/// Cargo built: `systemd-analyze verify` checks that the binary exists, and
/// this machine has no /usr/bin/goodwill. Nothing else changes.
fn runnable_copy(dir: &Path, unit: &str) -> PathBuf {
    let text = unit_text(unit);
    let from = format!("ExecStart={} ", provision::BINARY);
    let to = format!("ExecStart={} ", common::goodwill_bin());
    assert_eq!(text.matches(&from).count(), 1, "{unit}: one {from}");
    let path = dir.join(unit);
    std::fs::write(&path, text.replace(&from, &to)).unwrap();
    path
}

/// `systemd-analyze verify FILE`: what it printed (nothing for a clean unit).
fn verify(analyze: &Path, file: &Path) -> String {
    let mut cmd = Command::new(analyze);
    cmd.arg("verify").arg(file);
    let out = common::run_within(cmd, 60_000);
    assert!(
        out.status.success(),
        "systemd-analyze verify {file:?}: {out:#?}"
    );
    format!("{}{}", out.stdout, out.stderr)
}

#[test]
#[cfg_attr(
    not(has_systemd_analyze),
    ignore = "needs systemd-analyze (apt-get install systemd)"
)]
fn systemd_analyze_verifies_both_units_without_a_word() {
    let analyze = tool("systemd-analyze", "the systemd units' verification");
    let tmp = tempfile::tempdir().unwrap();
    for unit in UNITS {
        let said = verify(&analyze, &runnable_copy(tmp.path(), unit));
        assert_eq!(said.trim(), "", "systemd-analyze verify {unit}");
    }
    // The check can fail: a misspelt setting is reported (with exit 0,
    // which is why the output itself must be empty above).
    let broken = tmp.path().join("broken.service");
    let text = std::fs::read_to_string(tmp.path().join(provision::FORGER_UNIT)).unwrap();
    std::fs::write(&broken, text.replace("WatchdogSec=", "WatchdogSecs=")).unwrap();
    let said = verify(&analyze, &broken);
    assert!(said.contains("WatchdogSecs"), "{said}");
}

#[test]
#[cfg_attr(
    not(has_systemd_analyze),
    ignore = "needs systemd-analyze (apt-get install systemd)"
)]
fn the_sandbox_of_each_unit_is_rated_at_most_2_0() {
    let analyze = tool("systemd-analyze", "the systemd units' exposure score");
    for unit in UNITS {
        let mut cmd = Command::new(&analyze);
        cmd.args(["security", "--offline=true"])
            .arg(unit_path(unit));
        let out = common::run_within(cmd, 60_000);
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains("Overall exposure level"))
            .unwrap_or_else(|| panic!("no overall exposure for {unit}: {out:#?}"));
        let score: f64 = line
            .split(": ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{line:?}"));
        println!("systemd-analyze security {unit}: exposure {score}");
        assert!(
            score <= EXPOSURE_MAX,
            "{unit}: exposure {score} is above {EXPOSURE_MAX}:\n{}",
            out.stdout
        );
    }
}

/// Seconds in a systemd time span as the units write them (`30`, `30s`).
fn seconds(v: &str) -> u64 {
    v.trim_end_matches('s')
        .parse()
        .unwrap_or_else(|_| panic!("{v:?}: write whole seconds"))
}

#[test]
fn the_units_agree_with_the_binary_and_the_installed_paths() {
    let forger = unit_text(provision::FORGER_UNIT);
    let node = unit_text(provision::NODE_UNIT);
    // What provision and the package install.
    assert_eq!(forger, provision::FORGER_UNIT_TEXT);
    assert_eq!(node, provision::NODE_UNIT_TEXT);
    assert_eq!(
        value(&forger, "ExecStart"),
        format!(
            "{} forge --config {}",
            provision::BINARY,
            provision::FORGE_CONFIG
        )
    );
    assert_eq!(
        value(&node, "ExecStart"),
        format!(
            "{} node --config /etc/goodwill/node.toml",
            provision::BINARY
        )
    );
    for text in [&forger, &node] {
        assert_eq!(value(text, "Type"), "notify");
        assert_eq!(value(text, "User"), provision::USER);
        assert_eq!(value(text, "Group"), provision::USER);
        assert_eq!(value(text, "Restart"), "on-failure");
        // The state directory is the user's home, and holds the forger's data.
        let state = value(text, "StateDirectory");
        assert_eq!(
            Path::new("/var/lib").join(&state),
            Path::new(provision::HOME)
        );
        assert!(Path::new(provision::FORGER_DATA).starts_with(provision::HOME));
        assert_eq!(value(text, "ConfigurationDirectory"), "goodwill");
        assert_eq!(
            Path::new("/etc").join(value(text, "ConfigurationDirectory")),
            Path::new(provision::FORGE_CONFIG).parent().unwrap()
        );
        // The watchdog fires only after several pets were missed, and the
        // main node pets every second.
        assert!(seconds(&value(text, "WatchdogSec")) >= 3 * TICK_S);
    }
    assert_eq!(value(&forger, "SupplementaryGroups"), provision::GPIO_GROUP);
    let no_restart: Vec<u8> = value(&forger, "RestartPreventExitStatus")
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    assert!(no_restart.contains(&EXIT_DOPPELGANGER), "{no_restart:?}");
    assert!(no_restart.contains(&EXIT_REFUSED), "{no_restart:?}");
    // A crashed forger comes back in a later slot than the one it crashed in
    // (with a chain's default slot length).
    let tmp = tempfile::tempdir().unwrap();
    let key = keygen(tmp.path(), "f", 20_000);
    let genesis = tmp.path().join("genesis.toml");
    run_ok(
        &[
            "genesis",
            "new",
            "--out",
            genesis.to_str().unwrap(),
            "--forger",
            &key.addr,
        ],
        20_000,
    );
    let shown = run_ok(
        &["genesis", "show", "--genesis", genesis.to_str().unwrap()],
        20_000,
    );
    let slot_ms: u64 = shown
        .stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("slot")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("{}", shown.stdout));
    assert!(
        seconds(&value(&forger, "RestartSec")) * 1000 >= 2 * slot_ms,
        "RestartSec= is shorter than two {slot_ms} ms slots"
    );
    // The clock check's adjtimex must stay allowed (ProtectClock= refuses
    // even reading it) and the forger reaches the GPIO chips.
    assert_eq!(value(&forger, "ProtectClock"), "no");
    assert!(values(&forger, "SystemCallFilter")
        .iter()
        .any(|v| v.split_whitespace().any(|s| s == "adjtimex")));
    assert!(values(&forger, "DeviceAllow")
        .iter()
        .any(|v| v.starts_with("char-gpiochip rw")));
}

/// The next datagram on `sock` within `ms`, as text.
fn next_notice(sock: &UnixDatagram, ms: u64) -> Option<String> {
    sock.set_read_timeout(Some(Duration::from_millis(ms)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Waits (at most `ms` of the time this test was running) for a notice
/// containing the line `want`; returns the notices seen until then, that
/// one last.
///
/// A wait that wakes up later than it asked (by over a second) means the
/// machine did not run this test meanwhile, and most likely not the
/// service either: the wait starts again from then (at most three times),
/// rather than count that time against the service. (A CI run failed so:
/// the test woke 14 s past its deadline, while the forger, stalled alike
/// since its first block, forged its next only as the test gave up.)
fn wait_notice(sock: &UnixDatagram, want: &str, ms: u64) -> Vec<String> {
    let mut deadline = common::now_ms() + ms;
    let mut seen = Vec::new();
    let mut stalls = Vec::new();
    for _ in 0..10_000 {
        let asked = common::now_ms();
        let left = deadline.saturating_sub(asked);
        if left == 0 {
            break;
        }
        let notice = next_notice(sock, left);
        let now = common::now_ms();
        let late = now.saturating_sub(asked + left);
        if late > 1_000 && stalls.len() < 3 {
            stalls.push(late);
            deadline = now + ms;
        }
        match notice {
            Some(n) => {
                let found = n.lines().any(|l| l == want);
                seen.push(n);
                if found {
                    return seen;
                }
            }
            None if common::now_ms() < deadline => {}
            None => break,
        }
    }
    panic!("no {want} within {ms} ms (the test woke late by {stalls:?} ms); notices: {seen:?}");
}

#[test]
fn the_main_node_and_the_appliance_notify_systemd_as_their_units_expect() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let s = |p: PathBuf| p.to_str().unwrap().to_string();
    let key = keygen(dir, "forger", 20_000);
    let genesis = s(dir.join("genesis.toml"));
    NewGenesis {
        out: &genesis,
        chain_name: None,
        forgers: vec![&key.addr],
        funds: vec![],
        slot_ms: 1_000,
        epoch_slots: 10,
        finality_depth: None,
    }
    .write(20_000);
    let node_sock = dir.join("node.sock");
    let forge_sock = dir.join("forge.sock");
    let node_rx = UnixDatagram::bind(&node_sock).unwrap();
    let forge_rx = UnixDatagram::bind(&forge_sock).unwrap();
    let mut procs = Procs::new(dir, Duration::from_millis(20));

    let node_args = common::node_args(&s(dir.join("node")), &genesis, "127.0.0.1:0");
    let node = procs.start_with(
        "node",
        &common::strs(&node_args),
        &[("NOTIFY_SOCKET", node_sock.to_str().unwrap())],
        false,
    );
    let main = procs.wait_line(node, 30_000, common::listening_on);
    // Ready once listening, then a watchdog pet every second.
    let first = wait_notice(&node_rx, "READY=1", 30_000);
    assert_eq!(first.len(), 1, "READY comes first: {first:?}");
    let t0 = common::now_ms();
    wait_notice(&node_rx, "WATCHDOG=1", 5_000);
    wait_notice(&node_rx, "WATCHDOG=1", 5_000);
    assert!(common::now_ms() - t0 < 5_000, "two pets within 5 s");

    // The appliance: ready once synced with its main node, a status line,
    // and a pet every TICK_S seconds.
    let forge_args = common::forge_args(
        &s(dir.join("forge")),
        &genesis,
        &key.file,
        &main,
        "127.0.0.1:0",
    );
    procs.start_with(
        "forge",
        &common::strs(&forge_args),
        &[("NOTIFY_SOCKET", forge_sock.to_str().unwrap())],
        false,
    );
    let seen = wait_notice(&forge_rx, "READY=1", 60_000);
    let ready = seen.last().unwrap();
    assert!(
        ready.lines().any(|l| l.starts_with("STATUS=synced")),
        "the READY notice carries the status line: {ready:?}"
    );
    wait_notice(&forge_rx, "WATCHDOG=1", (TICK_S + 5) * 1000);
    drop(procs);
}
