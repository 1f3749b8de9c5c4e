//! The appliance's signed self-update, as real processes: a main node, a
//! forger run as its systemd unit would (the factory binary, restarted by
//! the test when it dies, as `Restart=on-failure` does), and `goodwill
//! update` / `goodwill release` as the operator and the release maker run
//! them.
//!
//! A "new release" is this build's binary copied with one marked line
//! appended (`runtime::update::marks`, a test build's only): another
//! version, another size and hash, optionally one that crashes at start or
//! fails its health check. Each is signed with `goodwill release sign` and
//! applied with `goodwill update apply`.
//!
//! Checked: a release is taken, the forger restarts into it (same process
//! id) in a slot it does not lead, it commits after its health checks and
//! the chain goes on; one that crashes at start is rolled back after its
//! starts, one that fails its health check at once; a bad signature, a
//! wrong hash, a lower counter, an expired manifest and a truncated
//! download are refused with the state untouched; and (slow) a power cut
//! (SIGKILL) at every step of an update leaves an appliance that starts a
//! good version and forges on the same store. Never a double-sign: every
//! slot of the main node's chain holds one block, and no main node saw an
//! equivocation.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde_json::Value;

use super::forge::{
    blocks, connect, files, forge_args, procs, run, start_node_process, tip, Files, WAIT_MS,
};
use crate::common::{self, goodwill_bin, strs, wait_for, Procs};
use goodwill::runtime::client::Client;
use goodwill::runtime::client::ClientError;
use goodwill::wire::Query;

/// Every wait for the forger to change release (a restart goes through a
/// tick of the core, every 5 s, and a debug build's start).
const SWAP_MS: u64 = 45_000;

/// A main node, a forger's files and its update settings, and a release key.
struct Rig {
    f: Files,
    /// Dropped before `dir`: its children's logs are shown from there.
    procs: Procs,
    main: SocketAddr,
    status: SocketAddr,
    config: String,
    release_key: String,
    forger: Option<usize>,
    starts: usize,
    dir: tempfile::TempDir,
}

impl Rig {
    fn new(trial_s: u64) -> Rig {
        Rig::with(trial_s, false)
    }

    /// With `offered`: the main node offers the releases in `offered/`
    /// (`--releases`), and the forger asks for them every second.
    fn with(trial_s: u64, offered: bool) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let f = files(dir.path());
        let mut procs = procs(dir.path());
        let main = if offered {
            let offered = dir.path().join("offered");
            std::fs::create_dir(&offered).unwrap();
            let addr = common::free_addr();
            let mut args = common::node_args(
                dir.path().join("main").to_str().unwrap(),
                &f.genesis,
                &addr.to_string(),
            );
            args.extend(["--releases".into(), offered.to_str().unwrap().into()]);
            procs.start("node", &strs(&args));
            wait_for(WAIT_MS, "the node listens", || {
                smol::block_on(Client::connect(&addr.to_string())).ok()
            });
            addr
        } else {
            start_node_process(&mut procs, dir.path(), &f).1
        };
        let release = common::keygen(dir.path(), "release", WAIT_MS);
        let config = dir.path().join("forge.toml");
        std::fs::write(
            &config,
            format!(
                "data = {:?}\n[update]\nkeys = [\"{}\"]\nhealthy_s = 1\nblocks = 2\ntrial_s = {trial_s}\npoll_s = {}\n",
                dir.path().join("forger"),
                release.addr,
                u8::from(offered),
            ),
        )
        .unwrap();
        Rig {
            f,
            procs,
            main,
            status: common::free_addr(),
            config: config.to_str().unwrap().into(),
            release_key: release.file,
            forger: None,
            dir,
            starts: 0,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts the forger as its unit does: the factory binary, `forge`.
    fn start_forger(&mut self, env: &[(&str, &str)]) -> usize {
        let mut args = forge_args(
            &self.path("forger"),
            &self.f,
            &self.f.forger_key,
            self.main,
            self.status,
        );
        args.extend(["--config".into(), self.config.clone()]);
        self.starts += 1;
        let i = self
            .procs
            .start_with(&format!("forge-{}", self.starts), &strs(&args), env, false);
        self.forger = Some(i);
        i
    }

    /// A release of this build's binary as `version`, with `marks`, signed
    /// with `counter` (valid `days`): its manifest and binary.
    fn release(&self, version: &str, counter: u64, marks: &str, days: u64) -> (String, String) {
        let bin = self.path(&format!("goodwill-{counter}"));
        std::fs::copy(goodwill_bin(), &bin).unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(&bin).unwrap();
        use std::io::Write;
        writeln!(f, "\nGOODWILL-TEST-MARKS version={version} {marks}").unwrap();
        drop(f);
        let bin = bin.to_str().unwrap().to_string();
        sign(&self.release_key, &bin, version, counter, days, None);
        (format!("{bin}.manifest"), bin)
    }

    /// `goodwill update apply MANIFEST BINARY --json`: its exit code and
    /// answer.
    fn apply(&self, manifest: &str, binary: &str) -> (Option<i32>, Value) {
        let out = run(&[
            "update",
            "apply",
            manifest,
            binary,
            "--config",
            &self.config,
            "--json",
        ]);
        let v = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "update apply answered no JSON ({e}): {}{}",
                out.stdout, out.stderr
            )
        });
        (out.code, v)
    }

    fn update_status(&self) -> Value {
        common::run_ok(
            &["update", "status", "--config", &self.config, "--json"],
            WAIT_MS,
        )
        .json()
    }

    /// The version the running forger reports on its status port.
    fn version(&self) -> Option<String> {
        let mut c = smol::block_on(Client::connect(&self.status.to_string())).ok()?;
        smol::block_on(c.status()).ok().map(|s| s.version)
    }

    /// Waits until the forger reports `version` and forged a block on it,
    /// restarting it (as systemd would) whenever it dies.
    fn wait_runs(&mut self, version: &str, restarts: usize) -> usize {
        let mut restarted = 0;
        wait_for(
            SWAP_MS * (restarts as u64 + 1),
            &format!("the forger runs {version} and forges"),
            || {
                let i = self.forger.expect("a forger was started");
                if self.procs.wait_exit(i, 0).is_some() {
                    assert!(
                        restarted < restarts,
                        "the forger died more than {restarts} times:\n{}",
                        self.procs.logs(40)
                    );
                    restarted += 1;
                    self.start_forger(&[]);
                    return None;
                }
                let forged = appliance_at(self.status).is_some_and(|a| a.forged_total >= 1);
                (self.version().as_deref() == Some(version) && forged).then_some(())
            },
        );
        restarted
    }

    /// Waits until `update status` says what `f` wants.
    fn wait_state(&self, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        wait_for(SWAP_MS, what, || {
            let s = self.update_status();
            f(&s).then_some(s)
        })
    }

    /// The main node's chain: one block per slot, slots rising, and no
    /// equivocation seen by the main node.
    fn no_double_sign(&self) {
        let mut c = connect(self.main);
        let height = tip(&mut c).height;
        blocks(&mut c, height);
        let log = std::fs::read_to_string(self.path("node.stderr.log")).unwrap_or_default();
        assert!(
            !log.to_lowercase().contains("equivocat"),
            "the main node saw an equivocation:\n{log}"
        );
    }
}

/// `goodwill release sign` with `key` over `bin` (the manifest to `out`,
/// default BIN.manifest).
fn sign(key: &str, bin: &str, version: &str, counter: u64, days: u64, out: Option<&str>) {
    let (counter, days) = (counter.to_string(), days.to_string());
    let mut args = vec![
        "release",
        "sign",
        "--key",
        key,
        "--binary",
        bin,
        "--version",
        version,
        "--counter",
        &counter,
        "--expires-days",
        &days,
    ];
    if let Some(out) = out {
        args.extend(["--out", out]);
    }
    let out = common::run_ok(&args, WAIT_MS);
    assert!(out.stdout.contains("signed goodwill"), "{}", out.stdout);
}

/// The appliance's figures from its status port; None while it cannot
/// answer — not yet listening, or stopping to restart into a release (its
/// sessions are then closed with "shutting down"), which these tests cause
/// on purpose.
fn appliance_at(addr: SocketAddr) -> Option<goodwill::wire::ApplianceStatus> {
    let mut c = smol::block_on(Client::connect(&addr.to_string())).ok()?;
    match smol::block_on(c.query(Query::Appliance)) {
        Ok(goodwill::wire::Answer::Appliance(a)) => Some(*a),
        _ => None,
    }
}

const NEXT: &str = "0.1.1-next";

#[test]
fn a_forger_takes_a_signed_release_commits_it_and_rolls_back_one_that_crashes_or_fails() {
    let t0 = common::now_ms();
    let took = |what: &str| println!("{what}: {} ms", common::now_ms() - t0);
    let mut r = Rig::new(60);
    let pid = {
        let i = r.start_forger(&[]);
        r.procs.pid(i)
    };
    r.wait_runs(env!("CARGO_PKG_VERSION"), 0);
    took("the factory binary forges");

    // A good release: taken, the forger restarts into it on the same
    // process id, it commits and the chain goes on.
    let (m, b) = r.release(NEXT, 1, "", 30);
    let (code, v) = r.apply(&m, &b);
    assert_eq!((code, &v["state"]), (Some(0), &Value::from("trial")), "{v}");
    r.wait_runs(NEXT, 0);
    took("release 1 runs");
    assert_eq!(r.procs.pid(r.forger.unwrap()), pid, "the same process");
    let s = r.wait_state("release 1 commits", |s| {
        s["current"]["counter"] == 1 && s["trial"].is_null()
    });
    assert_eq!(s["previous"], Value::Null, "{s}");
    took("release 1 commits");
    // The main node's forger table shows the version each forger runs
    // (from its reports, every ten slots), and so does `goodwill forgers`.
    wait_for(SWAP_MS, "the forger table shows the new version", || {
        let out = common::run_ok(&["forgers", "--node", &r.main.to_string()], WAIT_MS);
        out.stdout.contains(NEXT).then_some(())
    });
    let committed_at = appliance_at(r.status).unwrap().tip.height;
    wait_for(WAIT_MS, "the chain goes on after the commit", || {
        (appliance_at(r.status)?.tip.height >= committed_at + 3).then_some(())
    });

    // A release that crashes at start: started, counted, and after its
    // three starts the factory binary rolls it back to release 1.
    let (m, b) = r.release("0.1.2-crash", 2, "crash-at-start", 30);
    assert_eq!(r.apply(&m, &b).0, Some(0));
    let i = r.forger.unwrap();
    let died = r.procs.wait_exit(i, SWAP_MS);
    assert!(
        died.is_some_and(|s| !s.success()),
        "the crashing release died: {died:?}"
    );
    let restarts = r.wait_runs(NEXT, 4);
    took("the crashing release 2 is rolled back");
    assert!(restarts >= 3, "restarted {restarts} times");
    let s = r.update_status();
    assert_eq!(
        (&s["current"]["counter"], &s["bad"], &s["rolled_back"]),
        (&Value::from(1), &serde_json::json!([2]), &Value::from(2)),
        "{s}"
    );

    // A release that fails its health check: rolled back at once, by the
    // release itself.
    let (m, b) = r.release("0.1.3-sick", 3, "unhealthy", 30);
    assert_eq!(r.apply(&m, &b).0, Some(0));
    r.wait_state("release 3 is rolled back", |s| {
        s["bad"] == serde_json::json!([2, 3])
    });
    r.wait_runs(NEXT, 0);
    took("the sick release 3 is rolled back");
    let s = r.update_status();
    assert_eq!(s["current"]["counter"], 1, "{s}");
    // The red LED's heartbeat says a release was rolled back.
    wait_for(WAIT_MS, "the LEDs show the rollback", || {
        appliance_at(r.status).filter(|a| a.leds.contains("red:heartbeat(rolled back)"))
    });
    // Neither comes back: a release marked bad is refused by name.
    let (code, v) = r.apply(&m, &b);
    assert_eq!(code, Some(1));
    common::says(&v["refused"].as_str().unwrap(), &["marked bad"]);
    r.no_double_sign();
}

#[test]
fn bad_releases_are_refused_by_name_and_change_nothing() {
    let r = Rig::new(60);
    let before = r.update_status();
    let (m, b) = r.release(NEXT, 5, "", 30);
    let refused = |m: &str, b: &str, needles: &[&str]| {
        let (code, v) = r.apply(m, b);
        assert_eq!(code, Some(1), "{v}");
        common::says(&v["refused"].as_str().unwrap_or_default(), needles);
        assert_eq!(r.update_status(), before, "nothing changed");
        let releases = std::fs::read_dir(r.path("forger/update/releases"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(releases, 0, "no release directory left behind");
    };
    // A bad signature: the manifest changed after signing.
    let text = std::fs::read_to_string(&m).unwrap();
    let forged = r.path("forged.manifest");
    std::fs::write(&forged, text.replace("counter = 5", "counter = 6")).unwrap();
    refused(forged.to_str().unwrap(), &b, &["signature does not verify"]);
    // Signed by a key this appliance does not trust.
    let other = common::keygen(r.dir.path(), "other", WAIT_MS);
    let untrusted = r.path("untrusted.manifest");
    sign(
        &other.file,
        &b,
        NEXT,
        5,
        30,
        Some(untrusted.to_str().unwrap()),
    );
    refused(
        untrusted.to_str().unwrap(),
        &b,
        &["not one of this appliance's release keys"],
    );
    // A wrong hash: another binary of the same size.
    let other_bin = r.path("other-bin");
    let mut bytes = std::fs::read(&b).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 1;
    std::fs::write(&other_bin, &bytes).unwrap();
    refused(&m, other_bin.to_str().unwrap(), &["SHA-256"]);
    // A truncated download.
    let half = r.path("half-bin");
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    refused(&m, half.to_str().unwrap(), &["truncated"]);
    // An expired manifest.
    let (old_m, old_b) = r.release(NEXT, 7, "", 0);
    refused(&old_m, &old_b, &["expired"]);
    // A lower counter than the running release's.
    let (m8, b8) = r.release(NEXT, 8, "", 30);
    assert_eq!(r.apply(&m8, &b8).0, Some(0));
    let (m4, b4) = r.release("0.1.0-old", 4, "", 30);
    let (code, v) = r.apply(&m4, &b4);
    assert_eq!(code, Some(1), "{v}");
    common::says(&v["refused"].as_str().unwrap(), &["not above"]);
    // A binary whose own selfcheck names another version than its
    // manifest (after release 8 is given up: one on trial takes no other).
    let liar = r.path("liar");
    std::fs::copy(goodwill_bin(), &liar).unwrap();
    let out = run(&["update", "rollback", "--config", &r.config, "--json"]);
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    sign(
        &r.release_key,
        liar.to_str().unwrap(),
        "0.2.0",
        10,
        30,
        None,
    );
    let (code, v) = r.apply(
        &format!("{}.manifest", liar.display()),
        liar.to_str().unwrap(),
    );
    assert_eq!(code, Some(1), "{v}");
    common::says(&v["refused"].as_str().unwrap(), &["selfcheck", "version"]);
    // A package installed by hand runs again: `update reset` (its
    // postinst's) leaves no release running, and forgets no bad counter.
    let (m11, b11) = r.release(NEXT, 11, "", 30);
    assert_eq!(r.apply(&m11, &b11).0, Some(0));
    common::run_ok(&["update", "reset", "--config", &r.config], WAIT_MS);
    let s = r.update_status();
    assert_eq!(
        (&s["current"], &s["trial"], &s["bad"]),
        (&Value::Null, &Value::Null, &serde_json::json!([8])),
        "{s}"
    );
}

#[test]
fn a_forger_fetches_a_release_its_main_node_offers_and_a_stranger_cannot() {
    let mut r = Rig::with(60, true);
    r.start_forger(&[]);
    r.wait_runs(env!("CARGO_PKG_VERSION"), 0);
    // A stranger's session (any key) is not given the releases.
    let mut c = connect(r.main);
    let target =
        goodwill::chain::codec::Bytes::new(goodwill::runtime::update::THIS_TARGET.as_bytes())
            .unwrap();
    let answer = smol::block_on(c.query(Query::Release { target }));
    assert!(
        matches!(&answer, Err(ClientError::Node(e)) if e.contains("live forgers")),
        "{answer:?}"
    );
    // A release signed by a key the forger does not trust is offered:
    // refused by name in the forger's log, and it runs on.
    let offered = r.path("offered");
    let other = common::keygen(r.dir.path(), "other", WAIT_MS);
    let (_, b) = r.release("0.9.9-rogue", 9, "", 30);
    std::fs::copy(&b, offered.join("rogue")).unwrap();
    sign(
        &other.file,
        offered.join("rogue").to_str().unwrap(),
        "0.9.9-rogue",
        9,
        30,
        None,
    );
    let i = r.forger.unwrap();
    r.procs.wait_line(i, SWAP_MS, |l| {
        l.contains("not one of this appliance's release keys")
            .then_some(())
    });
    std::fs::remove_file(offered.join("rogue.manifest")).unwrap();
    // A good one: fetched, checked, taken on trial, run, committed.
    let (m, b) = r.release(NEXT, 10, "", 30);
    std::fs::copy(&b, offered.join("goodwill-next")).unwrap();
    std::fs::copy(&m, offered.join("goodwill-next.manifest")).unwrap();
    r.wait_runs(NEXT, 0);
    r.wait_state("the fetched release commits", |s| {
        s["current"]["counter"] == 10 && s["trial"].is_null()
    });
    r.no_double_sign();
}

#[test]
fn a_damaged_releases_state_never_keeps_the_board_from_forging() {
    let mut r = Rig::new(60);
    let dir = r.path("forger/update");
    std::fs::create_dir_all(dir.join("releases")).unwrap();
    std::fs::write(dir.join("state"), "current = [[[ not toml").unwrap();
    // The operator is told which file, and how to start again.
    let out = run(&["update", "status", "--config", &r.config]);
    assert_eq!(out.code, Some(2), "{}", out.stdout);
    common::says(
        &out.stderr,
        &["state", "not a releases state file", "move it away"],
    );
    // The board forges on the factory binary, and says why.
    let i = r.start_forger(&[]);
    r.wait_runs(env!("CARGO_PKG_VERSION"), 0);
    r.procs.wait_line(i, WAIT_MS, |l| {
        l.contains("the factory binary runs, and releases are neither watched nor fetched")
            .then_some(())
    });
}

/// The update's steps, each one a point where the power may go.
const STEPS: [&str; 5] = ["written", "renamed", "checked", "state", "swapped"];

#[test]
#[ignore = "slow: five updates, each cut by SIGKILL at one step, then the forger started and forging each time"]
fn slow_a_power_cut_at_every_step_of_an_update_leaves_a_good_version_and_the_store_intact() {
    let mut r = Rig::new(60);
    r.start_forger(&[]);
    r.wait_runs(env!("CARGO_PKG_VERSION"), 0);
    let mut running = env!("CARGO_PKG_VERSION").to_string();
    for (n, step) in STEPS.iter().enumerate() {
        let counter = 20 + n as u64;
        let version = format!("0.2.{n}-{step}");
        let (m, b) = r.release(&version, counter, "", 30);
        // The forger goes down with the power too: stopped first, as a
        // power cut stops both.
        let i = r.forger.unwrap();
        r.procs.kill(i);
        let p = r.procs.start_with(
            &format!("apply-{step}"),
            &["update", "apply", &m, &b, "--config", &r.config],
            &[("GOODWILL_TEST_UPDATE_STALL", step)],
            false,
        );
        r.procs
            .wait_line(p, WAIT_MS, |l| l.contains("stalled at step").then_some(()));
        r.procs.kill(p);
        // The state reads, and names either the release that ran or the
        // new one on trial: nothing in between.
        let s = r.update_status();
        let taken = s["current"]["counter"] == counter;
        let expect_taken = STEPS.iter().position(|x| x == step).unwrap() >= 3;
        assert_eq!(taken, expect_taken, "after a cut at {step}: {s}");
        if taken {
            assert!(!s["trial"].is_null(), "on trial: {s}");
            running = version.clone();
        }
        r.start_forger(&[]);
        r.wait_runs(&running, 0);
        if taken {
            r.wait_state(&format!("{version} commits"), |s| {
                s["current"]["counter"] == counter && s["trial"].is_null()
            });
        }
        // What an interrupted update left is cleared by the next one.
        let leftovers = std::fs::read_dir(r.path("forger/update/releases"))
            .unwrap()
            .count();
        assert!(leftovers <= 3, "{leftovers} release directories");
    }
    // The store is intact: the forger forges on it, the chain goes on.
    let h = appliance_at(r.status).unwrap().tip.height;
    wait_for(WAIT_MS, "the chain goes on", || {
        (appliance_at(r.status)?.tip.height >= h + 3).then_some(())
    });
    r.no_double_sign();
}
