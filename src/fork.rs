//! Fork choice: the chain with more blocks wins; at equal length the lower
//! tip hash wins; and no reorganisation undoes more than the finality depth.

use std::cmp::Ordering;

use crate::crypto::Hash;

/// A chain's tip, as fork choice sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Its height (number of blocks after genesis).
    pub height: u64,
    /// Its tip hash.
    pub hash: Hash,
}

/// Orders heads: `Greater` means `a` is the better chain.
pub fn compare(a: &Head, b: &Head) -> Ordering {
    a.height.cmp(&b.height).then_with(|| b.hash.cmp(&a.hash))
}

/// What to do about a candidate chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Stay on the current chain.
    Keep,
    /// Switch: undo `undo` blocks back to the fork point, then apply the
    /// candidate's blocks.
    Switch {
        /// Blocks undone on the current chain.
        undo: u64,
    },
    /// The candidate is better but would undo more than the finality depth.
    BeyondFinality {
        /// Blocks it would undo.
        undo: u64,
        /// The finality depth.
        finality_depth: u64,
    },
}

/// Decides between the current head and a candidate that forks from it at
/// height `fork_height` (the last block both chains share).
pub fn choose(current: &Head, candidate: &Head, fork_height: u64, finality_depth: u64) -> Decision {
    if compare(candidate, current) != Ordering::Greater {
        return Decision::Keep;
    }
    let undo = current.height.saturating_sub(fork_height);
    if undo > finality_depth {
        Decision::BeyondFinality {
            undo,
            finality_depth,
        }
    } else {
        Decision::Switch { undo }
    }
}

/// The highest height that can no longer be undone, given the tip's height.
pub fn finalized_height(tip_height: u64, finality_depth: u64) -> u64 {
    tip_height.saturating_sub(finality_depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(height: u64, b: u8) -> Head {
        Head {
            height,
            hash: Hash([b; 32]),
        }
    }

    #[test]
    fn longer_wins_then_lower_hash() {
        assert_eq!(compare(&head(5, 9), &head(4, 1)), Ordering::Greater);
        assert_eq!(compare(&head(5, 1), &head(5, 2)), Ordering::Greater);
        assert_eq!(compare(&head(5, 2), &head(5, 2)), Ordering::Equal);
    }

    #[test]
    fn decisions() {
        let cur = head(10, 5);
        assert_eq!(choose(&cur, &head(10, 6), 8, 4), Decision::Keep);
        assert_eq!(choose(&cur, &cur, 10, 4), Decision::Keep);
        assert_eq!(
            choose(&cur, &head(10, 4), 8, 4),
            Decision::Switch { undo: 2 }
        );
        assert_eq!(
            choose(&cur, &head(12, 9), 6, 4),
            Decision::Switch { undo: 4 }
        );
        assert_eq!(
            choose(&cur, &head(20, 9), 5, 4),
            Decision::BeyondFinality {
                undo: 5,
                finality_depth: 4
            }
        );
        assert_eq!(finalized_height(10, 4), 6);
        assert_eq!(finalized_height(3, 4), 0);
    }
}
