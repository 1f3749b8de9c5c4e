//! The LED code table, run over time through a driver of recording pins:
//! heartbeat duty, blink frequencies, the red priorities, the forged flash,
//! active-low pins, writes only on change; `next_change_ms` exact; the
//! kernel LED-class pin against a temporary directory.

use crate::common;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};

use embedded_hal::digital::{ErrorKind, ErrorType, OutputPin};
use goodwill::runtime::led::{
    describe, modes, next_change_ms, open_gpio, pattern, ActiveLow, AnyPin, ApplianceState, Led,
    LedDriver, LedError, Leds, LogPin, Mode, RecordingPin, SysfsLed, DOUBLE_FLASH_ON_MS,
    DOUBLE_FLASH_PERIOD_MS, FAST_BLINK_PERIOD_MS, FORGED_FLASH_MS, HEARTBEAT_ON_MS,
    HEARTBEAT_PERIOD_MS, SLOW_BLINK_PERIOD_MS,
};
use proptest::prelude::*;

/// Healthy and idle: synced, one main node, clock trusted, no weight.
fn healthy() -> ApplianceState {
    ApplianceState {
        synced: true,
        holds_weight_this_epoch: false,
        last_forged_ms: None,
        main_nodes_connected: 1,
        clock_trusted: true,
        storage_error: false,
        under_voltage: false,
        update: Default::default(),
    }
}

struct Rig {
    driver: LedDriver<RecordingPin, RecordingPin, RecordingPin>,
    pins: [RecordingPin; 3],
}

fn rig(active_low: ActiveLow) -> Rig {
    let pins = [
        RecordingPin::new(),
        RecordingPin::new(),
        RecordingPin::new(),
    ];
    let driver = LedDriver::new(
        pins[0].clone(),
        pins[1].clone(),
        pins[2].clone(),
        active_low,
    );
    Rig { driver, pins }
}

/// The pin levels seen after each millisecond of `from..to`, per LED.
struct Trace {
    levels: [Vec<bool>; 3],
}

impl Trace {
    fn of(&self, led: Led) -> &[bool] {
        &self.levels[led as usize]
    }

    fn lit_ms(&self, led: Led) -> usize {
        self.of(led).iter().filter(|&&on| on).count()
    }

    /// Indices (ms from the start) where the LED goes from off to on.
    fn rising(&self, led: Led) -> Vec<usize> {
        let l = self.of(led);
        (1..l.len()).filter(|&i| l[i] && !l[i - 1]).collect()
    }

    /// Lengths of the lit runs that start and end inside the trace.
    fn lit_runs(&self, led: Led) -> Vec<usize> {
        let l = self.of(led);
        let mut runs = Vec::new();
        let mut start = None;
        for i in 1..l.len() {
            match (l[i - 1], l[i]) {
                (false, true) => start = Some(i),
                (true, false) => {
                    if let Some(s) = start.take() {
                        runs.push(i - s);
                    }
                }
                _ => {}
            }
        }
        runs
    }
}

/// Drives a recording rig with `pattern` every millisecond of `from..to`.
fn run(state: &ApplianceState, from: u64, to: u64, active_low: ActiveLow) -> (Trace, Rig) {
    let mut rig = rig(active_low);
    let mut levels: [Vec<bool>; 3] = Default::default();
    for t in from..to {
        rig.driver.apply(pattern(state, t)).unwrap();
        for (i, pin) in rig.pins.iter().enumerate() {
            levels[i].push(
                pin.level()
                    .expect("every pin is written on the first apply"),
            );
        }
    }
    (Trace { levels }, rig)
}

fn trace(state: &ApplianceState, from: u64, to: u64) -> Trace {
    run(state, from, to, ActiveLow::default()).0
}

const TEN_S: u64 = 10_000;

#[test]
fn synced_is_a_short_green_heartbeat_and_nothing_else() {
    let t = trace(&healthy(), 0, TEN_S);
    // 100 ms lit every 2 s: 5 % duty, five beats in 10 s.
    assert_eq!(t.lit_ms(Led::Green), 500);
    assert_eq!(
        t.lit_runs(Led::Green),
        vec![100; 4],
        "the first beat starts at t=0"
    );
    assert_eq!(t.rising(Led::Green), vec![2_000, 4_000, 6_000, 8_000]);
    assert!(t.of(Led::Green)[0], "a beat starts on the period boundary");
    assert_eq!(t.lit_ms(Led::Amber), 0);
    assert_eq!(t.lit_ms(Led::Red), 0);
    assert_eq!(HEARTBEAT_PERIOD_MS, 2_000);
    assert_eq!(HEARTBEAT_ON_MS, 100);
}

#[test]
fn not_synced_leaves_green_off() {
    let s = ApplianceState {
        synced: false,
        ..healthy()
    };
    let t = trace(&s, 0, TEN_S);
    assert_eq!(t.lit_ms(Led::Green), 0);
    assert_eq!(modes(&s, 0).green, Mode::Off);
}

#[test]
fn weight_this_epoch_is_steady_amber() {
    let s = ApplianceState {
        holds_weight_this_epoch: true,
        ..healthy()
    };
    let t = trace(&s, 0, TEN_S);
    assert_eq!(t.lit_ms(Led::Amber), TEN_S as usize);
    assert_eq!(t.lit_ms(Led::Green), 500, "green is independent of amber");
}

#[test]
fn a_forged_block_flashes_amber_at_4_hz_for_one_second_over_steady() {
    let forged = 3_000;
    for holds in [true, false] {
        let s = ApplianceState {
            holds_weight_this_epoch: holds,
            last_forged_ms: Some(forged),
            ..healthy()
        };
        let t = trace(&s, 0, TEN_S);
        let amber = t.of(Led::Amber);
        for (ms, &lit) in amber.iter().enumerate() {
            let ms = ms as u64;
            let expected = if (forged..forged + FORGED_FLASH_MS).contains(&ms) {
                (ms - forged) % 250 < 125
            } else {
                holds
            };
            assert_eq!(lit, expected, "holds={holds} at {ms} ms");
        }
        // Four flashes of 125 ms in the second after the block.
        let flashes: Vec<usize> = (0..4).map(|k| 3_000 + 250 * k).collect();
        let window = t.rising(Led::Amber);
        if holds {
            // Lit at 3000 already (steady), so the first flash has no rising edge,
            // and steady light returns at 4000.
            assert_eq!(window, vec![3_250, 3_500, 3_750, 4_000]);
        } else {
            assert_eq!(window, flashes);
            assert_eq!(t.lit_runs(Led::Amber), vec![125; 4]);
        }
        assert_eq!(FAST_BLINK_PERIOD_MS, 250, "4 Hz");
    }
}

#[test]
fn a_block_forged_long_ago_no_longer_flashes() {
    let s = ApplianceState {
        last_forged_ms: Some(0),
        ..healthy()
    };
    let t = trace(&s, FORGED_FLASH_MS, FORGED_FLASH_MS + TEN_S);
    assert_eq!(t.lit_ms(Led::Amber), 0);
}

#[test]
fn no_main_node_is_a_slow_red_blink() {
    let s = ApplianceState {
        main_nodes_connected: 0,
        ..healthy()
    };
    let t = trace(&s, 0, TEN_S);
    assert_eq!(t.lit_ms(Led::Red), 5_000, "50 % duty");
    assert_eq!(
        t.rising(Led::Red).len(),
        9,
        "1 Hz (the first blink starts at t=0)"
    );
    assert_eq!(t.lit_runs(Led::Red), vec![500; 9]);
    assert_eq!(SLOW_BLINK_PERIOD_MS, 1_000);
}

#[test]
fn an_untrusted_clock_is_a_fast_red_blink() {
    let s = ApplianceState {
        clock_trusted: false,
        ..healthy()
    };
    let t = trace(&s, 0, TEN_S);
    assert_eq!(t.lit_ms(Led::Red), 5_000, "50 % duty");
    assert_eq!(
        t.rising(Led::Red).len(),
        39,
        "4 Hz (the first blink starts at t=0)"
    );
    assert_eq!(t.lit_runs(Led::Red), vec![125; 39]);
}

#[test]
fn a_storage_error_is_steady_red() {
    let s = ApplianceState {
        storage_error: true,
        ..healthy()
    };
    let t = trace(&s, 0, TEN_S);
    assert_eq!(t.lit_ms(Led::Red), TEN_S as usize);
}

#[test]
fn under_voltage_is_a_red_double_flash() {
    let s = ApplianceState {
        under_voltage: true,
        ..healthy()
    };
    let t = trace(&s, 0, TEN_S);
    // Two 100 ms flashes 100 ms apart, every 2 s: 10 % duty.
    assert_eq!(t.lit_ms(Led::Red), 1_000);
    assert_eq!(
        t.lit_runs(Led::Red),
        vec![100; 9],
        "the first flash starts at t=0"
    );
    assert_eq!(
        t.rising(Led::Red),
        vec![200, 2_000, 2_200, 4_000, 4_200, 6_000, 6_200, 8_000, 8_200]
    );
    assert_eq!(modes(&s, 0).red, Mode::DoubleFlash);
    assert_eq!((DOUBLE_FLASH_PERIOD_MS, DOUBLE_FLASH_ON_MS), (2_000, 100));
    // Not a fault that stops forging: green and amber carry on.
    assert_eq!(t.lit_ms(Led::Green), 500);
    assert_eq!(
        describe(&s, 0),
        "green:heartbeat amber:off red:double(under-voltage)"
    );
    // The pattern wakes the appliance only at the flashes' edges.
    assert_eq!(next_change_ms(&s, 0), Some(100));
    assert_eq!(next_change_ms(&s, 100), Some(200));
    assert_eq!(next_change_ms(&s, 250), Some(300));
    assert_eq!(next_change_ms(&s, 300), Some(2_000));
    assert_eq!(next_change_ms(&s, 1_999), Some(2_000));
}

#[test]
fn red_shows_the_most_serious_fault() {
    // Every combination of the four faults:
    // storage > clock > main node > under-voltage.
    for storage_error in [false, true] {
        for clock_trusted in [false, true] {
            for main_nodes_connected in [0, 2] {
                for under_voltage in [false, true] {
                    let s = ApplianceState {
                        storage_error,
                        clock_trusted,
                        main_nodes_connected,
                        under_voltage,
                        update: Default::default(),
                        ..healthy()
                    };
                    let expected = if storage_error {
                        Mode::On
                    } else if !clock_trusted {
                        Mode::FastBlink
                    } else if main_nodes_connected == 0 {
                        Mode::SlowBlink
                    } else if under_voltage {
                        Mode::DoubleFlash
                    } else {
                        Mode::Off
                    };
                    assert_eq!(modes(&s, 0).red, expected, "{s:?}");
                    let t = trace(&s, 0, 2_000);
                    let lit = t.lit_ms(Led::Red);
                    let edges = t.rising(Led::Red).len();
                    match expected {
                        Mode::On => assert_eq!(lit, 2_000),
                        Mode::FastBlink => assert_eq!((lit, edges), (1_000, 7)),
                        Mode::SlowBlink => assert_eq!((lit, edges), (1_000, 1)),
                        Mode::DoubleFlash => assert_eq!((lit, edges), (200, 1)),
                        Mode::Off => assert_eq!(lit, 0),
                        other => panic!("red is never {other:?}"),
                    }
                }
            }
        }
    }
}

#[test]
fn faults_do_not_touch_green_or_amber() {
    let s = ApplianceState {
        storage_error: true,
        clock_trusted: false,
        main_nodes_connected: 0,
        holds_weight_this_epoch: true,
        ..healthy()
    };
    let t = trace(&s, 0, TEN_S);
    assert_eq!(t.lit_ms(Led::Green), 500);
    assert_eq!(t.lit_ms(Led::Amber), TEN_S as usize);
}

#[test]
fn active_low_pins_are_driven_inverted() {
    let s = ApplianceState {
        holds_weight_this_epoch: true,
        clock_trusted: false,
        ..healthy()
    };
    let low = ActiveLow {
        green: true,
        amber: false,
        red: true,
    };
    let (pins, _) = run(&s, 0, 4_000, low);
    let (lit, _) = run(&s, 0, 4_000, ActiveLow::default());
    assert_eq!(pins.of(Led::Amber), lit.of(Led::Amber));
    for led in [Led::Green, Led::Red] {
        let inverted: Vec<bool> = lit.of(led).iter().map(|l| !l).collect();
        assert_eq!(pins.of(led), inverted.as_slice(), "{led}");
    }
    // And every level equals the pattern, through the inversion.
    for (ms, &level) in pins.of(Led::Green).iter().enumerate() {
        assert_eq!(level, !pattern(&s, ms as u64).green);
    }
}

#[test]
fn apply_writes_only_the_pins_that_change() {
    let (_, rig) = run(&healthy(), 0, TEN_S, ActiveLow::default());
    let [g, a, r] = &rig.pins;
    // The first apply writes all three; after that only the heartbeat's
    // edges: on at 2000, 4000, …; off at 100, 2100, … (9 edges after t=0).
    assert_eq!(g.writes(), 1 + 9);
    assert_eq!(a.writes(), 1);
    assert_eq!(r.writes(), 1);
    assert_eq!(g.levels()[..4], [true, false, true, false]);

    let mut rig = rig_with_shown(Leds {
        green: true,
        amber: false,
        red: true,
    });
    let before: Vec<usize> = rig.pins.iter().map(RecordingPin::writes).collect();
    rig.driver
        .apply(Leds {
            green: true,
            amber: false,
            red: true,
        })
        .unwrap();
    let after: Vec<usize> = rig.pins.iter().map(RecordingPin::writes).collect();
    assert_eq!(before, after, "the same levels again write nothing");
    rig.driver
        .apply(Leds {
            green: true,
            amber: true,
            red: true,
        })
        .unwrap();
    let after: Vec<usize> = rig.pins.iter().map(RecordingPin::writes).collect();
    assert_eq!(after, vec![before[0], before[1] + 1, before[2]]);
    assert_eq!(rig.driver.shown(), [Some(true), Some(true), Some(true)]);
}

fn rig_with_shown(leds: Leds) -> Rig {
    let mut rig = rig(ActiveLow::default());
    assert_eq!(rig.driver.shown(), [None, None, None]);
    rig.driver.apply(leds).unwrap();
    rig
}

/// A pin that fails while `broken` is set.
#[derive(Clone, Default)]
struct FlakyPin {
    broken: Arc<Mutex<bool>>,
    writes: Arc<Mutex<Vec<bool>>>,
}

#[derive(Debug)]
struct Broken;

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("wire cut")
    }
}

impl embedded_hal::digital::Error for Broken {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

impl ErrorType for FlakyPin {
    type Error = Broken;
}

impl FlakyPin {
    fn write(&mut self, level: bool) -> Result<(), Broken> {
        if *self.broken.lock().unwrap() {
            return Err(Broken);
        }
        self.writes.lock().unwrap().push(level);
        Ok(())
    }
}

impl OutputPin for FlakyPin {
    fn set_low(&mut self) -> Result<(), Broken> {
        self.write(false)
    }
    fn set_high(&mut self) -> Result<(), Broken> {
        self.write(true)
    }
}

#[test]
fn a_failing_pin_is_named_does_not_hide_the_others_and_is_retried() {
    let green = RecordingPin::new();
    let amber = FlakyPin::default();
    let red = RecordingPin::new();
    let mut driver = LedDriver::new(
        green.clone(),
        amber.clone(),
        red.clone(),
        ActiveLow::default(),
    );
    *amber.broken.lock().unwrap() = true;
    let all_on = Leds {
        green: true,
        amber: true,
        red: true,
    };
    let e = driver.apply(all_on).unwrap_err();
    assert!(
        matches!(
            e,
            LedError::Write {
                led: Led::Amber,
                ..
            }
        ),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("amber") && text.contains("wire cut"),
        "{text}"
    );
    assert_eq!((green.level(), red.level()), (Some(true), Some(true)));
    assert_eq!(driver.shown(), [Some(true), None, Some(true)]);

    // Repaired: the next apply writes amber again, and only amber.
    *amber.broken.lock().unwrap() = false;
    driver.apply(all_on).unwrap();
    assert_eq!(*amber.writes.lock().unwrap(), vec![true]);
    assert_eq!((green.writes(), red.writes()), (1, 1));
}

#[test]
fn next_change_is_none_when_nothing_blinks() {
    let quiet = [
        ApplianceState {
            synced: false,
            ..healthy()
        },
        ApplianceState {
            synced: false,
            holds_weight_this_epoch: true,
            last_forged_ms: Some(0),
            ..healthy()
        },
        ApplianceState {
            synced: false,
            storage_error: true,
            clock_trusted: false,
            main_nodes_connected: 0,
            ..healthy()
        },
    ];
    for s in quiet {
        // After the flash of the block forged at 0.
        for now in [FORGED_FLASH_MS, 5_000, 1_000_000_007] {
            assert_eq!(next_change_ms(&s, now), None, "{s:?} at {now}");
        }
    }
}

#[test]
fn next_change_is_the_next_edge() {
    let s = healthy();
    assert_eq!(next_change_ms(&s, 0), Some(100));
    assert_eq!(next_change_ms(&s, 99), Some(100));
    assert_eq!(next_change_ms(&s, 100), Some(2_000));
    assert_eq!(next_change_ms(&s, 1_999), Some(2_000));

    // Forged at 10_000 while not synced and without weight: nothing until
    // the flash starts, four flashes, then nothing at all.
    let s = ApplianceState {
        synced: false,
        last_forged_ms: Some(10_000),
        ..healthy()
    };
    assert_eq!(next_change_ms(&s, 0), Some(10_000));
    assert_eq!(next_change_ms(&s, 10_000), Some(10_125));
    assert_eq!(next_change_ms(&s, 10_125), Some(10_250));
    assert_eq!(next_change_ms(&s, 10_750), Some(10_875));
    assert_eq!(
        next_change_ms(&s, 10_875),
        None,
        "off to the end, and off after"
    );

    // With weight, the flash ends by going back to steady amber.
    let s = ApplianceState {
        holds_weight_this_epoch: true,
        ..s
    };
    assert_eq!(
        next_change_ms(&s, 0),
        Some(10_125),
        "on, then on: no change at 10_000"
    );
    assert_eq!(next_change_ms(&s, 10_875), Some(11_000));
    assert_eq!(next_change_ms(&s, 11_000), None);

    // Near the end of time there is no next edge rather than an overflow.
    assert_eq!(next_change_ms(&healthy(), u64::MAX - 1), None);
}

fn state_strategy() -> impl Strategy<Value = (ApplianceState, u64)> {
    (
        any::<[bool; 6]>(),
        0usize..3,
        prop::option::of(0u64..6_000),
        0u64..1_000_000,
    )
        .prop_map(
            |([synced, holds, clock, storage, forged, under_voltage], main, since, base)| {
                let now = base + 3_000;
                let state = ApplianceState {
                    synced,
                    holds_weight_this_epoch: holds,
                    // Around now: before, during and after the flash.
                    last_forged_ms: if forged {
                        since.map(|d| now - 3_000 + d)
                    } else {
                        None
                    },
                    main_nodes_connected: main,
                    clock_trusted: clock,
                    storage_error: storage,
                    under_voltage,
                    // Each of the self-update's LED states, in turn.
                    update: [
                        goodwill::peer::led::UpdateLed::Settled,
                        goodwill::peer::led::UpdateLed::Trial,
                        goodwill::peer::led::UpdateLed::RolledBack,
                    ][(base % 3) as usize],
                };
                (state, now)
            },
        )
}

proptest! {
    #![proptest_config(common::proptest_cases(512))]

    #[test]
    fn next_change_is_exactly_the_next_transition((state, now) in state_strategy()) {
        let at_now = pattern(&state, now);
        match next_change_ms(&state, now) {
            Some(next) => {
                prop_assert!(next > now);
                prop_assert!(next - now <= HEARTBEAT_PERIOD_MS + FORGED_FLASH_MS + 6_000);
                for t in now + 1..next {
                    prop_assert_eq!(pattern(&state, t), at_now, "changed at {} before {}", t, next);
                }
                prop_assert_ne!(pattern(&state, next), at_now);
            }
            None => {
                // Nothing blinks: constant past any flash still to come.
                let horizon = state.last_forged_ms.map_or(now, |t| t.max(now)) + 5_000;
                for t in now + 1..horizon {
                    prop_assert_eq!(pattern(&state, t), at_now, "changed at {}", t);
                }
            }
        }
    }

    #[test]
    fn descriptions_are_short((state, now) in state_strategy()) {
        let text = describe(&state, now);
        prop_assert!(text.len() <= 64, "{}", text);
        prop_assert!(text.starts_with("green:"));
    }
}

#[test]
fn descriptions_say_what_each_led_does() {
    assert_eq!(describe(&healthy(), 0), "green:heartbeat amber:off red:off");
    let s = ApplianceState {
        synced: false,
        holds_weight_this_epoch: true,
        main_nodes_connected: 0,
        ..healthy()
    };
    assert_eq!(describe(&s, 0), "green:off amber:on red:slow(no main node)");
    let s = ApplianceState {
        last_forged_ms: Some(0),
        storage_error: true,
        ..healthy()
    };
    assert_eq!(
        describe(&s, 500),
        "green:heartbeat amber:flash red:on(storage error)"
    );
    // Every combination fits in 64 bytes.
    let mut seen = BTreeSet::new();
    for bits in 0u32..128 {
        let b = |i: u32| bits & (1 << i) != 0;
        let s = ApplianceState {
            synced: b(0),
            holds_weight_this_epoch: b(1),
            last_forged_ms: b(2).then_some(0),
            main_nodes_connected: usize::from(b(3)),
            clock_trusted: b(4),
            storage_error: b(5),
            under_voltage: b(6),
            update: Default::default(),
        };
        let text = describe(&s, 10);
        assert!(text.len() <= 64, "{text}");
        seen.insert(text);
    }
    assert!(seen.len() >= 24, "the descriptions tell the states apart");
}

fn fake_led(base: &std::path::Path, name: &str, max: &str, trigger: &str) {
    let dir = base.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("brightness"), "0").unwrap();
    std::fs::write(dir.join("max_brightness"), max).unwrap();
    std::fs::write(dir.join("trigger"), trigger).unwrap();
}

fn read(path: std::path::PathBuf) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn a_sysfs_led_writes_brightness_and_gives_its_trigger_back() {
    let tmp = tempfile::tempdir().unwrap();
    fake_led(
        tmp.path(),
        "ACT",
        "1\n",
        "none rc-feedback [mmc0] timer heartbeat\n",
    );
    let act = tmp.path().join("ACT");
    {
        let mut led = SysfsLed::open(tmp.path(), "ACT").unwrap();
        assert_eq!(
            read(act.join("trigger")),
            "none",
            "the kernel stops driving it"
        );
        led.set_high().unwrap();
        assert_eq!(read(act.join("brightness")), "1");
        led.set_low().unwrap();
        assert_eq!(read(act.join("brightness")), "0");
        led.set_high().unwrap();
    }
    assert_eq!(
        read(act.join("trigger")),
        "mmc0",
        "dropping it restores the trigger"
    );
    assert_eq!(read(act.join("brightness")), "1");
}

#[test]
fn a_sysfs_led_lights_at_its_max_brightness() {
    let tmp = tempfile::tempdir().unwrap();
    fake_led(tmp.path(), "pwm-led", "255\n", "[none] timer\n");
    let mut led = SysfsLed::open(tmp.path(), "pwm-led").unwrap();
    led.set_high().unwrap();
    assert_eq!(read(tmp.path().join("pwm-led/brightness")), "255");
    drop(led);
    assert_eq!(
        read(tmp.path().join("pwm-led/trigger")),
        "[none] timer\n",
        "a trigger of none is left alone"
    );
}

#[test]
fn a_missing_sysfs_led_is_an_error_naming_its_path() {
    let tmp = tempfile::tempdir().unwrap();
    let e = SysfsLed::open(tmp.path(), "ACT").unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains(&tmp.path().join("ACT").display().to_string()),
        "{text}"
    );
    let e = SysfsLed::find(tmp.path(), &["ACT", "led0"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("ACT") && e.contains("led0"), "{e}");
    let e = SysfsLed::open(tmp.path(), "../etc")
        .unwrap_err()
        .to_string();
    assert!(e.contains("not an LED name"), "{e}");
}

#[test]
fn find_takes_the_first_name_that_exists() {
    let tmp = tempfile::tempdir().unwrap();
    fake_led(tmp.path(), "led0", "1", "[mmc0]");
    let led = SysfsLed::find(tmp.path(), &["ACT", "led0"]).unwrap();
    assert_eq!(led.path(), tmp.path().join("led0"));
}

#[test]
fn any_pin_drives_sysfs_leds_through_the_driver() {
    let tmp = tempfile::tempdir().unwrap();
    fake_led(tmp.path(), "ACT", "1", "[mmc0]");
    fake_led(tmp.path(), "PWR", "1", "[default-on]");
    let green: AnyPin = SysfsLed::open(tmp.path(), "ACT").unwrap().into();
    let red: AnyPin = SysfsLed::open(tmp.path(), "PWR").unwrap().into();
    let mut driver = LedDriver::new(green, AnyPin::Absent, red, ActiveLow::default());
    let s = ApplianceState {
        main_nodes_connected: 0,
        ..healthy()
    };
    driver.apply(pattern(&s, 50)).unwrap();
    assert_eq!(read(tmp.path().join("ACT/brightness")), "1");
    assert_eq!(read(tmp.path().join("PWR/brightness")), "1");
    driver.apply(pattern(&s, 600)).unwrap();
    assert_eq!(read(tmp.path().join("ACT/brightness")), "0");
    assert_eq!(read(tmp.path().join("PWR/brightness")), "0");
    drop(driver);
    assert_eq!(read(tmp.path().join("PWR/trigger")), "default-on");
}

#[test]
fn a_log_pin_logs_each_change_once() {
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = {
        let lines = lines.clone();
        Arc::new(move |line: &str| lines.lock().unwrap().push(line.to_string()))
    };
    let mut driver = LedDriver::new(
        AnyPin::from(LogPin::new(Led::Green, sink.clone())),
        AnyPin::from(LogPin::new(Led::Amber, sink.clone())),
        AnyPin::from(LogPin::new(Led::Red, sink)),
        ActiveLow::default(),
    );
    for t in 0..2_100 {
        driver.apply(pattern(&healthy(), t)).unwrap();
    }
    assert_eq!(
        *lines.lock().unwrap(),
        vec![
            "led green: on",
            "led amber: off",
            "led red: off",
            "led green: off",
            "led green: on",
        ]
    );
}

#[test]
fn a_missing_gpio_chip_is_an_error_naming_chip_and_line() {
    let e = open_gpio(std::path::Path::new("/nonexistent/gpiochip7"), 17, false).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, LedError::Gpio { line: 17, .. }), "{e:?}");
    assert!(
        text.contains("/nonexistent/gpiochip7") && text.contains("line 17"),
        "{text}"
    );
    assert!(text.contains("no such GPIO chip"), "{text}");
}

#[test]
fn a_file_that_is_not_a_gpio_chip_is_an_error_naming_chip_and_line() {
    let tmp = tempfile::NamedTempFile::new().unwrap();
    let e = open_gpio(tmp.path(), 27, true).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains(&tmp.path().display().to_string()) && text.contains("line 27"),
        "{text}"
    );
}
