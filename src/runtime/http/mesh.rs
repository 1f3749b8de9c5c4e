//! The Mesh API (formerly Rosetta, version 1.5.1) under `/mesh/`: how
//! exchanges and custody platforms follow a chain and reconcile every
//! balance (the Data API), and build transactions that are signed on a
//! machine that never talks to the node (the Construction API).
//!
//! Every route is a `POST` of JSON naming the network
//! (`{"blockchain": "goodwill", "network": <chain name>}`); a refusal is
//! HTTP 500 with a Mesh `Error` (`code`, `message`, `retriable`,
//! `details`), as the specification says, each code one of [`ERRORS`].
//!
//! Every balance change is an operation ([`crate::ledger::balances`]): a
//! transaction's fee (`FEE`, sender), its amount (`TRANSFER`,
//! `BUY_WEIGHT`, `CONTRACT_CALL`), a contract's storage charge (`BURN`), an
//! equivocation bounty (`BOUNTY`); each block ends with a transaction
//! named by the block's hash that pays its forger (`REWARD`, and `FEE` for
//! the fees it collected); the genesis block's one transaction (`GENESIS`)
//! gives the first balances. Accounts are `gw1…` addresses; a contract's
//! balance is the account named by its 64-hex-digit address.
//!
//! Construction builds transfers and weight purchases. Everything but
//! `/construction/metadata` and `/construction/submit` works without the
//! node's state (offline). docs/mesh.md is the reference.

use serde_json::{json, Value};

use super::api::{Api, Reply, Request};
use super::link::{Ask, Told};
use crate::chain::address;
use crate::chain::block::Block;
use crate::chain::codec::{self, Bytes};
use crate::chain::crypto::{self, Hash, PublicKey, Signature};
use crate::chain::genesis::{ChainParams, COIN};
use crate::chain::limits;
use crate::chain::tx::{SignedTransaction, Transaction, TxKind};
use crate::ledger::balances::{self, BlockBalances, Delta, Holder};
use crate::ledger::state::{Receipt, StateReadExt};
use crate::store::{Snapshot, StoreError};

/// The path prefix.
pub const PREFIX: &str = "/mesh/";
/// The Mesh specification version served.
pub const MESH_VERSION: &str = "1.5.1";
/// `blockchain` in the network identifier.
pub const BLOCKCHAIN: &str = "goodwill";
/// The currency's symbol; its decimals follow from [`COIN`].
pub const SYMBOL: &str = "GWL";
/// Decimals of [`SYMBOL`] (1 GWL = 10^6 units).
pub const DECIMALS: u32 = COIN.ilog10();
/// `sub_account`-free contract accounts are named by this many hex digits.
const CONTRACT_HEX: usize = 64;

/// Operation types, each a kind of balance change.
pub const OPERATION_TYPES: [&str; 8] = [
    "TRANSFER",
    "FEE",
    "REWARD",
    "BUY_WEIGHT",
    "CONTRACT_CALL",
    "BURN",
    "BOUNTY",
    "GENESIS",
];
/// The one operation status: every operation on chain happened.
pub const SUCCESS: &str = "SUCCESS";

/// One kind of refusal: its code, message (never changes for a code),
/// whether asking again may succeed, and what it means.
#[derive(Debug, Clone, Copy)]
pub struct MeshError {
    /// The code.
    pub code: u32,
    /// The message.
    pub message: &'static str,
    /// Whether the same request may succeed later.
    pub retriable: bool,
    /// What it means, in general.
    pub description: &'static str,
}

macro_rules! errors {
    ($($name:ident = $code:literal, $msg:literal, $retry:literal, $desc:literal;)*) => {
        $(
            #[allow(missing_docs)]
            pub const $name: MeshError = MeshError {
                code: $code,
                message: $msg,
                retriable: $retry,
                description: $desc,
            };
        )*
        /// Every refusal, by code.
        pub const ERRORS: &[MeshError] = &[$($name),*];
    };
}

errors! {
    BAD_REQUEST = 1, "Invalid request", false,
        "The body is not JSON, or a field is missing, of the wrong type or out of range (details.field names it).";
    UNKNOWN_NETWORK = 2, "Unknown network", false,
        "The network identifier is not this node's: blockchain \"goodwill\" and network the chain's name (POST /mesh/network/list).";
    BLOCK_NOT_FOUND = 3, "Block not found", true,
        "No block on this node's chain has that index and hash; a future index may exist later.";
    TX_NOT_FOUND = 4, "Transaction not found", true,
        "The transaction is not in that block, or no longer (or not yet) in the mempool.";
    BAD_ADDRESS = 5, "Invalid account address", false,
        "An account is a gw1… address (bech32m), or a contract's 64-hex-digit address.";
    BAD_PUBLIC_KEY = 6, "Invalid public key", false,
        "A public key is 32 bytes of hex on curve edwards25519, a valid point.";
    UNSUPPORTED_OPERATIONS = 7, "Unsupported operations", false,
        "Construction builds a transfer (two TRANSFER operations, optionally a FEE) or a weight purchase (two BUY_WEIGHT operations, optionally a FEE).";
    BAD_TRANSACTION = 8, "Invalid transaction", false,
        "The transaction's hex does not decode to a goodwill transaction of this chain, in canonical form.";
    BAD_SIGNATURE = 9, "Invalid signature", false,
        "A signature is 64 bytes of ed25519 (signature_type ed25519) by the sender's key over the payload's bytes.";
    TX_REFUSED = 10, "Transaction refused", false,
        "The node did not admit the transaction; details.reason is goodwill's stable reason code (docs/http.md).";
    BUSY = 11, "Node busy", true,
        "The node's core or store is busy or stopping; ask again in a second.";
    UNAVAILABLE = 12, "Not available", false,
        "This node does not serve that: historical balances, a block body it no longer holds, coins, /call, events or search; or it keeps no indexes (a forger).";
    STORE_FAILED = 13, "Internal error", true,
        "The node failed to read its own store; its log says why.";
    UNKNOWN_CURRENCY = 14, "Unknown currency", false,
        "The only currency is GWL with 6 decimals.";
    RATE_LIMITED = 15, "Too many submissions", true,
        "This address sent more submissions than the node's limit; wait details.retry_after_s seconds.";
}

/// A refusal: the error and what about this request was wrong.
#[derive(Debug)]
struct Refusal {
    error: MeshError,
    details: Value,
}

impl Refusal {
    fn new(error: MeshError, why: impl Into<String>) -> Refusal {
        Refusal {
            error,
            details: json!({ "why": why.into() }),
        }
    }

    fn field(error: MeshError, field: &str, why: impl Into<String>) -> Refusal {
        Refusal {
            error,
            details: json!({ "field": field, "why": why.into() }),
        }
    }

    fn bad(field: &str, why: impl Into<String>) -> Refusal {
        Refusal::field(BAD_REQUEST, field, why)
    }

    fn reply(self) -> Reply {
        let e = self.error;
        Reply::json(
            500,
            &json!({
                "code": e.code,
                "message": e.message,
                "description": e.description,
                "retriable": e.retriable,
                "details": self.details,
            }),
        )
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        match e {
            StoreError::NotIndexed => Refusal::new(
                UNAVAILABLE,
                "this node keeps no indexes (a forger's lean store): ask a main node",
            ),
            e => Refusal::new(STORE_FAILED, e.to_string()),
        }
    }
}

impl From<crate::ledger::state::ReadError> for Refusal {
    fn from(e: crate::ledger::state::ReadError) -> Refusal {
        Refusal::from(StoreError::from(e))
    }
}

type Answer = Result<Value, Refusal>;

/// Whether `path` is a Mesh route (so the explorer leaves it alone).
pub fn serves(path: &str) -> bool {
    path.starts_with(PREFIX) || path == "/mesh"
}

/// Whether a Mesh request reads the store at length (takes one of the
/// server's read places); construction and the core's answers do not.
pub fn reads_store(path: &str) -> bool {
    matches!(
        path.strip_prefix(PREFIX),
        Some("block" | "block/transaction" | "account/balance" | "network/status")
    )
}

/// Answers `req` if it is under `/mesh/` (blocking: store reads, the core).
pub fn answer(api: &Api, req: &Request<'_>) -> Option<Reply> {
    if !serves(req.path) {
        return None;
    }
    let route = req.path.strip_prefix(PREFIX).unwrap_or("");
    if !ROUTES.contains(&route) && !NOT_SERVED.contains(&route) {
        return Some(super::api::not_found(&format!(
            "no Mesh route {}; the routes: {}",
            req.path,
            ROUTES.join(", ")
        )));
    }
    if req.method != "POST" {
        return Some(super::api::method_not_allowed(req.path, req.method, "POST"));
    }
    let result = body(req).and_then(|v| {
        // /network/list is the one route asked before the network is known.
        if route != "network/list" {
            check_network(api.params(), &v)?;
        }
        dispatch(api, req, route, &v)
    });
    Some(match result {
        Ok(v) => Reply::json(200, &v),
        Err(r) => r.reply(),
    })
}

/// The routes served.
pub const ROUTES: [&str; 16] = [
    "network/list",
    "network/status",
    "network/options",
    "block",
    "block/transaction",
    "mempool",
    "mempool/transaction",
    "account/balance",
    "construction/derive",
    "construction/preprocess",
    "construction/metadata",
    "construction/payloads",
    "construction/combine",
    "construction/parse",
    "construction/hash",
    "construction/submit",
];

/// Routes of the specification this node answers with [`UNAVAILABLE`].
const NOT_SERVED: [&str; 4] = [
    "account/coins",
    "call",
    "events/blocks",
    "search/transactions",
];

fn dispatch(api: &Api, req: &Request<'_>, route: &str, v: &Value) -> Answer {
    let p = api.params();
    match route {
        "network/list" => Ok(json!({ "network_identifiers": [network_id(p)] })),
        "network/status" => network_status(api),
        "network/options" => Ok(network_options()),
        "block" => block(api, v),
        "block/transaction" => block_transaction(api, v),
        "mempool" => mempool(api),
        "mempool/transaction" => mempool_transaction(api, v),
        "account/balance" => account_balance(api, v),
        "construction/derive" => derive(v),
        "construction/preprocess" => preprocess(v),
        "construction/metadata" => {
            // It reaches the core (the next nonce), as /api/v1/tx/encode does.
            limited(api, req)?;
            metadata(api, v)
        }
        "construction/payloads" => payloads(p, v),
        "construction/combine" => combine(p, v),
        "construction/parse" => parse(p, v),
        "construction/hash" => hash(p, v),
        "construction/submit" => submit(api, req, v),
        _ => Err(Refusal::new(
            UNAVAILABLE,
            format!("this node does not serve /mesh/{route}"),
        )),
    }
}

/// The request's JSON object (any content type: Mesh clients send JSON).
fn body(req: &Request<'_>) -> Result<Value, Refusal> {
    let v: Value = serde_json::from_slice(req.body)
        .map_err(|e| Refusal::bad("(body)", format!("the body is not well-formed JSON: {e}")))?;
    if !v.is_object() {
        return Err(Refusal::bad("(body)", "the body must be a JSON object"));
    }
    // Every request's metadata, where the specification has one, is an object.
    if v.get("metadata").is_some_and(|m| !m.is_object()) {
        return Err(Refusal::bad("metadata", "expected an object"));
    }
    Ok(v)
}

fn network_id(p: &ChainParams) -> Value {
    json!({ "blockchain": BLOCKCHAIN, "network": p.genesis().chain_name })
}

fn check_network(p: &ChainParams, v: &Value) -> Result<(), Refusal> {
    let n = member(v, "network_identifier")?;
    if !n.is_object() {
        return Err(Refusal::bad("network_identifier", "expected an object"));
    }
    let (b, name) = (str_at(n, "blockchain"), str_at(n, "network"));
    if b != Some(BLOCKCHAIN) || name != Some(p.genesis().chain_name.as_str()) {
        return Err(Refusal {
            error: UNKNOWN_NETWORK,
            details: json!({ "expected": network_id(p), "got": n }),
        });
    }
    if n.get("sub_network_identifier")
        .is_some_and(|s| !s.is_null())
    {
        return Err(Refusal::field(
            UNKNOWN_NETWORK,
            "network_identifier.sub_network_identifier",
            "goodwill has no sub-networks",
        ));
    }
    Ok(())
}

fn str_at<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// A required object member.
fn member<'a>(v: &'a Value, field: &str) -> Result<&'a Value, Refusal> {
    match v.get(field) {
        Some(x) if !x.is_null() => Ok(x),
        _ => Err(Refusal::bad(field, "missing")),
    }
}

fn string<'a>(v: &'a Value, field: &str) -> Result<&'a str, Refusal> {
    member(v, field)?
        .as_str()
        .ok_or_else(|| Refusal::bad(field, "expected a string"))
}

fn array<'a>(v: &'a Value, field: &str) -> Result<&'a Vec<Value>, Refusal> {
    member(v, field)?
        .as_array()
        .ok_or_else(|| Refusal::bad(field, "expected an array"))
}

fn hex_at(v: &Value, field: &str, max: usize) -> Result<Vec<u8>, Refusal> {
    let s = string(v, field)?;
    if s.len() > max * 2 {
        return Err(Refusal::bad(field, format!("more than {max} bytes")));
    }
    hex::decode(s).map_err(|e| Refusal::bad(field, format!("not hex: {e}")))
}

fn currency() -> Value {
    json!({ "symbol": SYMBOL, "decimals": DECIMALS })
}

fn amount(units: i128) -> Value {
    json!({ "value": units.to_string(), "currency": currency() })
}

fn block_id(height: u64, hash: &Hash) -> Value {
    json!({ "index": height, "hash": hash.to_hex() })
}

fn holder_json(h: &Holder) -> Value {
    match h {
        Holder::Account(k) => json!({ "address": k.to_string() }),
        Holder::Contract(c) => json!({ "address": c.to_hex() }),
    }
}

/// An account identifier's holder: `gw1…` or a contract's 64 hex digits.
fn holder_of(v: &Value, field: &str) -> Result<Holder, Refusal> {
    let a = member(v, field)?;
    let text = a
        .get("address")
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::bad(&format!("{field}.address"), "missing"))?;
    if a.get("sub_account").is_some_and(|s| !s.is_null()) {
        return Err(Refusal::field(
            BAD_ADDRESS,
            &format!("{field}.sub_account"),
            "goodwill accounts have no sub-accounts",
        ));
    }
    if text.len() == CONTRACT_HEX && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        let h = Hash::from_hex(text)
            .map_err(|e| Refusal::field(BAD_ADDRESS, &format!("{field}.address"), e.to_string()))?;
        return Ok(Holder::Contract(h));
    }
    address::parse(text)
        .map(Holder::Account)
        .map_err(|e| Refusal::field(BAD_ADDRESS, &format!("{field}.address"), e.to_string()))
}

fn account_of(v: &Value, field: &str) -> Result<PublicKey, Refusal> {
    match holder_of(v, field)? {
        Holder::Account(k) => Ok(k),
        Holder::Contract(_) => Err(Refusal::field(
            UNSUPPORTED_OPERATIONS,
            &format!("{field}.address"),
            "a contract's balance moves only through its own code",
        )),
    }
}

// ---- network ----------------------------------------------------------

fn network_status(api: &Api) -> Answer {
    let snap = api.store().snapshot()?;
    let tip = snap.tip()?;
    let p = api.params();
    let mut v = json!({
        "current_block_identifier": block_id(tip.height, &tip.hash),
        "current_block_timestamp": timestamp(p, tip.height, tip.slot),
        "genesis_block_identifier": block_id(0, &p.chain_id()),
    });
    if let Some(s) = api.figures().status() {
        v["sync_status"] = json!({
            "current_index": tip.height,
            "synced": !s.syncing,
            "stage": if s.syncing { "syncing" } else { "following" },
        });
        v["peers"] = Value::Array(s.peers.iter().map(|a| json!({ "peer_id": a })).collect());
    } else {
        v["peers"] = json!([]);
    }
    Ok(v)
}

/// A block's timestamp: the start of its slot (genesis: the chain's start).
fn timestamp(p: &ChainParams, height: u64, slot: u64) -> u64 {
    if height == 0 {
        p.genesis().start_ms
    } else {
        p.slot_start_ms(slot)
    }
}

fn network_options() -> Value {
    json!({
        "version": {
            "rosetta_version": MESH_VERSION,
            "node_version": crate::version(),
        },
        "allow": {
            "operation_statuses": [{ "status": SUCCESS, "successful": true }],
            "operation_types": OPERATION_TYPES,
            "errors": ERRORS.iter().map(|e| json!({
                "code": e.code,
                "message": e.message,
                "description": e.description,
                "retriable": e.retriable,
            })).collect::<Vec<_>>(),
            "historical_balance_lookup": false,
            "call_methods": [],
            "balance_exemptions": [],
            "mempool_coins": false,
            "block_hash_case": "lower_case",
            "transaction_hash_case": "lower_case",
        },
    })
}

// ---- blocks -------------------------------------------------------------

/// The block a partial identifier names on this node's chain (the tip
/// without one): (height, hash, block; none for genesis).
fn find_block(
    snap: &Snapshot,
    v: &Value,
    field: &str,
) -> Result<(u64, Hash, Option<Block>), Refusal> {
    let tip = snap.tip()?;
    let id = v.get(field).filter(|x| !x.is_null());
    let index = match id.and_then(|i| i.get("index")).filter(|x| !x.is_null()) {
        None => None,
        Some(i) => Some(
            i.as_u64()
                .ok_or_else(|| Refusal::bad(&format!("{field}.index"), "expected a height ≥ 0"))?,
        ),
    };
    let hash = match id.and_then(|i| i.get("hash")).filter(|x| !x.is_null()) {
        None => None,
        Some(h) => Some(
            h.as_str()
                .and_then(|s| Hash::from_hex(s).ok())
                .ok_or_else(|| Refusal::bad(&format!("{field}.hash"), "expected 64 hex digits"))?,
        ),
    };
    let not_found = |why: String| Refusal::new(BLOCK_NOT_FOUND, why);
    let height = match (index, hash) {
        (Some(i), _) => i,
        (None, None) => tip.height,
        (None, Some(h)) if h == api_genesis(snap) => 0,
        (None, Some(h)) => snap
            .block(&h)?
            .map(|b| b.height())
            .ok_or_else(|| not_found(format!("no block {h} on this node")))?,
    };
    if height > tip.height {
        return Err(not_found(format!(
            "height {height} is past this node's tip ({})",
            tip.height
        )));
    }
    let at = if height == 0 {
        api_genesis(snap)
    } else {
        snap.hash_at(height)?
            .ok_or_else(|| not_found(format!("no canonical block at height {height}")))?
    };
    if hash.is_some_and(|h| h != at) {
        return Err(not_found(format!(
            "the block at height {height} is {at}, not {}",
            hash.expect("some").to_hex()
        )));
    }
    if height == 0 {
        return Ok((0, at, None));
    }
    let block = snap.block_at(height)?.ok_or_else(|| {
        Refusal::new(
            UNAVAILABLE,
            format!("this node no longer holds the body of block {height}"),
        )
    })?;
    Ok((height, at, Some(block)))
}

fn api_genesis(snap: &Snapshot) -> Hash {
    snap.params().chain_id()
}

/// Operations numbered from 0 in a transaction.
#[derive(Default)]
struct Ops(Vec<Value>);

impl Ops {
    fn push(&mut self, kind: &str, holder: &Holder, units: i128, status: bool) {
        let mut op = json!({
            "operation_identifier": { "index": self.0.len() },
            "type": kind,
            "account": holder_json(holder),
            "amount": amount(units),
        });
        if status {
            op["status"] = json!(SUCCESS);
        }
        self.0.push(op);
    }
}

/// The operation type of a transaction's non-fee balance changes.
fn kind_op(kind: &TxKind) -> &'static str {
    match kind {
        TxKind::Transfer { .. } => "TRANSFER",
        TxKind::BuyWeight { .. } => "BUY_WEIGHT",
        TxKind::DeployContract { .. } | TxKind::CallContract { .. } => "CONTRACT_CALL",
        TxKind::ReportEquivocation { .. } => "BOUNTY",
        _ => "TRANSFER",
    }
}

/// A transaction's operations from its deltas: the sender's fee and
/// burned storage charge first, then the rest of each holder's change,
/// typed by the transaction's kind. `status`: on chain (not pending).
fn tx_ops(
    stx: &SignedTransaction,
    receipt: Option<&Receipt>,
    deltas: &[Delta],
    status: bool,
) -> Vec<Value> {
    let sender = Holder::Account(stx.tx.sender);
    let fee = balances::fee_charged(stx, receipt) as i128;
    let burn = receipt.map_or(0, |r| r.storage_charge as i128);
    let mut ops = Ops::default();
    ops.push("FEE", &sender, -fee, status);
    if burn > 0 {
        ops.push("BURN", &sender, -burn, status);
    }
    let kind = kind_op(&stx.tx.kind);
    // The sender's own change first (what is left of it past the fee and
    // the burn), then each other holder's.
    let own = deltas
        .iter()
        .find(|(h, _)| *h == sender)
        .map_or(0, |(_, d)| *d);
    if own + fee + burn != 0 {
        ops.push(kind, &sender, own + fee + burn, status);
    }
    for (holder, d) in deltas.iter().filter(|(h, _)| *h != sender) {
        ops.push(kind, holder, *d, status);
    }
    ops.0
}

fn tx_metadata(stx: &SignedTransaction, receipt: Option<&Receipt>) -> Value {
    let mut m = json!({
        "kind": stx.tx.kind.name(),
        "sender": stx.tx.sender.to_string(),
        "nonce": stx.tx.nonce,
        "memo_hex": hex::encode(stx.tx.memo.as_slice()),
    });
    if let Ok(text) = std::str::from_utf8(stx.tx.memo.as_slice()) {
        m["memo"] = json!(text);
    }
    if let TxKind::BuyWeight { epoch, .. } = &stx.tx.kind {
        m["epoch"] = json!(epoch);
    }
    if let Some(r) = receipt {
        m["receipt"] = super::txjson::receipt_to_json(r);
    }
    m
}

fn receipt_of(snap: &Snapshot, stx: &SignedTransaction) -> Result<Option<Receipt>, Refusal> {
    Ok(match stx.tx.kind.fuel_limit() {
        Some(_) => snap.receipt(&stx.id())?,
        None => None,
    })
}

/// A block's transactions, then its reward (named by the block's hash);
/// genesis: its balances.
fn block_txs(snap: &Snapshot, hash: &Hash, block: Option<&Block>) -> Result<Vec<Value>, Refusal> {
    let Some(block) = block else {
        let mut ops = Ops::default();
        for b in &snap.params().genesis().balances {
            ops.push(
                "GENESIS",
                &Holder::Account(b.address),
                b.amount as i128,
                true,
            );
        }
        return Ok(vec![json!({
            "transaction_identifier": { "hash": hash.to_hex() },
            "operations": ops.0,
            "metadata": { "kind": "genesis" },
        })]);
    };
    let BlockBalances { txs, reward } = snap.block_balances(block)?;
    let mut out = Vec::with_capacity(block.txs.len() + 1);
    let mut fees = 0u64;
    for (stx, deltas) in block.txs.iter().zip(&txs) {
        let receipt = receipt_of(snap, stx)?;
        fees = fees.saturating_add(balances::fee_charged(stx, receipt.as_ref()));
        out.push(json!({
            "transaction_identifier": { "hash": stx.id().to_hex() },
            "operations": tx_ops(stx, receipt.as_ref(), deltas, true),
            "metadata": tx_metadata(stx, receipt.as_ref()),
        }));
    }
    out.push(reward_tx(block, hash, reward, fees));
    Ok(out)
}

fn reward_tx(block: &Block, hash: &Hash, reward: u64, fees: u64) -> Value {
    let forger = Holder::Account(block.header.header.forger);
    let mut ops = Ops::default();
    let base = reward.saturating_sub(fees);
    if base > 0 {
        ops.push("REWARD", &forger, base as i128, true);
    }
    if fees > 0 {
        ops.push("FEE", &forger, fees as i128, true);
    }
    json!({
        "transaction_identifier": { "hash": hash.to_hex() },
        "operations": ops.0,
        "metadata": { "kind": "block-reward", "forger": block.header.header.forger.to_string() },
    })
}

fn block(api: &Api, v: &Value) -> Answer {
    let snap = api.store().snapshot()?;
    let (height, hash, b) = find_block(&snap, v, "block_identifier")?;
    let p = api.params();
    let (parent, slot) = match &b {
        None => (block_id(0, &hash), 0),
        Some(b) => (
            block_id(height - 1, &b.header.header.parent),
            b.header.header.slot,
        ),
    };
    let mut out = json!({
        "block_identifier": block_id(height, &hash),
        "parent_block_identifier": parent,
        "timestamp": timestamp(p, height, slot),
        "transactions": block_txs(&snap, &hash, b.as_ref())?,
    });
    if let Some(b) = &b {
        let h = &b.header.header;
        out["metadata"] = json!({
            "slot": h.slot,
            "forger": h.forger.to_string(),
            "tx_root": h.tx_root.to_hex(),
            "state_digest": h.state_digest.to_hex(),
        });
    }
    Ok(json!({ "block": out }))
}

fn block_transaction(api: &Api, v: &Value) -> Answer {
    let snap = api.store().snapshot()?;
    let id = member(v, "block_identifier")?;
    for f in ["index", "hash"] {
        member(id, f).map_err(|_| Refusal::bad(&format!("block_identifier.{f}"), "missing"))?;
    }
    let (height, hash, b) = find_block(&snap, v, "block_identifier")?;
    let want = member(v, "transaction_identifier")?;
    let want = string(want, "hash")
        .map_err(|_| Refusal::bad("transaction_identifier.hash", "missing or not a string"))?;
    let txs = block_txs(&snap, &hash, b.as_ref())?;
    txs.into_iter()
        .find(|t| t["transaction_identifier"]["hash"] == want)
        .map(|t| json!({ "transaction": t }))
        .ok_or_else(|| {
            Refusal::new(
                TX_NOT_FOUND,
                format!("no transaction {want} in block {height} ({hash})"),
            )
        })
}

// ---- accounts and mempool ------------------------------------------------

fn account_balance(api: &Api, v: &Value) -> Answer {
    let holder = holder_of(v, "account_identifier")?;
    if let Some(cs) = v.get("currencies").filter(|c| !c.is_null()) {
        let cs = cs
            .as_array()
            .ok_or_else(|| Refusal::bad("currencies", "expected an array"))?;
        for c in cs {
            if str_at(c, "symbol") != Some(SYMBOL) || c.get("decimals") != Some(&json!(DECIMALS)) {
                return Err(Refusal {
                    error: UNKNOWN_CURRENCY,
                    details: json!({ "got": c, "expected": currency() }),
                });
            }
        }
    }
    let snap = api.store().snapshot()?;
    let tip = snap.tip()?;
    if let Some(id) = v.get("block_identifier").filter(|x| !x.is_null()) {
        let index = id.get("index").filter(|x| !x.is_null());
        let hash = id.get("hash").filter(|x| !x.is_null());
        if index.is_some_and(|i| !i.is_u64()) {
            return Err(Refusal::bad(
                "block_identifier.index",
                "expected a height ≥ 0",
            ));
        }
        if hash.is_some_and(|h| h.as_str().and_then(|s| Hash::from_hex(s).ok()).is_none()) {
            return Err(Refusal::bad(
                "block_identifier.hash",
                "expected 64 hex digits",
            ));
        }
        let at_tip = index.is_none_or(|i| i.as_u64() == Some(tip.height))
            && hash.is_none_or(|h| h.as_str() == Some(tip.hash.to_hex().as_str()));
        if !at_tip {
            return Err(Refusal {
                error: UNAVAILABLE,
                details: json!({
                    "why": "historical balance lookup is off: this node gives balances at its tip",
                    "tip": block_id(tip.height, &tip.hash),
                }),
            });
        }
    }
    let (balance, meta) = match holder {
        Holder::Account(k) => {
            let a = snap.account(&k)?;
            (a.balance, json!({ "nonce": a.nonce }))
        }
        Holder::Contract(c) => match snap.contract(&c)? {
            Some(a) => (a.balance, json!({ "contract": true })),
            None => (0, json!({ "contract": true, "exists": false })),
        },
    };
    Ok(json!({
        "block_identifier": block_id(tip.height, &tip.hash),
        "balances": [amount(balance as i128)],
        "metadata": meta,
    }))
}

fn core(api: &Api, ask: Ask) -> Result<Told, Refusal> {
    let link = api
        .core()
        .ok_or_else(|| Refusal::new(BUSY, "this server has no link to a node's core"))?;
    link.ask_blocking(ask).map_err(|e| Refusal::new(BUSY, e.0))
}

fn unexpected(t: &Told) -> Refusal {
    Refusal::new(
        STORE_FAILED,
        format!("the core answered something else: {t:?}"),
    )
}

fn mempool(api: &Api) -> Answer {
    match core(api, Ask::MempoolIds)? {
        Told::MempoolIds(ids) => Ok(json!({
            "transaction_identifiers": ids
                .iter()
                .map(|id| json!({ "hash": id.to_hex() }))
                .collect::<Vec<_>>(),
        })),
        other => Err(unexpected(&other)),
    }
}

fn tx_hash_at(v: &Value, field: &str) -> Result<Hash, Refusal> {
    let t = member(v, field)?;
    t.get("hash")
        .and_then(Value::as_str)
        .and_then(|s| Hash::from_hex(s).ok())
        .ok_or_else(|| Refusal::bad(&format!("{field}.hash"), "expected 64 hex digits"))
}

fn mempool_transaction(api: &Api, v: &Value) -> Answer {
    let id = tx_hash_at(v, "transaction_identifier")?;
    match core(api, Ask::Pending(id))? {
        Told::Pending(Some(stx)) => {
            // Pending: a contract transaction's fee is at most what it
            // names (the fuel it does not use comes back).
            let deltas = balances::rule_deltas(&stx, None);
            let mut meta = tx_metadata(&stx, None);
            meta["estimated"] = json!(stx.tx.kind.fuel_limit().is_some());
            Ok(json!({
                "transaction": {
                    "transaction_identifier": { "hash": id.to_hex() },
                    "operations": tx_ops(&stx, None, &deltas, false),
                    "metadata": meta,
                },
            }))
        }
        Told::Pending(None) => Err(Refusal::new(
            TX_NOT_FOUND,
            format!("transaction {id} is not in this node's mempool"),
        )),
        other => Err(unexpected(&other)),
    }
}

// ---- construction ---------------------------------------------------------

/// A public key object: 32 bytes of hex on edwards25519, a valid point.
fn public_key(v: &Value, field: &str) -> Result<PublicKey, Refusal> {
    let k = member(v, field)?;
    let curve = str_at(k, "curve_type");
    if curve != Some("edwards25519") {
        return Err(Refusal::field(
            BAD_PUBLIC_KEY,
            &format!("{field}.curve_type"),
            format!("curve {curve:?}: goodwill keys are edwards25519"),
        ));
    }
    let bytes = hex_at(k, "hex_bytes", 32).map_err(|r| Refusal {
        error: BAD_PUBLIC_KEY,
        ..r
    })?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
        Refusal::field(
            BAD_PUBLIC_KEY,
            &format!("{field}.hex_bytes"),
            format!("{} bytes, not 32", b.len()),
        )
    })?;
    let pk = PublicKey(bytes);
    pk.validate().map_err(|e| {
        Refusal::field(BAD_PUBLIC_KEY, &format!("{field}.hex_bytes"), e.to_string())
    })?;
    Ok(pk)
}

fn derive(v: &Value) -> Answer {
    let pk = public_key(v, "public_key")?;
    Ok(json!({ "account_identifier": { "address": pk.to_string() } }))
}

/// What an intent asks for, read from its operations.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Intent {
    sender: PublicKey,
    kind: IntentKind,
    amount: u64,
    to: PublicKey,
    /// The fee the intent names with a FEE operation, if any.
    fee: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntentKind {
    Transfer,
    BuyWeight,
}

fn op_units(op: &Value, at: &str) -> Result<i128, Refusal> {
    let a = member(op, "amount").map_err(|_| Refusal::bad(&format!("{at}.amount"), "missing"))?;
    let c = a.get("currency").unwrap_or(&Value::Null);
    if str_at(c, "symbol") != Some(SYMBOL) || c.get("decimals") != Some(&json!(DECIMALS)) {
        return Err(Refusal {
            error: UNKNOWN_CURRENCY,
            details: json!({ "field": format!("{at}.amount.currency"), "expected": currency() }),
        });
    }
    let text =
        str_at(a, "value").ok_or_else(|| Refusal::bad(&format!("{at}.amount.value"), "missing"))?;
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::bad(
            &format!("{at}.amount.value"),
            format!("{text:?} is not a whole number of base units"),
        ));
    }
    let n: i128 = text
        .parse()
        .map_err(|_| Refusal::bad(&format!("{at}.amount.value"), "not a number"))?;
    if n.unsigned_abs() > u64::MAX as u128 {
        return Err(Refusal::bad(&format!("{at}.amount.value"), "out of range"));
    }
    Ok(n)
}

/// Reads an intent: two operations of one type (a debit of the sender,
/// the same credit of the receiver) and at most one FEE debit of the
/// sender.
fn intent(v: &Value) -> Result<Intent, Refusal> {
    let ops = array(v, "operations")?;
    let unsupported = |why: String| Refusal::field(UNSUPPORTED_OPERATIONS, "operations", why);
    if ops.len() > 3 {
        return Err(unsupported(format!("{} operations: at most 3", ops.len())));
    }
    let mut moves: Vec<(String, PublicKey, i128)> = Vec::new();
    let mut fee = None;
    for (i, op) in ops.iter().enumerate() {
        let at = format!("operations[{i}]");
        let kind =
            str_at(op, "type").ok_or_else(|| Refusal::bad(&format!("{at}.type"), "missing"))?;
        let who = account_of(op, "account").map_err(|r| match r.error.code {
            1 => Refusal::bad(&format!("{at}.account"), "missing"),
            _ => r,
        })?;
        let units = op_units(op, &at)?;
        match kind {
            "FEE" if fee.is_some() => {
                return Err(unsupported(format!("{at}: a second FEE operation")))
            }
            "FEE" if units >= 0 => {
                return Err(unsupported(format!(
                    "{at}: a FEE operation debits the sender (a negative amount)"
                )))
            }
            "FEE" => fee = Some((who, (-units) as u64)),
            "TRANSFER" | "BUY_WEIGHT" => moves.push((kind.to_string(), who, units)),
            other => return Err(unsupported(format!("{at}: type {other:?} cannot be built"))),
        }
    }
    let [a, b] = moves.as_slice() else {
        return Err(unsupported(format!(
            "{} TRANSFER/BUY_WEIGHT operations: a transaction has two (debit and credit)",
            moves.len()
        )));
    };
    if a.0 != b.0 {
        return Err(unsupported(format!(
            "operations of two types: {} and {}",
            a.0, b.0
        )));
    }
    let (from, to) = if a.2 < 0 { (a, b) } else { (b, a) };
    if from.2 >= 0 || to.2 <= 0 || from.2 != -to.2 {
        return Err(unsupported(
            "the two operations must be a debit and an equal credit, neither zero".into(),
        ));
    }
    if let Some((payer, _)) = fee {
        if payer != from.1 {
            return Err(unsupported(
                "the FEE operation must debit the sender".into(),
            ));
        }
    }
    Ok(Intent {
        sender: from.1,
        kind: if a.0 == "TRANSFER" {
            IntentKind::Transfer
        } else {
            IntentKind::BuyWeight
        },
        amount: to.2 as u64,
        to: to.1,
        fee: fee.map(|(_, f)| f),
    })
}

/// A memo from metadata (`memo`: text, or `memo_hex`), at most 64 bytes.
fn memo_of(m: &Value) -> Result<Option<Vec<u8>>, Refusal> {
    let memo = match (
        m.get("memo").filter(|x| !x.is_null()),
        m.get("memo_hex").filter(|x| !x.is_null()),
    ) {
        (None, None) => return Ok(None),
        (Some(t), None) => t
            .as_str()
            .ok_or_else(|| Refusal::bad("metadata.memo", "expected a string"))?
            .as_bytes()
            .to_vec(),
        (None, Some(_)) => hex_at(m, "memo_hex", limits::MEMO).map_err(|_| {
            Refusal::bad(
                "metadata.memo_hex",
                format!("expected hex of at most {} bytes", limits::MEMO),
            )
        })?,
        (Some(_), Some(_)) => {
            return Err(Refusal::bad("metadata", "give memo or memo_hex, not both"))
        }
    };
    if memo.len() > limits::MEMO {
        return Err(Refusal::bad(
            "metadata.memo",
            format!("{} bytes: at most {}", memo.len(), limits::MEMO),
        ));
    }
    Ok(Some(memo))
}

fn preprocess(v: &Value) -> Answer {
    let i = intent(v)?;
    let meta = v
        .get("metadata")
        .filter(|m| !m.is_null())
        .cloned()
        .unwrap_or(json!({}));
    if !meta.is_object() {
        return Err(Refusal::bad("metadata", "expected an object"));
    }
    let mut options = json!({ "sender": i.sender.to_string() });
    if let Some(m) = memo_of(&meta)? {
        options["memo_hex"] = json!(hex::encode(m));
    }
    if let Some(e) = meta.get("epoch").filter(|e| !e.is_null()) {
        options["epoch"] = json!(e
            .as_u64()
            .ok_or_else(|| Refusal::bad("metadata.epoch", "expected an epoch ≥ 0"))?);
    }
    if i.kind == IntentKind::BuyWeight {
        options["buy_weight"] = json!(true);
    }
    Ok(json!({
        "options": options,
        "required_public_keys": [{ "address": i.sender.to_string() }],
    }))
}

fn metadata(api: &Api, v: &Value) -> Answer {
    let options = member(v, "options")?;
    let sender = address::parse(
        string(options, "sender").map_err(|_| Refusal::bad("options.sender", "missing"))?,
    )
    .map_err(|e| Refusal::field(BAD_ADDRESS, "options.sender", e.to_string()))?;
    let p = api.params();
    let nonce = match core(api, Ask::NextNonce(sender))? {
        Told::NextNonce(n) => n,
        other => return Err(unexpected(&other)),
    };
    let min = p.genesis().min_fee;
    let mut m = json!({
        "nonce": nonce,
        "fee": min.to_string(),
        "chain_id": p.chain_id().to_hex(),
    });
    if let Some(memo) = options.get("memo_hex").filter(|x| !x.is_null()) {
        m["memo_hex"] = memo.clone();
    }
    if options.get("buy_weight").is_some_and(|b| b == &json!(true))
        || options.get("epoch").is_some()
    {
        let now = crate::runtime::os::now_ms();
        let epoch = p.epoch_of(p.slot_at(now));
        let ahead = p.limits().max_weight_epochs_ahead;
        // Two epochs ahead is the soonest; one more leaves the whole
        // current epoch for the signature to come back.
        let chosen = match options.get("epoch").and_then(Value::as_u64) {
            Some(e) => e,
            None => epoch + 3.min(ahead),
        };
        m["epoch"] = json!(chosen);
    }
    Ok(json!({
        "metadata": m,
        "suggested_fee": [amount(min as i128)],
    }))
}

fn u64_field(m: &Value, field: &str) -> Result<u64, Refusal> {
    let x = member(m, field).map_err(|_| Refusal::bad(&format!("metadata.{field}"), "missing"))?;
    x.as_u64()
        .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| Refusal::bad(&format!("metadata.{field}"), "expected a whole number ≥ 0"))
}

/// The unsigned transaction an intent and its metadata make.
fn build(p: &ChainParams, v: &Value) -> Result<Transaction, Refusal> {
    let i = intent(v)?;
    let m = member(v, "metadata")?;
    let nonce = u64_field(m, "nonce")?;
    let fee = match i.fee {
        Some(f) => f,
        None => u64_field(m, "fee")?,
    };
    if let Some(c) = m.get("chain_id").and_then(Value::as_str) {
        if c != p.chain_id().to_hex() {
            return Err(Refusal::field(
                UNKNOWN_NETWORK,
                "metadata.chain_id",
                format!("{c} is not this chain's id"),
            ));
        }
    }
    let memo = memo_of(m)?.unwrap_or_default();
    let kind = match i.kind {
        IntentKind::Transfer => TxKind::Transfer {
            to: i.to,
            amount: i.amount,
        },
        IntentKind::BuyWeight => TxKind::BuyWeight {
            epoch: u64_field(m, "epoch")?,
            amount: i.amount,
            association: i.to,
        },
    };
    Ok(Transaction {
        chain_id: p.chain_id(),
        sender: i.sender,
        nonce,
        fee,
        kind,
        memo: Bytes::new(memo).expect("bounded above"),
    })
}

fn payloads(p: &ChainParams, v: &Value) -> Answer {
    let tx = build(p, v)?;
    Ok(json!({
        "unsigned_transaction": hex::encode(codec::encode(&tx)),
        "payloads": [{
            "address": tx.sender.to_string(),
            "account_identifier": { "address": tx.sender.to_string() },
            "hex_bytes": hex::encode(super::txjson::signing_bytes(&tx)),
            "signature_type": "ed25519",
        }],
    }))
}

/// An unsigned transaction's hex: canonical, of this chain.
fn unsigned(p: &ChainParams, v: &Value, field: &str) -> Result<Transaction, Refusal> {
    let bytes = hex_at(v, field, limits::DEPLOY_TX_BYTES)?;
    let tx: Transaction = codec::decode("unsigned transaction", &bytes, limits::DEPLOY_TX_BYTES)
        .map_err(|e| Refusal::field(BAD_TRANSACTION, field, e.to_string()))?;
    check_tx(p, &tx, &bytes, field, codec::encode(&tx))?;
    Ok(tx)
}

fn check_tx(
    p: &ChainParams,
    tx: &Transaction,
    bytes: &[u8],
    field: &str,
    canonical: Vec<u8>,
) -> Result<(), Refusal> {
    if canonical != bytes {
        return Err(Refusal::field(
            BAD_TRANSACTION,
            field,
            "not in canonical form",
        ));
    }
    if tx.chain_id != p.chain_id() {
        return Err(Refusal::field(
            BAD_TRANSACTION,
            field,
            format!("for chain {}, not this one ({})", tx.chain_id, p.chain_id()),
        ));
    }
    Ok(())
}

/// A signed transaction's hex: canonical, of this chain.
fn signed(p: &ChainParams, v: &Value, field: &str) -> Result<SignedTransaction, Refusal> {
    let bytes = hex_at(v, field, limits::DEPLOY_TX_BYTES + 64)?;
    let stx = SignedTransaction::from_bytes(&bytes)
        .map_err(|e| Refusal::field(BAD_TRANSACTION, field, e.to_string()))?;
    check_tx(p, &stx.tx, &bytes, field, stx.to_bytes())?;
    Ok(stx)
}

fn combine(p: &ChainParams, v: &Value) -> Answer {
    let tx = unsigned(p, v, "unsigned_transaction")?;
    let sigs = array(v, "signatures")?;
    let [s] = sigs.as_slice() else {
        return Err(Refusal::field(
            BAD_SIGNATURE,
            "signatures",
            format!(
                "{} signatures: a goodwill transaction has one, the sender's",
                sigs.len()
            ),
        ));
    };
    if str_at(s, "signature_type") != Some("ed25519") {
        return Err(Refusal::field(
            BAD_SIGNATURE,
            "signatures[0].signature_type",
            "expected ed25519",
        ));
    }
    let pk = public_key(s, "public_key")?;
    if pk != tx.sender {
        return Err(Refusal::field(
            BAD_SIGNATURE,
            "signatures[0].public_key",
            format!("{pk} is not the sender {}", tx.sender),
        ));
    }
    let bytes = hex_at(s, "hex_bytes", 64).map_err(|r| Refusal {
        error: BAD_SIGNATURE,
        ..r
    })?;
    let sig = Signature(bytes.try_into().map_err(|b: Vec<u8>| {
        Refusal::field(
            BAD_SIGNATURE,
            "signatures[0].hex_bytes",
            format!("{} bytes, not 64", b.len()),
        )
    })?);
    let msg = super::txjson::signing_bytes(&tx);
    crypto::verify_raw(&tx.sender, &msg, &sig).map_err(|e| {
        Refusal::field(
            BAD_SIGNATURE,
            "signatures[0].hex_bytes",
            format!("does not verify for the sender over the payload: {e}"),
        )
    })?;
    let stx = SignedTransaction { tx, signature: sig };
    Ok(json!({ "signed_transaction": hex::encode(stx.to_bytes()) }))
}

/// A transaction's operations as an intent reads them: the kind's debit
/// and credit, then the fee it names (a pending transaction's).
fn intent_ops(tx: &Transaction) -> Result<Vec<Value>, Refusal> {
    let sender = Holder::Account(tx.sender);
    let mut ops = Ops::default();
    match &tx.kind {
        TxKind::Transfer { to, amount } => {
            ops.push("TRANSFER", &sender, -(*amount as i128), false);
            ops.push("TRANSFER", &Holder::Account(*to), *amount as i128, false);
        }
        TxKind::BuyWeight {
            amount,
            association,
            ..
        } => {
            ops.push("BUY_WEIGHT", &sender, -(*amount as i128), false);
            ops.push(
                "BUY_WEIGHT",
                &Holder::Account(*association),
                *amount as i128,
                false,
            );
        }
        other => {
            return Err(Refusal::field(
                UNSUPPORTED_OPERATIONS,
                "transaction",
                format!("a {} transaction is not built through Mesh", other.name()),
            ))
        }
    }
    ops.push("FEE", &sender, -(tx.fee as i128), false);
    Ok(ops.0)
}

fn parse(p: &ChainParams, v: &Value) -> Answer {
    let is_signed = member(v, "signed")?
        .as_bool()
        .ok_or_else(|| Refusal::bad("signed", "expected true or false"))?;
    let tx = if is_signed {
        signed(p, v, "transaction")?.tx
    } else {
        unsigned(p, v, "transaction")?
    };
    let mut meta =
        json!({ "nonce": tx.nonce, "fee": tx.fee.to_string(), "chain_id": tx.chain_id.to_hex() });
    if !tx.memo.is_empty() {
        meta["memo_hex"] = json!(hex::encode(tx.memo.as_slice()));
    }
    if let TxKind::BuyWeight { epoch, .. } = &tx.kind {
        meta["epoch"] = json!(epoch);
    }
    let mut out = json!({ "operations": intent_ops(&tx)?, "metadata": meta });
    if is_signed {
        out["account_identifier_signers"] = json!([{ "address": tx.sender.to_string() }]);
    }
    Ok(out)
}

fn hash(p: &ChainParams, v: &Value) -> Answer {
    let stx = signed(p, v, "signed_transaction")?;
    Ok(json!({ "transaction_identifier": { "hash": stx.id().to_hex() } }))
}

/// Takes one submission from the client's allowance, or refuses (15).
fn limited(api: &Api, req: &Request<'_>) -> Result<(), Refusal> {
    api.submission_allowed(req.ip).map_err(|r| Refusal {
        error: RATE_LIMITED,
        details: json!({ "retry_after_s": r.retry_after }),
    })
}

fn submit(api: &Api, req: &Request<'_>, v: &Value) -> Answer {
    let stx = signed(api.params(), v, "signed_transaction")?;
    limited(api, req)?;
    let id = stx.id();
    match core(api, Ask::Submit(Box::new(stx)))? {
        Told::Submitted(Ok(())) => Ok(json!({ "transaction_identifier": { "hash": id.to_hex() } })),
        Told::Submitted(Err(why)) => Err(Refusal {
            error: TX_REFUSED,
            details: json!({ "reason": why.code(), "why": why.to_string(), "hash": id.to_hex() }),
        }),
        other => Err(unexpected(&other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: &str, who: &PublicKey, units: i128) -> Value {
        json!({
            "operation_identifier": { "index": 0 },
            "type": kind,
            "account": { "address": who.to_string() },
            "amount": amount(units),
        })
    }

    #[test]
    fn error_codes_and_messages_are_unique() {
        let mut codes: Vec<u32> = ERRORS.iter().map(|e| e.code).collect();
        let mut msgs: Vec<&str> = ERRORS.iter().map(|e| e.message).collect();
        codes.sort();
        codes.dedup();
        msgs.sort();
        msgs.dedup();
        assert_eq!(codes.len(), ERRORS.len());
        assert_eq!(msgs.len(), ERRORS.len());
        assert_eq!(DECIMALS, 6);
    }

    #[test]
    fn docs_mesh_md_lists_every_error_and_operation_type_as_served() {
        let doc = include_str!("../../../docs/mesh.md");
        for e in ERRORS {
            let row = format!(
                "| {} | {} | {} |",
                e.code,
                e.message,
                if e.retriable { "yes" } else { "no" }
            );
            assert!(doc.contains(&row), "docs/mesh.md lacks the row {row}");
        }
        let rows = doc
            .lines()
            .filter(|l| l.starts_with("| ") && l[2..].starts_with(|c: char| c.is_ascii_digit()));
        assert_eq!(
            rows.count(),
            ERRORS.len(),
            "docs/mesh.md lists other error codes"
        );
        for t in OPERATION_TYPES {
            assert!(
                doc.contains(&format!("| `{t}` |")),
                "docs/mesh.md lacks the type {t}"
            );
        }
    }

    #[test]
    fn an_intent_is_a_debit_an_equal_credit_and_maybe_a_fee() {
        let a = crate::chain::crypto::Keypair::from_seed([1; 32])
            .unwrap()
            .public();
        let b = crate::chain::crypto::Keypair::from_seed([2; 32])
            .unwrap()
            .public();
        let ok = json!({ "operations": [op("TRANSFER", &a, -5), op("TRANSFER", &b, 5), op("FEE", &a, -1000)] });
        let i = intent(&ok).unwrap();
        assert_eq!((i.sender, i.to, i.amount, i.fee), (a, b, 5, Some(1000)));
        assert_eq!(i.kind, IntentKind::Transfer);
        for bad in [
            json!({ "operations": [op("TRANSFER", &a, -5), op("TRANSFER", &b, 4)] }),
            json!({ "operations": [op("TRANSFER", &a, -5), op("BUY_WEIGHT", &b, 5)] }),
            json!({ "operations": [op("TRANSFER", &a, 5), op("TRANSFER", &b, 5)] }),
            json!({ "operations": [op("TRANSFER", &a, -5), op("TRANSFER", &b, 5), op("FEE", &b, -1)] }),
            json!({ "operations": [op("REWARD", &a, 5)] }),
            json!({ "operations": [op("TRANSFER", &a, 0), op("TRANSFER", &b, 0)] }),
            json!({ "operations": [op("TRANSFER", &a, -5), op("TRANSFER", &b, 5), op("FEE", &a, 1)] }),
            json!({ "operations": [op("FEE", &a, -1), op("TRANSFER", &a, -5), op("FEE", &a, -1)] }),
        ] {
            assert_eq!(
                intent(&bad).unwrap_err().error.code,
                UNSUPPORTED_OPERATIONS.code,
                "{bad}"
            );
        }
        let mut wrong = ok.clone();
        wrong["operations"][0]["amount"]["value"] = json!("-5.0");
        assert_eq!(intent(&wrong).unwrap_err().error.code, BAD_REQUEST.code);
        wrong["operations"][0]["amount"]["value"] = json!("-5");
        wrong["operations"][0]["amount"]["currency"]["decimals"] = json!(8);
        assert_eq!(
            intent(&wrong).unwrap_err().error.code,
            UNKNOWN_CURRENCY.code
        );
        wrong["operations"][0]["amount"]["currency"]["decimals"] = json!(6);
        wrong["operations"][0]["account"]["address"] = json!("gw1nope");
        assert_eq!(intent(&wrong).unwrap_err().error.code, BAD_ADDRESS.code);
    }

    #[test]
    fn a_transactions_ops_sum_to_its_deltas() {
        let a = crate::chain::crypto::Keypair::from_seed([1; 32]).unwrap();
        let b = crate::chain::crypto::Keypair::from_seed([2; 32])
            .unwrap()
            .public();
        let tx = Transaction {
            chain_id: Hash([7; 32]),
            sender: a.public(),
            nonce: 0,
            fee: 10,
            kind: TxKind::Transfer { to: b, amount: 3 },
            memo: Bytes::empty(),
        };
        let stx = tx.clone().sign(&a);
        let deltas = balances::rule_deltas(&stx, None);
        let ops = tx_ops(&stx, None, &deltas, true);
        let sum: i128 = ops
            .iter()
            .map(|o| {
                o["amount"]["value"]
                    .as_str()
                    .unwrap()
                    .parse::<i128>()
                    .unwrap()
            })
            .sum();
        assert_eq!(sum, -10);
        assert_eq!(
            ops.iter()
                .map(|o| o["type"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["FEE", "TRANSFER", "TRANSFER"]
        );
        assert_eq!(intent_ops(&tx).unwrap().len(), 3);
    }
}
