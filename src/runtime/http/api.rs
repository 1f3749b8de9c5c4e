//! What the HTTP API answers: the routes, their JSON, the problem details
//! of a refusal (RFC 9457), the Prometheus text of `/metrics`, and the
//! figures the core thread publishes for them.
//!
//! Every answer is read from a store snapshot on smol's blocking pool, or
//! from [`Figures`] (published by the core thread once a tick): nothing
//! here waits for the core thread or holds a lock it takes for longer than
//! a copy.
//!
//! Text forms are the command line's: hashes in lowercase hex, keys as
//! addresses (`gw1…`). Amounts and weights are decimal strings of base
//! units (a u64 does not fit a JavaScript number); heights, slots, epochs,
//! nonces and counts are JSON numbers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::chain::crypto::{Hash, PublicKey};
use crate::ledger::state::StateReadExt;
use crate::store::{Store, StoreError};
use crate::wire::NodeStatus;

/// The API's path prefix (version 1).
pub const PREFIX: &str = "/api/v1/";

/// What the core thread publishes for the API: its last status (once a
/// tick) and the bans it decided. Cheap to update; never waited on.
#[derive(Debug, Default)]
pub struct Figures {
    status: Mutex<Option<NodeStatus>>,
    bans: AtomicU64,
    /// HTTP connections open now.
    pub(crate) http_open: AtomicU64,
    /// HTTP requests answered since start.
    pub(crate) http_requests: AtomicU64,
    /// HTTP connections refused (over the cap) since start.
    pub(crate) http_refused: AtomicU64,
    /// Server-Sent Event streams open now (`/api/v1/events`).
    pub(crate) sse_subscribers: AtomicU64,
    /// The core's forger table (the explorer shows it), as of its last tick.
    forgers: Mutex<Option<Vec<crate::wire::ForgerEntry>>>,
    /// Submissions refused by the per-address rate limit since start.
    pub(crate) http_rate_limited: AtomicU64,
}

impl Figures {
    /// The core's latest status (the core thread, each tick). Skipped if a
    /// reader holds it this instant: the next tick brings it.
    pub fn publish(&self, status: NodeStatus) {
        if let Ok(mut s) = self.status.try_lock() {
            *s = Some(status);
        }
    }

    /// The core's forger table (the core thread, each tick); skipped like
    /// [`Figures::publish`] if a reader holds it.
    pub fn publish_forgers(&self, table: Vec<crate::wire::ForgerEntry>) {
        if let Ok(mut f) = self.forgers.try_lock() {
            *f = Some(table);
        }
    }

    /// The forger table as last published (None before the first tick).
    pub(crate) fn forgers(&self) -> Option<Vec<crate::wire::ForgerEntry>> {
        self.forgers.lock().ok().and_then(|f| f.clone())
    }

    /// One more address banned.
    pub fn banned(&self) {
        self.bans.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn status(&self) -> Option<NodeStatus> {
        self.status.lock().ok().and_then(|s| s.clone())
    }
}

/// What the API reads: the node's store, its figures and key; the link to
/// its core thread (submissions, the forger table, the mempool) and the
/// rate limit on submissions.
#[derive(Debug, Clone)]
pub struct Api {
    store: Arc<Store>,
    figures: Arc<Figures>,
    key: PublicKey,
    started_ms: u64,
    core: Option<Arc<super::link::CoreLink>>,
    submissions: Arc<Mutex<super::ratelimit::RateLimit>>,
}

impl Api {
    /// The API of the node with `store`, `figures` and node key `key`.
    pub fn new(
        store: Arc<Store>,
        figures: Arc<Figures>,
        key: &crate::chain::crypto::Keypair,
    ) -> Api {
        Api {
            store,
            figures,
            key: key.public(),
            started_ms: crate::runtime::os::now_ms(),
            core: None,
            submissions: Arc::default(),
        }
    }

    /// Reaches the node's core through `link` (without it, the routes that
    /// need the core answer 503).
    pub fn with_core(mut self, link: super::link::CoreLink) -> Api {
        self.core = Some(Arc::new(link));
        self
    }

    /// Limits submissions per client address with `limit`.
    pub fn with_rate_limit(mut self, limit: super::ratelimit::RateLimit) -> Api {
        self.submissions = Arc::new(Mutex::new(limit));
        self
    }

    pub(crate) fn figures(&self) -> &Figures {
        &self.figures
    }

    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.store
    }
    pub(crate) fn core(&self) -> Option<&super::link::CoreLink> {
        self.core.as_deref()
    }

    pub(crate) fn params(&self) -> &crate::chain::genesis::ChainParams {
        self.store.params()
    }

    /// Takes one submission from `ip`'s allowance; or the 429 to answer.
    pub(crate) fn submission_allowed(&self, ip: std::net::IpAddr) -> Result<(), Reply> {
        let now = crate::runtime::os::now_ms();
        let mut limit = self.submissions.lock().unwrap_or_else(|p| p.into_inner());
        let Err(wait_s) = limit.allow(ip, now) else {
            return Ok(());
        };
        self.figures
            .http_rate_limited
            .fetch_add(1, Ordering::Relaxed);
        let mut r = problem(
            429,
            "rate-limited",
            "Too many submissions",
            &format!(
                "{ip} sent more than {} submissions at once or {} a second; try again in {wait_s} s",
                limit.burst(),
                limit.per_s()
            ),
        );
        r.retry_after = Some(wait_s);
        Err(r)
    }
}

/// One request as the API sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Its method (`GET`, `POST`…).
    pub method: &'a str,
    /// Its path, without the query.
    pub path: &'a str,
    /// Its query (after `?`; empty without one).
    pub query: &'a str,
    /// Its `content-type` header, if any.
    pub content_type: Option<&'a str>,
    /// Its body (at most [`super::HttpLimits::body_bytes`]).
    pub body: &'a [u8],
    /// The client's address.
    pub ip: std::net::IpAddr,
}

/// An answer: status, content type, body, and the methods allowed (a 405).
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// Its content type.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// For a 405: the `Allow` header.
    pub allow: Option<&'static str>,
    /// For a 429 or 503: the `Retry-After` header (seconds).
    pub retry_after: Option<u64>,
}

impl Reply {
    pub(crate) fn json(status: u16, v: &Value) -> Reply {
        let mut body = serde_json::to_vec_pretty(v).unwrap_or_default();
        body.push(b'\n');
        Reply {
            status,
            content_type: "application/json",
            body,
            allow: None,
            retry_after: None,
        }
    }
}

/// A refusal as RFC 9457 problem details: `type` is a stable URN per kind
/// of problem (docs/http.md lists them), `detail` says what was wrong.
pub fn problem(status: u16, kind: &str, title: &str, detail: &str) -> Reply {
    let mut r = Reply::json(
        status,
        &json!({
            "type": format!("urn:goodwill:problem:{kind}"),
            "title": title,
            "status": status,
            "detail": detail,
        }),
    );
    r.content_type = "application/problem+json";
    r
}

/// The 405 of a route that answers `allow` only (its `allow` header says so).
pub(crate) fn method_not_allowed(path: &str, method: &str, allow: &'static str) -> Reply {
    let mut p = problem(
        405,
        "method-not-allowed",
        "Method not allowed",
        &format!("{path} answers {allow} only, not {method}"),
    );
    p.allow = Some(allow);
    p
}

/// The 405 of a route that answers GET only.
pub(crate) fn get_only(path: &str, method: &str) -> Reply {
    method_not_allowed(path, method, "GET")
}

pub(crate) fn not_found(detail: &str) -> Reply {
    problem(404, "not-found", "Not found", detail)
}

pub(crate) fn bad_request(kind: &str, title: &str, detail: &str) -> Reply {
    problem(400, kind, title, detail)
}

pub(crate) fn store_failed(e: &StoreError) -> Reply {
    problem(
        500,
        "store",
        "The node's store failed",
        &format!("reading the store: {e}"),
    )
}

/// The routes: path (without the query) → what answers GET on it.
enum Route<'a> {
    Status,
    Params,
    Block(&'a str),
    Account(&'a str),
    Metrics,
    OpenApi,
}

/// The OpenAPI 3.1 document of this API, served at `/api/v1/openapi.json`;
/// tests check it against the routes and, with schemathesis, against the
/// live answers.
pub const OPENAPI: &str = include_str!("openapi.json");

fn route(path: &str) -> Option<Route<'_>> {
    if path == "/metrics" {
        return Some(Route::Metrics);
    }
    let rest = path.strip_prefix(PREFIX)?;
    match rest {
        "status" => Some(Route::Status),
        "params" => Some(Route::Params),
        "openapi.json" => Some(Route::OpenApi),
        _ => {
            if let Some(id) = rest.strip_prefix("blocks/") {
                Some(Route::Block(id))
            } else {
                rest.strip_prefix("accounts/").map(Route::Account)
            }
        }
    }
}

/// Answers `req` (blocking: store reads; run it off the executor).
pub fn answer(api: &Api, req: &Request<'_>) -> Reply {
    let (method, path) = (req.method, req.path);
    let Some(r) = route(path) else {
        return not_found(&format!(
            "no such resource: {path} (the API is under {PREFIX}, its routes in {PREFIX}openapi.json: status, params, blocks, blocks/{{height|hash}}, accounts/{{address}}, accounts/{{address}}/history, tx, tx/encode, tx/{{id}}, mempool, forgers, data/{{address}}/{{key}}, associations, associations/{{id}}, events; and /metrics)"
        ));
    };
    if method != "GET" {
        return get_only(path, method);
    }
    let result = match r {
        Route::Status => status(api),
        Route::Params => Ok(params(api)),
        Route::Block(id) => block(api, id),
        Route::Account(a) => account(api, a, req.query),
        Route::Metrics => metrics(api),
        Route::OpenApi => Ok(Reply {
            status: 200,
            content_type: "application/json",
            body: OPENAPI.as_bytes().to_vec(),
            allow: None,
            retry_after: None,
        }),
    };
    result.unwrap_or_else(|e| store_failed(&e))
}

fn status(api: &Api) -> Result<Reply, StoreError> {
    let p = api.store.params();
    let tip = api.store.tip()?;
    let now = crate::runtime::os::now_ms();
    let slot = p.slot_at(now);
    let mut v = json!({
        "chain_id": p.chain_id().to_hex(),
        "chain_name": p.genesis().chain_name,
        "height": tip.height,
        "tip": tip.hash.to_hex(),
        "tip_slot": tip.slot,
        "slot": slot,
        "epoch": p.epoch_of(slot),
        "key": api.key.to_string(),
        "version": crate::version(),
        "uptime_s": now.saturating_sub(api.started_ms) / 1000,
    });
    // The core's view, as of its last tick (absent in the first second).
    if let Some(s) = api.figures.status() {
        v["syncing"] = json!(s.syncing);
        v["mempool"] = json!(s.mempool);
        v["peers"] = json!(s.peers);
        v["forgers"] = json!(s.forgers);
        v["clients"] = json!(s.clients);
    }
    Ok(Reply::json(200, &v))
}

fn params(api: &Api) -> Reply {
    let p = api.store.params();
    let g = p.genesis();
    let l = &g.limits;
    Reply::json(
        200,
        &json!({
            "chain_id": p.chain_id().to_hex(),
            "chain_name": g.chain_name,
            "start_ms": g.start_ms,
            "slot_ms": g.slot_ms,
            "epoch_slots": g.epoch_slots,
            "block_reward": g.block_reward.to_string(),
            "min_fee": g.min_fee.to_string(),
            "finality_depth": g.finality_depth,
            "bootstrap_forgers": g.bootstrap_forgers.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            "limits": {
                "max_block_txs": l.max_block_txs,
                "max_block_bytes": l.max_block_bytes,
                "max_clock_drift_ms": l.max_clock_drift_ms,
                "proposal_ttl_epochs": l.proposal_ttl_epochs,
                "equivocation_bounty": l.equivocation_bounty.to_string(),
                "max_weight_epochs_ahead": l.max_weight_epochs_ahead,
                "bootstrap_weight": l.bootstrap_weight.to_string(),
                "bootstrap_until_weight": l.bootstrap_until_weight.to_string(),
                "bootstrap_last_epoch": l.bootstrap_last_epoch,
                "association_delay_epochs": l.association_delay_epochs,
                "reporter_share_percent": l.reporter_share_percent,
            },
            "balances": g.balances.iter().map(|b| json!({
                "address": b.address.to_string(),
                "amount": b.amount.to_string(),
            })).collect::<Vec<_>>(),
            "associations": g.associations.iter().map(|a| json!({
                "name": a.name.lossy(),
                "url": a.url.lossy(),
                "account": a.account.to_string(),
            })).collect::<Vec<_>>(),
            "checkpoints": p.checkpoints().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "contracts": p.contracts().map(|c| json!({
                "fuel_price": c.fuel_price.to_string(),
                "block_fuel": c.block_fuel.to_string(),
                "storage_price": c.storage_price.to_string(),
            })),
        }),
    )
}

/// What `{height|hash}` names.
enum BlockId {
    Height(u64),
    Hash(Hash),
}

fn block_id(id: &str) -> Result<BlockId, Reply> {
    let bad = |why: String| {
        bad_request(
            "bad-block-id",
            "Not a block height or hash",
            &format!("{id:?}: {why}; give a height (e.g. 42) or a block hash (64 hex digits)"),
        )
    };
    if id.is_empty() {
        return Err(bad("empty".into()));
    }
    if id.bytes().all(|b| b.is_ascii_digit()) {
        return id
            .parse::<u64>()
            .map(BlockId::Height)
            .map_err(|_| bad("a height is at most 18446744073709551615".into()));
    }
    Hash::from_hex(id)
        .map(BlockId::Hash)
        .map_err(|e| bad(e.to_string()))
}

fn block(api: &Api, id: &str) -> Result<Reply, StoreError> {
    let which = match block_id(id) {
        Ok(w) => w,
        Err(r) => return Ok(r),
    };
    let snap = api.store.snapshot()?;
    let found = match &which {
        BlockId::Height(h) => snap.block_at(*h)?,
        BlockId::Hash(h) => snap.block(h)?,
    };
    let Some(b) = found else {
        let tip = snap.tip()?;
        return Ok(not_found(&match which {
            BlockId::Height(0) => {
                "height 0 is the genesis, which is not a block: the first block is at height 1"
                    .to_string()
            }
            BlockId::Height(h) => {
                format!(
                    "no block at height {h}: this node's chain is at height {}",
                    tip.height
                )
            }
            BlockId::Hash(h) => format!("no block {h} is stored on this node"),
        }));
    };
    Ok(Reply::json(200, &block_json(api, &snap, &b, true)?))
}

/// A block as the API shows it: its header fields, its transactions' ids,
/// and (`full`) the transactions themselves in their JSON form.
pub(crate) fn block_json(
    api: &Api,
    snap: &crate::store::Snapshot,
    b: &crate::chain::block::Block,
    full: bool,
) -> Result<Value, StoreError> {
    let h = &b.header.header;
    let hash = b.hash();
    let canonical = snap.hash_at(h.height)? == Some(hash);
    let mut v = json!({
        "height": h.height,
        "hash": hash.to_hex(),
        "canonical": canonical,
        "slot": h.slot,
        "epoch": api.store.params().epoch_of(h.slot),
        "parent": h.parent.to_hex(),
        "forger": h.forger.to_string(),
        "tx_root": h.tx_root.to_hex(),
        "state_digest": h.state_digest.to_hex(),
        "version": h.version,
        "size": b.to_bytes().len(),
        "txs": b.txs.iter().map(|t| t.id().to_hex()).collect::<Vec<_>>(),
    });
    if full {
        v["transactions"] = b.txs.iter().map(super::txjson::signed_to_json).collect();
    }
    Ok(v)
}

fn account(api: &Api, text: &str, query: &str) -> Result<Reply, StoreError> {
    // `?next_nonce=true` asks the core for the mempool's count: opt-in, so
    // that plain balance reads (the common, hammered case) never reach the
    // thread that imports blocks.
    let with_next_nonce = match query {
        "" | "next_nonce=false" => false,
        "next_nonce=true" => true,
        other => {
            return Ok(bad_request(
                "bad-query",
                "Bad query",
                &format!("{other:?}: /accounts/{{address}} takes only next_nonce=true"),
            ))
        }
    };
    let pk = match crate::chain::address::parse(text) {
        Ok(pk) => pk,
        Err(e) => {
            let kind = match e {
                crate::chain::address::AddressError::Checksum(_) => "bad-address-checksum",
                _ => "bad-address",
            };
            return Ok(bad_request(kind, "Not a goodwill address", &e.to_string()));
        }
    };
    let snap = api.store.snapshot()?;
    let a = snap.account(&pk)?;
    let p = api.store.params();
    let epoch = p.epoch_of(p.slot_at(crate::runtime::os::now_ms()));
    let mut weights = Vec::new();
    for e in [epoch, epoch + 1] {
        weights.push(json!({"epoch": e, "weight": snap.weight(e, &pk)?.to_string()}));
    }
    let mut v = json!({
        "address": pk.to_string(),
        "balance": a.balance.to_string(),
        "nonce": a.nonce,
        "weights": weights,
    });
    // Counting its pending transactions: absent if the core does not answer.
    if let Some(core) = api.core().filter(|_| with_next_nonce) {
        if let Ok(super::link::Told::NextNonce(n)) =
            core.ask_blocking(super::link::Ask::NextNonce(pk))
        {
            v["next_nonce"] = json!(n);
        }
    }
    Ok(Reply::json(200, &v))
}

/// One metric family in Prometheus text (HELP, TYPE, samples).
fn family(out: &mut String, name: &str, help: &str, kind: &str, samples: &[(&str, u64)]) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
    for (labels, v) in samples {
        out.push_str(&format!("{name}{labels} {v}\n"));
    }
}

fn metrics(api: &Api) -> Result<Reply, StoreError> {
    let tip = api.store.tip()?;
    let f = &api.figures;
    let s = f.status();
    let mut m = String::new();
    family(
        &mut m,
        "goodwill_height",
        "Height of the chain tip",
        "gauge",
        &[("", tip.height)],
    );
    family(
        &mut m,
        "goodwill_tip_slot",
        "Slot of the chain tip",
        "gauge",
        &[("", tip.slot)],
    );
    family(
        &mut m,
        "goodwill_blocks_imported_total",
        "Blocks stored (chain or side branch) since start",
        "counter",
        &[("", api.store.blocks_imported())],
    );
    family(
        &mut m,
        "goodwill_store_written_bytes_total",
        "Bytes the store wrote since start",
        "counter",
        &[("", api.store.bytes_written())],
    );
    if let Some(s) = &s {
        family(
            &mut m,
            "goodwill_connections",
            "Peer connections by role (as of the last tick)",
            "gauge",
            &[
                ("{role=\"main_node\"}", s.peers.len() as u64),
                ("{role=\"forger\"}", s.forgers as u64),
                ("{role=\"client\"}", s.clients as u64),
            ],
        );
        family(
            &mut m,
            "goodwill_mempool_transactions",
            "Transactions in the mempool (as of the last tick)",
            "gauge",
            &[("", s.mempool as u64)],
        );
        family(
            &mut m,
            "goodwill_syncing",
            "1 while catching up with a peer",
            "gauge",
            &[("", s.syncing as u64)],
        );
    }
    family(
        &mut m,
        "goodwill_bans_total",
        "Addresses banned since start",
        "counter",
        &[("", f.bans.load(Ordering::Relaxed))],
    );
    family(
        &mut m,
        "goodwill_http_connections",
        "HTTP connections open",
        "gauge",
        &[("", f.http_open.load(Ordering::Relaxed))],
    );
    family(
        &mut m,
        "goodwill_http_requests_total",
        "HTTP requests answered since start",
        "counter",
        &[("", f.http_requests.load(Ordering::Relaxed))],
    );
    family(
        &mut m,
        "goodwill_http_refused_total",
        "HTTP connections refused over the cap since start",
        "counter",
        &[("", f.http_refused.load(Ordering::Relaxed))],
    );
    family(
        &mut m,
        "goodwill_http_sse_subscribers",
        "Server-Sent Event streams open (/api/v1/events)",
        "gauge",
        &[("", f.sse_subscribers.load(Ordering::Relaxed))],
    );
    family(
        &mut m,
        "goodwill_http_rate_limited_total",
        "Transaction submissions refused by the per-address rate limit since start",
        "counter",
        &[("", f.http_rate_limited.load(Ordering::Relaxed))],
    );
    family(
        &mut m,
        "goodwill_uptime_seconds",
        "Seconds since the node started",
        "gauge",
        &[(
            "",
            crate::runtime::os::now_ms().saturating_sub(api.started_ms) / 1000,
        )],
    );
    Ok(Reply {
        status: 200,
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        body: m.into_bytes(),
        allow: None,
        retry_after: None,
    })
}
