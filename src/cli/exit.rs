//! Why `goodwill node` or `goodwill forge` ended, and the exit status that
//! tells its supervisor (systemd's `RestartPreventExitStatus=`, a script)
//! what happened: 1 failed (restart), 2 refused to start, 3 doppelganger
//! (do not restart). docs/operate.md lists them.

use crate::runtime::forge::{EXIT_DOPPELGANGER, EXIT_REFUSED};

/// The exit status of a node or forger that stopped on a failure (its
/// supervisor restarts it).
pub const EXIT_FAILED: u8 = 1;

/// What an [`Exit`] carries: the error the user sees after `error: `.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// A node or forger that ended with an error; [`Exit::exit_code`] is the
/// process's exit status. Shows as its cause alone.
#[derive(Debug, thiserror::Error)]
pub enum Exit {
    /// Refused to start: a bad setting, or a store it will not use
    /// (damaged, another chain's). Status [`EXIT_REFUSED`].
    #[error("{0}")]
    Refused(Cause),
    /// Stopped on a failure. Status [`EXIT_FAILED`].
    #[error("{0}")]
    Failed(Cause),
    /// Another session signs with this forger's key. Status
    /// [`EXIT_DOPPELGANGER`].
    #[error("{0}")]
    Doppelganger(String),
}

impl Exit {
    /// A refusal to start.
    pub fn refused(e: impl Into<Cause>) -> Self {
        Exit::Refused(e.into())
    }

    /// A failure while running.
    pub fn failed(e: impl Into<Cause>) -> Self {
        Exit::Failed(e.into())
    }

    /// The process's exit status.
    pub fn exit_code(&self) -> u8 {
        match self {
            Exit::Refused(_) => EXIT_REFUSED,
            Exit::Failed(_) => EXIT_FAILED,
            Exit::Doppelganger(_) => EXIT_DOPPELGANGER,
        }
    }
}
