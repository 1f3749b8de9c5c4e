//! Files the roles read at start: the genesis (bounded, then validated by
//! [`Genesis::from_file`]).

use std::path::{Path, PathBuf};

use crate::chain::genesis::{ChainParams, Genesis, GenesisError};
use crate::chain::limits;

/// Reads and validates a genesis TOML file (at most
/// [`limits::GENESIS_FILE_BYTES`]).
pub fn load_genesis(path: &Path) -> Result<ChainParams, GenesisError> {
    let text = super::os::read_text_bounded(path, limits::GENESIS_FILE_BYTES).map_err(|e| {
        if e.kind() == std::io::ErrorKind::FileTooLarge {
            GenesisError::Invalid(format!(
                "{}: a genesis file is at most {} bytes",
                path.display(),
                limits::GENESIS_FILE_BYTES
            ))
        } else {
            GenesisError::Io {
                path: path.display().to_string(),
                source: e,
            }
        }
    })?;
    Genesis::from_file(path, &text)
}

/// The forge settings in a TOML file (`goodwill forge --config`): each
/// field is the flag of the same name.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgeFile {
    /// `--data`: the data directory.
    pub data: Option<PathBuf>,
    /// `--genesis`: the genesis file.
    pub genesis: Option<PathBuf>,
    /// `--key`: the key file.
    pub key: Option<PathBuf>,
    #[serde(default)]
    /// `--main`: the main nodes to dial (HOST:PORT each).
    pub main: Vec<String>,
    /// `--board`: a board profile's name or file, or `none`.
    pub board: Option<String>,
    /// `--status-listen`: where `goodwill status` is answered.
    pub status_listen: Option<String>,
    /// `--metrics-listen`: where Prometheus metrics are served.
    pub metrics_listen: Option<String>,
    /// `--clock-check`: `kernel+peers`, `peers` or `off`.
    pub clock_check: Option<String>,
    /// `--storage-retry-s`: how often a failed store is tried again.
    pub storage_retry_s: Option<u64>,
    #[serde(default)]
    /// Weak-subjectivity checkpoints (`HEIGHT:HASH`), beside the genesis'.
    pub checkpoints: Vec<crate::chain::genesis::Checkpoint>,
}
