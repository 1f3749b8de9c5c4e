//! Index runs: a main node's transaction, account and record indexes kept
//! as immutable sorted runs written in arrival order (issue 18).
//!
//! A B-tree keyed by transaction id or account takes each insert at a
//! random place, and copy-on-write rewrites the whole 4 KiB leaf it lands
//! in: a 1,000-transaction block cost ~3,000 leaves, more as the tables
//! grew. Here a block's entries are written once, sorted, as a *run* of
//! its own in the block's commit (keyed by height: sequential pages), and
//! the runs of final blocks are merged, [`FAN_OUT`] at a time, into runs
//! covering aligned spans of [`FAN_OUT`]^level heights. Each entry is
//! written once per level (three levels at 100,000 blocks), and a lookup
//! reads the runs newest first, skipping those whose Bloom filter rules its
//! key out.
//!
//! This module is logic only: a run's layout, its search and its merge. The
//! store keeps a run's head (the value of `index_runs[first height]`) and its
//! chunks (`index_chunks[(first, last, section, n)]`) in redb.
//!
//! **An entry** (24 bytes, so that byte order is (key, height, position)
//! order): the key's first 16 bytes ‖ height − the run's first height (u32,
//! big-endian) ‖ position in the block (u32, big-endian). Keys: a
//! transaction's id, an account's public key, SHA-256 of a record's owner
//! and key ([`record_key`]); 16 bytes leave a collision to whoever grinds
//! 2^64 keys of their own, and the store checks a transaction's full id.
//!
//! **A chunk** holds up to [`CHUNK_ENTRIES`] consecutive entries of one
//! section (4,056 bytes: one redb leaf each).
//!
//! **A head**: tag 1 ‖ last height (u64 LE) ‖ for each of the three sections
//! (transactions, accounts, records): entry count (u32 LE) ‖ Bloom filter
//! length in bytes (u32 LE) ‖ the filter ‖ one fence per chunk (the chunk's
//! first entry, 24 bytes). Searches read it in place.

use sha2::{Digest, Sha256};

/// Bytes of an entry's key.
pub const KEY_BYTES: usize = 16;
/// Bytes of one entry.
pub const ENTRY_BYTES: usize = KEY_BYTES + 8;
/// Entries in one chunk: 4,056 bytes, which with redb's leaf header, value
/// length and the 21-byte chunk key fill one 4 KiB page.
pub const CHUNK_ENTRIES: usize = 169;
/// Runs merged into one at each level.
pub const FAN_OUT: u64 = 64;
/// The highest level: a run spans at most `FAN_OUT^MAX_LEVEL` heights
/// (2^30: a relative height fits an entry's u32).
pub const MAX_LEVEL: u32 = 5;
/// Bloom filter bits per entry and probes (≈ 1 % false positives).
const BLOOM_BITS_PER_ENTRY: usize = 10;
const BLOOM_PROBES: u64 = 7;
const HEAD_TAG: u8 = 1;
// A chunk fills one page and one more entry would not fit: redb's leaf
// header (4 bytes), the value's length (4) and the 21-byte chunk key
// (first, last, section, number).
const _: () = assert!(4 + 4 + 21 + CHUNK_ENTRIES * ENTRY_BYTES <= 4096);
const _: () = assert!(4 + 4 + 21 + (CHUNK_ENTRIES + 1) * ENTRY_BYTES > 4096);

/// The three indexes a run holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    /// Transaction id → where it sits.
    Tx = 0,
    /// Account → the transactions that touch it.
    Account = 1,
    /// Record (owner, key) → the transactions that wrote it.
    Record = 2,
}

impl Section {
    /// All sections, in head order.
    pub const ALL: [Section; 3] = [Section::Tx, Section::Account, Section::Record];
}

/// One index entry: a key and a place in the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entry {
    /// The first 16 bytes of the key.
    pub key: [u8; KEY_BYTES],
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
}

/// The 16-byte key of 32 bytes (a transaction id, a public key).
pub fn key16(bytes: &[u8; 32]) -> [u8; KEY_BYTES] {
    bytes[..KEY_BYTES].try_into().expect("16 bytes")
}

/// The key of a record: SHA-256 of a domain tag, the owner, the key's
/// length and the key, cut to 16 bytes.
pub fn record_key(owner: &[u8; 32], key: &[u8]) -> [u8; KEY_BYTES] {
    let mut h = Sha256::new();
    h.update(b"goodwill/record-index\0");
    h.update(owner);
    h.update([key.len() as u8]);
    h.update(key);
    let d = h.finalize();
    d[..KEY_BYTES].try_into().expect("16 bytes")
}

/// What is wrong with a stored run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("index run at height {first}: {what}")]
pub struct RunError {
    /// The run's first height.
    pub first: u64,
    /// What was wrong.
    pub what: String,
}

/// A run ready to store: its head and its chunks.
#[derive(Debug)]
pub struct Built {
    /// The head (the value under the run's first height).
    pub head: Vec<u8>,
    /// (section, chunk number, bytes).
    pub chunks: Vec<(Section, u32, Vec<u8>)>,
}

/// Lays out a run covering heights `first..=last` from its entries (any
/// order; duplicates are dropped). Every entry's height must lie in the
/// span, which must be shorter than 2^32.
pub fn build(first: u64, last: u64, mut sections: [Vec<Entry>; 3]) -> Built {
    let mut w = RunWriter::new(first, last);
    let mut chunks = Vec::new();
    for (s, entries) in Section::ALL.iter().zip(sections.iter_mut()) {
        entries.sort_unstable();
        let mut it = entries.iter().copied();
        w.section(
            *s,
            entries.len(),
            || Ok::<_, RunError>(it.next()),
            |s, n, b| {
                chunks.push((s, n, b));
                Ok(())
            },
        )
        .expect("sorted entries inside the span");
    }
    Built {
        head: w.finish(),
        chunks,
    }
}

/// Writes a run section by section from sorted entry streams, chunk by
/// chunk: a merge of 64 big runs holds one chunk of each, never a level.
#[derive(Debug)]
pub struct RunWriter {
    first: u64,
    last: u64,
    head: Vec<u8>,
    next: usize,
    entries: u64,
}

impl RunWriter {
    /// A run covering `first..=last` (a span shorter than 2^32).
    pub fn new(first: u64, last: u64) -> RunWriter {
        assert!(first <= last && last - first < 1 << 32, "run span");
        let mut head = vec![HEAD_TAG];
        head.extend_from_slice(&last.to_le_bytes());
        RunWriter {
            first,
            last,
            head,
            next: 0,
            entries: 0,
        }
    }

    /// Writes `section` (sections come in [`Section::ALL`] order) from
    /// `entries`, ascending, at most `max` of them (the filter's size);
    /// repeated entries are dropped. `put(section, n, bytes)` stores chunk
    /// `n`. An entry out of order or outside the span is an error: the
    /// inputs were damaged.
    pub fn section<E: From<RunError>>(
        &mut self,
        section: Section,
        max: usize,
        mut entries: impl FnMut() -> Result<Option<Entry>, E>,
        mut put: impl FnMut(Section, u32, Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        assert_eq!(section as usize, self.next, "sections in order");
        self.next += 1;
        let bad = |what: String| RunError {
            first: self.first,
            what,
        };
        let bloom_bytes = (max * BLOOM_BITS_PER_ENTRY).div_ceil(8).max(8);
        let mut bloom = vec![0u8; bloom_bytes];
        let mut fences = Vec::new();
        let mut chunk = Vec::with_capacity(CHUNK_ENTRIES * ENTRY_BYTES);
        let mut n = 0u32;
        let mut count = 0usize;
        let mut prev: Option<Entry> = None;
        while let Some(e) = entries()? {
            if prev == Some(e) {
                continue;
            }
            if prev.is_some_and(|p| p > e) {
                return Err(bad(format!("{section:?} entries out of order in a merge")).into());
            }
            if !(self.first..=self.last).contains(&e.height) || count >= max.min(u32::MAX as usize)
            {
                return Err(bad(format!(
                    "{section:?} entry at height {} outside the run",
                    e.height
                ))
                .into());
            }
            if prev.is_none_or(|p| p.key != e.key) {
                for bit in probes(&e.key, bloom_bytes as u64 * 8) {
                    bloom[(bit / 8) as usize] |= 1 << (bit % 8);
                }
            }
            prev = Some(e);
            let b = encode_entry(self.first, &e);
            if chunk.is_empty() {
                fences.extend_from_slice(&b);
            }
            chunk.extend_from_slice(&b);
            count += 1;
            if chunk.len() == CHUNK_ENTRIES * ENTRY_BYTES {
                put(section, n, std::mem::take(&mut chunk))?;
                n += 1;
            }
        }
        if !chunk.is_empty() {
            put(section, n, chunk)?;
        }
        self.entries += count as u64;
        self.head.extend_from_slice(&(count as u32).to_le_bytes());
        self.head
            .extend_from_slice(&(bloom.len() as u32).to_le_bytes());
        self.head.extend_from_slice(&bloom);
        self.head.extend_from_slice(&fences);
        Ok(())
    }

    /// Entries written so far.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// The head, once every section is written.
    pub fn finish(self) -> Vec<u8> {
        assert_eq!(self.next, 3, "every section written");
        self.head
    }
}

fn encode_entry(first: u64, e: &Entry) -> [u8; ENTRY_BYTES] {
    let mut b = [0u8; ENTRY_BYTES];
    b[..KEY_BYTES].copy_from_slice(&e.key);
    b[KEY_BYTES..KEY_BYTES + 4].copy_from_slice(&((e.height - first) as u32).to_be_bytes());
    b[KEY_BYTES + 4..].copy_from_slice(&e.index.to_be_bytes());
    b
}

fn decode_entry(first: u64, b: &[u8]) -> Entry {
    Entry {
        key: b[..KEY_BYTES].try_into().expect("16 bytes"),
        height: first
            + u64::from(u32::from_be_bytes(
                b[KEY_BYTES..KEY_BYTES + 4].try_into().expect("4 bytes"),
            )),
        index: u32::from_be_bytes(b[KEY_BYTES + 4..].try_into().expect("4 bytes")),
    }
}

/// The filter's bit positions for a key (double hashing over the key's two
/// halves: keys are hashes or public keys, already spread).
fn probes(key: &[u8; KEY_BYTES], m: u64) -> impl Iterator<Item = u64> {
    let h1 = u64::from_le_bytes(key[..8].try_into().expect("8 bytes"));
    let h2 = u64::from_le_bytes(key[8..].try_into().expect("8 bytes")) | 1;
    (0..BLOOM_PROBES).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % m)
}

/// One section of a parsed head.
#[derive(Clone, Copy, Debug)]
struct SectionHead<'a> {
    count: usize,
    bloom: &'a [u8],
    fences: &'a [u8],
}

/// A run's head, read in place.
#[derive(Clone, Copy, Debug)]
pub struct Head<'a> {
    first: u64,
    last: u64,
    sections: [SectionHead<'a>; 3],
}

impl<'a> Head<'a> {
    /// Parses the head of the run starting at `first`, bounding every
    /// length by the bytes there are.
    pub fn parse(first: u64, bytes: &'a [u8]) -> Result<Head<'a>, RunError> {
        let bad = |what: &str| RunError {
            first,
            what: what.to_string(),
        };
        if bytes.len() < 9 || bytes[0] != HEAD_TAG {
            return Err(bad("head too short or of an unknown kind"));
        }
        let last = u64::from_le_bytes(bytes[1..9].try_into().expect("8 bytes"));
        if last < first || last - first >= 1 << 32 {
            return Err(bad("span out of range"));
        }
        let mut rest = &bytes[9..];
        let mut take = |n: usize, what: &str| -> Result<&'a [u8], RunError> {
            if rest.len() < n {
                return Err(bad(what));
            }
            let (a, b) = rest.split_at(n);
            rest = b;
            Ok(a)
        };
        let mut sections = [SectionHead {
            count: 0,
            bloom: &[],
            fences: &[],
        }; 3];
        for s in sections.iter_mut() {
            let count = u32::from_le_bytes(take(4, "section count")?.try_into().expect("4"));
            let bloom_len = u32::from_le_bytes(take(4, "filter length")?.try_into().expect("4"));
            let bloom = take(bloom_len as usize, "filter")?;
            if bloom.is_empty() {
                return Err(bad("empty filter"));
            }
            let chunks = (count as usize).div_ceil(CHUNK_ENTRIES);
            let fences = take(
                chunks
                    .checked_mul(ENTRY_BYTES)
                    .ok_or_else(|| bad("fences"))?,
                "fences",
            )?;
            *s = SectionHead {
                count: count as usize,
                bloom,
                fences,
            };
        }
        if !rest.is_empty() {
            return Err(bad("bytes after the last section"));
        }
        Ok(Head {
            first,
            last,
            sections,
        })
    }

    /// The run's first height.
    pub fn first(&self) -> u64 {
        self.first
    }

    /// The run's last height.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// The number of chunks in a section.
    pub fn chunks(&self, section: Section) -> u32 {
        self.sections[section as usize]
            .count
            .div_ceil(CHUNK_ENTRIES) as u32
    }

    /// Entries in a section.
    pub fn count(&self, section: Section) -> usize {
        self.sections[section as usize].count
    }

    /// False when the run certainly holds no entry with this key.
    pub fn may_contain(&self, section: Section, key: &[u8; KEY_BYTES]) -> bool {
        let s = &self.sections[section as usize];
        if s.count == 0 {
            return false;
        }
        let m = s.bloom.len() as u64 * 8;
        probes(key, m).all(|bit| s.bloom[(bit / 8) as usize] & (1 << (bit % 8)) != 0)
    }

    /// A chunk's bytes, once their length is the one the head gives.
    fn check_chunk<'b>(
        &self,
        section: Section,
        n: u32,
        bytes: &'b [u8],
    ) -> Result<&'b [u8], RunError> {
        let s = &self.sections[section as usize];
        let n = n as usize;
        let want = s.count.saturating_sub(n * CHUNK_ENTRIES).min(CHUNK_ENTRIES);
        if want == 0 || bytes.len() != want * ENTRY_BYTES {
            return Err(RunError {
                first: self.first,
                what: format!(
                    "chunk {n} of section {section:?} holds {} bytes, not {}",
                    bytes.len(),
                    want * ENTRY_BYTES
                ),
            });
        }
        Ok(bytes)
    }

    /// Decodes a chunk of a section, checking its length and order.
    pub fn decode_chunk(
        &self,
        section: Section,
        n: u32,
        bytes: &[u8],
    ) -> Result<Vec<Entry>, RunError> {
        let bytes = self.check_chunk(section, n, bytes)?;
        let out: Vec<Entry> = bytes
            .chunks_exact(ENTRY_BYTES)
            .map(|b| decode_entry(self.first, b))
            .collect();
        if out.iter().any(|e| e.height > self.last) || !out.is_sorted() {
            return Err(RunError {
                first: self.first,
                what: format!("chunk {n} of section {section:?} out of order or span"),
            });
        }
        Ok(out)
    }

    /// The entries with `key`, newest first, strictly before `before`
    /// (height, position) when given, at most `limit`. `chunk(n)` reads
    /// chunk `n` of `section`.
    pub fn newest<G: AsRef<[u8]>, E: From<RunError>>(
        &self,
        section: Section,
        key: &[u8; KEY_BYTES],
        before: Option<(u64, u32)>,
        limit: usize,
        mut chunk: impl FnMut(u32) -> Result<G, E>,
    ) -> Result<Vec<Entry>, E> {
        let mut out = Vec::new();
        if limit == 0 || !self.may_contain(section, key) {
            return Ok(out);
        }
        // The exclusive upper bound, as an entry.
        let bound = match before {
            Some((h, _)) if h < self.first => return Ok(out),
            Some((h, i)) if h <= self.last => Entry {
                key: *key,
                height: h,
                index: i,
            },
            _ => {
                let mut next = *key;
                // key + 1: every entry with `key` sorts below it; a key of
                // all 0xff has no successor and is bounded by the end.
                if increment(&mut next) {
                    Entry {
                        key: next,
                        height: self.first,
                        index: 0,
                    }
                } else {
                    Entry {
                        key: *key,
                        height: self.last,
                        index: u32::MAX,
                    }
                }
            }
        };
        let inclusive_end = before.is_none() && bound.key == *key;
        let s = &self.sections[section as usize];
        // The last chunk whose first entry lies below the bound: a binary
        // search over the fences in place (a big run has hundreds).
        let fence =
            |i: usize| decode_entry(self.first, &s.fences[i * ENTRY_BYTES..][..ENTRY_BYTES]);
        let (mut lo, mut hi) = (0, s.fences.len() / ENTRY_BYTES);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if fence(mid) < bound {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut n = lo;
        if n == 0 {
            return Ok(out);
        }
        n -= 1;
        // Entries encode in (key, height, position) order, so the search
        // compares bytes and decodes only the entries it returns.
        let bound_bytes = encode_entry(self.first, &bound);
        let below = |b: &[u8]| match b.cmp(&bound_bytes[..]) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Equal => inclusive_end,
            std::cmp::Ordering::Greater => false,
        };
        loop {
            let guard = chunk(n as u32)?;
            let bytes = self.check_chunk(section, n as u32, guard.as_ref())?;
            let at = |i: usize| &bytes[i * ENTRY_BYTES..][..ENTRY_BYTES];
            let (mut lo, mut hi) = (0, bytes.len() / ENTRY_BYTES);
            while lo < hi {
                let mid = (lo + hi) / 2;
                if below(at(mid)) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            for i in (0..lo).rev() {
                let e = decode_entry(self.first, at(i));
                if e.key != *key || out.len() >= limit {
                    return Ok(out);
                }
                if e.height > self.last || out.last().is_some_and(|p| *p <= e) {
                    return Err(RunError {
                        first: self.first,
                        what: format!("chunk {n} of section {section:?} out of order or span"),
                    }
                    .into());
                }
                out.push(e);
            }
            if n == 0 {
                return Ok(out);
            }
            n -= 1;
        }
    }
}

/// Adds one to a big-endian byte string; false when it overflowed.
fn increment(k: &mut [u8; KEY_BYTES]) -> bool {
    for b in k.iter_mut().rev() {
        if *b == 0xff {
            *b = 0;
        } else {
            *b += 1;
            return true;
        }
    }
    false
}

/// The runs a merge produces: when heights up to `final_height` are final
/// and were merged up to `merged`, every aligned span (level ≥ 1, ascending
/// level, then height) that ends in `merged+1..=final_height` — all runs
/// inside each becoming one.
pub fn due_merges(merged: u64, final_height: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    if final_height <= merged {
        return out;
    }
    for level in 1..=MAX_LEVEL {
        let len = FAN_OUT.pow(level);
        // Spans [k·len, (k+1)·len − 1] whose end lies in (merged, final].
        let mut k = (merged + 1) / len;
        loop {
            let (first, last) = (k * len, (k + 1) * len - 1);
            if last > final_height {
                break;
            }
            if last > merged {
                out.push((first, last));
            }
            k += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn entry(k: u8, height: u64, index: u32) -> Entry {
        let mut key = [0u8; KEY_BYTES];
        key[0] = k;
        key[15] = k.wrapping_mul(31);
        Entry { key, height, index }
    }

    fn search(
        first: u64,
        built: &Built,
        section: Section,
        key: &[u8; KEY_BYTES],
        before: Option<(u64, u32)>,
        limit: usize,
    ) -> Vec<Entry> {
        let head = Head::parse(first, &built.head).unwrap();
        head.newest(section, key, before, limit, |n| {
            Ok::<_, RunError>(
                built
                    .chunks
                    .iter()
                    .find(|(s, m, _)| *s == section && *m == n)
                    .map(|(_, _, b)| b.clone())
                    .unwrap(),
            )
        })
        .unwrap()
    }

    proptest! {
        /// Every search answers what a sorted set answers: the entries
        /// with the key, newest first, before the cursor, up to the limit.
        #[test]
        fn a_run_answers_like_a_sorted_set(
            raw in proptest::collection::vec((0u8..12, 0u64..300, 0u32..5), 0..900),
            probe in 0u8..14,
            before in proptest::option::of((0u64..320, 0u32..6)),
            limit in 0usize..400,
        ) {
            let first = 1000;
            let entries: Vec<Entry> = raw.iter().map(|&(k, h, i)| entry(k, first + h, i)).collect();
            let mut sections = [entries.clone(), Vec::new(), entries.clone()];
            sections[1].push(entry(1, first, 0));
            let built = build(first, first + 299, sections);
            let model: BTreeSet<Entry> = entries.iter().copied().collect();
            let key = entry(probe, 0, 0).key;
            let before = before.map(|(h, i)| (first + h, i));
            let want: Vec<Entry> = model
                .iter()
                .rev()
                .filter(|e| e.key == key)
                .filter(|e| before.is_none_or(|b| (e.height, e.index) < b))
                .take(limit)
                .copied()
                .collect();
            prop_assert_eq!(search(first, &built, Section::Tx, &key, before, limit), want.clone());
            prop_assert_eq!(search(first, &built, Section::Record, &key, before, limit), want);
            let head = Head::parse(first, &built.head).unwrap();
            prop_assert_eq!(head.count(Section::Tx), model.len());
            for e in &model {
                prop_assert!(head.may_contain(Section::Tx, &e.key));
            }
        }
    }

    #[test]
    fn an_all_ones_key_is_found() {
        let mut e = entry(0, 5, 1);
        e.key = [0xff; KEY_BYTES];
        let built = build(5, 5, [vec![e], vec![], vec![]]);
        assert_eq!(search(5, &built, Section::Tx, &e.key, None, 9), vec![e]);
        assert_eq!(
            search(5, &built, Section::Tx, &e.key, Some((5, 1)), 9),
            vec![]
        );
        assert_eq!(
            search(5, &built, Section::Tx, &e.key, Some((5, 2)), 9),
            vec![e]
        );
    }

    #[test]
    fn damaged_heads_and_chunks_are_refused_by_name() {
        let built = build(
            64,
            127,
            [vec![entry(1, 64, 0), entry(2, 70, 3)], vec![], vec![]],
        );
        assert!(Head::parse(64, &built.head).is_ok());
        for cut in [0, 5, 9, 12, built.head.len() - 1] {
            let err = Head::parse(64, &built.head[..cut]).unwrap_err();
            assert_eq!(err.first, 64);
        }
        let mut longer = built.head.clone();
        longer.push(0);
        assert!(Head::parse(64, &longer)
            .unwrap_err()
            .what
            .contains("after the last"));
        let head = Head::parse(64, &built.head).unwrap();
        let chunk = &built.chunks[0].2;
        assert!(head.decode_chunk(Section::Tx, 0, &chunk[..24]).is_err());
        let mut swapped = chunk.clone();
        swapped.rotate_left(24);
        assert!(head
            .decode_chunk(Section::Tx, 0, &swapped)
            .unwrap_err()
            .what
            .contains("out of order"));
    }

    #[test]
    fn merges_are_due_once_per_aligned_span() {
        assert_eq!(due_merges(0, 62), vec![]);
        assert_eq!(due_merges(0, 63), vec![(0, 63)]);
        assert_eq!(due_merges(63, 63), vec![]);
        assert_eq!(due_merges(63, 127), vec![(64, 127)]);
        let all = due_merges(0, 4095);
        assert_eq!(all.len(), 64 + 1);
        assert_eq!(*all.last().unwrap(), (0, 4095));
        // One step at a time gives the same merges as one jump.
        let stepped: Vec<(u64, u64)> = (0..4095).flat_map(|m| due_merges(m, m + 1)).collect();
        let mut sorted = stepped.clone();
        sorted.sort_by_key(|&(f, l)| (l - f, f));
        let mut jump = all.clone();
        jump.sort_by_key(|&(f, l)| (l - f, f));
        assert_eq!(sorted, jump);
    }
}
