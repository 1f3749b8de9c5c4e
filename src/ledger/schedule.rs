//! The leader schedule of Proof of Good-Will.
//!
//! - The weight table of epoch E is every BuyWeight for E. BuyWeight is only
//!   accepted at least two epochs ahead, so the table is closed once epoch
//!   E−1 starts.
//! - Every block carries its forger's VRF proof over (chain id, seed of its
//!   epoch, slot) (RFC 9381 ECVRF-EDWARDS25519-SHA512-TAI): an output the
//!   forger cannot choose. The mix of epoch E starts at seed(E) and folds in
//!   each of E's blocks' outputs (`chain::block::mix_vrf`);
//!   seed(E+1) = H(mix at the end of E). So the blocks that set seed(E+1)
//!   all come after E+1's weight table closed (when E started), and a
//!   forger's only lever is to withhold its block: one bit per slot it
//!   leads, never a free choice. seed(0) comes from the chain id; an epoch
//!   with no block passes on H(its seed).
//! - The leader of slot s is drawn from the table by H(seed(E) ‖ s): a
//!   binary search over cumulative weights, O(log n). With no weight in E,
//!   the bootstrap forgers take turns (slot mod n). While the weight bought
//!   for E is below `bootstrap_until_weight`, each bootstrap forger holds a
//!   notional `bootstrap_weight` in E beside the buyers (so a first small
//!   purchase does not take every slot); after `bootstrap_last_epoch` they
//!   hold none, and an epoch nobody bought has no leader ([`Power`]).
//! - A forger caught equivocating leads nothing from its voided epoch on:
//!   its slots stay empty (the draw itself does not change, so an equivocator
//!   cannot move the schedule).
//!
//! What bias remains (the last leaders of an epoch choosing between
//! publishing and withholding) is measured in docs/design.md.

use crate::chain::crypto::{tag, Hash, PublicKey};
use crate::chain::genesis::ChainParams;
use crate::ledger::state::{ReadError, StateRead, StateReadExt, Tip};

/// The seed of epoch 0 (and the mix a new chain starts with).
pub fn genesis_seed(chain_id: &Hash) -> Hash {
    Hash::tagged(tag::SEED, &[&chain_id.0])
}

/// seed(E+1) from the final mix of epoch E (its seed if it had no block).
pub fn next_seed(mix: &Hash) -> Hash {
    Hash::tagged(tag::SEED, &[&mix.0])
}

/// The seed of `epoch` for a block whose parent is `parent`. The state holds
/// the seed and the running mix of its tip's epoch; a later epoch's seed
/// is derived from that mix, and one per skipped (blockless) epoch after.
pub fn seed_for<S: StateRead + ?Sized>(
    params: &ChainParams,
    state: &S,
    parent: &Tip,
    epoch: u64,
) -> Result<Hash, ReadError> {
    let parent_epoch = params.epoch_of(parent.slot);
    if epoch <= parent_epoch {
        return state.seed(epoch)?.ok_or_else(|| {
            ReadError(format!(
                "the state has no seed for epoch {epoch} (its tip is in epoch {parent_epoch})"
            ))
        });
    }
    let mix = state
        .mix()?
        .ok_or_else(|| ReadError(format!("the state has no VRF mix for epoch {parent_epoch}")))?;
    let mut seed = next_seed(&mix);
    for _ in parent_epoch + 1..epoch {
        seed = next_seed(&seed);
    }
    Ok(seed)
}

/// An epoch's weights, ready for O(log n) draws.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WeightTable {
    keys: Vec<PublicKey>,
    cumulative: Vec<u128>,
}

impl WeightTable {
    /// From (account, weight) pairs; zero weights are skipped. The order of
    /// the pairs is part of the draw: pass them sorted by account, as
    /// [`StateRead::epoch_weights`] does.
    pub fn new(weights: &[(PublicKey, u64)]) -> WeightTable {
        let mut t = WeightTable::default();
        let mut sum: u128 = 0;
        for (k, w) in weights.iter().filter(|(_, w)| *w > 0) {
            sum += *w as u128;
            t.keys.push(*k);
            t.cumulative.push(sum);
        }
        t
    }

    /// The total weight.
    pub fn total(&self) -> u128 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// Whether nobody holds weight.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The holders, sorted by account.
    pub fn holders(&self) -> &[PublicKey] {
        &self.keys
    }

    /// The holder drawn for `slot` with `seed`, or None if the table is empty.
    pub fn draw(&self, seed: &Hash, slot: u64) -> Option<PublicKey> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let h = Hash::tagged(tag::LEADER, &[&seed.0, &slot.to_le_bytes()]);
        // 128 bits reduced modulo a total below 2^72: the bias is under 2^-56.
        let r = u128::from_le_bytes(h.0[..16].try_into().expect("16 bytes")) % total;
        // The first holder whose cumulative weight exceeds r.
        let i = self.cumulative.partition_point(|&c| c <= r);
        Some(self.keys[i])
    }
}

/// Who holds forging power in an epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Power {
    /// Nobody bought weight for it and the bootstrap forgers have not
    /// expired: they take turns (slot mod n), each with the notional
    /// `bootstrap_weight` for votes.
    Bootstrap,
    /// Weight was bought: the bought weights, sorted by account, plus each
    /// bootstrap forger's notional weight while the bought total is below
    /// `bootstrap_until_weight` (and the bootstrap forgers have not
    /// expired). Drawn by weight.
    Weighted(Vec<(PublicKey, u64)>),
    /// Nobody bought weight for it and the bootstrap forgers expired
    /// (`bootstrap_last_epoch`): no slot of it has a leader.
    Nobody,
}

/// The forging power of `epoch`: who leads its slots and who votes in it,
/// with which weight. Voided forgers are still in it (the draw must not
/// move); [`live_weights`] leaves them out.
pub fn power<S: StateRead + ?Sized>(
    params: &ChainParams,
    state: &S,
    epoch: u64,
) -> Result<Power, ReadError> {
    let bought = state.epoch_weights(epoch)?;
    let l = params.limits();
    let total: u128 = bought.iter().map(|(_, w)| *w as u128).sum();
    let bootstrap = epoch <= l.bootstrap_last_epoch && total < l.bootstrap_until_weight as u128;
    Ok(match (bought.is_empty(), bootstrap) {
        (true, true) => Power::Bootstrap,
        (true, false) => Power::Nobody,
        (false, false) => Power::Weighted(bought),
        (false, true) => {
            let mut merged: std::collections::BTreeMap<PublicKey, u64> =
                bought.into_iter().collect();
            for f in &params.genesis().bootstrap_forgers {
                let w = merged.entry(*f).or_insert(0);
                *w = w.saturating_add(l.bootstrap_weight);
            }
            Power::Weighted(merged.into_iter().collect())
        }
    })
}

/// The leader of `slot` for a block on top of `parent`, or None if the slot
/// has no leader (its drawn forger equivocated, or nobody holds power in
/// its epoch).
pub fn leader<S: StateRead + ?Sized>(
    params: &ChainParams,
    state: &S,
    parent: &Tip,
    slot: u64,
) -> Result<Option<PublicKey>, ReadError> {
    let epoch = params.epoch_of(slot);
    let drawn = match power(params, state, epoch)? {
        Power::Nobody => return Ok(None),
        Power::Bootstrap => {
            let forgers = &params.genesis().bootstrap_forgers;
            forgers[(slot % forgers.len() as u64) as usize]
        }
        Power::Weighted(weights) => {
            let table = WeightTable::new(&weights);
            let seed = seed_for(params, state, parent, epoch)?;
            table.draw(&seed, slot).expect("non-empty table")
        }
    };
    match state.voided_from(&drawn)? {
        Some(v) if v <= epoch => Ok(None),
        _ => Ok(Some(drawn)),
    }
}

/// Whether `key` leads `slot` on top of `parent`: what every node checks
/// before accepting a block, and what a forger asks before building one.
pub fn leads<S: StateRead + ?Sized>(
    params: &ChainParams,
    state: &S,
    parent: &Tip,
    slot: u64,
    key: &PublicKey,
) -> Result<bool, ReadError> {
    Ok(leader(params, state, parent, slot)?.as_ref() == Some(key))
}

/// The live forgers of `epoch` and their voting weight: the holders of
/// forging power in it ([`power`]: bought weight, plus the bootstrap
/// forgers' notional weight while they still count), minus those voided
/// for it. Sorted by account. Association votes are weighed with these.
pub fn live_weights<S: StateRead + ?Sized>(
    params: &ChainParams,
    state: &S,
    epoch: u64,
) -> Result<Vec<(PublicKey, u64)>, ReadError> {
    let mut candidates: Vec<(PublicKey, u64)> = match power(params, state, epoch)? {
        Power::Nobody => Vec::new(),
        Power::Bootstrap => params
            .genesis()
            .bootstrap_forgers
            .iter()
            .map(|k| (*k, params.limits().bootstrap_weight))
            .collect(),
        Power::Weighted(w) => w,
    };
    candidates.sort();
    let mut live = Vec::with_capacity(candidates.len());
    for (k, w) in candidates {
        match state.voided_from(&k)? {
            Some(v) if v <= epoch => {}
            _ => live.push((k, w)),
        }
    }
    Ok(live)
}

/// The live forgers of `epoch` (who may vote): the accounts of
/// [`live_weights`]. Sorted.
pub fn live_forgers<S: StateRead + ?Sized>(
    params: &ChainParams,
    state: &S,
    epoch: u64,
) -> Result<Vec<PublicKey>, ReadError> {
    Ok(live_weights(params, state, epoch)?
        .into_iter()
        .map(|(k, _)| k)
        .collect())
}

/// The slots of `epoch` that `key` leads, given the state at the start of the
/// epoch and its tip. For status displays ("leads 3 slots this epoch").
pub fn slots_led<S: StateRead + ?Sized>(
    params: &ChainParams,
    state: &S,
    parent: &Tip,
    epoch: u64,
    key: &PublicKey,
) -> Result<Vec<u64>, ReadError> {
    let first = params.first_slot(epoch);
    let mut out = Vec::new();
    for s in first..first + params.genesis().epoch_slots {
        if s > parent.slot && leads(params, state, parent, s, key)? {
            out.push(s);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draw_is_deterministic_and_follows_cumulative_weights() {
        let keys: Vec<PublicKey> = (1..=3u8).map(|i| PublicKey([i; 32])).collect();
        let t = WeightTable::new(&[(keys[0], 1), (keys[1], 0), (keys[2], 3)]);
        assert_eq!(t.total(), 4);
        assert_eq!(t.holders(), &[keys[0], keys[2]]);
        let seed = Hash([5; 32]);
        for s in 0..100 {
            assert_eq!(t.draw(&seed, s), t.draw(&seed, s));
            assert_ne!(t.draw(&seed, s), Some(keys[1]));
        }
        assert_eq!(WeightTable::new(&[]).draw(&seed, 0), None);
    }
}
