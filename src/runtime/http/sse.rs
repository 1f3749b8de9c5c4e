//! `GET /api/v1/events`: the chain as Server-Sent Events — blocks, the
//! transactions touching watched addresses, and blocks retracted by a
//! reorganisation — resumable after a reconnect or a node restart.
//!
//! Every event comes from the store's chain-event log
//! ([`crate::store::ChainEvent`]): one entry per block connected to or
//! taken off the canonical chain, numbered in the write transaction that
//! moved the chain. An event's id is derived from that number (`<seq>` for
//! a block or a retraction, `<seq>.<position>` for the transaction at that
//! position in the block), so ids are totally ordered and the same after a
//! restart: a client that resumes after the last id it saw gets the next
//! events, none lost and none repeated.
//!
//! A stream waits on the store's commit notification
//! ([`Store::listen_chain`]), never polls the store and never touches the
//! core thread; reads run on smol's blocking pool from snapshots. Memory is
//! bounded per subscriber: the next batch is read only when hyper asks for
//! more, so a client that stops reading stops the reads, and its
//! connection, silent once the socket's buffers fill, is closed by the
//! server's idle watch. Keep-alive comments are sent more often than that
//! idle time, so a live stream is never cut. docs/http.md: the contract.

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_lite::Stream;
use http_body_util::{Either, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use serde_json::{json, Value};

use super::api::{self, Api, Reply};
use super::HttpLimits;
use crate::chain::block::Block;
use crate::chain::crypto::PublicKey;
use crate::chain::tx::{SignedTransaction, TxKind};
use crate::ledger::state::StateReadExt;
use crate::store::{ChainEvent, Store, StoreError};

/// The route.
pub const PATH: &str = "/api/v1/events";
/// Event streams served at once; one more is answered 503.
pub const MAX_SUBSCRIBERS: u64 = 32;
/// `address` parameters one stream may watch.
pub const MAX_ADDRESSES: usize = 16;
/// The longest pause between two writes of a stream (a keep-alive comment
/// fills it); shorter when the server's idle time is (half of it).
const KEEPALIVE_MS: u64 = 15_000;
/// Log entries read per batch.
const BATCH_ENTRIES: usize = 64;
/// A batch stops growing past this many bytes of events.
const BATCH_BYTES: usize = 64 * 1024;
/// What an EventSource waits before reconnecting (ms), sent first.
const RETRY_MS: u64 = 2_000;

/// The body of an event stream.
pub type EventBody =
    StreamBody<Pin<Box<dyn Stream<Item = Result<Frame<Bytes>, Infallible>> + Send>>>;

/// A position in the event stream: after log entry `seq`, or, with `tx`,
/// after the transaction event at position `tx` of entry `seq` (its block
/// event already sent). Written `<seq>` or `<seq>.<tx>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventId {
    /// The chain-event log entry.
    pub seq: u64,
    /// The transaction's position in that entry's block.
    pub tx: Option<u32>,
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tx {
            None => write!(f, "{}", self.seq),
            Some(p) => write!(f, "{}.{p}", self.seq),
        }
    }
}

impl EventId {
    /// Parses `<seq>` or `<seq>.<position>` (digits only); says why not.
    pub fn parse(text: &str) -> Result<EventId, String> {
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
        let (seq, tx) = match text.split_once('.') {
            None => (text, None),
            Some((s, t)) => (s, Some(t)),
        };
        if !digits(seq) || tx.is_some_and(|t| !digits(t)) {
            return Err("an event id is <number> or <number>.<number>, as this node sent it (e.g. 42 or 42.3)".into());
        }
        let seq: u64 = seq
            .parse()
            .map_err(|_| "its number is over 18446744073709551615".to_string())?;
        let tx = match tx {
            None => None,
            Some(t) => Some(
                t.parse::<u32>()
                    .map_err(|_| "its position is over 4294967295".to_string())?,
            ),
        };
        if seq == 0 && tx.is_some() {
            return Err("0 names the log's start and has no positions".into());
        }
        Ok(EventId { seq, tx })
    }
}

/// What a subscriber asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The addresses whose transactions it wants (none: blocks only).
    pub watched: Vec<PublicKey>,
    /// Where to resume (`Last-Event-ID`, else `?after=`); none: at the tip.
    pub after: Option<EventId>,
}

fn bad(kind: &str, title: &str, detail: &str) -> Reply {
    api::problem(400, kind, title, detail)
}

/// A query value percent-decoded (the API's one decoder) as UTF-8.
fn percent_decode(v: &str) -> Option<String> {
    super::reads::percent_decode(v)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}

/// Reads the query (`address=…` repeated, `after=…`) and the
/// `Last-Event-ID` header (which wins over `after`: a browser reconnecting
/// keeps the URL and sends the header); a problem names what was wrong.
pub fn subscription(
    query: Option<&str>,
    last_event_id: Option<&[u8]>,
) -> Result<Subscription, Reply> {
    let mut watched = Vec::new();
    let mut after = None;
    for (i, pair) in query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .enumerate()
    {
        let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(raw).ok_or_else(|| {
            bad(
                "bad-query",
                "Bad query",
                &format!("parameter {name}: {raw:?} is not valid percent-encoded UTF-8"),
            )
        })?;
        match name {
            "address" => {
                let pk = crate::chain::address::parse(&value).map_err(|e| {
                    let kind = match e {
                        crate::chain::address::AddressError::Checksum(_) => "bad-address-checksum",
                        _ => "bad-address",
                    };
                    bad(
                        kind,
                        "Not a goodwill address",
                        &format!("address={value} (parameter {}): {e}", i + 1),
                    )
                })?;
                if !watched.contains(&pk) {
                    watched.push(pk);
                }
                if watched.len() > MAX_ADDRESSES {
                    return Err(bad(
                        "too-many-addresses",
                        "Too many addresses",
                        &format!("one event stream watches at most {MAX_ADDRESSES} addresses"),
                    ));
                }
            }
            "after" => {
                after = Some(EventId::parse(&value).map_err(|why| {
                    bad(
                        "bad-event-id",
                        "Not an event id",
                        &format!("after={value:?}: {why}"),
                    )
                })?);
            }
            other => {
                return Err(bad(
                    "bad-query",
                    "Bad query",
                    &format!(
                        "unknown parameter {other:?}: {PATH} takes address= (repeatable) and after="
                    ),
                ))
            }
        }
    }
    if let Some(h) = last_event_id {
        let text = std::str::from_utf8(h).map_err(|_| {
            bad(
                "bad-event-id",
                "Not an event id",
                "the Last-Event-ID header is not UTF-8",
            )
        })?;
        let text = text.trim();
        if !text.is_empty() {
            after = Some(EventId::parse(text).map_err(|why| {
                bad(
                    "bad-event-id",
                    "Not an event id",
                    &format!("Last-Event-ID {text:?}: {why}"),
                )
            })?);
        }
    }
    Ok(Subscription { watched, after })
}

/// One event in the stream's text form (`data` is one line of JSON).
fn write_event(out: &mut String, kind: &str, id: EventId, data: &Value) {
    out.push_str(&format!("event: {kind}\nid: {id}\ndata: {data}\n\n"));
}

/// A transaction's JSON in an event: what it is and which watched
/// addresses it touches.
fn tx_json(tx: &SignedTransaction, position: usize, block: &Block, matched: &[PublicKey]) -> Value {
    let t = &tx.tx;
    let mut v = json!({
        "id": tx.id().to_hex(),
        "height": block.height(),
        "block": block.hash().to_hex(),
        "position": position,
        "kind": t.kind.name(),
        "sender": t.sender.to_string(),
        "nonce": t.nonce,
        "fee": t.fee.to_string(),
        "matched": matched.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
        // The whole transaction, in the form every other route shows.
        "tx": super::txjson::signed_to_json(tx),
    });
    match &t.kind {
        TxKind::Transfer { to, amount } => {
            v["to"] = json!(to.to_string());
            v["amount"] = json!(amount.to_string());
        }
        TxKind::BuyWeight {
            epoch,
            amount,
            association,
        } => {
            v["association"] = json!(association.to_string());
            v["amount"] = json!(amount.to_string());
            v["epoch"] = json!(epoch);
        }
        _ => {}
    }
    v
}

/// The watched addresses `tx` touches.
fn matched(tx: &SignedTransaction, watched: &[PublicKey]) -> Vec<PublicKey> {
    if watched.is_empty() {
        return Vec::new();
    }
    crate::store::touched(tx)
        .into_iter()
        .filter(|k| watched.contains(k))
        .collect()
}

/// The events of log entry `e` (its block, if still stored). `skip`: the
/// stream resumes inside the entry — after its block event (or its
/// retracted event), and after the transaction at the position given.
pub fn render(
    out: &mut String,
    e: &ChainEvent,
    block: Option<&Block>,
    watched: &[PublicKey],
    skip: Option<Option<u32>>,
    params: &crate::chain::genesis::ChainParams,
) {
    let id = EventId {
        seq: e.seq,
        tx: None,
    };
    let mut head = json!({"height": e.height, "hash": e.hash.to_hex()});
    if let Some(b) = block {
        let h = &b.header.header;
        head["parent"] = json!(h.parent.to_hex());
        head["slot"] = json!(h.slot);
        head["epoch"] = json!(params.epoch_of(h.slot));
        head["forger"] = json!(h.forger.to_string());
        head["tx_count"] = json!(b.txs.len());
    } else {
        // Connected then retracted long ago: a side block below finality
        // is pruned. The log still says what happened.
        head["pruned"] = json!(true);
    }
    if !e.connected {
        if skip.is_some() {
            return;
        }
        if let Some(b) = block {
            head["txs"] = Value::Array(
                b.txs
                    .iter()
                    .enumerate()
                    .filter_map(|(i, t)| {
                        let m = matched(t, watched);
                        (!m.is_empty()).then(|| tx_json(t, i, b, &m))
                    })
                    .collect(),
            );
        }
        write_event(out, "retracted", id, &head);
        return;
    }
    if skip.is_none() {
        write_event(out, "block", id, &head);
    }
    let Some(b) = block else { return };
    for (i, t) in b.txs.iter().enumerate() {
        if skip.is_some_and(|p| p.is_some_and(|p| i as u64 <= p as u64)) {
            continue;
        }
        let m = matched(t, watched);
        if !m.is_empty() {
            let id = EventId {
                seq: e.seq,
                tx: Some(i as u32),
            };
            write_event(out, "tx", id, &tx_json(t, i, b, &m));
        }
    }
}

/// Where a stream is: log entries up to `done` are sent whole; with
/// `partial`, entry `done + 1` is begun — its block event sent, and its
/// transaction events up to that position if one is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    done: u64,
    partial: Option<Option<u32>>,
}

impl Cursor {
    /// Strictly after event `id`.
    fn after(id: EventId) -> Cursor {
        match (id.seq, id.tx) {
            (0, _) => Cursor {
                done: 0,
                partial: None,
            },
            (seq, tx) => Cursor {
                done: seq - 1,
                partial: Some(tx),
            },
        }
    }
}

/// The events after `cursor`, up to a batch: their text, the new cursor,
/// and whether the log holds more.
fn read_batch(
    store: &Store,
    watched: &[PublicKey],
    cursor: Cursor,
) -> Result<(String, Cursor, bool), StoreError> {
    let snap = store.snapshot()?;
    let entries = snap.chain_events(cursor.done, BATCH_ENTRIES)?;
    let full = entries.len() == BATCH_ENTRIES;
    let mut out = String::new();
    let mut at = cursor;
    for (n, e) in entries.iter().enumerate() {
        let block = snap.block(&e.hash)?;
        let skip = if e.seq == cursor.done + 1 {
            cursor.partial
        } else {
            None
        };
        render(&mut out, e, block.as_ref(), watched, skip, store.params());
        at = Cursor {
            done: e.seq,
            partial: None,
        };
        if out.len() >= BATCH_BYTES {
            return Ok((out, at, n + 1 < entries.len() || full));
        }
    }
    Ok((out, at, full))
}

/// One subscriber's place in the stream; counted in the figures while it
/// lives.
struct Feed {
    store: Arc<Store>,
    watched: Arc<Vec<PublicKey>>,
    cursor: Cursor,
    keepalive: Duration,
    first: Option<Bytes>,
    _counted: Counted,
}

/// One subscriber in `goodwill_http_sse_subscribers`, until dropped.
struct Counted(Arc<Api>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0
            .figures()
            .sse_subscribers
            .fetch_sub(1, Ordering::SeqCst);
    }
}

impl Feed {
    /// The next bytes to send: events, or a keep-alive comment after a
    /// quiet `keepalive`; `None` ends the stream (the store failed).
    async fn next(&mut self) -> Option<Bytes> {
        if let Some(b) = self.first.take() {
            return Some(b);
        }
        loop {
            // Listen before reading: a commit between the read and the
            // wait still wakes it.
            let moved = self.store.listen_chain();
            let (store, watched, cursor) = (self.store.clone(), self.watched.clone(), self.cursor);
            let read = smol::unblock(move || read_batch(&store, &watched, cursor)).await;
            let (text, at, more) = match read {
                Ok(r) => r,
                Err(e) => {
                    log::warn!("goodwill node: http events: {e}");
                    return None;
                }
            };
            self.cursor = at;
            if !text.is_empty() {
                return Some(Bytes::from(text));
            }
            if more {
                continue;
            }
            let woke = futures_lite::future::or(
                async {
                    moved.await;
                    true
                },
                async {
                    smol::Timer::after(self.keepalive).await;
                    false
                },
            )
            .await;
            if !woke {
                return Some(Bytes::from_static(b": keep-alive\n\n"));
            }
        }
    }
}

/// Answers `GET /api/v1/events`: a problem, or the stream.
pub(super) async fn respond(
    api: Arc<Api>,
    limits: HttpLimits,
    req: &Request<Incoming>,
) -> Response<super::Body> {
    let problem = |r: Reply| super::response(r, false);
    if req.method() != hyper::Method::GET {
        return problem(api::get_only(PATH, req.method().as_str()));
    }
    let sub = match subscription(
        req.uri().query(),
        req.headers().get("last-event-id").map(|v| v.as_bytes()),
    ) {
        Ok(s) => s,
        Err(r) => return problem(r),
    };
    let figures = api.figures();
    if figures.sse_subscribers.fetch_add(1, Ordering::SeqCst) >= MAX_SUBSCRIBERS {
        figures.sse_subscribers.fetch_sub(1, Ordering::SeqCst);
        let mut busy = api::problem(
            503,
            "busy",
            "Too many event streams",
            &format!("this node serves {MAX_SUBSCRIBERS} event streams at once; try again shortly"),
        );
        busy.retry_after = Some(1);
        return problem(busy);
    }
    let counted = Counted(api.clone());
    let store = api.store().clone();
    let start = {
        let store = store.clone();
        smol::unblock(move || -> Result<_, StoreError> {
            let snap = store.snapshot()?;
            let last = snap.last_chain_event()?;
            // The end of the last entry, as an id: past its block's last
            // transaction position.
            let end = match snap.chain_events(last.saturating_sub(1), 1)?.first() {
                Some(e) => EventId {
                    seq: e.seq,
                    tx: Some(snap.block(&e.hash)?.map_or(0, |b| b.txs.len() as u32)),
                },
                None => EventId { seq: 0, tx: None },
            };
            Ok((last, end, snap.tip()?))
        })
        .await
    };
    let (last, end, tip) = match start {
        Ok(s) => s,
        Err(e) => return problem(api::store_failed(&e)),
    };
    let from = match sub.after {
        None => end,
        Some(a) if a.seq > last => {
            return problem(bad(
                "bad-event-id",
                "Unknown event id",
                &format!(
                    "event {a} is past the end of this node's event log, which ends at {last}: it came from another node or store; resume with an id this node sent, or leave it out to start at the tip"
                ),
            ))
        }
        Some(a) => a,
    };
    let cursor = match sub.after {
        None => Cursor {
            done: last,
            partial: None,
        },
        Some(a) => Cursor::after(a),
    };
    let hello = format!(
        "retry: {RETRY_MS}\nevent: ready\nid: {from}\ndata: {}\n\n",
        json!({"after": from.to_string(), "height": tip.height, "tip": tip.hash.to_hex()})
    );
    let feed = Feed {
        store,
        watched: Arc::new(sub.watched),
        cursor,
        keepalive: Duration::from_millis(KEEPALIVE_MS.min(limits.idle_ms / 2).max(1)),
        first: Some(Bytes::from(hello)),
        _counted: counted,
    };
    let stream = futures_lite::stream::unfold(feed, |mut feed| async move {
        let b = feed.next().await?;
        Some((Ok(Frame::data(b)), feed))
    });
    let body: EventBody = StreamBody::new(Box::pin(stream));
    Response::builder()
        .status(200)
        .header(hyper::header::CONTENT_TYPE, "text/event-stream")
        .header(hyper::header::CACHE_CONTROL, "no-store")
        // Tells a reverse proxy (nginx) not to buffer the stream.
        .header("x-accel-buffering", "no")
        .body(Either::Right(body))
        .unwrap_or_else(|_| Response::new(Either::Left(http_body_util::Full::new(Bytes::new()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_parse_and_print_back() {
        for t in [
            "0",
            "1",
            "42",
            "42.0",
            "42.3",
            "18446744073709551615.4294967295",
        ] {
            assert_eq!(EventId::parse(t).unwrap().to_string(), t);
        }
        assert!(EventId::parse("41.9").unwrap() < EventId::parse("42").unwrap());
        assert!(EventId::parse("42").unwrap() < EventId::parse("42.0").unwrap());
        for t in [
            "",
            "x",
            "4x",
            "-1",
            "1.",
            ".1",
            "1.2.3",
            "0.1",
            "18446744073709551616",
            "1.4294967296",
            " 1",
        ] {
            assert!(EventId::parse(t).is_err(), "{t:?}");
        }
    }

    #[test]
    fn the_header_wins_over_after_and_bad_input_names_itself() {
        let k = crate::testkit::key(1, 1).public().to_string();
        let s = subscription(
            Some(&format!("address={k}&after=3&address={k}")),
            Some(b"7.2"),
        )
        .unwrap();
        assert_eq!(s.watched.len(), 1);
        assert_eq!(
            s.after,
            Some(EventId {
                seq: 7,
                tx: Some(2)
            })
        );
        let s = subscription(Some("after=3"), Some(b"")).unwrap();
        assert_eq!(s.after, Some(EventId { seq: 3, tx: None }));
        assert_eq!(subscription(None, None).unwrap().after, None);
        let detail = |r: Reply| {
            assert_eq!(r.status, 400);
            String::from_utf8(r.body).unwrap()
        };
        let typo = format!(
            "{}{}",
            &k[..k.len() - 1],
            if k.ends_with('q') { 'p' } else { 'q' }
        );
        let d =
            detail(subscription(Some(&format!("address={k}&address={typo}")), None).unwrap_err());
        assert!(
            d.contains("bad-address-checksum") && d.contains(&typo) && d.contains("parameter 2"),
            "{d}"
        );
        let d = detail(subscription(Some("adress=x"), None).unwrap_err());
        assert!(d.contains("adress"), "{d}");
        let d = detail(subscription(None, Some(b"abc")).unwrap_err());
        assert!(d.contains("bad-event-id") && d.contains("abc"), "{d}");
        let many: Vec<String> = (0..=MAX_ADDRESSES as u32)
            .map(|i| format!("address={}", crate::testkit::key(3, i).public()))
            .collect();
        let d = detail(subscription(Some(&many.join("&")), None).unwrap_err());
        assert!(d.contains("too-many-addresses"), "{d}");
    }
}
