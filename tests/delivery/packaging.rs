//! The Debian package: `scripts/deb.sh` builds it with cargo-deb from the
//! binary Cargo built for these tests (as CI builds the arm64 one from
//! `.ci/arm`'s); `dpkg-deb` shows what it holds; its postinst runs in a fake
//! root (dpkg's `DPKG_ROOT`) and makes the user and a key once, never
//! overwriting one; shellcheck reads the maintainer scripts.

use crate::common;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{run, run_cmd_ok, tool};
use goodwill::tools::provision;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `scripts/deb.sh` over a target directory holding this test build's
/// binary as `release/goodwill`; the .deb's path.
fn build_deb(tmp: &Path) -> PathBuf {
    let target = tmp.join("target");
    std::fs::create_dir_all(target.join("release")).unwrap();
    std::os::unix::fs::symlink(common::goodwill_bin(), target.join("release/goodwill")).unwrap();
    let mut cmd = Command::new(repo().join("scripts/deb.sh"));
    cmd.arg("--target-dir")
        .arg(&target)
        .arg("--out")
        .arg(tmp.join("out"))
        // A debug binary is ~100 MB: fast compression keeps the test quick.
        .args(["--", "--fast"]);
    let out = run_cmd_ok(cmd, 300_000);
    let deb = PathBuf::from(out.stdout.lines().last().expect("the .deb's path").trim());
    assert!(deb.is_file(), "{deb:?}: {out:#?}");
    deb
}

fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let mut cmd = Command::new("dpkg-deb");
    cmd.args(args).arg(deb);
    run_cmd_ok(cmd, 60_000).stdout
}

/// `dpkg-deb --contents`: path → (mode string, owner/group).
fn contents(deb: &Path) -> Vec<(String, String, String)> {
    dpkg_deb(&["--contents"], deb)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[f.len() - 1].trim_start_matches('.').to_string(),
                f[0].to_string(),
                f[1].to_string(),
            )
        })
        .collect()
}

#[test]
// Under an emulator (the aarch64 suite of .ci/arm) the test build is an ARM
// binary: the package built from it would be labelled with the host's
// architecture, and its postinst would exec the ARM binary, which needs
// binfmt_misc. .ci/run builds the arm64 package from the release binary and
// checks it with dpkg-deb instead.
#[cfg_attr(
    goodwill_emulated,
    ignore = "under GOODWILL_TEST_RUNNER: the arm64 package is checked by .ci/run's deb-arm64 steps"
)]
#[cfg_attr(
    all(
        not(goodwill_emulated),
        any(not(has_cargo_deb), not(has_dpkg_deb), not(has_systemd_sysusers))
    ),
    ignore = "needs cargo-deb, dpkg-deb and systemd-sysusers \
              (cargo install cargo-deb; apt-get install dpkg systemd)"
)]
fn the_debian_package_holds_the_binary_units_settings_and_profiles_and_its_postinst_makes_a_key_once(
) {
    assert!(
        common::runner().is_empty(),
        "built without {0} but run under it: build the tests with {0} set",
        common::RUNNER_VAR
    );
    tool("cargo-deb", "the Debian package");
    tool("dpkg-deb", "the Debian package");
    tool("systemd-sysusers", "the package's postinst");
    let tmp = tempfile::tempdir().unwrap();
    let deb = build_deb(tmp.path());

    let info = dpkg_deb(&["--info"], &deb);
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {info}"))
            .to_string()
    };
    assert_eq!(field("Package"), "goodwill");
    assert_eq!(field("Version"), format!("{}-1", env!("CARGO_PKG_VERSION")));
    let mut arch = Command::new("dpkg");
    arch.arg("--print-architecture");
    assert_eq!(
        field("Architecture"),
        run_cmd_ok(arch, 10_000).stdout.trim()
    );
    assert!(field("Depends").contains("libc6 (>= "), "{info}");
    assert!(field("Depends").contains("systemd"), "{info}");

    let files = contents(&deb);
    let entry = |path: &str| {
        files
            .iter()
            .find(|(p, _, _)| p == path)
            .unwrap_or_else(|| panic!("{path} is not in the package: {files:#?}"))
    };
    let mut expect = vec![
        (provision::BINARY.to_string(), "-rwxr-xr-x"),
        (
            format!("{}/{}", provision::UNIT_DIR, provision::FORGER_UNIT),
            "-rw-r--r--",
        ),
        (
            format!("{}/{}", provision::UNIT_DIR, provision::NODE_UNIT),
            "-rw-r--r--",
        ),
        ("/usr/lib/sysusers.d/goodwill.conf".into(), "-rw-r--r--"),
        (provision::FORGE_CONFIG.into(), "-rw-r--r--"),
        ("/etc/goodwill/node.toml".into(), "-rw-r--r--"),
        (
            "/usr/share/doc/goodwill/raspberry-pi.md".into(),
            "-rw-r--r--",
        ),
        ("/usr/share/doc/goodwill/WIRING.md".into(), "-rw-r--r--"),
    ];
    for (name, _) in goodwill::runtime::board::SHIPPED {
        expect.push((
            format!("{}/{name}.toml", goodwill::runtime::board::PACKAGE_DIR),
            "-rw-r--r--",
        ));
    }
    for (path, mode) in &expect {
        let (_, m, owner) = entry(path);
        assert_eq!(
            (m.as_str(), owner.as_str()),
            (*mode, "0/0"),
            "{path}: root's, by number"
        );
    }
    let root = tmp.path().join("root");
    let mut x = Command::new("dpkg-deb");
    x.arg("-x").arg(&deb).arg(&root);
    run_cmd_ok(x, 120_000);
    let mut e = Command::new("dpkg-deb");
    e.arg("-e").arg(&deb).arg(root.join("DEBIAN"));
    run_cmd_ok(e, 60_000);
    // The binary is the one built, whole.
    assert_eq!(
        std::fs::read(root.join("usr/bin/goodwill")).unwrap(),
        std::fs::read(common::goodwill_bin()).unwrap()
    );
    // No key ships: the postinst makes one on the board.
    assert!(files.iter().all(|(p, _, _)| !p.ends_with(".key")));
    // Every file under /etc is a conffile, and only those.
    let conffiles = std::fs::read_to_string(root.join("DEBIAN/conffiles")).unwrap();
    let mut listed: Vec<&str> = conffiles.lines().collect();
    listed.sort();
    let mut under_etc: Vec<&str> = files
        .iter()
        .filter(|(p, m, _)| p.starts_with("/etc/") && m.starts_with('-'))
        .map(|(p, _, _)| p.as_str())
        .collect();
    under_etc.sort();
    assert_eq!(listed, under_etc);
    for script in ["postinst", "prerm", "postrm"] {
        assert_eq!(
            std::fs::read(root.join("DEBIAN").join(script)).unwrap(),
            std::fs::read(repo().join("packaging/deb").join(script)).unwrap(),
            "{script} is packaging/deb/{script}"
        );
    }

    // The shipped settings are ones the binary reads: the forger's refuses
    // to start (exit 2) until a main node is named, and says so.
    let forge_toml = root.join("etc/goodwill/forge.toml");
    let out = run(&["forge", "--config", forge_toml.to_str().unwrap()], 20_000);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains("at least one --main"), "{}", out.stderr);
    let node = goodwill::runtime::config::NodeSettings::load(&root.join("etc/goodwill/node.toml"))
        .unwrap();
    assert!(node.data.unwrap().starts_with(provision::HOME));
    let forge: toml::Table =
        toml::from_str(&std::fs::read_to_string(&forge_toml).unwrap()).unwrap();
    assert_eq!(forge["data"].as_str(), Some(provision::FORGER_DATA));
    assert_eq!(forge["genesis"].as_str(), Some(provision::GENESIS));
    assert_eq!(forge["key"].as_str(), Some(provision::KEY));

    // The postinst in a fake root: a minimal set of account files.
    let etc = root.join("etc");
    std::fs::write(etc.join("passwd"), "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    std::fs::write(etc.join("group"), "root:x:0:\n").unwrap();
    std::fs::write(etc.join("shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
    std::fs::write(etc.join("gshadow"), "root:*::\n").unwrap();
    let postinst = |args: &[&str]| {
        let mut cmd = Command::new("sh");
        cmd.arg(root.join("DEBIAN/postinst"))
            .args(args)
            .env("DPKG_ROOT", &root);
        run_cmd_ok(cmd, 60_000)
    };
    let out = postinst(&["configure"]);
    let passwd = std::fs::read_to_string(etc.join("passwd")).unwrap();
    let user = passwd
        .lines()
        .find(|l| l.starts_with("goodwill:"))
        .unwrap_or_else(|| panic!("no goodwill user: {passwd}"));
    let f: Vec<&str> = user.split(':').collect();
    assert_eq!((f[5], f[6]), (provision::HOME, provision::SHELL), "{user}");
    let uid: u32 = f[2].parse().unwrap();
    let gid: u32 = f[3].parse().unwrap();
    assert!(
        provision::SYSTEM_IDS.contains(&uid),
        "a system user: {user}"
    );
    let group = std::fs::read_to_string(etc.join("group")).unwrap();
    assert!(
        group
            .lines()
            .any(|l| l.starts_with(&format!("goodwill:x:{gid}:"))),
        "{group}"
    );
    assert!(group.lines().any(|l| l.starts_with("gpio:x:")), "{group}");
    assert!(std::fs::read_to_string(etc.join("shadow"))
        .unwrap()
        .contains("\ngoodwill:!"));

    let key = etc.join("goodwill/forger.key");
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    let address = common::run_ok(&["address", "--key", key.to_str().unwrap()], 20_000);
    assert!(
        out.stdout.contains(address.stdout.trim()),
        "the postinst names the new key's address: {out:#?}"
    );

    // Configured again (an upgrade): nothing changes, the key least of all.
    let before: Vec<Vec<u8>> = [
        "passwd",
        "group",
        "shadow",
        "gshadow",
        "goodwill/forger.key",
    ]
    .iter()
    .map(|f| std::fs::read(etc.join(f)).unwrap())
    .collect();
    let out = postinst(&["configure", "0.0.9-1"]);
    assert!(!out.stdout.contains("new forger key"), "{out:#?}");
    let after: Vec<Vec<u8>> = [
        "passwd",
        "group",
        "shadow",
        "gshadow",
        "goodwill/forger.key",
    ]
    .iter()
    .map(|f| std::fs::read(etc.join(f)).unwrap())
    .collect();
    assert_eq!(before, after);

    // A key put there before the package (by provision, by hand) is kept.
    std::fs::remove_file(&key).unwrap();
    let mine = common::keygen(tmp.path(), "mine", 20_000);
    std::fs::copy(&mine.file, &key).unwrap();
    let bytes = std::fs::read(&key).unwrap();
    postinst(&["configure"]);
    assert_eq!(std::fs::read(&key).unwrap(), bytes);
}

#[test]
fn the_packaging_script_names_a_missing_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(repo().join("scripts/deb.sh"));
    cmd.args(["--target", "aarch64-unknown-linux-gnu", "--target-dir"])
        .arg(tmp.path());
    let out = common::run_within(cmd, 30_000);
    assert_eq!(out.code, Some(1), "{out:#?}");
    let want = format!(
        "no binary at {}/aarch64-unknown-linux-gnu/release/goodwill",
        tmp.path().display()
    );
    assert!(out.stderr.contains(&want), "{}", out.stderr);
    let mut cmd = Command::new(repo().join("scripts/deb.sh"));
    cmd.arg("--taget");
    let out = common::run_within(cmd, 30_000);
    assert!(out.stderr.contains("unknown argument --taget"), "{out:#?}");
}

#[test]
#[cfg_attr(
    not(has_shellcheck),
    ignore = "needs shellcheck (apt-get install shellcheck)"
)]
fn shellcheck_finds_nothing_in_the_maintainer_and_packaging_scripts() {
    let shellcheck = tool("shellcheck", "the maintainer scripts' lint");
    let mut cmd = Command::new(shellcheck);
    for f in [
        "packaging/deb/postinst",
        "packaging/deb/prerm",
        "packaging/deb/postrm",
        "scripts/deb.sh",
        ".ci/run",
    ] {
        cmd.arg(repo().join(f));
    }
    run_cmd_ok(cmd, 60_000);
}

#[test]
#[cfg_attr(
    any(not(has_cargo_deb), not(has_dpkg_deb)),
    ignore = "needs cargo-deb and dpkg-deb (cargo install cargo-deb; apt-get install dpkg)"
)]
fn the_arm64_package_is_built_from_a_cross_target_directory_as_ci_does() {
    tool("cargo-deb", "the arm64 Debian package");
    tool("dpkg-deb", "the arm64 Debian package");
    // An aarch64 ELF header where .ci/arm leaves its build (no real
    // aarch64 build here: the package's shape is what is tested).
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("target/deb");
    let bin = target.join("aarch64-unknown-linux-gnu/release/goodwill");
    let mut elf = vec![0u8; 64];
    elf[..7].copy_from_slice(b"\x7fELF\x02\x01\x01");
    elf[16..18].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN
    elf[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    elf[52..54].copy_from_slice(&64u16.to_le_bytes()); // header size
    elf.extend_from_slice(b"goodwill for arm64");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::write(&bin, &elf).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = Command::new(repo().join("scripts/deb.sh"));
    cmd.args(["--target", "aarch64-unknown-linux-gnu", "--target-dir"])
        .arg(&target);
    let out = run_cmd_ok(cmd, 300_000);
    let deb = PathBuf::from(out.stdout.lines().last().unwrap().trim());
    assert_eq!(
        deb.parent().unwrap(),
        target.join("debian"),
        "the default --out"
    );
    assert!(deb.to_str().unwrap().ends_with("_arm64.deb"), "{deb:?}");
    assert_eq!(
        dpkg_deb(&["--field"], &deb)
            .lines()
            .find(|l| l.starts_with("Architecture")),
        Some("Architecture: arm64")
    );
    let root = tmp.path().join("root");
    let mut x = Command::new("dpkg-deb");
    x.arg("-x").arg(&deb).arg(&root);
    run_cmd_ok(x, 60_000);
    assert_eq!(std::fs::read(root.join("usr/bin/goodwill")).unwrap(), elf);
}
