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
        Query::Status | Query::Forgers | Query::NextNonce(_) | Query::Appliance => {
            Answer::Error("this query is answered by the node, not the store".into())
        }
    })
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
        software: Bytes::new(concat!("goodwill/", env!("CARGO_PKG_VERSION")).as_bytes())
            .expect("short"),
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
