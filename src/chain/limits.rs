//! The fixed size limits of the chain's formats, checked while decoding.
//! Consensus limits that a chain may tune live in the genesis
//! ([`crate::chain::genesis::Limits`]); the protocol's frame and list bounds
//! in `wire::limits` (the layer above).

/// A transaction's memo.
pub const MEMO: usize = 64;
/// An association's name.
pub const ASSOCIATION_NAME: usize = 64;
/// An association's URL.
pub const ASSOCIATION_URL: usize = 256;
/// The key of a data record.
pub const DATA_KEY: usize = 64;
/// The value of a data record.
pub const DATA_VALUE: usize = 1024;
/// A contract's WebAssembly module (`DeployContract`'s code).
pub const CONTRACT_CODE: usize = 64 * 1024;
/// A contract's deploy or call input.
pub const CONTRACT_INPUT: usize = 1024;
/// A chain's name in the genesis.
pub const CHAIN_NAME: usize = 64;
/// One signed transaction, encoded, but a deploy (the largest other kind,
/// PutData, is ~1.2 KiB).
pub const TX_BYTES: usize = 2048;
/// One signed `DeployContract`, encoded: 64 KiB of code, 1 KiB of input,
/// the rest of the transaction, and headroom.
pub const DEPLOY_TX_BYTES: usize = 68 * 1024;
/// One signed header, encoded.
pub const HEADER_BYTES: usize = 512;
/// Siblings in a Merkle proof: enough for 2^32 leaves.
pub const MERKLE_DEPTH: usize = 32;
/// A node's or forger's TOML configuration file.
pub const CONFIG_FILE_BYTES: u64 = 64 * 1024;
/// A genesis TOML file.
pub const GENESIS_FILE_BYTES: u64 = 4 << 20;
