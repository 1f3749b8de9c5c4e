//! `examples/records.rs` against a real chain: `goodwill node` and
//! `goodwill forge` as processes on loopback (300 ms slots, a genesis that
//! funds the example's key), then the example binary itself: it stores a
//! record, waits for its block, reads it back with the proof checked, and
//! answers "did this key pay that address" before and after a payment.
//!
//! `cargo test --test example` does not build examples, so the test runs
//! `cargo build --bin goodwill --example records` itself (a no-op when
//! `cargo test` has just built them). Every wait is bounded; children are killed on any exit.

use std::io::Read as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use futures_lite::StreamExt;
use goodwill::client::Client;

const SLOT_MS: u64 = 300;
const FINALITY: u64 = 2;
/// How long the chain may take to do any one thing.
const WAIT_MS: u64 = 30_000;
/// How long building the example may take (another cargo may hold the lock).
const BUILD_MS: u64 = 600_000;
const POLL: Duration = Duration::from_millis(50);

fn now_ms() -> u64 {
    goodwill::os::now_ms()
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// Runs `cmd` to completion within `ms` (killing it after), with its output.
fn run_within(mut cmd: Command, ms: u64) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    // Drain both pipes on threads so a chatty child never blocks on them.
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        let mut r = r.expect("piped");
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(child.stdout.take().map(|s| Box::new(s) as _));
    let err = drain(child.stderr.take().map(|s| Box::new(s) as _));
    let deadline = now_ms() + ms;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if now_ms() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish in {ms} ms");
        }
        std::thread::sleep(POLL);
    };
    Output {
        status,
        stdout: out.join().expect("stdout"),
        stderr: err.join().expect("stderr"),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `goodwill args…`, which must succeed: its stdout.
fn goodwill(args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_goodwill"));
    cmd.args(args);
    let out = run_within(cmd, WAIT_MS);
    assert!(
        out.status.success(),
        "goodwill {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The example's binary, built for the profile this test was built with.
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
    assert!(
        out.status.success(),
        "building the example: {}",
        text(&out.stderr)
    );
    let exe = dir.join("examples").join("records");
    assert!(exe.exists(), "{} was not built", exe.display());
    exe
}

/// Runs the example with `args`: its status and stdout (stderr on failure).
fn records(exe: &Path, args: &[&str]) -> (ExitStatus, String, String) {
    let mut cmd = Command::new(exe);
    cmd.args(args);
    let out = run_within(cmd, 2 * WAIT_MS + 10_000);
    (out.status, text(&out.stdout), text(&out.stderr))
}

/// The node and the forger: killed when the test ends, however it ends.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn(dir: &Path, name: &str, args: &[&str]) -> Child {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("a log file");
    Command::new(env!("CARGO_BIN_EXE_goodwill"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("start goodwill {name}: {e}"))
}

fn logs(dir: &Path) -> String {
    ["node", "forge"]
        .iter()
        .map(|n| {
            let log = std::fs::read_to_string(dir.join(format!("{n}.log"))).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(20)..].join("\n");
            format!("--- {n} ---\n{tail}\n")
        })
        .collect()
}

/// Runs `f` to completion, or panics after `ms` milliseconds.
fn within<T>(ms: u64, what: &str, f: impl std::future::Future<Output = T>) -> T {
    smol::block_on(futures_lite::future::or(async { Some(f.await) }, async {
        smol::Timer::after(Duration::from_millis(ms)).await;
        None
    }))
    .unwrap_or_else(|| panic!("{what}: no answer in {ms} ms"))
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
    let (st, _, err) = records(&exe, &[]);
    assert_eq!(st.code(), Some(2), "{err}");
    assert!(err.contains("--node is required"), "{err}");
    assert!(err.contains("usage: records --node"), "{err}");

    // A chain whose forger is ours and whose genesis funds the user.
    let (forger_key, user_key) = (p("forger.key"), p("user.key"));
    let forger = goodwill(&["keygen", "--out", &forger_key]);
    let user = goodwill(&["keygen", "--out", &user_key]);
    let payee = goodwill(&["keygen", "--out", &p("payee.key")]);
    let (forger, user, payee) = (forger.trim(), user.trim(), payee.trim());
    let genesis = p("genesis.toml");
    goodwill(&[
        "genesis",
        "new",
        "--out",
        &genesis,
        "--chain-name",
        "example-test",
        "--forger",
        forger,
        "--fund",
        &format!("{user}=1000"),
        "--slot-ms",
        &SLOT_MS.to_string(),
        "--epoch-slots",
        "10",
        "--finality-depth",
        &FINALITY.to_string(),
        "--start-ms",
        &now_ms().to_string(),
    ]);

    let main = free_addr();
    let mut children = Children(Vec::new());
    children.0.push(spawn(
        dir,
        "node",
        &[
            "node",
            "--data",
            &p("node-data"),
            "--genesis",
            &genesis,
            "--listen",
            &main.to_string(),
        ],
    ));
    poll(main, "the node answers", async |_| Some(()));
    children.0.push(spawn(
        dir,
        "forge",
        &[
            "forge",
            "--data",
            &p("forge-data"),
            "--genesis",
            &genesis,
            "--key",
            &forger_key,
            "--main",
            &main.to_string(),
            "--status-listen",
            &free_addr().to_string(),
            "--clock-check",
            "peers",
            "--board",
            "none",
        ],
    ));
    poll(main, "the forger forges", async |c| {
        (c.tip().await.ok()?.height >= 1).then_some(())
    });

    // The example: the record round-trips, its proof verified on the client;
    // the user has paid nobody yet.
    let node = main.to_string();
    let run = |args: &[&str]| {
        let (st, out, err) = records(&exe, args);
        assert!(
            st.success(),
            "records {args:?}: {st}\n{out}\n{err}\n{}",
            logs(dir)
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
    let user_pk = goodwill::address::parse(user).expect("an address");
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
    let key = goodwill::keyfile::read(Path::new(&user_key)).expect("the user's key");
    let payee_pk = goodwill::address::parse(payee).expect("an address");
    let (paid_id, paid_at) = within(2 * WAIT_MS, "the payment", async {
        let mut c = Client::connect(&node).await?;
        let id = c.transfer(&key, payee_pk, 5_000, None, b"").await?;
        let proof = c.wait_for_tx(id, WAIT_MS).await?;
        Ok::<_, goodwill::client::ClientError>((id, proof.header.header.height))
    })
    .expect("the payment lands");
    // The payee's watch stream (from height 1) shows it.
    let event = within(WAIT_MS, "the payee's watch", async {
        let mut events = std::pin::pin!(goodwill::client::watch(&node, payee_pk, Some(1)));
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
