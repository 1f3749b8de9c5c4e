//! `goodwill release sign` (the release maker's) and `goodwill update
//! check` (an appliance's, offline): a release manifest signed over a
//! binary, and checked against the keys an appliance trusts
//! ([`crate::runtime::update`], docs/operate.md "Releases").

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use sha2::{Digest, Sha256};

use crate::chain::address;
use crate::runtime::keyfile;
use crate::runtime::update::{Manifest, Policy, SignedManifest, MAX_FILE, THIS_TARGET};

/// The largest binary a release may be (a goodwill binary is ~6 MiB).
pub const MAX_BINARY: u64 = 256 << 20;
/// How long a manifest stays valid by default, in days.
pub const DEFAULT_EXPIRES_DAYS: u64 = 30;

/// The release maker's verbs.
#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Sign a release manifest for a binary: its hash, size, version, a
    /// release counter and an expiry, under the release key.
    Sign {
        /// The release key (a key file; sealed ones ask their passphrase).
        #[arg(long)]
        key: PathBuf,
        /// The binary to release.
        #[arg(long)]
        binary: PathBuf,
        /// Its version (as `goodwill --version` prints it).
        #[arg(long)]
        version: String,
        /// The release counter: above every earlier release's, or
        /// appliances refuse it.
        #[arg(long)]
        counter: u64,
        /// The target triple the binary is built for [default: this
        /// binary's].
        #[arg(long)]
        target: Option<String>,
        /// Days until the manifest expires.
        #[arg(long, default_value_t = DEFAULT_EXPIRES_DAYS)]
        expires_days: u64,
        /// Where to write the manifest (never overwritten) [default:
        /// BINARY.manifest].
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Where an appliance's releases are and which keys it trusts: its
/// forge.toml, or flags.
#[derive(Debug, Clone, clap::Args)]
pub struct Appliance {
    /// The forger's settings file (its `data`, `update_dir` and `[update]`
    /// table are read).
    #[arg(long, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// The update directory [default: the config's update_dir, else
    /// DATA/update].
    #[arg(long)]
    pub update_dir: Option<PathBuf>,
}

/// Where the package puts the forger's settings.
pub const DEFAULT_CONFIG: &str = "/etc/goodwill/forge.toml";

/// An appliance's update verbs.
#[derive(Debug, Subcommand)]
pub enum UpdateCommand {
    /// Install a signed release on this appliance: the manifest checked
    /// against the trusted keys (`[update] keys`), the binary against the
    /// manifest, its selfcheck run; then it runs on trial (the forger
    /// restarts into it in a slot it does not lead) and commits after its
    /// health checks, or rolls back by itself. Run as the forger's user
    /// (`sudo -u goodwill goodwill update apply …`).
    Apply {
        /// The manifest file.
        manifest: PathBuf,
        /// The binary.
        binary: PathBuf,
        /// Where the appliance's releases are.
        #[command(flatten)]
        appliance: Appliance,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Where the releases stand: what runs (or runs next), on trial or
    /// committed, what a rollback returns to, the counters marked bad.
    Status {
        /// Where the appliance's releases are.
        #[command(flatten)]
        appliance: Appliance,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run the factory binary (the package's) again: no release runs or is
    /// returned to; the counters marked bad stay marked. The Debian
    /// package runs it when it is upgraded, so that the package installed
    /// runs rather than an older release taken over the air.
    Reset {
        /// Where the appliance's releases are.
        #[command(flatten)]
        appliance: Appliance,
    },
    /// Give up the running release (on trial or committed): it is marked
    /// bad, the previous one (or the factory binary) runs again; the forger
    /// restarts into it within a few seconds.
    Rollback {
        /// Where the appliance's releases are.
        #[command(flatten)]
        appliance: Appliance,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check a release offline: the manifest's signature by a trusted key,
    /// its product, target, expiry and counter, and that the binary is the
    /// one it was signed for. Exit 0 when it would be taken, 1 when not.
    Check {
        /// The manifest file.
        manifest: PathBuf,
        /// The binary.
        binary: PathBuf,
        /// A trusted release key's address (repeat for several).
        #[arg(long = "trust", required = true)]
        trust: Vec<String>,
        /// The running release's counter (0: the factory binary).
        #[arg(long, default_value_t = 0)]
        running: u64,
        /// The appliance's target triple [default: this binary's].
        #[arg(long)]
        target: Option<String>,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// A file's size and SHA-256, read in pieces (at most [`MAX_BINARY`]).
fn digest_file(path: &Path) -> Result<(u64, [u8; 32]), String> {
    let shown = || path.display().to_string();
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", shown()))?;
    let size = f.metadata().map_err(|e| format!("{}: {e}", shown()))?.len();
    if size > MAX_BINARY {
        return Err(format!(
            "{}: {size} bytes; a release binary is at most {MAX_BINARY}",
            shown()
        ));
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut read = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| format!("{}: {e}", shown()))?;
        if n == 0 {
            break;
        }
        read += n as u64;
        if read > MAX_BINARY {
            return Err(format!(
                "{}: grew past {MAX_BINARY} bytes while read",
                shown()
            ));
        }
        h.update(&buf[..n]);
    }
    Ok((read, h.finalize().into()))
}

/// Runs a release verb.
pub fn release(cmd: ReleaseCommand) -> Result<(), String> {
    let ReleaseCommand::Sign {
        key,
        binary,
        version,
        counter,
        target,
        expires_days,
        out,
    } = cmd;
    if counter == 0 {
        return Err("--counter 0 is the factory binary's: a release counts from 1".into());
    }
    let key = keyfile::read(&key).map_err(|e| e.to_string())?;
    let (size, sha256) = digest_file(&binary)?;
    let now = crate::runtime::os::now_ms();
    let expires_ms = now.saturating_add(expires_days.saturating_mul(86_400_000));
    let manifest = Manifest {
        product: crate::runtime::update::PRODUCT.into(),
        target: target.unwrap_or_else(|| THIS_TARGET.into()),
        version,
        counter,
        sha256,
        size,
        expires_ms,
    };
    let signed = manifest.sign(&key);
    let text = signed.to_text();
    // What is written must read back: a version or target past the bounds
    // is refused here, not on every appliance.
    SignedManifest::from_text(&text).map_err(|e| e.to_string())?;
    let out = out.unwrap_or_else(|| {
        let mut p = binary.clone().into_os_string();
        p.push(".manifest");
        PathBuf::from(p)
    });
    crate::runtime::os::write_new_file(&out, &text).map_err(|e| e.to_string())?;
    let m = &signed.manifest;
    println!(
        "signed {} {} (counter {}, {} bytes, sha256 {}) for {} by {}, valid {expires_days} days: {}",
        m.product,
        m.version,
        m.counter,
        m.size,
        hex::encode(m.sha256),
        m.target,
        signed.key,
        out.display()
    );
    Ok(())
}

/// Runs an update verb: Ok(true) when done (a release taken, checked or
/// rolled back), Ok(false) when refused.
pub fn update(cmd: UpdateCommand) -> Result<bool, String> {
    match cmd {
        UpdateCommand::Check {
            manifest,
            binary,
            trust,
            running,
            target,
            json,
        } => check(manifest, binary, trust, running, target, json),
        UpdateCommand::Apply {
            manifest,
            binary,
            appliance,
            json,
        } => apply(&manifest, &binary, &appliance, json),
        UpdateCommand::Status { appliance, json } => status(&appliance, json),
        UpdateCommand::Rollback { appliance, json } => rollback(&appliance, json),
        UpdateCommand::Reset { appliance } => reset(&appliance),
    }
}

fn reset(a: &Appliance) -> Result<bool, String> {
    use embedded_svc::ota::Ota;
    let u = settings(a)?;
    if crate::runtime::update::linux::SlotStore::existing(&u.dir).is_none() {
        println!("the factory binary runs: no release was ever installed");
        return Ok(true);
    }
    let store = store_of(&u)?;
    let before = store.load().map_err(|e| e.to_string())?;
    let mut ota = crate::runtime::update::linux::LinuxOta::new(
        store,
        before.running(),
        crate::runtime::os::now_ms(),
    );
    ota.factory_reset().map_err(|e| e.to_string())?;
    match &before.current {
        None => println!("the factory binary runs, as before"),
        Some(_) => println!(
            "the factory binary runs from now on (was: {}); the forger restarts into it within seconds",
            release_text(&before.current)
        ),
    }
    Ok(true)
}

/// The appliance's update settings, from its forge.toml and the flags.
fn settings(a: &Appliance) -> Result<crate::runtime::config::UpdateConfig, String> {
    crate::runtime::config::ForgeSettings {
        config: Some(a.config.clone()),
        update_dir: a.update_dir.clone(),
        ..Default::default()
    }
    .over_file()
    .and_then(|s| s.update_config())
    .map_err(|e| e.to_string())
}

/// The update directory, made if missing; refused when this user is not
/// its owner (files made by root could not be replaced by the forger).
fn store_of(
    u: &crate::runtime::config::UpdateConfig,
) -> Result<crate::runtime::update::linux::SlotStore, String> {
    use std::os::unix::fs::MetadataExt;
    let store =
        crate::runtime::update::linux::SlotStore::open(&u.dir).map_err(|e| e.to_string())?;
    let owner = std::fs::metadata(&u.dir)
        .map_err(|e| format!("{}: {e}", u.dir.display()))?
        .uid();
    let me = rustix::process::geteuid().as_raw();
    if owner != me {
        return Err(format!(
            "{} belongs to user id {owner}, and this is user id {me}: run as the forger's user (`sudo -u goodwill goodwill update …`), so that every file stays the forger's",
            u.dir.display()
        ));
    }
    Ok(store)
}

fn release_json(r: &Option<crate::runtime::update::slots::Release>) -> serde_json::Value {
    match r {
        None => serde_json::Value::Null,
        Some(r) => serde_json::json!({
            "version": r.version, "counter": r.counter, "sha256": r.sha256,
        }),
    }
}

fn release_text(r: &Option<crate::runtime::update::slots::Release>) -> String {
    match r {
        None => "the factory binary".into(),
        Some(r) => format!("release {} (counter {})", r.version, r.counter),
    }
}

fn apply(manifest: &Path, binary: &Path, a: &Appliance, json: bool) -> Result<bool, String> {
    use crate::runtime::update::linux::{LinuxOta, UpdateError};
    use embedded_svc::io::Write as _;
    use embedded_svc::ota::{Ota, OtaUpdate};
    let u = settings(a)?;
    if u.keys.is_empty() {
        return Err(format!(
            "no release key is trusted: list the release makers' keys in {} (`[update] keys = [\"gw1…\"]`)",
            a.config.display()
        ));
    }
    let text = crate::runtime::os::read_text_bounded(manifest, MAX_FILE as u64)
        .map_err(|e| format!("{}: {e}", manifest.display()))?;
    let signed =
        SignedManifest::from_text(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let store = store_of(&u)?;
    let slots = store.load().map_err(|e| e.to_string())?;
    let now = crate::runtime::os::now_ms();
    let refused = |why: String| {
        if json {
            println!(
                "{}",
                serde_json::json!({"ok": false, "refused": why, "version": signed.manifest.version, "counter": signed.manifest.counter})
            );
        } else {
            println!("refused: {why}");
        }
        Ok(false)
    };
    let policy = Policy {
        keys: &u.keys,
        target: THIS_TARGET,
        running: slots.running(),
        bad: &slots.bad,
    };
    if let Err(e) = signed.check(&policy, now) {
        return refused(e.to_string());
    }
    if slots.trial.is_some() {
        return refused(crate::runtime::update::slots::InstallError::OnTrial.to_string());
    }
    let mut ota = LinuxOta::new(store, slots.running(), now);
    ota.expect(signed.clone());
    let outcome = (|| -> Result<(), UpdateError> {
        let mut incoming = ota.initiate_update()?;
        let mut f = std::fs::File::open(binary).map_err(|source| UpdateError::Io {
            path: binary.to_path_buf(),
            source,
        })?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(source) => {
                    let _ = incoming.abort();
                    return Err(UpdateError::Io {
                        path: binary.to_path_buf(),
                        source,
                    });
                }
            };
            if let Err(e) = incoming.write_all(&buf[..n]) {
                let _ = incoming.abort();
                return Err(e);
            }
        }
        incoming.complete()
    })();
    match outcome {
        Ok(()) => {}
        Err(
            e @ (UpdateError::Manifest(_)
            | UpdateError::Install(_)
            | UpdateError::SelfCheck(_)
            | UpdateError::Busy(_)),
        ) => return refused(e.to_string()),
        Err(e) => return Err(e.to_string()),
    }
    let m = &signed.manifest;
    let r = &u.rules;
    if json {
        println!(
            "{}",
            serde_json::json!({"ok": true, "version": m.version, "counter": m.counter, "state": "trial"})
        );
    } else {
        println!(
            "applied: release {} (counter {}) is on trial. The forger restarts into it within seconds, in a slot it does not lead; it commits after {} s healthy and {} blocks, or rolls back by itself (after {} starts, or {} s without proving itself). `goodwill update status` follows it.",
            m.version,
            m.counter,
            r.healthy_ms / 1000,
            r.blocks,
            r.max_starts,
            r.trial_ms / 1000
        );
    }
    Ok(true)
}

fn status(a: &Appliance, json: bool) -> Result<bool, String> {
    let u = settings(a)?;
    let slots = match crate::runtime::update::linux::SlotStore::existing(&u.dir) {
        Some(store) => store.load().map_err(|e| e.to_string())?,
        None => Default::default(),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "dir": u.dir.display().to_string(),
                "current": release_json(&slots.current),
                "trial": slots.trial.map(|t| serde_json::json!({"starts": t.starts, "since_ms": t.since_ms})),
                "previous": release_json(&slots.previous),
                "bad": slots.bad,
                "rolled_back": slots.rolled_back,
                "keys": u.keys.iter().map(ToString::to_string).collect::<Vec<_>>(),
            }))
            .expect("serialises")
        );
        return Ok(true);
    }
    println!("releases in {}", u.dir.display());
    match (&slots.current, slots.trial) {
        (_, Some(t)) if t.starts == 0 => println!(
            "runs next: {} — on trial, not started yet (the forger restarts into it within seconds)",
            release_text(&slots.current),
        ),
        (_, Some(t)) => println!(
            "runs:     {} — on trial, start {} of {}",
            release_text(&slots.current),
            t.starts,
            u.rules.max_starts
        ),
        (_, None) => println!("runs:     {}", release_text(&slots.current)),
    }
    if slots.current.is_some() {
        println!("rollback: to {}", release_text(&slots.previous));
    }
    if let Some(c) = slots.rolled_back {
        println!("rolled back from counter {c} (the red LED's heartbeat, until another release is installed)");
    }
    if !slots.bad.is_empty() {
        println!("marked bad (never taken again): counters {:?}", slots.bad);
    }
    if u.keys.is_empty() {
        println!(
            "trusted release keys: none (`[update] keys` in {}): no release can be applied",
            a.config.display()
        );
    } else {
        for k in &u.keys {
            println!("trusted release key: {k}");
        }
    }
    Ok(true)
}

fn rollback(a: &Appliance, json: bool) -> Result<bool, String> {
    let u = settings(a)?;
    let store = store_of(&u)?;
    let (from, to) = store
        .change(|s| (s.give_up(), s.current.clone()))
        .map_err(|e| e.to_string())?;
    let Some(from) = from else {
        if json {
            println!(
                "{}",
                serde_json::json!({"ok": false, "refused": "the factory binary runs: nothing to roll back"})
            );
        } else {
            println!("refused: the factory binary runs: there is no release to roll back");
        }
        return Ok(false);
    };
    if json {
        println!(
            "{}",
            serde_json::json!({"ok": true, "from": release_json(&Some(from)), "to": release_json(&to)})
        );
    } else {
        println!(
            "rolled back from {} (marked bad, never taken again) to {}; the forger restarts into it within seconds",
            release_text(&Some(from)),
            release_text(&to)
        );
    }
    Ok(true)
}

fn check(
    manifest: PathBuf,
    binary: PathBuf,
    trust: Vec<String>,
    running: u64,
    target: Option<String>,
    json: bool,
) -> Result<bool, String> {
    let keys = trust
        .iter()
        .map(|t| address::parse(t).map_err(|e| format!("--trust: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let text = crate::runtime::os::read_text_bounded(&manifest, MAX_FILE as u64)
        .map_err(|e| format!("{}: {e}", manifest.display()))?;
    let signed =
        SignedManifest::from_text(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let (size, sha256) = digest_file(&binary)?;
    let target = target.unwrap_or_else(|| THIS_TARGET.into());
    let policy = Policy {
        keys: &keys,
        target: &target,
        running,
        bad: &[],
    };
    let verdict = signed
        .check(&policy, crate::runtime::os::now_ms())
        .and_then(|()| signed.check_binary(size, &sha256));
    let m = &signed.manifest;
    if json {
        let v = serde_json::json!({
            "ok": verdict.is_ok(),
            "refused": verdict.as_ref().err().map(ToString::to_string),
            "version": m.version,
            "counter": m.counter,
            "target": m.target,
            "size": m.size,
            "sha256": hex::encode(m.sha256),
            "expires_ms": m.expires_ms,
            "key": signed.key.to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("serialises"));
    } else {
        match &verdict {
            Ok(()) => println!(
                "ok: {} {} (counter {}) for {}, signed by {}; the binary matches",
                m.product, m.version, m.counter, m.target, signed.key
            ),
            Err(e) => println!("refused: {e}"),
        }
    }
    Ok(verdict.is_ok())
}
