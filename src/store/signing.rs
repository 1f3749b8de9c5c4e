//! The forger's signing record: the slots each key has signed, so that no
//! key ever signs two headers for one slot — across restarts, crashes and
//! restored backups — and its interchange file, in the spirit of
//! Ethereum's EIP-3076, for moving a key to a new board.
//!
//! ```json
//! {"metadata": {"interchange_format": "goodwill-signing-record",
//!               "interchange_format_version": "1", "chain_id": "<hex>"},
//!  "data": [{"pubkey": "gw1…",
//!            "signed_blocks": [{"slot": "40211", "signing_root": "<hex>"}]}]}
//! ```

use redb::{Database, Durability, ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

use super::{StoreError, SIGNED};
use crate::chain::crypto::{Hash, PublicKey};
use crate::chain::genesis::ChainParams;

/// The interchange format's name.
pub const FORMAT: &str = "goodwill-signing-record";
/// Its version.
pub const FORMAT_VERSION: &str = "1";

/// Why a slot may not be signed, or a record not imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// The slot is at or below one already signed.
    #[error("{key} already signed slot {highest}; refusing to sign slot {slot} (at or below it): that could be a double signature")]
    AlreadySigned {
        /// The key.
        key: PublicKey,
        /// The slot asked for.
        slot: u64,
        /// The highest slot recorded.
        highest: u64,
    },
    /// The interchange file is for another chain or format, or damaged:
    /// none of it is imported.
    #[error("signing record: {0}")]
    Interchange(InterchangeError),
    /// The store failed: fatal.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// Why an interchange file is refused (none of it is imported).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InterchangeError {
    /// Another format, or another version of ours (`goodwill-signing-record` version 1).
    #[error(
        "format {format:?} version {version:?}; this goodwill reads {FORMAT:?} version {FORMAT_VERSION:?}"
    )]
    Format {
        /// The file's `interchange_format`.
        format: String,
        /// The file's `interchange_format_version`.
        version: String,
    },
    /// For another chain than the store's.
    #[error("the file is for chain {file}, this store is chain {store}")]
    OtherChain {
        /// The file's chain.
        file: Hash,
        /// The store's.
        store: Hash,
    },
    /// A slot that is not a decimal number.
    #[error("slot {slot:?} of {key} is not a number")]
    Slot {
        /// The key it was signed with.
        key: PublicKey,
        /// The slot as written.
        slot: String,
    },
}

impl From<redb::Error> for SigningError {
    fn from(e: redb::Error) -> Self {
        SigningError::Storage(StoreError::Db(e))
    }
}

/// The largest interchange file `goodwill signing-record import` reads.
pub const INTERCHANGE_FILE_BYTES: u64 = 64 << 20;

/// The interchange document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interchange {
    /// Format and chain.
    pub metadata: Metadata,
    /// One entry per key.
    pub data: Vec<InterchangeKey>,
}

/// The interchange metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Always [`FORMAT`].
    pub interchange_format: String,
    /// Always [`FORMAT_VERSION`].
    pub interchange_format_version: String,
    /// The chain (hex).
    pub chain_id: Hash,
}

/// One key's signed blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterchangeKey {
    /// The forger's address.
    pub pubkey: PublicKey,
    /// The slots it signed.
    pub signed_blocks: Vec<InterchangeBlock>,
}

/// One signed slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterchangeBlock {
    /// The slot, as a decimal string (as EIP-3076 writes integers).
    pub slot: String,
    /// The hash of the header signed.
    pub signing_root: Hash,
}

fn key_of(pk: &PublicKey, slot: u64) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(&pk.0);
    k[32..].copy_from_slice(&slot.to_be_bytes());
    k
}

fn highest_in<T: ReadableTable<&'static [u8], &'static [u8; 32]>>(
    t: &T,
    pk: &PublicKey,
) -> Result<Option<u64>, StoreError> {
    let lo = key_of(pk, 0);
    let hi = key_of(pk, u64::MAX);
    let last = t.range(lo.as_slice()..=hi.as_slice())?.next_back();
    match last {
        None => Ok(None),
        Some(item) => {
            let (k, _) = item?;
            let k = k.value();
            Ok(Some(u64::from_be_bytes(k[32..40].try_into().map_err(
                |_| StoreError::Corrupt("signing record key is not 40 bytes".into()),
            )?)))
        }
    }
}

pub(super) fn record(
    db: &Database,
    pk: &PublicKey,
    slot: u64,
    root: &Hash,
) -> Result<(), SigningError> {
    let mut w = db.begin_write().map_err(StoreError::from)?;
    w.set_durability(Durability::Immediate)
        .map_err(|e| StoreError::Db(e.into()))?;
    {
        let mut t = w.open_table(SIGNED).map_err(StoreError::from)?;
        if let Some(highest) = highest_in(&t, pk)? {
            if slot <= highest {
                return Err(SigningError::AlreadySigned {
                    key: *pk,
                    slot,
                    highest,
                });
            }
        }
        t.insert(key_of(pk, slot).as_slice(), &root.0)
            .map_err(StoreError::from)?;
    }
    w.commit().map_err(StoreError::from)?;
    Ok(())
}

pub(super) fn last_slot(db: &Database, pk: &PublicKey) -> Result<Option<u64>, StoreError> {
    let r = db.begin_read()?;
    let t = r.open_table(SIGNED)?;
    highest_in(&t, pk)
}

pub(super) fn export(
    db: &Database,
    params: &ChainParams,
    only: Option<&PublicKey>,
) -> Result<Interchange, StoreError> {
    let r = db.begin_read()?;
    let t = r.open_table(SIGNED)?;
    let mut data: Vec<InterchangeKey> = Vec::new();
    for item in t.iter()? {
        let (k, v) = item?;
        let k = k.value();
        if k.len() != 40 {
            return Err(StoreError::Corrupt(
                "signing record key is not 40 bytes".into(),
            ));
        }
        let pk = PublicKey(k[..32].try_into().expect("32 bytes"));
        if only.is_some_and(|o| *o != pk) {
            continue;
        }
        let slot = u64::from_be_bytes(k[32..].try_into().expect("8 bytes"));
        let entry = InterchangeBlock {
            slot: slot.to_string(),
            signing_root: Hash(*v.value()),
        };
        match data.last_mut() {
            Some(last) if last.pubkey == pk => last.signed_blocks.push(entry),
            _ => data.push(InterchangeKey {
                pubkey: pk,
                signed_blocks: vec![entry],
            }),
        }
    }
    Ok(Interchange {
        metadata: Metadata {
            interchange_format: FORMAT.into(),
            interchange_format_version: FORMAT_VERSION.into(),
            chain_id: params.chain_id(),
        },
        data,
    })
}

pub(super) fn import(
    db: &Database,
    params: &ChainParams,
    doc: &Interchange,
) -> Result<usize, SigningError> {
    let m = &doc.metadata;
    if m.interchange_format != FORMAT || m.interchange_format_version != FORMAT_VERSION {
        return Err(SigningError::Interchange(InterchangeError::Format {
            format: m.interchange_format.clone(),
            version: m.interchange_format_version.clone(),
        }));
    }
    if m.chain_id != params.chain_id() {
        return Err(SigningError::Interchange(InterchangeError::OtherChain {
            file: m.chain_id,
            store: params.chain_id(),
        }));
    }
    // Parse every slot before writing anything.
    let mut entries = Vec::new();
    for k in &doc.data {
        for b in &k.signed_blocks {
            let slot: u64 = b.slot.parse().map_err(|_| {
                SigningError::Interchange(InterchangeError::Slot {
                    key: k.pubkey,
                    slot: b.slot.clone(),
                })
            })?;
            entries.push((k.pubkey, slot, b.signing_root));
        }
    }
    let mut w = db.begin_write().map_err(StoreError::from)?;
    w.set_durability(Durability::Immediate)
        .map_err(|e| StoreError::Db(e.into()))?;
    let mut added = 0;
    {
        let mut t = w.open_table(SIGNED).map_err(StoreError::from)?;
        for (pk, slot, root) in entries {
            let key = key_of(&pk, slot);
            // Union: a slot already recorded keeps its root; nothing is removed,
            // so no recorded slot is ever lowered.
            if t.get(key.as_slice()).map_err(StoreError::from)?.is_none() {
                t.insert(key.as_slice(), &root.0)
                    .map_err(StoreError::from)?;
                added += 1;
            }
        }
    }
    w.commit().map_err(StoreError::from)?;
    Ok(added)
}
