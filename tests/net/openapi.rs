//! The OpenAPI 3.1 document a main node serves at `/api/v1/openapi.json`
//! (issue 17), held against the live node: schemathesis (PyPI) generates
//! requests from the document — valid ones and invalid ones — and checks
//! every answer: no 5xx, a status, content type, headers and body the
//! document allows. `.ci/run` installs it in a venv and puts it on PATH;
//! where it is missing the test is ignored, saying so (build.rs), and under
//! CI it runs.

use std::process::Command;
use std::time::Duration;

use crate::http::{chain, node, traffic};

/// The document is JSON, OpenAPI 3.1, and the node serves it byte for byte.
#[test]
fn the_node_serves_its_openapi_document() {
    let doc: serde_json::Value =
        serde_json::from_str(goodwill::runtime::http::api::OPENAPI).expect("openapi.json is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let dir = tempfile::tempdir().unwrap();
    let (net, blocks) = chain(2);
    let (_procs, addr) = node(dir.path(), &net, &blocks);
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    use std::io::{Read, Write};
    s.write_all(b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert_eq!(body, goodwill::runtime::http::api::OPENAPI);
}

#[test]
#[cfg_attr(
    goodwill_emulated,
    ignore = "under GOODWILL_TEST_RUNNER: the document and its handlers are the same on every target; the host suite runs schemathesis"
)]
#[cfg_attr(
    all(not(goodwill_emulated), not(has_schemathesis)),
    ignore = "needs schemathesis (PyPI) on PATH; .ci/run installs it in a venv"
)]
fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let dir = tempfile::tempdir().unwrap();
    // Transfers, records, donations and a proposal: the associations and
    // the pages have entries to check against their schemas.
    let t = traffic(4);
    let (_procs, addr) = node(dir.path(), &t.net, &t.blocks);
    schemathesis(
        dir.path(),
        "schemathesis.toml",
        "schemathesis_hooks",
        &[
            &format!("http://{addr}/api/v1/openapi.json"),
            "--max-examples",
            "25",
            "--seed",
            "17",
            // The event stream never ends: schemathesis would wait for its
            // body for ever. tests/net/sse.rs tests it, its problems too.
            "--exclude-path",
            "/api/v1/events",
        ],
        // Valid addresses for `format: goodwill-address` (their checksum
        // is beyond a pattern): the hooks.
        &[],
    );
}

/// Runs schemathesis with `tests/net/{config}`, the hooks module `hooks`
/// (from tests/net), `args` after `run` and the variables `env`, in `dir`
/// (its cache, of crashes it replays next time, stays out of the
/// repository and out of the next run); fails the test on any failure.
pub(crate) fn schemathesis(
    dir: &std::path::Path,
    config: &str,
    hooks: &str,
    args: &[&str],
    env: &[(&str, &str)],
) {
    let net = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/net");
    let out = Command::new("schemathesis")
        .arg("--config-file")
        .arg(format!("{net}/{config}"))
        .arg("run")
        .args(args)
        .args([
            "--workers",
            "1",
            "--no-color",
            // One connection per request, closed by the node after its
            // answer: the Python client leaves its kept-alive sockets open
            // until collected, and more than 16 at once from one address
            // would be refused with a 503 (docs/http.md, "Bounds").
            "--header",
            "Connection: close",
        ])
        .current_dir(dir)
        .env("SCHEMATHESIS_HOOKS", hooks)
        .env("PYTHONPATH", net)
        .envs(env.iter().copied())
        .output()
        .expect("schemathesis runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The committed document is what `scripts/openapi.py` writes: edit the
/// script, then `python3 scripts/openapi.py > src/runtime/http/openapi.json`.
#[test]
fn the_document_is_the_generators_output() {
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/openapi.py"))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout) == goodwill::runtime::http::api::OPENAPI,
        "src/runtime/http/openapi.json is not scripts/openapi.py's output: run python3 scripts/openapi.py > src/runtime/http/openapi.json"
    );
}
