//! The chain store: two redb files per node, one holding blocks, the
//! canonical chain, indexes, side branches and the chain-event log
//! ([`FILE_NAME`]), one holding the ledger state and its undo records
//! ([`STATE_FILE_NAME`]), beside the forger's signing record.
//!
//! Durability: importing a block (or switching branches) is one write
//! transaction in each file, the blocks' first, so a node killed at any
//! instant reopens on a consistent tip (a main node may follow it with a
//! third commit, merging its index runs: `src/store/index.rs`).
//! A main node commits its blocks with `Durability::Immediate`; a forger's
//! store makes every n-th durable ([`Store::set_durable_every`]) and may
//! lose the ones between to a crash. The state is durable only with its
//! blocks, never ahead of them: on a main node every
//! [`STATE_DURABLE_BLOCKS`]th block, on a forger's with each durable commit.
//! Where a crash leaves it behind the blocks (or on a branch they left),
//! opening takes it back with its undo records and applies the stored
//! blocks again (`Store::catch_up`). The signing record is a file of its own
//! (`signing.log`, laid out in `src/store/signing.rs`), durable before every signature. A storage error is returned as
//! [`StoreError`] and is fatal: the caller stops; the store is never used
//! again after one (redb refuses further writes with `PreviousIo`).
//!
//! Tables (keys are big-endian where order matters), in the blocks' file:
//!
//! | table | key → value |
//! |---|---|
//! | `meta` | "schema", "chain_id", "genesis", "contracts" (a chain with contracts) → bytes |
//! | `blocks` | block hash → encoded block (side blocks; every block of a pruning store), or empty: its bytes in `block_parts` |
//! | `block_parts` | (block hash, number) → up to 4,048 bytes of a big block |
//! | `body_stream` | part number → up to 4,080 bytes of the canonical bodies, end to end (a store that keeps every body) |
//! | `body_places` | block hash → (offset in `body_stream`, length) |
//! | `canon` | height → block hash |
//! | `side` | height ‖ hash → () (side-branch blocks within finality) |
//! | `index_runs` | first height → index run head (main nodes; `src/store/runs.rs`) |
//! | `index_chunks` | (first, last, section, number) → sorted index entries |
//! | `tx_spans` | (height, number) → where the canonical block's transactions lie in its body (first start, then each end; main nodes) |
//! | `balance_residual` | height → the balance changes of its transactions that no rule tells (main nodes; [`ledger::balances`]); absent when there are none |
//! | `signed` | forger key ‖ slot → header hash (the signing record of stores from before `signing.log`: read, never written) |
//! | `chain_events` | sequence number → connected flag ‖ height ‖ block hash (main nodes only) |
//!
//! and in the state's file (in the blocks' file up to schema 3, moved at
//! open):
//!
//! | table | key → value |
//! |---|---|
//! | `state` | encoded [`StateKey`] → encoded [`StateValue`] |
//! | `undo` | block hash → encoded [`StateChanges`] (last `finality_depth` blocks) |

mod backend;
mod bodies;
mod door;
mod index;
pub mod runs;
mod signing;

pub use backend::{CountingFile, CrashKind, SimDisk};
pub use door::MARKER;
pub use signing::{
    Interchange, InterchangeBlock, InterchangeError, InterchangeKey, SigningError,
    INTERCHANGE_FILE_BYTES, LOG_BYTES, LOG_FILE,
};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, StorageBackend,
    TableDefinition, TableHandle, WriteTransaction,
};

use crate::chain::block::Block;
use crate::chain::codec::{self, encode};
use crate::chain::crypto::{Hash, PublicKey};
use crate::chain::genesis::{ChainParams, Genesis};
use crate::chain::merkle;
use crate::chain::tx::{SignedTransaction, TxKind};
use crate::ledger::balances::{self, BlockBalances};
use crate::ledger::fork::{self, Decision, Head};
use crate::ledger::state::{
    MemState, Proposal, ReadError, Receipt, StateChanges, StateKey, StateRead, StateReadExt,
    StateValue, Tip,
};
use crate::ledger::{self, BlockError, Parallelism};

/// The most block bodies one import prunes ([`Store::set_pruning`]).
pub const PRUNE_PER_BLOCK: u64 = 64;

/// redb's page cache for a store without indexes (a forger's state file;
/// its blocks' file gets a quarter). redb's default bound is 1 GiB, which a
/// forger that synced a long chain filled with pages it would never read
/// again. The pages the block commits between two durable ones write are
/// held apart from it ([`HOLD_WRITES_BYTES`]), and the bodies a forger keeps
/// are the last few, so this cache holds what is read: synced to a million
/// transactions a forger held 18.5 MiB with 4 MiB here and 17.2 with 1 MiB,
/// its writes per block the same (docs/performance.md, "Bodies pruned
/// within the durable interval"). redb gives up to half of it to its own
/// write buffer, which absorbs pages written and freed within a few blocks.
pub const LEAN_CACHE_BYTES: usize = 1 << 20;
/// A store without indexes (a forger's) holds what redb writes to each of
/// its two files between durable commits in memory, up to this many bytes
/// a file (`backend::HoldWrites`): the commits between rewrite the same
/// state leaves, and an SD card wears by the bytes written. At the durable
/// commit they are written once, in offset order, then synced. The durable
/// commit comes every [`crate::peer::policy::FORGER_DURABLE_BLOCKS`] blocks
/// or [`HELD_BYTES`] of blocks; a chain whose blocks between touch more
/// than this many bytes of pages has them written out early (not synced).
pub const HOLD_WRITES_BYTES: usize = 16 << 20;

/// The held pages are kept in allocations of this size (32 pages), which a
/// forger has the allocator map apart and give back to the kernel as a
/// whole when freed (`runtime::os::big_allocations_apart`). Allocated one
/// by one, the 4 KiB pages each straddled two of the kernel's pages between
/// live allocations and stayed resident after they were freed: a forger
/// synced to 5,000 blocks kept 2 MiB of them.
pub const HELD_SLAB_BYTES: usize = 128 * 1024;
/// `meta` key: the lowest height whose block body is kept (absent: 1, all).
const BLOCKS_FROM: &str = "blocks_from";

fn blocks_from_in(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<u64, StoreError> {
    meta_u64(meta, BLOCKS_FROM, 1)
}

/// A `meta` value that is a u64 (little-endian), `absent` when missing.
fn meta_u64(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
    absent: u64,
) -> Result<u64, StoreError> {
    match meta.get(key)? {
        None => Ok(absent),
        Some(v) => Ok(u64::from_le_bytes(v.value().try_into().map_err(|_| {
            StoreError::Corrupt(format!("meta {key} is not 8 bytes"))
        })?)),
    }
}

/// The on-disk format version this code reads and writes.
pub const SCHEMA_VERSION: u32 = 5;
/// The file inside a data directory.
pub const FILE_NAME: &str = "goodwill.redb";
/// The state's own file beside it (schema 4, issue 18): the ledger state
/// and its undo records. Each block's commit to it follows the commit of
/// the block to [`FILE_NAME`], and a main node makes it durable only every
/// [`STATE_DURABLE_BLOCKS`] blocks: the state's random keys land on most
/// of its leaves in every block, and the commits between rewrite the same
/// leaves in memory. After a crash the state may lag the blocks; opening
/// applies the blocks it lacks again (`Store::catch_up`).
pub const STATE_FILE_NAME: &str = "state.redb";
/// A main node makes its state file durable every this many blocks (its
/// blocks, each block): a power cut costs at most this many blocks applied
/// again at the next open, never a block. A store that prunes bodies (a
/// forger's) makes its state durable with every durable commit of its
/// blocks instead (a crash between the two takes its blocks back to the
/// state: `Store::catch_up`).
pub const STATE_DURABLE_BLOCKS: u64 = 64;
/// A store that holds block commits in memory ([`Store::set_durable_every`])
/// makes the commit durable that would bring the blocks held to this many
/// encoded bytes: what a crash makes it fetch and apply again, the block
/// bodies a pruned store keeps for that, and redb's write buffer stay
/// bounded when blocks are big (at most 3 full blocks of the default 2 MiB
/// limit held), while small blocks are held by count
/// ([`crate::peer::policy::FORGER_DURABLE_BLOCKS`]).
pub const HELD_BYTES: u64 = 8 << 20;
/// Bound on one stored state value or undo record when read back.
const VALUE_LIMIT: usize = 64 << 20;
/// Bound on one stored block when read back.
const BLOCK_LIMIT: usize = 64 << 20;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const BLOCKS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("blocks");
const CANON: TableDefinition<u64, &[u8; 32]> = TableDefinition::new("canon");
const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
const UNDO: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("undo");
const SIDE: TableDefinition<&[u8], ()> = TableDefinition::new("side");
/// The indexes of schema 2 (random-key B-trees), dropped when a store is
/// reindexed at open.
const OLD_INDEXES: [&str; 3] = ["txs", "account_txs", "records"];
pub(crate) const SIGNED: TableDefinition<&[u8], &[u8; 32]> = TableDefinition::new("signed");
/// The chain-event log: one entry per block connected to or disconnected
/// from the canonical chain, numbered from 1 in the order it happened,
/// written in the write transaction that moved the chain (see
/// [`ChainEvent`]). Kept by indexed (main node) stores only.
const CHAIN_EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("chain_events");
/// Bytes of one chain-event entry: connected flag, height, hash.
const CHAIN_EVENT_BYTES: usize = 1 + 8 + 32;

/// A failure of the store itself: fatal for the process.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// redb (or the disk under it) failed.
    #[error("storage: {0}")]
    Db(#[from] redb::Error),
    /// Stored bytes do not decode: the file is damaged.
    #[error("storage is corrupt: {0}")]
    Corrupt(String),
    /// The store belongs to another chain.
    #[error(
        "{path} holds chain {found}, not {expected}: use another --data directory for this genesis"
    )]
    WrongChain {
        /// The file.
        path: String,
        /// The genesis given.
        expected: Hash,
        /// The one in the store.
        found: Hash,
    },
    /// Made by another version of goodwill.
    #[error("{path} has schema version {found}; this goodwill reads version {SCHEMA_VERSION}")]
    Schema {
        /// The file.
        path: String,
        /// The version found.
        found: u32,
    },
    /// A file-system error around the store (the directory, the file).
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// `open_existing` on a directory with no store.
    #[error("{0} holds no goodwill store")]
    Missing(String),
    /// The data directory is not a directory.
    #[error("{0} is not a directory: --data names the directory that holds the store")]
    NotADirectory(String),
    /// The store file is damaged (zeroed, emptied, unreadable, or its last
    /// blocks do not check out): refused, never started afresh.
    #[error("{path} is damaged: {why}. {}", door::way_back(path))]
    Damaged {
        /// The file.
        path: String,
        /// What was found.
        why: String,
    },
    /// A lean store (a forger's) keeps no transaction, account or record
    /// indexes.
    #[error("this store keeps no transaction, account or record indexes (a forger's store): ask a main node")]
    NotIndexed,
    /// The stored chain contradicts a checkpoint the node was given.
    #[error("{path} follows a chain that contradicts checkpoint {height}:{expected} (it holds {found} at height {height}): it is not the chain you trusted; check the checkpoint, or move this store away and sync again")]
    Checkpoint {
        /// The file.
        path: String,
        /// The checkpoint's height.
        height: u64,
        /// The checkpoint's hash.
        expected: Hash,
        /// The stored block at that height.
        found: Hash,
    },
}

/// Whether a store keeps the transaction, account and record indexes. Main
/// nodes do (they answer queries); a forger need not, and on an SD card it
/// should not: those randomly keyed inserts are most of what a full block
/// writes (see docs/performance.md). Chosen when the store is created; the
/// file remembers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indexes {
    /// Keep them (main nodes).
    Keep,
    /// Skip them (forgers).
    Skip,
}

/// `From` conversions from redb's error types, through [`StoreError::Db`].
macro_rules! from_redb {
    ($target:ident: $($t:ty),*) => {$(
        impl From<$t> for $target {
            fn from(e: $t) -> Self {
                $target::from(StoreError::Db(e.into()))
            }
        }
    )*};
}
from_redb!(
    StoreError: redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<ReadError> for StoreError {
    fn from(e: ReadError) -> Self {
        StoreError::Corrupt(e.0)
    }
}

/// Why a block was not imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The block (or the branch it completes) breaks a ledger rule.
    #[error(transparent)]
    Invalid(#[from] BlockError),
    /// Its parent is unknown: sync the blocks before it first.
    #[error("block {height} ({hash}): parent {parent} is unknown")]
    UnknownParent {
        /// Its height.
        height: u64,
        /// Its hash.
        hash: Hash,
        /// The missing parent.
        parent: Hash,
    },
    /// It forks off at or below the finalized height.
    #[error("block {height} ({hash}) forks below finality: it would undo {undo} blocks, the finality depth is {finality_depth}")]
    BeyondFinality {
        /// Its height.
        height: u64,
        /// Its hash.
        hash: Hash,
        /// How many blocks it would undo.
        undo: u64,
        /// The limit.
        finality_depth: u64,
    },
    /// A header that cannot belong where it claims (side branches are checked
    /// for this much before they are stored).
    #[error("block {height} ({hash}): {why}")]
    BadSideBlock {
        /// Its height.
        height: u64,
        /// Its hash.
        hash: Hash,
        /// What is wrong.
        why: String,
    },
    /// Its slot has not started yet on this node's clock (give or take the
    /// chain's allowed drift): a block from the future, refused on every
    /// path a block arrives by — gossip, sync answers, side branches.
    #[error("block {height} ({hash}): slot {slot} starts {ahead_ms} ms ahead of this node's clock (drift allowed: {drift_ms} ms)")]
    Early {
        /// Its height.
        height: u64,
        /// Its hash.
        hash: Hash,
        /// Its slot.
        slot: u64,
        /// How far its slot's start is ahead of the clock (ms).
        ahead_ms: u64,
        /// The drift allowed.
        drift_ms: u64,
    },
    /// It sits at a checkpoint's height with another hash: its chain is not
    /// the one this node was told to trust, and no block of it is taken.
    #[error("block {height} ({hash}) contradicts checkpoint {height}:{expected}: refused, this is not the chain the checkpoint names")]
    Checkpoint {
        /// Its height.
        height: u64,
        /// Its hash.
        hash: Hash,
        /// The checkpoint's hash.
        expected: Hash,
    },
    /// The store failed: fatal.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl ImportError {
    /// Whether the process must stop (a storage failure), as opposed to a bad
    /// block from a peer.
    pub fn is_fatal(&self) -> bool {
        match self {
            ImportError::Storage(_) => true,
            ImportError::Invalid(e) => e.is_storage(),
            _ => false,
        }
    }
}

from_redb!(
    ImportError: redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// What importing a block did.
#[derive(Debug, Clone)]
pub enum Imported {
    /// It extended the canonical chain.
    Extended {
        /// The new tip.
        tip: Tip,
        /// Bytes redb wrote for it.
        bytes_written: u64,
    },
    /// It was already stored.
    AlreadyKnown,
    /// Stored on a side branch that is not (yet) better.
    SideBranch {
        /// Its height.
        height: u64,
    },
    /// Its branch won: the chain switched.
    Reorganised {
        /// The new tip.
        tip: Tip,
        /// Blocks taken off the canonical chain, tip first.
        undone: Vec<Block>,
        /// Blocks put on, lowest first.
        applied: Vec<Block>,
        /// Transactions of undone blocks that the new branch does not hold:
        /// back to the mempool.
        returned: Vec<SignedTransaction>,
        /// Bytes redb wrote for it.
        bytes_written: u64,
    },
}

/// Where a transaction sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    /// The block's height.
    pub height: u64,
    /// Its position in the block.
    pub index: u32,
}

/// One entry in a record's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordVersion {
    /// The block that wrote it.
    pub height: u64,
    /// Its position in the block.
    pub index: u32,
    /// The PutData transaction.
    pub tx: Hash,
}

/// One entry of the chain-event log: a block that joined (`connected`) or
/// left the canonical chain. The sequence numbers are dense, start at 1 and
/// survive restarts, so they can name a position in the chain's history
/// (the HTTP API's Server-Sent Event ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainEvent {
    /// Its place in the log (1, 2, …).
    pub seq: u64,
    /// True: the block became canonical; false: it was taken off the chain.
    pub connected: bool,
    /// The block's height.
    pub height: u64,
    /// The block's hash.
    pub hash: Hash,
}

impl ChainEvent {
    fn to_bytes(self) -> [u8; CHAIN_EVENT_BYTES] {
        let mut b = [0u8; CHAIN_EVENT_BYTES];
        b[0] = self.connected as u8;
        b[1..9].copy_from_slice(&self.height.to_be_bytes());
        b[9..].copy_from_slice(&self.hash.0);
        b
    }

    fn from_bytes(seq: u64, b: &[u8]) -> Result<ChainEvent, StoreError> {
        if b.len() != CHAIN_EVENT_BYTES || b[0] > 1 {
            return Err(StoreError::Corrupt(format!(
                "chain event {seq}: {} bytes, flag {:?}",
                b.len(),
                b.first()
            )));
        }
        Ok(ChainEvent {
            seq,
            connected: b[0] == 1,
            height: u64::from_be_bytes(b[1..9].try_into().expect("8 bytes")),
            hash: Hash(b[9..].try_into().expect("32 bytes")),
        })
    }
}

/// The chain store.
pub struct Store {
    /// The blocks' file ([`FILE_NAME`]). Declared (so dropped, and made
    /// durable) before `sdb`: the state is never durable ahead of it.
    db: door::ClosingDb,
    /// The state's file ([`STATE_FILE_NAME`]).
    sdb: door::ClosingDb,
    /// State commits not yet durable.
    state_since: AtomicU64,
    /// Shuts the state file's backend: set when the blocks cannot be made
    /// durable as the store closes, so closing the state (which makes its
    /// pending commits durable) cannot put it ahead of them.
    state_shut: Arc<std::sync::atomic::AtomicBool>,
    /// Every how many blocks a main node's state is made durable
    /// ([`STATE_DURABLE_BLOCKS`]; [`Store::set_state_durable_every`]).
    state_every: AtomicU64,
    /// Held (write) across a block's two commits and (read) while a
    /// snapshot begins its two read transactions, so that a snapshot never
    /// pairs a block with the state before it.
    pair: std::sync::RwLock<()>,
    /// Set when a state commit failed after its block's commit: the store
    /// refuses further imports (reopening applies the block again).
    state_failed: std::sync::atomic::AtomicBool,
    params: ChainParams,
    path: String,
    written: Arc<AtomicU64>,
    last_block_bytes: AtomicU64,
    /// Blocks stored by [`Store::import_block`] since the store was opened.
    imported: AtomicU64,
    indexed: bool,
    /// Notified after each commit that moved the canonical chain (readers
    /// of the chain-event log wait on it instead of polling).
    moved: event_listener::Event,
    /// The forger's signing record (its own file, `signing.log`).
    signing: signing::SigningLog,
    /// Every how many block commits one is durable ([`Store::set_durable_every`]).
    durable_every: AtomicU64,
    /// Block commits since the last durable one.
    since_durable: AtomicU64,
    /// Encoded bytes of the blocks committed since the last durable commit
    /// (`held_limit` bounds them).
    held_bytes: AtomicU64,
    /// [`HELD_BYTES`], or what [`Store::set_held_bytes`] set.
    held_limit: AtomicU64,
    /// Block bodies below the finality depth are removed (a lean store's,
    /// [`Store::set_pruning`]).
    pruning: std::sync::atomic::AtomicBool,
    /// Heights up to which final index runs are merged (`u64::MAX`: not
    /// read yet), and what the merges cost.
    merged: AtomicU64,
    merges: std::sync::Mutex<MergeStats>,
    /// Blocks taken off at open to bring the blocks back to the state
    /// ([`Store::taken_back_at_open`]).
    taken_back: AtomicU64,
}

/// What merging index runs has cost since the store was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeStats {
    /// Merge commits.
    pub commits: u64,
    /// Bytes they wrote (redb's count).
    pub bytes_written: u64,
    /// Index entries they wrote.
    pub entries: u64,
}

impl Drop for Store {
    /// Closing makes pending commits durable, the blocks' before the
    /// state's (field order). Should the blocks' fail (a full disk, a
    /// failed commit before), the state's would still succeed and stand
    /// ahead of the blocks, with no way back for a store that prunes: so
    /// the blocks are made durable first, here, and if that fails the
    /// state's file takes no more writes and keeps its last durable commit
    /// (which a durable commit of the blocks always preceded).
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.state_shut.store(true, Ordering::SeqCst);
            return;
        }
        // Even with nothing pending: redb's own closing commit would then
        // be the first to walk a damaged page of the file, and a panic
        // there can panic again as it unwinds (a process abort, found by
        // the wide damage sweep); a panic in this one is caught, and redb
        // then leaves the file as its last commit left it.
        let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
            || -> Result<(), StoreError> {
                let mut w = self.db.begin_write()?;
                w.set_durability(Durability::Immediate)
                    .map_err(|e| StoreError::Db(e.into()))?;
                w.commit()?;
                Ok(())
            },
        ));
        if !matches!(made, Ok(Ok(()))) {
            self.state_shut.store(true, Ordering::SeqCst);
            log::warn!(
                "goodwill: {}: the blocks could not be made durable as the store closed; \
                 the state file keeps its last durable commit (the next open applies the blocks again)",
                self.path
            );
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.path)
    }
}

fn state_key(k: &StateKey) -> Vec<u8> {
    encode(k)
}

/// The key prefix shared by every weight of `epoch` (a weight key is the
/// prefix followed by the 32-byte account).
fn weight_prefix(epoch: u64) -> Vec<u8> {
    let mut k = encode(&StateKey::Weight(epoch, PublicKey([0; 32])));
    k.truncate(k.len() - 32);
    k
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> ReadError {
    ReadError(format!("{what}: {e}"))
}

/// A state view over any readable `state` table (a read or a write
/// transaction's).
struct TableState<T>(T);

impl<T: ReadableTable<&'static [u8], &'static [u8]>> StateRead for TableState<T> {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, ReadError> {
        let k = state_key(key);
        let v = self
            .0
            .get(k.as_slice())
            .map_err(|e| corrupt("state read", e))?;
        match v {
            None => Ok(None),
            Some(g) => codec::decode("state value", g.value(), VALUE_LIMIT)
                .map(Some)
                .map_err(|e| corrupt("state value", e)),
        }
    }

    fn epoch_weights(&self, epoch: u64) -> Result<Vec<(PublicKey, u64)>, ReadError> {
        let prefix = weight_prefix(epoch);
        let mut out = Vec::new();
        for item in self
            .0
            .range(prefix.as_slice()..)
            .map_err(|e| corrupt("weights", e))?
        {
            let (k, v) = item.map_err(|e| corrupt("weights", e))?;
            let k = k.value();
            if !k.starts_with(&prefix) {
                break;
            }
            let key: StateKey =
                codec::decode("state key", k, 1024).map_err(|e| corrupt("weight key", e))?;
            let value: StateValue = codec::decode("state value", v.value(), VALUE_LIMIT)
                .map_err(|e| corrupt("weight", e))?;
            if let (StateKey::Weight(_, pk), StateValue::Weight(w)) = (key, value) {
                if w > 0 {
                    out.push((pk, w));
                }
            }
        }
        Ok(out)
    }
}

/// A consistent snapshot for reads; never blocks the writer.
pub struct Snapshot {
    indexed: bool,
    txn: ReadTransaction,
    /// The state file's read transaction, begun with `txn`.
    stxn: ReadTransaction,
    state: TableState<redb::ReadOnlyTable<&'static [u8], &'static [u8]>>,
    params: ChainParams,
}

impl StateRead for Snapshot {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, ReadError> {
        self.state.get(key)
    }
    fn epoch_weights(&self, epoch: u64) -> Result<Vec<(PublicKey, u64)>, ReadError> {
        self.state.epoch_weights(epoch)
    }
}

impl Snapshot {
    /// The state file's read transaction, begun with the blocks'.
    pub(super) fn state_txn(&self) -> &ReadTransaction {
        &self.stxn
    }

    /// The lowest height whose block body this store holds (1: all of them;
    /// higher on a pruned forger's store, [`Store::set_pruning`]). Below it
    /// only the hashes are kept, and [`Snapshot::block_at`] finds nothing.
    pub fn blocks_from(&self) -> Result<u64, StoreError> {
        blocks_from_in(&self.txn.open_table(META)?)
    }

    /// The block at `height` on the canonical chain.
    pub fn block_at(&self, height: u64) -> Result<Option<Block>, StoreError> {
        let canon = self.txn.open_table(CANON)?;
        let Some(h) = canon.get(height)? else {
            return Ok(None);
        };
        let hash = Hash(*h.value());
        self.block(&hash)
    }

    /// A stored block (canonical or side) by hash.
    pub fn block(&self, hash: &Hash) -> Result<Option<Block>, StoreError> {
        match bodies::get(&self.txn, &hash.0)? {
            None => Ok(None),
            Some(b) => Block::from_bytes(&b, BLOCK_LIMIT)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("block {hash}: {e}"))),
        }
    }

    /// What the canonical block `hash` changed in the state, while its
    /// undo record is kept (the newest `finality_depth` blocks); None
    /// after.
    pub fn block_changes(&self, hash: &Hash) -> Result<Option<StateChanges>, StoreError> {
        let Some(bytes) = self.stxn.open_table(UNDO)?.get(&hash.0)? else {
            return Ok(None);
        };
        codec::decode("undo record", bytes.value(), VALUE_LIMIT)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// What the canonical `block` changed in which balance, per
    /// transaction: by rule, except where the node recorded otherwise
    /// ([`ledger::balances`]). A contract transaction's receipt is read
    /// from the state. A block imported before balance changes were
    /// recorded (a store made by an earlier version) is given by rule
    /// alone: the file keeps no marker of when recording began, so a
    /// store's layout is what it was before (docs/mesh.md, "Known gaps").
    pub fn block_balances(&self, block: &Block) -> Result<BlockBalances, StoreError> {
        if !self.indexed {
            return Err(StoreError::NotIndexed);
        }
        let height = block.height();
        let bytes = match self.txn.open_table(index::BALANCE_RESIDUAL) {
            Ok(t) => t.get(height)?.map(|b| b.value().to_vec()),
            // Made by its first entry: none yet.
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let recorded = match bytes {
            Some(b) => balances::decode_residual(&b, block.txs.len())
                .map_err(|e| StoreError::Corrupt(format!("height {height}: {e}")))?,
            None => Vec::new(),
        };
        let mut recorded = recorded.into_iter().peekable();
        let mut txs = Vec::with_capacity(block.txs.len());
        let mut fees = 0u64;
        for (i, stx) in block.txs.iter().enumerate() {
            let receipt = match stx.tx.kind.fuel_limit() {
                Some(_) => self.receipt(&stx.id()).map_err(StoreError::from)?,
                None => None,
            };
            fees = fees.saturating_add(balances::fee_charged(stx, receipt.as_ref()));
            txs.push(match recorded.next_if(|(at, _)| *at as usize == i) {
                Some((_, d)) => d,
                None => balances::rule_deltas(stx, receipt.as_ref()),
            });
        }
        Ok(BlockBalances {
            txs,
            reward: self.params.genesis().block_reward.saturating_add(fees),
        })
    }

    /// The canonical hash at `height`.
    pub fn hash_at(&self, height: u64) -> Result<Option<Hash>, StoreError> {
        let canon = self.txn.open_table(CANON)?;
        Ok(canon.get(height)?.map(|h| Hash(*h.value())))
    }

    /// Where a canonical transaction sits.
    pub fn tx_location(&self, id: &Hash) -> Result<Option<TxLocation>, StoreError> {
        let r = self.index()?;
        // A 16-byte key may match another id (only by grinding 2^64 ids):
        // each candidate is checked against the full id.
        for e in r.newest(runs::Section::Tx, &runs::key16(&id.0), None, 64)? {
            if r.tx_id(e.height, e.index)? == Some(*id) {
                return Ok(Some(TxLocation {
                    height: e.height,
                    index: e.index,
                }));
            }
        }
        Ok(None)
    }

    fn index(&self) -> Result<index::Reader<'_>, StoreError> {
        if !self.indexed {
            return Err(StoreError::NotIndexed);
        }
        index::Reader::open(&self.txn)
    }

    /// The heights each index run covers, oldest first (for tests, tools
    /// and benchmarks: how far the merges have gone).
    pub fn index_runs(&self) -> Result<Vec<(u64, u64)>, StoreError> {
        self.index()?.spans()
    }

    /// A canonical transaction, its block's header and its inclusion proof.
    pub fn tx_with_proof(
        &self,
        id: &Hash,
    ) -> Result<Option<(SignedTransaction, Block, merkle::Proof)>, StoreError> {
        match self.tx_location(id)? {
            None => Ok(None),
            Some(loc) => self.tx_with_proof_at(id, loc.height),
        }
    }

    /// [`Snapshot::tx_with_proof`] for a transaction whose height is known
    /// (a record's state entry holds it): the block's stored spans say
    /// where it is, with no index search — as fast at any chain length.
    pub fn tx_with_proof_at(
        &self,
        id: &Hash,
        height: u64,
    ) -> Result<Option<(SignedTransaction, Block, merkle::Proof)>, StoreError> {
        // The block's spans say where each transaction lies: its ids are
        // hashed from the body's bytes, nothing decoded twice.
        let r = self.index()?;
        let Some(hash) = self.hash_at(height)? else {
            return Ok(None);
        };
        let bytes = bodies::get(&self.txn, &hash.0)?.ok_or_else(|| {
            StoreError::Corrupt(format!("tx {id} points at missing block {hash}"))
        })?;
        let ids = r.tx_ids(height, &bytes)?;
        let Some(index) = ids.iter().position(|x| x == id) else {
            return Ok(None);
        };
        let block = Block::from_bytes(&bytes, BLOCK_LIMIT)
            .map_err(|e| StoreError::Corrupt(format!("block {hash}: {e}")))?;
        if ids.len() != block.txs.len() {
            return Err(StoreError::Corrupt(format!(
                "{} tx spans stored for the {} transactions at {height}",
                ids.len(),
                block.txs.len(),
            )));
        }
        let proof = merkle::prove(&ids, index)
            .ok_or_else(|| StoreError::Corrupt(format!("tx {id} index out of range")))?;
        let tx = block.txs[index].clone();
        Ok(Some((tx, block, proof)))
    }

    /// The ids of an account's transactions, newest first (at most `limit`).
    pub fn account_txs(&self, account: &PublicKey, limit: usize) -> Result<Vec<Hash>, StoreError> {
        Ok(self
            .account_txs_page(account, None, limit)?
            .into_iter()
            .map(|(_, id)| id)
            .collect())
    }

    /// One page of an account's transactions, newest first: at most
    /// `limit` entries strictly older than `before` (a (height, position)
    /// in the chain; `None` starts at the newest). A cursor, not an offset:
    /// blocks added on top do not shift a page.
    pub fn account_txs_page(
        &self,
        account: &PublicKey,
        before: Option<TxLocation>,
        limit: usize,
    ) -> Result<Vec<(TxLocation, Hash)>, StoreError> {
        self.touching_page(&account.0, before, limit)
    }

    /// One page of the transactions that deployed or called `contract`,
    /// newest first (as [`Self::account_txs_page`]).
    pub fn contract_txs_page(
        &self,
        contract: &Hash,
        before: Option<TxLocation>,
        limit: usize,
    ) -> Result<Vec<(TxLocation, Hash)>, StoreError> {
        self.touching_page(&contract.0, before, limit)
    }

    fn touching_page(
        &self,
        address: &[u8; 32],
        before: Option<TxLocation>,
        limit: usize,
    ) -> Result<Vec<(TxLocation, Hash)>, StoreError> {
        let r = self.index()?;
        let before = before.map(|b| (b.height, b.index));
        r.newest(runs::Section::Account, &runs::key16(address), before, limit)?
            .into_iter()
            .map(|e| {
                located(&r, e).map(|v| {
                    (
                        TxLocation {
                            height: v.height,
                            index: v.index,
                        },
                        v.tx,
                    )
                })
            })
            .collect()
    }

    /// One page of the writes to (owner, key), newest first: at most
    /// `limit` strictly older than `before` (`None` starts at the newest).
    pub fn record_history_page(
        &self,
        owner: &PublicKey,
        key: &[u8],
        before: Option<TxLocation>,
        limit: usize,
    ) -> Result<Vec<RecordVersion>, StoreError> {
        let r = self.index()?;
        let before = before.map(|b| (b.height, b.index));
        r.newest(
            runs::Section::Record,
            &runs::record_key(&owner.0, key),
            before,
            limit,
        )?
        .into_iter()
        .map(|e| located(&r, e))
        .collect()
    }

    /// Every proposal (and association) in the state, by id: one range
    /// read over the proposals' keys, not the whole state.
    pub fn proposals(&self) -> Result<Vec<(Hash, Proposal)>, StoreError> {
        let mut prefix = state_key(&StateKey::Proposal(Hash([0; 32])));
        prefix.truncate(prefix.len() - 32);
        let mut out = Vec::new();
        for item in self.state.0.range(prefix.as_slice()..)? {
            let (k, v) = item?;
            let k = k.value();
            if !k.starts_with(&prefix) {
                break;
            }
            let key: StateKey = codec::decode("state key", k, 1024)
                .map_err(|e| StoreError::Corrupt(format!("proposal key: {e}")))?;
            let value: StateValue = codec::decode("state value", v.value(), VALUE_LIMIT)
                .map_err(|e| StoreError::Corrupt(format!("proposal: {e}")))?;
            match (key, value) {
                (StateKey::Proposal(id), StateValue::Proposal(p)) => out.push((id, p)),
                _ => {
                    return Err(StoreError::Corrupt(
                        "a proposal key holds another value".into(),
                    ))
                }
            }
        }
        Ok(out)
    }

    /// Every write to (owner, key), oldest first.
    pub fn record_history(
        &self,
        owner: &PublicKey,
        key: &[u8],
    ) -> Result<Vec<RecordVersion>, StoreError> {
        let mut all = self.record_history_page(owner, key, None, usize::MAX)?;
        all.reverse();
        Ok(all)
    }

    /// The chain's parameters.
    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    /// The sequence number of the chain-event log's last entry (0 while
    /// it is empty).
    pub fn last_chain_event(&self) -> Result<u64, StoreError> {
        let t = self.txn.open_table(CHAIN_EVENTS)?;
        let last = t.last()?.map(|(k, _)| k.value()).unwrap_or(0);
        Ok(last)
    }

    /// At most `limit` chain-event entries after sequence number `after`,
    /// in order.
    pub fn chain_events(&self, after: u64, limit: usize) -> Result<Vec<ChainEvent>, StoreError> {
        let t = self.txn.open_table(CHAIN_EVENTS)?;
        let mut out = Vec::new();
        if after == u64::MAX {
            return Ok(out);
        }
        for item in t.range(after + 1..)? {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item?;
            out.push(ChainEvent::from_bytes(k.value(), v.value())?);
        }
        Ok(out)
    }
}

/// An index entry with its transaction's id.
fn located(r: &index::Reader, e: runs::Entry) -> Result<RecordVersion, StoreError> {
    let tx = r.tx_id(e.height, e.index)?.ok_or_else(|| {
        StoreError::Corrupt(format!(
            "an index entry points at {}:{}, which has no transaction",
            e.height, e.index
        ))
    })?;
    Ok(RecordVersion {
        height: e.height,
        index: e.index,
        tx,
    })
}

/// The index entries a canonical block adds (its transactions, the
/// accounts each touches, the records each writes): what a benchmark
/// charges merges by.
pub fn index_entry_count(block: &Block) -> usize {
    index::entries(block).iter().map(Vec::len).sum()
}

/// Removes the side blocks at `heights`, entries and bodies.
fn remove_side_blocks(
    w: &WriteTransaction,
    heights: std::ops::Range<u64>,
) -> Result<(), StoreError> {
    // Keys are height (8 bytes, big-endian) ‖ hash: every key of a height
    // in the range sorts at or after its start's 8 bytes and before its
    // end's.
    let (lo, hi) = (heights.start.to_be_bytes(), heights.end.to_be_bytes());
    let mut side = w.open_table(SIDE)?;
    let keys: Vec<Vec<u8>> = side
        .range(lo.as_slice()..hi.as_slice())?
        .map(|r| r.map(|(k, _)| k.value().to_vec()))
        .collect::<Result<_, _>>()?;
    for k in keys {
        side.remove(k.as_slice())?;
        let bh: [u8; 32] = k[8..].try_into().expect("side keys are 40 bytes");
        bodies::remove(w, &bh)?;
    }
    Ok(())
}

fn side_key(height: u64, hash: &Hash) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..8].copy_from_slice(&height.to_be_bytes());
    k[8..].copy_from_slice(&hash.0);
    k
}

/// The accounts a transaction touches (for the account index and watchers).
pub fn touched(tx: &SignedTransaction) -> Vec<PublicKey> {
    let mut v = vec![tx.tx.sender];
    match &tx.tx.kind {
        TxKind::Transfer { to, .. } => v.push(*to),
        TxKind::BuyWeight { association, .. } => v.push(*association),
        TxKind::ProposeAssociation { account, .. } => v.push(*account),
        TxKind::ReportEquivocation { header_a, .. } => v.push(header_a.header.forger),
        // A contract's transfers are in its receipt, not here.
        TxKind::VoteAssociation { .. }
        | TxKind::PutData { .. }
        | TxKind::DeployContract { .. }
        | TxKind::CallContract { .. } => {}
    }
    v.sort();
    v.dedup();
    v
}

impl Store {
    /// Opens (or creates) the store in `dir` for the chain `params`. A store
    /// made for another genesis is refused.
    pub fn open(dir: &Path, params: &ChainParams) -> Result<Store, StoreError> {
        Store::open_with(dir, params, Indexes::Keep)
    }

    /// Opens (or creates, keeping indexes or not) the store in `dir`. An
    /// existing store keeps the choice it was created with.
    pub fn open_with(
        dir: &Path,
        params: &ChainParams,
        indexes: Indexes,
    ) -> Result<Store, StoreError> {
        door::data_dir(dir)?;
        let (file, path) = door::open_file(dir, true)?;
        let written = Arc::new(AtomicU64::new(0));
        let backend = CountingFile::new(file, written.clone())?;
        let (log, log_path) = door::open_signing_log(dir)?;
        let state = CountingFile::new(door::open_state_file(dir)?, written.clone())?;
        let store = Store::with_backends(
            backend,
            log,
            state,
            params,
            path.display().to_string(),
            log_path,
            written,
            indexes,
        )?;
        door::mark(dir)?;
        Ok(store)
    }

    /// Opens an existing store, taking the genesis it was made with. Its
    /// chain is not checked at open (`chain verify` checks all of it; a
    /// signing record is exported from a store whose blocks are damaged).
    pub fn open_existing(dir: &Path) -> Result<Store, StoreError> {
        door::data_dir(dir)?;
        let (file, path) = door::open_file(dir, false)?;
        let shown = path.display().to_string();
        let missing = || StoreError::Missing(dir.display().to_string());
        if file.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
            return Err(missing());
        }
        let written = Arc::new(AtomicU64::new(0));
        let backend = CountingFile::new(file, written.clone())?;
        let (log, log_path) = door::open_signing_log(dir)?;
        let state = CountingFile::new(door::open_state_file(dir)?, written.clone())?;
        door::guard(&shown, "opening the store", || {
            let db = Database::builder()
                .create_with_backend(backend)
                .map_err(|e| door::in_file(&shown, StoreError::Db(e.into())))?;
            let (state, state_shut) = backend::Shuttable::new(state);
            let state_path = state_path_of(&shown);
            let sdb = door::guard(&state_path, "opening the state", || {
                Ok::<_, StoreError>(Database::builder().create_with_backend(state)?)
            })
            .map_err(|e| door::in_file(&state_path, e))?;
            let genesis = {
                let r = db.begin_read()?;
                let meta = r.open_table(META).map_err(|_| missing())?;
                let g = meta.get("genesis")?.ok_or_else(missing)?;
                let mut g: Genesis = codec::decode("stored genesis", g.value(), 16 << 20)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                if let Some(c) = meta.get("contracts")? {
                    g.contracts = Some(
                        codec::decode("stored contract parameters", c.value(), 1024)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    );
                }
                g
            };
            let params =
                ChainParams::new(genesis).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let signing =
                signing::SigningLog::open(Box::new(log), log_path, &db, &params, written.clone())?;
            let mut store =
                Store::assemble(db, sdb, state_shut, signing, params, shown.clone(), written);
            store.indexed = store.init(Indexes::Keep)?;
            // The chain is not checked here, and a state that cannot catch
            // up is left as it is for `chain verify` to name; imports refuse.
            if let Err(e) = store.catch_up() {
                log::warn!("goodwill: {shown}: the state did not catch up with the blocks: {e}");
                store.state_failed.store(true, Ordering::Relaxed);
            }
            Ok(store)
        })
    }

    fn assemble(
        db: Database,
        sdb: Database,
        state_shut: Arc<std::sync::atomic::AtomicBool>,
        signing: signing::SigningLog,
        params: ChainParams,
        path: String,
        written: Arc<AtomicU64>,
    ) -> Store {
        let state_path = state_path_of(&path);
        Store {
            signing,
            db: door::ClosingDb::new(db, &path),
            sdb: door::ClosingDb::new(sdb, &state_path),
            state_since: AtomicU64::new(0),
            state_shut,
            state_every: AtomicU64::new(STATE_DURABLE_BLOCKS),
            pair: Default::default(),
            state_failed: Default::default(),
            params,
            path,
            written,
            last_block_bytes: AtomicU64::new(0),
            imported: AtomicU64::new(0),
            indexed: true,
            moved: event_listener::Event::new(),
            durable_every: AtomicU64::new(1),
            since_durable: AtomicU64::new(0),
            held_bytes: AtomicU64::new(0),
            held_limit: AtomicU64::new(HELD_BYTES),
            pruning: Default::default(),
            merged: AtomicU64::new(u64::MAX),
            merges: Default::default(),
            taken_back: AtomicU64::new(0),
        }
    }

    /// Opens (or creates) a store on any backend: the fault-injection tests'
    /// door.
    pub fn with_backend(
        backend: impl StorageBackend,
        params: &ChainParams,
        path: String,
        written: Arc<AtomicU64>,
    ) -> Result<Store, StoreError> {
        Store::with_backend_indexes(backend, params, path, written, Indexes::Keep)
    }

    /// [`Store::with_backend`], choosing the indexes of a new store. Its
    /// signing record and its state file are kept on disks in memory: a
    /// test that reopens one and needs its record gives every disk to
    /// [`Store::with_backends`] (a state on a new disk is rebuilt from the
    /// blocks at open).
    pub fn with_backend_indexes(
        backend: impl StorageBackend,
        params: &ChainParams,
        path: String,
        written: Arc<AtomicU64>,
        indexes: Indexes,
    ) -> Result<Store, StoreError> {
        let log_path = format!("{path} (signing log in memory)");
        Store::with_backends(
            backend,
            SimDisk::new(),
            SimDisk::new(),
            params,
            path,
            log_path,
            written,
            indexes,
        )
    }

    /// Opens (or creates) a store on any backend, with its signing log on
    /// another (`signing_log`) and its state on a third (`state`): the
    /// fault-injection tests' and the simulation's door.
    #[allow(clippy::too_many_arguments)]
    pub fn with_backends(
        backend: impl StorageBackend,
        signing_log: impl StorageBackend,
        state: impl StorageBackend,
        params: &ChainParams,
        path: String,
        log_path: String,
        written: Arc<AtomicU64>,
        indexes: Indexes,
    ) -> Result<Store, StoreError> {
        backend::discard_torn_creation(&backend).map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
        backend::discard_torn_creation(&state).map_err(|source| StoreError::Io {
            path: format!("{path} (its state file)"),
            source,
        })?;
        door::guard(&path.clone(), "opening the store", move || {
            let mut builder = Database::builder();
            let mut state_builder = Database::builder();
            let mut hold = 0;
            if indexes == Indexes::Skip {
                // A forger reads mostly the state; its blocks' file serves
                // the few recent bodies it keeps.
                builder.set_cache_size(LEAN_CACHE_BYTES / 4);
                state_builder.set_cache_size(LEAN_CACHE_BYTES);
                hold = HOLD_WRITES_BYTES;
            }
            let io_in = |path: &str| {
                let path = path.to_string();
                move |source| StoreError::Io { path, source }
            };
            let backend = backend::HoldWrites::new(backend, hold).map_err(io_in(&path))?;
            let state = backend::HoldWrites::new(state, hold)
                .map_err(io_in(&format!("{path} (its state file)")))?;
            let db = builder
                .create_with_backend(backend)
                .map_err(|e| door::in_file(&path, StoreError::Db(e.into())))?;
            let state_path = state_path_of(&path);
            let (state, state_shut) = backend::Shuttable::new(state);
            let sdb = door::guard(&state_path, "opening the state", || {
                Ok::<_, StoreError>(state_builder.create_with_backend(state)?)
            })
            .map_err(|e| door::in_file(&state_path, e))?;
            let signing = signing::SigningLog::open(
                Box::new(signing_log),
                log_path,
                &db,
                params,
                written.clone(),
            )?;
            let mut store =
                Store::assemble(db, sdb, state_shut, signing, params.clone(), path, written);
            // Each step under its own guard: a panic of the library is
            // caught before it unwinds through the store, which is then
            // closed as any other (a store dropped while unwinding is not
            // closed, and its files stay locked in this process).
            let shown = store.path.clone();
            door::guard(&shown, "opening the store", || {
                store.indexed = store.init(indexes)?;
                Ok::<_, StoreError>(())
            })?;
            door::guard(&state_path, "bringing the state up to the blocks", || {
                store.catch_up()
            })
            .map_err(|e| door::in_file(&state_path, e))?;
            door::guard(&shown, "checking the store", || {
                store.check_at_open()?;
                store.check_checkpoints()
            })?;
            Ok(store)
        })
    }

    /// Refuses a stored chain that contradicts one of the checkpoints.
    fn check_checkpoints(&self) -> Result<(), StoreError> {
        let snap = self.snapshot()?;
        let tip = self.tip()?;
        for c in self.params.checkpoints() {
            if c.height > tip.height {
                break;
            }
            match snap.hash_at(c.height)? {
                Some(found) if found != c.hash => {
                    return Err(StoreError::Checkpoint {
                        path: self.path.clone(),
                        height: c.height,
                        expected: c.hash,
                        found,
                    })
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether this store keeps the transaction, account and record indexes.
    pub fn indexed(&self) -> bool {
        self.indexed
    }

    /// Creates the store's tables and genesis state if new, checks the chain
    /// and schema if not; returns whether it keeps indexes.
    fn init(&self, indexes: Indexes) -> Result<bool, StoreError> {
        let w = self.db.begin_write()?;
        {
            let mut meta = w.open_table(META)?;
            let existing = meta.get("chain_id")?.map(|v| v.value().to_vec());
            match existing {
                Some(found) => {
                    let found = Hash(found.as_slice().try_into().map_err(|_| {
                        StoreError::Corrupt("meta chain_id is not 32 bytes".into())
                    })?);
                    if found != self.params.chain_id() {
                        return Err(StoreError::WrongChain {
                            path: self.path.clone(),
                            expected: self.params.chain_id(),
                            found,
                        });
                    }
                    let schema = meta
                        .get("schema")?
                        .map(|v| v.value().to_vec())
                        .ok_or_else(|| StoreError::Corrupt("no schema version".into()))?;
                    let schema =
                        u32::from_le_bytes(schema.as_slice().try_into().map_err(|_| {
                            StoreError::Corrupt("schema version is not 4 bytes".into())
                        })?);
                    if !(2..=SCHEMA_VERSION).contains(&schema) {
                        return Err(StoreError::Schema {
                            path: self.path.clone(),
                            found: schema,
                        });
                    }
                    // Stores from before the choice existed kept indexes.
                    let indexed = meta
                        .get("indexes")?
                        .map(|v| v.value() != [0u8])
                        .unwrap_or(true);
                    drop(meta);
                    if schema < SCHEMA_VERSION {
                        let mut w = w;
                        if schema < 4 {
                            w.abort()?;
                            self.move_state_out()?;
                            w = self.db.begin_write()?;
                        }
                        // Schema 2 kept random-key indexes, 3 and 4 each
                        // transaction's id: rebuilt as runs and spans.
                        if schema == 2 || indexed {
                            self.reindex(w, indexed)?;
                            return Ok(indexed);
                        }
                        w.open_table(META)?
                            .insert("schema", SCHEMA_VERSION.to_le_bytes().as_slice())?;
                        w.set_durability(Durability::Immediate)
                            .map_err(|e| StoreError::Db(e.into()))?;
                        w.commit()?;
                        return Ok(indexed);
                    }
                    // Stores from before the chain-event log get an empty
                    // one: their log starts with the next block.
                    let has_log = w.list_tables()?.any(|t| t.name() == CHAIN_EVENTS.name());
                    if has_log {
                        w.abort()?;
                    } else {
                        w.open_table(CHAIN_EVENTS)?;
                        w.commit()?;
                    }
                    return Ok(indexed);
                }
                None => {
                    meta.insert("indexes", [(indexes == Indexes::Keep) as u8].as_slice())?;
                    meta.insert("schema", SCHEMA_VERSION.to_le_bytes().as_slice())?;
                    meta.insert("chain_id", self.params.chain_id().0.as_slice())?;
                    meta.insert("genesis", encode(self.params.genesis()).as_slice())?;
                    // Kept apart from the genesis's encoding, as in the chain
                    // id, so a store written before contracts opens as it did.
                    if let Some(c) = self.params.contracts() {
                        meta.insert("contracts", encode(c).as_slice())?;
                    }
                }
            }
            // The state first: a crash before the blocks' file commits
            // leaves a new store, which writes the same genesis again.
            let sw = self.sdb.begin_write()?;
            {
                sw.delete_table(STATE)?;
                sw.delete_table(UNDO)?;
                let mut state = sw.open_table(STATE)?;
                write_changes(&mut state, &ledger::genesis_changes(&self.params), false)?;
                sw.open_table(UNDO)?;
            }
            sw.commit()?;
            w.open_table(CANON)?.insert(0, &self.params.chain_id().0)?;
            w.open_table(BLOCKS)?;
            w.open_table(bodies::BLOCK_PARTS)?;
            w.open_table(SIDE)?;
            index::create(&w)?;
            w.open_table(CHAIN_EVENTS)?;
        }
        w.commit()?;
        Ok(indexes == Indexes::Keep)
    }

    /// Moves the state and undo tables of a store from before schema 4
    /// into the state file: copied there in one durable commit, then taken
    /// out of the blocks' file in another. A crash between leaves them in
    /// both; the next open copies them again.
    fn move_state_out(&self) -> Result<(), StoreError> {
        let r = self.db.begin_read()?;
        let has = |name: &str| -> Result<bool, StoreError> {
            Ok(r.list_tables()?.any(|t| t.name() == name))
        };
        if !has(STATE.name())? {
            // Moved already, by an open cut short before the schema changed.
            let moved = self
                .sdb
                .begin_read()?
                .list_tables()?
                .any(|t| t.name() == STATE.name());
            if moved {
                return Ok(());
            }
            return Err(StoreError::Corrupt(
                "a store from before schema 4 without its state table".into(),
            ));
        }
        let mut sw = self.sdb.begin_write()?;
        sw.set_durability(Durability::Immediate)
            .map_err(|e| StoreError::Db(e.into()))?;
        sw.delete_table(STATE)?;
        sw.delete_table(UNDO)?;
        {
            let mut to = sw.open_table(STATE)?;
            for item in r.open_table(STATE)?.iter()? {
                let (k, v) = item?;
                to.insert(k.value(), v.value())?;
            }
            let mut to = sw.open_table(UNDO)?;
            if has(UNDO.name())? {
                for item in r.open_table(UNDO)?.iter()? {
                    let (k, v) = item?;
                    to.insert(k.value(), v.value())?;
                }
            }
        }
        sw.commit()?;
        drop(r);
        let mut w = self.db.begin_write()?;
        w.set_durability(Durability::Immediate)
            .map_err(|e| StoreError::Db(e.into()))?;
        w.delete_table(STATE)?;
        w.delete_table(UNDO)?;
        w.commit()?;
        Ok(())
    }

    /// Brings the state file to the blocks' tip: after a crash it may lag
    /// (its commits are durable less often) or, on a branch the blocks
    /// left since, stand beside it. Takes off, with their undo records,
    /// the state's blocks the canonical chain no longer holds, then
    /// applies (validating them again) the canonical blocks it lacks, from
    /// the stored bodies. Returns how many blocks it applied.
    pub(crate) fn catch_up(&self) -> Result<u64, StoreError> {
        let r = self.db.begin_read()?;
        let canon = r.open_table(CANON)?;
        let top = canon
            .last()?
            .map(|(h, _)| h.value())
            .ok_or_else(|| StoreError::Corrupt("the canonical chain is empty".into()))?;
        let body = |height: u64, hash: &[u8; 32]| -> Result<Block, StoreError> {
            let bytes = bodies::get(&r, hash)?.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "the state file is behind the blocks, and block {} at height {height}, \
                         which it lacks, is not stored (pruned): remove this data directory's \
                         files but {} and sync again",
                    Hash(*hash),
                    LOG_FILE
                ))
            })?;
            Block::from_bytes(&bytes, BLOCK_LIMIT)
                .map_err(|e| StoreError::Corrupt(format!("block at height {height}: {e}")))
        };
        let mut sw = self.sdb.begin_write()?;
        sw.set_durability(Durability::None)
            .map_err(|e| StoreError::Db(e.into()))?;
        // Whether anything changed: an open with nothing to catch up
        // commits nothing (no sync at every open).
        let mut changed = false;
        let rebuilt = redb::ReadableTableMetadata::is_empty(&sw.open_table(STATE)?)?;
        if rebuilt {
            changed = true;
            // A new state file beside existing blocks (the old one lost):
            // rebuilt from the genesis and every block.
            if top > 0 {
                log::warn!(
                    "goodwill: {}: the state file is empty; rebuilding it from the {top} stored blocks",
                    self.path
                );
            }
            write_changes(
                &mut sw.open_table(STATE)?,
                &ledger::genesis_changes(&self.params),
                false,
            )?;
            sw.open_table(UNDO)?;
        }
        // Off the canonical chain (or above its tip): undo.
        loop {
            let tip = TableState(sw.open_table(STATE)?)
                .tip()
                .map_err(StoreError::from)?;
            let on =
                tip.height <= top && canon.get(tip.height)?.map(|g| *g.value()) == Some(tip.hash.0);
            if on {
                break;
            }
            changed = true;
            undo_state_tip(&sw, &tip, || {
                format!(
                    "the state file is at block {} (height {}), which the blocks' file \
                     does not hold on its chain, and has no undo record for it",
                    tip.hash, tip.height
                )
            })?;
        }
        let from = TableState(sw.open_table(STATE)?)
            .tip()
            .map_err(StoreError::from)?
            .height;
        // A forger prunes the bodies above its state's last durable commit
        // too; a crash between its two files' durable commits leaves the
        // state behind bodies that are gone. The blocks go back to the
        // state (at most one durable interval, fetched again); a state
        // file rebuilt from nothing cannot be helped that way.
        let kept_from = blocks_from_in(&r.open_table(META)?)?;
        let top = if !rebuilt && !self.indexed && from < top && kept_from > from + 1 {
            self.roll_blocks_back(from, top)?;
            from
        } else {
            top
        };
        let mut applied = 0u64;
        for height in from + 1..=top {
            let hash = canon
                .get(height)?
                .map(|g| *g.value())
                .ok_or_else(|| StoreError::Corrupt(format!("no canonical block at {height}")))?;
            let block = body(height, &hash)?;
            let changes = {
                let state = TableState(sw.open_table(STATE)?);
                ledger::apply_block(&self.params, &state, &block, Parallelism::AllCores).map_err(
                    |e| {
                        StoreError::Corrupt(format!(
                            "the stored block at height {height} does not apply to the state: {e}"
                        ))
                    },
                )?
            };
            let canon_at = |h: u64| Ok(canon.get(h)?.map(|g| *g.value()));
            self.put_state(&sw, canon_at, height, &hash, &changes)?;
            applied += 1;
            if applied.is_multiple_of(STATE_DURABLE_BLOCKS) {
                sw.commit()?;
                sw = self.sdb.begin_write()?;
                sw.set_durability(Durability::None)
                    .map_err(|e| StoreError::Db(e.into()))?;
            }
        }
        if changed || applied > 0 {
            sw.set_durability(Durability::Immediate)
                .map_err(|e| StoreError::Db(e.into()))?;
            sw.commit()?;
        } else {
            sw.abort()?;
        }
        self.state_since.store(0, Ordering::Relaxed);
        if applied > 0 {
            log::info!(
                "goodwill: {}: the state caught up with the blocks ({applied} block(s) applied again, to height {top})",
                self.path
            );
        }
        Ok(applied)
    }

    /// Takes the canonical blocks above `to` (up to `top`) off a forger's
    /// blocks file, with their bodies and every side block above `to`, in
    /// one durable commit: the blocks file then ends where its state file
    /// does, and keeps bodies from `to + 1` on (none yet). Called when a
    /// crash left the state at `to` and the bodies it would apply again
    /// pruned; those blocks are fetched again like any others.
    fn roll_blocks_back(&self, to: u64, top: u64) -> Result<(), StoreError> {
        let mut w = self.db.begin_write()?;
        w.set_durability(Durability::Immediate)
            .map_err(|e| StoreError::Db(e.into()))?;
        {
            let mut canon = w.open_table(CANON)?;
            // Newest first: a packed stream is cut back body by body.
            for height in (to + 1..=top).rev() {
                let hash = canon.remove(height)?.map(|g| *g.value());
                if let Some(hash) = hash {
                    bodies::remove(&w, &hash)?;
                }
            }
            remove_side_blocks(&w, to + 1..u64::MAX)?;
            w.open_table(META)?
                .insert(BLOCKS_FROM, (to + 1).to_le_bytes().as_slice())?;
        }
        w.commit()?;
        self.taken_back.store(top - to, Ordering::Relaxed);
        log::warn!(
            "goodwill: {}: the blocks were durable ahead of the state, and the bodies the state \
             lacks were pruned: the {} block(s) above height {to} are taken off and will be fetched again",
            self.path,
            top - to
        );
        Ok(())
    }

    /// Writes a canonical block's state changes and undo record to the
    /// state file, and drops the undo records that fell below finality
    /// (`canon_at` gives the canonical hash at a height).
    fn put_state(
        &self,
        sw: &WriteTransaction,
        canon_at: impl Fn(u64) -> Result<Option<[u8; 32]>, StoreError>,
        height: u64,
        hash: &[u8; 32],
        changes: &StateChanges,
    ) -> Result<(), StoreError> {
        write_changes(&mut sw.open_table(STATE)?, changes, false)?;
        let finality = self.params.genesis().finality_depth;
        // Below its highest checkpoint a node has no finality of its own
        // (ChainParams::reorg_limit): it keeps every undo record, and the
        // block that reaches the checkpoint prunes them all.
        let checkpoint = self.params.highest_checkpoint();
        let mut undo = sw.open_table(UNDO)?;
        undo.insert(hash, encode(changes).as_slice())?;
        if height > finality && height >= checkpoint {
            let old = height - finality;
            let from = if height == checkpoint { 1 } else { old };
            for h in from..=old {
                if let Some(old_hash) = canon_at(h)? {
                    undo.remove(&old_hash)?;
                }
            }
        }
        Ok(())
    }

    /// The chain's parameters.
    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    /// Moves a store of schema 2 to 4 to this schema: drops its indexes
    /// (random-key B-trees up to schema 2, the stored transaction ids up to
    /// 4) and, on a main node, builds the index runs and transaction spans
    /// from the canonical blocks,
    /// 512 blocks a commit. The schema changes in the last commit, so a
    /// reindex cut short starts again at the next open.
    fn reindex(&self, w: WriteTransaction, indexed: bool) -> Result<(), StoreError> {
        let ours = [
            index::INDEX_RUNS.name(),
            index::INDEX_CHUNKS.name(),
            index::TX_SPANS.name(),
            index::OLD_TX_IDS,
        ];
        let stale: Vec<redb::UntypedTableHandle> = w
            .list_tables()?
            .filter(|t| OLD_INDEXES.contains(&t.name()) || ours.contains(&t.name()))
            .collect();
        for t in stale {
            w.delete_table(t)?;
        }
        w.open_table(META)?.remove(index::INDEX_MERGED)?;
        let tip = TableState(self.sdb.begin_read()?.open_table(STATE)?)
            .tip()
            .map_err(StoreError::from)?;
        let finality = self.params.genesis().finality_depth;
        let checkpoint = self.params.highest_checkpoint();
        w.open_table(bodies::BLOCK_PARTS)?;
        let mut w = w;
        if indexed {
            index::create(&w)?;
            for height in 1..=tip.height {
                let hash = w
                    .open_table(CANON)?
                    .get(height)?
                    .map(|g| *g.value())
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("no canonical block at {height}"))
                    })?;
                let b = bodies::get(&w, &hash)?.ok_or_else(|| {
                    StoreError::Corrupt(format!("canonical block at {height} missing"))
                })?;
                let block = Block::from_bytes(&b, BLOCK_LIMIT)
                    .map_err(|e| StoreError::Corrupt(format!("block at {height}: {e}")))?;
                index::add_block(&w, &block, b.len())?;
                if height > finality && height >= checkpoint {
                    index::merge_final(&w, height - finality)?;
                }
                if height % 512 == 0 {
                    w.commit()?;
                    w = self.db.begin_write()?;
                }
            }
        }
        w.open_table(META)?
            .insert("schema", SCHEMA_VERSION.to_le_bytes().as_slice())?;
        w.commit()?;
        Ok(())
    }

    /// Where the file's space goes, table by table: (name, bytes of keys
    /// and values stored, bytes of the pages holding them), then
    /// ("(allocated)", 0, every allocated page's bytes). For benchmarks and
    /// tools.
    pub fn space(&self) -> Result<Vec<(String, u64, u64)>, StoreError> {
        use redb::ReadableTableMetadata;
        let mut out = Vec::new();
        let mut allocated = 0;
        for db in [&self.db, &self.sdb] {
            let r = db.begin_read()?;
            for t in r.list_tables()? {
                let name = t.name().to_string();
                let s = r.open_untyped_table(t)?.stats()?;
                let pages = s.stored_bytes() + s.metadata_bytes() + s.fragmented_bytes();
                out.push((name, s.stored_bytes(), pages));
            }
            drop(r);
            let w = db.begin_write()?;
            let d = w.stats()?;
            w.abort()?;
            allocated += d.allocated_pages() * d.page_size() as u64;
        }
        out.push(("(allocated)".into(), 0, allocated));
        Ok(out)
    }

    /// The file's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// A consistent read snapshot.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let (txn, stxn) = {
            let _pair = self.pair.read().unwrap_or_else(|e| e.into_inner());
            (self.db.begin_read()?, self.sdb.begin_read()?)
        };
        let table = stxn.open_table(STATE)?;
        Ok(Snapshot {
            indexed: self.indexed,
            txn,
            stxn,
            state: TableState(table),
            params: self.params.clone(),
        })
    }

    /// The canonical tip.
    pub fn tip(&self) -> Result<Tip, StoreError> {
        Ok(self.snapshot()?.tip()?)
    }

    /// Bytes written since the store was opened: redb's to its file, and the
    /// signing log's records.
    pub fn bytes_written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Bytes written by the last imported block's commit.
    pub fn last_block_bytes(&self) -> u64 {
        self.last_block_bytes.load(Ordering::Relaxed)
    }

    /// Blocks stored (on the chain or a side branch) since the store was
    /// opened: the node's `goodwill_blocks_imported_total`.
    pub fn blocks_imported(&self) -> u64 {
        self.imported.load(Ordering::Relaxed)
    }

    /// Makes every `n`th block commit durable (`n` ≥ 1; 1, the default:
    /// each one). The commits between are atomic but live in memory until
    /// the next durable one (or [`Store::make_durable`], or closing the
    /// store): a power cut or a kill loses at most the last `n - 1` blocks,
    /// which a forger fetches again from its main nodes. The store always
    /// reopens on a consistent tip. The signing record is not concerned: it
    /// is durable before [`Store::record_signature`] returns.
    pub fn set_durable_every(&self, n: u64) {
        self.durable_every.store(n.max(1), Ordering::Relaxed);
    }

    /// Makes a block commit durable before the blocks held in memory would
    /// pass `bytes` encoded ([`HELD_BYTES`] by default): for tests and
    /// measuring.
    pub fn set_held_bytes(&self, bytes: u64) {
        self.held_limit.store(bytes.max(1), Ordering::Relaxed);
    }

    /// Makes a main node's state durable every `n`th block (`n` ≥ 1;
    /// [`STATE_DURABLE_BLOCKS`] by default): for tests that crash a store
    /// whose state must lag, and for measuring.
    pub fn set_state_durable_every(&self, n: u64) {
        self.state_every.store(n.max(1), Ordering::Relaxed);
    }

    /// Removes, from now on, the bodies of blocks that fell below the
    /// finality depth (a forger's store: it never needs them to forge or
    /// validate, and an SD card is small and wears); their hashes stay in
    /// the height index, so the chain stays linked. Only a store without
    /// indexes prunes: a main node keeps every block and serves them. A
    /// store catches up at most [`PRUNE_PER_BLOCK`] bodies a block, so the
    /// first start on a long chain is not one huge commit.
    /// [`Snapshot::blocks_from`] says which bodies are kept.
    pub fn set_pruning(&self, on: bool) {
        self.pruning.store(on && !self.indexed, Ordering::Relaxed);
    }

    /// Block commits not yet durable.
    pub fn not_durable(&self) -> u64 {
        self.since_durable.load(Ordering::Relaxed)
    }

    /// Makes the block commits held in memory durable (one durable commit);
    /// returns whether there were any.
    pub fn make_durable(&self) -> Result<bool, StoreError> {
        if self.not_durable() == 0 {
            return Ok(false);
        }
        let mut w = self.db.begin_write()?;
        w.set_durability(Durability::Immediate)
            .map_err(|e| StoreError::Db(e.into()))?;
        w.commit()?;
        self.since_durable.store(0, Ordering::Relaxed);
        self.held_bytes.store(0, Ordering::Relaxed);
        if !self.indexed {
            self.make_state_durable()?;
        }
        Ok(true)
    }

    /// The durability of the next block commit, for a block of `bytes`.
    fn next_durability(&self, bytes: u64) -> Durability {
        let every = self.durable_every.load(Ordering::Relaxed);
        if self.not_durable() + 1 >= every
            || self.held_bytes.load(Ordering::Relaxed) + bytes
                >= self.held_limit.load(Ordering::Relaxed)
        {
            Durability::Immediate
        } else {
            Durability::None
        }
    }

    /// A block's state commit is durable only with a durable commit of
    /// its blocks (the state is never durable ahead of them), and then on a
    /// main node every [`STATE_DURABLE_BLOCKS`] blocks; on a store that
    /// prunes bodies, each time.
    fn make_state_durable(&self) -> Result<(), StoreError> {
        if self.state_since.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        let mut sw = self.sdb.begin_write()?;
        sw.set_durability(Durability::Immediate)
            .map_err(|e| StoreError::Db(e.into()))?;
        if let Err(e) = sw.commit() {
            // As in `commit_both`: no import until reopened.
            self.state_failed.store(true, Ordering::Relaxed);
            return Err(e.into());
        }
        self.state_since.store(0, Ordering::Relaxed);
        Ok(())
    }

    fn state_durability(&self, blocks: Durability) -> Durability {
        let due = !self.indexed
            || self.state_since.load(Ordering::Relaxed) + 1
                >= self.state_every.load(Ordering::Relaxed);
        if matches!(blocks, Durability::None) || !due {
            Durability::None
        } else {
            Durability::Immediate
        }
    }

    /// Commits a block's two transactions: its blocks' first, then its
    /// state's. A failure of the second leaves the state behind the blocks
    /// and the store refusing imports until reopened (which catches up).
    fn commit_both(
        &self,
        w: WriteTransaction,
        sw: WriteTransaction,
        d: Durability,
        sd: Durability,
        bytes: u64,
    ) -> Result<(), StoreError> {
        let _pair = self.pair.write().unwrap_or_else(|e| e.into_inner());
        w.commit()?;
        self.committed(d, bytes);
        if let Err(e) = sw.commit() {
            self.state_failed.store(true, Ordering::Relaxed);
            return Err(e.into());
        }
        match sd {
            Durability::None => {
                self.state_since.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                self.state_since.store(0, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    fn committed(&self, d: Durability, bytes: u64) {
        match d {
            Durability::None => {
                self.since_durable.fetch_add(1, Ordering::Relaxed);
                self.held_bytes.fetch_add(bytes, Ordering::Relaxed);
            }
            _ => {
                self.since_durable.store(0, Ordering::Relaxed);
                self.held_bytes.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Imports a block that arrived at `now_ms` (this node's clock): refuses
    /// it if its slot has not started yet (give or take the chain's allowed
    /// drift), then validates it against its parent's state and, in one
    /// durable write transaction, extends the chain, stores a side branch or
    /// switches to a longer branch within the finality depth.
    ///
    /// The clock is checked here, on the one door every block passes
    /// (gossip, sync answers, side branches, the forger's own), and not in
    /// [`ledger::apply_block`], which stays a pure function of the state so
    /// that re-verifying a stored chain does not depend on the time. A
    /// branch only ever switches to blocks that each passed this check when
    /// they were stored, and time only moves forward, so a reorganisation
    /// cannot bring a block from the future in. (A tool replaying stored or
    /// trusted blocks may pass `u64::MAX`: every slot has started.)
    pub fn import_block(&self, block: &Block, now_ms: u64) -> Result<Imported, ImportError> {
        let before = self.bytes_written();
        let hash = block.hash();
        let h = &block.header.header;
        // A checkpoint outranks everything else: a block that contradicts
        // one is refused before it is stored anywhere, even on a side branch.
        if let Some(expected) = self.params.checkpoint_at(h.height) {
            if expected != hash {
                return Err(ImportError::Checkpoint {
                    height: h.height,
                    hash,
                    expected,
                });
            }
        }
        if ledger::check_not_early(&self.params, h, now_ms).is_err() {
            return Err(ImportError::Early {
                height: h.height,
                hash,
                slot: h.slot,
                ahead_ms: self.params.slot_start_ms(h.slot).saturating_sub(now_ms),
                drift_ms: self.params.limits().max_clock_drift_ms,
            });
        }
        if self.state_failed.load(Ordering::Relaxed) {
            return Err(StoreError::Corrupt(format!(
                "{}: a commit of the state file failed; reopen the store to bring it up to the blocks",
                self.path
            ))
            .into());
        }
        // Only a store that holds commits in memory needs the size.
        let block_bytes = if self.durable_every.load(Ordering::Relaxed) > 1 {
            block.to_bytes().len() as u64
        } else {
            0
        };
        let mut w = self.db.begin_write()?;
        let durability = self.next_durability(block_bytes);
        w.set_durability(durability)
            .map_err(|e| StoreError::Db(e.into()))?;
        // Known: stored, or on the canonical chain with its body pruned.
        if bodies::has(&w, &hash.0)?
            || w.open_table(CANON)?.get(h.height)?.map(|g| *g.value()) == Some(hash.0)
        {
            w.abort()?;
            return Ok(Imported::AlreadyKnown);
        }
        let mut sw = self.sdb.begin_write()?;
        let state_durability = self.state_durability(durability);
        sw.set_durability(state_durability)
            .map_err(|e| StoreError::Db(e.into()))?;
        let tip = TableState(sw.open_table(STATE)?)
            .tip()
            .map_err(StoreError::from)?;
        if h.parent == tip.hash {
            let (changes, balances) = {
                let state = TableState(sw.open_table(STATE)?);
                self.apply(&state, block)?
            };
            self.put_canonical(&w, &sw, block, &hash, &changes, balances.as_ref())?;
            let new_tip = changes.tip().expect("a block's changes hold the tip");
            self.commit_both(w, sw, durability, state_durability, block_bytes)?;
            self.moved.notify(usize::MAX);
            self.imported.fetch_add(1, Ordering::Relaxed);
            let bytes = self.bytes_written() - before;
            self.last_block_bytes.store(bytes, Ordering::Relaxed);
            self.merge_if_due(new_tip.height)?;
            return Ok(Imported::Extended {
                tip: new_tip,
                bytes_written: bytes,
            });
        }
        // Not on the tip: a side branch, maybe a better one.
        let result = self.import_side(&w, &sw, block, &hash, &tip);
        match result {
            Ok(Some(mut r)) => {
                self.commit_both(w, sw, durability, state_durability, block_bytes)?;
                self.moved.notify(usize::MAX);
                self.imported.fetch_add(1, Ordering::Relaxed);
                let bytes = self.bytes_written() - before;
                if let Imported::Reorganised { bytes_written, .. } = &mut r {
                    *bytes_written = bytes;
                }
                self.merge_if_due(self.tip()?.height)?;
                Ok(r)
            }
            Ok(None) => {
                sw.abort()?;
                w.commit()?;
                self.committed(durability, block_bytes);
                // The state's durable commit follows the blocks' here too,
                // so that a crash loses at most one interval of either.
                if !matches!(durability, Durability::None) && !self.indexed {
                    self.make_state_durable()?;
                }
                self.imported.fetch_add(1, Ordering::Relaxed);
                Ok(Imported::SideBranch { height: h.height })
            }
            Err(e) => {
                sw.abort()?;
                w.abort()?;
                Err(e)
            }
        }
    }

    /// Stores a side block; if its branch is now better, switches to it.
    /// Returns `None` when it only stored the block.
    fn import_side(
        &self,
        w: &WriteTransaction,
        sw: &WriteTransaction,
        block: &Block,
        hash: &Hash,
        tip: &Tip,
    ) -> Result<Option<Imported>, ImportError> {
        let h = &block.header.header;
        let finality = self.params.reorg_limit(tip.height);
        let bad = |why: String| ImportError::BadSideBlock {
            height: h.height,
            hash: *hash,
            why,
        };
        let parent = {
            let p = bodies::get(w, &h.parent.0)?;
            match p {
                Some(bytes) => Some(
                    Block::from_bytes(&bytes, BLOCK_LIMIT)
                        .map_err(|e| StoreError::Corrupt(format!("block {}: {e}", h.parent)))?,
                ),
                None if h.parent == self.params.chain_id() => None,
                // A canonical parent whose body was pruned: a fork below
                // the bodies kept, which no switch can undo to.
                None if h.height > 0
                    && w.open_table(CANON)?.get(h.height - 1)?.map(|g| *g.value())
                        == Some(h.parent.0) =>
                {
                    return Err(ImportError::BeyondFinality {
                        height: h.height,
                        hash: *hash,
                        undo: tip.height.saturating_sub(h.height - 1),
                        finality_depth: finality,
                    })
                }
                None => {
                    return Err(ImportError::UnknownParent {
                        height: h.height,
                        hash: *hash,
                        parent: h.parent,
                    })
                }
            }
        };
        let (parent_height, parent_slot) = parent
            .as_ref()
            .map(|p| (p.header.header.height, p.header.header.slot))
            .unwrap_or((0, 0));
        if h.chain_id != self.params.chain_id() {
            return Err(bad(format!("for chain {}", h.chain_id)));
        }
        if h.height != parent_height + 1 {
            return Err(bad(format!(
                "height is not its parent's + 1 ({parent_height})"
            )));
        }
        if h.slot <= parent_slot {
            return Err(bad(format!(
                "slot {} is not after its parent's {parent_slot}",
                h.slot
            )));
        }
        block
            .header
            .verify()
            .map_err(|e| bad(format!("header signature: {e}")))?;
        // Walk back to the canonical chain.
        let mut branch = vec![block.clone()];
        let mut cursor = parent;
        let fork_height = loop {
            let Some(b) = cursor else { break 0 };
            let bh = b.hash();
            let height = b.header.header.height;
            let canon = w.open_table(CANON)?.get(height)?.map(|g| Hash(*g.value()));
            if canon == Some(bh) {
                break height;
            }
            if tip.height.saturating_sub(height) > finality {
                return Err(ImportError::BeyondFinality {
                    height: h.height,
                    hash: *hash,
                    undo: tip.height - height,
                    finality_depth: finality,
                });
            }
            let parent_hash = b.header.header.parent;
            branch.push(b);
            let p = bodies::get(w, &parent_hash.0)?;
            cursor = match p {
                Some(bytes) => Some(
                    Block::from_bytes(&bytes, BLOCK_LIMIT)
                        .map_err(|e| StoreError::Corrupt(format!("block {parent_hash}: {e}")))?,
                ),
                None if parent_hash == self.params.chain_id() => None,
                // The missing ancestor (at height - 1) was pruned, which only
                // happens at or below the finalized height: the fork point is
                // below it, so at least this many blocks would be undone.
                None => {
                    return Err(ImportError::BeyondFinality {
                        height: h.height,
                        hash: *hash,
                        undo: tip.height.saturating_sub(height.saturating_sub(2)),
                        finality_depth: finality,
                    })
                }
            };
        };
        branch.reverse();
        let current = Head {
            height: tip.height,
            hash: tip.hash,
        };
        let candidate = Head {
            height: h.height,
            hash: *hash,
        };
        match fork::choose(&current, &candidate, fork_height, finality) {
            Decision::BeyondFinality {
                undo,
                finality_depth,
            } => Err(ImportError::BeyondFinality {
                height: h.height,
                hash: *hash,
                undo,
                finality_depth,
            }),
            Decision::Keep => {
                if tip.height.saturating_sub(h.height) >= finality {
                    return Err(ImportError::BeyondFinality {
                        height: h.height,
                        hash: *hash,
                        undo: tip.height - fork_height,
                        finality_depth: finality,
                    });
                }
                bodies::put(w, &hash.0, &block.to_bytes(), false)?;
                w.open_table(SIDE)?
                    .insert(side_key(h.height, hash).as_slice(), ())?;
                Ok(None)
            }
            Decision::Switch { .. } => {
                let undone = self.undo_to(w, sw, fork_height)?;
                let mut applied = Vec::new();
                for b in &branch {
                    let bh = b.hash();
                    let (changes, balances) = {
                        let state = TableState(sw.open_table(STATE)?);
                        self.apply(&state, b)?
                    };
                    w.open_table(SIDE)?
                        .remove(side_key(b.header.header.height, &bh).as_slice())?;
                    self.put_canonical(w, sw, b, &bh, &changes, balances.as_ref())?;
                    applied.push(b.clone());
                }
                let new_tip = TableState(sw.open_table(STATE)?)
                    .tip()
                    .map_err(StoreError::from)?;
                let kept: std::collections::BTreeSet<Hash> = applied
                    .iter()
                    .flat_map(|b| b.txs.iter().map(|t| t.id()))
                    .collect();
                let returned = undone
                    .iter()
                    .rev()
                    .flat_map(|b| b.txs.iter())
                    .filter(|t| !kept.contains(&t.id()))
                    .cloned()
                    .collect();
                Ok(Some(Imported::Reorganised {
                    tip: new_tip,
                    undone,
                    applied,
                    returned,
                    bytes_written: 0,
                }))
            }
        }
    }

    /// Takes canonical blocks off down to `height`, restoring the state; the
    /// blocks stay stored as a side branch. Returns them, tip first.
    fn undo_to(
        &self,
        w: &WriteTransaction,
        sw: &WriteTransaction,
        height: u64,
    ) -> Result<Vec<Block>, ImportError> {
        let mut out = Vec::new();
        loop {
            let tip = TableState(sw.open_table(STATE)?)
                .tip()
                .map_err(StoreError::from)?;
            if tip.height <= height {
                break;
            }
            undo_state_tip(sw, &tip, || {
                format!("no undo record for block {} at {}", tip.hash, tip.height)
            })?;
            let block = {
                let b = bodies::get(w, &tip.hash.0)?
                    .ok_or_else(|| StoreError::Corrupt(format!("block {} missing", tip.hash)))?;
                Block::from_bytes(&b, BLOCK_LIMIT)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?
            };
            if self.indexed {
                index::remove_block(w, tip.height)?;
            }
            w.open_table(CANON)?.remove(tip.height)?;
            self.log_chain_event(w, false, tip.height, &tip.hash)?;
            w.open_table(SIDE)?
                .insert(side_key(tip.height, &tip.hash).as_slice(), ())?;
            out.push(block);
        }
        Ok(out)
    }

    /// Checks `block` against `state` ([`ledger::apply_block`]); on a main
    /// node, measuring its balance changes too.
    fn apply(
        &self,
        state: &impl StateRead,
        block: &Block,
    ) -> Result<(StateChanges, Option<BlockBalances>), ledger::BlockError> {
        if self.indexed {
            ledger::apply_block_traced(&self.params, state, block, Parallelism::AllCores)
                .map(|(c, b)| (c, Some(b)))
        } else {
            ledger::apply_block(&self.params, state, block, Parallelism::AllCores)
                .map(|c| (c, None))
        }
    }

    /// Writes a validated block onto the canonical chain: block, height,
    /// state, undo record, indexes (with what its transactions changed in
    /// balances other than by rule, on a main node), and prunes what fell
    /// below finality.
    fn put_canonical(
        &self,
        w: &WriteTransaction,
        sw: &WriteTransaction,
        block: &Block,
        hash: &Hash,
        changes: &StateChanges,
        balances: Option<&BlockBalances>,
    ) -> Result<(), StoreError> {
        let height = block.height();
        // A store that keeps every body packs the canonical ones.
        let packed = !self.pruning.load(Ordering::Relaxed);
        let body = block.to_bytes();
        bodies::put(w, &hash.0, &body, packed)?;
        w.open_table(CANON)?.insert(height, &hash.0)?;
        self.log_chain_event(w, true, height, hash)?;
        let canon_at = |h: u64| Ok(w.open_table(CANON)?.get(h)?.map(|g| *g.value()));
        self.put_state(sw, canon_at, height, &hash.0, changes)?;
        let finality = self.params.genesis().finality_depth;
        // Below its highest checkpoint a node has no finality of its own
        // (ChainParams::reorg_limit): it keeps every side block, and the
        // block that reaches the checkpoint prunes them all.
        let checkpoint = self.params.highest_checkpoint();
        let prune = height > finality && height >= checkpoint;
        if prune {
            // Side blocks at or below the finalized height can never win.
            remove_side_blocks(w, 0..height - finality + 1)?;
        }
        if prune && self.pruning.load(Ordering::Relaxed) {
            // The newest finality_depth + 1 bodies stay: what a branch
            // switch undoes, and what the check at open reads. The bodies
            // above the state's last durable commit go too: a crash that
            // leaves the state behind them rolls the blocks back to the
            // state ([`Store::catch_up`]), so they are not written out at
            // the next durable commit only to be pruned after it.
            self.prune_bodies(w, height - finality - 1)?;
        }
        if self.indexed {
            index::add_block(w, block, body.len())?;
            if let Some(b) = balances {
                let receipts: BTreeMap<Hash, Receipt> = changes
                    .changes
                    .iter()
                    .filter_map(|c| match (&c.key, &c.after) {
                        (StateKey::Receipt(id), Some(StateValue::Receipt(r))) => {
                            Some((*id, r.clone()))
                        }
                        _ => None,
                    })
                    .collect();
                let residual =
                    balances::residual(&block.txs, &b.txs, |stx| receipts.get(&stx.id()).cloned());
                index::put_residual(w, block.height(), &balances::encode_residual(&residual))?;
            }
        }
        Ok(())
    }

    /// Merges the index runs of every aligned span that became final with
    /// the tip at `tip_height`, in a commit of its own right after the
    /// block's (a crash between the two leaves the merge to the next
    /// import: nothing is lost, the runs answer the same either way).
    fn merge_if_due(&self, tip_height: u64) -> Result<(), StoreError> {
        if !self.indexed {
            return Ok(());
        }
        let finality = self.params.genesis().finality_depth;
        if tip_height <= finality || tip_height < self.params.highest_checkpoint() {
            return Ok(());
        }
        let final_height = tip_height - finality;
        let mut merged = self.merged.load(Ordering::Relaxed);
        if merged == u64::MAX {
            merged = index::merged(&self.db.begin_read()?.open_table(META)?)?;
        }
        if runs::due_merges(merged, final_height).is_empty() {
            self.merged.store(merged, Ordering::Relaxed);
            return Ok(());
        }
        let before = self.bytes_written();
        let w = self.db.begin_write()?;
        let entries = index::merge_final(&w, final_height)?;
        w.commit()?;
        self.merged.store(final_height, Ordering::Relaxed);
        let mut m = self.merges.lock().expect("merge stats");
        m.commits += 1;
        m.bytes_written += self.bytes_written() - before;
        m.entries += entries;
        Ok(())
    }

    /// How many canonical blocks opening took off a forger's blocks file
    /// because a crash had left its state behind them with their bodies
    /// pruned (0 almost always): they are fetched again.
    pub fn taken_back_at_open(&self) -> u64 {
        self.taken_back.load(Ordering::Relaxed)
    }

    /// What merging index runs has cost since the store was opened.
    pub fn merge_stats(&self) -> MergeStats {
        *self.merges.lock().expect("merge stats")
    }

    /// Removes the canonical block bodies at heights up to `upto` that are
    /// still stored (at most [`PRUNE_PER_BLOCK`]) and moves `blocks_from`.
    fn prune_bodies(&self, w: &WriteTransaction, upto: u64) -> Result<(), StoreError> {
        let mut meta = w.open_table(META)?;
        let from = blocks_from_in(&meta)?;
        if from > upto {
            return Ok(());
        }
        let last = upto.min(from + PRUNE_PER_BLOCK - 1);
        let canon = w.open_table(CANON)?;
        for h in from..=last {
            if let Some(hash) = canon.get(h)?.map(|g| *g.value()) {
                bodies::remove(w, &hash)?;
            }
        }
        meta.insert(BLOCKS_FROM, (last + 1).to_le_bytes().as_slice())?;
        Ok(())
    }

    /// Appends a block's joining (`connected`) or leaving the canonical
    /// chain to the chain-event log, in the transaction that does it (an
    /// indexed store's only: a forger's lean store keeps no log).
    fn log_chain_event(
        &self,
        w: &WriteTransaction,
        connected: bool,
        height: u64,
        hash: &Hash,
    ) -> Result<(), StoreError> {
        if !self.indexed {
            return Ok(());
        }
        let mut t = w.open_table(CHAIN_EVENTS)?;
        let seq = t.last()?.map(|(k, _)| k.value()).unwrap_or(0) + 1;
        let e = ChainEvent {
            seq,
            connected,
            height,
            hash: *hash,
        };
        t.insert(seq, e.to_bytes().as_slice())?;
        Ok(())
    }

    /// A listener woken by the next commit that moves the canonical chain
    /// (a block connected or a branch switched). Take it *before* reading
    /// the chain-event log, then wait on it if the read found nothing new:
    /// no commit in between is missed.
    pub fn listen_chain(&self) -> event_listener::EventListener {
        self.moved.listen()
    }

    /// Every state entry, decoded, in key order (for checks against a model).
    pub fn state_entries(&self) -> Result<Vec<(StateKey, StateValue)>, StoreError> {
        let r = self.sdb.begin_read()?;
        let t = r.open_table(STATE)?;
        let mut out = Vec::new();
        for item in t.iter()? {
            let (k, v) = item?;
            let key: StateKey = codec::decode("state key", k.value(), 1024)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let value: StateValue = codec::decode("state value", v.value(), VALUE_LIMIT)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            out.push((key, value));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Re-validates the canonical chain from genesis in memory and compares
    /// the result with the stored state. Returns the height checked, or the
    /// first bad block.
    pub fn verify_chain(&self) -> Result<u64, VerifyError> {
        door::guard(&self.path, "verifying the chain", || {
            self.verify_chain_inner()
        })
    }

    fn verify_chain_inner(&self) -> Result<u64, VerifyError> {
        let snap = self.snapshot()?;
        let tip = snap.tip().map_err(StoreError::from)?;
        let from = snap.blocks_from()?;
        if from > 1 {
            return Err(VerifyError::Pruned { from });
        }
        let mut state = MemState::new();
        state.apply(&ledger::genesis_changes(&self.params));
        for height in 1..=tip.height {
            let block = snap
                .block_at(height)?
                .ok_or(VerifyError::Missing { height })?;
            let changes = ledger::apply_block(&self.params, &state, &block, Parallelism::AllCores)
                .map_err(|error| VerifyError::BadBlock { height, error })?;
            state.apply(&changes);
        }
        let stored = self.state_entries()?;
        let model: Vec<(StateKey, StateValue)> =
            state.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if stored != model {
            let first = stored
                .iter()
                .zip(&model)
                .find(|(a, b)| a != b)
                .map(|(a, _)| format!("{:?}", a.0))
                .unwrap_or_else(|| {
                    format!(
                        "{} stored entries vs {} replayed",
                        stored.len(),
                        model.len()
                    )
                });
            return Err(VerifyError::StateMismatch { first });
        }
        Ok(tip.height)
    }

    /// Records, durably, that `key` is about to sign a header with hash
    /// `root` for `slot`. Refuses any slot at or below the highest recorded
    /// for this key. Returns only after the record is on disk: sign after.
    pub fn record_signature(
        &self,
        key: &PublicKey,
        slot: u64,
        root: &Hash,
    ) -> Result<(), SigningError> {
        self.signing.record(key, slot, root)
    }

    /// The highest slot recorded for `key`.
    pub fn last_signed_slot(&self, key: &PublicKey) -> Result<Option<u64>, StoreError> {
        Ok(self.signing.last_slot(key))
    }

    /// The signing record as an interchange document (all keys, or one).
    pub fn export_signing_record(
        &self,
        key: Option<&PublicKey>,
    ) -> Result<Interchange, StoreError> {
        door::guard(&self.path, "reading the signing record", || {
            signing::export(&self.signing, &self.db, &self.params, key)
        })
    }

    /// Merges an interchange document into the signing record; never lowers a
    /// recorded slot. Returns how many entries were new.
    pub fn import_signing_record(&self, doc: &Interchange) -> Result<usize, SigningError> {
        door::guard(&self.path, "writing the signing record", || {
            signing::import(&self.signing, &self.db, &self.params, doc)
        })
    }
}

/// Why `chain verify` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A stored block breaks a rule.
    #[error("first bad block at height {height}: {error}")]
    BadBlock {
        /// Its height.
        height: u64,
        /// What is wrong.
        error: BlockError,
    },
    /// A forger's pruned store holds no bodies below `from`.
    #[error("this store keeps block bodies from height {from} only (a forger's store prunes what fell below the finality depth): replaying the chain needs them all; verify a main node's store, or run the forger with --keep-blocks all")]
    Pruned {
        /// The lowest height with a body.
        from: u64,
    },
    /// A height has no block.
    #[error("no block stored at height {height}")]
    Missing {
        /// The height.
        height: u64,
    },
    /// Replaying gives another state than the stored one.
    #[error("the stored state differs from the replayed chain (first difference at {first})")]
    StateMismatch {
        /// The first differing key.
        first: String,
    },
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// Takes the state's tip block `tip` off: its undo record is removed and
/// the values before it written back. `missing` says what it means that
/// the record is not there.
fn undo_state_tip(
    sw: &WriteTransaction,
    tip: &Tip,
    missing: impl FnOnce() -> String,
) -> Result<(), StoreError> {
    let bytes = sw
        .open_table(UNDO)?
        .remove(&tip.hash.0)?
        .map(|g| g.value().to_vec())
        .ok_or_else(|| StoreError::Corrupt(missing()))?;
    let changes: StateChanges = codec::decode("undo record", &bytes, VALUE_LIMIT)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    write_changes(&mut sw.open_table(STATE)?, &changes, true)
}

fn write_changes(
    table: &mut redb::Table<&[u8], &[u8]>,
    changes: &StateChanges,
    undo: bool,
) -> Result<(), StoreError> {
    for c in &changes.changes {
        let k = state_key(&c.key);
        let v = if undo { &c.before } else { &c.after };
        match v {
            Some(v) => {
                table.insert(k.as_slice(), encode(v).as_slice())?;
            }
            None => {
                table.remove(k.as_slice())?;
            }
        }
    }
    Ok(())
}

/// The state file's path beside the blocks' file at `path`.
fn state_path_of(path: &str) -> String {
    Path::new(path)
        .with_file_name(STATE_FILE_NAME)
        .display()
        .to_string()
}

/// The default data directory's store file path.
pub fn file_in(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}
