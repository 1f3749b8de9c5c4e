//! `GET /api/v1/events` (Server-Sent Events, issue 17) against the real
//! binary on 127.0.0.1, blocks sent to it by a forger session: blocks and
//! watched transactions arrive as events, a reconnect resumes after
//! `Last-Event-ID` — across a stop and a start of the node process on the
//! same store, with no event lost or repeated — a reorganisation streams
//! its retracted block, bad input is a problem, streams are capped, and a
//! quiet stream gets keep-alive comments instead of being cut.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use crate::common::{self, strs, within, Procs};

use goodwill::chain::block::Block;
use goodwill::chain::crypto::PublicKey;
use goodwill::runtime::client::Client;
use goodwill::store::Store;
use goodwill::testkit::{self, TestChain, TestNet, TestNetConfig};
use goodwill::wire::{Message, Role};

const WAIT_MS: u64 = 30_000;
const IDLE_S: u64 = 2;

/// One message of an event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    kind: String,
    id: String,
    data: serde_json::Value,
}

/// An open event stream (a chunked HTTP/1.1 body, decoded here).
struct Stream {
    r: BufReader<TcpStream>,
    text: String,
    comments: usize,
}

/// What `open` got instead of a stream: status and body.
#[derive(Debug)]
struct Refused {
    status: u16,
    body: String,
}

impl Refused {
    fn problem(&self, status: u16, kind: &str) -> String {
        assert_eq!(self.status, status, "{self:?}");
        let v: serde_json::Value = serde_json::from_str(&self.body).unwrap();
        assert_eq!(v["type"], format!("urn:goodwill:problem:{kind}"), "{v}");
        v["detail"].as_str().unwrap().to_string()
    }
}

fn open_on(s: TcpStream, query: &str, last_id: Option<&str>) -> Result<Stream, Refused> {
    open_with(s, "GET", query, last_id)
}

fn open_with(
    mut s: TcpStream,
    method: &str,
    query: &str,
    last_id: Option<&str>,
) -> Result<Stream, Refused> {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} /api/v1/events{query} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
    );
    if let Some(id) = last_id {
        req.push_str(&format!("Last-Event-ID: {id}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).expect("an answer");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line.to_lowercase());
    }
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    if status != 200 {
        assert!(status < 500 || status == 503, "{head}");
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .expect("a length")
            .trim()
            .parse()
            .unwrap();
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        return Err(Refused {
            status,
            body: String::from_utf8(body).unwrap(),
        });
    }
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    Ok(Stream {
        r,
        text: String::new(),
        comments: 0,
    })
}

fn open(addr: &str, query: &str, last_id: Option<&str>) -> Result<Stream, Refused> {
    open_on(TcpStream::connect(addr).unwrap(), query, last_id)
}

impl Stream {
    /// The next event, or `None` if none came within `ms` (keep-alive
    /// comments are counted and skipped).
    fn next(&mut self, ms: u64) -> Option<Event> {
        let deadline = common::now_ms() + ms;
        for _ in 0..100_000 {
            while let Some(end) = self.text.find("\n\n") {
                let msg: String = self.text.drain(..end + 2).collect();
                let (mut kind, mut id, mut data) = (None, None, None);
                for line in msg.lines().filter(|l| !l.is_empty()) {
                    if line.starts_with(':') {
                        self.comments += 1;
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        kind = Some(v.to_string());
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.to_string());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(v).unwrap());
                    } else {
                        assert!(line.starts_with("retry: "), "{line:?}");
                    }
                }
                if let (Some(kind), Some(id), Some(data)) = (kind, id, data) {
                    return Some(Event { kind, id, data });
                }
            }
            let left = deadline.saturating_sub(common::now_ms());
            if left == 0 {
                return None;
            }
            self.r
                .get_mut()
                .set_read_timeout(Some(Duration::from_millis(left)))
                .unwrap();
            // One chunk: its size in hex, the bytes, CRLF.
            let mut size = String::new();
            match self.r.read_line(&mut size) {
                Ok(0) => panic!("the stream ended"),
                Ok(_) => {}
                Err(_) => return None,
            }
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or_else(|_| panic!("{size:?}"));
            assert!(n > 0, "the stream ended");
            let mut chunk = vec![0; n + 2];
            self.r.read_exact(&mut chunk).expect("a whole chunk");
            self.text
                .push_str(std::str::from_utf8(&chunk[..n]).unwrap());
        }
        panic!("too many chunks");
    }

    fn expect(&mut self) -> Event {
        self.next(WAIT_MS).expect("an event in time")
    }

    /// The next `n` events.
    fn take(&mut self, n: usize) -> Vec<Event> {
        (0..n).map(|_| self.expect()).collect()
    }
}

/// A node on `dir/data` serving HTTP on a free port; its HTTP and
/// protocol addresses.
fn start(procs: &mut Procs, dir: &Path, name: &str) -> (usize, String, String) {
    let data = dir.join("data");
    let genesis = dir.join("genesis.toml");
    let args = common::node_args_http(
        data.to_str().unwrap(),
        genesis.to_str().unwrap(),
        "127.0.0.1:0",
        IDLE_S,
    );
    let i = procs.start(name, &strs(&args));
    let p2p = procs.wait_line(i, WAIT_MS, common::listening_on);
    let http = procs.wait_line(i, WAIT_MS, common::http_on);
    (i, http, p2p)
}

/// A store in `dir/data` holding `blocks`, and the genesis file.
fn prepare(dir: &Path, net: &TestNet, blocks: &[Block]) {
    let store = Store::open(&dir.join("data"), &net.params).unwrap();
    for b in blocks {
        store.import_block(b, testkit::EVERY_SLOT_STARTED).unwrap();
    }
    std::fs::write(dir.join("genesis.toml"), net.params.to_file_text()).unwrap();
}

/// Sends `blocks` to the node at `p2p` as its forger would.
fn send_blocks(net: &TestNet, p2p: &str, blocks: &[Block]) {
    let mut f = within(
        WAIT_MS,
        "forger handshake",
        Client::connect_as(
            p2p,
            &net.forgers[0],
            Role::Forger,
            net.params.chain_id(),
            None,
        ),
    )
    .expect("a forger connects");
    for b in blocks {
        within(
            WAIT_MS,
            "send a block",
            f.send(&Message::NewBlock(Box::new(b.clone()))),
        )
        .expect("send a block");
    }
    // Let the node read them before the session closes.
    std::thread::sleep(Duration::from_millis(300));
}

/// The events a log entry `seq` connecting `b` makes for `watched`.
fn connected(seq: u64, b: &Block, watched: &PublicKey) -> Vec<(String, String)> {
    let mut v = vec![("block".to_string(), seq.to_string())];
    for (i, t) in b.txs.iter().enumerate() {
        if goodwill::store::touched(t).contains(watched) {
            v.push(("tx".to_string(), format!("{seq}.{i}")));
        }
    }
    v
}

fn kinds_ids(events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| (e.kind.clone(), e.id.clone()))
        .collect()
}

/// Block `i` (1-based) moves 1 + i from user (i-1) % 4 to user i % 4.
fn chain(net: &TestNet, n: usize) -> TestChain {
    let mut c = net.chain();
    for i in 1..=n {
        let to = net.users[i % 4].public();
        let tx = c.transfer_from_user((i - 1) % 4, to, 1 + i as u64);
        c.forge(vec![tx]);
    }
    c
}

#[test]
fn events_stream_live_and_resume_after_last_event_id_across_a_node_restart() {
    let dir = tempfile::tempdir().unwrap();
    let net = TestNet::new(&TestNetConfig::default());
    let w = net.users[1].public();
    // Blocks 1, 2, 5 and 6 touch W; 7 sends to W on branch A, and branch B
    // (forking after 6) replaces it.
    let mut a = chain(&net, 6);
    let mut b = a.clone();
    let to_w = a.transfer_from_user(0, w, 70);
    a.forge(vec![to_w.clone()]);
    let tx = b.transfer_from_user(2, net.users[3].public(), 71);
    b.forge_after(a.blocks[6].header.header.slot + 2, vec![tx]);
    b.forge(vec![]);
    prepare(dir.path(), &net, &a.blocks[..2]);
    let mut procs = Procs::new(dir.path(), common::POLL);
    let (node, http, p2p) = start(&mut procs, dir.path(), "node");

    // From the log's start: blocks 1 and 2, each with its tx touching W.
    let mut all = open(&http, &format!("?after=0&address={w}"), None).unwrap();
    let ready = all.expect();
    assert_eq!((ready.kind.as_str(), ready.id.as_str()), ("ready", "0"));
    assert_eq!(ready.data["height"], 2, "{ready:?}");
    let mut want = connected(1, &a.blocks[0], &w);
    want.extend(connected(2, &a.blocks[1], &w));
    let mut seen = all.take(want.len());
    assert_eq!(kinds_ids(&seen), want);
    let block1 = &seen[0].data;
    assert_eq!(block1["height"], 1);
    assert_eq!(block1["hash"], a.blocks[0].hash().to_hex());
    assert_eq!(
        block1["forger"],
        a.blocks[0].header.header.forger.to_string()
    );
    assert_eq!(block1["tx_count"], 1);
    let tx1 = &seen[1].data;
    assert_eq!(tx1["id"], a.blocks[0].txs[0].id().to_hex(), "{tx1}");
    assert_eq!(tx1["kind"], "transfer");
    assert_eq!(tx1["to"], w.to_string());
    assert_eq!(tx1["amount"], "2");
    assert_eq!(tx1["matched"][0], w.to_string());
    assert_eq!(tx1["block"], a.blocks[0].hash().to_hex());
    // A new subscriber without an id starts at the tip, blocks only; the
    // ready event's id is the end of the last entry (past block 2's one tx).
    let mut fresh = open(&http, "", None).unwrap();
    let r = fresh.expect();
    assert_eq!((r.kind.as_str(), r.id.as_str()), ("ready", "2.1"));

    // Blocks 3 and 4 arrive live (no tx of theirs touches W).
    send_blocks(&net, &p2p, &a.blocks[2..4]);
    let live = all.take(2);
    assert_eq!(
        kinds_ids(&live),
        [
            connected(3, &a.blocks[2], &w),
            connected(4, &a.blocks[3], &w)
        ]
        .concat()
    );
    seen.extend(live);
    assert_eq!(
        kinds_ids(&fresh.take(2)),
        [("block".into(), "3".into()), ("block".into(), "4".into())]
    );
    // Within one run, a reconnect after "2.0" (block 2's tx to W) gets 3
    // and 4 again, nothing else.
    let mut again = open(&http, &format!("?address={w}"), Some("2.0")).unwrap();
    assert_eq!(again.expect().id, "2.0", "ready names the position");
    assert_eq!(
        kinds_ids(&again.take(2)),
        kinds_ids(&seen[seen.len() - 2..])
    );
    assert_eq!(again.next(500), None);
    let last = seen.last().unwrap().id.clone();
    drop((fresh, again));

    // The node stops, a stream still open (it ends; the node does not wait
    // for it); it is started again on the same store and gets blocks 5 and
    // 6 before anyone reconnects.
    let (status, took) = procs.terminate(node, WAIT_MS);
    assert!(status.success(), "{status:?}");
    assert!(took < 5_000, "stopping took {took} ms with a stream open");
    let mut rest = Vec::new();
    let _ = all.r.read_to_end(&mut rest);
    assert!(
        !String::from_utf8_lossy(&rest).contains("event:"),
        "nothing more was sent: {rest:?}"
    );
    drop(all);
    let (node, http, p2p) = start(&mut procs, dir.path(), "node-again");
    send_blocks(&net, &p2p, &a.blocks[4..6]);
    // A browser's reconnect: the same URL (?after=0) and the Last-Event-ID
    // header, which wins. The next events follow with no gap, no repeat.
    let mut resumed = open(&http, &format!("?after=0&address={w}"), Some(&last)).unwrap();
    assert_eq!(resumed.expect().id, last);
    let want = [
        connected(5, &a.blocks[4], &w),
        connected(6, &a.blocks[5], &w),
    ]
    .concat();
    assert_eq!(want.len(), 4, "blocks 5 and 6 touch W");
    let after = resumed.take(want.len());
    assert_eq!(kinds_ids(&after), want);
    seen.extend(after);
    // Resuming inside a block: after its block event, its txs follow.
    let mut inside = open(&http, &format!("?address={w}"), Some("5")).unwrap();
    inside.expect();
    assert_eq!(inside.expect().id, "5.0");

    // Block 7 (to W) comes. Then, node stopped, branch B's two blocks take
    // its place in the store (a node ignores a rival block for a slot this
    // old: the store's own switch is what is streamed). Resumed after a
    // second restart, W's retracted transaction is named in the retracted
    // event, and B's blocks follow.
    send_blocks(&net, &p2p, &a.blocks[6..7]);
    let seven = resumed.take(2);
    assert_eq!(kinds_ids(&seven), connected(7, &a.blocks[6], &w));
    seen.extend(seven);
    let last = seen.last().unwrap().id.clone();
    drop((resumed, inside));
    let (status, _) = procs.terminate(node, WAIT_MS);
    assert!(status.success(), "{status:?}");
    {
        let store = Store::open(&dir.path().join("data"), &net.params).unwrap();
        for blk in &b.blocks[6..8] {
            store
                .import_block(blk, testkit::EVERY_SLOT_STARTED)
                .unwrap();
        }
        assert_eq!(store.tip().unwrap().hash, b.blocks[7].hash());
    }
    let (_node, http, _) = start(&mut procs, dir.path(), "node-third");
    let mut resumed = open(&http, &format!("?address={w}"), Some(&last)).unwrap();
    assert_eq!(resumed.expect().id, last);
    let reorg = resumed.take(3);
    assert_eq!(
        kinds_ids(&reorg),
        [
            ("retracted".to_string(), "8".to_string()),
            ("block".to_string(), "9".to_string()),
            ("block".to_string(), "10".to_string()),
        ]
    );
    assert_eq!(reorg[0].data["hash"], a.blocks[6].hash().to_hex());
    assert_eq!(reorg[0].data["height"], 7);
    assert_eq!(reorg[0].data["txs"][0]["id"], to_w.id().to_hex());
    assert_eq!(reorg[1].data["hash"], b.blocks[6].hash().to_hex());
    assert_eq!(reorg[2].data["hash"], b.blocks[7].hash().to_hex());
    seen.extend(reorg);

    // The whole log replayed now is exactly what was seen piecewise.
    let mut replay = open(&http, &format!("?after=0&address={w}"), None).unwrap();
    replay.expect();
    let whole = replay.take(seen.len());
    assert_eq!(whole, seen);
    assert_eq!(replay.next(500), None, "nothing more");
}

/// A connection to `to` from the loopback address 127.0.0.`last`.
fn connect_from(last: u8, to: &str) -> TcpStream {
    let to: std::net::SocketAddr = to.parse().unwrap();
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&std::net::SocketAddr::from(([127, 0, 0, last], 0)).into())
        .unwrap();
    s.connect_timeout(&to.into(), Duration::from_secs(5))
        .unwrap();
    s.into()
}

fn metric(http: &str, name: &str) -> u64 {
    let mut s = TcpStream::connect(http).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} in {out}"))
        .parse()
        .unwrap()
}

#[test]
fn bad_input_is_a_problem_quiet_streams_are_kept_alive_and_streams_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let net = TestNet::new(&TestNetConfig::default());
    let a = chain(&net, 2);
    prepare(dir.path(), &net, &a.blocks);
    let mut procs = Procs::new(dir.path(), common::POLL);
    let (_node, http, _) = start(&mut procs, dir.path(), "node");

    let good = net.users[0].public().to_string();
    let last = good.chars().last().unwrap();
    let typo = format!(
        "{}{}",
        &good[..good.len() - 1],
        if last == 'q' { 'p' } else { 'q' }
    );
    let no = |query: &str, id: Option<&str>| open(&http, query, id).err().expect("a refusal");
    let d =
        no(&format!("?address={good}&address={typo}"), None).problem(400, "bad-address-checksum");
    assert!(d.contains(&typo), "{d}");
    let d = no("?address=nonsense", None).problem(400, "bad-address");
    assert!(d.contains("nonsense"), "{d}");
    let d = no("", Some("x1")).problem(400, "bad-event-id");
    assert!(d.contains("x1"), "{d}");
    let d = no("?after=1.2.3", None).problem(400, "bad-event-id");
    assert!(d.contains("1.2.3"), "{d}");
    // Past the end of this node's log (2 entries): from another store.
    let d = no("", Some("3")).problem(400, "bad-event-id");
    assert!(d.contains("ends at 2"), "{d}");
    let d = no("?from=1", None).problem(400, "bad-query");
    assert!(d.contains("from"), "{d}");
    let many: String = (0..17)
        .map(|i| format!("&address={}", testkit::key(9, i).public()))
        .collect();
    no(&format!("?{}", &many[1..]), None).problem(400, "too-many-addresses");
    let post = open_with(TcpStream::connect(&http).unwrap(), "POST", "", None)
        .err()
        .expect("a refusal");
    post.problem(405, "method-not-allowed");

    // Quiet for three idle times: kept alive by comments, not cut.
    let mut quiet = open(&http, "", None).unwrap();
    assert_eq!(quiet.expect().kind, "ready");
    assert_eq!(quiet.next(IDLE_S * 3_000), None);
    assert!(
        quiet.comments >= 3,
        "{} keep-alive comments",
        quiet.comments
    );
    drop(quiet);

    // 32 streams at once (two addresses × 16); the 33rd is refused.
    let mut held = Vec::new();
    for last in [31, 32] {
        for _ in 0..16 {
            held.push(open_on(connect_from(last, &http), "", None).unwrap());
        }
    }
    common::wait_for(WAIT_MS, "32 subscribers in /metrics", || {
        (metric(&http, "goodwill_http_sse_subscribers") == 32).then_some(())
    });
    let d = open_on(connect_from(33, &http), "", None)
        .err()
        .expect("refused")
        .problem(503, "busy");
    assert!(d.contains("32 event streams"), "{d}");
    drop(held);
    common::wait_for(WAIT_MS, "no subscriber left", || {
        (metric(&http, "goodwill_http_sse_subscribers") == 0).then_some(())
    });
    open(&http, "", None).expect("a place again");
}
