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
