//! The appliance's own decisions, as pure functions: may it forge now (clock
//! trust, sync, main nodes), what it counts (forged, missed, per epoch), and
//! what its LEDs and status say. No clock, no socket, no file: the runtime
//! passes the time and what it measured.

use serde::{Deserialize, Serialize};

use crate::peer::led::ApplianceState;
use crate::wire::handshake::ClockSample;

/// How the appliance decides whether it trusts its wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClockCheck {
    /// The kernel must report the clock synchronised (NTP) *and* the offset
    /// to the main nodes must be within a quarter slot. The default with a
    /// Raspberry Pi board profile: a Pi has no real-time clock.
    KernelAndPeers,
    /// Only the offset to the main nodes. The default without a board
    /// profile (containers and CI machines often report the kernel clock
    /// unsynchronised).
    Peers,
    /// No check: for tests only.
    Off,
}

impl ClockCheck {
    /// Parses `kernel+peers`, `peers` or `off`.
    pub fn parse(s: &str) -> Result<ClockCheck, UnknownClockCheck> {
        match s {
            "kernel+peers" => Ok(ClockCheck::KernelAndPeers),
            "peers" => Ok(ClockCheck::Peers),
            "off" => Ok(ClockCheck::Off),
            other => Err(UnknownClockCheck(other.to_string())),
        }
    }

    /// The flag's spelling.
    pub fn name(self) -> &'static str {
        match self {
            ClockCheck::KernelAndPeers => "kernel+peers",
            ClockCheck::Peers => "peers",
            ClockCheck::Off => "off",
        }
    }
}

/// A `--clock-check` value that is none of the three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--clock-check {0:?}: use kernel+peers, peers or off")]
pub struct UnknownClockCheck(pub String);

/// Why the clock is not trusted to forge ([`clock_trust`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClockDistrust {
    /// The kernel says its clock is not synchronised.
    #[error("the kernel reports the clock unsynchronised (no NTP sync yet)")]
    KernelUnsynced,
    /// The kernel's clock status could not be read.
    #[error("the kernel's clock status cannot be read")]
    KernelUnknown,
    /// No main node is connected.
    #[error("no main node to compare the clock with")]
    NoMainNode,
    /// The one main node's clock is known to differ by more than allowed.
    #[error("the clock is {offset_ms} ms (± {error_ms} ms) off the main node's (allowed: {allowed_ms} ms, a quarter slot)")]
    OffTheMainNode {
        /// This clock minus the main node's (ms).
        offset_ms: i64,
        /// The measurement's error (ms).
        error_ms: u64,
        /// The offset allowed (ms).
        allowed_ms: u64,
    },
    /// Too few of the main nodes agree with this clock.
    #[error("the clock is within {allowed_ms} ms (a quarter slot) of {agree} of {mains} main nodes, {needed} needed (median offset {median_ms} ms)")]
    NoQuorum {
        /// The offset allowed (ms).
        allowed_ms: u64,
        /// Main nodes that agree.
        agree: usize,
        /// Main nodes connected.
        mains: usize,
        /// How many must agree ([`clock_quorum`]).
        needed: usize,
        /// The median offset (ms).
        median_ms: i64,
    },
}

/// Whether the clock can be trusted to forge: `Ok(())`, or the reason not.
///
/// `kernel_synced`: what the kernel says (None: could not ask).
/// `samples`: this clock minus each connected main node's, measured at the
/// handshake, each with its error (half the handshake's duration). The
/// clock is trusted when at least [`clock_quorum`] of them are within a
/// quarter slot of it: with three or more main nodes a majority, so a
/// minority of lying (or wrong) main nodes can neither stop the forger nor
/// vouch for a wrong clock. A main node counts as disagreeing only when
/// the clocks are *known* to differ by more than the quarter slot (the
/// offset less its error): a slow handshake on a busy board is not taken
/// for a wrong clock.
pub fn clock_trust(
    check: ClockCheck,
    kernel_synced: Option<bool>,
    samples: &[ClockSample],
    slot_ms: u64,
) -> Result<(), ClockDistrust> {
    if check == ClockCheck::Off {
        return Ok(());
    }
    if check == ClockCheck::KernelAndPeers {
        match kernel_synced {
            Some(true) => {}
            Some(false) => return Err(ClockDistrust::KernelUnsynced),
            None => return Err(ClockDistrust::KernelUnknown),
        }
    }
    let offsets: Vec<i64> = samples.iter().map(|s| s.offset_ms).collect();
    let Some(median) = median(&offsets) else {
        return Err(ClockDistrust::NoMainNode);
    };
    let allowed = slot_ms / 4;
    let n = samples.len();
    let agree = samples
        .iter()
        .filter(|s| s.least_off_ms() <= allowed)
        .count();
    let needed = clock_quorum(n);
    if agree >= needed {
        return Ok(());
    }
    if n == 1 {
        return Err(ClockDistrust::OffTheMainNode {
            offset_ms: median,
            error_ms: samples[0].error_ms,
            allowed_ms: allowed,
        });
    }
    Err(ClockDistrust::NoQuorum {
        allowed_ms: allowed,
        agree,
        mains: n,
        needed,
        median_ms: median,
    })
}

/// How many of `mains` connected main nodes must agree with this clock
/// (each within a quarter slot) for the forger to trust it.
///
/// - three or more: a strict majority (2 of 3, 3 of 4, 3 of 5): a minority
///   of lying main nodes can neither stop the forger nor make it forge on
///   a wrong clock;
/// - two: either one. One liar cannot stop the forger (the mean of two,
///   used before, let it), but one liar can vouch for a wrong clock — on a
///   Raspberry Pi the kernel's own NTP status is checked as well;
/// - one: that one decides alone, either way.
///
/// Hence docs/operate.md: give a forger three main nodes or more, run by
/// different people.
pub fn clock_quorum(mains: usize) -> usize {
    if mains <= 2 {
        1
    } else {
        mains / 2 + 1
    }
}

/// Whether the LEDs show the clock as trusted. They show one fault at a
/// time: with no main node connected, the clock has nothing to be compared
/// with, and the fault to show is "no main node" (red slow blink), not an
/// untrusted clock (red fast blink) — unless the kernel's own report
/// already distrusts it.
pub fn clock_trusted_for_leds(
    check: ClockCheck,
    kernel_synced: Option<bool>,
    clock: &Result<(), ClockDistrust>,
    mains: usize,
    slot_ms: u64,
) -> bool {
    clock.is_ok()
        || (mains == 0
            && clock_trust(check, kernel_synced, &[ClockSample::exact(0)], slot_ms).is_ok())
}

/// The median of `v` (for an even count, the mean of the two middle
/// values, rounded toward zero), or None.
///
/// Not the lower middle: with two main nodes, that would let whichever
/// clock is behind decide alone — one main node 300 ms slow would stop a
/// forger whose own clock is exact.
pub fn median(v: &[i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        ((s[n / 2 - 1] as i128 + s[n / 2] as i128) / 2) as i64
    })
}

/// The next slot boundary after `now_ms`: the slot that starts next and
/// when (ms). The appliance's slot timer sleeps until then and hands the
/// slot to [`crate::peer::core::Core::slot`]; a slot already under way when
/// it starts is never handled.
pub fn next_slot(params: &crate::chain::genesis::ChainParams, now_ms: u64) -> (u64, u64) {
    let next = params.slot_at(now_ms) + 1;
    (next, params.slot_start_ms(next))
}

/// Why a slot this forger leads was not forged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// Still catching up with the chain.
    NotSynced,
    /// No main node to send the block to.
    NoMainNode,
    /// The clock is not trusted.
    Clock(ClockDistrust),
    /// The signing record already holds this slot or a later one.
    AlreadySigned(String),
    /// The store failed.
    Storage(String),
    /// A main node refused this forger's session lately because another
    /// session with its key answered (held until that is over).
    Doppelganger,
    /// The sessions with main nodes are a few seconds old: a main node may
    /// still be checking that no other board uses this key.
    Settling,
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Miss::NotSynced => f.write_str("not synced with the chain"),
            Miss::NoMainNode => f.write_str("no main node connected"),
            Miss::Clock(why) => write!(f, "clock not trusted: {why}"),
            Miss::AlreadySigned(why) => write!(f, "signing record refuses: {why}"),
            Miss::Storage(why) => write!(f, "storage: {why}"),
            Miss::Settling => f.write_str(
                "main-node session too new: waiting a few seconds in case another board uses this key",
            ),
            Miss::Doppelganger => f.write_str(
                "held: a main node saw another live session with this forger key",
            ),
        }
    }
}

/// Whether a slot this forger leads may be forged, given what it knows.
pub fn may_forge(
    synced: bool,
    mains: usize,
    clock: &Result<(), ClockDistrust>,
) -> Result<(), Miss> {
    if mains == 0 {
        return Err(Miss::NoMainNode);
    }
    if !synced {
        return Err(Miss::NotSynced);
    }
    if let Err(why) = clock {
        return Err(Miss::Clock(why.clone()));
    }
    Ok(())
}

/// What the appliance counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgeStats {
    /// The epoch the per-epoch counts are for.
    pub epoch: u64,
    /// Blocks forged this epoch.
    pub forged_epoch: u64,
    /// Slots led but not forged this epoch.
    pub missed_epoch: u64,
    /// Blocks forged since start.
    pub forged_total: u64,
    /// The last slot signed (from the signing record).
    pub last_signed_slot: Option<u64>,
    /// When the last block was forged (ms).
    pub last_forged_ms: Option<u64>,
    /// Why the last led slot was missed, if it was.
    pub last_miss: Option<String>,
}

impl ForgeStats {
    /// Moves the per-epoch counts to `epoch` (zeroed when it changes).
    pub fn enter_epoch(&mut self, epoch: u64) {
        if epoch != self.epoch {
            self.epoch = epoch;
            self.forged_epoch = 0;
            self.missed_epoch = 0;
        }
    }

    /// Counts a forged block in `slot` at `now_ms`.
    pub fn forged(&mut self, slot: u64, now_ms: u64) {
        self.forged_epoch += 1;
        self.forged_total += 1;
        self.last_signed_slot = Some(slot);
        self.last_forged_ms = Some(now_ms);
        self.last_miss = None;
    }

    /// Counts a missed slot.
    pub fn missed(&mut self, why: &Miss) {
        self.missed_epoch += 1;
        self.last_miss = Some(why.to_string());
    }
}

/// The LED state of the appliance.
pub fn leds_state(
    synced: bool,
    holds_weight: bool,
    stats: &ForgeStats,
    mains: usize,
    clock_trusted: bool,
    storage_error: bool,
) -> ApplianceState {
    ApplianceState {
        synced,
        holds_weight_this_epoch: holds_weight,
        last_forged_ms: stats.last_forged_ms,
        main_nodes_connected: mains,
        clock_trusted,
        storage_error,
        // What the board reports, and the self-update, are the runtime's:
        // it sets them.
        under_voltage: false,
        update: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(offsets: &[i64]) -> Vec<ClockSample> {
        offsets.iter().map(|&o| ClockSample::exact(o)).collect()
    }

    #[test]
    fn clock_trust_rules() {
        let slot = 2_000;
        assert!(clock_trust(ClockCheck::Off, None, &exact(&[]), slot).is_ok());
        assert!(clock_trust(ClockCheck::Peers, None, &exact(&[10, -20]), slot).is_ok());
        let e = clock_trust(ClockCheck::Peers, None, &exact(&[]), slot).unwrap_err();
        assert_eq!(e, ClockDistrust::NoMainNode);
        assert!(e.to_string().contains("no main node"), "{e}");
        let e = clock_trust(ClockCheck::Peers, None, &exact(&[600]), slot).unwrap_err();
        assert_eq!(
            e,
            ClockDistrust::OffTheMainNode {
                offset_ms: 600,
                error_ms: 0,
                allowed_ms: 500
            }
        );
        let e = e.to_string();
        assert!(e.contains("600 ms") && e.contains("500 ms"), "{e}");
        // A majority decides: one bad main node of three does not.
        assert!(clock_trust(ClockCheck::Peers, None, &exact(&[5, 9_000, -3]), slot).is_ok());
        // With two, one main node 300 ms behind the other does not stop a
        // forger whose clock is exact.
        assert!(clock_trust(ClockCheck::Peers, None, &exact(&[0, -300]), slot).is_ok());
        assert!(clock_trust(ClockCheck::Peers, None, &exact(&[-300, 0]), slot).is_ok());
        assert_eq!(median(&[-300, 0]), Some(-150));
        assert_eq!(median(&[-3, 0, 7, 9]), Some(3));
        assert_eq!(median(&[i64::MAX, i64::MAX]), Some(i64::MAX));
        let e =
            clock_trust(ClockCheck::KernelAndPeers, Some(false), &exact(&[0]), slot).unwrap_err();
        assert_eq!(e, ClockDistrust::KernelUnsynced);
        assert!(e.to_string().contains("unsynchronised"), "{e}");
        assert!(clock_trust(ClockCheck::KernelAndPeers, None, &exact(&[0]), slot).is_err());
        assert!(clock_trust(ClockCheck::KernelAndPeers, Some(true), &exact(&[0]), slot).is_ok());
        assert!(ClockCheck::parse("sometimes").is_err());
        for c in [
            ClockCheck::KernelAndPeers,
            ClockCheck::Peers,
            ClockCheck::Off,
        ] {
            assert_eq!(ClockCheck::parse(c.name()).unwrap(), c);
        }
    }

    /// Issue 13, finding 7: with two main nodes the offset was their mean,
    /// so one main node lying by 2 s about its clock stopped a forger whose
    /// clock agreed exactly with the other's (mean 1 s, over 500 ms).
    #[test]
    fn one_lying_main_node_cannot_stop_a_forger_nor_a_minority_vouch_for_a_wrong_clock() {
        let slot = 2_000;
        let peers = |o: &[i64]| clock_trust(ClockCheck::Peers, None, &exact(o), slot);
        // Two main nodes, one lying: the honest one's agreement is enough.
        assert_eq!(peers(&[0, 2_000]), Ok(()));
        assert_eq!(peers(&[-2_000, 10]), Ok(()));
        // Three: a majority must agree. One liar changes nothing…
        assert_eq!(peers(&[0, 5, 2_000]), Ok(()));
        // …and a wrong clock vouched for by one liar of three is refused.
        let e = peers(&[2_000, 2_010, 0]).unwrap_err();
        assert!(
            matches!(
                e,
                ClockDistrust::NoQuorum {
                    agree: 1,
                    mains: 3,
                    needed: 2,
                    ..
                }
            ),
            "{e}"
        );
        let e = e.to_string();
        assert!(e.contains("1 of 3") && e.contains("2 needed"), "{e}");
        // Four: three must agree.
        assert!(peers(&[0, 0, 2_000, 2_000]).is_err());
        assert_eq!(peers(&[0, 0, 10, 2_000]), Ok(()));
        assert_eq!(
            (1..=6).map(clock_quorum).collect::<Vec<_>>(),
            [1, 1, 2, 3, 3, 4]
        );
    }

    /// Issue 15: under an emulator on a loaded machine a handshake took
    /// ~500 ms, and a forger whose clock was the main node's own (one
    /// machine) measured a 255 ms offset and refused to forge. The offset
    /// is only as good as its error; a clock is off when it is known to be.
    #[test]
    fn a_slow_handshake_is_not_taken_for_a_wrong_clock() {
        let slot = 300; // allowed: 75 ms
        let trust = |s: &[ClockSample]| clock_trust(ClockCheck::Peers, None, s, slot);
        // Same clock, slow handshake: t0 = 1_000, their clock read at
        // 1_010, Hello in at 1_530; measured +255 ± 265.
        let slow = ClockSample::measure(1_000, 1_530, 1_010);
        assert_eq!(
            slow,
            ClockSample {
                offset_ms: 255,
                error_ms: 265
            }
        );
        assert_eq!(slow.least_off_ms(), 0);
        assert_eq!(trust(&[slow]), Ok(()));
        // Known to be off: 400 ms ± 20 is at least 380 ms off.
        let off = ClockSample {
            offset_ms: -400,
            error_ms: 20,
        };
        assert_eq!(off.least_off_ms(), 380);
        let e = trust(&[off]).unwrap_err().to_string();
        assert!(
            e.contains("-400 ms (± 20 ms)") && e.contains("75 ms"),
            "{e}"
        );
        // Just inside and just beyond the quarter slot, error included.
        assert!(trust(&[ClockSample {
            offset_ms: 100,
            error_ms: 25
        }])
        .is_ok());
        assert!(trust(&[ClockSample {
            offset_ms: 100,
            error_ms: 24
        }])
        .is_err());
        // A fast handshake keeps the check sharp.
        assert_eq!(
            ClockSample::measure(1_000, 1_002, 1_301).least_off_ms(),
            299
        );
        // Odd durations round the error up, never down.
        assert_eq!(ClockSample::measure(0, 3, 0).error_ms, 2);
    }

    #[test]
    fn with_no_main_node_the_leds_show_that_rather_than_the_clock() {
        let slot = 2_000;
        let check = |c, k, mains| {
            let clock = clock_trust(c, k, &exact(&vec![0; mains]), slot);
            clock_trusted_for_leds(c, k, &clock, mains, slot)
        };
        assert!(check(ClockCheck::Peers, None, 0));
        assert!(check(ClockCheck::KernelAndPeers, Some(true), 0));
        assert!(!check(ClockCheck::KernelAndPeers, Some(false), 0));
        assert!(!check(ClockCheck::KernelAndPeers, None, 0));
        assert!(!check(ClockCheck::KernelAndPeers, Some(false), 1));
        let far = clock_trust(ClockCheck::Peers, None, &exact(&[9_000]), slot);
        assert!(!clock_trusted_for_leds(
            ClockCheck::Peers,
            None,
            &far,
            1,
            slot
        ));
    }

    #[test]
    fn may_forge_order_and_stats() {
        let ok: Result<(), ClockDistrust> = Ok(());
        assert_eq!(may_forge(true, 0, &ok), Err(Miss::NoMainNode));
        assert_eq!(may_forge(false, 1, &ok), Err(Miss::NotSynced));
        assert!(matches!(
            may_forge(true, 1, &Err(ClockDistrust::NoMainNode)),
            Err(Miss::Clock(_))
        ));
        assert_eq!(may_forge(true, 1, &ok), Ok(()));
        let mut s = ForgeStats::default();
        s.enter_epoch(3);
        s.forged(31, 1_000);
        s.missed(&Miss::NotSynced);
        assert_eq!((s.forged_epoch, s.missed_epoch, s.forged_total), (1, 1, 1));
        s.enter_epoch(4);
        assert_eq!((s.forged_epoch, s.missed_epoch, s.forged_total), (0, 0, 1));
        assert_eq!(s.last_signed_slot, Some(31));
    }
}
