//! Fork choice: the chain with more blocks wins; at equal length the chain
//! a node saw first stays (Bitcoin's rule); no reorganisation undoes more
//! than the finality depth; and a rival block that arrives late is not
//! taken in from gossip.
//!
//! Why first-seen and not a hash tie-break: a block's hash is chosen by its
//! forger (any transaction, any order changes it), so "the lower hash wins"
//! lets the next leader build on the grandparent instead of the tip, try a
//! few transaction sets until its hash is lower than the tip's, and orphan
//! the previous block with its fees, reward, votes and reports — two tries
//! on average. At equal length nothing is gained by switching, so a node
//! keeps what it has; the next block settles a tie for everyone (the
//! longer chain wins), as in Bitcoin. The price: two honest nodes may sit
//! on two tips of equal height until that block comes.
//!
//! The lateness bound ([`late`], [`LATE_SLOTS`]): a block that does not
//! extend a node's tip and is not longer than it (a *rival*) cannot win
//! under first-seen, so one arriving by gossip more than [`LATE_SLOTS`]
//! slots (plus the clock drift) after its slot started is neither stored
//! nor relayed: a withheld or ground block released late spreads no
//! further than its sender's links. A longer branch is never late: it is
//! fetched by sync and wins on length, however old its blocks.

use std::cmp::Ordering;

use crate::chain::crypto::Hash;
use crate::chain::genesis::ChainParams;

/// How many slots after its slot started a rival block may still arrive by
/// gossip (plus the chain's allowed clock drift). An honest block reaches
/// every node well within one slot; two leave room for a slow hop and a
/// retransmission. With the default 2 s slots: 4.5 s.
pub const LATE_SLOTS: u64 = 2;

/// A chain's tip, as fork choice sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Its height (number of blocks after genesis).
    pub height: u64,
    /// Its tip hash.
    pub hash: Hash,
}

/// Orders heads by length: `Greater` means `a` is the better chain,
/// `Equal` that neither is (equal length: the one seen first stays, whatever
/// the hashes).
pub fn compare(a: &Head, b: &Head) -> Ordering {
    a.height.cmp(&b.height)
}

/// Whether a block in `slot` that arrives at `now_ms` is past the lateness
/// bound: its slot started more than [`LATE_SLOTS`] slots plus the allowed
/// clock drift ago. Only rivals are refused for it (see the module's text).
pub fn late(params: &ChainParams, slot: u64, now_ms: u64) -> bool {
    let bound = LATE_SLOTS
        .saturating_mul(params.genesis().slot_ms)
        .saturating_add(params.limits().max_clock_drift_ms);
    now_ms > params.slot_start_ms(slot).saturating_add(bound)
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
/// height `fork_height` (the last block both chains share). Only a longer
/// candidate is switched to.
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
    fn longer_wins_and_equal_length_is_a_tie_whatever_the_hashes() {
        assert_eq!(compare(&head(5, 9), &head(4, 1)), Ordering::Greater);
        assert_eq!(compare(&head(4, 1), &head(5, 9)), Ordering::Less);
        // Was `Greater` under the lower-hash tie-break (grindable).
        assert_eq!(compare(&head(5, 1), &head(5, 2)), Ordering::Equal);
        assert_eq!(compare(&head(5, 2), &head(5, 2)), Ordering::Equal);
    }

    #[test]
    fn decisions() {
        let cur = head(10, 5);
        assert_eq!(choose(&cur, &head(10, 6), 8, 4), Decision::Keep);
        assert_eq!(choose(&cur, &cur, 10, 4), Decision::Keep);
        // Equal length with a lower hash: kept (first seen). The old rule
        // switched here, undoing 2 blocks for a branch no longer.
        assert_eq!(choose(&cur, &head(10, 4), 8, 4), Decision::Keep);
        assert_eq!(
            choose(&cur, &head(11, 9), 8, 4),
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

    #[test]
    fn lateness_bound_is_two_slots_and_the_drift_after_the_slot_starts() {
        let net = crate::testkit::TestNet::new(&crate::testkit::TestNetConfig::default());
        let p = &net.params;
        // Test chains: start 0, 1 s slots, 500 ms drift: slot 10 starts at
        // 10 s, and is late after 12.5 s.
        assert_eq!(p.genesis().slot_ms, 1_000);
        assert_eq!(p.limits().max_clock_drift_ms, 500);
        assert!(!late(p, 10, 9_000), "before its slot");
        assert!(!late(p, 10, 12_500), "at the bound");
        assert!(late(p, 10, 12_501), "past it");
        assert!(!late(p, u64::MAX, 0));
    }
}
