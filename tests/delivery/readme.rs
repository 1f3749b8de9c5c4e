//! The documentation's examples run: every ```sh block of README.md,
//! docs/operate.md and docs/cli.md is executed by bash, with `goodwill` on
//! the PATH, in a fresh directory that holds a link to `contracts/` (as a
//! clone's root does), and must succeed. The README's two commands are the
//! ones CI runs.

use crate::common;

use std::process::Command;

/// The ```sh blocks of a Markdown text.
fn sh_blocks(doc: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

fn run_examples(name: &str, doc: &str) {
    let blocks = sh_blocks(doc);
    assert!(!blocks.is_empty(), "{name} has no ```sh example");
    let scratch = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        common::goodwill_path_dir(scratch.path()).display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for block in blocks {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(
            concat!(env!("CARGO_MANIFEST_DIR"), "/contracts"),
            dir.path().join("contracts"),
        )
        .unwrap();
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &block])
            .current_dir(dir.path())
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name} example failed:\n{block}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn readme_examples_run() {
    run_examples("README.md", include_str!("../../README.md"));
}

#[test]
fn operate_examples_run() {
    run_examples("docs/operate.md", include_str!("../../docs/operate.md"));
}

#[test]
fn cli_examples_run() {
    run_examples("docs/cli.md", include_str!("../../docs/cli.md"));
}

#[test]
fn the_readme_gives_the_devnet_first_and_the_test_command_ci_runs() {
    let readme = include_str!("../../README.md");
    let commands: Vec<&str> = readme
        .split("```text\n")
        .skip(1)
        .take(2)
        .map(|b| b.split("\n```").next().unwrap().trim())
        .collect();
    assert_eq!(commands, ["cargo run --release -- devnet", "cargo test"]);
    let ci = include_str!("../../.ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == "step test cargo test"),
        ".ci/run must run the README's test command"
    );
}
