//! The store's door: what is checked before a store file is used, so that a
//! damaged store is refused with a clear [`StoreError::Damaged`] (exit 2,
//! the red LED on a forger) instead of being started afresh, served, or
//! crashing the process.
//!
//! - **The marker.** After a store's first commit, `goodwill.redb.committed`
//!   is written beside it (and synced, with its directory). A store file
//!   that is missing, empty or without redb's magic number while the marker
//!   is there once held data: it is refused. Without the marker the file
//!   never held a commit (a creation cut short) and may be created anew.
//! - **Panics inside redb.** A damaged file can make redb panic (seen: redb
//!   4.4.0 `tree_store/page_store/bitmap.rs:112` loading the allocator state
//!   while opening). [`guard`] runs redb under `catch_unwind` and turns a
//!   panic into an error.
//! - **The chain's last blocks** ([`Store::check_at_open`]): see
//!   docs/design.md, "What is checked when a store opens".

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};

use super::{
    bodies, Store, StoreError, BLOCK_LIMIT, CANON, FILE_NAME, META, STATE, UNDO, VALUE_LIMIT,
};
use crate::chain::block::Block;
use crate::chain::codec::{self, encode};
use crate::chain::crypto::Hash;
use crate::ledger::state::{StateChanges, StateKey, StateRead, StateReadExt, StateValue};

/// The marker beside a store that has committed once.
pub const MARKER: &str = "goodwill.redb.committed";

/// redb's magic number: the first bytes of every redb file.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

/// What the operator does about a damaged store (in every refusal).
pub const WAY_BACK: &str = "goodwill will not start it afresh, which would forget the chain and a forger's signing record. \
The way back (docs/operate.md, \"A damaged store\"): on a forger, save its signing record with \
`goodwill signing-record export` if the file still opens for that, or take your latest export; \
move goodwill.redb and goodwill.redb.committed aside; `goodwill signing-record import --data DIR --genesis FILE --file RECORD`; \
start again: the chain re-syncs from the main nodes";

/// What the operator does about a damaged state file: it is computed from
/// the blocks, so nothing is lost with it.
pub const STATE_WAY_BACK: &str = "The state is computed from the blocks, so nothing is lost with this file. \
The way back (docs/operate.md, \"A damaged store\"): on a main node, move state.redb aside and start again: \
it is rebuilt from the stored blocks; on a forger (it keeps only the last blocks), move goodwill.redb, \
state.redb and goodwill.redb.committed aside, keep signing.log, and start again: the chain re-syncs from the main nodes";

/// The way back for the damaged file at `path`.
pub fn way_back(path: &str) -> &'static str {
    if path.ends_with(super::STATE_FILE_NAME) {
        STATE_WAY_BACK
    } else {
        WAY_BACK
    }
}

/// An error met opening a store file (or bringing up the state file),
/// named as that file's damage where it is damage (bytes that do not check
/// out); other errors (the disk, the file system) as they are.
pub(super) fn in_file(path: &str, e: StoreError) -> StoreError {
    match e {
        StoreError::Corrupt(why) => StoreError::Damaged {
            path: path.to_string(),
            why,
        },
        StoreError::Db(redb::Error::Corrupted(why)) => StoreError::Damaged {
            path: path.to_string(),
            why,
        },
        StoreError::Damaged { why, .. } => StoreError::Damaged {
            path: path.to_string(),
            why,
        },
        // redb's "Not a redb database": bytes that are not its header.
        StoreError::Db(redb::Error::Io(e)) if e.kind() == io::ErrorKind::InvalidData => {
            StoreError::Damaged {
                path: path.to_string(),
                why: e.to_string(),
            }
        }
        other => other,
    }
}

fn damaged(path: &Path, why: impl Into<String>) -> StoreError {
    StoreError::Damaged {
        path: path.display().to_string(),
        why: why.into(),
    }
}

/// Runs `f` (redb calls) and turns a panic inside it into
/// [`StoreError::Damaged`]: a damaged file must stop the process with a
/// clear error, not a panic (exit 101, a restart loop).
pub(super) fn guard<T, E: From<StoreError>>(
    path: &str,
    what: &str,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Err(StoreError::Damaged {
                path: path.to_string(),
                why: format!("the database library panicked while {what} ({message})"),
            }
            .into())
        }
    }
}

/// The open database, closed under `catch_unwind`: redb commits its
/// allocator state when a database closes, and a damaged allocator state
/// that went unnoticed while open panics there (seen: redb 4.4.0
/// `bitmap.rs:275` under `Database::drop`). A store that is dropped must
/// not turn a clean stop into a panic; the file stays as the last commit
/// left it, and redb rebuilds its allocator state at the next open. A
/// store dropped while a panic unwinds (one caught by [`guard`]) is not
/// closed at all: a second panic there would abort the process.
pub(super) struct ClosingDb {
    db: Option<redb::Database>,
    path: String,
}

impl ClosingDb {
    pub(super) fn new(db: redb::Database, path: &str) -> ClosingDb {
        ClosingDb {
            db: Some(db),
            path: path.to_string(),
        }
    }
}

impl std::ops::Deref for ClosingDb {
    type Target = redb::Database;
    fn deref(&self) -> &redb::Database {
        self.db
            .as_ref()
            .expect("the database is there until the store is dropped")
    }
}

impl Drop for ClosingDb {
    fn drop(&mut self) {
        if let Some(db) = self.db.take() {
            if std::thread::panicking() {
                // Dropped while unwinding from a panic of the database
                // library (caught by `guard` around it): redb's closing
                // commit would walk the same damaged pages, and a second
                // panic now aborts the process. Leave the file as its last
                // commit left it (redb is crash-safe), without closing.
                std::mem::forget(db);
                return;
            }
            if std::panic::catch_unwind(AssertUnwindSafe(move || drop(db))).is_err() {
                log::error!(
                    "goodwill: {}: the database library panicked while closing the store; \
                     the file keeps its last commit",
                    self.path
                );
            }
        }
    }
}

/// The data directory, made if missing; a path that is not a directory is
/// refused by name (not "File exists (os error 17)").
pub(super) fn data_dir(dir: &Path) -> Result<(), StoreError> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(StoreError::NotADirectory(dir.display().to_string())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.display().to_string(),
                source,
            })
        }
        Err(source) => Err(StoreError::Io {
            path: dir.display().to_string(),
            source,
        }),
    }
}

/// Whether the marker says the store in `dir` has committed.
pub(super) fn marked(dir: &Path) -> Result<bool, StoreError> {
    let m = dir.join(MARKER);
    match std::fs::symlink_metadata(&m) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(StoreError::Io {
            path: m.display().to_string(),
            source,
        }),
    }
}

/// Opens the store file in `dir` for redb. `create`: a missing file may be
/// created (never when the marker says it held data). Refuses a file the
/// marker says held data that is now missing, empty or not a redb file.
pub(super) fn open_file(dir: &Path, create: bool) -> Result<(File, PathBuf), StoreError> {
    let path = dir.join(FILE_NAME);
    let was_committed = marked(dir)?;
    let io = |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(create && !was_committed)
        .truncate(false)
        .open(&path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound && was_committed => {
            return Err(damaged(
                &path,
                format!("it is missing, but {MARKER} says this directory held a store"),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(StoreError::Missing(dir.display().to_string()))
        }
        Err(e) => return Err(io(e)),
    };
    if was_committed {
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(damaged(&path, "it is not a regular file"));
        }
        if meta.len() == 0 {
            return Err(damaged(
                &path,
                format!("it is empty, but {MARKER} says it held a chain"),
            ));
        }
        let mut head = [0u8; REDB_MAGIC.len()];
        read_head(&file, &mut head).map_err(io)?;
        if head != REDB_MAGIC {
            let what = if head.iter().all(|b| *b == 0) {
                "its header is zeroed"
            } else {
                "it has no valid header (not a redb file)"
            };
            return Err(damaged(
                &path,
                format!("{what}, but {MARKER} says it held a chain"),
            ));
        }
    }
    Ok((file, path))
}

/// Opens (creating if missing, with its directory synced) the signing log
/// in `dir`, for [`super::signing::SigningLog`].
pub(super) fn open_signing_log(
    dir: &Path,
) -> Result<(redb::backends::FileBackend, String), StoreError> {
    let path = dir.join(super::LOG_FILE);
    let shown = path.display().to_string();
    let io = |source| StoreError::Io {
        path: shown.clone(),
        source,
    };
    let file = open_or_create(dir, &path).map_err(io)?;
    let backend = redb::backends::FileBackend::new(file).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Io {
            path: shown.clone(),
            source: io::Error::other("the signing log is open in another process"),
        },
        other => StoreError::Db(redb::Error::from(other)),
    })?;
    Ok((backend, shown))
}

fn read_head(file: &File, out: &mut [u8]) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut done = 0;
    while done < out.len() {
        match file.read_at(&mut out[done..], done as u64)? {
            0 => break, // shorter than the magic number: zeros compare unequal
            n => done += n,
        }
    }
    Ok(())
}

/// The state file in `dir` ([`super::STATE_FILE_NAME`]), made if missing:
/// a store from before it gets its state moved in at open, and a state file
/// lost is rebuilt from the blocks (where they are all kept). A path there
/// that is not a regular file is refused by name.
pub(super) fn open_state_file(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join(super::STATE_FILE_NAME);
    let io = |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    };
    if path.exists() && !path.is_file() {
        return Err(damaged(&path, "it is not a regular file"));
    }
    open_or_create(dir, &path).map_err(io)
}

/// Opens `path` in `dir` for reading and writing, creating it (and syncing
/// the directory, so a power cut cannot lose the new name) if missing.
fn open_or_create(dir: &Path, path: &Path) -> io::Result<File> {
    let existed = path.exists();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    if !existed {
        File::open(dir).and_then(|d| d.sync_all())?;
    }
    Ok(file)
}

/// Writes the marker (once): the store in `dir` has committed. Synced with
/// its directory, so a power cut cannot keep the store and lose the marker.
pub(super) fn mark(dir: &Path) -> Result<(), StoreError> {
    use std::io::Write;
    if marked(dir)? {
        return Ok(());
    }
    let m = dir.join(MARKER);
    let io = |source| StoreError::Io {
        path: m.display().to_string(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&m)
        .map_err(io)?;
    f.write_all(
        format!(
            "{FILE_NAME} in this directory has held a goodwill chain. While this file is here, \
             goodwill refuses a {FILE_NAME} that is missing, empty or zeroed instead of starting \
             a new chain (docs/operate.md, \"A damaged store\").\n"
        )
        .as_bytes(),
    )
    .and_then(|_| f.sync_all())
    .map_err(io)?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io)
}

impl Store {
    /// What is checked each time a store opens (cheap: the last
    /// `finality_depth` blocks, not the whole chain — `chain verify` does
    /// that): the meta table against the genesis given; the tip in the
    /// state against the canonical chain's last entry; for each of the last
    /// `finality_depth` canonical blocks: stored, decodes, its hash and
    /// height, its chain, its signature, its transactions' root, its parent
    /// (the block below, or genesis), its slot above its parent's; each of
    /// their undo records (the state changes they made) against the state
    /// digests of the block and its parent; and each state entry they
    /// changed last against the stored state. A young chain (all of it
    /// within the window) is checked whole: every state entry against the
    /// blocks and the genesis.
    pub fn check_at_open(&self) -> Result<(), StoreError> {
        let path = Path::new(&self.path);
        let bad = |why: String| damaged(path, why);
        let state_path = super::state_path_of(&self.path);
        let bad_state = |why: String| damaged(Path::new(&state_path), why);
        let r = self.db.begin_read()?;
        // The meta table.
        let meta = r.open_table(META)?;
        let stored_genesis = meta
            .get("genesis")?
            .map(|g| g.value().to_vec())
            .ok_or_else(|| bad("the meta table has no genesis".into()))?;
        if stored_genesis != encode(self.params.genesis()) {
            return Err(bad(
                "the genesis in the meta table differs from the chain's".into(),
            ));
        }
        let stored_contracts = meta.get("contracts")?.map(|c| c.value().to_vec());
        if stored_contracts != self.params.contracts().map(encode) {
            return Err(bad(
                "the contract parameters in the meta table differ from the chain's".into(),
            ));
        }
        match meta.get("indexes")?.map(|v| v.value().to_vec()) {
            None => {}
            Some(v) if v == [0] || v == [1] => {}
            Some(v) => return Err(bad(format!("the meta table's indexes flag is {v:?}"))),
        }
        // A forger's store keeps bodies from here on (none below, and none
        // at all right after its blocks were rolled back to its state:
        // `Store::catch_up`).
        let kept_from = super::blocks_from_in(&meta)?;
        drop(meta);
        let snap = self.snapshot()?;
        let tip = snap.tip()?;
        let canon = r.open_table(CANON)?;
        let undo = snap.state_txn().open_table(UNDO)?;
        let last = canon.last()?.map(|(h, v)| (h.value(), Hash(*v.value())));
        if last != Some((tip.height, tip.hash)) {
            return Err(bad(format!(
                "the state's tip is block {} at height {}, the canonical chain ends at {}",
                tip.hash,
                tip.height,
                match last {
                    Some((h, x)) => format!("{x} at height {h}"),
                    None => "nothing".into(),
                }
            )));
        }
        if canon.len()? != tip.height + 1 {
            return Err(bad(format!(
                "the canonical chain has {} entries for a tip at height {}",
                canon.len()?,
                tip.height
            )));
        }
        let genesis = crate::ledger::genesis_changes(&self.params);
        if tip.height == 0
            && (tip.hash != self.params.chain_id() || tip.state_digest != genesis.digest)
        {
            return Err(bad("the genesis tip does not match the chain".into()));
        }
        let finality = self.params.genesis().finality_depth;
        // Past the tip + 1 it was never written (a rollback leaves tip + 1),
        // and a store with indexes never prunes: either is damage, and
        // would otherwise skip the bodies' checks below.
        if kept_from == 0 || kept_from > tip.height + 1 || (self.indexed && kept_from != 1) {
            return Err(bad(format!(
                "the meta table keeps block bodies from height {kept_from}, with the tip at {}{}",
                tip.height,
                if self.indexed {
                    " on a store that never prunes"
                } else {
                    ""
                }
            )));
        }
        let lowest = tip.height.saturating_sub(finality).max(1).max(kept_from);
        // Keys whose latest change has been checked against the state.
        let mut seen: BTreeSet<StateKey> = BTreeSet::new();
        let mut stored_state: BTreeMap<StateKey, Option<StateValue>> = BTreeMap::new();
        let mut check_changes = |changes: &StateChanges,
                                 seen: &mut BTreeSet<StateKey>|
         -> Result<(), StoreError> {
            for c in &changes.changes {
                if c.key == StateKey::Tip || !seen.insert(c.key.clone()) {
                    continue;
                }
                let now = snap.get(&c.key)?;
                if now != c.after {
                    return Err(bad_state(format!(
                        "the state entry {:?} differs from what the block that last changed it wrote",
                        c.key
                    )));
                }
                stored_state.insert(c.key.clone(), now);
            }
            Ok(())
        };
        let mut child: Option<Block> = None;
        for height in (lowest..=tip.height).rev() {
            let hash = canon
                .get(height)?
                .map(|g| Hash(*g.value()))
                .ok_or_else(|| bad(format!("no canonical block at height {height}")))?;
            let bytes = bodies::get(&r, &hash.0)?
                .ok_or_else(|| bad(format!("block {hash} at height {height} is not stored")))?;
            let block = Block::from_bytes(&bytes, BLOCK_LIMIT)
                .map_err(|e| bad(format!("block {hash} at height {height}: {e}")))?;
            let h = &block.header.header;
            let at = |why: &str| bad(format!("block {hash} at height {height}: {why}"));
            let at_state = |why: &str| bad_state(format!("block {hash} at height {height}: {why}"));
            if block.hash() != hash {
                return Err(at("its bytes do not hash to its key"));
            }
            if h.height != height || h.chain_id != self.params.chain_id() {
                return Err(at("its height or chain is not where it is stored"));
            }
            if block.header.verify().is_err() {
                return Err(at("its signature does not verify"));
            }
            let ids: Vec<Hash> = block.txs.iter().map(|t| t.id()).collect();
            if crate::chain::merkle::root(&ids) != h.tx_root {
                return Err(at("its transactions do not match its header"));
            }
            if let Some(c) = &child {
                if c.header.header.parent != hash || c.header.header.slot <= h.slot {
                    return Err(at("the block above it does not extend it"));
                }
            } else if h.slot != tip.slot || h.state_digest != tip.state_digest {
                return Err(at("the state's tip differs from it"));
            }
            if height == 1 && h.parent != self.params.chain_id() {
                return Err(at("its parent is not the genesis"));
            }
            // Undo records are kept for blocks within the finality depth.
            if tip.height - height < finality {
                let u = undo
                    .get(&hash.0)?
                    .map(|g| g.value().to_vec())
                    .ok_or_else(|| at_state("its undo record is missing"))?;
                let changes: StateChanges = codec::decode("undo record", &u, VALUE_LIMIT)
                    .map_err(|e| at_state(&format!("its undo record: {e}")))?;
                if changes.digest != h.state_digest {
                    return Err(at_state("its undo record does not match its state digest"));
                }
                let parent_digest = if height == 1 {
                    Some(genesis.digest)
                } else {
                    bodies::get(&r, &h.parent.0)?
                        .and_then(|b| Block::from_bytes(&b, BLOCK_LIMIT).ok())
                        .map(|p| p.header.header.state_digest)
                };
                if let Some(pd) = parent_digest {
                    if crate::ledger::state::digest(&pd, &changes.changes) != h.state_digest {
                        return Err(at_state(
                            "its undo record does not chain from its parent's digest",
                        ));
                    }
                }
                check_changes(&changes, &mut seen)?;
            }
            child = Some(block);
        }
        // A young chain, all within the window: every state entry is
        // accounted for by the blocks and the genesis.
        if lowest == 1 && tip.height < finality {
            check_changes(&genesis, &mut seen)?;
            let present = stored_state.values().filter(|v| v.is_some()).count() as u64 + 1; // + the tip
            let entries = snap.state_txn().open_table(STATE)?.len()?;
            if entries != present {
                return Err(bad_state(format!(
                    "the state holds {entries} entries, the chain accounts for {present}"
                )));
            }
        }
        Ok(())
    }
}
