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

/// An appliance's update verbs.
#[derive(Debug, Subcommand)]
pub enum UpdateCommand {
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

/// Runs an update verb: Ok(true) when the release would be taken.
pub fn update(cmd: UpdateCommand) -> Result<bool, String> {
    let UpdateCommand::Check {
        manifest,
        binary,
        trust,
        running,
        target,
        json,
    } = cmd;
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
