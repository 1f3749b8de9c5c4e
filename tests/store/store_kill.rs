//! Real processes killed with SIGKILL: the store reopens on a consistent
//! tip with every committed block intact, and the signing record survives a
//! kill between recording a slot and using it.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use goodwill::chain::crypto::Hash;
use goodwill::store::{SigningError, Store};
use goodwill::tools::demo::SplitMix;

/// Starts `goodwill ledger-demo --data DIR` forging without end, waits until
/// it has forged at least one block in this run, lets it run `ms` more
/// milliseconds, and kills it with SIGKILL.
fn forge_then_kill(dir: &Path, ms: u64) {
    let mut child = common::goodwill_command()
        .args([
            "ledger-demo",
            "--blocks",
            "1000000000",
            "--seed",
            "11",
            "--data",
        ])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start goodwill");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // Heading (two lines), maybe a "resuming" line, then a row per block.
    let mut rows = 0;
    for line in lines.by_ref() {
        let line = line.expect("read");
        if line.trim_start().starts_with(|c: char| c.is_ascii_digit()) {
            rows += 1;
            break;
        }
    }
    assert_eq!(rows, 1, "the demo forged no block before exiting");
    std::thread::sleep(Duration::from_millis(ms));
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "killed process reported success");
}

fn kill_loop(rounds: u64, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = SplitMix::new(seed);
    let mut last_height = 0;
    for round in 0..rounds {
        forge_then_kill(dir.path(), rng.below(150));
        let store = Store::open_existing(dir.path())
            .unwrap_or_else(|e| panic!("round {round}: the store does not reopen: {e}"));
        let tip = store.tip().unwrap();
        assert!(
            tip.height > last_height,
            "round {round}: tip {} is not above the last round's {last_height}",
            tip.height
        );
        let verified = store
            .verify_chain()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(verified, tip.height);
        last_height = tip.height;
    }
    // The command operators use agrees.
    let out = common::goodwill_command()
        .args(["chain", "verify", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("at height {last_height}")), "{text}");
    println!("{rounds} SIGKILLs survived; chain at height {last_height} verifies");
}

#[test]
fn killed_importer_reopens_consistent() {
    kill_loop(3, 1);
}

#[test]
#[ignore = "slow: 60 SIGKILLs of a forging process"]
fn slow_killed_importer_reopens_consistent_60_times() {
    kill_loop(60, 2);
}

const CHILD_ENV: &str = "GOODWILL_TEST_SIGNING_CHILD";

/// Not a test of its own: the child process of
/// `signing_record_survives_kill_between_record_and_sign`, which re-runs this
/// test binary with `--ignored --exact` and the data directory in
/// `GOODWILL_TEST_SIGNING_CHILD`. It records slot 42 for a key, says so, and
/// waits to be killed before it could sign. (`.ci/run` skips `child_process_`
/// in the slow profile.)
#[test]
#[ignore = "child process of signing_record_survives_kill_between_record_and_sign"]
fn child_process_records_a_slot_then_waits() {
    let dir = std::env::var(CHILD_ENV).expect(
        "run only as the child process of signing_record_survives_kill_between_record_and_sign",
    );
    let net = goodwill::testkit::TestNet::new(&Default::default());
    let store = Store::open(Path::new(&dir), &net.params).unwrap();
    let key = net.forgers[0].public();
    store.record_signature(&key, 42, &Hash([7; 32])).unwrap();
    println!("recorded");
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn signing_record_survives_kill_between_record_and_sign() {
    let dir = tempfile::tempdir().unwrap();
    // libtest names a test by its path below the crate root (here
    // `store_kill::child_process_…`): `--exact` needs that whole name.
    let (_crate, module) = module_path!().split_once("::").expect("a module");
    let name = format!("{module}::child_process_records_a_slot_then_waits");
    let mut child = common::exe_command(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            &name,
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = false;
    for line in lines {
        if line.unwrap().contains("recorded") {
            seen = true;
            break;
        }
    }
    assert!(seen, "the child never recorded the slot");
    child.kill().unwrap();
    child.wait().unwrap();
    let net = goodwill::testkit::TestNet::new(&Default::default());
    let store = Store::open(dir.path(), &net.params).unwrap();
    let key = net.forgers[0].public();
    assert_eq!(store.last_signed_slot(&key).unwrap(), Some(42));
    let e = store
        .record_signature(&key, 42, &Hash([8; 32]))
        .unwrap_err();
    assert!(
        matches!(
            e,
            SigningError::AlreadySigned {
                slot: 42,
                highest: 42,
                ..
            }
        ),
        "{e}"
    );
    store.record_signature(&key, 43, &Hash([8; 32])).unwrap();
}
