//! Storage backends under redb: the real file with a byte counter (for the
//! SD-card wear figure), and a simulated disk that fails on command and
//! loses what was never synced (for the crash tests).

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use redb::backends::FileBackend;
use std::ops::Bound;

use redb::{BackendError, StorageBackend};

/// redb's file-lock methods of a backend that wraps another (`inner`):
/// passed through, so a second handle cannot open the same file at once.
macro_rules! delegate_locks {
    () => {
        fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
            self.inner.try_lock_range(start, end)
        }
        fn try_lock_shared_range(
            &self,
            start: Bound<u64>,
            end: Bound<u64>,
        ) -> Result<bool, BackendError> {
            self.inner.try_lock_shared_range(start, end)
        }
        fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
            self.inner.lock_range(start, end)
        }
        fn lock_shared_range(
            &self,
            start: Bound<u64>,
            end: Bound<u64>,
        ) -> Result<(), BackendError> {
            self.inner.lock_shared_range(start, end)
        }
        fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
            self.inner.unlock_range(start, end)
        }
        fn query_lock_range(
            &self,
            start: Bound<u64>,
            end: Bound<u64>,
        ) -> Result<bool, BackendError> {
            self.inner.query_lock_range(start, end)
        }
    };
}

/// The real file, counting every byte redb writes to it.
#[derive(Debug)]
pub struct CountingFile {
    inner: FileBackend,
    written: Arc<AtomicU64>,
}

impl CountingFile {
    /// Wraps an open file; `written` accumulates bytes written.
    pub fn new(file: std::fs::File, written: Arc<AtomicU64>) -> Result<Self, redb::DatabaseError> {
        Ok(CountingFile {
            inner: FileBackend::new(file)?,
            written,
        })
    }
}

impl StorageBackend for CountingFile {
    fn len(&self) -> Result<u64, io::Error> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> Result<(), io::Error> {
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.written.fetch_add(data.len() as u64, Ordering::Relaxed);
        self.inner.write(offset, data)
    }
    fn close(&self) -> Result<(), io::Error> {
        self.inner.close()
    }
    // The file's locks: without them a second handle (another process, or a
    // test reopening a node's directory) could open the same file at once.
    delegate_locks!();
}

/// redb's magic number: the first bytes of every redb file.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];
/// redb's header lives in the file's first page.
const HEADER_PAGE: usize = 4096;
/// Larger than any file a cut-short creation leaves (redb starts at ~1 MiB).
const TORN_LIMIT: u64 = 16 << 20;

/// Empties a file left by a redb creation cut short by a crash; returns
/// whether it did.
///
/// Creating a database, redb sizes the file, writes its header without the
/// magic number, syncs, and writes the magic number only then. A crash before
/// that leaves a file redb refuses ("not a redb database") although it never
/// held a commit, and the node could not start again. Such a file — no magic
/// number, nothing but zeros after the header page — holds nothing, so it is
/// emptied and redb creates the database anew. Any other file is left for
/// redb to judge.
pub(super) fn discard_torn_creation(backend: &impl StorageBackend) -> Result<bool, io::Error> {
    let len = backend.len()?;
    if len == 0 || len > TORN_LIMIT {
        return Ok(false);
    }
    let mut bytes = vec![0u8; len as usize];
    backend.read(0, &mut bytes)?;
    let magic_absent = bytes.iter().take(REDB_MAGIC.len()).all(|b| *b == 0);
    let body_empty = bytes.iter().skip(HEADER_PAGE).all(|b| *b == 0);
    if !(magic_absent && body_empty) {
        return Ok(false);
    }
    backend.set_len(0)?;
    Ok(true)
}

/// The contents of a simulated disk: what reached the platter (`durable`)
/// and what sits in the page cache (`volatile`). A sync copies only what
/// changed since the last one (`dirty` ranges; `shortest`: the least length
/// the file had meanwhile), so a simulated network of many stores stays fast.
#[derive(Default)]
struct Platter {
    durable: Vec<u8>,
    volatile: Vec<u8>,
    dirty: Vec<(usize, usize)>,
    shortest: Option<usize>,
}

impl Platter {
    fn sync(&mut self) {
        let len = self.volatile.len();
        if let Some(shortest) = self.shortest.take() {
            // Bytes cut off and grown back are zeros now, not what was there.
            self.durable.truncate(shortest);
        }
        self.durable.resize(len, 0);
        for (start, end) in std::mem::take(&mut self.dirty) {
            let end = end.min(len);
            if start < end {
                self.durable[start..end].copy_from_slice(&self.volatile[start..end]);
            }
        }
    }
}

/// A simulated disk for crash tests. Every write and sync counts down; when
/// the count reaches zero that operation fails, and so does everything after
/// it (the process is "dead"). [`SimDisk::crash`] then yields the disk as a
/// power cut would leave it (only synced bytes) or as a killed process would
/// (everything written).
#[derive(Clone)]
pub struct SimDisk {
    platter: Arc<Mutex<Platter>>,
    countdown: Arc<AtomicU64>,
    ops: Arc<AtomicU64>,
}

impl fmt::Debug for SimDisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SimDisk(ops={})", self.ops.load(Ordering::SeqCst))
    }
}

/// How a crash leaves the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashKind {
    /// Power cut: only what was synced survives.
    PowerCut,
    /// Process killed: the OS keeps every completed write.
    ProcessKill,
}

impl SimDisk {
    /// An empty disk that never fails.
    pub fn new() -> SimDisk {
        SimDisk {
            platter: Arc::default(),
            countdown: Arc::new(AtomicU64::new(u64::MAX)),
            ops: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Makes the `n`th write or sync from now fail (n ≥ 1), and all after it.
    pub fn fail_after(&self, n: u64) {
        self.countdown.store(n, Ordering::SeqCst);
    }

    /// Writes and syncs done so far.
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::SeqCst)
    }

    /// Whether the injected failure has fired.
    pub fn failed(&self) -> bool {
        self.countdown.load(Ordering::SeqCst) == 0
    }

    /// A fresh, working disk holding what survives a crash of this one.
    pub fn crash(&self, kind: CrashKind) -> SimDisk {
        let p = self.platter.lock().expect("sim disk lock");
        let bytes = match kind {
            CrashKind::PowerCut => p.durable.clone(),
            CrashKind::ProcessKill => p.volatile.clone(),
        };
        SimDisk {
            platter: Arc::new(Mutex::new(Platter {
                durable: bytes.clone(),
                volatile: bytes,
                dirty: Vec::new(),
                shortest: None,
            })),
            countdown: Arc::new(AtomicU64::new(u64::MAX)),
            ops: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Another file on the same disk: bytes of its own, the same failure
    /// countdown and operation count (a store's signing log beside it).
    pub fn sibling(&self) -> SimDisk {
        SimDisk {
            platter: Arc::default(),
            countdown: self.countdown.clone(),
            ops: self.ops.clone(),
        }
    }

    /// [`SimDisk::crash`] of a sibling file: what survives of this one, on
    /// `disk` (the crashed disk its sibling is now on).
    pub fn crash_beside(&self, kind: CrashKind, disk: &SimDisk) -> SimDisk {
        let mut crashed = self.crash(kind);
        crashed.countdown = disk.countdown.clone();
        crashed.ops = disk.ops.clone();
        crashed
    }

    fn tick(&self) -> Result<(), io::Error> {
        self.ops.fetch_add(1, Ordering::SeqCst);
        let r = self
            .countdown
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| match c {
                0 => None,
                u64::MAX => Some(u64::MAX),
                c => Some(c - 1),
            });
        match r {
            Ok(1) | Err(_) => Err(io::Error::other("injected I/O failure")),
            Ok(_) => Ok(()),
        }
    }
}

impl Default for SimDisk {
    fn default() -> Self {
        SimDisk::new()
    }
}

impl StorageBackend for SimDisk {
    fn len(&self) -> Result<u64, io::Error> {
        Ok(self.platter.lock().expect("sim disk lock").volatile.len() as u64)
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        let p = self.platter.lock().expect("sim disk lock");
        let start = offset as usize;
        let end = start
            .checked_add(out.len())
            .filter(|e| *e <= p.volatile.len())
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"))?;
        out.copy_from_slice(&p.volatile[start..end]);
        Ok(())
    }
    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        self.tick()?;
        let mut p = self.platter.lock().expect("sim disk lock");
        let len = len as usize;
        if len < p.volatile.len() {
            let shortest = p.shortest.unwrap_or(len).min(len);
            p.shortest = Some(shortest);
        }
        p.volatile.resize(len, 0);
        Ok(())
    }
    fn sync_data(&self) -> Result<(), io::Error> {
        self.tick()?;
        self.platter.lock().expect("sim disk lock").sync();
        Ok(())
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.tick()?;
        let mut p = self.platter.lock().expect("sim disk lock");
        let end = offset as usize + data.len();
        if p.volatile.len() < end {
            p.volatile.resize(end, 0);
        }
        p.volatile[offset as usize..end].copy_from_slice(data);
        p.dirty.push((offset as usize, end));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(d: &SimDisk) -> Vec<u8> {
        let mut out = vec![0u8; d.len().unwrap() as usize];
        d.read(0, &mut out).unwrap();
        out
    }

    #[test]
    fn a_power_cut_keeps_exactly_what_was_synced() {
        let d = SimDisk::new();
        d.write(0, &[1, 2, 3, 4]).unwrap();
        d.sync_data().unwrap();
        d.write(1, &[9]).unwrap();
        d.write(6, &[7]).unwrap();
        assert_eq!(bytes(&d.crash(CrashKind::PowerCut)), [1, 2, 3, 4]);
        assert_eq!(
            bytes(&d.crash(CrashKind::ProcessKill)),
            [1, 9, 3, 4, 0, 0, 7]
        );
        // Cut short and grown back: the bytes in between are zeros once synced.
        d.set_len(2).unwrap();
        d.set_len(5).unwrap();
        d.write(4, &[5]).unwrap();
        assert_eq!(bytes(&d.crash(CrashKind::PowerCut)), [1, 2, 3, 4]);
        d.sync_data().unwrap();
        assert_eq!(bytes(&d.crash(CrashKind::PowerCut)), [1, 9, 0, 0, 5]);
    }
}

/// A backend that can be shut: from then on it refuses every write, size
/// change and sync, so the database on it keeps its last durable commit
/// whatever is done with it (closing it included). The state file is kept
/// on one: when its blocks cannot be made durable, the state must not be
/// made durable past them on its way out.
#[derive(Debug)]
pub(super) struct Shuttable<B> {
    inner: B,
    shut: Arc<std::sync::atomic::AtomicBool>,
}

impl<B: StorageBackend> Shuttable<B> {
    /// Wraps `inner`; the flag returned shuts it when set.
    pub(super) fn new(inner: B) -> (Self, Arc<std::sync::atomic::AtomicBool>) {
        let shut = Arc::new(std::sync::atomic::AtomicBool::new(false));
        (
            Shuttable {
                inner,
                shut: shut.clone(),
            },
            shut,
        )
    }

    fn open(&self) -> Result<(), io::Error> {
        if self.shut.load(Ordering::SeqCst) {
            Err(io::Error::other(
                "the state file takes no more writes: its blocks could not be made durable",
            ))
        } else {
            Ok(())
        }
    }
}

impl<B: StorageBackend> StorageBackend for Shuttable<B> {
    fn len(&self) -> Result<u64, io::Error> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        self.open()?;
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> Result<(), io::Error> {
        self.open()?;
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.open()?;
        self.inner.write(offset, data)
    }
    fn close(&self) -> Result<(), io::Error> {
        self.inner.close()
    }
    delegate_locks!();
}

/// The page size [`HoldWrites`] holds by: redb's.
const HELD_PAGE: u64 = 4096;

/// A backend that holds what redb writes between two syncs in memory, and
/// writes it to the file, in offset order, only when redb syncs (or when
/// more than its bound is held, or at close).
///
/// A forger makes one block commit in [`crate::peer::policy::FORGER_DURABLE_BLOCKS`]
/// durable; the commits between write the same state leaves again and
/// again. redb holds such pages in its write buffer, but that buffer is at
/// most half of its cache, and its read cache fills the whole cache with
/// pages read once: a cache big enough to hold the writes held the forger's
/// resident memory at 30 MiB. Held here, the pages written cost memory only
/// until the durable commit, and redb's cache stays small.
///
/// What a crash keeps is unchanged: a sync writes everything held before it
/// syncs the file, so every write redb ordered before a sync is on the disk
/// after it, and a write not yet synced may be lost — as the operating
/// system's page cache could lose it anyway.
#[derive(Debug)]
pub(super) struct HoldWrites<B> {
    inner: B,
    held: Mutex<Held>,
    /// Held bytes beyond which everything held is written out (not synced).
    bound: usize,
}

/// Held pages are kept this many to an allocation ([`super::HELD_SLAB_BYTES`]).
const SLAB_PAGES: usize = super::HELD_SLAB_BYTES / HELD_PAGE as usize;

/// Pages held since the last sync, by page number, and the end of the
/// furthest write (the file's length as redb sees it may pass the inner
/// file's until they are written).
#[derive(Debug, Default)]
struct Held {
    /// Page number → its slot in `slabs`.
    pages: std::collections::BTreeMap<u64, u32>,
    /// The held bytes, [`SLAB_PAGES`] pages an allocation; a slot is
    /// taken once until everything held is written out (a page cut off by
    /// `set_len` keeps its slot until then).
    slabs: Vec<Box<[u8]>>,
    /// Slots taken.
    used: u32,
    end: u64,
    /// The inner file's length: set at open, by `set_len` and by the
    /// writes that reach it (all go through here).
    inner_len: u64,
}

impl Held {
    fn page(&self, slot: u32) -> &[u8] {
        let (slab, at) = (slot as usize / SLAB_PAGES, slot as usize % SLAB_PAGES);
        &self.slabs[slab][at * HELD_PAGE as usize..][..HELD_PAGE as usize]
    }

    fn page_mut(&mut self, slot: u32) -> &mut [u8] {
        let (slab, at) = (slot as usize / SLAB_PAGES, slot as usize % SLAB_PAGES);
        &mut self.slabs[slab][at * HELD_PAGE as usize..][..HELD_PAGE as usize]
    }

    /// A fresh slot (zeros), a new slab when the last is full.
    fn take_slot(&mut self) -> u32 {
        let slot = self.used;
        if slot as usize / SLAB_PAGES == self.slabs.len() {
            self.slabs
                .push(vec![0u8; SLAB_PAGES * HELD_PAGE as usize].into_boxed_slice());
        }
        self.used += 1;
        slot
    }

    /// Bytes of memory the held pages take.
    fn bytes(&self) -> usize {
        self.used as usize * HELD_PAGE as usize
    }
}

impl<B: StorageBackend> HoldWrites<B> {
    /// Wraps `inner`, holding at most `bound` bytes of pages (0: holds
    /// nothing; every write goes straight through).
    pub(super) fn new(inner: B, bound: usize) -> Result<Self, io::Error> {
        let inner_len = inner.len()?;
        Ok(HoldWrites {
            inner,
            held: Mutex::new(Held {
                inner_len,
                ..Held::default()
            }),
            bound,
        })
    }

    /// The held pages; an error once a panic struck while they were being
    /// changed: a page may be half copied, so none is written from then on
    /// (the durable commit before stays what the file holds).
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Held>, io::Error> {
        self.held.lock().map_err(|_| {
            io::Error::other(
                "a panic struck while writes were held in memory; nothing more is written",
            )
        })
    }

    /// The file's length as redb sees it: the inner file's, or the end of
    /// a held write past it.
    fn len_with(held: &Held) -> u64 {
        held.inner_len.max(held.end)
    }

    /// Reads `out.len()` bytes at `offset` of the inner file; bytes past
    /// its end are zeros (held writes past it that are not pages here).
    fn read_inner(&self, inner_len: u64, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        let present = inner_len.saturating_sub(offset).min(out.len() as u64) as usize;
        if present > 0 {
            self.inner.read(offset, &mut out[..present])?;
        }
        out[present..].fill(0);
        Ok(())
    }

    /// Writes every held page to the inner file, in offset order, none past
    /// the file's length; forgets them only when all are written.
    ///
    /// One write a page, as redb writes them: contiguous pages written as
    /// one run make the kernel cache them as one large folio (ext4 since
    /// Linux 6.16), and a later one-page write then dirties, and counts as
    /// written, the whole folio.
    fn write_out(&self, held: &mut Held) -> Result<(), io::Error> {
        let len = Self::len_with(held);
        for (&page, &slot) in &held.pages {
            let at = page * HELD_PAGE;
            let n = len.saturating_sub(at).min(HELD_PAGE) as usize;
            if n > 0 {
                self.inner.write(at, &held.page(slot)[..n])?;
            }
        }
        held.pages.clear();
        held.slabs = Vec::new();
        held.used = 0;
        held.inner_len = len;
        held.end = 0;
        Ok(())
    }

    /// Writes out what is held, then passes `call` (a sync, a close) on to
    /// the inner file, the lock held throughout.
    fn written_out_then(&self, call: fn(&B) -> Result<(), io::Error>) -> Result<(), io::Error> {
        if self.bound == 0 {
            return call(&self.inner);
        }
        let mut held = self.lock()?;
        self.write_out(&mut held)?;
        call(&self.inner)
    }
}

impl<B: StorageBackend> StorageBackend for HoldWrites<B> {
    fn len(&self) -> Result<u64, io::Error> {
        if self.bound == 0 {
            return self.inner.len();
        }
        Ok(Self::len_with(&*self.lock()?))
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        if self.bound == 0 {
            // Holding nothing, it takes no lock: a main node's readers
            // read at once.
            return self.inner.read(offset, out);
        }
        let held = self.lock()?;
        let end = offset + out.len() as u64;
        if out.is_empty() {
            return Ok(());
        }
        let mut pages = held
            .pages
            .range(offset / HELD_PAGE..=(end - 1) / HELD_PAGE)
            .peekable();
        if pages.peek().is_none() && end <= held.inner_len {
            drop(pages);
            return self.inner.read(offset, out);
        }
        let inner_len = held.inner_len;
        let mut pos = offset;
        for (&page, &slot) in pages {
            let bytes = held.page(slot);
            let at = page * HELD_PAGE;
            if pos < at {
                let (from, to) = ((pos - offset) as usize, (at - offset) as usize);
                self.read_inner(inner_len, pos, &mut out[from..to])?;
                pos = at;
            }
            let upto = (at + HELD_PAGE).min(end);
            out[(pos - offset) as usize..(upto - offset) as usize]
                .copy_from_slice(&bytes[(pos - at) as usize..(upto - at) as usize]);
            pos = upto;
        }
        if pos < end {
            self.read_inner(inner_len, pos, &mut out[(pos - offset) as usize..])?;
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        if self.bound == 0 {
            return self.inner.set_len(len);
        }
        let mut held = self.lock()?;
        self.inner.set_len(len)?;
        held.inner_len = len;
        // Cut off: held bytes past the new end are gone, and come back as
        // zeros if the file grows again.
        held.end = held.end.min(len);
        let first_gone = len.div_ceil(HELD_PAGE);
        held.pages.split_off(&first_gone);
        if !len.is_multiple_of(HELD_PAGE) {
            if let Some(&last) = held.pages.get(&(len / HELD_PAGE)) {
                held.page_mut(last)[(len % HELD_PAGE) as usize..].fill(0);
            }
        }
        Ok(())
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        self.written_out_then(B::sync_data)
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        if self.bound == 0 {
            return self.inner.write(offset, data);
        }
        let mut held = self.lock()?;
        let would_hold = held.bytes() + data.len();
        if would_hold > self.bound {
            self.write_out(&mut held)?;
            if data.len() > self.bound {
                self.inner.write(offset, data)?;
                held.inner_len = held.inner_len.max(offset + data.len() as u64);
                return Ok(());
            }
        }
        let end = offset + data.len() as u64;
        let inner_len = held.inner_len;
        let mut pos = offset;
        while pos < end {
            let page = pos / HELD_PAGE;
            let at = page * HELD_PAGE;
            let upto = (at + HELD_PAGE).min(end);
            let slot = match held.pages.get(&page) {
                Some(&slot) => slot,
                None => {
                    let slot = held.take_slot();
                    if pos > at || upto < at + HELD_PAGE {
                        // Part of a page: the rest is the file's.
                        self.read_inner(inner_len, at, held.page_mut(slot))?;
                    }
                    held.pages.insert(page, slot);
                    slot
                }
            };
            held.page_mut(slot)[(pos - at) as usize..(upto - at) as usize]
                .copy_from_slice(&data[(pos - offset) as usize..(upto - offset) as usize]);
            pos = upto;
        }
        held.end = held.end.max(end);
        Ok(())
    }

    fn close(&self) -> Result<(), io::Error> {
        // What the operating system would have had: written, not synced.
        self.written_out_then(B::close)
    }

    delegate_locks!();
}

#[cfg(test)]
mod hold_tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes(d: &impl StorageBackend) -> Vec<u8> {
        let mut out = vec![0u8; d.len().unwrap() as usize];
        d.read(0, &mut out).unwrap();
        out
    }

    #[derive(Debug, Clone)]
    enum Op {
        Write(u64, Vec<u8>),
        Read(u64, usize),
        SetLen(u64),
        Sync,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u64..40_000, proptest::collection::vec(any::<u8>(), 1..9_000))
                .prop_map(|(o, d)| Op::Write(o, d)),
            3 => (0u64..50_000, 1usize..9_000).prop_map(|(o, n)| Op::Read(o, n)),
            1 => (0u64..50_000).prop_map(Op::SetLen),
            1 => Just(Op::Sync),
        ]
    }

    proptest! {
        /// Held writes read back as a plain disk's would, and a power cut
        /// after any operation keeps exactly what a plain disk keeps (what
        /// was synced); at close, the file holds every write.
        #[test]
        fn held_writes_read_and_survive_as_a_plain_disk_does(
            ops in proptest::collection::vec(op(), 1..40),
            bound in prop_oneof![Just(0usize), 4_096usize..40_000],
        ) {
            let plain = SimDisk::new();
            let disk = SimDisk::new();
            let held = HoldWrites::new(disk.clone(), bound).unwrap();
            for op in ops {
                match op {
                    Op::Write(o, d) => {
                        plain.write(o, &d).unwrap();
                        held.write(o, &d).unwrap();
                    }
                    Op::Read(o, n) => {
                        let len = plain.len().unwrap();
                        prop_assert_eq!(held.len().unwrap(), len);
                        if o + n as u64 <= len {
                            let (mut a, mut b) = (vec![0; n], vec![0; n]);
                            plain.read(o, &mut a).unwrap();
                            held.read(o, &mut b).unwrap();
                            prop_assert_eq!(a, b);
                        }
                    }
                    Op::SetLen(l) => {
                        plain.set_len(l).unwrap();
                        held.set_len(l).unwrap();
                    }
                    Op::Sync => {
                        plain.sync_data().unwrap();
                        held.sync_data().unwrap();
                    }
                }
                prop_assert_eq!(bytes(&held), bytes(&plain));
                prop_assert_eq!(
                    bytes(&plain.crash(CrashKind::PowerCut)),
                    bytes(&disk.crash(CrashKind::PowerCut))
                );
            }
            held.close().unwrap();
            prop_assert_eq!(bytes(&disk), bytes(&plain));
        }
    }

    #[test]
    fn after_a_panic_among_the_held_pages_nothing_more_is_written() {
        let disk = SimDisk::new();
        let held = Arc::new(HoldWrites::new(disk.clone(), 3 * 4096).unwrap());
        held.write(0, &[1u8; 4096]).unwrap();
        let h = held.clone();
        let panicked = std::thread::spawn(move || {
            let _pages = h.held.lock().unwrap();
            panic!("a panic while the pages are changed");
        })
        .join();
        assert!(panicked.is_err());
        for e in [
            held.write(4096, &[2u8; 10]).unwrap_err(),
            held.sync_data().unwrap_err(),
            held.close().unwrap_err(),
        ] {
            assert!(e.to_string().contains("nothing more is written"), "{e}");
        }
        assert_eq!(disk.ops(), 0, "no write, no sync reached the disk");
    }

    #[test]
    fn held_pages_reach_the_disk_only_at_a_sync_or_past_the_bound() {
        let disk = SimDisk::new();
        let held = HoldWrites::new(disk.clone(), 3 * 4096).unwrap();
        held.set_len(8 * 4096).unwrap();
        let ops = disk.ops();
        for _ in 0..10 {
            held.write(4096, &[7u8; 4096]).unwrap();
            held.write(2 * 4096 + 5, &[9u8; 10]).unwrap();
        }
        assert_eq!(
            disk.ops(),
            ops,
            "twenty writes of two pages: none reach the disk"
        );
        assert_eq!(
            held.held.lock().unwrap().slabs.len(),
            1,
            "two pages, one slab"
        );
        held.sync_data().unwrap();
        // Each page once, however often it was written: two writes, a sync.
        assert_eq!(disk.ops(), ops + 3);
        assert!(
            held.held.lock().unwrap().slabs.is_empty(),
            "written out, the slabs are freed"
        );
        assert_eq!(bytes(&disk.crash(CrashKind::PowerCut))[4096..4100], [7; 4]);
        // Past the bound, what is held is written out (not synced).
        held.write(0, &[1u8; 4096]).unwrap();
        held.write(4 * 4096, &[2u8; 4096]).unwrap();
        held.write(6 * 4096, &[3u8; 4096]).unwrap();
        assert_eq!(disk.ops(), ops + 3);
        held.write(7 * 4096, &[4u8; 4096]).unwrap();
        assert_eq!(disk.ops(), ops + 6, "three pages written out, none synced");
        assert_eq!(bytes(&disk.crash(CrashKind::PowerCut))[0], 0);
        assert_eq!(bytes(&disk.crash(CrashKind::ProcessKill))[0], 1);
    }
}
