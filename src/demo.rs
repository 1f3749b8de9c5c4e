//! `goodwill ledger-demo`: a chain forged in memory by following the leader
//! schedule, with random valid transactions — the whole ledger core at work
//! with no network and no disk.
//!
//! Three bootstrap forgers take turns for the first two epochs; every forger
//! buys weight for the epoch after next as soon as it can, so from epoch 2
//! on the weighted draw picks the leaders, and every coin paid for weight
//! shows up as a donation to the demo association.

use std::fmt::Write as _;

use crate::amount::format_coins;
use crate::codec::Bytes;
use crate::crypto::{Keypair, PublicKey};
use crate::genesis::{Balance, ChainParams, Genesis, GenesisAssociation, Limits, COIN};
use crate::ledger::{self, Parallelism};
use crate::schedule;
use crate::state::{MemState, StateRead, StateReadExt};
use crate::tx::{Transaction, TxKind};

/// A small deterministic generator (SplitMix64): the demo's randomness comes
/// from one seed, so a run can be repeated.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// From a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

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

/// What a demo run produced.
#[derive(Debug)]
pub struct DemoRun {
    /// The chain's parameters.
    pub params: ChainParams,
    /// The final state.
    pub state: MemState,
    /// One row per block.
    pub rows: Vec<DemoRow>,
}

/// Forges `blocks` blocks in memory from `seed`.
pub fn run(blocks: u64, seed: u64) -> Result<DemoRun, String> {
    let mut rng = SplitMix::new(seed);
    let mut key = |tag: u64| {
        let mut s = [0u8; 32];
        for (i, chunk) in s.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&(rng.next_u64() ^ tag ^ i as u64).to_le_bytes());
        }
        Keypair::from_seed(s).map_err(|e| e.to_string())
    };
    let forgers: Vec<Keypair> = (0..3).map(|i| key(i)).collect::<Result<_, _>>()?;
    let users: Vec<Keypair> = (10..14).map(|i| key(i)).collect::<Result<_, _>>()?;
    let association = key(100)?;
    let genesis = Genesis {
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
                amount: 1_000 * COIN,
            })
            .collect(),
        associations: vec![GenesisAssociation {
            name: Bytes::new(*b"Demo Food Bank").expect("short"),
            url: Bytes::new(*b"https://example.org/food-bank").expect("short"),
            account: association.public(),
        }],
    };
    let params = ChainParams::new(genesis).map_err(|e| e.to_string())?;
    let chain_id = params.chain_id();
    let mut state = MemState::new();
    state.apply(&ledger::genesis_changes(&params));
    let assoc_id = ChainParams::genesis_association_id(&association.public());
    let mut rows = Vec::new();
    let mut slot = 0u64;
    while (rows.len() as u64) < blocks {
        slot += 1;
        let tip = state.tip().map_err(|e| e.to_string())?;
        let Some(leader) =
            schedule::leader(&params, &state, &tip, slot).map_err(|e| e.to_string())?
        else {
            continue;
        };
        // Skip a slot now and then: empty slots are normal.
        if rng.below(8) == 0 {
            continue;
        }
        let forger = forgers
            .iter()
            .find(|k| k.public() == leader)
            .ok_or("the leader is not one of the demo's forgers")?;
        let epoch = params.epoch_of(slot);
        let mut candidates = Vec::new();
        // Every forger buys weight for the epoch after next, as soon as it can.
        {
            for f in &forgers {
                let a = state.account(&f.public()).map_err(|e| e.to_string())?;
                if state
                    .weight(epoch + 2, &f.public())
                    .map_err(|e| e.to_string())?
                    == 0
                {
                    candidates.push(
                        Transaction {
                            chain_id,
                            sender: f.public(),
                            nonce: a.nonce,
                            fee: 1_000,
                            kind: TxKind::BuyWeight {
                                epoch: epoch + 2,
                                amount: (10 + 20 * rng.below(5)) * COIN,
                                association: association.public(),
                            },
                            memo: Bytes::empty(),
                        }
                        .sign(f),
                    );
                }
            }
        }
        for u in &users {
            if rng.below(2) == 0 {
                continue;
            }
            let a = state.account(&u.public()).map_err(|e| e.to_string())?;
            let kind = if rng.below(4) == 0 {
                TxKind::PutData {
                    key: Bytes::new(*b"greeting").expect("short"),
                    value: Bytes::new(format!("hello from slot {slot}")).expect("short"),
                }
            } else {
                TxKind::Transfer {
                    to: users[rng.below(users.len() as u64) as usize].public(),
                    amount: 1 + rng.below(5 * COIN),
                }
            };
            candidates.push(
                Transaction {
                    chain_id,
                    sender: u.public(),
                    nonce: a.nonce,
                    fee: 1_000,
                    kind,
                    memo: Bytes::empty(),
                }
                .sign(u),
            );
        }
        let unsigned = ledger::prepare_block(&params, &state, &leader, slot, candidates)
            .map_err(|e| e.to_string())?;
        if let Some((id, e)) = unsigned.rejected.first() {
            return Err(format!("the demo built an invalid transaction {id}: {e}"));
        }
        let block = unsigned.sign(forger);
        // Every block goes through the same check a receiving node makes.
        let changes = ledger::apply_block(&params, &state, &block, Parallelism::AllCores)
            .map_err(|e| e.to_string())?;
        state.apply(&changes);
        let weighted = !state
            .epoch_weights(epoch)
            .map_err(|e| e.to_string())?
            .is_empty();
        rows.push(DemoRow {
            height: block.height(),
            slot,
            epoch,
            schedule: if weighted { "weighted" } else { "bootstrap" },
            forger: leader,
            txs: block.txs.len(),
            donations: state
                .proposal(&assoc_id)
                .map_err(|e| e.to_string())?
                .map(|p| p.donations)
                .unwrap_or(0),
        });
    }
    Ok(DemoRun {
        params,
        state,
        rows,
    })
}

/// The demo's table, as `goodwill ledger-demo` prints it.
pub fn render(run: &DemoRun) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "chain {} ({}), slot {} ms, {} slots per epoch",
        run.params.chain_id().short(),
        run.params.genesis().chain_name,
        run.params.genesis().slot_ms,
        run.params.genesis().epoch_slots
    );
    let _ = writeln!(
        out,
        "{:>6} {:>5} {:>5}  {:<9}  {:<16} {:>3}  {:>12}",
        "height", "slot", "epoch", "schedule", "forger", "txs", "donations"
    );
    for r in &run.rows {
        let addr = r.forger.to_string();
        let _ = writeln!(
            out,
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
        );
    }
    if let Ok(tip) = run.state.tip() {
        let _ = writeln!(
            out,
            "tip {} at height {}, state digest {}",
            tip.hash.short(),
            tip.height,
            tip.state_digest.short()
        );
    }
    out
}
