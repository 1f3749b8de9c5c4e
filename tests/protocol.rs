//! Protocol tests: raw bytes against a real node listening on 127.0.0.1.
//!
//! Each test starts its own node (own data directory, own ban list) and
//! speaks to it with blocking std sockets, building the bytes by hand with
//! `encode_frame` and `sign_auth`. A misbehaving client connects from its own
//! loopback source address (127.0.x.y, bound before connecting: Linux routes
//! all of 127/8 to `lo`), because the node bans the address of whoever
//! misbehaves; after each case a well-behaved [`Client`] from 127.0.0.1 must
//! still get a correct answer.
//!
//! Every read has a timeout and every loop a bound: a node that hangs fails
//! the test instead of hanging it.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use futures_lite::future;
use goodwill::chain::codec::{self, Bytes};
use goodwill::chain::crypto::{Hash, Keypair, Signature};
use goodwill::ledger::state::StateReadExt;
use goodwill::runtime::client::Client;
use goodwill::runtime::node::{self, NodeConfig, NodeLimits, RunningNode};
use goodwill::testkit::{self, TestNet, TestNetConfig};
use goodwill::wire::frame::{encode_frame, parse};
use goodwill::wire::handshake::{sign_auth, verify_auth};
use goodwill::wire::{
    limits, Answer, ErrorCode, Hello, Message, Query, Role, TipInfo, PROTOCOL_VERSION,
};
use socket2::{Domain, Socket, Type};

/// How long any single read or write may block.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest frame the raw client accepts from the node.
const READ_LIMIT: u32 = goodwill::runtime::client::CLIENT_READ_LIMIT;

// ---------------------------------------------------------------- the node

/// A node under test, with what a test needs to know about it.
struct TestNode {
    node: RunningNode,
    net: TestNet,
    /// The genesis tip, computed in memory (not asked from the node).
    genesis: TipInfo,
    _dir: tempfile::TempDir,
}

fn start(limits: NodeLimits) -> TestNode {
    let net = TestNet::new(&TestNetConfig::default());
    let t = net.chain().state.tip().expect("genesis has a tip");
    let genesis = TipInfo {
        height: t.height,
        hash: t.hash,
        slot: t.slot,
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let node = node::spawn(NodeConfig {
        limits,
        ..common::node_config(
            &dir.path().join("data"),
            &net.params,
            testkit::key(7, 0),
            vec![],
        )
    })
    .expect("the node starts");
    assert!(node.addr.ip().is_loopback());
    TestNode {
        node,
        net,
        genesis,
        _dir: dir,
    }
}

impl TestNode {
    fn addr(&self) -> SocketAddr {
        self.node.addr
    }

    fn chain_id(&self) -> Hash {
        self.net.params.chain_id()
    }

    /// A well-behaved client from 127.0.0.1 connects and gets the genesis tip.
    fn assert_served(&self) {
        let addr = self.addr().to_string();
        let tip = smol::block_on(future::or(
            async {
                let mut c = Client::connect(&addr)
                    .await
                    .expect("a well-behaved client is served");
                assert_eq!(c.chain_id(), self.chain_id());
                c.tip().await.expect("the tip")
            },
            async {
                smol::Timer::after(IO_TIMEOUT).await;
                panic!("a well-behaved client got no answer within {IO_TIMEOUT:?}")
            },
        ));
        assert_eq!(tip, self.genesis, "the node answers the genesis tip");
    }

    /// A new connection from `ip` is refused with Error Banned, whether the
    /// client waits for the node's first frame or sends its Hello at once
    /// (as a real client does: the refusal must still reach it).
    fn assert_banned(&self, ip: Ipv4Addr) {
        let mut c = Raw::connect_from(ip, self.addr());
        c.expect_close(ErrorCode::Banned);
        let mut c = Raw::connect_from(ip, self.addr());
        c.send(&Message::Hello(Box::new(client_hello(
            &goodwill::runtime::os::new_keypair(),
            self.chain_id(),
            Role::Client,
            self.genesis,
        ))));
        c.expect_close(ErrorCode::Banned);
    }

    /// A new connection from `ip` completes the handshake and is answered.
    fn assert_not_banned(&self, ip: Ipv4Addr) {
        let mut c = Raw::connect_from(ip, self.addr());
        let (hello, _) = c.handshake(self.chain_id(), Role::Client);
        assert_eq!(hello.tip, self.genesis);
        assert_eq!(c.query_tip(), self.genesis);
    }
}

/// The default-suite tests run in parallel, each with its own node; the
/// memory test reads the whole process's RSS, so it runs alone.
static RSS_LOCK: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    RSS_LOCK.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    RSS_LOCK.write().unwrap_or_else(|e| e.into_inner())
}

/// A loopback source address no other test uses: 127.0.0.2, 127.0.0.3, …
fn fresh_ip() -> Ipv4Addr {
    static NEXT: AtomicU32 = AtomicU32::new(2);
    for _ in 0..3 {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(n < 0xff00, "out of loopback source addresses");
        let (hi, lo) = ((n >> 8) as u8, (n & 0xff) as u8);
        if lo != 0 && lo != 255 {
            return Ipv4Addr::new(127, 0, hi, lo);
        }
    }
    unreachable!("two in a row are never both skipped")
}

// ---------------------------------------------------------- the raw client

/// A blocking socket speaking raw frames.
struct Raw {
    s: TcpStream,
    buf: Vec<u8>,
    /// Every byte sent, for replays.
    sent: Vec<u8>,
}

impl Raw {
    /// Connects to `to` from the loopback address `ip`.
    fn connect_from(ip: Ipv4Addr, to: SocketAddr) -> Raw {
        assert!(ip.is_loopback() && to.ip().is_loopback(), "loopback only");
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        s.bind(&SocketAddr::from((ip, 0)).into())
            .unwrap_or_else(|e| panic!("bind {ip}: {e}"));
        s.connect_timeout(&to.into(), IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect {ip} → {to}: {e}"));
        let s: TcpStream = s.into();
        s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        s.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
        s.set_nodelay(true).expect("nodelay");
        assert_eq!(s.local_addr().expect("local").ip(), ip);
        Raw {
            s,
            buf: Vec::new(),
            sent: Vec::new(),
        }
    }

    fn send_bytes(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("send");
        self.sent.extend_from_slice(bytes);
    }

    fn send(&mut self, msg: &Message) {
        self.send_bytes(&encode_frame(msg));
    }

    /// The next message, or None if the node closed the connection (FIN)
    /// between frames. Panics on a timeout, a reset, a frame cut short or an
    /// invalid frame.
    fn read(&mut self) -> Option<Message> {
        let mut chunk = [0u8; 16 * 1024];
        // Bounded: each round either returns or adds bytes, and a frame is
        // at most READ_LIMIT bytes.
        for _ in 0..=(READ_LIMIT as usize / 1024 + 4) {
            if let Some((msg, used)) = parse(&self.buf, READ_LIMIT).expect("the node sends frames")
            {
                self.buf.drain(..used);
                return Some(msg);
            }
            match self.s.read(&mut chunk) {
                Ok(0) => {
                    assert!(
                        self.buf.is_empty(),
                        "the node closed in the middle of a frame ({} bytes)",
                        self.buf.len()
                    );
                    return None;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    panic!("the node sent nothing within {IO_TIMEOUT:?}")
                }
                Err(e) => panic!("reading from the node: {e}"),
            }
        }
        panic!("no frame after reading the largest one allowed")
    }

    fn read_msg(&mut self) -> Message {
        match self.read() {
            Some(m) => m,
            None => panic!("the node closed the connection"),
        }
    }

    fn expect_eof(&mut self) {
        if let Some(m) = self.read() {
            panic!("expected the node to close, got {m:?}");
        }
    }

    /// The node sends Error `code`, then closes.
    fn expect_close(&mut self, code: ErrorCode) {
        match self.read_msg() {
            Message::Error { code: got, text } => {
                assert_eq!(got, code, "error text: {}", text.lossy());
            }
            other => panic!("expected Error {code:?}, got {other:?}"),
        }
        self.expect_eof();
    }

    /// The node closes, with or without a last Error{Other} (for a peer that
    /// is gone, the reason is a courtesy).
    fn expect_quiet_close(&mut self) {
        match self.read() {
            None => {}
            Some(Message::Error {
                code: ErrorCode::Other,
                ..
            }) => self.expect_eof(),
            Some(m) => panic!("expected the node to close, got {m:?}"),
        }
    }

    /// The node's Hello (the first thing it sends on every connection).
    fn read_hello(&mut self) -> Hello {
        match self.read_msg() {
            Message::Hello(h) => *h,
            other => panic!("expected the node's Hello, got {other:?}"),
        }
    }

    /// A full handshake with a fresh key; returns the node's Hello and ours.
    fn handshake(&mut self, chain_id: Hash, role: Role) -> (Hello, Hello) {
        let theirs = self.read_hello();
        self.handshake_after(theirs, chain_id, role)
    }

    /// The rest of the handshake, once the node's Hello is read.
    fn handshake_after(&mut self, theirs: Hello, chain_id: Hash, role: Role) -> (Hello, Hello) {
        let key = goodwill::runtime::os::new_keypair();
        assert_eq!(theirs.chain_id, chain_id);
        assert_eq!(theirs.role, Role::MainNode);
        let ours = client_hello(&key, chain_id, role, theirs.tip);
        self.send(&Message::Hello(Box::new(ours.clone())));
        match self.read_msg() {
            Message::Auth { signature } => verify_auth(&theirs, &ours.nonce, &signature)
                .expect("the node's Auth signs our nonce"),
            other => panic!("expected the node's Auth, got {other:?}"),
        }
        let signature = sign_auth(&key, &ours, &theirs.nonce);
        self.send(&Message::Auth { signature });
        (theirs, ours)
    }

    /// Asks the tip with a raw Query and reads the Answer.
    fn query_tip(&mut self) -> TipInfo {
        self.send(&Message::Query {
            id: 77,
            query: Query::Tip,
        });
        match self.read_msg() {
            Message::Answer { id: 77, answer } => match *answer {
                Answer::Tip(t) => t,
                other => panic!("expected a tip, got {other:?}"),
            },
            other => panic!("expected Answer 77, got {other:?}"),
        }
    }

    /// Closes our sending side: the node sees EOF after what we sent.
    fn finish(&mut self) {
        self.s.shutdown(Shutdown::Write).expect("shutdown");
    }
}

fn client_hello(key: &Keypair, chain_id: Hash, role: Role, tip: TipInfo) -> Hello {
    Hello {
        version: PROTOCOL_VERSION,
        chain_id,
        role,
        tip,
        key: key.public(),
        nonce: goodwill::runtime::os::random_bytes(),
        clock_ms: goodwill::runtime::os::now_ms(),
        listen: None,
        software: Bytes::new(*b"protocol-test").expect("short"),
    }
}

/// The node process's resident memory (the node runs in this process, on
/// its own threads), in bytes.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a VmRSS line in kB");
    kb * 1024
}

// ------------------------------------------------------------------- cases

#[test]
fn good_handshake_then_raw_query() {
    let _g = shared();
    let n = start(NodeLimits::default());
    let ip = fresh_ip();
    let mut c = Raw::connect_from(ip, n.addr());
    let (theirs, _) = c.handshake(n.chain_id(), Role::Client);
    assert_eq!(theirs.version, PROTOCOL_VERSION);
    assert_eq!(theirs.tip, n.genesis);
    assert_eq!(theirs.key, testkit::key(7, 0).public());
    assert_eq!(c.query_tip(), n.genesis);
    // A client that knows no chain yet (the zero id) is let in too.
    let mut z = Raw::connect_from(ip, n.addr());
    let key = goodwill::runtime::os::new_keypair();
    let theirs = z.read_hello();
    let ours = client_hello(&key, Hash::ZERO, Role::Client, n.genesis);
    z.send(&Message::Hello(Box::new(ours.clone())));
    let Message::Auth { .. } = z.read_msg() else {
        panic!("expected Auth")
    };
    z.send(&Message::Auth {
        signature: sign_auth(&key, &ours, &theirs.nonce),
    });
    assert_eq!(z.query_tip(), n.genesis);
    // A clean close, then the same address again: nothing held against it.
    c.finish();
    c.expect_eof();
    drop(z);
    n.assert_not_banned(ip);
    n.assert_served();
}

#[test]
fn wrong_chain_and_wrong_version_are_refused_without_a_ban() {
    let _g = shared();
    let n = start(NodeLimits::default());
    let ip = fresh_ip();
    for role in [Role::Client, Role::Forger, Role::MainNode] {
        let mut c = Raw::connect_from(ip, n.addr());
        let theirs = c.read_hello();
        let key = goodwill::runtime::os::new_keypair();
        c.send(&Message::Hello(Box::new(client_hello(
            &key,
            Hash([0x5a; 32]),
            role,
            theirs.tip,
        ))));
        c.expect_close(ErrorCode::WrongChain);
    }
    // Only a client may say "any chain" with the zero id.
    let mut c = Raw::connect_from(ip, n.addr());
    let theirs = c.read_hello();
    c.send(&Message::Hello(Box::new(client_hello(
        &goodwill::runtime::os::new_keypair(),
        Hash::ZERO,
        Role::Forger,
        theirs.tip,
    ))));
    c.expect_close(ErrorCode::WrongChain);
    // Another protocol version.
    let mut c = Raw::connect_from(ip, n.addr());
    let theirs = c.read_hello();
    let mut h = client_hello(
        &goodwill::runtime::os::new_keypair(),
        n.chain_id(),
        Role::Client,
        theirs.tip,
    );
    h.version = PROTOCOL_VERSION + 1;
    c.send(&Message::Hello(Box::new(h)));
    c.expect_close(ErrorCode::Version);
    // Being on another chain is no misbehaviour: the address is not banned.
    n.assert_not_banned(ip);
    n.assert_served();
}

#[test]
fn bad_signature_in_auth_is_refused_and_banned() {
    let _g = shared();
    let n = start(NodeLimits::default());
    // (what, sign(key, our hello, the node's hello))
    type Forge = fn(&Keypair, &Hello, &Hello) -> Signature;
    let cases: [(&str, Forge); 4] = [
        ("garbage", |_, _, _| Signature([0x42; 64])),
        ("another key", |_, ours, theirs| {
            sign_auth(&goodwill::runtime::os::new_keypair(), ours, &theirs.nonce)
        }),
        ("our own nonce", |key, ours, _| {
            sign_auth(key, ours, &ours.nonce)
        }),
        ("another hello", |key, ours, theirs| {
            let mut other = ours.clone();
            other.clock_ms += 1;
            sign_auth(key, &other, &theirs.nonce)
        }),
    ];
    for (what, sign) in cases {
        let ip = fresh_ip();
        let mut c = Raw::connect_from(ip, n.addr());
        let key = goodwill::runtime::os::new_keypair();
        let theirs = c.read_hello();
        let ours = client_hello(&key, n.chain_id(), Role::Client, theirs.tip);
        c.send(&Message::Hello(Box::new(ours.clone())));
        let Message::Auth { .. } = c.read_msg() else {
            panic!("{what}: expected Auth")
        };
        c.send(&Message::Auth {
            signature: sign(&key, &ours, &theirs),
        });
        c.expect_close(ErrorCode::BadSignature);
        n.assert_banned(ip);
        n.assert_served();
    }
}

#[test]
fn replayed_handshake_is_refused() {
    let _g = shared();
    let n = start(NodeLimits::default());
    // A valid client's Hello and Auth, recorded.
    let mut honest = Raw::connect_from(fresh_ip(), n.addr());
    honest.handshake(n.chain_id(), Role::Forger);
    let recorded = honest.sent.clone();
    assert!(parse(&recorded, 1024).unwrap().is_some());
    drop(honest);
    // Replayed on a new connection: the node's nonce is fresh, so the
    // recorded signature is over the wrong nonce.
    let ip = fresh_ip();
    let mut replay = Raw::connect_from(ip, n.addr());
    replay.read_hello();
    replay.send_bytes(&recorded);
    let Message::Auth { .. } = replay.read_msg() else {
        panic!("expected the node's Auth")
    };
    replay.expect_close(ErrorCode::BadSignature);
    n.assert_banned(ip);
    n.assert_served();
}

/// Oversize length prefixes, 50 before and 50 after the handshake: each is
/// refused before the body is read, and the node's memory does not grow by
/// what they announce.
#[test]
fn oversize_length_prefix_is_refused_without_allocating() {
    let _g = exclusive();
    let n = start(NodeLimits::default());
    let prefixes: [u32; 5] = [
        0xFFFF_FFF0,
        u32::MAX,
        0x8000_0000,
        256 << 20,
        64 << 20, // well over every limit, and still a plausible length
    ];
    // Warm up (first connections, first handshake) before measuring.
    n.assert_served();
    n.assert_served();
    let rss0 = rss_bytes();
    // Before the handshake: the limit is HANDSHAKE_FRAME.
    for i in 0..50 {
        let ip = fresh_ip();
        let mut c = Raw::connect_from(ip, n.addr());
        c.read_hello();
        c.send_bytes(&prefixes[i % prefixes.len()].to_le_bytes());
        c.expect_close(ErrorCode::Malformed);
        if i == 0 {
            n.assert_banned(ip);
        }
    }
    n.assert_served();
    let rss1 = rss_bytes();
    // After the handshake: the limit is the role's frame limit.
    for i in 0..50 {
        let ip = fresh_ip();
        let mut c = Raw::connect_from(ip, n.addr());
        let role = if i % 2 == 0 {
            Role::Client
        } else {
            Role::Forger
        };
        c.handshake(n.chain_id(), role);
        c.send_bytes(&prefixes[i % prefixes.len()].to_le_bytes());
        c.expect_close(ErrorCode::Malformed);
        if i == 0 {
            n.assert_banned(ip);
        }
    }
    n.assert_served();
    let rss2 = rss_bytes();
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "VmRSS: {:.1} MiB before, {:.1} MiB after 50 prefixes before the handshake, \
         {:.1} MiB after 50 more after it (growth {:+.1} MiB)",
        mib(rss0),
        mib(rss1),
        mib(rss2),
        mib(rss2) - mib(rss0)
    );
    assert!(
        rss2.saturating_sub(rss0) < 16 << 20,
        "the node's memory grew by {:.1} MiB",
        mib(rss2.saturating_sub(rss0))
    );
    // Just over the limit is refused as well; just under is waited for.
    let mut c = Raw::connect_from(fresh_ip(), n.addr());
    c.read_hello();
    c.send_bytes(&(limits::HANDSHAKE_FRAME + 1).to_le_bytes());
    c.expect_close(ErrorCode::Malformed);
    let mut c = Raw::connect_from(fresh_ip(), n.addr());
    c.handshake(n.chain_id(), Role::Client);
    c.send_bytes(&(limits::CLIENT_FRAME + 1).to_le_bytes());
    c.expect_close(ErrorCode::Malformed);
    n.assert_served();
}

#[test]
fn truncated_frame_then_close_leaves_the_node_healthy() {
    let _g = shared();
    let n = start(NodeLimits::default());
    // Before the handshake: a length of 100, 10 bytes, then our side closes.
    let ip = fresh_ip();
    let mut c = Raw::connect_from(ip, n.addr());
    c.read_hello();
    c.send_bytes(&100u32.to_le_bytes());
    c.send_bytes(&[0u8; 10]);
    c.finish();
    c.expect_quiet_close();
    // Half a length prefix.
    let mut c = Raw::connect_from(ip, n.addr());
    c.read_hello();
    c.send_bytes(&[100, 0]);
    c.finish();
    c.expect_quiet_close();
    // After the handshake: the same. A connection cut in the middle of a
    // frame is a network failure as much as a fault: no ban.
    let mut c = Raw::connect_from(ip, n.addr());
    c.handshake(n.chain_id(), Role::Client);
    let frame = encode_frame(&Message::Query {
        id: 1,
        query: Query::Tip,
    });
    c.send_bytes(&frame[..frame.len() - 1]);
    c.finish();
    c.expect_eof();
    // Cut and closed outright (no half-close), several times.
    for _ in 0..5 {
        let mut c = Raw::connect_from(ip, n.addr());
        c.handshake(n.chain_id(), Role::Client);
        c.send_bytes(&100u32.to_le_bytes());
        c.send_bytes(&[1u8; 10]);
        drop(c);
    }
    n.assert_not_banned(ip);
    n.assert_served();
}

#[test]
fn garbage_instead_of_a_hello_is_refused_and_banned() {
    let _g = shared();
    let n = start(NodeLimits::default());
    // Fixed pseudo-random bytes (xorshift), so a failure reproduces.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut noise = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    };
    // A frame of the right size whose body is noise.
    let body = noise(200);
    assert!(codec::decode::<Message>("m", &body, 1024).is_err());
    let mut framed = (body.len() as u32).to_le_bytes().to_vec();
    framed.extend_from_slice(&body);
    // A frame whose body is a valid Hello with bytes after it.
    let mut trailing = encode_frame(&Message::Hello(Box::new(client_hello(
        &goodwill::runtime::os::new_keypair(),
        n.chain_id(),
        Role::Client,
        n.genesis,
    ))));
    trailing.push(0);
    let len = u32::from_le_bytes(trailing[..4].try_into().unwrap()) + 1;
    trailing[..4].copy_from_slice(&len.to_le_bytes());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("noise", noise(64)),
        (
            "an HTTP request",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        ("a frame of noise", framed),
        ("a Hello with a trailing byte", trailing),
        ("an empty frame", vec![0, 0, 0, 0]),
    ];
    for (what, bytes) in cases {
        let ip = fresh_ip();
        let mut c = Raw::connect_from(ip, n.addr());
        c.read_hello();
        c.send_bytes(&bytes);
        println!("{what}");
        c.expect_close(ErrorCode::Malformed);
        n.assert_banned(ip);
        n.assert_served();
    }
}

#[test]
fn out_of_turn_messages_are_refused_and_banned() {
    let _g = shared();
    let n = start(NodeLimits::default());
    let tip = Message::Tip(n.genesis);
    // Before the handshake: anything but a Hello, then anything but an Auth.
    for first in [
        Message::Query {
            id: 1,
            query: Query::Tip,
        },
        Message::Auth {
            signature: Signature([1; 64]),
        },
        Message::GetPeers,
    ] {
        let ip = fresh_ip();
        let mut c = Raw::connect_from(ip, n.addr());
        c.read_hello();
        c.send(&first);
        c.expect_close(ErrorCode::OutOfTurn);
        n.assert_banned(ip);
    }
    let ip = fresh_ip();
    let mut c = Raw::connect_from(ip, n.addr());
    let theirs = c.read_hello();
    let ours = client_hello(
        &goodwill::runtime::os::new_keypair(),
        n.chain_id(),
        Role::Client,
        theirs.tip,
    );
    c.send(&Message::Hello(Box::new(ours.clone())));
    c.read_msg();
    c.send(&Message::Hello(Box::new(ours)));
    c.expect_close(ErrorCode::OutOfTurn);
    n.assert_banned(ip);
    // After the handshake, as a client: a second Hello, and messages only a
    // node or a forger may send.
    let after: Vec<Message> = vec![
        Message::Hello(Box::new(client_hello(
            &goodwill::runtime::os::new_keypair(),
            n.chain_id(),
            Role::Client,
            n.genesis,
        ))),
        Message::Auth {
            signature: Signature([1; 64]),
        },
        Message::Answer {
            id: 1,
            answer: Box::new(Answer::Tip(n.genesis)),
        },
        Message::Blocks {
            id: 1,
            blocks: vec![],
        },
        tip,
        Message::NewTx(
            n.net
                .transfer(&n.net.users[0], 0, n.net.users[1].public(), 1),
        ),
        Message::TxResult {
            id: 1,
            verdict: goodwill::wire::TxVerdict::Accepted,
        },
    ];
    for msg in after {
        let ip = fresh_ip();
        let mut c = Raw::connect_from(ip, n.addr());
        c.handshake(n.chain_id(), Role::Client);
        c.send(&msg);
        println!("{}", msg.name());
        c.expect_close(ErrorCode::OutOfTurn);
        n.assert_banned(ip);
        n.assert_served();
    }
}

#[test]
fn flooding_is_cut_off_and_banned() {
    let _g = shared();
    let rate = 20;
    let n = start(NodeLimits {
        max_msgs_per_s: rate,
        ..NodeLimits::default()
    });
    let allowed = rate as usize * 10;
    let ip = fresh_ip();
    let mut c = Raw::connect_from(ip, n.addr());
    c.handshake(n.chain_id(), Role::Client);
    // Up to the limit, every message is answered.
    let burst: Vec<u8> = (0..allowed)
        .flat_map(|_| encode_frame(&Message::GetPeers))
        .collect();
    c.send_bytes(&burst);
    for i in 0..allowed {
        match c.read_msg() {
            Message::Peers(_) => {}
            other => panic!("message {i}: expected Peers, got {other:?}"),
        }
    }
    // One more within the 10 s window: cut off.
    c.send(&Message::GetPeers);
    match c.read_msg() {
        Message::Error { code, .. } => assert_eq!(code, ErrorCode::Misbehaving),
        other => panic!("expected an Error, got {other:?}"),
    }
    c.expect_eof();
    n.assert_banned(ip);
    n.assert_served();
}

/// Every client that leaves frees its place: more clients in a row than the
/// per-address limit allows at once are all served.
#[test]
fn many_clients_in_a_row_are_all_served() {
    let _g = shared();
    let per_ip = 8;
    let n = start(NodeLimits {
        max_per_ip: per_ip,
        ..NodeLimits::default()
    });
    for _ in 0..per_ip * 3 {
        n.assert_served();
    }
    // Raw clients that close cleanly, and some that vanish after the Hello.
    let ip = fresh_ip();
    for i in 0..per_ip * 3 {
        let mut c = Raw::connect_from(ip, n.addr());
        if i % 2 == 0 {
            c.handshake(n.chain_id(), Role::Client);
            assert_eq!(c.query_tip(), n.genesis);
            c.finish();
            c.expect_eof();
        } else {
            c.read_hello();
            c.finish();
            c.expect_quiet_close();
        }
    }
    n.assert_not_banned(ip);
    // One address holding its limit open: the next is refused as Busy
    // before any Hello, without a ban, while everybody else is served.
    // (The node frees a closed connection's place just after its last
    // byte: a refusal while filling up means one is not freed yet.)
    let mut held: Vec<Raw> = Vec::new();
    for _ in 0..100 {
        if held.len() == per_ip {
            break;
        }
        let mut c = Raw::connect_from(ip, n.addr());
        match c.read_msg() {
            Message::Hello(theirs) => {
                c.handshake_after(*theirs, n.chain_id(), Role::Client);
                held.push(c);
            }
            Message::Error {
                code: ErrorCode::Busy,
                ..
            } => std::thread::sleep(Duration::from_millis(20)),
            other => panic!("expected Hello or Busy, got {other:?}"),
        }
    }
    assert_eq!(held.len(), per_ip);
    let mut extra = Raw::connect_from(ip, n.addr());
    extra.expect_close(ErrorCode::Busy);
    n.assert_served();
    for mut c in held {
        c.finish();
        c.expect_eof();
    }
    n.assert_not_banned(ip);
}

/// A connection that never says Hello is closed after the handshake timeout
/// (10 s), without a ban.
#[test]
#[ignore = "slow: waits for the 10 s handshake timeout"]
fn slow_silent_connection_times_out() {
    let _g = shared();
    let n = start(NodeLimits::default());
    let ip = fresh_ip();
    let mut c = Raw::connect_from(ip, n.addr());
    c.read_hello();
    c.s.set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let t0 = goodwill::runtime::os::now_ms();
    c.expect_eof();
    let waited = goodwill::runtime::os::now_ms() - t0;
    println!("closed after {waited} ms");
    assert!(
        (9_000..14_000).contains(&waited),
        "closed after {waited} ms"
    );
    n.assert_not_banned(ip);
    n.assert_served();
}

#[test]
fn a_client_sending_invalid_equivocation_reports_is_struck_and_banned() {
    use goodwill::chain::block::{Header, VERSION};
    use goodwill::chain::tx::{Transaction, TxKind};
    use goodwill::wire::TxVerdict;
    let _g = shared();
    let n = start(NodeLimits::default());
    let reporter = &n.net.users[0];
    // "Evidence" of two headers by two forgers: each costs the node three
    // signature checks, and is wrong whatever the state.
    let header = |k: &Keypair| {
        Header {
            version: VERSION,
            chain_id: n.chain_id(),
            height: 1,
            slot: 1,
            parent: Hash([1; 32]),
            tx_root: Hash([2; 32]),
            state_digest: Hash([3; 32]),
            forger: k.public(),
            vrf: goodwill::chain::crypto::VrfProof([4; 80]),
        }
        .sign(k)
    };
    let report = |i: u8| {
        Transaction {
            chain_id: n.chain_id(),
            sender: reporter.public(),
            nonce: 0,
            fee: n.net.params.genesis().min_fee,
            kind: TxKind::ReportEquivocation {
                header_a: Box::new(header(&n.net.forgers[0])),
                header_b: Box::new(header(&n.net.forgers[1])),
            },
            memo: Bytes::new(vec![i]).unwrap(),
        }
        .sign(reporter)
    };
    // A client's ordinary refused transaction costs it nothing (it may not
    // know the state): many in a row, still served.
    let ip = fresh_ip();
    let mut c = Raw::connect_from(ip, n.addr());
    c.handshake(n.chain_id(), Role::Client);
    for i in 0..30u32 {
        let broke = n
            .net
            .transfer(reporter, 0, n.net.users[1].public(), u64::MAX / 2);
        c.send(&Message::SubmitTx { id: i, tx: broke });
        assert!(matches!(
            c.read_msg(),
            Message::TxResult {
                verdict: TxVerdict::Rejected(_),
                ..
            }
        ));
    }
    // Invalid reports: struck, then banned.
    let mut closed = false;
    for i in 0..20u8 {
        c.send(&Message::SubmitTx {
            id: 100 + i as u32,
            tx: report(i),
        });
        match c.read_msg() {
            Message::TxResult {
                verdict: TxVerdict::Rejected(why),
                ..
            } => assert!(why.contains("two forgers"), "{why}"),
            Message::Error { code, .. } => {
                assert_eq!(code, ErrorCode::Misbehaving);
                // 20 strikes are allowed, three each: the seventh is one too many.
                assert_eq!(i, 6, "banned after {} reports", i + 1);
                closed = true;
                break;
            }
            other => panic!("unexpected {}", other.name()),
        }
    }
    assert!(closed, "twenty invalid reports and still connected");
    n.assert_banned(ip);
    n.assert_served();
}

// ------------------------------------------------ a node as its own process

/// `goodwill node` as a child process on a fresh chain (slots of 1 s):
/// its address and pid; the process is killed when `procs` drops.
fn node_process(dir: &std::path::Path, procs: &mut common::Procs) -> (SocketAddr, u32) {
    let forger = common::keygen(dir, "forger", 15_000);
    let genesis = dir
        .join("genesis.toml")
        .to_str()
        .expect("utf-8")
        .to_string();
    common::NewGenesis {
        out: &genesis,
        chain_name: None,
        forgers: vec![&forger.addr],
        funds: vec![],
        slot_ms: 1_000,
        epoch_slots: 10,
        finality_depth: None,
    }
    .write(15_000);
    let addr = common::free_addr();
    let data = dir.join("node");
    let args = common::node_args(data.to_str().expect("utf-8"), &genesis, &addr.to_string());
    let i = procs.start("node", &common::strs(&args));
    common::wait_for(15_000, "the node listens", || {
        smol::block_on(Client::connect(&addr.to_string())).ok()
    });
    (addr, procs.pid(i))
}

/// A process's peak and current resident memory (VmHWM, VmRSS), bytes.
fn memory_of(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} line in kB"))
            * 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// `goodwill status` against `addr` succeeds.
fn cli_status_ok(addr: SocketAddr) -> bool {
    common::run(&["status", "--node", &addr.to_string()], 15_000).code == Some(0)
}

/// Slowloris: 500 idle connections from 10 source addresses (50 each, under
/// the per-address cap) against a 256-connection node. The oldest untrusted
/// connections make room for newcomers, so a normal `goodwill status` is
/// still answered.
#[test]
fn idle_connections_from_many_sources_do_not_lock_out_a_status_query() {
    let _g = shared();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut procs = common::Procs::new(dir.path(), Duration::from_millis(20));
    let (addr, _) = node_process(dir.path(), &mut procs);
    let sources: Vec<Ipv4Addr> = (0..10).map(|_| fresh_ip()).collect();
    let mut idle = Vec::new();
    for i in 0..500 {
        idle.push(Raw::connect_from(sources[i % sources.len()], addr));
    }
    let mut ok = 0;
    for _ in 0..5 {
        if cli_status_ok(addr) {
            ok += 1;
        }
    }
    println!("goodwill status answered {ok} of 5 times with 500 idle connections open");
    assert_eq!(ok, 5, "{}", procs.logs(20));
    drop(idle);
}

/// Remote memory growth: 250 sessions with fresh keys claiming to be forgers
/// each announce a block-sized frame and send all of it but one byte; then
/// 100 sessions claiming to be main nodes do the same. A forger whose key
/// forges nothing may not send frames that large (refused at the length);
/// the main-node frames are bounded by the node's frame budget. The node
/// process's peak memory stays under 64 MiB.
#[test]
fn half_sent_large_frames_do_not_grow_the_nodes_memory() {
    let _g = shared();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut procs = common::Procs::new(dir.path(), Duration::from_millis(20));
    let (addr, pid) = node_process(dir.path(), &mut procs);
    let (hwm0, rss0) = memory_of(pid);
    // The default chain's block limit (2 MiB) plus the block overhead.
    let len: u32 = 2_160_000;
    let body = vec![0u8; len as usize - 1];
    let mut held = Vec::new();
    let mut attack = |role: Role, sessions: usize, per_ip: usize| {
        let mut ip = fresh_ip();
        for i in 0..sessions {
            if i % per_ip == 0 {
                ip = fresh_ip();
            }
            let mut c = Raw::connect_from(ip, addr);
            let theirs = c.read_hello();
            let chain = theirs.chain_id;
            c.handshake_after(theirs, chain, role);
            c.s.write_all(&len.to_le_bytes()).expect("send the length");
            // The node may refuse at the length, or once its budget is
            // spent: a failed write is that refusal.
            let _ = c.s.write_all(&body);
            held.push(c);
        }
    };
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    // The goal is a native node's: its peak under 64 MiB (it starts near
    // 14 MiB). Under an emulator (GOODWILL_TEST_RUNNER) the process's RSS
    // also holds the emulator's own, ~30 MiB more before any attack, so
    // there the same growth is allowed above where it started.
    let limit = if std::env::var_os(common::RUNNER_VAR).is_some() {
        hwm0 + (50 << 20)
    } else {
        64 << 20
    };
    attack(Role::Forger, 250, 1);
    let (hwm1, rss1) = memory_of(pid);
    println!(
        "node process VmRSS {:.1} MiB before (peak {:.1}), {:.1} MiB after 250 forger sessions (peak {:.1})",
        mib(rss0),
        mib(hwm0),
        mib(rss1),
        mib(hwm1)
    );
    assert!(
        hwm1 < limit,
        "peak {:.1} MiB (limit {:.1})",
        mib(hwm1),
        mib(limit)
    );
    attack(Role::MainNode, 100, 20);
    let (hwm2, rss2) = memory_of(pid);
    println!(
        "node process VmRSS {:.1} MiB before (peak {:.1}), {:.1} MiB after 250 forger sessions (peak {:.1}), \
         {:.1} MiB after 100 main-node sessions (peak {:.1}); each announced {len} bytes and sent all but one",
        mib(rss0),
        mib(hwm0),
        mib(rss1),
        mib(hwm1),
        mib(rss2),
        mib(hwm2)
    );
    assert!(
        hwm2 < limit,
        "peak {:.1} MiB (limit {:.1})",
        mib(hwm2),
        mib(limit)
    );
    assert!(cli_status_ok(addr), "{}", procs.logs(20));
    drop(held);
}

/// Liveness: a session that stays silent gets a Ping after 15 s and is
/// closed after 45 s (a peer that lost power sends no FIN), without a ban;
/// one that answers the Ping stays.
#[test]
#[ignore = "slow: waits for the 45 s silence limit"]
fn a_silent_session_is_pinged_then_closed() {
    let _g = shared();
    let n = start(NodeLimits::default());
    let ip = fresh_ip();
    let mut silent = Raw::connect_from(ip, n.addr());
    silent.handshake(n.chain_id(), Role::Client);
    let mut alive = Raw::connect_from(fresh_ip(), n.addr());
    alive.handshake(n.chain_id(), Role::Client);
    for c in [&mut silent, &mut alive] {
        c.s.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
    }
    let t0 = goodwill::runtime::os::now_ms();
    match silent.read_msg() {
        Message::Ping(_) => {}
        other => panic!("expected a Ping, got {other:?}"),
    }
    let pinged = goodwill::runtime::os::now_ms() - t0;
    match alive.read_msg() {
        Message::Ping(k) => alive.send(&Message::Pong(k)),
        other => panic!("expected a Ping, got {other:?}"),
    }
    silent.expect_quiet_close();
    let closed = goodwill::runtime::os::now_ms() - t0;
    println!("pinged after {pinged} ms, closed after {closed} ms of silence");
    assert!(
        (14_000..17_000).contains(&pinged),
        "pinged after {pinged} ms"
    );
    assert!(
        (43_000..48_000).contains(&closed),
        "closed after {closed} ms"
    );
    // The one that answered is still served (answering Pings meanwhile).
    alive.send(&Message::Query {
        id: 78,
        query: Query::Tip,
    });
    let mut answered = false;
    for _ in 0..4 {
        match alive.read_msg() {
            Message::Ping(k) => alive.send(&Message::Pong(k)),
            Message::Answer { id: 78, .. } => {
                answered = true;
                break;
            }
            other => panic!("expected Answer 78, got {other:?}"),
        }
    }
    assert!(answered, "the session that answered its Ping was closed");
    n.assert_not_banned(ip);
}
