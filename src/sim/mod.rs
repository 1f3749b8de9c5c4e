//! A deterministic simulation of a goodwill network in one process: main
//! nodes, forgers, Byzantine forgers and a spammer, on virtual time, over a
//! simulated network, each with its store on a simulated disk. One seed
//! decides everything; the same seed replays the same run, event for event.
//!
//! What runs is the production code: each node is a [`Core`] (the same
//! `connected` / `message` / `tick` / `slot` / `closed` the smol runtime
//! calls) over a [`Store`] on a [`SimDisk`], run by the runtime's own loop
//! ([`Driver`]: events in, actions carried out through [`Outside`], here
//! the simulated links), and the runtime's own
//! decisions come from the same pure functions `runtime::node::serve` uses — redial
//! backoff ([`Redial`]), flood limits ([`FloodGate`]), bans ([`policy::Bans`]), the
//! slot timer ([`next_slot`]), the handshake's checks and clock offset,
//! the answers to `GetBlocks`. The simulation replaces only TCP, the clock
//! and the disk. Byzantine forgers are the simulation's own code (no honest
//! node would do what they do), built from the ledger's functions.
//!
//! - [`rng`]: the seeded generator every random choice comes from.
//! - [`faults`]: the knobs, what a seed draws, what was injected.
//! - [`invariants`]: what must hold, watched and checked.
//! - [`grinder`]: the seed grinder (a forger trying many candidate blocks
//!   for an epoch's last slots), run on the ledger in memory.
//! - this file: nodes, links, the event queue, the run.
//!
//! `docs/design.md` ("The simulation") says how to add a fault and how to
//! replay a seed (`GOODWILL_SIM_SEED`).

pub mod faults;
pub mod grinder;
pub mod invariants;
pub mod rng;

use std::cmp::Ordering as CmpOrdering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use self::faults::{CrashHow, Faults, Injected, Shape};
use self::invariants::{Bounds, Checker};
use self::rng::Rng;
use crate::chain::block::Block;
use crate::chain::codec::{encode, Bytes};
use crate::chain::crypto::{Hash, Keypair, PublicKey};
use crate::chain::genesis::{Balance, ChainParams, Genesis, GenesisAssociation, Limits, COIN};
use crate::chain::tx::{SignedTransaction, Transaction, TxKind};
use crate::ledger;
use crate::ledger::mempool::MempoolLimits;
use crate::ledger::schedule;
use crate::ledger::state::{StateRead, StateReadExt};
use crate::peer::core::{
    self as ncore, Action, ConnId, Core, CoreOptions, Fatal, MachineFigures, MAX_EVIDENCE,
    MAX_HEADERS_SEEN, MAX_KNOWN_PEERS,
};
use crate::peer::driver::{AfterSlot, Closed, Driver, Full, Outside, Reports, Stop};
use crate::peer::forging::{next_slot, ClockCheck};
use crate::peer::policy::{self, ConnTable, Door, FloodGate, Redial, RESERVED_DIVISOR};
use crate::runtime::node::NodeLimits;
use crate::store::{CrashKind, Indexes, SimDisk, Store};
use crate::wire::{handshake, ErrorCode, Hello, Message, Query, Role, TipInfo};

/// Slot length of the simulated chain.
pub const SLOT_MS: u64 = 1_000;
/// Slots per epoch.
pub const EPOCH_SLOTS: u64 = 10;
/// Finality depth: deep enough that a split of [`MAX_PARTITION_MS`], with
/// the redial backoff after it, leaves the losing side fewer blocks to undo.
pub const FINALITY_DEPTH: u64 = 20;
/// The longest split a seed draws.
pub const MAX_PARTITION_MS: u64 = 8_000;
/// When the chain starts (virtual ms since the Unix epoch).
pub const START_MS: u64 = 1_700_000_000_000;
/// A connection attempt to a host that does not answer (split off) fails
/// after this long (`peer::policy::CONNECT_TIMEOUT_MS` in production).
pub const CONNECT_TIMEOUT_MS: u64 = crate::peer::policy::CONNECT_TIMEOUT_MS;
/// Events one run may process; a run that needs more is stuck in a loop.
pub const MAX_EVENTS: u64 = 5_000_000;
/// Log lines kept per node (the last ones are shown when a run fails).
const LOG_LINES: usize = 60;
/// The connection id of the local wallet on every main node.
const WALLET_CONN: ConnId = 0;
/// The Sybil voter's keys.
pub const SYBIL_KEYS: u32 = 30;
/// The future-block syncer forges the slots it leads from this many slots
/// ahead (beyond the slot's worth of lateness a node forgives)…
pub const FUTURE_FROM_SLOTS: u64 = 3;
/// … to this many.
pub const FUTURE_TO_SLOTS: u64 = 3 * EPOCH_SLOTS;

/// The short form of a key, for messages.
pub fn short_key(pk: &PublicKey) -> String {
    let a = pk.to_string();
    a.chars().take(12).collect()
}

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A main node.
    Main,
    /// An honest forging appliance.
    Forger,
    /// Signs two blocks for its slot, one to each half of its main nodes.
    Equivocator,
    /// Signs invalid blocks.
    InvalidForger,
    /// Keeps its blocks to itself, then releases them at once.
    Withholder,
    /// Floods invalid transactions.
    Spammer,
    /// Forges its own future slots ahead of time, claims that branch's tip
    /// and serves it in sync answers.
    FutureSyncer,
    /// Builds on the tip's parent, grinding its hash below the tip's.
    Grinder,
}

impl Kind {
    fn honest(self) -> bool {
        matches!(self, Kind::Main | Kind::Forger)
    }

    fn forges(self) -> bool {
        matches!(
            self,
            Kind::Forger
                | Kind::Equivocator
                | Kind::InvalidForger
                | Kind::Withholder
                | Kind::FutureSyncer
                | Kind::Grinder
        )
    }

    fn role(self) -> Role {
        match self {
            Kind::Main | Kind::Spammer => Role::MainNode,
            _ => Role::Forger,
        }
    }
}

/// A run's shape and faults.
#[derive(Debug, Clone)]
pub struct Config {
    /// The seed: every random choice of the run.
    pub seed: u64,
    /// Main nodes.
    pub mains: usize,
    /// Honest forgers.
    pub forgers: usize,
    /// Epochs with faults.
    pub faulty_epochs: u64,
    /// Epochs of forging after the faults end.
    pub heal_epochs: u64,
    /// Then no forging for this long: everyone reconnects and syncs.
    pub quiet_ms: u64,
    /// The faults.
    pub faults: Faults,
    /// Keys the withholder forges with (more keys: a longer private branch).
    pub withholder_keys: usize,
    /// Log every event and log line at info through `log` (for replaying
    /// a seed; `tests/sim.rs` installs the process logger then).
    pub verbose: bool,
    /// Sessions the spammer opens to each main node at once (it asks for
    /// more than the door's per-address cap to show the cap holds).
    pub spammer_sessions: usize,
    /// Honest forgers send their health reports to their main nodes, as
    /// the runtime's do (on by default; off only to compare runs).
    pub forger_reports: bool,
    /// Messages on their way on one connection, one way, beyond which the
    /// sender's outbox is full and the connection is dropped (the
    /// runtime's `NodeLimits::outbox`).
    pub outbox: usize,
    /// The spammer reads what it is sent (off: it never reads, and the
    /// messages to it stay on their way until its peers' outboxes fill).
    pub spammer_reads: bool,
}

impl Config {
    /// Everything drawn from `seed`: the faults, and with them the run.
    pub fn from_seed(seed: u64) -> Config {
        let mut rng = Rng::new(seed ^ 0x5EED_F00D);
        let mut c = Config::calm(seed);
        c.withholder_keys = rng.range(1, 3) as usize;
        let shape = c.shape();
        c.faults = Faults::draw(&mut rng, &shape);
        c
    }

    /// The network with no faults.
    pub fn calm(seed: u64) -> Config {
        let mut c = Config {
            seed,
            mains: 3,
            forgers: 3,
            faulty_epochs: 4,
            heal_epochs: 3,
            quiet_ms: 60_000,
            faults: Faults::none(0),
            withholder_keys: 1,
            verbose: false,
            spammer_sessions: 1,
            forger_reports: true,
            outbox: 1024,
            spammer_reads: true,
        };
        c.faults = Faults::none(c.shape().nodes);
        c
    }

    /// Nodes in the order the simulation numbers them: main nodes, honest
    /// forgers, then the Byzantine ones and the spammer, each always there
    /// (a Byzantine node whose fault is off behaves honestly): the
    /// equivocator, the invalid forger, the withholder, the spammer, the
    /// future-block syncer and the grinder.
    pub fn shape(&self) -> Shape {
        Shape {
            mains: self.mains,
            forgers: self.forgers,
            nodes: self.mains + self.forgers + 6,
            later_nodes: 2,
            slot_ms: SLOT_MS,
            faulty_ms: self.faulty_epochs * EPOCH_SLOTS * SLOT_MS,
            max_partition_ms: MAX_PARTITION_MS,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Its seed.
    pub seed: u64,
    /// The hash of every event, in order: equal for equal runs.
    pub trace: Hash,
    /// What broke (empty: every invariant held).
    pub violations: Vec<String>,
    /// What was injected.
    pub injected: Injected,
    /// Virtual time simulated (ms).
    pub virtual_ms: u64,
    /// Events processed.
    pub events: u64,
    /// The honest chain's height at the end (the lowest of the honest tips).
    pub height: u64,
    /// Reorganisations seen on honest nodes.
    pub reorgs: u64,
    /// Equivocation reports that landed (on the first honest main node's chain).
    pub reports: u64,
    /// Association votes that landed (there).
    pub votes: u64,
    /// Contract transactions whose run ended ok, and those that trapped or
    /// ran out of fuel (there).
    pub contract_runs: (u64, u64),
    /// Bans handed out.
    pub bans: u64,
    /// Blocks held for arriving before their slot started.
    pub early_held: u64,
    /// Connections a core's driver closed because the peer did not read:
    /// its outbox was full.
    pub outbox_closes: u64,
    /// The largest mempool seen.
    pub peak_mempool: usize,
    /// The most sessions one node held with one address.
    pub peak_sessions_per_ip: usize,
    /// Honest forgers whose health report the first main node holds at the end.
    pub reported_forgers: usize,
    /// The faults, as planned.
    pub plan: String,
    /// The end of each node's log.
    pub logs: Vec<(String, Vec<String>)>,
}

impl Outcome {
    /// Whether every invariant held.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// What a failing run says: the seed and how to replay it, what broke,
    /// the plan, and the end of every node's log.
    pub fn failure(&self) -> String {
        let mut s = format!(
            "simulation seed {} (0x{:x}) failed; replay with GOODWILL_SIM_SEED={} cargo test --test sim replay -- --nocapture\n",
            self.seed, self.seed, self.seed
        );
        for v in &self.violations {
            s += &format!("  violated: {v}\n");
        }
        s += &format!(
            "  plan: {}\n  injected: {}\n",
            self.plan,
            self.injected.describe()
        );
        for (name, lines) in &self.logs {
            s += &format!("--- {name} (last {} log lines) ---\n", lines.len());
            for l in lines {
                s += &format!("{l}\n");
            }
        }
        s
    }

    /// One line: seed, height, faults.
    pub fn summary(&self) -> String {
        format!(
            "seed {}: height {}, {} events, {} s virtual, {} reorgs, {} reports, contract runs {} ok {} failed, {} bans, peak mempool {}, {}",
            self.seed,
            self.height,
            self.events,
            self.virtual_ms / 1000,
            self.reorgs,
            self.reports,
            self.contract_runs.0,
            self.contract_runs.1,
            self.bans,
            self.peak_mempool,
            self.injected.describe()
        )
    }
}

/// Runs one simulation.
pub fn run(config: Config) -> Outcome {
    Sim::new(config).run()
}

// ---------------------------------------------------------------------------

#[derive(Debug)]
enum Ev {
    Start(usize),
    Dial {
        node: usize,
        inc: u32,
        addr: String,
    },
    Handshake(u64),
    Deliver {
        link: u64,
        to: usize,
        msg: Box<Message>,
    },
    Closed {
        link: u64,
        end: usize,
    },
    Tick {
        node: usize,
        inc: u32,
    },
    Slot {
        node: usize,
        inc: u32,
        slot: u64,
    },
    Crash(usize),
    Restart(usize),
    Split(usize),
    Heal,
    Withhold(bool),
    Wallet,
    Spam,
    /// The Sybil voter: buys one unit of weight from each key and proposes
    /// its association (false), then votes (true).
    Sybil(bool),
    Healed,
    Quiet,
    End,
}

impl Ev {
    fn tag(&self) -> u8 {
        match self {
            Ev::Start(_) => 1,
            Ev::Dial { .. } => 2,
            Ev::Handshake(_) => 3,
            Ev::Deliver { .. } => 4,
            Ev::Closed { .. } => 5,
            Ev::Tick { .. } => 6,
            Ev::Slot { .. } => 7,
            Ev::Crash(_) => 8,
            Ev::Restart(_) => 9,
            Ev::Split(_) => 10,
            Ev::Heal => 11,
            Ev::Withhold(_) => 12,
            Ev::Wallet => 13,
            Ev::Spam => 14,
            Ev::Quiet => 15,
            Ev::End => 16,
            Ev::Healed => 17,
            Ev::Sybil(_) => 18,
        }
    }
}

struct Scheduled {
    at: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    // Earliest first (BinaryHeap is a max-heap); at one instant, in the
    // order scheduled.
    fn cmp(&self, o: &Self) -> CmpOrdering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// One end of a link.
#[derive(Debug, Clone)]
struct End {
    node: usize,
    inc: u32,
    conn: ConnId,
    closed: bool,
}

/// A TCP connection: messages in order per direction, each after the
/// link's latency, jitter and any retransmission.
#[derive(Debug)]
struct Link {
    /// `[dialer, acceptor]`.
    ends: [End; 2],
    latency_ms: u64,
    /// The last arrival time per direction (from end i): order is kept.
    last: [u64; 2],
    in_flight: [usize; 2],
    /// The outbox of end i was found full (the driver must close it).
    full: [bool; 2],
    /// The address the dialer dialled.
    addr: String,
    /// The handshake completed.
    open: bool,
    /// The dialer's core kept it (what `Redial` is told).
    established: bool,
}

/// A node that runs.
struct Up {
    store: Option<Arc<Store>>,
    core: Option<Core>,
    /// The loop around the core: the runtime's own.
    driver: Driver,
    conns: BTreeMap<ConnId, u64>,
    next_conn: ConnId,
    /// The same door as the TCP runtime's: bans, caps, eviction, trust.
    door: Door,
    dials: BTreeMap<String, Redial>,
    gates: BTreeMap<ConnId, FloodGate>,
    /// The withholder's private blocks.
    withheld: Vec<Block>,
    /// The grinder's second store, kept at its main store's tip's parent
    /// (the state it builds its rivals on).
    lag: Option<Arc<Store>>,
}

struct Node {
    name: String,
    kind: Kind,
    key: Keypair,
    /// A withholder's further keys.
    extra_keys: Vec<Keypair>,
    ip: IpAddr,
    listen: Option<String>,
    peers: Vec<String>,
    disk: SimDisk,
    /// The signing log's file, on the same disk.
    log_disk: SimDisk,
    /// The state's file, on the same disk.
    state_disk: SimDisk,
    skew_ms: i64,
    skew_after: Option<i64>,
    down_ms: u64,
    inc: u32,
    up: Option<Up>,
    /// Stopped for good (refused to restart, doppelganger).
    stopped: bool,
    /// Armed: crash right after the next forged block, before sending it.
    crash_after_forging: bool,
    /// Armed: the disk fails soon.
    disk_armed: bool,
    /// Armed: the disk fails this many operations into the next forging.
    crash_while_forging: Option<u64>,
    logs: VecDeque<String>,
}

struct Sim {
    cfg: Config,
    params: ChainParams,
    limits: NodeLimits,
    rng: Rng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Scheduled>,
    nodes: Vec<Node>,
    addrs: BTreeMap<String, usize>,
    links: BTreeMap<u64, Link>,
    next_link: u64,
    split: Option<Vec<u8>>,
    faulty_end: u64,
    quiet_at: u64,
    end_at: u64,
    forging: bool,
    withholding: bool,
    trace: Sha256,
    events: u64,
    checker: Checker,
    injected: Injected,
    users: Vec<Keypair>,
    spam_keys: Vec<Keypair>,
    spam_pool: Vec<Vec<SignedTransaction>>,
    association: PublicKey,
    /// The Sybil voter's one-unit keys and its association's key.
    sybil_keys: Vec<Keypair>,
    sybil_association: Keypair,
    /// The epoch its keys bought weight for, and its proposal.
    sybil_plan: Option<(u64, Hash)>,
    bought: BTreeSet<(PublicKey, u64)>,
    /// Paywalls the workload deployed: (address, owner's index in `users`).
    /// Listed when the deploy is sent: one that never lands is called all
    /// the same, and refused.
    paywalls: Vec<(Hash, usize)>,
    /// Weight Byzantine keys were sent to buy, by epoch (kept below the
    /// honest weight: [`Sim::within_honest_majority`]).
    byzantine_weight: BTreeMap<u64, u64>,
    /// Equivocations: (offender, slot) → the two block hashes.
    equivocations: BTreeMap<(PublicKey, u64), (Hash, Hash)>,
    /// Blocks delivered to honest nodes (hashes), for equivocations.
    delivered: BTreeSet<Hash>,
    next_req: u32,
    reorgs: u64,
    bans: u64,
    /// The highest honest tip when the faults ended.
    heal_height: u64,
    early_held: u64,
    /// Connections the driver closed because their outbox was full.
    outbox_closes: u64,
}

fn key(family: u8, i: u32) -> Keypair {
    crate::testkit::key(family, i)
}

impl Sim {
    fn new(cfg: Config) -> Sim {
        let shape = cfg.shape();
        let nodes_n = shape.nodes;
        let mut rng = Rng::new(cfg.seed);
        let users: Vec<Keypair> = (0..4).map(|i| key(22, i)).collect();
        // Enough funded spam keys (16 held-back transactions each) to fill
        // a mempool: its own bound, not the per-sender one, is what holds.
        let spam_keys: Vec<Keypair> = (0..32).map(|i| key(23, i)).collect();
        let association = key(24, 0).public();
        // The Sybil voter: thirty keys with enough for a few fees each.
        let sybil_keys: Vec<Keypair> = (0..SYBIL_KEYS).map(|i| key(26, i)).collect();
        let sybil_association = key(27, 0);
        let honest_keys: Vec<Keypair> = (0..cfg.forgers as u32).map(|i| key(21, i)).collect();
        let main_keys: Vec<Keypair> = (0..cfg.mains as u32).map(|i| key(20, i)).collect();
        let f = &cfg.faults;
        // Byzantine keys: the equivocator's, the invalid forger's, and the
        // withholder's; only the keys of faults that are on forge.
        let equivocator_key = key(21, 100);
        let invalid_key = key(21, 101);
        let withholder_keys: Vec<Keypair> = (0..cfg.withholder_keys.max(1) as u32)
            .map(|i| key(21, 102 + i))
            .collect();
        let syncer_key = key(21, 110);
        let grinder_key = key(21, 111);
        let mut bootstrap: Vec<PublicKey> = honest_keys.iter().map(|k| k.public()).collect();
        if f.equivocator {
            bootstrap.push(equivocator_key.public());
        }
        if f.invalid_forger {
            bootstrap.push(invalid_key.public());
        }
        if f.withholder.is_some() {
            bootstrap.extend(withholder_keys.iter().map(|k| k.public()));
        }
        // The later Byzantine keys are in the genesis only when their fault
        // is on (a run without them keeps the genesis it always had).
        let mut later_keys = Vec::new();
        if f.future_syncer {
            bootstrap.push(syncer_key.public());
            later_keys.push(syncer_key.clone());
        }
        if f.grinder {
            bootstrap.push(grinder_key.public());
            later_keys.push(grinder_key.clone());
        }
        let forger_keys: Vec<Keypair> = honest_keys
            .iter()
            .cloned()
            .chain([equivocator_key.clone(), invalid_key.clone()])
            .chain(withholder_keys.iter().cloned())
            .chain(later_keys)
            .collect();
        let mut balances: Vec<Balance> = forger_keys
            .iter()
            .chain(&users)
            .map(|k| Balance {
                address: k.public(),
                amount: 1_000 * COIN,
            })
            .collect();
        // Main nodes can pay for equivocation reports; spam keys hardly
        // anything.
        balances.extend(main_keys.iter().chain(&spam_keys).map(|k| Balance {
            address: k.public(),
            amount: 10 * COIN,
        }));
        balances.extend(sybil_keys.iter().map(|k| Balance {
            address: k.public(),
            amount: 1_000,
        }));
        let genesis = Genesis {
            contracts: Some(crate::chain::genesis::ContractParams::for_slot(SLOT_MS)),
            chain_name: "sim".into(),
            start_ms: START_MS,
            slot_ms: SLOT_MS,
            epoch_slots: EPOCH_SLOTS,
            block_reward: COIN,
            min_fee: 10,
            finality_depth: FINALITY_DEPTH,
            bootstrap_forgers: bootstrap,
            limits: Limits {
                equivocation_bounty: 5 * COIN,
                // Forgers buy 1 to 20 GWL: an epoch with 10 GWL bought is
                // drawn by bought weight alone; below that, the bootstrap
                // forgers' notional 10 GWL each counts beside the buyers.
                bootstrap_weight: 10 * COIN,
                bootstrap_until_weight: 10 * COIN,
                ..Limits::default()
            },
            balances,
            associations: vec![GenesisAssociation {
                name: Bytes::new(*b"Sim Food Bank").expect("short"),
                url: Bytes::empty(),
                account: association,
            }],
        };
        let params = ChainParams::new(genesis).expect("a valid simulation genesis");
        let limits = NodeLimits {
            max_connections: 32,
            max_per_ip: 8,
            max_msgs_per_s: 100,
            outbox: cfg.outbox,
            mempool: MempoolLimits {
                max_txs: 256,
                max_bytes: 256 * 2048,
                max_per_sender: 16,
                max_nonce_gap: 16,
            },
        };
        let bounds = Bounds {
            mempool: limits.mempool.max_txs,
            conns: limits.max_connections + 1,
            known_peers: MAX_KNOWN_PEERS,
            forgers: ncore::MAX_FORGERS,
            headers: MAX_HEADERS_SEEN,
            evidence: MAX_EVIDENCE,
            early: ncore::MAX_EARLY,
            per_ip: limits.max_per_ip,
        };
        let honest_forgers: BTreeSet<PublicKey> = honest_keys.iter().map(|k| k.public()).collect();
        let checker = Checker::new(FINALITY_DEPTH, honest_forgers, bounds);

        let main_addr = |i: usize| format!("10.0.0.{}:7070", i + 1);
        let mut nodes = Vec::new();
        // `i` numbers the nodes; the key lists are indexed by it.
        #[allow(clippy::needless_range_loop)]
        for i in 0..nodes_n {
            let (kind, name, key_, extra): (Kind, String, Keypair, Vec<Keypair>) = if i < cfg.mains
            {
                (Kind::Main, format!("m{i}"), main_keys[i].clone(), vec![])
            } else if i < cfg.mains + cfg.forgers {
                let j = i - cfg.mains;
                (
                    Kind::Forger,
                    format!("f{j}"),
                    honest_keys[j].clone(),
                    vec![],
                )
            } else {
                match i - cfg.mains - cfg.forgers {
                    0 => (
                        Kind::Equivocator,
                        "equivocator".into(),
                        equivocator_key.clone(),
                        vec![],
                    ),
                    1 => (
                        Kind::InvalidForger,
                        "invalid".into(),
                        invalid_key.clone(),
                        vec![],
                    ),
                    2 => (
                        Kind::Withholder,
                        "withholder".into(),
                        withholder_keys[0].clone(),
                        withholder_keys[1..].to_vec(),
                    ),
                    3 => (Kind::Spammer, "spammer".into(), key(25, 0), vec![]),
                    4 => (
                        Kind::FutureSyncer,
                        "future-syncer".into(),
                        syncer_key.clone(),
                        vec![],
                    ),
                    _ => (Kind::Grinder, "grinder".into(), grinder_key.clone(), vec![]),
                }
            };
            let listen = (kind == Kind::Main).then(|| main_addr(i));
            // Main nodes register with the ones before them (one or two);
            // forgers follow two main nodes, Byzantine ones every main node.
            let peers: Vec<String> = match kind {
                Kind::Main if i == 0 => vec![],
                Kind::Main => {
                    let mut v = vec![main_addr(rng.below(i as u64) as usize)];
                    if i > 1 && rng.chance(500) {
                        let other = main_addr(rng.below(i as u64) as usize);
                        if !v.contains(&other) {
                            v.push(other);
                        }
                    }
                    v
                }
                Kind::Forger if cfg.mains > 1 => {
                    let a = rng.below(cfg.mains as u64) as usize;
                    let b = (a + 1 + rng.below(cfg.mains as u64 - 1) as usize) % cfg.mains;
                    vec![main_addr(a), main_addr(b)]
                }
                Kind::Spammer => (0..cfg.mains)
                    .flat_map(|m| {
                        (0..cfg.spammer_sessions.max(1)).map(move |k| match k {
                            0 => main_addr(m),
                            k => format!("{}#{k}", main_addr(m)),
                        })
                    })
                    .collect(),
                _ => (0..cfg.mains).map(main_addr).collect(),
            };
            let skew_ms = f.skew_ms.get(i).copied().unwrap_or(0);
            let disk = SimDisk::new();
            nodes.push(Node {
                name,
                kind,
                key: key_,
                extra_keys: extra,
                ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8 + 1)),
                listen,
                peers,
                log_disk: disk.sibling(),
                state_disk: disk.sibling(),
                disk,
                skew_ms,
                skew_after: None,
                down_ms: 1_000,
                inc: 0,
                up: None,
                stopped: false,
                crash_after_forging: false,
                disk_armed: false,
                crash_while_forging: None,
                logs: VecDeque::new(),
            });
        }
        let addrs = nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.listen.clone().map(|l| (l, i)))
            .collect();
        let faulty_end = START_MS + shape.faulty_ms;
        let quiet_at = faulty_end + cfg.heal_epochs * EPOCH_SLOTS * SLOT_MS;
        let end_at = quiet_at + cfg.quiet_ms;
        let injected = Injected {
            skewed: f.skew_ms.iter().filter(|k| **k != 0).count() as u64,
            ..Injected::default()
        };
        Sim {
            params,
            limits,
            rng,
            now: START_MS,
            seq: 0,
            queue: BinaryHeap::new(),
            nodes,
            addrs,
            links: BTreeMap::new(),
            next_link: 1,
            split: None,
            faulty_end,
            quiet_at,
            end_at,
            forging: true,
            withholding: false,
            trace: Sha256::new(),
            events: 0,
            checker,
            injected,
            users,
            paywalls: Vec::new(),
            spam_keys,
            spam_pool: Vec::new(),
            association,
            sybil_keys,
            sybil_association,
            sybil_plan: None,
            bought: BTreeSet::new(),
            byzantine_weight: BTreeMap::new(),
            equivocations: BTreeMap::new(),
            delivered: BTreeSet::new(),
            next_req: 1,
            reorgs: 0,
            bans: 0,
            heal_height: 0,
            early_held: 0,
            outbox_closes: 0,
            cfg,
        }
    }

    // --- the queue and the clock ------------------------------------------

    fn at(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Scheduled {
            at: at.max(self.now),
            seq: self.seq,
            ev,
        });
    }

    fn after(&mut self, ms: u64, ev: Ev) {
        self.at(self.now + ms, ev);
    }

    /// Node `n`'s clock.
    fn local(&self, n: usize) -> u64 {
        (self.now as i64 + self.nodes[n].skew_ms) as u64
    }

    fn faulty(&self) -> bool {
        self.now < self.faulty_end
    }

    fn alive(&self, n: usize, inc: u32) -> bool {
        let node = &self.nodes[n];
        node.up.is_some() && node.inc == inc
    }

    fn reachable(&self, a: usize, b: usize) -> bool {
        match &self.split {
            Some(side) => side[a] == side[b],
            None => true,
        }
    }

    fn hash_trace(&mut self, parts: &[&[u8]]) {
        for p in parts {
            self.trace.update((p.len() as u64).to_le_bytes());
            self.trace.update(p);
        }
    }

    fn log(&mut self, n: usize, line: String) {
        self.hash_trace(&[&(n as u64).to_le_bytes(), line.as_bytes()]);
        if line.starts_with("reorganisation") {
            self.reorgs += 1;
        }
        if line.starts_with("banned") {
            self.bans += 1;
        }
        if line.starts_with("holding block") {
            self.early_held += 1;
        }
        let node = &mut self.nodes[n];
        if self.cfg.verbose {
            log::info!("{:>9} {:>11} {line}", self.now - START_MS, node.name);
        }
        if node.logs.len() >= LOG_LINES {
            node.logs.pop_front();
        }
        node.logs
            .push_back(format!("{:>9} {line}", self.now - START_MS));
    }

    // --- the run ------------------------------------------------------------

    fn run(mut self) -> Outcome {
        let n = self.nodes.len();
        let plan_names: Vec<String> = self.nodes.iter().map(|x| x.name.clone()).collect();
        let plan = self.cfg.faults.describe(&plan_names);
        if self.cfg.verbose {
            log::info!("seed {}: {plan}", self.cfg.seed);
        }
        for i in 0..n {
            let k = self.nodes[i].kind;
            let byzantine_off = match k {
                Kind::Equivocator => !self.cfg.faults.equivocator,
                Kind::InvalidForger => !self.cfg.faults.invalid_forger,
                Kind::Withholder => self.cfg.faults.withholder.is_none(),
                Kind::Spammer => !self.cfg.faults.spammer,
                Kind::FutureSyncer => !self.cfg.faults.future_syncer,
                Kind::Grinder => !self.cfg.faults.grinder,
                _ => false,
            };
            if byzantine_off {
                continue;
            }
            let d = self.rng.range(0, 500);
            self.at(START_MS + d, Ev::Start(i));
        }
        let faults = self.cfg.faults.clone();
        for (i, p) in faults.partitions.iter().enumerate() {
            self.at(START_MS + p.at_ms, Ev::Split(i));
            self.at(START_MS + p.heal_ms, Ev::Heal);
        }
        for (i, c) in faults.crashes.iter().enumerate() {
            self.at(START_MS + c.at_ms, Ev::Crash(i));
        }
        if let Some(w) = &faults.withholder {
            self.at(START_MS + w.from_ms, Ev::Withhold(true));
            self.at(START_MS + w.until_ms, Ev::Withhold(false));
        }
        if faults.spammer {
            self.at(START_MS + 2_000, Ev::Spam);
        }
        if faults.sybil_voter {
            self.at(START_MS + 1_500, Ev::Sybil(false));
        }
        self.at(START_MS + 700, Ev::Wallet);
        self.at(self.faulty_end, Ev::Healed);
        self.at(self.quiet_at, Ev::Quiet);
        self.at(self.end_at, Ev::End);

        while let Some(s) = self.queue.pop() {
            self.now = s.at;
            self.events += 1;
            if self.events > MAX_EVENTS {
                self.checker
                    .violation(format!("more than {MAX_EVENTS} events: a loop"));
                break;
            }
            let tag = s.ev.tag();
            self.hash_trace(&[&s.at.to_le_bytes(), &[tag]]);
            if matches!(s.ev, Ev::End) {
                break;
            }
            self.handle(s.ev);
        }
        self.finish(plan)
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::Start(n) => self.start(n),
            Ev::Dial { node, inc, addr } => self.dial(node, inc, addr),
            Ev::Handshake(link) => self.handshake(link),
            Ev::Deliver { link, to, msg } => self.deliver(link, to, *msg),
            Ev::Closed { link, end } => self.end_closed(link, end),
            Ev::Tick { node, inc } => self.tick(node, inc),
            Ev::Slot { node, inc, slot } => self.slot(node, inc, slot),
            Ev::Crash(i) => self.crash(i),
            Ev::Restart(n) => {
                if !self.nodes[n].stopped && self.nodes[n].up.is_none() {
                    if let Some(k) = self.nodes[n].skew_after.take() {
                        self.nodes[n].skew_ms = k;
                    }
                    self.injected.restarts += 1;
                    self.start(n);
                }
            }
            Ev::Split(i) => self.split_net(i),
            Ev::Heal => {
                self.split = None;
            }
            Ev::Withhold(on) => self.withhold(on),
            Ev::Wallet => self.wallet(),
            Ev::Spam => self.spam(),
            Ev::Sybil(vote) => self.sybil(vote),
            Ev::Healed => {
                self.heal_height = self.honest_heights().into_iter().max().unwrap_or(0);
            }
            Ev::Quiet => {
                self.forging = false;
                for node in &mut self.nodes {
                    node.crash_after_forging = false;
                }
            }
            Ev::End => {}
        }
    }

    // --- nodes: start, crash ------------------------------------------------

    fn start(&mut self, n: usize) {
        let local = self.local(n);
        let node = &mut self.nodes[n];
        node.inc += 1;
        node.disk_armed = false;
        let inc = node.inc;
        let kind = node.kind;
        let (store, core) = if kind == Kind::Spammer {
            (None, None)
        } else {
            let indexes = if kind == Kind::Main {
                Indexes::Keep
            } else {
                Indexes::Skip
            };
            let store = match Store::with_backends(
                node.disk.clone(),
                node.log_disk.clone(),
                node.state_disk.clone(),
                &self.params,
                node.name.clone(),
                format!("{} signing log", node.name),
                Arc::new(AtomicU64::new(0)),
                indexes,
            ) {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    let what = format!("{}: the store does not reopen: {e}", node.name);
                    node.stopped = true;
                    self.checker.violation(what);
                    return;
                }
            };
            if kind == Kind::Forger {
                // What `goodwill forge` checks before it starts.
                match crate::runtime::forge::preflight_store(&store, &node.key, false, local) {
                    Ok(line) => {
                        let line = format!("start: {line}");
                        self.log(n, line);
                    }
                    Err(e) => {
                        let what = format!(
                            "{}: an honest forger refuses to restart (exit 2): {e}",
                            self.nodes[n].name
                        );
                        self.nodes[n].stopped = true;
                        self.checker.violation(what);
                        return;
                    }
                }
            }
            if kind.honest() {
                // A forger's store keeps its last block commits in memory
                // (policy::FORGER_DURABLE_BLOCKS): a crash may take back
                // up to that many blocks less one; a main node's, none.
                let may_lose = match kind {
                    Kind::Forger => policy::FORGER_DURABLE_BLOCKS - 1,
                    _ => 0,
                };
                if let Ok(t) = store.tip() {
                    let name = self.nodes[n].name.clone();
                    self.checker.reopened(&name, &t, may_lose);
                }
            }
            let node = &self.nodes[n];
            let opts = match kind {
                Kind::Main => CoreOptions::main_node().reporting_with(node.key.clone()),
                Kind::Forger => {
                    CoreOptions::forger(node.key.clone(), ClockCheck::Peers).session_settle_ms(0)
                }
                _ => CoreOptions {
                    role: Role::Forger,
                    learn_peers: false,
                    forge: None,
                    reporter: None,
                },
            };
            let core = Core::new(
                store.clone(),
                node.key.public(),
                node.listen.clone(),
                self.limits.mempool,
                local,
                opts,
            );
            (Some(store), Some(core))
        };
        let node = &mut self.nodes[n];
        let dials = node
            .peers
            .iter()
            .map(|p| (p.clone(), Redial::new(true)))
            .collect();
        node.up = Some(Up {
            store,
            core,
            driver: Driver::new(),
            conns: BTreeMap::new(),
            next_conn: WALLET_CONN + 1,
            door: Door::new(
                kind.role(),
                ConnTable::new(
                    self.limits.max_connections,
                    self.limits.max_per_ip,
                    self.limits.max_connections / RESERVED_DIVISOR,
                ),
            ),
            dials,
            gates: BTreeMap::new(),
            withheld: Vec::new(),
            lag: None,
        });
        let peers = node.peers.clone();
        for p in peers {
            self.after(
                0,
                Ev::Dial {
                    node: n,
                    inc,
                    addr: p,
                },
            );
        }
        if kind == Kind::Main {
            // A wallet connected locally: the workload submits through it.
            let hello = self.bare_hello(Role::Client, &key(26, n as u32), n);
            let wallet_ip = IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9));
            self.drive(n, |d, c, out, now| {
                d.connected(
                    c,
                    out,
                    WALLET_CONN,
                    &hello,
                    wallet_ip,
                    Default::default(),
                    now,
                )
            });
        }
        if kind != Kind::Spammer {
            self.after(policy::tick_ms(kind.role()), Ev::Tick { node: n, inc });
        }
        if kind.forges() {
            self.schedule_slot(n, inc);
        }
        self.track_tip(n);
    }

    fn schedule_slot(&mut self, n: usize, inc: u32) {
        let (slot, at) = next_slot(&self.params, self.local(n));
        let skew = self.nodes[n].skew_ms;
        let virtual_at = (at as i64 - skew) as u64;
        self.at(virtual_at, Ev::Slot { node: n, inc, slot });
    }

    /// A node dies: its disk keeps what was synced, its connections drop.
    fn die(&mut self, n: usize, why: &str) {
        let line = format!("DIED: {why}");
        self.log(n, line);
        let node = &mut self.nodes[n];
        // The image first: whatever the dropped store writes on its way
        // out goes to a disk that no longer exists.
        node.disk = node.disk.crash(CrashKind::PowerCut);
        node.log_disk = node.log_disk.crash_beside(CrashKind::PowerCut, &node.disk);
        node.state_disk = node
            .state_disk
            .crash_beside(CrashKind::PowerCut, &node.disk);
        node.disk_armed = false;
        node.crash_after_forging = false;
        node.crash_while_forging = None;
        let Some(up) = node.up.take() else {
            return;
        };
        node.inc += 1;
        let down = node.down_ms;
        let links: Vec<u64> = up.conns.values().copied().collect();
        drop(up);
        for l in links {
            self.reset_link(l, false);
        }
        self.after(down, Ev::Restart(n));
    }

    fn crash(&mut self, i: usize) {
        let c = self.cfg.faults.crashes[i].clone();
        let n = c.node;
        if self.nodes[n].up.is_none() || !self.faulty() {
            return;
        }
        self.nodes[n].down_ms = c.down_ms;
        self.nodes[n].skew_after = Some(c.skew_after_ms);
        match c.how {
            CrashHow::Now => {
                self.injected.crashes_now += 1;
                self.die(n, "crash");
            }
            CrashHow::DiskFails(k) => {
                self.nodes[n].disk.fail_after(k);
                self.nodes[n].disk_armed = true;
            }
            CrashHow::AfterForging => {
                self.nodes[n].crash_after_forging = true;
            }
            CrashHow::WhileForging(k) => {
                self.nodes[n].crash_while_forging = Some(k);
            }
        }
    }

    /// Runs node `n`'s core through its [`Driver`], the simulated links as
    /// its outside world (the runtime's loop, written once). A fatal error
    /// kills the node (it is either the injected disk failure, or a bug),
    /// and so does a doppelganger stop. None: the node has no core (the
    /// spammer) or is down; Some(false): it stopped.
    fn drive(
        &mut self,
        n: usize,
        f: impl FnOnce(&mut Driver, &mut Core, &mut Links<'_>, u64) -> Result<(), Stop>,
    ) -> Option<bool> {
        self.drive_watching(n, None, f).map(|(ok, _)| ok)
    }

    /// [`Sim::drive`], watching an honest forger's slot (`watch`, given
    /// back).
    fn drive_watching(
        &mut self,
        n: usize,
        watch: Option<SlotWatch>,
        f: impl FnOnce(&mut Driver, &mut Core, &mut Links<'_>, u64) -> Result<(), Stop>,
    ) -> Option<(bool, Option<SlotWatch>)> {
        let local = self.local(n);
        // Out of the node while it runs: the links reach into the node too.
        // Nothing the links do kills the node; a stop does, after.
        let up = self.nodes[n].up.as_mut()?;
        let mut core = up.core.take()?;
        let mut driver = std::mem::take(&mut up.driver);
        let mut links = Links {
            sim: self,
            n,
            watch,
        };
        let r = f(&mut driver, &mut core, &mut links, local);
        let watch = links.watch.take();
        let up = self.nodes[n].up.as_mut().expect("the links kill no node");
        up.core = Some(core);
        up.driver = driver;
        match r {
            Ok(()) => Some((true, watch)),
            Err(Stop::Fatal(e)) => {
                self.fatal(n, e);
                Some((false, watch))
            }
            Err(Stop::Doppelganger(text)) => {
                let what = format!("{}: stopped as a doppelganger: {text}", self.nodes[n].name);
                if self.nodes[n].kind.honest() {
                    self.checker.violation(what);
                }
                self.nodes[n].stopped = true;
                self.die(n, "doppelganger");
                Some((false, watch))
            }
        }
    }

    fn fatal(&mut self, n: usize, e: Fatal) {
        if self.nodes[n].disk_armed && self.nodes[n].disk.failed() {
            if self.nodes[n].crash_while_forging.is_some() {
                self.injected.crashes_while_forging += 1;
            } else {
                self.injected.crashes_disk += 1;
            }
        } else {
            let what = format!(
                "{}: fatal error without an injected fault: {e}",
                self.nodes[n].name
            );
            self.checker.violation(what);
        }
        self.die(n, &e.to_string());
    }

    // --- actions --------------------------------------------------------

    fn end_of(&self, link: &Link, n: usize, conn: ConnId) -> Option<usize> {
        (0..2).find(|&e| link.ends[e].node == n && link.ends[e].conn == conn)
    }

    /// Sends `msg` from node `n` on `conn`; a full outbox closes it (the
    /// driver's rule, for what the simulation sends beside the core).
    fn send(&mut self, n: usize, conn: ConnId, msg: Message) {
        if self.try_send(n, conn, msg).is_err() {
            self.outbox_full(n, conn);
        }
    }

    /// Sends `msg` from node `n` on `conn`; [`Full`] (and nothing sent) if
    /// more than the outbox's worth is on its way to a peer that has not
    /// read it yet.
    fn try_send(&mut self, n: usize, conn: ConnId, msg: Message) -> Result<(), Full> {
        let Some(&l) = self.nodes[n].up.as_ref().and_then(|u| u.conns.get(&conn)) else {
            return Ok(());
        };
        if self.withholding && self.nodes[n].kind == Kind::Withholder {
            return Ok(());
        }
        match &msg {
            Message::NewBlock(b) => self.checker.on_wire(b),
            Message::Blocks { blocks, .. } => {
                for b in blocks {
                    self.checker.on_wire(b);
                }
            }
            _ => {}
        }
        let faulty = self.faulty();
        let (loss, reset, jitter) = (
            self.cfg.faults.loss_per_mille,
            self.cfg.faults.reset_per_100k,
            self.cfg.faults.jitter_ms,
        );
        let Some(link) = self.links.get(&l) else {
            return Ok(());
        };
        let Some(e) = self.end_of(link, n, conn) else {
            return Ok(());
        };
        if link.ends[e].closed {
            return Ok(());
        }
        if link.full[e] {
            // The runtime kept a connection whose outbox was full.
            let what = format!(
                "{}: sends on connection {conn} after its outbox was full: a peer that does not read must be dropped",
                self.nodes[n].name
            );
            self.checker.violation(what);
        }
        let mut arrival = self.now + link.latency_ms + self.rng.range(0, jitter);
        if faulty && loss > 0 && self.rng.chance(loss) {
            arrival += self.rng.range(200, 1_000);
            self.injected.retransmits += 1;
        }
        if faulty && reset > 0 && self.rng.below(100_000) < reset as u64 {
            self.injected.resets += 1;
            self.log(n, format!("connection {conn} reset (a lost message)"));
            self.reset_link(l, false);
            return Ok(());
        }
        let outbox = self.limits.outbox;
        let link = self.links.get_mut(&l).expect("looked up above");
        let arrival = arrival.max(link.last[e]);
        link.last[e] = arrival;
        link.in_flight[e] += 1;
        if link.in_flight[e] > outbox {
            link.full[e] = true;
            return Err(Full);
        }
        self.at(
            arrival,
            Ev::Deliver {
                link: l,
                to: 1 - e,
                msg: Box::new(msg),
            },
        );
        Ok(())
    }

    /// What the runtime does with a peer that does not read: the outbox is
    /// dropped (its close message with it, it is full).
    fn outbox_full(&mut self, n: usize, conn: ConnId) {
        let Some(&l) = self.nodes[n].up.as_ref().and_then(|u| u.conns.get(&conn)) else {
            return;
        };
        let Some(e) = self
            .links
            .get(&l)
            .and_then(|link| self.end_of(link, n, conn))
        else {
            return;
        };
        self.log(n, format!("connection {conn}: outbox full, closed"));
        self.reset_link(l, false);
        self.end_closed(l, e);
    }

    /// Sends `msg`, then closes: the peer reads what was sent before it,
    /// then the close. [`Closed::Now`]: node `n`'s end is closed (its core
    /// must hear of it, if it was out of the node).
    fn close(&mut self, n: usize, conn: ConnId, msg: Message) -> Closed {
        let Some(&l) = self.nodes[n].up.as_ref().and_then(|u| u.conns.get(&conn)) else {
            return Closed::Later;
        };
        let full = self
            .links
            .get(&l)
            .and_then(|link| Some(link.full[self.end_of(link, n, conn)?]))
            .unwrap_or(false);
        if full {
            // The driver drops a peer that does not read.
            self.outbox_closes += 1;
            self.outbox_full(n, conn);
            return Closed::Now;
        }
        self.send(n, conn, msg);
        let Some(link) = self.links.get(&l) else {
            return Closed::Now;
        };
        let Some(e) = self.end_of(link, n, conn) else {
            return Closed::Now;
        };
        let last = link.last[e].max(self.now);
        self.at(
            last,
            Ev::Closed {
                link: l,
                end: 1 - e,
            },
        );
        self.end_closed(l, e);
        Closed::Now
    }

    /// The connection breaks under both ends: each learns it after the
    /// link's latency (at once if `now`); what is in flight to an end that
    /// has learned it is lost.
    fn reset_link(&mut self, l: u64, now: bool) {
        let Some(link) = self.links.get(&l) else {
            return;
        };
        let delay = if now { 0 } else { link.latency_ms };
        let open: Vec<usize> = (0..2).filter(|&e| !link.ends[e].closed).collect();
        for e in open {
            self.after(delay, Ev::Closed { link: l, end: e });
        }
    }

    /// End `e` of link `l` learns that it closed.
    fn end_closed(&mut self, l: u64, e: usize) {
        let Some(link) = self.links.get_mut(&l) else {
            return;
        };
        if link.ends[e].closed {
            return;
        }
        link.ends[e].closed = true;
        let end = link.ends[e].clone();
        let (addr, established, open) = (link.addr.clone(), link.established, link.open);
        if !open || link.ends.iter().all(|x| x.closed) {
            self.links.remove(&l);
        }
        if !self.alive(end.node, end.inc) {
            return;
        }
        let n = end.node;
        if open {
            if let Some(up) = &mut self.nodes[n].up {
                up.conns.remove(&end.conn);
                up.gates.remove(&end.conn);
                up.door.left(end.conn);
                // Out of the node while its driver runs (which then
                // tells it: `Closed::Now`).
                if let Some(c) = &mut up.core {
                    up.driver.closed(c, end.conn);
                }
            }
        }
        if e == 0 {
            self.redial(n, addr, established);
        }
    }

    /// The dialer's attempt at `addr` ended.
    fn redial(&mut self, n: usize, addr: String, established: bool) {
        let r = self.rng.next_u64();
        let inc = self.nodes[n].inc;
        let Some(up) = &mut self.nodes[n].up else {
            return;
        };
        let Some(d) = up.dials.get_mut(&addr) else {
            return;
        };
        match d.next(established, r) {
            Some(wait) => self.after(wait, Ev::Dial { node: n, inc, addr }),
            None => {
                up.dials.remove(&addr);
            }
        }
    }

    // --- connections ----------------------------------------------------

    fn dial(&mut self, n: usize, inc: u32, addr: String) {
        if !self.alive(n, inc) {
            return;
        }
        if !self.nodes[n]
            .up
            .as_ref()
            .is_some_and(|u| u.dials.contains_key(&addr))
        {
            return;
        }
        // `ADDR#k`: the k-th parallel session to ADDR (the spammer's).
        let host = addr.split('#').next().unwrap_or(&addr);
        let Some(&t) = self.addrs.get(host) else {
            return self.redial(n, addr, false);
        };
        let (lo, hi) = self.cfg.faults.latency_ms;
        let latency_ms = self.rng.range(lo, hi);
        if !self.reachable(n, t) {
            // Nothing answers: the attempt times out.
            let link = self.new_link(n, t, addr, latency_ms);
            self.at(self.now + CONNECT_TIMEOUT_MS, Ev::Closed { link, end: 0 });
            return;
        }
        if self.nodes[t].up.is_none() {
            // Refused at once: the process is down.
            return self.redial(n, addr, false);
        }
        let link = self.new_link(n, t, addr, latency_ms);
        // Connect, then Hello and Auth both ways: about two round trips.
        self.after(4 * latency_ms + 1, Ev::Handshake(link));
    }

    fn new_link(&mut self, n: usize, t: usize, addr: String, latency_ms: u64) -> u64 {
        let l = self.next_link;
        self.next_link += 1;
        let inc = self.nodes[n].inc;
        let t_inc = self.nodes[t].inc;
        self.links.insert(
            l,
            Link {
                ends: [
                    End {
                        node: n,
                        inc,
                        conn: 0,
                        closed: false,
                    },
                    End {
                        node: t,
                        inc: t_inc,
                        conn: 0,
                        closed: false,
                    },
                ],
                latency_ms,
                last: [0; 2],
                in_flight: [0; 2],
                full: [false; 2],
                addr,
                open: false,
                established: false,
            },
        );
        l
    }

    fn bare_hello(&mut self, role: Role, key: &Keypair, n: usize) -> Hello {
        let tip = match self.nodes[n].up.as_ref().and_then(|u| u.store.as_ref()) {
            Some(s) => s.tip().ok(),
            None => None,
        };
        let chain = self.params.chain_id();
        Hello {
            version: crate::wire::PROTOCOL_VERSION,
            chain_id: chain,
            role,
            tip: match tip {
                Some(t) => TipInfo {
                    height: t.height,
                    hash: t.hash,
                    slot: t.slot,
                },
                None => TipInfo {
                    height: 0,
                    hash: chain,
                    slot: 0,
                },
            },
            key: key.public(),
            nonce: self.rng.bytes32(),
            clock_ms: self.local(n),
            listen: None,
            software: Bytes::new(*b"goodwill/sim").expect("short"),
        }
    }

    fn hello_of(&mut self, n: usize) -> Option<Hello> {
        let node = &self.nodes[n];
        let up = node.up.as_ref()?;
        match &up.store {
            Some(store) => {
                let nonce = self.rng.bytes32();
                crate::peer::queries::hello(
                    store,
                    node.kind.role(),
                    &node.key,
                    nonce,
                    self.local(n),
                    node.listen.as_deref(),
                )
                .ok()
            }
            None => {
                let k = node.key.clone();
                Some(self.bare_hello(Role::MainNode, &k, n))
            }
        }
    }

    fn handshake(&mut self, l: u64) {
        let Some(link) = self.links.get(&l) else {
            return;
        };
        let (d, a) = (link.ends[0].clone(), link.ends[1].clone());
        let latency = link.latency_ms;
        if !self.alive(d.node, d.inc) {
            self.links.remove(&l);
            return;
        }
        let a_ok = self.nodes[a.node].up.is_some()
            && self.nodes[a.node].inc == a.inc
            && self.reachable(d.node, a.node);
        if !a_ok {
            // Gone or unreachable: the attempt failed.
            return self.failed_attempt(d.node, l);
        }
        let local_a = self.local(a.node);
        let local_d = self.local(d.node);
        let d_ip = self.nodes[d.node].ip;
        let a_ip = self.nodes[a.node].ip;
        // Both doors, as on TCP: the acceptor may refuse (banned, no
        // place) or evict an older untrusted session; the dialer only
        // evicts. The ids are the ones `alloc_conn` hands out next.
        let (id_a, id_d) = (self.next_conn_of(a.node), self.next_conn_of(d.node));
        let evict_a = match self.door_of(a.node).arrive(id_a, d_ip, false, local_a) {
            Ok(e) => e,
            Err(r) => {
                let line = format!("door: refused {}: {}", self.nodes[d.node].name, r.why);
                self.log(a.node, line);
                return self.failed_attempt(d.node, l);
            }
        };
        let evict_d = self
            .door_of(d.node)
            .arrive(id_d, a_ip, true, local_d)
            .unwrap_or(None);
        let refuse = |sim: &mut Sim| {
            sim.door_of(a.node).left(id_a);
            sim.door_of(d.node).left(id_d);
            sim.failed_attempt(d.node, l)
        };
        let (Some(hd), Some(ha)) = (self.hello_of(d.node), self.hello_of(a.node)) else {
            return refuse(self);
        };
        // The handshake's own checks and signatures, as on TCP.
        let chain = self.params.chain_id();
        let auth_ok = handshake::check_hello(&chain, &hd).is_ok()
            && handshake::check_hello(&chain, &ha).is_ok()
            && handshake::verify_auth(
                &hd,
                &ha.nonce,
                &handshake::sign_auth(&self.nodes[d.node].key, &hd, &ha.nonce),
            )
            .is_ok()
            && handshake::verify_auth(
                &ha,
                &hd.nonce,
                &handshake::sign_auth(&self.nodes[a.node].key, &ha, &hd.nonce),
            )
            .is_ok();
        if !auth_ok {
            self.checker.violation(format!(
                "link {l}: the handshake failed between honest nodes"
            ));
            return refuse(self);
        }
        // The door's second check (who may use a forger's port) and trust.
        let forges_d = hd.role == Role::Forger && self.forges(a.node, &hd.key, local_a);
        let forges_a = ha.role == Role::Forger && self.forges(d.node, &ha.key, local_d);
        if self
            .door_of(a.node)
            .hello(id_a, hd.role, forges_d, false)
            .is_err()
            || self
                .door_of(d.node)
                .hello(id_d, ha.role, forges_a, true)
                .is_err()
        {
            return refuse(self);
        }
        // Each side's clock offset, as the runtime measures it: the other
        // clock read half-way through the exchange.
        let rtt = 2 * latency;
        let off_d = handshake::ClockSample::measure(
            self.local(d.node) - 2 * rtt,
            self.local(d.node),
            (self.now as i64 - rtt as i64 + self.nodes[a.node].skew_ms) as u64,
        );
        let off_a = handshake::ClockSample::measure(
            self.local(a.node) - rtt,
            self.local(a.node),
            (self.now as i64 - rtt as i64 / 2 + self.nodes[d.node].skew_ms) as u64,
        );
        let conn_d = self.alloc_conn(d.node, l);
        let conn_a = self.alloc_conn(a.node, l);
        debug_assert_eq!((conn_a, conn_d), (id_a, id_d));
        for (n, old) in [(a.node, evict_a), (d.node, evict_d)] {
            if let Some(old) = old {
                let line = format!("door: evicting connection {old}");
                self.log(n, line);
                self.close(
                    n,
                    old,
                    Message::error(
                        ErrorCode::Other,
                        "evicted: too many connections, the oldest untrusted ones make room",
                    ),
                );
            }
        }
        self.checker
            .sessions_from(d_ip, self.sessions_from(a.node, d_ip));
        {
            let link = self.links.get_mut(&l).expect("checked");
            link.ends[0].conn = conn_d;
            link.ends[1].conn = conn_a;
            link.ends[1].inc = a.inc;
            link.open = true;
        }
        // The acceptor's core hears of it first, then the dialer's (whose
        // verdict is what its redialer is told: `Links::verdict`).
        self.drive(a.node, |dr, c, out, now| {
            dr.connected(c, out, conn_a, &hd, d_ip, off_a, now)
        });
        if !self.alive(d.node, d.inc) {
            return;
        }
        let driven = self.drive(d.node, |dr, c, out, now| {
            dr.connected(c, out, conn_d, &ha, a_ip, off_d, now)
        });
        if driven.is_none() {
            // The spammer has no core: it keeps every connection.
            let spammer = self.nodes[d.node].kind == Kind::Spammer;
            if let Some(link) = self.links.get_mut(&l) {
                link.established = spammer;
            }
        }
    }

    fn next_conn_of(&self, n: usize) -> ConnId {
        self.nodes[n].up.as_ref().expect("alive").next_conn
    }

    fn door_of(&mut self, n: usize) -> &mut Door {
        &mut self.nodes[n].up.as_mut().expect("alive").door
    }

    /// Whether `key` forges around now, as node `n`'s chain says (what the
    /// runtime's `forger_keys` holds).
    fn forges(&self, n: usize, key: &PublicKey, local: u64) -> bool {
        let epoch = self.params.epoch_of(self.params.slot_at(local));
        self.nodes[n]
            .up
            .as_ref()
            .and_then(|u| u.core.as_ref())
            .and_then(|c| c.live_forgers_around(epoch).ok())
            .is_some_and(|k| k.contains(key))
    }

    /// Open sessions node `n` holds with the address `ip`.
    fn sessions_from(&self, n: usize, ip: IpAddr) -> usize {
        let Some(up) = &self.nodes[n].up else {
            return 0;
        };
        up.conns
            .values()
            .filter_map(|l| self.links.get(l))
            .filter(|link| {
                link.ends
                    .iter()
                    .any(|e| self.nodes[e.node].ip == ip && e.node != n)
            })
            .count()
    }

    fn alloc_conn(&mut self, n: usize, l: u64) -> ConnId {
        let local = self.local(n);
        let max = self.limits.max_msgs_per_s;
        let up = self.nodes[n].up.as_mut().expect("alive");
        let c = up.next_conn;
        up.next_conn += 1;
        up.conns.insert(c, l);
        up.gates.insert(c, FloodGate::new(max, local));
        c
    }

    fn failed_attempt(&mut self, n: usize, l: u64) {
        let addr = self.links.remove(&l).map(|x| x.addr);
        if let Some(addr) = addr {
            self.redial(n, addr, false);
        }
    }

    fn split_net(&mut self, i: usize) {
        let side = self.cfg.faults.partitions[i].side.clone();
        self.injected.partitions += 1;
        let cut: Vec<u64> = self
            .links
            .iter()
            .filter(|(_, l)| side[l.ends[0].node] != side[l.ends[1].node])
            .map(|(id, _)| *id)
            .collect();
        self.split = Some(side);
        for l in cut {
            let open = self.links.get(&l).is_some_and(|x| x.open);
            if open {
                self.reset_link(l, true);
            }
        }
    }

    // --- messages -------------------------------------------------------

    fn deliver(&mut self, l: u64, to: usize, msg: Message) {
        let reads = self.cfg.spammer_reads;
        let Some(link) = self.links.get_mut(&l) else {
            return;
        };
        let end = link.ends[to].clone();
        // A spammer that does not read leaves what it is sent on its way.
        if reads || self.nodes[end.node].kind != Kind::Spammer {
            link.in_flight[1 - to] = link.in_flight[1 - to].saturating_sub(1);
        }
        let from_node = link.ends[1 - to].node;
        if end.closed || !self.alive(end.node, end.inc) {
            return;
        }
        let n = end.node;
        self.hash_trace(&[&(n as u64).to_le_bytes(), &encode(&msg)]);
        let kind = self.nodes[n].kind;
        if kind == Kind::Spammer {
            return;
        }
        if let Message::NewBlock(b) = &msg {
            if kind.honest() {
                self.delivered.insert(b.hash());
            }
        }
        if kind == Kind::Withholder
            && self.withholding
            && matches!(
                msg,
                Message::NewBlock(_) | Message::Blocks { .. } | Message::Tip(_)
            )
        {
            return;
        }
        let local = self.local(n);
        let Some(up) = self.nodes[n].up.as_mut() else {
            return;
        };
        // The runtime's flood limit, before anything else.
        let floods = up.gates.get_mut(&end.conn).is_some_and(|g| !g.allow(local));
        let store = up.store.clone();
        {
            if floods {
                let conn = end.conn;
                self.drive(n, |d, c, out, now| {
                    d.violation(
                        c,
                        out,
                        conn,
                        ErrorCode::Misbehaving,
                        "flooding: too many messages",
                        now,
                    )
                });
                // The reader stops: the connection closes.
                self.reset_link(l, false);
                return;
            }
        }
        let tip_may_change = matches!(msg, Message::NewBlock(_) | Message::Blocks { .. });
        match msg {
            // Answered by the connection itself, from a store snapshot.
            Message::GetBlocks { id, from, count }
                if self.nodes[from_node].kind.role() != Role::Client =>
            {
                let blocks = store
                    .as_ref()
                    .and_then(|s| crate::peer::queries::blocks_from_store(s, from, count).ok())
                    .unwrap_or_default();
                self.send(n, end.conn, Message::Blocks { id, blocks });
            }
            msg => {
                let conn = end.conn;
                self.drive(n, |d, c, out, now| d.message(c, out, conn, msg, now));
            }
        }
        if tip_may_change {
            self.track_tip(n);
        }
    }

    fn honest_heights(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|x| x.kind.honest())
            .filter_map(|x| x.up.as_ref()?.store.as_ref()?.tip().ok())
            .map(|t| t.height)
            .collect()
    }

    /// After a node's chain may have moved: finality and memory.
    fn track_tip(&mut self, n: usize) {
        let node = &self.nodes[n];
        if !node.kind.honest() {
            return;
        }
        let Some(up) = &node.up else {
            return;
        };
        if let (Some(store), Some(core)) = (&up.store, &up.core) {
            let sizes = core.sizes();
            let store = store.clone();
            let name = node.name.clone();
            self.checker.finality(&name, &store);
            self.checker.sizes(&name, &sizes);
            if let Ok(t) = store.tip() {
                let local = self.local(n);
                self.checker.tip(&self.params, &name, &t, local);
            }
        }
    }

    fn tick(&mut self, n: usize, inc: u32) {
        if !self.alive(n, inc) {
            return;
        }
        let every = policy::tick_ms(self.nodes[n].kind.role());
        self.after(every, Ev::Tick { node: n, inc });
        self.drive(n, |d, c, out, now| d.tick(c, out, now));
        self.track_tip(n);
    }

    // --- forging ----------------------------------------------------------

    fn slot(&mut self, n: usize, inc: u32, slot: u64) {
        if !self.alive(n, inc) {
            return;
        }
        self.schedule_slot(n, inc);
        if !self.forging {
            return;
        }
        match self.nodes[n].kind {
            Kind::Forger => self.honest_slot(n, slot),
            Kind::Equivocator if self.faulty() => self.equivocate(n, slot),
            Kind::InvalidForger if self.faulty() => self.forge_invalid(n, slot),
            Kind::FutureSyncer if self.faulty() => self.forge_future(n, slot),
            Kind::Grinder if self.faulty() => self.grind(n, slot),
            _ => self.forge_own(n, slot),
        }
        self.track_tip(n);
    }

    /// A slot, as the appliance's core thread runs it (through the
    /// driver); every signature it makes is counted.
    fn honest_slot(&mut self, n: usize, slot: u64) {
        let pk = self.nodes[n].key.public();
        let node = &mut self.nodes[n];
        let ops0 = node.disk.ops();
        if let Some(k) = node.crash_while_forging {
            node.disk.fail_after(k);
            node.disk_armed = true;
        }
        let Some(core) = node.up.as_ref().and_then(|u| u.core.as_ref()) else {
            return;
        };
        let watch = SlotWatch {
            pk,
            ops0,
            forged_before: core.forge_stats().map_or(0, |s| s.forged_total),
            crash: false,
        };
        let driven =
            self.drive_watching(n, Some(watch), |d, c, out, now| d.slot(c, out, slot, now));
        if let Some((_, Some(w))) = driven {
            if w.crash {
                self.injected.crashes_after_forging += 1;
                self.die(n, "crash after forging, before sending");
            }
        }
    }

    /// What a Byzantine forger holds: its store, its core's candidates.
    fn byz_parts(&self, n: usize) -> Option<(Arc<Store>, Vec<SignedTransaction>)> {
        let up = self.nodes[n].up.as_ref()?;
        let store = up.store.clone()?;
        let max = self.params.limits().max_block_txs as usize;
        let candidates = up.core.as_ref()?.candidates(max).ok()?;
        Some((store, candidates))
    }

    /// Builds the block `key` forges in `slot` on its store's tip, if it
    /// leads the slot there.
    fn build(
        &self,
        store: &Store,
        key: &Keypair,
        slot: u64,
        txs: Vec<SignedTransaction>,
    ) -> Option<ledger::UnsignedBlock> {
        let snap = store.snapshot().ok()?;
        let tip = snap.tip().ok()?;
        if slot <= tip.slot {
            return None;
        }
        if !schedule::leads(&self.params, &snap, &tip, slot, &key.public()).ok()? {
            return None;
        }
        ledger::prepare_block(&self.params, &snap, key, slot, txs).ok()
    }

    fn broadcast(&mut self, n: usize, msg: Message) {
        let conns: Vec<ConnId> = self.nodes[n]
            .up
            .as_ref()
            .map(|u| u.conns.keys().copied().collect())
            .unwrap_or_default();
        for c in conns {
            self.send(n, c, msg.clone());
        }
    }

    /// A Byzantine node forging as an honest one would (no signing record,
    /// no sync check): with every key it holds, on its own tip. The
    /// withholder keeps what it forges while it withholds.
    fn forge_own(&mut self, n: usize, slot: u64) {
        let Some((store, candidates)) = self.byz_parts(n) else {
            return;
        };
        let keys: Vec<Keypair> = std::iter::once(self.nodes[n].key.clone())
            .chain(self.nodes[n].extra_keys.iter().cloned())
            .collect();
        for k in keys {
            let Some(u) = self.build(&store, &k, slot, candidates.clone()) else {
                continue;
            };
            let block = u.sign(&k);
            if store.import_block(&block, self.local(n)).is_err() {
                return;
            }
            if self.withholding && self.nodes[n].kind == Kind::Withholder {
                self.injected.withheld += 1;
                if let Some(up) = &mut self.nodes[n].up {
                    up.withheld.push(block);
                }
            } else {
                self.broadcast(n, Message::NewBlock(Box::new(block)));
            }
            return;
        }
    }

    /// Two different blocks for one slot: one to each half of the main
    /// nodes (all to the one, if it has only one).
    fn equivocate(&mut self, n: usize, slot: u64) {
        let Some((store, candidates)) = self.byz_parts(n) else {
            return;
        };
        let k = self.nodes[n].key.clone();
        let Some(a) = self.build(&store, &k, slot, candidates.clone()) else {
            return;
        };
        // The twin holds one more transaction: a transfer to itself.
        let Ok(snap) = store.snapshot() else { return };
        let Ok(acct) = snap.account(&k.public()) else {
            return;
        };
        drop(snap);
        let own = a.txs.iter().filter(|t| t.tx.sender == k.public()).count() as u64;
        let extra = Transaction {
            chain_id: self.params.chain_id(),
            sender: k.public(),
            nonce: acct.nonce + own,
            fee: self.params.genesis().min_fee,
            kind: TxKind::Transfer {
                to: k.public(),
                amount: 1,
            },
            memo: Bytes::empty(),
        }
        .sign(&k);
        let mut txs = a.txs.clone();
        txs.push(extra);
        let Some(b) = self.build(&store, &k, slot, txs) else {
            return;
        };
        if a.header.hash() == b.header.hash() {
            return;
        }
        let (a, b) = (a.sign(&k), b.sign(&k));
        let _ = store.import_block(&a, self.local(n));
        self.injected.equivocations += 1;
        self.equivocations
            .insert((k.public(), slot), (a.hash(), b.hash()));
        self.log(
            n,
            format!(
                "EQUIVOCATE slot {slot}: {} and {}",
                a.hash().short(),
                b.hash().short()
            ),
        );
        let conns: Vec<ConnId> = self.nodes[n]
            .up
            .as_ref()
            .map(|u| u.conns.keys().copied().collect())
            .unwrap_or_default();
        let half = conns.len().div_ceil(2);
        for (i, c) in conns.iter().enumerate() {
            if i < half {
                self.send(n, *c, Message::NewBlock(Box::new(a.clone())));
            }
            if i >= half || conns.len() == 1 {
                self.send(n, *c, Message::NewBlock(Box::new(b.clone())));
            }
        }
    }

    /// A block that breaks a rule, validly signed: a wrong state digest, a
    /// wrong transaction root, a slot not led, a slot far ahead, or a
    /// wrong digest on a fork off the tip's parent (stored as a side
    /// branch before it can be checked in full).
    fn forge_invalid(&mut self, n: usize, slot: u64) {
        let Some((store, candidates)) = self.byz_parts(n) else {
            return;
        };
        let k = self.nodes[n].key.clone();
        let Ok(snap) = store.snapshot() else { return };
        let Ok(tip) = snap.tip() else { return };
        if slot <= tip.slot {
            return;
        }
        let leads = schedule::leads(&self.params, &snap, &tip, slot, &k.public()).unwrap_or(false);
        let variant = self.rng.below(5);
        // A slot not led is forged only by the variant that needs one.
        if leads == (variant == 2) {
            return;
        }
        let Ok(u) = ledger::prepare_block(&self.params, &snap, &k, slot, candidates) else {
            return;
        };
        drop(snap);
        let mut h = u.header;
        let what = match variant {
            0 => {
                h.state_digest = Hash([0xBA; 32]);
                "a wrong state digest"
            }
            1 => {
                h.tx_root = Hash([0xAD; 32]);
                "a wrong transaction root"
            }
            2 => "a slot it does not lead",
            3 => {
                h.slot += 5 * EPOCH_SLOTS;
                "a slot far ahead"
            }
            _ => {
                if tip.height == 0 {
                    return;
                }
                let Ok(Some(parent)) = store.snapshot().and_then(|s| s.block(&tip.hash)) else {
                    return;
                };
                h.parent = parent.header.header.parent;
                h.height = tip.height;
                h.state_digest = Hash([0xBD; 32]);
                "a wrong digest on a fork"
            }
        };
        let block = Block {
            header: h.sign(&k),
            txs: u.txs,
        };
        self.injected.invalid_blocks += 1;
        self.log(n, format!("INVALID block in slot {slot}: {what}"));
        self.broadcast(n, Message::NewBlock(Box::new(block)));
    }

    /// The future-block syncer (issue 13, finding 1): a leader that forges,
    /// ahead of time, every slot its key leads from [`FUTURE_FROM_SLOTS`] to
    /// [`FUTURE_TO_SLOTS`] ahead, each on the last. Its own store takes them
    /// (its own code, no clock), so its Hello claims that tip and its
    /// answers to GetBlocks serve those blocks. It also claims, in Tip
    /// messages, that tip and a disguised one that could be true now (as
    /// high as the slot under way), so that a node asks it for blocks and
    /// gets the future ones.
    fn forge_future(&mut self, n: usize, slot: u64) {
        let Some((store, _)) = self.byz_parts(n) else {
            return;
        };
        let k = self.nodes[n].key.clone();
        let mut made = 0;
        for s in slot + FUTURE_FROM_SLOTS..=slot + FUTURE_TO_SLOTS {
            let Some(u) = self.build(&store, &k, s, vec![]) else {
                continue;
            };
            if store.import_block(&u.sign(&k), u64::MAX).is_err() {
                break;
            }
            made += 1;
        }
        let Ok(tip) = store.tip() else { return };
        if made > 0 {
            self.injected.future_blocks += made;
            self.log(
                n,
                format!(
                    "FUTURE: {made} blocks forged ahead, tip at height {} in slot {} (now slot {slot})",
                    tip.height, tip.slot
                ),
            );
        }
        if tip.slot <= slot {
            return;
        }
        let real = TipInfo {
            height: tip.height,
            hash: tip.hash,
            slot: tip.slot,
        };
        let disguised = TipInfo {
            height: tip.height.min(slot),
            hash: tip.hash,
            slot,
        };
        self.broadcast(n, Message::Tip(real));
        self.broadcast(n, Message::Tip(disguised));
    }

    /// The tie-break grinder (issue 13, finding 3): leading a slot right
    /// after another forger's block, it builds on that block's parent
    /// instead, trying self-transfers of 1, 2, 3… units until its block's
    /// hash is below the tip's, and sends that rival. Otherwise it forges
    /// as an honest forger would.
    fn grind(&mut self, n: usize, slot: u64) {
        let Some((store, _)) = self.byz_parts(n) else {
            return;
        };
        let k = self.nodes[n].key.clone();
        let Some(rival) = self.ground_rival(n, &store, &k, slot) else {
            return self.forge_own(n, slot);
        };
        let _ = store.import_block(&rival, self.local(n));
        self.injected.ground += 1;
        self.log(
            n,
            format!(
                "GRIND slot {slot}: rival {} at height {}, built on the tip's parent",
                rival.hash().short(),
                rival.height()
            ),
        );
        self.broadcast(n, Message::NewBlock(Box::new(rival)));
    }

    fn ground_rival(&mut self, n: usize, store: &Store, k: &Keypair, slot: u64) -> Option<Block> {
        let snap = store.snapshot().ok()?;
        let tip = snap.tip().ok()?;
        if tip.height == 0 || slot <= tip.slot {
            return None;
        }
        let top = snap.block(&tip.hash).ok()??;
        if top.header.header.forger == k.public() {
            return None;
        }
        drop(snap);
        let lag = self.lag_at(n, store, &top)?;
        let lsnap = lag.snapshot().ok()?;
        let ltip = lsnap.tip().ok()?;
        if !schedule::leads(&self.params, &lsnap, &ltip, slot, &k.public()).ok()? {
            return None;
        }
        let nonce = lsnap.account(&k.public()).ok()?.nonce;
        for amount in 1..=64 {
            let tx = Transaction {
                chain_id: self.params.chain_id(),
                sender: k.public(),
                nonce,
                fee: self.params.genesis().min_fee,
                kind: TxKind::Transfer {
                    to: k.public(),
                    amount,
                },
                memo: Bytes::empty(),
            }
            .sign(k);
            let u = ledger::prepare_block(&self.params, &lsnap, k, slot, vec![tx]).ok()?;
            let b = u.sign(k);
            if b.hash() < tip.hash {
                return Some(b);
            }
        }
        None
    }

    /// The grinder's second store, brought to `top`'s parent: the blocks of
    /// its main store's chain below `top`, imported (from scratch if it sits
    /// on another branch).
    fn lag_at(&mut self, n: usize, store: &Store, top: &Block) -> Option<Arc<Store>> {
        let parent = top.header.header.parent;
        let height = top.height() - 1;
        let existing = self.nodes[n].up.as_ref()?.lag.clone();
        for lag in [existing, None] {
            let lag = match lag {
                Some(l) => l,
                None => Arc::new(
                    Store::with_backend(
                        SimDisk::new(),
                        &self.params,
                        format!("{}-lag", self.nodes[n].name),
                        Arc::new(AtomicU64::new(0)),
                    )
                    .ok()?,
                ),
            };
            let snap = store.snapshot().ok()?;
            for h in lag.tip().ok()?.height + 1..=height {
                let b = snap.block_at(h).ok()??;
                if lag.import_block(&b, u64::MAX).is_err() {
                    break;
                }
            }
            if lag.tip().ok()?.hash == parent {
                self.nodes[n].up.as_mut()?.lag = Some(lag.clone());
                return Some(lag);
            }
        }
        None
    }

    fn withhold(&mut self, on: bool) {
        let Some(w) = self.nodes.iter().position(|x| x.kind == Kind::Withholder) else {
            return;
        };
        if on {
            self.withholding = true;
            self.log(w, "WITHHOLD: keeping blocks private".into());
            return;
        }
        self.withholding = false;
        let blocks = self.nodes[w]
            .up
            .as_mut()
            .map(|u| std::mem::take(&mut u.withheld))
            .unwrap_or_default();
        if blocks.is_empty() {
            return;
        }
        self.injected.releases += 1;
        self.log(w, format!("RELEASE: {} private blocks", blocks.len()));
        for b in blocks {
            self.broadcast(w, Message::NewBlock(Box::new(b)));
        }
    }

    // --- workload and spam -------------------------------------------------

    fn next_nonce(&mut self, n: usize, pk: &PublicKey) -> Option<u64> {
        let local = self.local(n);
        let core = self.nodes[n].up.as_ref()?.core.as_ref()?;
        match core.answer(Query::NextNonce(*pk), local).ok()? {
            crate::wire::Answer::NextNonce(x) => Some(x),
            _ => None,
        }
    }

    /// Whether a purchase of `amount` for `epoch` by `key` keeps the run
    /// inside the design's assumption that honest forgers hold more than
    /// half of every epoch's bought weight (docs/design.md, "Security
    /// assumptions"). Honest purchases always do. A Byzantine key buys only
    /// while all Byzantine purchases planned for the epoch, this one
    /// included, stay below the honest weight already on main node `m`'s
    /// chain — counted as if the Byzantine forgers colluded, and against
    /// landed weight only, since a submitted honest purchase may still be
    /// dropped. Without this bound the wallet once gave the future-block
    /// syncer all of an epoch's weight (seed 25 with forger reports on):
    /// a branch it forged ahead was then rightly the longest, and main
    /// nodes that took it at different times finalized different blocks.
    fn within_honest_majority(
        &mut self,
        m: usize,
        key: &PublicKey,
        epoch: u64,
        amount: u64,
    ) -> bool {
        let honest: Vec<PublicKey> = self
            .nodes
            .iter()
            .filter(|x| x.kind.forges() && x.kind.honest())
            .map(|x| x.key.public())
            .collect();
        if honest.contains(key) {
            return true;
        }
        let Some(store) = self.nodes[m].up.as_ref().and_then(|u| u.store.clone()) else {
            return false;
        };
        let Ok(Ok(weights)) = store.snapshot().map(|s| s.epoch_weights(epoch)) else {
            return false;
        };
        let landed: u64 = weights
            .iter()
            .filter(|(k, _)| honest.contains(k))
            .map(|(_, w)| *w)
            .sum();
        let planned = self.byzantine_weight.entry(epoch).or_insert(0);
        if planned.saturating_add(amount) >= landed {
            return false;
        }
        *planned += amount;
        true
    }

    /// A wallet submits a transaction to a main node now and then:
    /// transfers, records, and forgers buying weight (a donation).
    fn wallet(&mut self) {
        if !self.forging {
            return;
        }
        let wait = self.rng.range(300, 1_200);
        self.after(wait, Ev::Wallet);
        let mains: Vec<usize> = (0..self.cfg.mains)
            .filter(|&i| self.nodes[i].up.is_some())
            .collect();
        if mains.is_empty() {
            return;
        }
        let m = *self.rng.pick(&mains);
        let chain_id = self.params.chain_id();
        let min_fee = self.params.genesis().min_fee;
        let roll = self.rng.below(100);
        let (key, kind) = if roll < 25 {
            // A forger buys weight two epochs ahead.
            let forgers: Vec<Keypair> = self
                .nodes
                .iter()
                .filter(|x| x.kind.forges() && x.up.is_some())
                .flat_map(|x| std::iter::once(x.key.clone()).chain(x.extra_keys.clone()))
                .collect();
            if forgers.is_empty() {
                return;
            }
            let k = self.rng.pick(&forgers).clone();
            let epoch = self.params.epoch_of(self.params.slot_at(self.local(m))) + 2;
            if !self.bought.insert((k.public(), epoch)) {
                return;
            }
            let amount = self.rng.range(1, 20) * COIN;
            if !self.within_honest_majority(m, &k.public(), epoch, amount) {
                return;
            }
            if self.cfg.verbose {
                let who = self
                    .nodes
                    .iter()
                    .find(|x| x.key.public() == k.public())
                    .map_or("an extra key", |x| x.name.as_str());
                log::info!(
                    "wallet: {who} buys {} GWL of weight for epoch {epoch}",
                    amount / COIN
                );
            }
            (
                k,
                TxKind::BuyWeight {
                    epoch,
                    amount,
                    association: self.association,
                },
            )
        } else if roll < 80 {
            let from = self.rng.pick(&self.users).clone();
            let to = self.rng.pick(&self.users).public();
            let amount = self.rng.range(1, 10_000);
            (from, TxKind::Transfer { to, amount })
        } else if roll < 92 {
            let Some((key, kind)) = self.contract_tx() else {
                return;
            };
            (key, kind)
        } else {
            let from = self.rng.pick(&self.users).clone();
            let k = format!("k{}", self.rng.below(4));
            let v = self.rng.next_u64().to_le_bytes();
            (
                from,
                TxKind::PutData {
                    key: Bytes::new(k.into_bytes()).expect("short"),
                    value: Bytes::new(v.to_vec()).expect("short"),
                },
            )
        };
        let Some(nonce) = self.next_nonce(m, &key.public()) else {
            return;
        };
        // A contract transaction pays for its fuel limit (the unused part
        // comes back).
        let fuel_fee = kind.fuel_limit().map_or(0, |f| {
            f * self.params.contracts().map_or(0, |c| c.fuel_price)
        });
        if let TxKind::DeployContract { .. } = kind {
            let owner = self
                .users
                .iter()
                .position(|u| u.public() == key.public())
                .expect("a user deploys");
            let address = crate::ledger::contract::address(&chain_id, &key.public(), nonce);
            self.paywalls.push((address, owner));
        }
        let tx = Transaction {
            chain_id,
            sender: key.public(),
            nonce,
            fee: min_fee + fuel_fee + self.rng.below(5),
            kind,
            memo: Bytes::empty(),
        }
        .sign(&key);
        self.next_req = self.next_req.wrapping_add(1);
        let id = self.next_req;
        self.drive(m, |d, c, out, now| {
            d.message(c, out, WALLET_CONN, Message::SubmitTx { id, tx }, now)
        });
    }

    /// A contract transaction for the wallet: a user deploys a paywall
    /// (the first, then now and then), or pays one (sometimes under its
    /// price: the run traps and the value comes back), asks it what an
    /// address paid, or withdraws from it (by its owner, or by somebody
    /// else: that traps too).
    fn contract_tx(&mut self) -> Option<(Keypair, TxKind)> {
        const PAYWALL: &[u8] = include_bytes!("../../contracts/paywall.wasm");
        const PRICE: u64 = 500;
        let who = self.rng.below(self.users.len() as u64) as usize;
        let key = self.users[who].clone();
        if self.paywalls.is_empty() || self.rng.chance(10) {
            return Some((
                key,
                TxKind::DeployContract {
                    code: Bytes::new(PAYWALL.to_vec()).expect("under 64 KiB"),
                    init: Bytes::new(PRICE.to_le_bytes().to_vec()).expect("8 bytes"),
                    fuel_limit: 100_000,
                },
            ));
        }
        let (contract, owner) = *self.rng.pick(&self.paywalls);
        let (input, value) = match self.rng.below(10) {
            0..=5 => (vec![1], self.rng.range(PRICE - 100, PRICE * 3)),
            6 | 7 => {
                let mut i = vec![2];
                i.extend_from_slice(&self.rng.pick(&self.users).public().0);
                (i, 0)
            }
            _ => {
                let by = if self.rng.chance(2) { owner } else { who };
                return Some((
                    self.users[by].clone(),
                    TxKind::CallContract {
                        contract,
                        input: Bytes::new(vec![3]).expect("short"),
                        value: 0,
                        fuel_limit: 100_000,
                    },
                ));
            }
        };
        Some((
            key,
            TxKind::CallContract {
                contract,
                input: Bytes::new(input).expect("short"),
                value,
                fuel_limit: 100_000,
            },
        ))
    }

    /// The spammer sends each main node it is connected to a burst of bad
    /// transactions: bad signatures, another chain, nonces far ahead, and
    /// valid ones with nonces ahead (held back, filling the mempool).
    fn spam(&mut self) {
        if !self.faulty() {
            return;
        }
        let wait = self.rng.range(1_500, 5_000);
        self.after(wait, Ev::Spam);
        let Some(s) = self.nodes.iter().position(|x| x.kind == Kind::Spammer) else {
            return;
        };
        let conns: Vec<ConnId> = self.nodes[s]
            .up
            .as_ref()
            .map(|u| u.conns.keys().copied().collect())
            .unwrap_or_default();
        if self.spam_pool.is_empty() {
            self.spam_pool = self.sign_spam();
        }
        for c in conns {
            // A junk burst (any kind, maybe more than the flood limit), or
            // a filling one: only transactions that pass every check but
            // the nonce, held back — under the flood limit, never striking.
            let fill = self.rng.chance(500);
            let count = if fill {
                self.rng.range(100, 600)
            } else {
                self.rng.range(20, 1_000)
            };
            for _ in 0..count {
                let variant = if fill { 3 } else { self.rng.below(4) as usize };
                let pool = &self.spam_pool[variant];
                let tx = pool[self.rng.below(pool.len() as u64) as usize].clone();
                self.injected.spam += 1;
                self.send(s, c, Message::NewTx(tx));
            }
        }
    }

    /// The spammer's transactions, signed once per run (signing is most of
    /// a spam run's cost otherwise), by kind: bad signatures, another
    /// chain's, nonces far ahead, and valid ones with nonces ahead.
    fn sign_spam(&mut self) -> Vec<Vec<SignedTransaction>> {
        let chain_id = self.params.chain_id();
        let min_fee = self.params.genesis().min_fee;
        (0..4)
            .map(|variant| {
                // Enough held-back ones to fill a mempool (512 pairs of
                // key and nonce are possible).
                let count = if variant == 3 { 1_024 } else { 256 };
                (0..count)
                    .map(|_| {
                        let k = self.rng.pick(&self.spam_keys).clone();
                        let nonce = match variant {
                            2 => 1_000 + self.rng.below(1_000),
                            3 => 1 + self.rng.below(16),
                            _ => self.rng.below(4),
                        };
                        let mut tx = Transaction {
                            chain_id: if variant == 1 {
                                Hash([7; 32])
                            } else {
                                chain_id
                            },
                            sender: k.public(),
                            nonce,
                            fee: min_fee + self.rng.below(100),
                            kind: TxKind::Transfer {
                                to: self.association,
                                amount: self.rng.range(1, 100),
                            },
                            memo: Bytes::empty(),
                        }
                        .sign(&k);
                        if variant == 0 {
                            tx.signature.0[7] ^= 0x40;
                        }
                        tx
                    })
                    .collect()
            })
            .collect()
    }

    /// Submits `tx` to the first main node that is up, as the wallet does.
    fn submit(&mut self, tx: SignedTransaction) {
        let Some(m) = (0..self.cfg.mains).find(|&i| self.nodes[i].up.is_some()) else {
            return;
        };
        self.next_req = self.next_req.wrapping_add(1);
        let id = self.next_req;
        self.drive(m, |d, c, out, now| {
            d.message(c, out, WALLET_CONN, Message::SubmitTx { id, tx }, now)
        });
    }

    /// The Sybil voter. First, each of its keys buys one unit of weight for
    /// two epochs ahead and one proposes its association; once that epoch
    /// has started, every key votes the association in and the genesis one
    /// out. Counted by keys, thirty one-unit keys would outvote the forgers.
    fn sybil(&mut self, vote: bool) {
        let Some(m) = (0..self.cfg.mains).find(|&i| self.nodes[i].up.is_some()) else {
            return;
        };
        let chain_id = self.params.chain_id();
        let fee = self.params.genesis().min_fee;
        let keys = self.sybil_keys.clone();
        let tx = |k: &Keypair, nonce: u64, kind: TxKind| {
            Transaction {
                chain_id,
                sender: k.public(),
                nonce,
                fee,
                kind,
                memo: Bytes::empty(),
            }
            .sign(k)
        };
        if !vote {
            let epoch = self.params.epoch_of(self.params.slot_at(self.local(m))) + 2;
            let (name, url) = (b"Sybil Fund".as_slice(), b"".as_slice());
            let proposal = tx(
                &keys[0],
                1,
                TxKind::ProposeAssociation {
                    name: Bytes::new(name.to_vec()).expect("short"),
                    url: Bytes::empty(),
                    account: self.sybil_association.public(),
                    proof: crate::chain::tx::association_proof(
                        &self.sybil_association,
                        &chain_id,
                        name,
                        url,
                    ),
                },
            );
            self.sybil_plan = Some((epoch, proposal.id()));
            for k in &keys {
                let buy = TxKind::BuyWeight {
                    epoch,
                    amount: 1,
                    association: self.association,
                };
                self.injected.sybil_txs += 1;
                self.submit(tx(k, 0, buy));
            }
            self.injected.sybil_txs += 1;
            self.submit(proposal);
            let at = self.params.slot_start_ms(self.params.first_slot(epoch)) + 1_500;
            self.at(at.max(self.now + 1), Ev::Sybil(true));
            return;
        }
        let Some((_, proposal)) = self.sybil_plan else {
            return;
        };
        let genesis_id = ChainParams::genesis_association_id(&self.association);
        for k in &keys {
            let Some(nonce) = self.next_nonce(m, &k.public()) else {
                return;
            };
            for (i, (id, approve)) in [(proposal, true), (genesis_id, false)]
                .into_iter()
                .enumerate()
            {
                self.injected.sybil_txs += 1;
                let kind = TxKind::VoteAssociation {
                    proposal: id,
                    approve,
                };
                self.submit(tx(k, nonce + i as u64, kind));
            }
        }
    }

    // --- the end ------------------------------------------------------------

    fn finish(mut self, plan: String) -> Outcome {
        let honest: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].kind.honest())
            .collect();
        let mut tips = Vec::new();
        for &i in &honest {
            let name = self.nodes[i].name.clone();
            let Some(store) = self.nodes[i].up.as_ref().and_then(|u| u.store.clone()) else {
                self.checker
                    .violation(format!("{name} is down at the end of the run"));
                continue;
            };
            match store.tip() {
                Ok(t) => tips.push((name.clone(), t.height, t.hash)),
                Err(e) => self.checker.violation(format!("{name}: store: {e}")),
            }
            self.checker.finality_again(&name, &store);
            // A forger's store prunes block bodies below finality: the
            // replay from genesis and the checks that walk every block run
            // on the main nodes' stores (one tip, checked below, is one
            // state); a forger's kept bodies were checked when it reopened.
            let pruned = store
                .snapshot()
                .and_then(|s| s.blocks_from())
                .is_ok_and(|from| from > 1);
            if self.nodes[i].kind != Kind::Forger && pruned {
                self.checker
                    .violation(format!("{name}: a main node's store pruned block bodies"));
            }
            if !pruned {
                if let Err(e) = store.verify_chain() {
                    self.checker
                        .violation(format!("{name}: the chain does not verify: {e}"));
                }
                if let Err(e) = invariants::coins_conserved(&self.params, &store) {
                    self.checker.violation(format!("{name}: {e}"));
                }
                if let Err(e) = invariants::donations_reached_associations(&self.params, &store) {
                    self.checker.violation(format!("{name}: {e}"));
                }
                if let Err(e) = invariants::contract_runs(&store) {
                    self.checker.violation(format!("{name}: {e}"));
                }
                if let Err(e) = invariants::balances_reconcile(&self.params, &store) {
                    self.checker.violation(format!("{name}: {e}"));
                }
                if let Err(e) = invariants::association_votes_weighed(&self.params, &store) {
                    self.checker.violation(format!("{name}: {e}"));
                }
            }
            // Equivocations whose two blocks both reached honest nodes.
            let seen: Vec<(PublicKey, u64)> = self
                .equivocations
                .iter()
                .filter(|(_, (a, b))| self.delivered.contains(a) && self.delivered.contains(b))
                .map(|((pk, slot), _)| (*pk, self.params.epoch_of(*slot)))
                .collect();
            let mut latest: BTreeMap<PublicKey, u64> = BTreeMap::new();
            for (pk, e) in seen {
                let x = latest.entry(pk).or_insert(e);
                *x = (*x).max(e);
            }
            for (pk, epoch) in latest.into_iter().filter(|_| !pruned) {
                if let Err(e) = invariants::equivocator_voided(&self.params, &store, &pk, epoch) {
                    self.checker.violation(format!("{name}: {e}"));
                }
            }
        }
        if let Err(e) = invariants::one_chain(&tips) {
            self.checker.violation(e.to_string());
        }
        // Liveness: once the faults end, a forger whose clock is right
        // (well within a quarter slot of its main nodes') forges again.
        let punctual = self
            .nodes
            .iter()
            .any(|x| x.kind == Kind::Forger && x.up.is_some() && x.skew_ms.abs() <= 100);
        let end_height = tips.iter().map(|t| t.1).min().unwrap_or(0);
        if punctual && end_height <= self.heal_height {
            self.checker.violation(format!(
                "liveness: the honest chain did not grow after the faults ended (height {} then, {end_height} at the end)",
                self.heal_height
            ));
        }
        let first_store = honest
            .first()
            .and_then(|&i| self.nodes[i].up.as_ref())
            .and_then(|u| u.store.clone());
        let count = |f: fn(&TxKind) -> bool| first_store.as_ref().map_or(0, |s| count_txs(s, f));
        let reports = count(|k| matches!(k, TxKind::ReportEquivocation { .. }));
        // Health reports the first main node holds from honest forgers.
        let honest_keys: BTreeSet<PublicKey> = self
            .nodes
            .iter()
            .filter(|x| x.kind == Kind::Forger)
            .map(|x| x.key.public())
            .collect();
        let now = self.now;
        let reported_forgers = self
            .nodes
            .iter()
            .find(|x| x.kind == Kind::Main)
            .and_then(|x| x.up.as_ref())
            .and_then(|u| u.core.as_ref())
            .and_then(|c| c.answer(Query::Forgers, now).ok())
            .map_or(0, |a| match a {
                crate::wire::Answer::Forgers(list) => list
                    .iter()
                    .filter(|e| e.reported_ms > 0 && honest_keys.contains(&e.key))
                    .count(),
                _ => 0,
            });
        let votes = count(|k| matches!(k, TxKind::VoteAssociation { .. }));
        // Checked on every honest main node above; counted here.
        let contract_runs = first_store
            .as_ref()
            .and_then(|s| invariants::contract_runs(s).ok())
            .unwrap_or((0, 0));
        let logs = self
            .nodes
            .iter()
            .map(|x| (x.name.clone(), x.logs.iter().cloned().collect()))
            .collect();
        let trace = Hash(self.trace.clone().finalize().into());
        Outcome {
            seed: self.cfg.seed,
            trace,
            violations: self.checker.violations().to_vec(),
            injected: self.injected.clone(),
            virtual_ms: self.now - START_MS,
            events: self.events,
            height: tips.iter().map(|t| t.1).min().unwrap_or(0),
            reorgs: self.reorgs,
            reports,
            votes,
            contract_runs,
            bans: self.bans,
            early_held: self.early_held,
            outbox_closes: self.outbox_closes,
            peak_mempool: self.checker.peaks.mempool,
            peak_sessions_per_ip: self.checker.peaks.sessions_per_ip,
            reported_forgers,
            plan,
            logs,
        }
    }
}

/// An honest forger's slot, watched by the simulation: what it signs,
/// and the crashes armed around forging.
struct SlotWatch {
    pk: PublicKey,
    /// The disk's operations when the slot began.
    ops0: u64,
    /// Blocks forged before the slot.
    forged_before: u64,
    /// Set when the node is to crash after forging, before sending.
    crash: bool,
}

/// Node `n`'s outside world while its driver runs: the simulated links.
struct Links<'a> {
    sim: &'a mut Sim,
    n: usize,
    watch: Option<SlotWatch>,
}

impl Outside for Links<'_> {
    fn send(&mut self, conn: ConnId, msg: Message) -> Result<(), Full> {
        self.sim.try_send(self.n, conn, msg)
    }

    fn close(&mut self, conn: ConnId, msg: Message) -> Closed {
        self.sim.close(self.n, conn, msg)
    }

    fn ban(&mut self, ip: IpAddr, until_ms: u64) {
        let (sim, n) = (&mut *self.sim, self.n);
        // An honest node banning another is a bug: a peer that only
        // relays cannot be blamed for what it relays.
        let victim = sim.nodes.iter().position(|x| x.ip == ip);
        if let Some(v) = victim {
            if sim.nodes[n].kind.honest() && sim.nodes[v].kind.honest() {
                let what = format!(
                    "ban: {} banned honest {} ({})",
                    sim.nodes[n].name,
                    sim.nodes[v].name,
                    sim.nodes[n].logs.back().cloned().unwrap_or_default()
                );
                sim.checker.violation(what);
            }
        }
        if let Some(up) = &mut sim.nodes[n].up {
            up.door.ban(ip, until_ms);
        }
    }

    fn dial(&mut self, addr: String) {
        let (sim, n) = (&mut *self.sim, self.n);
        let inc = sim.nodes[n].inc;
        let own = sim.nodes[n].listen.as_ref() == Some(&addr);
        if let Some(up) = &mut sim.nodes[n].up {
            if !own && !up.dials.contains_key(&addr) {
                up.dials.insert(addr.clone(), Redial::new(false));
                sim.after(0, Ev::Dial { node: n, inc, addr });
            }
        }
    }

    fn log(&mut self, _level: log::Level, line: String) {
        self.sim.log(self.n, line);
    }

    /// The dialer's verdict is what its redialer is told when the
    /// connection ends (the acceptor's session does not wait for it here).
    fn verdict(&mut self, conn: ConnId, accepted: bool) {
        let n = self.n;
        let Some(&l) = self.sim.nodes[n]
            .up
            .as_ref()
            .and_then(|u| u.conns.get(&conn))
        else {
            return;
        };
        if let Some(link) = self.sim.links.get_mut(&l) {
            if link.ends[0].node == n && link.ends[0].conn == conn {
                link.established = accepted;
            }
        }
    }

    fn slot_ends(
        &mut self,
        core: &Core,
        slot: u64,
        result: &Result<Vec<Action>, Fatal>,
        _now_ms: u64,
    ) -> AfterSlot {
        let (sim, n) = (&mut *self.sim, self.n);
        let Some(w) = &mut self.watch else {
            return AfterSlot::Go(None);
        };
        let after = core.forge_stats().map_or(0, |s| s.forged_total);
        if after > w.forged_before {
            let name = sim.nodes[n].name.clone();
            sim.checker.signed(&name, &w.pk, slot);
        }
        let node = &mut sim.nodes[n];
        if node.crash_while_forging.is_some() && !node.disk.failed() {
            // Not led, or fewer writes than the count: disarmed. It waits
            // for a slot that writes, and fires in that one or not at all.
            node.disk.fail_after(u64::MAX);
            node.disk_armed = false;
            if node.disk.ops() > w.ops0 {
                node.crash_while_forging = None;
            }
        }
        let forged = result
            .as_ref()
            .is_ok_and(|a| a.iter().any(|a| matches!(a, Action::Forged { .. })));
        if forged && node.crash_after_forging {
            w.crash = true;
            return AfterSlot::Drop;
        }
        // Its health reports to its main nodes, as the runtime sends them
        // (nothing measured: zeros), when the run asks.
        AfterSlot::Go(sim.cfg.forger_reports.then(|| Reports {
            every_slots: crate::runtime::forge::run::REPORT_EVERY_SLOTS,
            machine: MachineFigures::default(),
        }))
    }
}

fn count_txs(store: &Store, f: fn(&TxKind) -> bool) -> u64 {
    let Ok(snap) = store.snapshot() else { return 0 };
    let Ok(tip) = snap.tip() else { return 0 };
    let mut n = 0;
    for h in 1..=tip.height {
        if let Ok(Some(b)) = snap.block_at(h) {
            n += b.txs.iter().filter(|t| f(&t.tx.kind)).count() as u64;
        }
    }
    n
}
