//! The mempool: valid transactions waiting for a block. Pure logic: the
//! ledger state comes in as an argument.
//!
//! - Bounded in count, and per sender; when full, a transaction paying more
//!   than the cheapest one evicts it, one paying less is refused — except
//!   that transactions held back behind a nonce gap go first: any
//!   transaction that can go in a block evicts the cheapest held-back one,
//!   and a held-back one never evicts one that can. (Held-back transactions
//!   cost their sender nothing until the gap fills; without this, a flood
//!   of them paying a little more than the minimum would keep the pool full
//!   for ever and every honest transaction out.)
//! - No duplicates; a transaction with the same sender and nonce as a
//!   pending one replaces it only if it pays a higher fee.
//! - A transaction whose nonce is the sender's next is checked in full
//!   against the state; one further ahead is held back (checked for
//!   signature, fee and balance) until the nonces before it arrive.
//! - A held-back transaction is admitted only if the sender's running total
//!   (amount + fee of its pending transactions before it, and its own) fits
//!   its balance.
//! - Blocks are filled from [`Mempool::select`]: highest fee first, each
//!   sender's transactions in nonce order, gaps never crossed, and a
//!   sender's run cut where its running total passes its balance; the
//!   block builder pulls until the block is full, so unpayable
//!   transactions take no room.
//! - After each new tip, [`Mempool::prune`] drops what the chain has passed
//!   and [`Mempool::drop_failing_heads`] each sender's next transaction that
//!   no longer applies, so none waits for ever at the head of its sender's
//!   queue.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use crate::chain::crypto::{Hash, PublicKey};
use crate::chain::genesis::ChainParams;
use crate::chain::tx::{SignedTransaction, TxKind};
use crate::ledger::state::{ReadError, StateRead, StateReadExt};
use crate::ledger::{self, TxError};

/// Mempool bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MempoolLimits {
    /// Transactions in all.
    pub max_txs: usize,
    /// Their encoded bytes in all: a contract deploy may be 68 KiB, so a
    /// count alone would let the pool hold over a GiB.
    pub max_bytes: usize,
    /// Transactions per sender.
    pub max_per_sender: usize,
    /// How far ahead of the sender's next nonce a transaction may be.
    pub max_nonce_gap: u64,
}

impl Default for MempoolLimits {
    fn default() -> Self {
        MempoolLimits {
            max_txs: 20_000,
            // 20,000 transactions of 2 KiB, the most the pool held before
            // contracts.
            max_bytes: 40 << 20,
            max_per_sender: 64,
            max_nonce_gap: 64,
        }
    }
}

/// Why a transaction was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MempoolError {
    /// It breaks a ledger rule.
    #[error(transparent)]
    Invalid(#[from] TxError),
    /// The same sender and nonce is pending with a fee at least as high.
    #[error("nonce {nonce} of {sender} is already pending with fee {pending_fee}; pay more than that to replace it")]
    NonceTaken {
        /// The sender.
        sender: PublicKey,
        /// The nonce.
        nonce: u64,
        /// The pending transaction's fee.
        pending_fee: u64,
    },
    /// Too far ahead of the sender's next nonce.
    #[error("nonce {nonce} is more than {max_gap} ahead of {sender}'s next nonce {next}")]
    NonceTooFar {
        /// The sender.
        sender: PublicKey,
        /// The nonce.
        nonce: u64,
        /// The next nonce.
        next: u64,
        /// The allowed gap.
        max_gap: u64,
    },
    /// The sender has too many pending.
    #[error("{sender} already has {count} transactions pending (the limit)")]
    SenderFull {
        /// The sender.
        sender: PublicKey,
        /// Pending count.
        count: usize,
    },
    /// The pool is full of transactions paying at least as much.
    #[error("mempool full: fee {fee} must be above the lowest pending fee {lowest}")]
    Full {
        /// The fee offered.
        fee: u64,
        /// The lowest pending fee.
        lowest: u64,
    },
}

impl MempoolError {
    /// A stable name for the kind of refusal ([`TxError::code`] for a
    /// ledger rule; `nonce-taken`, `nonce-too-far`, `sender-full`,
    /// `mempool-full` for the pool's own).
    pub fn code(&self) -> &'static str {
        match self {
            MempoolError::Invalid(e) => e.code(),
            MempoolError::NonceTaken { .. } => "nonce-taken",
            MempoolError::NonceTooFar { .. } => "nonce-too-far",
            MempoolError::SenderFull { .. } => "sender-full",
            MempoolError::Full { .. } => "mempool-full",
        }
    }

    /// Whether it is a signature that does not verify
    /// ([`TxError::is_bad_signature`]).
    pub fn is_bad_signature(&self) -> bool {
        matches!(self, MempoolError::Invalid(e) if e.is_bad_signature())
    }
}

/// What admitting a transaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admitted {
    /// New in the pool.
    Added,
    /// Already pending: nothing changed.
    Duplicate,
    /// Replaced a pending one with the same nonce (its id).
    Replaced(Hash),
}

#[derive(Debug, Clone)]
struct Entry {
    tx: SignedTransaction,
    fee: u64,
    /// Its encoded size, bytes.
    size: usize,
    /// Behind a nonce gap (as of the last state seen).
    held: bool,
}

type FeeKey = (u64, std::cmp::Reverse<u64>, Hash);

fn fee_key(e: &Entry, id: Hash) -> FeeKey {
    (e.fee, std::cmp::Reverse(e.tx.tx.nonce), id)
}

/// The block candidates of [`Mempool::select`], pulled one at a time.
#[derive(Debug)]
pub struct Selection<'a> {
    pool: &'a Mempool,
    /// (fee, sender, nonce) of each sender's next candidate.
    heap: BinaryHeap<(u64, std::cmp::Reverse<PublicKey>, u64)>,
    /// What each sender's balance still pays.
    left: BTreeMap<PublicKey, u64>,
}

impl Iterator for Selection<'_> {
    type Item = SignedTransaction;

    fn next(&mut self) -> Option<SignedTransaction> {
        while let Some((_, std::cmp::Reverse(sender), nonce)) = self.heap.pop() {
            let m = &self.pool.by_sender[&sender];
            let e = &self.pool.by_id[&m[&nonce]];
            let needed = amount_of(&e.tx) as u128 + e.fee as u128;
            let left = self.left.entry(sender).or_insert(0);
            if needed > *left as u128 {
                // Unpayable: this sender's run ends here.
                continue;
            }
            *left -= needed as u64;
            if let Some(id) = m.get(&(nonce + 1)) {
                let fee = self.pool.by_id[id].fee;
                self.heap.push((fee, std::cmp::Reverse(sender), nonce + 1));
            }
            return Some(e.tx.clone());
        }
        None
    }
}

/// The mempool.
#[derive(Debug, Clone, Default)]
pub struct Mempool {
    limits: MempoolLimits,
    by_id: BTreeMap<Hash, Entry>,
    by_sender: BTreeMap<PublicKey, BTreeMap<u64, Hash>>,
    /// (fee, nonce reversed, id): the first is the first to evict.
    by_fee: BTreeSet<FeeKey>,
    /// The same, for the held-back ones only: evicted before any other.
    held: BTreeSet<FeeKey>,
    /// The encoded size of every pending transaction, bytes.
    bytes: usize,
}

fn amount_of(tx: &SignedTransaction) -> u64 {
    match &tx.tx.kind {
        TxKind::Transfer { amount, .. }
        | TxKind::BuyWeight { amount, .. }
        | TxKind::CallContract { value: amount, .. } => *amount,
        _ => 0,
    }
}

impl Mempool {
    /// An empty pool.
    pub fn new(limits: MempoolLimits) -> Mempool {
        Mempool {
            limits,
            ..Mempool::default()
        }
    }

    /// How many transactions are pending.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Whether `id` is pending.
    pub fn contains(&self, id: &Hash) -> bool {
        self.by_id.contains_key(id)
    }

    /// The next nonce `sender` should use, counting its pending transactions
    /// in an unbroken run from the state's next nonce.
    pub fn next_nonce(&self, sender: &PublicKey, state_nonce: u64) -> u64 {
        let mut n = state_nonce;
        if let Some(m) = self.by_sender.get(sender) {
            while m.contains_key(&n) {
                n += 1;
            }
        }
        n
    }

    /// Admits `tx` (whose stateless checks passed, giving `id`) against
    /// `state`, for a block in `slot`.
    pub fn admit<S: StateRead + ?Sized>(
        &mut self,
        params: &ChainParams,
        state: &S,
        tx: SignedTransaction,
        id: Hash,
        slot: u64,
    ) -> Result<Admitted, MempoolError> {
        if self.by_id.contains_key(&id) {
            return Ok(Admitted::Duplicate);
        }
        let sender = tx.tx.sender;
        let nonce = tx.tx.nonce;
        let fee = tx.tx.fee;
        let account = state.account(&sender).map_err(TxError::from)?;
        if nonce == account.nonce {
            ledger::check_transaction(params, state, &tx, id, slot)?;
        } else {
            // Held back until the nonces before it arrive: check what can be.
            if tx.tx.chain_id != params.chain_id() {
                return Err(TxError::WrongChain {
                    expected: params.chain_id(),
                    got: tx.tx.chain_id,
                }
                .into());
            }
            if nonce < account.nonce {
                return Err(TxError::NonceUsed {
                    sender,
                    expected: account.nonce,
                    got: nonce,
                }
                .into());
            }
            if nonce - account.nonce > self.limits.max_nonce_gap {
                return Err(MempoolError::NonceTooFar {
                    sender,
                    nonce,
                    next: account.nonce,
                    max_gap: self.limits.max_nonce_gap,
                });
            }
            let min = params.genesis().min_fee;
            if fee < min {
                return Err(TxError::FeeTooLow { fee, min }.into());
            }
            // The sender's running total: what its pending transactions
            // before this one spend, and this one. Checked against the
            // balance alone, a run of transactions each worth the whole
            // balance would crowd honest ones out of the pool and blocks.
            let before: u128 = self
                .by_sender
                .get(&sender)
                .map(|m| {
                    m.range(account.nonce..nonce)
                        .map(|(_, id)| {
                            let e = &self.by_id[id];
                            amount_of(&e.tx) as u128 + e.fee as u128
                        })
                        .sum()
                })
                .unwrap_or(0);
            let needed = before + amount_of(&tx) as u128 + fee as u128;
            if needed > account.balance as u128 {
                return Err(TxError::InsufficientBalance {
                    sender,
                    balance: account.balance,
                    needed,
                }
                .into());
            }
        }
        // Same sender and nonce pending: replace only for a higher fee.
        let mut replaced = None;
        if let Some(old_id) = self
            .by_sender
            .get(&sender)
            .and_then(|m| m.get(&nonce))
            .copied()
        {
            let old_fee = self.by_id[&old_id].fee;
            if fee <= old_fee {
                return Err(MempoolError::NonceTaken {
                    sender,
                    nonce,
                    pending_fee: old_fee,
                });
            }
            self.remove(&old_id);
            replaced = Some(old_id);
        }
        let count = self.by_sender.get(&sender).map_or(0, |m| m.len());
        if replaced.is_none() && count >= self.limits.max_per_sender {
            return Err(MempoolError::SenderFull { sender, count });
        }
        let size = tx.to_bytes().len();
        if self.by_id.len() >= self.limits.max_txs || self.bytes + size > self.limits.max_bytes {
            // Can it go in a block (its nonce continues the pending run)?
            let ready = nonce == self.next_nonce(&sender, account.nonce);
            // Held-back ones go first: for anything that can go in a block,
            // or for a held-back one paying more; then the cheapest ready
            // ones, only for a ready one paying more. All the victims are
            // chosen before any is removed, so a refusal evicts nothing.
            let mut victims = Vec::new();
            let (mut count, mut bytes) = (self.by_id.len(), self.bytes);
            let mut held = self.held.iter();
            let mut ready_ones = self.by_fee.iter().filter(|k| !self.held.contains(*k));
            while count >= self.limits.max_txs || bytes + size > self.limits.max_bytes {
                let victim = match held.next() {
                    Some(&(lowest, _, cheapest)) => {
                        if !ready && fee <= lowest {
                            return Err(MempoolError::Full { fee, lowest });
                        }
                        cheapest
                    }
                    None => match ready_ones.next() {
                        Some(&(lowest, _, cheapest)) => {
                            if !ready || fee <= lowest {
                                return Err(MempoolError::Full { fee, lowest });
                            }
                            cheapest
                        }
                        // Nothing left to evict: larger than the pool.
                        None => return Err(MempoolError::Full { fee, lowest: fee }),
                    },
                };
                count -= 1;
                bytes -= self.by_id[&victim].size;
                victims.push(victim);
            }
            for v in victims {
                self.remove(&v);
            }
        }
        let e = Entry {
            size,
            tx,
            fee,
            held: false,
        };
        self.bytes += e.size;
        self.by_fee.insert(fee_key(&e, id));
        self.by_sender.entry(sender).or_default().insert(nonce, id);
        self.by_id.insert(id, e);
        self.recheck(&sender, account.nonce);
        Ok(match replaced {
            Some(old) => Admitted::Replaced(old),
            None => Admitted::Added,
        })
    }

    /// Removes a transaction; returns it if it was pending. Its sender's
    /// later ones are held back behind the gap it leaves.
    pub fn remove(&mut self, id: &Hash) -> Option<SignedTransaction> {
        let e = self.by_id.remove(id)?;
        self.bytes -= e.size;
        let key = fee_key(&e, *id);
        self.by_fee.remove(&key);
        self.held.remove(&key);
        let (sender, nonce) = (e.tx.tx.sender, e.tx.tx.nonce);
        let later: Vec<Hash> = match self.by_sender.get_mut(&sender) {
            Some(m) => {
                m.remove(&nonce);
                let later = m.range(nonce..).map(|(_, id)| *id).collect();
                if m.is_empty() {
                    self.by_sender.remove(&sender);
                }
                later
            }
            None => Vec::new(),
        };
        for id in later {
            self.set_held(&id, true);
        }
        Some(e.tx)
    }

    fn set_held(&mut self, id: &Hash, held: bool) {
        let Some(e) = self.by_id.get_mut(id) else {
            return;
        };
        if e.held == held {
            return;
        }
        e.held = held;
        let key = fee_key(e, *id);
        if held {
            self.held.insert(key);
        } else {
            self.held.remove(&key);
        }
    }

    /// Marks `sender`'s run from `next` (its next nonce in the state) as
    /// ready and what follows a gap as held back.
    fn recheck(&mut self, sender: &PublicKey, next: u64) {
        let Some(m) = self.by_sender.get(sender) else {
            return;
        };
        let mut expected = next;
        let marks: Vec<(Hash, bool)> = m
            .iter()
            .map(|(&nonce, id)| {
                let ready = nonce == expected;
                if ready {
                    expected += 1;
                }
                (*id, !ready)
            })
            .collect();
        for (id, held) in marks {
            self.set_held(&id, held);
        }
    }

    /// Transactions held back behind a nonce gap.
    pub fn held_back(&self) -> usize {
        self.held.len()
    }

    /// Drops every transaction whose nonce the state has passed (included in
    /// a block, or replaced by one that was). Call after each new tip.
    pub fn prune<S: StateRead + ?Sized>(&mut self, state: &S) -> Result<usize, ReadError> {
        let mut stale = Vec::new();
        let mut next = Vec::new();
        for (sender, m) in &self.by_sender {
            let n = state.account(sender)?.nonce;
            stale.extend(m.range(..n).map(|(_, id)| *id));
            next.push((*sender, n));
        }
        for id in &stale {
            self.remove(id);
        }
        // What waited for the nonces the chain just passed may go now.
        for (sender, n) in next {
            self.recheck(&sender, n);
        }
        Ok(stale.len())
    }

    /// Drops each sender's next transaction (its nonce the state's next)
    /// that no longer applies to `state` in `slot` — its epoch passed, an
    /// earlier transaction spent the balance it needs, its proposal lapsed —
    /// so that a transaction that cannot land does not hold its sender's
    /// queue for ever (and a client resubmitting it learns why). The ones
    /// behind it stay held back until that nonce arrives again. Returns what
    /// was dropped and why. Call after each new tip, after [`Mempool::prune`].
    pub fn drop_failing_heads<S: StateRead + ?Sized>(
        &mut self,
        params: &ChainParams,
        state: &S,
        slot: u64,
    ) -> Result<Vec<(Hash, TxError)>, ReadError> {
        let mut failing = Vec::new();
        for (sender, m) in &self.by_sender {
            let next = state.account(sender)?.nonce;
            let Some(id) = m.get(&next) else {
                continue;
            };
            match ledger::check_transaction(params, state, &self.by_id[id].tx, *id, slot) {
                Ok(()) => {}
                Err(TxError::Storage(e)) => return Err(e),
                Err(e) => failing.push((*id, e)),
            }
        }
        for (id, _) in &failing {
            self.remove(id);
        }
        Ok(failing)
    }

    /// Up to `max` transactions for a block, as [`Mempool::select`] gives
    /// them.
    pub fn candidates<S: StateRead + ?Sized>(
        &self,
        state: &S,
        max: usize,
    ) -> Result<Vec<SignedTransaction>, ReadError> {
        Ok(self.select(state)?.take(max).collect())
    }

    /// The transactions for a block, lazily (pull until the block is full):
    /// highest fee first, each sender's in nonce order from its next nonce
    /// in `state`, never across a gap, and never past what its balance in
    /// `state` pays — a sender's run stops at the first transaction whose
    /// amount + fee, added to those before it, exceeds its balance (coins
    /// it receives in the same block are not counted: that transaction
    /// waits for the next block).
    pub fn select<S: StateRead + ?Sized>(&self, state: &S) -> Result<Selection<'_>, ReadError> {
        // One cursor per sender whose next nonce is pending.
        let mut heap = BinaryHeap::new();
        let mut left = BTreeMap::new();
        for (sender, m) in &self.by_sender {
            let account = state.account(sender)?;
            if let Some(id) = m.get(&account.nonce) {
                heap.push((
                    self.by_id[id].fee,
                    std::cmp::Reverse(*sender),
                    account.nonce,
                ));
                left.insert(*sender, account.balance);
            }
        }
        Ok(Selection {
            pool: self,
            heap,
            left,
        })
    }

    /// The encoded size of every pending transaction together, bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// A pending transaction.
    pub fn get(&self, id: &Hash) -> Option<&SignedTransaction> {
        self.by_id.get(id).map(|e| &e.tx)
    }

    /// Pending transactions, highest fee first (the order a block would
    /// rather take them, gaps and balances aside): for showing the pool.
    pub fn by_fee(&self) -> impl Iterator<Item = &SignedTransaction> {
        self.by_fee
            .iter()
            .rev()
            .map(|(_, _, id)| &self.by_id[id].tx)
    }

    /// Every pending transaction (for relaying to a new peer).
    pub fn all(&self) -> impl Iterator<Item = &SignedTransaction> {
        self.by_id.values().map(|e| &e.tx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::codec::Bytes;
    use crate::chain::crypto::Keypair;
    use crate::chain::genesis::COIN;
    use crate::chain::tx::Transaction;
    use crate::ledger::state::MemState;
    use crate::testkit::{TestNet, TestNetConfig};

    fn transfer(net: &TestNet, from: &Keypair, nonce: u64, fee: u64) -> SignedTransaction {
        Transaction {
            chain_id: net.params.chain_id(),
            sender: from.public(),
            nonce,
            fee,
            kind: TxKind::Transfer {
                to: net.association.public(),
                amount: COIN,
            },
            memo: Bytes::empty(),
        }
        .sign(from)
    }

    struct Pool {
        net: TestNet,
        state: MemState,
        pool: Mempool,
    }

    impl Pool {
        fn new(limits: MempoolLimits) -> Pool {
            let net = TestNet::new(&TestNetConfig::default());
            let state = net.chain().state;
            Pool {
                net,
                state,
                pool: Mempool::new(limits),
            }
        }

        fn admit(&mut self, tx: &SignedTransaction) -> Result<Admitted, MempoolError> {
            self.pool
                .admit(&self.net.params, &self.state, tx.clone(), tx.id(), 1)
        }

        fn selected(&self) -> Vec<Hash> {
            self.pool
                .select(&self.state)
                .unwrap()
                .map(|t| t.id())
                .collect()
        }
    }

    #[test]
    fn the_pool_counts_its_bytes_and_lists_the_highest_fee_first() {
        let mut p = Pool::new(MempoolLimits::default());
        let [a, b] = [0, 1].map(|i| p.net.users[i].clone());
        let a0 = transfer(&p.net, &a, 0, 50);
        let b0 = transfer(&p.net, &b, 0, 70);
        let a1 = transfer(&p.net, &a, 1, 60);
        for t in [&a0, &b0, &a1] {
            assert_eq!(p.admit(t), Ok(Admitted::Added));
        }
        let size = |t: &SignedTransaction| t.to_bytes().len();
        assert_eq!(p.pool.bytes(), size(&a0) + size(&b0) + size(&a1));
        let listed: Vec<Hash> = p.pool.by_fee().map(|t| t.id()).collect();
        assert_eq!(listed, vec![b0.id(), a1.id(), a0.id()]);
        assert_eq!(p.pool.get(&b0.id()), Some(&b0));
        // A replacement (same nonce, higher fee) and a removal keep the count.
        let b0x = transfer(&p.net, &b, 0, 90);
        assert_eq!(p.admit(&b0x), Ok(Admitted::Replaced(b0.id())));
        p.pool.remove(&a1.id());
        assert_eq!(p.pool.bytes(), size(&a0) + size(&b0x));
        assert_eq!(p.pool.get(&b0.id()), None);
        p.pool.remove(&a0.id());
        p.pool.remove(&b0x.id());
        assert_eq!((p.pool.bytes(), p.pool.by_fee().count()), (0, 0));
    }

    #[test]
    fn blocks_take_the_highest_fee_first_but_never_cross_a_nonce_gap() {
        let mut p = Pool::new(MempoolLimits::default());
        let [a, b, c] = [0, 1, 2].map(|i| p.net.users[i].clone());
        let a0 = transfer(&p.net, &a, 0, 50);
        let b0 = transfer(&p.net, &b, 0, 20);
        let c1 = transfer(&p.net, &c, 1, 100);
        for t in [&a0, &b0, &c1] {
            assert_eq!(p.admit(t), Ok(Admitted::Added));
        }
        // c's nonce 0 is missing: its well-paid nonce 1 waits.
        assert_eq!(p.pool.held_back(), 1);
        assert_eq!(p.pool.next_nonce(&c.public(), 0), 0);
        assert_eq!(p.selected(), vec![a0.id(), b0.id()]);
        // The gap fills with a cheap one: it goes first, then its successor.
        let c0 = transfer(&p.net, &c, 0, 10);
        assert_eq!(p.admit(&c0), Ok(Admitted::Added));
        assert_eq!(p.pool.held_back(), 0);
        assert_eq!(p.pool.next_nonce(&c.public(), 0), 2);
        assert_eq!(p.selected(), vec![a0.id(), b0.id(), c0.id(), c1.id()]);
    }

    #[test]
    fn a_pending_nonce_is_replaced_only_by_a_higher_fee() {
        let mut p = Pool::new(MempoolLimits::default());
        let a = p.net.users[0].clone();
        let first = transfer(&p.net, &a, 0, 20);
        assert_eq!(p.admit(&first), Ok(Admitted::Added));
        assert_eq!(p.admit(&first), Ok(Admitted::Duplicate));
        assert_eq!(
            p.admit(&transfer(&p.net, &a, 0, 20)),
            Ok(Admitted::Duplicate),
            "signatures are deterministic: the same transaction"
        );
        let mut other = transfer(&p.net, &a, 0, 20).tx;
        other.memo = Bytes::new(*b"x").unwrap();
        let same_fee = other.sign(&a);
        assert_eq!(
            p.admit(&same_fee),
            Err(MempoolError::NonceTaken {
                sender: a.public(),
                nonce: 0,
                pending_fee: 20
            })
        );
        let better = transfer(&p.net, &a, 0, 21);
        assert_eq!(p.admit(&better), Ok(Admitted::Replaced(first.id())));
        assert!(!p.pool.contains(&first.id()));
        assert_eq!(p.pool.len(), 1);
    }

    #[test]
    fn a_full_pool_evicts_its_cheapest_for_a_better_fee_and_refuses_a_worse_one() {
        let mut p = Pool::new(MempoolLimits {
            max_txs: 2,
            ..MempoolLimits::default()
        });
        let [a, b, c, d] = [0, 1, 2, 3].map(|i| p.net.users[i].clone());
        let cheap = transfer(&p.net, &a, 0, 20);
        let dear = transfer(&p.net, &b, 0, 30);
        p.admit(&cheap).unwrap();
        p.admit(&dear).unwrap();
        assert_eq!(
            p.admit(&transfer(&p.net, &c, 0, 20)),
            Err(MempoolError::Full {
                fee: 20,
                lowest: 20
            })
        );
        let better = transfer(&p.net, &d, 0, 21);
        assert_eq!(p.admit(&better), Ok(Admitted::Added));
        assert_eq!(p.pool.len(), 2);
        assert!(!p.pool.contains(&cheap.id()), "the cheapest went");
        assert!(p.pool.contains(&dear.id()) && p.pool.contains(&better.id()));
    }

    #[test]
    fn a_pool_full_by_bytes_evicts_as_many_as_a_large_one_needs_or_none() {
        let mut p = Pool::new(MempoolLimits::default());
        let [a, b, c, d] = [0, 1, 2, 3].map(|i| p.net.users[i].clone());
        let e = p.net.forgers[0].clone();
        let small: Vec<SignedTransaction> = [&a, &b, &c]
            .iter()
            .zip([2_000, 2_001, 2_002])
            .map(|(k, fee)| transfer(&p.net, k, 0, fee))
            .collect();
        let size = small[0].to_bytes().len();
        // A deploy of 3 KiB of code (the mempool does not compile it).
        let chain_id = p.net.params.chain_id();
        let deploy = |key: &Keypair, fee: u64| {
            Transaction {
                chain_id,
                sender: key.public(),
                nonce: 0,
                fee,
                kind: TxKind::DeployContract {
                    code: Bytes::new(vec![0; 3 * 1024]).unwrap(),
                    init: Bytes::empty(),
                    fuel_limit: 1_000,
                },
                memo: Bytes::empty(),
            }
            .sign(key)
        };
        let big = deploy(&d, 2_100);
        // Room for the three small ones and less than a third of the deploy.
        p.pool.limits.max_bytes = 3 * size + 1024;
        for t in &small {
            p.admit(t).unwrap();
        }
        // Not paying more than the cheapest (fees compare whole, not per
        // byte): refused, and nothing evicted.
        let poor = deploy(&e, 1_990);
        assert!(matches!(p.admit(&poor), Err(MempoolError::Full { .. })));
        assert_eq!(p.pool.len(), 3, "a refusal evicts nothing");
        // Room for two small ones beside it: the two cheapest go, the
        // dearest stays.
        p.pool.limits.max_bytes = big.to_bytes().len() + size + 100;
        p.admit(&big).unwrap();
        assert_eq!(p.pool.len(), 2);
        assert!(p.pool.contains(&big.id()) && p.pool.contains(&small[2].id()));
        assert!(p.pool.bytes() <= p.pool.limits.max_bytes);
    }
}
