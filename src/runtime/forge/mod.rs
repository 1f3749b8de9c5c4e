//! `goodwill forge`: the appliance. It is a node that follows the chain from
//! its main nodes (the same [`crate::peer::core::Core`]) and, when its key
//! leads a slot, forges: see [`crate::peer::core::Core::slot`]. Its pure
//! decisions are in [`crate::peer::forging`]; this module and [`run`] run it:
//! start-up checks, the storage retry, the status port, LEDs and watchdog.

pub mod run;

pub use run::{ForgeConfig, ForgeShared};

/// Where an appliance answers `goodwill status` by default.
pub const DEFAULT_STATUS_LISTEN: &str = "127.0.0.1:7171";

/// The exit status of a forger stopped because another session uses its key:
/// the systemd unit must not restart it (`RestartPreventExitStatus=`).
pub const EXIT_DOPPELGANGER: u8 = 3;
/// The exit status of a forger refused at start (a key with no signing
/// record on a chain that already has blocks, a bad setting).
pub const EXIT_REFUSED: u8 = 2;

/// How often, by default, a forger whose store failed tries it again
/// (`--storage-retry-s`).
pub const STORAGE_RETRY_S: u64 = 30;
/// What the storage probe writes (and removes) before a forger whose store
/// failed starts again: room for this much means the disk has room again.
pub const STORAGE_PROBE_BYTES: usize = 1 << 20;
/// The storage probe's file, in the data directory.
pub const STORAGE_PROBE_FILE: &str = ".goodwill-space-probe";

use std::io::Write;
use std::path::Path;

use crate::chain::crypto::{Hash, Keypair};
use crate::chain::genesis::ChainParams;
use crate::runtime::board::Board;
use crate::store::{Store, StoreError};

/// Whether a forger's store can be used (after it failed, or at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreCheck {
    /// It opens (and, after a failure, the disk has room again).
    Usable,
    /// The disk under it fails (full, read-only, gone, a file-size limit):
    /// waiting may fix it, so the appliance waits in its storage-error state.
    Wait(String),
    /// The store itself is unusable (damaged, another chain's, another
    /// version's): no wait fixes that; the appliance refuses (exit 2).
    Refuse(String),
}

/// Whether a store error is the disk's (an I/O failure, or redb still
/// refusing after one; another handle not yet closed) rather than the
/// store's contents.
pub fn is_io(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Io { .. }
            | StoreError::Db(
                redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::DatabaseAlreadyOpen
            )
    )
}

/// Opens the store in `data` and closes it again: is it usable? With
/// `probe`, also writes [`STORAGE_PROBE_BYTES`] to a file beside it, syncs
/// and removes it: after a failure, an open alone does not show that the
/// disk has room again (opening writes nothing).
pub fn check_store(data: &Path, params: &ChainParams, probe: bool) -> StoreCheck {
    match Store::open_with(data, params, crate::store::Indexes::Skip) {
        Ok(store) => drop(store),
        Err(e) if is_io(&e) => return StoreCheck::Wait(e.to_string()),
        Err(e) => return StoreCheck::Refuse(e.to_string()),
    }
    if !probe {
        return StoreCheck::Usable;
    }
    let path = data.join(STORAGE_PROBE_FILE);
    let written = std::fs::File::create(&path).and_then(|mut f| {
        f.write_all(&vec![0u8; STORAGE_PROBE_BYTES])?;
        f.sync_all()
    });
    // Removed whatever happened: a half-written probe must not fill the disk.
    let removed = std::fs::remove_file(&path);
    match written.and(removed) {
        Ok(()) => StoreCheck::Usable,
        Err(e) => StoreCheck::Wait(format!(
            "{}: no room for {} MiB: {e}",
            path.display(),
            STORAGE_PROBE_BYTES >> 20
        )),
    }
}

/// The board this machine is, from the device tree's model string
/// (`Raspberry Pi 4 Model B Rev 1.4` → `pi4`), or None for anything else.
pub fn detect_board(model: &str) -> Option<&'static str> {
    let m = model.trim_end_matches('\0');
    if !m.starts_with("Raspberry Pi") {
        return None;
    }
    if m.contains("Zero 2") {
        Some("zero2w")
    } else if m.starts_with("Raspberry Pi 5") {
        Some("pi5")
    } else if m.starts_with("Raspberry Pi 4") || m.starts_with("Raspberry Pi Compute Module 4") {
        Some("pi4")
    } else if m.starts_with("Raspberry Pi 3") {
        Some("pi3")
    } else {
        None
    }
}

/// Checks, before the appliance starts, that its key may forge here: a key
/// with no signing record on a chain that already has blocks may have
/// signed elsewhere (a restored backup, a second board), so it is refused
/// unless the operator says the key is new. A key new to the store (an empty
/// one, or vouched for) gets the current slot recorded as its floor:
/// nothing at or before it will ever be signed, and a restart finds a record.
pub fn preflight(
    data: &Path,
    params: &ChainParams,
    key: &Keypair,
    i_know_key_is_new: bool,
    now_ms: u64,
) -> Result<String, Refusal> {
    let store =
        Store::open_with(data, params, crate::store::Indexes::Skip).map_err(|e| Refusal {
            storage: true,
            message: e.to_string(),
        })?;
    preflight_store(&store, key, i_know_key_is_new, now_ms).map_err(|e| Refusal {
        storage: false,
        message: e.to_string(),
    })
}

/// Why [`preflight`] refused.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The store could not be used (damaged, another chain's, unreadable):
    /// the red LED says so.
    pub storage: bool,
    /// What to tell the operator.
    pub message: String,
}

/// Shows the storage-error pattern (red steady) on the board's LEDs before
/// a forger refused at start exits: the LED keeps the level after the
/// process ends (a kernel LED's brightness; a GPIO line as the driver
/// leaves it), so the board says what stopped it. On a board without LEDs
/// the log says what they would show.
pub fn show_storage_error(board: &crate::runtime::board::Board) {
    let state = crate::runtime::led::ApplianceState {
        storage_error: true,
        ..Default::default()
    };
    let now = crate::runtime::os::now_ms();
    if board.leds == crate::runtime::board::LedSource::None {
        log::info!(
            "goodwill forge: LEDs: {}",
            crate::runtime::led::describe(&state, now)
        );
        return;
    }
    match board.open_leds() {
        Ok(mut leds) => {
            if let Err(e) = leds.apply(crate::runtime::led::pattern(&state, now)) {
                log::warn!("goodwill forge: LEDs: {e}");
            }
        }
        Err(e) => log::warn!("goodwill forge: LEDs: {e}"),
    }
}

/// The crash test's hook (built with the `fault-injection` feature only;
/// the shipped binary has neither the hook nor the variable's name): with
/// `GOODWILL_TEST_STALL_AFTER_RECORD=1` in its environment, a forger stops
/// for good between recording a slot and signing it, so that a test can
/// SIGKILL it exactly there and check that the restarted forger never signs
/// that slot. The core calls it (`CoreOptions::after_record`); the
/// variable is read once.
#[cfg(feature = "fault-injection")]
pub fn stall_after_record(slot: u64) {
    static STALL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let stall = *STALL.get_or_init(|| {
        std::env::var_os("GOODWILL_TEST_STALL_AFTER_RECORD").is_some_and(|v| v == "1")
    });
    if stall {
        log::info!("goodwill forge: recorded slot {slot}; stalling before signing (test hook)");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

/// [`preflight`] on an open store (the appliance's, or a simulated one).
pub fn preflight_store(
    store: &Store,
    key: &Keypair,
    i_know_key_is_new: bool,
    now_ms: u64,
) -> Result<String, PreflightError> {
    let params = store.params();
    let tip = store.tip()?;
    let last = store.last_signed_slot(&key.public())?;
    match last {
        Some(s) => Ok(format!("signing record: last signed slot {s}")),
        // A store with no block yet, or a key the operator vouches for: the
        // current slot becomes the key's floor, durably, so a restart after
        // the store has filled finds a record instead of refusing.
        None if tip.height == 0 || i_know_key_is_new => {
            let floor = params.slot_at(now_ms);
            store.record_signature(&key.public(), floor, &Hash::ZERO)?;
            Ok(format!(
                "signing record: none for this key; recorded slot {floor} as its floor ({})",
                if tip.height == 0 {
                    "new store"
                } else {
                    "--i-know-this-key-is-new"
                }
            ))
        }
        None => Err(PreflightError::NoSigningRecord {
            height: tip.height,
            key: key.public(),
        }),
    }
}

/// Why [`preflight_store`] refused a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreflightError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Recording the key's floor failed.
    #[error(transparent)]
    Signing(#[from] crate::store::SigningError),
    /// The chain has blocks but the key has no signing record here: it may
    /// have signed elsewhere.
    #[error("this store's chain has {height} blocks but no signing record for key {key}: if this key ever forged elsewhere (another board, a restored backup), forging here could double-sign. Import its record with `goodwill signing-record import`, or, if the key is new, start once with --i-know-this-key-is-new")]
    NoSigningRecord {
        /// The chain's height.
        height: u64,
        /// The key.
        key: crate::chain::crypto::PublicKey,
    },
}

/// Loads `--board`: a name or file; without one, the detected Raspberry Pi
/// model's profile, or the built-in `none`.
pub fn choose_board(
    arg: Option<&str>,
    model: Option<&str>,
) -> Result<(Board, bool), crate::runtime::board::BoardError> {
    let dirs = Board::default_dirs();
    match arg {
        Some("none") => Ok((Board::none(), false)),
        Some(name) => Board::load(name, &dirs).map(|b| (b, true)),
        None => match model.and_then(detect_board) {
            Some(name) => Board::load(name, &dirs).map(|b| (b, true)),
            None => Ok((Board::none(), false)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boards_are_detected_from_the_model_string() {
        assert_eq!(
            detect_board("Raspberry Pi 4 Model B Rev 1.4\0"),
            Some("pi4")
        );
        assert_eq!(detect_board("Raspberry Pi 5 Model B Rev 1.0"), Some("pi5"));
        assert_eq!(
            detect_board("Raspberry Pi 3 Model B Plus Rev 1.3"),
            Some("pi3")
        );
        assert_eq!(
            detect_board("Raspberry Pi Zero 2 W Rev 1.0"),
            Some("zero2w")
        );
        assert_eq!(detect_board("Raspberry Pi Model B Rev 2"), None);
        assert_eq!(detect_board("QEMU Virtual Machine"), None);
    }
}
