//! The ledger rules: genesis state, transactions, blocks. Pure: no clock, no
//! I/O, no `.await`. State comes in through [`StateRead`]; effects go out as
//! [`StateChanges`].
//!
//! - [`genesis_changes`]: the first state.
//! - [`apply_block`]: checks everything about a block against its parent
//!   state and returns what it changes.
//! - [`prepare_block`]: what a leader runs to build a block from candidate
//!   transactions; it returns an [`UnsignedBlock`] so the forger can record
//!   the slot durably *before* signing.
//!
//! Beside the rules: [`state`] (the ledger state as keys and values),
//! [`schedule`] (who leads each slot), [`fork`] (fork choice and finality)
//! and [`mempool`] (pending transactions).

pub mod balances;
pub mod contract;
pub mod fork;
pub mod mempool;
pub mod schedule;
pub mod state;

use std::collections::BTreeMap;

use self::state::{
    Account, Change, ContractAccount, Proposal, ProposalStatus, ReadError, Receipt, ReceiptStatus,
    Record, StateChanges, StateKey, StateRead, StateReadExt, StateValue, Tip,
};
use crate::chain::block::{self, Block, Header, SignedHeader, VERSION};
use crate::chain::codec::Bytes;
use crate::chain::crypto::{
    self, tag, Hash, Keypair, PublicKey, SignatureError, VrfError, VrfOutput,
};
use crate::chain::genesis::ChainParams;
use crate::chain::limits;
use crate::chain::merkle;
use crate::chain::tx::{
    association_proof_body, check_receiver, SignedTransaction, StatelessError, TxKind,
};

/// Why a transaction does not apply. Each names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    /// Wrong in itself (signature, size, receiver key).
    #[error(transparent)]
    Stateless(#[from] StatelessError),
    /// Meant for another chain.
    #[error("transaction is for chain {got}, this chain is {expected}")]
    WrongChain {
        /// This chain.
        expected: Hash,
        /// The transaction's.
        got: Hash,
    },
    /// A nonce already used: a replay or a duplicate.
    #[error("nonce {got} already used by {sender} (next nonce is {expected})")]
    NonceUsed {
        /// The sender.
        sender: PublicKey,
        /// The account's next nonce.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// A nonce ahead of the account's next one.
    #[error("nonce {got} is ahead of {sender}'s next nonce {expected}")]
    NonceGap {
        /// The sender.
        sender: PublicKey,
        /// The account's next nonce.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// The fee is below the chain's minimum.
    #[error("fee {fee} below the minimum {min}")]
    FeeTooLow {
        /// The fee offered.
        fee: u64,
        /// The chain's minimum.
        min: u64,
    },
    /// The sender cannot pay.
    #[error("{sender} has {balance}, needs {needed} (amount + fee)")]
    InsufficientBalance {
        /// The sender.
        sender: PublicKey,
        /// Its balance.
        balance: u64,
        /// What the transaction needs.
        needed: u128,
    },
    /// A sum would not fit in 64 bits.
    #[error("{what} would overflow")]
    Overflow {
        /// What overflowed.
        what: &'static str,
    },
    /// An amount of zero.
    #[error("amount must be positive")]
    ZeroAmount,
    /// Weight bought for an epoch that is too close.
    #[error("weight for epoch {epoch} can no longer be bought: the current epoch is {current}, and weight is sold only for epoch {earliest} or later (its table is fixed when the epoch before it starts)")]
    EpochTooClose {
        /// The epoch asked for.
        epoch: u64,
        /// The block's epoch.
        current: u64,
        /// The first epoch on sale.
        earliest: u64,
    },
    /// Weight bought for an epoch too far ahead.
    #[error("weight for epoch {epoch} is not on sale yet: at most {latest} (the current epoch + the chain's limit)")]
    EpochTooFar {
        /// The epoch asked for.
        epoch: u64,
        /// The last epoch on sale.
        latest: u64,
    },
    /// The recipient of a BuyWeight is not an approved association.
    #[error("{account} is not an approved association")]
    NotApproved {
        /// The account named.
        account: PublicKey,
    },
    /// The sender's weight is void (it equivocated).
    #[error("{sender}'s forging weight is void from epoch {from} (equivocation): buying more would be a donation with nothing in return")]
    SenderVoided {
        /// The sender.
        sender: PublicKey,
        /// The first voided epoch.
        from: u64,
    },
    /// The association's proof does not verify.
    #[error("the proof by association account {account} does not verify: {error}")]
    BadProof {
        /// The association account.
        account: PublicKey,
        /// Why.
        error: SignatureError,
    },
    /// An empty name.
    #[error("association name is empty")]
    EmptyName,
    /// The account is already listed or pending.
    #[error("{account} is already {what} under proposal {proposal}")]
    AlreadyProposed {
        /// The association account.
        account: PublicKey,
        /// "approved" or "pending".
        what: &'static str,
        /// The existing proposal.
        proposal: Hash,
    },
    /// No such proposal.
    #[error("no proposal {0}")]
    UnknownProposal(Hash),
    /// The proposal's voting window has passed.
    #[error(
        "proposal {proposal} lapsed after epoch {deadline} without reaching 75 % of the live forging weight"
    )]
    Lapsed {
        /// The proposal.
        proposal: Hash,
        /// Its last epoch.
        deadline: u64,
    },
    /// The association was removed.
    #[error("association of proposal {proposal} was removed in epoch {at} (delisted from then on): propose it again")]
    Removed {
        /// The proposal.
        proposal: Hash,
        /// The epoch from which it is delisted.
        at: u64,
    },
    /// Only live forgers vote.
    #[error("{voter} is not a live forger in epoch {epoch}: only accounts holding weight in the current epoch may vote")]
    NotLiveForger {
        /// The voter.
        voter: PublicKey,
        /// The epoch.
        epoch: u64,
    },
    /// The voter already cast this vote in this round.
    #[error("{voter} already voted {} on proposal {proposal}", if *.approve { "yes" } else { "no" })]
    AlreadyVoted {
        /// The voter.
        voter: PublicKey,
        /// The proposal.
        proposal: Hash,
        /// The vote.
        approve: bool,
    },
    /// An empty data key.
    #[error("data key is empty")]
    EmptyKey,
    /// Equivocation evidence that does not prove anything.
    #[error("equivocation evidence rejected: {0}")]
    BadEvidence(EvidenceError),
    /// The forger was already reported for that epoch.
    #[error("{forger} is already voided from epoch {from}")]
    AlreadyVoided {
        /// The forger.
        forger: PublicKey,
        /// Its first voided epoch.
        from: u64,
    },
    /// A contract transaction on a chain without contracts.
    #[error("contracts are not enabled on this chain (its genesis has no [contracts] table)")]
    ContractsDisabled,
    /// A contract transaction whose fuel limit is 0 or over a block's.
    #[error("fuel limit {fuel_limit} is not in 1..={block_fuel} (a block's fuel limit)")]
    BadFuelLimit {
        /// The transaction's.
        fuel_limit: u64,
        /// The chain's `block_fuel`.
        block_fuel: u64,
    },
    /// A fee that does not cover `min_fee + fuel_limit × fuel_price`.
    #[error("fee {fee} does not pay for its fuel: at least {needed} (min_fee + fuel_limit × fuel_price)")]
    FuelFeeTooLow {
        /// The transaction's fee.
        fee: u64,
        /// What it must be at least.
        needed: u128,
    },
    /// A call to an address that holds no contract.
    #[error("no contract at {0}")]
    NoSuchContract(Hash),
    /// Storage failed under the check.
    #[error(transparent)]
    Storage(#[from] ReadError),
}

impl TxError {
    /// A stable name for the kind of refusal (`nonce-used`, `fee-too-low`…),
    /// for programs to match on where the message is for people (the HTTP
    /// API's `reason`; docs/http.md lists them).
    pub fn code(&self) -> &'static str {
        match self {
            TxError::Stateless(StatelessError::Signature(_)) => "bad-signature",
            TxError::Stateless(StatelessError::TooLarge { .. }) => "too-large",
            TxError::Stateless(StatelessError::BadReceiver { .. }) => "bad-receiver",
            TxError::Stateless(StatelessError::BadContract { .. }) => "bad-contract",
            TxError::ContractsDisabled => "contracts-disabled",
            TxError::BadFuelLimit { .. } => "bad-fuel-limit",
            TxError::Stateless(StatelessError::FuelBelowLoad { .. }) => "fuel-below-load",
            TxError::FuelFeeTooLow { .. } => "fuel-fee-too-low",
            TxError::NoSuchContract(_) => "no-such-contract",
            TxError::WrongChain { .. } => "wrong-chain",
            TxError::NonceUsed { .. } => "nonce-used",
            TxError::NonceGap { .. } => "nonce-gap",
            TxError::FeeTooLow { .. } => "fee-too-low",
            TxError::InsufficientBalance { .. } => "insufficient-balance",
            TxError::Overflow { .. } => "overflow",
            TxError::ZeroAmount => "zero-amount",
            TxError::EpochTooClose { .. } => "epoch-too-close",
            TxError::EpochTooFar { .. } => "epoch-too-far",
            TxError::NotApproved { .. } => "not-approved",
            TxError::SenderVoided { .. } => "sender-voided",
            TxError::BadProof { .. } => "bad-proof",
            TxError::EmptyName => "empty-name",
            TxError::AlreadyProposed { .. } => "already-proposed",
            TxError::UnknownProposal(_) => "unknown-proposal",
            TxError::Lapsed { .. } => "lapsed",
            TxError::Removed { .. } => "removed",
            TxError::NotLiveForger { .. } => "not-live-forger",
            TxError::AlreadyVoted { .. } => "already-voted",
            TxError::EmptyKey => "empty-key",
            TxError::BadEvidence(_) => "bad-evidence",
            TxError::AlreadyVoided { .. } => "already-voided",
            TxError::Storage(_) => "storage",
        }
    }

    /// Whether it is a signature that does not verify (the sender's, an
    /// association's proof, a reported header's): garbage no honest peer
    /// relays, unlike a transaction a block made stale.
    pub fn is_bad_signature(&self) -> bool {
        matches!(
            self,
            TxError::Stateless(StatelessError::Signature(_))
                | TxError::BadProof {
                    error: SignatureError::Mismatch,
                    ..
                }
                | TxError::BadEvidence(EvidenceError::Signature { .. })
        )
    }
}

/// Why equivocation evidence proves nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// A header is for another chain.
    #[error("a header is for another chain")]
    OtherChain,
    /// The headers are by two forgers.
    #[error("headers by two forgers ({0} and {1})")]
    TwoForgers(PublicKey, PublicKey),
    /// The headers are for two slots.
    #[error("headers for two slots ({0} and {1})")]
    TwoSlots(u64, u64),
    /// The same header twice.
    #[error("the two headers are the same")]
    SameHeader,
    /// A header's signature does not verify.
    #[error("{which} header's signature: {error}")]
    Signature {
        /// "first" or "second".
        which: &'static str,
        /// Why.
        error: SignatureError,
    },
}

/// Why a block is refused. Each names the block and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlockError {
    /// A header version this node does not know.
    #[error("block {height}: version {got}, this node knows version {VERSION}")]
    Version {
        /// Its height.
        height: u64,
        /// Its version.
        got: u16,
    },
    /// For another chain.
    #[error("block {height}: for chain {got}, this chain is {expected}")]
    WrongChain {
        /// Its height.
        height: u64,
        /// This chain.
        expected: Hash,
        /// The block's.
        got: Hash,
    },
    /// Not the next height.
    #[error("block {got}: the next height is {expected}")]
    WrongHeight {
        /// The next height.
        expected: u64,
        /// The block's.
        got: u64,
    },
    /// Not on top of this tip.
    #[error("block {height}: parent {got} is not the tip {expected}")]
    WrongParent {
        /// Its height.
        height: u64,
        /// The tip.
        expected: Hash,
        /// Its parent.
        got: Hash,
    },
    /// Its slot is not after its parent's.
    #[error("block {height}: slot {slot} is not after its parent's slot {parent_slot}")]
    SlotNotAfterParent {
        /// Its height.
        height: u64,
        /// Its slot.
        slot: u64,
        /// The parent's slot.
        parent_slot: u64,
    },
    /// Signed by a key that does not lead the slot.
    #[error("block {height}: forger {forger} does not lead slot {slot} ({})", match .leader { Some(l) => format!("{l} does"), None => "nobody does: its forger's weight is void, or nobody holds weight in its epoch and the bootstrap forgers have expired".into() })]
    NotLeader {
        /// Its height.
        height: u64,
        /// Its slot.
        slot: u64,
        /// Who signed.
        forger: PublicKey,
        /// Who leads.
        leader: Option<PublicKey>,
    },
    /// The header's signature does not verify.
    #[error("block {height}: header signature: {error}")]
    BadSignature {
        /// Its height.
        height: u64,
        /// Why.
        error: SignatureError,
    },
    /// The header's VRF proof is not its forger's for this slot and seed.
    #[error("block {height} (slot {slot}): VRF proof: {error}")]
    BadVrf {
        /// Its height.
        height: u64,
        /// Its slot.
        slot: u64,
        /// Why.
        error: VrfError,
    },
    /// Too many transactions.
    #[error("block {height}: {count} transactions, the limit is {limit}")]
    TooManyTxs {
        /// Its height.
        height: u64,
        /// How many.
        count: usize,
        /// The limit.
        limit: u32,
    },
    /// Contract transactions asking for more fuel than a block may use.
    #[error("block {height}: contract transactions ask for {fuel} fuel, the limit is {limit}")]
    TooMuchFuel {
        /// Its height.
        height: u64,
        /// Their fuel limits' sum.
        fuel: u128,
        /// The chain's `block_fuel`.
        limit: u64,
    },
    /// Transactions too large in sum.
    #[error("block {height}: transactions take {bytes} bytes, the limit is {limit}")]
    TooLarge {
        /// Its height.
        height: u64,
        /// Their size.
        bytes: usize,
        /// The limit.
        limit: u32,
    },
    /// The Merkle root does not match the transactions.
    #[error("block {height}: transaction root {got} does not match its transactions ({expected})")]
    TxRoot {
        /// Its height.
        height: u64,
        /// Computed.
        expected: Hash,
        /// In the header.
        got: Hash,
    },
    /// A transaction does not apply.
    #[error("block {height}: transaction {index} ({id}): {error}")]
    Tx {
        /// Its height.
        height: u64,
        /// The position in the block.
        index: usize,
        /// The transaction id.
        id: Hash,
        /// Why.
        error: TxError,
    },
    /// The forger's balance would overflow with reward and fees.
    #[error("block {height}: the forger's reward would overflow its balance")]
    RewardOverflow {
        /// Its height.
        height: u64,
    },
    /// The state digest in the header differs from the one computed.
    #[error("block {height}: state digest {got} differs from the computed {expected}: this node and the forger disagree on the ledger")]
    StateDigest {
        /// Its height.
        height: u64,
        /// Computed.
        expected: Hash,
        /// In the header.
        got: Hash,
    },
    /// The slot has no leader or it is not this key (block building).
    #[error("slot {slot}: {key} is not its leader")]
    NotOurSlot {
        /// The slot.
        slot: u64,
        /// Our key.
        key: PublicKey,
    },
    /// The parent's slot is not before the slot asked for (block building).
    #[error("slot {slot} is not after the tip's slot {tip_slot}")]
    SlotTaken {
        /// The slot.
        slot: u64,
        /// The tip's slot.
        tip_slot: u64,
    },
    /// Storage failed under the check: fatal.
    #[error(transparent)]
    Storage(#[from] ReadError),
}

impl BlockError {
    /// Whether this is a storage failure (fatal for the process) rather than
    /// a fault of the block.
    pub fn is_storage(&self) -> bool {
        matches!(
            self,
            BlockError::Storage(_)
                | BlockError::Tx {
                    error: TxError::Storage(_),
                    ..
                }
        )
    }
}

/// How many threads check a block's signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parallelism {
    /// One thread: the caller's.
    Single,
    /// This many threads (at least one).
    Threads(usize),
    /// As many as the machine has cores.
    AllCores,
}

impl Parallelism {
    fn threads(self) -> usize {
        match self {
            Parallelism::Single => 1,
            Parallelism::Threads(n) => n.max(1),
            Parallelism::AllCores => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
        }
    }
}

/// Everything about one transaction that needs no ledger state: its size,
/// its signature, a transfer's receiver key, and a deploy's module (which
/// must compile under the chain's rules: `contract::compile`).
pub fn check_stateless(
    stx: &SignedTransaction,
) -> Result<crate::chain::tx::CheckedTx, StatelessError> {
    let checked = stx.check()?;
    check_code(stx)?;
    Ok(checked)
}

/// A deploy's fuel limit pays for loading its module, and the module
/// compiles; other kinds pass. The fuel is checked first: compiling is the
/// expensive part, and a block's fuel limit bounds it only if every
/// deploy's fuel covers it.
fn check_code(stx: &SignedTransaction) -> Result<(), StatelessError> {
    if let TxKind::DeployContract {
        code, fuel_limit, ..
    } = &stx.tx.kind
    {
        let load = contract::LOAD_FUEL_PER_BYTE * code.len() as u64;
        if *fuel_limit < load {
            return Err(StatelessError::FuelBelowLoad {
                fuel_limit: *fuel_limit,
                load,
            });
        }
        contract::precompile(code.as_slice()).map_err(|e| StatelessError::BadContract {
            reason: e.code(),
            message: e.to_string(),
        })?;
    }
    Ok(())
}

/// Size and signature, and a deploy's module ([`check_code`]): what a
/// block builder asks of each candidate.
fn check_in_block(stx: &SignedTransaction) -> Result<crate::chain::tx::CheckedTx, StatelessError> {
    let checked = stx.check_signature()?;
    check_code(stx)?;
    Ok(checked)
}

/// [`check_in_block`] of each of `part`, whose first transaction is the
/// block's `offset`th: the first transaction, in order, that fails either,
/// as if each were checked in turn (its size and signature before its
/// module); the signatures are checked as one batch
/// ([`crate::chain::tx::check_signatures`]).
fn check_part(
    part: &[SignedTransaction],
    offset: usize,
) -> Result<Vec<crate::chain::tx::CheckedTx>, (usize, StatelessError)> {
    let signed = crate::chain::tx::check_signatures(part);
    // A module before the first bad signature is checked first.
    let upto = match &signed {
        Ok(_) => part.len(),
        Err((i, _)) => *i,
    };
    for (i, stx) in part[..upto].iter().enumerate() {
        check_code(stx).map_err(|e| (offset + i, e))?;
    }
    signed.map_err(|(i, e)| (offset + i, e))
}

/// Fewer transactions than this are checked on the calling thread alone,
/// and [`apply_block`] applies them after their checks, not beside them.
const PARALLEL_FROM: usize = 16;

/// Checks every transaction's size and signature on `parallelism` threads,
/// each thread's share as one signature batch (a transfer's receiver key is
/// checked when it is applied, if it has no account yet); returns each
/// one's id and size, in order, or the first failure's index and error.
pub fn check_transactions(
    txs: &[SignedTransaction],
    parallelism: Parallelism,
) -> Result<Vec<crate::chain::tx::CheckedTx>, (usize, StatelessError)> {
    let threads = parallelism.threads().min(txs.len().max(1));
    if threads <= 1 || txs.len() < PARALLEL_FROM {
        return check_part(txs, 0);
    }
    let chunk = txs.len().div_ceil(threads);
    let results: Vec<Result<Vec<_>, (usize, StatelessError)>> = std::thread::scope(|s| {
        let handles: Vec<_> = txs
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| s.spawn(move || check_part(part, c * chunk)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a signature-checking thread panicked"))
            .collect()
    });
    let mut out = Vec::with_capacity(txs.len());
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

/// The genesis state: balances, approved associations, the first seeds and a
/// tip at height 0 whose hash is the chain id.
pub fn genesis_changes(params: &ChainParams) -> StateChanges {
    let g = params.genesis();
    let mut writes: BTreeMap<StateKey, StateValue> = BTreeMap::new();
    for b in &g.balances {
        writes.insert(
            StateKey::Account(b.address),
            StateValue::Account(Account {
                balance: b.amount,
                nonce: 0,
            }),
        );
    }
    for a in &g.associations {
        let id = ChainParams::genesis_association_id(&a.account);
        writes.insert(
            StateKey::Proposal(id),
            StateValue::Proposal(Proposal {
                name: a.name.clone(),
                url: a.url.clone(),
                account: a.account,
                proposer: a.account,
                proposed_epoch: 0,
                status: ProposalStatus::Approved { since_epoch: 0 },
                round_epoch: 0,
                votes: vec![],
                donations: 0,
            }),
        );
        writes.insert(
            StateKey::AssociationOf(a.account),
            StateValue::AssociationOf(id),
        );
    }
    let s0 = schedule::genesis_seed(&params.chain_id());
    writes.insert(StateKey::Seed(0), StateValue::Seed(s0));
    writes.insert(StateKey::Mix, StateValue::Mix(s0));
    let mut changes: Vec<Change> = writes
        .into_iter()
        .map(|(key, v)| Change {
            key,
            before: None,
            after: Some(v),
        })
        .collect();
    let digest = state::digest(&Hash::ZERO, &changes);
    let tip = Tip {
        height: 0,
        hash: params.chain_id(),
        slot: 0,
        state_digest: digest,
    };
    changes.insert(
        0,
        Change {
            key: StateKey::Tip,
            before: None,
            after: Some(StateValue::Tip(tip)),
        },
    );
    StateChanges { changes, digest }
}

/// Writes buffered over a base state, with a per-transaction journal so a
/// failed transaction leaves nothing behind.
struct Overlay<'a, S: ?Sized> {
    base: &'a S,
    writes: BTreeMap<StateKey, Option<StateValue>>,
    journal: Vec<(StateKey, Option<Option<StateValue>>)>,
    /// When balance changes are traced: the base's account and contract
    /// values read so far, so a transaction's "before" costs no second read.
    balances_read: Option<std::cell::RefCell<BTreeMap<StateKey, Option<StateValue>>>>,
}

impl<'a, S: StateRead + ?Sized> Overlay<'a, S> {
    fn new(base: &'a S) -> Self {
        Overlay {
            base,
            writes: BTreeMap::new(),
            journal: Vec::new(),
            balances_read: None,
        }
    }

    fn set(&mut self, key: StateKey, value: Option<StateValue>) {
        let old = self.writes.insert(key.clone(), value);
        self.journal.push((key, old));
    }

    fn commit_tx(&mut self) {
        self.journal.clear();
    }

    fn rollback_tx(&mut self) {
        while let Some((k, old)) = self.journal.pop() {
            match old {
                Some(v) => self.writes.insert(k, v),
                None => self.writes.remove(&k),
            };
        }
    }

    fn put_account(&mut self, pk: PublicKey, a: Account) {
        self.set(StateKey::Account(pk), Some(StateValue::Account(a)));
    }

    /// The net balance changes of the transaction in progress (its
    /// journal), normalized ([`balances::normalize`]).
    fn tx_deltas(&self) -> Result<Vec<balances::Delta>, ReadError> {
        let balance = |v: &Option<StateValue>| match v {
            Some(StateValue::Account(a)) => a.balance as i128,
            Some(StateValue::Contract(c)) => c.balance as i128,
            _ => 0,
        };
        let mut seen: Vec<&StateKey> = Vec::new();
        let mut out = Vec::new();
        for (key, old) in &self.journal {
            let holder = match key {
                StateKey::Account(pk) => balances::Holder::Account(*pk),
                StateKey::Contract(c) => balances::Holder::Contract(*c),
                _ => continue,
            };
            // A key's first journal entry holds its value before the transaction.
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let before = match old {
                Some(v) => v.clone(),
                None => self.base_get(key)?,
            };
            let after = self.writes.get(key).cloned().flatten();
            out.push((holder, balance(&after) - balance(&before)));
        }
        Ok(balances::normalize(out))
    }

    fn finish(mut self) -> Result<Vec<Change>, ReadError> {
        let mut out = Vec::with_capacity(self.writes.len());
        for (key, after) in std::mem::take(&mut self.writes) {
            let before = self.base_get(&key)?;
            if before != after {
                out.push(Change { key, before, after });
            }
        }
        Ok(out)
    }
}

impl<S: StateRead + ?Sized> Overlay<'_, S> {
    /// The base's value of `key` (remembered, for balances, when traced).
    fn base_get(&self, key: &StateKey) -> Result<Option<StateValue>, ReadError> {
        let Some(cache) = &self.balances_read else {
            return self.base.get(key);
        };
        if !matches!(key, StateKey::Account(_) | StateKey::Contract(_)) {
            return self.base.get(key);
        }
        if let Some(v) = cache.borrow().get(key) {
            return Ok(v.clone());
        }
        let v = self.base.get(key)?;
        cache.borrow_mut().insert(key.clone(), v.clone());
        Ok(v)
    }
}

impl<S: StateRead + ?Sized> StateRead for Overlay<'_, S> {
    fn get(&self, key: &StateKey) -> Result<Option<StateValue>, ReadError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base_get(key),
        }
    }

    fn epoch_weights(&self, epoch: u64) -> Result<Vec<(PublicKey, u64)>, ReadError> {
        let mut map: BTreeMap<PublicKey, u64> =
            self.base.epoch_weights(epoch)?.into_iter().collect();
        let lo = StateKey::Weight(epoch, PublicKey([0; 32]));
        let hi = StateKey::Weight(epoch, PublicKey([0xff; 32]));
        for (k, v) in self.writes.range(lo..=hi) {
            if let StateKey::Weight(_, pk) = k {
                match v {
                    Some(StateValue::Weight(w)) if *w > 0 => map.insert(*pk, *w),
                    _ => map.remove(pk),
                };
            }
        }
        Ok(map.into_iter().collect())
    }
}

/// One contract's storage as a run sees it: the block's state so far.
struct ContractView<'a, S: ?Sized> {
    state: &'a S,
    contract: Hash,
}

impl<S: StateRead + ?Sized> contract::Storage for ContractView<'_, S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ReadError> {
        let Ok(key) = Bytes::new(key.to_vec()) else {
            return Ok(None);
        };
        Ok(self
            .state
            .contract_data(&self.contract, &key)?
            .map(|v| v.as_slice().to_vec()))
    }
}

/// Runs `entry` on `state` after charging `load` fuel for loading the
/// module; out of fuel without running if loading alone is over the limit.
fn run_loaded<S: StateRead + ?Sized>(
    state: &S,
    code_hash: &Hash,
    code: &[u8],
    entry: contract::Entry,
    ctx: &contract::Context,
    load: u64,
    fuel_limit: u64,
) -> Result<contract::Run, TxError> {
    if load > fuel_limit {
        return Ok(contract::Run {
            status: contract::Status::OutOfFuel,
            fuel_used: fuel_limit,
            effects: Default::default(),
        });
    }
    let view = ContractView {
        state,
        contract: ctx.contract,
    };
    let mut run = contract::run(code_hash, code, entry, ctx, &view, fuel_limit - load)?;
    run.fuel_used += load;
    Ok(run)
}

/// A read-only call: `contract`'s `call` run at `state`'s tip as if by
/// `caller` sending `value` with `input`, in the next block and as its
/// first call (so the loading charge counts), with at most `fuel_limit`
/// fuel. Nothing is written and nothing is charged: what it would do is
/// in the [`contract::Run`] (status, fuel used, return data, events,
/// storage writes, transfers). For apps that only want an answer ("has
/// this address paid?"), without a transaction.
pub fn query_contract<S: StateRead + ?Sized>(
    params: &ChainParams,
    state: &S,
    contract: &Hash,
    caller: &PublicKey,
    input: &[u8],
    value: u64,
    fuel_limit: u64,
) -> Result<contract::Run, TxError> {
    let c = params.contracts().ok_or(TxError::ContractsDisabled)?;
    if fuel_limit == 0 || fuel_limit > c.block_fuel {
        return Err(TxError::BadFuelLimit {
            fuel_limit,
            block_fuel: c.block_fuel,
        });
    }
    if input.len() > limits::CONTRACT_INPUT {
        return Err(TxError::Stateless(StatelessError::TooLarge {
            size: input.len(),
            limit: limits::CONTRACT_INPUT,
        }));
    }
    let account = state
        .contract(contract)?
        .ok_or(TxError::NoSuchContract(*contract))?;
    let code = state.code(&account.code_hash)?.ok_or_else(|| {
        ReadError(format!(
            "contract {contract}: its code {} is missing from the state",
            account.code_hash
        ))
    })?;
    let tip = state.tip()?;
    let ctx = contract::Context {
        contract: *contract,
        caller: *caller,
        value,
        balance: account
            .balance
            .checked_add(value)
            .ok_or(TxError::Overflow {
                what: "the contract's balance",
            })?,
        height: tip.height + 1,
        slot: tip.slot + 1,
        input: input.to_vec(),
    };
    let load = contract::LOAD_FUEL_PER_BYTE * code.len() as u64;
    run_loaded(
        state,
        &account.code_hash,
        code.as_slice(),
        contract::Entry::Call,
        &ctx,
        load,
        fuel_limit,
    )
}

/// One block's execution: its context and its buffered writes.
struct Execution<'a, S: ?Sized> {
    params: &'a ChainParams,
    ov: Overlay<'a, S>,
    parent: Tip,
    height: u64,
    slot: u64,
    epoch: u64,
    fees: u64,
    live: Option<Vec<(PublicKey, u64)>>,
    /// Modules loaded (and charged for) in this block, by code hash.
    loaded: std::collections::BTreeSet<Hash>,
    /// Each applied transaction's balance deltas, when traced.
    trace: Option<Vec<Vec<balances::Delta>>>,
}

impl<'a, S: StateRead + ?Sized> Execution<'a, S> {
    /// Starts a block in `slot` on `base`'s tip. `seeds`: whether to derive
    /// the epoch seeds a block entering a new epoch writes — a block must;
    /// a mempool check need not (it is one hash per skipped epoch, which on a
    /// chain whose tip is far behind the clock would make every check slow).
    fn start(
        params: &'a ChainParams,
        base: &'a S,
        slot: u64,
        seeds: bool,
    ) -> Result<Self, ReadError> {
        let parent = base.tip()?;
        let mut ov = Overlay::new(base);
        let epoch = params.epoch_of(slot);
        let parent_epoch = params.epoch_of(parent.slot);
        if seeds && epoch > parent_epoch {
            // Entering a new epoch: its seed comes from the last epoch's
            // final mix (and one hash per blockless epoch between); the
            // state keeps the seed and the mix of its tip's epoch only.
            let seed = schedule::seed_for(params, base, &parent, epoch)?;
            ov.set(StateKey::Seed(parent_epoch), None);
            ov.set(StateKey::Seed(epoch), Some(StateValue::Seed(seed)));
            ov.set(StateKey::Mix, Some(StateValue::Mix(seed)));
            ov.commit_tx();
        }
        Ok(Execution {
            params,
            ov,
            height: parent.height + 1,
            parent,
            slot,
            epoch,
            fees: 0,
            live: None,
            loaded: Default::default(),
            trace: None,
        })
    }

    /// Folds the block's VRF output into the epoch's mix, if its slot is
    /// before the epoch's seed cutoff (after it the next seed is fixed).
    fn mix_vrf(&mut self, out: &VrfOutput) -> Result<(), ReadError> {
        if !self.params.before_seed_cutoff(self.slot) {
            return Ok(());
        }
        let mix = self
            .ov
            .mix()?
            .ok_or_else(|| ReadError("the state has no VRF mix".into()))?;
        self.ov.set(
            StateKey::Mix,
            Some(StateValue::Mix(block::mix_vrf(&mix, out))),
        );
        self.ov.commit_tx();
        Ok(())
    }

    /// Applies one transaction whose stateless checks passed; on error
    /// nothing of it remains.
    fn apply(&mut self, stx: &SignedTransaction, id: Hash) -> Result<(), TxError> {
        // The block's fees live outside the overlay: a failed transaction's
        // fee must not reach the forger (the builder would then commit to
        // a state digest no checker computes).
        let fees = self.fees;
        let mut r = self.apply_inner(stx, id);
        if let (Ok(()), Some(_)) = (&r, &self.trace) {
            match self.ov.tx_deltas() {
                Ok(d) => self.trace.as_mut().expect("traced").push(d),
                Err(e) => r = Err(e.into()),
            }
        }
        match r {
            Ok(()) => self.ov.commit_tx(),
            Err(_) => {
                self.ov.rollback_tx();
                self.fees = fees;
            }
        }
        r
    }

    fn debit(&mut self, who: &PublicKey, amount: u64, fee: u64) -> Result<Account, TxError> {
        let mut a = self.ov.account(who)?;
        let needed = amount as u128 + fee as u128;
        if (a.balance as u128) < needed {
            return Err(TxError::InsufficientBalance {
                sender: *who,
                balance: a.balance,
                needed,
            });
        }
        a.balance -= needed as u64;
        Ok(a)
    }

    fn credit(&mut self, who: &PublicKey, amount: u64, what: &'static str) -> Result<(), TxError> {
        let mut a = self.ov.account(who)?;
        a.balance = a
            .balance
            .checked_add(amount)
            .ok_or(TxError::Overflow { what })?;
        self.ov.put_account(*who, a);
        Ok(())
    }

    fn live_weights(&mut self) -> Result<&[(PublicKey, u64)], ReadError> {
        if self.live.is_none() {
            self.live = Some(schedule::live_weights(self.params, &self.ov, self.epoch)?);
        }
        Ok(self.live.as_deref().expect("just set"))
    }

    fn apply_inner(&mut self, stx: &SignedTransaction, id: Hash) -> Result<(), TxError> {
        let tx = &stx.tx;
        let chain_id = self.params.chain_id();
        if tx.chain_id != chain_id {
            return Err(TxError::WrongChain {
                expected: chain_id,
                got: tx.chain_id,
            });
        }
        let min = self.params.genesis().min_fee;
        if tx.fee < min {
            return Err(TxError::FeeTooLow { fee: tx.fee, min });
        }
        let sender_acct = self.ov.account(&tx.sender)?;
        if tx.nonce != sender_acct.nonce {
            let (expected, got, sender) = (sender_acct.nonce, tx.nonce, tx.sender);
            return Err(if got < expected {
                TxError::NonceUsed {
                    sender,
                    expected,
                    got,
                }
            } else {
                TxError::NonceGap {
                    sender,
                    expected,
                    got,
                }
            });
        }
        if let Some(fuel_limit) = tx.kind.fuel_limit() {
            let c = self.params.contracts().ok_or(TxError::ContractsDisabled)?;
            if fuel_limit == 0 || fuel_limit > c.block_fuel {
                return Err(TxError::BadFuelLimit {
                    fuel_limit,
                    block_fuel: c.block_fuel,
                });
            }
            let needed = min as u128 + fuel_limit as u128 * c.fuel_price as u128;
            if (tx.fee as u128) < needed {
                return Err(TxError::FuelFeeTooLow {
                    fee: tx.fee,
                    needed,
                });
            }
            if let TxKind::CallContract { contract, .. } = &tx.kind {
                if self.ov.contract(contract)?.is_none() {
                    return Err(TxError::NoSuchContract(*contract));
                }
            }
        }
        let amount = match &tx.kind {
            TxKind::Transfer { amount, .. } | TxKind::BuyWeight { amount, .. } => {
                if *amount == 0 {
                    return Err(TxError::ZeroAmount);
                }
                *amount
            }
            // Taken with the fee; the contract gets it only if the call
            // ends ok, else it goes back.
            TxKind::CallContract { value, .. } => *value,
            _ => 0,
        };
        let mut sender = self.debit(&tx.sender, amount, tx.fee)?;
        sender.nonce = sender
            .nonce
            .checked_add(1)
            .ok_or(TxError::Overflow { what: "nonce" })?;
        self.ov.put_account(tx.sender, sender);
        self.fees = self.fees.checked_add(tx.fee).ok_or(TxError::Overflow {
            what: "the block's fees",
        })?;

        match &tx.kind {
            TxKind::Transfer { to, amount } => {
                // Every key that holds an account is a valid one (genesis
                // checks its accounts, a signer's key verified, a receiver was
                // checked here): only a new receiver needs the point decoded.
                if self.ov.get(&StateKey::Account(*to))?.is_none() {
                    check_receiver(to)?;
                }
                self.credit(to, *amount, "the receiver's balance")
            }
            TxKind::BuyWeight {
                epoch,
                amount,
                association,
            } => self.buy_weight(&tx.sender, *epoch, *amount, association),
            TxKind::ProposeAssociation {
                name,
                url,
                account,
                proof,
            } => {
                if name.is_empty() {
                    return Err(TxError::EmptyName);
                }
                crypto::verify(
                    account,
                    tag::ASSOCIATION,
                    &chain_id,
                    &association_proof_body(name.as_slice(), url.as_slice()),
                    proof,
                )
                .map_err(|error| TxError::BadProof {
                    account: *account,
                    error,
                })?;
                if let Some(existing) = self.ov.association_of(account)? {
                    let p = self.ov.proposal(&existing)?.ok_or_else(|| {
                        ReadError(format!(
                            "association index names missing proposal {existing}"
                        ))
                    })?;
                    let ttl = self.params.limits().proposal_ttl_epochs;
                    let what = match p.status {
                        ProposalStatus::Approved { .. } => Some("approved"),
                        ProposalStatus::Pending if !p.lapsed(self.epoch, ttl) => Some("pending"),
                        _ => None,
                    };
                    if let Some(what) = what {
                        return Err(TxError::AlreadyProposed {
                            account: *account,
                            what,
                            proposal: existing,
                        });
                    }
                }
                self.ov.set(
                    StateKey::Proposal(id),
                    Some(StateValue::Proposal(Proposal {
                        name: name.clone(),
                        url: url.clone(),
                        account: *account,
                        proposer: tx.sender,
                        proposed_epoch: self.epoch,
                        status: ProposalStatus::Pending,
                        round_epoch: self.epoch,
                        votes: vec![],
                        donations: 0,
                    })),
                );
                self.ov.set(
                    StateKey::AssociationOf(*account),
                    Some(StateValue::AssociationOf(id)),
                );
                Ok(())
            }
            TxKind::VoteAssociation { proposal, approve } => {
                self.vote(&tx.sender, proposal, *approve)
            }
            TxKind::PutData { key, value } => {
                if key.is_empty() {
                    return Err(TxError::EmptyKey);
                }
                self.ov.set(
                    StateKey::Record(tx.sender, key.clone()),
                    Some(StateValue::Record(Record {
                        value: value.clone(),
                        height: self.height,
                        tx: id,
                    })),
                );
                Ok(())
            }
            TxKind::DeployContract {
                code,
                init,
                fuel_limit,
            } => self.deploy(stx, id, code, init, *fuel_limit),
            TxKind::CallContract {
                contract,
                input,
                value,
                fuel_limit,
            } => self.call(stx, id, contract, input, *value, *fuel_limit),
            TxKind::ReportEquivocation { header_a, header_b } => {
                self.equivocation(&tx.sender, header_a, header_b)
            }
        }
    }

    /// A deploy: the module is loaded (charged per byte), its `deploy`
    /// export runs with `init`, and if that ends ok the contract exists.
    fn deploy(
        &mut self,
        stx: &SignedTransaction,
        id: Hash,
        code: &Bytes<{ limits::CONTRACT_CODE }>,
        init: &Bytes<{ limits::CONTRACT_INPUT }>,
        fuel_limit: u64,
    ) -> Result<(), TxError> {
        let tx = &stx.tx;
        let address = contract::address(&self.params.chain_id(), &tx.sender, tx.nonce);
        let code_hash = Hash::of(&[code.as_slice()]);
        self.loaded.insert(code_hash);
        let load = contract::LOAD_FUEL_PER_BYTE * code.len() as u64;
        let ctx = contract::Context {
            contract: address,
            caller: tx.sender,
            value: 0,
            balance: 0,
            height: self.height,
            slot: self.slot,
            input: init.as_slice().to_vec(),
        };
        let run = run_loaded(
            &self.ov,
            &code_hash,
            code.as_slice(),
            contract::Entry::Deploy,
            &ctx,
            load,
            fuel_limit,
        )?;
        let account = ContractAccount {
            code_hash,
            deployer: tx.sender,
            balance: 0,
            stored_bytes: 0,
            height: self.height,
        };
        self.settle(stx, id, address, account, Some(code), run, 0)
    }

    /// A call: the contract's `call` export runs with `input` and `value`
    /// (the module charged per byte if it is its first use in the block).
    fn call(
        &mut self,
        stx: &SignedTransaction,
        id: Hash,
        address: &Hash,
        input: &Bytes<{ limits::CONTRACT_INPUT }>,
        value: u64,
        fuel_limit: u64,
    ) -> Result<(), TxError> {
        let tx = &stx.tx;
        let account = self
            .ov
            .contract(address)?
            .ok_or(TxError::NoSuchContract(*address))?;
        let code = self.ov.code(&account.code_hash)?.ok_or_else(|| {
            ReadError(format!(
                "contract {address}: its code {} is missing from the state",
                account.code_hash
            ))
        })?;
        let balance = account
            .balance
            .checked_add(value)
            .ok_or(TxError::Overflow {
                what: "the contract's balance",
            })?;
        let load = if self.loaded.insert(account.code_hash) {
            contract::LOAD_FUEL_PER_BYTE * code.len() as u64
        } else {
            0
        };
        let ctx = contract::Context {
            contract: *address,
            caller: tx.sender,
            value,
            balance,
            height: self.height,
            slot: self.slot,
            input: input.as_slice().to_vec(),
        };
        let run = run_loaded(
            &self.ov,
            &account.code_hash,
            code.as_slice(),
            contract::Entry::Call,
            &ctx,
            load,
            fuel_limit,
        )?;
        self.settle(stx, id, *address, account, None, run, value)
    }

    /// Charges a contract transaction for the fuel it used, applies its
    /// run's effects if it ended ok (and its storage is paid for), returns
    /// the rest of the fee (and the value, if it did not end ok), and
    /// records its receipt. The sender was debited `fee + value` already.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &mut self,
        stx: &SignedTransaction,
        id: Hash,
        address: Hash,
        mut account: ContractAccount,
        new_code: Option<&Bytes<{ limits::CONTRACT_CODE }>>,
        run: contract::Run,
        value: u64,
    ) -> Result<(), TxError> {
        let tx = &stx.tx;
        let c = *self
            .params
            .contracts()
            .expect("a contract transaction was checked against the chain's parameters");
        let min = self.params.genesis().min_fee;
        // fuel_used ≤ fuel_limit and fee ≥ min + fuel_limit × price.
        let fee =
            (min as u128 + run.fuel_used as u128 * c.fuel_price as u128).min(tx.fee as u128) as u64;
        let refund = tx.fee - fee;
        let mut status = match run.status {
            contract::Status::Ok => ReceiptStatus::Ok,
            contract::Status::Trapped(t) => ReceiptStatus::Trapped(Bytes::from(t.name())),
            contract::Status::OutOfFuel => ReceiptStatus::OutOfFuel,
        };
        let mut storage_charge = 0u64;
        let mut events = Vec::new();
        let mut return_data = Bytes::empty();
        if status == ReceiptStatus::Ok {
            // What the writes do to the contract's stored bytes.
            let mut stored = account.stored_bytes as i128;
            let mut writes = Vec::with_capacity(run.effects.writes.len());
            for (k, v) in &run.effects.writes {
                let key = Bytes::new(k.clone()).expect("the engine bounds keys");
                let entry = |len: usize| (k.len() + len) as i128 + contract::ENTRY_OVERHEAD as i128;
                if let Some(old) = self.ov.contract_data(&address, &key)? {
                    stored -= entry(old.len());
                }
                if let Some(new) = v {
                    stored += entry(new.len());
                }
                writes.push((key, v.clone()));
            }
            let growth = (stored - account.stored_bytes as i128).max(0) as u128;
            let charge = growth * c.storage_price as u128;
            let can_pay = self.ov.account(&tx.sender)?.balance as u128 + refund as u128;
            if charge > can_pay {
                status = ReceiptStatus::Trapped(Bytes::from("storage-unpaid"));
            } else {
                storage_charge = charge as u64;
                for (key, v) in writes {
                    let value = v.map(|v| {
                        StateValue::ContractData(Bytes::new(v).expect("the engine bounds values"))
                    });
                    self.ov.set(StateKey::ContractData(address, key), value);
                }
                account.stored_bytes = stored as u64;
                let mut balance = account
                    .balance
                    .checked_add(value)
                    .ok_or(TxError::Overflow {
                        what: "the contract's balance",
                    })?;
                for (to, amount) in &run.effects.transfers {
                    balance = balance
                        .checked_sub(*amount)
                        .expect("the engine keeps transfers within the balance");
                    self.credit(to, *amount, "a contract transfer's receiver")?;
                }
                account.balance = balance;
                self.ov.set(
                    StateKey::Contract(address),
                    Some(StateValue::Contract(account)),
                );
                if let Some(code) = new_code {
                    if self.ov.code(&account.code_hash)?.is_none() {
                        self.ov.set(
                            StateKey::Code(account.code_hash),
                            Some(StateValue::Code(code.clone())),
                        );
                    }
                }
                if storage_charge > 0 {
                    let burned =
                        self.ov
                            .burned()?
                            .checked_add(storage_charge)
                            .ok_or(TxError::Overflow {
                                what: "the burned total",
                            })?;
                    self.ov
                        .set(StateKey::Burned, Some(StateValue::Burned(burned)));
                }
                events = run
                    .effects
                    .events
                    .iter()
                    .map(|e| Bytes::new(e.clone()).expect("the engine bounds events"))
                    .collect();
                return_data = Bytes::new(run.effects.return_data.clone())
                    .expect("the engine bounds return data");
            }
        }
        // The sender gets back the unused fee, and the value unless the run
        // ended ok; it pays the storage charge.
        let back = refund as u128
            + if status == ReceiptStatus::Ok {
                0
            } else {
                value as u128
            };
        let mut sender = self.ov.account(&tx.sender)?;
        sender.balance = (sender.balance as u128 + back - storage_charge as u128)
            .try_into()
            .map_err(|_| TxError::Overflow {
                what: "the sender's balance",
            })?;
        self.ov.put_account(tx.sender, sender);
        self.fees -= refund;
        self.ov.set(
            StateKey::Receipt(id),
            Some(StateValue::Receipt(Receipt {
                contract: address,
                status,
                fuel_used: run.fuel_used,
                fee,
                storage_charge,
                return_data,
                events,
                height: self.height,
            })),
        );
        Ok(())
    }

    fn buy_weight(
        &mut self,
        sender: &PublicKey,
        epoch: u64,
        amount: u64,
        association: &PublicKey,
    ) -> Result<(), TxError> {
        let earliest = self.epoch + 2;
        if epoch < earliest {
            return Err(TxError::EpochTooClose {
                epoch,
                current: self.epoch,
                earliest,
            });
        }
        let latest = self
            .epoch
            .saturating_add(self.params.limits().max_weight_epochs_ahead);
        if epoch > latest {
            return Err(TxError::EpochTooFar { epoch, latest });
        }
        if let Some(from) = self.ov.voided_from(sender)? {
            if from <= epoch {
                return Err(TxError::SenderVoided {
                    sender: *sender,
                    from,
                });
            }
        }
        let not_approved = TxError::NotApproved {
            account: *association,
        };
        let id = self
            .ov
            .association_of(association)?
            .ok_or(not_approved.clone())?;
        let mut p = self.ov.proposal(&id)?.ok_or(not_approved.clone())?;
        if !p.listed(self.epoch) {
            return Err(not_approved);
        }
        p.donations += amount as u128;
        self.ov
            .set(StateKey::Proposal(id), Some(StateValue::Proposal(p)));
        self.credit(association, amount, "the association's balance")?;
        let w = self.ov.weight(epoch, sender)?;
        let w = w.checked_add(amount).ok_or(TxError::Overflow {
            what: "forging weight",
        })?;
        self.ov.set(
            StateKey::Weight(epoch, *sender),
            Some(StateValue::Weight(w)),
        );
        Ok(())
    }

    fn vote(&mut self, voter: &PublicKey, id: &Hash, approve: bool) -> Result<(), TxError> {
        let epoch = self.epoch;
        let ttl = self.params.limits().proposal_ttl_epochs;
        let mut p = self.ov.proposal(id)?.ok_or(TxError::UnknownProposal(*id))?;
        match p.status {
            ProposalStatus::Removed { at_epoch } => {
                return Err(TxError::Removed {
                    proposal: *id,
                    at: at_epoch,
                })
            }
            ProposalStatus::Pending if p.lapsed(epoch, ttl) => {
                return Err(TxError::Lapsed {
                    proposal: *id,
                    deadline: p.proposed_epoch.saturating_add(ttl),
                })
            }
            ProposalStatus::Approved { .. } if epoch > p.round_epoch.saturating_add(ttl) => {
                // A removal round that did not succeed in time starts over.
                p.votes.clear();
                p.round_epoch = epoch;
            }
            _ => {}
        }
        let live = self.live_weights()?.to_vec();
        let weight_of = |k: &PublicKey| {
            live.binary_search_by_key(k, |(k, _)| *k)
                .ok()
                .map(|i| live[i].1 as u128)
        };
        if weight_of(voter).is_none() {
            return Err(TxError::NotLiveForger {
                voter: *voter,
                epoch,
            });
        }
        match p.votes.binary_search_by_key(voter, |(k, _)| *k) {
            Ok(i) if p.votes[i].1 == approve => {
                return Err(TxError::AlreadyVoted {
                    voter: *voter,
                    proposal: *id,
                    approve,
                })
            }
            Ok(i) => p.votes[i].1 = approve,
            Err(i) => p.votes.insert(i, (*voter, approve)),
        }
        // Weigh the votes of forgers live *now* by their weight now; a vote
        // from an epoch in which the voter was live but is no longer does
        // not count. Counting keys would let a thousand one-unit keys
        // outvote every real forger.
        // Pending: yes-votes approve. Approved: no-votes remove.
        let wanted = p.status == ProposalStatus::Pending;
        let total: u128 = live.iter().map(|(_, w)| *w as u128).sum();
        let count: u128 = p
            .votes
            .iter()
            .filter(|(_, v)| *v == wanted)
            .filter_map(|(k, _)| weight_of(k))
            .sum();
        if total > 0 && count * 4 >= total * 3 {
            let delay = self.params.limits().association_delay_epochs;
            let effective = epoch.saturating_add(delay);
            match p.status {
                ProposalStatus::Pending => {
                    p.status = ProposalStatus::Approved {
                        since_epoch: effective,
                    };
                }
                ProposalStatus::Approved { since_epoch } if since_epoch > epoch => {
                    // Removed before it was ever listed: nothing to delist.
                    p.status = ProposalStatus::Removed { at_epoch: epoch };
                    self.ov.set(StateKey::AssociationOf(p.account), None);
                }
                _ => {
                    // Listed until `effective`; the index stays until the
                    // account is proposed again.
                    p.status = ProposalStatus::Removed {
                        at_epoch: effective,
                    };
                }
            }
            p.votes.clear();
            p.round_epoch = epoch;
        }
        self.ov
            .set(StateKey::Proposal(*id), Some(StateValue::Proposal(p)));
        Ok(())
    }

    fn equivocation(
        &mut self,
        reporter: &PublicKey,
        a: &SignedHeader,
        b: &SignedHeader,
    ) -> Result<(), TxError> {
        let bad = |e: EvidenceError| Err(TxError::BadEvidence(e));
        let chain_id = self.params.chain_id();
        let (ha, hb) = (&a.header, &b.header);
        if ha.chain_id != chain_id || hb.chain_id != chain_id {
            return bad(EvidenceError::OtherChain);
        }
        if ha.forger != hb.forger {
            return bad(EvidenceError::TwoForgers(ha.forger, hb.forger));
        }
        if ha.slot != hb.slot {
            return bad(EvidenceError::TwoSlots(ha.slot, hb.slot));
        }
        if ha.hash() == hb.hash() {
            return bad(EvidenceError::SameHeader);
        }
        for (h, which) in [(a, "first"), (b, "second")] {
            if let Err(error) = h.verify() {
                return bad(EvidenceError::Signature { which, error });
            }
        }
        let forger = ha.forger;
        let from = self.params.epoch_of(ha.slot);
        let prev = self.ov.voided_from(&forger)?;
        if let Some(prev) = prev {
            if prev <= from {
                return Err(TxError::AlreadyVoided { forger, from: prev });
            }
        }
        self.ov
            .set(StateKey::Voided(forger), Some(StateValue::Voided(from)));
        // The forger may be live in this epoch: later votes in this block
        // must see it voided.
        self.live = None;
        if prev.is_some() {
            // Evidence for an earlier epoch than the one already voided
            // moves the void back, and pays nothing: one bounty per offender.
            return Ok(());
        }
        // The bounty is taken from the offender; the reporter gets its
        // share, the rest is burned (so an equivocator reporting itself from
        // a second key loses the burned part all the same).
        let l = self.params.limits();
        let mut offender = self.ov.account(&forger)?;
        let bounty = l.equivocation_bounty.min(offender.balance);
        if bounty > 0 {
            let share = (bounty as u128 * l.reporter_share_percent as u128 / 100) as u64;
            let burn = bounty - share;
            offender.balance -= bounty;
            self.ov.put_account(forger, offender);
            if share > 0 {
                self.credit(reporter, share, "the reporter's balance")?;
            }
            if burn > 0 {
                let burned = self
                    .ov
                    .burned()?
                    .checked_add(burn)
                    .ok_or(TxError::Overflow {
                        what: "the burned total",
                    })?;
                self.ov
                    .set(StateKey::Burned, Some(StateValue::Burned(burned)));
            }
        }
        Ok(())
    }

    /// Pays the forger and produces the block's changes and digest.
    fn finish(
        mut self,
        forger: &PublicKey,
        block_hash: impl FnOnce(&Hash) -> Hash,
    ) -> Result<StateChanges, BlockError> {
        let reward = self
            .params
            .genesis()
            .block_reward
            .checked_add(self.fees)
            .ok_or(BlockError::RewardOverflow {
                height: self.height,
            })?;
        self.credit(forger, reward, "the forger's balance")
            .map_err(|e| match e {
                TxError::Storage(s) => BlockError::Storage(s),
                _ => BlockError::RewardOverflow {
                    height: self.height,
                },
            })?;
        self.ov.commit_tx();
        let (height, slot, parent) = (self.height, self.slot, self.parent);
        let mut changes = self.ov.finish()?;
        let digest = state::digest(&parent.state_digest, &changes);
        let tip = Tip {
            height,
            hash: block_hash(&digest),
            slot,
            state_digest: digest,
        };
        changes.insert(
            0,
            Change {
                key: StateKey::Tip,
                before: Some(StateValue::Tip(parent)),
                after: Some(StateValue::Tip(tip)),
            },
        );
        Ok(StateChanges { changes, digest })
    }
}

/// Checks `block` against the state at its parent and returns what it
/// changes. Checks, in order: version, chain, height, parent, slot, leader,
/// header signature, size limits, transaction signatures (on `parallelism`
/// threads, each thread's share as one batch), Merkle root, every
/// transaction in order, the reward, and the state digest; the error
/// returned is the first in that order (on more than one thread the state's
/// part runs beside the signature checks, and its outcome waits for them).
/// Time is not checked here (see [`check_not_early`]).
pub fn apply_block<S: StateRead + ?Sized>(
    params: &ChainParams,
    state: &S,
    block: &Block,
    parallelism: Parallelism,
) -> Result<StateChanges, BlockError> {
    apply_block_inner(params, state, block, parallelism, false).map(|(c, _)| c)
}

/// [`apply_block`], and what each transaction changed in which balance
/// (measured, not derived: see [`balances`]). A main node records it for
/// the Mesh Data API; the same checks, the same changes.
pub fn apply_block_traced<S: StateRead + ?Sized>(
    params: &ChainParams,
    state: &S,
    block: &Block,
    parallelism: Parallelism,
) -> Result<(StateChanges, balances::BlockBalances), BlockError> {
    apply_block_inner(params, state, block, parallelism, true).map(|(c, b)| (c, b.expect("traced")))
}

fn apply_block_inner<S: StateRead + ?Sized>(
    params: &ChainParams,
    state: &S,
    block: &Block,
    parallelism: Parallelism,
    trace: bool,
) -> Result<(StateChanges, Option<balances::BlockBalances>), BlockError> {
    let h = &block.header.header;
    let height = h.height;
    if h.version != VERSION {
        return Err(BlockError::Version {
            height,
            got: h.version,
        });
    }
    if h.chain_id != params.chain_id() {
        return Err(BlockError::WrongChain {
            height,
            expected: params.chain_id(),
            got: h.chain_id,
        });
    }
    let tip = state.tip()?;
    if height != tip.height + 1 {
        return Err(BlockError::WrongHeight {
            expected: tip.height + 1,
            got: height,
        });
    }
    if h.parent != tip.hash {
        return Err(BlockError::WrongParent {
            height,
            expected: tip.hash,
            got: h.parent,
        });
    }
    if h.slot <= tip.slot {
        return Err(BlockError::SlotNotAfterParent {
            height,
            slot: h.slot,
            parent_slot: tip.slot,
        });
    }
    let leader = schedule::leader(params, state, &tip, h.slot)?;
    if leader != Some(h.forger) {
        return Err(BlockError::NotLeader {
            height,
            slot: h.slot,
            forger: h.forger,
            leader,
        });
    }
    block
        .header
        .verify()
        .map_err(|error| BlockError::BadSignature { height, error })?;
    let seed = schedule::seed_for(params, state, &tip, params.epoch_of(h.slot))?;
    let vrf_out = crypto::vrf_verify(
        &h.forger,
        &block::vrf_input(&params.chain_id(), &seed, h.slot),
        &h.vrf,
    )
    .map_err(|error| BlockError::BadVrf {
        height,
        slot: h.slot,
        error,
    })?;
    let limits = params.limits();
    if block.txs.len() > limits.max_block_txs as usize {
        return Err(BlockError::TooManyTxs {
            height,
            count: block.txs.len(),
            limit: limits.max_block_txs,
        });
    }
    let fuel: u128 = block
        .txs
        .iter()
        .filter_map(|t| t.tx.kind.fuel_limit())
        .map(u128::from)
        .sum();
    // Before any module is compiled: a deploy's fuel pays for compiling
    // it, so this bounds the block's compiling too.
    if fuel > 0 {
        match params.contracts() {
            Some(c) if fuel > c.block_fuel as u128 => {
                return Err(BlockError::TooMuchFuel {
                    height,
                    fuel,
                    limit: c.block_fuel,
                })
            }
            Some(_) => {}
            None => {
                let index = block
                    .txs
                    .iter()
                    .position(|t| t.tx.kind.fuel_limit().is_some())
                    .expect("some transaction has a fuel limit");
                return Err(BlockError::Tx {
                    height,
                    index,
                    id: block.txs[index].id(),
                    error: TxError::ContractsDisabled,
                });
            }
        }
    }
    let block_hash = block.hash();
    // Every transaction against the state, the reward, the changes: given
    // each transaction's id.
    let run_state = |id_of: &dyn Fn(usize) -> Hash| {
        let mut exec = Execution::start(params, state, h.slot, true)?;
        if trace {
            exec.trace = Some(Vec::with_capacity(block.txs.len()));
            exec.ov.balances_read = Some(Default::default());
        }
        exec.mix_vrf(&vrf_out)?;
        for (index, stx) in block.txs.iter().enumerate() {
            let id = id_of(index);
            exec.apply(stx, id).map_err(|error| BlockError::Tx {
                height,
                index,
                id,
                error,
            })?;
        }
        // finish() fails rather than overflow, so the sum is the reward paid.
        let reward = params.genesis().block_reward.saturating_add(exec.fees);
        let traced = exec
            .trace
            .take()
            .map(|txs| balances::BlockBalances { txs, reward });
        let changes = exec.finish(&h.forger, |_| block_hash)?;
        Ok::<_, BlockError>((changes, traced))
    };
    // On more than one thread, the state's part (which no thread count
    // shortens) runs here while other threads check the signatures: the
    // block's time is then about (signatures + state) / threads instead of
    // signatures / threads + state. Its outcome is used only once the
    // signatures, the size and the Merkle root are known good, so the error
    // reported is the one the order above gives.
    let (checked, state_run) = if parallelism.threads() > 1 && block.txs.len() >= PARALLEL_FROM {
        std::thread::scope(|s| {
            let checking = s.spawn(|| check_transactions(&block.txs, parallelism));
            let state_run = run_state(&|i| block.txs[i].id());
            let checked = checking
                .join()
                .expect("a signature-checking thread panicked");
            (checked, Some(state_run))
        })
    } else {
        (check_transactions(&block.txs, parallelism), None)
    };
    let checked = checked.map_err(|(index, e)| BlockError::Tx {
        height,
        index,
        id: block.txs[index].id(),
        error: e.into(),
    })?;
    let bytes: usize = checked.iter().map(|c| c.size).sum();
    if bytes > limits.max_block_bytes as usize {
        return Err(BlockError::TooLarge {
            height,
            bytes,
            limit: limits.max_block_bytes,
        });
    }
    let ids: Vec<Hash> = checked.iter().map(|c| c.id).collect();
    let root = merkle::root(&ids);
    if root != h.tx_root {
        return Err(BlockError::TxRoot {
            height,
            expected: root,
            got: h.tx_root,
        });
    }
    let (changes, traced) = match state_run {
        Some(run) => run?,
        None => run_state(&|i| ids[i])?,
    };
    if changes.digest != h.state_digest {
        return Err(BlockError::StateDigest {
            height,
            expected: changes.digest,
            got: h.state_digest,
        });
    }
    Ok((changes, traced))
}

/// Whether a block's slot has started by `now_ms`, give or take the chain's
/// allowed clock drift. The store applies the same rule to every block it
/// imports (`Store::import_block` takes the clock); gossip calls this first
/// to hold a block that is a little early. [`apply_block`] does not, so that
/// re-verifying an old chain does not depend on the clock.
pub fn check_not_early(
    params: &ChainParams,
    header: &Header,
    now_ms: u64,
) -> Result<(), EarlyBlock> {
    let start = params.slot_start_ms(header.slot);
    let limit = now_ms.saturating_add(params.limits().max_clock_drift_ms);
    if start > limit {
        return Err(EarlyBlock {
            height: header.height,
            slot: header.slot,
            start_ms: start,
            ahead_ms: start - now_ms,
            drift_ms: params.limits().max_clock_drift_ms,
        });
    }
    Ok(())
}

/// A block whose slot has not started yet on this node's clock, beyond the
/// drift allowed ([`check_not_early`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("block {height}: slot {slot} starts at {start_ms} ms, {ahead_ms} ms ahead of this node's clock (drift allowed: {drift_ms} ms)")]
pub struct EarlyBlock {
    /// Its height.
    pub height: u64,
    /// Its slot.
    pub slot: u64,
    /// When its slot starts (ms).
    pub start_ms: u64,
    /// How far that is ahead of the clock (ms).
    pub ahead_ms: u64,
    /// The drift allowed (ms).
    pub drift_ms: u64,
}

/// A block built but not signed yet: record the slot, then [`UnsignedBlock::sign`].
#[derive(Debug, Clone)]
pub struct UnsignedBlock {
    /// The header to sign.
    pub header: Header,
    /// The transactions it holds.
    pub txs: Vec<SignedTransaction>,
    /// What applying it changes (the tip's hash is the header's).
    pub changes: StateChanges,
    /// Candidates left out, and why.
    pub rejected: Vec<(Hash, TxError)>,
}

impl UnsignedBlock {
    /// Signs the header. Call only after the slot is durably recorded.
    pub fn sign(self, key: &Keypair) -> Block {
        Block {
            header: self.header.sign(key),
            txs: self.txs,
        }
    }
}

/// Builds the block `key` forges in `slot` on top of `state`'s tip, from
/// `candidates` in the order given: each one that applies goes in, up to the
/// chain's limits; each one that does not is returned with its reason. A
/// failing candidate takes no room: candidates are pulled until the block
/// is full or they run out (pass a lazy iterator, such as
/// [`crate::ledger::mempool::Mempool::select`]). Once a sender's transaction fails
/// for a reason other than its nonce, that sender's later candidates are
/// skipped unchecked (they could only land behind the gap it leaves).
pub fn prepare_block<S: StateRead + ?Sized>(
    params: &ChainParams,
    state: &S,
    key: &Keypair,
    slot: u64,
    candidates: impl IntoIterator<Item = SignedTransaction>,
) -> Result<UnsignedBlock, BlockError> {
    let tip = state.tip()?;
    if slot <= tip.slot {
        return Err(BlockError::SlotTaken {
            slot,
            tip_slot: tip.slot,
        });
    }
    let forger = &key.public();
    if !schedule::leads(params, state, &tip, slot, forger)? {
        return Err(BlockError::NotOurSlot { slot, key: *forger });
    }
    let limits = params.limits();
    // The VRF proof is deterministic (one per key, seed and slot), so making
    // it before the slot is recorded releases nothing a second call would
    // not repeat.
    let seed = schedule::seed_for(params, state, &tip, params.epoch_of(slot))?;
    let (vrf, vrf_out) = crypto::vrf_prove(key, &block::vrf_input(&params.chain_id(), &seed, slot));
    let mut exec = Execution::start(params, state, slot, true)?;
    exec.mix_vrf(&vrf_out)?;
    let mut txs = Vec::new();
    let mut ids = Vec::new();
    let mut rejected = Vec::new();
    let mut bytes = 0usize;
    let mut fuel = 0u64;
    let block_fuel = params.contracts().map_or(0, |c| c.block_fuel);
    let mut seen = std::collections::BTreeSet::new();
    // A sender whose transaction failed here: its later ones would only
    // fail behind the nonce gap, each after a signature check.
    let mut failed = std::collections::BTreeSet::new();
    for stx in candidates {
        if txs.len() >= limits.max_block_txs as usize {
            break;
        }
        if failed.contains(&stx.tx.sender) {
            continue;
        }
        let checked = match check_in_block(&stx) {
            Ok(c) => c,
            Err(e) => {
                rejected.push((stx.id(), e.into()));
                continue;
            }
        };
        if !seen.insert(checked.id) || bytes + checked.size > limits.max_block_bytes as usize {
            continue;
        }
        // A contract transaction that asks for more fuel than the block has
        // left waits for another block (one over the whole limit fails in
        // `apply` and is rejected).
        let tx_fuel = stx.tx.kind.fuel_limit().unwrap_or(0);
        if tx_fuel > 0 && tx_fuel <= block_fuel && fuel + tx_fuel > block_fuel {
            continue;
        }
        match exec.apply(&stx, checked.id) {
            Ok(()) => {
                fuel += tx_fuel;
                bytes += checked.size;
                ids.push(checked.id);
                txs.push(stx);
            }
            Err(TxError::Storage(e)) => return Err(BlockError::Storage(e)),
            Err(e) => {
                if !matches!(e, TxError::NonceGap { .. } | TxError::NonceUsed { .. }) {
                    failed.insert(stx.tx.sender);
                }
                rejected.push((checked.id, e));
            }
        }
    }
    let mut header = Header {
        version: VERSION,
        chain_id: params.chain_id(),
        height: tip.height + 1,
        slot,
        parent: tip.hash,
        tx_root: merkle::root(&ids),
        state_digest: Hash::ZERO,
        forger: *forger,
        vrf,
    };
    let template = header.clone();
    let changes = exec.finish(forger, |digest| {
        let mut h = template;
        h.state_digest = *digest;
        h.hash()
    })?;
    header.state_digest = changes.digest;
    Ok(UnsignedBlock {
        header,
        txs,
        changes,
        rejected,
    })
}

/// Checks one transaction against `state` as if it were the first of a block
/// in `slot` (what a mempool asks before accepting it). Its nonce must be the
/// sender's next one; the stateless checks must have passed (`check`).
pub fn check_transaction<S: StateRead + ?Sized>(
    params: &ChainParams,
    state: &S,
    stx: &SignedTransaction,
    id: Hash,
    slot: u64,
) -> Result<(), TxError> {
    let tip = state.tip()?;
    let mut exec = Execution::start(params, state, slot.max(tip.slot + 1), false)?;
    exec.apply(stx, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::genesis::COIN;
    use crate::testkit::{TestNet, TestNetConfig};

    fn balance_and_nonce(state: &impl StateRead, who: &PublicKey) -> (u64, u64) {
        let a = state.account(who).unwrap();
        (a.balance, a.nonce)
    }

    #[test]
    fn a_transfer_moves_its_amount_charges_its_fee_and_pays_the_leader() {
        let net = TestNet::new(&TestNetConfig::default());
        let mut chain = net.chain();
        let (from, to) = (net.users[0].public(), net.users[1].public());
        let before_from = balance_and_nonce(&chain.state, &from);
        let before_to = balance_and_nonce(&chain.state, &to);
        let fee = net.params.genesis().min_fee;

        let tx = chain.transfer_from_user(0, to, 5 * COIN);
        let before = chain.state.clone();
        let block = chain.forge(vec![tx]);
        assert_eq!(block.txs.len(), 1, "the transfer went in");

        assert_eq!(
            balance_and_nonce(&chain.state, &from),
            (before_from.0 - 5 * COIN - fee, before_from.1 + 1)
        );
        assert_eq!(
            balance_and_nonce(&chain.state, &to),
            (before_to.0 + 5 * COIN, before_to.1),
            "the receiver's nonce is its own business"
        );
        // The leader (a forger, not a party to the transfer) takes the
        // reward and the fee.
        let leader = block.header.header.forger;
        assert_ne!(leader, from);
        assert_ne!(leader, to);
        assert_eq!(
            chain.state.account(&leader).unwrap().balance,
            before.account(&leader).unwrap().balance + net.params.genesis().block_reward + fee
        );
        // The tip moved to the block.
        let tip = chain.state.tip().unwrap();
        assert_eq!((tip.height, tip.hash), (1, block.hash()));
    }

    #[test]
    fn a_nonce_must_be_the_senders_next_one() {
        let net = TestNet::new(&TestNetConfig::default());
        let mut chain = net.chain();
        let user = &net.users[0];
        let to = net.users[1].public();
        let first = net.transfer(user, 0, to, COIN);
        chain.forge(vec![first.clone()]);
        let tip_slot = chain.state.tip().unwrap().slot;
        let check = |stx: &SignedTransaction| {
            check_transaction(&net.params, &chain.state, stx, stx.id(), tip_slot + 1)
        };
        assert_eq!(
            check(&first),
            Err(TxError::NonceUsed {
                sender: user.public(),
                expected: 1,
                got: 0
            }),
            "a replay"
        );
        assert_eq!(
            check(&net.transfer(user, 2, to, COIN)),
            Err(TxError::NonceGap {
                sender: user.public(),
                expected: 1,
                got: 2
            })
        );
        assert_eq!(check(&net.transfer(user, 1, to, COIN)), Ok(()));
    }

    #[test]
    fn the_builder_leaves_out_what_does_not_apply_and_says_why() {
        let net = TestNet::new(&TestNetConfig::default());
        let chain = net.chain();
        let user = &net.users[0];
        let to = net.users[1].public();
        let balance = chain.state.account(&user.public()).unwrap().balance;
        let too_much = net.transfer(user, 0, to, balance);
        let fine = net.transfer(&net.users[2], 0, to, COIN);
        let tip = chain.state.tip().unwrap();
        let (slot, key) = (1..)
            .find_map(|s| {
                let l = schedule::leader(&net.params, &chain.state, &tip, s).unwrap()?;
                Some((s, net.forger_key(&l)?.clone()))
            })
            .unwrap();
        let u = prepare_block(
            &net.params,
            &chain.state,
            &key,
            slot,
            vec![too_much.clone(), fine.clone()],
        )
        .unwrap();
        assert_eq!(u.txs, vec![fine]);
        assert_eq!(
            u.rejected,
            vec![(
                too_much.id(),
                TxError::InsufficientBalance {
                    sender: user.public(),
                    balance,
                    needed: balance as u128 + net.params.genesis().min_fee as u128,
                }
            )]
        );
        // The slot must come after the tip's.
        assert!(matches!(
            prepare_block(&net.params, &chain.state, &key, 0, Vec::new()),
            Err(BlockError::SlotTaken {
                slot: 0,
                tip_slot: 0
            })
        ));
    }

    #[test]
    fn a_block_whose_transactions_do_not_match_its_root_is_refused() {
        let net = TestNet::new(&TestNetConfig::default());
        let mut chain = net.chain();
        let parent = chain.state.clone();
        let tx = chain.transfer_from_user(0, net.users[1].public(), COIN);
        let mut block = chain.forge(vec![tx]);
        assert!(apply_block(&net.params, &parent, &block, Parallelism::Single).is_ok());
        block.txs.clear();
        match apply_block(&net.params, &parent, &block, Parallelism::Single) {
            Err(BlockError::TxRoot { height: 1, got, .. }) => {
                assert_eq!(got, block.header.header.tx_root)
            }
            other => panic!("expected TxRoot, got {other:?}"),
        }
    }
}
