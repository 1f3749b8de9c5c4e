//! The API's store-backed reads: block pages, an account's history, data
//! records with their inclusion proof, and the associations with their
//! donations (docs/http.md describes each answer).
//!
//! Every answer is one store snapshot, read on smol's blocking pool. Work
//! per request is bounded: a page holds at most [`MAX_PAGE`] entries and is
//! found by a cursor (a height, or a height and position), never by an
//! offset, so a page costs one index range read of that many keys and stays
//! correct while blocks arrive on top. Bad input (a query parameter, a
//! cursor, a record key, an id) is a 400 naming it, never a 5xx.
//!
//! The parsing of paths, queries, cursors and record keys is pure.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::chain::block::Block;
use crate::chain::codec::Bytes;
use crate::chain::crypto::{Hash, PublicKey};
use crate::chain::header::SignedHeader;
use crate::chain::limits;
use crate::chain::merkle;
use crate::chain::tx::{SignedTransaction, TxKind};
use crate::ledger::state::{Proposal, ProposalStatus, ReceiptStatus, StateReadExt};
use crate::store::{Snapshot, StoreError, TxLocation};

use super::api::{bad_request, block_json, not_found, store_failed, Api, Reply, PREFIX};
use super::txjson;

/// The most entries one page holds (`limit` above it is a 400).
pub const MAX_PAGE: usize = 100;
/// The entries a page holds when `limit` is not given.
pub const DEFAULT_PAGE: usize = 20;

/// A read route: what follows [`PREFIX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read<'a> {
    /// `blocks` (paged).
    Blocks,
    /// `accounts/{address}/history`.
    History(&'a str),
    /// `data/{address}/{key}` (and `…/history`).
    Data {
        /// The owner's address, as given.
        address: &'a str,
        /// The key, as given (still percent-encoded).
        key: &'a str,
        /// `…/history`: every write.
        history: bool,
    },
    /// `associations`.
    Associations,
    /// `associations/{id|address}`.
    Association(&'a str),
    /// `contracts/{address}`.
    Contract(&'a str),
    /// `contracts/{address}/query`: a read-only call.
    ContractQuery(&'a str),
    /// `contracts/{address}/history`: its transactions with their receipts.
    ContractHistory(&'a str),
}

/// The read route `rest` (the path after [`PREFIX`]) names, if any.
pub fn route(rest: &str) -> Option<Read<'_>> {
    if rest == "blocks" {
        return Some(Read::Blocks);
    }
    if rest == "associations" {
        return Some(Read::Associations);
    }
    if let Some(id) = rest.strip_prefix("associations/") {
        return (!id.contains('/')).then_some(Read::Association(id));
    }
    if let Some(c) = rest.strip_prefix("contracts/") {
        let (a, read) = match (c.strip_suffix("/query"), c.strip_suffix("/history")) {
            (Some(a), _) => (a, Read::ContractQuery(a)),
            (_, Some(a)) => (a, Read::ContractHistory(a)),
            _ => (c, Read::Contract(c)),
        };
        return (!a.contains('/')).then_some(read);
    }
    if let Some(a) = rest
        .strip_prefix("accounts/")
        .and_then(|r| r.strip_suffix("/history"))
    {
        return (!a.contains('/')).then_some(Read::History(a));
    }
    let (address, key) = rest.strip_prefix("data/")?.split_once('/')?;
    Some(match key.strip_suffix("/history") {
        Some(key) => Read::Data {
            address,
            key,
            history: true,
        },
        None => Read::Data {
            address,
            key,
            history: false,
        },
    })
}

/// Answers `method target` (path and query string) if the path is one of
/// these reads; `None` leaves it to [`super::api::answer`]. Blocking (store
/// reads): run it off the executor.
pub fn answer(api: &Api, method: &str, target: &str) -> Option<Reply> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let r = route(path.strip_prefix(PREFIX)?)?;
    if method != "GET" {
        return Some(super::api::get_only(path, method));
    }
    Some(read(api, r, query).unwrap_or_else(|e| store_failed(&e)))
}

/// Answers the read `r` with the query string `query` (without `?`).
fn read(api: &Api, r: Read<'_>, query: &str) -> Result<Reply, StoreError> {
    let out = match r {
        Read::Blocks => blocks(api, query),
        Read::History(a) => history(api, a, query),
        Read::Data {
            address,
            key,
            history,
        } => data(api, address, key, history, query),
        Read::Associations => associations(api, query),
        Read::Association(id) => association(api, id, query),
        Read::Contract(c) => contract(api, c, query),
        Read::ContractQuery(c) => contract_query(api, c, query),
        Read::ContractHistory(c) => contract_history(api, c, query),
    };
    Ok(match out {
        Ok(reply) => reply,
        Err(Refused::Reply(r)) => r,
        Err(Refused::Store(e)) => return Err(e),
    })
}

/// Why a read did not answer 200: a refusal to send, or the store failed.
enum Refused {
    Reply(Reply),
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Refused::Store(e)
    }
}

impl From<crate::ledger::state::ReadError> for Refused {
    fn from(e: crate::ledger::state::ReadError) -> Self {
        Refused::Store(e.into())
    }
}

impl From<Reply> for Refused {
    fn from(r: Reply) -> Self {
        Refused::Reply(r)
    }
}

/// What is wrong with a request's input (pure; becomes a 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadInput {
    /// The problem type after `urn:goodwill:problem:`.
    pub kind: &'static str,
    /// What was wrong.
    pub detail: String,
}

fn bad(kind: &'static str, detail: impl Into<String>) -> BadInput {
    BadInput {
        kind,
        detail: detail.into(),
    }
}

impl From<BadInput> for Refused {
    fn from(b: BadInput) -> Self {
        let title = match b.kind {
            "bad-paging" => "Bad paging parameters",
            "bad-record-key" => "Not a record key",
            "bad-association-id" => "Not an association id or address",
            "bad-contract-address" => "Not a contract address",
            "bad-contract-query" => "Bad contract query",
            "bad-address" | "bad-address-checksum" => "Not a goodwill address",
            _ => "Bad query",
        };
        Refused::Reply(bad_request(b.kind, title, &b.detail))
    }
}

/// Decodes `%XX` escapes (RFC 3986); any other byte stands for itself.
pub fn percent_decode(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let pair = b
                .get(i + 1..i + 3)
                .ok_or_else(|| format!("a '%' at byte {i} is not followed by two hex digits"))?;
            let text = std::str::from_utf8(pair).unwrap_or("");
            let v = u8::from_str_radix(text, 16)
                .ok()
                .filter(|_| text.bytes().all(|c| c.is_ascii_hexdigit()))
                .ok_or_else(|| {
                    format!(
                        "%{} at byte {i} is not a percent escape (two hex digits)",
                        String::from_utf8_lossy(pair)
                    )
                })?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// The query string's parameters, each at most once and each one of
/// `allowed`; values percent-decoded.
pub fn query_params(query: &str, allowed: &[&str]) -> Result<BTreeMap<String, String>, BadInput> {
    query_params_within(query, allowed, 1024)
}

/// [`query_params`] for a query string of at most `max` bytes.
fn query_params_within(
    query: &str,
    allowed: &[&str],
    max: usize,
) -> Result<BTreeMap<String, String>, BadInput> {
    let mut out = BTreeMap::new();
    if query.len() > max {
        return Err(bad(
            "bad-query",
            format!("the query string is over {max} bytes"),
        ));
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_decode(s)
                .and_then(|b| String::from_utf8(b).map_err(|_| "not UTF-8".to_string()))
        };
        let k = decode(k).map_err(|e| bad("bad-query", format!("query parameter {k:?}: {e}")))?;
        let v = decode(v).map_err(|e| bad("bad-query", format!("query parameter {k}: {e}")))?;
        if !allowed.contains(&k.as_str()) {
            return Err(bad(
                "bad-query",
                format!(
                    "unknown query parameter {k:?}: this route takes {}",
                    if allowed.is_empty() {
                        "none".to_string()
                    } else {
                        allowed.join(", ")
                    }
                ),
            ));
        }
        if out.insert(k.clone(), v).is_some() {
            return Err(bad(
                "bad-query",
                format!("query parameter {k} is given twice"),
            ));
        }
    }
    Ok(out)
}

/// `limit`: 1 to [`MAX_PAGE`], [`DEFAULT_PAGE`] when absent.
pub fn page_limit(q: &BTreeMap<String, String>) -> Result<usize, BadInput> {
    let Some(text) = q.get("limit") else {
        return Ok(DEFAULT_PAGE);
    };
    match decimal::<usize>(text) {
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        _ => Err(bad(
            "bad-paging",
            format!("limit={text:?}: give a whole number from 1 to {MAX_PAGE}"),
        )),
    }
}

/// A whole number written in decimal digits only (Rust's parsers also
/// take a leading `+`, which no client of this API means).
pub fn decimal<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A position in the chain as a cursor, `height:index`.
pub fn cursor(text: &str) -> Result<TxLocation, BadInput> {
    let wrong = || {
        bad(
            "bad-paging",
            format!(
                "before={text:?}: a cursor is height:index (e.g. 42:0), as a page's `next` gives it"
            ),
        )
    };
    let (h, i) = text.split_once(':').ok_or_else(wrong)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(i) {
        return Err(wrong());
    }
    Ok(TxLocation {
        height: h.parse().map_err(|_| wrong())?,
        index: i.parse().map_err(|_| wrong())?,
    })
}

fn cursor_text(l: TxLocation) -> String {
    format!("{}:{}", l.height, l.index)
}

/// A record key from the path: percent-encoded UTF-8 text, or
/// `hex:<hex digits>` for any bytes; at most [`limits::DATA_KEY`] bytes.
pub fn record_key(text: &str) -> Result<Bytes<{ limits::DATA_KEY }>, BadInput> {
    let bytes = match text.strip_prefix("hex:") {
        Some(h) => hex::decode(h).map_err(|e| {
            bad(
                "bad-record-key",
                format!("record key {text:?}: malformed hex after \"hex:\" ({e})"),
            )
        })?,
        None => {
            let b = percent_decode(text)
                .map_err(|e| bad("bad-record-key", format!("record key {text:?}: {e}")))?;
            if std::str::from_utf8(&b).is_err() {
                return Err(bad(
                    "bad-record-key",
                    format!(
                        "record key {text:?} is not UTF-8 once decoded: give a binary key as hex:<hex digits>"
                    ),
                ));
            }
            b
        }
    };
    if text.contains('/') {
        return Err(bad(
            "bad-record-key",
            format!("record key {text:?} holds a '/': encode it as %2F"),
        ));
    }
    if bytes.is_empty() {
        return Err(bad("bad-record-key", "the record key is empty"));
    }
    let n = bytes.len();
    Bytes::new(bytes).map_err(|_| {
        bad(
            "bad-record-key",
            format!(
                "record key {text:?} is {n} bytes; a key is at most {} bytes",
                limits::DATA_KEY
            ),
        )
    })
}

/// An address from the path, or the 400 naming what is wrong with it.
pub fn address(text: &str) -> Result<PublicKey, BadInput> {
    crate::chain::address::parse(text).map_err(|e| {
        let kind = match e {
            crate::chain::address::AddressError::Checksum(_) => "bad-address-checksum",
            _ => "bad-address",
        };
        bad(kind, e.to_string())
    })
}

fn blocks(api: &Api, query: &str) -> Result<Reply, Refused> {
    let q = query_params(query, &["from", "limit", "order"])?;
    let limit = page_limit(&q)? as u64;
    let ascending = match q.get("order").map(String::as_str) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(o) => {
            return Err(bad("bad-paging", format!("order={o:?}: give asc or desc")).into());
        }
    };
    let from = match q.get("from") {
        None => None,
        Some(t) => match decimal::<u64>(t) {
            Some(h) if h >= 1 => Some(h),
            _ => {
                return Err(bad(
                    "bad-paging",
                    format!(
                    "from={t:?}: give a block height, 1 or more (the genesis, 0, is not a block)"
                ),
                )
                .into())
            }
        },
    };
    let snap = api.store().snapshot()?;
    let tip = snap.tip()?.height;
    let heights: Vec<u64> = if ascending {
        let from = from.unwrap_or(1);
        (from..=from.saturating_add(limit - 1).min(tip)).collect()
    } else {
        let top = from.unwrap_or(tip).min(tip);
        (top.saturating_sub(limit - 1).max(1)..=top).rev().collect()
    };
    let mut out = Vec::with_capacity(heights.len());
    for h in &heights {
        let b = snap.block_at(*h)?.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "height {h} is at or below the tip but holds no block"
            ))
        })?;
        out.push(block_json(api, &snap, &b, false)?);
    }
    let next = match (ascending, heights.last()) {
        (true, Some(&last)) if last < tip => Some(format!(
            "{PREFIX}blocks?order=asc&from={}&limit={limit}",
            last + 1
        )),
        (false, Some(&last)) if last > 1 => {
            Some(format!("{PREFIX}blocks?from={}&limit={limit}", last - 1))
        }
        _ => None,
    };
    Ok(Reply::json(
        200,
        &json!({ "tip": tip, "blocks": out, "next": next }),
    ))
}

/// What a transaction did to `account`: a word for how it touched it, and
/// its balance change (a signed decimal string), or null where the
/// transaction alone does not say (an equivocation report's bounty).
pub fn effect(tx: &SignedTransaction, account: &PublicKey) -> (&'static str, Option<String>) {
    let t = &tx.tx;
    let sender = t.sender == *account;
    let signed = |v: i128| {
        if v > 0 {
            format!("+{v}")
        } else {
            v.to_string()
        }
    };
    let fee = t.fee as i128;
    match &t.kind {
        TxKind::Transfer { to, amount } => match (sender, to == account) {
            (true, true) => ("self", Some(signed(-fee))),
            (true, false) => ("sent", Some(signed(-(*amount as i128) - fee))),
            _ => ("received", Some(signed(*amount as i128))),
        },
        TxKind::BuyWeight {
            amount,
            association,
            ..
        } => match (sender, association == account) {
            (true, true) => ("donated", Some(signed(-fee))),
            (true, false) => ("donated", Some(signed(-(*amount as i128) - fee))),
            _ => ("donation", Some(signed(*amount as i128))),
        },
        TxKind::ReportEquivocation { .. } => {
            if sender {
                ("reported", None)
            } else {
                ("equivocated", None)
            }
        }
        TxKind::ProposeAssociation { .. } if !sender => ("proposed", Some("0".into())),
        // What a contract transaction finally cost is in its receipt (the
        // unused fuel comes back): the fee offered is shown as its bound.
        TxKind::CallContract { value, .. } => ("called", Some(signed(-(*value as i128) - fee))),
        TxKind::ProposeAssociation { .. }
        | TxKind::VoteAssociation { .. }
        | TxKind::PutData { .. }
        | TxKind::DeployContract { .. } => ("fee", Some(signed(-fee))),
    }
}

/// Canonical transactions at `locations`, each with its block (a block
/// read once for all its entries on the page).
pub(super) fn located(
    snap: &Snapshot,
    locations: &[(TxLocation, Hash)],
) -> Result<Vec<(SignedTransaction, Hash)>, StoreError> {
    let mut out = Vec::with_capacity(locations.len());
    let mut block: Option<Block> = None;
    for (loc, id) in locations {
        if block.as_ref().map(|b| b.header.header.height) != Some(loc.height) {
            block = Some(snap.block_at(loc.height)?.ok_or_else(|| {
                StoreError::Corrupt(format!("tx {id} points at missing height {}", loc.height))
            })?);
        }
        let b = block.as_ref().expect("set above");
        let tx = b
            .txs
            .get(loc.index as usize)
            .filter(|t| t.id() == *id)
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "tx {id} is not at {}:{} as the index says",
                    loc.height, loc.index
                ))
            })?;
        out.push((tx.clone(), b.hash()));
    }
    Ok(out)
}

fn history(api: &Api, text: &str, query: &str) -> Result<Reply, Refused> {
    let pk = address(text)?;
    let q = query_params(query, &["limit", "before"])?;
    let limit = page_limit(&q)?;
    let before = q.get("before").map(|b| cursor(b)).transpose()?;
    let snap = api.store().snapshot()?;
    let mut page = snap.account_txs_page(&pk, before, limit + 1)?;
    let more = page.len() > limit;
    page.truncate(limit);
    let txs = located(&snap, &page)?;
    let entries: Vec<Value> = page
        .iter()
        .zip(&txs)
        .map(|((loc, id), (tx, block))| {
            let (direction, change) = effect(tx, &pk);
            json!({
                "id": id.to_hex(),
                "height": loc.height,
                "index": loc.index,
                "block": block.to_hex(),
                "cursor": cursor_text(*loc),
                "direction": direction,
                "balance_change": change,
                "tx": txjson::signed_to_json(tx),
            })
        })
        .collect();
    let next = match page.last() {
        Some((loc, _)) if more => Some(format!(
            "{PREFIX}accounts/{pk}/history?before={}&limit={limit}",
            cursor_text(*loc)
        )),
        _ => None,
    };
    Ok(Reply::json(
        200,
        &json!({ "address": pk.to_string(), "txs": entries, "next": next }),
    ))
}

fn bytes_json(v: &mut Value, name: &str, b: &[u8]) {
    v[name] = json!(std::str::from_utf8(b).ok());
    v[format!("{name}_hex")] = json!(hex::encode(b));
}

fn header_json(h: &SignedHeader) -> Value {
    let hh = &h.header;
    json!({
        "height": hh.height,
        "slot": hh.slot,
        "hash": hh.hash().to_hex(),
        "parent": hh.parent.to_hex(),
        "forger": hh.forger.to_string(),
        "tx_root": hh.tx_root.to_hex(),
        "bytes": hex::encode(crate::chain::codec::encode(h)),
    })
}

/// A transaction's inclusion proof as JSON, and whether it checks: the
/// Merkle path leads from its id to the header's `tx_root`, the header is
/// validly signed by its forger, and it is this node's block at its height.
fn proof_json(
    snap: &Snapshot,
    tx: &SignedTransaction,
    header: &SignedHeader,
    proof: &merkle::Proof,
) -> Result<Value, StoreError> {
    let hh = &header.header;
    let checked = merkle::verify(&hh.tx_root, &tx.id(), proof)
        && header.verify().is_ok()
        && snap.hash_at(hh.height)? == Some(hh.hash());
    Ok(json!({
        "header": header_json(header),
        "merkle": {
            "index": proof.index,
            "leaf_count": proof.leaf_count,
            "siblings": proof.siblings.iter().map(Hash::to_hex).collect::<Vec<_>>(),
        },
        "proof_checked": checked,
    }))
}

fn data(
    api: &Api,
    owner_text: &str,
    key_text: &str,
    history_path: bool,
    query: &str,
) -> Result<Reply, Refused> {
    let owner = address(owner_text)?;
    let key = record_key(key_text)?;
    let allowed: &[&str] = if history_path {
        &["limit", "before"]
    } else {
        &["history", "limit", "before"]
    };
    let q = query_params(query, allowed)?;
    let history = match q.get("history").map(String::as_str) {
        None | Some("false") => history_path,
        Some("true") => true,
        Some(o) => {
            return Err(bad("bad-query", format!("history={o:?}: give true or false")).into())
        }
    };
    let mut head = json!({ "address": owner.to_string() });
    bytes_json(&mut head, "key", key.as_slice());
    let snap = api.store().snapshot()?;
    if history {
        return record_history(&snap, owner, &key, head, &q);
    }
    if q.contains_key("limit") || q.contains_key("before") {
        return Err(bad(
            "bad-query",
            "limit and before page a record's history: add history=true",
        )
        .into());
    }
    let not_found_here = || {
        not_found(&format!(
            "{owner} holds no record under key {} (hex {})",
            String::from_utf8_lossy(key.as_slice()),
            hex::encode(key.as_slice())
        ))
    };
    let Some(r) = snap.record(&owner, &key)? else {
        return Err(not_found_here().into());
    };
    let (tx, block, proof) = snap.tx_with_proof_at(&r.tx, r.height)?.ok_or_else(|| {
        StoreError::Corrupt(format!("record's transaction {} is not indexed", r.tx))
    })?;
    let mut v = head;
    bytes_json(&mut v, "value", r.value.as_slice());
    v["height"] = json!(r.height);
    v["tx"] = json!(r.tx.to_hex());
    v["block"] = json!(block.hash().to_hex());
    v["transaction"] = txjson::signed_to_json(&tx);
    v["proof"] = proof_json(&snap, &tx, &block.header, &proof)?;
    v["proof_checked"] = v["proof"]["proof_checked"].clone();
    Ok(Reply::json(200, &v))
}

fn record_history(
    snap: &Snapshot,
    owner: PublicKey,
    key: &Bytes<{ limits::DATA_KEY }>,
    mut head: Value,
    q: &BTreeMap<String, String>,
) -> Result<Reply, Refused> {
    let limit = page_limit(q)?;
    let before = q.get("before").map(|b| cursor(b)).transpose()?;
    let older: Vec<(TxLocation, Hash)> = snap
        .record_history_page(&owner, key.as_slice(), before, limit + 1)?
        .into_iter()
        .map(|v| {
            (
                TxLocation {
                    height: v.height,
                    index: v.index,
                },
                v.tx,
            )
        })
        .collect();
    let more = older.len() > limit;
    let page = &older[..older.len().min(limit)];
    let txs = located(snap, page)?;
    let mut entries = Vec::with_capacity(page.len());
    for ((loc, id), (tx, block)) in page.iter().zip(&txs) {
        let mut e = json!({
            "tx": id.to_hex(),
            "height": loc.height,
            "index": loc.index,
            "block": block.to_hex(),
            "cursor": cursor_text(*loc),
        });
        if let TxKind::PutData { value, .. } = &tx.tx.kind {
            bytes_json(&mut e, "value", value.as_slice());
        }
        entries.push(e);
    }
    head["writes"] = json!(entries);
    head["next"] = match page.last() {
        Some((loc, _)) if more => json!(format!(
            "{PREFIX}data/{owner}/hex:{}/history?before={}&limit={limit}",
            hex::encode(key.as_slice()),
            cursor_text(*loc)
        )),
        _ => Value::Null,
    };
    Ok(Reply::json(200, &head))
}

/// The current epoch, by the node's clock.
fn epoch_now(api: &Api) -> u64 {
    let p = api.store().params();
    p.epoch_of(p.slot_at(crate::runtime::os::now_ms()))
}

/// A proposal (and association) as the API shows it.
pub fn proposal_json(id: &Hash, p: &Proposal, epoch: u64, ttl: u64, balance: u64) -> Value {
    let (status, since, removed_at) = match p.status {
        ProposalStatus::Pending if p.lapsed(epoch, ttl) => ("lapsed", None, None),
        ProposalStatus::Pending => ("pending", None, None),
        ProposalStatus::Approved { since_epoch } => ("approved", Some(since_epoch), None),
        ProposalStatus::Removed { at_epoch } => ("removed", None, Some(at_epoch)),
    };
    let yes = p.votes.iter().filter(|(_, y)| *y).count();
    let mut v = json!({
        "id": id.to_hex(),
        "account": p.account.to_string(),
        "proposer": p.proposer.to_string(),
        "proposed_epoch": p.proposed_epoch,
        "status": status,
        "approved_since_epoch": since,
        "removed_at_epoch": removed_at,
        "listed": p.listed(epoch),
        "round_epoch": p.round_epoch,
        "votes": p.votes.iter().map(|(k, y)| json!({"voter": k.to_string(), "approve": y})).collect::<Vec<_>>(),
        "votes_yes": yes,
        "votes_no": p.votes.len() - yes,
        "donations": p.donations.to_string(),
        "balance": balance.to_string(),
    });
    bytes_json(&mut v, "name", p.name.as_slice());
    bytes_json(&mut v, "url", p.url.as_slice());
    v
}

fn associations(api: &Api, query: &str) -> Result<Reply, Refused> {
    query_params(query, &[])?;
    let snap = api.store().snapshot()?;
    let epoch = epoch_now(api);
    let ttl = api.store().params().limits().proposal_ttl_epochs;
    let mut out = Vec::new();
    for (id, p) in snap.proposals()? {
        let balance = snap.account(&p.account)?.balance;
        out.push(proposal_json(&id, &p, epoch, ttl, balance));
    }
    Ok(Reply::json(
        200,
        &json!({ "epoch": epoch, "associations": out }),
    ))
}

fn association(api: &Api, text: &str, query: &str) -> Result<Reply, Refused> {
    query_params(query, &[])?;
    let snap = api.store().snapshot()?;
    let id = if text.starts_with("gw1") {
        let pk = address(text)?;
        snap.association_of(&pk)?.ok_or_else(|| {
            not_found(&format!(
                "{pk} is not the account of any association or proposal"
            ))
        })?
    } else {
        Hash::from_hex(text).map_err(|e| {
            bad(
                "bad-association-id",
                format!("{text:?}: {e}; give a proposal id (64 hex digits) or the association's address (gw1…)"),
            )
        })?
    };
    let p = snap
        .proposal(&id)?
        .ok_or_else(|| not_found(&format!("no proposal or association {id}")))?;
    let epoch = epoch_now(api);
    let ttl = api.store().params().limits().proposal_ttl_epochs;
    let balance = snap.account(&p.account)?.balance;
    Ok(Reply::json(
        200,
        &proposal_json(&id, &p, epoch, ttl, balance),
    ))
}

/// A contract's address from the path: 64 hex digits.
fn contract_address(text: &str) -> Result<Hash, BadInput> {
    Hash::from_hex(text).map_err(|e| {
        bad(
            "bad-contract-address",
            format!("{text:?}: {e}; a contract's address is 64 hex digits"),
        )
    })
}

fn contracts_off(api: &Api) -> Result<(), Refused> {
    match api.params().contracts() {
        Some(_) => Ok(()),
        None => Err(not_found(
            "this chain has no contracts (its genesis has no [contracts] table)",
        )
        .into()),
    }
}

/// `GET contracts/{address}`: the contract's account.
fn contract(api: &Api, text: &str, query: &str) -> Result<Reply, Refused> {
    query_params(query, &[])?;
    let address = contract_address(text)?;
    contracts_off(api)?;
    let snap = api.store().snapshot()?;
    let a = snap
        .contract(&address)?
        .ok_or_else(|| not_found(&format!("no contract at {address}")))?;
    let code = snap.code(&a.code_hash)?.ok_or_else(|| {
        StoreError::Corrupt(format!(
            "contract {address}: its code {} is missing",
            a.code_hash
        ))
    })?;
    Ok(Reply::json(
        200,
        &json!({
            "address": address.to_hex(),
            "code_hash": a.code_hash.to_hex(),
            "code_bytes": code.len(),
            "deployer": a.deployer.to_string(),
            "balance": a.balance.to_string(),
            "stored_bytes": a.stored_bytes,
            "height": a.height,
        }),
    ))
}

/// Fuel a query gets when it names none: a paywall's `paid` uses 43,219
/// with its loading.
const QUERY_FUEL: u64 = 1_000_000;

/// `GET contracts/{address}/query?input=HEX&caller=ADDR&value=N&fuel=N`:
/// the contract's `call` run at the tip, nothing written or charged.
fn contract_query(api: &Api, text: &str, query: &str) -> Result<Reply, Refused> {
    let q = query_params_within(query, &["input", "caller", "value", "fuel"], 4096)?;
    let at = contract_address(text)?;
    let wrong = |what: &str, detail: String| bad("bad-contract-query", format!("{what}: {detail}"));
    let input = match q.get("input") {
        Some(h) => hex::decode(h).map_err(|e| wrong("input", format!("not hex ({e})")))?,
        None => Vec::new(),
    };
    let caller = match q.get("caller") {
        Some(a) => address(a)?,
        None => PublicKey([0; 32]),
    };
    let number = |name: &str, default: u64| match q.get(name) {
        Some(t) => {
            decimal::<u64>(t).ok_or_else(|| wrong(name, format!("{t:?} is not a whole number")))
        }
        None => Ok(default),
    };
    let value = number("value", 0)?;
    let fuel = number("fuel", QUERY_FUEL)?;
    contracts_off(api)?;
    let gate = &crate::runtime::gate::CONTRACT_QUERIES;
    let Some(_slot) = gate.enter(crate::runtime::gate::CONTRACT_QUERY_WAIT) else {
        let mut r = super::api::problem(
            503,
            "busy",
            "The node is busy",
            &crate::runtime::gate::contract_queries_busy(),
        );
        r.retry_after = Some(1);
        return Err(Refused::Reply(r));
    };
    let snap = api.store().snapshot()?;
    let run = match crate::peer::queries::run_contract(
        api.store(),
        &snap,
        &at,
        &caller,
        &input,
        value,
        fuel,
    )? {
        crate::wire::Answer::ContractRun(Some(run)) => run,
        crate::wire::Answer::ContractRun(None) => {
            return Err(not_found(&format!("no contract at {at}")).into())
        }
        crate::wire::Answer::Error(e) => return Err(wrong("the query", e).into()),
        other => unreachable!("run_contract answers a run or an error, not {other:?}"),
    };
    let (status, trap) = match &run.status {
        ReceiptStatus::Ok => ("ok", None),
        ReceiptStatus::Trapped(t) => ("trapped", Some(t.lossy())),
        ReceiptStatus::OutOfFuel => ("out-of-fuel", None),
    };
    Ok(Reply::json(
        200,
        &json!({
            "contract": at.to_hex(),
            "status": status,
            "trap": trap,
            "fuel_used": run.fuel_used.to_string(),
            "return_hex": hex::encode(run.return_data.as_slice()),
            "events_hex": run.events.iter().map(|e| hex::encode(e.as_slice())).collect::<Vec<_>>(),
            "transfers": run.transfers.iter().map(|(to, amount)| json!({
                "to": to.to_string(),
                "amount": amount.to_string(),
            })).collect::<Vec<_>>(),
            "writes": run.writes,
            "at_height": run.at_height,
        }),
    ))
}

/// `GET contracts/{address}/history?limit=N&before=CURSOR`: the
/// transactions that deployed or called it, newest first, each with its
/// receipt (status, fuel, fee, return data, events), paged as an
/// account's history.
fn contract_history(api: &Api, text: &str, query: &str) -> Result<Reply, Refused> {
    let q = query_params(query, &["limit", "before"])?;
    let at = contract_address(text)?;
    let limit = page_limit(&q)?;
    let before = q.get("before").map(|b| cursor(b)).transpose()?;
    contracts_off(api)?;
    let snap = api.store().snapshot()?;
    if snap.contract(&at)?.is_none() {
        return Err(not_found(&format!("no contract at {at}")).into());
    }
    let mut page = snap.contract_txs_page(&at, before, limit + 1)?;
    let more = page.len() > limit;
    page.truncate(limit);
    let txs = located(&snap, &page)?;
    let mut entries = Vec::with_capacity(page.len());
    for ((loc, id), (tx, block)) in page.iter().zip(&txs) {
        let receipt = snap.receipt(id)?.ok_or_else(|| {
            StoreError::Corrupt(format!("contract transaction {id} has no receipt"))
        })?;
        entries.push(json!({
            "id": id.to_hex(),
            "height": loc.height,
            "index": loc.index,
            "block": block.to_hex(),
            "cursor": cursor_text(*loc),
            "tx": txjson::signed_to_json(tx),
            "receipt": txjson::receipt_to_json(&receipt),
        }));
    }
    let next = match page.last() {
        Some((loc, _)) if more => Some(format!(
            "{PREFIX}contracts/{}/history?before={}&limit={limit}",
            at.to_hex(),
            cursor_text(*loc)
        )),
        _ => None,
    };
    Ok(Reply::json(
        200,
        &json!({ "contract": at.to_hex(), "txs": entries, "next": next }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_split_paths_and_keep_keys_encoded() {
        assert_eq!(route("blocks"), Some(Read::Blocks));
        assert_eq!(route("accounts/gw1x/history"), Some(Read::History("gw1x")));
        assert_eq!(route("accounts/gw1x"), None);
        assert_eq!(
            route("data/gw1x/a%2Fb/history"),
            Some(Read::Data {
                address: "gw1x",
                key: "a%2Fb",
                history: true
            })
        );
        assert_eq!(
            route("data/gw1x/history"),
            Some(Read::Data {
                address: "gw1x",
                key: "history",
                history: false
            })
        );
        assert_eq!(route("associations/ab"), Some(Read::Association("ab")));
        assert_eq!(route("status"), None);
    }

    #[test]
    fn percent_escapes_decode_and_bad_ones_are_named() {
        assert_eq!(percent_decode("a%20b%2F").unwrap(), b"a b/");
        assert!(percent_decode("a%2").unwrap_err().contains("byte 1"));
        assert!(percent_decode("%zz").unwrap_err().contains("%zz"));
        assert!(percent_decode("%+1").is_err());
    }

    #[test]
    fn record_keys_are_text_or_hex_and_bounded() {
        assert_eq!(
            record_key("caf%C3%A9").unwrap().as_slice(),
            "café".as_bytes()
        );
        assert_eq!(record_key("hex:00ff").unwrap().as_slice(), &[0, 0xff]);
        assert!(record_key("hex:0g")
            .unwrap_err()
            .detail
            .contains("malformed hex"));
        assert!(record_key("%ff").unwrap_err().detail.contains("not UTF-8"));
        assert!(record_key(&"k".repeat(65))
            .unwrap_err()
            .detail
            .contains("65 bytes"));
        assert!(record_key("a/b").unwrap_err().detail.contains("%2F"));
        assert!(record_key("").is_err());
    }

    #[test]
    fn paging_parameters_are_checked() {
        let q = |s| query_params(s, &["limit", "before"]);
        assert_eq!(page_limit(&q("").unwrap()), Ok(DEFAULT_PAGE));
        assert_eq!(page_limit(&q("limit=100").unwrap()), Ok(100));
        for bad in ["limit=0", "limit=101", "limit=x", "limit=-1", "limit="] {
            let e = page_limit(&q(bad).unwrap()).unwrap_err();
            assert_eq!(e.kind, "bad-paging", "{bad}");
        }
        assert!(q("limit=1&limit=2").unwrap_err().detail.contains("twice"));
        assert!(q("offset=3").unwrap_err().detail.contains("offset"));
        assert_eq!(
            cursor("42:7").unwrap(),
            TxLocation {
                height: 42,
                index: 7
            }
        );
        assert_eq!(
            cursor(&q("before=42%3A7").unwrap()["before"])
                .unwrap()
                .index,
            7
        );
        for bad in ["42", "a:1", "1:", ":1", "1:2:3", "99999999999999999999:0"] {
            assert_eq!(cursor(bad).unwrap_err().kind, "bad-paging", "{bad}");
        }
    }
}
