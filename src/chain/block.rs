//! Blocks: a signed header ([`crate::chain::header`]) and the transactions
//! it commits to. A block's hash is its header's.

use serde::{Deserialize, Serialize};

use crate::chain::codec::{self, encode, CodecError};
use crate::chain::crypto::Hash;
use crate::chain::tx::SignedTransaction;

// The header is its own module (evidence carries signed headers without
// their blocks); its items are a block's, under this path too.
pub use crate::chain::header::{mix_vrf, vrf_input, Header, SignedHeader, VERSION};

/// A block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The signed header.
    pub header: SignedHeader,
    /// The transactions, in the order they apply.
    pub txs: Vec<SignedTransaction>,
}

impl Block {
    /// The block hash (the header's).
    pub fn hash(&self) -> Hash {
        self.header.header.hash()
    }

    /// Height, for messages.
    pub fn height(&self) -> u64 {
        self.header.header.height
    }

    /// The canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes one canonical block of at most `limit` bytes.
    pub fn from_bytes(bytes: &[u8], limit: usize) -> Result<Block, CodecError> {
        codec::decode("block", bytes, limit)
    }
}
