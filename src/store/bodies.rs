//! Block bodies: a block that fits a page is one value of `blocks`; a
//! bigger one is an empty value there and its bytes in page-sized parts in
//! `block_parts`. redb gives a value bigger than a page a power-of-two run
//! of pages of its own: a 162 KiB block took 256 KiB, on disk and in every
//! commit's writes; in parts it takes 41 pages (issue 18).

use redb::{ReadableTable, TableDefinition, WriteTransaction};

use super::{StoreError, BLOCKS};

/// (block hash, part number) → up to [`PART_BYTES`] of the block's bytes.
pub(super) const BLOCK_PARTS: TableDefinition<(&[u8; 32], u32), &[u8]> =
    TableDefinition::new("block_parts");
/// Bytes in one part: with redb's leaf header, the value's length and the
/// 36-byte key, one part fills one 4 KiB page.
const PART_BYTES: usize = 4_048;

/// Stores a block's bytes under its hash.
pub(super) fn put(w: &WriteTransaction, hash: &[u8; 32], bytes: &[u8]) -> Result<(), StoreError> {
    if bytes.len() <= PART_BYTES {
        w.open_table(BLOCKS)?.insert(hash, bytes)?;
        return Ok(());
    }
    let mut parts = w.open_table(BLOCK_PARTS)?;
    for (n, part) in bytes.chunks(PART_BYTES).enumerate() {
        parts.insert((hash, n as u32), part)?;
    }
    w.open_table(BLOCKS)?.insert(hash, [].as_slice())?;
    Ok(())
}

/// Removes a block's bytes; false when none were stored.
pub(super) fn remove(w: &WriteTransaction, hash: &[u8; 32]) -> Result<bool, StoreError> {
    let parted = match w.open_table(BLOCKS)?.remove(hash)? {
        None => return Ok(false),
        Some(v) => v.value().is_empty(),
    };
    if parted {
        let mut parts = w.open_table(BLOCK_PARTS)?;
        let mut n = 0;
        while parts.remove((hash, n))?.is_some() {
            n += 1;
        }
    }
    Ok(true)
}

/// A block's bytes. `parts` opens `block_parts` (only a big block needs it).
pub(super) fn get<P>(
    blocks: &impl ReadableTable<&'static [u8; 32], &'static [u8]>,
    parts: impl FnOnce() -> Result<P, StoreError>,
    hash: &[u8; 32],
) -> Result<Option<Vec<u8>>, StoreError>
where
    P: ReadableTable<(&'static [u8; 32], u32), &'static [u8]>,
{
    let whole = match blocks.get(hash)? {
        None => return Ok(None),
        Some(v) => v.value().to_vec(),
    };
    if !whole.is_empty() {
        return Ok(Some(whole));
    }
    let parts = parts()?;
    let mut out = Vec::new();
    for item in parts.range((hash, 0)..=(hash, u32::MAX))? {
        let (_, v) = item?;
        // Bounded before it grows: damaged parts cannot make a read
        // allocate more than a block may be.
        if out.len() + v.value().len() > super::BLOCK_LIMIT {
            return Err(StoreError::Corrupt(format!(
                "block {} is stored in parts of more than {} bytes",
                crate::chain::crypto::Hash(*hash),
                super::BLOCK_LIMIT
            )));
        }
        out.extend_from_slice(v.value());
    }
    if out.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "block {} is stored in parts and has none",
            crate::chain::crypto::Hash(*hash)
        )));
    }
    Ok(Some(out))
}

/// [`get`] inside a write transaction.
pub(super) fn get_in(w: &WriteTransaction, hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
    let blocks = w.open_table(BLOCKS)?;
    get(&blocks, || Ok(w.open_table(BLOCK_PARTS)?), hash)
}

/// [`get`] in a read transaction.
pub(super) fn get_read(
    r: &redb::ReadTransaction,
    hash: &[u8; 32],
) -> Result<Option<Vec<u8>>, StoreError> {
    let blocks = r.open_table(BLOCKS)?;
    get(&blocks, || Ok(r.open_table(BLOCK_PARTS)?), hash)
}
