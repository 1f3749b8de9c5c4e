//! `goodwill contract check`: the real binary on the example contracts and
//! on modules the chain refuses.

use std::path::PathBuf;
use std::process::{Output, Stdio};

use super::common;

fn contracts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contracts")
}

fn check(args: &[&str]) -> Output {
    common::goodwill_command()
        .args(["contract", "check"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_accepts_the_paywall_and_prints_the_fuel_its_runs_use() {
    let wasm = contracts().join("paywall.wasm");
    let out = check(&[
        "--wasm",
        wasm.to_str().unwrap(),
        "--init",
        "f401000000000000",
        "--input",
        "01",
        "--value",
        "600",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["accepted"], true);
    assert_eq!(v["deploy"]["status"], "ok");
    assert_eq!(v["deploy"]["fuel_used"], 9009);
    assert_eq!(v["call"]["status"], "ok");
    assert_eq!(v["call"]["fuel_used"], 6752);
    assert_eq!(v["call"]["events"].as_array().unwrap().len(), 1);

    // A payment under the price traps: shown, and still an accepted module.
    let out = check(&[
        "--wasm",
        wasm.to_str().unwrap(),
        "--init",
        "f401000000000000",
        "--input",
        "01",
        "--value",
        "499",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("call       trapped: unreachable"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn check_refuses_what_the_chain_would_with_the_reason_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>, &[&str]); 3] = [
        (
            "start.wasm",
            wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "call")) (func $s) (start $s))"#)
                .unwrap(),
            &["start-function", "start function"],
        ),
        ("text.wasm", b"(module)".to_vec(), &["(invalid)", "not valid"]),
        ("big.wasm", vec![0; 64 * 1024 + 1], &["at most 65536 bytes"]),
    ];
    for (name, bytes, needles) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = check(&["--wasm", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = text(&out.stderr);
        for n in needles {
            assert!(err.contains(n), "{name}: {err}");
        }
        assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
    }
    let out = check(&["--wasm", "/nonexistent/x.wasm"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/x.wasm"));
    let out = check(&[
        "--wasm",
        contracts().join("counter.wasm").to_str().unwrap(),
        "--input",
        "zz",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--input \"zz\" is not hex"));
}
