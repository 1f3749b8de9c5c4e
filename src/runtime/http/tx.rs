//! The API's transaction routes and the reads that need the core thread:
//!
//! - `POST /api/v1/tx/encode`: a JSON transaction without signature → the
//!   transaction as filled in (nonce, fee), the exact bytes the sender's
//!   key signs and the transaction's canonical bytes;
//! - `POST /api/v1/tx`: a signed transaction (canonical bytes in hex, or
//!   the JSON form with a signature) → admitted through the same admission
//!   as a client's `SubmitTx`, or refused with the same reason;
//! - `GET /api/v1/tx/{id}`: a transaction on chain with its block, its
//!   Merkle proof (checked here) and its receipt; or pending in the mempool;
//! - `GET /api/v1/forgers`, `GET /api/v1/mempool`: the core's own state.
//!
//! Submissions are rate-limited per client address ([`RateLimit`](super::ratelimit::RateLimit)). The
//! core is reached through a [`CoreLink`](super::link::CoreLink): bounded,
//! so a busy core is a 503, never a hang. docs/http.md says what each
//! route answers.

use serde_json::{json, Value};

use super::api::{problem, store_failed, Api, Reply, Request, PREFIX};
use super::link::{Ask, Told};
use super::txjson::{self, Defaults, TxJsonError};
use crate::chain::block::Block;
use crate::chain::crypto::Hash;
use crate::chain::merkle;
use crate::chain::tx::SignedTransaction;
use crate::ledger::mempool::MempoolError;
use crate::ledger::state::StateReadExt;
use crate::ledger::state::Tip;
use crate::store::StoreError;
use crate::wire::ForgerEntry;

/// Transactions `GET /api/v1/mempool` lists without `?limit=`.
pub const MEMPOOL_DEFAULT_LIMIT: usize = 20;
/// The most it lists.
pub const MEMPOOL_MAX_LIMIT: usize = crate::peer::core::MAX_MEMPOOL_LISTED;

/// The routes of this file (path after [`PREFIX`]).
enum Route<'a> {
    Encode,
    Submit,
    Tx(&'a str),
    Forgers,
    Mempool,
}

fn route(path: &str) -> Option<Route<'_>> {
    let rest = path.strip_prefix(PREFIX)?;
    Some(match rest {
        "tx/encode" => Route::Encode,
        "tx" => Route::Submit,
        "forgers" => Route::Forgers,
        "mempool" => Route::Mempool,
        _ => Route::Tx(rest.strip_prefix("tx/")?),
    })
}

/// Answers `req` if it is one of this file's routes (blocking: store reads
/// and the core link; run it off the executor).
pub fn answer(api: &Api, req: &Request<'_>) -> Option<Reply> {
    let r = route(req.path)?;
    let post = matches!(r, Route::Encode | Route::Submit);
    let allowed = if post { "POST" } else { "GET" };
    if req.method != allowed {
        return Some(super::api::method_not_allowed(
            req.path, req.method, allowed,
        ));
    }
    if post {
        if let Err(r) = api.submission_allowed(req.ip) {
            return Some(r);
        }
    }
    let reply = match r {
        Route::Encode => json_body(req).and_then(|v| encode(api, &v)),
        Route::Submit => json_body(req).and_then(|v| submit(api, &v)),
        Route::Tx(id) => tx(api, id),
        Route::Forgers => forgers(api),
        Route::Mempool => mempool(api, req.query),
    };
    Some(reply.unwrap_or_else(|r| r))
}

/// The body as JSON: `content-type: application/json` (415 otherwise),
/// well-formed (400 naming the line and column).
fn json_body(req: &Request<'_>) -> Result<Value, Reply> {
    let ct = req.content_type.unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/json") {
        return Err(problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            &if ct.is_empty() {
                "the body must be JSON, sent with content-type: application/json (none was given)"
                    .to_string()
            } else {
                format!(
                    "the body must be JSON, sent with content-type: application/json, not {ct:?}"
                )
            },
        ));
    }
    serde_json::from_slice(req.body).map_err(|e| {
        problem(
            400,
            "bad-json",
            "The body is not JSON",
            &format!("the body is not well-formed JSON: {e}"),
        )
    })
}

/// A transaction's JSON refused: 400 naming the field.
fn bad_transaction(e: &TxJsonError) -> Reply {
    let mut r = problem(
        400,
        "bad-transaction",
        "Not a valid transaction",
        &e.to_string(),
    );
    add(&mut r, "field", json!(e.field));
    r
}

/// Adds a member to a problem's JSON body.
fn add(r: &mut Reply, name: &str, value: Value) {
    if let Ok(mut v) = serde_json::from_slice::<Value>(&r.body) {
        v[name] = value;
        let mut body = serde_json::to_vec_pretty(&v).unwrap_or_default();
        body.push(b'\n');
        r.body = body;
    }
}

fn busy(e: &super::link::Busy) -> Reply {
    let mut r = problem(503, "busy", "The node is busy", &e.0);
    r.retry_after = Some(1);
    r
}

fn no_core() -> Reply {
    problem(
        503,
        "busy",
        "The node is busy",
        "this server has no link to a node's core (not a main node)",
    )
}

fn ask(api: &Api, ask: Ask) -> Result<Told, Reply> {
    let link = api.core().ok_or_else(no_core)?;
    link.ask_blocking(ask).map_err(|e| busy(&e))
}

/// How a signed transaction's canonical bytes and id follow from what
/// `/tx/encode` gives (said in every answer, so a client need not guess).
const SIGNED_BYTES_RULE: &str = "tx_bytes || signature (the 64 signature bytes appended)";
const ID_RULE: &str = "sha256(tx_bytes || signature), lowercase hex";
const SIGNATURE_RULE: &str = "ed25519 (RFC 8032, pure) by the sender's key over signing_bytes";

fn encode(api: &Api, v: &Value) -> Result<Reply, Reply> {
    let p = api.params();
    let defaults = Defaults {
        chain_id: p.chain_id(),
        fee: p.genesis().min_fee,
        // Replaced below by the core's when the client left it out.
        nonce: Some(0),
    };
    let mut tx = txjson::transaction_from_json(v, &defaults).map_err(|e| bad_transaction(&e))?;
    if v.get("nonce").is_none_or(Value::is_null) {
        match ask(api, Ask::NextNonce(tx.sender))? {
            Told::NextNonce(n) => tx.nonce = n,
            other => return Err(unexpected(&other)),
        }
    }
    let tx_bytes = crate::chain::codec::encode(&tx);
    Ok(Reply::json(
        200,
        &json!({
            "tx": txjson::transaction_to_json(&tx),
            "signing_bytes": hex::encode(txjson::signing_bytes(&tx)),
            "tx_bytes": hex::encode(&tx_bytes),
            "signature": SIGNATURE_RULE,
            "signed_bytes": SIGNED_BYTES_RULE,
            "id": ID_RULE,
        }),
    ))
}

fn unexpected(t: &Told) -> Reply {
    problem(
        500,
        "internal",
        "Internal error",
        &format!("the core answered something else: {t:?}"),
    )
}

/// The signed transaction in a submission: `{"bytes": hex}` alone, or the
/// JSON form with `signature`.
fn signed_from_body(api: &Api, v: &Value) -> Result<SignedTransaction, Reply> {
    let only_bytes = v
        .as_object()
        .is_some_and(|m| m.len() == 1 && m.contains_key("bytes"));
    if !only_bytes {
        return txjson::signed_from_json(v, api.params().chain_id())
            .map_err(|e| bad_transaction(&e));
    }
    let text = v["bytes"].as_str().ok_or_else(|| {
        bad_transaction(&TxJsonError {
            field: "bytes".into(),
            why: "expected the signed transaction's canonical bytes as a hex string".into(),
        })
    })?;
    let raw = hex::decode(text).map_err(|e| {
        bad_transaction(&TxJsonError {
            field: "bytes".into(),
            why: format!("not hex: {e}"),
        })
    })?;
    SignedTransaction::from_bytes(&raw).map_err(|e| {
        bad_transaction(&TxJsonError {
            field: "bytes".into(),
            why: e.to_string(),
        })
    })
}

fn submit(api: &Api, v: &Value) -> Result<Reply, Reply> {
    let stx = signed_from_body(api, v)?;
    let id = stx.id();
    match ask(api, Ask::Submit(Box::new(stx)))? {
        Told::Submitted(Ok(())) => Ok(Reply::json(
            202,
            &json!({"id": id.to_hex(), "accepted": true}),
        )),
        Told::Submitted(Err(why)) => Err(refused(&id, &why)),
        other => Err(unexpected(&other)),
    }
}

/// A refused transaction: 422 with the reason the command line prints and
/// its stable code; the node failing to read its own ledger is its fault,
/// not the transaction's: a 500.
fn refused(id: &Hash, why: &MempoolError) -> Reply {
    if let MempoolError::Invalid(crate::ledger::TxError::Storage(e)) = why {
        return problem(
            500,
            "store",
            "The node's store failed",
            &format!("checking transaction {id} against the ledger: {e}"),
        );
    }
    let mut r = problem(
        422,
        "tx-refused",
        "Transaction refused",
        &format!("the node refused transaction {id}: {why}"),
    );
    add(&mut r, "reason", json!(why.code()));
    add(&mut r, "id", json!(id.to_hex()));
    r
}

fn tx_id(text: &str) -> Result<Hash, Reply> {
    Hash::from_hex(text).map_err(|e| {
        problem(
            400,
            "bad-tx-id",
            "Not a transaction id",
            &format!("{text:?}: {e}; a transaction id is 64 hex digits"),
        )
    })
}

/// The proof's JSON, and whether it checks against the header's root.
fn proof_json(id: &Hash, root: &Hash, proof: &merkle::Proof) -> (Value, bool) {
    let checked = merkle::verify(root, id, proof);
    (
        json!({
            "index": proof.index,
            "leaf_count": proof.leaf_count,
            "siblings": proof.siblings.iter().map(|h| h.to_hex()).collect::<Vec<_>>(),
            "root": root.to_hex(),
        }),
        checked,
    )
}

/// The transaction `id` on this node's chain, with its block and proof,
/// and the chain's tip (a forger's lean store knows none: not found).
type OnChain = (Option<(SignedTransaction, Block, merkle::Proof)>, Tip);

fn on_chain(api: &Api, id: &Hash) -> Result<OnChain, Reply> {
    let found = (|| -> Result<_, StoreError> {
        let snap = api.store().snapshot()?;
        let tip = snap.tip()?;
        Ok((snap.tx_with_proof(id)?, tip))
    })();
    match found {
        Ok(f) => Ok(f),
        Err(StoreError::NotIndexed) => Ok((None, api.store().tip().map_err(|e| store_failed(&e))?)),
        Err(e) => Err(store_failed(&e)),
    }
}

fn tx(api: &Api, text: &str) -> Result<Reply, Reply> {
    let id = tx_id(text)?;
    let (mut found, mut tip) = on_chain(api, &id)?;
    if found.is_none() {
        match ask(api, Ask::Pending(id))? {
            Told::Pending(Some(stx)) => {
                return Ok(Reply::json(
                    200,
                    &json!({"status": "pending", "tx": txjson::signed_to_json(&stx)}),
                ))
            }
            Told::Pending(None) => {}
            other => return Err(unexpected(&other)),
        }
        // A block may have taken it from the mempool since the first read.
        (found, tip) = on_chain(api, &id)?;
    }
    let Some((stx, block, proof)) = found else {
        return Err(super::api::not_found(&format!(
            "transaction {id} is neither on this node's chain (at height {}) nor in its mempool",
            tip.height
        )));
    };
    let h = &block.header.header;
    // A contract transaction's outcome, from the state (its receipt is a
    // state entry the block's digest covers). What it was charged is the
    // receipt's fee: the fuel it did not use came back.
    let contract = match stx.tx.kind.fuel_limit() {
        Some(_) => api
            .store()
            .snapshot()
            .map_err(|e| store_failed(&e))?
            .receipt(&id)
            .map_err(|e| store_failed(&StoreError::from(e)))?,
        None => None,
    };
    let fee = contract.as_ref().map_or(stx.tx.fee, |r| r.fee);
    let (proof, checked) = proof_json(&id, &h.tx_root, &proof);
    let depth = api.params().genesis().finality_depth;
    let confirmations = tip.height.saturating_sub(h.height) + 1;
    let finalized = confirmations >= depth;
    let mut v = json!({
        "status": if finalized { "final" } else { "included" },
        "tx": txjson::signed_to_json(&stx),
        "block": {
            "height": h.height,
            "hash": block.hash().to_hex(),
            "slot": h.slot,
            "forger": h.forger.to_string(),
            "tx_root": h.tx_root.to_hex(),
            "header": hex::encode(crate::chain::codec::encode(&block.header)),
        },
        "proof": proof,
        "proof_checked": checked,
        "receipt": {
            "confirmations": confirmations,
            "finality_depth": depth,
            "finalized": finalized,
            "fee": fee.to_string(),
            "fee_to": h.forger.to_string(),
        },
    });
    // Only a contract transaction's receipt has the member.
    if let Some(r) = &contract {
        v["receipt"]["contract"] = txjson::receipt_to_json(r);
    }
    Ok(Reply::json(200, &v))
}

/// A forger's LED text (`green:heartbeat amber:off red:off`) as an object.
fn leds_json(text: &str) -> Value {
    let mut m = serde_json::Map::new();
    for part in text.split_whitespace() {
        if let Some((led, state)) = part.split_once(':') {
            m.insert(led.to_string(), json!(state));
        }
    }
    Value::Object(m)
}

fn forger_json(e: &ForgerEntry) -> Value {
    let s = &e.status;
    let leds = s.leds.lossy();
    json!({
        "key": e.key.to_string(),
        "connected": e.connected,
        "reported_ms": e.reported_ms,
        "version": s.version.lossy(),
        "height": s.height,
        "tip": s.tip.to_hex(),
        "clock_offset_ms": s.clock_offset_ms,
        "clock_trusted": s.clock_trusted,
        "leds": leds_json(&leds),
        "leds_text": leds,
        "forged": s.forged,
        "missed": s.missed,
        "weight": s.weight.to_string(),
        "cpu_ms": s.cpu_ms,
        "rss_bytes": s.rss_bytes,
        "bytes_per_block": s.bytes_per_block,
        "energy_joules": s.energy_joules,
        "throttled": s.throttled,
        "soc_temp_mc": s.soc_temp_mc,
    })
}

/// The forger table as the core published it at its last tick (the
/// explorer shows the same): no request reaches the core thread.
fn forgers(api: &Api) -> Result<Reply, Reply> {
    // Before the core's first publication the table is empty anyway: it
    // is made of the reports forgers send once connected.
    let list = api.figures().forgers().unwrap_or_default();
    Ok(Reply::json(
        200,
        &json!({
            "count": list.len(),
            "forgers": list.iter().map(forger_json).collect::<Vec<_>>(),
        }),
    ))
}

/// `?limit=N` (and nothing else) from a query string.
fn limit_of(query: &str) -> Result<usize, Reply> {
    let bad = |why: String| {
        problem(
            400,
            "bad-query",
            "Bad query parameter",
            &format!("{why}; /mempool takes ?limit= from 0 to {MEMPOOL_MAX_LIMIT}"),
        )
    };
    let q = super::reads::query_params(query, &["limit"]).map_err(|e| bad(e.detail))?;
    match q.get("limit") {
        None => Ok(MEMPOOL_DEFAULT_LIMIT),
        Some(v) => match super::reads::decimal::<usize>(v) {
            Some(n) if n <= MEMPOOL_MAX_LIMIT => Ok(n),
            _ => Err(bad(format!(
                "limit={v:?} is not a number from 0 to {MEMPOOL_MAX_LIMIT}"
            ))),
        },
    }
}

fn mempool(api: &Api, query: &str) -> Result<Reply, Reply> {
    let limit = limit_of(query)?;
    match ask(api, Ask::Mempool { limit })? {
        Told::Mempool(m) => Ok(Reply::json(
            200,
            &json!({
                "count": m.count,
                "bytes": m.bytes,
                "held_back": m.held_back,
                "listed": m.txs.len(),
                "txs": m.txs.iter().map(txjson::signed_to_json).collect::<Vec<_>>(),
            }),
        )),
        other => Err(unexpected(&other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_limits() {
        assert!(matches!(route("/api/v1/tx/encode"), Some(Route::Encode)));
        assert!(matches!(route("/api/v1/tx"), Some(Route::Submit)));
        assert!(matches!(route("/api/v1/tx/ab"), Some(Route::Tx("ab"))));
        assert!(matches!(route("/api/v1/forgers"), Some(Route::Forgers)));
        assert!(matches!(route("/api/v1/mempool"), Some(Route::Mempool)));
        assert!(route("/api/v1/status").is_none());
        assert!(route("/api/v1/txs").is_none());
        assert_eq!(limit_of("").ok(), Some(MEMPOOL_DEFAULT_LIMIT));
        assert_eq!(limit_of("limit=100").ok(), Some(100));
        assert_eq!(limit_of("limit=0").ok(), Some(0));
        for bad in ["limit=101", "limit=x", "limit=-1", "page=2"] {
            assert!(limit_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn led_text_reads_as_an_object() {
        assert_eq!(
            leds_json("green:heartbeat amber:off red:fast"),
            json!({"green": "heartbeat", "amber": "off", "red": "fast"})
        );
        assert_eq!(leds_json(""), json!({}));
    }

    #[test]
    fn a_signed_transactions_bytes_are_its_body_then_its_signature() {
        // What docs/http.md promises a client: signed bytes = tx_bytes ‖
        // signature, id = sha256 of them.
        let k = crate::chain::crypto::Keypair::from_seed([3; 32]).unwrap();
        let tx = crate::chain::tx::Transaction {
            chain_id: Hash([7; 32]),
            sender: k.public(),
            nonce: 5,
            fee: 10,
            kind: crate::chain::tx::TxKind::Transfer {
                to: k.public(),
                amount: 1,
            },
            memo: crate::chain::codec::Bytes::new(b"hi".to_vec()).unwrap(),
        };
        let sig = k.sign_raw(&txjson::signing_bytes(&tx));
        let mut signed = crate::chain::codec::encode(&tx);
        signed.extend_from_slice(&sig.0);
        let stx = tx.sign(&k);
        assert_eq!(stx.signature, sig);
        assert_eq!(stx.to_bytes(), signed);
        assert_eq!(stx.id(), Hash::of(&[&signed]));
    }
}
