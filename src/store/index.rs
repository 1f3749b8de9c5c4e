//! A main node's indexes in redb: index runs ([`super::runs`]) and where
//! each transaction of a canonical block lies in its body, so that its id
//! (SHA-256 of those bytes) is read off the body rather than stored: 32
//! bytes a transaction kept as 4 (issue 18).
//!
//! A block's run and ids are written inside the block's own commit, so a
//! crash leaves them exactly as durable as the block. A merge is one commit
//! of its own (`Store::merge_if_due`, right after the block's): it adds the
//! merged run and removes its parts, so a crash leaves either. Only final
//! blocks are ever merged, so undoing a block (a branch switch within
//! finality) removes its own one-block run.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use redb::{ReadTransaction, ReadableTable, TableDefinition, TableHandle, WriteTransaction};

use super::runs::{self, Entry, Head, RunError, RunWriter, Section};
use super::{touched, StoreError, META};
use crate::chain::block::Block;
use crate::chain::crypto::Hash;
use crate::chain::tx::TxKind;

/// First height → run head.
pub(super) const INDEX_RUNS: TableDefinition<u64, &[u8]> = TableDefinition::new("index_runs");
/// (first, last, section, number) → chunk of entries.
pub(super) const INDEX_CHUNKS: TableDefinition<(u64, u64, u8, u32), &[u8]> =
    TableDefinition::new("index_chunks");
/// (height, number) → where the canonical block's transactions lie in its
/// body: the first one's start, then each one's end (u32 little-endian),
/// up to [`SPANS_PER_CHUNK`] a value.
pub(super) const TX_SPANS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("tx_spans");
/// The ids of each height's transactions, as schema 4 kept them: dropped
/// when a store is reindexed.
pub(super) const OLD_TX_IDS: &str = "tx_ids";
/// Height → the balance changes of its transactions that differ from the
/// rule (`ledger::balances::encode_residual`); absent when none do (and
/// the table itself until a first block needs it).
pub(super) const BALANCE_RESIDUAL: TableDefinition<u64, &[u8]> =
    TableDefinition::new("balance_residual");
/// Offsets in one `tx_spans` value (4,032 bytes: one page).
const SPANS_PER_CHUNK: usize = 1_008;
/// `meta` key: heights up to this one are final and merged (absent: 0).
pub(super) const INDEX_MERGED: &str = "index_merged";

impl From<RunError> for StoreError {
    fn from(e: RunError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// Creates the tables (a new store, or one being reindexed).
pub(super) fn create(w: &WriteTransaction) -> Result<(), StoreError> {
    w.open_table(INDEX_RUNS)?;
    w.open_table(INDEX_CHUNKS)?;
    w.open_table(TX_SPANS)?;
    // BALANCE_RESIDUAL is made by its first entry: a store that never
    // needs one keeps the layout it had before the table existed.
    Ok(())
}

/// Keeps a canonical block's balance residual (nothing if it is empty).
pub(super) fn put_residual(
    w: &WriteTransaction,
    height: u64,
    bytes: &[u8],
) -> Result<(), StoreError> {
    if !bytes.is_empty() {
        w.open_table(BALANCE_RESIDUAL)?.insert(height, bytes)?;
    }
    Ok(())
}

/// A block's index entries: its transactions, the accounts each touches
/// (and the contract a contract transaction deploys or calls, under the
/// same section: its address is a hash, never a key), the records each
/// writes.
pub(super) fn entries(block: &Block) -> [Vec<Entry>; 3] {
    let height = block.height();
    let mut out: [Vec<Entry>; 3] = Default::default();
    for (i, stx) in block.txs.iter().enumerate() {
        let at = |key| Entry {
            key,
            height,
            index: i as u32,
        };
        out[Section::Tx as usize].push(at(runs::key16(&stx.id().0)));
        for a in touched(stx) {
            out[Section::Account as usize].push(at(runs::key16(&a.0)));
        }
        if let Some(c) = crate::ledger::contract::contract_of(&stx.tx) {
            out[Section::Account as usize].push(at(runs::key16(&c.0)));
        }
        if let TxKind::PutData { key, .. } = &stx.tx.kind {
            out[Section::Record as usize]
                .push(at(runs::record_key(&stx.tx.sender.0, key.as_slice())));
        }
    }
    out
}

/// Indexes a block that became canonical (`body_len` bytes encoded): its
/// one-block run and its transactions' spans.
pub(super) fn add_block(
    w: &WriteTransaction,
    block: &Block,
    body_len: usize,
) -> Result<(), StoreError> {
    let height = block.height();
    let built = runs::build(height, height, entries(block));
    let mut chunks = w.open_table(INDEX_CHUNKS)?;
    for (s, n, bytes) in &built.chunks {
        chunks.insert((height, height, *s as u8, *n), bytes.as_slice())?;
    }
    w.open_table(INDEX_RUNS)?
        .insert(height, built.head.as_slice())?;
    // The transactions are the body's tail, one after another; a block
    // without any has no spans.
    if block.txs.is_empty() {
        return Ok(());
    }
    let lens: Vec<usize> = block.txs.iter().map(|t| t.to_bytes().len()).collect();
    let start = body_len
        .checked_sub(lens.iter().sum())
        .ok_or_else(|| StoreError::Corrupt(format!("block at {height} is shorter than its txs")))?;
    let mut at = start as u32;
    let mut spans = vec![at];
    for len in lens {
        at += len as u32;
        spans.push(at);
    }
    let bytes: Vec<u8> = spans.iter().flat_map(|o| o.to_le_bytes()).collect();
    let mut t = w.open_table(TX_SPANS)?;
    for (n, part) in bytes.chunks(SPANS_PER_CHUNK * 4).enumerate() {
        t.insert((height, n as u32), part)?;
    }
    Ok(())
}

/// Takes an undone block's run and spans out. Its run must be its own: only
/// final blocks are merged, and a final block is never undone.
pub(super) fn remove_block(w: &WriteTransaction, height: u64) -> Result<(), StoreError> {
    let head = w
        .open_table(INDEX_RUNS)?
        .remove(height)?
        .map(|g| g.value().to_vec())
        .ok_or_else(|| StoreError::Corrupt(format!("no index run for undone height {height}")))?;
    let parsed = Head::parse(height, &head)?;
    if parsed.last() != height {
        return Err(StoreError::Corrupt(format!(
            "undone height {height} lies in a merged index run (to {})",
            parsed.last()
        )));
    }
    remove_chunks(w, &parsed)?;
    let mut t = w.open_table(TX_SPANS)?;
    let mut n = 0;
    while t.remove((height, n))?.is_some() {
        n += 1;
    }
    if w.list_tables()?
        .any(|t| t.name() == BALANCE_RESIDUAL.name())
    {
        w.open_table(BALANCE_RESIDUAL)?.remove(height)?;
    }
    Ok(())
}

fn remove_chunks(w: &WriteTransaction, head: &Head<'_>) -> Result<(), StoreError> {
    let mut chunks = w.open_table(INDEX_CHUNKS)?;
    for s in Section::ALL {
        for n in 0..head.chunks(s) {
            chunks.remove((head.first(), head.last(), s as u8, n))?;
        }
    }
    Ok(())
}

/// The height up to which final runs are merged (`meta`).
pub(super) fn merged(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<u64, StoreError> {
    super::meta_u64(meta, INDEX_MERGED, 0)
}

/// Merges the runs of every aligned span that became final (heights up to
/// `final_height` will never be undone); returns the entries written.
pub(super) fn merge_final(w: &WriteTransaction, final_height: u64) -> Result<u64, StoreError> {
    let merged = merged(&w.open_table(META)?)?;
    if final_height <= merged {
        return Ok(0);
    }
    let mut entries = 0;
    for (first, last) in runs::due_merges(merged, final_height) {
        entries += merge_span(w, first, last)?;
    }
    w.open_table(META)?
        .insert(INDEX_MERGED, final_height.to_le_bytes().as_slice())?;
    Ok(entries)
}

/// One input of a merge: a run's section, read a chunk at a time.
struct Cursor {
    first: u64,
    last: u64,
    head: Vec<u8>,
    next_chunk: u32,
    chunks: u32,
    buf: Vec<Entry>,
    pos: usize,
}

fn merge_span(w: &WriteTransaction, first: u64, last: u64) -> Result<u64, StoreError> {
    let inputs: Vec<(u64, Vec<u8>)> = w
        .open_table(INDEX_RUNS)?
        .range(first..=last)?
        .map(|r| r.map(|(k, v)| (k.value(), v.value().to_vec())))
        .collect::<Result<_, _>>()?;
    if inputs.is_empty() {
        return Ok(0);
    }
    if inputs.len() == 1 && Head::parse(inputs[0].0, &inputs[0].1)?.last() == last {
        return Ok(0);
    }
    let mut writer = RunWriter::new(first, last);
    let chunks = RefCell::new(w.open_table(INDEX_CHUNKS)?);
    for s in Section::ALL {
        let mut cursors = Vec::with_capacity(inputs.len());
        let mut max = 0;
        for (f, head) in &inputs {
            let h = Head::parse(*f, head)?;
            if h.last() > last {
                return Err(StoreError::Corrupt(format!(
                    "index run {f}..={} crosses the span {first}..={last}",
                    h.last()
                )));
            }
            max += h.count(s);
            cursors.push(Cursor {
                first: *f,
                last: h.last(),
                head: head.clone(),
                next_chunk: 0,
                chunks: h.chunks(s),
                buf: Vec::new(),
                pos: 0,
            });
        }
        // Refills a cursor's buffer when it is used up; false at its end.
        let refill = |c: &mut Cursor| -> Result<bool, StoreError> {
            if c.pos < c.buf.len() {
                return Ok(true);
            }
            if c.next_chunk == c.chunks {
                return Ok(false);
            }
            let h = Head::parse(c.first, &c.head)?;
            let key = (c.first, c.last, s as u8, c.next_chunk);
            let t = chunks.borrow();
            let bytes = t
                .get(key)?
                .ok_or_else(|| StoreError::Corrupt(format!("index chunk {key:?} missing")))?;
            c.buf = h.decode_chunk(s, c.next_chunk, bytes.value())?;
            c.pos = 0;
            c.next_chunk += 1;
            Ok(true)
        };
        let mut heap = BinaryHeap::new();
        for (i, c) in cursors.iter_mut().enumerate() {
            if refill(c)? {
                heap.push(Reverse((c.buf[c.pos], i)));
            }
        }
        let mut next = || -> Result<Option<Entry>, StoreError> {
            let Some(Reverse((e, i))) = heap.pop() else {
                return Ok(None);
            };
            let c = &mut cursors[i];
            c.pos += 1;
            if refill(c)? {
                heap.push(Reverse((c.buf[c.pos], i)));
            }
            Ok(Some(e))
        };
        writer.section(s, max, &mut next, |s, n, bytes| {
            chunks
                .borrow_mut()
                .insert((first, last, s as u8, n), bytes.as_slice())?;
            Ok(())
        })?;
    }
    drop(chunks);
    for (f, head) in &inputs {
        remove_chunks(w, &Head::parse(*f, head)?)?;
    }
    let mut runs_t = w.open_table(INDEX_RUNS)?;
    for (f, _) in &inputs {
        runs_t.remove(*f)?;
    }
    let entries = writer.entries();
    runs_t.insert(first, writer.finish().as_slice())?;
    Ok(entries)
}

/// Reads the indexes of one snapshot.
pub(super) struct Reader<'a> {
    bodies: super::bodies::Ranges<'a>,
    runs: redb::ReadOnlyTable<u64, &'static [u8]>,
    chunks: redb::ReadOnlyTable<(u64, u64, u8, u32), &'static [u8]>,
    spans: redb::ReadOnlyTable<(u64, u32), &'static [u8]>,
    canon: redb::ReadOnlyTable<u64, &'static [u8; 32]>,
}

impl<'a> Reader<'a> {
    pub(super) fn open(txn: &'a ReadTransaction) -> Result<Reader<'a>, StoreError> {
        Ok(Reader {
            bodies: super::bodies::Ranges::open(txn)?,
            runs: txn.open_table(INDEX_RUNS)?,
            chunks: txn.open_table(INDEX_CHUNKS)?,
            spans: txn.open_table(TX_SPANS)?,
            canon: txn.open_table(super::CANON)?,
        })
    }

    /// Every run's (first, last) height, oldest first.
    pub(super) fn spans(&self) -> Result<Vec<(u64, u64)>, StoreError> {
        let mut out = Vec::new();
        for item in self.runs.iter()? {
            let (first, head) = item?;
            let first = first.value();
            out.push((first, Head::parse(first, head.value())?.last()));
        }
        Ok(out)
    }

    /// Where each transaction at `height` lies in its block's body: the
    /// first one's start, then each one's end (`None`: no such height).
    fn tx_spans(&self, height: u64) -> Result<Option<Vec<u32>>, StoreError> {
        let mut out = Vec::new();
        for item in self.spans.range((height, 0)..=(height, u32::MAX))? {
            let (_, v) = item?;
            let v = v.value();
            if v.len() % 4 != 0 {
                return Err(StoreError::Corrupt(format!("tx spans at {height}")));
            }
            out.extend(
                v.chunks_exact(4)
                    .map(|b| u32::from_le_bytes(b.try_into().expect("4"))),
            );
        }
        if out.is_empty() {
            return Ok(None);
        }
        if out.windows(2).any(|w| w[0] >= w[1]) {
            return Err(StoreError::Corrupt(format!(
                "the tx spans at {height} do not rise"
            )));
        }
        Ok(Some(out))
    }

    /// The id of the transaction at (height, index) of the canonical chain:
    /// its bytes read from the block's body (checked to be one
    /// transaction), hashed.
    pub(super) fn tx_id(&self, height: u64, index: u32) -> Result<Option<Hash>, StoreError> {
        let Some(spans) = self.tx_spans(height)? else {
            return Ok(None);
        };
        let i = index as usize;
        let (Some(&from), Some(&to)) = (spans.get(i), spans.get(i + 1)) else {
            return Ok(None);
        };
        let hash = self
            .canon
            .get(height)?
            .map(|g| *g.value())
            .ok_or_else(|| StoreError::Corrupt(format!("no canonical block at {height}")))?;
        let bytes = self.bodies.get(&hash, from, to)?.ok_or_else(|| {
            StoreError::Corrupt(format!("the canonical block at {height} is not stored"))
        })?;
        crate::chain::tx::SignedTransaction::from_bytes(&bytes).map_err(|e| {
            StoreError::Corrupt(format!("transaction {height}:{index} in its block: {e}"))
        })?;
        Ok(Some(Hash::of(&[&bytes])))
    }

    /// Every transaction id at `height`, in block order, from the block's
    /// encoded `body`.
    pub(super) fn tx_ids(&self, height: u64, body: &[u8]) -> Result<Vec<Hash>, StoreError> {
        let spans = self.tx_spans(height)?.unwrap_or_default();
        if spans.last().is_some_and(|&end| end as usize != body.len()) {
            return Err(StoreError::Corrupt(format!(
                "the tx spans at {height} end at {:?}, its block at {}",
                spans.last(),
                body.len()
            )));
        }
        Ok(spans
            .windows(2)
            .map(|w| Hash::of(&[&body[w[0] as usize..w[1] as usize]]))
            .collect())
    }

    /// The entries with `key` in `section`, newest first, strictly before
    /// `before` (height, position) when given, at most `limit`: the runs
    /// newest first, each skipped when its filter rules the key out.
    pub(super) fn newest(
        &self,
        section: Section,
        key: &[u8; runs::KEY_BYTES],
        before: Option<(u64, u32)>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut out = Vec::new();
        let upper = before.map(|(h, _)| h).unwrap_or(u64::MAX);
        for item in self.runs.range(..=upper)?.rev() {
            if out.len() >= limit {
                break;
            }
            let (first, head) = item?;
            let first = first.value();
            let head = Head::parse(first, head.value())?;
            let found = head.newest(section, key, before, limit - out.len(), |n| {
                let k = (first, head.last(), section as u8, n);
                self.chunks
                    .get(k)?
                    .map(Chunk)
                    .ok_or_else(|| StoreError::Corrupt(format!("index chunk {k:?} missing")))
            })?;
            out.extend(found);
        }
        Ok(out)
    }
}

/// Adapts a chunk guard to the search's byte view.
impl AsRef<[u8]> for Chunk<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0.value()
    }
}

/// A chunk read from redb.
pub(super) struct Chunk<'a>(redb::AccessGuard<'a, &'static [u8]>);
