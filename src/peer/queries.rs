//! What a peer answers from its store alone: the read-only queries, its
//! Hello, a batch of blocks for a syncing peer. Both the core and the
//! runtime's handshake use them.

use crate::chain::codec::Bytes;
use crate::chain::crypto::{Hash, Keypair};
use crate::ledger::state::StateReadExt;
use crate::store::{Store, StoreError};
use crate::wire::{self, limits, Answer, Hello, Query, Role, TipInfo, TxProof, PROTOCOL_VERSION};

/// What a pruned store says for a block it does not hold (`what`).
fn pruned(what: &str, from: u64) -> String {
    format!(
        "{what}: this store keeps block bodies from height {from} only \
         (a forger's, pruned below finality; `--keep-blocks all` keeps every one); ask a main node"
    )
}

/// Answers the read-only queries from a store snapshot.
pub fn answer_from_store(store: &Store, query: Query) -> Result<Answer, StoreError> {
    let snap = store.snapshot()?;
    let tip = snap.tip()?;
    type Found = Option<(
        crate::chain::tx::SignedTransaction,
        crate::chain::block::Block,
        crate::chain::merkle::Proof,
    )>;
    let to_proof = |found: Found| {
        found.map(|(tx, block, proof)| TxProof {
            tx,
            header: block.header,
            proof,
        })
    };
    let proof_of = |id: &Hash| -> Result<Option<TxProof>, StoreError> {
        Ok(to_proof(snap.tx_with_proof(id)?))
    };
    Ok(match query {
        Query::Tip => Answer::Tip(TipInfo {
            height: tip.height,
            hash: tip.hash,
            slot: tip.slot,
        }),
        Query::Account(pk) => Answer::Account(snap.account(&pk)?),
        Query::BlockAt(h) => match (snap.block_at(h)?, snap.blocks_from()?) {
            (None, from) if h >= 1 && h <= tip.height && h < from => {
                Answer::Error(pruned(&format!("block {h} was pruned"), from))
            }
            (b, _) => Answer::Block(b),
        },
        Query::Block(hash) => match (snap.block(&hash)?, snap.blocks_from()?) {
            (None, from) if from > 1 => {
                Answer::Error(pruned(&format!("no block {hash} here"), from))
            }
            (b, _) => Answer::Block(b),
        },
        Query::Tx(id) => Answer::Tx(proof_of(&id)?),
        Query::Record { owner, key } => match snap.record(&owner, &key)? {
            Some(r) => match to_proof(snap.tx_with_proof_at(&r.tx, r.height)?) {
                Some(p) => Answer::Record(Some((r, p))),
                None => Answer::Error(format!("record's transaction {} is not indexed", r.tx)),
            },
            None => Answer::Record(None),
        },
        Query::RecordHistory { owner, key } => Answer::RecordHistory(
            snap.record_history(&owner, key.as_slice())?
                .into_iter()
                .map(|v| (v.height, v.tx))
                .collect(),
        ),
        Query::History { account, limit } => {
            Answer::History(snap.account_txs(&account, limit.min(limits::MAX_HISTORY) as usize)?)
        }
        Query::Associations => Answer::Associations(snap.proposals()?),
        Query::Params => {
            let p = store.params();
            let g = p.genesis();
            Answer::Params(Box::new(crate::wire::ChainInfo {
                chain_id: p.chain_id(),
                chain_name: g.chain_name.clone(),
                start_ms: g.start_ms,
                slot_ms: g.slot_ms,
                epoch_slots: g.epoch_slots,
                block_reward: g.block_reward,
                min_fee: g.min_fee,
                finality_depth: g.finality_depth,
                max_block_bytes: g.limits.max_block_bytes,
                proposal_ttl_epochs: g.limits.proposal_ttl_epochs,
                max_weight_epochs_ahead: g.limits.max_weight_epochs_ahead,
            }))
        }
        Query::LiveForgers(epoch) => Answer::LiveForgers(crate::ledger::schedule::live_forgers(
            store.params(),
            &snap,
            epoch,
        )?),
        Query::LiveWeights(epoch) => Answer::LiveWeights(crate::ledger::schedule::live_weights(
            store.params(),
            &snap,
            epoch,
        )?),
        Query::ContractParams => Answer::ContractParams(store.params().contracts().copied()),
        Query::Contract(address) => match snap.contract(&address)? {
            None => Answer::Contract(None),
            Some(account) => {
                let code = snap.code(&account.code_hash)?.ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "contract {address}: its code {} is missing",
                        account.code_hash
                    ))
                })?;
                Answer::Contract(Some(Box::new(wire::ContractInfo {
                    address,
                    account,
                    code_bytes: code.len() as u32,
                })))
            }
        },
        Query::Receipt(id) => Answer::Receipt(snap.receipt(&id)?.map(Box::new)),
        Query::RunContract {
            contract,
            caller,
            input,
            value,
            fuel,
        } => run_contract(
            store,
            &snap,
            &contract,
            &caller,
            input.as_slice(),
            value,
            fuel,
        )?,
        Query::ReceiptProof(id) => receipt_proof(&snap, &id, store.params())?,
        Query::ContractEvents { contract, limit } => {
            Answer::ContractEvents(contract_events(&snap, &contract, limit)?)
        }
        Query::Release { .. } | Query::ReleaseBytes { .. } => Answer::Error(
            "releases are offered by a main node with a releases directory, to live forgers".into(),
        ),
        Query::Status | Query::Forgers | Query::NextNonce(_) | Query::Appliance => {
            Answer::Error("this query is answered by the node, not the store".into())
        }
    })
}

/// A read-only run of `contract`'s `call` at the tip, its fuel capped at
/// [`limits::QUERY_FUEL`] (a stranger's query must not cost a block's
/// worth of execution).
pub fn run_contract<S: crate::ledger::state::StateRead + ?Sized>(
    store: &Store,
    snap: &S,
    contract: &Hash,
    caller: &crate::chain::crypto::PublicKey,
    input: &[u8],
    value: u64,
    fuel: u64,
) -> Result<Answer, StoreError> {
    use crate::ledger::{contract::Status, state::ReceiptStatus, TxError};
    let fuel = fuel.min(limits::QUERY_FUEL);
    let run = match crate::ledger::query_contract(
        store.params(),
        snap,
        contract,
        caller,
        input,
        value,
        fuel,
    ) {
        Ok(run) => run,
        Err(TxError::Storage(e)) => return Err(e.into()),
        Err(TxError::NoSuchContract(_)) => return Ok(Answer::ContractRun(None)),
        Err(e) => return Ok(Answer::Error(format!("contract query refused: {e}"))),
    };
    let e = run.effects;
    Ok(Answer::ContractRun(Some(Box::new(wire::ContractRun {
        status: match run.status {
            Status::Ok => ReceiptStatus::Ok,
            Status::Trapped(t) => ReceiptStatus::Trapped(Bytes::from(t.name())),
            Status::OutOfFuel => ReceiptStatus::OutOfFuel,
        },
        fuel_used: run.fuel_used,
        return_data: Bytes::new(e.return_data).expect("the engine bounds return data"),
        events: e
            .events
            .into_iter()
            .map(|v| Bytes::new(v).expect("the engine bounds events"))
            .collect(),
        transfers: e.transfers,
        writes: e.writes.len() as u32,
        at_height: snap.tip()?.height,
    }))))
}

/// A contract transaction's receipt with its proof: the transaction's
/// inclusion proof, the parent's state digest and the block's changes
/// (from its undo record, kept for the newest `finality_depth` blocks).
fn receipt_proof(
    snap: &crate::store::Snapshot,
    id: &Hash,
    params: &crate::chain::genesis::ChainParams,
) -> Result<Answer, StoreError> {
    if snap.receipt(id)?.is_none() {
        return Ok(Answer::ReceiptProof(None));
    }
    let Some((tx, block, proof)) = snap.tx_with_proof(id)? else {
        return Ok(Answer::ReceiptProof(None));
    };
    let header = &block.header.header;
    let Some(changes) = snap.block_changes(&header.hash())? else {
        return Ok(Answer::Error(format!(
            "the receipt of {id} (height {}) is no longer provable here: a node keeps what proves a receipt for the newest {} blocks",
            header.height,
            params.genesis().finality_depth
        )));
    };
    let parent_digest = if header.height == 1 {
        crate::ledger::genesis_changes(params).digest
    } else if let Some(c) = snap.block_changes(&header.parent)? {
        c.digest
    } else {
        snap.block(&header.parent)?
            .ok_or_else(|| StoreError::Corrupt(format!("the parent of {id}'s block is missing")))?
            .header
            .header
            .state_digest
    };
    let changes = changes
        .changes
        .into_iter()
        .filter(|c| c.key != crate::ledger::state::StateKey::Tip)
        .map(|c| (c.key, c.after))
        .collect();
    Ok(Answer::ReceiptProof(Some(Box::new(wire::ReceiptProof {
        tx: TxProof {
            tx,
            header: block.header,
            proof,
        },
        parent_digest,
        changes,
    }))))
}

/// Transactions a contract-events answer reads at most, whatever their
/// events: a contract called often without emitting stays cheap to ask.
const EVENTS_SCAN: usize = 1024;

/// A contract's events, newest first: at most `limit` (and
/// [`limits::MAX_EVENTS`]), from its newest 1,024 transactions.
pub fn contract_events(
    snap: &crate::store::Snapshot,
    contract: &Hash,
    limit: u32,
) -> Result<Vec<wire::ContractEvent>, StoreError> {
    let limit = limit.min(limits::MAX_EVENTS) as usize;
    let mut out = Vec::new();
    for (at, tx) in snap.contract_txs_page(contract, None, EVENTS_SCAN)? {
        if out.len() >= limit {
            break;
        }
        let Some(r) = snap.receipt(&tx)? else {
            continue; // not a contract transaction of this contract
        };
        if r.contract != *contract {
            continue;
        }
        for (i, data) in r.events.into_iter().enumerate().rev() {
            if out.len() >= limit {
                break;
            }
            out.push(wire::ContractEvent {
                height: at.height,
                tx,
                index: i as u32,
                data,
            });
        }
    }
    Ok(out)
}

/// The Hello a node with `key` and `role` sends: its store's tip, a fresh
/// `nonce`, its clock, and the address peers should dial (`advertise`).
pub fn hello(
    store: &Store,
    role: Role,
    key: &Keypair,
    nonce: [u8; 32],
    clock_ms: u64,
    advertise: Option<&str>,
) -> Result<Hello, StoreError> {
    let tip = store.tip()?;
    Ok(Hello {
        version: PROTOCOL_VERSION,
        chain_id: store.params().chain_id(),
        role,
        tip: TipInfo {
            height: tip.height,
            hash: tip.hash,
            slot: tip.slot,
        },
        key: key.public(),
        nonce,
        clock_ms,
        listen: advertise.and_then(|a| Bytes::new(a.as_bytes()).ok()),
        software: crate::wire::software(),
    })
}

/// The answer to `GetBlocks { from, count }`: canonical blocks from `from`,
/// at most `count` (and [`limits::MAX_BLOCKS_PER_REQUEST`]), fewer if the
/// chain is shorter or the frame would exceed what a main node accepts
/// (whoever asks).
pub fn blocks_from_store(
    store: &Store,
    from: u64,
    count: u32,
) -> Result<Vec<crate::chain::block::Block>, StoreError> {
    let budget = wire::frame_limit(Role::MainNode, store.params().limits().max_block_bytes)
        as usize
        - limits::BLOCK_OVERHEAD as usize / 2;
    let snap = store.snapshot()?;
    let mut out = Vec::new();
    let mut size = 0;
    for h in from..from.saturating_add(count.min(limits::MAX_BLOCKS_PER_REQUEST) as u64) {
        let Some(b) = snap.block_at(h)? else { break };
        size += b.to_bytes().len();
        if size > budget && !out.is_empty() {
            break;
        }
        out.push(b);
    }
    Ok(out)
}
