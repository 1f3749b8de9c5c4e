//! The Merkle tree over a block's transaction ids, and inclusion proofs that
//! a client checks against a header alone.
//!
//! Leaves are `H(0x00 ‖ id)`, inner nodes `H(0x01 ‖ left ‖ right)` (the prefixes
//! keep a leaf from passing for a node). A level with an odd count carries its
//! last node up unchanged — never duplicated, so no two different lists of
//! ids share a root. The root of no transactions is all zeros.

use serde::{Deserialize, Serialize};

use crate::chain::crypto::Hash;
use crate::chain::limits;

fn leaf(id: &Hash) -> Hash {
    Hash::of(&[&[0u8], &id.0])
}

fn node(l: &Hash, r: &Hash) -> Hash {
    Hash::of(&[&[1u8], &l.0, &r.0])
}

fn next_level(level: &[Hash]) -> Vec<Hash> {
    level
        .chunks(2)
        .map(|p| {
            if p.len() == 2 {
                node(&p[0], &p[1])
            } else {
                p[0]
            }
        })
        .collect()
}

/// The root over `ids`, in block order.
pub fn root(ids: &[Hash]) -> Hash {
    if ids.is_empty() {
        return Hash::ZERO;
    }
    let mut level: Vec<Hash> = ids.iter().map(leaf).collect();
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

/// A proof that one id sits at `index` among `leaf_count` ids under a root.
///
/// It proves inclusion under the root. The header does not commit to the
/// count, so a proof with another `leaf_count` may still verify where the
/// path is the same; what it shows is still that the id is in the block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    /// The position of the id in the block.
    pub index: u32,
    /// How many transactions the block holds.
    pub leaf_count: u32,
    /// Sibling hashes from the leaf up.
    pub siblings: Vec<Hash>,
}

/// The proof for `ids[index]`, or `None` if `index` is out of range.
pub fn prove(ids: &[Hash], index: usize) -> Option<Proof> {
    if index >= ids.len() || ids.len() > u32::MAX as usize {
        return None;
    }
    let mut level: Vec<Hash> = ids.iter().map(leaf).collect();
    let mut i = index;
    let mut siblings = Vec::new();
    while level.len() > 1 {
        if let Some(s) = level.get(i ^ 1) {
            siblings.push(*s);
        }
        level = next_level(&level);
        i /= 2;
    }
    Some(Proof {
        index: index as u32,
        leaf_count: ids.len() as u32,
        siblings,
    })
}

/// Whether `proof` shows `id` under `root`.
pub fn verify(root: &Hash, id: &Hash, proof: &Proof) -> bool {
    if proof.index >= proof.leaf_count || proof.siblings.len() > limits::MERKLE_DEPTH {
        return false;
    }
    let mut acc = leaf(id);
    let mut i = proof.index as u64;
    let mut n = proof.leaf_count as u64;
    let mut sibs = proof.siblings.iter();
    while n > 1 {
        if i ^ 1 < n {
            let Some(s) = sibs.next() else { return false };
            acc = if i & 1 == 0 {
                node(&acc, s)
            } else {
                node(s, &acc)
            };
        }
        i /= 2;
        n = n.div_ceil(2);
    }
    sibs.next().is_none() && acc == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| Hash::of(&[&(i as u64).to_le_bytes()]))
            .collect()
    }

    #[test]
    fn every_leaf_proves_and_nothing_else_does() {
        for n in 1..40 {
            let ids = ids(n);
            let r = root(&ids);
            for i in 0..n {
                let p = prove(&ids, i).unwrap();
                assert!(verify(&r, &ids[i], &p), "n={n} i={i}");
                // Another id, another index, a wrong count, a flipped sibling: refused.
                assert!(!verify(&r, &Hash([9; 32]), &p));
                if n > 1 {
                    let mut q = p.clone();
                    q.index = ((i + 1) % n) as u32;
                    assert!(!verify(&r, &ids[i], &q), "n={n} i={i}");
                    let mut q = p.clone();
                    q.siblings[0].0[0] ^= 1;
                    assert!(!verify(&r, &ids[i], &q));
                }
            }
            assert!(prove(&ids, n).is_none());
        }
    }

    #[test]
    fn no_duplication_ambiguity() {
        // [a, b, c] and [a, b, c, c] must have different roots.
        let mut v = ids(3);
        let r3 = root(&v);
        v.push(v[2]);
        assert_ne!(r3, root(&v));
        assert_eq!(root(&[]), Hash::ZERO);
    }
}
