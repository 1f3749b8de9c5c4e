//! What the delivery tests (tests/delivery/), the metrics test
//! (tests/net/http.rs) and the OpenAPI test (tests/net/openapi.rs) need from this machine, found
//! once at build time, so that a test that cannot run here is reported by
//! the test runner as *ignored*, with the reason, instead of passing
//! without having checked anything:
//!
//! - `has_TOOL` when TOOL is a file in a directory of PATH
//!   (`has_systemd_analyze` for `systemd-analyze`, …);
//! - `is_root` when the build runs as root (`goodwill provision` chowns
//!   what it installs);
//! - `goodwill_emulated` when GOODWILL_TEST_RUNNER names an emulator the
//!   tests run under (.ci/arm), where the host's Debian package cannot be
//!   built from the test build's ARM binary.
//!
//! Under CI (the variable CI set, and neither empty nor `false`) every
//! `has_TOOL` and `is_root` is set whatever this machine has: a tool CI
//! lacks makes its test fail, never quietly skip. Only tests read these
//! settings; the one thing the crate itself takes from here is
//! `GOODWILL_TARGET`, the target triple it is built for (a release
//! manifest names it: `runtime::update`).

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

/// The tools, and the cfg each sets.
const TOOLS: [(&str, &str); 7] = [
    ("systemd-analyze", "has_systemd_analyze"),
    ("systemd-sysusers", "has_systemd_sysusers"),
    ("shellcheck", "has_shellcheck"),
    ("dpkg-deb", "has_dpkg_deb"),
    ("cargo-deb", "has_cargo_deb"),
    ("promtool", "has_promtool"),
    ("schemathesis", "has_schemathesis"),
];

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()))
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=GOODWILL_TEST_RUNNER");
    if let Ok(target) = std::env::var("TARGET") {
        println!("cargo::rustc-env=GOODWILL_TARGET={target}");
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    for (tool, cfg) in TOOLS {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if ci || on_path(tool) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
    println!("cargo::rustc-check-cfg=cfg(is_root)");
    let root = std::fs::metadata(Path::new("/proc/self")).is_ok_and(|m| m.uid() == 0);
    if ci || root {
        println!("cargo::rustc-cfg=is_root");
    }
    println!("cargo::rustc-check-cfg=cfg(goodwill_emulated)");
    if std::env::var("GOODWILL_TEST_RUNNER").is_ok_and(|v| !v.trim().is_empty()) {
        println!("cargo::rustc-cfg=goodwill_emulated");
    }
}
