//! Release manifests through the real binary (issue 22, its first part):
//! `goodwill release sign` over a binary, and `goodwill update check`
//! taking it (exit 0) or refusing it by name (exit 1): another key, a
//! changed manifest, a truncated or other binary, an expired manifest, a
//! counter not above the running one, another target. A manifest is never
//! written over an existing file.

use crate::common::{run, run_ok};

const MS: u64 = 30_000;

struct Release {
    dir: tempfile::TempDir,
    key: String,
}

impl Release {
    fn new() -> Release {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("release.key");
        run_ok(&["keygen", "--out", key.to_str().unwrap()], MS);
        std::fs::write(dir.path().join("goodwill-0.2.0"), vec![7u8; 100_000]).unwrap();
        let address = run_ok(&["address", "--key", key.to_str().unwrap()], MS)
            .stdout
            .trim()
            .to_string();
        Release { dir, key: address }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn sign(&self, extra: &[&str]) -> crate::common::Out {
        let mut args = vec![
            "release".to_string(),
            "sign".into(),
            "--key".into(),
            self.path("release.key"),
            "--binary".into(),
            self.path("goodwill-0.2.0"),
            "--version".into(),
            "0.2.0".into(),
            "--counter".into(),
            "5".into(),
            "--target".into(),
            "aarch64-unknown-linux-gnu".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        run(&args.iter().map(String::as_str).collect::<Vec<_>>(), MS)
    }

    /// `update check` of `manifest` and `binary`, trusting `trust`.
    fn check(
        &self,
        manifest: &str,
        binary: &str,
        trust: &str,
        extra: &[&str],
    ) -> (Option<i32>, serde_json::Value) {
        let (m, b) = (self.path(manifest), self.path(binary));
        let mut args = vec![
            "update",
            "check",
            &m,
            &b,
            "--trust",
            trust,
            "--target",
            "aarch64-unknown-linux-gnu",
            "--json",
        ];
        args.extend(extra);
        let out = run(&args, MS);
        (out.code, out.json())
    }
}

#[test]
fn a_signed_release_is_taken_and_every_other_is_refused_by_name() {
    let r = Release::new();
    let out = r.sign(&[]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout.contains("counter 5") && out.stdout.contains("goodwill-0.2.0.manifest"),
        "{out:?}"
    );
    let (code, v) = r.check(
        "goodwill-0.2.0.manifest",
        "goodwill-0.2.0",
        &r.key,
        &["--running", "4"],
    );
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(
        (v["ok"].as_bool(), v["counter"].as_u64(), v["size"].as_u64()),
        (Some(true), Some(5), Some(100_000))
    );

    let refused = |code: Option<i32>, v: &serde_json::Value, says: &str| {
        assert_eq!(code, Some(1), "{v}");
        assert_eq!(v["ok"], false, "{v}");
        assert!(v["refused"].as_str().unwrap().contains(says), "{says}: {v}");
    };
    // Not a trusted key.
    let other = "gw1awlzk0tkzcu7n872kmcdv6sy7jk3zkk45kgkzfupsd55m8zcw06q2lg64l";
    let (c, v) = r.check("goodwill-0.2.0.manifest", "goodwill-0.2.0", other, &[]);
    refused(c, &v, "not one of this appliance's release keys");
    // The same release again, or a downgrade.
    let (c, v) = r.check(
        "goodwill-0.2.0.manifest",
        "goodwill-0.2.0",
        &r.key,
        &["--running", "5"],
    );
    refused(c, &v, "not above the running release's 5");
    // Another target.
    let (m, b) = (r.path("goodwill-0.2.0.manifest"), r.path("goodwill-0.2.0"));
    let out = run(
        &[
            "update",
            "check",
            &m,
            &b,
            "--trust",
            &r.key,
            "--target",
            "armv7-unknown-linux-gnueabihf",
            "--json",
        ],
        MS,
    );
    refused(out.code, &out.json(), "built for aarch64-unknown-linux-gnu");
    // A truncated download, and another binary of the same size.
    let bin = std::fs::read(r.path("goodwill-0.2.0")).unwrap();
    std::fs::write(r.path("short"), &bin[..50_000]).unwrap();
    let (c, v) = r.check("goodwill-0.2.0.manifest", "short", &r.key, &[]);
    refused(c, &v, "truncated");
    let mut flipped = bin.clone();
    flipped[99_999] ^= 1;
    std::fs::write(r.path("flipped"), &flipped).unwrap();
    let (c, v) = r.check("goodwill-0.2.0.manifest", "flipped", &r.key, &[]);
    refused(c, &v, "SHA-256");
    // The manifest changed after signing: a higher counter written in.
    let text = std::fs::read_to_string(r.path("goodwill-0.2.0.manifest")).unwrap();
    std::fs::write(
        r.path("changed.manifest"),
        text.replace("counter = 5", "counter = 50"),
    )
    .unwrap();
    let (c, v) = r.check("changed.manifest", "goodwill-0.2.0", &r.key, &[]);
    refused(c, &v, "does not verify");
    // Expired: valid for 0 days.
    let out = r.sign(&["--expires-days", "0", "--out", &r.path("expired.manifest")]);
    assert!(out.status.success(), "{out:?}");
    let (c, v) = r.check("expired.manifest", "goodwill-0.2.0", &r.key, &[]);
    refused(c, &v, "expired");
    // Not a manifest at all: an error (exit 2), naming the file.
    let out = run(&["update", "check", &b, &b, "--trust", &r.key], MS);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("goodwill-0.2.0"), "{out:?}");
}

#[test]
fn a_manifest_is_never_written_over_a_file_and_counter_zero_is_refused() {
    let r = Release::new();
    assert!(r.sign(&[]).status.success());
    let before = std::fs::read(r.path("goodwill-0.2.0.manifest")).unwrap();
    let again = r.sign(&[]);
    assert!(!again.status.success(), "{again:?}");
    assert_eq!(
        std::fs::read(r.path("goodwill-0.2.0.manifest")).unwrap(),
        before
    );
    let zero = run(
        &[
            "release",
            "sign",
            "--key",
            &r.path("release.key"),
            "--binary",
            &r.path("goodwill-0.2.0"),
            "--version",
            "0.2.0",
            "--counter",
            "0",
            "--out",
            &r.path("zero.manifest"),
        ],
        MS,
    );
    assert!(
        !zero.status.success() && zero.stderr.contains("counter 0"),
        "{zero:?}"
    );
}
