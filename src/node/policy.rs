//! The runtime's own decisions, as plain values: when to dial a main node
//! again, when a connection floods, which addresses are banned, how often
//! time is passed to the core. No clock and no socket here — the time and
//! the random numbers come in as arguments — so the smol runtime
//! (`node::serve`) and the simulation (`sim`) make exactly the same choices.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// A main node's tick: sync retries, equivocation reports.
pub const MAIN_TICK_MS: u64 = 1_000;

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
    params: &crate::genesis::ChainParams,
    tip: &crate::wire::TipInfo,
    now_ms: u64,
) -> Result<(), String> {
    let start = params.slot_start_ms(tip.slot);
    let drift = params.limits().max_clock_drift_ms;
    if start > now_ms.saturating_add(drift) {
        return Err(format!(
            "claimed tip {} at height {}: slot {} starts {} ms ahead of this clock (drift allowed: {drift} ms)",
            tip.hash.short(),
            tip.height,
            tip.slot,
            start - now_ms
        ));
    }
    if tip.height > tip.slot {
        return Err(format!(
            "claimed tip {} at height {} in slot {}: more blocks than slots",
            tip.hash.short(),
            tip.height,
            tip.slot
        ));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

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
            hash: crate::crypto::Hash::ZERO,
            slot,
        };
        // 1 s slots from 0, 500 ms drift: at 20.2 s, slot 20 has started
        // and slot 21 starts within the drift; slot 22 does not.
        assert_eq!(plausible_claim(p, &tip(15, 20), 20_200), Ok(()));
        assert_eq!(plausible_claim(p, &tip(15, 21), 20_600), Ok(()));
        let e = plausible_claim(p, &tip(15, 22), 20_200).unwrap_err();
        assert!(e.contains("1800 ms ahead"), "{e}");
        let e = plausible_claim(p, &tip(1_000_000, 20), 20_200).unwrap_err();
        assert!(e.contains("more blocks than slots"), "{e}");
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
