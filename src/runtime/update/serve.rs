//! A main node's releases directory (`releases = DIR` in node.toml): the
//! release maker's output, copied as it is — `goodwill-0.2.0` and
//! `goodwill-0.2.0.manifest` side by side, as `goodwill release sign`
//! writes them. The node offers its forgers the highest counter for their
//! target ([`crate::wire::Query::Release`]) and the binary in chunks
//! ([`crate::wire::Query::ReleaseBytes`]). It checks no signature: the
//! forger does, with its own trusted keys; the node is only a transport,
//! and a release it serves wrongly is refused on the board.
//!
//! Bounded: at most [`MAX_ENTRIES`] directory entries are looked at, each
//! manifest read is at most [`super::MAX_FILE`] bytes, a chunk at most
//! [`crate::wire::limits::RELEASE_CHUNK`].

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{SignedManifest, MAX_FILE};
use crate::chain::crypto::Hash;

/// The most directory entries looked at.
pub const MAX_ENTRIES: usize = 256;

/// The manifests of `dir` with their paths (unreadable ones skipped).
fn manifests(dir: &Path) -> Result<Vec<(PathBuf, SignedManifest, String)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for entry in entries.take(MAX_ENTRIES) {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "manifest") {
            continue;
        }
        let Ok(text) = crate::runtime::os::read_text_bounded(&path, MAX_FILE as u64) else {
            continue;
        };
        if let Ok(m) = SignedManifest::from_text(&text) {
            out.push((path, m, text));
        }
    }
    Ok(out)
}

/// The manifest text of the highest release counter offered for `target`.
pub fn offer(dir: &Path, target: &str) -> Result<Option<String>, String> {
    Ok(manifests(dir)?
        .into_iter()
        .filter(|(_, m, _)| m.manifest.target == target)
        .max_by_key(|(_, m, _)| m.manifest.counter)
        .map(|(_, _, text)| text))
}

/// Up to `max` bytes from `offset` of the binary whose manifest names
/// `sha256` (the file beside it, its name without `.manifest`).
pub fn chunk(dir: &Path, sha256: &Hash, offset: u64, max: usize) -> Result<Vec<u8>, String> {
    let (path, m, _) = manifests(dir)?
        .into_iter()
        .find(|(_, m, _)| m.manifest.sha256 == sha256.0)
        .ok_or_else(|| format!("no release with SHA-256 {sha256} is offered here"))?;
    let bin = path.with_extension("");
    let mut f = std::fs::File::open(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    let len = f
        .metadata()
        .map_err(|e| format!("{}: {e}", bin.display()))?
        .len();
    if len != m.manifest.size {
        return Err(format!(
            "{} is {len} bytes, its manifest says {}: the releases directory is being changed, or damaged",
            bin.display(),
            m.manifest.size
        ));
    }
    if offset >= len {
        return Ok(Vec::new());
    }
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let mut buf = Vec::with_capacity(max.min((len - offset) as usize));
    f.take(max as u64)
        .read_to_end(&mut buf)
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::crypto::Keypair;
    use crate::runtime::update::Manifest;

    #[test]
    fn the_highest_counter_for_the_target_is_offered_and_served_in_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let key = Keypair::from_seed([3; 32]).unwrap();
        let put = |name: &str, bin: &[u8], target: &str, counter: u64| {
            std::fs::write(dir.path().join(name), bin).unwrap();
            let m = Manifest::of_binary(bin, target, "0.2.0", counter, u64::MAX).sign(&key);
            std::fs::write(dir.path().join(format!("{name}.manifest")), m.to_text()).unwrap();
            m
        };
        put("a", b"old binary", "t1", 1);
        let newest = put("b", &[7u8; 100], "t1", 2);
        put("c", b"other target", "t2", 9);
        std::fs::write(dir.path().join("junk.manifest"), "not toml").unwrap();
        let text = offer(dir.path(), "t1").unwrap().unwrap();
        assert_eq!(SignedManifest::from_text(&text).unwrap(), newest);
        assert_eq!(offer(dir.path(), "t3").unwrap(), None);
        let h = Hash(newest.manifest.sha256);
        assert_eq!(chunk(dir.path(), &h, 0, 64).unwrap(), vec![7u8; 64]);
        assert_eq!(chunk(dir.path(), &h, 64, 64).unwrap(), vec![7u8; 36]);
        assert!(chunk(dir.path(), &h, 100, 64).unwrap().is_empty());
        assert!(chunk(dir.path(), &Hash([0; 32]), 0, 64)
            .unwrap_err()
            .contains("no release"));
        // A binary that is not its manifest's size is not served.
        std::fs::write(dir.path().join("b"), b"short").unwrap();
        assert!(chunk(dir.path(), &h, 0, 64).unwrap_err().contains("bytes"));
    }
}
