//! The runtime's own decisions, as plain values: when to dial a main node
//! again, when a connection floods, which addresses are banned, how often
//! time is passed to the core. No clock and no socket here — the time and
//! the random numbers come in as arguments — so the smol runtime
//! (`runtime::node::serve`) and the simulation (`sim`) make exactly the same choices.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// A main node's tick: sync retries, equivocation reports.
pub const MAIN_TICK_MS: u64 = 1_000;

/// How often the appliance's core ticks (and pets the systemd watchdog; the
/// unit's `WatchdogSec=` must be well above it): seldom, to sleep longer.
pub const FORGER_TICK_S: u64 = 5;

/// A forger's store makes every this many block commits durable; the ones
/// between stay in memory (an SD card wears by the bytes written: one
/// durable commit writes ~20 KiB however small the block, and on a grown
/// chain every state page the blocks between touched). A power cut costs at
/// most these blocks, fetched again from the main nodes (about two seconds
/// of sync); the signing record is durable apart from them, before every
/// signature. Big blocks are held up to `store::HELD_BYTES` only. Measured
/// (docs/performance.md, "A forger following a grown chain"): with the
/// pages the commits between write held in memory (`store::HOLD_WRITES_BYTES`),
/// 1,024 blocks cost a forger 3.6-3.8 KiB a block where 64 cost 17-24 KiB.
pub const FORGER_DURABLE_BLOCKS: u64 = 1024;
/// ... and at least this often while it holds commits in memory (checked at
/// each tick; `--durable-s`): longer than 1,024 one-second slots, so that
/// the count decides at one block a second.
pub const FORGER_DURABLE_MS: u64 = 1_200_000;

/// The core's event queue, in events (each about 80 bytes, all allocated
/// when the node starts). A main node's HTTP API puts its requests there
/// without waiting (a full queue answers 503), so it is deep; a forger has
/// no API on its core, and its connections' readers wait for a place (the
/// sender is slowed, nothing is lost), so 512 events do, and the appliance
/// keeps the 0.6 MiB a main node's 8,192 take.
pub fn events_queue(role: crate::wire::Role) -> usize {
    match role {
        crate::wire::Role::Forger => 512,
        _ => 8192,
    }
}

/// A forger whose sync reaches its target with at least this many block
/// commits held in memory makes them durable at once, rather than at the
/// end of its durable interval: a power cut then costs only the blocks that
/// came after the sync, and the pages held for the sync's blocks (up to
/// `store::HOLD_WRITES_BYTES` a file) are written and freed as it starts
/// forging. It costs one durable commit more per sync, and a forger
/// following the tip (blocks one by one, not synced) never makes it.
pub const DURABLE_AFTER_SYNC_BLOCKS: u64 = 64;

/// Whether a forger's sync that reached its target makes its store durable,
/// with `held` block commits not yet durable.
pub fn durable_after_sync(held: u64) -> bool {
    held >= DURABLE_AFTER_SYNC_BLOCKS
}

/// After this many blocks imported since the last time, a tick gives the
/// allocator's free pages back to the kernel
/// ([`crate::runtime::os::release_free_memory`]): a sync frees its batches
/// of blocks, but the allocator keeps their pages, and an appliance's
/// resident memory is what its board has least of. Seldom enough to cost
/// nothing at one block a slot (about a minute apart at 1 s slots).
pub const TRIM_EVERY_BLOCKS: u64 = 64;

/// Whether a tick gives free memory back: `imported` blocks since the
/// store opened, `at` of them when it last did.
pub fn trim_due(imported: u64, at: u64) -> bool {
    imported.saturating_sub(at) >= TRIM_EVERY_BLOCKS
}

/// How often the core of a node of `role` ticks, in the TCP runtime and
/// the simulation alike: a main node every second (sync retries), a
/// forger every [`FORGER_TICK_S`] (fewer wake-ups while idle).
pub fn tick_ms(role: crate::wire::Role) -> u64 {
    match role {
        crate::wire::Role::Forger => FORGER_TICK_S * 1000,
        _ => MAIN_TICK_MS,
    }
}

/// The lowest height whose block body a peer is sure to serve, from what its
/// handshake says (its role) and the tip it claims: a main node keeps every
/// block; a forger by default only the newest `finality_depth + 1` (older
/// bodies are pruned: `Store::set_pruning`, `--keep-blocks`). A node never
/// asks a peer for blocks below this, so a pruned forger is neither asked
/// for what it no longer holds nor blamed for not sending it.
pub fn serves_from(role: crate::wire::Role, tip_height: u64, finality_depth: u64) -> u64 {
    match role {
        crate::wire::Role::Forger => tip_height.saturating_sub(finality_depth).max(1),
        _ => 1,
    }
}

/// A dial that no host answers (a network split, a machine that is off)
/// is given up after this long, then retried as [`Redial`] says. Without
/// it, the kernel's SYN retries keep one attempt pending for about two
/// minutes, long after the network has healed.
pub const CONNECT_TIMEOUT_MS: u64 = 5_000;

/// How a dialer waits between attempts to reach one main node: 1 s after a
/// failure, doubling to 30 s, plus up to half as much again at random (so
/// that peers cut off together do not all come back in the same instant).
/// An established connection resets it. Configured peers are dialled for
/// ever; learned ones are given up after five failures in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redial {
    persistent: bool,
    backoff_ms: u64,
    failures: u32,
}

impl Redial {
    /// The first wait.
    pub const FIRST_MS: u64 = 1_000;
    /// The longest wait (before jitter).
    pub const MAX_MS: u64 = 30_000;
    /// Failures in a row after which a learned peer is given up.
    pub const LEARNED_TRIES: u32 = 5;

    /// A dialer for a configured (`persistent`) or learned peer.
    pub fn new(persistent: bool) -> Redial {
        Redial {
            persistent,
            backoff_ms: Redial::FIRST_MS,
            failures: 0,
        }
    }

    /// An attempt ended (`established`: the handshake completed and the
    /// node kept the connection, which has now closed). Returns how long to
    /// wait before the next attempt, or None to give up. `random` is any
    /// random number (the jitter).
    pub fn next(&mut self, established: bool, random: u64) -> Option<u64> {
        if established {
            self.failures = 0;
            self.backoff_ms = Redial::FIRST_MS;
        } else {
            self.failures += 1;
        }
        if !self.persistent && self.failures >= Redial::LEARNED_TRIES {
            return None;
        }
        let wait = self.backoff_ms + random % (self.backoff_ms / 2 + 1);
        self.backoff_ms = (self.backoff_ms * 2).min(Redial::MAX_MS);
        Some(wait)
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// Counts one connection's messages over 10-second windows: more than
/// `max_per_s` × 10 in one window is flooding (the connection is closed and
/// its address banned).
#[derive(Debug, Clone)]
pub struct FloodGate {
    max_per_window: u64,
    window_start_ms: u64,
    in_window: u64,
}

impl FloodGate {
    /// The window's length.
    pub const WINDOW_MS: u64 = 10_000;

    /// A gate opened at `now_ms`.
    pub fn new(max_per_s: u32, now_ms: u64) -> FloodGate {
        FloodGate {
            max_per_window: max_per_s as u64 * (FloodGate::WINDOW_MS / 1000),
            window_start_ms: now_ms,
            in_window: 0,
        }
    }

    /// Counts a message arriving at `now_ms`; false if it floods.
    pub fn allow(&mut self, now_ms: u64) -> bool {
        if now_ms.saturating_sub(self.window_start_ms) > FloodGate::WINDOW_MS {
            self.window_start_ms = now_ms;
            self.in_window = 0;
        }
        self.in_window += 1;
        self.in_window <= self.max_per_window
    }
}

/// How long a peer that claimed a tip and did not deliver its blocks is not
/// believed: its claims start no sync and do not keep a forger "not
/// synced". Delivering a block that lands ends it at once.
pub const UNTRUSTED_CLAIM_MS: u64 = 60_000;

/// How long a sync request may go unanswered and still keep a forger "not
/// synced": an honest main node answers a batch in well under this; a peer
/// that claimed a better tip and stays silent costs a forger at most this
/// much forging time before its claim stops counting (and, at the sync
/// timeout, is distrusted for [`UNTRUSTED_CLAIM_MS`]).
pub const CLAIM_PROOF_MS: u64 = 5_000;

/// Whether a tip a peer claims (in its Hello or a Tip) could be true at
/// `now_ms`: its slot has started on this clock, give or take the chain's
/// allowed drift, and it is no higher than its slot (every block takes a
/// slot of its own, after its parent's). A claim that fails is ignored: a
/// chain from the future is not something to sync to.
pub fn plausible_claim(
    params: &crate::chain::genesis::ChainParams,
    tip: &crate::wire::TipInfo,
    now_ms: u64,
) -> Result<(), ImplausibleClaim> {
    let start = params.slot_start_ms(tip.slot);
    let drift = params.limits().max_clock_drift_ms;
    if start > now_ms.saturating_add(drift) {
        return Err(ImplausibleClaim::Early {
            tip: *tip,
            ahead_ms: start - now_ms,
            drift_ms: drift,
        });
    }
    if tip.height > tip.slot {
        return Err(ImplausibleClaim::MoreBlocksThanSlots { tip: *tip });
    }
    Ok(())
}

/// Why a claimed tip cannot be true ([`plausible_claim`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImplausibleClaim {
    /// Its slot has not started on this clock, beyond the drift allowed.
    #[error("claimed tip {} at height {}: slot {} starts {ahead_ms} ms ahead of this clock (drift allowed: {drift_ms} ms)", .tip.hash.short(), .tip.height, .tip.slot)]
    Early {
        /// The tip claimed.
        tip: crate::wire::TipInfo,
        /// How far its slot's start is ahead of the clock (ms).
        ahead_ms: u64,
        /// The drift allowed (ms).
        drift_ms: u64,
    },
    /// A height above its slot: every block takes a slot of its own.
    #[error("claimed tip {} at height {} in slot {}: more blocks than slots", .tip.hash.short(), .tip.height, .tip.slot)]
    MoreBlocksThanSlots {
        /// The tip claimed.
        tip: crate::wire::TipInfo,
    },
}

/// Whether a peer's claimed tip is believed: a peer that claimed more than
/// it delivered (a sync from it ended short of its claim, or went
/// unanswered) is not, for [`UNTRUSTED_CLAIM_MS`] or until it delivers a
/// block that lands. Claims are only ever a reason to ask: no tip is
/// adopted before its blocks arrive and pass every rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClaimTrust {
    untrusted_until_ms: u64,
}

impl ClaimTrust {
    /// Whether the peer's claims count at `now_ms`.
    pub fn trusted(&self, now_ms: u64) -> bool {
        now_ms >= self.untrusted_until_ms
    }

    /// The peer did not deliver what it claimed.
    pub fn failed(&mut self, now_ms: u64) {
        self.untrusted_until_ms = now_ms.saturating_add(UNTRUSTED_CLAIM_MS);
    }

    /// A block from the peer landed on our chain.
    pub fn delivered(&mut self) {
        self.untrusted_until_ms = 0;
    }
}

/// Addresses banned until a time (ms), forgotten once it has passed.
#[derive(Debug, Clone, Default)]
pub struct Bans {
    until: BTreeMap<IpAddr, u64>,
}

impl Bans {
    /// Bans `ip` until `until_ms` (a later ban of the same address wins).
    pub fn ban(&mut self, ip: IpAddr, until_ms: u64) {
        let u = self.until.entry(ip).or_insert(0);
        *u = (*u).max(until_ms);
    }

    /// Whether `ip` is banned at `now_ms`; forgets expired bans.
    pub fn banned(&mut self, ip: IpAddr, now_ms: u64) -> bool {
        self.until.retain(|_, until| *until > now_ms);
        self.until.contains_key(&ip)
    }

    /// Addresses banned now or later.
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }
}

/// A node keeps one place in this many for trusted sessions (main nodes it
/// dialled, forgers whose key forges): 32 of the default 256.
pub const RESERVED_DIVISOR: usize = 8;

/// Bytes that the frame buffers of all connections together may hold
/// beyond each connection's first 64 KiB (see `wire::frame::FrameBudget`):
/// room for about ten block-sized frames arriving at once.
pub const FRAME_BUDGET: usize = 24 << 20;

/// Whether a node of role `local` keeps a session with a peer of role
/// `peer` (`dialled`: this node dialled it). A main node keeps everyone; a
/// forger's listening port is a status port: it keeps clients only, and
/// the main nodes it follows are those it dialled — a stranger claiming to
/// be a main node there could otherwise steer its sync and its clock.
pub fn inbound_allowed(local: crate::wire::Role, peer: crate::wire::Role, dialled: bool) -> bool {
    use crate::wire::Role;
    match local {
        Role::Forger => {
            if dialled {
                peer == Role::MainNode
            } else {
                peer == Role::Client
            }
        }
        _ => true,
    }
}

/// What to do with a new connection (see [`ConnTable::admit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Take it.
    Yes,
    /// Take it, and close this older untrusted connection to make room.
    Evict(u64),
    /// Refuse it: its address holds its share already (or every place is
    /// held by trusted sessions).
    Busy,
}

#[derive(Debug, Clone)]
struct Held {
    ip: IpAddr,
    since_ms: u64,
    trusted: bool,
}

/// The node's connections, for admission: at most `max_total`, of which
/// `reserved` are kept for trusted sessions (main nodes this node dialled,
/// forgers whose key forges on the chain); at most `max_per_ip` untrusted
/// ones from one address. When the untrusted places are full, a newcomer
/// takes the place of the oldest untrusted connection of the address that
/// holds the most — so many sources each under the per-address cap cannot
/// lock out the next one, and whoever holds the most pays first.
#[derive(Debug, Clone)]
pub struct ConnTable {
    max_total: usize,
    max_per_ip: usize,
    reserved: usize,
    held: BTreeMap<u64, Held>,
}

impl ConnTable {
    /// A table with these bounds (`reserved` is capped at half of `max_total`).
    pub fn new(max_total: usize, max_per_ip: usize, reserved: usize) -> ConnTable {
        ConnTable {
            max_total,
            max_per_ip,
            reserved: reserved.min(max_total / 2),
            held: BTreeMap::new(),
        }
    }

    fn untrusted(&self) -> impl Iterator<Item = (&u64, &Held)> {
        self.held.iter().filter(|(_, h)| !h.trusted)
    }

    /// The untrusted connection to close for a newcomer: the oldest of the
    /// address holding the most untrusted connections.
    fn victim(&self) -> Option<u64> {
        let mut per_ip: BTreeMap<IpAddr, usize> = BTreeMap::new();
        for (_, h) in self.untrusted() {
            *per_ip.entry(h.ip).or_insert(0) += 1;
        }
        let most = per_ip.values().copied().max()?;
        self.untrusted()
            .filter(|(_, h)| per_ip[&h.ip] == most)
            .min_by_key(|(id, h)| (h.since_ms, **id))
            .map(|(id, _)| *id)
    }

    /// A connection `id` from `ip` arrives at `now_ms`, untrusted until
    /// [`ConnTable::trust`]; `dialled`: this node dialled it (a trusted
    /// peer from the start). On `Yes` or `Evict` it is held (and the
    /// evicted one forgotten); on `Busy` it is not.
    pub fn admit(&mut self, id: u64, ip: IpAddr, dialled: bool, now_ms: u64) -> Admit {
        let mut verdict = Admit::Yes;
        if !dialled {
            let from_ip = self.untrusted().filter(|(_, h)| h.ip == ip).count();
            if from_ip >= self.max_per_ip {
                return Admit::Busy;
            }
            let untrusted = self.untrusted().count();
            if untrusted >= self.max_total - self.reserved || self.held.len() >= self.max_total {
                match self.victim() {
                    Some(v) => {
                        self.held.remove(&v);
                        verdict = Admit::Evict(v);
                    }
                    None => return Admit::Busy,
                }
            }
        } else if self.held.len() >= self.max_total {
            if let Some(v) = self.victim() {
                self.held.remove(&v);
                verdict = Admit::Evict(v);
            }
        }
        self.held.insert(
            id,
            Held {
                ip,
                since_ms: now_ms,
                trusted: dialled,
            },
        );
        verdict
    }

    /// Connection `id` earned trust: it is never evicted and uses the
    /// reserved places.
    pub fn trust(&mut self, id: u64) {
        if let Some(h) = self.held.get_mut(&id) {
            h.trusted = true;
        }
    }

    /// Connection `id` closed.
    pub fn remove(&mut self, id: u64) {
        self.held.remove(&id);
    }

    /// Connections held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

/// Why the door refused a connection: what the peer is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The Error frame's code.
    pub code: crate::wire::ErrorCode,
    /// The Error frame's text.
    pub why: &'static str,
}

/// A node's door: the one sequence of checks every connection passes,
/// written once for the TCP runtime and the simulation. Before the
/// handshake, [`Door::arrive`]: a banned address is refused, then the
/// [`ConnTable`] admits it (per-address cap, global cap, eviction of the
/// oldest untrusted). After it, [`Door::hello`]: a forger's status port
/// keeps clients only ([`inbound_allowed`]), and the session is trusted if
/// this node dialled it or it is a forger whose key forges. [`Door::left`]
/// when it closes; [`Door::ban`] when the core bans an address.
#[derive(Debug, Clone)]
pub struct Door {
    role: crate::wire::Role,
    bans: Bans,
    table: ConnTable,
}

impl Door {
    /// A door for a node of `role` with these admission bounds.
    pub fn new(role: crate::wire::Role, table: ConnTable) -> Door {
        Door {
            role,
            bans: Bans::default(),
            table,
        }
    }

    /// A connection `id` from `ip` arrives at `now_ms` (`dialled`: this node
    /// dialled it). `Ok(Some(old))`: admitted, and the older connection
    /// `old` must be closed to make room.
    pub fn arrive(
        &mut self,
        id: u64,
        ip: IpAddr,
        dialled: bool,
        now_ms: u64,
    ) -> Result<Option<u64>, Refusal> {
        use crate::wire::ErrorCode;
        if !dialled && self.bans.banned(ip, now_ms) {
            return Err(Refusal {
                code: ErrorCode::Banned,
                why: "this address is banned for a while after misbehaving",
            });
        }
        match self.table.admit(id, ip, dialled, now_ms) {
            Admit::Yes => Ok(None),
            Admit::Evict(old) => Ok(Some(old)),
            Admit::Busy => Err(Refusal {
                code: ErrorCode::Busy,
                why: "too many connections",
            }),
        }
    }

    /// Connection `id` finished its handshake as a peer of `their_role`;
    /// `their_key_forges`: its key is a live forger's. Refused: the caller
    /// closes it (and calls [`Door::left`]).
    pub fn hello(
        &mut self,
        id: u64,
        their_role: crate::wire::Role,
        their_key_forges: bool,
        dialled: bool,
    ) -> Result<(), Refusal> {
        use crate::wire::{ErrorCode, Role};
        if !inbound_allowed(self.role, their_role, dialled) {
            return Err(Refusal {
                code: ErrorCode::OutOfTurn,
                why: "this is a forger's status port: it serves clients only",
            });
        }
        if dialled || (their_role == Role::Forger && their_key_forges) {
            self.table.trust(id);
        }
        Ok(())
    }

    /// Connection `id` closed (or was refused after it arrived).
    pub fn left(&mut self, id: u64) {
        self.table.remove(id);
    }

    /// Bans `ip` until `until_ms`.
    pub fn ban(&mut self, ip: IpAddr, until_ms: u64) {
        self.bans.ban(ip, until_ms);
    }

    /// Whether `ip` is banned at `now_ms`.
    pub fn banned(&mut self, ip: IpAddr, now_ms: u64) -> bool {
        self.bans.banned(ip, now_ms)
    }

    /// Connections held.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

/// What to do with a log line about a hostile or failed connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogVerdict {
    /// Write it.
    Write,
    /// Drop it (counted, and summed up later).
    Quiet,
}

/// Rate-limits log lines about connections, per source address: at most
/// [`LogGate::LINES`] in a [`LogGate::WINDOW_MS`] window; the rest are
/// counted and [`LogGate::summary`] reports them once the window has
/// passed. At most [`LogGate::SOURCES`] addresses are followed; lines from
/// others while full are counted together.
#[derive(Debug, Clone, Default)]
pub struct LogGate {
    /// ip (None: the sources not followed) → (window start, lines, dropped).
    by_ip: BTreeMap<Option<IpAddr>, (u64, u32, u64)>,
}

impl LogGate {
    /// Lines written per source and window.
    pub const LINES: u32 = 5;
    /// The window.
    pub const WINDOW_MS: u64 = 60_000;
    /// Sources followed at once.
    pub const SOURCES: usize = 1024;

    /// A line about `ip` at `now_ms`.
    pub fn note(&mut self, ip: IpAddr, now_ms: u64) -> LogVerdict {
        let key = if self.by_ip.contains_key(&Some(ip)) || self.by_ip.len() < LogGate::SOURCES {
            Some(ip)
        } else {
            None
        };
        let e = self.by_ip.entry(key).or_insert((now_ms, 0, 0));
        if e.1 < LogGate::LINES && key.is_some() {
            e.1 += 1;
            LogVerdict::Write
        } else {
            e.2 += 1;
            LogVerdict::Quiet
        }
    }

    /// Summary lines for the windows that have passed by `now_ms` with lines
    /// dropped (`(source, dropped)`; None: the sources not followed), and
    /// those windows forgotten.
    pub fn summary(&mut self, now_ms: u64) -> Vec<(Option<IpAddr>, u64)> {
        let mut out = Vec::new();
        self.by_ip.retain(|ip, (start, _, dropped)| {
            if now_ms.saturating_sub(*start) < LogGate::WINDOW_MS {
                return true;
            }
            if *dropped > 0 {
                out.push((*ip, *dropped));
            }
            false
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_memory_is_given_back_after_every_64_blocks_imported() {
        assert!(!trim_due(0, 0));
        assert!(!trim_due(TRIM_EVERY_BLOCKS - 1, 0));
        assert!(trim_due(TRIM_EVERY_BLOCKS, 0));
        assert!(trim_due(100_000, 0));
        assert!(!trim_due(100_000 + TRIM_EVERY_BLOCKS - 1, 100_000));
        // A count that went back (never: it only grows) trims nothing.
        assert!(!trim_due(5, 100));
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 1, n])
    }

    #[test]
    fn many_sources_under_the_per_address_cap_cannot_fill_the_table() {
        // 10 places, 2 reserved, 5 per address.
        let mut t = ConnTable::new(10, 5, 2);
        let mut id = 0;
        let mut next = || {
            id += 1;
            id
        };
        // Sources 1..=4 take 2 each: 8 untrusted places, full.
        for s in 1..=4 {
            for _ in 0..2 {
                assert_eq!(t.admit(next(), ip(s), false, u64::from(s)), Admit::Yes);
            }
        }
        // Source 1 adds a third: it is the biggest holder, so its own
        // oldest goes.
        assert_eq!(t.admit(next(), ip(1), false, 10), Admit::Evict(1));
        // A newcomer evicts from the biggest holder (source 1 again, its
        // oldest left: id 2).
        assert_eq!(t.admit(next(), ip(9), false, 11), Admit::Evict(2));
        // The biggest holder now pays for its own newcomers.
        for _ in 0..3 {
            t.admit(next(), ip(5), false, 12);
        }
        assert!(matches!(t.admit(next(), ip(5), false, 13), Admit::Evict(_)));
        // A dialled peer takes a reserved place without evicting.
        let before = t.len();
        assert_eq!(t.admit(next(), ip(7), true, 14), Admit::Yes);
        assert_eq!(t.len(), before + 1);
        // The per-address cap holds while there is room.
        let mut t = ConnTable::new(10, 2, 2);
        assert_eq!(t.admit(1, ip(5), false, 1), Admit::Yes);
        assert_eq!(t.admit(2, ip(5), false, 1), Admit::Yes);
        assert_eq!(t.admit(3, ip(5), false, 1), Admit::Busy);
        assert_eq!(t.admit(3, ip(6), false, 1), Admit::Yes);
        // Trusted connections are never evicted.
        let mut t = ConnTable::new(4, 4, 2);
        assert_eq!(t.admit(1, ip(1), false, 1), Admit::Yes);
        t.trust(1);
        assert_eq!(t.admit(2, ip(1), false, 2), Admit::Yes);
        t.trust(2);
        assert_eq!(t.admit(3, ip(1), false, 3), Admit::Yes);
        assert_eq!(t.admit(4, ip(1), false, 4), Admit::Yes);
        assert_eq!(t.admit(5, ip(2), false, 5), Admit::Evict(3));
        t.trust(4);
        t.trust(5);
        assert_eq!(t.admit(6, ip(3), false, 6), Admit::Busy);
        t.remove(5);
        assert_eq!(t.admit(6, ip(3), false, 6), Admit::Yes);
    }

    #[test]
    fn the_door_checks_in_one_order_for_every_runtime() {
        use crate::wire::{ErrorCode, Role};
        let ip = |i: u8| IpAddr::from([10, 0, 0, i]);
        let mut door = Door::new(Role::MainNode, ConnTable::new(8, 2, 2));
        // A banned address is refused before it takes a place; dialled, it
        // is not (this node chose to dial it).
        door.ban(ip(1), 1_000);
        let e = door.arrive(1, ip(1), false, 10).unwrap_err();
        assert_eq!(e.code, ErrorCode::Banned);
        assert!(door.is_empty());
        assert_eq!(door.arrive(2, ip(1), true, 10), Ok(None));
        // Two untrusted sessions per address, then Busy.
        assert_eq!(door.arrive(3, ip(2), false, 10), Ok(None));
        assert_eq!(door.arrive(4, ip(2), false, 11), Ok(None));
        assert_eq!(
            door.arrive(5, ip(2), false, 12).unwrap_err().code,
            ErrorCode::Busy
        );
        // A forger whose key forges earns trust: it no longer counts
        // against its address's cap.
        door.hello(3, Role::Forger, true, false).unwrap();
        assert_eq!(door.arrive(6, ip(2), false, 13), Ok(None));
        door.left(6);
        assert_eq!(door.len(), 3);
        // A forger's port: clients only, unless it dialled.
        let mut forger = Door::new(Role::Forger, ConnTable::new(8, 2, 2));
        forger.arrive(1, ip(3), false, 0).unwrap();
        let e = forger.hello(1, Role::MainNode, false, false).unwrap_err();
        assert_eq!(e.code, ErrorCode::OutOfTurn);
        forger.arrive(2, ip(3), true, 0).unwrap();
        assert!(forger.hello(2, Role::MainNode, false, true).is_ok());
        assert!(forger.hello(3, Role::Client, false, false).is_ok());
    }

    #[test]
    fn a_forgers_port_keeps_clients_only_and_follows_the_mains_it_dialled() {
        use crate::wire::Role;
        assert!(inbound_allowed(Role::Forger, Role::Client, false));
        assert!(!inbound_allowed(Role::Forger, Role::MainNode, false));
        assert!(!inbound_allowed(Role::Forger, Role::Forger, false));
        assert!(inbound_allowed(Role::Forger, Role::MainNode, true));
        for peer in [Role::Client, Role::Forger, Role::MainNode] {
            assert!(inbound_allowed(Role::MainNode, peer, false));
        }
    }

    #[test]
    fn log_lines_are_rate_limited_per_source_with_a_summary() {
        let mut g = LogGate::default();
        let w: Vec<LogVerdict> = (0..8).map(|i| g.note(ip(1), i)).collect();
        assert_eq!(w.iter().filter(|v| **v == LogVerdict::Write).count(), 5);
        assert_eq!(
            g.note(ip(2), 10),
            LogVerdict::Write,
            "another source has its own share"
        );
        assert!(g.summary(100).is_empty(), "the window is still open");
        assert_eq!(g.summary(LogGate::WINDOW_MS), vec![(Some(ip(1)), 3)]);
        assert_eq!(g.note(ip(1), LogGate::WINDOW_MS + 1), LogVerdict::Write);
        // Sources beyond the followed ones are counted together.
        let mut g = LogGate::default();
        for n in 0..LogGate::SOURCES as u32 {
            g.note(IpAddr::from(n.to_be_bytes()), 0);
        }
        assert_eq!(g.note(ip(200), 0), LogVerdict::Quiet);
        assert_eq!(g.summary(LogGate::WINDOW_MS), vec![(None, 1)]);
    }

    #[test]
    fn redial_backs_off_doubling_and_resets_when_established() {
        let mut r = Redial::new(true);
        // No jitter (random 0): 1 s, 2 s, 4 s … up to 30 s.
        let waits: Vec<u64> = (0..7).map(|_| r.next(false, 0).unwrap()).collect();
        assert_eq!(waits, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
        assert_eq!(r.failures(), 7);
        assert_eq!(r.next(true, 0), Some(1_000));
        assert_eq!(r.failures(), 0);
        // Jitter: at most half the wait again.
        let mut r = Redial::new(true);
        assert_eq!(r.next(false, u64::MAX), Some(1_000 + u64::MAX % 501));
        assert!(r.next(false, 12345).unwrap() <= 3_000);
    }

    #[test]
    fn a_learned_peer_is_given_up_after_five_failures_in_a_row() {
        let mut r = Redial::new(false);
        for _ in 0..4 {
            assert!(r.next(false, 0).is_some());
        }
        assert_eq!(r.next(false, 0), None);
        let mut r = Redial::new(false);
        for _ in 0..4 {
            assert!(r.next(false, 0).is_some());
        }
        assert!(r.next(true, 0).is_some(), "a success starts the count over");
        for _ in 0..4 {
            assert!(r.next(false, 0).is_some());
        }
        assert_eq!(r.next(false, 0), None);
    }

    #[test]
    fn the_flood_gate_counts_per_ten_second_window() {
        let mut g = FloodGate::new(2, 0);
        for i in 0..20 {
            assert!(g.allow(i * 10), "message {i}");
        }
        assert!(!g.allow(500), "the 21st in the window floods");
        assert!(g.allow(10_001), "a new window");
    }

    #[test]
    fn claims_from_the_future_or_with_more_blocks_than_slots_are_not_plausible() {
        use crate::wire::TipInfo;
        let net = crate::testkit::TestNet::new(&crate::testkit::TestNetConfig::default());
        let p = &net.params;
        let tip = |height, slot| TipInfo {
            height,
            hash: crate::chain::crypto::Hash::ZERO,
            slot,
        };
        // 1 s slots from 0, 500 ms drift: at 20.2 s, slot 20 has started
        // and slot 21 starts within the drift; slot 22 does not.
        assert_eq!(plausible_claim(p, &tip(15, 20), 20_200), Ok(()));
        assert_eq!(plausible_claim(p, &tip(15, 21), 20_600), Ok(()));
        let e = plausible_claim(p, &tip(15, 22), 20_200).unwrap_err();
        assert!(
            matches!(e, ImplausibleClaim::Early { ahead_ms: 1800, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("1800 ms ahead"), "{e}");
        let e = plausible_claim(p, &tip(1_000_000, 20), 20_200).unwrap_err();
        assert!(
            matches!(e, ImplausibleClaim::MoreBlocksThanSlots { .. }),
            "{e}"
        );
        assert!(e.to_string().contains("more blocks than slots"), "{e}");
    }

    #[test]
    fn an_undelivered_claim_is_distrusted_until_a_block_lands_or_the_time_passes() {
        let mut t = ClaimTrust::default();
        assert!(t.trusted(0));
        t.failed(1_000);
        assert!(!t.trusted(1_000));
        assert!(!t.trusted(1_000 + UNTRUSTED_CLAIM_MS - 1));
        assert!(t.trusted(1_000 + UNTRUSTED_CLAIM_MS));
        t.failed(5_000);
        t.delivered();
        assert!(t.trusted(5_000));
    }

    #[test]
    fn bans_expire() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let mut b = Bans::default();
        b.ban(ip, 100);
        b.ban(ip, 50);
        assert!(b.banned(ip, 99));
        assert!(!b.banned(ip, 100));
        assert!(b.is_empty());
    }
}
