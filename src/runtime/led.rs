//! The status LEDs' pins: the pattern ([`crate::peer::led`], pure) shown on
//! real pins.
//!
//! # Pins
//!
//! [`LedDriver`] takes any three [`OutputPin`]s and writes a pin only when its
//! level changes. [`AnyPin`] chooses at run time between the kinds a board
//! profile can name (see [`crate::runtime::board`]): a GPIO line on the character
//! device ([`GpioPin`], via linux-embedded-hal), a kernel LED-class LED such
//! as the Pi's onboard ACT and PWR ([`SysfsLed`]), a log line per change
//! ([`LogPin`]), a [`RecordingPin`] for tests, or nothing ([`AnyPin::Absent`]).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use embedded_hal::digital::{ErrorKind, ErrorType, OutputPin};
use linux_embedded_hal::gpio_cdev::{self, LineRequestFlags};
use linux_embedded_hal::CdevPin;

// The pattern, where the pins are: one `led` module for whoever drives them.
pub use crate::peer::led::*;

/// Why an LED could not be opened or switched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedError {
    /// Writing a pin failed.
    #[error("could not switch the {led} LED: {detail}")]
    Write {
        /// The LED.
        led: Led,
        /// What the pin reported.
        detail: String,
    },
    /// A kernel LED-class LED (`/sys/class/leds/<name>`) could not be opened.
    #[error("{path}: {why}")]
    Sysfs {
        /// The LED's directory or file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// A GPIO line could not be opened.
    #[error("GPIO chip {chip}, line {line}: {why}")]
    Gpio {
        /// The chip's device path.
        chip: String,
        /// The line (offset on the chip; BCM number on a Raspberry Pi).
        line: u32,
        /// What is wrong.
        why: String,
    },
    /// No GPIO chip with the expected label.
    #[error("no GPIO chip labelled {label:?} ({detail}); is this the board's profile?")]
    NoChip {
        /// The label looked for.
        label: String,
        /// The chips that were seen.
        detail: String,
    },
    /// An error about a setting of a board profile, with the profile's file and line.
    #[error("{origin}: {what}: {source}")]
    Profile {
        /// `path:line` of the setting in the board profile.
        origin: String,
        /// What the setting is for (`green LED`, `GPIO chip`).
        what: String,
        /// The error.
        source: Box<LedError>,
    },
}

/// Which LEDs are wired active-low (lit when the pin is driven low).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActiveLow {
    /// The green LED is active-low.
    pub green: bool,
    /// The amber LED is active-low.
    pub amber: bool,
    /// The red LED is active-low.
    pub red: bool,
}

impl ActiveLow {
    fn get(&self, led: Led) -> bool {
        match led {
            Led::Green => self.green,
            Led::Amber => self.amber,
            Led::Red => self.red,
        }
    }
}

#[derive(Debug)]
struct Channel<P> {
    pin: P,
    led: Led,
    active_low: bool,
    /// The logical level last written successfully; `None` before the first
    /// write and after a failed one, so that the next apply writes again.
    shown: Option<bool>,
}

impl<P> Channel<P>
where
    P: OutputPin,
    P::Error: fmt::Display,
{
    fn new(pin: P, led: Led, active_low: ActiveLow) -> Self {
        Channel {
            pin,
            led,
            active_low: active_low.get(led),
            shown: None,
        }
    }

    fn set(&mut self, lit: bool) -> Result<(), LedError> {
        if self.shown == Some(lit) {
            return Ok(());
        }
        self.shown = None;
        let high = lit != self.active_low;
        let result = if high {
            self.pin.set_high()
        } else {
            self.pin.set_low()
        };
        result.map_err(|e| LedError::Write {
            led: self.led,
            detail: e.to_string(),
        })?;
        self.shown = Some(lit);
        Ok(())
    }
}

/// Three LEDs on three output pins, each possibly active-low.
///
/// [`LedDriver::apply`] writes only the pins whose level changes: with a
/// heartbeat every 2 s and nothing else blinking, that is two writes every
/// 2 s, not three every wake-up.
#[derive(Debug)]
pub struct LedDriver<G, A, R> {
    green: Channel<G>,
    amber: Channel<A>,
    red: Channel<R>,
}

impl<G, A, R> LedDriver<G, A, R>
where
    G: OutputPin,
    A: OutputPin,
    R: OutputPin,
    G::Error: fmt::Display,
    A::Error: fmt::Display,
    R::Error: fmt::Display,
{
    /// A driver over three pins; `active_low` says which LEDs light when
    /// their pin is low. Nothing is written until the first [`LedDriver::apply`].
    pub fn new(green: G, amber: A, red: R, active_low: ActiveLow) -> Self {
        LedDriver {
            green: Channel::new(green, Led::Green, active_low),
            amber: Channel::new(amber, Led::Amber, active_low),
            red: Channel::new(red, Led::Red, active_low),
        }
    }

    /// Shows `leds`, writing only the pins whose level changes. Every LED is
    /// tried even if one fails (a broken green LED must not hide a red
    /// fault); the first failure is returned, naming its LED, and that LED
    /// is written again on the next call.
    pub fn apply(&mut self, leds: Leds) -> Result<(), LedError> {
        let g = self.green.set(leds.green);
        let a = self.amber.set(leds.amber);
        let r = self.red.set(leds.red);
        g.and(a).and(r)
    }

    /// What the LEDs show, as far as the driver knows (`None` for an LED not
    /// yet written, or whose last write failed).
    pub fn shown(&self) -> [Option<bool>; 3] {
        [self.green.shown, self.amber.shown, self.red.shown]
    }

    /// The pins, in the order green, amber, red.
    pub fn pins(&self) -> (&G, &A, &R) {
        (&self.green.pin, &self.amber.pin, &self.red.pin)
    }

    /// Gives the pins back.
    pub fn into_pins(self) -> (G, A, R) {
        (self.green.pin, self.amber.pin, self.red.pin)
    }
}

/// An error from a pin that talks to the kernel.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// Writing an LED-class `brightness` file failed.
    #[error("{path}: {source}")]
    Sysfs {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Setting a GPIO line failed.
    #[error("GPIO chip {chip}, line {line}: {detail}")]
    Gpio {
        /// The chip's device path.
        chip: String,
        /// The line.
        line: u32,
        /// What the kernel said.
        detail: String,
    },
}

impl embedded_hal::digital::Error for PinError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

/// A pin that records every level written to it (for tests, and for
/// `--board none` when nothing should be driven). Clones share the record.
#[derive(Debug, Clone, Default)]
pub struct RecordingPin {
    writes: Arc<Mutex<Vec<bool>>>,
}

impl RecordingPin {
    /// A pin with an empty record.
    pub fn new() -> Self {
        Self::default()
    }

    fn record(&self) -> std::sync::MutexGuard<'_, Vec<bool>> {
        // A panic while holding the lock cannot leave a Vec<bool> half-pushed.
        self.writes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every level written, in order (`true` = high).
    pub fn levels(&self) -> Vec<bool> {
        self.record().clone()
    }

    /// The last level written, if any.
    pub fn level(&self) -> Option<bool> {
        self.record().last().copied()
    }

    /// How many writes.
    pub fn writes(&self) -> usize {
        self.record().len()
    }

    /// Forgets the record.
    pub fn clear(&self) {
        self.record().clear();
    }
}

impl ErrorType for RecordingPin {
    type Error = std::convert::Infallible;
}

impl OutputPin for RecordingPin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.record().push(false);
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.record().push(true);
        Ok(())
    }
}

/// Where a [`LogPin`] sends its lines.
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

/// A pin that logs each change of level (`led green: on`): the LEDs of a
/// board without LEDs, seen in the log instead.
///
/// One line per change: a synced heartbeat alone is two lines every 2 s, so
/// give it a sink that suits where the log goes.
pub struct LogPin {
    led: Led,
    level: Option<bool>,
    sink: LogSink,
}

impl LogPin {
    /// Logs to `sink`.
    pub fn new(led: Led, sink: LogSink) -> Self {
        LogPin {
            led,
            level: None,
            sink,
        }
    }

    /// Logs to standard error (the journal, under systemd).
    pub fn stderr(led: Led) -> Self {
        Self::new(led, Arc::new(|line| log::info!("goodwill: {line}")))
    }

    /// The last level written, if any.
    pub fn level(&self) -> Option<bool> {
        self.level
    }

    fn set(&mut self, high: bool) {
        if self.level != Some(high) {
            self.level = Some(high);
            let word = if high { "on" } else { "off" };
            (self.sink)(&format!("led {}: {word}", self.led));
        }
    }
}

impl fmt::Debug for LogPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogPin")
            .field("led", &self.led)
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

impl ErrorType for LogPin {
    type Error = std::convert::Infallible;
}

impl OutputPin for LogPin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.set(false);
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.set(true);
        Ok(())
    }
}

/// The kernel's LED-class directory on Linux.
pub const SYS_CLASS_LEDS: &str = "/sys/class/leds";

/// An LED of the kernel's LED class, `<base>/<name>/brightness`: on a
/// Raspberry Pi the onboard ACT (green) and PWR (red) LEDs.
///
/// Opening it sets its trigger to `none` (otherwise the kernel keeps
/// blinking it for SD-card activity); dropping it puts the old trigger back.
/// The files are root's by default: the appliance needs a udev rule or a
/// unit that grants write access to them.
#[derive(Debug)]
pub struct SysfsLed {
    dir: PathBuf,
    brightness: File,
    on: Vec<u8>,
    restore_trigger: Option<String>,
}

impl SysfsLed {
    /// Opens `<base>/<name>` (`base` is [`SYS_CLASS_LEDS`] on a real system).
    pub fn open(base: &Path, name: &str) -> Result<Self, LedError> {
        let dir = base.join(name);
        let err = |path: &Path, why: String| LedError::Sysfs {
            path: path.display().to_string(),
            why,
        };
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(err(&dir, format!("{name:?} is not an LED name")));
        }
        if !dir.is_dir() {
            return Err(err(
                &dir,
                "no such LED (does the board profile match this board and kernel?)".into(),
            ));
        }
        let io_why = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::PermissionDenied => {
                format!("{e} (writing LED-class files needs root or a udev rule)")
            }
            _ => e.to_string(),
        };
        let max = dir.join("max_brightness");
        let max_text =
            crate::runtime::os::read_text_bounded(&max, crate::runtime::os::KERNEL_FILE_BYTES);
        let on = match max_text {
            Ok(text) => {
                let text = text.trim();
                match text.parse::<u32>() {
                    Ok(0) | Err(_) => {
                        return Err(err(&max, format!("unexpected max_brightness {text:?}")))
                    }
                    Ok(n) => n.to_string().into_bytes(),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => b"1".to_vec(),
            Err(e) => return Err(err(&max, io_why(e))),
        };
        let brightness_path = dir.join("brightness");
        let brightness = OpenOptions::new()
            .write(true)
            .open(&brightness_path)
            .map_err(|e| err(&brightness_path, io_why(e)))?;
        let trigger_path = dir.join("trigger");
        let trigger = crate::runtime::os::read_text_bounded(
            &trigger_path,
            crate::runtime::os::KERNEL_FILE_BYTES,
        );
        let restore_trigger = match trigger {
            Ok(text) => match current_trigger(&text) {
                Some(current) if current != "none" => {
                    std::fs::write(&trigger_path, "none")
                        .map_err(|e| err(&trigger_path, io_why(e)))?;
                    Some(current.to_string())
                }
                _ => None,
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(err(&trigger_path, io_why(e))),
        };
        Ok(SysfsLed {
            dir,
            brightness,
            on,
            restore_trigger,
        })
    }

    /// Opens the first of `names` that exists under `base`: the same LED has
    /// had different names across kernels (`ACT` today, `led0` before).
    pub fn find<S: AsRef<str>>(base: &Path, names: &[S]) -> Result<Self, LedError> {
        for name in names {
            if base.join(name.as_ref()).is_dir() {
                return Self::open(base, name.as_ref());
            }
        }
        let tried: Vec<&str> = names.iter().map(|n| n.as_ref()).collect();
        Err(LedError::Sysfs {
            path: base.display().to_string(),
            why: format!("none of the LEDs {tried:?} exists"),
        })
    }

    /// The LED's directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn write(&mut self, lit: bool) -> Result<(), PinError> {
        let value: &[u8] = if lit { &self.on } else { b"0" };
        // One pwrite per change. sysfs takes each write whole, whatever the
        // offset; offset 0 also keeps a plain file (in tests) readable.
        self.brightness
            .write_all_at(value, 0)
            .map_err(|source| PinError::Sysfs {
                path: self.dir.join("brightness").display().to_string(),
                source,
            })
    }
}

/// The trigger in brackets in a `trigger` file: `none [mmc0] timer` → `mmc0`.
fn current_trigger(text: &str) -> Option<&str> {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')))
}

impl Drop for SysfsLed {
    fn drop(&mut self) {
        if let Some(trigger) = self.restore_trigger.take() {
            // Best effort: the LED goes back to what the kernel did with it.
            let _ = std::fs::write(self.dir.join("trigger"), trigger);
        }
    }
}

impl ErrorType for SysfsLed {
    type Error = PinError;
}

impl OutputPin for SysfsLed {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.write(false)
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.write(true)
    }
}

/// A GPIO line on the Linux GPIO character device (`/dev/gpiochipN`).
pub struct GpioPin {
    pin: CdevPin,
    chip: String,
    line: u32,
}

impl fmt::Debug for GpioPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GpioPin")
            .field("chip", &self.chip)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl GpioPin {
    /// The chip's device path.
    pub fn chip(&self) -> &str {
        &self.chip
    }

    /// The line.
    pub fn line(&self) -> u32 {
        self.line
    }

    fn map(&self, e: impl fmt::Display) -> PinError {
        PinError::Gpio {
            chip: self.chip.clone(),
            line: self.line,
            detail: e.to_string(),
        }
    }
}

impl ErrorType for GpioPin {
    type Error = PinError;
}

impl OutputPin for GpioPin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.pin.set_low().map_err(|e| self.map(e))
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.pin.set_high().map_err(|e| self.map(e))
    }
}

fn chip_open_error(chip: &Path, line: u32, e: std::io::Error) -> LedError {
    let why = match e.kind() {
        std::io::ErrorKind::NotFound => {
            "no such GPIO chip (`gpiodetect` or `ls /dev/gpiochip*` lists them)".to_string()
        }
        std::io::ErrorKind::PermissionDenied => {
            format!("{e} (the user needs to be in the `gpio` group, or a udev rule)")
        }
        _ => e.to_string(),
    };
    LedError::Gpio {
        chip: chip.display().to_string(),
        line,
        why,
    }
}

/// Claims `line` of the GPIO chip at `chip_path` as an output, for an LED.
///
/// The line starts at the level that keeps the LED off (high for an
/// active-low LED), so claiming it never flashes the LED; the LED's polarity
/// itself is applied by [`LedDriver`], as for every other kind of pin.
pub fn open_gpio(chip_path: &Path, line: u32, active_low: bool) -> Result<GpioPin, LedError> {
    let err = |why: String| LedError::Gpio {
        chip: chip_path.display().to_string(),
        line,
        why,
    };
    // Open it once ourselves first: std's error kinds give the clear
    // messages (missing, permission) that gpio-cdev's wrapper hides.
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(chip_path)
        .map_err(|e| chip_open_error(chip_path, line, e))?;
    let mut chip = gpio_cdev::Chip::new(chip_path)
        .map_err(|e| err(format!("not a GPIO character device: {e}")))?;
    let lines = chip.num_lines();
    if line >= lines {
        return Err(err(format!(
            "the chip ({}) has lines 0 to {}",
            chip.label(),
            lines.saturating_sub(1)
        )));
    }
    let handle = chip
        .get_line(line)
        .and_then(|l| l.request(LineRequestFlags::OUTPUT, u8::from(active_low), "goodwill"))
        .map_err(|e| err(format!("{e} (is another program using this line?)")))?;
    let pin = CdevPin::new(handle).map_err(|e| err(e.to_string()))?;
    Ok(GpioPin {
        pin,
        chip: chip_path.display().to_string(),
        line,
    })
}

/// Finds the GPIO chip labelled `label`, trying `preferred` first.
///
/// The chip that carries a Raspberry Pi's 40-pin header is not always the
/// same device: the Pi 5's RP1 was `/dev/gpiochip4` before kernel 6.6.45 and
/// is `/dev/gpiochip0` since, so a profile names the path it expects and the
/// label that identifies the chip (`pinctrl-rp1`), and the label wins.
pub fn find_chip(preferred: &Path, label: &str) -> Result<PathBuf, LedError> {
    let mut seen = Vec::new();
    match gpio_cdev::Chip::new(preferred) {
        Ok(chip) if chip.label() == label => return Ok(preferred.to_path_buf()),
        Ok(chip) => seen.push(format!("{} is {:?}", preferred.display(), chip.label())),
        Err(e) => seen.push(format!("{}: {e}", preferred.display())),
    }
    if let Ok(chips) = gpio_cdev::chips() {
        for chip in chips.flatten() {
            if chip.label() == label {
                return Ok(chip.path().to_path_buf());
            }
            if chip.path() != preferred {
                seen.push(format!("{} is {:?}", chip.path().display(), chip.label()));
            }
        }
    }
    Err(LedError::NoChip {
        label: label.to_string(),
        detail: seen.join("; "),
    })
}

/// Any of the pins a board profile can name, chosen at run time.
#[derive(Debug)]
#[non_exhaustive]
pub enum AnyPin {
    /// Records levels (tests).
    Recording(RecordingPin),
    /// A kernel LED-class LED (the Pi's onboard ACT/PWR).
    Sysfs(SysfsLed),
    /// A GPIO line on the character device.
    Gpio(GpioPin),
    /// Logs changes.
    Log(LogPin),
    /// No LED: writes are accepted and go nowhere (an LED the board lacks).
    Absent,
}

impl From<RecordingPin> for AnyPin {
    fn from(p: RecordingPin) -> Self {
        AnyPin::Recording(p)
    }
}

impl From<SysfsLed> for AnyPin {
    fn from(p: SysfsLed) -> Self {
        AnyPin::Sysfs(p)
    }
}

impl From<GpioPin> for AnyPin {
    fn from(p: GpioPin) -> Self {
        AnyPin::Gpio(p)
    }
}

impl From<LogPin> for AnyPin {
    fn from(p: LogPin) -> Self {
        AnyPin::Log(p)
    }
}

impl ErrorType for AnyPin {
    type Error = PinError;
}

impl OutputPin for AnyPin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        match self {
            AnyPin::Recording(p) => p.set_low().map_err(|e| match e {}),
            AnyPin::Sysfs(p) => p.set_low(),
            AnyPin::Gpio(p) => p.set_low(),
            AnyPin::Log(p) => p.set_low().map_err(|e| match e {}),
            AnyPin::Absent => Ok(()),
        }
    }

    fn set_high(&mut self) -> Result<(), Self::Error> {
        match self {
            AnyPin::Recording(p) => p.set_high().map_err(|e| match e {}),
            AnyPin::Sysfs(p) => p.set_high(),
            AnyPin::Gpio(p) => p.set_high(),
            AnyPin::Log(p) => p.set_high().map_err(|e| match e {}),
            AnyPin::Absent => Ok(()),
        }
    }
}

/// The LEDs of a board, whatever their kind.
pub type BoardLeds = LedDriver<AnyPin, AnyPin, AnyPin>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_trigger_is_the_bracketed_word() {
        assert_eq!(current_trigger("none [mmc0] timer"), Some("mmc0"));
        assert_eq!(current_trigger("[none] mmc0\n"), Some("none"));
        assert_eq!(current_trigger("none mmc0"), None);
    }
}
