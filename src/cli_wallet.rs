//! The command line's wallet, association, data and payment verbs: they
//! sign and submit transactions through a main node, and read back.

use clap::Subcommand;

/// `goodwill wallet …`
#[derive(Debug, Subcommand)]
pub enum WalletCommand {}

/// `goodwill association …`
#[derive(Debug, Subcommand)]
pub enum AssociationCommand {}

/// `goodwill data …`
#[derive(Debug, Subcommand)]
pub enum DataCommand {}

/// `goodwill pay …`
#[derive(Debug, Subcommand)]
pub enum PayCommand {}

/// Runs a wallet verb.
pub fn wallet(cmd: WalletCommand) -> Result<(), String> {
    match cmd {}
}

/// Runs an association verb.
pub fn association(cmd: AssociationCommand) -> Result<(), String> {
    match cmd {}
}

/// Runs a data verb.
pub fn data(cmd: DataCommand) -> Result<(), String> {
    match cmd {}
}

/// Runs a payment verb; `Ok(false)` is "no such payment" (exit status 1).
pub fn pay(cmd: PayCommand) -> Result<bool, String> {
    match cmd {}
}
