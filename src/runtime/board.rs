//! Board profiles: which pins the appliance's LEDs are on, and how much power
//! the board draws (for the energy estimate in `goodwill status`).
//!
//! One TOML file per model in `board/` (`pi5.toml`, `pi4.toml`, `pi3.toml`,
//! `zero2w.toml`, `generic.toml`), plus the built-in `none` board: no LEDs
//! (their changes are logged), generic watts. A profile is chosen by name
//! (`pi4`, looked up in [`Board::default_dirs`]) or by path (anything with a
//! `/` or ending in `.toml`).
//!
//! ```toml
//! name = "pi4"
//! model = "Raspberry Pi 4 Model B"
//! cores = 4
//! leds = "gpio"                # "gpio", "onboard" (ACT = green, PWR = red) or "none"
//! sysfs = "/sys"               # optional: where the power and heat files are
//!
//! [gpio]
//! chip = "/dev/gpiochip0"
//! label = "pinctrl-bcm2711"    # optional: the chip's label wins over its path
//!
//! [gpio.lines]                 # line numbers on the chip: BCM numbers on a Pi
//! green = 17
//! amber = 27
//! red = 22
//!
//! [gpio.active_low]            # true: the LED lights when its pin is low
//! green = false
//! amber = false
//! red = false
//!
//! [onboard]                    # names in /sys/class/leds, first that exists
//! act = ["ACT", "led0"]
//! pwr = ["PWR", "led1"]
//!
//! [power]
//! idle_watts = 1.6
//! load_watts = 5.0
//! ```
//!
//! # Energy model
//!
//! [`Board::energy_joules`] is linear in CPU time:
//!
//! ```text
//! E = idle_watts × wall_seconds + (load_watts − idle_watts) × cpu_seconds / cores
//! ```
//!
//! `load_watts` is the draw with every core busy (stress-ng), so one busy
//! core adds `(load − idle) / cores` watts over idle. It ignores frequency
//! scaling, I/O, radios and USB devices: an estimate to compare forgers and
//! releases, not a meter.
//!
//! # Power and heat
//!
//! What the board itself reports, read by [`Sensors`] under a sysfs root
//! (`/sys`, or a directory with the same relative paths in tests):
//!
//! - the Raspberry Pi firmware's throttling flags, `get_throttled` of the
//!   firmware's device (`devices/platform/soc/soc:firmware/get_throttled` on
//!   a Pi 4 and earlier; found as `devices/platform/<bus>/<bus>:firmware/`
//!   on other buses): a hexadecimal word whose bits 0–3 say under-voltage,
//!   frequency capped, throttled and soft temperature limit *now*, and bits
//!   16–19 the same *since boot* ([`Health`]);
//! - the SoC temperature, `class/thermal/thermal_zone0/temp`, in
//!   millidegrees Celsius.
//!
//! A board without these files (any non-Pi machine, a container) reports
//! them unknown (`None`), never an error.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::runtime::led::{
    find_chip, open_gpio, ActiveLow, AnyPin, BoardLeds, Led, LedDriver, LedError, LogPin, SysfsLed,
    SYS_CLASS_LEDS,
};

/// A board profile is a few hundred bytes; anything this large is not one.
pub const BOARD_FILE_MAX_BYTES: u64 = 16 * 1024;

/// GPIO line numbers must be below this. No Raspberry Pi GPIO chip has more
/// than 58 lines (BCM2711; BCM2835 and RP1 have 54), and the header uses
/// 0–27. A larger number is almost always the old sysfs *global* number
/// (512 + BCM on 6.6 kernels, e.g. 529 for BCM 17) or a typo, and is refused
/// when the profile loads rather than found when the LEDs are opened.
pub const GPIO_LINE_LIMIT: u32 = 64;

/// Where an administrator's profiles go: a name is looked up here first.
pub const ADMIN_DIR: &str = "/etc/goodwill/board";
/// Where the Debian package (and `goodwill provision`) put the shipped profiles.
pub const PACKAGE_DIR: &str = "/usr/share/goodwill/board";

/// The profiles of `board/`, built into the binary as (name, TOML text), so
/// that `goodwill provision` installs the very profile this binary was
/// tested with, wherever it runs.
pub const SHIPPED: [(&str, &str); 5] = [
    ("pi5", include_str!("../../board/pi5.toml")),
    ("pi4", include_str!("../../board/pi4.toml")),
    ("pi3", include_str!("../../board/pi3.toml")),
    ("zero2w", include_str!("../../board/zero2w.toml")),
    ("generic", include_str!("../../board/generic.toml")),
];

/// Where the LEDs are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LedSource {
    /// Three LEDs on GPIO lines of the header (see `board/WIRING.md`).
    Gpio,
    /// The board's own LEDs through the kernel LED class: ACT shows green,
    /// PWR (where there is one) shows red; amber is not shown. No soldering,
    /// but PWR then no longer means "powered": it is off unless there is a
    /// fault.
    Onboard,
    /// No LEDs: their changes are logged.
    None,
}

/// The GPIO side of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gpio {
    /// The chip's device, e.g. `/dev/gpiochip0`.
    pub chip: PathBuf,
    /// The chip's label (`pinctrl-rp1`…): if set, the chip with this label is
    /// used even when it is not at `chip`.
    pub label: Option<String>,
    /// Line numbers (BCM numbers on a Raspberry Pi): green, amber, red.
    pub lines: [u32; 3],
    /// Which LEDs are wired active-low.
    pub active_low: ActiveLow,
}

/// A validated board profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Board {
    /// Short name (`pi4`; the shipped profiles are named after their files).
    pub name: String,
    /// What the board is, for people.
    pub model: String,
    /// CPU cores.
    pub cores: u32,
    /// Which LEDs [`Board::open_leds`] opens.
    pub leds: LedSource,
    /// GPIO chip, lines and polarity.
    pub gpio: Gpio,
    /// Onboard ACT LED: names to try under `/sys/class/leds`.
    pub onboard_act: Vec<String>,
    /// Onboard PWR LED: names to try (empty: the board has none).
    pub onboard_pwr: Vec<String>,
    /// Typical draw when idle, in watts.
    pub idle_watts: f64,
    /// Typical draw with every core busy, in watts.
    pub load_watts: f64,
    /// Where the kernel's sysfs is, for the power and heat files ([`SYSFS`]
    /// unless the profile says `sysfs = "…"`: tests point it at a fake tree).
    pub sysfs: PathBuf,
    origin: Origin,
}

/// Where each setting came from, for errors that name the file and line.
#[derive(Debug, Clone, PartialEq, Default)]
struct Origin {
    file: String,
    chip: Option<usize>,
    lines: [Option<usize>; 3],
    act: Option<usize>,
    pwr: Option<usize>,
}

impl Origin {
    fn at(&self, line: Option<usize>) -> String {
        location(&self.file, &line)
    }
}

fn location(file: &str, line: &Option<usize>) -> String {
    match line {
        Some(line) => format!("{file}:{line}"),
        None => file.to_string(),
    }
}

/// Why a board profile could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BoardError {
    /// No profile by that name.
    #[error("no board profile named {name:?} (looked in {searched}; available: {available})")]
    NotFound {
        /// The name asked for.
        name: String,
        /// The directories searched.
        searched: String,
        /// The profiles found there.
        available: String,
    },
    /// Not a usable name.
    #[error(
        "{name:?} is not a board name (letters, digits, '-' and '_'), nor a path to a .toml file"
    )]
    BadName {
        /// The name asked for.
        name: String,
    },
    /// Reading failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Too large to be a profile.
    #[error("{path} is {len} bytes; a board profile is at most {max} bytes")]
    TooLarge {
        /// The file.
        path: String,
        /// Its size.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// Not valid TOML, or not a profile's shape (unknown key, wrong type…).
    #[error("{at}: {message}", at = location(.path, .line))]
    Parse {
        /// The file.
        path: String,
        /// The line (1-based), where known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// Well-formed, but a value is not acceptable.
    #[error("{at}: {why}", at = location(.path, .line))]
    Invalid {
        /// The file.
        path: String,
        /// The line (1-based), where known.
        line: Option<usize>,
        /// What is wrong.
        why: String,
    },
}

impl BoardError {
    /// The line of the file the error is about, where known.
    pub fn line(&self) -> Option<usize> {
        match self {
            BoardError::Parse { line, .. } | BoardError::Invalid { line, .. } => *line,
            _ => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BoardFile {
    name: Spanned<String>,
    model: Spanned<String>,
    cores: Spanned<u32>,
    leds: LedSource,
    sysfs: Option<Spanned<String>>,
    gpio: GpioFile,
    onboard: OnboardFile,
    power: PowerFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GpioFile {
    chip: Spanned<String>,
    label: Option<Spanned<String>>,
    lines: LinesFile,
    active_low: ActiveLow,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinesFile {
    green: Spanned<u32>,
    amber: Spanned<u32>,
    red: Spanned<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OnboardFile {
    act: Spanned<Vec<String>>,
    pwr: Spanned<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PowerFile {
    idle_watts: Spanned<f64>,
    load_watts: Spanned<f64>,
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Board {
    /// The directories a bare name is looked up in, first match wins: the
    /// administrator's `/etc/goodwill/board`, the package's
    /// `/usr/share/goodwill/board`, then this source tree's `board/` (for
    /// development; skipped when it does not exist).
    pub fn default_dirs() -> Vec<PathBuf> {
        let mut dirs = vec![PathBuf::from(ADMIN_DIR), PathBuf::from(PACKAGE_DIR)];
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("board");
        if repo.is_dir() {
            dirs.push(repo);
        }
        dirs
    }

    /// Loads a profile: `none` is the built-in board without LEDs; a name
    /// (`pi4`) is looked up as `<dir>/pi4.toml` in `search_dirs`, in order;
    /// anything with a `/` or ending in `.toml` is a path.
    pub fn load(name_or_path: &str, search_dirs: &[PathBuf]) -> Result<Board, BoardError> {
        if name_or_path == "none" {
            return Ok(Board::none());
        }
        if name_or_path.contains('/') || name_or_path.ends_with(".toml") {
            return Board::load_file(Path::new(name_or_path));
        }
        if !valid_name(name_or_path) {
            return Err(BoardError::BadName {
                name: name_or_path.to_string(),
            });
        }
        for dir in search_dirs {
            let path = dir.join(format!("{name_or_path}.toml"));
            if path.is_file() {
                return Board::load_file(&path);
            }
        }
        let mut available = Board::available(search_dirs);
        available.insert(0, "none".to_string());
        Err(BoardError::NotFound {
            name: name_or_path.to_string(),
            searched: search_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            available: available.join(", "),
        })
    }

    /// The profile names found in `search_dirs` (sorted, without duplicates).
    pub fn available(search_dirs: &[PathBuf]) -> Vec<String> {
        let mut names: Vec<String> = search_dirs
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stem = name.strip_suffix(".toml")?;
                valid_name(stem).then(|| stem.to_string())
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Reads and validates one profile file.
    pub fn load_file(path: &Path) -> Result<Board, BoardError> {
        let shown = path.display().to_string();
        let io = |source| BoardError::Io {
            path: shown.clone(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > BOARD_FILE_MAX_BYTES {
            return Err(BoardError::TooLarge {
                path: shown,
                len,
                max: BOARD_FILE_MAX_BYTES,
            });
        }
        let text = crate::runtime::os::read_text_bounded(path, BOARD_FILE_MAX_BYTES).map_err(io)?;
        Board::from_toml(&text, &shown)
    }

    /// Parses and validates a profile; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<Board, BoardError> {
        let raw: BoardFile = toml::from_str(text).map_err(|e| BoardError::Parse {
            path: file.to_string(),
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim().to_string(),
        })?;
        let line = |span: std::ops::Range<usize>| Some(line_of(text, span.start));
        let invalid = |at: Option<usize>, why: String| BoardError::Invalid {
            path: file.to_string(),
            line: at,
            why,
        };

        if !valid_name(raw.name.get_ref()) {
            return Err(invalid(
                line(raw.name.span()),
                format!(
                    "name {:?}: use letters, digits, '-' and '_'",
                    raw.name.get_ref()
                ),
            ));
        }
        if raw.model.get_ref().trim().is_empty() {
            return Err(invalid(line(raw.model.span()), "model is empty".into()));
        }
        if *raw.cores.get_ref() == 0 {
            return Err(invalid(
                line(raw.cores.span()),
                "cores must be at least 1".into(),
            ));
        }

        let chip = raw.gpio.chip.get_ref();
        if !chip.starts_with('/') {
            return Err(invalid(
                line(raw.gpio.chip.span()),
                format!("gpio.chip {chip:?} is not an absolute path (e.g. \"/dev/gpiochip0\")"),
            ));
        }
        if let Some(label) = &raw.gpio.label {
            if label.get_ref().trim().is_empty() {
                return Err(invalid(line(label.span()), "gpio.label is empty".into()));
            }
        }
        let spans = [
            &raw.gpio.lines.green,
            &raw.gpio.lines.amber,
            &raw.gpio.lines.red,
        ];
        for (i, (led, n)) in Led::ALL.iter().zip(spans).enumerate() {
            let value = *n.get_ref();
            if value >= GPIO_LINE_LIMIT {
                return Err(invalid(
                    line(n.span()),
                    format!(
                        "{led} LED on line {value}: lines are below {GPIO_LINE_LIMIT} \
                         (use the BCM number, e.g. 17, not a header pin or sysfs number)"
                    ),
                ));
            }
            for (other, m) in Led::ALL.iter().zip(spans).take(i) {
                if *m.get_ref() == value {
                    return Err(invalid(
                        line(n.span()),
                        format!("{led} LED on line {value}, which the {other} LED uses already"),
                    ));
                }
            }
        }

        for names in [&raw.onboard.act, &raw.onboard.pwr] {
            if let Some(bad) = names
                .get_ref()
                .iter()
                .find(|n| n.is_empty() || n.contains('/') || *n == "." || *n == "..")
            {
                return Err(invalid(
                    line(names.span()),
                    format!("{bad:?} is not an LED name in /sys/class/leds"),
                ));
            }
        }
        if raw.leds == LedSource::Onboard && raw.onboard.act.get_ref().is_empty() {
            return Err(invalid(
                line(raw.onboard.act.span()),
                "leds = \"onboard\" needs the ACT LED's name in onboard.act".into(),
            ));
        }

        if let Some(sysfs) = &raw.sysfs {
            if !sysfs.get_ref().starts_with('/') {
                return Err(invalid(
                    line(sysfs.span()),
                    format!(
                        "sysfs {:?} is not an absolute path (e.g. \"/sys\")",
                        sysfs.get_ref()
                    ),
                ));
            }
        }
        let idle = *raw.power.idle_watts.get_ref();
        let load = *raw.power.load_watts.get_ref();
        for (key, w) in [
            ("idle_watts", &raw.power.idle_watts),
            ("load_watts", &raw.power.load_watts),
        ] {
            let v = *w.get_ref();
            if !(v.is_finite() && v > 0.0) {
                return Err(invalid(
                    line(w.span()),
                    format!("power.{key} must be a positive number of watts, not {v}"),
                ));
            }
        }
        if idle > load {
            return Err(invalid(
                line(raw.power.idle_watts.span()),
                format!("power.idle_watts ({idle}) is above power.load_watts ({load})"),
            ));
        }

        Ok(Board {
            name: raw.name.into_inner(),
            model: raw.model.into_inner(),
            cores: raw.cores.into_inner(),
            leds: raw.leds,
            origin: Origin {
                file: file.to_string(),
                chip: line(raw.gpio.chip.span()),
                lines: spans.map(|s| line(s.span())),
                act: line(raw.onboard.act.span()),
                pwr: line(raw.onboard.pwr.span()),
            },
            gpio: Gpio {
                chip: PathBuf::from(raw.gpio.chip.into_inner()),
                label: raw.gpio.label.map(Spanned::into_inner),
                lines: spans.map(|s| *s.get_ref()),
                active_low: raw.gpio.active_low,
            },
            onboard_act: raw.onboard.act.into_inner(),
            onboard_pwr: raw.onboard.pwr.into_inner(),
            idle_watts: idle,
            load_watts: load,
            sysfs: raw
                .sysfs
                .map_or_else(|| PathBuf::from(SYSFS), |s| PathBuf::from(s.into_inner())),
        })
    }

    /// The built-in board without LEDs (`--board none`): LED changes are
    /// logged; watts and cores are `board/generic.toml`'s (a test keeps them
    /// equal).
    pub fn none() -> Board {
        Board {
            name: "none".into(),
            model: "no LEDs (their changes are logged)".into(),
            cores: 4,
            leds: LedSource::None,
            gpio: Gpio {
                chip: PathBuf::from("/dev/gpiochip0"),
                label: None,
                lines: [17, 27, 22],
                active_low: ActiveLow::default(),
            },
            onboard_act: Vec::new(),
            onboard_pwr: Vec::new(),
            idle_watts: 2.8,
            load_watts: 9.7,
            sysfs: PathBuf::from(SYSFS),
            origin: Origin {
                file: "<built-in board none>".into(),
                ..Origin::default()
            },
        }
    }

    /// The same board, reading its power and heat files under `root`
    /// instead of [`Board::sysfs`] (tests: a fake sysfs tree).
    pub fn with_sysfs(self, root: impl Into<PathBuf>) -> Board {
        Board {
            sysfs: root.into(),
            ..self
        }
    }

    /// Where the profile came from (its path, or `<built-in board none>`).
    pub fn source(&self) -> &str {
        &self.origin.file
    }

    /// Estimated energy in joules for `wall_seconds` of uptime during which
    /// the process used `cpu_seconds` of CPU time (see the module docs for
    /// the model). Negative or non-finite inputs count as zero.
    pub fn energy_joules(&self, cpu_seconds: f64, wall_seconds: f64) -> f64 {
        let clean = |x: f64| if x.is_finite() && x > 0.0 { x } else { 0.0 };
        self.idle_watts * clean(wall_seconds)
            + (self.load_watts - self.idle_watts) * clean(cpu_seconds) / f64::from(self.cores)
    }

    /// Opens the LEDs this profile names. A missing chip, a wrong or busy
    /// line, or a missing onboard LED is an error naming the profile's file
    /// and line, so that a wrong profile fails at start-up.
    pub fn open_leds(&self) -> Result<BoardLeds, LedError> {
        self.open_leds_in(Path::new(SYS_CLASS_LEDS))
    }

    /// [`Board::open_leds`] with the LED-class directory given (tests).
    pub fn open_leds_in(&self, sys_class_leds: &Path) -> Result<BoardLeds, LedError> {
        let in_profile = |at: Option<usize>, what: String| {
            let origin = self.origin.at(at);
            move |e: LedError| LedError::Profile {
                origin,
                what,
                source: Box::new(e),
            }
        };
        let led_name = |led: Led| format!("{led} LED");
        match self.leds {
            LedSource::None => Ok(LedDriver::new(
                LogPin::stderr(Led::Green).into(),
                LogPin::stderr(Led::Amber).into(),
                LogPin::stderr(Led::Red).into(),
                ActiveLow::default(),
            )),
            LedSource::Onboard => {
                let green = SysfsLed::find(sys_class_leds, &self.onboard_act)
                    .map_err(in_profile(self.origin.act, led_name(Led::Green)))?;
                let red = if self.onboard_pwr.is_empty() {
                    AnyPin::Absent
                } else {
                    SysfsLed::find(sys_class_leds, &self.onboard_pwr)
                        .map_err(in_profile(self.origin.pwr, led_name(Led::Red)))?
                        .into()
                };
                // The LED class applies the LEDs' polarity itself.
                Ok(LedDriver::new(
                    green.into(),
                    AnyPin::Absent,
                    red,
                    ActiveLow::default(),
                ))
            }
            LedSource::Gpio => {
                let chip = match &self.gpio.label {
                    Some(label) => find_chip(&self.gpio.chip, label)
                        .map_err(in_profile(self.origin.chip, "GPIO chip".into()))?,
                    None => self.gpio.chip.clone(),
                };
                let active_low = self.gpio.active_low;
                let low = [active_low.green, active_low.amber, active_low.red];
                let open = |i: usize| {
                    let led = Led::ALL[i];
                    open_gpio(&chip, self.gpio.lines[i], low[i])
                        .map(AnyPin::from)
                        .map_err(in_profile(self.origin.lines[i], led_name(led)))
                };
                Ok(LedDriver::new(open(0)?, open(1)?, open(2)?, active_low))
            }
        }
    }
}

/// Where the kernel's sysfs is mounted on a real system.
pub const SYSFS: &str = "/sys";
/// The SoC temperature, in millidegrees Celsius, under the sysfs root.
pub const THERMAL_ZONE0: &str = "class/thermal/thermal_zone0/temp";
/// The firmware's throttling flags on a Raspberry Pi 4 and earlier, under
/// the sysfs root (tried first; see [`Sensors::find`]).
pub const GET_THROTTLED: &str = "devices/platform/soc/soc:firmware/get_throttled";
/// A sysfs value is a short line: anything longer is not one.
const SENSOR_MAX_BYTES: u64 = 64;

/// Bits of the firmware's throttling word.
pub mod throttled {
    /// Under-voltage now (the supply is below about 4.63 V).
    pub const UNDER_VOLTAGE: u32 = 1 << 0;
    /// The ARM frequency is capped now.
    pub const FREQ_CAPPED: u32 = 1 << 1;
    /// Throttled now.
    pub const THROTTLED: u32 = 1 << 2;
    /// The soft temperature limit is active now.
    pub const SOFT_TEMP_LIMIT: u32 = 1 << 3;
    /// The same four conditions *since boot* are these bits shifted by 16.
    pub const SINCE_BOOT_SHIFT: u32 = 16;
}

/// What the board reports about its power and heat; `None`: unknown (the
/// board has no such file, or it could not be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Health {
    /// The firmware's throttling word (see [`throttled`]).
    pub throttled: Option<u32>,
    /// The SoC temperature, millidegrees Celsius.
    pub temp_mc: Option<i32>,
}

impl Health {
    fn bit(&self, bit: u32) -> Option<bool> {
        self.throttled.map(|w| w & bit != 0)
    }

    /// Under-voltage now.
    pub fn under_voltage_now(&self) -> Option<bool> {
        self.bit(throttled::UNDER_VOLTAGE)
    }

    /// Under-voltage at some time since boot.
    pub fn under_voltage_since_boot(&self) -> Option<bool> {
        self.bit(throttled::UNDER_VOLTAGE << throttled::SINCE_BOOT_SHIFT)
    }

    /// What the LEDs show: under-voltage now or since boot. A brown-out
    /// lasts milliseconds, so the "since boot" bit is what catches a weak
    /// supply; it clears only with a reboot, after the supply is fixed.
    pub fn under_voltage(&self) -> bool {
        self.under_voltage_now() == Some(true) || self.under_voltage_since_boot() == Some(true)
    }

    /// The conditions that hold now and since boot, in words:
    /// `under-voltage now, throttled since boot`; `ok` when the word is
    /// all clear; `unknown` without one.
    pub fn flags(&self) -> String {
        let Some(w) = self.throttled else {
            return "unknown".into();
        };
        let names = [
            (throttled::UNDER_VOLTAGE, "under-voltage"),
            (throttled::FREQ_CAPPED, "frequency capped"),
            (throttled::THROTTLED, "throttled"),
            (throttled::SOFT_TEMP_LIMIT, "soft temperature limit"),
        ];
        let mut out = Vec::new();
        for (bit, name) in names {
            let now = w & bit != 0;
            let boot = w & (bit << throttled::SINCE_BOOT_SHIFT) != 0;
            match (now, boot) {
                (true, _) => out.push(format!("{name} now")),
                (false, true) => out.push(format!("{name} since boot")),
                (false, false) => {}
            }
        }
        if out.is_empty() {
            "ok".into()
        } else {
            out.join(", ")
        }
    }

    /// The temperature in degrees, for people: `48.3 °C` or `unknown`.
    pub fn temperature(&self) -> String {
        match self.temp_mc {
            Some(mc) => format!("{:.1} °C", f64::from(mc) / 1000.0),
            None => "unknown".into(),
        }
    }

    /// One line for the log and `goodwill status`:
    /// `power: under-voltage since boot; SoC 48.3 °C`.
    pub fn describe(&self) -> String {
        format!("power: {}; SoC {}", self.flags(), self.temperature())
    }
}

/// Parses a `get_throttled` file: a hexadecimal word (`50005`; a leading
/// `0x` is accepted), one line.
pub fn parse_throttled(text: &str) -> Option<u32> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if t.is_empty() || t.len() > 8 {
        return None;
    }
    u32::from_str_radix(t, 16).ok()
}

/// Parses a thermal zone's `temp` file: millidegrees Celsius, decimal.
pub fn parse_temp(text: &str) -> Option<i32> {
    text.trim().parse().ok()
}

/// Reads a short sysfs file (at most [`SENSOR_MAX_BYTES`]); None when it is
/// missing, unreadable or not text.
fn read_short(path: &Path) -> Option<String> {
    String::from_utf8(crate::runtime::os::read_head(path, SENSOR_MAX_BYTES).ok()?).ok()
}

/// The board's power and heat files, found once under a sysfs root and read
/// on each call to [`Sensors::read`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sensors {
    /// The firmware's `get_throttled`, if the board has one.
    pub throttled: Option<PathBuf>,
    /// The SoC's temperature file, if the board has one.
    pub temp: Option<PathBuf>,
}

impl Sensors {
    /// Finds the files under `root` (`/sys` on a real system): the
    /// firmware's `get_throttled` at [`GET_THROTTLED`], else under any
    /// `devices/platform/<bus>/<bus>:firmware/` (the firmware node hangs off
    /// another bus on other boards); the temperature at [`THERMAL_ZONE0`].
    /// What is missing stays unknown.
    pub fn find(root: &Path) -> Sensors {
        let mut throttled = Some(root.join(GET_THROTTLED)).filter(|p| p.is_file());
        if throttled.is_none() {
            let platform = root.join("devices/platform");
            let mut found: Vec<PathBuf> = std::fs::read_dir(&platform)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let bus = e.file_name().into_string().ok()?;
                    let p = e
                        .path()
                        .join(format!("{bus}:firmware"))
                        .join("get_throttled");
                    p.is_file().then_some(p)
                })
                .collect();
            found.sort();
            throttled = found.into_iter().next();
        }
        let temp = Some(root.join(THERMAL_ZONE0)).filter(|p| p.is_file());
        Sensors { throttled, temp }
    }

    /// Reads what the board reports now; a file that is missing, unreadable
    /// or does not parse reads as unknown.
    pub fn read(&self) -> Health {
        Health {
            throttled: self
                .throttled
                .as_deref()
                .and_then(read_short)
                .and_then(|t| parse_throttled(&t)),
            temp_mc: self
                .temp
                .as_deref()
                .and_then(read_short)
                .and_then(|t| parse_temp(&t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_words_parse_as_the_firmware_writes_them() {
        assert_eq!(parse_throttled("50005\n"), Some(0x50005));
        assert_eq!(parse_throttled("0\n"), Some(0));
        assert_eq!(parse_throttled("0x80008"), Some(0x80008));
        assert_eq!(parse_throttled(""), None);
        assert_eq!(parse_throttled("zz"), None);
        assert_eq!(parse_throttled("123456789"), None);
        assert_eq!(parse_temp("48312\n"), Some(48_312));
        assert_eq!(parse_temp("-5000"), Some(-5_000));
        assert_eq!(parse_temp("hot"), None);
    }

    #[test]
    fn health_in_words() {
        let h = Health {
            throttled: Some(0x50005),
            temp_mc: Some(48_312),
        };
        assert_eq!(h.under_voltage_now(), Some(true));
        assert!(h.under_voltage());
        // 0x50005: bits 0 and 2 now, 16 and 18 since boot.
        assert_eq!(
            h.describe(),
            "power: under-voltage now, throttled now; SoC 48.3 °C"
        );
        let capped = Health {
            throttled: Some(0x2_0000 | 0x8),
            temp_mc: Some(81_000),
        };
        assert_eq!(
            capped.flags(),
            "frequency capped since boot, soft temperature limit now"
        );
        let since = Health {
            throttled: Some(0x10000),
            temp_mc: None,
        };
        assert_eq!(since.under_voltage_now(), Some(false));
        assert!(since.under_voltage(), "since boot is enough for the LED");
        assert_eq!(
            since.describe(),
            "power: under-voltage since boot; SoC unknown"
        );
        let clear = Health {
            throttled: Some(0),
            temp_mc: Some(40_000),
        };
        assert!(!clear.under_voltage());
        assert_eq!(clear.describe(), "power: ok; SoC 40.0 °C");
        let unknown = Health::default();
        assert!(!unknown.under_voltage());
        assert_eq!(unknown.describe(), "power: unknown; SoC unknown");
    }

    #[test]
    fn lines_are_counted_from_one() {
        let text = "a\nb\nc";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 4), 3);
        assert_eq!(line_of(text, 99), 3);
    }

    #[test]
    fn names_are_plain() {
        assert!(valid_name("pi4"));
        assert!(valid_name("zero2w"));
        assert!(!valid_name("../etc/passwd"));
        assert!(!valid_name("pi 4"));
        assert!(!valid_name(""));
    }
}
