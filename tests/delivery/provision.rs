//! `goodwill provision`, through the binary, into a fake Raspberry Pi OS
//! root filesystem: what it installs (the command of docs/raspberry-pi.md,
//! run as written), that a second run changes nothing, that a key or an
//! edited file is never overwritten, and what it refuses.

use crate::common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use common::{keygen, run, run_ok, Key, NewGenesis, Out};
use goodwill::tools::provision::{self, elf_arch};

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
    daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
    systemd-timesync:x:999:999:systemd Time Synchronization:/:/usr/sbin/nologin\n\
    pi:x:1000:1000:,,,:/home/pi:/bin/bash\n";
const GROUP: &str =
    "root:x:0:\ndaemon:x:1:\nshadow:x:42:\ngpio:x:997:pi\nsystemd-timesync:x:999:\npi:x:1000:\n";
const SHADOW: &str = "root:*:19000:0:99999:7:::\npi:$y$j9T$x:19000:0:99999:7:::\n";
const GSHADOW: &str = "root:*::\nshadow:*::\ngpio:!::pi\npi:!::\n";

const EM_AARCH64: u16 = 183;
const EM_ARM: u16 = 40;
const EM_X86_64: u16 = 62;

/// The first 64 bytes of an ELF executable for `machine`, then `tail`.
fn elf(machine: u16, tail: &[u8]) -> Vec<u8> {
    let wide = machine != EM_ARM;
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = if wide { 2 } else { 1 };
    h[5] = 1;
    h[6] = 1;
    h[16..18].copy_from_slice(&3u16.to_le_bytes());
    h[18..20].copy_from_slice(&machine.to_le_bytes());
    if !wide {
        // EABI 5, hard float.
        h[36..40].copy_from_slice(&0x0500_0400u32.to_le_bytes());
    }
    h.extend_from_slice(tail);
    h
}

fn write(path: &Path, bytes: &[u8], mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A Raspberry Pi OS root filesystem as far as provision looks: merged
/// /usr (with an absolute /lib link, so a write through it would land on
/// this machine if links were followed naively), account files with
/// Debian's owners and modes, os-release, a shell for `machine`.
fn fake_rootfs(dir: &Path, machine: u16) -> PathBuf {
    let root = dir.join("rootfs");
    let etc = root.join("etc");
    write(&etc.join("passwd"), PASSWD.as_bytes(), 0o644);
    write(&etc.join("group"), GROUP.as_bytes(), 0o644);
    for (name, text) in [("shadow", SHADOW), ("gshadow", GSHADOW)] {
        write(&etc.join(name), text.as_bytes(), 0o640);
        std::os::unix::fs::chown(etc.join(name), Some(0), Some(42)).unwrap();
    }
    write(
        &root.join("usr/lib/os-release"),
        b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n",
        0o644,
    );
    std::os::unix::fs::symlink("../usr/lib/os-release", etc.join("os-release")).unwrap();
    write(&root.join("usr/bin/dash"), &elf(machine, b"dash"), 0o755);
    std::os::unix::fs::symlink("dash", root.join("usr/bin/sh")).unwrap();
    std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
    std::os::unix::fs::symlink("/usr/lib", root.join("lib")).unwrap();
    std::fs::create_dir_all(root.join("usr/lib/systemd/system")).unwrap();
    std::fs::create_dir_all(etc.join("systemd/system")).unwrap();
    root
}

/// One entry of a [`snapshot`]: what it is (`dir`, a link's target, a
/// file's bytes), mode, owner, group, inode, mtime and its nanoseconds.
type Entry = (String, u32, u32, u32, u64, i64, i64);

/// Every entry under `root`, as [`Entry`]: what a run that changes nothing
/// keeps.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let what = if m.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                todo.push(p.clone());
                "dir".into()
            } else {
                format!("{:?}", std::fs::read(&p).unwrap())
            };
            out.insert(
                p.strip_prefix(root).unwrap().to_path_buf(),
                (
                    what,
                    m.mode(),
                    m.uid(),
                    m.gid(),
                    m.ino(),
                    m.mtime(),
                    m.mtime_nsec(),
                ),
            );
        }
    }
    out
}

struct Setup {
    tmp: tempfile::TempDir,
    root: PathBuf,
    genesis: String,
    binary: PathBuf,
}

/// The fake root and what provision needs. Only as root: each test that
/// calls this is ignored unless build.rs found the build running as root
/// (or CI is set).
fn setup() -> Setup {
    // Provision chowns the key to the goodwill user: root's work.
    let euid = std::fs::metadata("/proc/self").unwrap().uid();
    assert_eq!(
        euid, 0,
        "goodwill provision needs root (it chowns the key): run the tests as root"
    );
    let tmp = tempfile::tempdir().unwrap();
    let root = fake_rootfs(tmp.path(), EM_AARCH64);
    let forger = keygen(tmp.path(), "bootstrap", 20_000);
    let genesis = tmp
        .path()
        .join("genesis.toml")
        .to_str()
        .unwrap()
        .to_string();
    NewGenesis {
        out: &genesis,
        chain_name: Some("pi-test"),
        forgers: vec![&forger.addr],
        funds: vec![],
        slot_ms: 2_000,
        epoch_slots: 30,
        finality_depth: None,
    }
    .write(20_000);
    let binary = tmp.path().join("goodwill-aarch64");
    write(&binary, &elf(EM_AARCH64, b"goodwill for the Pi, v1"), 0o755);
    Setup {
        tmp,
        root,
        genesis,
        binary,
    }
}

impl Setup {
    fn args<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        self.args_into(self.root.to_str().unwrap(), extra)
    }

    /// The arguments of a provision into `root`, with `extra` (and this
    /// setup's binary unless `extra` names one).
    fn args_into<'a>(&'a self, root: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec![
            "provision",
            "--rootfs",
            root,
            "--board",
            "pi4",
            "--main",
            "node1.example.org:7070",
            "--genesis",
            &self.genesis,
        ];
        a.extend(extra);
        if !extra.contains(&"--binary") {
            a.extend(["--binary", self.binary.to_str().unwrap()]);
        }
        a
    }

    fn provision(&self, extra: &[&str]) -> Out {
        run(&self.args(extra), 60_000)
    }

    fn at(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    fn key(&self) -> PathBuf {
        self.at(provision::KEY)
    }
}

/// The logical lines of docs/raspberry-pi.md's code blocks (continuations
/// joined, comments dropped) that run goodwill, as argument lists without
/// the `goodwill` (and without `sudo` or `sudo -u goodwill`).
fn guide_commands() -> Vec<Vec<String>> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/raspberry-pi.md"))
            .unwrap();
    let mut out = Vec::new();
    let mut in_block = false;
    let mut line = String::new();
    for raw in doc.lines() {
        if raw.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if !in_block {
            continue;
        }
        let text = raw.split(" #").next().unwrap().trim_end();
        if let Some(part) = text.strip_suffix('\\') {
            line.push_str(part);
            continue;
        }
        line.push_str(text);
        let mut words: Vec<String> = line.split_whitespace().map(String::from).collect();
        line.clear();
        if words.first().map(String::as_str) == Some("sudo") {
            words.remove(0);
            if words.first().map(String::as_str) == Some("-u") {
                words.drain(..2);
            }
        }
        if words.first().map(String::as_str) == Some("goodwill") {
            out.push(words[1..].to_vec());
        }
    }
    out
}

#[test]
fn every_goodwill_command_of_the_raspberry_pi_guide_is_one_the_binary_takes() {
    use clap::Parser as _;
    let commands = guide_commands();
    assert!(commands.len() >= 6, "{commands:?}");
    for args in commands {
        let argv = std::iter::once("goodwill".to_string()).chain(args.iter().cloned());
        if let Err(e) = goodwill::cli::Cli::try_parse_from(argv) {
            panic!("docs/raspberry-pi.md: goodwill {}: {e}", args.join(" "));
        }
    }
}

#[test]
#[cfg_attr(
    not(is_root),
    ignore = "needs root: goodwill provision chowns the key (CI runs the tests as root)"
)]
fn the_guides_provision_command_installs_the_appliance_and_a_second_run_changes_nothing() {
    let s = setup();
    let guide = guide_commands();
    let doc_args = guide
        .iter()
        .find(|a| a[0] == "provision")
        .expect("the guide provisions a card");
    // The guide's command with its paths pointing into this test.
    let args: Vec<String> = doc_args
        .iter()
        .map(|a| match a.as_str() {
            "/media/$USER/rootfs" => s.root.to_str().unwrap().to_string(),
            "genesis.toml" => s.genesis.clone(),
            "target/aarch64-unknown-linux-gnu/release/goodwill" => {
                s.binary.to_str().unwrap().to_string()
            }
            other => other.to_string(),
        })
        .collect();
    // Under a strict umask, as some administrators' root shells have: the
    // directories made must still let the goodwill user reach its key.
    // (Through the test runner, if there is one: an emulator.)
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "umask 077 && exec \"$0\" \"$@\""])
        .args(common::runner())
        .arg(common::goodwill_bin())
        .args(&args);
    let out = common::run_cmd_ok(cmd, 60_000);
    for dir in [
        "/etc/goodwill",
        "/usr/share/goodwill/board",
        provision::WANTS_DIR,
    ] {
        let m = std::fs::metadata(s.at(dir)).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o755, "{dir}");
    }

    // The binary, units, profile, genesis: byte for byte, root's.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let same = |path: &str, want: Vec<u8>, mode: u32| {
        let at = s.at(path);
        assert_eq!(std::fs::read(&at).unwrap(), want, "{path}");
        let m = std::fs::metadata(&at).unwrap();
        assert_eq!(
            (m.mode() & 0o7777, m.uid(), m.gid()),
            (mode, 0, 0),
            "{path}"
        );
    };
    same(provision::BINARY, std::fs::read(&s.binary).unwrap(), 0o755);
    for unit in [provision::FORGER_UNIT, provision::NODE_UNIT] {
        let installed = format!("{}/{unit}", provision::UNIT_DIR);
        same(
            &installed,
            std::fs::read(repo.join("systemd").join(unit)).unwrap(),
            0o644,
        );
    }
    same(
        "/usr/share/goodwill/board/pi4.toml",
        std::fs::read(repo.join("board/pi4.toml")).unwrap(),
        0o644,
    );
    same(
        provision::GENESIS,
        std::fs::read(&s.genesis).unwrap(),
        0o644,
    );

    // The user: the highest id free in both files (999 is timesync's).
    let passwd = std::fs::read_to_string(s.at("/etc/passwd")).unwrap();
    assert!(passwd.starts_with(PASSWD));
    assert!(passwd.ends_with(
        "goodwill:x:998:998:goodwill forging appliance:/var/lib/goodwill:/usr/sbin/nologin\n"
    ));
    let group = std::fs::read_to_string(s.at("/etc/group")).unwrap();
    assert_eq!(
        group,
        format!("{GROUP}goodwill:x:998:\n"),
        "gpio was there already"
    );
    for name in ["/etc/shadow", "/etc/gshadow"] {
        let m = std::fs::metadata(s.at(name)).unwrap();
        assert_eq!(
            (m.mode() & 0o7777, m.uid(), m.gid()),
            (0o640, 0, 42),
            "{name} keeps its owner and mode"
        );
        let text = std::fs::read_to_string(s.at(name)).unwrap();
        assert!(
            text.lines().any(|l| l.starts_with("goodwill:!*:")),
            "{name}: {text}"
        );
    }

    // A fresh key, the goodwill user's only; its address is printed.
    let m = std::fs::metadata(s.key()).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o600, 998, 998));
    let address = run_ok(&["address", "--key", s.key().to_str().unwrap()], 20_000);
    assert!(
        out.stdout
            .contains(&format!("forger address {}", address.stdout.trim())),
        "{}",
        out.stdout
    );

    // The settings, and the unit enabled.
    let config: toml::Table =
        toml::from_str(&std::fs::read_to_string(s.at(provision::FORGE_CONFIG)).unwrap()).unwrap();
    assert_eq!(
        config["main"].as_array().unwrap()[0].as_str(),
        Some("node1.example.org:7070")
    );
    assert_eq!(config["board"].as_str(), Some("pi4"));
    let link = s.at(&format!(
        "{}/{}",
        provision::WANTS_DIR,
        provision::FORGER_UNIT
    ));
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        Path::new(provision::UNIT_DIR).join(provision::FORGER_UNIT)
    );
    assert!(out.stdout.contains("provisioned "), "{}", out.stdout);

    // Again: nothing changes, not even a modification time, and it says so.
    let before = snapshot(&s.root);
    let again = run_ok(&common::strs(&args), 60_000);
    assert_eq!(snapshot(&s.root), before);
    assert!(again.stdout.contains("nothing changed"), "{}", again.stdout);
    // One line per item: a verb, then the path.
    let items: Vec<&str> = again
        .stdout
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|w| w.starts_with('/'))
        })
        .collect();
    assert!(items.len() >= 9, "{}", again.stdout);
    assert!(
        items.iter().all(|l| l.starts_with("unchanged ")),
        "{}",
        again.stdout
    );

    // The forger reads these settings: with the paths pointed here and a
    // bad clock check, it gets as far as that check (exit 2), so the file
    // parsed and named a main node.
    let data = s.tmp.path().join("data");
    let forge = run(
        &[
            "forge",
            "--config",
            s.at(provision::FORGE_CONFIG).to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--genesis",
            s.at(provision::GENESIS).to_str().unwrap(),
            "--key",
            s.key().to_str().unwrap(),
            "--board",
            "none",
            "--clock-check",
            "sometimes",
        ],
        20_000,
    );
    assert_eq!(forge.code, Some(2), "{forge:#?}");
    assert!(
        forge.stderr.contains("--clock-check \"sometimes\""),
        "{}",
        forge.stderr
    );
}

#[test]
#[cfg_attr(
    not(is_root),
    ignore = "needs root: goodwill provision chowns the key (CI runs the tests as root)"
)]
fn a_newer_binary_replaces_the_old_one_and_nothing_else_changes() {
    let s = setup();
    run_ok(&s.args(&[]), 60_000);
    let before = snapshot(&s.root);
    let v2 = s.tmp.path().join("goodwill-v2");
    write(&v2, &elf(EM_AARCH64, b"goodwill for the Pi, v2"), 0o755);
    let out = run_ok(&s.args(&["--binary", v2.to_str().unwrap()]), 60_000);
    assert!(
        out.stdout.contains("updated   /usr/bin/goodwill"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(": 1 changes"), "{}", out.stdout);
    let after = snapshot(&s.root);
    // (Its directory changed too: the new file was renamed into it.)
    let changed: Vec<&PathBuf> = after
        .keys()
        .filter(|k| after.get(*k) != before.get(*k) && after[*k].0 != "dir")
        .collect();
    assert_eq!(changed, vec![&PathBuf::from("usr/bin/goodwill")]);
    assert_eq!(
        std::fs::read(s.at(provision::BINARY)).unwrap(),
        std::fs::read(&v2).unwrap()
    );
}

/// `goodwill provision … | head -4`: with its stdout's reader gone, the
/// card is still provisioned in full (std's `println!` panicked after the
/// binary and the forger unit, a half-provisioned card); a second run
/// finds nothing to change.
#[test]
#[cfg_attr(
    not(is_root),
    ignore = "needs root: goodwill provision chowns the key (CI runs the tests as root)"
)]
fn a_closed_stdout_still_provisions_the_whole_card() {
    let s = setup();
    let args = s.args(&[]);
    let (status, stderr) = common::run_with_closed_stdout(&args, 60_000);
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let out = run_ok(&args, 60_000);
    assert!(out.stdout.contains("nothing changed"), "{}", out.stdout);
    assert!(s.key().exists());
}

#[test]
#[cfg_attr(
    not(is_root),
    ignore = "needs root: goodwill provision chowns the key (CI runs the tests as root)"
)]
fn a_given_key_is_installed_and_never_overwritten_by_another() {
    let s = setup();
    let mine: Key = keygen(s.tmp.path(), "mine", 20_000);
    let out = run_ok(&s.args(&["--key", &mine.file]), 60_000);
    assert_eq!(
        std::fs::read(s.key()).unwrap(),
        std::fs::read(&mine.file).unwrap()
    );
    assert!(
        out.stdout
            .contains(&format!("forger address {}", mine.addr)),
        "{}",
        out.stdout
    );

    // Another key, together with a newer binary: refused, and nothing at
    // all is written — not even the binary.
    let before = snapshot(&s.root);
    let other = keygen(s.tmp.path(), "other", 20_000);
    let v2 = s.tmp.path().join("goodwill-v2");
    write(&v2, &elf(EM_AARCH64, b"v2"), 0o755);
    let out = s.provision(&["--key", &other.file, "--binary", v2.to_str().unwrap()]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stderr.contains("nothing was written"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "{}/etc/goodwill/forger.key holds the key of {}",
            s.root.display(),
            mine.addr
        )) && out.stderr.contains("never overwrites a key"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot(&s.root), before);

    // The same key again, or none: kept; a loosened mode is fixed.
    std::fs::set_permissions(s.key(), std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = run_ok(&s.args(&[]), 60_000);
    assert!(
        out.stdout.contains("fixed     /etc/goodwill/forger.key"),
        "{}",
        out.stdout
    );
    assert_eq!(std::fs::metadata(s.key()).unwrap().mode() & 0o7777, 0o600);
    assert_eq!(
        std::fs::read(s.key()).unwrap(),
        std::fs::read(&mine.file).unwrap()
    );
}

#[test]
#[cfg_attr(
    not(is_root),
    ignore = "needs root: goodwill provision chowns the key (CI runs the tests as root)"
)]
fn an_edited_settings_file_is_never_replaced() {
    let s = setup();
    run_ok(&s.args(&[]), 60_000);
    let config = s.at(provision::FORGE_CONFIG);
    let edited = format!(
        "{}metrics_listen = \"127.0.0.1:9171\"\n",
        std::fs::read_to_string(&config).unwrap()
    );
    std::fs::write(&config, &edited).unwrap();
    let before = snapshot(&s.root);
    let out = s.provision(&[]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(
        out.stderr.contains(&format!(
            "{}/etc/goodwill/forge.toml exists with other contents",
            s.root.display()
        )),
        "{}",
        out.stderr
    );
    assert_eq!(snapshot(&s.root), before);
    // Another main node is a different file too: same answer.
    let out = run(
        &[
            "provision",
            "--rootfs",
            s.root.to_str().unwrap(),
            "--board",
            "pi4",
            "--main",
            "node2.example.org:7070",
            "--genesis",
            &s.genesis,
            "--binary",
            s.binary.to_str().unwrap(),
        ],
        60_000,
    );
    assert!(
        out.stderr.contains("forge.toml exists with other contents"),
        "{out:#?}"
    );
}

#[test]
#[cfg_attr(
    not(is_root),
    ignore = "needs root: goodwill provision chowns the key (CI runs the tests as root)"
)]
fn what_is_not_a_root_filesystem_is_refused_naming_what_is_missing() {
    let s = setup();
    let bootfs = s.tmp.path().join("bootfs");
    write(&bootfs.join("config.txt"), b"dtparam=audio=on\n", 0o644);
    let into = |root: &Path| run(&s.args_into(root.to_str().unwrap(), &[]), 20_000);
    let out = into(&bootfs);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(
        out.stderr.contains(
            "is not a Linux root filesystem booting with systemd: it has no /etc/passwd, no /etc/group, \
             no /usr/bin/sh, no /etc/systemd/system, no /etc/os-release"
        ) && out.stderr.contains("\"rootfs\", not \"bootfs\""),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_dir(&bootfs).unwrap().count(),
        1,
        "nothing written"
    );
    // One part missing is named alone.
    std::fs::remove_dir(s.root.join("etc/systemd/system")).unwrap();
    let out = into(&s.root);
    assert!(
        out.stderr.contains("it has no /etc/systemd/system ("),
        "{}",
        out.stderr
    );
    let out = into(Path::new("/"));
    assert!(
        out.stderr.contains("this machine's own root"),
        "{}",
        out.stderr
    );
    let out = into(&s.tmp.path().join("nowhere"));
    assert!(
        out.stderr.contains("nowhere: No such file"),
        "{}",
        out.stderr
    );
}

#[test]
#[cfg_attr(
    not(is_root),
    ignore = "needs root: goodwill provision chowns the key (CI runs the tests as root)"
)]
fn binaries_that_would_not_run_on_the_card_are_refused() {
    let s = setup();
    let before = snapshot(&s.root);
    let refused = |binary: Option<&Path>, needle: &str| {
        let mut a = vec![
            "provision",
            "--rootfs",
            s.root.to_str().unwrap(),
            "--board",
            "pi4",
            "--main",
            "node1.example.org:7070",
            "--genesis",
            &s.genesis,
        ];
        if let Some(b) = binary {
            a.extend(["--binary", b.to_str().unwrap()]);
        }
        let out = run(&a, 20_000);
        assert_eq!(out.code, Some(1), "{out:#?}");
        assert!(
            out.stderr.contains(needle),
            "{needle:?} not in {}",
            out.stderr
        );
    };
    // Without --binary: this binary, refused unless it is itself for a Pi.
    let own = std::fs::read(common::goodwill_bin()).unwrap();
    let own_arch = elf_arch(&own[..64]).unwrap();
    if !own_arch.runs_on_a_pi() {
        refused(
            None,
            &format!(
                "this goodwill is built for {}, not for a Raspberry Pi: pass --binary FILE",
                own_arch.name()
            ),
        );
    }
    let x86 = s.tmp.path().join("x86");
    write(&x86, &elf(EM_X86_64, b""), 0o755);
    refused(
        Some(&x86),
        "it is built for x86-64; a Raspberry Pi needs aarch64",
    );
    let armhf = s.tmp.path().join("armhf");
    write(&armhf, &elf(EM_ARM, b""), 0o755);
    refused(Some(&armhf), "is built for 32-bit ARM (armhf), but");
    refused(
        Some(&armhf),
        "is a aarch64 system (its /usr/bin/sh): it would not run there",
    );
    let script = s.tmp.path().join("script");
    write(&script, b"#!/bin/sh\necho goodwill\n", 0o755);
    refused(Some(&script), "not an ELF executable");
    assert_eq!(snapshot(&s.root), before, "nothing written");

    // A 32-bit card takes the armhf binary.
    let tmp = tempfile::tempdir().unwrap();
    let root32 = fake_rootfs(tmp.path(), EM_ARM);
    let out = run_ok(
        &[
            "provision",
            "--rootfs",
            root32.to_str().unwrap(),
            "--board",
            "zero2w",
            "--main",
            "10.0.0.4:7070",
            "--genesis",
            &s.genesis,
            "--binary",
            armhf.to_str().unwrap(),
        ],
        60_000,
    );
    assert!(out.stdout.contains("32-bit ARM (armhf)"), "{}", out.stdout);
}

#[test]
#[cfg_attr(
    not(is_root),
    ignore = "needs root: goodwill provision chowns the key (CI runs the tests as root)"
)]
fn bad_arguments_are_named_before_anything_is_written() {
    let s = setup();
    let before = snapshot(&s.root);
    let bad_genesis = s.tmp.path().join("bad-genesis.toml");
    std::fs::write(&bad_genesis, "chain_name = \"x\"\n").unwrap();
    let custom = s.tmp.path().join("custom.toml");
    std::fs::write(&custom, "name = \"custom\"\n").unwrap();
    let base = |board: &str, main: &str, genesis: &str| {
        let out = run(
            &[
                "provision",
                "--rootfs",
                s.root.to_str().unwrap(),
                "--board",
                board,
                "--main",
                main,
                "--genesis",
                genesis,
                "--binary",
                s.binary.to_str().unwrap(),
            ],
            20_000,
        );
        assert_eq!(out.code, Some(1), "{out:#?}");
        out.stderr
    };
    let e = base("pi4", "node1.example.org", &s.genesis);
    assert!(e.contains("--main \"node1.example.org\": no port"), "{e}");
    let e = base("pi6", "node1.example.org:7070", &s.genesis);
    assert!(
        e.contains("--board \"pi6\": not a shipped profile (pi5, pi4, pi3, zero2w, generic, none)"),
        "{e}"
    );
    let e = base(
        custom.to_str().unwrap(),
        "node1.example.org:7070",
        &s.genesis,
    );
    assert!(
        e.contains(custom.to_str().unwrap()) && e.contains("missing field"),
        "{e}"
    );
    let e = base(
        "pi4",
        "node1.example.org:7070",
        bad_genesis.to_str().unwrap(),
    );
    assert!(e.contains("bad-genesis.toml"), "{e}");
    assert_eq!(snapshot(&s.root), before);

    // A custom profile goes to the administrator's directory, by its name.
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("board/pi4.toml"))
            .unwrap()
            .replace("name = \"pi4\"", "name = \"mypi\"");
    std::fs::write(&custom, &text).unwrap();
    run_ok(
        &[
            "provision",
            "--rootfs",
            s.root.to_str().unwrap(),
            "--board",
            custom.to_str().unwrap(),
            "--main",
            "node1.example.org:7070",
            "--genesis",
            &s.genesis,
            "--binary",
            s.binary.to_str().unwrap(),
        ],
        60_000,
    );
    assert_eq!(
        std::fs::read_to_string(s.at("/etc/goodwill/board/mypi.toml")).unwrap(),
        text
    );
    let config = std::fs::read_to_string(s.at(provision::FORGE_CONFIG)).unwrap();
    assert!(config.contains("board = \"mypi\""), "{config}");
}
