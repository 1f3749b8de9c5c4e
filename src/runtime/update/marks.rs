//! The update tests' marks (built with `fault-injection` only; the shipped
//! binary has neither the code nor the words): a test makes "another
//! release" by copying the test binary and appending one line,
//!
//! ```text
//! \nGOODWILL-TEST-MARKS version=0.1.1-next crash-at-start unhealthy\n
//! ```
//!
//! An ELF file runs the same with bytes after its end, and the copy has
//! its own size and hash, so it is signed, downloaded and checked like any
//! release. `version=V` is the version it reports ([`crate::version`]),
//! `crash-at-start` makes `goodwill forge` abort before it does anything,
//! `unhealthy` makes its health check fail. Read once, at the first ask,
//! from the last 512 bytes of the running executable.

use std::io::{Read, Seek, SeekFrom};
use std::sync::OnceLock;

/// The line's first word.
pub const MARKER: &str = "GOODWILL-TEST-MARKS";

/// The marks of the running binary.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Marks {
    /// The version it reports instead of the package's.
    pub version: Option<&'static str>,
    /// `goodwill forge` aborts at start.
    pub crash_at_start: bool,
    /// Its health check fails.
    pub unhealthy: bool,
}

/// Reads the marks from the end of a file's contents.
pub fn parse(tail: &[u8]) -> Marks {
    let text = String::from_utf8_lossy(tail);
    let Some(at) = text.rfind(MARKER) else {
        return Marks::default();
    };
    let line = text[at + MARKER.len()..].lines().next().unwrap_or_default();
    let mut m = Marks::default();
    for word in line.split_whitespace() {
        match word.split_once('=') {
            Some(("version", v)) if !v.is_empty() => {
                m.version = Some(Box::leak(v.to_string().into_boxed_str()))
            }
            _ if word == "crash-at-start" => m.crash_at_start = true,
            _ if word == "unhealthy" => m.unhealthy = true,
            _ => {}
        }
    }
    m
}

/// The running binary's marks.
pub fn get() -> &'static Marks {
    static MARKS: OnceLock<Marks> = OnceLock::new();
    MARKS.get_or_init(|| {
        let tail = std::env::current_exe().and_then(|p| {
            let mut f = std::fs::File::open(p)?;
            let len = f.metadata()?.len();
            f.seek(SeekFrom::Start(len.saturating_sub(512)))?;
            let mut buf = Vec::with_capacity(512);
            f.take(512).read_to_end(&mut buf)?;
            Ok(buf)
        });
        tail.map(|t| parse(&t)).unwrap_or_default()
    })
}

/// The version the running binary's marks give, if any.
pub fn version() -> Option<&'static str> {
    get().version
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_read_from_the_last_line() {
        let m = parse(b"\x7fELF...\nGOODWILL-TEST-MARKS version=0.9.1 unhealthy\n");
        assert_eq!(m.version, Some("0.9.1"));
        assert!(m.unhealthy && !m.crash_at_start);
        assert_eq!(parse(b"no marks here"), Marks::default());
    }
}
