//! The ledger state as keys and values, read through [`StateRead`], changed
//! only by [`StateChanges`].
//!
//! A block's effect is a list of [`Change`]s (key, value before, value
//! after), sorted by key. Applying it moves the state forward; undoing it
//! (a reorganisation) moves it back exactly. The same list, minus the tip,
//! feeds the state digest, so two nodes that disagree find out at the first
//! block where they diverge. [`MemState`] keeps it in memory; the redb store
//! keeps it on disk behind the same trait.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::chain::codec::{encode, Bytes};
use crate::chain::crypto::{tag, Hash, PublicKey};
use crate::chain::limits;

/// An account's balance and next nonce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// In the smallest unit.
    pub balance: u64,
    /// The nonce its next transaction must carry.
    pub nonce: u64,
}

/// The chain's tip as the state sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tip {
    /// 0 at genesis.
    pub height: u64,
    /// The tip block's hash (the chain id at genesis).
    pub hash: Hash,
    /// The tip block's slot (0 at genesis).
    pub slot: u64,
    /// The state digest after the tip block.
    pub state_digest: Hash,
}

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProposalStatus {
    /// Open for yes-votes until `proposed_epoch + proposal_ttl_epochs`.
    Pending,
    /// Approved: listed (may receive donations) from `since_epoch` on —
    /// the epoch of the approving vote + `association_delay_epochs`; votes
    /// are about removal.
    Approved {
        /// The first epoch it is listed in.
        since_epoch: u64,
    },
    /// Removed by the forgers' vote: listed until `at_epoch` (the epoch of
    /// the removing vote + `association_delay_epochs`), if it ever was.
    Removed {
        /// The first epoch it is no longer listed in.
        at_epoch: u64,
    },
}

/// An association and the vote about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Its name.
    pub name: Bytes<{ limits::ASSOCIATION_NAME }>,
    /// Where to read about it.
    pub url: Bytes<{ limits::ASSOCIATION_URL }>,
    /// The account donations go to.
    pub account: PublicKey,
    /// Who proposed it (the association itself for genesis ones).
    pub proposer: PublicKey,
    /// The epoch it was proposed in.
    pub proposed_epoch: u64,
    /// Pending, approved or removed.
    pub status: ProposalStatus,
    /// The epoch the current vote round opened in.
    pub round_epoch: u64,
    /// This round's votes (voter, yes?), sorted by voter.
    pub votes: Vec<(PublicKey, bool)>,
    /// All donations received through BuyWeight.
    pub donations: u128,
}

impl Proposal {
    /// Whether a pending proposal's window has passed by `epoch`.
    pub fn lapsed(&self, epoch: u64, ttl: u64) -> bool {
        self.status == ProposalStatus::Pending && epoch > self.proposed_epoch.saturating_add(ttl)
    }

    /// Whether the association takes donations in `epoch`: approved from
    /// `since_epoch` on, until the epoch a removal takes effect.
    pub fn listed(&self, epoch: u64) -> bool {
        match self.status {
            ProposalStatus::Pending => false,
            ProposalStatus::Approved { since_epoch } => since_epoch <= epoch,
            ProposalStatus::Removed { at_epoch } => epoch < at_epoch,
        }
    }
}

/// A data record's latest value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The value.
    pub value: Bytes<{ limits::DATA_VALUE }>,
    /// The height of the block that wrote it.
    pub height: u64,
    /// The id of the PutData transaction that wrote it.
    pub tx: Hash,
}

/// A contract's account (docs/design.md, "Contracts").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractAccount {
    /// The hash of its module, stored once under [`StateKey::Code`].
    pub code_hash: Hash,
    /// Who deployed it.
    pub deployer: PublicKey,
    /// Its coins: only its own code moves them.
    pub balance: u64,
    /// Bytes its storage holds: Σ (key + value + 32) over its entries.
    pub stored_bytes: u64,
    /// The height of the block that deployed it.
    pub height: u64,
}

/// How a contract transaction's run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReceiptStatus {
    /// It ran to the end; its effects applied.
    Ok,
    /// It trapped (the trap's stable name); nothing but the fee applied.
    Trapped(Bytes<64>),
    /// It used all its fuel; nothing but the fee applied.
    OutOfFuel,
}

/// What a contract transaction did: kept under [`StateKey::Receipt`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The contract deployed or called.
    pub contract: Hash,
    /// How its run ended.
    pub status: ReceiptStatus,
    /// Fuel used, loading included.
    pub fuel_used: u64,
    /// The fee charged: `min_fee + fuel_used × fuel_price` (the storage
    /// charge, burned, is apart).
    pub fee: u64,
    /// Coins burned for the storage the run added.
    pub storage_charge: u64,
    /// What the run set as its return data.
    pub return_data: Bytes<1024>,
    /// The events it emitted, in order (none unless ok).
    pub events: Vec<Bytes<256>>,
    /// The block's height.
    pub height: u64,
}

/// A key in the ledger state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum StateKey {
    /// The tip (excluded from the digest: it contains the digest).
    Tip,
    /// An account.
    Account(PublicKey),
    /// Forging weight bought for (epoch, account).
    Weight(u64, PublicKey),
    /// A forger caught equivocating: its weight is void from this epoch on.
    Voided(PublicKey),
    /// A proposal (and association) by id.
    Proposal(Hash),
    /// The current proposal id of an association account.
    AssociationOf(PublicKey),
    /// A data record (owner, key).
    Record(PublicKey, Bytes<{ limits::DATA_KEY }>),
    /// The randomness seed of an epoch (the state holds its tip's epoch's).
    Seed(u64),
    /// Coins burned so far (the part of equivocation bounties not paid to
    /// reporters): the supply is genesis + rewards − this.
    Burned,
    /// The running mix of the tip's epoch: its seed, then each block's VRF
    /// output folded in (`chain::block::mix_vrf`); the next epoch's seed is
    /// `ledger::schedule::next_seed` of its final value.
    Mix,
    /// A contract's account, by address.
    Contract(Hash),
    /// A contract module, by its hash.
    Code(Hash),
    /// A contract's stored value (contract, key).
    ContractData(Hash, Bytes<{ limits::DATA_KEY }>),
    /// A contract transaction's receipt, by transaction id.
    Receipt(Hash),
}

/// A value in the ledger state; its variant matches its key's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StateValue {
    /// For [`StateKey::Tip`].
    Tip(Tip),
    /// For [`StateKey::Account`].
    Account(Account),
    /// For [`StateKey::Weight`].
    Weight(u64),
    /// For [`StateKey::Voided`]: the first voided epoch.
    Voided(u64),
    /// For [`StateKey::Proposal`].
    Proposal(Proposal),
    /// For [`StateKey::AssociationOf`].
    AssociationOf(Hash),
    /// For [`StateKey::Record`].
    Record(Record),
    /// For [`StateKey::Seed`].
    Seed(Hash),
    /// For [`StateKey::Burned`].
    Burned(u64),
    /// For [`StateKey::Mix`].
    Mix(Hash),
    /// For [`StateKey::Contract`].
    Contract(ContractAccount),
    /// For [`StateKey::Code`].
    Code(Bytes<{ limits::CONTRACT_CODE }>),
    /// For [`StateKey::ContractData`].
    ContractData(Bytes<{ limits::DATA_VALUE }>),
    /// For [`StateKey::Receipt`].
    Receipt(Receipt),
}

/// A storage failure under a state read: fatal for the process.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reading the ledger state: {0}")]
pub struct ReadError(pub String);

/// Read access to a ledger state.
pub trait StateRead {
    /// The value under `key`.
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, ReadError>;
    /// Every non-zero weight bought for `epoch`, sorted by account.
    fn epoch_weights(&self, epoch: u64) -> Result<Vec<(PublicKey, u64)>, ReadError>;
}

fn wrong(key: &StateKey, v: &StateValue) -> ReadError {
    ReadError(format!(
        "state holds {v:?} under {key:?}: the store is corrupt"
    ))
}

/// Typed reads over any [`StateRead`].
pub trait StateReadExt: StateRead {
    /// The tip (a state always has one).
    fn tip(&self) -> Result<Tip, ReadError> {
        match self.get(&StateKey::Tip)? {
            Some(StateValue::Tip(t)) => Ok(t),
            Some(v) => Err(wrong(&StateKey::Tip, &v)),
            None => Err(ReadError(
                "the state has no tip: it was never initialised".into(),
            )),
        }
    }
    /// An account (zero if it never received anything).
    fn account(&self, pk: &PublicKey) -> Result<Account, ReadError> {
        let k = StateKey::Account(*pk);
        match self.get(&k)? {
            Some(StateValue::Account(a)) => Ok(a),
            None => Ok(Account::default()),
            Some(v) => Err(wrong(&k, &v)),
        }
    }
    /// Weight bought by `pk` for `epoch`.
    fn weight(&self, epoch: u64, pk: &PublicKey) -> Result<u64, ReadError> {
        let k = StateKey::Weight(epoch, *pk);
        match self.get(&k)? {
            Some(StateValue::Weight(w)) => Ok(w),
            None => Ok(0),
            Some(v) => Err(wrong(&k, &v)),
        }
    }
    /// The first epoch `pk`'s weight is void in, if it ever equivocated.
    fn voided_from(&self, pk: &PublicKey) -> Result<Option<u64>, ReadError> {
        let k = StateKey::Voided(*pk);
        match self.get(&k)? {
            Some(StateValue::Voided(e)) => Ok(Some(e)),
            None => Ok(None),
            Some(v) => Err(wrong(&k, &v)),
        }
    }
    /// A proposal by id.
    fn proposal(&self, id: &Hash) -> Result<Option<Proposal>, ReadError> {
        let k = StateKey::Proposal(*id);
        match self.get(&k)? {
            Some(StateValue::Proposal(p)) => Ok(Some(p)),
            None => Ok(None),
            Some(v) => Err(wrong(&k, &v)),
        }
    }
    /// The current proposal id of an association account.
    fn association_of(&self, account: &PublicKey) -> Result<Option<Hash>, ReadError> {
        let k = StateKey::AssociationOf(*account);
        match self.get(&k)? {
            Some(StateValue::AssociationOf(h)) => Ok(Some(h)),
            None => Ok(None),
            Some(v) => Err(wrong(&k, &v)),
        }
    }
    /// A data record.
    fn record(
        &self,
        owner: &PublicKey,
        key: &Bytes<{ limits::DATA_KEY }>,
    ) -> Result<Option<Record>, ReadError> {
        let k = StateKey::Record(*owner, key.clone());
        match self.get(&k)? {
            Some(StateValue::Record(r)) => Ok(Some(r)),
            None => Ok(None),
            Some(v) => Err(wrong(&k, &v)),
        }
    }
    /// Coins burned so far.
    fn burned(&self) -> Result<u64, ReadError> {
        match self.get(&StateKey::Burned)? {
            Some(StateValue::Burned(b)) => Ok(b),
            None => Ok(0),
            Some(v) => Err(wrong(&StateKey::Burned, &v)),
        }
    }
    /// The running VRF mix of the tip's epoch.
    fn mix(&self) -> Result<Option<Hash>, ReadError> {
        let k = StateKey::Mix;
        match self.get(&k)? {
            Some(StateValue::Mix(h)) => Ok(Some(h)),
            None => Ok(None),
            Some(v) => Err(wrong(&k, &v)),
        }
    }
    /// A contract's account.
    fn contract(&self, address: &Hash) -> Result<Option<ContractAccount>, ReadError> {
        let k = StateKey::Contract(*address);
        match self.get(&k)? {
            Some(StateValue::Contract(c)) => Ok(Some(c)),
            None => Ok(None),
            Some(v) => Err(wrong(&k, &v)),
        }
    }
    /// A contract module by its hash.
    fn code(&self, hash: &Hash) -> Result<Option<Bytes<{ limits::CONTRACT_CODE }>>, ReadError> {
        let k = StateKey::Code(*hash);
        match self.get(&k)? {
            Some(StateValue::Code(c)) => Ok(Some(c)),
            None => Ok(None),
            Some(v) => Err(wrong(&k, &v)),
        }
    }
    /// One value a contract stored.
    fn contract_data(
        &self,
        contract: &Hash,
        key: &Bytes<{ limits::DATA_KEY }>,
    ) -> Result<Option<Bytes<{ limits::DATA_VALUE }>>, ReadError> {
        let k = StateKey::ContractData(*contract, key.clone());
        match self.get(&k)? {
            Some(StateValue::ContractData(v)) => Ok(Some(v)),
            None => Ok(None),
            Some(v) => Err(wrong(&k, &v)),
        }
    }
    /// A contract transaction's receipt.
    fn receipt(&self, tx: &Hash) -> Result<Option<Receipt>, ReadError> {
        let k = StateKey::Receipt(*tx);
        match self.get(&k)? {
            Some(StateValue::Receipt(r)) => Ok(Some(r)),
            None => Ok(None),
            Some(v) => Err(wrong(&k, &v)),
        }
    }
    /// An epoch's seed, if the state still holds it (its tip's epoch's).
    fn seed(&self, epoch: u64) -> Result<Option<Hash>, ReadError> {
        let k = StateKey::Seed(epoch);
        match self.get(&k)? {
            Some(StateValue::Seed(h)) => Ok(Some(h)),
            None => Ok(None),
            Some(v) => Err(wrong(&k, &v)),
        }
    }
}

impl<T: StateRead + ?Sized> StateReadExt for T {}

/// One key's change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The key.
    pub key: StateKey,
    /// Its value before the block (None: absent).
    pub before: Option<StateValue>,
    /// Its value after the block (None: removed).
    pub after: Option<StateValue>,
}

/// Everything one block changes, sorted by key, and the resulting digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChanges {
    /// The changes, sorted by key, each key once.
    pub changes: Vec<Change>,
    /// The state digest after the block.
    pub digest: Hash,
}

impl StateChanges {
    /// The tip after these changes.
    pub fn tip(&self) -> Option<Tip> {
        self.changes.iter().find_map(|c| match &c.after {
            Some(StateValue::Tip(t)) => Some(*t),
            _ => None,
        })
    }
}

/// The running state digest: `H(tag ‖ parent digest ‖ encode(sorted (key,
/// after) pairs without the tip))`.
pub fn digest(parent: &Hash, changes: &[Change]) -> Hash {
    let pairs: Vec<(&StateKey, &Option<StateValue>)> = changes
        .iter()
        .filter(|c| c.key != StateKey::Tip)
        .map(|c| (&c.key, &c.after))
        .collect();
    digest_of_pairs(parent, &pairs)
}

/// The state digest over (key, after) pairs as [`digest`] takes them
/// (sorted by key, the tip left out): what a receipt's proof recomputes.
pub fn digest_of_pairs<K: Serialize, V: Serialize>(parent: &Hash, pairs: &[(K, V)]) -> Hash {
    Hash::tagged(tag::STATE, &[&parent.0, &encode(&pairs)])
}

/// A ledger state in memory: the reference model, the demo's and the tests'.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemState {
    map: BTreeMap<StateKey, StateValue>,
}

impl MemState {
    /// An empty state (no tip: apply the genesis changes first).
    pub fn new() -> MemState {
        MemState::default()
    }

    /// Moves the state forward by one block's changes.
    pub fn apply(&mut self, changes: &StateChanges) {
        for c in &changes.changes {
            debug_assert_eq!(self.map.get(&c.key), c.before.as_ref(), "{:?}", c.key);
            match &c.after {
                Some(v) => self.map.insert(c.key.clone(), v.clone()),
                None => self.map.remove(&c.key),
            };
        }
    }

    /// Moves the state back by one block's changes (the last applied).
    pub fn undo(&mut self, changes: &StateChanges) {
        for c in &changes.changes {
            match &c.before {
                Some(v) => self.map.insert(c.key.clone(), v.clone()),
                None => self.map.remove(&c.key),
            };
        }
    }

    /// Every key and value, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&StateKey, &StateValue)> {
        self.map.iter()
    }

    /// The sum of every balance, contracts' included.
    pub fn total_balance(&self) -> u128 {
        self.map
            .values()
            .map(|v| match v {
                StateValue::Account(a) => a.balance as u128,
                StateValue::Contract(c) => c.balance as u128,
                _ => 0,
            })
            .sum()
    }
}

impl StateRead for MemState {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, ReadError> {
        Ok(self.map.get(key).cloned())
    }

    fn epoch_weights(&self, epoch: u64) -> Result<Vec<(PublicKey, u64)>, ReadError> {
        let lo = StateKey::Weight(epoch, PublicKey([0; 32]));
        let hi = StateKey::Weight(epoch, PublicKey([0xff; 32]));
        Ok(self
            .map
            .range(lo..=hi)
            .filter_map(|(k, v)| match (k, v) {
                (StateKey::Weight(_, pk), StateValue::Weight(w)) if *w > 0 => Some((*pk, *w)),
                _ => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::genesis::COIN;
    use crate::ledger::{apply_block, Parallelism};
    use crate::testkit::{TestNet, TestNetConfig};

    fn pk(b: u8) -> PublicKey {
        PublicKey([b; 32])
    }

    fn set(key: StateKey, after: StateValue) -> Change {
        Change {
            key,
            before: None,
            after: Some(after),
        }
    }

    #[test]
    fn a_blocks_changes_are_sorted_once_per_key_and_undo_restores_the_state_exactly() {
        let net = TestNet::new(&TestNetConfig::default());
        let mut chain = net.chain();
        let before = chain.state.clone();
        let tx = chain.transfer_from_user(0, net.users[1].public(), 3 * COIN);
        let block = chain.forge(vec![tx]);
        let changes = apply_block(&net.params, &before, &block, Parallelism::Single).unwrap();
        assert!(
            changes.changes.windows(2).all(|w| w[0].key < w[1].key),
            "sorted by key, each key once: {:?}",
            changes.changes.iter().map(|c| &c.key).collect::<Vec<_>>()
        );
        assert_eq!(changes.tip().unwrap().hash, block.hash());
        let mut state = before.clone();
        state.apply(&changes);
        assert_eq!(state, chain.state);
        assert_ne!(state, before);
        state.undo(&changes);
        assert_eq!(state, before);
    }

    #[test]
    fn the_digest_covers_every_change_but_the_tip_and_chains_on_its_parent() {
        let tip = Tip {
            height: 1,
            hash: Hash([1; 32]),
            slot: 3,
            state_digest: Hash([2; 32]),
        };
        let account = |balance| {
            set(
                StateKey::Account(pk(7)),
                StateValue::Account(Account { balance, nonce: 0 }),
            )
        };
        let parent = Hash([9; 32]);
        let with_tip = [set(StateKey::Tip, StateValue::Tip(tip)), account(5)];
        let d = digest(&parent, &with_tip);
        assert_eq!(d, digest(&parent, &with_tip[1..]), "the tip is left out");
        assert_ne!(d, digest(&parent, &[account(6)]), "a value");
        assert_ne!(d, digest(&Hash([8; 32]), &with_tip), "the parent");
        assert_ne!(d, digest(&parent, &[]), "a change");
    }

    #[test]
    fn epoch_weights_are_that_epochs_non_zero_ones_sorted_by_account() {
        let mut s = MemState::new();
        let w =
            |epoch, who, weight| set(StateKey::Weight(epoch, pk(who)), StateValue::Weight(weight));
        s.apply(&StateChanges {
            changes: vec![
                w(4, 1, 100),
                w(5, 1, 7),
                w(5, 2, 3),
                w(5, 3, 0),
                w(5, 0xff, 1),
                w(6, 0, 9),
            ],
            digest: Hash::default(),
        });
        assert_eq!(
            s.epoch_weights(5).unwrap(),
            vec![(pk(1), 7), (pk(2), 3), (pk(0xff), 1)]
        );
        assert_eq!(s.epoch_weights(7).unwrap(), vec![]);
        assert_eq!(s.weight(5, &pk(3)).unwrap(), 0);
        assert_eq!(s.weight(4, &pk(1)).unwrap(), 100);
    }

    #[test]
    fn typed_reads_default_what_is_missing_and_refuse_a_value_of_the_wrong_kind() {
        let mut s = MemState::new();
        assert!(
            s.tip().is_err(),
            "a state without a tip was never initialised"
        );
        assert_eq!(s.account(&pk(1)).unwrap(), Account::default());
        assert_eq!(s.burned().unwrap(), 0);
        assert_eq!(s.voided_from(&pk(1)).unwrap(), None);
        s.apply(&StateChanges {
            changes: vec![set(StateKey::Account(pk(1)), StateValue::Weight(4))],
            digest: Hash::default(),
        });
        let e = s.account(&pk(1)).unwrap_err();
        assert!(e.0.contains("corrupt"), "{e}");
    }

    #[test]
    fn an_association_is_listed_from_its_approval_until_its_removal() {
        let mut p = Proposal {
            name: Bytes::new(*b"A").unwrap(),
            url: Bytes::empty(),
            account: pk(1),
            proposer: pk(2),
            proposed_epoch: 10,
            status: ProposalStatus::Pending,
            round_epoch: 10,
            votes: Vec::new(),
            donations: 0,
        };
        assert!(!p.listed(10));
        assert!(!p.lapsed(15, 5), "the last epoch of its time to live");
        assert!(p.lapsed(16, 5));
        p.status = ProposalStatus::Approved { since_epoch: 12 };
        assert!(!p.listed(11) && p.listed(12) && p.listed(1_000));
        assert!(!p.lapsed(1_000, 5), "approved never lapses");
        p.status = ProposalStatus::Removed { at_epoch: 20 };
        assert!(p.listed(19) && !p.listed(20));
    }
}
