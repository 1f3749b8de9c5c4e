//! `goodwill node`: a main node. The decisions live in [`core`]; this file is
//! the runtime around them — TCP on smol, the handshake, one task per
//! connection, one thread that owns the core and the store's writer,
//! signals, bans and limits.
//!
//! Threads: the smol executor runs the listener and every connection; the
//! core thread receives their events over a bounded channel, imports blocks
//! (one durable commit each) and answers through per-connection outboxes.
//! Queries that only read the store are answered by the connection's own
//! task from a read snapshot, so they never wait for the writer.

pub mod core;
pub mod policy;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_lite::future;
use serde::Deserialize;
use smol::net::{TcpListener, TcpStream};

use self::core::{Action, ConnId, Core, Fatal};
use self::policy::{Bans, FloodGate, Redial};
use crate::codec::Bytes;
use crate::crypto::{Hash, Keypair};
use crate::genesis::ChainParams;
use crate::mempool::MempoolLimits;
use crate::state::StateReadExt;
use crate::store::{Store, StoreError};
use crate::wire::frame::{self, FrameError, FrameReader};
use crate::wire::{
    self, handshake, limits, Answer, ErrorCode, Hello, Message, Query, Role, TipInfo, TxProof,
    PROTOCOL_VERSION,
};

/// Per-node bounds.
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    /// Connections at once.
    pub max_connections: usize,
    /// Connections at once from one IP address.
    pub max_per_ip: usize,
    /// Messages per second one connection may send (averaged over 10 s).
    pub max_msgs_per_s: u32,
    /// Messages waiting to be written to one connection.
    pub outbox: usize,
    /// The mempool.
    pub mempool: MempoolLimits,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            max_connections: 256,
            max_per_ip: 64,
            max_msgs_per_s: 500,
            outbox: 4096,
            mempool: MempoolLimits::default(),
        }
    }
}

/// Everything a node needs to start.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The data directory (the redb store).
    pub data: PathBuf,
    /// The chain.
    pub params: ChainParams,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The address to tell peers (default: `listen`).
    pub advertise: Option<String>,
    /// Main nodes to register with and keep connected to.
    pub peers: Vec<String>,
    /// The node's key.
    pub key: Keypair,
    /// Bounds.
    pub limits: NodeLimits,
    /// Set for a forging appliance (`goodwill forge`): it follows the chain
    /// from `peers` (its main nodes), forges the slots its key leads, and
    /// `listen` serves status queries only.
    pub forge: Option<crate::forge::ForgeConfig>,
}

/// The node's settings in a TOML file (`--config`); flags override it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// Data directory.
    pub data: Option<PathBuf>,
    /// Genesis file.
    pub genesis: Option<PathBuf>,
    /// Listen address.
    pub listen: Option<String>,
    /// Address to advertise to peers.
    pub advertise: Option<String>,
    /// Peers.
    #[serde(default)]
    pub peers: Vec<String>,
    /// Key file.
    pub key: Option<PathBuf>,
}

impl NodeFile {
    /// Reads a config file.
    pub fn load(path: &Path) -> Result<NodeFile, String> {
        let text = read_config(path)?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Reads a configuration file of at most [`crate::limits::CONFIG_FILE_BYTES`]
/// (no more is read, whatever the file claims).
pub fn read_config(path: &Path) -> Result<String, String> {
    let limit = crate::limits::CONFIG_FILE_BYTES;
    crate::os::read_text_bounded(path, limit).map_err(|e| {
        if e.kind() == std::io::ErrorKind::FileTooLarge {
            format!(
                "{}: a configuration file is at most {limit} bytes",
                path.display()
            )
        } else {
            format!("{}: {e}", path.display())
        }
    })
}

/// Why a node stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The store failed: the node stopped without writing more.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something else fatal.
    #[error(transparent)]
    Fatal(#[from] Fatal),
    /// Another session uses this forger's key (exit status 3: do not restart).
    #[error("stopped: {0}")]
    Doppelganger(String),
    /// A setting that cannot work (a board's LEDs that cannot be opened…).
    #[error("{0}")]
    Setup(String),
    /// Could not listen.
    #[error("listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// Answers the read-only queries from a store snapshot.
pub fn answer_from_store(store: &Store, query: Query) -> Result<Answer, StoreError> {
    let snap = store.snapshot()?;
    let tip = snap.tip()?;
    let proof_of = |id: &Hash| -> Result<Option<TxProof>, StoreError> {
        Ok(snap.tx_with_proof(id)?.map(|(tx, block, proof)| TxProof {
            tx,
            header: block.header,
            proof,
        }))
    };
    Ok(match query {
        Query::Tip => Answer::Tip(TipInfo {
            height: tip.height,
            hash: tip.hash,
            slot: tip.slot,
        }),
        Query::Account(pk) => Answer::Account(snap.account(&pk)?),
        Query::BlockAt(h) => Answer::Block(snap.block_at(h)?),
        Query::Block(h) => Answer::Block(snap.block(&h)?),
        Query::Tx(id) => Answer::Tx(proof_of(&id)?),
        Query::Record { owner, key } => match snap.record(&owner, &key)? {
            Some(r) => match proof_of(&r.tx)? {
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
        Query::Associations => {
            let mut out = Vec::new();
            for (k, v) in store.state_entries()? {
                if let (
                    crate::state::StateKey::Proposal(id),
                    crate::state::StateValue::Proposal(p),
                ) = (k, v)
                {
                    out.push((id, p));
                }
            }
            Answer::Associations(out)
        }
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
        Query::LiveForgers(epoch) => {
            Answer::LiveForgers(crate::schedule::live_forgers(store.params(), &snap, epoch)?)
        }
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
) -> Result<Vec<crate::block::Block>, StoreError> {
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

enum Event {
    Connected {
        conn: ConnId,
        hello: Box<Hello>,
        ip: IpAddr,
        outbox: smol::channel::Sender<Outgoing>,
        accepted: smol::channel::Sender<bool>,
        clock_offset_ms: i64,
    },
    Slot(u64),
    KernelClock(Option<bool>),
    Message(ConnId, Box<Message>),
    Violation(ConnId, ErrorCode, String),
    Closed(ConnId),
    Tick,
    Shutdown,
}

enum Outgoing {
    Msg(Message),
    Close(Message),
}

struct Shared {
    role: Role,
    forge: Option<Arc<crate::forge::ForgeShared>>,
    params: ChainParams,
    store: Arc<Store>,
    key: Keypair,
    advertise: Option<String>,
    limits: NodeLimits,
    events: smol::channel::Sender<Event>,
    bans: Mutex<Bans>,
    per_ip: Mutex<BTreeMap<IpAddr, usize>>,
    connections: AtomicUsize,
    lingering: AtomicUsize,
    next_conn: AtomicU64,
    dialing: Mutex<BTreeSet<String>>,
    stopping: AtomicBool,
    /// The node's own executor: every task of the node runs on it, so that
    /// when `serve` ends and drops it, no task is left holding the store.
    executor: std::sync::Weak<smol::Executor<'static>>,
}

/// What this process's log lines start with: `goodwill node`, or
/// `goodwill forge` once [`log_as_forger`] was called (one process, one
/// role; set by the command line before the appliance starts).
static LOG_NAME: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Makes this process's log lines say `goodwill forge:` (the appliance).
pub fn log_as_forger() {
    let _ = LOG_NAME.set("goodwill forge");
}

fn log(line: &str) {
    let name = LOG_NAME.get().copied().unwrap_or("goodwill node");
    eprintln!("{name}: {line}");
}

impl Shared {
    /// Runs a task on the node's executor (nothing, once the node has ended).
    fn spawn<T: Send + 'static>(
        &self,
        fut: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Option<smol::Task<T>> {
        self.executor.upgrade().map(|ex| ex.spawn(fut))
    }

    fn hello(&self) -> Result<Hello, StoreError> {
        hello(
            &self.store,
            self.role,
            &self.key,
            crate::os::random_bytes(),
            crate::os::now_ms(),
            self.advertise.as_deref(),
        )
    }

    fn banned(&self, ip: IpAddr) -> bool {
        self.bans
            .lock()
            .expect("bans lock")
            .banned(ip, crate::os::now_ms())
    }
}

/// A running node (for tests and the devnet): its address and a way to stop it.
pub struct RunningNode {
    /// The address it listens on.
    pub addr: SocketAddr,
    stop: smol::channel::Sender<()>,
    thread: Option<std::thread::JoinHandle<Result<(), NodeError>>>,
}

impl RunningNode {
    /// Stops the node cleanly and waits for it; returns how it ended.
    pub fn stop(mut self) -> Result<(), NodeError> {
        let _ = self.stop.try_send(());
        self.thread
            .take()
            .expect("joined once")
            .join()
            .unwrap_or_else(|_| Err(Fatal("the node thread panicked".into()).into()))
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        let _ = self.stop.try_send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a node on its own thread; returns once it listens.
pub fn spawn(config: NodeConfig) -> Result<RunningNode, NodeError> {
    let listener =
        smol::block_on(TcpListener::bind(config.listen)).map_err(|source| NodeError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| NodeError::Listen {
        addr: config.listen,
        source,
    })?;
    let (stop, stopped) = smol::channel::bounded::<()>(1);
    let thread = std::thread::Builder::new()
        .name("goodwill-node".into())
        .spawn(move || {
            futures_lite::future::block_on(serve(config, listener, async move {
                let _ = stopped.recv().await;
            }))
        })
        .expect("spawn the node thread");
    Ok(RunningNode {
        addr,
        stop,
        thread: Some(thread),
    })
}

/// Runs a node on `listener` until `shutdown` completes or a fatal error.
///
/// Drive it with `futures_lite::future::block_on`, not `smol::block_on`:
/// while a thread sits in smol's `block_on`, async-io's reactor thread
/// polls with a backoff after every event (about ten wake-ups each), which
/// would multiply an idle appliance's wake-ups per second; with a plain
/// `block_on` the reactor thread sleeps until there is something to do.
pub async fn serve(
    config: NodeConfig,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), NodeError> {
    // A forger's store skips the query indexes: they are most of what a full
    // block writes, and an SD card wears.
    let indexes = if config.forge.is_some() {
        crate::store::Indexes::Skip
    } else {
        crate::store::Indexes::Keep
    };
    let store = Arc::new(Store::open_with(&config.data, &config.params, indexes)?);
    let executor = Arc::new(smol::Executor::new());
    let result = executor
        .run(serve_on(
            config,
            listener,
            shutdown,
            store.clone(),
            &executor,
        ))
        .await;
    // Dropping the executor cancels every task still running (lingering
    // connections, dialers); then nothing but short-lived blocking reads can
    // hold the store, and the file is closed before we return.
    drop(executor);
    for _ in 0..500 {
        if Arc::strong_count(&store) == 1 {
            break;
        }
        smol::Timer::after(Duration::from_millis(10)).await;
    }
    drop(store);
    match result {
        Ok(()) => {
            log("stopped");
            Ok(())
        }
        Err(e) => {
            log(&format!("stopped on a fatal error: {e}"));
            Err(e)
        }
    }
}

async fn serve_on(
    config: NodeConfig,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
    store: Arc<Store>,
    executor: &Arc<smol::Executor<'static>>,
) -> Result<(), NodeError> {
    let local = listener.local_addr().map_err(|source| NodeError::Listen {
        addr: config.listen,
        source,
    })?;
    let advertise = Some(
        config
            .advertise
            .clone()
            .unwrap_or_else(|| local.to_string()),
    );
    let (events_tx, events_rx) = smol::channel::bounded::<Event>(8192);
    let role = if config.forge.is_some() {
        Role::Forger
    } else {
        Role::MainNode
    };
    let forge = config.forge.clone().map(|f| {
        Arc::new(crate::forge::ForgeShared::new(
            f,
            config.key.public(),
            config.params.clone(),
        ))
    });
    let shared = Arc::new(Shared {
        role,
        forge: forge.clone(),
        params: config.params.clone(),
        store: store.clone(),
        key: config.key.clone(),
        advertise: advertise.clone(),
        limits: config.limits,
        events: events_tx.clone(),
        bans: Mutex::default(),
        per_ip: Mutex::default(),
        connections: AtomicUsize::new(0),
        lingering: AtomicUsize::new(0),
        next_conn: AtomicU64::new(1),
        dialing: Mutex::default(),
        stopping: AtomicBool::new(false),
        executor: Arc::downgrade(executor),
    });
    let tip = store.tip()?;
    log(&format!(
        "listening on {local}; chain {} at height {} ({}); key {}",
        config.params.chain_id().short(),
        tip.height,
        tip.hash.short(),
        config.key.public()
    ));
    let core = Core::new(
        store.clone(),
        config.key.public(),
        advertise,
        config.limits.mempool,
        crate::os::now_ms(),
        match &config.forge {
            None => self::core::CoreOptions::main_node().reporting_with(config.key.clone()),
            Some(f) => self::core::CoreOptions::forger(config.key.clone(), f.clock_check),
        },
    );
    if let Some(f) = &forge {
        start_forger(f, executor, &events_tx).await?;
    }
    let core_shared = shared.clone();
    let (done_tx, done_rx) = smol::channel::bounded::<Result<(), NodeError>>(1);
    let core_thread = std::thread::Builder::new()
        .name("goodwill-core".into())
        .spawn(move || {
            let r = run_core(core, &core_shared, events_rx);
            let _ = done_tx.send_blocking(r);
        })
        .expect("spawn the core thread");

    for p in &config.peers {
        dial(shared.clone(), p.clone(), true);
    }
    // A main node ticks every second (sync retries); an appliance every
    // `forge::run::TICK_S`, which is how often it pets the systemd watchdog:
    // fewer wake-ups while idle.
    let tick = if config.forge.is_some() {
        Duration::from_secs(crate::forge::run::TICK_S)
    } else {
        Duration::from_millis(policy::MAIN_TICK_MS)
    };
    let ticker = {
        let events = events_tx.clone();
        executor.spawn(async move {
            loop {
                smol::Timer::after(tick).await;
                if events.send(Event::Tick).await.is_err() {
                    break;
                }
            }
        })
    };
    let accept = {
        let shared = shared.clone();
        async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let since = crate::os::now_ms();
                        let s2 = shared.clone();
                        if let Some(t) = shared
                            .spawn(async move { connection(s2, stream, peer, false, since).await })
                        {
                            t.detach();
                        }
                    }
                    Err(e) => {
                        log(&format!("accept: {e}"));
                        smol::Timer::after(Duration::from_millis(100)).await;
                    }
                }
            }
        }
    };
    enum End {
        Shutdown,
        Core(Result<(), NodeError>),
    }
    let end = future::or(
        async {
            accept.await;
            End::Shutdown
        },
        future::or(
            async {
                shutdown.await;
                End::Shutdown
            },
            async { End::Core(done_rx.recv().await.unwrap_or_else(|_| core_panicked())) },
        ),
    )
    .await;
    shared.stopping.store(true, Ordering::SeqCst);
    ticker.cancel().await;
    let result = match end {
        End::Shutdown => {
            log("shutting down: finishing the current write, closing the store");
            let _ = events_tx.send(Event::Shutdown).await;
            done_rx.recv().await.unwrap_or_else(|_| core_panicked())
        }
        End::Core(r) => r,
    };
    let _ = core_thread.join();
    drop(shared);
    result
}

/// How `serve` ends when the core thread ended without a word: it panicked
/// (not a clean stop: `goodwill forge` must not exit 0 for it).
fn core_panicked() -> Result<(), NodeError> {
    Err(Fatal("the core thread panicked".into()).into())
}

/// Starts the appliance's tasks: the slot timer, the kernel clock poll, the
/// LEDs and the metrics endpoint.
async fn start_forger(
    forge: &Arc<crate::forge::ForgeShared>,
    executor: &Arc<smol::Executor<'static>>,
    events: &smol::channel::Sender<Event>,
) -> Result<(), NodeError> {
    let fc = &forge.config;
    let leds = match &fc.leds {
        Some(l) => l.clone(),
        // No LEDs: the forge logs what they would show (see ForgeShared::refresh).
        None if fc.board.leds == crate::board::LedSource::None => {
            Arc::new(Mutex::new(crate::led::LedDriver::new(
                crate::led::AnyPin::Absent,
                crate::led::AnyPin::Absent,
                crate::led::AnyPin::Absent,
                Default::default(),
            )))
        }
        // The error names the profile's file and line already.
        None => Arc::new(Mutex::new(
            fc.board
                .open_leds()
                .map_err(|e| NodeError::Setup(e.to_string()))?,
        )),
    };
    executor.spawn(forge.clone().led_task(leds)).detach();
    let (slot_tx, slot_rx) = smol::channel::bounded::<u64>(4);
    executor.spawn(forge.clone().slot_timer(slot_tx)).detach();
    let ev = events.clone();
    executor
        .spawn(async move {
            while let Ok(s) = slot_rx.recv().await {
                if ev.send(Event::Slot(s)).await.is_err() {
                    break;
                }
            }
        })
        .detach();
    if fc.clock_check == crate::forge::state::ClockCheck::KernelAndPeers {
        let (clock_tx, clock_rx) = smol::channel::bounded::<Option<bool>>(1);
        executor.spawn(forge.clone().clock_poll(clock_tx)).detach();
        let ev = events.clone();
        executor
            .spawn(async move {
                while let Ok(c) = clock_rx.recv().await {
                    if ev.send(Event::KernelClock(c)).await.is_err() {
                        break;
                    }
                }
            })
            .detach();
    }
    if let Some(addr) = fc.metrics_listen {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|source| NodeError::Listen { addr, source })?;
        if let Ok(a) = l.local_addr() {
            log(&format!("metrics on http://{a}/metrics"));
        }
        executor.spawn(forge.clone().metrics_server(l)).detach();
    }
    if fc.clock_check == crate::forge::state::ClockCheck::Off {
        log("WARNING: --clock-check off: this forger signs blocks whatever its clock says; use it only in tests");
    }
    Ok(())
}

fn run_core(
    mut core: Core,
    shared: &Arc<Shared>,
    events: smol::channel::Receiver<Event>,
) -> Result<(), NodeError> {
    let mut outboxes: BTreeMap<ConnId, smol::channel::Sender<Outgoing>> = BTreeMap::new();
    // systemd (Type=notify): a main node is ready once its core runs (an
    // appliance only once synced: `ForgeShared::refresh`), and its core
    // thread pets the watchdog on each tick, so a stuck core stops the pets.
    if shared.forge.is_none() {
        notify_systemd(&[sd_notify::NotifyState::Ready]);
    }
    while let Ok(ev) = events.recv_blocking() {
        let now = crate::os::now_ms();
        let tick = matches!(ev, Event::Tick);
        let refresh = !matches!(ev, Event::Message(..) | Event::Violation(..));
        let actions = match ev {
            Event::Connected {
                conn,
                hello,
                ip,
                outbox,
                accepted,
                clock_offset_ms,
            } => {
                outboxes.insert(conn, outbox);
                let actions = core.connected(conn, &hello, ip, clock_offset_ms, now)?;
                let refused = actions
                    .iter()
                    .any(|a| matches!(a, Action::Close(c, _) if *c == conn));
                let _ = accepted.try_send(!refused);
                actions
            }
            Event::Message(conn, msg) => core.message(conn, *msg, now)?,
            Event::Violation(conn, code, why) => core.violation(conn, code, &why, now),
            Event::Closed(conn) => {
                outboxes.remove(&conn);
                core.closed(conn);
                Vec::new()
            }
            Event::Tick => core.tick(now)?,
            Event::KernelClock(c) => {
                core.set_kernel_clock(c);
                Vec::new()
            }
            Event::Slot(slot) => {
                // The core thread's own CPU time: what the slot cost.
                let cpu0 = crate::os::thread_cpu_ns();
                let bytes0 = shared.store.bytes_written();
                let mut actions = core.slot(slot, now)?;
                if let (Some(f), Some(c0)) = (&shared.forge, cpu0) {
                    let forged = actions.iter().any(|a| matches!(a, Action::Forged { .. }));
                    if forged {
                        let c1 = crate::os::thread_cpu_ns().unwrap_or(c0);
                        f.forged(
                            c1.saturating_sub(c0),
                            shared.store.bytes_written().saturating_sub(bytes0),
                        );
                    }
                    if slot % f.config.report_every_slots.max(1) == 0 {
                        // Figures first, so the report is current.
                        f.refresh(&core, shared.store.last_block_bytes(), now, false);
                        if let Some(r) = f.report() {
                            for conn in core.main_nodes() {
                                actions
                                    .push(Action::Send(conn, Message::Status(Box::new(r.clone()))));
                            }
                        }
                    }
                }
                actions
            }
            Event::Shutdown => {
                for (_, o) in std::mem::take(&mut outboxes) {
                    let _ = o.try_send(Outgoing::Close(Message::error(
                        ErrorCode::ShuttingDown,
                        "the node is shutting down",
                    )));
                }
                return Ok(());
            }
        };
        for a in actions {
            match a {
                Action::Send(conn, msg) => {
                    if let Some(o) = outboxes.get(&conn) {
                        if o.try_send(Outgoing::Msg(msg)).is_err() {
                            // A peer that does not read its messages is dropped.
                            let _ = o.try_send(Outgoing::Close(Message::error(
                                ErrorCode::Busy,
                                "too slow reading: outbox full",
                            )));
                            outboxes.remove(&conn);
                            core.closed(conn);
                        }
                    }
                }
                Action::Close(conn, msg) => {
                    if let Some(o) = outboxes.remove(&conn) {
                        let _ = o.try_send(Outgoing::Close(msg));
                    }
                }
                Action::Ban(ip, until) => {
                    shared.bans.lock().expect("bans lock").ban(ip, until);
                }
                Action::Dial(addr) => dial(shared.clone(), addr, false),
                Action::Log(line) => log(&line),
                Action::Forged { slot, height } => {
                    log(&format!("forged block {height} in slot {slot}"));
                }
                Action::Doppelganger(text) => {
                    log(&format!("a main node says: {text}"));
                    for (_, o) in std::mem::take(&mut outboxes) {
                        let _ = o.try_send(Outgoing::Close(Message::error(
                            ErrorCode::Doppelganger,
                            "stopping: another session uses this forger key",
                        )));
                    }
                    return Err(NodeError::Doppelganger(text));
                }
            }
        }
        if let Some(f) = &shared.forge {
            if refresh {
                f.refresh(&core, shared.store.last_block_bytes(), now, tick);
            }
        } else if tick {
            notify_systemd(&[sd_notify::NotifyState::Watchdog]);
        }
    }
    Ok(())
}

/// Tells systemd (nothing without `NOTIFY_SOCKET`); a failure is logged.
fn notify_systemd(states: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        log(&format!("systemd notify: {e}"));
    }
}

/// Keeps a connection to a main node: dials, and after a close or a failure
/// waits as [`Redial`] says (1 s doubling to 30 s, with jitter) and dials
/// again. `persistent` peers (configured ones) are retried for ever; learned
/// ones give up after five failures in a row.
fn dial(shared: Arc<Shared>, addr: String, persistent: bool) {
    if !shared
        .dialing
        .lock()
        .expect("dialing lock")
        .insert(addr.clone())
    {
        return;
    }
    let s2 = shared.clone();
    let addr2 = addr.clone();
    let task = s2.spawn(async move {
        let mut redial = Redial::new(persistent);
        while !shared.stopping.load(Ordering::SeqCst) {
            let dialled = future::or(async { Some(connect(&addr).await) }, async {
                smol::Timer::after(Duration::from_millis(policy::CONNECT_TIMEOUT_MS)).await;
                None
            });
            let established = match dialled.await.unwrap_or_else(|| {
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no answer: connection timed out",
                ))
            }) {
                Ok((stream, since)) => match stream.peer_addr() {
                    Ok(peer) => connection(shared.clone(), stream, peer, true, since).await,
                    Err(_) => false,
                },
                Err(e) => {
                    let failures = redial.failures() + 1;
                    if failures == 1 || failures.is_multiple_of(10) {
                        log(&format!("dial {addr}: {e}"));
                    }
                    false
                }
            };
            let Some(wait_ms) = redial.next(established, crate::os::random_u64()) else {
                break;
            };
            smol::Timer::after(Duration::from_millis(wait_ms)).await;
        }
        shared.dialing.lock().expect("dialing lock").remove(&addr);
    });
    match task {
        Some(t) => t.detach(),
        None => {
            s2.dialing.lock().expect("dialing lock").remove(&addr2);
        }
    }
}

/// Connects to `addr` (a name is resolved first); also returns the time
/// the attempt that succeeded started. The peer cannot have read its clock
/// for this connection earlier, so the handshake's clock offset is measured
/// from there: from any later point (this task may be polled late after the
/// connect completes, most of all on a busy board), the peer's clock would
/// seem to lag.
async fn connect(addr: &str) -> std::io::Result<(TcpStream, u64)> {
    let mut last = None;
    for sa in smol::net::resolve(addr).await? {
        let since = crate::os::now_ms();
        match TcpStream::connect(sa).await {
            Ok(stream) => return Ok((stream, since)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{addr} resolves to no address"),
        )
    }))
}

struct Slot<'a> {
    shared: &'a Shared,
    ip: IpAddr,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.shared.connections.fetch_sub(1, Ordering::SeqCst);
        let mut m = self.shared.per_ip.lock().expect("per-ip lock");
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// Serves one connection until it closes. Returns whether the handshake
/// completed and the node kept it. `since`: when the connection was dialled
/// or accepted (the clock offset's measure starts there).
async fn connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    outbound: bool,
    since: u64,
) -> bool {
    let _ = stream.set_nodelay(true);
    let ip = peer.ip();
    let mut writer = stream.clone();
    let mut reader = FrameReader::new(stream);
    if !outbound && shared.banned(ip) {
        let _ = frame::write(
            &mut writer,
            &Message::error(
                ErrorCode::Banned,
                "this address is banned for a while after misbehaving",
            ),
        )
        .await;
        linger(&shared, &mut writer).await;
        return false;
    }
    let count = shared.connections.fetch_add(1, Ordering::SeqCst) + 1;
    let per_ip = {
        let mut m = shared.per_ip.lock().expect("per-ip lock");
        let n = m.entry(ip).or_insert(0);
        *n += 1;
        *n
    };
    let _slot = Slot {
        shared: &shared,
        ip,
    };
    if count > shared.limits.max_connections || per_ip > shared.limits.max_per_ip {
        let _ = frame::write(
            &mut writer,
            &Message::error(ErrorCode::Busy, "too many connections"),
        )
        .await;
        linger(&shared, &mut writer).await;
        return false;
    }
    let hello = match shared.hello() {
        Ok(h) => h,
        Err(e) => {
            log(&format!("store: {e}"));
            return false;
        }
    };
    let (theirs, t1) = match future::or(
        handshake::run_timed(
            &mut reader,
            &mut writer,
            &shared.key,
            &hello,
            crate::os::now_ms,
        ),
        async {
            smol::Timer::after(Duration::from_secs(10)).await;
            Err(handshake::HandshakeError::Frame(FrameError::Io(
                std::io::Error::new(std::io::ErrorKind::TimedOut, "handshake timed out"),
            )))
        },
    )
    .await
    {
        Ok(h) => h,
        Err(e) => {
            log(&format!("handshake with {peer}: {e}"));
            if matches!(
                e,
                handshake::HandshakeError::BadSignature
                    | handshake::HandshakeError::OutOfTurn { .. }
                    | handshake::HandshakeError::Frame(FrameError::TooLarge { .. })
                    | handshake::HandshakeError::Frame(FrameError::Invalid(_))
            ) && !outbound
            {
                let until = crate::os::now_ms() + self::core::BAN_MS;
                shared.bans.lock().expect("bans lock").ban(ip, until);
            }
            linger(&shared, reader.get_mut()).await;
            return false;
        }
    };
    // This clock minus theirs, taking their clock as read half-way between
    // the dial (or accept) and the arrival of their Hello (the error is at
    // most half that time; the Auth step after it is not counted).
    let clock_offset_ms = handshake::clock_offset_ms(since, t1, theirs.clock_ms);
    let conn = shared.next_conn.fetch_add(1, Ordering::SeqCst);
    let (out_tx, out_rx) = smol::channel::bounded::<Outgoing>(shared.limits.outbox);
    let (acc_tx, acc_rx) = smol::channel::bounded::<bool>(1);
    let role = theirs.role;
    let replies = out_tx.clone();
    if shared
        .events
        .send(Event::Connected {
            conn,
            hello: Box::new(theirs),
            ip,
            outbox: out_tx,
            accepted: acc_tx,
            clock_offset_ms,
        })
        .await
        .is_err()
    {
        return false;
    }
    let accepted = acc_rx.recv().await.unwrap_or(false);
    // The writer drains the outbox until told to close; the reader runs
    // beside it in the same task.
    let writer_part = async move {
        while let Ok(o) = out_rx.recv().await {
            match o {
                Outgoing::Msg(m) => {
                    if frame::write(&mut writer, &m).await.is_err() {
                        break;
                    }
                }
                Outgoing::Close(m) => {
                    let _ = frame::write(&mut writer, &m).await;
                    break;
                }
            }
        }
        let _ = writer.shutdown(std::net::Shutdown::Both);
    };
    let reader_part = async {
        if accepted {
            read_loop(&shared, conn, role, &mut reader, &replies).await;
        }
        // The writer ends when the core closes the connection or drops its
        // outbox; this sender must not keep it alive.
        drop(replies);
        let _ = shared.events.send(Event::Closed(conn)).await;
    };
    future::zip(reader_part, writer_part).await;
    linger(&shared, reader.get_mut()).await;
    accepted
}

/// Connections [`linger`]ing at once; beyond that they close at once (a
/// banned address's refusals are not counted as connections).
const MAX_LINGERING: usize = 64;

/// Ends a connection so that a refusal's Error frame reaches the peer: stops
/// sending, then reads and drops what the peer had sent and the node had not
/// read (at most 64 KiB, for at most a second). Closing a socket with unread
/// bytes sends a reset, and the peer's kernel drops the Error frame with it.
async fn linger(shared: &Shared, stream: &mut TcpStream) {
    use futures_lite::AsyncReadExt;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let others = shared.lingering.fetch_add(1, Ordering::SeqCst);
    let _done = Lingering(&shared.lingering);
    if others >= MAX_LINGERING {
        return;
    }
    let drain = async {
        let mut scratch = [0u8; 4096];
        let mut total = 0;
        while total < 64 * 1024 {
            match stream.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let timeout = async {
        smol::Timer::after(Duration::from_secs(1)).await;
    };
    future::or(drain, timeout).await;
}

struct Lingering<'a>(&'a AtomicUsize);

impl Drop for Lingering<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn read_loop(
    shared: &Arc<Shared>,
    conn: ConnId,
    role: Role,
    reader: &mut FrameReader<TcpStream>,
    replies: &smol::channel::Sender<Outgoing>,
) {
    let limit = wire::frame_limit(role, shared.params.limits().max_block_bytes);
    let mut flood = FloodGate::new(shared.limits.max_msgs_per_s, crate::os::now_ms());
    loop {
        let msg = match reader.read(limit).await {
            Ok(m) => m,
            // A connection cut, even in the middle of a frame, is a network
            // failure as much as a fault: closed, not banned.
            Err(FrameError::Closed)
            | Err(FrameError::Truncated { .. })
            | Err(FrameError::Io(_)) => return,
            Err(e) => {
                let _ = shared
                    .events
                    .send(Event::Violation(conn, ErrorCode::Malformed, e.to_string()))
                    .await;
                return;
            }
        };
        // Flooding: more than the allowed rate over a 10 s window.
        if !flood.allow(crate::os::now_ms()) {
            let _ = shared
                .events
                .send(Event::Violation(
                    conn,
                    ErrorCode::Misbehaving,
                    "flooding: too many messages".into(),
                ))
                .await;
            return;
        }
        match msg {
            // Reads served here, from a snapshot: they never wait for the writer.
            Message::Query {
                id,
                query: Query::Appliance,
            } => {
                let answer = match shared.forge.as_ref().and_then(|f| f.status()) {
                    Some(s) => Answer::Appliance(Box::new(s)),
                    None => Answer::Error("not a forging appliance (or no figures yet)".into()),
                };
                let _ = replies
                    .send(Outgoing::Msg(Message::Answer {
                        id,
                        answer: Box::new(answer),
                    }))
                    .await;
            }
            Message::Query { id, query }
                if !matches!(query, Query::Status | Query::Forgers | Query::NextNonce(_)) =>
            {
                let store = shared.store.clone();
                let answer = smol::unblock(move || answer_from_store(&store, query)).await;
                let answer = match answer {
                    Ok(a) => a,
                    Err(e) => {
                        log(&format!("store: {e}"));
                        Answer::Error(e.to_string())
                    }
                };
                let _ = replies
                    .send(Outgoing::Msg(Message::Answer {
                        id,
                        answer: Box::new(answer),
                    }))
                    .await;
            }
            Message::GetBlocks { id, from, count } if role != Role::Client => {
                let store = shared.store.clone();
                let blocks = smol::unblock(move || blocks_from_store(&store, from, count))
                    .await
                    .unwrap_or_default();
                let _ = replies
                    .send(Outgoing::Msg(Message::Blocks { id, blocks }))
                    .await;
            }
            other => {
                if shared
                    .events
                    .send(Event::Message(conn, Box::new(other)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("node.toml");
        std::fs::write(&p, "listen = \"127.0.0.1:7070\"\n").unwrap();
        assert_eq!(
            NodeFile::load(&p).unwrap().listen.as_deref(),
            Some("127.0.0.1:7070")
        );
        std::fs::write(
            &p,
            "#".repeat(crate::limits::CONFIG_FILE_BYTES as usize + 1),
        )
        .unwrap();
        let e = NodeFile::load(&p).unwrap_err();
        assert!(e.contains("at most"), "{e}");
        std::fs::write(&p, "colour = \"blue\"\n").unwrap();
        let e = NodeFile::load(&p).unwrap_err();
        assert!(e.contains("colour"), "{e}");
    }
}
