//! A chain driven in memory for the ledger tests: genesis, known keys, and
//! blocks forged with `prepare_block` + `sign` and accepted with
//! `apply_block` + `MemState::apply`, the way a node does it.
//!
//! Each test crate uses a different part of this module.
#![allow(dead_code)]
// Mirrors `apply_block`, whose error carries its context by value (as the
// library allows crate-wide).
#![allow(clippy::result_large_err)]

use goodwill::block::{Block, Header, SignedHeader, VERSION};
use goodwill::codec::Bytes;
use goodwill::crypto::{Hash, Keypair, PublicKey};
use goodwill::genesis::{Balance, ChainParams, Genesis, GenesisAssociation, Limits};
use goodwill::ledger::{self, BlockError, Parallelism, TxError, UnsignedBlock};
use goodwill::merkle;
use goodwill::schedule;
use goodwill::state::{Account, MemState, StateChanges, StateReadExt, Tip};
use goodwill::tx::{association_proof, SignedTransaction, Transaction, TxKind};

/// The block reward of the test chains.
pub const REWARD: u64 = 1_000;
/// The minimum fee of the test chains.
pub const MIN_FEE: u64 = 10;
/// Slots per epoch.
pub const EPOCH_SLOTS: u64 = 4;
/// Epochs a proposal stays open.
pub const TTL: u64 = 2;
/// How far ahead weight is sold.
pub const AHEAD: u64 = 5;
/// The equivocation bounty.
pub const BOUNTY: u64 = 500;
/// Every initial balance.
pub const START: u64 = 1_000_000;

/// The key pair of seed `[i; 32]` (i > 0).
pub fn kp(i: u8) -> Keypair {
    Keypair::from_seed([i; 32]).expect("a non-zero seed")
}

/// The three bootstrap forgers, in turn order.
pub fn forgers() -> Vec<Keypair> {
    (1..=3).map(kp).collect()
}

/// Users (no weight, not forgers): A, B, C, D.
pub fn users() -> Vec<Keypair> {
    (10..=13).map(kp).collect()
}

/// The association approved at genesis.
pub fn assoc_x() -> Keypair {
    kp(100)
}

/// An association that is not listed yet.
pub fn assoc_y() -> Keypair {
    kp(101)
}

/// The base genesis: three bootstrap forgers and four users with
/// [`START`] each, association X approved.
pub fn base_genesis() -> Genesis {
    let x = assoc_x();
    Genesis {
        chain_name: "ledger-tests".into(),
        start_ms: 0,
        slot_ms: 1_000,
        epoch_slots: EPOCH_SLOTS,
        block_reward: REWARD,
        min_fee: MIN_FEE,
        finality_depth: 8,
        bootstrap_forgers: forgers().iter().map(|k| k.public()).collect(),
        limits: Limits {
            proposal_ttl_epochs: TTL,
            equivocation_bounty: BOUNTY,
            max_weight_epochs_ahead: AHEAD,
            ..Limits::default()
        },
        balances: forgers()
            .iter()
            .chain(&users())
            .map(|k| Balance {
                address: k.public(),
                amount: START,
            })
            .collect(),
        associations: vec![GenesisAssociation {
            name: Bytes::new(*b"X food bank").unwrap(),
            url: Bytes::new(*b"https://x.example").unwrap(),
            account: x.public(),
        }],
    }
}

/// What forging one block produced.
#[derive(Debug)]
pub struct Forged {
    /// The block, as accepted.
    pub block: Block,
    /// What it changed.
    pub changes: StateChanges,
    /// Candidates `prepare_block` left out, and why.
    pub rejected: Vec<(Hash, TxError)>,
}

/// A chain in memory with every key that may lead or sign in it.
#[derive(Debug, Clone)]
pub struct Chain {
    /// The parameters.
    pub params: ChainParams,
    /// The state at the tip.
    pub state: MemState,
    /// Every key the test knows.
    pub keys: Vec<Keypair>,
}

impl Chain {
    /// The base chain (see [`base_genesis`]).
    pub fn new() -> Chain {
        Chain::with(base_genesis())
    }

    /// A chain from `genesis`.
    pub fn with(genesis: Genesis) -> Chain {
        let params = ChainParams::new(genesis).expect("a valid test genesis");
        let mut state = MemState::new();
        state.apply(&ledger::genesis_changes(&params));
        let keys = forgers()
            .into_iter()
            .chain(users())
            .chain([assoc_x(), assoc_y()])
            .chain((200..=203).map(kp))
            .collect();
        Chain {
            params,
            state,
            keys,
        }
    }

    /// The chain id.
    pub fn id(&self) -> Hash {
        self.params.chain_id()
    }

    /// The tip.
    pub fn tip(&self) -> Tip {
        self.state.tip().unwrap()
    }

    /// The epoch of the tip's slot.
    pub fn epoch(&self) -> u64 {
        self.params.epoch_of(self.tip().slot)
    }

    /// The epoch the next block will be in.
    pub fn next_epoch(&self) -> u64 {
        self.params.epoch_of(self.next_led_slot().0)
    }

    /// An account.
    pub fn account(&self, pk: &PublicKey) -> Account {
        self.state.account(pk).unwrap()
    }

    /// A balance.
    pub fn balance(&self, pk: &PublicKey) -> u64 {
        self.account(pk).balance
    }

    /// The known key pair of `pk`.
    pub fn key(&self, pk: &PublicKey) -> &Keypair {
        self.keys
            .iter()
            .find(|k| k.public() == *pk)
            .unwrap_or_else(|| panic!("{pk} is not a key the test knows"))
    }

    /// The leader of `slot` on top of the tip.
    pub fn leader(&self, slot: u64) -> Option<PublicKey> {
        schedule::leader(&self.params, &self.state, &self.tip(), slot).unwrap()
    }

    /// The first slot at or after `from` (and after the tip) that has a
    /// leader, and that leader.
    pub fn led_slot_from(&self, from: u64) -> (u64, PublicKey) {
        let start = from.max(self.tip().slot + 1);
        (start..start + 10_000)
            .find_map(|s| self.leader(s).map(|l| (s, l)))
            .expect("a led slot within 10 000 slots")
    }

    /// The next slot with a leader, and the leader.
    pub fn next_led_slot(&self) -> (u64, PublicKey) {
        self.led_slot_from(0)
    }

    /// `prepare_block` at `slot` by its leader.
    pub fn prepare_at(&self, slot: u64, txs: Vec<SignedTransaction>) -> (UnsignedBlock, PublicKey) {
        let leader = self.leader(slot).expect("the slot has a leader");
        let u = ledger::prepare_block(&self.params, &self.state, &leader, slot, txs)
            .expect("the leader can build a block");
        (u, leader)
    }

    /// Forges a block at `slot` from `txs`, checks it as a receiving node
    /// would (and that it agrees with the builder), and moves to it.
    pub fn forge_at(&mut self, slot: u64, txs: Vec<SignedTransaction>) -> Forged {
        let (u, leader) = self.prepare_at(slot, txs);
        let rejected = u.rejected.clone();
        let built = u.changes.clone();
        let block = u.sign(self.key(&leader));
        let changes = ledger::apply_block(&self.params, &self.state, &block, Parallelism::Single)
            .unwrap_or_else(|e| panic!("a block built by prepare_block is refused: {e}"));
        assert_eq!(changes, built, "builder and checker disagree");
        assert_eq!(changes.tip().unwrap().hash, block.hash());
        self.state.apply(&changes);
        Forged {
            block,
            changes,
            rejected,
        }
    }

    /// Forges the next block (first led slot) from `txs`.
    pub fn forge(&mut self, txs: Vec<SignedTransaction>) -> Forged {
        let (slot, _) = self.next_led_slot();
        self.forge_at(slot, txs)
    }

    /// Forges from `txs` and asserts every one went in.
    pub fn forge_ok(&mut self, txs: Vec<SignedTransaction>) -> Forged {
        let n = txs.len();
        let f = self.forge(txs);
        assert!(f.rejected.is_empty(), "rejected: {:?}", f.rejected);
        assert_eq!(f.block.txs.len(), n);
        f
    }

    /// Forges one empty block in the first led slot of `epoch` or later.
    pub fn advance_to_epoch(&mut self, epoch: u64) -> Forged {
        let (slot, _) = self.led_slot_from(self.params.first_slot(epoch));
        self.forge_at(slot, vec![])
    }

    /// A signed transaction with an explicit nonce and fee.
    pub fn tx_full(&self, key: &Keypair, nonce: u64, fee: u64, kind: TxKind) -> SignedTransaction {
        Transaction {
            chain_id: self.id(),
            sender: key.public(),
            nonce,
            fee,
            kind,
            memo: Bytes::empty(),
        }
        .sign(key)
    }

    /// A signed transaction with an explicit nonce and the minimum fee.
    pub fn tx_n(&self, key: &Keypair, nonce: u64, kind: TxKind) -> SignedTransaction {
        self.tx_full(key, nonce, MIN_FEE, kind)
    }

    /// A signed transaction with the sender's next nonce and the minimum fee.
    pub fn tx(&self, key: &Keypair, kind: TxKind) -> SignedTransaction {
        self.tx_n(key, self.account(&key.public()).nonce, kind)
    }

    /// A valid empty block for the next led slot, then given `txs` (and the
    /// matching transaction root) and re-signed by its forger: a block that
    /// passes every header check and fails (if at all) on its transactions.
    pub fn forced_block(&self, txs: Vec<SignedTransaction>) -> Block {
        let (slot, leader) = self.next_led_slot();
        let (u, _) = self.prepare_at(slot, vec![]);
        let mut header = u.header;
        let ids: Vec<Hash> = txs.iter().map(|t| t.id()).collect();
        header.tx_root = merkle::root(&ids);
        Block {
            header: header.sign(self.key(&leader)),
            txs,
        }
    }

    /// `apply_block` on top of the tip.
    pub fn check(&self, block: &Block) -> Result<StateChanges, BlockError> {
        ledger::apply_block(&self.params, &self.state, block, Parallelism::Single)
    }

    /// Asserts that `tx`, after `prefix` (which must all apply), is refused
    /// both by the builder (`prepare_block` leaves it out) and by the checker
    /// (`apply_block` on a block holding it), with the same error; returns it.
    pub fn reject_after(&self, prefix: Vec<SignedTransaction>, tx: SignedTransaction) -> TxError {
        let index = prefix.len();
        let id = tx.id();
        let mut all = prefix;
        all.push(tx);
        let (slot, _) = self.next_led_slot();
        let (u, _) = self.prepare_at(slot, all.clone());
        assert_eq!(
            u.txs.len(),
            index,
            "the prefix must apply: {:?}",
            u.rejected
        );
        assert_eq!(u.rejected.len(), 1, "{:?}", u.rejected);
        let (rid, built) = u.rejected[0].clone();
        assert_eq!(rid, id);
        match self.check(&self.forced_block(all)) {
            Err(BlockError::Tx {
                height,
                index: i,
                id: bid,
                error,
            }) => {
                assert_eq!(height, self.tip().height + 1);
                assert_eq!(i, index);
                assert_eq!(bid, id);
                assert_eq!(error, built, "builder and checker give different reasons");
            }
            other => panic!("expected a transaction error, got {other:?}"),
        }
        built
    }

    /// [`Chain::reject_after`] with no prefix.
    pub fn reject(&self, tx: SignedTransaction) -> TxError {
        self.reject_after(vec![], tx)
    }

    /// A ProposeAssociation for `assoc` with a valid proof.
    pub fn propose_kind(&self, assoc: &Keypair, name: &[u8]) -> TxKind {
        let url = b"https://assoc.example";
        TxKind::ProposeAssociation {
            name: Bytes::new(name.to_vec()).unwrap(),
            url: Bytes::new(url.to_vec()).unwrap(),
            account: assoc.public(),
            proof: association_proof(assoc, &self.id(), name, url),
        }
    }

    /// Two different headers signed by `forger` for `slot` (evidence).
    pub fn equivocation(&self, forger: &Keypair, slot: u64) -> (SignedHeader, SignedHeader) {
        let header = |root: u8| Header {
            version: VERSION,
            chain_id: self.id(),
            height: 7,
            slot,
            parent: Hash([1; 32]),
            tx_root: Hash([root; 32]),
            state_digest: Hash([3; 32]),
            forger: forger.public(),
        };
        (header(1).sign(forger), header(2).sign(forger))
    }

    /// A ReportEquivocation of two headers.
    pub fn report_kind(a: SignedHeader, b: SignedHeader) -> TxKind {
        TxKind::ReportEquivocation {
            header_a: Box::new(a),
            header_b: Box::new(b),
        }
    }
}

impl Default for Chain {
    fn default() -> Self {
        Chain::new()
    }
}

/// A Transfer.
pub fn transfer(to: &PublicKey, amount: u64) -> TxKind {
    TxKind::Transfer { to: *to, amount }
}

/// A BuyWeight.
pub fn buy(epoch: u64, amount: u64, association: &PublicKey) -> TxKind {
    TxKind::BuyWeight {
        epoch,
        amount,
        association: *association,
    }
}

/// A PutData.
pub fn put(key: &[u8], value: &[u8]) -> TxKind {
    TxKind::PutData {
        key: Bytes::new(key.to_vec()).unwrap(),
        value: Bytes::new(value.to_vec()).unwrap(),
    }
}

/// A VoteAssociation.
pub fn vote(proposal: Hash, approve: bool) -> TxKind {
    TxKind::VoteAssociation { proposal, approve }
}

/// Asserts that `error`'s message contains every one of `needles`.
pub fn says(error: &impl std::fmt::Display, needles: &[&str]) {
    let msg = error.to_string();
    for n in needles {
        assert!(msg.contains(n), "{msg:?} should mention {n:?}");
    }
}
