//! Release manifests (issue 22, its first part): what a release maker
//! signs, and what an appliance checks before it runs a new binary.
//!
//! A manifest names the product, the target triple, the version, a release
//! counter that only goes up, the binary's SHA-256 and size, and when the
//! manifest expires; a release key signs it with ed25519 under its own
//! domain tag ([`TAG`]), so no signature of a transaction, a block or a
//! handshake can ever pass for one. The appliance trusts the keys its
//! configuration lists (several, for rotation) and refuses, by name: an
//! unknown key, a bad signature, another product or target, an expired
//! manifest, a counter not above the one it runs, a release marked bad,
//! and a binary of another size or hash.
//!
//! The file is TOML, readable and diffable (docs/operate.md, "Releases"):
//!
//! ```toml
//! # goodwill release manifest — `goodwill update check` verifies it
//! product = "goodwill"
//! target = "aarch64-unknown-linux-gnu"
//! version = "0.2.0"
//! counter = 7
//! sha256 = "…64 hex digits…"
//! size = 6101336
//! expires_ms = 1798761600000
//! key = "gw1…"
//! signature = "…128 hex digits…"
//! ```
//!
//! The signed bytes are `len(TAG) ‖ TAG ‖ 32 zero bytes ‖ postcard(product,
//! target, version, counter, sha256, size, expires_ms)`: the form of every
//! goodwill signature, with no chain (a release serves every chain).
//! Pure: no file, no clock (the caller gives the time). [`slots`] holds
//! the rule that commits a new release or rolls it back.

pub mod fetch;
pub mod linux;
#[cfg(feature = "fault-injection")]
pub mod marks;
pub mod serve;
pub mod slots;
pub mod watch;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::chain::address;
use crate::chain::codec;
use crate::chain::crypto::{self, Hash, Keypair, PublicKey, Signature};

/// The target triple this binary is built for (build.rs).
pub const THIS_TARGET: &str = env!("GOODWILL_TARGET");

/// The domain tag of a release signature.
pub const TAG: &str = "goodwill/release/v1";
/// The product a manifest must name.
pub const PRODUCT: &str = "goodwill";
/// The most bytes a manifest file may hold (it is read before anything else).
pub const MAX_FILE: usize = 4096;
/// The most bytes of a target name.
pub const MAX_NAME: usize = 64;
/// The most bytes of a version (embedded-svc's `FirmwareInfo.version`
/// holds 24).
pub const MAX_VERSION: usize = 24;

/// What a release maker signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`PRODUCT`].
    pub product: String,
    /// The target triple the binary is built for.
    pub target: String,
    /// Its version, as `goodwill --version` prints it.
    pub version: String,
    /// The release counter: a manifest is taken only with a counter above
    /// the running release's.
    pub counter: u64,
    /// SHA-256 of the binary.
    pub sha256: [u8; 32],
    /// The binary's size in bytes.
    pub size: u64,
    /// The manifest is refused from this instant on (ms since 1970).
    pub expires_ms: u64,
}

/// A manifest with its signer and signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedManifest {
    /// What was signed.
    pub manifest: Manifest,
    /// The release key that signed it.
    pub key: PublicKey,
    /// Its signature.
    pub signature: Signature,
}

/// Why a manifest or a binary is refused. Each names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The file does not read as a manifest.
    #[error("not a release manifest: {0}")]
    Format(String),
    /// Signed by a key this appliance does not trust.
    #[error("signed by {0}, which is not one of this appliance's release keys (update.keys)")]
    UnknownKey(PublicKey),
    /// The signature does not verify.
    #[error("the signature does not verify for {key}: the manifest was changed after signing, or signed by another key")]
    BadSignature {
        /// The key it names.
        key: PublicKey,
    },
    /// Another product's release.
    #[error("a release of {0:?}, not of goodwill")]
    Product(String),
    /// Built for another target.
    #[error("built for {got}, and this appliance is {expected}")]
    Target {
        /// This appliance's target triple.
        expected: String,
        /// The manifest's.
        got: String,
    },
    /// Past its expiry.
    #[error(
        "expired at {expires_ms} ms (now {now_ms} ms): ask the release maker for a fresh manifest"
    )]
    Expired {
        /// When it expired.
        expires_ms: u64,
        /// The time now.
        now_ms: u64,
    },
    /// Not newer than what runs.
    #[error("release counter {counter} is not above the running release's {running}: a downgrade, or this release again")]
    NotNewer {
        /// The manifest's counter.
        counter: u64,
        /// The running release's.
        running: u64,
    },
    /// A release that failed here before.
    #[error("release counter {0} was marked bad on this appliance (it rolled back from it) and is never tried again")]
    MarkedBad(u64),
    /// The binary is not the one signed for: its size.
    #[error(
        "the binary is {got} bytes, the manifest says {expected}: a truncated or other download"
    )]
    Size {
        /// The manifest's size.
        expected: u64,
        /// The binary's.
        got: u64,
    },
    /// The binary is not the one signed for: its hash.
    #[error("the binary's SHA-256 is {got}, the manifest says {expected}")]
    Hash {
        /// The manifest's hash.
        expected: Hash,
        /// The binary's.
        got: Hash,
    },
}

/// What an appliance accepts: its trusted keys, its target, the running
/// release's counter and the counters it marked bad.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// The release keys it trusts.
    pub keys: &'a [PublicKey],
    /// Its target triple.
    pub target: &'a str,
    /// The running release's counter (0: the factory binary).
    pub running: u64,
    /// Counters it rolled back from.
    pub bad: &'a [u64],
}

/// The file's fields, as text.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    product: String,
    target: String,
    version: String,
    counter: u64,
    sha256: String,
    size: u64,
    expires_ms: u64,
    key: String,
    signature: String,
}

impl Manifest {
    /// The manifest of `binary` (its hash and size computed here).
    pub fn of_binary(
        binary: &[u8],
        target: &str,
        version: &str,
        counter: u64,
        expires_ms: u64,
    ) -> Manifest {
        Manifest {
            product: PRODUCT.into(),
            target: target.into(),
            version: version.into(),
            counter,
            sha256: Sha256::digest(binary).into(),
            size: binary.len() as u64,
            expires_ms,
        }
    }

    /// The exact bytes a release key signs.
    pub fn signing_bytes(&self) -> Vec<u8> {
        crypto::signing_message(TAG, &Hash::ZERO, &codec::encode(self))
    }

    /// Signs it with `key`.
    pub fn sign(self, key: &Keypair) -> SignedManifest {
        let signature = key.sign_raw(&self.signing_bytes());
        SignedManifest {
            manifest: self,
            key: key.public(),
            signature,
        }
    }
}

impl SignedManifest {
    /// Its file's text.
    pub fn to_text(&self) -> String {
        let m = &self.manifest;
        let f = File {
            product: m.product.clone(),
            target: m.target.clone(),
            version: m.version.clone(),
            counter: m.counter,
            sha256: hex::encode(m.sha256),
            size: m.size,
            expires_ms: m.expires_ms,
            key: self.key.to_string(),
            signature: hex::encode(self.signature.0),
        };
        format!(
            "# goodwill release manifest — `goodwill update check` verifies it\n{}",
            toml::to_string(&f).expect("a manifest always writes")
        )
    }

    /// Reads a manifest file (at most [`MAX_FILE`] bytes), naming what is
    /// wrong; its signature is checked by [`SignedManifest::check`].
    pub fn from_text(text: &str) -> Result<SignedManifest, ManifestError> {
        let bad = |why: String| ManifestError::Format(why);
        if text.len() > MAX_FILE {
            return Err(bad(format!(
                "{} bytes; a manifest is at most {MAX_FILE}",
                text.len()
            )));
        }
        // toml's message shows the line at fault: kept, on one line.
        let f: File = toml::from_str(text).map_err(|e| {
            bad(e
                .to_string()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" "))
        })?;
        for (name, v, max) in [
            ("target", &f.target, MAX_NAME),
            ("version", &f.version, MAX_VERSION),
        ] {
            if v.is_empty() || v.len() > max {
                return Err(bad(format!("{name} must be 1 to {max} bytes")));
            }
            // Both name a directory on the appliance: no path separators,
            // no leading dot.
            if v.starts_with('.')
                || !v
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b".-_+".contains(&c))
            {
                return Err(bad(format!(
                    "{name} {v:?}: only letters, digits and . - _ + (not first a dot)"
                )));
            }
        }
        let sha256: [u8; 32] = hex::decode(&f.sha256)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("sha256 must be 64 hex digits".into()))?;
        let signature: [u8; 64] = hex::decode(&f.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("signature must be 128 hex digits".into()))?;
        let key = address::parse(&f.key).map_err(|e| bad(format!("key: {e}")))?;
        Ok(SignedManifest {
            manifest: Manifest {
                product: f.product,
                target: f.target,
                version: f.version,
                counter: f.counter,
                sha256,
                size: f.size,
                expires_ms: f.expires_ms,
            },
            key,
            signature: Signature(signature),
        })
    }

    /// Whether `policy` takes this manifest at `now_ms`: a trusted key, a
    /// signature that verifies, this product and target, not expired, a
    /// counter above the running one and not marked bad.
    pub fn check(&self, policy: &Policy<'_>, now_ms: u64) -> Result<(), ManifestError> {
        if !policy.keys.contains(&self.key) {
            return Err(ManifestError::UnknownKey(self.key));
        }
        crypto::verify_raw(&self.key, &self.manifest.signing_bytes(), &self.signature)
            .map_err(|_| ManifestError::BadSignature { key: self.key })?;
        let m = &self.manifest;
        if m.product != PRODUCT {
            return Err(ManifestError::Product(m.product.clone()));
        }
        if m.target != policy.target {
            return Err(ManifestError::Target {
                expected: policy.target.into(),
                got: m.target.clone(),
            });
        }
        if now_ms >= m.expires_ms {
            return Err(ManifestError::Expired {
                expires_ms: m.expires_ms,
                now_ms,
            });
        }
        if policy.bad.contains(&m.counter) {
            return Err(ManifestError::MarkedBad(m.counter));
        }
        if m.counter <= policy.running {
            return Err(ManifestError::NotNewer {
                counter: m.counter,
                running: policy.running,
            });
        }
        Ok(())
    }

    /// Whether a binary of `size` bytes with SHA-256 `sha256` is the one
    /// this manifest was signed for.
    pub fn check_binary(&self, size: u64, sha256: &[u8; 32]) -> Result<(), ManifestError> {
        let m = &self.manifest;
        if size != m.size {
            return Err(ManifestError::Size {
                expected: m.size,
                got: size,
            });
        }
        if *sha256 != m.sha256 {
            return Err(ManifestError::Hash {
                expected: Hash(m.sha256),
                got: Hash(*sha256),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "aarch64-unknown-linux-gnu";

    fn release(counter: u64) -> (Keypair, SignedManifest) {
        let k = Keypair::from_seed([9; 32]).unwrap();
        let m = Manifest::of_binary(b"binary", T, "0.2.0", counter, 2_000);
        (k.clone(), m.sign(&k))
    }

    #[test]
    fn the_signed_bytes_are_as_docs_operate_md_spells_them() {
        let m = Manifest {
            product: "goodwill".into(),
            target: "t".into(),
            version: "1.0".into(),
            counter: 300,
            sha256: [7; 32],
            size: 5,
            expires_ms: 1,
        };
        let mut want = vec![0x13];
        want.extend_from_slice(b"goodwill/release/v1");
        want.extend_from_slice(&[0; 32]);
        want.extend_from_slice(b"\x08goodwill\x01t\x031.0");
        want.extend_from_slice(&[0xac, 0x02]); // 300 as a varint
        want.extend_from_slice(&[7; 32]);
        want.extend_from_slice(&[5, 1]);
        assert_eq!(m.signing_bytes(), want);
    }

    #[test]
    fn a_signed_manifest_reads_back_and_passes() {
        let (k, s) = release(7);
        let text = s.to_text();
        let back = SignedManifest::from_text(&text).unwrap();
        assert_eq!(back, s);
        let keys = [k.public()];
        let p = Policy {
            keys: &keys,
            target: T,
            running: 6,
            bad: &[],
        };
        back.check(&p, 1_000).unwrap();
        back.check_binary(6, &Sha256::digest(b"binary").into())
            .unwrap();
    }

    #[test]
    fn every_refusal_is_named() {
        let (k, s) = release(7);
        let keys = [k.public()];
        let p = Policy {
            keys: &keys,
            target: T,
            running: 6,
            bad: &[],
        };
        let other = Keypair::from_seed([8; 32]).unwrap();
        let by_other = s.manifest.clone().sign(&other);
        assert_eq!(
            by_other.check(&p, 0),
            Err(ManifestError::UnknownKey(other.public()))
        );
        let mut changed = s.clone();
        changed.manifest.counter = 99;
        assert!(matches!(
            changed.check(&p, 0),
            Err(ManifestError::BadSignature { .. })
        ));
        // A transaction's signature over the same bytes never passes: the tag differs.
        let mut wrong_tag = s.clone();
        wrong_tag.signature = k.sign(crypto::tag::TX, &Hash::ZERO, &codec::encode(&s.manifest));
        assert!(matches!(
            wrong_tag.check(&p, 0),
            Err(ManifestError::BadSignature { .. })
        ));
        assert!(matches!(
            s.check(
                &Policy {
                    target: "armv7-unknown-linux-gnueabihf",
                    ..p
                },
                0
            ),
            Err(ManifestError::Target { .. })
        ));
        assert!(matches!(
            s.check(&p, 2_000),
            Err(ManifestError::Expired { .. })
        ));
        assert_eq!(
            s.check(&Policy { running: 7, ..p }, 0),
            Err(ManifestError::NotNewer {
                counter: 7,
                running: 7
            })
        );
        assert_eq!(
            s.check(&Policy { bad: &[7], ..p }, 0),
            Err(ManifestError::MarkedBad(7))
        );
        let mut other_product = s.manifest.clone();
        other_product.product = "evil".into();
        assert_eq!(
            other_product.sign(&k).check(&p, 0),
            Err(ManifestError::Product("evil".into()))
        );
        assert!(matches!(
            s.check_binary(5, &[0; 32]),
            Err(ManifestError::Size {
                expected: 6,
                got: 5
            })
        ));
        assert!(matches!(
            s.check_binary(6, &[0; 32]),
            Err(ManifestError::Hash { .. })
        ));
    }

    #[test]
    fn bad_files_are_refused_by_what_is_wrong() {
        let (_, s) = release(7);
        let text = s.to_text();
        for (from, to, says) in [
            ("counter = 7", "counter = -7", "counter"),
            ("product", "produkt", "produkt"),
            ("sha256 = \"", "sha256 = \"zz", "sha256"),
            ("signature = \"", "signature = \"00", "signature"),
            ("key = \"gw1", "key = \"gw2", "key"),
        ] {
            let bad = text.replacen(from, to, 1);
            let e = SignedManifest::from_text(&bad).unwrap_err().to_string();
            assert!(e.contains(says), "{from} → {to}: {e}");
        }
        let huge = format!("{text}\n#{}", "x".repeat(MAX_FILE));
        assert!(SignedManifest::from_text(&huge).is_err());
        let long = text.replacen("0.2.0", &"9".repeat(MAX_NAME + 1), 1);
        assert!(SignedManifest::from_text(&long)
            .unwrap_err()
            .to_string()
            .contains("version"));
    }
}
