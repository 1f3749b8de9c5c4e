//! What must hold in every run, whatever the faults. Some properties are
//! watched while the run goes (finality, signatures, memory bounds), the
//! others checked on the stores once it has ended (one chain, coins,
//! donations, equivocations). Every check returns what broke, with the
//! context a person needs; none of them panics.

use std::collections::{BTreeMap, BTreeSet};

use crate::chain::block::Block;
use crate::chain::crypto::{Hash, PublicKey};
use crate::chain::genesis::ChainParams;
use crate::chain::tx::TxKind;
use crate::ledger::state::{ProposalStatus, StateKey, StateRead, StateReadExt, StateValue, Tip};
use crate::peer::core::CoreSizes;
use crate::store::Store;

use super::short_key;

/// The bounds memory must stay within.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Mempool transactions.
    pub mempool: usize,
    /// Connections of one node.
    pub conns: usize,
    /// Known peers.
    pub known_peers: usize,
    /// Forger table entries.
    pub forgers: usize,
    /// Remembered headers.
    pub headers: usize,
    /// Held equivocations.
    pub evidence: usize,
    /// Early blocks held.
    pub early: usize,
    /// Sessions one node holds with one address (the door's per-address
    /// cap; two nodes that dialled each other hold two).
    pub per_ip: usize,
}

/// The largest sizes seen.
#[derive(Debug, Clone, Copy, Default)]
pub struct Peaks {
    /// Largest mempool.
    pub mempool: usize,
    /// Most connections.
    pub conns: usize,
    /// Most remembered headers.
    pub headers: usize,
    /// Most sessions one node held with one address.
    pub sessions_per_ip: usize,
}

/// The watcher: fed as the run goes, asked at the end.
#[derive(Debug)]
pub struct Checker {
    finality_depth: u64,
    /// Height → the block finalized there, and who finalized it first.
    finalized: BTreeMap<u64, (Hash, String)>,
    /// Per node: heights checked so far.
    checked_upto: BTreeMap<String, u64>,
    /// Honest forgers' signatures: (key, slot) → how many times signed.
    signatures: BTreeMap<(PublicKey, u64), u32>,
    /// Blocks by honest forgers seen on the wire: (key, slot) → hashes.
    released: BTreeMap<(PublicKey, u64), BTreeSet<Hash>>,
    honest_forgers: BTreeSet<PublicKey>,
    /// Per honest node: the last tip seen (height, hash).
    tips: BTreeMap<String, (u64, Hash)>,
    bounds: Bounds,
    /// The largest sizes seen.
    pub peaks: Peaks,
    violations: Vec<String>,
}

impl Checker {
    /// A checker for a chain with `finality_depth`, whose honest forgers are
    /// `honest_forgers`.
    pub fn new(
        finality_depth: u64,
        honest_forgers: BTreeSet<PublicKey>,
        bounds: Bounds,
    ) -> Checker {
        Checker {
            finality_depth,
            finalized: BTreeMap::new(),
            checked_upto: BTreeMap::new(),
            signatures: BTreeMap::new(),
            released: BTreeMap::new(),
            honest_forgers,
            tips: BTreeMap::new(),
            bounds,
            peaks: Peaks::default(),
            violations: Vec::new(),
        }
    }

    /// What broke so far.
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    /// Records a violation found elsewhere (a node that cannot restart…).
    pub fn violation(&mut self, what: String) {
        if self.violations.len() < 100 {
            self.violations.push(what);
        }
    }

    /// An honest node's chain: every height that is now final (more than
    /// the finality depth below its tip) must hold the block every other
    /// honest node finalized there, and never change.
    pub fn finality(&mut self, node: &str, store: &Store) {
        let snap = match store.snapshot() {
            Ok(s) => s,
            Err(e) => return self.violation(format!("{node}: store: {e}")),
        };
        let tip = match snap.tip() {
            Ok(t) => t,
            Err(e) => return self.violation(format!("{node}: store: {e}")),
        };
        let final_height = tip.height.saturating_sub(self.finality_depth);
        let from = self.checked_upto.get(node).map_or(1, |h| h + 1);
        // Heights already checked stay checked: a node whose final block
        // changed is caught when another height is compared, and at the end.
        for h in from..=final_height {
            let hash = match snap.hash_at(h) {
                Ok(Some(x)) => x,
                Ok(None) => return self.violation(format!("{node}: no block at final height {h}")),
                Err(e) => return self.violation(format!("{node}: store: {e}")),
            };
            match self.finalized.get(&h) {
                Some((other, who)) if *other != hash => {
                    let (other, who) = (*other, who.clone());
                    self.violation(format!(
                        "finality: {node} finalized {} at height {h}, {who} finalized {}",
                        hash.short(),
                        other.short()
                    ));
                }
                Some(_) => {}
                None => {
                    self.finalized.insert(h, (hash, node.to_string()));
                }
            }
        }
        if final_height >= from {
            self.checked_upto.insert(node.to_string(), final_height);
        }
    }

    /// Re-reads every final height of an honest node (at the end: a node
    /// whose finalized block changed after it was first compared).
    pub fn finality_again(&mut self, node: &str, store: &Store) {
        self.checked_upto.remove(node);
        self.finality(node, store);
    }

    /// An honest forger signed a block for `slot` (its signing counts went
    /// up). Signing one slot twice is a violation even if the first block
    /// never left the board: the signing record must refuse it.
    pub fn signed(&mut self, node: &str, key: &PublicKey, slot: u64) {
        let n = self.signatures.entry((*key, slot)).or_insert(0);
        *n += 1;
        if *n > 1 {
            let n = *n;
            self.violation(format!(
                "double sign: honest forger {node} ({}) signed slot {slot} {n} times",
                short_key(key)
            ));
        }
    }

    /// A block seen on the wire: two different blocks by one honest forger
    /// for one slot is a double sign.
    pub fn on_wire(&mut self, block: &Block) {
        let h = &block.header.header;
        if !self.honest_forgers.contains(&h.forger) {
            return;
        }
        let set = self.released.entry((h.forger, h.slot)).or_default();
        if set.insert(block.hash()) && set.len() > 1 {
            let hashes: Vec<String> = set.iter().map(|x| x.short()).collect();
            let forger = short_key(&h.forger);
            let slot = h.slot;
            self.violation(format!(
                "double sign: honest forger {forger} released blocks {hashes:?} for slot {slot}"
            ));
        }
    }

    /// An honest node's tip, read at `local_ms` on its clock. Two rules:
    ///
    /// - **never from the future**: the tip's slot has started on the
    ///   node's clock, give or take the allowed drift (a leader that forged
    ///   its own slots ahead of time and served them by sync broke this);
    /// - **the first seen stays**: the tip moves only to a longer chain,
    ///   never to another block at the same or a lower height (a leader
    ///   that built on the tip's parent and ground a lower hash orphaned
    ///   the tip under the old lower-hash tie-break).
    pub fn tip(&mut self, params: &ChainParams, node: &str, tip: &Tip, local_ms: u64) {
        let start = params.slot_start_ms(tip.slot);
        let drift = params.limits().max_clock_drift_ms;
        if start > local_ms.saturating_add(drift) {
            self.violation(format!(
                "from the future: {node}'s tip {} at height {} is in slot {}, which starts {} ms ahead of its clock (drift allowed: {drift} ms)",
                tip.hash.short(),
                tip.height,
                tip.slot,
                start - local_ms
            ));
        }
        let prev = self.tips.insert(node.to_string(), (tip.height, tip.hash));
        if let Some((h, x)) = prev {
            if x != tip.hash && tip.height <= h {
                self.violation(format!(
                    "first seen: {node} left block {} at height {h} for {} at height {}, a chain no longer",
                    x.short(),
                    tip.hash.short(),
                    tip.height
                ));
            }
        }
    }

    /// An honest node's store reopened (after a crash) on `tip`: it may have
    /// lost at most `may_lose` blocks of the tip it held (block commits a
    /// forger's store kept in memory; none for a main node). The first-seen
    /// rule then starts again from the reopened tip.
    pub fn reopened(&mut self, node: &str, tip: &Tip, may_lose: u64) {
        if let Some((h, _)) = self.tips.get(node) {
            if tip.height + may_lose < *h {
                self.violation(format!(
                    "durability: {node} reopened at height {} after holding height {h}; at most {may_lose} blocks may be lost",
                    tip.height
                ));
            }
        }
        self.tips.insert(node.to_string(), (tip.height, tip.hash));
    }

    /// A node admitted a session from `ip` and now holds `held` with it:
    /// never more than the door's per-address cap.
    pub fn sessions_from(&mut self, ip: std::net::IpAddr, held: usize) {
        self.peaks.sessions_per_ip = self.peaks.sessions_per_ip.max(held);
        if held > self.bounds.per_ip {
            self.violation(format!(
                "a node holds {held} sessions with {ip}, over the {} the door allows",
                self.bounds.per_ip
            ));
        }
    }

    /// Memory: a node's sizes against the bounds.
    pub fn sizes(&mut self, node: &str, s: &CoreSizes) {
        let b = self.bounds;
        self.peaks.mempool = self.peaks.mempool.max(s.mempool);
        self.peaks.conns = self.peaks.conns.max(s.conns);
        self.peaks.headers = self.peaks.headers.max(s.headers);
        for (what, have, max) in [
            ("mempool", s.mempool, b.mempool),
            ("connections", s.conns, b.conns),
            ("known peers", s.known_peers, b.known_peers),
            ("forger table", s.forgers, b.forgers),
            ("headers", s.headers, b.headers),
            ("evidence", s.evidence, b.evidence),
            ("early blocks", s.early, b.early),
        ] {
            if have > max {
                self.violation(format!("memory: {node} holds {have} {what} (bound {max})"));
            }
        }
    }

    /// Two different blocks by one honest forger for one slot, found in
    /// the honest stores at the end (side branches included, as far as the
    /// stores kept them).
    pub fn forgers_signed_once(&mut self, blocks: &[Block]) {
        for b in blocks {
            self.on_wire(b);
        }
    }
}

/// Why an invariant check failed: the invariant does not hold, or the
/// store under the check failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// The invariant does not hold: what was found, for the report.
    #[error("{0}")]
    Broken(String),
    /// The chain has no block at a height below its tip.
    #[error("no block at height {0}")]
    MissingBlock(u64),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Reading the state failed.
    #[error(transparent)]
    Read(#[from] crate::ledger::state::ReadError),
}

/// All honest nodes' tips, by node: one chain means one tip.
pub fn one_chain(tips: &[(String, u64, Hash)]) -> Result<(), Violation> {
    let distinct: BTreeSet<Hash> = tips.iter().map(|t| t.2).collect();
    if distinct.len() <= 1 {
        return Ok(());
    }
    let list: Vec<String> = tips
        .iter()
        .map(|(n, h, x)| format!("{n}: {h} {}", x.short()))
        .collect();
    Err(Violation::Broken(format!(
        "no single chain after healing: {}",
        list.join(", ")
    )))
}

/// Coins: every balance summed equals genesis plus one reward per block
/// minus what was burned (fees only move coins, donations move them to
/// associations, an equivocation bounty pays the reporter a share and burns
/// the rest); and no more was burned than the reports on the chain allow
/// (each burns at most the bounty less the reporter's share).
pub fn coins_conserved(params: &ChainParams, store: &Store) -> Result<u128, Violation> {
    let tip = store.tip()?;
    let mut total: u128 = 0;
    let mut burned: u128 = 0;
    for (k, v) in store.state_entries()? {
        match (k, v) {
            (StateKey::Account(_), StateValue::Account(a)) => total += a.balance as u128,
            (StateKey::Contract(_), StateValue::Contract(c)) => total += c.balance as u128,
            (StateKey::Burned, StateValue::Burned(b)) => burned = b as u128,
            _ => {}
        }
    }
    let expected = params.initial_supply() as u128
        + params.genesis().block_reward as u128 * tip.height as u128;
    if total + burned != expected {
        return Err(Violation::Broken(format!(
            "coins: the balances sum to {total} and {burned} were burned at height {}, genesis + rewards is {expected}",
            tip.height
        )));
    }
    let l = params.limits();
    let per_report = l.equivocation_bounty as u128
        - l.equivocation_bounty as u128 * l.reporter_share_percent as u128 / 100;
    let snap = store.snapshot()?;
    let mut reports: u128 = 0;
    for h in 1..=tip.height {
        let b = snap.block_at(h)?.ok_or(Violation::MissingBlock(h))?;
        reports += b
            .txs
            .iter()
            .filter(|t| matches!(t.tx.kind, TxKind::ReportEquivocation { .. }))
            .count() as u128;
    }
    // Contract runs burn what they pay for the storage they add: the
    // receipts on chain say how much.
    let storage: u128 = store
        .state_entries()?
        .into_iter()
        .filter_map(|(k, v)| match (k, v) {
            (StateKey::Receipt(_), StateValue::Receipt(r)) => Some(r.storage_charge as u128),
            _ => None,
        })
        .sum();
    if burned > reports * per_report + storage {
        return Err(Violation::Broken(format!(
            "coins: {burned} burned, but {reports} equivocation reports burn at most {} and contract storage was charged {storage}",
            reports * per_report
        )));
    }
    Ok(total)
}

/// Balance changes (what the Mesh Data API serves): the genesis balances,
/// plus every transaction's deltas and every block's reward as a main
/// node's store gives them ([`crate::store::Snapshot::block_balances`]),
/// sum to each account's and contract's balance in the state. Returns how
/// many transactions' deltas came from the node's records rather than the
/// rule. Nothing to check on a store without indexes.
pub fn balances_reconcile(params: &ChainParams, store: &Store) -> Result<u64, Violation> {
    use crate::ledger::balances::Holder;
    if !store.indexed() {
        return Ok(0);
    }
    let snap = store.snapshot()?;
    let tip = snap.tip()?;
    let mut sums: BTreeMap<Holder, i128> = BTreeMap::new();
    for b in &params.genesis().balances {
        *sums.entry(Holder::Account(b.address)).or_default() += b.amount as i128;
    }
    let mut recorded = 0u64;
    for h in 1..=tip.height {
        let b = snap.block_at(h)?.ok_or(Violation::MissingBlock(h))?;
        let bal = snap.block_balances(&b)?;
        for (stx, deltas) in b.txs.iter().zip(&bal.txs) {
            let rule = crate::ledger::balances::rule_deltas(stx, snap.receipt(&stx.id())?.as_ref());
            recorded += u64::from(rule != *deltas);
            for (holder, d) in deltas {
                *sums.entry(*holder).or_default() += d;
            }
        }
        *sums
            .entry(Holder::Account(b.header.header.forger))
            .or_default() += bal.reward as i128;
    }
    let mut state: BTreeMap<Holder, i128> = BTreeMap::new();
    for (k, v) in store.state_entries()? {
        match (k, v) {
            (StateKey::Account(pk), StateValue::Account(a)) => {
                state.insert(Holder::Account(pk), a.balance as i128);
            }
            (StateKey::Contract(c), StateValue::Contract(a)) => {
                state.insert(Holder::Contract(c), a.balance as i128);
            }
            _ => {}
        }
    }
    sums.retain(|_, v| *v != 0);
    state.retain(|_, v| *v != 0);
    if let Some((holder, _)) = sums
        .iter()
        .find(|(h, v)| state.get(h) != Some(v))
        .or_else(|| state.iter().find(|(h, v)| sums.get(h) != Some(v)))
    {
        return Err(Violation::Broken(format!(
            "balances: at height {} the operations sum to {:?} for {holder:?}, the state holds {:?}",
            tip.height,
            sums.get(holder),
            state.get(holder)
        )));
    }
    Ok(recorded)
}

/// Contract transactions on chain by their receipts: (ended ok, trapped
/// or out of fuel). Every contract transaction in a canonical block has a
/// receipt, and every receipt's transaction is in one.
pub fn contract_runs(store: &Store) -> Result<(u64, u64), Violation> {
    let tip = store.tip()?;
    let snap = store.snapshot()?;
    let (mut ok, mut failed) = (0, 0);
    let mut in_blocks = 0u64;
    for h in 1..=tip.height {
        let b = snap.block_at(h)?.ok_or(Violation::MissingBlock(h))?;
        for t in b.txs.iter().filter(|t| t.tx.kind.fuel_limit().is_some()) {
            in_blocks += 1;
            let r = snap.receipt(&t.id())?.ok_or_else(|| {
                Violation::Broken(format!(
                    "contracts: transaction {} at height {h} has no receipt",
                    t.id()
                ))
            })?;
            if r.height != h {
                return Err(Violation::Broken(format!(
                    "contracts: the receipt of {} says height {}, its block is at {h}",
                    t.id(),
                    r.height
                )));
            }
            match r.status {
                crate::ledger::state::ReceiptStatus::Ok => ok += 1,
                _ => failed += 1,
            }
        }
    }
    let receipts = store
        .state_entries()?
        .into_iter()
        .filter(|(k, _)| matches!(k, StateKey::Receipt(_)))
        .count() as u64;
    if receipts != in_blocks {
        return Err(Violation::Broken(format!(
            "contracts: {receipts} receipts in the state, {in_blocks} contract transactions on chain"
        )));
    }
    Ok((ok, failed))
}

/// Association votes: every association approved by a vote (or a genesis
/// one removed by one) had, in some epoch in which votes about it landed,
/// the votes of at least 75 % of that epoch's live forging weight — the
/// weight bought for it, plus each bootstrap forger's notional weight while
/// the bought total is below the genesis threshold and the bootstrap
/// forgers have not expired, voided forgers left out. Computed here from
/// the blocks and the genesis, not by the ledger's code. Votes are taken
/// cumulatively (every yes a voter ever cast and did not turn), which is
/// lenient: what it catches is weight that was never there, such as many
/// one-unit keys counted as many forgers.
pub fn association_votes_weighed(params: &ChainParams, store: &Store) -> Result<(), Violation> {
    let snap = store.snapshot()?;
    let tip = snap.tip()?;
    let l = params.limits();
    let g = params.genesis();
    // Per proposal: the votes so far, and per epoch the voters on each side
    // by the end of it.
    type Sides = (BTreeSet<PublicKey>, BTreeSet<PublicKey>);
    let mut votes: BTreeMap<Hash, BTreeMap<PublicKey, bool>> = BTreeMap::new();
    let mut by_epoch: BTreeMap<(Hash, u64), Sides> = BTreeMap::new();
    for h in 1..=tip.height {
        let b = snap.block_at(h)?.ok_or(Violation::MissingBlock(h))?;
        let epoch = params.epoch_of(b.header.header.slot);
        for t in &b.txs {
            if let TxKind::VoteAssociation { proposal, approve } = &t.tx.kind {
                let v = votes.entry(*proposal).or_default();
                v.insert(t.tx.sender, *approve);
                let e = by_epoch.entry((*proposal, epoch)).or_default();
                for (k, yes) in v.iter() {
                    if *yes {
                        e.0.insert(*k);
                    } else {
                        e.1.insert(*k);
                    }
                }
            }
        }
    }
    let weights = |epoch: u64| -> Result<BTreeMap<PublicKey, u128>, Violation> {
        let bought = snap.epoch_weights(epoch)?;
        let total: u128 = bought.iter().map(|(_, w)| *w as u128).sum();
        let mut w: BTreeMap<PublicKey, u128> =
            bought.into_iter().map(|(k, w)| (k, w as u128)).collect();
        if epoch <= l.bootstrap_last_epoch && total < l.bootstrap_until_weight as u128 {
            for f in &g.bootstrap_forgers {
                *w.entry(*f).or_default() += l.bootstrap_weight as u128;
            }
        }
        let mut live = BTreeMap::new();
        for (k, x) in w {
            let voided = snap.voided_from(&k)?;
            if voided.is_none_or(|v| v > epoch) {
                live.insert(k, x);
            }
        }
        Ok(live)
    };
    let genesis_ids: BTreeSet<Hash> = g
        .associations
        .iter()
        .map(|a| ChainParams::genesis_association_id(&a.account))
        .collect();
    for (k, v) in store.state_entries()? {
        let (StateKey::Proposal(id), StateValue::Proposal(p)) = (k, v) else {
            continue;
        };
        let (side, what) = match p.status {
            ProposalStatus::Approved { .. } if !genesis_ids.contains(&id) => (true, "approved"),
            ProposalStatus::Removed { .. } => (false, "removed"),
            _ => continue,
        };
        let mut best = None;
        for ((_, epoch), (yes, no)) in by_epoch.range((id, 0)..=(id, u64::MAX)) {
            let live = weights(*epoch)?;
            let total: u128 = live.values().sum();
            let voters = if side { yes } else { no };
            let got: u128 = voters.iter().filter_map(|k| live.get(k)).sum();
            if total > 0 && got * 4 >= total * 3 {
                best = None;
                break;
            }
            best = Some((*epoch, got, total, voters.len()));
        }
        if let Some((epoch, got, total, n)) = best {
            return Err(Violation::Broken(format!(
                "votes: association {} ({}) was {what} with at most {got} of {total} live weight ({n} keys) voting for it in epoch {epoch}, under 75 %",
                short_key(&p.account),
                p.name.lossy()
            )));
        }
        if !by_epoch.range((id, 0)..=(id, u64::MAX)).any(|_| true) {
            return Err(Violation::Broken(format!(
                "votes: association {} was {what} with no vote on the chain",
                short_key(&p.account)
            )));
        }
    }
    Ok(())
}

/// Donations: every BuyWeight on the chain paid an association approved
/// at genesis (the simulation proposes none), each association's balance
/// is its genesis balance plus what it was given, and its proposal counts
/// the same donations. Returns the total donated.
pub fn donations_reached_associations(
    params: &ChainParams,
    store: &Store,
) -> Result<u128, Violation> {
    let g = params.genesis();
    let approved: BTreeSet<PublicKey> = g.associations.iter().map(|a| a.account).collect();
    let snap = store.snapshot()?;
    let tip = snap.tip()?;
    let mut given: BTreeMap<PublicKey, u128> = BTreeMap::new();
    let mut received: BTreeMap<PublicKey, u128> = BTreeMap::new();
    for h in 1..=tip.height {
        let b = snap.block_at(h)?.ok_or(Violation::MissingBlock(h))?;
        for tx in &b.txs {
            match &tx.tx.kind {
                TxKind::BuyWeight {
                    amount,
                    association,
                    ..
                } => {
                    if !approved.contains(association) {
                        return Err(Violation::Broken(format!(
                            "donation in block {h} to {}, which is not an approved association",
                            short_key(association)
                        )));
                    }
                    *given.entry(*association).or_default() += *amount as u128;
                }
                TxKind::Transfer { to, amount } if approved.contains(to) => {
                    *received.entry(*to).or_default() += *amount as u128;
                }
                _ => {}
            }
        }
    }
    let genesis_balance = |pk: &PublicKey| -> u128 {
        g.balances
            .iter()
            .filter(|b| b.address == *pk)
            .map(|b| b.amount as u128)
            .sum()
    };
    for a in &approved {
        let acct = snap.account(a)?;
        let gift = given.get(a).copied().unwrap_or(0);
        let expected = genesis_balance(a) + gift + received.get(a).copied().unwrap_or(0);
        if acct.balance as u128 != expected {
            return Err(Violation::Broken(format!(
                "association {}: balance {}, expected {expected} (genesis + {gift} donated)",
                short_key(a),
                acct.balance
            )));
        }
        let id = ChainParams::genesis_association_id(a);
        let p = snap.proposal(&id)?.ok_or_else(|| {
            Violation::Broken(format!("association {} has no proposal", short_key(a)))
        })?;
        if p.donations != gift {
            return Err(Violation::Broken(format!(
                "association {}: its proposal counts {} donated, the chain holds {gift}",
                short_key(a),
                p.donations
            )));
        }
    }
    Ok(given.values().sum())
}

/// Equivocation: `offender` signed two blocks for a slot of `epoch` that
/// honest nodes received; it must be voided from that epoch or before, and
/// once a report has landed it forges no block of a voided epoch (blocks
/// before the report stay: voiding does not rewrite history).
pub fn equivocator_voided(
    params: &ChainParams,
    store: &Store,
    offender: &PublicKey,
    epoch: u64,
) -> Result<(), Violation> {
    let snap = store.snapshot()?;
    let voided = snap.voided_from(offender)?;
    let Some(from) = voided.filter(|v| *v <= epoch) else {
        return Err(Violation::Broken(format!(
            "equivocation: {} signed two blocks in epoch {epoch} but is voided from {voided:?}",
            short_key(offender)
        )));
    };
    let tip = snap.tip()?;
    let mut reported = false;
    for h in 1..=tip.height {
        let b = snap.block_at(h)?.ok_or(Violation::MissingBlock(h))?;
        let hd = &b.header.header;
        if reported && hd.forger == *offender && params.epoch_of(hd.slot) >= from {
            return Err(Violation::Broken(format!(
                "equivocation: voided forger {} still forged block {h} (slot {}, epoch {})",
                short_key(offender),
                hd.slot,
                params.epoch_of(hd.slot)
            )));
        }
        reported |= b.txs.iter().any(|t| {
            matches!(&t.tx.kind, TxKind::ReportEquivocation { header_a, .. }
                if header_a.header.forger == *offender)
        });
    }
    if !reported {
        return Err(Violation::Broken(format!(
            "equivocation: {} is voided but no report of it is on the chain",
            short_key(offender)
        )));
    }
    Ok(())
}

/// Seed grinding: `who` led `led` of `slots` slots with `share` of the
/// weight; its share of the slots must stay within `tolerance` (a fraction
/// of all slots) above its share of the weight. A grinder that picks the
/// best of many seeds breaks it (with seeds from block hashes, a 25 %
/// forger led more than half of the next epoch); one that can only withhold
/// its last blocks does not.
pub fn slot_share_bounded(
    who: &str,
    led: u64,
    slots: u64,
    share: f64,
    tolerance: f64,
) -> Result<(), Violation> {
    let bound = (share + tolerance) * slots as f64;
    if led as f64 > bound {
        return Err(Violation::Broken(format!(
            "{who} led {led} of {slots} slots ({:.1} %) with {:.1} % of the weight: more than the {:.1} % bound (seed grinding)",
            100.0 * led as f64 / slots as f64,
            100.0 * share,
            100.0 * (share + tolerance)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{TestNet, TestNetConfig};

    fn bounds() -> Bounds {
        Bounds {
            mempool: 10,
            conns: 10,
            known_peers: 10,
            forgers: 10,
            headers: 10,
            evidence: 10,
            early: 10,
            per_ip: 2,
        }
    }

    // Each check must be able to fail: fed a broken property, it says so.

    #[test]
    fn a_second_signature_for_one_slot_is_caught() {
        let net = TestNet::new(&TestNetConfig::default());
        let pk = net.forgers[0].public();
        let mut c = Checker::new(8, [pk].into(), bounds());
        c.signed("f0", &pk, 7);
        c.signed("f0", &pk, 8);
        assert!(c.violations().is_empty());
        c.signed("f0", &pk, 7);
        assert_eq!(c.violations().len(), 1, "{:?}", c.violations());
        assert!(c.violations()[0].contains("slot 7"));
    }

    #[test]
    fn two_released_blocks_for_one_slot_are_caught() {
        let net = TestNet::new(&TestNetConfig::default());
        let mut one = net.chain();
        let a = one.forge(vec![]);
        // Same slot, same forger, other contents.
        let mut two = net.chain();
        let tx = two.transfer_from_user(0, net.users[1].public(), 5);
        let b = two.forge(vec![tx]);
        assert_eq!(a.header.header.slot, b.header.header.slot);
        assert_ne!(a.hash(), b.hash());
        let honest = [a.header.header.forger].into();
        let mut c = Checker::new(8, honest, bounds());
        c.on_wire(&a);
        c.on_wire(&a);
        assert!(c.violations().is_empty());
        c.on_wire(&b);
        assert_eq!(c.violations().len(), 1);
        // A Byzantine forger's twins are not this check's business.
        let mut c = Checker::new(8, BTreeSet::new(), bounds());
        c.forgers_signed_once(&[a, b]);
        assert!(c.violations().is_empty());
    }

    #[test]
    fn memory_over_a_bound_is_caught() {
        let mut c = Checker::new(8, BTreeSet::new(), bounds());
        let mut s = CoreSizes {
            mempool: 10,
            conns: 1,
            known_peers: 1,
            forgers: 1,
            headers: 1,
            evidence: 1,
            early: 1,
        };
        c.sizes("m0", &s);
        assert!(c.violations().is_empty());
        s.mempool = 11;
        c.sizes("m0", &s);
        assert!(c.violations()[0].contains("mempool"));
    }

    #[test]
    fn two_tips_are_not_one_chain() {
        let x = Hash([1; 32]);
        let y = Hash([2; 32]);
        assert!(one_chain(&[("a".into(), 3, x), ("b".into(), 3, x)]).is_ok());
        let e = one_chain(&[("a".into(), 3, x), ("b".into(), 3, y)]).unwrap_err();
        let e = e.to_string();
        assert!(e.contains("a: 3") && e.contains("b: 3"), "{e}");
    }
}
