//! Key files: a secret seed and the address it belongs to, written 0600 and
//! never over an existing file.
//!
//! ```text
//! # goodwill secret key — whoever reads this file can sign as its address.
//! address = "gw1…"
//! secret = "64 hex digits"
//! ```

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::crypto::{Keypair, PublicKey};

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
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileBody {
    address: PublicKey,
    secret: String,
}

/// Writes `key` to a new file at `path` with mode 0600.
pub fn write(path: &Path, key: &Keypair) -> Result<(), KeyFileError> {
    let p = path.display().to_string();
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => KeyFileError::Exists { path: p.clone() },
            _ => KeyFileError::Io {
                path: p.clone(),
                source,
            },
        })?;
    let body = KeyFileBody {
        address: key.public(),
        secret: hex::encode(key.seed()),
    };
    let text = format!(
        "# goodwill secret key — whoever reads this file can sign as its address.\n{}",
        toml::to_string(&body).expect("a key file always serialises")
    );
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|source| KeyFileError::Io { path: p, source })
}

/// Reads a key file, refusing one that others can read or whose address does
/// not match its secret.
pub fn read(path: &Path) -> Result<Keypair, KeyFileError> {
    let p = path.display().to_string();
    let io = |source| KeyFileError::Io {
        path: p.clone(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::TooOpen { path: p, mode });
    }
    if meta.len() > 4096 {
        return Err(KeyFileError::Invalid {
            path: p,
            why: format!("{} bytes is too large for a key file", meta.len()),
        });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let invalid = |why: String| KeyFileError::Invalid {
        path: p.clone(),
        why,
    };
    let body: KeyFileBody = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let mut seed = [0u8; 32];
    hex::decode_to_slice(body.secret.trim(), &mut seed)
        .map_err(|_| invalid("secret must be 64 hex digits".into()))?;
    let key = Keypair::from_seed(seed).map_err(|_| invalid("the secret is all zeros".into()))?;
    if key.public() != body.address {
        return Err(invalid(format!(
            "its secret belongs to {}, not to the address {} it names: the file is damaged",
            key.public(),
            body.address
        )));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(read(&path).unwrap().public(), k.public());
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
        let other = Keypair::from_seed([5; 32]).unwrap().public().to_string();
        let addr = Keypair::from_seed([3; 32]).unwrap().public().to_string();
        std::fs::write(&path, text.replace(&addr, &other)).unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("damaged"), "{e}");
    }
}
