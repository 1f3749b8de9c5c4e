//! The one module that reads the wall clock and the operating system's random
//! source. Everything else takes time and randomness as arguments, so that
//! ledger rules, schedules and whole networks run deterministically in tests.
//! `clippy.toml` forbids these calls anywhere else.
#![allow(clippy::disallowed_methods)]

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).expect("the operating system's random source is unavailable");
    out
}

/// A random u64 (seeds for demos and simulations).
pub fn random_u64() -> u64 {
    u64::from_le_bytes(random_bytes())
}

/// Whether the kernel reports the wall clock synchronised (NTP), as
/// `timedatectl` shows it: `adjtimex` without `STA_UNSYNC` and not
/// `TIME_ERROR`. None if the kernel could not be asked.
#[allow(unsafe_code)]
pub fn kernel_clock_synced() -> Option<bool> {
    // SAFETY: adjtimex with modes = 0 only reads the kernel's time state into
    // the zero-initialised struct we own; it changes nothing.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    tx.modes = 0;
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return None;
    }
    Some(state != libc::TIME_ERROR && tx.status & libc::STA_UNSYNC == 0)
}

/// CPU time this process has used, in nanoseconds (all threads).
pub fn cpu_time_ns() -> Option<u64> {
    // utime + stime in clock ticks (USER_HZ, 100 on Linux for every
    // architecture goodwill targets).
    let stat = read_text_bounded("/proc/self/stat".as_ref(), KERNEL_FILE_BYTES).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) * 10_000_000)
}

/// Resident memory of this process, in bytes.
pub fn rss_bytes() -> Option<u64> {
    let status = read_text_bounded("/proc/self/status".as_ref(), KERNEL_FILE_BYTES).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Voluntary context switches of every thread of this process: each is a
/// wake-up after a sleep, so their rate is the process's wake-ups per second.
pub fn voluntary_switches() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("status");
        let Ok(status) = read_text_bounded(&path, KERNEL_FILE_BYTES) else {
            continue; // the thread ended meanwhile
        };
        if let Some(v) = status
            .lines()
            .find(|l| l.starts_with("voluntary_ctxt_switches:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse::<u64>().ok())
        {
            total += v;
        }
    }
    Some(total)
}

/// CPU time the calling thread has used, in nanoseconds (scheduler
/// accounting: exact, unlike the 10 ms ticks of `/proc/self/stat`).
pub fn thread_cpu_ns() -> Option<u64> {
    let s = read_text_bounded("/proc/thread-self/schedstat".as_ref(), KERNEL_FILE_BYTES).ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Sends SIGTERM to process `pid` (a child the devnet started): it stops
/// cleanly, as on Ctrl-C.
pub fn terminate(pid: u32) -> std::io::Result<()> {
    let pid = rustix::process::Pid::from_raw(pid as i32)
        .ok_or_else(|| std::io::Error::other("process id 0"))?;
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).map_err(Into::into)
}

/// Asks the kernel to send this process SIGTERM when `parent` exits, so a
/// child of a devnet never outlives it, even when the devnet is killed
/// outright. Errs if `parent` is already gone.
pub fn exit_with_parent(parent: u32) -> Result<(), ParentError> {
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))
        .map_err(ParentError::Prctl)?;
    // The parent may have died before the request took effect.
    match rustix::process::getppid() {
        Some(p) if p.as_raw_nonzero().get() as u32 == parent => Ok(()),
        _ => Err(ParentError::Gone(parent)),
    }
}

/// Why [`exit_with_parent`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParentError {
    /// The kernel refused the request.
    #[error("prctl(PR_SET_PDEATHSIG): {0}")]
    Prctl(rustix::io::Errno),
    /// The parent is gone already.
    #[error("the devnet (process {0}) that started this process is gone")]
    Gone(u32),
}

/// Reads at most `limit` bytes of the file at `path`: the one door every file
/// goodwill reads goes through. It reads `limit + 1` bytes at most, whatever
/// the file's size claims (`/dev/zero`, a FIFO, a file growing meanwhile),
/// and a file longer than `limit` is an error of kind
/// [`std::io::ErrorKind::FileTooLarge`] — never a growing buffer.
pub fn read_bounded(path: &std::path::Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let f = std::fs::File::open(path)?;
    if f.metadata()?.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory, not a file",
        ));
    }
    let bytes = head_of(f, limit.saturating_add(1))?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("larger than the {limit} bytes allowed here"),
        ));
    }
    Ok(bytes)
}

/// The first `n` bytes of the file at `path` (all of it when shorter):
/// for a file's header or a short sysfs value, where more is not an error.
pub fn read_head(path: &std::path::Path, n: u64) -> std::io::Result<Vec<u8>> {
    head_of(std::fs::File::open(path)?, n)
}

/// At most `n` bytes read from `f`, never more whatever its size.
fn head_of(f: std::fs::File, n: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    f.take(n).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// [`read_bounded`] for a text file (UTF-8, else an error of kind
/// `InvalidData`).
pub fn read_text_bounded(path: &std::path::Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_bounded(path, limit)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// The bound on the small kernel files read here (`/proc`, `/sys`).
pub const KERNEL_FILE_BYTES: u64 = 64 << 10;

/// Set once a write to stdout failed with something other than a closed
/// pipe (a full disk under `> file`): the command line says so at exit.
static STDOUT_FAILED: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Writes one line (`newline`) or text to stdout (`err`: stderr) and never
/// panics: std's `println!` panics when the reader is gone (`goodwill status
/// | head -1`), which would stop a command half-way — a card half
/// provisioned — or a node whose journal restarted. A closed pipe is
/// ignored (the work goes on, the exit status is the work's); any other
/// stdout failure is remembered for [`stdout_failure`]. The crate's
/// `println!`, `print!`, `eprintln!` and `eprint!` (in `lib.rs`) come here.
pub fn write_std(args: std::fmt::Arguments<'_>, newline: bool, err: bool) {
    use std::io::Write;
    fn put(mut w: impl Write, args: std::fmt::Arguments<'_>, newline: bool) -> std::io::Result<()> {
        w.write_fmt(args)?;
        if newline {
            w.write_all(b"\n")?;
        }
        w.flush()
    }
    if err {
        let _ = put(std::io::stderr().lock(), args, newline);
        return;
    }
    if let Err(e) = put(std::io::stdout().lock(), args, newline) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let mut failed = STDOUT_FAILED.lock().unwrap_or_else(|p| p.into_inner());
            failed.get_or_insert_with(|| e.to_string());
        }
    }
}

/// The first failure to write to stdout other than a closed pipe, if any.
pub fn stdout_failure() -> Option<String> {
    STDOUT_FAILED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

/// A fresh key pair from the OS random source.
pub fn new_keypair() -> crate::chain::crypto::Keypair {
    crate::chain::crypto::Keypair::generate(random_bytes)
}

/// Writes `text` to a new file and syncs it; an existing file is never
/// overwritten.
pub fn write_new_file(out: &std::path::Path, text: &str) -> Result<(), WriteNewError> {
    create_new_file(out, text.as_bytes(), 0o666)
        .map(drop)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => WriteNewError::Exists(out.to_path_buf()),
            _ => WriteNewError::Io {
                path: out.to_path_buf(),
                source: e,
            },
        })
}

/// Creates a new file at `path` (an existing one is an error of kind
/// `AlreadyExists`, never overwritten) with permissions `mode` (less the
/// umask), writes `bytes` and syncs them; the open file is returned for
/// what its caller does next.
pub fn create_new_file(
    path: &std::path::Path,
    bytes: &[u8],
    mode: u32,
) -> std::io::Result<std::fs::File> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(f)
}

/// Why [`write_new_file`] failed. Each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteNewError {
    /// The file exists: it is never overwritten.
    #[error("{} already exists; refusing to overwrite it", .0.display())]
    Exists(std::path::PathBuf),
    /// Creating, writing or syncing it failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Tells systemd (the socket named by `NOTIFY_SOCKET`; nothing without it),
/// never waiting: the core threads of `goodwill node` and `goodwill forge`
/// call this, and a service manager that reads its socket slowly (or a
/// test that does not read it) must not stall forging. Returns whether the
/// notice was sent: `false` when the socket's queue is full, and the notice
/// is dropped (the next one, a tick later, says the same and newer).
pub fn notify_systemd(states: &[sd_notify::NotifyState]) -> std::io::Result<bool> {
    match std::env::var_os("NOTIFY_SOCKET") {
        None => Ok(true),
        Some(path) => notify_socket(&path, states),
    }
}

/// [`notify_systemd`] to the socket `path` (`@name`: the abstract namespace).
pub fn notify_socket(
    path: &std::ffi::OsStr,
    states: &[sd_notify::NotifyState],
) -> std::io::Result<bool> {
    use std::fmt::Write as _;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let mut msg = String::new();
    for s in states {
        let _ = writeln!(msg, "{s}");
    }
    let bytes = path.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)?
        }
        None => SocketAddr::from_pathname(path)?,
    };
    let sock = UnixDatagram::unbound()?;
    sock.set_nonblocking(true)?;
    sock.connect_addr(&addr)?;
    match sock.send(msg.as_bytes()) {
        Ok(n) if n == msg.len() => Ok(true),
        Ok(n) => Err(std::io::Error::new(
            std::io::ErrorKind::WriteZero,
            format!("{n} of the notice's {} bytes sent", msg.len()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service manager that reads nothing: its queue fills, and the
    /// notices after that are dropped at once instead of blocking the
    /// caller (a blocking send would hang this test).
    #[test]
    fn a_full_notify_socket_drops_notices_instead_of_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let manager = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let states = [
            sd_notify::NotifyState::Status("forging"),
            sd_notify::NotifyState::Watchdog,
        ];
        let sent: Vec<bool> = (0..1_000)
            .map(|_| notify_socket(path.as_os_str(), &states).unwrap())
            .collect();
        assert!(sent[0], "the first notice is sent");
        assert!(sent.iter().any(|s| !s), "the queue never filled up");
        let mut buf = [0u8; 256];
        let n = manager.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STATUS=forging\nWATCHDOG=1\n");
        // Read, the queue has room again.
        assert!(notify_socket(path.as_os_str(), &states).unwrap());
        // An abstract name works too; a missing socket is an error.
        let name = format!("@goodwill-test-{}", std::process::id());
        let abs = {
            use std::os::linux::net::SocketAddrExt;
            let addr =
                std::os::unix::net::SocketAddr::from_abstract_name(&name.as_bytes()[1..]).unwrap();
            std::os::unix::net::UnixDatagram::bind_addr(&addr).unwrap()
        };
        assert!(notify_socket(std::ffi::OsStr::new(&name), &states).unwrap());
        let n = abs.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STATUS=forging\nWATCHDOG=1\n");
        assert!(notify_socket(dir.path().join("none").as_os_str(), &states).is_err());
    }
}
