//! The log lines of a real `goodwill node`: with its standard error on the
//! file systemd's `JOURNAL_STREAM` names, each line starts with its syslog
//! priority (`<6>` for info) for journald; elsewhere the lines are plain,
//! the text unchanged; `GOODWILL_LOG` filters by level.

use crate::common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Stdio};

use common::{free_addr, goodwill_command, keygen, node_args, NewGenesis};

const WAIT_MS: u64 = 60_000;

/// A genesis for one forger, in `dir`.
fn genesis(dir: &Path) -> String {
    let forger = keygen(dir, "forger", WAIT_MS);
    let genesis = dir.join("genesis.toml").to_str().unwrap().to_string();
    NewGenesis {
        out: &genesis,
        chain_name: None,
        forgers: vec![&forger.addr],
        funds: vec![],
        slot_ms: 2_000,
        epoch_slots: 8,
        finality_depth: None,
    }
    .write(WAIT_MS);
    genesis
}

/// Kills the node when the test ends, passed or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `goodwill node` with its standard error on `<dir>/<name>.log`, and
/// `JOURNAL_STREAM` set to that file's device and inode if `journal`
/// (another file's otherwise, as when a shell started from a unit inherits
/// the variable); returns the log once a line contains `until`, or after
/// `ms` with `until` None.
fn node_log(
    dir: &Path,
    genesis: &str,
    name: &str,
    journal: bool,
    level: Option<&str>,
    until: Option<&str>,
    ms: u64,
) -> String {
    let log = dir.join(format!("{name}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let id = |p: &Path| {
        let m = std::fs::metadata(p).unwrap();
        format!("{}:{}", m.dev(), m.ino())
    };
    let stream = if journal {
        id(&log)
    } else {
        id(&dir.join("genesis.toml"))
    };
    let data = dir.join(name);
    let addr = free_addr().to_string();
    let mut cmd = goodwill_command();
    cmd.args(node_args(data.to_str().unwrap(), genesis, &addr))
        .env("JOURNAL_STREAM", stream)
        .env_remove("GOODWILL_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file);
    if let Some(l) = level {
        cmd.env("GOODWILL_LOG", l);
    }
    let _child = Killed(cmd.spawn().expect("goodwill node starts"));
    let t0 = common::now_ms();
    loop {
        let text = std::fs::read_to_string(&log).unwrap();
        match until {
            Some(u) if text.contains(u) => return text,
            _ if common::now_ms().saturating_sub(t0) > ms => {
                assert!(
                    until.is_none(),
                    "no line with {until:?} in {ms} ms:\n{text}"
                );
                return text;
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
}

#[test]
fn lines_carry_their_priority_only_on_the_journal_stream() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = genesis(dir.path());

    let journal = node_log(
        dir.path(),
        &genesis,
        "journal",
        true,
        None,
        Some("listening on"),
        WAIT_MS,
    );
    let line = journal
        .lines()
        .find(|l| l.contains("listening on"))
        .unwrap();
    assert!(
        line.starts_with("<6>goodwill node: listening on "),
        "{journal}"
    );
    assert!(journal.lines().all(|l| l.starts_with('<')), "{journal}");

    let plain = node_log(
        dir.path(),
        &genesis,
        "plain",
        false,
        None,
        Some("listening on"),
        WAIT_MS,
    );
    let line = plain.lines().find(|l| l.contains("listening on")).unwrap();
    assert!(line.starts_with("goodwill node: listening on "), "{plain}");
    assert!(!plain.contains('<'), "{plain}");
}

#[test]
fn goodwill_log_sets_the_level() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = genesis(dir.path());
    // Info lines are dropped at warn: the node starts and says nothing.
    let quiet = node_log(
        dir.path(),
        &genesis,
        "warn",
        true,
        Some("warn"),
        None,
        3_000,
    );
    assert!(!quiet.contains("listening on"), "{quiet}");
    // An unknown word: a warning, then info as by default.
    let loud = node_log(
        dir.path(),
        &genesis,
        "loud",
        true,
        Some("loud"),
        Some("listening on"),
        WAIT_MS,
    );
    assert!(
        loud.starts_with(
            "<4>goodwill: GOODWILL_LOG=loud: not one of error, warn, info, debug; using info\n"
        ),
        "{loud}"
    );
}
