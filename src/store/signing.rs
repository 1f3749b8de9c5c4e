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
//!
//! ## The signing log (`signing.log`, beside the store)
//!
//! The record lives in a small file of its own, not in the chain store: a
//! durable redb commit writes ~20 KiB however small, while one record here
//! is one page written and one `fdatasync`. The file is a ring of
//! [`PAGES`] pages of [`PAGE`] bytes; each record fills the first
//! [`RECORD`] bytes of a page:
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic `GWSIGN01` |
//! | 8..16 | sequence number, little-endian (1, 2, …) |
//! | 16..48 | chain id |
//! | 48..80 | forger key |
//! | 80..88 | slot, little-endian |
//! | 88..120 | signed header's hash |
//! | 120..480 | zeros |
//! | 480..512 | SHA-256 of bytes 0..480 |
//!
//! A page whose checksum fails (a write torn by a power cut: that record's
//! sync never returned, so nothing was signed under it) or that is blank
//! counts as free. A key's highest slot is the largest among its valid
//! records. A new record never overwrites the page holding any key's
//! highest record, its own included, so a torn write can only ever lose a
//! record that no longer matters; a record has a page of its own, so tearing
//! one page never touches another. Stores from before the log kept their
//! record in the store's `signed` table: it is still read (and exported),
//! never written.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use redb::{Database, ReadableDatabase, ReadableTable, StorageBackend};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{StoreError, SIGNED};
use crate::chain::crypto::{Hash, PublicKey};
use crate::chain::genesis::ChainParams;

/// The signing log's file name, in the data directory.
pub const LOG_FILE: &str = "signing.log";
/// Bytes per page of the ring: one record per page, so one torn write
/// touches one record.
pub const PAGE: u64 = 4096;
/// Pages in the ring.
pub const PAGES: u64 = 32;
/// Bytes of one record.
pub const RECORD: usize = 512;
/// The log's size: set at creation (sparse until each page's first record)
/// and written in place, never grown.
pub const LOG_BYTES: u64 = PAGE * PAGES;
const MAGIC: &[u8; 8] = b"GWSIGN01";
/// At most this many entries per key are taken from an interchange file:
/// its newest (only the highest protects; the rest is history).
const IMPORT_PER_KEY: usize = 8;

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
    /// Every page of the signing log holds some key's highest record.
    #[error("the signing log {path} holds the highest record of {PAGES} keys and has no free page: export what you need, move it away and import")]
    Full {
        /// The log's path.
        path: String,
    },
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

/// One valid record of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    seq: u64,
    key: PublicKey,
    slot: u64,
    root: Hash,
}

fn encode_record(chain: &Hash, e: &Entry) -> [u8; RECORD] {
    let mut r = [0u8; RECORD];
    r[..8].copy_from_slice(MAGIC);
    r[8..16].copy_from_slice(&e.seq.to_le_bytes());
    r[16..48].copy_from_slice(&chain.0);
    r[48..80].copy_from_slice(&e.key.0);
    r[80..88].copy_from_slice(&e.slot.to_le_bytes());
    r[88..120].copy_from_slice(&e.root.0);
    let sum = Sha256::digest(&r[..RECORD - 32]);
    r[RECORD - 32..].copy_from_slice(&sum);
    r
}

/// What a page holds: a record, nothing usable (blank or torn), or a
/// record of another chain (an error: the file is not this store's).
enum Page {
    Free,
    Record(Entry),
    OtherChain(Hash),
}

fn decode_record(chain: &Hash, r: &[u8]) -> Page {
    if r.len() < RECORD || &r[..8] != MAGIC {
        return Page::Free;
    }
    let sum = Sha256::digest(&r[..RECORD - 32]);
    if r[RECORD - 32..RECORD] != sum[..] {
        return Page::Free;
    }
    let field = |a: usize| -> [u8; 32] { r[a..a + 32].try_into().expect("32 bytes") };
    let u64_at = |a: usize| u64::from_le_bytes(r[a..a + 8].try_into().expect("8 bytes"));
    let found = Hash(field(16));
    if found != *chain {
        return Page::OtherChain(found);
    }
    Page::Record(Entry {
        seq: u64_at(8),
        key: PublicKey(field(48)),
        slot: u64_at(80),
        root: Hash(field(88)),
    })
}

/// The forger's signing log: the ring file, and what it holds in memory.
pub(super) struct SigningLog {
    path: String,
    chain: Hash,
    /// The store's count of bytes written, which the log's writes join.
    written: Arc<AtomicU64>,
    inner: Mutex<LogState>,
}

struct LogState {
    backend: Box<dyn StorageBackend>,
    /// The ring's pages, as read at open and written since.
    pages: Vec<Option<Entry>>,
    /// Highest slots (and roots) of the store's old `signed` table.
    legacy: BTreeMap<PublicKey, u64>,
    next_seq: u64,
    /// A write or sync failed: nothing more is recorded (as redb refuses
    /// writes after an I/O error).
    failed: bool,
}

impl LogState {
    fn highest(&self, key: &PublicKey) -> Option<u64> {
        let ring = self
            .pages
            .iter()
            .flatten()
            .filter(|e| e.key == *key)
            .map(|e| e.slot)
            .max();
        ring.max(self.legacy.get(key).copied())
    }

    /// The page a new record goes to: the first after the newest that holds
    /// no key's highest record.
    fn free_page(&self) -> Option<usize> {
        let mut pinned = vec![false; self.pages.len()];
        let mut best: BTreeMap<PublicKey, (u64, usize)> = BTreeMap::new();
        for (i, e) in self.pages.iter().enumerate() {
            if let Some(e) = e {
                let b = best.entry(e.key).or_insert((e.slot, i));
                if e.slot > b.0 {
                    *b = (e.slot, i);
                }
            }
        }
        for (_, i) in best.values() {
            pinned[*i] = true;
        }
        let newest = self
            .pages
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.map(|e| (e.seq, i)))
            .max()
            .map_or(0, |(_, i)| i + 1);
        (0..self.pages.len())
            .map(|k| (newest + k) % self.pages.len())
            .find(|i| !pinned[*i])
    }
}

fn io_error(path: &str, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_string(),
        source,
    }
}

impl SigningLog {
    /// Reads the log on `backend` (empty: a new log) and the store's old
    /// `signed` table.
    pub(super) fn open(
        backend: Box<dyn StorageBackend>,
        path: String,
        db: &Database,
        params: &ChainParams,
        written: Arc<AtomicU64>,
    ) -> Result<SigningLog, StoreError> {
        let chain = params.chain_id();
        let len = backend.len().map_err(|e| io_error(&path, e))?;
        let size = LOG_BYTES;
        if len != 0 && len != size {
            return Err(StoreError::Corrupt(format!(
                "{path} is {len} bytes; a signing log is {size}"
            )));
        }
        let mut pages = vec![None; PAGES as usize];
        if len == size {
            let mut buf = vec![0u8; size as usize];
            backend.read(0, &mut buf).map_err(|e| io_error(&path, e))?;
            for (i, page) in buf.chunks(PAGE as usize).enumerate() {
                match decode_record(&chain, page) {
                    Page::Free => {}
                    Page::Record(e) => pages[i] = Some(e),
                    Page::OtherChain(found) => {
                        return Err(StoreError::WrongChain {
                            path,
                            expected: chain,
                            found,
                        })
                    }
                }
            }
        }
        let mut legacy = BTreeMap::new();
        for (key, slot, _) in legacy_entries(db)? {
            let h = legacy.entry(key).or_insert(slot);
            *h = (*h).max(slot);
        }
        let next_seq = pages.iter().flatten().map(|e| e.seq).max().unwrap_or(0) + 1;
        Ok(SigningLog {
            path,
            chain,
            written,
            inner: Mutex::new(LogState {
                backend,
                pages,
                legacy,
                next_seq,
                failed: false,
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LogState> {
        // A panic while holding the lock leaves the state as it was before
        // the write that panicked: the file decides at the next open.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The highest slot recorded for `key`.
    pub(super) fn last_slot(&self, key: &PublicKey) -> Option<u64> {
        self.state().highest(key)
    }

    /// Records `slot` for `key`, durably; refuses a slot at or below its
    /// highest.
    pub(super) fn record(
        &self,
        key: &PublicKey,
        slot: u64,
        root: &Hash,
    ) -> Result<(), SigningError> {
        let mut s = self.state();
        if let Some(highest) = s.highest(key) {
            if slot <= highest {
                return Err(SigningError::AlreadySigned {
                    key: *key,
                    slot,
                    highest,
                });
            }
        }
        self.write(&mut s, &[(*key, slot, *root)])?;
        Ok(())
    }

    /// Writes `entries`, one page and one sync each: a page is chosen
    /// among those that held no key's highest *synced* record.
    fn write(
        &self,
        s: &mut LogState,
        entries: &[(PublicKey, u64, Hash)],
    ) -> Result<(), SigningError> {
        if s.failed {
            return Err(StoreError::Io {
                path: self.path.clone(),
                source: std::io::Error::other("an earlier write to the signing log failed"),
            }
            .into());
        }
        let r = self.write_pages(s, entries);
        if matches!(r, Err(SigningError::Storage(_))) {
            s.failed = true;
        }
        r
    }

    fn write_pages(
        &self,
        s: &mut LogState,
        entries: &[(PublicKey, u64, Hash)],
    ) -> Result<(), SigningError> {
        let io = |e| SigningError::Storage(io_error(&self.path, e));
        let size = LOG_BYTES;
        if s.backend.len().map_err(io)? != size {
            // A new log: sized (zeros) and synced before its first record.
            s.backend.set_len(size).map_err(io)?;
            s.backend.sync_data().map_err(io)?;
        }
        for (key, slot, root) in entries {
            let Some(i) = s.free_page() else {
                return Err(SigningError::Full {
                    path: self.path.clone(),
                });
            };
            let e = Entry {
                seq: s.next_seq,
                key: *key,
                slot: *slot,
                root: *root,
            };
            s.backend
                .write(i as u64 * PAGE, &encode_record(&self.chain, &e))
                .map_err(io)?;
            self.written.fetch_add(RECORD as u64, Ordering::Relaxed);
            s.backend.sync_data().map_err(io)?;
            s.pages[i] = Some(e);
            s.next_seq += 1;
        }
        Ok(())
    }

    /// Every (key, slot, root) known: the log's and the old table's.
    fn entries(&self, db: &Database) -> Result<Vec<(PublicKey, u64, Hash)>, StoreError> {
        let mut all = legacy_entries(db)?;
        all.extend(
            self.state()
                .pages
                .iter()
                .flatten()
                .map(|e| (e.key, e.slot, e.root)),
        );
        all.sort_by_key(|(k, slot, _)| (*k, *slot));
        all.dedup_by_key(|(k, slot, _)| (*k, *slot));
        Ok(all)
    }
}

impl Drop for SigningLog {
    fn drop(&mut self) {
        // Nothing is pending (every record was synced); this only releases
        // the file's lock.
        let _ = self.state().backend.close();
    }
}

/// The store's old `signed` table (stores from before the log).
fn legacy_entries(db: &Database) -> Result<Vec<(PublicKey, u64, Hash)>, StoreError> {
    let r = db.begin_read()?;
    let t = match r.open_table(SIGNED) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for item in t.iter()? {
        let (k, v) = item?;
        let k = k.value();
        if k.len() != 40 {
            return Err(StoreError::Corrupt(
                "signing record key is not 40 bytes".into(),
            ));
        }
        let pk = PublicKey(k[..32].try_into().expect("32 bytes"));
        let slot = u64::from_be_bytes(k[32..].try_into().expect("8 bytes"));
        out.push((pk, slot, Hash(*v.value())));
    }
    Ok(out)
}

pub(super) fn export(
    log: &SigningLog,
    db: &Database,
    params: &ChainParams,
    only: Option<&PublicKey>,
) -> Result<Interchange, StoreError> {
    let mut data: Vec<InterchangeKey> = Vec::new();
    for (pk, slot, root) in log.entries(db)? {
        if only.is_some_and(|o| *o != pk) {
            continue;
        }
        let entry = InterchangeBlock {
            slot: slot.to_string(),
            signing_root: root,
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
    log: &SigningLog,
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
    let mut per_key: BTreeMap<PublicKey, Vec<(u64, Hash)>> = BTreeMap::new();
    for k in &doc.data {
        for b in &k.signed_blocks {
            let slot: u64 = b.slot.parse().map_err(|_| {
                SigningError::Interchange(InterchangeError::Slot {
                    key: k.pubkey,
                    slot: b.slot.clone(),
                })
            })?;
            per_key
                .entry(k.pubkey)
                .or_default()
                .push((slot, b.signing_root));
        }
    }
    // Union: a slot already recorded keeps its root; nothing is removed, so
    // no recorded slot is ever lowered. Of each key, its newest entries.
    let known: std::collections::BTreeSet<(PublicKey, u64)> = log
        .entries(db)?
        .into_iter()
        .map(|(k, slot, _)| (k, slot))
        .collect();
    let mut new = Vec::new();
    for (key, mut slots) in per_key {
        slots.sort_by_key(|(slot, _)| std::cmp::Reverse(*slot));
        slots.dedup_by_key(|(slot, _)| *slot);
        let fresh: Vec<_> = slots
            .into_iter()
            .take(IMPORT_PER_KEY)
            .filter(|(slot, _)| !known.contains(&(key, *slot)))
            .collect();
        // Oldest first, so the ring's order follows the slots.
        new.extend(
            fresh
                .into_iter()
                .rev()
                .map(|(slot, root)| (key, slot, root)),
        );
    }
    if new.is_empty() {
        return Ok(0);
    }
    let mut s = log.state();
    log.write(&mut s, &new)?;
    Ok(new.len())
}
