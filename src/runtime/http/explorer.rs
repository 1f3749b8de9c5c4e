//! The web explorer: HTML pages the main node renders at `/` and below —
//! the tip, latest blocks, forgers and their health, this epoch's schedule,
//! the associations; a page per block, transaction (with its inclusion
//! proof checked here), account, association and record; and a search.
//!
//! Hand-written HTML, no JavaScript, no template crate (a few hundred
//! lines do not earn a dependency on the 6 MiB aarch64 budget). Every
//! value interpolated into a page goes through [`esc`] — the one escaping
//! function — whether it came from a user (memo, record key and value,
//! association name and url) or not; a path segment built from a value
//! is percent-encoded by [`pct`] first. Association urls become links
//! only for `http`/`https`, with `rel="noopener nofollow"`.
//!
//! Reads come from one store snapshot per page, on the blocking pool like
//! the JSON handlers; the forger table from [`Figures`](super::Figures),
//! published by the core thread each tick. Unknown things answer a 404
//! page with the search box, bad input a 400 page naming what was wrong.

use std::fmt::Write as _;

use crate::chain::crypto::{Hash, PublicKey};
use crate::chain::tx::{SignedTransaction, TxKind};
use crate::ledger::schedule::{self, Power};
use crate::ledger::state::{Proposal, StateReadExt};
use crate::store::{Snapshot, StoreError};
use crate::wire::ForgerEntry;

use super::api::{Api, Reply};
use super::reads;

/// Blocks listed on the home page.
const LATEST_BLOCKS: u64 = 10;
/// Transactions listed on an account page, writes on a record page.
const HISTORY: usize = 50;
/// Upcoming slots whose leader the home page shows.
const NEXT_LEADERS: u64 = 6;
/// Bytes of a search query (a record key is at most 64 bytes, percent-encoded 192).
const MAX_QUERY: usize = 400;

/// Whether `path` is the explorer's (everything but the JSON API and `/metrics`).
pub fn serves(path: &str) -> bool {
    !path.starts_with("/api/") && path != "/metrics" && !super::mesh::serves(path)
}

/// Escapes text for HTML content and quoted attribute values: the one
/// function every interpolated value goes through.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes bytes for one URL path segment or query value: all
/// but `A-Z a-z 0-9 - . _ ~`.
pub fn pct(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

const CSS: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}\
header{background:#1f3a5f;color:#fff;padding:.5em 1em;display:flex;flex-wrap:wrap;gap:.5em;align-items:center}\
header a{color:#fff;text-decoration:none;font-weight:600;margin-right:auto}\
main{max-width:980px;margin:0 auto;padding:.3em .8em 2em}\
h1{font-size:1.3em;margin:.6em 0 .3em}h2{font-size:1.1em;margin:1.2em 0 .3em}\
section{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:.2em .8em .6em;margin:.8em 0}\
.t{overflow-x:auto}table{border-collapse:collapse;width:100%}\
td,th{text-align:left;padding:.3em .4em;border-bottom:1px solid #eceef1;vertical-align:top}\
th{font-weight:600;color:#555;white-space:nowrap}\
.h,code,pre{font-family:ui-monospace,Menlo,monospace;font-size:.9em;word-break:break-all;overflow-wrap:anywhere}\
pre{white-space:pre-wrap;background:#f3f4f6;padding:.4em;margin:0}\
form{display:flex;gap:.4em;flex:1 1 14em;max-width:32em}\
input{flex:1;min-width:0;font-size:16px;padding:.35em .5em;border:1px solid #99a;border-radius:4px}\
button{font-size:16px;padding:.35em .8em}\
.dot{display:inline-block;width:.8em;height:.8em;border-radius:50%;border:2px solid;vertical-align:-.1em;margin-right:.15em}\
.ok{color:#17803d;font-weight:600}.bad{color:#b3261e;font-weight:600}.m{color:#667}\
a{color:#1a5fb4}.s{white-space:nowrap}";

const SEARCH_FORM: &str = "<form action=\"/search\" method=\"get\" role=\"search\"><input type=\"search\" name=\"q\" placeholder=\"height, hash, tx id, address, address/key\" aria-label=\"Search\"><button>Search</button></form>";

/// A whole page: `title` (text, escaped here) around `body` (HTML).
fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{} · goodwill</title><style>{CSS}</style></head><body><header><a href=\"/\">goodwill explorer</a>{SEARCH_FORM}</header><main>{body}</main></body></html>",
        esc(title),
    )
}

fn html(status: u16, title: &str, body: &str) -> Reply {
    Reply {
        status,
        content_type: "text/html; charset=utf-8",
        body: page(title, body).into_bytes(),
        allow: None,
        retry_after: None,
    }
}

/// A 404 page naming what was not found, with the search box.
fn not_found(what: &str) -> Reply {
    html(
        404,
        "Not found",
        &format!(
            "<h1>Not found</h1><p>{}</p><p>Search for a height, block hash, transaction id, address or <code>address/key</code>:</p>{SEARCH_FORM}",
            esc(what),
        ),
    )
}

/// A 400 page naming what was wrong with the input.
fn bad_input(what: &str) -> Reply {
    html(
        400,
        "Bad request",
        &format!("<h1>Bad request</h1><p>{}</p>{SEARCH_FORM}", esc(what)),
    )
}

fn store_failed(e: &StoreError) -> Reply {
    let (status, why) = match e {
        StoreError::NotIndexed => (
            503,
            "this node keeps no transaction index, so it cannot show this page".to_string(),
        ),
        e => (500, format!("reading the node's store failed: {e}")),
    };
    html(
        status,
        "Unavailable",
        &format!("<h1>Unavailable</h1><p>{}</p>", esc(&why)),
    )
}

/// A link to `href` (built from encoded or fixed parts) showing `text`.
fn link(href: &str, text: &str) -> String {
    format!("<a href=\"{}\">{}</a>", esc(href), esc(text))
}

fn short(s: &str) -> String {
    if s.len() <= 16 {
        s.to_string()
    } else {
        format!("{}…{}", &s[..10], &s[s.len() - 4..])
    }
}

fn block_link(height: u64) -> String {
    link(&format!("/block/{height}"), &height.to_string())
}

fn tx_link(id: &Hash, full: bool) -> String {
    let h = id.to_hex();
    let (text, class) = if full {
        (h.clone(), "h")
    } else {
        (short(&h), "h s")
    };
    format!(
        "<span class=\"{class}\">{}</span>",
        link(&format!("/tx/{h}"), &text)
    )
}

fn account_link(pk: &PublicKey, full: bool) -> String {
    let a = pk.to_string();
    let (text, class) = if full {
        (a.clone(), "h")
    } else {
        (short(&a), "h s")
    };
    format!(
        "<span class=\"{class}\">{}</span>",
        link(&format!("/account/{}", pct(a.as_bytes())), &text)
    )
}

/// A record's page: its key percent-encoded when UTF-8, else `hex:…`
/// (the API's key syntax, [`reads::record_key`]).
fn record_href(owner: &PublicKey, key: &[u8]) -> String {
    let key = match std::str::from_utf8(key) {
        Ok(_) => pct(key),
        Err(_) => format!("hex:{}", hex::encode(key)),
    };
    format!("/record/{}/{key}", pct(owner.to_string().as_bytes()))
}

/// Bytes as text when UTF-8 (escaped), else as hex.
fn bytes_text(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => esc(s),
        Err(_) => format!(
            "<span class=\"m\">hex</span> <code>{}</code>",
            esc(&hex::encode(b))
        ),
    }
}

/// Rows of a two-column table: (label, HTML).
fn rows(items: &[(&str, String)]) -> String {
    let mut t = String::from("<div class=\"t\"><table>");
    for (k, v) in items {
        let _ = write!(t, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    }
    t.push_str("</table></div>");
    t
}

/// A table with a header row; cells are HTML.
fn table(head: &[&str], body: &[Vec<String>]) -> String {
    let mut t = String::from("<div class=\"t\"><table><tr>");
    for h in head {
        let _ = write!(t, "<th>{}</th>", esc(h));
    }
    t.push_str("</tr>");
    for r in body {
        t.push_str("<tr>");
        for c in r {
            let _ = write!(t, "<td>{c}</td>");
        }
        t.push_str("</tr>");
    }
    t.push_str("</table></div>");
    t
}

fn amount(v: u64) -> String {
    esc(&v.to_string())
}

/// Answers `method path?query` with an HTML page (blocking: store reads).
pub fn answer(api: &Api, method: &str, path: &str, query: &str) -> Reply {
    if method != "GET" && method != "HEAD" {
        let mut r = html(
            405,
            "Method not allowed",
            &format!(
                "<h1>Method not allowed</h1><p>{}</p>",
                esc(&format!("{path} answers GET only, not {method}"))
            ),
        );
        r.allow = Some("GET, HEAD");
        return r;
    }
    let segs: Vec<&str> = path.trim_start_matches('/').splitn(3, '/').collect();
    let result = match segs.as_slice() {
        [""] => home(api),
        ["block", id] => block_page(api, id),
        ["tx", id] => tx_page(api, id),
        ["account", a] => account_page(api, a),
        ["association", id] => association_page(api, id),
        ["record", owner, key] => record_page(api, owner, key),
        ["search"] => search(api, query),
        _ => Ok(not_found(&format!("no page at {path}"))),
    };
    result.unwrap_or_else(|e| store_failed(&e))
}

fn parse_hash(what: &str, text: &str) -> Result<Hash, Reply> {
    Hash::from_hex(text)
        .map_err(|e| bad_input(&format!("{what} {text:?}: {e}; give 64 hex digits")))
}

fn parse_address(text: &str) -> Result<PublicKey, Reply> {
    reads::address(text).map_err(|e| bad_input(&format!("address {text:?}: {}", e.detail)))
}

fn home(api: &Api) -> Result<Reply, StoreError> {
    let store = api.store();
    let p = store.params();
    let snap = store.snapshot()?;
    let tip = snap.tip()?;
    let now = crate::runtime::os::now_ms();
    let slot = p.slot_at(now);
    let epoch = p.epoch_of(slot);
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>{}</h1>",
        esc(&format!("Chain {}", p.genesis().chain_name))
    );
    b.push_str("<section><h2>Tip</h2>");
    b.push_str(&rows(&[
        ("Height", block_link(tip.height)),
        (
            "Hash",
            format!("<span class=\"h\">{}</span>", esc(&tip.hash.to_hex())),
        ),
        (
            "Slot",
            esc(&format!("{} (now {slot}, epoch {epoch})", tip.slot)),
        ),
    ]));
    b.push_str("</section><section><h2>Latest blocks</h2>");
    let mut list = Vec::new();
    let mut h = tip.height;
    while h >= 1 && list.len() < LATEST_BLOCKS as usize {
        if let Some(blk) = snap.block_at(h)? {
            let hd = &blk.header.header;
            list.push(vec![
                block_link(h),
                format!(
                    "<span class=\"h s\">{}</span>",
                    link(
                        &format!("/block/{}", blk.hash().to_hex()),
                        &short(&blk.hash().to_hex())
                    )
                ),
                amount(hd.slot),
                account_link(&hd.forger, false),
                amount(blk.txs.len() as u64),
            ]);
        }
        h -= 1;
    }
    if list.is_empty() {
        b.push_str("<p class=\"m\">No block yet: the chain is at its genesis.</p>");
    } else {
        b.push_str(&table(&["Height", "Hash", "Slot", "Forger", "Txs"], &list));
    }
    b.push_str("</section><section><h2>Forgers</h2>");
    match api.figures().forgers() {
        Some(f) => b.push_str(&forgers(&f, now)),
        None => b.push_str("<p class=\"m\">The node has not published its forger table yet.</p>"),
    }
    b.push_str("</section><section>");
    b.push_str(&schedule_section(&snap, &tip, epoch, slot)?);
    b.push_str("</section><section><h2>Associations</h2>");
    b.push_str(&associations(&snap, epoch)?);
    b.push_str("</section>");
    Ok(html(200, "Home", &b))
}

/// The forger table with each forger's health: its LEDs as coloured dots,
/// when it last reported (relative to `now_ms`), its height, clock and
/// this epoch's forged/missed counts.
pub fn forgers(entries: &[ForgerEntry], now_ms: u64) -> String {
    if entries.is_empty() {
        return "<p class=\"m\">No forger has reported to this node.</p>".into();
    }
    let mut body = Vec::new();
    for e in entries {
        let s = &e.status;
        let ago = now_ms.saturating_sub(e.reported_ms) / 1000;
        body.push(vec![
            account_link(&e.key, false),
            if e.connected {
                "<span class=\"ok\">connected</span>".into()
            } else {
                "<span class=\"bad\">gone</span>".into()
            },
            leds(&s.leds.lossy()),
            esc(&format!("{ago} s ago")),
            amount(s.height),
            format!(
                "{}{}",
                esc(&format!("{:+} ms", s.clock_offset_ms)),
                if s.clock_trusted {
                    String::new()
                } else {
                    " <span class=\"bad\">untrusted</span>".into()
                }
            ),
            esc(&format!("{} / {}", s.forged, s.missed)),
            esc(&s.version.lossy()),
        ]);
    }
    table(
        &[
            "Forger",
            "Link",
            "LEDs",
            "Report",
            "Height",
            "Clock",
            "Forged / missed",
            "Version",
        ],
        &body,
    )
}

/// LED states ("green:heartbeat amber:on red:off") as coloured dots: a
/// filled dot for a lit LED, a hollow one for an off LED; the pattern in
/// the dot's title and after it.
pub fn leds(text: &str) -> String {
    let mut out = String::new();
    for tok in text.split_whitespace() {
        let (colour, state) = tok.split_once(':').unwrap_or((tok, ""));
        let css = match colour {
            "green" => "#1f9d3a",
            "amber" | "yellow" | "orange" => "#e69b00",
            "red" => "#d0312d",
            "blue" => "#2463d1",
            _ => "#888",
        };
        let fill = if state == "off" { "transparent" } else { css };
        let _ = write!(
            out,
            "<span class=\"dot\" style=\"border-color:{css};background:{fill}\" title=\"{}\"></span><span class=\"m\">{}</span> ",
            esc(tok),
            esc(state)
        );
    }
    if out.is_empty() {
        out.push_str("<span class=\"m\">none reported</span>");
    }
    out
}

fn schedule_section(
    snap: &Snapshot,
    tip: &crate::ledger::state::Tip,
    epoch: u64,
    slot: u64,
) -> Result<String, StoreError> {
    let p = snap.params().clone();
    let mut b = String::new();
    let power = schedule::power(&p, snap, epoch)?;
    let kind = match &power {
        Power::Bootstrap => "bootstrap (the genesis forgers take turns)",
        Power::Weighted(_) => "weighted (drawn by weight bought)",
        Power::Nobody => "nobody (no weight bought, bootstrap over): no leader",
    };
    let _ = write!(
        b,
        "<h2>{}</h2><p>{}</p>",
        esc(&format!("Schedule of epoch {epoch}")),
        esc(kind)
    );
    let live = schedule::live_weights(&p, snap, epoch)?;
    let total: u128 = live.iter().map(|(_, w)| *w as u128).sum();
    let body: Vec<Vec<String>> = live
        .iter()
        .map(|(k, w)| {
            let share = if total == 0 {
                0.0
            } else {
                *w as f64 * 100.0 / total as f64
            };
            vec![
                account_link(k, false),
                amount(*w),
                esc(&format!("{share:.1} %")),
            ]
        })
        .collect();
    if body.is_empty() {
        b.push_str("<p class=\"m\">No live forger in this epoch.</p>");
    } else {
        b.push_str(&table(&["Forger", "Weight", "Share"], &body));
    }
    let mut next = Vec::new();
    for s in slot..slot + NEXT_LEADERS {
        if p.epoch_of(s) != epoch {
            break;
        }
        let who = match schedule::leader(&p, snap, tip, s)? {
            Some(k) => account_link(&k, false),
            None => "<span class=\"m\">none</span>".into(),
        };
        next.push(vec![amount(s), who]);
    }
    if !next.is_empty() {
        b.push_str("<h2>Next slots</h2>");
        b.push_str(&table(&["Slot", "Leader"], &next));
    }
    Ok(b)
}

fn associations(snap: &Snapshot, epoch: u64) -> Result<String, StoreError> {
    let ttl = snap.params().limits().proposal_ttl_epochs;
    let list = snap.proposals()?;
    if list.is_empty() {
        return Ok("<p class=\"m\">No association proposed.</p>".into());
    }
    let body: Vec<Vec<String>> = list
        .iter()
        .map(|(id, a)| {
            vec![
                link(&format!("/association/{}", id.to_hex()), &a.name.lossy()),
                esc(&status_text(a, epoch, ttl)),
                esc(&a.donations.to_string()),
                account_link(&a.account, false),
            ]
        })
        .collect();
    Ok(table(&["Name", "Status", "Donations", "Account"], &body))
}

/// A proposal's status in `epoch`, as the API names it (lapsed included).
fn status_text(a: &Proposal, epoch: u64, ttl: u64) -> String {
    use crate::ledger::state::ProposalStatus as S;
    match a.status {
        S::Pending if a.lapsed(epoch, ttl) => "lapsed (not approved in time)".into(),
        S::Pending => "pending".into(),
        S::Approved { since_epoch } => format!("approved, listed from epoch {since_epoch}"),
        S::Removed { at_epoch } => format!("removed at epoch {at_epoch}"),
    }
}

fn block_page(api: &Api, id: &str) -> Result<Reply, StoreError> {
    let snap = api.store().snapshot()?;
    let found = if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        let Ok(h) = id.parse::<u64>() else {
            return Ok(bad_input(&format!("height {id:?} is too large")));
        };
        snap.block_at(h)?
    } else {
        match parse_hash("block", id) {
            Ok(h) => snap.block(&h)?,
            Err(r) => return Ok(r),
        }
    };
    let Some(blk) = found else {
        return Ok(not_found(&format!(
            "no block {id} on this node (its chain is at height {}; height 0 is the genesis, not a block)",
            snap.tip()?.height
        )));
    };
    let hd = &blk.header.header;
    let hash = blk.hash();
    let canonical = snap.hash_at(hd.height)? == Some(hash);
    let mut b = format!("<h1>{}</h1><section>", esc(&format!("Block {}", hd.height)));
    b.push_str(&rows(&[
        ("Height", block_link(hd.height)),
        (
            "Hash",
            format!("<span class=\"h\">{}</span>", esc(&hash.to_hex())),
        ),
        (
            "Canonical",
            if canonical {
                "<span class=\"ok\">yes</span>".into()
            } else {
                "<span class=\"bad\">no (a side branch)</span>".into()
            },
        ),
        ("Slot", amount(hd.slot)),
        ("Epoch", amount(snap.params().epoch_of(hd.slot))),
        (
            "Parent",
            format!(
                "<span class=\"h\">{}</span>",
                link(
                    &format!("/block/{}", hd.parent.to_hex()),
                    &hd.parent.to_hex()
                )
            ),
        ),
        ("Forger", account_link(&hd.forger, true)),
        (
            "Tx root",
            format!("<span class=\"h\">{}</span>", esc(&hd.tx_root.to_hex())),
        ),
        (
            "State digest",
            format!(
                "<span class=\"h\">{}</span>",
                esc(&hd.state_digest.to_hex())
            ),
        ),
        ("Size", esc(&format!("{} bytes", blk.to_bytes().len()))),
    ]));
    let _ = write!(
        b,
        "</section><section><h2>{}</h2>",
        esc(&format!("Transactions ({})", blk.txs.len()))
    );
    b.push_str(&tx_table(blk.txs.iter().map(|t| (t, None))));
    b.push_str("</section>");
    Ok(html(200, &format!("Block {}", hd.height), &b))
}

/// What a transaction does, in a few words (HTML).
fn summary(tx: &SignedTransaction) -> String {
    match &tx.tx.kind {
        TxKind::Transfer { to, amount: a } => {
            format!("{} → {}", amount(*a), account_link(to, false))
        }
        TxKind::BuyWeight {
            epoch,
            amount: a,
            association,
        } => format!(
            "{} for epoch {} → {}",
            amount(*a),
            amount(*epoch),
            account_link(association, false)
        ),
        TxKind::ProposeAssociation { name, .. } => esc(&name.lossy()),
        TxKind::VoteAssociation { proposal, approve } => format!(
            "{} {}",
            if *approve { "yes" } else { "no" },
            link(
                &format!("/association/{}", proposal.to_hex()),
                &short(&proposal.to_hex())
            )
        ),
        TxKind::PutData { key, .. } => link(
            &record_href(&tx.tx.sender, key.as_slice()),
            &String::from_utf8_lossy(key.as_slice()),
        ),
        TxKind::ReportEquivocation { header_a, .. } => {
            format!("forger {}", account_link(&header_a.header.forger, false))
        }
        TxKind::DeployContract { code, .. } => format!("{} bytes of code", code.len()),
        TxKind::CallContract {
            contract, value, ..
        } => format!(
            "{} → contract {}",
            amount(*value),
            esc(&short(&contract.to_hex()))
        ),
    }
}

fn tx_table<'a>(txs: impl Iterator<Item = (&'a SignedTransaction, Option<u64>)>) -> String {
    let mut body = Vec::new();
    let mut with_height = false;
    for (t, h) in txs {
        let mut r = vec![
            tx_link(&t.id(), false),
            esc(t.tx.kind.name()),
            account_link(&t.tx.sender, false),
            summary(t),
            esc(&t.tx.memo.lossy()),
        ];
        if let Some(h) = h {
            with_height = true;
            r.insert(0, block_link(h));
        }
        body.push(r);
    }
    if body.is_empty() {
        return "<p class=\"m\">None.</p>".into();
    }
    if with_height {
        table(&["Block", "Id", "Kind", "Sender", "What", "Memo"], &body)
    } else {
        table(&["Id", "Kind", "Sender", "What", "Memo"], &body)
    }
}

/// The JSON form of a transaction as table rows, nested objects flattened
/// (`kind.to`); addresses and proposal ids linked.
fn json_rows(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                json_rows(&name, x, out);
            }
        }
        Value::String(s) => {
            let cell = match crate::chain::address::parse(s) {
                Ok(pk) if s.starts_with("gw1") => account_link(&pk, true),
                _ if prefix.ends_with("proposal") && Hash::from_hex(s).is_ok() => {
                    link(&format!("/association/{}", pct(s.as_bytes())), s)
                }
                _ => format!("<span class=\"h\">{}</span>", esc(s)),
            };
            out.push((prefix.to_string(), cell));
        }
        Value::Null => out.push((prefix.to_string(), "<span class=\"m\">—</span>".into())),
        other => out.push((prefix.to_string(), esc(&other.to_string()))),
    }
}

fn tx_page(api: &Api, id: &str) -> Result<Reply, StoreError> {
    let id = match parse_hash("transaction id", id) {
        Ok(h) => h,
        Err(r) => return Ok(r),
    };
    let snap = api.store().snapshot()?;
    let Some((tx, blk, proof)) = snap.tx_with_proof(&id)? else {
        return Ok(not_found(&format!(
            "no transaction {id} in this node's chain (one still in a mempool is not shown)"
        )));
    };
    let hd = &blk.header.header;
    // Every field of its JSON form (docs/http.md), the id and the signed
    // bytes last: the summary above says the rest.
    let mut fields = Vec::new();
    json_rows("", &super::txjson::signed_to_json(&tx), &mut fields);
    fields.retain(|(k, _)| k != "id");
    fields.sort_by_key(|(k, _)| k == "bytes");
    let items: Vec<(&str, String)> = vec![
        (
            "Id",
            format!("<span class=\"h\">{}</span>", esc(&id.to_hex())),
        ),
        ("Block", block_link(hd.height)),
        ("Position", amount(proof.index as u64)),
        ("Kind", esc(tx.tx.kind.name())),
        ("Sender", account_link(&tx.tx.sender, true)),
        ("What", summary(&tx)),
        ("Memo", bytes_text(tx.tx.memo.as_slice())),
    ];
    let all: Vec<(&str, String)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let mut b = format!(
        "<h1>Transaction</h1><section>{}</section><section><h2>All fields</h2>{}</section>",
        rows(&items),
        rows(&all)
    );
    let ok = crate::chain::merkle::verify(&hd.tx_root, &id, &proof);
    let siblings: String = proof
        .siblings
        .iter()
        .map(|s| format!("{}<br>", esc(&s.to_hex())))
        .collect();
    let _ = write!(
        b,
        "<section><h2>Inclusion proof</h2>{}</section>",
        rows(&[
            (
                "Checked",
                if ok {
                    "<span class=\"ok\">✓ the proof leads to the block's tx root</span>".into()
                } else {
                    "<span class=\"bad\">✗ the proof does not match the block's tx root</span>"
                        .into()
                },
            ),
            (
                "Tx root",
                format!("<span class=\"h\">{}</span>", esc(&hd.tx_root.to_hex()))
            ),
            (
                "Leaf",
                esc(&format!("{} of {}", proof.index, proof.leaf_count)),
            ),
            (
                "Siblings",
                if siblings.is_empty() {
                    "<span class=\"m\">none: the block's only transaction</span>".into()
                } else {
                    format!("<span class=\"h\">{siblings}</span>")
                },
            ),
        ])
    );
    Ok(html(200, "Transaction", &b))
}

fn account_page(api: &Api, text: &str) -> Result<Reply, StoreError> {
    let pk = match parse_address(text) {
        Ok(pk) => pk,
        Err(r) => return Ok(r),
    };
    let store = api.store();
    let p = store.params();
    let snap = store.snapshot()?;
    let a = snap.account(&pk)?;
    let epoch = p.epoch_of(p.slot_at(crate::runtime::os::now_ms()));
    let mut items = vec![
        (
            "Address",
            format!("<span class=\"h\">{}</span>", esc(&pk.to_string())),
        ),
        ("Balance", amount(a.balance)),
        ("Nonce", amount(a.nonce)),
    ];
    let w0 = snap.weight(epoch, &pk)?;
    let w1 = snap.weight(epoch + 1, &pk)?;
    items.push((
        "Weight",
        esc(&format!(
            "{w0} in epoch {epoch}, {w1} in epoch {}",
            epoch + 1
        )),
    ));
    if let Some(id) = snap.association_of(&pk)? {
        items.push((
            "Association",
            link(
                &format!("/association/{}", id.to_hex()),
                &short(&id.to_hex()),
            ),
        ));
    }
    let mut b = format!("<h1>Account</h1><section>{}</section>", rows(&items));
    // One index range read and each block once: no Merkle proof per entry.
    let page = snap.account_txs_page(&pk, None, HISTORY)?;
    let txs: Vec<(SignedTransaction, u64)> = reads::located(&snap, &page)?
        .into_iter()
        .zip(&page)
        .map(|((t, _), (loc, _))| (t, loc.height))
        .collect();
    let _ = write!(
        b,
        "<section><h2>{}</h2>{}</section>",
        esc(&format!("History (newest first, at most {HISTORY})")),
        tx_table(txs.iter().map(|(t, h)| (t, Some(*h))))
    );
    // Its records: the keys of its own PutData in that history.
    let mut keys: Vec<&[u8]> = Vec::new();
    for (t, _) in &txs {
        if let TxKind::PutData { key, .. } = &t.tx.kind {
            if t.tx.sender == pk && !keys.contains(&key.as_slice()) {
                keys.push(key.as_slice());
            }
        }
    }
    b.push_str("<section><h2>Records</h2>");
    if keys.is_empty() {
        b.push_str("<p class=\"m\">None in its recent history.</p>");
    } else {
        b.push_str("<ul>");
        for k in keys {
            let _ = write!(
                b,
                "<li>{}</li>",
                link(&record_href(&pk, k), &String::from_utf8_lossy(k))
            );
        }
        b.push_str("</ul>");
    }
    b.push_str("</section>");
    Ok(html(200, "Account", &b))
}

fn association_page(api: &Api, id: &str) -> Result<Reply, StoreError> {
    let id = match parse_hash("association id", id) {
        Ok(h) => h,
        Err(r) => return Ok(r),
    };
    let snap = api.store().snapshot()?;
    let Some(a) = snap.proposal(&id)? else {
        return Ok(not_found(&format!(
            "no association proposal {id} (its id is the id of the transaction that proposed it)"
        )));
    };
    let p = snap.params();
    let status = status_text(
        &a,
        p.epoch_of(p.slot_at(crate::runtime::os::now_ms())),
        p.limits().proposal_ttl_epochs,
    );
    Ok(association_html(&id, &a, &status))
}

/// An `http`/`https` url as an `href` value — every byte but RFC 3986's
/// unreserved and reserved characters and `%` percent-encoded, then
/// escaped — or `None` for any other scheme.
fn http_href(url: &str) -> Option<String> {
    let lower = url.to_ascii_lowercase();
    if !lower.starts_with("https://") && !lower.starts_with("http://") {
        return None;
    }
    let mut out = String::with_capacity(url.len());
    for &b in url.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Some(esc(&out))
}

fn association_html(id: &Hash, a: &Proposal, status: &str) -> Reply {
    let url = a.url.lossy();
    let url_cell = match http_href(&url) {
        Some(href) => format!(
            "<a href=\"{href}\" rel=\"noopener nofollow\">{}</a>",
            esc(&url)
        ),
        None => esc(&url),
    };
    let votes: String = a
        .votes
        .iter()
        .map(|(k, yes)| {
            format!(
                "{} {}<br>",
                account_link(k, false),
                if *yes { "yes" } else { "no" }
            )
        })
        .collect();
    let b = format!(
        "<h1>{}</h1><section>{}</section>",
        esc(&format!("Association {}", a.name.lossy())),
        rows(&[
            ("Id", tx_link(id, true)),
            ("Name", bytes_text(a.name.as_slice())),
            ("Url", url_cell),
            ("Account", account_link(&a.account, true)),
            ("Proposer", account_link(&a.proposer, true)),
            ("Proposed in epoch", amount(a.proposed_epoch)),
            ("Status", esc(status)),
            ("Round opened in epoch", amount(a.round_epoch)),
            ("Donations", esc(&a.donations.to_string())),
            (
                "Votes this round",
                if votes.is_empty() {
                    "<span class=\"m\">none</span>".into()
                } else {
                    votes
                },
            ),
        ])
    );
    html(200, "Association", &b)
}

fn record_page(api: &Api, owner: &str, key: &str) -> Result<Reply, StoreError> {
    let pk = match parse_address(owner) {
        Ok(pk) => pk,
        Err(r) => return Ok(r),
    };
    let k = match reads::record_key(key) {
        Ok(k) => k,
        Err(e) => return Ok(bad_input(&e.detail)),
    };
    let raw = k.as_slice();
    let snap = api.store().snapshot()?;
    let Some(r) = snap.record(&pk, &k)? else {
        return Ok(not_found(&format!(
            "{pk} holds no record under the key {:?}",
            String::from_utf8_lossy(raw)
        )));
    };
    let history = snap.record_history_page(&pk, raw, None, HISTORY)?;
    let mut b = format!(
        "<h1>Record</h1><section>{}</section>",
        rows(&[
            ("Owner", account_link(&pk, true)),
            ("Key", bytes_text(raw)),
            (
                "Value",
                format!("<pre>{}</pre>", bytes_text(r.value.as_slice()))
            ),
            ("Written at", block_link(r.height)),
            ("By", tx_link(&r.tx, true)),
        ])
    );
    let body: Vec<Vec<String>> = history
        .iter()
        .map(|v| vec![block_link(v.height), tx_link(&v.tx, false)])
        .collect();
    let _ = write!(
        b,
        "<section><h2>{}</h2>{}</section>",
        esc(&format!("Writes (newest first, at most {HISTORY})")),
        table(&["Block", "Transaction"], &body)
    );
    Ok(html(200, "Record", &b))
}

/// `/search?q=`: a height, a block hash, a transaction id, an association
/// id, an address, or `address/key`; answers the page it names.
fn search(api: &Api, query: &str) -> Result<Reply, StoreError> {
    if query.len() > MAX_QUERY {
        return Ok(bad_input(&format!("a search is at most {MAX_QUERY} bytes")));
    }
    // A form sends a space as '+' (and a '+' as %2B).
    let q = match reads::query_params(&query.replace('+', "%20"), &["q"]) {
        Ok(mut p) => p.remove("q").unwrap_or_default().trim().to_string(),
        Err(e) => return Ok(bad_input(&format!("search: {}", e.detail))),
    };
    if q.is_empty() {
        return Ok(bad_input(
            "empty search: give a height, block hash, transaction id, address or address/key",
        ));
    }
    if q.bytes().all(|b| b.is_ascii_digit()) {
        return block_page(api, &q);
    }
    if q.len() == 64 && q.bytes().all(|b| b.is_ascii_hexdigit()) {
        let h = match parse_hash("hash", &q) {
            Ok(h) => h,
            Err(r) => return Ok(r),
        };
        let snap = api.store().snapshot()?;
        if snap.block(&h)?.is_some() {
            return block_page(api, &q);
        }
        if snap.proposal(&h)?.is_some() {
            return association_page(api, &q);
        }
        return match snap.tx_location(&h) {
            Ok(Some(_)) => tx_page(api, &q),
            Ok(None) | Err(StoreError::NotIndexed) => Ok(not_found(&format!(
                "no block, transaction or association {q} on this node"
            ))),
            Err(e) => Err(e),
        };
    }
    if let Some((addr, key)) = q.split_once('/') {
        return record_page(api, addr, &pct(key.as_bytes()));
    }
    if q.starts_with("gw1") {
        return account_page(api, &q);
    }
    Ok(bad_input(&format!(
        "{q:?} is not a height, a 64-hex-digit hash or id, a gw1… address or address/key"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::codec::Bytes;
    use crate::wire::ForgerStatus;

    #[test]
    fn esc_escapes_every_markup_character() {
        assert_eq!(
            esc(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(esc("plain text ✓"), "plain text ✓");
    }

    #[test]
    fn pct_round_trips_any_bytes() {
        let raw: Vec<u8> = (0u8..=255).collect();
        let e = pct(&raw);
        assert!(e
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        assert_eq!(reads::percent_decode(&e).unwrap(), raw);
        assert_eq!(pct(b"a/b c<"), "a%2Fb%20c%3C");
    }

    #[test]
    fn record_links_are_the_keys_the_record_page_reads() {
        let k = crate::chain::crypto::Keypair::from_seed([9; 32])
            .unwrap()
            .public();
        for key in [&b"note <i>1</i>/x:y"[..], &[0, 1, 0xff], b"hex:00"] {
            let href = record_href(&k, key);
            let (owner, seg) = href
                .strip_prefix("/record/")
                .and_then(|r| r.split_once('/'))
                .unwrap();
            assert_eq!(parse_address(owner).ok(), Some(k), "{href}");
            assert_eq!(reads::record_key(seg).unwrap().as_slice(), key, "{href}");
        }
    }

    fn status(leds: &str) -> ForgerStatus {
        ForgerStatus {
            version: Bytes::new(b"<b>1.0</b>".to_vec()).unwrap(),
            height: 42,
            tip: Hash([7; 32]),
            clock_offset_ms: -12,
            clock_trusted: true,
            leds: Bytes::new(leds.as_bytes().to_vec()).unwrap(),
            forged: 3,
            missed: 1,
            weight: 5,
            ..ForgerStatus::default()
        }
    }

    #[test]
    fn forger_table_shows_health_and_escapes_reports() {
        let k = crate::chain::crypto::Keypair::from_seed([9; 32])
            .unwrap()
            .public();
        let entries = vec![
            ForgerEntry {
                key: k,
                connected: true,
                reported_ms: 10_000,
                status: status("green:heartbeat amber:on red:off"),
            },
            ForgerEntry {
                key: k,
                connected: false,
                reported_ms: 1_000,
                status: status("red:<script>"),
            },
        ];
        let h = forgers(&entries, 15_000);
        assert!(h.contains("5 s ago") && h.contains("14 s ago"), "{h}");
        assert!(h.contains("connected") && h.contains("gone"));
        assert!(
            h.contains("border-color:#1f9d3a;background:#1f9d3a"),
            "lit green"
        );
        assert!(
            h.contains("border-color:#d0312d;background:transparent"),
            "red off"
        );
        assert!(h.contains("-12 ms") && h.contains("3 / 1"));
        assert!(!h.contains("<script") && !h.contains("<b>"), "{h}");
        assert!(h.contains("&lt;b&gt;1.0"));
        assert!(forgers(&[], 0).contains("No forger"));
    }

    fn proposal(name: &str, url: &str) -> Proposal {
        let k = crate::chain::crypto::Keypair::from_seed([9; 32])
            .unwrap()
            .public();
        Proposal {
            name: Bytes::new(name.as_bytes().to_vec()).unwrap(),
            url: Bytes::new(url.as_bytes().to_vec()).unwrap(),
            account: k,
            proposer: k,
            proposed_epoch: 1,
            status: crate::ledger::state::ProposalStatus::Pending,
            round_epoch: 1,
            votes: vec![(k, true)],
            donations: 1234,
        }
    }

    #[test]
    fn association_url_is_a_link_only_for_http() {
        let body = |r: Reply| String::from_utf8(r.body).unwrap();
        let safe = body(association_html(
            &Hash([1; 32]),
            &proposal(
                "<img src=x onerror=alert(1)>",
                "https://ex.org/?a=\"><script>",
            ),
            "pending",
        ));
        assert!(safe.contains("rel=\"noopener nofollow\""));
        assert!(
            safe.contains("href=\"https://ex.org/?a=%22%3E%3Cscript%3E\""),
            "{safe}"
        );
        assert!(safe.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(
            !safe.contains("<script") && !safe.contains("<img"),
            "{safe}"
        );
        let js = body(association_html(
            &Hash([1; 32]),
            &proposal("x", "javascript:alert(1)"),
            "pending",
        ));
        assert!(!js.contains("href=\"javascript"), "{js}");
        assert!(js.contains("javascript:alert(1)"), "shown as text");
        assert_eq!(
            http_href("HTTP://x.org/a b&c'é").as_deref(),
            Some("HTTP://x.org/a%20b&amp;c&#39;%C3%A9")
        );
        assert_eq!(http_href(" https://x.org"), None);
        let p = proposal("x", "");
        assert_eq!(status_text(&p, 1, 2), "pending");
        assert!(status_text(&p, 4, 2).starts_with("lapsed"));
        let removed = Proposal {
            status: crate::ledger::state::ProposalStatus::Removed { at_epoch: 7 },
            ..p
        };
        assert_eq!(status_text(&removed, 9, 2), "removed at epoch 7");
        assert_eq!(http_href("data:text/html,<b>"), None);
    }

    #[test]
    fn pages_escape_their_title_and_errors() {
        let r = bad_input("<script>alert(1)</script>");
        assert_eq!(r.status, 400);
        let b = String::from_utf8(r.body).unwrap();
        assert!(!b.contains("<script"));
        assert!(b.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(b.contains("name=\"viewport\""));
        let n = String::from_utf8(not_found("x").body).unwrap();
        assert!(n.contains("action=\"/search\""));
    }

    #[test]
    fn serves_all_but_the_api_and_metrics() {
        assert!(serves("/") && serves("/block/1") && serves("/favicon.ico"));
        assert!(!serves("/api/v1/status") && !serves("/metrics") && !serves("/mesh/block"));
    }
}
