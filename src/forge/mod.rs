//! `goodwill forge`: the appliance. It is a node that follows the chain from
//! its main nodes (the same [`crate::node::core::Core`]) and, when its key
//! leads a slot, forges: see [`crate::node::core::Core::slot`]. This module
//! holds its pure decisions ([`state`]).

pub mod run;
pub mod state;

pub use run::{ForgeConfig, ForgeShared};

/// The exit status of a forger stopped because another session uses its key:
/// the systemd unit must not restart it (`RestartPreventExitStatus=`).
pub const EXIT_DOPPELGANGER: u8 = 3;
/// The exit status of a forger refused at start (a key with no signing
/// record on a chain that already has blocks, a bad setting).
pub const EXIT_REFUSED: u8 = 2;
