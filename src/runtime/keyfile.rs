//! Key files: a secret seed and the address it belongs to, written 0600 and
//! never over an existing file, in clear or sealed with a passphrase.
//!
//! A plain key file:
//!
//! ```text
//! # goodwill secret key — whoever reads this file can sign as its address.
//! address = "gw1…"
//! secret = "64 hex digits"
//! ```
//!
//! An encrypted one (`goodwill keygen --encrypt`):
//!
//! ```text
//! # goodwill secret key, sealed with a passphrase (argon2id, XChaCha20-Poly1305).
//! address = "gw1…"
//! kdf = "argon2id"
//! kdf_m_kib = 65536
//! kdf_t = 3
//! kdf_p = 1
//! salt = "32 hex digits"
//! cipher = "xchacha20poly1305"
//! nonce = "48 hex digits"
//! secret_sealed = "96 hex digits"
//! ```
//!
//! The 32-byte seed is sealed with XChaCha20-Poly1305 (24-byte random
//! `nonce`; `secret_sealed` is the ciphertext followed by the 16-byte tag).
//! Its key is argon2id (version 0x13) of the passphrase and the 16-byte random
//! `salt`, with memory `kdf_m_kib` KiB, `kdf_t` passes and `kdf_p` lanes, 32
//! bytes out. The associated data binds the rest of the file:
//!
//! ```text
//! len(tag) ‖ "goodwill/keyfile/v1" ‖ address (32 bytes) ‖ len ‖ "argon2id"
//!   ‖ kdf_m_kib ‖ kdf_t ‖ kdf_p (u32 little-endian each) ‖ salt
//!   ‖ len ‖ "xchacha20poly1305"            (each len one byte)
//! ```
//!
//! and the cipher covers the nonce and the sealed bytes, so changing any
//! field makes opening fail exactly as a wrong passphrase does — the cipher
//! cannot tell those apart, and the error says so. An unknown `kdf` or
//! `cipher` is refused by name.
//!
//! The address stays in clear, so `goodwill address --key` needs no
//! passphrase. Reading takes whatever KDF parameters the file states within
//! [`KdfParams::check`]'s bounds, checked before any memory is allocated.
//!
//! [`read`] asks for the passphrase of an encrypted file in this order:
//! `GOODWILL_PASSPHRASE`, or `GOODWILL_PASSPHRASE_FILE` (a path, e.g. the
//! `$CREDENTIALS_DIRECTORY/…` of systemd's `LoadCredential=`; one trailing
//! newline is dropped), else a prompt without echo when stdin is a terminal,
//! else an error naming both variables.

use std::io::IsTerminal;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

// argon2id is the standard memory-hard KDF for passphrases (RFC 9106), and
// XChaCha20-Poly1305 an AEAD: a wrong passphrase or a damaged file fails the
// tag check instead of yielding a wrong key. Both are RustCrypto crates; the
// 24-byte nonce is safe to draw at random.
use argon2::{Algorithm, Argon2, Version};
use chacha20poly1305::{AeadInOut, KeyInit, XChaCha20Poly1305};
use serde::{Deserialize, Serialize};

use crate::chain::crypto::{Keypair, PublicKey};

/// The variable holding an encrypted key file's passphrase.
pub const PASSPHRASE_VAR: &str = "GOODWILL_PASSPHRASE";
/// The variable naming a file that holds the passphrase (systemd's
/// `LoadCredential=`, or a file only root can read).
pub const PASSPHRASE_FILE_VAR: &str = "GOODWILL_PASSPHRASE_FILE";

/// The only KDF this version reads and writes.
pub const KDF_ARGON2ID: &str = "argon2id";
/// The only cipher this version reads and writes.
pub const CIPHER_XCHACHA20POLY1305: &str = "xchacha20poly1305";

/// Bytes of salt, nonce, seed and tag in an encrypted key file.
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const SEED_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// Largest key file read (either format is ~500 bytes).
const MAX_FILE_LEN: u64 = 4096;
/// Largest passphrase file read.
const MAX_PASSPHRASE_FILE_LEN: u64 = 4096;

/// The domain of the associated data: a new format gets a new tag.
const AD_TAG: &str = "goodwill/keyfile/v1";

/// Why a key file could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file exists: keys are never overwritten.
    #[error("{path} already exists; goodwill never overwrites a key (move it away first if you mean to)")]
    Exists {
        /// The file.
        path: String,
    },
    /// Readable by others than its owner.
    #[error("{path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`")]
    TooOpen {
        /// The file.
        path: String,
        /// Its mode bits.
        mode: u32,
    },
    /// An I/O error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Not a key file, or a damaged one.
    #[error("{path} is not a goodwill key file: {why}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// The path names a directory or something else than a file.
    #[error(
        "{path} is not a goodwill key file: it is {}; give the path of a key file (`goodwill keygen` writes one)",
        not_a_file(*.dir)
    )]
    NotAFile {
        /// The path.
        path: String,
        /// A directory (else a device, a socket…).
        dir: bool,
    },
    /// The secret is another address's than the one the file names.
    #[error(
        "{path} is not a goodwill key file: its secret belongs to {secret_of}, not to the address {named} it names{}",
        if *.sealed { "" } else { ": the file is damaged" }
    )]
    SecretOfAnother {
        /// The file.
        path: String,
        /// The secret's address.
        secret_of: PublicKey,
        /// The address in the file.
        named: PublicKey,
        /// The secret was sealed (whoever sealed it had the passphrase:
        /// a bug, not damage).
        sealed: bool,
    },
    /// The sealed secret did not open.
    #[error("{path}: wrong passphrase, or the file is damaged (the cipher cannot tell which)")]
    WrongPassphrase {
        /// The file.
        path: String,
    },
    /// A KDF or cipher this version does not know.
    #[error("{path} is sealed with {what} {name:?}, which this goodwill does not know (it knows {known:?})")]
    Unsupported {
        /// The file.
        path: String,
        /// `kdf` or `cipher`.
        what: &'static str,
        /// The name in the file.
        name: String,
        /// The one this version knows.
        known: &'static str,
    },
    /// KDF parameters out of bounds: refused before running the KDF.
    #[error("{path}: {why}")]
    KdfParams {
        /// The file.
        path: String,
        /// Which bound.
        why: KdfError,
    },
    /// The file is encrypted and no passphrase could be had.
    #[error("{path} is encrypted and stdin is not a terminal to ask for its passphrase: set {PASSPHRASE_VAR} to the passphrase, or {PASSPHRASE_FILE_VAR} to a file holding it")]
    NoPassphrase {
        /// The file.
        path: String,
    },
    /// The passphrase given is unusable (empty, both variables set, the two
    /// entries differ, its file unreadable).
    #[error("{0}")]
    Passphrase(String),
}

fn not_a_file(dir: bool) -> &'static str {
    if dir {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// The cost of argon2id: memory, passes, lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes over the memory.
    pub t: u32,
    /// Lanes (computed one after another here: they change the result, not the time).
    pub p: u32,
}

impl KdfParams {
    /// What `goodwill keygen --encrypt` uses: 64 MiB, 3 passes, 1 lane.
    /// About 0.1 s on a current x86-64 server core (measured, release build);
    /// aimed at ~1 s on a Raspberry Pi 3 in 64-bit mode (estimated from
    /// its hashing speed, not measured), paid once when a key is read.
    pub const DEFAULT: KdfParams = KdfParams {
        m_kib: 64 * 1024,
        t: 3,
        p: 1,
    };
    /// Most memory a file may ask for: 1 GiB, all a Raspberry Pi 3 has.
    pub const MAX_M_KIB: u32 = 1 << 20;
    /// Most passes.
    pub const MAX_T: u32 = 64;
    /// Most lanes.
    pub const MAX_P: u32 = 16;
    /// Most work, memory × passes: 4 GiB-passes (~20× the default).
    pub const MAX_WORK_KIB: u64 = 4 << 20;

    /// Checks the bounds: cheap, and done before anything is allocated.
    pub fn check(&self) -> Result<(), KdfError> {
        let KdfParams { m_kib, t, p } = *self;
        if !(1..=Self::MAX_P).contains(&p) {
            return Err(KdfError::Lanes(p));
        }
        if t == 0 || t > Self::MAX_T {
            return Err(KdfError::Passes(t));
        }
        if m_kib < 8 * p || m_kib > Self::MAX_M_KIB {
            return Err(KdfError::Memory { m_kib, p });
        }
        let work = u64::from(m_kib) * u64::from(t);
        if work > Self::MAX_WORK_KIB {
            return Err(KdfError::Work(work));
        }
        Ok(())
    }
}

/// KDF parameters out of bounds ([`KdfParams::check`]), or the KDF failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KdfError {
    /// Lanes out of bounds.
    #[error("kdf_p = {0} is outside 1..={max}", max = KdfParams::MAX_P)]
    Lanes(u32),
    /// Passes out of bounds.
    #[error("kdf_t = {0} is outside 1..={max}", max = KdfParams::MAX_T)]
    Passes(u32),
    /// Memory out of bounds.
    #[error("kdf_m_kib = {m_kib} is outside {}..={} (8 KiB per lane, at most 1 GiB)", 8 * .p, KdfParams::MAX_M_KIB)]
    Memory {
        /// The memory asked for (KiB).
        m_kib: u32,
        /// The lanes.
        p: u32,
    },
    /// Memory × passes over the bound.
    #[error("kdf_m_kib × kdf_t = {0} is more work than the bound {max}", max = KdfParams::MAX_WORK_KIB)]
    Work(u64),
    /// argon2id refused the parameters or failed.
    #[error("argon2id: {0}")]
    Argon2(argon2::Error),
}

/// A field of a key file that is not the hex it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} must be {digits} hex digits")]
struct BadHex {
    field: &'static str,
    digits: usize,
}

#[derive(Serialize)]
struct PlainBody {
    address: PublicKey,
    secret: String,
}

#[derive(Serialize)]
struct SealedBody {
    address: PublicKey,
    kdf: &'static str,
    kdf_m_kib: u32,
    kdf_t: u32,
    kdf_p: u32,
    salt: String,
    cipher: &'static str,
    nonce: String,
    secret_sealed: String,
}

/// Either format as read: every field optional, so a missing one gets a
/// message about the format it belongs to.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnyBody {
    address: PublicKey,
    secret: Option<String>,
    kdf: Option<String>,
    kdf_m_kib: Option<u32>,
    kdf_t: Option<u32>,
    kdf_p: Option<u32>,
    salt: Option<String>,
    cipher: Option<String>,
    nonce: Option<String>,
    secret_sealed: Option<String>,
}

/// An encrypted key file, parsed and bounded but not opened.
struct Sealed {
    address: PublicKey,
    params: KdfParams,
    salt: [u8; SALT_LEN],
    nonce: [u8; NONCE_LEN],
    sealed: [u8; SEED_LEN + TAG_LEN],
}

enum Parsed {
    Plain(Keypair),
    Sealed(Sealed),
}

/// Writes `key` to a new file at `path` with mode 0600, in clear.
pub fn write(path: &Path, key: &Keypair) -> Result<(), KeyFileError> {
    create_0600(path, &plain_text(key))
}

/// A plain key file's text.
fn plain_text(key: &Keypair) -> String {
    let body = PlainBody {
        address: key.public(),
        secret: hex::encode(key.seed()),
    };
    format!(
        "# goodwill secret key — whoever reads this file can sign as its address.\n{}",
        toml::to_string(&body).expect("a key file always serialises")
    )
}

/// Writes `key` to a new file at `path` with mode 0600, sealed with
/// `passphrase` at the default cost ([`KdfParams::DEFAULT`]).
pub fn write_encrypted(
    path: &Path,
    key: &Keypair,
    passphrase: impl AsRef<[u8]>,
) -> Result<(), KeyFileError> {
    write_encrypted_with(path, key, passphrase, KdfParams::DEFAULT)
}

/// [`write_encrypted`] at the cost `params` (small ones keep tests fast; a
/// real key wants [`KdfParams::DEFAULT`] or more).
pub fn write_encrypted_with(
    path: &Path,
    key: &Keypair,
    passphrase: impl AsRef<[u8]>,
    params: KdfParams,
) -> Result<(), KeyFileError> {
    let p = path.display().to_string();
    if passphrase.as_ref().is_empty() {
        return Err(KeyFileError::Passphrase(format!(
            "{p}: an empty passphrase protects nothing; write the key without --encrypt instead"
        )));
    }
    params.check().map_err(|why| KeyFileError::KdfParams {
        path: p.clone(),
        why,
    })?;
    let salt = crate::runtime::os::random_bytes();
    let nonce = crate::runtime::os::random_bytes();
    let text = seal(key, passphrase.as_ref(), params, salt, nonce)
        .map_err(|why| KeyFileError::KdfParams { path: p, why })?;
    create_0600(path, &text)
}

/// The text of an encrypted key file with the given salt and nonce (which
/// must be fresh: only the pinned test vector passes fixed ones).
fn seal(
    key: &Keypair,
    passphrase: &[u8],
    params: KdfParams,
    salt: [u8; SALT_LEN],
    nonce: [u8; NONCE_LEN],
) -> Result<String, KdfError> {
    let address = key.public();
    let aead_key = derive_key(passphrase, &salt, params)?;
    let mut sealed = [0u8; SEED_LEN + TAG_LEN];
    sealed[..SEED_LEN].copy_from_slice(&key.seed());
    let tag = XChaCha20Poly1305::new(&aead_key.into())
        .encrypt_inout_detached(
            &nonce.into(),
            &associated_data(&address, &params, &salt),
            (&mut sealed[..SEED_LEN]).into(),
        )
        .expect("32 bytes and a short associated data are within the cipher's limits");
    sealed[SEED_LEN..].copy_from_slice(&tag);
    let body = SealedBody {
        address,
        kdf: KDF_ARGON2ID,
        kdf_m_kib: params.m_kib,
        kdf_t: params.t,
        kdf_p: params.p,
        salt: hex::encode(salt),
        cipher: CIPHER_XCHACHA20POLY1305,
        nonce: hex::encode(nonce),
        secret_sealed: hex::encode(sealed),
    };
    Ok(format!(
        "# goodwill secret key, sealed with a passphrase (argon2id, XChaCha20-Poly1305).\n{}",
        toml::to_string(&body).expect("a key file always serialises")
    ))
}

fn create_0600(path: &Path, text: &str) -> Result<(), KeyFileError> {
    let p = path.display().to_string();
    crate::runtime::os::create_new_file(path, text.as_bytes(), 0o600)
        .map(drop)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => KeyFileError::Exists { path: p },
            _ => KeyFileError::Io { path: p, source },
        })
}

/// Reads a key file, refusing one that others can read or whose address does
/// not match its secret. An encrypted file's passphrase comes from
/// `GOODWILL_PASSPHRASE`, `GOODWILL_PASSPHRASE_FILE` or a prompt (see the
/// module docs).
pub fn read(path: &Path) -> Result<Keypair, KeyFileError> {
    match load(path)? {
        Parsed::Plain(key) => Ok(key),
        Parsed::Sealed(s) => {
            let passphrase = passphrase_for(path)?;
            open(path, &s, &passphrase)
        }
    }
}

/// Reads a key file with `passphrase` for an encrypted one (a plain file is
/// read as [`read`] does, the passphrase unused).
pub fn read_with_passphrase(
    path: &Path,
    passphrase: impl AsRef<[u8]>,
) -> Result<Keypair, KeyFileError> {
    match load(path)? {
        Parsed::Plain(key) => Ok(key),
        Parsed::Sealed(s) => open(path, &s, passphrase.as_ref()),
    }
}

/// The address a key file names, without its passphrase: an encrypted file
/// is checked as far as it can be without opening it (the address, the KDF
/// and cipher, their parameters); a plain one fully, as [`read`] does.
pub fn read_address(path: &Path) -> Result<PublicKey, KeyFileError> {
    Ok(match load(path)? {
        Parsed::Plain(key) => key.public(),
        Parsed::Sealed(s) => s.address,
    })
}

/// The address in a key file's text, checked as [`read_address`] checks a
/// file but whatever the file's mode (`shown` names it in errors): for
/// tools that look at a key without using it, such as `goodwill provision`
/// deciding whether a key found on an SD card is the one it was given.
pub fn address_in(text: &str, shown: &str) -> Result<PublicKey, KeyFileError> {
    Ok(match parse(shown, text)? {
        Parsed::Plain(key) => key.public(),
        Parsed::Sealed(s) => s.address,
    })
}

/// Copies the key file `from` to a new file `to` (mode 0600, never over an
/// existing file) byte for byte, so that an encrypted key stays sealed.
/// `from` is checked first as [`read_address`] checks it; returns the address.
pub fn copy(from: &Path, to: &Path) -> Result<PublicKey, KeyFileError> {
    let (text, parsed) = load_text(from)?;
    let address = match parsed {
        Parsed::Plain(key) => key.public(),
        Parsed::Sealed(s) => s.address,
    };
    create_0600(to, &text)?;
    Ok(address)
}

/// Checks the mode and size, reads and parses the file.
fn load(path: &Path) -> Result<Parsed, KeyFileError> {
    load_text(path).map(|(_, parsed)| parsed)
}

/// [`load`], with the text read.
fn load_text(path: &Path) -> Result<(String, Parsed), KeyFileError> {
    let p = path.display().to_string();
    let io = |source| KeyFileError::Io {
        path: p.clone(),
        source,
    };
    // In the order a person fixes them: the path names a file, the file is
    // a key file, and only then is its mode worth a word (advising `chmod`
    // on a directory or on genesis.toml helps nobody).
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(KeyFileError::NotAFile {
            path: p,
            dir: meta.is_dir(),
        });
    }
    if meta.len() > MAX_FILE_LEN {
        return Err(KeyFileError::Invalid {
            path: p,
            why: format!("{} bytes is too large for a key file", meta.len()),
        });
    }
    let text =
        crate::runtime::os::read_text_bounded(path, MAX_FILE_LEN).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => KeyFileError::Invalid {
                path: p.clone(),
                why: "it is not text".to_string(),
            },
            _ => io(e),
        })?;
    let parsed = parse(&p, &text)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::TooOpen { path: p, mode });
    }
    Ok((text, parsed))
}

fn parse(p: &str, text: &str) -> Result<Parsed, KeyFileError> {
    let invalid = |why: String| KeyFileError::Invalid {
        path: p.to_string(),
        why,
    };
    let body: AnyBody = toml::from_str(text).map_err(|e| {
        invalid(format!(
            "a key file holds `address` and `secret` (or the sealed fields), and this does not: {}",
            e.message()
        ))
    })?;
    body.address
        .validate()
        .map_err(|e| invalid(format!("address {}: {e}", body.address)))?;
    let AnyBody {
        address,
        secret,
        kdf,
        kdf_m_kib,
        kdf_t,
        kdf_p,
        salt,
        cipher,
        nonce,
        secret_sealed,
    } = body;
    let sealed_fields = kdf.is_some()
        || kdf_m_kib.is_some()
        || kdf_t.is_some()
        || kdf_p.is_some()
        || salt.is_some()
        || cipher.is_some()
        || nonce.is_some();
    match (secret, secret_sealed) {
        (Some(_), Some(_)) => Err(invalid(
            "it has both `secret` and `secret_sealed`: the file is damaged".into(),
        )),
        (None, None) => Err(invalid(
            "it has neither `secret` nor `secret_sealed`".into(),
        )),
        (Some(_), None) if sealed_fields => Err(invalid(
            "it has a clear `secret` and encryption fields: the file is damaged".into(),
        )),
        (Some(secret), None) => {
            let seed: [u8; SEED_LEN] =
                decode_hex(&secret, "secret").map_err(|e| invalid(e.to_string()))?;
            let key =
                Keypair::from_seed(seed).map_err(|_| invalid("the secret is all zeros".into()))?;
            if key.public() != address {
                return Err(KeyFileError::SecretOfAnother {
                    path: p.to_string(),
                    secret_of: key.public(),
                    named: address,
                    sealed: false,
                });
            }
            Ok(Parsed::Plain(key))
        }
        (None, Some(secret_sealed)) => {
            let missing = |field: &str| invalid(format!("encrypted, but `{field}` is missing"));
            let kdf = kdf.ok_or_else(|| missing("kdf"))?;
            if kdf != KDF_ARGON2ID {
                return Err(KeyFileError::Unsupported {
                    path: p.to_string(),
                    what: "kdf",
                    name: kdf,
                    known: KDF_ARGON2ID,
                });
            }
            let cipher = cipher.ok_or_else(|| missing("cipher"))?;
            if cipher != CIPHER_XCHACHA20POLY1305 {
                return Err(KeyFileError::Unsupported {
                    path: p.to_string(),
                    what: "cipher",
                    name: cipher,
                    known: CIPHER_XCHACHA20POLY1305,
                });
            }
            let params = KdfParams {
                m_kib: kdf_m_kib.ok_or_else(|| missing("kdf_m_kib"))?,
                t: kdf_t.ok_or_else(|| missing("kdf_t"))?,
                p: kdf_p.ok_or_else(|| missing("kdf_p"))?,
            };
            params.check().map_err(|why| KeyFileError::KdfParams {
                path: p.to_string(),
                why,
            })?;
            Ok(Parsed::Sealed(Sealed {
                address,
                params,
                salt: decode_hex(&salt.ok_or_else(|| missing("salt"))?, "salt")
                    .map_err(|e| invalid(e.to_string()))?,
                nonce: decode_hex(&nonce.ok_or_else(|| missing("nonce"))?, "nonce")
                    .map_err(|e| invalid(e.to_string()))?,
                sealed: decode_hex(&secret_sealed, "secret_sealed")
                    .map_err(|e| invalid(e.to_string()))?,
            }))
        }
    }
}

fn decode_hex<const N: usize>(s: &str, field: &'static str) -> Result<[u8; N], BadHex> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s.trim(), &mut out).map_err(|_| BadHex {
        field,
        digits: 2 * N,
    })?;
    Ok(out)
}

/// Opens a sealed secret: the slow step (the KDF), then the tag check.
fn open(path: &Path, s: &Sealed, passphrase: &[u8]) -> Result<Keypair, KeyFileError> {
    let p = path.display().to_string();
    let aead_key =
        derive_key(passphrase, &s.salt, s.params).map_err(|why| KeyFileError::KdfParams {
            path: p.clone(),
            why,
        })?;
    let mut seed = [0u8; SEED_LEN];
    seed.copy_from_slice(&s.sealed[..SEED_LEN]);
    let tag: &[u8; TAG_LEN] = s.sealed[SEED_LEN..]
        .try_into()
        .expect("the sealed secret is 32 bytes and a 16-byte tag");
    XChaCha20Poly1305::new(&aead_key.into())
        .decrypt_inout_detached(
            &s.nonce.into(),
            &associated_data(&s.address, &s.params, &s.salt),
            (&mut seed[..]).into(),
            &(*tag).into(),
        )
        .map_err(|_| KeyFileError::WrongPassphrase { path: p.clone() })?;
    let invalid = |why: String| KeyFileError::Invalid {
        path: p.clone(),
        why,
    };
    // Both hold only if whoever sealed it had the passphrase: a bug, not an attack.
    let key = Keypair::from_seed(seed).map_err(|_| invalid("the secret is all zeros".into()))?;
    if key.public() != s.address {
        return Err(KeyFileError::SecretOfAnother {
            path: p.clone(),
            secret_of: key.public(),
            named: s.address,
            sealed: true,
        });
    }
    Ok(key)
}

/// argon2id(passphrase, salt) → the 32-byte AEAD key. `params` must have
/// passed [`KdfParams::check`].
fn derive_key(
    passphrase: &[u8],
    salt: &[u8; SALT_LEN],
    params: KdfParams,
) -> Result<[u8; 32], KdfError> {
    let kdf_err = KdfError::Argon2;
    let a = argon2::Params::new(params.m_kib, params.t, params.p, Some(32)).map_err(kdf_err)?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, a)
        .hash_password_into(passphrase, salt, &mut out)
        .map_err(kdf_err)?;
    Ok(out)
}

/// What the AEAD authenticates besides the seed: `len(tag) ‖ tag ‖ address ‖
/// len(kdf) ‖ kdf ‖ m ‖ t ‖ p (u32 little-endian) ‖ salt ‖ len(cipher) ‖
/// cipher`. The nonce and the sealed bytes are covered by the cipher itself.
fn associated_data(address: &PublicKey, params: &KdfParams, salt: &[u8; SALT_LEN]) -> Vec<u8> {
    let mut ad = Vec::with_capacity(128);
    ad.push(AD_TAG.len() as u8);
    ad.extend_from_slice(AD_TAG.as_bytes());
    ad.extend_from_slice(&address.0);
    ad.push(KDF_ARGON2ID.len() as u8);
    ad.extend_from_slice(KDF_ARGON2ID.as_bytes());
    for n in [params.m_kib, params.t, params.p] {
        ad.extend_from_slice(&n.to_le_bytes());
    }
    ad.extend_from_slice(salt);
    ad.push(CIPHER_XCHACHA20POLY1305.len() as u8);
    ad.extend_from_slice(CIPHER_XCHACHA20POLY1305.as_bytes());
    ad
}

/// The passphrase from `GOODWILL_PASSPHRASE` or `GOODWILL_PASSPHRASE_FILE`;
/// None if neither is set.
fn passphrase_from_env() -> Result<Option<Vec<u8>>, KeyFileError> {
    let pass = std::env::var_os(PASSPHRASE_VAR);
    let file = std::env::var_os(PASSPHRASE_FILE_VAR);
    let pass = match (pass, file) {
        (Some(_), Some(_)) => {
            return Err(KeyFileError::Passphrase(format!(
                "both {PASSPHRASE_VAR} and {PASSPHRASE_FILE_VAR} are set: set only one"
            )))
        }
        (None, None) => return Ok(None),
        (Some(pass), None) => pass.as_bytes().to_vec(),
        (None, Some(file)) => {
            let path = Path::new(&file);
            // The mode is not checked: a credential's access is systemd's
            // (its credentials directory, sometimes ACLs), not the mode bits.
            let io = |source| KeyFileError::Io {
                path: format!("{PASSPHRASE_FILE_VAR} {}", path.display()),
                source,
            };
            let len = std::fs::metadata(path).map_err(io)?.len();
            if len > MAX_PASSPHRASE_FILE_LEN {
                return Err(KeyFileError::Passphrase(format!(
                    "{PASSPHRASE_FILE_VAR} {}: {len} bytes is too long for a passphrase",
                    path.display()
                )));
            }
            let mut pass =
                crate::runtime::os::read_bounded(path, MAX_PASSPHRASE_FILE_LEN).map_err(io)?;
            if pass.last() == Some(&b'\n') {
                pass.pop();
                if pass.last() == Some(&b'\r') {
                    pass.pop();
                }
            }
            pass
        }
    };
    if pass.is_empty() {
        return Err(KeyFileError::Passphrase(format!(
            "the passphrase from {PASSPHRASE_VAR} or {PASSPHRASE_FILE_VAR} is empty"
        )));
    }
    Ok(Some(pass))
}

/// The passphrase to open `path`: from the environment, else asked on the
/// terminal.
fn passphrase_for(path: &Path) -> Result<Vec<u8>, KeyFileError> {
    if let Some(pass) = passphrase_from_env()? {
        return Ok(pass);
    }
    if !std::io::stdin().is_terminal() {
        return Err(KeyFileError::NoPassphrase {
            path: path.display().to_string(),
        });
    }
    let pass = prompt(&format!("passphrase for {}: ", path.display()))?;
    if pass.is_empty() {
        return Err(KeyFileError::Passphrase("no passphrase given".into()));
    }
    Ok(pass)
}

/// The passphrase for a new encrypted key at `path` (`goodwill keygen
/// --encrypt`): from the environment, else asked twice on the terminal. An
/// existing `path` is refused first, so nobody types a passphrase for nothing.
pub fn new_passphrase(path: &Path) -> Result<Vec<u8>, KeyFileError> {
    if path.symlink_metadata().is_ok() {
        return Err(KeyFileError::Exists {
            path: path.display().to_string(),
        });
    }
    if let Some(pass) = passphrase_from_env()? {
        return Ok(pass);
    }
    if !std::io::stdin().is_terminal() {
        return Err(KeyFileError::Passphrase(format!(
            "stdin is not a terminal to ask for a passphrase: set {PASSPHRASE_VAR} to the passphrase, or {PASSPHRASE_FILE_VAR} to a file holding it"
        )));
    }
    let first = prompt(&format!("new passphrase for {}: ", path.display()))?;
    if first.is_empty() {
        return Err(KeyFileError::Passphrase(
            "an empty passphrase protects nothing; leave out --encrypt instead".into(),
        ));
    }
    let again = prompt("the same passphrase again: ")?;
    if again != first {
        return Err(KeyFileError::Passphrase(
            "the two passphrases differ; nothing was written".into(),
        ));
    }
    Ok(first)
}

/// Asks on the terminal without echo.
fn prompt(question: &str) -> Result<Vec<u8>, KeyFileError> {
    rpassword::prompt_password(question)
        .map(String::into_bytes)
        .map_err(|source| KeyFileError::Io {
            path: "the terminal".into(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small enough for a debug build's test run.
    const WEAK: KdfParams = KdfParams {
        m_kib: 64,
        t: 1,
        p: 1,
    };

    #[test]
    fn written_0600_read_back_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let k = Keypair::from_seed([3; 32]).unwrap();
        write(&path, &k).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read(&path).unwrap().public(), k.public());
        let other = Keypair::from_seed([4; 32]).unwrap();
        assert!(matches!(
            write(&path, &other),
            Err(KeyFileError::Exists { .. })
        ));
        assert!(matches!(
            write_encrypted_with(&path, &other, "pass", WEAK),
            Err(KeyFileError::Exists { .. })
        ));
        assert_eq!(read(&path).unwrap().public(), k.public());
    }

    #[test]
    fn a_directory_or_another_file_is_named_before_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        std::fs::create_dir(&keys).unwrap();
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = read(&keys).unwrap_err();
        assert!(matches!(e, KeyFileError::NotAFile { dir: true, .. }), "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "{} is not a goodwill key file: it is a directory; give the path of a key file \
                 (`goodwill keygen` writes one)",
                keys.display()
            )
        );

        let genesis = dir.path().join("genesis.toml");
        std::fs::write(&genesis, "chain_name = \"x\"\nslot_ms = 2000\n").unwrap();
        std::fs::set_permissions(&genesis, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read(&genesis).unwrap_err();
        assert!(matches!(e, KeyFileError::Invalid { .. }), "{e}");
        assert!(!e.to_string().contains("chmod"), "{e}");

        let binary = dir.path().join("blob");
        std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x80]).unwrap();
        let e = read(&binary).unwrap_err();
        assert!(matches!(e, KeyFileError::Invalid { .. }), "{e}");
    }

    #[test]
    fn open_or_damaged_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        write(&path, &Keypair::from_seed([3; 32]).unwrap()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let other = Keypair::from_seed([5; 32]).unwrap().public();
        let addr = Keypair::from_seed([3; 32]).unwrap().public();
        std::fs::write(&path, text.replace(&addr.to_string(), &other.to_string())).unwrap();
        let e = read(&path).unwrap_err();
        assert!(
            matches!(
                e,
                KeyFileError::SecretOfAnother { secret_of, named, sealed: false, .. }
                    if secret_of == addr && named == other
            ),
            "{e}"
        );
        assert!(e.to_string().ends_with(": the file is damaged"), "{e}");
        assert!(matches!(
            read_address(&path),
            Err(KeyFileError::SecretOfAnother { .. })
        ));
    }

    #[test]
    fn encrypted_files_are_refused_when_open_to_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let k = Keypair::from_seed([3; 32]).unwrap();
        write_encrypted_with(&path, &k, "pass", WEAK).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        for e in [
            read_with_passphrase(&path, "pass").unwrap_err(),
            read_address(&path).unwrap_err(),
        ] {
            assert!(
                matches!(e, KeyFileError::TooOpen { mode: 0o640, .. }),
                "{e}"
            );
        }
    }

    /// The format pinned: this text, written once by [`seal`] with a fixed
    /// salt and nonce, opens to seed [3; 32] with passphrase "pinned" in
    /// every later version. If it no longer does, the format changed: give it
    /// a new `AD_TAG` and keep reading this one. `secret_sealed` was checked
    /// against an independent implementation (Python's `cryptography`:
    /// Argon2id, then ChaCha20-Poly1305 under an HChaCha20 subkey).
    #[test]
    fn pinned_vector() {
        let k = Keypair::from_seed([3; 32]).unwrap();
        let text = seal(&k, b"pinned", WEAK, [0x11; SALT_LEN], [0x22; NONCE_LEN]).unwrap();
        assert_eq!(text, PINNED);
        let Parsed::Sealed(s) = parse("pinned", PINNED).unwrap() else {
            panic!("the pinned file is encrypted")
        };
        let opened = open(Path::new("pinned"), &s, b"pinned").unwrap();
        assert_eq!(opened.seed(), [3; 32]);
        assert!(matches!(
            open(Path::new("pinned"), &s, b"Pinned"),
            Err(KeyFileError::WrongPassphrase { .. })
        ));
    }

    /// tests/vectors/keyfiles.json, written here byte for byte from its
    /// seed, passphrase, salt and nonce, with its intermediate values.
    #[test]
    fn documented_vectors() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/keyfiles.json")).unwrap();
        let h = |v: &serde_json::Value| hex::decode(v.as_str().unwrap()).unwrap();
        let vectors = doc["vectors"].as_array().unwrap();
        assert_eq!(vectors.len(), 3);
        for v in vectors {
            let seed: [u8; SEED_LEN] = h(&v["seed"]).try_into().unwrap();
            let k = Keypair::from_seed(seed).unwrap();
            assert_eq!(h(&v["public_key"]), k.public().0);
            assert_eq!(v["address"], k.public().to_string());
            let file = v["file"].as_str().unwrap();
            let Some(pass) = v["passphrase"].as_str() else {
                assert_eq!(plain_text(&k), file, "{}", v["name"]);
                continue;
            };
            let n = |f: &str| v[f].as_u64().unwrap() as u32;
            let params = KdfParams {
                m_kib: n("kdf_m_kib"),
                t: n("kdf_t"),
                p: n("kdf_p"),
            };
            let salt: [u8; SALT_LEN] = h(&v["salt"]).try_into().unwrap();
            let nonce: [u8; NONCE_LEN] = h(&v["nonce"]).try_into().unwrap();
            let key = derive_key(pass.as_bytes(), &salt, params).unwrap();
            assert_eq!(h(&v["argon2id_key"]), key.as_slice(), "{}", v["name"]);
            assert_eq!(
                h(&v["associated_data"]),
                associated_data(&k.public(), &params, &salt),
                "{}",
                v["name"]
            );
            let text = seal(&k, pass.as_bytes(), params, salt, nonce).unwrap();
            assert_eq!(text, file, "{}", v["name"]);
        }
    }

    const PINNED: &str = "\
# goodwill secret key, sealed with a passphrase (argon2id, XChaCha20-Poly1305).
address = \"gw1a4yj333g68pvd6hfqvufqkv4vy54jfe6t33ljd3kc9rpfty8xlgs20ls0q\"
kdf = \"argon2id\"
kdf_m_kib = 64
kdf_t = 1
kdf_p = 1
salt = \"11111111111111111111111111111111\"
cipher = \"xchacha20poly1305\"
nonce = \"222222222222222222222222222222222222222222222222\"
secret_sealed = \"6172934770d9aecd87aec70dc429c86e2f7cb4c61937d81015ee2cf72279e447167d0efacf81ec635bbe2df270ad1435\"
";

    #[test]
    fn associated_data_layout() {
        let k = Keypair::from_seed([3; 32]).unwrap().public();
        let ad = associated_data(&k, &WEAK, &[0x11; SALT_LEN]);
        let mut want = vec![19u8];
        want.extend_from_slice(b"goodwill/keyfile/v1");
        want.extend_from_slice(&k.0);
        want.push(8);
        want.extend_from_slice(b"argon2id");
        want.extend_from_slice(&[64, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
        want.extend_from_slice(&[0x11; 16]);
        want.push(17);
        want.extend_from_slice(b"xchacha20poly1305");
        assert_eq!(ad, want);
    }

    #[test]
    fn kdf_bounds() {
        assert_eq!(KdfParams::DEFAULT.check(), Ok(()));
        assert_eq!(WEAK.check(), Ok(()));
        for bad in [
            KdfParams { m_kib: 7, ..WEAK },
            KdfParams {
                m_kib: 15,
                t: 1,
                p: 2,
            },
            KdfParams {
                m_kib: KdfParams::MAX_M_KIB + 1,
                ..WEAK
            },
            KdfParams { t: 0, ..WEAK },
            KdfParams {
                t: KdfParams::MAX_T + 1,
                ..WEAK
            },
            KdfParams { p: 0, ..WEAK },
            KdfParams {
                p: KdfParams::MAX_P + 1,
                m_kib: 1024,
                t: 1,
            },
            KdfParams {
                m_kib: KdfParams::MAX_M_KIB,
                t: 5,
                p: 1,
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
