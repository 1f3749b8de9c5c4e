//! The main node's decisions: what to accept, relay, ask for and answer.
//! Events come in (a peer connected, a message arrived, a peer left, a
//! tick); actions go out (send, close, ban, dial). No socket and no clock
//! here: the runtime (`runtime::node::serve`, its core thread in `run_core`)
//! does the I/O and passes the time in.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use log::Level;

use crate::chain::block::{Block, SignedHeader};
use crate::chain::codec::Bytes;
use crate::chain::crypto::{Hash, PublicKey};
use crate::chain::genesis::ChainParams;
use crate::chain::tx::{SignedTransaction, Transaction, TxKind};
use crate::ledger;
use crate::ledger::fork;
use crate::ledger::mempool::{Admitted, Mempool, MempoolError, MempoolLimits};
use crate::ledger::schedule;
use crate::ledger::state::StateReadExt;
use crate::peer::forging::{self as fstate, ClockCheck, ForgeStats, Miss};
use crate::peer::policy::{self, ClaimTrust, CLAIM_PROOF_MS};
use crate::store::SigningError;
use crate::store::{touched, ImportError, Imported, Store, StoreError};
use crate::wire::handshake::ClockSample;
use crate::wire::{
    limits, Answer, ErrorCode, ForgerEntry, Hello, Message, NodeStatus, Query, Role, TipInfo,
    TxEvent, TxVerdict,
};

/// A connection's number, unique for the node's lifetime.
pub type ConnId = u64;

/// Blocks asked for in one sync request.
pub const SYNC_BATCH: u32 = 128;
/// Invalid transactions or blocks a connection may send before it is banned
/// (an invalid block counts as [`BLOCK_STRIKE`]).
pub const STRIKE_ALLOWANCE: u32 = 20;
/// What an invalid block counts for.
pub const BLOCK_STRIKE: u32 = 10;
/// What invalid equivocation evidence costs a connection, clients included:
/// checking a report takes three signature checks (the transaction's and
/// the two headers'), and evidence is wrong in itself, whatever the state.
pub const REPORT_STRIKE: u32 = 3;
/// How long a misbehaving address stays banned.
pub const BAN_MS: u64 = 60_000;
/// Main-node addresses remembered (learned from peers).
pub const MAX_KNOWN_PEERS: usize = 256;
/// Forger table entries; when full, the longest-silent disconnected one goes.
pub const MAX_FORGERS: usize = 4096;
/// Events replayed for one subscription.
pub const MAX_REPLAY: usize = 1000;
/// A sync request unanswered this long is given up.
pub const SYNC_TIMEOUT_MS: u64 = 15_000;
/// Block headers remembered by (slot, forger), to catch a forger signing
/// two blocks for one slot; the lowest slots are forgotten first.
pub const MAX_HEADERS_SEEN: usize = 1024;
/// Equivocations held until their report lands on chain.
pub const MAX_EVIDENCE: usize = 64;
/// Blocks held because they came a little before their slot started on
/// this node's clock.
pub const MAX_EARLY: usize = 32;
/// When a second session with a forger's key arrives, the first is sent a
/// Ping; if its Pong does not come within this long, the first is taken
/// for dead (a board that lost power sends no FIN) and the new session
/// replaces it. If it does, both are refused as doppelgangers.
pub const PROBE_MS: u64 = 2_000;
/// A forger refused as a doppelganger keeps redialling for this long after
/// the first refusal before it stops (exit status 3): a rebooted board
/// whose old session a main node still holds gets in once that session is
/// found dead; two live boards keep being refused.
pub const DOPPELGANGER_RETRY_MS: u64 = 120_000;
/// A forger forges only once a session with a main node has lasted this
/// long: the main node may still be probing an older session with its key
/// ([`PROBE_MS`], settled on its 1 s tick), and two boards must not both
/// sign while it does.
pub const SESSION_SETTLE_MS: u64 = PROBE_MS + 2_000;
/// After a doppelganger refusal a forger does not forge for this long.
pub const DOPPELGANGER_HOLD_MS: u64 = 15_000;
/// A refusal this long after the last one starts a new retry period.
pub const DOPPELGANGER_FORGET_MS: u64 = 600_000;

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send a message on a connection.
    Send(ConnId, Message),
    /// Send this error and close the connection.
    Close(ConnId, Message),
    /// Refuse connections from this address until the given time (ms).
    Ban(IpAddr, u64),
    /// Dial this main node (if not already connected or dialing).
    Dial(String),
    /// A line for the log, at its level (the runtime logs it; the
    /// simulation keeps it in its trace).
    Log(Level, String),
    /// This forger forged a block (for the runtime's figures and LEDs).
    Forged {
        /// Its slot.
        slot: u64,
        /// Its height.
        height: u64,
    },
    /// Stop the process: another session uses this forger's key.
    Doppelganger(String),
}

/// What a core is: a main node, or a forger that also follows the chain.
pub struct CoreOptions {
    /// Main node or forger.
    pub role: Role,
    /// Dial main nodes learned from peers (main nodes do; forgers keep to
    /// the ones they were given).
    pub learn_peers: bool,
    /// For a forger: its key and clock policy.
    pub forge: Option<ForgeSetup>,
    /// The key that signs equivocation reports (and earns their bounty),
    /// if its account can pay the fee: a forger's own key, a main node's
    /// node key. None: equivocations are logged, not reported.
    pub reporter: Option<crate::chain::crypto::Keypair>,
}

impl CoreOptions {
    /// A main node's (reporting nothing).
    pub fn main_node() -> CoreOptions {
        CoreOptions {
            role: Role::MainNode,
            learn_peers: true,
            forge: None,
            reporter: None,
        }
    }

    /// A forger's with `key`, which also signs equivocation reports.
    pub fn forger(key: crate::chain::crypto::Keypair, clock_check: ClockCheck) -> CoreOptions {
        CoreOptions {
            role: Role::Forger,
            learn_peers: false,
            forge: Some(ForgeSetup {
                key: key.clone(),
                clock_check,
                doppelganger_retry_ms: DOPPELGANGER_RETRY_MS,
                session_settle_ms: SESSION_SETTLE_MS,
                durable_blocks: policy::FORGER_DURABLE_BLOCKS,
                durable_every_ms: policy::FORGER_DURABLE_MS,
                keep_all_blocks: false,
                #[cfg(feature = "fault-injection")]
                after_record: None,
            }),
            reporter: Some(key),
        }
    }

    /// The same, reporting equivocations with `key`.
    pub fn reporting_with(self, key: crate::chain::crypto::Keypair) -> CoreOptions {
        CoreOptions {
            reporter: Some(key),
            ..self
        }
    }
}

/// A forger's key and clock policy.
pub struct ForgeSetup {
    /// The forging key.
    pub key: crate::chain::crypto::Keypair,
    /// How the clock is checked before forging.
    pub clock_check: ClockCheck,
    /// How long doppelganger refusals are retried before the forger stops
    /// ([`DOPPELGANGER_RETRY_MS`]; tests shorten it).
    pub doppelganger_retry_ms: u64,
    /// How long a main-node session must have lasted before this forger
    /// forges ([`SESSION_SETTLE_MS`]).
    pub session_settle_ms: u64,
    /// Every how many block commits the store makes one durable
    /// ([`policy::FORGER_DURABLE_BLOCKS`]; 1: each).
    pub durable_blocks: u64,
    /// ... and at least this often, checked at each tick
    /// ([`policy::FORGER_DURABLE_MS`]).
    pub durable_every_ms: u64,
    /// Keep every block body (`--keep-blocks all`); by default a forger's
    /// store prunes those below the finality depth ([`Store::set_pruning`]).
    pub keep_all_blocks: bool,
    /// Called after a slot is recorded in the signing record, before the
    /// block is signed: the crash test's seam (built with the
    /// `fault-injection` feature only; see `runtime::forge`).
    #[cfg(feature = "fault-injection")]
    pub after_record: Option<fn(u64)>,
}

impl CoreOptions {
    /// The same, with another doppelganger retry period (a forger's).
    pub fn doppelganger_retry_ms(mut self, ms: u64) -> CoreOptions {
        if let Some(f) = &mut self.forge {
            f.doppelganger_retry_ms = ms;
        }
        self
    }

    /// The same, with every `n`th block commit durable (a forger's; 1:
    /// each, as a main node's).
    pub fn durable_blocks(mut self, n: u64) -> CoreOptions {
        if let Some(f) = &mut self.forge {
            f.durable_blocks = n;
        }
        self
    }

    /// The same, with commits held in memory made durable at least every
    /// `ms` (a forger's).
    pub fn durable_ms(mut self, ms: u64) -> CoreOptions {
        if let Some(f) = &mut self.forge {
            f.durable_every_ms = ms;
        }
        self
    }

    /// The same, keeping every block body (a forger's; `--keep-blocks all`).
    pub fn keep_all_blocks(mut self, all: bool) -> CoreOptions {
        if let Some(f) = &mut self.forge {
            f.keep_all_blocks = all;
        }
        self
    }

    /// The same, with another settle time for main-node sessions (a
    /// forger's; the simulation, whose forger keys each have one board,
    /// sets 0 to reach a slot again right after a crash).
    pub fn session_settle_ms(mut self, ms: u64) -> CoreOptions {
        if let Some(f) = &mut self.forge {
            f.session_settle_ms = ms;
        }
        self
    }

    /// The same, calling `hook` with the slot after each slot is recorded
    /// and before its block is signed (a forger's; fault injection only).
    #[cfg(feature = "fault-injection")]
    pub fn after_record(mut self, hook: fn(u64)) -> CoreOptions {
        if let Some(f) = &mut self.forge {
            f.after_record = Some(hook);
        }
        self
    }
}

struct Forging {
    key: crate::chain::crypto::Keypair,
    clock_check: ClockCheck,
    kernel_synced: Option<bool>,
    stats: ForgeStats,
    storage_error: bool,
    retry_ms: u64,
    settle_ms: u64,
    /// (first, last) doppelganger refusal of the current retry period.
    refused: Option<(u64, u64)>,
    /// When the store's block commits were last made durable by the tick.
    durable_ms: u64,
    /// How often the tick makes them durable.
    durable_every_ms: u64,
    #[cfg(feature = "fault-injection")]
    after_record: Option<fn(u64)>,
}

/// A second session of a forger key, waiting while the first is probed.
#[derive(Debug)]
struct Probe {
    old: ConnId,
    new: ConnId,
    hello: Box<Hello>,
    ip: IpAddr,
    clock: ClockSample,
    started_ms: u64,
    nonce: u64,
}

/// What only the machine a forger runs on can measure, for its reports
/// (zeros and None where nothing was measured, as in the simulation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MachineFigures {
    /// CPU time used since start, ms.
    pub cpu_ms: u64,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// Bytes written to the disk per imported block.
    pub bytes_per_block: u64,
    /// Energy used since start, joules (the board profile's estimate).
    pub energy_joules: u64,
    /// The board's throttling flags, if it reports them.
    pub throttled: Option<u32>,
    /// The SoC temperature, millidegrees Celsius, if read.
    pub soc_temp_mc: Option<i32>,
    /// The board reports under-voltage (shown on the red LED).
    pub under_voltage: bool,
}

/// What the appliance shows: LEDs, status, metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplianceView {
    /// Following the tip with a main node connected.
    pub synced: bool,
    /// Main nodes connected.
    pub mains: usize,
    /// Median clock offset to them (this clock minus theirs), ms.
    pub clock_offset_ms: Option<i64>,
    /// `Ok` or why the clock is not trusted.
    pub clock: Result<(), fstate::ClockDistrust>,
    /// Weight held in the current epoch.
    pub weight: u64,
    /// Slots this key leads in the current epoch (after the tip).
    pub slots_led: u64,
    /// Counts.
    pub stats: ForgeStats,
    /// The store failed.
    pub storage_error: bool,
    /// The tip.
    pub tip: TipInfo,
    /// The LED state.
    pub leds: crate::peer::led::ApplianceState,
}

/// What a core holds (see [`Core::sizes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreSizes {
    /// Transactions in the mempool.
    pub mempool: usize,
    /// Connections.
    pub conns: usize,
    /// Main-node addresses learned.
    pub known_peers: usize,
    /// Forger table entries.
    pub forgers: usize,
    /// Headers remembered for equivocation checks.
    pub headers: usize,
    /// Equivocations held.
    pub evidence: usize,
    /// Early blocks held.
    pub early: usize,
}

/// A fatal failure: the node must stop. The core's only fatal failures are
/// its store's ([`NodeError::is_storage`](crate::runtime::node::NodeError::is_storage)
/// counts on it); each variant says where the store failed and carries its
/// error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Fatal {
    /// The store failed (opening a snapshot, reading an index, writing).
    #[error("fatal: {0}")]
    Store(#[from] StoreError),
    /// Reading the ledger state failed (the store under it).
    #[error("fatal: {0}")]
    StateRead(#[from] ledger::state::ReadError),
    /// Importing a block failed in the store ([`ImportError::is_fatal`]).
    #[error("fatal: {0}")]
    Import(ImportError),
    /// Building a block failed in the store ([`ledger::BlockError::is_storage`]).
    #[error("fatal: {0}")]
    BuildBlock(ledger::BlockError),
    /// Recording the slot about to be signed failed: the forger must not sign.
    #[error("fatal: {0}")]
    RecordSignature(StoreError),
}

#[derive(Debug)]
struct Conn {
    role: Role,
    /// When the session was accepted (ms).
    since_ms: u64,
    clock: ClockSample,
    key: PublicKey,
    ip: IpAddr,
    listen: Option<String>,
    /// The tip it claims (plausible claims only; see `policy::plausible_claim`).
    tip: TipInfo,
    /// Whether its claims are believed (see [`ClaimTrust`]).
    trust: ClaimTrust,
    /// Claims ignored as impossible (logged on the first and every 100th).
    ignored_claims: u64,
    strikes: u32,
    subscriptions: BTreeSet<PublicKey>,
}

#[derive(Debug)]
struct Sync {
    conn: ConnId,
    id: u32,
    asked_ms: u64,
    started_ms: u64,
    start_height: u64,
    target: u64,
    fork_search: bool,
    last_log_height: u64,
}

/// Two different headers one forger signed for one slot, and our report of
/// them (a transaction id), if one is pending.
#[derive(Debug, Clone)]
struct Evidence {
    a: SignedHeader,
    b: SignedHeader,
    report: Option<Hash>,
    /// Why it could not be reported was logged (once is enough).
    told: bool,
}

/// How many recently seen ids are remembered (a power of two, as heapless's
/// index set requires).
pub const RECENT_IDS: usize = 2048;

/// Recently seen transaction and block ids, for relaying without echo storms:
/// a fixed-capacity set (heapless — the bound is the point), the oldest
/// forgotten first. It is only the first guard: the mempool and the store
/// refuse duplicates themselves, so forgetting an old id costs at most one
/// extra relay.
struct Recent {
    set: heapless::index_set::FnvIndexSet<Hash, RECENT_IDS>,
    order: heapless::Deque<Hash, RECENT_IDS>,
}

impl std::fmt::Debug for Recent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recent({})", self.order.len())
    }
}

impl Recent {
    fn new() -> Box<Recent> {
        Box::new(Recent {
            set: heapless::index_set::FnvIndexSet::new(),
            order: heapless::Deque::new(),
        })
    }

    /// True if new.
    fn insert(&mut self, h: Hash) -> bool {
        if self.set.contains(&h) {
            return false;
        }
        if self.order.is_full() {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        // Both have room now: the deque and the set hold the same ids.
        let _ = self.order.push_back(h);
        let _ = self.set.insert(h);
        true
    }
}

/// The main node's state.
pub struct Core {
    role: Role,
    learn_peers: bool,
    forge: Option<Forging>,
    params: ChainParams,
    store: Arc<Store>,
    key: PublicKey,
    listen: Option<String>,
    started_ms: u64,
    mempool: Mempool,
    conns: BTreeMap<ConnId, Conn>,
    forgers: BTreeMap<PublicKey, ForgerEntry>,
    known_peers: BTreeSet<String>,
    sync: Option<Sync>,
    next_id: u32,
    seen: Box<Recent>,
    /// Boxed: a header is ~330 bytes, and a map's nodes hold their values
    /// inline with room for eleven, about half of it empty as slots only
    /// grow (690 KiB for the 1,024 headers inline, 430 KiB boxed).
    headers: BTreeMap<(u64, PublicKey), Box<SignedHeader>>,
    evidence: BTreeMap<PublicKey, Evidence>,
    reporter: Option<crate::chain::crypto::Keypair>,
    /// (slot start, hash) → where from, the block.
    early: BTreeMap<(u64, Hash), (ConnId, Block)>,
    /// Forger keys whose older session is being probed.
    probes: BTreeMap<PublicKey, Probe>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Core({} conns)", self.conns.len())
    }
}

fn head(t: &TipInfo) -> fork::Head {
    fork::Head {
        height: t.height,
        hash: t.hash,
    }
}

fn tip_info(t: &crate::ledger::state::Tip) -> TipInfo {
    TipInfo {
        height: t.height,
        hash: t.hash,
        slot: t.slot,
    }
}

impl Core {
    /// A node over `store`.
    pub fn new(
        store: Arc<Store>,
        key: PublicKey,
        listen: Option<String>,
        mempool: MempoolLimits,
        now_ms: u64,
        opts: CoreOptions,
    ) -> Core {
        if let Some(f) = &opts.forge {
            store.set_durable_every(f.durable_blocks);
            store.set_pruning(!f.keep_all_blocks);
        }
        Core {
            role: opts.role,
            learn_peers: opts.learn_peers,
            forge: opts.forge.map(|f| Forging {
                key: f.key,
                clock_check: f.clock_check,
                kernel_synced: None,
                stats: ForgeStats::default(),
                storage_error: false,
                retry_ms: f.doppelganger_retry_ms,
                settle_ms: f.session_settle_ms,
                #[cfg(feature = "fault-injection")]
                after_record: f.after_record,
                refused: None,
                durable_ms: now_ms,
                durable_every_ms: f.durable_every_ms,
            }),
            params: store.params().clone(),
            store,
            key,
            listen,
            started_ms: now_ms,
            mempool: Mempool::new(mempool),
            conns: BTreeMap::new(),
            forgers: BTreeMap::new(),
            known_peers: BTreeSet::new(),
            sync: None,
            next_id: 1,
            seen: Recent::new(),
            headers: BTreeMap::new(),
            evidence: BTreeMap::new(),
            reporter: opts.reporter,
            early: BTreeMap::new(),
            probes: BTreeMap::new(),
        }
    }

    /// Whether connection `conn` waits for a probe of an older session of
    /// its forger key (neither accepted nor refused yet).
    pub fn pending(&self, conn: ConnId) -> bool {
        self.probes.values().any(|p| p.new == conn)
    }

    /// Whether connection `conn` is in session (accepted and not closed).
    pub fn has_conn(&self, conn: ConnId) -> bool {
        self.conns.contains_key(&conn)
    }

    /// A forger's: whether a main node refused it as a doppelganger lately
    /// (it does not forge, and its dialers back off).
    pub fn doppelganger_held(&self, now_ms: u64) -> bool {
        self.forge.as_ref().is_some_and(|f| {
            f.refused
                .is_some_and(|(_, last)| now_ms.saturating_sub(last) < DOPPELGANGER_HOLD_MS)
        })
    }

    /// The appliance's counts (None for a main node): what it signed, forged
    /// and missed since it started.
    pub fn forge_stats(&self) -> Option<&ForgeStats> {
        self.forge.as_ref().map(|f| &f.stats)
    }

    /// What the core holds, for the bounds a simulation checks: mempool
    /// transactions, connections, known peers, forger table entries,
    /// remembered headers, held equivocations.
    pub fn sizes(&self) -> CoreSizes {
        CoreSizes {
            mempool: self.mempool.len(),
            conns: self.conns.len(),
            known_peers: self.known_peers.len(),
            forgers: self.forgers.len(),
            headers: self.headers.len(),
            evidence: self.evidence.len(),
            early: self.early.len(),
        }
    }

    /// Transactions pending.
    pub fn mempool_len(&self) -> usize {
        self.mempool.len()
    }

    fn req_id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.next_id
    }

    fn tip(&self) -> Result<TipInfo, Fatal> {
        Ok(tip_info(&self.store.tip()?))
    }

    /// A peer finished its handshake.
    pub fn connected(
        &mut self,
        conn: ConnId,
        hello: &Hello,
        ip: IpAddr,
        clock: ClockSample,
        now_ms: u64,
    ) -> Result<Vec<Action>, Fatal> {
        let mut out = Vec::new();
        if self.role == Role::Forger && hello.role != Role::MainNode && hello.role != Role::Client {
            out.push(Action::Close(
                conn,
                Message::error(ErrorCode::OutOfTurn, "a forger serves clients only"),
            ));
            return Ok(out);
        }
        if hello.key == self.key && hello.role == Role::MainNode {
            out.push(Action::Close(
                conn,
                Message::error(ErrorCode::Other, "that is this node itself"),
            ));
            return Ok(out);
        }
        if hello.role == Role::Forger {
            let twins: Vec<ConnId> = self
                .conns
                .iter()
                .filter(|(_, c)| c.role == Role::Forger && c.key == hello.key)
                .map(|(id, _)| *id)
                .collect();
            let probing = self.probes.remove(&hello.key);
            if twins.len() == 1 && probing.is_none() {
                // The first may be a dead session (a board that lost power
                // sends no FIN): ask it, and decide when it answers or not.
                let old = twins[0];
                let nonce = now_ms ^ (conn << 32) ^ 0x676f_6f64;
                out.push(Action::Send(old, Message::Ping(nonce)));
                out.push(Action::Log(Level::Warn, format!(
                    "forger {}: a second session from {ip}; probing the first (connection {old}) for {PROBE_MS} ms",
                    hello.key
                )));
                self.probes.insert(
                    hello.key,
                    Probe {
                        old,
                        new: conn,
                        hello: Box::new(hello.clone()),
                        ip,
                        clock,
                        started_ms: now_ms,
                        nonce,
                    },
                );
                return Ok(out);
            }
            if !twins.is_empty() || probing.is_some() {
                let mut all = twins;
                all.extend(probing.map(|p| p.new));
                self.refuse_doppelgangers(hello.key, all, conn, "three sessions at once", &mut out);
                return Ok(out);
            }
        }
        self.admit_session(conn, hello, ip, clock, now_ms, out)
    }

    /// Refuses every session in `twins` and `conn` as doppelgangers of `key`.
    fn refuse_doppelgangers(
        &mut self,
        key: PublicKey,
        twins: Vec<ConnId>,
        conn: ConnId,
        why: &str,
        out: &mut Vec<Action>,
    ) {
        let text = format!(
            "forger key {key} is already connected from another session that answers ({why}): two boards with one key would double-sign; stop one"
        );
        for t in twins {
            out.push(Action::Close(
                t,
                Message::error(ErrorCode::Doppelganger, &text),
            ));
            self.closed(t);
        }
        out.push(Action::Close(
            conn,
            Message::error(ErrorCode::Doppelganger, &text),
        ));
        self.closed(conn);
        out.push(Action::Log(Level::Warn, format!("doppelganger: {text}")));
    }

    /// Takes a session whose handshake is done (and whose key has no other
    /// live session).
    fn admit_session(
        &mut self,
        conn: ConnId,
        hello: &Hello,
        ip: IpAddr,
        clock: ClockSample,
        now_ms: u64,
        mut out: Vec<Action>,
    ) -> Result<Vec<Action>, Fatal> {
        if hello.role == Role::Forger {
            self.forger_entry(hello.key).connected = true;
        }
        let listen = hello.listen.as_ref().map(|l| l.lossy());
        if hello.role == Role::MainNode {
            if let Some(l) = &listen {
                // A main node that connects registers its listen address.
                if self.known_peers.len() < MAX_KNOWN_PEERS {
                    self.known_peers.insert(l.clone());
                }
            }
            if self.learn_peers {
                out.push(Action::Send(conn, Message::GetPeers));
            }
        }
        // A claimed tip from the future (or with more blocks than slots) is
        // ignored: the peer is taken to claim nothing until it says better.
        let tip = match policy::plausible_claim(&self.params, &hello.tip, now_ms) {
            Ok(()) => hello.tip,
            Err(why) => {
                out.push(Action::Log(
                    Level::Warn,
                    format!("connection {conn}: ignoring its {why}"),
                ));
                TipInfo {
                    height: 0,
                    hash: self.params.chain_id(),
                    slot: 0,
                }
            }
        };
        self.conns.insert(
            conn,
            Conn {
                role: hello.role,
                since_ms: now_ms,
                clock,
                key: hello.key,
                ip,
                listen,
                tip,
                trust: ClaimTrust::default(),
                ignored_claims: 0,
                strikes: 0,
                subscriptions: BTreeSet::new(),
            },
        );
        if hello.role != Role::Client {
            // Bring the newcomer's mempool up to date.
            for tx in self.mempool.all().take(1_000) {
                out.push(Action::Send(conn, Message::NewTx(tx.clone())));
            }
        }
        self.maybe_sync(conn, now_ms, &mut out)?;
        Ok(out)
    }

    /// The forger table's entry for `key`, made room for if new.
    fn forger_entry(&mut self, key: PublicKey) -> &mut ForgerEntry {
        if !self.forgers.contains_key(&key) && self.forgers.len() >= MAX_FORGERS {
            let oldest = self
                .forgers
                .values()
                .filter(|e| !e.connected)
                .min_by_key(|e| e.reported_ms)
                .map(|e| e.key);
            if let Some(k) = oldest {
                self.forgers.remove(&k);
            }
        }
        self.forgers.entry(key).or_insert_with(|| ForgerEntry {
            key,
            connected: true,
            reported_ms: 0,
            status: Default::default(),
        })
    }

    /// A connection closed.
    pub fn closed(&mut self, conn: ConnId) {
        self.probes.retain(|_, p| p.new != conn);
        if let Some(c) = self.conns.remove(&conn) {
            if c.role == Role::Forger {
                if let Some(e) = self.forgers.get_mut(&c.key) {
                    if !self
                        .conns
                        .values()
                        .any(|o| o.role == Role::Forger && o.key == c.key)
                    {
                        e.connected = false;
                    }
                }
            }
        }
        if self.sync.as_ref().is_some_and(|s| s.conn == conn) {
            self.sync = None;
        }
    }

    /// Time passes: give up stalled sync requests and try another peer;
    /// report again any equivocation whose report went missing.
    pub fn tick(&mut self, now_ms: u64) -> Result<Vec<Action>, Fatal> {
        let mut out = Vec::new();
        if self
            .forge
            .as_ref()
            .is_some_and(|f| now_ms.saturating_sub(f.durable_ms) >= f.durable_every_ms)
        {
            self.make_forger_durable(now_ms)?;
        }
        self.release_early(now_ms, &mut out)?;
        self.settle_probes(now_ms, &mut out)?;
        self.report_equivocations(now_ms, &mut out)?;
        if let Some(s) = &self.sync {
            if now_ms.saturating_sub(s.asked_ms) > SYNC_TIMEOUT_MS {
                out.push(Action::Log(Level::Warn, format!(
                    "sync: no answer from connection {} in {} s; its claims are not believed for {} s; trying again",
                    s.conn,
                    SYNC_TIMEOUT_MS / 1000,
                    policy::UNTRUSTED_CLAIM_MS / 1000
                )));
                if let Some(c) = self.conns.get_mut(&s.conn) {
                    c.trust.failed(now_ms);
                }
                self.sync = None;
            }
        }
        if self.sync.is_none() {
            let best = self
                .conns
                .iter()
                .filter(|(_, c)| c.role != Role::Client && c.trust.trusted(now_ms))
                .max_by(|(_, a), (_, b)| fork::compare(&head(&a.tip), &head(&b.tip)))
                .map(|(id, _)| *id);
            if let Some(id) = best {
                self.maybe_sync(id, now_ms, &mut out)?;
            }
        }
        Ok(out)
    }

    /// Probes whose older session did not answer in time, or has closed:
    /// the older one is dropped and the newer one takes its place.
    fn settle_probes(&mut self, now_ms: u64, out: &mut Vec<Action>) -> Result<(), Fatal> {
        let due: Vec<PublicKey> = self
            .probes
            .iter()
            .filter(|(_, p)| {
                now_ms.saturating_sub(p.started_ms) >= PROBE_MS || !self.conns.contains_key(&p.old)
            })
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let Some(p) = self.probes.remove(&key) else {
                continue;
            };
            if self.conns.contains_key(&p.old) {
                out.push(Action::Close(
                    p.old,
                    Message::error(
                        ErrorCode::Other,
                        "replaced: a new session with this forger key arrived and this one did not answer a ping",
                    ),
                ));
                self.closed(p.old);
                out.push(Action::Log(Level::Info, format!(
                    "forger {key}: the earlier session (connection {}) did not answer a ping within {PROBE_MS} ms: dropped as dead; the new one from {} replaces it",
                    p.old, p.ip
                )));
            }
            let actions = self.admit_session(p.new, &p.hello, p.ip, p.clock, now_ms, Vec::new())?;
            out.extend(actions);
        }
        Ok(())
    }

    /// The lowest height connection `conn` is sure to serve a block at
    /// ([`policy::serves_from`]).
    fn kept_from(&self, conn: ConnId) -> u64 {
        self.conns.get(&conn).map_or(1, |c| {
            policy::serves_from(c.role, c.tip.height, self.params.genesis().finality_depth)
        })
    }

    fn maybe_sync(
        &mut self,
        conn: ConnId,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) -> Result<(), Fatal> {
        if self.sync.is_some() {
            return Ok(());
        }
        let Some(c) = self.conns.get(&conn) else {
            return Ok(());
        };
        if c.role == Role::Client || !c.trust.trusted(now_ms) {
            return Ok(());
        }
        let tip = self.tip()?;
        // Only a longer chain is worth fetching: at equal height the tip
        // seen first stays (see `fork`).
        if fork::compare(&head(&c.tip), &head(&tip)) != std::cmp::Ordering::Greater {
            return Ok(());
        }
        let target = c.tip.height;
        let from = tip.height + 1;
        if from < self.kept_from(conn) {
            // A forger keeps only the newest blocks: a main node serves
            // this gap (see docs/protocol.md, "Syncing").
            return Ok(());
        }
        let name = c
            .listen
            .clone()
            .unwrap_or_else(|| c.role.name().to_string());
        let id = self.req_id();
        out.push(Action::Send(
            conn,
            Message::GetBlocks {
                id,
                from,
                count: SYNC_BATCH,
            },
        ));
        out.push(Action::Log(
            Level::Info,
            format!(
                "sync: from connection {conn} ({name}), height {} → {target}",
                tip.height
            ),
        ));
        self.sync = Some(Sync {
            conn,
            id,
            asked_ms: now_ms,
            started_ms: now_ms,
            start_height: tip.height,
            target,
            fork_search: false,
            last_log_height: tip.height,
        });
        Ok(())
    }

    fn strike(&mut self, conn: ConnId, weight: u32, why: &str, now_ms: u64, out: &mut Vec<Action>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.strikes += weight;
        if c.strikes > STRIKE_ALLOWANCE {
            let ip = c.ip;
            // The ban first: once the peer sees the close, it is in force.
            out.push(Action::Ban(ip, now_ms + BAN_MS));
            out.push(Action::Close(
                conn,
                Message::error(
                    ErrorCode::Misbehaving,
                    &format!("too many invalid messages; last: {why}"),
                ),
            ));
            out.push(Action::Log(
                Level::Warn,
                format!("banned {ip} for {} s: {why}", BAN_MS / 1000),
            ));
            self.closed(conn);
        }
    }

    /// Closes and bans a connection that sent a message out of turn.
    pub fn protocol_violation(&mut self, conn: ConnId, why: &str, now_ms: u64) -> Vec<Action> {
        self.violation(conn, ErrorCode::OutOfTurn, why, now_ms)
    }

    /// Closes a connection that broke the protocol with `code` (out of turn,
    /// malformed, flooding) and bans its address.
    pub fn violation(
        &mut self,
        conn: ConnId,
        code: ErrorCode,
        why: &str,
        now_ms: u64,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        if let Some(c) = self.conns.get(&conn) {
            let ip = c.ip;
            // The ban first: once the peer sees the close, it is in force.
            out.push(Action::Ban(ip, now_ms + BAN_MS));
            out.push(Action::Close(conn, Message::error(code, why)));
            out.push(Action::Log(
                Level::Warn,
                format!("banned {ip} for {} s: {why}", BAN_MS / 1000),
            ));
        }
        self.closed(conn);
        out
    }

    fn next_slot(&self, now_ms: u64, tip: &TipInfo) -> u64 {
        self.params.slot_at(now_ms).max(tip.slot + 1)
    }

    /// Admits a transaction; relays it if it is new. `Ok(Err(why))`: refused
    /// (the wire carries `why`'s text: [`verdict`]).
    fn admit(
        &mut self,
        from: Option<ConnId>,
        tx: SignedTransaction,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) -> Result<Result<(), MempoolError>, Fatal> {
        // A copy of a pending transaction (each peer relays it once) has
        // the same bytes, signature included: its signature was checked
        // when the first copy came. Hashing is cheap; verifying is not.
        if self.mempool.contains(&tx.id()) {
            return Ok(Ok(()));
        }
        // A deploy's module is compiled here too: one the chain would not
        // run is refused with its reason, before it takes room or relays.
        let checked = match ledger::check_stateless(&tx) {
            Ok(c) => c,
            Err(e) => return Ok(Err(ledger::TxError::from(e).into())),
        };
        let snap = self.store.snapshot()?;
        // Already on chain: accepted (a lean forger store cannot tell; the
        // nonce check below refuses it instead).
        let on_chain = match snap.tx_location(&checked.id) {
            Ok(loc) => loc.is_some(),
            Err(StoreError::NotIndexed) => false,
            Err(e) => return Err(e.into()),
        };
        if on_chain {
            return Ok(Ok(()));
        }
        let tip = tip_info(&snap.tip().map_err(StoreError::from)?);
        let slot = self.next_slot(now_ms, &tip);
        match self
            .mempool
            .admit(&self.params, &snap, tx.clone(), checked.id, slot)
        {
            Ok(Admitted::Duplicate) => Ok(Ok(())),
            Ok(_) => {
                if self.seen.insert(checked.id) {
                    self.relay(from, Message::NewTx(tx), out);
                }
                Ok(Ok(()))
            }
            Err(MempoolError::Invalid(ledger::TxError::Storage(e))) => Err(Fatal::StateRead(e)),
            Err(e) => {
                if let (Some(conn), MempoolError::Invalid(ledger::TxError::BadEvidence(_))) =
                    (from, &e)
                {
                    if self
                        .conns
                        .get(&conn)
                        .is_some_and(|c| c.role == Role::Client)
                    {
                        let why = format!("invalid equivocation report: {e}");
                        self.strike(conn, REPORT_STRIKE, &why, now_ms, out);
                    }
                }
                Ok(Err(e))
            }
        }
    }

    fn relay(&self, from: Option<ConnId>, msg: Message, out: &mut Vec<Action>) {
        for (id, c) in &self.conns {
            if Some(*id) != from && c.role != Role::Client {
                out.push(Action::Send(*id, msg.clone()));
            }
        }
    }

    /// Imports a block from `from` (None: a local source); relays and
    /// notifies as needed. Returns whether it changed the tip.
    fn import(
        &mut self,
        from: Option<ConnId>,
        block: Block,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) -> Result<bool, Fatal> {
        let hash = block.hash();
        let imported = self.store.import_block(&block, now_ms);
        if matches!(
            imported,
            Ok(Imported::Extended { .. } | Imported::Reorganised { .. })
        ) {
            if let Some(c) = from.and_then(|c| self.conns.get_mut(&c)) {
                c.trust.delivered();
            }
        }
        // Stored blocks had their signature checked on import; others are
        // checked only if they contradict a header seen before.
        let stored = matches!(
            imported,
            Ok(Imported::Extended { .. }
                | Imported::Reorganised { .. }
                | Imported::SideBranch { .. })
        );
        if !matches!(imported, Ok(Imported::AlreadyKnown)) && !is_fatal(&imported) {
            self.note_header(&block.header, stored, now_ms, out)?;
        }
        match imported {
            Ok(Imported::Extended { .. }) => {
                self.after_new_blocks(std::slice::from_ref(&block), out)?;
                if self.seen.insert(hash) {
                    self.relay(from, Message::NewBlock(Box::new(block)), out);
                }
                Ok(true)
            }
            Ok(Imported::Reorganised {
                applied,
                returned,
                undone,
                ..
            }) => {
                out.push(Action::Log(
                    Level::Info,
                    format!(
                        "reorganisation: {} blocks undone, {} applied, new tip {} at {}",
                        undone.len(),
                        applied.len(),
                        hash.short(),
                        block.height()
                    ),
                ));
                self.after_new_blocks(&applied, out)?;
                for tx in returned {
                    let _ = self.admit(None, tx, now_ms, out)?;
                }
                if self.seen.insert(hash) {
                    self.relay(from, Message::NewBlock(Box::new(block)), out);
                }
                Ok(true)
            }
            Ok(Imported::SideBranch { .. }) => {
                if self.seen.insert(hash) {
                    self.relay(from, Message::NewBlock(Box::new(block)), out);
                }
                Ok(false)
            }
            Ok(Imported::AlreadyKnown) => Ok(false),
            Err(e) if e.is_fatal() => Err(Fatal::Import(e)),
            Err(ImportError::UnknownParent { .. }) => {
                if let Some(c) = from {
                    if let Some(conn) = self.conns.get_mut(&c) {
                        // A claim like any other: no more blocks than slots.
                        if block.height() <= block.header.header.slot {
                            conn.tip.height = conn.tip.height.max(block.height());
                        }
                    }
                    if self.sync.is_none() {
                        self.maybe_sync(c, now_ms, out)?;
                    }
                }
                Ok(false)
            }
            Err(e @ ImportError::Invalid(_)) | Err(e @ ImportError::BadSideBlock { .. }) => {
                out.push(Action::Log(Level::Warn, format!("refused {e}")));
                if let Some(c) = from {
                    self.strike(c, BLOCK_STRIKE, &e.to_string(), now_ms, out);
                }
                Ok(false)
            }
            Err(e) => {
                out.push(Action::Log(Level::Warn, format!("refused {e}")));
                Ok(false)
            }
        }
    }

    /// A forger's held block commits made durable (the interval's end, or a
    /// sync that caught up); a storage error marks the forger red and stops.
    fn make_forger_durable(&mut self, now_ms: u64) -> Result<bool, Fatal> {
        let Some(f) = &mut self.forge else {
            return Ok(false);
        };
        f.durable_ms = now_ms;
        self.store.make_durable().map_err(|e| {
            f.storage_error = true;
            Fatal::Store(e)
        })
    }

    /// Remembers a block header by (slot, forger) — `verified`: its
    /// signature was checked — and, if the same forger signed a different
    /// header for that slot, holds the two as evidence and reports them.
    fn note_header(
        &mut self,
        header: &SignedHeader,
        verified: bool,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) -> Result<(), Fatal> {
        let key = (header.header.slot, header.header.forger);
        match self.headers.get(&key) {
            Some(prev) if prev.header == header.header => Ok(()),
            Some(prev) => {
                if !verified && header.verify().is_err() {
                    return Ok(());
                }
                let prev = (**prev).clone();
                self.found_equivocation(prev, header.clone(), now_ms, out)
            }
            None if verified => {
                self.headers.insert(key, Box::new(header.clone()));
                while self.headers.len() > MAX_HEADERS_SEEN {
                    self.headers.pop_first();
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn found_equivocation(
        &mut self,
        a: SignedHeader,
        b: SignedHeader,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) -> Result<(), Fatal> {
        let forger = a.header.forger;
        if self.evidence.contains_key(&forger) {
            return Ok(());
        }
        out.push(Action::Log(
            Level::Warn,
            format!(
                "equivocation: forger {forger} signed two blocks for slot {}: {} and {}",
                a.header.slot,
                a.header.hash().short(),
                b.header.hash().short()
            ),
        ));
        if self.evidence.len() >= MAX_EVIDENCE {
            // Make room by forgetting one the chain has acted on.
            let snap = self.store.snapshot()?;
            let mut settled = None;
            for (f, ev) in &self.evidence {
                let epoch = self.params.epoch_of(ev.a.header.slot);
                if snap
                    .voided_from(f)
                    .map_err(StoreError::from)?
                    .is_some_and(|v| v <= epoch)
                {
                    settled = Some(*f);
                    break;
                }
            }
            drop(snap);
            match settled {
                Some(f) => {
                    self.evidence.remove(&f);
                }
                None => {
                    out.push(Action::Log(
                        Level::Warn,
                        format!(
                            "equivocation by {forger} not held: {MAX_EVIDENCE} are held already"
                        ),
                    ));
                    return Ok(());
                }
            }
        }
        self.evidence.insert(
            forger,
            Evidence {
                a,
                b,
                report: None,
                told: false,
            },
        );
        self.report_equivocations(now_ms, out)
    }

    /// With a reporting key whose account can pay the fee, submits a
    /// `ReportEquivocation` for each held equivocation the chain has not
    /// acted on (the forger is not voided from the equivocation's epoch at
    /// the tip) and whose report is not pending. Evidence the chain acted on
    /// is kept, not dropped: a reorganisation can undo the block that voided
    /// the forger (found by the simulation, seeds 617 and 718: a 13-block
    /// reorganisation left every honest node with the evidence forgotten and
    /// the equivocator unpunished), and then it is reported again. It is
    /// forgotten only to make room for new evidence. Without a key, the
    /// evidence is only held and logged: both blocks reach the other nodes
    /// anyway (side branches are relayed), and forgers report with their own
    /// keys.
    fn report_equivocations(&mut self, now_ms: u64, out: &mut Vec<Action>) -> Result<(), Fatal> {
        if self.evidence.is_empty() {
            return Ok(());
        }
        let snap = self.store.snapshot()?;
        let mut due = Vec::new();
        for (forger, ev) in &self.evidence {
            let epoch = self.params.epoch_of(ev.a.header.slot);
            match snap.voided_from(forger).map_err(StoreError::from)? {
                Some(v) if v <= epoch => {}
                _ => {
                    if !ev.report.is_some_and(|id| self.mempool.contains(&id)) {
                        due.push(*forger);
                    }
                }
            }
        }
        let Some(key) = self.reporter.clone() else {
            return Ok(());
        };
        let me = key.public();
        let account = snap.account(&me).map_err(StoreError::from)?;
        drop(snap);
        for forger in due {
            if forger == me {
                // Our own key signed twice: another board has it (see the
                // doppelganger check); voiding ourselves is for others to do.
                continue;
            }
            let fee = self.params.genesis().min_fee;
            let Some(ev) = self.evidence.get_mut(&forger) else {
                continue;
            };
            if account.balance < fee {
                if !std::mem::replace(&mut ev.told, true) {
                    out.push(Action::Log(Level::Warn, format!(
                        "equivocation by {forger}: {me} cannot pay a report's fee ({fee} units); left to the forgers"
                    )));
                }
                continue;
            }
            let tx = Transaction {
                chain_id: self.params.chain_id(),
                sender: me,
                nonce: self.mempool.next_nonce(&me, account.nonce),
                fee,
                kind: TxKind::ReportEquivocation {
                    header_a: Box::new(ev.a.clone()),
                    header_b: Box::new(ev.b.clone()),
                },
                memo: Bytes::empty(),
            }
            .sign(&key);
            let id = tx.id();
            match self.admit(None, tx, now_ms, out)? {
                Ok(()) => {
                    out.push(Action::Log(
                        Level::Info,
                        format!(
                            "reported the equivocation of {forger} (transaction {})",
                            id.short()
                        ),
                    ));
                    if let Some(ev) = self.evidence.get_mut(&forger) {
                        ev.report = Some(id);
                    }
                }
                Err(why) => {
                    if let Some(ev) = self.evidence.get_mut(&forger) {
                        if !std::mem::replace(&mut ev.told, true) {
                            out.push(Action::Log(Level::Warn, format!(
                                "equivocation by {forger}: report refused (tried again each tick): {why}"
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn after_new_blocks(&mut self, blocks: &[Block], out: &mut Vec<Action>) -> Result<(), Fatal> {
        let snap = self.store.snapshot()?;
        self.mempool.prune(&snap).map_err(Fatal::from)?;
        // Checked at the earliest slot a next block can have: only what
        // fails even there is dropped.
        let next_slot = snap.tip().map_err(StoreError::from)?.slot + 1;
        let dropped = self
            .mempool
            .drop_failing_heads(&self.params, &snap, next_slot)
            .map_err(Fatal::from)?;
        for (id, why) in dropped {
            out.push(Action::Log(
                Level::Info,
                format!("dropped transaction {id} from the mempool: {why}"),
            ));
        }
        for b in blocks {
            for tx in &b.txs {
                let accounts = touched(tx);
                for (id, c) in &self.conns {
                    if accounts.iter().any(|a| c.subscriptions.contains(a)) {
                        out.push(Action::Send(
                            *id,
                            Message::Event(Box::new(TxEvent {
                                height: b.height(),
                                block: b.hash(),
                                tx: tx.clone(),
                            })),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// A message arrived on `conn`.
    pub fn message(
        &mut self,
        conn: ConnId,
        msg: Message,
        now_ms: u64,
    ) -> Result<Vec<Action>, Fatal> {
        let mut out = Vec::new();
        self.release_early(now_ms, &mut out)?;
        let Some(role) = self.conns.get(&conn).map(|c| c.role) else {
            return Ok(out);
        };
        let node_or_forger = role != Role::Client;
        match msg {
            Message::SubmitTx { id, tx } => {
                let admitted = self.admit(Some(conn), tx, now_ms, &mut out)?;
                if admitted.is_err() && role != Role::Client {
                    self.strike(conn, 1, "invalid transaction", now_ms, &mut out);
                }
                let verdict = verdict(admitted);
                out.push(Action::Send(conn, Message::TxResult { id, verdict }));
            }
            Message::NewTx(tx) if node_or_forger => {
                if let Err(why) = self.admit(Some(conn), tx, now_ms, &mut out)? {
                    // A relayed transaction can fail innocently (a block just
                    // spent its nonce); only signature-level garbage counts.
                    if why.is_bad_signature() {
                        self.strike(conn, 1, &why.to_string(), now_ms, &mut out);
                    }
                }
            }
            Message::NewBlock(block) if node_or_forger => {
                let h = &block.header.header;
                if let Err(why) = ledger::check_not_early(&self.params, h, now_ms) {
                    // Within a slot of its start: a clock a little behind the
                    // forger's (each may be a quarter slot off) sees it early.
                    // Held until its slot starts here; further is garbage.
                    let start = self.params.slot_start_ms(h.slot);
                    let drift = self.params.limits().max_clock_drift_ms;
                    let near = start <= now_ms + drift + self.params.genesis().slot_ms;
                    if near && self.early.len() < MAX_EARLY {
                        let hash = block.hash();
                        if self.early.insert((start, hash), (conn, *block)).is_none() {
                            out.push(Action::Log(
                                Level::Info,
                                format!(
                                    "holding block {} until its slot starts here: {why}",
                                    hash.short()
                                ),
                            ));
                        }
                    } else {
                        out.push(Action::Log(Level::Warn, format!("refused {why}")));
                        if !near {
                            self.strike(conn, 1, &why.to_string(), now_ms, &mut out);
                        }
                    }
                } else if self.late_rival(&block, now_ms)? {
                    // Cannot win (first seen stays at equal height), and
                    // arrives past the lateness bound: neither stored nor
                    // relayed. Its header still counts as evidence.
                    out.push(Action::Log(Level::Info, format!(
                        "ignored late rival block {} at height {} (slot {} started {} ms ago, bound {} slots + drift)",
                        block.hash().short(),
                        h.height,
                        h.slot,
                        now_ms.saturating_sub(self.params.slot_start_ms(h.slot)),
                        fork::LATE_SLOTS
                    )));
                    self.note_header(&block.header, false, now_ms, &mut out)?;
                } else {
                    self.accept_block(conn, *block, now_ms, &mut out)?;
                }
            }
            Message::Tip(t) if node_or_forger => {
                match policy::plausible_claim(&self.params, &t, now_ms) {
                    Ok(()) => {
                        if let Some(c) = self.conns.get_mut(&conn) {
                            c.tip = t;
                        }
                        self.maybe_sync(conn, now_ms, &mut out)?;
                    }
                    Err(why) => {
                        // Each Tip may say it again: logged now and then.
                        let n = self.conns.get_mut(&conn).map_or(0, |c| {
                            c.ignored_claims += 1;
                            c.ignored_claims
                        });
                        if n % 100 == 1 {
                            out.push(Action::Log(
                                Level::Warn,
                                format!(
                                    "connection {conn}: ignoring its {why} ({n} ignored so far)"
                                ),
                            ));
                        }
                    }
                }
            }
            Message::Blocks { id, blocks } if node_or_forger => {
                self.sync_answer(conn, id, blocks, now_ms, &mut out)?;
            }
            Message::GetPeers => {
                let mut peers: Vec<Bytes<{ limits::ADDR }>> = Vec::new();
                for p in self.known_peers.iter().take(limits::MAX_PEERS_LISTED) {
                    if let Ok(b) = Bytes::new(p.as_bytes()) {
                        peers.push(b);
                    }
                }
                if let Some(me) = &self.listen {
                    if let Ok(b) = Bytes::new(me.as_bytes()) {
                        peers.push(b);
                    }
                }
                out.push(Action::Send(conn, Message::Peers(peers)));
            }
            Message::Peers(list) if role == Role::MainNode => {
                for p in list.iter().take(limits::MAX_PEERS_LISTED) {
                    let p = p.lossy();
                    if self.known_peers.len() >= MAX_KNOWN_PEERS {
                        break;
                    }
                    if Some(&p) != self.listen.as_ref() && self.known_peers.insert(p.clone()) {
                        out.push(Action::Dial(p));
                    }
                }
            }
            Message::Status(report) if role == Role::Forger => {
                let key = self.conns[&conn].key;
                let e = self.forger_entry(key);
                e.reported_ms = now_ms;
                e.status = *report;
            }
            Message::Query { id, query } => {
                let answer = self.answer(query, now_ms)?;
                out.push(Action::Send(
                    conn,
                    Message::Answer {
                        id,
                        answer: Box::new(answer),
                    },
                ));
            }
            Message::Subscribe { address, since } => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    if c.subscriptions.len() >= 64 {
                        out.push(Action::Close(
                            conn,
                            Message::error(
                                ErrorCode::Other,
                                "at most 64 subscriptions per connection",
                            ),
                        ));
                        return Ok(out);
                    }
                    c.subscriptions.insert(address);
                }
                if let Some(since) = since {
                    self.replay(conn, &address, since, &mut out)?;
                }
            }
            Message::Ping(n) => out.push(Action::Send(conn, Message::Pong(n))),
            Message::Pong(n) => {
                let alive = self
                    .probes
                    .iter()
                    .find(|(_, p)| p.old == conn && p.nonce == n)
                    .map(|(k, _)| *k);
                if let Some(key) = alive {
                    let p = self.probes.remove(&key).expect("found");
                    self.refuse_doppelgangers(
                        key,
                        vec![p.old],
                        p.new,
                        "it answered a ping",
                        &mut out,
                    );
                }
            }
            Message::Error {
                code: ErrorCode::Doppelganger,
                text,
            } if self.forge.is_some() => {
                self.doppelganger_refusal(conn, &text.lossy(), now_ms, &mut out);
            }
            Message::Error { code, text } => {
                out.push(Action::Log(
                    Level::Info,
                    format!(
                        "connection {conn} closed by peer ({code:?}): {}",
                        text.lossy()
                    ),
                ));
                out.push(Action::Close(conn, Message::error(ErrorCode::Other, "bye")));
                self.closed(conn);
            }
            other => {
                let why = format!("{} is not expected from a {}", other.name(), role.name());
                return Ok(self.protocol_violation(conn, &why, now_ms));
            }
        }
        Ok(out)
    }

    /// Whether a gossiped block is a rival past the lateness bound: it does
    /// not extend our tip, is no higher than it (so cannot win: at equal
    /// height the block seen first stays), and its slot started more than
    /// [`ledger::fork::LATE_SLOTS`] slots plus the drift ago.
    fn late_rival(&self, block: &Block, now_ms: u64) -> Result<bool, Fatal> {
        let h = &block.header.header;
        if !fork::late(&self.params, h.slot, now_ms) {
            return Ok(false);
        }
        let hash = block.hash();
        if self.seen.set.contains(&hash) {
            // A copy of one already handled: the import says so quietly.
            return Ok(false);
        }
        let tip = self.tip()?;
        Ok(hash != tip.hash && h.parent != tip.hash && h.height <= tip.height)
    }

    /// A forger's main node refused it as a doppelganger: stop forging for
    /// a while and let the dialer try again; after the retry period, stop
    /// the process with what to check.
    fn doppelganger_refusal(
        &mut self,
        conn: ConnId,
        text: &str,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) {
        let Some(f) = &mut self.forge else {
            return;
        };
        let first = match f.refused {
            Some((first, last)) if now_ms.saturating_sub(last) < DOPPELGANGER_FORGET_MS => first,
            _ => now_ms,
        };
        f.refused = Some((first, now_ms));
        let key = f.key.public();
        let retry_ms = f.retry_ms;
        let waited = now_ms.saturating_sub(first);
        if waited >= retry_ms {
            out.push(Action::Doppelganger(format!(
                "{text} (refused again and again for {} s). Check: is another board, or a copy of this card, running forger key {key}? \
                 Stop it, then start this one again (systemctl restart goodwill-forge). If no other board has the key, check the main node's log for \"doppelganger\"",
                waited / 1000
            )));
            return;
        }
        out.push(Action::Log(Level::Warn, format!(
            "a main node refused this forger as a doppelganger: {text}; not forging, trying again (stops if still refused {} s from the first refusal)",
            retry_ms.saturating_sub(waited) / 1000
        )));
        out.push(Action::Close(conn, Message::error(ErrorCode::Other, "bye")));
        self.closed(conn);
    }

    /// A block from `conn` whose slot has started: its sender's tip is at
    /// least that high; import it.
    fn accept_block(
        &mut self,
        conn: ConnId,
        block: Block,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) -> Result<(), Fatal> {
        let h = &block.header.header;
        let from = match self.conns.get_mut(&conn) {
            Some(c) => {
                if h.height > c.tip.height {
                    c.tip = TipInfo {
                        height: h.height,
                        hash: block.hash(),
                        slot: h.slot,
                    };
                }
                Some(conn)
            }
            None => None,
        };
        self.import(from, block, now_ms, out)?;
        Ok(())
    }

    /// Imports the held early blocks whose slot has started.
    fn release_early(&mut self, now_ms: u64, out: &mut Vec<Action>) -> Result<(), Fatal> {
        let drift = self.params.limits().max_clock_drift_ms;
        while let Some(entry) = self.early.first_entry() {
            if entry.key().0 > now_ms.saturating_add(drift) {
                break;
            }
            let (conn, block) = entry.remove();
            self.accept_block(conn, block, now_ms, out)?;
        }
        Ok(())
    }

    fn replay(
        &mut self,
        conn: ConnId,
        address: &PublicKey,
        since: u64,
        out: &mut Vec<Action>,
    ) -> Result<(), Fatal> {
        let snap = self.store.snapshot()?;
        let ids = match snap.account_txs(address, MAX_REPLAY) {
            Ok(ids) => ids,
            Err(StoreError::NotIndexed) => {
                out.push(Action::Close(
                    conn,
                    Message::error(ErrorCode::Other, &StoreError::NotIndexed.to_string()),
                ));
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let mut found = Vec::new();
        for id in ids {
            let Some(loc) = snap.tx_location(&id)? else {
                continue;
            };
            if loc.height < since {
                break;
            }
            found.push((loc.height, loc.index));
        }
        found.sort();
        for (height, index) in found {
            if let Some(b) = snap.block_at(height)? {
                if let Some(tx) = b.txs.get(index as usize) {
                    out.push(Action::Send(
                        conn,
                        Message::Event(Box::new(TxEvent {
                            height,
                            block: b.hash(),
                            tx: tx.clone(),
                        })),
                    ));
                }
            }
        }
        Ok(())
    }

    fn sync_answer(
        &mut self,
        conn: ConnId,
        id: u32,
        blocks: Vec<Block>,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) -> Result<(), Fatal> {
        let Some(s) = self.sync.as_ref() else {
            return Ok(());
        };
        if s.conn != conn || s.id != id {
            return Ok(());
        }
        let fork_search = s.fork_search;
        let mut progressed = false;
        let mut unknown_parent = false;
        let mut landed: Vec<Block> = Vec::new();
        for b in blocks.iter() {
            let h = b.hash();
            match self.store.import_block(b, now_ms) {
                Ok(Imported::Extended { .. }) => {
                    self.seen.insert(h);
                    self.note_header(&b.header, true, now_ms, out)?;
                    progressed = true;
                    landed.push(b.clone());
                }
                Ok(Imported::Reorganised {
                    applied,
                    undone,
                    returned,
                    ..
                }) => {
                    // As for a gossiped block: said, and the undone
                    // transactions the new branch lacks go back to the pool.
                    out.push(Action::Log(
                        Level::Info,
                        format!(
                            "reorganisation: {} blocks undone, {} applied, new tip {} at {} (sync)",
                            undone.len(),
                            applied.len(),
                            h.short(),
                            b.height()
                        ),
                    ));
                    self.seen.insert(h);
                    self.note_header(&b.header, true, now_ms, out)?;
                    progressed = true;
                    landed.extend(applied);
                    for tx in returned {
                        let _ = self.admit(None, tx, now_ms, out)?;
                    }
                }
                Ok(_) => {}
                Err(e) if e.is_fatal() => return Err(Fatal::Import(e)),
                Err(ImportError::UnknownParent { .. }) => {
                    unknown_parent = true;
                    break;
                }
                Err(e) => {
                    // A block from the future in a sync answer: within a slot
                    // of now, a peer whose clock is a little ahead (asked
                    // again later); further, a chain forged ahead of time.
                    let near = match &e {
                        ImportError::Early { ahead_ms, .. } => {
                            *ahead_ms
                                <= self.params.limits().max_clock_drift_ms
                                    + self.params.genesis().slot_ms
                        }
                        _ => false,
                    };
                    out.push(Action::Log(Level::Warn, format!("sync: refused {e}")));
                    if progressed {
                        let landed = std::mem::take(&mut landed);
                        self.after_new_blocks(&landed, out)?;
                    }
                    if !near {
                        if let Some(c) = self.conns.get_mut(&conn) {
                            c.trust.failed(now_ms);
                        }
                        self.strike(conn, BLOCK_STRIKE, &e.to_string(), now_ms, out);
                    }
                    self.sync = None;
                    return Ok(());
                }
            }
        }
        if progressed {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.trust.delivered();
            }
            // Watchers hear of synced blocks too; peers hear of the new tip.
            self.after_new_blocks(&landed, out)?;
            let tip = self.tip()?;
            self.relay(Some(conn), Message::Tip(tip), out);
        }
        let tip = self.tip()?;
        let target = self.conns.get(&conn).map(|c| c.tip.height).unwrap_or(0);
        let s = self.sync.as_mut().expect("checked above");
        s.target = s.target.max(target);
        if tip.height >= s.last_log_height + 1000
            || (tip.height >= s.target && tip.height > s.last_log_height)
        {
            let secs = (now_ms.saturating_sub(s.started_ms)).max(1) as f64 / 1000.0;
            out.push(Action::Log(
                Level::Info,
                format!(
                    "sync: height {}/{} ({:.0} blocks/s)",
                    tip.height,
                    s.target,
                    (tip.height - s.start_height) as f64 / secs
                ),
            ));
            s.last_log_height = tip.height;
        }
        let next_from = if unknown_parent && !fork_search {
            // Our chain and theirs fork: ask again from below the fork, as
            // deep as finality allows (from the start while this node is
            // below its highest checkpoint: see ChainParams::reorg_limit).
            s.fork_search = true;
            Some(
                (tip.height + 1)
                    .saturating_sub(self.params.reorg_limit(tip.height))
                    .max(1),
            )
        } else if (!blocks.is_empty() && !unknown_parent || fork_search && progressed)
            && tip.height < s.target
        {
            s.fork_search = false;
            Some(tip.height + 1)
        } else {
            None
        };
        // Below what the peer keeps (a fork search on a pruned forger):
        // the sync ends without blaming it, and a main node serves the rest.
        let kept_from = self.kept_from(conn);
        let next_from = match next_from {
            Some(from) if from < kept_from => {
                let s = self.sync.take().expect("checked above");
                out.push(Action::Log(
                    Level::Info,
                    format!(
                        "sync: connection {conn} is a forger that keeps blocks from height {kept_from} only: blocks from height {from} will come from a main node (at {}/{})",
                        tip.height, s.target
                    ),
                ));
                return Ok(());
            }
            other => other,
        };
        match next_from {
            Some(from) => {
                let id = self.req_id();
                let s = self.sync.as_mut().expect("checked above");
                s.id = id;
                s.asked_ms = now_ms;
                out.push(Action::Send(
                    conn,
                    Message::GetBlocks {
                        id,
                        from,
                        count: SYNC_BATCH,
                    },
                ));
            }
            None => {
                let s = self.sync.take().expect("checked above");
                if tip.height < s.target {
                    // It claimed more than it delivered: its claims no
                    // longer start syncs or keep a forger "not synced".
                    out.push(Action::Log(Level::Warn, format!(
                        "sync: connection {conn} claimed height {} and delivered up to {}: its claims are not believed for {} s",
                        s.target,
                        tip.height,
                        policy::UNTRUSTED_CLAIM_MS / 1000
                    )));
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.trust.failed(now_ms);
                    }
                } else if self.forge.is_some() {
                    let held = self.store.not_durable();
                    if policy::durable_after_sync(held) && self.make_forger_durable(now_ms)? {
                        out.push(Action::Log(
                            Level::Info,
                            format!(
                                "sync: caught up at height {}; the {held} blocks held in memory are durable",
                                tip.height
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Answers the queries that need the node's own state (the others are
    /// answered from a store snapshot by the connection itself).
    pub fn answer(&self, query: Query, now_ms: u64) -> Result<Answer, Fatal> {
        Ok(match query {
            Query::Status => Answer::Status(self.status(now_ms)?),
            Query::Forgers => Answer::Forgers(
                self.forgers
                    .values()
                    .take(limits::MAX_FORGERS_LISTED)
                    .cloned()
                    .collect(),
            ),
            Query::NextNonce(pk) => Answer::NextNonce(self.next_nonce(&pk)?),
            other => super::queries::answer_from_store(&self.store, other)?,
        })
    }

    /// The nonce `pk`'s next transaction should carry: its nonce on chain,
    /// past its unbroken run of pending transactions.
    fn next_nonce(&self, pk: &PublicKey) -> Result<u64, Fatal> {
        let n = self
            .store
            .snapshot()?
            .account(pk)
            .map_err(Fatal::from)?
            .nonce;
        Ok(self.mempool.next_nonce(pk, n))
    }

    /// Answers a request from the node's own HTTP API ([`Ask`]): a
    /// submission goes through the same admission as a client's
    /// `SubmitTx` (relayed to the peers if new: the actions), the reads
    /// are those of the node's own state.
    pub fn ask(&mut self, ask: Ask, now_ms: u64) -> Result<(Told, Vec<Action>), Fatal> {
        let mut out = Vec::new();
        let told = match ask {
            Ask::Submit(tx) => {
                self.release_early(now_ms, &mut out)?;
                Told::Submitted(self.admit(None, *tx, now_ms, &mut out)?)
            }
            Ask::NextNonce(pk) => Told::NextNonce(self.next_nonce(&pk)?),
            Ask::Mempool { limit } => Told::Mempool(MempoolView {
                count: self.mempool.len(),
                bytes: self.mempool.bytes(),
                held_back: self.mempool.held_back(),
                txs: self
                    .mempool
                    .by_fee()
                    .take(limit.min(MAX_MEMPOOL_LISTED))
                    .cloned()
                    .collect(),
            }),
            Ask::Pending(id) => Told::Pending(self.mempool.get(&id).cloned().map(Box::new)),
            Ask::MempoolIds => Told::MempoolIds(self.mempool.by_fee().map(|t| t.id()).collect()),
        };
        Ok((told, out))
    }

    /// This node's status.
    pub fn status(&self, now_ms: u64) -> Result<NodeStatus, Fatal> {
        let count = |r: Role| self.conns.values().filter(|c| c.role == r).count() as u32;
        Ok(NodeStatus {
            role: self.role,
            key: self.key,
            version: crate::version().into(),
            chain_id: self.params.chain_id(),
            tip: self.tip()?,
            peers: self
                .conns
                .values()
                .filter(|c| c.role == Role::MainNode)
                .map(|c| c.listen.clone().unwrap_or_else(|| c.ip.to_string()))
                .collect(),
            forgers: count(Role::Forger),
            clients: count(Role::Client),
            mempool: self.mempool.len() as u32,
            uptime_s: now_ms.saturating_sub(self.started_ms) / 1000,
            syncing: self.sync.is_some(),
        })
    }

    /// Whether this node follows the tip at `now_ms`: a main node is
    /// connected, and no believed claim says there is more to fetch.
    ///
    /// A claim is only a reason to ask: a peer that claims a longer chain
    /// keeps this false while a sync from it is answered (each request
    /// within [`CLAIM_PROOF_MS`]); one that claimed more than it delivered is
    /// not believed (see [`ClaimTrust`]). So a main node that claims height
    /// 10⁶ and sends nothing stops a forger for one request at most, not for
    /// as long as it keeps lying.
    pub fn synced(&self, now_ms: u64) -> Result<bool, Fatal> {
        // The peer being synced from, if its request is overdue: its claim
        // is unproven, and stops counting.
        let overdue = self
            .sync
            .as_ref()
            .filter(|s| now_ms.saturating_sub(s.asked_ms) >= CLAIM_PROOF_MS)
            .map(|s| s.conn);
        if let Some(s) = &self.sync {
            let believed = self
                .conns
                .get(&s.conn)
                .is_some_and(|c| c.trust.trusted(now_ms));
            if believed && overdue.is_none() {
                return Ok(false);
            }
        }
        let tip = self.tip()?;
        let peers: Vec<(&ConnId, &Conn)> = self
            .conns
            .iter()
            .filter(|(_, c)| c.role == Role::MainNode)
            .collect();
        if peers.is_empty() {
            return Ok(false);
        }
        Ok(peers.iter().all(|(id, c)| {
            !c.trust.trusted(now_ms)
                || overdue == Some(**id)
                || fork::compare(&head(&c.tip), &head(&tip)) != std::cmp::Ordering::Greater
        }))
    }

    /// The kernel's clock status, as the runtime last read it.
    pub fn set_kernel_clock(&mut self, synced: Option<bool>) {
        if let Some(f) = &mut self.forge {
            f.kernel_synced = synced;
        }
    }

    /// The live forgers of `epoch` and of the next one (who may send
    /// blocks of their own).
    pub fn live_forgers_around(&self, epoch: u64) -> Result<BTreeSet<PublicKey>, Fatal> {
        let snap = self.store.snapshot()?;
        let mut keys = BTreeSet::new();
        for e in [epoch, epoch + 1] {
            keys.extend(schedule::live_forgers(&self.params, &snap, e).map_err(StoreError::from)?);
        }
        Ok(keys)
    }

    /// The connection ids of connected main nodes.
    pub fn main_nodes(&self) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, c)| c.role == Role::MainNode)
            .map(|(id, _)| *id)
            .collect()
    }

    /// A forger's health reports for `slot`: to each connected main node,
    /// every `every_slots` slots (none for a main node, none between). The
    /// core's own figures (tip, clock, LEDs, counts) come from
    /// [`Core::appliance`]; what only the machine can measure comes in
    /// `machine`. The TCP runtime and the simulation send the same reports.
    pub fn status_reports(
        &self,
        slot: u64,
        every_slots: u64,
        now_ms: u64,
        machine: &MachineFigures,
    ) -> Result<Vec<Action>, Fatal> {
        if !slot.is_multiple_of(every_slots.max(1)) {
            return Ok(Vec::new());
        }
        let Some(mut view) = self.appliance(now_ms)? else {
            return Ok(Vec::new());
        };
        view.leds.under_voltage = machine.under_voltage;
        let report = crate::wire::ForgerStatus {
            version: crate::version().into(),
            height: view.tip.height,
            tip: view.tip.hash,
            clock_offset_ms: view.clock_offset_ms.unwrap_or(0),
            clock_trusted: view.clock.is_ok(),
            leds: crate::peer::led::describe(&view.leds, now_ms)
                .as_str()
                .into(),
            forged: view.stats.forged_epoch,
            missed: view.stats.missed_epoch,
            weight: view.weight,
            cpu_ms: machine.cpu_ms,
            rss_bytes: machine.rss_bytes,
            bytes_per_block: machine.bytes_per_block,
            energy_joules: machine.energy_joules,
            throttled: machine.throttled,
            soc_temp_mc: machine.soc_temp_mc,
        };
        Ok(self
            .main_nodes()
            .into_iter()
            .map(|conn| Action::Send(conn, Message::Status(Box::new(report.clone()))))
            .collect())
    }

    /// What the appliance shows (None for a main node).
    pub fn appliance(&self, now_ms: u64) -> Result<Option<ApplianceView>, Fatal> {
        let Some(f) = &self.forge else {
            return Ok(None);
        };
        let samples: Vec<ClockSample> = self
            .conns
            .values()
            .filter(|c| c.role == Role::MainNode)
            .map(|c| c.clock)
            .collect();
        let offsets: Vec<i64> = samples.iter().map(|s| s.offset_ms).collect();
        let mains = samples.len();
        let clock = fstate::clock_trust(
            f.clock_check,
            f.kernel_synced,
            &samples,
            self.params.genesis().slot_ms,
        );
        let synced = self.synced(now_ms)?;
        let snap = self.store.snapshot()?;
        let tip_state = snap.tip().map_err(StoreError::from)?;
        let pk = f.key.public();
        let epoch = self
            .params
            .epoch_of(self.params.slot_at(now_ms).max(tip_state.slot));
        let weight = snap.weight(epoch, &pk).map_err(StoreError::from)?;
        let slots_led = schedule::slots_led(&self.params, &snap, &tip_state, epoch, &pk)
            .map_err(StoreError::from)?
            .len() as u64;
        let leds = fstate::leds_state(
            synced,
            weight > 0,
            &f.stats,
            mains,
            fstate::clock_trusted_for_leds(
                f.clock_check,
                f.kernel_synced,
                &clock,
                mains,
                self.params.genesis().slot_ms,
            ),
            f.storage_error,
        );
        Ok(Some(ApplianceView {
            synced,
            mains,
            clock_offset_ms: fstate::median(&offsets),
            clock,
            weight,
            slots_led,
            stats: f.stats.clone(),
            storage_error: f.storage_error,
            tip: tip_info(&tip_state),
            leds,
        }))
    }

    /// Whether this forger is busy with a slot it leads at `now_ms`: it
    /// leads the present slot and has not signed it yet, or leads the next
    /// one and that begins within half a slot (false for a main node). A
    /// restart for a new release waits until it is not, so it never stops
    /// in the middle of a slot it leads; a forger that leads every slot
    /// restarts just after signing one.
    pub fn leads_soon(&self, now_ms: u64) -> Result<bool, Fatal> {
        let Some(f) = &self.forge else {
            return Ok(false);
        };
        let pk = f.key.public();
        let snap = self.store.snapshot()?;
        let tip = snap.tip().map_err(StoreError::from)?;
        let now = self.params.slot_at(now_ms);
        let leads = |slot: u64| -> Result<bool, Fatal> {
            Ok(slot > tip.slot
                && schedule::leads(&self.params, &snap, &tip, slot, &pk)
                    .map_err(StoreError::from)?)
        };
        let signed_now = f.stats.last_signed_slot.is_some_and(|s| s >= now);
        if !signed_now && leads(now)? {
            return Ok(true);
        }
        let next_in = self.params.slot_start_ms(now + 1).saturating_sub(now_ms);
        Ok(next_in < self.params.genesis().slot_ms / 2 && leads(now + 1)?)
    }

    /// A slot began: if this forger leads it and may forge, build the block,
    /// record the slot durably, sign, store and send — in that order.
    pub fn slot(&mut self, slot: u64, now_ms: u64) -> Result<Vec<Action>, Fatal> {
        let mut out = Vec::new();
        self.release_early(now_ms, &mut out)?;
        let Some(f) = &self.forge else {
            return Ok(out);
        };
        let key = f.key.clone();
        let pk = key.public();
        let snap = self.store.snapshot()?;
        let tip = snap.tip().map_err(StoreError::from)?;
        let epoch = self.params.epoch_of(slot);
        if let Some(f) = &mut self.forge {
            f.stats.enter_epoch(epoch);
        }
        if slot <= tip.slot
            || !schedule::leads(&self.params, &snap, &tip, slot, &pk).map_err(StoreError::from)?
        {
            return Ok(out);
        }
        let view = self.appliance(now_ms)?.expect("a forger");
        let settle_ms = self.forge.as_ref().map_or(0, |f| f.settle_ms);
        let settled = self
            .conns
            .values()
            .any(|c| c.role == Role::MainNode && now_ms.saturating_sub(c.since_ms) >= settle_ms);
        let allowed = fstate::may_forge(view.synced, view.mains, &view.clock).and_then(|()| {
            if self.doppelganger_held(now_ms) {
                Err(Miss::Doppelganger)
            } else if !settled {
                Err(Miss::Settling)
            } else {
                Ok(())
            }
        });
        if let Err(miss) = allowed {
            out.push(Action::Log(
                Level::Warn,
                format!("slot {slot}: led but not forged: {miss}"),
            ));
            if let Some(f) = &mut self.forge {
                f.stats.missed(&miss);
            }
            return Ok(out);
        }
        // Pulled lazily: a candidate that fails takes no room in the block.
        let candidates = self.mempool.select(&snap).map_err(Fatal::from)?;
        let unsigned = match ledger::prepare_block(&self.params, &snap, &key, slot, candidates) {
            Ok(u) => u,
            Err(e) if e.is_storage() => return Err(Fatal::BuildBlock(e)),
            Err(e) => {
                out.push(Action::Log(
                    Level::Warn,
                    format!("slot {slot}: cannot build a block: {e}"),
                ));
                return Ok(out);
            }
        };
        drop(snap);
        // Persist before sign: the slot is on disk before any signature exists.
        let f = self.forge.as_mut().expect("a forger");
        match self
            .store
            .record_signature(&pk, slot, &unsigned.header.hash())
        {
            Ok(()) => {}
            Err(SigningError::Storage(e)) => {
                f.storage_error = true;
                return Err(Fatal::RecordSignature(e));
            }
            Err(e) => {
                let miss = Miss::AlreadySigned(e.to_string());
                out.push(Action::Log(
                    Level::Warn,
                    format!("slot {slot}: not signed: {miss}"),
                ));
                f.stats.missed(&miss);
                return Ok(out);
            }
        }
        #[cfg(feature = "fault-injection")]
        if let Some(hook) = f.after_record {
            hook(slot);
        }
        let block = unsigned.sign(&f.key);
        let height = block.height();
        f.stats.forged(slot, now_ms);
        // Sign before send; store, then send to every main node.
        self.import(None, block, now_ms, &mut out)?;
        out.push(Action::Forged { slot, height });
        Ok(out)
    }

    /// Transactions a forger on this node would put in a block (for the
    /// appliance and tests).
    pub fn candidates(&self, max: usize) -> Result<Vec<SignedTransaction>, Fatal> {
        let snap = self.store.snapshot()?;
        self.mempool.candidates(&snap, max).map_err(Fatal::from)
    }
}

/// The most pending transactions one [`Ask::Mempool`] lists.
pub const MAX_MEMPOOL_LISTED: usize = 100;

/// What the node's own HTTP API asks its core ([`Core::ask`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// Admit a transaction, as a client's `SubmitTx`.
    Submit(Box<SignedTransaction>),
    /// The nonce a sender's next transaction should carry (counting its
    /// pending ones).
    NextNonce(PublicKey),
    /// The mempool: its size, and at most `limit` (and
    /// [`MAX_MEMPOOL_LISTED`]) transactions, highest fee first.
    Mempool {
        /// How many transactions to list.
        limit: usize,
    },
    /// A pending transaction by id.
    Pending(Hash),
    /// The ids of every pending transaction, highest fee first (the
    /// mempool is bounded, so is this).
    MempoolIds,
}

/// The core's answer to an [`Ask`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Told {
    /// Admitted (or already pending or on chain), or why not.
    Submitted(Result<(), MempoolError>),
    /// The next nonce.
    NextNonce(u64),
    /// The mempool.
    Mempool(MempoolView),
    /// The pending transaction, if it is.
    Pending(Option<Box<SignedTransaction>>),
    /// Every pending transaction's id.
    MempoolIds(Vec<Hash>),
}

/// What the mempool holds, for showing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MempoolView {
    /// Transactions pending.
    pub count: usize,
    /// Their encoded size together, bytes.
    pub bytes: usize,
    /// How many of them wait behind a nonce gap.
    pub held_back: usize,
    /// Some of them, highest fee first.
    pub txs: Vec<SignedTransaction>,
}

/// A transaction's verdict as the wire carries it: a refusal goes as its
/// reason's text, the one users see.
fn verdict(admitted: Result<(), MempoolError>) -> TxVerdict {
    match admitted {
        Ok(()) => TxVerdict::Accepted,
        Err(why) => TxVerdict::Rejected(why.to_string()),
    }
}

fn is_fatal(r: &Result<Imported, ImportError>) -> bool {
    matches!(r, Err(e) if e.is_fatal())
}

/// A peer's Hello at genesis, for the tests of the core and its driver.
#[cfg(test)]
pub(crate) fn test_hello(
    key: &crate::chain::crypto::Keypair,
    role: Role,
    params: &ChainParams,
) -> Hello {
    Hello {
        version: crate::wire::PROTOCOL_VERSION,
        chain_id: params.chain_id(),
        role,
        tip: TipInfo {
            height: 0,
            hash: Hash::ZERO,
            slot: 0,
        },
        key: key.public(),
        nonce: [1; 32],
        clock_ms: 0,
        listen: None,
        software: Bytes::empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{TestNet, TestNetConfig};

    fn forger_hello(key: &crate::chain::crypto::Keypair, params: &ChainParams) -> Hello {
        super::test_hello(key, Role::Forger, params)
    }

    fn closes(actions: &[Action], conn: ConnId) -> Option<ErrorCode> {
        actions.iter().find_map(|a| match a {
            Action::Close(c, Message::Error { code, .. }) if *c == conn => Some(*code),
            _ => None,
        })
    }

    /// A second session with a forger key: the first is pinged; silent for
    /// PROBE_MS, it is replaced; answering, both are refused.
    #[test]
    fn a_second_forger_session_probes_the_first() {
        let net = TestNet::new(&TestNetConfig::default());
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), &net.params).unwrap());
        let mut core = Core::new(
            store,
            crate::testkit::key(9, 0).public(),
            None,
            MempoolLimits::default(),
            0,
            CoreOptions::main_node(),
        );
        let f = &net.forgers[0];
        let hello = forger_hello(f, &net.params);
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        let now = 1_000;
        core.connected(1, &hello, ip, ClockSample::default(), now)
            .unwrap();
        assert!(core.has_conn(1));
        // The second: held, and the first pinged.
        let a = core
            .connected(2, &hello, ip, ClockSample::default(), now)
            .unwrap();
        let nonce = a
            .iter()
            .find_map(|x| match x {
                Action::Send(1, Message::Ping(n)) => Some(*n),
                _ => None,
            })
            .expect("the first session is pinged");
        assert!(core.pending(2) && !core.has_conn(2));
        assert_eq!(closes(&a, 1), None);
        // Before PROBE_MS nothing is decided.
        let a = core.tick(now + PROBE_MS - 1).unwrap();
        assert!(core.pending(2) && closes(&a, 1).is_none());
        // The first stays silent: it is replaced.
        let a = core.tick(now + PROBE_MS).unwrap();
        assert_eq!(closes(&a, 1), Some(ErrorCode::Other));
        assert!(!core.pending(2) && core.has_conn(2) && !core.has_conn(1));
        // A third session: the second is pinged and answers: both refused.
        let a = core
            .connected(3, &hello, ip, ClockSample::default(), now + 5_000)
            .unwrap();
        let nonce2 = a
            .iter()
            .find_map(|x| match x {
                Action::Send(2, Message::Ping(n)) => Some(*n),
                _ => None,
            })
            .expect("pinged");
        // A stale Pong (another number) proves nothing.
        let a = core.message(2, Message::Pong(nonce), now + 5_001).unwrap();
        assert!(closes(&a, 2).is_none() && core.pending(3));
        let a = core.message(2, Message::Pong(nonce2), now + 5_002).unwrap();
        assert_eq!(closes(&a, 2), Some(ErrorCode::Doppelganger));
        assert_eq!(closes(&a, 3), Some(ErrorCode::Doppelganger));
        assert!(!core.has_conn(2) && !core.has_conn(3) && !core.pending(3));
    }

    /// A forger refused as a doppelganger holds off forging, and stops
    /// (Action::Doppelganger) only once refused after the retry period.
    #[test]
    fn a_refused_forger_retries_then_stops_with_what_to_check() {
        let net = TestNet::new(&TestNetConfig::default());
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), &net.params).unwrap());
        let f = net.forgers[0].clone();
        let mut core = Core::new(
            store,
            f.public(),
            None,
            MempoolLimits::default(),
            0,
            CoreOptions::forger(f.clone(), ClockCheck::Off).doppelganger_retry_ms(10_000),
        );
        let mut main = forger_hello(&crate::testkit::key(9, 0), &net.params);
        main.role = Role::MainNode;
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        let refusal = || Message::error(ErrorCode::Doppelganger, "another session answers");
        core.connected(1, &main, ip, ClockSample::default(), 0)
            .unwrap();
        let a = core.message(1, refusal(), 1_000).unwrap();
        assert!(
            !a.iter().any(|x| matches!(x, Action::Doppelganger(_))),
            "{a:?}"
        );
        assert!(core.doppelganger_held(1_000));
        assert!(!core.doppelganger_held(1_000 + DOPPELGANGER_HOLD_MS));
        core.connected(2, &main, ip, ClockSample::default(), 5_000)
            .unwrap();
        let a = core.message(2, refusal(), 5_000).unwrap();
        assert!(!a.iter().any(|x| matches!(x, Action::Doppelganger(_))));
        core.connected(3, &main, ip, ClockSample::default(), 11_000)
            .unwrap();
        let a = core.message(3, refusal(), 11_000).unwrap();
        let text = a
            .iter()
            .find_map(|x| match x {
                Action::Doppelganger(t) => Some(t.clone()),
                _ => None,
            })
            .expect("stops after the retry period");
        assert!(
            text.contains("Check") && text.contains(&f.public().to_string()),
            "{text}"
        );
    }

    #[test]
    fn recent_ids_forget_the_oldest_first() {
        let mut r = Recent::new();
        let id = |i: u64| Hash::of(&[&i.to_le_bytes()]);
        for i in 0..(RECENT_IDS as u64 + 10) {
            assert!(r.insert(id(i)), "{i} is new");
        }
        // The last RECENT_IDS are remembered, the first ten forgotten.
        assert!(!r.insert(id(RECENT_IDS as u64 + 9)));
        assert!(!r.insert(id(10)));
        assert!(r.insert(id(0)));
        assert_eq!(r.order.len(), RECENT_IDS);
        assert_eq!(r.set.len(), RECENT_IDS);
    }
}
