//! Block headers: what a forger signs for its slot.
//!
//! A block's hash is the SHA-256 of its header's encoding (the signature is
//! not part of it); the header's signature covers
//! `tag::HEADER ‖ chain id ‖ encode(Header)`. The header also carries the
//! forger's VRF proof for its slot ([`Header::vrf`]): its output is mixed
//! into the next epoch's seed, and the forger cannot choose it. A signed
//! header stands alone (equivocation evidence carries two), so it has its
//! own module below blocks and transactions.

use serde::{Deserialize, Serialize};

use crate::chain::codec::{self, encode, CodecError};
use crate::chain::crypto::{
    self, tag, Hash, Keypair, PublicKey, Signature, SignatureError, VrfOutput, VrfProof,
};
use crate::chain::limits;

/// The header format this code writes and accepts (2: the VRF proof).
pub const VERSION: u16 = 2;

/// A block header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Format version ([`VERSION`]).
    pub version: u16,
    /// The chain.
    pub chain_id: Hash,
    /// 1 for the first block after genesis.
    pub height: u64,
    /// The slot it was forged in.
    pub slot: u64,
    /// The parent block's hash (the chain id for height 1).
    pub parent: Hash,
    /// Merkle root of the transaction ids.
    pub tx_root: Hash,
    /// The ledger state digest after this block.
    pub state_digest: Hash,
    /// The slot's leader, who signs.
    pub forger: PublicKey,
    /// The forger's ECVRF proof (RFC 9381, edwards25519, TAI) over
    /// [`vrf_input`]`(chain id, seed of the slot's epoch, slot)`: its output
    /// goes into the epoch's mix, and so into the next epoch's seed.
    pub vrf: VrfProof,
}

/// The VRF input (`alpha`) of a block in `slot`, whose epoch has `seed`:
/// `len(tag) ‖ tag ‖ chain id ‖ seed ‖ slot (u64 little-endian)`.
pub fn vrf_input(chain_id: &Hash, seed: &Hash, slot: u64) -> Vec<u8> {
    let mut m = crypto::signing_message(tag::VRF, chain_id, &seed.0);
    m.extend_from_slice(&slot.to_le_bytes());
    m
}

/// The epoch mix after a block whose VRF output is `out`:
/// `H(tag::MIX, mix ‖ out)` (RANDAO-style: each block folds in a value its
/// forger could only withhold, never choose).
pub fn mix_vrf(mix: &Hash, out: &VrfOutput) -> Hash {
    Hash::tagged(tag::MIX, &[&mix.0, &out.0])
}

impl Header {
    /// The block hash.
    pub fn hash(&self) -> Hash {
        Hash::of(&[&encode(self)])
    }

    /// Signs with the forger's key.
    pub fn sign(self, key: &Keypair) -> SignedHeader {
        let signature = key.sign(tag::HEADER, &self.chain_id, &encode(&self));
        SignedHeader {
            header: self,
            signature,
        }
    }
}

/// A header with its forger's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedHeader {
    /// The header.
    pub header: Header,
    /// The forger's signature.
    pub signature: Signature,
}

impl SignedHeader {
    /// Checks the forger's signature.
    pub fn verify(&self) -> Result<(), SignatureError> {
        crypto::verify(
            &self.header.forger,
            tag::HEADER,
            &self.header.chain_id,
            &encode(&self.header),
            &self.signature,
        )
    }

    /// Decodes one canonical signed header.
    pub fn from_bytes(bytes: &[u8]) -> Result<SignedHeader, CodecError> {
        codec::decode("header", bytes, limits::HEADER_BYTES)
    }
}
