//! `goodwill ledger-demo`: a chain forged by following the leader schedule,
//! with random valid transactions — the whole ledger core at work with no
//! network. In memory by default; with `--data DIR`, in the redb store,
//! resuming where the last run stopped.
//!
//! Three bootstrap forgers take turns for the first two epochs; every forger
//! buys weight for the epoch after next as soon as it can, so from epoch 2
//! on the weighted draw picks the leaders, and every coin paid for weight
//! shows up as a donation to the demo association.

use std::path::Path;

use crate::chain::amount::format_coins;
use crate::chain::block::Block;
use crate::chain::codec::Bytes;
use crate::chain::crypto::{Hash, Keypair, PublicKey};
use crate::chain::genesis::{Balance, ChainParams, Genesis, GenesisAssociation, Limits, COIN};
use crate::chain::tx::{SignedTransaction, Transaction, TxKind};
use crate::ledger::schedule;
use crate::ledger::state::{MemState, StateRead, StateReadExt, Tip};
use crate::ledger::{self, Parallelism};
use crate::store::Store;

/// The demo's randomness: one seed, so a run can be repeated.
pub use crate::sim::rng::SplitMix;

/// One forged block, as the demo reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoRow {
    /// Height.
    pub height: u64,
    /// Slot.
    pub slot: u64,
    /// Epoch.
    pub epoch: u64,
    /// "bootstrap" or "weighted".
    pub schedule: &'static str,
    /// The forger's address.
    pub forger: PublicKey,
    /// Transactions in the block.
    pub txs: usize,
    /// Donations received by the association so far (units).
    pub donations: u128,
}

/// The demo's keys and chain, all derived from one seed.
#[derive(Debug, Clone)]
pub struct DemoNet {
    /// The chain.
    pub params: ChainParams,
    /// The three bootstrap forgers.
    pub forgers: Vec<Keypair>,
    /// Four users who send transfers and records.
    pub users: Vec<Keypair>,
    /// The demo association.
    pub association: Keypair,
}

impl DemoNet {
    /// The demo network of `seed`.
    pub fn new(seed: u64) -> Result<DemoNet, DemoError> {
        let mut rng = SplitMix::new(seed);
        let mut key = |tag: u64| {
            let mut s = [0u8; 32];
            for (i, chunk) in s.chunks_mut(8).enumerate() {
                chunk.copy_from_slice(&(rng.next_u64() ^ tag ^ i as u64).to_le_bytes());
            }
            Keypair::from_seed(s).map_err(DemoError::Key)
        };
        let forgers: Vec<Keypair> = (0..3).map(&mut key).collect::<Result<_, _>>()?;
        let users: Vec<Keypair> = (10..14).map(&mut key).collect::<Result<_, _>>()?;
        let association = key(100)?;
        let genesis = Genesis {
            contracts: Some(crate::chain::genesis::ContractParams::for_slot(2_000)),
            chain_name: "ledger-demo".into(),
            start_ms: 0,
            slot_ms: 2_000,
            epoch_slots: 6,
            block_reward: COIN,
            min_fee: 1_000,
            finality_depth: 16,
            bootstrap_forgers: forgers.iter().map(|k| k.public()).collect(),
            limits: Limits::default(),
            balances: forgers
                .iter()
                .chain(&users)
                .map(|k| Balance {
                    address: k.public(),
                    amount: 1_000_000 * COIN,
                })
                .collect(),
            associations: vec![GenesisAssociation {
                name: Bytes::new(*b"Demo Food Bank").expect("short"),
                url: Bytes::new(*b"https://example.org/food-bank").expect("short"),
                account: association.public(),
            }],
        };
        let params = ChainParams::new(genesis)?;
        Ok(DemoNet {
            params,
            forgers,
            users,
            association,
        })
    }

    fn association_id(&self) -> Hash {
        ChainParams::genesis_association_id(&self.association.public())
    }
}

/// Where the demo keeps its chain.
#[derive(Debug)]
pub enum Ledger {
    /// In memory.
    Memory(MemState),
    /// In the redb store.
    Disk(Box<Store>),
}

impl Ledger {
    /// Runs `f` on a consistent view of the state.
    fn view<R>(
        &self,
        f: impl FnOnce(&dyn StateRead) -> Result<R, DemoError>,
    ) -> Result<R, DemoError> {
        match self {
            Ledger::Memory(m) => f(m),
            Ledger::Disk(s) => {
                let snap = s.snapshot()?;
                f(&snap)
            }
        }
    }

    /// Validates and keeps a block, as a receiving node would.
    fn import(&mut self, params: &ChainParams, block: &Block) -> Result<(), DemoError> {
        match self {
            Ledger::Memory(m) => {
                let changes = ledger::apply_block(params, &*m, block, Parallelism::AllCores)?;
                m.apply(&changes);
            }
            Ledger::Disk(s) => {
                // The demo forges its slots faster than they pass: a clock by
                // which every slot has started.
                s.import_block(block, crate::testkit::EVERY_SLOT_STARTED)?;
            }
        }
        Ok(())
    }

    /// The tip.
    pub fn tip(&self) -> Result<Tip, DemoError> {
        self.view(|s| Ok(s.tip()?))
    }
}

/// Why the demo stopped. Every one is a bug or a failing disk: the demo
/// builds only valid blocks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// A key from the seed was refused.
    #[error("{0}")]
    Key(crate::chain::crypto::SignatureError),
    /// The demo's genesis was refused.
    #[error(transparent)]
    Genesis(#[from] crate::chain::genesis::GenesisError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Reading the state failed.
    #[error(transparent)]
    Read(#[from] crate::ledger::state::ReadError),
    /// A block the demo built was refused by the ledger.
    #[error(transparent)]
    Block(#[from] ledger::BlockError),
    /// A block the demo built was refused by the store.
    #[error(transparent)]
    Import(#[from] crate::store::ImportError),
    /// A file of the data directory.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The seed file holds something else.
    #[error("{} does not hold a seed", .0.display())]
    NoSeed(std::path::PathBuf),
    /// The schedule picked a key the demo does not hold.
    #[error("the leader is not one of the demo's forgers")]
    LeaderUnknown,
    /// The demo built a transaction the ledger refused.
    #[error("the demo built an invalid transaction {id}: {error}")]
    InvalidTx {
        /// The transaction.
        id: Hash,
        /// Why.
        error: ledger::TxError,
    },
}

/// The seed file inside a demo data directory.
pub const SEED_FILE: &str = "demo-seed";

/// Opens the demo's ledger: in memory, or in `dir` (creating it with `seed`,
/// or resuming it with the seed it was made with). Returns the seed used.
pub fn open(dir: Option<&Path>, seed: u64) -> Result<(DemoNet, Ledger, u64), DemoError> {
    let Some(dir) = dir else {
        let net = DemoNet::new(seed)?;
        let mut m = MemState::new();
        m.apply(&ledger::genesis_changes(&net.params));
        return Ok((net, Ledger::Memory(m), seed));
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DemoError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let seed_path = dir.join(SEED_FILE);
    let seed = match crate::runtime::os::read_text_bounded(&seed_path, 64) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| DemoError::NoSeed(seed_path.clone()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::write(&seed_path, format!("{seed}\n")).map_err(io(&seed_path))?;
            seed
        }
        Err(e) => return Err(io(&seed_path)(e)),
    };
    let net = DemoNet::new(seed)?;
    let store = Store::open(dir, &net.params)?;
    Ok((net, Ledger::Disk(Box::new(store)), seed))
}

/// Forges `blocks` more blocks onto `ledger`, calling `on_block` after each.
/// `rng_seed` drives the transactions (mixed with the tip, so a resumed run
/// does not repeat itself).
pub fn forge(
    net: &DemoNet,
    ledger: &mut Ledger,
    blocks: u64,
    rng_seed: u64,
    mut on_block: impl FnMut(&DemoRow),
) -> Result<Vec<DemoRow>, DemoError> {
    let params = &net.params;
    let start = ledger.tip()?;
    let mut rng = SplitMix::new(rng_seed ^ start.height.wrapping_mul(0x9e37_79b9));
    let mut rows = Vec::new();
    let mut slot = start.slot;
    while (rows.len() as u64) < blocks {
        slot += 1;
        // Skip a slot now and then: empty slots are normal.
        if rng.below(8) == 0 {
            continue;
        }
        let built = ledger.view(|state| build(net, state, slot, &mut rng))?;
        let Some(block) = built else { continue };
        ledger.import(params, &block)?;
        let epoch = params.epoch_of(slot);
        let (weighted, donations) = ledger.view(|state| {
            let weighted = !state.epoch_weights(epoch)?.is_empty();
            let donations = state
                .proposal(&net.association_id())?
                .map(|p| p.donations)
                .unwrap_or(0);
            Ok((weighted, donations))
        })?;
        let row = DemoRow {
            height: block.height(),
            slot,
            epoch,
            schedule: if weighted { "weighted" } else { "bootstrap" },
            forger: block.header.header.forger,
            txs: block.txs.len(),
            donations,
        };
        on_block(&row);
        rows.push(row);
    }
    Ok(rows)
}

/// The block the leader of `slot` forges on `state`, or None if the slot has
/// no leader.
fn build(
    net: &DemoNet,
    state: &dyn StateRead,
    slot: u64,
    rng: &mut SplitMix,
) -> Result<Option<Block>, DemoError> {
    let params = &net.params;
    let chain_id = params.chain_id();
    let tip = state.tip()?;
    let Some(leader) = schedule::leader(params, state, &tip, slot)? else {
        return Ok(None);
    };
    let forger = net
        .forgers
        .iter()
        .find(|k| k.public() == leader)
        .ok_or(DemoError::LeaderUnknown)?;
    let epoch = params.epoch_of(slot);
    let mut candidates: Vec<SignedTransaction> = Vec::new();
    // Every forger buys weight for the epoch after next as soon as it can.
    for f in &net.forgers {
        if state.weight(epoch + 2, &f.public())? == 0 {
            let a = state.account(&f.public())?;
            candidates.push(
                Transaction {
                    chain_id,
                    sender: f.public(),
                    nonce: a.nonce,
                    fee: params.genesis().min_fee,
                    kind: TxKind::BuyWeight {
                        epoch: epoch + 2,
                        amount: (10 + 20 * rng.below(5)) * COIN,
                        association: net.association.public(),
                    },
                    memo: Bytes::empty(),
                }
                .sign(f),
            );
        }
    }
    for u in &net.users {
        if rng.below(2) == 0 {
            continue;
        }
        let a = state.account(&u.public())?;
        let kind = if rng.below(4) == 0 {
            TxKind::PutData {
                key: Bytes::new(*b"greeting").expect("short"),
                value: Bytes::new(format!("hello from slot {slot}")).expect("short"),
            }
        } else {
            TxKind::Transfer {
                to: net.users[rng.below(net.users.len() as u64) as usize].public(),
                amount: 1 + rng.below(5 * COIN),
            }
        };
        candidates.push(
            Transaction {
                chain_id,
                sender: u.public(),
                nonce: a.nonce,
                fee: params.genesis().min_fee,
                kind,
                memo: Bytes::empty(),
            }
            .sign(u),
        );
    }
    let unsigned = ledger::prepare_block(params, state, forger, slot, candidates)?;
    if let Some((id, error)) = unsigned.rejected.first() {
        return Err(DemoError::InvalidTx {
            id: *id,
            error: error.clone(),
        });
    }
    Ok(Some(unsigned.sign(forger)))
}

/// The table's heading.
pub fn header(params: &ChainParams) -> String {
    format!(
        "chain {} ({}), slot {} ms, {} slots per epoch\n{:>6} {:>5} {:>5}  {:<9}  {:<16} {:>3}  {:>12}",
        params.chain_id().short(),
        params.genesis().chain_name,
        params.genesis().slot_ms,
        params.genesis().epoch_slots,
        "height",
        "slot",
        "epoch",
        "schedule",
        "forger",
        "txs",
        "donations"
    )
}

/// One row of the table.
pub fn row(r: &DemoRow) -> String {
    let addr = r.forger.to_string();
    format!(
        "{:>6} {:>5} {:>5}  {:<9}  {:<16} {:>3}  {:>12}",
        r.height,
        r.slot,
        r.epoch,
        r.schedule,
        format!("{}…{}", &addr[..8], &addr[addr.len() - 4..]),
        r.txs,
        format!(
            "{} GWL",
            format_coins(r.donations.min(u64::MAX as u128) as u64)
        ),
    )
}

/// Forges `blocks` blocks in memory from `seed` (no output).
pub fn run(blocks: u64, seed: u64) -> Result<(DemoNet, MemState, Vec<DemoRow>), DemoError> {
    let (net, mut ledger, _) = open(None, seed)?;
    let rows = forge(&net, &mut ledger, blocks, seed, |_| {})?;
    match ledger {
        Ledger::Memory(m) => Ok((net, m, rows)),
        Ledger::Disk(_) => unreachable!("opened in memory"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_switches_to_weighted_schedule_and_donates() {
        let (net, state, rows) = run(24, 7).unwrap();
        assert_eq!(rows.len(), 24);
        assert_eq!(rows[0].schedule, "bootstrap");
        assert!(rows.iter().any(|r| r.schedule == "weighted"));
        assert!(rows.last().unwrap().donations > 0);
        let supply =
            net.params.initial_supply() as u128 + 24 * net.params.genesis().block_reward as u128;
        assert_eq!(state.total_balance(), supply);
        // Same seed, same chain.
        let (_, again, _) = run(24, 7).unwrap();
        assert_eq!(state.tip().unwrap(), again.tip().unwrap());
    }

    #[test]
    fn demo_on_disk_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let (net, mut ledger, seed) = open(Some(dir.path()), 5).unwrap();
        forge(&net, &mut ledger, 5, seed, |_| {}).unwrap();
        let tip = ledger.tip().unwrap();
        drop(ledger);
        // Another seed on the command line does not change a resumed chain.
        let (net2, mut ledger, seed2) = open(Some(dir.path()), 99).unwrap();
        assert_eq!(seed2, 5);
        assert_eq!(net2.params.chain_id(), net.params.chain_id());
        assert_eq!(ledger.tip().unwrap(), tip);
        forge(&net2, &mut ledger, 5, seed2, |_| {}).unwrap();
        assert_eq!(ledger.tip().unwrap().height, 10);
        match &ledger {
            Ledger::Disk(s) => assert_eq!(s.verify_chain().unwrap(), 10),
            Ledger::Memory(_) => unreachable!(),
        }
    }
}
