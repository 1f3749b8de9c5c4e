//! The appliance's status LEDs: what they show ([`pattern`], a pure function
//! of the appliance's state and the time). The pins that show it are the
//! runtime's ([`crate::runtime::led`]).
//!
//! # The code
//!
//! Three LEDs, each with one meaning. Blinks are short and rare so that a
//! healthy appliance's LEDs are off most of the time (low power) and so that
//! the forging loop wakes up for them only when something actually blinks.
//!
//! | LED | looks like | means |
//! |---|---|---|
//! | green | heartbeat: 100 ms on, every 2 s | synced with the chain |
//! | green | double flash: two 100 ms flashes every 2 s | synced, running a new release on trial (it commits after its health checks, or rolls back) |
//! | green | off | not synced (starting, catching up, or cut off) |
//! | amber | steady | holds forging weight this epoch |
//! | amber | flashing 4 Hz for 1 s | just forged a block (overrides steady) |
//! | amber | off | no weight this epoch |
//! | red | steady | storage error (the store is unusable: see the log) |
//! | red | fast blink, 4 Hz | the wall clock is not trusted (slots could be missed or misjudged) |
//! | red | slow blink, 1 Hz | no main node connected |
//! | red | double flash: two 100 ms flashes every 2 s | the board reports under-voltage, now or since boot (a weak power supply: the usual cause of SD-card corruption) |
//! | red | heartbeat: 100 ms on, every 2 s | a release was rolled back here (`goodwill update status` says which); shown until another release is installed |
//! | red | off | no fault |
//!
//! Red shows one fault at a time, the most serious first: storage error, then
//! untrusted clock, then no main node, then under-voltage, then a rollback
//! (the last two do not stop forging). Blinks are aligned to the clock given
//! (`now_ms % period`), the forged flash to the forged block's time.
//!
//! [`next_change_ms`] says when the pattern next changes by itself: the
//! appliance sleeps until then (or until its state changes) and never polls.
//! With nothing blinking it returns `None`: no wake-ups for the LEDs at all.
//!

use std::fmt;

/// Period of the green heartbeat.
pub const HEARTBEAT_PERIOD_MS: u64 = 2_000;
/// How long the green heartbeat is lit in each period.
pub const HEARTBEAT_ON_MS: u64 = 100;
/// How long amber flashes after a forged block.
pub const FORGED_FLASH_MS: u64 = 1_000;
/// Period of the forged flash and of the red fast blink (4 Hz, half on).
pub const FAST_BLINK_PERIOD_MS: u64 = 250;
/// Period of the red slow blink (1 Hz, half on).
pub const SLOW_BLINK_PERIOD_MS: u64 = 1_000;
/// Period of the red double flash (under-voltage).
pub const DOUBLE_FLASH_PERIOD_MS: u64 = 2_000;
/// Each of the double flash's two flashes, and the gap between them.
pub const DOUBLE_FLASH_ON_MS: u64 = 100;

/// What the LEDs show: the part of the appliance's state they depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApplianceState {
    /// Following the chain's tip.
    pub synced: bool,
    /// This forger holds forging weight in the current epoch.
    pub holds_weight_this_epoch: bool,
    /// When this forger last forged a block (milliseconds, same clock as `now_ms`).
    pub last_forged_ms: Option<u64>,
    /// Main nodes currently connected.
    pub main_nodes_connected: usize,
    /// The wall clock is trusted (synchronised, not stepped back).
    pub clock_trusted: bool,
    /// The store failed: the appliance cannot persist, hence cannot forge.
    pub storage_error: bool,
    /// The board reports under-voltage, now or since it booted.
    pub under_voltage: bool,
    /// Where the appliance's self-update stands.
    pub update: UpdateLed,
}

/// What the LEDs show of the self-update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateLed {
    /// Nothing to show: a committed release or the factory binary runs.
    #[default]
    Settled,
    /// A new release runs on trial.
    Trial,
    /// A release was rolled back (until another is installed).
    RolledBack,
}

/// Which LEDs are lit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Leds {
    /// Green: sync heartbeat.
    pub green: bool,
    /// Amber: weight held / block forged.
    pub amber: bool,
    /// Red: fault.
    pub red: bool,
}

/// One of the three LEDs (named in errors and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Led {
    /// The green LED.
    Green,
    /// The amber LED.
    Amber,
    /// The red LED.
    Red,
}

impl Led {
    /// All three, in the order green, amber, red.
    pub const ALL: [Led; 3] = [Led::Green, Led::Amber, Led::Red];

    /// Lower-case name: `green`, `amber`, `red`.
    pub fn name(self) -> &'static str {
        match self {
            Led::Green => "green",
            Led::Amber => "amber",
            Led::Red => "red",
        }
    }
}

impl fmt::Display for Led {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Leds {
    /// The level of one LED.
    pub fn get(&self, led: Led) -> bool {
        match led {
            Led::Green => self.green,
            Led::Amber => self.amber,
            Led::Red => self.red,
        }
    }
}

/// How one LED behaves over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Off.
    Off,
    /// Steadily on.
    On,
    /// [`HEARTBEAT_ON_MS`] on at the start of every [`HEARTBEAT_PERIOD_MS`].
    Heartbeat,
    /// 4 Hz, half on, starting lit at `since_ms` (the forged block).
    Flash {
        /// When the flash started.
        since_ms: u64,
    },
    /// 1 Hz, half on.
    SlowBlink,
    /// 4 Hz, half on.
    FastBlink,
    /// Two [`DOUBLE_FLASH_ON_MS`] flashes, [`DOUBLE_FLASH_ON_MS`] apart, at
    /// the start of every [`DOUBLE_FLASH_PERIOD_MS`].
    DoubleFlash,
}

/// Lit for the first `on` ms of every `period` (times relative to the phase origin).
fn square(t: u64, period: u64, on: u64) -> bool {
    t % period < on
}

/// Lit during the two flashes at the start of every double-flash period.
fn double(t: u64) -> bool {
    let phase = t % DOUBLE_FLASH_PERIOD_MS;
    phase < DOUBLE_FLASH_ON_MS || (2 * DOUBLE_FLASH_ON_MS..3 * DOUBLE_FLASH_ON_MS).contains(&phase)
}

/// The next time after `t` at which [`double`] toggles.
fn double_next(t: u64) -> Option<u64> {
    let phase = t % DOUBLE_FLASH_PERIOD_MS;
    let start = t - phase;
    let next = match phase / DOUBLE_FLASH_ON_MS {
        0 => DOUBLE_FLASH_ON_MS,
        1 => 2 * DOUBLE_FLASH_ON_MS,
        2 => 3 * DOUBLE_FLASH_ON_MS,
        _ => DOUBLE_FLASH_PERIOD_MS,
    };
    start.checked_add(next)
}

/// The next relative time after `t` at which [`square`] toggles.
fn square_next(t: u64, period: u64, on: u64) -> Option<u64> {
    let phase = t % period;
    let start = t - phase;
    start.checked_add(if phase < on { on } else { period })
}

impl Mode {
    /// Lit at `now_ms`?
    pub fn level(self, now_ms: u64) -> bool {
        match self {
            Mode::Off => false,
            Mode::On => true,
            Mode::Heartbeat => square(now_ms, HEARTBEAT_PERIOD_MS, HEARTBEAT_ON_MS),
            Mode::Flash { since_ms } => match now_ms.checked_sub(since_ms) {
                Some(t) => square(t, FAST_BLINK_PERIOD_MS, FAST_BLINK_PERIOD_MS / 2),
                None => false,
            },
            Mode::SlowBlink => square(now_ms, SLOW_BLINK_PERIOD_MS, SLOW_BLINK_PERIOD_MS / 2),
            Mode::FastBlink => square(now_ms, FAST_BLINK_PERIOD_MS, FAST_BLINK_PERIOD_MS / 2),
            Mode::DoubleFlash => double(now_ms),
        }
    }

    /// The first instant after `now_ms` at which [`Mode::level`] differs,
    /// were the mode to last forever; `None` for a steady mode.
    pub fn next_toggle(self, now_ms: u64) -> Option<u64> {
        match self {
            Mode::Off | Mode::On => None,
            Mode::Heartbeat => square_next(now_ms, HEARTBEAT_PERIOD_MS, HEARTBEAT_ON_MS),
            Mode::Flash { since_ms } => match now_ms.checked_sub(since_ms) {
                Some(t) => square_next(t, FAST_BLINK_PERIOD_MS, FAST_BLINK_PERIOD_MS / 2)
                    .and_then(|t| t.checked_add(since_ms)),
                None => Some(since_ms),
            },
            Mode::SlowBlink => square_next(now_ms, SLOW_BLINK_PERIOD_MS, SLOW_BLINK_PERIOD_MS / 2),
            Mode::FastBlink => square_next(now_ms, FAST_BLINK_PERIOD_MS, FAST_BLINK_PERIOD_MS / 2),
            Mode::DoubleFlash => double_next(now_ms),
        }
    }

    /// Short name for status lines: `off`, `on`, `heartbeat`, `flash`,
    /// `slow`, `fast`, `double`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::On => "on",
            Mode::Heartbeat => "heartbeat",
            Mode::Flash { .. } => "flash",
            Mode::SlowBlink => "slow",
            Mode::FastBlink => "fast",
            Mode::DoubleFlash => "double",
        }
    }
}

/// The mode of each LED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modes {
    /// Green.
    pub green: Mode,
    /// Amber.
    pub amber: Mode,
    /// Red.
    pub red: Mode,
}

impl Modes {
    /// The levels at `now_ms`.
    pub fn levels(&self, now_ms: u64) -> Leds {
        Leds {
            green: self.green.level(now_ms),
            amber: self.amber.level(now_ms),
            red: self.red.level(now_ms),
        }
    }
}

fn green_mode(state: &ApplianceState) -> Mode {
    if state.synced && state.update == UpdateLed::Trial {
        Mode::DoubleFlash
    } else if state.synced {
        Mode::Heartbeat
    } else {
        Mode::Off
    }
}

fn amber_mode(state: &ApplianceState, now_ms: u64) -> Mode {
    match state.last_forged_ms {
        Some(t) if now_ms >= t && now_ms - t < FORGED_FLASH_MS => Mode::Flash { since_ms: t },
        _ if state.holds_weight_this_epoch => Mode::On,
        _ => Mode::Off,
    }
}

/// The next instant after `now_ms` at which the amber *mode* may change (the
/// forged flash starting or ending); the other LEDs' modes depend on the
/// state only.
fn amber_mode_boundary(state: &ApplianceState, now_ms: u64) -> Option<u64> {
    let t = state.last_forged_ms?;
    let end = t.checked_add(FORGED_FLASH_MS);
    if now_ms < t {
        Some(t)
    } else {
        end.filter(|&end| now_ms < end)
    }
}

fn red_mode(state: &ApplianceState) -> Mode {
    if state.storage_error {
        Mode::On
    } else if !state.clock_trusted {
        Mode::FastBlink
    } else if state.main_nodes_connected == 0 {
        Mode::SlowBlink
    } else if state.under_voltage {
        Mode::DoubleFlash
    } else if state.update == UpdateLed::RolledBack {
        Mode::Heartbeat
    } else {
        Mode::Off
    }
}

/// What each LED is doing at `now_ms`.
pub fn modes(state: &ApplianceState, now_ms: u64) -> Modes {
    Modes {
        green: green_mode(state),
        amber: amber_mode(state, now_ms),
        red: red_mode(state),
    }
}

/// Which LEDs are lit at `now_ms` (see the table in the module docs).
pub fn pattern(state: &ApplianceState, now_ms: u64) -> Leds {
    modes(state, now_ms).levels(now_ms)
}

/// The first instant after `now_ms` at which one LED's level differs from
/// its level at `now_ms`, given how its mode evolves.
fn next_level_change(
    now_ms: u64,
    mode_at: impl Fn(u64) -> Mode,
    mode_boundary: impl Fn(u64) -> Option<u64>,
) -> Option<u64> {
    let level = mode_at(now_ms).level(now_ms);
    let mut t = now_ms;
    // Each step moves strictly forward to the next toggle or mode boundary;
    // a mode has at most two boundaries (flash start and end), and a toggle
    // inside a mode is a change, so this ends within a few steps.
    loop {
        let toggle = mode_at(t).next_toggle(t);
        let boundary = mode_boundary(t);
        let next = match (toggle, boundary) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        if mode_at(next).level(next) != level {
            return Some(next);
        }
        t = next;
    }
}

/// When [`pattern`] will next change by itself, if the state stays as it is:
/// the first instant after `now_ms` at which some LED's level differs.
/// `None` when nothing blinks: the appliance need not wake up for the LEDs.
pub fn next_change_ms(state: &ApplianceState, now_ms: u64) -> Option<u64> {
    let green = next_level_change(now_ms, |_| green_mode(state), |_| None);
    let amber = next_level_change(
        now_ms,
        |t| amber_mode(state, t),
        |t| amber_mode_boundary(state, t),
    );
    let red = next_level_change(now_ms, |_| red_mode(state), |_| None);
    [green, amber, red].into_iter().flatten().min()
}

/// A short status line (at most 64 bytes) saying what each LED is doing, for
/// status reports: `green:heartbeat amber:on red:slow(no main node)`.
///
/// It takes the state and the time rather than the levels: a level seen at
/// one instant cannot tell a blink from a steady light.
pub fn describe(state: &ApplianceState, now_ms: u64) -> String {
    let m = modes(state, now_ms);
    let why = match m.red {
        Mode::On => "(storage error)",
        Mode::FastBlink => "(clock untrusted)",
        Mode::SlowBlink => "(no main node)",
        Mode::DoubleFlash => "(under-voltage)",
        Mode::Heartbeat => "(rolled back)",
        _ => "",
    };
    format!(
        "green:{} amber:{} red:{}{why}",
        m.green.name(),
        m.amber.name(),
        m.red.name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_waves_toggle_where_they_say() {
        assert_eq!(square_next(0, 2_000, 100), Some(100));
        assert_eq!(square_next(100, 2_000, 100), Some(2_000));
        assert_eq!(square_next(1_999, 2_000, 100), Some(2_000));
        assert_eq!(square_next(u64::MAX, 2_000, 100), None);
    }

    #[test]
    fn describe_fits_in_64_bytes() {
        let s = ApplianceState {
            synced: true,
            last_forged_ms: Some(0),
            clock_trusted: false,
            ..Default::default()
        };
        let text = describe(&s, 10);
        assert_eq!(
            text,
            "green:heartbeat amber:flash red:fast(clock untrusted)"
        );
        assert!(text.len() <= 64);
        let s = ApplianceState {
            synced: true,
            last_forged_ms: Some(0),
            clock_trusted: true,
            main_nodes_connected: 1,
            update: UpdateLed::RolledBack,
            ..Default::default()
        };
        assert_eq!(
            describe(&s, 10),
            "green:heartbeat amber:flash red:heartbeat(rolled back)"
        );
        let trial = ApplianceState {
            update: UpdateLed::Trial,
            ..s
        };
        assert_eq!(describe(&trial, 10), "green:double amber:flash red:off");
    }
}
