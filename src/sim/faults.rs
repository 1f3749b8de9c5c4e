//! The fault knobs of a run, what a seed makes of them, and the tally of
//! what was actually injected.
//!
//! Adding a fault: a field in [`Faults`] (drawn in [`Faults::draw`], printed
//! in [`Faults::describe`]), the event that injects it in `sim::Sim`, a
//! counter in [`Injected`], and — if it threatens a property no invariant
//! covers yet — a check in `sim::invariants`.

use super::rng::Rng;

/// How a node crashes. In every case the disk keeps only what was synced
/// (a power cut), and the peers see the connection drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashHow {
    /// At once, between two events.
    Now,
    /// The disk fails its `n`th write or sync from now: the node dies in the
    /// middle of whatever it is writing (a block, a signing record).
    DiskFails(u64),
    /// A forger, at its next slot: after it recorded, signed and stored the
    /// block, before anything was sent.
    AfterForging,
    /// A forger, the next time it forges: the disk fails its `n`th write or
    /// sync from the start of the slot — in the signing record's commit,
    /// between it and the block's, or in the block's.
    WhileForging(u64),
}

/// A crash and the restart that follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    /// The node (its index).
    pub node: usize,
    /// When (ms after the chain starts).
    pub at_ms: u64,
    /// How.
    pub how: CrashHow,
    /// How long it stays down once dead.
    pub down_ms: u64,
    /// Its clock's skew after the restart (a board without a real-time
    /// clock comes back with another error).
    pub skew_after_ms: i64,
}

/// A network split and its heal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// When it splits (ms after the chain starts).
    pub at_ms: u64,
    /// When it heals.
    pub heal_ms: u64,
    /// Each node's side (0 or 1).
    pub side: Vec<u8>,
}

/// A forger that keeps its blocks to itself for a while, then releases
/// them at once (a private branch, longer if its keys led more slots).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withhold {
    /// From (ms after the chain starts).
    pub from_ms: u64,
    /// Until.
    pub until_ms: u64,
}

/// Every knob of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Faults {
    /// Each link's one-way latency is drawn in this range (ms).
    pub latency_ms: (u64, u64),
    /// Up to this much more per message (order kept, as on TCP).
    pub jitter_ms: u64,
    /// Messages (per thousand) lost once and retransmitted 200–1000 ms
    /// later, holding back the ones behind them.
    pub loss_per_mille: u32,
    /// Messages (per hundred thousand) whose loss resets the connection.
    pub reset_per_100k: u32,
    /// Splits.
    pub partitions: Vec<Partition>,
    /// Crashes.
    pub crashes: Vec<Crash>,
    /// Each node's clock skew at start (ms; the node's clock minus true time).
    pub skew_ms: Vec<i64>,
    /// A forger that signs two blocks for its slot, one to each half of
    /// its main nodes.
    pub equivocator: bool,
    /// A forger that signs invalid blocks.
    pub invalid_forger: bool,
    /// A forger that withholds its blocks, then releases them.
    pub withholder: Option<Withhold>,
    /// A peer that floods invalid transactions.
    pub spammer: bool,
    /// Many one-unit keys that buy weight and vote an attacker's
    /// association in (and the genesis one out).
    pub sybil_voter: bool,
    /// A forger that forges its own future slots ahead of time, claims that
    /// branch's tip and serves it in sync answers (issue 13, finding 1).
    pub future_syncer: bool,
    /// A forger that, leading the slot after another forger's block, builds
    /// on that block's parent and grinds its own block's hash below it, to
    /// orphan it on a hash tie-break (issue 13, finding 3).
    pub grinder: bool,
}

/// Who the nodes are, for drawing faults.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Main nodes (indices `0..mains`).
    pub mains: usize,
    /// Honest forgers (after the main nodes).
    pub forgers: usize,
    /// All nodes, Byzantine ones and the spammer included.
    pub nodes: usize,
    /// Of these, the last ones, added after the first faults were drawn:
    /// their draws come after every other (so the earlier seeds' plans
    /// stay what they were).
    pub later_nodes: usize,
    /// Slot length (ms).
    pub slot_ms: u64,
    /// The faulty part of the run (ms after the start); faults start and
    /// end inside it.
    pub faulty_ms: u64,
    /// The longest split drawn (ms): kept within what the finality depth
    /// allows the losing side to undo.
    pub max_partition_ms: u64,
}

impl Faults {
    /// No faults at all: the calm network (nodes still start at
    /// different instants and links still have latency).
    pub fn none(nodes: usize) -> Faults {
        Faults {
            latency_ms: (5, 40),
            jitter_ms: 10,
            loss_per_mille: 0,
            reset_per_100k: 0,
            partitions: vec![],
            crashes: vec![],
            skew_ms: vec![0; nodes],
            equivocator: false,
            invalid_forger: false,
            withholder: None,
            spammer: false,
            sybil_voter: false,
            future_syncer: false,
            grinder: false,
        }
    }

    /// What a seed's generator makes of the knobs. `byzantine`: whether
    /// the Byzantine roles may be drawn (their nodes exist in `shape`).
    pub fn draw(rng: &mut Rng, shape: &Shape) -> Faults {
        let mut f = Faults::draw_first(rng, shape);
        // The later nodes: never skewed, on a side of each split drawn now.
        let later = shape.later_nodes;
        f.skew_ms.extend(std::iter::repeat_n(0, later));
        for p in &mut f.partitions {
            p.side.extend((0..later).map(|_| rng.below(2) as u8));
        }
        // Not beside the equivocator: when the honest forgers are slowed
        // (skewed clocks, a crash), the syncer's pre-forged branch can be
        // the longer one once its slots have passed and win by the
        // longest-chain rule; on it the syncer holds all the weight and
        // includes nobody's report, so "the equivocator is voided" cannot
        // hold (seeds 617 and 718 of the sweep). That is the attacker
        // out-producing the honest forgers, not a bug this seed can show.
        let syncer = rng.chance(300);
        f.future_syncer = syncer && !f.equivocator;
        f.grinder = rng.chance(300);
        f
    }

    /// The faults drawn before the later nodes existed, over the nodes
    /// before them.
    fn draw_first(rng: &mut Rng, shape: &Shape) -> Faults {
        let shape = &Shape {
            nodes: shape.nodes - shape.later_nodes,
            ..*shape
        };
        let honest = shape.mains + shape.forgers;
        let lo = rng.range(1, 30);
        let hi = rng.range(lo, 150);
        let latency_ms = (lo, hi);
        let jitter_ms = rng.range(0, 40);
        let loss_per_mille = if rng.chance(500) {
            rng.range(1, 40) as u32
        } else {
            0
        };
        let reset_per_100k = if rng.chance(400) {
            rng.range(1, 150) as u32
        } else {
            0
        };
        // Main nodes are servers on NTP: tens of ms at most. Forgers are
        // boards without a real-time clock: up to 400 ms either way (more
        // than a quarter slot, so some do not trust their clock).
        let skew_ms = (0..shape.nodes)
            .map(|i| {
                let max = if i < shape.mains { 50 } else { 400 };
                if rng.chance(300) {
                    rng.signed(max)
                } else {
                    0
                }
            })
            .collect();
        // Splits, one after another, each healed before the next starts.
        let mut partitions = Vec::new();
        let mut t = rng.range(shape.slot_ms, shape.faulty_ms / 3);
        for _ in 0..rng.range(0, 2) {
            let len = rng.range(2 * shape.slot_ms, shape.max_partition_ms);
            if t + len >= shape.faulty_ms {
                break;
            }
            let mut side: Vec<u8> = (0..shape.nodes).map(|_| rng.below(2) as u8).collect();
            // Both sides hold a node.
            side[0] = 0;
            let other = rng.range(1, shape.nodes as u64 - 1) as usize;
            side[other] = 1;
            partitions.push(Partition {
                at_ms: t,
                heal_ms: t + len,
                side,
            });
            t += len + rng.range(shape.slot_ms, 10 * shape.slot_ms);
        }
        let mut crashes = Vec::new();
        for _ in 0..rng.range(0, 3) {
            let node = rng.below(honest as u64) as usize;
            let is_forger = node >= shape.mains;
            let how = match rng.below(if is_forger { 4 } else { 2 }) {
                0 => CrashHow::Now,
                1 => CrashHow::DiskFails(rng.range(1, 40)),
                2 => CrashHow::AfterForging,
                // A signing record's commit is ~7 writes and syncs, a block's ~10.
                _ => CrashHow::WhileForging(rng.range(1, 18)),
            };
            // A third come back at once (a watchdog restart, a quick
            // reboot), the rest after up to 8 s.
            let down_ms = if rng.chance(333) {
                rng.range(50, 400)
            } else {
                rng.range(500, 8_000)
            };
            crashes.push(Crash {
                node,
                at_ms: rng.range(shape.slot_ms, shape.faulty_ms - shape.slot_ms),
                how,
                down_ms,
                skew_after_ms: rng.signed(if is_forger { 300 } else { 50 }),
            });
        }
        crashes.sort_by_key(|c| c.at_ms);
        let withholder = rng.chance(300).then(|| {
            let from_ms = rng.range(shape.slot_ms, shape.faulty_ms / 2);
            let len = rng.range(3 * shape.slot_ms, shape.max_partition_ms);
            Withhold {
                from_ms,
                until_ms: (from_ms + len).min(shape.faulty_ms - shape.slot_ms),
            }
        });
        let equivocator = rng.chance(400);
        let invalid_forger = rng.chance(300);
        let spammer = rng.chance(400);
        // Drawn last: the draws before it are those of earlier versions.
        let sybil_voter = rng.chance(300);
        Faults {
            latency_ms,
            jitter_ms,
            loss_per_mille,
            reset_per_100k,
            partitions,
            crashes,
            skew_ms,
            equivocator,
            invalid_forger,
            withholder,
            spammer,
            sybil_voter,
            future_syncer: false,
            grinder: false,
        }
    }

    /// One line per kind of fault, for logs.
    pub fn describe(&self, names: &[String]) -> String {
        let mut s = format!(
            "links {}-{} ms +{} jitter, loss {}‰, resets {}/100k",
            self.latency_ms.0,
            self.latency_ms.1,
            self.jitter_ms,
            self.loss_per_mille,
            self.reset_per_100k
        );
        for p in &self.partitions {
            let side: Vec<&str> = names
                .iter()
                .zip(&p.side)
                .filter(|(_, s)| **s == 1)
                .map(|(n, _)| n.as_str())
                .collect();
            s += &format!("; split {}–{} ms {side:?} apart", p.at_ms, p.heal_ms);
        }
        for c in &self.crashes {
            s += &format!(
                "; crash {} at {} ms ({:?}, down {} ms, skew after {} ms)",
                names.get(c.node).map_or("?", |n| n.as_str()),
                c.at_ms,
                c.how,
                c.down_ms,
                c.skew_after_ms
            );
        }
        let skewed: Vec<String> = names
            .iter()
            .zip(&self.skew_ms)
            .filter(|(_, k)| **k != 0)
            .map(|(n, k)| format!("{n} {k:+} ms"))
            .collect();
        if !skewed.is_empty() {
            s += &format!("; skew {}", skewed.join(", "));
        }
        if self.equivocator {
            s += "; equivocator";
        }
        if self.invalid_forger {
            s += "; invalid-block forger";
        }
        if let Some(w) = &self.withholder {
            s += &format!("; withholder {}–{} ms", w.from_ms, w.until_ms);
        }
        if self.spammer {
            s += "; spammer";
        }
        if self.sybil_voter {
            s += "; sybil voter";
        }
        if self.future_syncer {
            s += "; future-block syncer";
        }
        if self.grinder {
            s += "; tie-break grinder";
        }
        s
    }
}

/// What was injected in a run (not what was planned: a crash planned for a
/// node already down, a Byzantine forger that led no slot, inject nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Injected {
    /// Network splits.
    pub partitions: u64,
    /// Crashes at once.
    pub crashes_now: u64,
    /// Crashes by a failing disk write or sync.
    pub crashes_disk: u64,
    /// Crashes after forging, before sending.
    pub crashes_after_forging: u64,
    /// Crashes by a failing disk while forging.
    pub crashes_while_forging: u64,
    /// Restarts.
    pub restarts: u64,
    /// Connections reset by a lost message.
    pub resets: u64,
    /// Messages lost and retransmitted.
    pub retransmits: u64,
    /// Nodes with a skewed clock.
    pub skewed: u64,
    /// Slots a forger signed twice.
    pub equivocations: u64,
    /// Invalid blocks sent.
    pub invalid_blocks: u64,
    /// Blocks withheld.
    pub withheld: u64,
    /// Private branches released.
    pub releases: u64,
    /// Spam messages sent.
    pub spam: u64,
    /// Transactions the Sybil voter submitted (purchases, proposal, votes).
    pub sybil_txs: u64,
    /// Blocks forged ahead of their slots by the future-block syncer.
    pub future_blocks: u64,
    /// Rival blocks the grinder sent (built on the tip's parent, hash below
    /// the tip's).
    pub ground: u64,
}

impl Injected {
    /// Adds another run's counts.
    pub fn add(&mut self, o: &Injected) {
        self.partitions += o.partitions;
        self.crashes_now += o.crashes_now;
        self.crashes_disk += o.crashes_disk;
        self.crashes_after_forging += o.crashes_after_forging;
        self.crashes_while_forging += o.crashes_while_forging;
        self.restarts += o.restarts;
        self.resets += o.resets;
        self.retransmits += o.retransmits;
        self.skewed += o.skewed;
        self.equivocations += o.equivocations;
        self.invalid_blocks += o.invalid_blocks;
        self.withheld += o.withheld;
        self.releases += o.releases;
        self.spam += o.spam;
        self.sybil_txs += o.sybil_txs;
        self.future_blocks += o.future_blocks;
        self.ground += o.ground;
    }

    /// `name=count` for every kind.
    pub fn describe(&self) -> String {
        format!(
            "partitions={} crashes(now={} disk={} while-forging={} after-forging={}) restarts={} resets={} retransmits={} skewed-nodes={} equivocations={} invalid-blocks={} withheld-blocks={} releases={} spam-msgs={} sybil-txs={} future-blocks={} ground-rivals={}",
            self.partitions,
            self.crashes_now,
            self.crashes_disk,
            self.crashes_while_forging,
            self.crashes_after_forging,
            self.restarts,
            self.resets,
            self.retransmits,
            self.skewed,
            self.equivocations,
            self.invalid_blocks,
            self.withheld,
            self.releases,
            self.spam,
            self.sybil_txs,
            self.future_blocks,
            self.ground
        )
    }
}
