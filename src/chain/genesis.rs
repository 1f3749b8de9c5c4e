//! The genesis: a chain's constants and its first state, read from TOML.
//!
//! The chain id is the tagged SHA-256 of the *canonical* genesis: balances
//! and associations sorted by account, so two files that list the same
//! chain in another order name the same chain. [`ChainParams`] is the one
//! owner of every consensus constant (slot length, epoch length, reward,
//! fees, finality, limits) and of the time ↔ slot ↔ epoch arithmetic.
//!
//! It also holds the node's weak-subjectivity [`Checkpoint`]s: `HEIGHT:HASH`
//! pairs from the genesis file's `checkpoints = [...]` and from the
//! operator (`--checkpoint`, `checkpoints` in a node's or forger's config).
//! They are not part of the chain id (a checkpoint names a block of the
//! chain, so it can only be added after the fact); a node refuses any block
//! that contradicts one (see `store::ImportError::Checkpoint`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::chain::codec::{encode, Bytes};
use crate::chain::crypto::{tag, Hash, PublicKey};
use crate::chain::limits;

/// One unit of account is this many of the smallest unit. Amounts in genesis
/// files and on the wire are in the smallest unit; the command line accepts
/// coins with up to six decimals.
pub const COIN: u64 = 1_000_000;

/// The longest delay a genesis may set between an association vote and its
/// effect (`limits.association_delay_epochs`).
pub const MAX_ASSOCIATION_DELAY_EPOCHS: u64 = 1_000;
/// The shortest slot a genesis may set, in ms.
pub const MIN_SLOT_MS: u64 = 50;
/// The longest slot a genesis may set, in ms (one hour).
pub const MAX_SLOT_MS: u64 = 3_600_000;
/// The latest start a genesis may set: 9999-12-31T23:59:59.999Z, in ms.
pub const MAX_START_MS: u64 = 253_402_300_799_999;
/// The deepest finality a genesis may set, in blocks (each store keeps the
/// undo records of this many blocks and checks them at open).
pub const MAX_FINALITY_DEPTH: u64 = 10_000;
/// The largest `limits.max_clock_drift_ms` a genesis may set (one minute).
pub const MAX_CLOCK_DRIFT_MS: u64 = 60_000;
/// A genesis's balances plus its block reward for a block in every slot of
/// this long (a century, in ms) must fit in a u64.
pub const SUPPLY_HORIZON_MS: u64 = 36_525 * 86_400_000;

/// Consensus limits a chain may tune.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Transactions in one block.
    pub max_block_txs: u32,
    /// Encoded bytes of one block's transactions.
    pub max_block_bytes: u32,
    /// How far ahead of the local clock a block's slot may start, in ms.
    pub max_clock_drift_ms: u64,
    /// Epochs a proposal (or a removal round) stays open for votes.
    pub proposal_ttl_epochs: u64,
    /// Paid from an equivocating forger's balance to the reporter (at most
    /// what the forger has).
    pub equivocation_bounty: u64,
    /// How many epochs ahead weight may be bought.
    pub max_weight_epochs_ahead: u64,
    // Bootstrap forgers, association votes and the bounty's split (issue 13;
    // docs/design.md, "Votes, bootstrap and their assumptions").
    /// The notional forging weight of each bootstrap forger in an epoch
    /// whose bought weight is below `bootstrap_until_weight`: it leads and
    /// votes with it, so a first small purchase does not take every slot.
    pub bootstrap_weight: u64,
    /// Once the weight bought for an epoch reaches this, the bootstrap
    /// forgers hold no notional weight in it.
    pub bootstrap_until_weight: u64,
    /// The last epoch in which the bootstrap forgers hold notional weight;
    /// from the next one, an epoch nobody bought weight for has no leader
    /// (so an old branch cannot be grown for ever by bootstrap keys).
    pub bootstrap_last_epoch: u64,
    /// An association approved (or removed) by a vote in epoch E is listed
    /// (or delisted) from epoch E + this.
    pub association_delay_epochs: u64,
    /// The reporter's share of an equivocation bounty, in percent; the rest
    /// is burned.
    pub reporter_share_percent: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_block_txs: 2_000,
            max_block_bytes: 2 << 20,
            max_clock_drift_ms: 500,
            proposal_ttl_epochs: 10,
            equivocation_bounty: 100 * COIN,
            max_weight_epochs_ahead: 1_000,
            bootstrap_weight: 100 * COIN,
            bootstrap_until_weight: 1_000 * COIN,
            bootstrap_last_epoch: 100_000,
            association_delay_epochs: 2,
            reporter_share_percent: 10,
        }
    }
}

/// An initial balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Balance {
    /// Who.
    pub address: PublicKey,
    /// How much, in the smallest unit.
    pub amount: u64,
}

/// An association approved from the start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAssociation {
    /// Its name.
    pub name: Bytes<{ limits::ASSOCIATION_NAME }>,
    /// Where to read about it.
    #[serde(default)]
    pub url: Bytes<{ limits::ASSOCIATION_URL }>,
    /// The account that receives donations.
    pub account: PublicKey,
}

/// The slot in progress at `now_ms` on a chain whose slot 0 starts at
/// `start_ms` (slot 0 before the start). A validated genesis has a
/// non-zero `slot_ms`; a chain described by a peer may not, and counts as 1.
pub fn slot_at(start_ms: u64, slot_ms: u64, now_ms: u64) -> u64 {
    now_ms.saturating_sub(start_ms) / slot_ms.max(1)
}

/// The epoch `slot` belongs to with `epoch_slots` slots an epoch (a zero
/// from a peer counts as 1, as in [`slot_at`]).
pub fn epoch_of(epoch_slots: u64, slot: u64) -> u64 {
    slot / epoch_slots.max(1)
}

/// The genesis file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// A name for people; part of the chain id.
    pub chain_name: String,
    /// When slot 0 starts, in ms since the Unix epoch.
    pub start_ms: u64,
    /// Slot length in ms.
    pub slot_ms: u64,
    /// Slots per epoch.
    pub epoch_slots: u64,
    /// Paid to a block's forger, with the block's fees.
    pub block_reward: u64,
    /// The smallest fee a transaction may pay.
    pub min_fee: u64,
    /// No reorganisation deeper than this many blocks.
    pub finality_depth: u64,
    /// Forgers that take turns while no weight is bought, in turn order.
    pub bootstrap_forgers: Vec<PublicKey>,
    /// Tunable limits.
    #[serde(default)]
    pub limits: Limits,
    /// Initial balances.
    #[serde(default)]
    pub balances: Vec<Balance>,
    /// Associations approved from the start.
    #[serde(default)]
    pub associations: Vec<GenesisAssociation>,
    /// Smart contracts' parameters, the file's `[contracts]` table; none:
    /// the chain has no contracts. Kept out of the genesis's encoding (its
    /// own in the chain id, when present), so that a chain that existed
    /// before contracts keeps its id and its store (docs/design.md,
    /// "Contracts").
    #[serde(skip)]
    pub contracts: Option<ContractParams>,
}

/// Smart contracts' chain parameters (docs/design.md, "Contracts").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractParams {
    /// Coins per unit of fuel: a contract transaction's fee must be at
    /// least `min_fee + fuel_limit × fuel_price`.
    pub fuel_price: u64,
    /// The most fuel a block's contract transactions may ask for together.
    pub block_fuel: u64,
    /// Coins per byte a successful run adds to its contract's storage,
    /// burned.
    pub storage_price: u64,
}

impl ContractParams {
    /// Fuel per millisecond of slot in [`ContractParams::for_slot`]: a
    /// block that uses all of it runs in about a quarter of its slot on a
    /// Pi 3-class core (docs/performance.md, "A block's fuel limit").
    pub const FUEL_PER_SLOT_MS: u64 = 8_000;

    /// The defaults for a chain with `slot_ms` slots: one coin unit per
    /// fuel, [`ContractParams::FUEL_PER_SLOT_MS`] per millisecond of slot,
    /// 10 units per stored byte.
    pub fn for_slot(slot_ms: u64) -> ContractParams {
        ContractParams {
            fuel_price: 1,
            block_fuel: Self::FUEL_PER_SLOT_MS.saturating_mul(slot_ms),
            storage_price: 10,
        }
    }
}

/// Why a genesis is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenesisError {
    /// The file could not be read.
    #[error("genesis {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for a genesis.
    #[error("genesis {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with the line.
        message: String,
    },
    /// A field has a value no chain can run with.
    #[error("genesis: {0}")]
    Invalid(String),
}

impl Genesis {
    /// Validates a genesis file's `text`, read from `path` (named in errors):
    /// the chain's parameters, with the file's checkpoints. Reading the file
    /// is the runtime's ([`crate::runtime::config::load_genesis`]).
    pub fn from_file(path: &Path, text: &str) -> Result<ChainParams, GenesisError> {
        let at_path = |e| match e {
            GenesisError::Parse { message, .. } => GenesisError::Parse {
                path: path.display().to_string(),
                message,
            },
            other => other,
        };
        let (genesis, checkpoints) = Genesis::from_file_text(text).map_err(at_path)?;
        ChainParams::new(genesis)?.with_checkpoints(&checkpoints)
    }

    /// Parses a genesis file's text: the genesis, and the checkpoints its
    /// optional top-level `checkpoints = ["HEIGHT:HASH", …]` lists (kept out
    /// of the genesis, so they do not change the chain id).
    pub fn from_file_text(text: &str) -> Result<(Genesis, Vec<Checkpoint>), GenesisError> {
        let parse = |message: String| GenesisError::Parse {
            path: "<text>".into(),
            message,
        };
        let extra = toml::from_str::<toml::Table>(text)
            .map(|t| t.contains_key("checkpoints") || t.contains_key("contracts"))
            .unwrap_or(false);
        if !extra {
            // The common case parses the text itself, so errors name the line.
            let genesis = toml::from_str(text).map_err(|e| parse(e.to_string()))?;
            return Ok((genesis, Vec::new()));
        }
        let mut table: toml::Table = toml::from_str(text).map_err(|e| parse(e.to_string()))?;
        let checkpoints: Vec<Checkpoint> = match table.remove("checkpoints") {
            Some(list) => list
                .try_into()
                .map_err(|e: toml::de::Error| parse(format!("checkpoints: {e}")))?,
            None => Vec::new(),
        };
        let contracts: Option<ContractParams> = match table.remove("contracts") {
            Some(t) => Some(
                t.try_into()
                    .map_err(|e: toml::de::Error| parse(format!("[contracts]: {e}")))?,
            ),
            None => None,
        };
        let mut genesis: Genesis = table
            .try_into()
            .map_err(|e: toml::de::Error| parse(e.to_string()))?;
        genesis.contracts = contracts;
        Ok((genesis, checkpoints))
    }

    /// Parses TOML (not yet validated: see [`ChainParams::new`]); a
    /// top-level `checkpoints` list is ignored (see [`Self::from_file_text`]).
    pub fn from_toml(text: &str) -> Result<Genesis, GenesisError> {
        Genesis::from_file_text(text).map(|(g, _)| g)
    }

    /// The TOML text of this genesis, its `[contracts]` table last.
    pub fn to_toml(&self) -> String {
        let mut text = toml::to_string(self).expect("a genesis always serialises to TOML");
        if let Some(c) = &self.contracts {
            text.push_str("\n[contracts]\n");
            text.push_str(&toml::to_string(c).expect("contract parameters serialise to TOML"));
        }
        text
    }
}

/// A weak-subjectivity checkpoint: the block a node must have at `height`.
/// Written `HEIGHT:HASH` (the hash in hex), as `goodwill chain checkpoint`
/// prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Checkpoint {
    /// The height (at least 1: height 0 is the genesis itself).
    pub height: u64,
    /// The block hash at that height.
    pub hash: Hash,
}

impl std::fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.height, self.hash)
    }
}

impl std::str::FromStr for Checkpoint {
    type Err = GenesisError;

    fn from_str(s: &str) -> Result<Checkpoint, GenesisError> {
        let bad = |why: &str| {
            GenesisError::Invalid(format!(
                "checkpoint {s:?}: {why} (write HEIGHT:HASH, e.g. 1200:3f9a…, as `goodwill chain checkpoint` prints it)"
            ))
        };
        let (h, hash) = s.trim().split_once(':').ok_or_else(|| bad("no ':'"))?;
        let height: u64 = h.parse().map_err(|_| bad("the height is not a number"))?;
        if height == 0 {
            return Err(bad(
                "height 0 is the genesis, which the chain id already fixes",
            ));
        }
        let hash = Hash::from_hex(hash).map_err(|_| bad("the hash is not 64 hex digits"))?;
        Ok(Checkpoint { height, hash })
    }
}

impl Serialize for Checkpoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Checkpoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Checkpoint, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A validated, canonical genesis and its chain id: the owner of every
/// consensus constant; and the node's checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainParams {
    genesis: Genesis,
    chain_id: Hash,
    checkpoints: std::collections::BTreeMap<u64, Hash>,
}

impl ChainParams {
    /// Validates and canonicalises `genesis`.
    pub fn new(mut genesis: Genesis) -> Result<ChainParams, GenesisError> {
        let bad = |m: String| Err(GenesisError::Invalid(m));
        if genesis.chain_name.is_empty() || genesis.chain_name.len() > limits::CHAIN_NAME {
            return bad(format!(
                "chain_name must be 1 to {} bytes, got {}",
                limits::CHAIN_NAME,
                genesis.chain_name.len()
            ));
        }
        if !(MIN_SLOT_MS..=MAX_SLOT_MS).contains(&genesis.slot_ms) {
            return bad(format!(
                "slot_ms must be {MIN_SLOT_MS} to {MAX_SLOT_MS} (one hour), got {}",
                genesis.slot_ms
            ));
        }
        if genesis.start_ms > MAX_START_MS {
            return bad(format!(
                "start_ms {} is after the year 9999 (at most {MAX_START_MS})",
                genesis.start_ms
            ));
        }
        if genesis.epoch_slots < 2 {
            return bad("epoch_slots must be at least 2".into());
        }
        if !(1..=MAX_FINALITY_DEPTH).contains(&genesis.finality_depth) {
            return bad(format!(
                "finality_depth must be 1 to {MAX_FINALITY_DEPTH}, got {}",
                genesis.finality_depth
            ));
        }
        if genesis.limits.max_clock_drift_ms > MAX_CLOCK_DRIFT_MS {
            return bad(format!(
                "limits: max_clock_drift_ms must be at most {MAX_CLOCK_DRIFT_MS} (one minute), got {}",
                genesis.limits.max_clock_drift_ms
            ));
        }
        if genesis.min_fee == 0 {
            return bad(
                "min_fee must be at least 1 (a free transaction costs spam nothing)".into(),
            );
        }
        if genesis.bootstrap_forgers.is_empty() {
            return bad("bootstrap_forgers is empty: a new chain needs at least one forger".into());
        }
        let l = &genesis.limits;
        if l.max_block_txs == 0 || l.max_block_bytes < limits::TX_BYTES as u32 {
            return bad(format!(
                "limits: a block must hold at least one transaction (max_block_txs ≥ 1, max_block_bytes ≥ {})",
                limits::TX_BYTES
            ));
        }
        if l.proposal_ttl_epochs == 0 || l.max_weight_epochs_ahead < 2 {
            return bad(
                "limits: proposal_ttl_epochs must be ≥ 1 and max_weight_epochs_ahead ≥ 2".into(),
            );
        }
        if l.bootstrap_weight == 0 || l.bootstrap_until_weight == 0 {
            return bad(
                "limits: bootstrap_weight and bootstrap_until_weight must be ≥ 1 (bootstrap forgers need a weight to lead beside the first buyers)".into(),
            );
        }
        if (l.bootstrap_weight as u128) * (genesis.bootstrap_forgers.len() as u128)
            > u64::MAX as u128
        {
            return bad(format!(
                "limits: bootstrap_weight {} × {} bootstrap forgers does not fit in 64 bits",
                l.bootstrap_weight,
                genesis.bootstrap_forgers.len()
            ));
        }
        if l.bootstrap_last_epoch < 2 {
            return bad(format!(
                "limits: bootstrap_last_epoch must be ≥ 2 (weight is first on sale for epoch 2), got {}",
                l.bootstrap_last_epoch
            ));
        }
        if l.association_delay_epochs > MAX_ASSOCIATION_DELAY_EPOCHS {
            return bad(format!(
                "limits: association_delay_epochs must be at most {MAX_ASSOCIATION_DELAY_EPOCHS}, got {}",
                l.association_delay_epochs
            ));
        }
        if l.reporter_share_percent > 100 {
            return bad(format!(
                "limits: reporter_share_percent must be 0 to 100, got {}",
                l.reporter_share_percent
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for f in &genesis.bootstrap_forgers {
            if f.validate().is_err() {
                return bad(format!(
                    "bootstrap forger {f} is not a valid ed25519 public key"
                ));
            }
            if !seen.insert(*f) {
                return bad(format!("bootstrap forger {f} is listed twice"));
            }
        }
        genesis.balances.sort_by_key(|b| b.address);
        let mut supply: u64 = 0;
        for w in genesis.balances.windows(2) {
            if w[0].address == w[1].address {
                return bad(format!("balance for {} is listed twice", w[0].address));
            }
        }
        for b in &genesis.balances {
            supply = supply.checked_add(b.amount).ok_or_else(|| {
                GenesisError::Invalid("the initial balances add up to more than 2^64-1".into())
            })?;
        }
        // The rewards alone must not overflow in a century of blocks in
        // every slot. (The balances are bounded above; their sum with the
        // rewards is the ledger's to refuse, block by block.)
        let century_blocks = SUPPLY_HORIZON_MS / genesis.slot_ms;
        if genesis.block_reward.checked_mul(century_blocks).is_none() {
            return bad(format!(
                "block_reward {} is too large: with a block every {} ms, the rewards would pass 2^64-1 units within a century (at most {} units per block)",
                genesis.block_reward,
                genesis.slot_ms,
                u64::MAX / century_blocks.max(1)
            ));
        }
        genesis.associations.sort_by_key(|a| a.account);
        for w in genesis.associations.windows(2) {
            if w[0].account == w[1].account {
                return bad(format!(
                    "association account {} is listed twice",
                    w[0].account
                ));
            }
        }
        for b in &genesis.balances {
            if b.address.validate().is_err() {
                return bad(format!(
                    "balance address {} is not a valid ed25519 public key: its coins could never move",
                    b.address
                ));
            }
        }
        for a in &genesis.associations {
            if a.name.is_empty() {
                return bad(format!("association {} has an empty name", a.account));
            }
            if a.account.validate().is_err() {
                return bad(format!(
                    "association account {} is not a valid ed25519 public key",
                    a.account
                ));
            }
        }
        if let Some(c) = &genesis.contracts {
            if c.fuel_price == 0 {
                return bad(
                    "contracts: fuel_price must be at least 1 (free fuel costs an endless loop nothing)"
                        .into(),
                );
            }
            if c.block_fuel == 0 {
                return bad("contracts: block_fuel must be at least 1".into());
            }
        }
        let chain_id = match &genesis.contracts {
            None => Hash::tagged(tag::GENESIS, &[&encode(&genesis)]),
            Some(c) => Hash::tagged(tag::GENESIS, &[&encode(&genesis), &encode(c)]),
        };
        Ok(ChainParams {
            genesis,
            chain_id,
            checkpoints: Default::default(),
        })
    }

    /// These parameters with `checkpoints` added (the chain id does not
    /// change). Two different hashes for one height are refused.
    pub fn with_checkpoints(
        mut self,
        checkpoints: &[Checkpoint],
    ) -> Result<ChainParams, GenesisError> {
        for c in checkpoints {
            match self.checkpoints.insert(c.height, c.hash) {
                Some(other) if other != c.hash => {
                    return Err(GenesisError::Invalid(format!(
                        "two checkpoints for height {}: {} and {}",
                        c.height, other, c.hash
                    )))
                }
                _ => {}
            }
        }
        Ok(self)
    }

    /// The checkpoints, lowest height first.
    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        self.checkpoints
            .iter()
            .map(|(&height, &hash)| Checkpoint { height, hash })
            .collect()
    }

    /// The hash a checkpoint fixes at `height`, if any.
    pub fn checkpoint_at(&self, height: u64) -> Option<Hash> {
        self.checkpoints.get(&height).copied()
    }

    /// The height of the highest checkpoint (0 if none). Until a node's
    /// chain reaches it, the finality depth does not bind: see
    /// [`ChainParams::reorg_limit`].
    pub fn highest_checkpoint(&self) -> u64 {
        self.checkpoints.keys().next_back().copied().unwrap_or(0)
    }

    /// How many blocks a reorganisation may undo on a chain whose tip is at
    /// `tip_height`: the finality depth once the tip has reached the highest
    /// checkpoint; unbounded before. A node still below its checkpoint has
    /// no finalized history of its own — what it holds may be a branch a
    /// peer fed it, which the checkpoint's branch must be able to replace
    /// (any branch that reaches the checkpoint's height must hold the
    /// checkpoint's block there, so the longer branch is the right one).
    pub fn reorg_limit(&self, tip_height: u64) -> u64 {
        if tip_height < self.highest_checkpoint() {
            u64::MAX
        } else {
            self.genesis.finality_depth
        }
    }

    /// The text of a genesis file for this chain: its chain id and units in
    /// a comment, then the canonical TOML.
    pub fn to_file_text(&self) -> String {
        format!(
            "# goodwill genesis — chain id {}\n# Amounts are in units: 1 GWL = {} units.\n{}",
            self.chain_id(),
            COIN,
            self.genesis().to_toml()
        )
    }

    /// The genesis (canonical order).
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The chain id: the hash of the canonical genesis.
    pub fn chain_id(&self) -> Hash {
        self.chain_id
    }

    /// Smart contracts' parameters; none: the chain has no contracts.
    pub fn contracts(&self) -> Option<&ContractParams> {
        self.genesis.contracts.as_ref()
    }

    /// Tunable limits.
    pub fn limits(&self) -> &Limits {
        &self.genesis.limits
    }

    /// The slot in progress at `now_ms` (slot 0 before the start).
    pub fn slot_at(&self, now_ms: u64) -> u64 {
        slot_at(self.genesis.start_ms, self.genesis.slot_ms, now_ms)
    }

    /// When `slot` starts, in ms since the Unix epoch (saturating).
    pub fn slot_start_ms(&self, slot: u64) -> u64 {
        self.genesis
            .start_ms
            .saturating_add(slot.saturating_mul(self.genesis.slot_ms))
    }

    /// The epoch `slot` belongs to.
    pub fn epoch_of(&self, slot: u64) -> u64 {
        epoch_of(self.genesis.epoch_slots, slot)
    }

    /// Whether a block in `slot` still feeds its epoch's VRF mix: only the
    /// first two thirds of an epoch do (`epoch_slots − epoch_slots / 3`
    /// slots), so the next epoch's seed — and its leaders — are fixed a
    /// third of an epoch before it starts, as Ouroboros Praos freezes its
    /// nonce before the end of the epoch.
    pub fn before_seed_cutoff(&self, slot: u64) -> bool {
        let n = self.genesis.epoch_slots;
        slot % n < n - n / 3
    }

    /// The first slot of `epoch` (saturating).
    pub fn first_slot(&self, epoch: u64) -> u64 {
        epoch.saturating_mul(self.genesis.epoch_slots)
    }

    /// The sum of the initial balances.
    pub fn initial_supply(&self) -> u64 {
        self.genesis.balances.iter().map(|b| b.amount).sum()
    }

    /// The id under which a genesis association is listed (its "proposal").
    pub fn genesis_association_id(account: &PublicKey) -> Hash {
        Hash::tagged(tag::GENESIS_ASSOCIATION, &[&account.0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::crypto::Keypair;

    fn key(i: u8) -> PublicKey {
        Keypair::from_seed([i; 32]).unwrap().public()
    }

    fn sample() -> Genesis {
        Genesis {
            chain_name: "test".into(),
            contracts: None,
            start_ms: 1_000,
            slot_ms: 2_000,
            epoch_slots: 10,
            block_reward: 5,
            min_fee: 1,
            finality_depth: 8,
            bootstrap_forgers: vec![key(1), key(2)],
            limits: Limits::default(),
            balances: vec![
                Balance {
                    address: key(3),
                    amount: 10,
                },
                Balance {
                    address: key(4),
                    amount: 20,
                },
            ],
            associations: vec![],
        }
    }

    #[test]
    fn order_of_balances_does_not_change_the_chain() {
        let a = ChainParams::new(sample()).unwrap();
        let mut g = sample();
        g.balances.reverse();
        let b = ChainParams::new(g).unwrap();
        assert_eq!(a.chain_id(), b.chain_id());
        let mut g = sample();
        g.block_reward = 6;
        assert_ne!(ChainParams::new(g).unwrap().chain_id(), a.chain_id());
    }

    #[test]
    fn contracts_enter_the_chain_id_only_when_the_genesis_has_them() {
        // Without a [contracts] table: the id is over the genesis alone,
        // as before contracts existed (so such chains keep their ids).
        let plain = ChainParams::new(sample()).unwrap();
        assert_eq!(
            plain.chain_id(),
            Hash::tagged(tag::GENESIS, &[&encode(plain.genesis())])
        );
        assert_eq!(plain.contracts(), None);
        let mut g = sample();
        let c = ContractParams::for_slot(g.slot_ms);
        assert_eq!(c.block_fuel, 16_000_000, "8,000 fuel per ms of a 2 s slot");
        g.contracts = Some(c);
        let with = ChainParams::new(g.clone()).unwrap();
        assert_eq!(
            with.chain_id(),
            Hash::tagged(tag::GENESIS, &[&encode(with.genesis()), &encode(&c)])
        );
        assert_ne!(with.chain_id(), plain.chain_id());
        // Its TOML carries the table, and reads back to the same chain.
        let text = with.to_file_text();
        assert!(text.contains("[contracts]\nfuel_price = 1\n"), "{text}");
        let back = Genesis::from_file(Path::new("g.toml"), &text).unwrap();
        assert_eq!(back.chain_id(), with.chain_id());
        assert_eq!(back.contracts(), Some(&c));
        // Bad values and unknown fields are refused by name.
        let mut bad = g.clone();
        bad.contracts = Some(ContractParams { fuel_price: 0, ..c });
        let e = ChainParams::new(bad).unwrap_err().to_string();
        assert!(e.contains("fuel_price"), "{e}");
        let mut bad = g;
        bad.contracts = Some(ContractParams { block_fuel: 0, ..c });
        let e = ChainParams::new(bad).unwrap_err().to_string();
        assert!(e.contains("block_fuel"), "{e}");
        let e = Genesis::from_toml(&text.replace("fuel_price", "fuel_prize"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[contracts]") && e.contains("fuel_prize"), "{e}");
    }

    #[test]
    fn toml_round_trip() {
        let g = sample();
        let text = g.to_toml();
        assert!(text.contains("gw1"), "{text}");
        let back = Genesis::from_toml(&text).unwrap();
        assert_eq!(back, g);
    }

    #[test]
    fn invalid_genesis_is_refused_with_a_reason() {
        type Case = (fn(&mut Genesis), &'static str);
        let cases: Vec<Case> = vec![
            (|g| g.slot_ms = 0, "slot_ms"),
            (|g| g.slot_ms = MIN_SLOT_MS - 1, "slot_ms"),
            (|g| g.slot_ms = MAX_SLOT_MS + 1, "slot_ms"),
            (|g| g.slot_ms = i64::MAX as u64, "slot_ms"),
            (|g| g.start_ms = i64::MAX as u64, "start_ms"),
            (|g| g.finality_depth = 0, "finality_depth"),
            (|g| g.finality_depth = i64::MAX as u64, "finality_depth"),
            (
                |g| g.limits.max_clock_drift_ms = i64::MAX as u64,
                "max_clock_drift_ms",
            ),
            // 9·10¹² coins a block: the supply overflows at the second block.
            (
                |g| g.block_reward = 9_000_000_000_000 * COIN,
                "block_reward",
            ),
            (|g| g.block_reward = u64::MAX / 2, "block_reward"),
            (|g| g.epoch_slots = 1, "epoch_slots"),
            (|g| g.bootstrap_forgers.clear(), "bootstrap_forgers"),
            (
                |g| g.bootstrap_forgers.push(g.bootstrap_forgers[0]),
                "listed twice",
            ),
            (|g| g.balances.push(g.balances[0].clone()), "listed twice"),
            (|g| g.balances[0].amount = u64::MAX, "2^64"),
            (|g| g.chain_name = String::new(), "chain_name"),
            (|g| g.min_fee = 0, "min_fee"),
            (|g| g.limits.bootstrap_weight = 0, "bootstrap_weight"),
            (
                |g| g.limits.bootstrap_until_weight = 0,
                "bootstrap_until_weight",
            ),
            (
                |g| g.limits.bootstrap_weight = u64::MAX,
                "does not fit in 64 bits",
            ),
            (
                |g| g.limits.bootstrap_last_epoch = 1,
                "bootstrap_last_epoch",
            ),
            (
                |g| g.limits.association_delay_epochs = 1_001,
                "association_delay_epochs",
            ),
            (
                |g| g.limits.reporter_share_percent = 101,
                "reporter_share_percent",
            ),
            (
                |g| g.bootstrap_forgers.push(PublicKey([0; 32])),
                "not a valid",
            ),
        ];
        for (mutate, needle) in cases {
            let mut g = sample();
            mutate(&mut g);
            let e = ChainParams::new(g).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should mention {needle}");
        }
    }

    #[test]
    fn the_bounds_themselves_are_accepted() {
        let mut g = sample();
        g.slot_ms = MAX_SLOT_MS;
        g.start_ms = MAX_START_MS;
        g.finality_depth = MAX_FINALITY_DEPTH;
        g.limits.max_clock_drift_ms = MAX_CLOCK_DRIFT_MS;
        g.block_reward = u64::MAX / (SUPPLY_HORIZON_MS / g.slot_ms);
        let p = ChainParams::new(g.clone()).unwrap();
        // The slot arithmetic holds at the far end.
        assert_eq!(p.slot_at(MAX_START_MS + 3 * MAX_SLOT_MS), 3);
        g.block_reward += 1;
        assert!(ChainParams::new(g).is_err());
    }

    #[test]
    fn a_mistyped_address_in_toml_names_the_line() {
        let text = sample().to_toml();
        let addr = key(3).to_string();
        let mut typo = addr.clone();
        let last = typo.pop().unwrap();
        typo.push(if last == 'q' { 'p' } else { 'q' });
        let e = Genesis::from_toml(&text.replace(&addr, &typo))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad checksum") && e.contains("line"), "{e}");
    }

    #[test]
    fn slots_and_epochs() {
        let p = ChainParams::new(sample()).unwrap();
        assert_eq!(p.slot_at(0), 0);
        assert_eq!(p.slot_at(1_000), 0);
        assert_eq!(p.slot_at(2_999), 0);
        assert_eq!(p.slot_at(3_000), 1);
        assert_eq!(p.slot_start_ms(1), 3_000);
        assert_eq!(p.epoch_of(9), 0);
        assert_eq!(p.epoch_of(10), 1);
        assert_eq!(p.first_slot(2), 20);
    }
}
