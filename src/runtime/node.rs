//! `goodwill node`: a main node. The decisions live in [`core`], and the
//! loop that feeds it events and carries out its actions in
//! [`crate::peer::driver`] (shared with the simulation); this file is the
//! runtime around them — TCP on smol, the handshake, one task per
//! connection, one thread that owns the core and the store's writer,
//! signals, bans and limits.
//!
//! Threads: the smol executor runs the listener and every connection; the
//! core thread receives their events over a bounded channel, imports blocks
//! (one durable commit each) and answers through per-connection outboxes.
//! Queries that only read the store are answered by the connection's own
//! task from a read snapshot, so they never wait for the writer.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_lite::future;
use smol::net::{TcpListener, TcpStream};

use crate::chain::crypto::Keypair;
use crate::chain::genesis::ChainParams;
use crate::ledger::mempool::MempoolLimits;
use crate::peer::core::{Action, ConnId, Core, Fatal};
use crate::peer::driver::{AfterSlot, Closed, Driver, Full, Outside, Reports, Stop};
use crate::peer::policy::{self, ConnTable, Door, FloodGate, LogGate, LogVerdict, Redial, Refusal};
use crate::peer::queries::{answer_from_store, blocks_from_store, hello};
use crate::store::{Store, StoreError};
use crate::wire::frame::{self, FrameBudget, FrameError, FrameReader};
use crate::wire::{self, handshake, limits, Answer, ErrorCode, Hello, Message, Query, Role};

/// Per-node bounds.
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    /// Connections at once; one in [`policy::RESERVED_DIVISOR`] is kept for
    /// trusted sessions (main nodes this node dialled, live forgers), and
    /// when the rest are full a newcomer takes the place of the oldest
    /// untrusted connection of the address holding the most.
    pub max_connections: usize,
    /// Untrusted connections at once from one IP address.
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
    pub forge: Option<crate::runtime::forge::ForgeConfig>,
    /// A main node's HTTP/JSON API and `/metrics` (None: off).
    pub http: Option<crate::runtime::http::HttpConfig>,
    /// A main node's releases directory, offered to its live forgers
    /// ([`crate::runtime::update::serve`]; None: none offered).
    pub releases: Option<PathBuf>,
}

impl NodeError {
    /// Whether the node stopped because its store failed (the forger then
    /// waits in its storage-error state: `runtime::forge::run::storage_error_state`).
    pub fn is_storage(&self) -> bool {
        matches!(self, NodeError::Store(_) | NodeError::Fatal(_))
    }
}

/// Why a node stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The store failed: the node stopped without writing more.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The core stopped on a fatal failure: its store's (see [`Fatal`]).
    #[error(transparent)]
    Fatal(#[from] Fatal),
    /// A thread of the node panicked.
    #[error("{0}")]
    Panicked(String),
    /// Another session uses this forger's key (exit status 3: do not restart).
    #[error("stopped: {0}")]
    Doppelganger(String),
    /// A setting that cannot work (a board's LEDs that cannot be opened…).
    #[error("{0}")]
    Setup(String),
    /// The HTTP API could not start.
    #[error(transparent)]
    Http(#[from] crate::runtime::http::HttpError),
    /// Could not listen.
    #[error("listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

enum Event {
    Connected {
        conn: ConnId,
        hello: Box<Hello>,
        ip: IpAddr,
        outbox: smol::channel::Sender<Outgoing>,
        accepted: smol::channel::Sender<bool>,
        clock: handshake::ClockSample,
    },
    Slot(u64),
    KernelClock(Option<bool>),
    Message(ConnId, Box<Message>),
    Violation(ConnId, ErrorCode, String),
    Closed(ConnId),
    Tick,
    Shutdown,
    /// A request of the HTTP API (runtime::http::link).
    Http(crate::runtime::http::link::Envelope),
}

enum Outgoing {
    Msg(Message),
    Close(Message),
}

struct Shared {
    role: Role,
    forge: Option<Arc<crate::runtime::forge::ForgeShared>>,
    params: ChainParams,
    store: Arc<Store>,
    key: Keypair,
    advertise: Option<String>,
    limits: NodeLimits,
    events: smol::channel::Sender<Event>,
    /// Admission (bans, caps, reserved places, eviction of the oldest
    /// untrusted, who may use a forger's port, trust): the same door the
    /// simulation's nodes have.
    door: Mutex<Door>,
    /// How to close a connection the table evicted.
    kills: Mutex<BTreeMap<ConnId, smol::channel::Sender<()>>>,
    /// The chain's live forgers (this epoch and the next), refreshed by the
    /// core thread: their sessions are trusted and may send blocks.
    forger_keys: Mutex<BTreeSet<crate::chain::crypto::PublicKey>>,
    /// A main node's releases directory (its forgers fetch from it).
    releases: Option<PathBuf>,
    /// Frame buffers beyond each connection's first chunk, all together.
    budget: Arc<FrameBudget>,
    /// Log lines about failed and hostile connections, per source.
    log_gate: Mutex<LogGate>,
    /// A forger's: refused as a doppelganger lately (its dialers back off).
    held: AtomicBool,
    lingering: AtomicUsize,
    next_conn: AtomicU64,
    dialing: Mutex<BTreeSet<String>>,
    stopping: AtomicBool,
    /// What the core thread publishes for the HTTP API and `/metrics`.
    figures: Arc<crate::runtime::http::Figures>,
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

/// Logs `line` at `level`, as `goodwill node: …` or `goodwill forge: …`.
fn log_at(level: log::Level, line: &str) {
    let name = LOG_NAME.get().copied().unwrap_or("goodwill node");
    log::log!(level, "{name}: {line}");
}

fn log(line: &str) {
    log_at(log::Level::Info, line);
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
            crate::runtime::os::random_bytes(),
            crate::runtime::os::now_ms(),
            self.advertise.as_deref(),
        )
    }

    /// Logs a line about a connection from `ip`, unless that source has
    /// had its share of lines lately (see [`LogGate`]).
    fn log_from(&self, ip: IpAddr, line: &str) {
        let verdict = self
            .log_gate
            .lock()
            .expect("log gate lock")
            .note(ip, crate::runtime::os::now_ms());
        if verdict == LogVerdict::Write {
            log(line);
        }
    }

    /// Summary lines for the sources whose lines were dropped.
    fn log_summaries(&self) {
        let dropped = self
            .log_gate
            .lock()
            .expect("log gate lock")
            .summary(crate::runtime::os::now_ms());
        for (ip, n) in dropped {
            match ip {
                Some(ip) => log(&format!(
                    "{n} more lines about connections from {ip} in the last {} s were not logged",
                    LogGate::WINDOW_MS / 1000
                )),
                None => log(&format!(
                    "{n} more lines about connections from other sources in the last {} s were not logged",
                    LogGate::WINDOW_MS / 1000
                )),
            }
        }
    }

    fn ban(&self, ip: IpAddr, until_ms: u64) {
        self.door.lock().expect("door lock").ban(ip, until_ms);
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
            .unwrap_or_else(|_| Err(NodeError::Panicked("the node thread panicked".into())))
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
            log_at(log::Level::Error, &format!("stopped on a fatal error: {e}"));
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
    let role = if config.forge.is_some() {
        Role::Forger
    } else {
        Role::MainNode
    };
    let (events_tx, events_rx) = smol::channel::bounded::<Event>(policy::events_queue(role));
    let forge = config.forge.clone().map(|f| {
        Arc::new(crate::runtime::forge::ForgeShared::new(
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
        door: Mutex::new(Door::new(
            role,
            ConnTable::new(
                config.limits.max_connections,
                config.limits.max_per_ip,
                config.limits.max_connections / policy::RESERVED_DIVISOR,
            ),
        )),
        kills: Mutex::default(),
        forger_keys: Mutex::default(),
        budget: FrameBudget::new(policy::FRAME_BUDGET),
        log_gate: Mutex::default(),
        held: AtomicBool::new(false),
        lingering: AtomicUsize::new(0),
        next_conn: AtomicU64::new(1),
        dialing: Mutex::default(),
        stopping: AtomicBool::new(false),
        figures: Arc::default(),
        executor: Arc::downgrade(executor),
        releases: config.releases.clone().filter(|_| role == Role::MainNode),
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
        crate::runtime::os::now_ms(),
        match &config.forge {
            None => crate::peer::core::CoreOptions::main_node().reporting_with(config.key.clone()),
            Some(f) => {
                let opts =
                    crate::peer::core::CoreOptions::forger(config.key.clone(), f.clock_check)
                        .doppelganger_retry_ms(f.doppelganger_retry_ms)
                        .durable_blocks(f.durable_blocks)
                        .durable_ms(f.durable_ms)
                        .keep_all_blocks(f.keep_all_blocks);
                #[cfg(feature = "fault-injection")]
                let opts = opts.after_record(crate::runtime::forge::stall_after_record);
                opts
            }
        },
    );
    if let Some(f) = &forge {
        start_forger(f, executor, &events_tx).await?;
        if let Some(fetch) = release_fetch(&config) {
            executor.spawn(fetch).detach();
        }
    }
    if let (Some(h), None) = (&config.http, &forge) {
        // The API reaches the core through the event queue, never waiting
        // for a place in it (a full queue is a 503).
        let events = events_tx.clone();
        let link = crate::runtime::http::link::CoreLink::new(move |e| {
            events
                .try_send(Event::Http(e))
                .map_err(|e| match e.into_inner() {
                    Event::Http(e) => e,
                    _ => unreachable!("sent an Http event"),
                })
        });
        let api =
            crate::runtime::http::Api::new(store.clone(), shared.figures.clone(), &config.key)
                .with_core(link);
        crate::runtime::http::start(h, api, executor).await?;
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
    // One choice for the runtime and the simulation (an appliance's tick
    // also pets the systemd watchdog).
    let tick = Duration::from_millis(policy::tick_ms(role));
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
    let summaries = {
        let shared = shared.clone();
        executor.spawn(async move {
            loop {
                smol::Timer::after(Duration::from_secs(10)).await;
                shared.log_summaries();
            }
        })
    };
    let accept = {
        let shared = shared.clone();
        async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let since = crate::runtime::os::now_ms();
                        let s2 = shared.clone();
                        if let Some(t) = shared
                            .spawn(async move { connection(s2, stream, peer, false, since).await })
                        {
                            t.detach();
                        }
                    }
                    Err(e) => {
                        log_at(log::Level::Warn, &format!("accept: {e}"));
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
    summaries.cancel().await;
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

/// A forger's release fetch (every `update.poll_s`, when it trusts a
/// release key): asks its main nodes for a newer release and takes it on
/// trial ([`crate::runtime::update::fetch`]); the watch restarts into it.
fn release_fetch(config: &NodeConfig) -> Option<impl std::future::Future<Output = ()>> {
    use crate::runtime::update::fetch::{fetch_blocking, Fetch, Fetched};
    let u = config.forge.as_ref()?.update.clone()?;
    if u.keys.is_empty() || u.poll_ms == 0 {
        return None;
    }
    let fetch = Fetch {
        dir: u.dir,
        keys: u.keys,
        running: u.running,
        mains: config.peers.clone(),
        key: config.key.clone(),
        chain_id: config.params.chain_id(),
    };
    let poll_ms = u.poll_ms;
    Some(async move {
        // A fleet powered on together does not ask at one instant.
        let jitter = |span: u64| {
            let r = u64::from_le_bytes(crate::runtime::os::random_bytes());
            r % span.max(1)
        };
        let mut wait = poll_ms.min(10_000) + jitter(poll_ms / 10);
        let mut last: Option<String> = None;
        loop {
            smol::Timer::after(Duration::from_millis(wait)).await;
            wait = poll_ms - poll_ms / 10 + jitter(poll_ms / 5);
            let said = match fetch_blocking(fetch.clone(), crate::runtime::os::now_ms()).await {
                Ok(Fetched::Nothing) => None,
                Ok(Fetched::Taken {
                    version,
                    counter,
                    from,
                }) => {
                    log(&format!(
                        "update: release {version} (counter {counter}) fetched from {from}, checked and taken on trial"
                    ));
                    None
                }
                Ok(Fetched::Refused(why)) => Some(format!("update: refused: {why}")),
                Err(e) => Some(format!("update: fetching: {e}")),
            };
            // The same refusal is said once, not every poll.
            if let Some(s) = &said {
                if last.as_ref() != Some(s) {
                    log_at(log::Level::Warn, s);
                }
            }
            last = said;
        }
    })
}

/// A release query's answer from a main node's releases directory.
fn answer_release(dir: &std::path::Path, query: Query) -> Answer {
    use crate::runtime::update::serve;
    let r = match query {
        Query::Release { target } => serve::offer(dir, &target.lossy()).and_then(|t| {
            t.map(|t| crate::chain::codec::Bytes::new(t.into_bytes()))
                .transpose()
                .map_err(|e| format!("a manifest in {}: {e}", dir.display()))
                .map(Answer::Release)
        }),
        Query::ReleaseBytes { sha256, offset } => {
            serve::chunk(dir, &sha256, offset, wire::limits::RELEASE_CHUNK).and_then(|b| {
                crate::chain::codec::Bytes::new(b)
                    .map(Answer::ReleaseBytes)
                    .map_err(|e| e.to_string())
            })
        }
        _ => Err("not a release query".into()),
    };
    r.unwrap_or_else(|e| {
        log_at(log::Level::Warn, &format!("releases: {e}"));
        Answer::Error(e)
    })
}

/// How `serve` ends when the core thread ended without a word: it panicked
/// (not a clean stop: `goodwill forge` must not exit 0 for it).
fn core_panicked() -> Result<(), NodeError> {
    Err(NodeError::Panicked("the core thread panicked".into()))
}

/// Starts the appliance's tasks: the slot timer, the kernel clock poll, the
/// LEDs and the metrics endpoint.
async fn start_forger(
    forge: &Arc<crate::runtime::forge::ForgeShared>,
    executor: &Arc<smol::Executor<'static>>,
    events: &smol::channel::Sender<Event>,
) -> Result<(), NodeError> {
    let fc = &forge.config;
    let leds = match &fc.leds {
        Some(l) => l.clone(),
        // No LEDs: the forge logs what they would show (see ForgeShared::refresh).
        None if fc.board.leds == crate::runtime::board::LedSource::None => {
            Arc::new(Mutex::new(crate::runtime::led::LedDriver::new(
                crate::runtime::led::AnyPin::Absent,
                crate::runtime::led::AnyPin::Absent,
                crate::runtime::led::AnyPin::Absent,
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
    if fc.clock_check == crate::peer::forging::ClockCheck::KernelAndPeers {
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
        crate::runtime::http::serve(
            l,
            crate::runtime::http::appliance::ApplianceMetrics::new(forge.clone()),
            crate::runtime::http::appliance::METRICS_LIMITS,
            executor,
        );
    }
    if fc.clock_check == crate::peer::forging::ClockCheck::Off {
        log_at(log::Level::Warn, "WARNING: --clock-check off: this forger signs blocks whatever its clock says; use it only in tests");
    }
    Ok(())
}

/// The outside world of the core thread's [`Driver`]: each connection's
/// outbox and verdict channel, and what the connection tasks share.
struct Tcp<'a> {
    shared: &'a Arc<Shared>,
    outboxes: BTreeMap<ConnId, smol::channel::Sender<Outgoing>>,
    /// Where each new session hears whether the core kept it.
    verdicts: BTreeMap<ConnId, smol::channel::Sender<bool>>,
    /// The core thread's CPU time and the store's bytes written when the
    /// slot began: what forging it cost.
    slot_began: Option<(u64, u64)>,
}

impl Outside for Tcp<'_> {
    fn send(&mut self, conn: ConnId, msg: Message) -> Result<(), Full> {
        match self.outboxes.get(&conn) {
            Some(o) => {
                if o.len() >= self.shared.limits.outbox || o.try_send(Outgoing::Msg(msg)).is_err() {
                    Err(Full)
                } else {
                    Ok(())
                }
            }
            None => Ok(()),
        }
    }

    fn close(&mut self, conn: ConnId, msg: Message) -> Closed {
        if let Some(o) = self.outboxes.remove(&conn) {
            let _ = o.try_send(Outgoing::Close(msg));
        }
        // The connection's task says when it is gone (`Event::Closed`).
        Closed::Later
    }

    fn ban(&mut self, ip: IpAddr, until_ms: u64) {
        self.shared.ban(ip, until_ms);
        self.shared.figures.banned();
    }

    fn dial(&mut self, addr: String) {
        dial(self.shared.clone(), addr, false);
    }

    fn log(&mut self, level: log::Level, line: String) {
        log_at(level, &line);
    }

    fn verdict(&mut self, conn: ConnId, accepted: bool) {
        if let Some(v) = self.verdicts.remove(&conn) {
            let _ = v.try_send(accepted);
        }
    }

    fn forger_keys(&mut self, keys: BTreeSet<crate::chain::crypto::PublicKey>) {
        *self.shared.forger_keys.lock().expect("forger keys lock") = keys;
    }

    fn slot_begins(&mut self, _core: &Core) {
        self.slot_began =
            crate::runtime::os::thread_cpu_ns().map(|cpu| (cpu, self.shared.store.bytes_written()));
    }

    fn slot_ends(
        &mut self,
        core: &Core,
        slot: u64,
        result: &Result<Vec<Action>, Fatal>,
        now_ms: u64,
    ) -> AfterSlot {
        let (Some(f), Some((c0, bytes0)), Ok(actions)) =
            (&self.shared.forge, self.slot_began.take(), result)
        else {
            return AfterSlot::Go(None);
        };
        let store = &self.shared.store;
        if actions.iter().any(|a| matches!(a, Action::Forged { .. })) {
            let c1 = crate::runtime::os::thread_cpu_ns().unwrap_or(c0);
            f.forged(
                c1.saturating_sub(c0),
                store.bytes_written().saturating_sub(bytes0),
            );
        }
        // Right after a slot's work: the moment a restart for a new
        // release waits for, when one is pending.
        f.update_moment(core, now_ms);
        let every = f.config.report_every_slots;
        if slot.is_multiple_of(every.max(1)) {
            // Figures first, so the report is current.
            f.refresh(core, store.last_block_bytes(), now_ms, false);
        }
        AfterSlot::Go(Some(Reports {
            every_slots: every,
            machine: f.machine(),
        }))
    }
}

impl Tcp<'_> {
    /// Closes every connection with `code`: the node stops.
    fn close_all(&mut self, code: ErrorCode, why: &str) {
        for (_, o) in std::mem::take(&mut self.outboxes) {
            let _ = o.try_send(Outgoing::Close(Message::error(code, why)));
        }
    }
}

fn run_core(
    mut core: Core,
    shared: &Arc<Shared>,
    events: smol::channel::Receiver<Event>,
) -> Result<(), NodeError> {
    let mut driver = Driver::new().tracking_forger_keys(shared.params.clone());
    let mut tcp = Tcp {
        shared,
        outboxes: BTreeMap::new(),
        verdicts: BTreeMap::new(),
        slot_began: None,
    };
    driver.refresh_forger_keys(&core, &mut tcp, crate::runtime::os::now_ms());
    // What the HTTP API and `/metrics` show: published on every tick.
    shared
        .figures
        .publish(core.status(crate::runtime::os::now_ms())?);
    // systemd (Type=notify): a main node is ready once its core runs (an
    // appliance only once synced: `ForgeShared::refresh`), and its core
    // thread pets the watchdog on each tick, so a stuck core stops the pets.
    // A READY the service manager had no room for is sent again with the
    // next tick's watchdog pet.
    let mut ready_told = shared.forge.is_some() || notify_systemd(&[sd_notify::NotifyState::Ready]);
    let mut trimmed_at = 0;
    while let Ok(ev) = events.recv_blocking() {
        let now = crate::runtime::os::now_ms();
        let tick = matches!(ev, Event::Tick);
        let refresh = !matches!(
            ev,
            Event::Message(..) | Event::Violation(..) | Event::Http(..)
        );
        let done = match ev {
            Event::Connected {
                conn,
                hello,
                ip,
                outbox,
                accepted,
                clock,
            } => {
                tcp.outboxes.insert(conn, outbox);
                tcp.verdicts.insert(conn, accepted);
                driver.connected(&mut core, &mut tcp, conn, &hello, ip, clock, now)
            }
            Event::Message(conn, msg) => driver.message(&mut core, &mut tcp, conn, *msg, now),
            Event::Violation(conn, code, why) => {
                driver.violation(&mut core, &mut tcp, conn, code, &why, now)
            }
            Event::Closed(conn) => {
                tcp.outboxes.remove(&conn);
                tcp.verdicts.remove(&conn);
                driver.closed(&mut core, conn);
                Ok(())
            }
            Event::Tick => {
                let imported = shared.store.blocks_imported();
                if policy::trim_due(imported, trimmed_at) {
                    crate::runtime::os::release_free_memory();
                    if shared.role == Role::Forger {
                        crate::runtime::os::release_unused_code();
                    }
                    trimmed_at = imported;
                }
                shared.figures.publish(core.status(now)?);
                // The explorer's forger table, published beside the status.
                if let Answer::Forgers(table) = core.answer(Query::Forgers, now)? {
                    shared.figures.publish_forgers(table);
                }
                driver.tick(&mut core, &mut tcp, now)
            }
            Event::KernelClock(c) => {
                core.set_kernel_clock(c);
                Ok(())
            }
            Event::Slot(slot) => driver.slot(&mut core, &mut tcp, slot, now),
            Event::Http(envelope) => {
                let ask = envelope.ask.clone();
                driver
                    .ask(&mut core, &mut tcp, ask, now)
                    .map(|told| envelope.answer(told))
            }
            Event::Shutdown => {
                tcp.close_all(ErrorCode::ShuttingDown, "the node is shutting down");
                return Ok(());
            }
        };
        match done {
            Ok(()) => {}
            Err(Stop::Fatal(e)) => return Err(e.into()),
            Err(Stop::Doppelganger(text)) => {
                log_at(
                    log::Level::Error,
                    &format!("stopping: a main node says: {text}"),
                );
                tcp.close_all(
                    ErrorCode::Doppelganger,
                    "stopping: another session uses this forger key",
                );
                return Err(NodeError::Doppelganger(text));
            }
        }
        shared
            .held
            .store(core.doppelganger_held(now), Ordering::SeqCst);
        if let Some(f) = &shared.forge {
            if refresh {
                f.refresh(&core, shared.store.last_block_bytes(), now, tick);
            }
        } else if tick {
            if ready_told {
                notify_systemd(&[sd_notify::NotifyState::Watchdog]);
            } else {
                ready_told = notify_systemd(&[
                    sd_notify::NotifyState::Ready,
                    sd_notify::NotifyState::Watchdog,
                ]);
            }
        }
    }
    Ok(())
}

/// Tells systemd (nothing without `NOTIFY_SOCKET`), never waiting; a
/// failure is logged. Returns false if the notice was dropped because the
/// service manager's queue was full (it is worth sending again).
fn notify_systemd(states: &[sd_notify::NotifyState]) -> bool {
    match crate::runtime::os::notify_systemd(states) {
        Ok(sent) => sent,
        Err(e) => {
            log_at(log::Level::Warn, &format!("systemd notify: {e}"));
            true
        }
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
                // A session that ended in a doppelganger refusal counts as
                // a failure: the dialer backs off.
                Ok((stream, since)) => match stream.peer_addr() {
                    Ok(peer) => {
                        connection(shared.clone(), stream, peer, true, since).await
                            && !shared.held.load(Ordering::SeqCst)
                    }
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
            let Some(wait_ms) = redial.next(established, crate::runtime::os::random_u64()) else {
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
        let since = crate::runtime::os::now_ms();
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

/// A connection's place in the [`ConnTable`]; given back on drop.
struct Slot<'a> {
    shared: &'a Shared,
    conn: ConnId,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.shared.door.lock().expect("door lock").left(self.conn);
        self.shared
            .kills
            .lock()
            .expect("kills lock")
            .remove(&self.conn);
    }
}

/// Takes a place for connection `conn` from `ip`, closing an older
/// untrusted connection if the door says so; or why it is refused (a
/// banned address, no place).
fn take_place<'a>(
    shared: &'a Shared,
    conn: ConnId,
    ip: IpAddr,
    outbound: bool,
) -> Result<(Slot<'a>, smol::channel::Receiver<()>), Refusal> {
    let evict = shared.door.lock().expect("door lock").arrive(
        conn,
        ip,
        outbound,
        crate::runtime::os::now_ms(),
    )?;
    let (kill_tx, kill_rx) = smol::channel::bounded::<()>(1);
    let mut kills = shared.kills.lock().expect("kills lock");
    if let Some(old) = evict {
        if let Some(k) = kills.remove(&old) {
            let _ = k.try_send(());
        }
    }
    kills.insert(conn, kill_tx);
    Ok((Slot { shared, conn }, kill_rx))
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
    let mut reader = FrameReader::with_budget(stream, shared.budget.clone());
    let conn = shared.next_conn.fetch_add(1, Ordering::SeqCst);
    let (_slot, kill) = match take_place(&shared, conn, ip, outbound) {
        Ok(place) => place,
        Err(refused) => {
            let _ = frame::write(&mut writer, &Message::error(refused.code, refused.why)).await;
            linger(&shared, &mut writer).await;
            return false;
        }
    };
    let evicted = || async {
        let _ = kill.recv().await;
    };
    let hello = match shared.hello() {
        Ok(h) => h,
        Err(e) => {
            log_at(log::Level::Error, &format!("store: {e}"));
            return false;
        }
    };
    // Lives for one await on this task's stack; its size does not matter.
    #[allow(clippy::large_enum_variant)]
    enum Shake {
        Done(Result<(Hello, u64), handshake::HandshakeError>),
        Evicted,
    }
    let shake = future::or(
        async {
            Shake::Done(
                future::or(
                    handshake::run_timed(
                        &mut reader,
                        &mut writer,
                        &shared.key,
                        &hello,
                        crate::runtime::os::now_ms,
                    ),
                    async {
                        smol::Timer::after(Duration::from_millis(limits::HANDSHAKE_MS)).await;
                        Err(handshake::HandshakeError::Frame(FrameError::Io(
                            std::io::Error::new(
                                std::io::ErrorKind::TimedOut,
                                "handshake timed out",
                            ),
                        )))
                    },
                )
                .await,
            )
        },
        async {
            evicted().await;
            Shake::Evicted
        },
    )
    .await;
    let (theirs, t1) = match shake {
        Shake::Done(Ok(h)) => h,
        Shake::Evicted => {
            let _ = frame::write(
                reader.get_mut(),
                &Message::error(
                    ErrorCode::Busy,
                    "too many connections: the oldest untrusted ones make room",
                ),
            )
            .await;
            linger(&shared, reader.get_mut()).await;
            return false;
        }
        Shake::Done(Err(e)) => {
            shared.log_from(ip, &format!("handshake with {peer}: {e}"));
            if matches!(
                e,
                handshake::HandshakeError::BadSignature
                    | handshake::HandshakeError::OutOfTurn { .. }
                    | handshake::HandshakeError::Frame(FrameError::TooLarge { .. })
                    | handshake::HandshakeError::Frame(FrameError::Invalid(_))
            ) && !outbound
            {
                let until = crate::runtime::os::now_ms() + crate::peer::core::BAN_MS;
                shared.ban(ip, until);
            }
            linger(&shared, reader.get_mut()).await;
            return false;
        }
    };
    // The door's second check: a forger's listening port is for reading
    // its status (clients only; the main nodes that may steer its sync and
    // clock are the ones it dialled); trust for a main node this node
    // dialled and a forger whose key forges.
    let forges = shared
        .forger_keys
        .lock()
        .expect("forger keys lock")
        .contains(&theirs.key);
    let door = shared
        .door
        .lock()
        .expect("door lock")
        .hello(conn, theirs.role, forges, outbound);
    if let Err(refused) = door {
        shared.log_from(
            ip,
            &format!(
                "refused a {} session from {peer}: this forger's status port serves clients only",
                theirs.role.name()
            ),
        );
        let _ = frame::write(&mut writer, &Message::error(refused.code, refused.why)).await;
        linger(&shared, reader.get_mut()).await;
        return false;
    }
    // This clock minus theirs, taking their clock as read half-way between
    // the dial (or accept) and the arrival of their Hello, with half that
    // time as the error (the Auth step after it is not counted).
    let clock = handshake::ClockSample::measure(since, t1, theirs.clock_ms);
    // Unbounded as a channel (its memory grows with what is queued, not
    // with the limit); the core thread holds it to `limits.outbox`.
    let (out_tx, out_rx) = smol::channel::unbounded::<Outgoing>();
    let (acc_tx, acc_rx) = smol::channel::bounded::<bool>(1);
    let role = theirs.role;
    let their_key = theirs.key;
    let replies = out_tx.clone();
    if shared
        .events
        .send(Event::Connected {
            conn,
            hello: Box::new(theirs),
            ip,
            outbox: out_tx,
            accepted: acc_tx,
            clock,
        })
        .await
        .is_err()
    {
        return false;
    }
    let accepted = future::or(async { acc_rx.recv().await.unwrap_or(false) }, async {
        evicted().await;
        false
    })
    .await;
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
            let heard = AtomicU64::new(crate::runtime::os::now_ms());
            let session = Session {
                conn,
                role,
                key: their_key,
                ip,
                heard: &heard,
            };
            let why = future::or(
                future::or(
                    async {
                        read_loop(&shared, &session, &mut reader, &replies).await;
                        None
                    },
                    keepalive(&heard, &replies),
                ),
                async {
                    evicted().await;
                    Some("evicted: too many connections, the oldest untrusted ones make room")
                },
            )
            .await;
            if let Some(why) = why {
                shared.log_from(ip, &format!("connection {conn} from {peer} closed: {why}"));
                let _ = replies.try_send(Outgoing::Close(Message::error(ErrorCode::Other, why)));
            }
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

/// What the reading side knows about a session.
struct Session<'a> {
    conn: ConnId,
    role: Role,
    key: crate::chain::crypto::PublicKey,
    ip: IpAddr,
    /// When the last message arrived (ms).
    heard: &'a AtomicU64,
}

/// Liveness: after [`limits::PING_AFTER_MS`] with nothing heard, sends a
/// Ping; after [`limits::SILENT_CLOSE_MS`], ends (with why) — the peer is
/// gone even if no FIN came (a board that lost power).
async fn keepalive(
    heard: &AtomicU64,
    replies: &smol::channel::Sender<Outgoing>,
) -> Option<&'static str> {
    let mut pinged_for = 0u64;
    loop {
        let last = heard.load(Ordering::SeqCst);
        let now = crate::runtime::os::now_ms();
        let silent = now.saturating_sub(last);
        if silent >= limits::SILENT_CLOSE_MS {
            return Some("silent too long (no answer to a ping): the peer is gone");
        }
        if silent >= limits::PING_AFTER_MS && pinged_for != last {
            pinged_for = last;
            let _ = replies.try_send(Outgoing::Msg(Message::Ping(now)));
        }
        let next = if silent >= limits::PING_AFTER_MS {
            limits::SILENT_CLOSE_MS - silent
        } else {
            limits::PING_AFTER_MS - silent
        };
        smol::Timer::after(Duration::from_millis(next.max(10))).await;
    }
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
    session: &Session<'_>,
    reader: &mut FrameReader<TcpStream>,
    replies: &smol::channel::Sender<Outgoing>,
) {
    let conn = session.conn;
    let role = session.role;
    let max_block = shared.params.limits().max_block_bytes;
    let mut flood = FloodGate::new(shared.limits.max_msgs_per_s, crate::runtime::os::now_ms());
    loop {
        // Block-sized frames only from those who may send blocks; asked
        // per frame, as the live forgers change with the epoch.
        let may_forge = role == Role::Forger
            && shared
                .forger_keys
                .lock()
                .expect("forger keys lock")
                .contains(&session.key);
        let limit = wire::read_limit(role, may_forge, max_block);
        let read = async {
            let len = reader.read_head(limit).await?;
            // The body must follow within a deadline: a half-sent frame
            // does not hold its buffer for ever.
            future::or(reader.read_body(len), async {
                smol::Timer::after(Duration::from_millis(limits::FRAME_BODY_MS)).await;
                Err(FrameError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the rest of a {len}-byte frame did not come within {} s",
                        limits::FRAME_BODY_MS / 1000
                    ),
                )))
            })
            .await
        };
        let msg = match read.await {
            Ok(m) => m,
            // A connection cut, even in the middle of a frame, is a network
            // failure as much as a fault: closed, not banned.
            Err(FrameError::Closed) | Err(FrameError::Truncated { .. }) => return,
            Err(e @ FrameError::Io(_)) => {
                shared.log_from(session.ip, &format!("connection {conn}: {e}"));
                return;
            }
            Err(e @ FrameError::OverBudget { .. }) => {
                shared.log_from(session.ip, &format!("connection {conn}: {e}"));
                let _ = replies.try_send(Outgoing::Close(Message::error(
                    ErrorCode::Busy,
                    &e.to_string(),
                )));
                return;
            }
            Err(e) => {
                let _ = shared
                    .events
                    .send(Event::Violation(conn, ErrorCode::Malformed, e.to_string()))
                    .await;
                return;
            }
        };
        session
            .heard
            .store(crate::runtime::os::now_ms(), Ordering::SeqCst);
        // Flooding: more than the allowed rate over a 10 s window.
        if !flood.allow(crate::runtime::os::now_ms()) {
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
            // Answered here, so that a busy core never makes this node look dead.
            Message::Ping(n) => {
                let _ = replies.send(Outgoing::Msg(Message::Pong(n))).await;
            }
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
            // Releases: a main node's directory, to live forgers' keys
            // only (a stranger cannot pull binaries through it).
            Message::Query {
                id,
                query: query @ (Query::Release { .. } | Query::ReleaseBytes { .. }),
            } => {
                let forger = shared
                    .forger_keys
                    .lock()
                    .expect("forger keys lock")
                    .contains(&session.key);
                let answer = match (&shared.releases, forger) {
                    (None, _) => Answer::Error("this node offers no releases".into()),
                    (Some(_), false) => {
                        Answer::Error("releases are offered to live forgers' keys only".into())
                    }
                    (Some(dir), true) => {
                        let dir = dir.clone();
                        smol::unblock(move || answer_release(&dir, query)).await
                    }
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
                let answer = smol::unblock(move || {
                    // A contract run is costly and anyone's to ask: a few
                    // at a time, process-wide.
                    let _slot = match query {
                        Query::RunContract { .. } => {
                            let gate = &crate::runtime::gate::CONTRACT_QUERIES;
                            match gate.enter(crate::runtime::gate::CONTRACT_QUERY_WAIT) {
                                Some(slot) => Some(slot),
                                None => {
                                    return Ok(Answer::Error(
                                        crate::runtime::gate::contract_queries_busy(),
                                    ))
                                }
                            }
                        }
                        _ => None,
                    };
                    answer_from_store(&store, query)
                })
                .await;
                let answer = match answer {
                    Ok(a) => a,
                    Err(e) => {
                        log_at(log::Level::Error, &format!("store: {e}"));
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
