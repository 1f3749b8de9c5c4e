//! `examples/records.rs` against a real chain: `goodwill node` and
//! `goodwill forge` as processes on loopback (300 ms slots, a genesis that
//! funds the example's key), then the example binary itself: it stores a
//! record, waits for its block, reads it back with the proof checked, and
//! answers "did this key pay that address" before and after a payment.
//!
//! `cargo test --test delivery example::` does not build examples, so the test runs
//! `cargo build --bin goodwill --example records` itself (a no-op when
//! `cargo test` has just built them). Every wait is bounded; children are killed on any exit.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{free_addr, now_ms, run_within, strs, within, Out, Procs};
use futures_lite::StreamExt;
use goodwill::runtime::client::Client;

const SLOT_MS: u64 = 300;
const FINALITY: u64 = 2;
/// How long the chain may take to do any one thing.
const WAIT_MS: u64 = 30_000;
/// How long building the example may take (another cargo may hold the lock).
const BUILD_MS: u64 = 600_000;
const POLL: Duration = Duration::from_millis(50);

/// The example's binary, built for the profile this test was built with.
/// The target and the target directory come from the environment, as for
/// the `cargo test` that runs this: a cross-built suite is run with
/// `CARGO_BUILD_TARGET` and `CARGO_TARGET_DIR` set, not `--target` and
/// `--target-dir` (docs/arm.md).
fn example() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_goodwill"))
        .parent()
        .expect("the binary's directory");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // With the binary too: if the sources changed since this test was
    // built, the node and the example still speak the same protocol.
    cmd.args([
        "build",
        "--bin",
        "goodwill",
        "--example",
        "records",
        "--quiet",
    ])
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(profile) => {
            cmd.args(["--profile", profile]);
        }
        None => panic!("no profile directory in {}", dir.display()),
    }
    let out = run_within(cmd, BUILD_MS);
    assert!(out.status.success(), "building the example: {}", out.stderr);
    let exe = dir.join("examples").join("records");
    assert!(exe.exists(), "{} was not built", exe.display());
    exe
}

/// Runs the example with `args`: its status, stdout and stderr.
fn records(exe: &Path, args: &[&str]) -> Out {
    let mut cmd = common::exe_command(exe);
    cmd.args(args);
    run_within(cmd, 2 * WAIT_MS + 10_000)
}

/// Asks `f` on a fresh client every 50 ms until it gives `Some`, for at
/// most `WAIT_MS` in all (each try at most 5 s).
fn poll<T>(addr: SocketAddr, what: &str, f: impl AsyncFn(&mut Client) -> Option<T>) -> T {
    let deadline = now_ms() + WAIT_MS;
    loop {
        let got = smol::block_on(futures_lite::future::or(
            async {
                let mut c = Client::connect(&addr.to_string()).await.ok()?;
                f(&mut c).await
            },
            async {
                smol::Timer::after(Duration::from_millis(5_000)).await;
                None
            },
        ));
        if let Some(v) = got {
            return v;
        }
        assert!(now_ms() < deadline, "{what}: not after {WAIT_MS} ms");
        std::thread::sleep(POLL);
    }
}

#[test]
fn the_records_example_stores_and_reads_back_a_verified_record() {
    let exe = example();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let p = |n: &str| dir.join(n).to_str().expect("utf-8").to_string();

    // A usage error says what is missing and exits 2.
    let Out {
        status: st,
        stderr: err,
        ..
    } = records(&exe, &[]);
    assert_eq!(st.code(), Some(2), "{err}");
    assert!(err.contains("--node is required"), "{err}");
    assert!(err.contains("usage: records --node"), "{err}");

    // A chain whose forger is ours and whose genesis funds the user.
    let forger = common::keygen(dir, "forger", WAIT_MS);
    let user = common::keygen(dir, "user", WAIT_MS);
    let payee = common::keygen(dir, "payee", WAIT_MS);
    let user_key = user.file.clone();
    let (user, payee) = (user.addr.as_str(), payee.addr.as_str());
    let genesis = p("genesis.toml");
    common::NewGenesis {
        out: &genesis,
        chain_name: Some("example-test"),
        forgers: vec![&forger.addr],
        funds: vec![format!("{user}=1000")],
        slot_ms: SLOT_MS,
        epoch_slots: 10,
        finality_depth: Some(FINALITY),
    }
    .write(WAIT_MS);

    let main = free_addr();
    let mut children = Procs::new(dir, POLL);
    let node_args = common::node_args(&p("node-data"), &genesis, &main.to_string());
    children.start("node", &strs(&node_args));
    poll(main, "the node answers", async |_| Some(()));
    let forge_args = common::forge_args(
        &p("forge-data"),
        &genesis,
        &forger.file,
        &main.to_string(),
        &free_addr().to_string(),
    );
    children.start("forge", &strs(&forge_args));
    poll(main, "the forger forges", async |c| {
        (c.tip().await.ok()?.height >= 1).then_some(())
    });

    // The example: the record round-trips, its proof verified on the client;
    // the user has paid nobody yet.
    let node = main.to_string();
    let run = |args: &[&str]| {
        let Out {
            status: st,
            stdout: out,
            stderr: err,
            ..
        } = records(&exe, args);
        assert!(
            st.success(),
            "records {args:?}: {st}\n{out}\n{err}\n{}",
            children.logs(20)
        );
        out
    };
    let out = run(&[
        "--node",
        &node,
        "--key",
        &user_key,
        "--name",
        "note",
        "--value",
        "round trip 42",
        "--paid-to",
        payee,
    ]);
    let line = |key: &str| -> String {
        out.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key:?} line in:\n{out}"))
            .trim()
            .to_string()
    };
    assert!(line("chain:").starts_with("example-test ("), "{out}");
    assert_eq!(line("address:"), user);
    assert_eq!(line("balance:"), "1000 GWL");
    assert_eq!(line("value:"), "round trip 42");
    assert_eq!(line("verified:"), "true");
    let height: u64 = line("height:").parse().expect("a height");
    assert_eq!(line("in block:"), height.to_string());
    assert!(height >= 1);
    assert!(line("paid:").starts_with("no "), "{out}");

    // The same record read from the library agrees with what was printed.
    let user_pk = goodwill::chain::address::parse(user).expect("an address");
    let rec = poll(main, "get_data", async |c| {
        c.get_data(user_pk, b"note").await.ok()?
    });
    assert!(rec.verified && rec.problem.is_none(), "{rec:?}");
    assert_eq!(
        (rec.value.as_slice(), rec.height),
        (&b"round trip 42"[..], height)
    );

    // Once the user has paid the payee and the payment is final, the
    // example says so (and a second write under the same name wins).
    let key = goodwill::runtime::keyfile::read(Path::new(&user_key)).expect("the user's key");
    let payee_pk = goodwill::chain::address::parse(payee).expect("an address");
    let (paid_id, paid_at) = within(2 * WAIT_MS, "the payment", async {
        let mut c = Client::connect(&node).await?;
        let id = c.transfer(&key, payee_pk, 5_000, None, b"").await?;
        let proof = c.wait_for_tx(id, WAIT_MS).await?;
        Ok::<_, goodwill::runtime::client::ClientError>((id, proof.header.header.height))
    })
    .expect("the payment lands");
    // The payee's watch stream (from height 1) shows it.
    let event = within(WAIT_MS, "the payee's watch", async {
        let mut events = std::pin::pin!(goodwill::runtime::client::watch(&node, payee_pk, Some(1)));
        events.next().await
    })
    .expect("the stream goes on")
    .expect("an event");
    assert_eq!((event.tx.id(), event.height), (paid_id, paid_at));
    poll(main, "the payment is final", async |c| {
        (c.tip().await.ok()?.height >= paid_at + FINALITY).then_some(())
    });
    let out = run(&[
        "--node",
        &node,
        "--key",
        &user_key,
        "--name",
        "note",
        "--value",
        "second",
        "--paid-to",
        payee,
    ]);
    assert!(out.contains("value:    second\n"), "{out}");
    assert!(out.contains("verified: true\n"), "{out}");
    assert!(
        out.contains(&format!("paid:     yes, {payee} in transaction ")),
        "{out}"
    );
    assert!(out.contains(&format!(" at height {paid_at}\n")), "{out}");
    drop(children);
}
