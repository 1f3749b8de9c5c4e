//! Deterministic chains for tests, benchmarks and demos: a genesis with
//! known keys, and a chain that forges its next block by following the
//! leader schedule — no clock, no network, no disk.

use crate::chain::block::Block;
use crate::chain::codec::Bytes;
use crate::chain::crypto::{Keypair, PublicKey};
use crate::chain::genesis::{Balance, ChainParams, Genesis, GenesisAssociation, Limits, COIN};
use crate::chain::tx::{SignedTransaction, Transaction, TxKind};
use crate::ledger::schedule;
use crate::ledger::state::{MemState, StateReadExt};
use crate::ledger::{self, Parallelism};

/// A clock reading by which every slot has started: what tests pass to
/// [`crate::store::Store::import_block`] when the time is not what they test
/// (the test chains start at 0 ms and forge faster than real time).
pub const EVERY_SLOT_STARTED: u64 = u64::MAX;

/// The key with index `i` of the family `family`: stable across runs.
pub fn key(family: u8, i: u32) -> Keypair {
    let mut seed = [family; 32];
    seed[..4].copy_from_slice(&i.to_le_bytes());
    seed[31] = 0xA5;
    Keypair::from_seed(seed).expect("non-zero seed")
}

/// A test network's keys and genesis.
#[derive(Debug, Clone)]
pub struct TestNet {
    /// The chain's parameters.
    pub params: ChainParams,
    /// Bootstrap forgers.
    pub forgers: Vec<Keypair>,
    /// Funded users.
    pub users: Vec<Keypair>,
    /// The approved association.
    pub association: Keypair,
}

/// How a test network is shaped.
#[derive(Debug, Clone)]
pub struct TestNetConfig {
    /// Bootstrap forgers.
    pub forgers: u32,
    /// Funded users.
    pub users: u32,
    /// Each user's and forger's balance.
    pub balance: u64,
    /// Slots per epoch.
    pub epoch_slots: u64,
    /// Finality depth.
    pub finality_depth: u64,
    /// Limits.
    pub limits: Limits,
}

impl Default for TestNetConfig {
    fn default() -> Self {
        TestNetConfig {
            forgers: 3,
            users: 4,
            balance: 1_000 * COIN,
            epoch_slots: 10,
            finality_depth: 8,
            limits: Limits::default(),
        }
    }
}

impl TestNet {
    /// A network from `config`.
    pub fn new(config: &TestNetConfig) -> TestNet {
        let forgers: Vec<Keypair> = (0..config.forgers).map(|i| key(1, i)).collect();
        let users: Vec<Keypair> = (0..config.users).map(|i| key(2, i)).collect();
        let association = key(3, 0);
        let genesis = Genesis {
            contracts: Some(crate::chain::genesis::ContractParams::for_slot(1_000)),
            chain_name: "testnet".into(),
            start_ms: 0,
            slot_ms: 1_000,
            epoch_slots: config.epoch_slots,
            block_reward: COIN,
            min_fee: 10,
            finality_depth: config.finality_depth,
            bootstrap_forgers: forgers.iter().map(|k| k.public()).collect(),
            limits: config.limits.clone(),
            balances: forgers
                .iter()
                .chain(&users)
                .map(|k| Balance {
                    address: k.public(),
                    amount: config.balance,
                })
                .collect(),
            associations: vec![GenesisAssociation {
                name: Bytes::new(*b"Test Association").expect("short"),
                url: Bytes::empty(),
                account: association.public(),
            }],
        };
        TestNet {
            params: ChainParams::new(genesis).expect("a valid test genesis"),
            forgers,
            users,
            association,
        }
    }

    /// The forger key for `pk`, if it is one of ours.
    pub fn forger_key(&self, pk: &PublicKey) -> Option<&Keypair> {
        self.forgers
            .iter()
            .chain(&self.users)
            .find(|k| k.public() == *pk)
    }

    /// A chain at genesis.
    pub fn chain(&self) -> TestChain {
        let mut state = MemState::new();
        state.apply(&ledger::genesis_changes(&self.params));
        TestChain {
            net: self.clone(),
            state,
            blocks: Vec::new(),
        }
    }

    /// A signed transfer from `from` with the given nonce.
    pub fn transfer(
        &self,
        from: &Keypair,
        nonce: u64,
        to: PublicKey,
        amount: u64,
    ) -> SignedTransaction {
        self.tx(from, nonce, TxKind::Transfer { to, amount })
    }

    /// A signed transaction of any `kind` from `from` with the given
    /// nonce, the minimum fee and no memo.
    pub fn tx(&self, from: &Keypair, nonce: u64, kind: TxKind) -> SignedTransaction {
        Transaction {
            chain_id: self.params.chain_id(),
            sender: from.public(),
            nonce,
            fee: self.params.genesis().min_fee,
            kind,
            memo: Bytes::empty(),
        }
        .sign(from)
    }
}

/// A chain held in memory, forged block by block.
#[derive(Debug, Clone)]
pub struct TestChain {
    /// Its network.
    pub net: TestNet,
    /// The state at its tip.
    pub state: MemState,
    /// Its blocks, height 1 first.
    pub blocks: Vec<Block>,
}

impl TestChain {
    /// Forges the next block in the first slot after `after_slot` (and after
    /// the tip) that one of the network's keys leads, holding those of `txs`
    /// that apply. Returns the block, already applied to this chain.
    pub fn forge_after(&mut self, after_slot: u64, txs: Vec<SignedTransaction>) -> Block {
        let tip = self.state.tip().expect("a tip");
        let mut slot = after_slot.max(tip.slot) + 1;
        loop {
            if let Some(l) =
                schedule::leader(&self.net.params, &self.state, &tip, slot).expect("mem")
            {
                if let Some(k) = self.net.forger_key(&l) {
                    let k = k.clone();
                    let u = ledger::prepare_block(&self.net.params, &self.state, &k, slot, txs)
                        .expect("leader builds");
                    let block = u.sign(&k);
                    let changes = ledger::apply_block(
                        &self.net.params,
                        &self.state,
                        &block,
                        Parallelism::Single,
                    )
                    .expect("own block applies");
                    self.state.apply(&changes);
                    self.blocks.push(block.clone());
                    return block;
                }
            }
            slot += 1;
        }
    }

    /// Forges the next block in the next slot someone leads.
    pub fn forge(&mut self, txs: Vec<SignedTransaction>) -> Block {
        self.forge_after(0, txs)
    }

    /// A transfer from user `i` with its next nonce (as of this chain's tip).
    pub fn transfer_from_user(&self, i: usize, to: PublicKey, amount: u64) -> SignedTransaction {
        let from = &self.net.users[i];
        let nonce = self.state.account(&from.public()).expect("mem").nonce;
        self.net.transfer(from, nonce, to, amount)
    }

    /// A transaction of `kind` from user `i` with its next nonce (as of
    /// this chain's tip).
    pub fn tx_from_user(&self, i: usize, kind: TxKind) -> SignedTransaction {
        let from = &self.net.users[i];
        let nonce = self.state.account(&from.public()).expect("mem").nonce;
        self.net.tx(from, nonce, kind)
    }

    /// The tip's height.
    pub fn height(&self) -> u64 {
        self.blocks.len() as u64
    }
}
