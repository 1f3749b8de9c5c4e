//! The formats: what a chain is made of, and nothing that runs it. Pure:
//! no clock, no socket, no file.
//!
//! | module | owns |
//! |---|---|
//! | [`crypto`] | SHA-256, ed25519 keys and signatures, the block VRF (RFC 9381 ECVRF), domain tags: the only door to the ed25519 and VRF code |
//! | [`address`] | `gw1…` addresses (bech32m: a typo is refused, never paid) |
//! | [`codec`] | canonical, bounded postcard encoding; byte strings with a bound in their type |
//! | [`limits`] | every fixed size limit of the formats |
//! | [`amount`] | coins as people write them ↔ units |
//! | [`genesis`] | the genesis, the chain id, every consensus constant, slot/epoch arithmetic, weak-subjectivity checkpoints |
//! | [`tx`] | transactions: kinds, signing, ids, stateless checks |
//! | [`header`] | headers and signed headers: what a forger signs, the VRF input |
//! | [`block`] | blocks: a signed header and its transactions, block hashes |
//! | [`merkle`] | the transaction Merkle tree and inclusion proofs |

pub mod address;
pub mod amount;
pub mod block;
pub mod codec;
pub mod crypto;
pub mod genesis;
pub mod header;
pub mod limits;
pub mod merkle;
pub mod tx;
