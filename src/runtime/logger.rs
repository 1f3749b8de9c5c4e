//! The process's logger: what the `log` macros of every layer end in.
//!
//! One line on standard error per record, its text as written
//! (`goodwill node: …`, `goodwill forge: …`). Under systemd, when standard
//! error is the journal's stream, each line starts with its syslog
//! priority (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug), which
//! journald takes as the entry's priority and strips: `journalctl -p
//! warning` then shows the warnings. Elsewhere the lines are plain.
//!
//! `GOODWILL_LOG=error|warn|info|debug` sets the lowest level written
//! (info by default); it is read once, by [`init`], at process start.
//! Writing never panics, stderr closed or not (`os::write_std`).

use log::{Level, LevelFilter, Log, Metadata, Record};

/// The environment variable that sets the level.
pub const LEVEL_ENV: &str = "GOODWILL_LOG";

/// How lines are written: the lowest level, and whether they carry a
/// journald priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// Records below this level are dropped.
    pub level: LevelFilter,
    /// Prefix each line with its syslog priority (`<6>`).
    pub priority: bool,
}

impl Format {
    /// The line for a record at `level` with `text`, or None if the level
    /// is filtered out.
    pub fn line(&self, level: Level, text: &str) -> Option<String> {
        if level > self.level {
            return None;
        }
        Some(if self.priority {
            format!("<{}>{text}", priority(level))
        } else {
            text.to_string()
        })
    }
}

/// A level's syslog priority (RFC 5424: 3 error, 4 warning, 6
/// informational, 7 debug; trace is debug too).
pub fn priority(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

/// `GOODWILL_LOG`'s value as a level: None for an unknown word (and
/// for none, info).
pub fn parse_level(value: Option<&str>) -> Option<LevelFilter> {
    match value.map(str::trim) {
        None | Some("") => Some(LevelFilter::Info),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "error" => Some(LevelFilter::Error),
            "warn" | "warning" => Some(LevelFilter::Warn),
            "info" => Some(LevelFilter::Info),
            "debug" => Some(LevelFilter::Debug),
            _ => None,
        },
    }
}

/// Whether `journal_stream` (systemd's `JOURNAL_STREAM`, `<device>:<inode>`)
/// names the file `stderr` is (`(device, inode)` of standard error).
pub fn is_journal(journal_stream: Option<&str>, stderr: Option<(u64, u64)>) -> bool {
    let (Some(js), Some((dev, ino))) = (journal_stream, stderr) else {
        return false;
    };
    let Some((d, i)) = js.trim().split_once(':') else {
        return false;
    };
    d.parse() == Ok(dev) && i.parse() == Ok(ino)
}

/// Standard error's device and inode, if it can be read.
fn stderr_id() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    let st = rustix::fs::fstat(std::io::stderr().as_fd()).ok()?;
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    Some((st.st_dev as u64, st.st_ino as u64))
}

struct Logger(Format);

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.0.level
    }

    fn log(&self, record: &Record<'_>) {
        let text = match record.args().as_str() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(record.args().to_string()),
        };
        if let Some(line) = self.0.line(record.level(), &text) {
            crate::runtime::os::write_std(format_args!("{line}"), true, true);
        }
    }

    fn flush(&self) {}
}

/// Installs the logger (once; later calls change nothing): the level from
/// `GOODWILL_LOG`, priorities if standard error is the journal.
pub fn init() {
    let raw = std::env::var(LEVEL_ENV).ok();
    let parsed = parse_level(raw.as_deref());
    let format = Format {
        level: parsed.unwrap_or(LevelFilter::Info),
        priority: is_journal(std::env::var("JOURNAL_STREAM").ok().as_deref(), stderr_id()),
    };
    // Leaked once: the logger lives as long as the process.
    if log::set_logger(Box::leak(Box::new(Logger(format)))).is_ok() {
        log::set_max_level(format.level);
        if parsed.is_none() {
            log::warn!(
                "goodwill: {LEVEL_ENV}={}: not one of error, warn, info, debug; using info",
                raw.unwrap_or_default()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_the_priority_only_for_the_journal() {
        let journal = Format {
            level: LevelFilter::Info,
            priority: true,
        };
        let plain = Format {
            priority: false,
            ..journal
        };
        let text = "goodwill node: listening on 127.0.0.1:1";
        assert_eq!(
            journal.line(Level::Info, text).unwrap(),
            format!("<6>{text}")
        );
        assert_eq!(journal.line(Level::Warn, "w").unwrap(), "<4>w");
        assert_eq!(journal.line(Level::Error, "e").unwrap(), "<3>e");
        assert_eq!(plain.line(Level::Info, text).unwrap(), text);
        assert_eq!(plain.line(Level::Error, "e").unwrap(), "e");
    }

    #[test]
    fn the_level_filters() {
        let info = Format {
            level: LevelFilter::Info,
            priority: true,
        };
        assert_eq!(info.line(Level::Debug, "d"), None);
        assert!(info.line(Level::Info, "i").is_some());
        let debug = Format {
            level: LevelFilter::Debug,
            ..info
        };
        assert_eq!(debug.line(Level::Debug, "d").unwrap(), "<7>d");
        let warn = Format {
            level: LevelFilter::Warn,
            ..info
        };
        assert_eq!(warn.line(Level::Info, "i"), None);
        assert!(warn.line(Level::Warn, "w").is_some());
        assert!(warn.line(Level::Error, "e").is_some());
    }

    #[test]
    fn goodwill_log_words() {
        assert_eq!(parse_level(None), Some(LevelFilter::Info));
        assert_eq!(parse_level(Some("debug")), Some(LevelFilter::Debug));
        assert_eq!(parse_level(Some("WARN")), Some(LevelFilter::Warn));
        assert_eq!(parse_level(Some("error")), Some(LevelFilter::Error));
        assert_eq!(parse_level(Some("info")), Some(LevelFilter::Info));
        assert_eq!(parse_level(Some("loud")), None);
    }

    #[test]
    fn the_journal_is_recognised_by_device_and_inode() {
        assert!(is_journal(Some("25:1234"), Some((25, 1234))));
        assert!(!is_journal(Some("25:1234"), Some((25, 1235))));
        assert!(!is_journal(Some("26:1234"), Some((25, 1234))));
        assert!(!is_journal(None, Some((25, 1234))));
        assert!(!is_journal(Some("25:1234"), None));
        assert!(!is_journal(Some("garbage"), Some((25, 1234))));
    }
}
