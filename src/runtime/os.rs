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

/// The lowest port [`free_ports`] picks. Ports are picked below the
/// kernel's ephemeral range (`ip_local_port_range`), where outgoing
/// connections take their source ports: a port picked there could be taken
/// by any program's connection between the pick and the bind of the child
/// it was picked for, and that child would not start.
pub const PICK_FROM: u16 = 10_000;

/// The first port of the kernel's ephemeral range, where it can be read.
pub fn ephemeral_start() -> Option<u16> {
    let path = "/proc/sys/net/ipv4/ip_local_port_range".as_ref();
    let text = read_text_bounded(path, KERNEL_FILE_BYTES).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The ports [`free_ports`] tries, in order: from `seed`'s place through
/// every port of `[PICK_FROM, below)` once; none when that range is too
/// narrow (under 1,024 ports) to pick from.
pub fn port_candidates(below: u16, seed: u64) -> impl Iterator<Item = u16> {
    let width = u64::from(below.saturating_sub(PICK_FROM));
    let width = if width < 1024 { 0 } else { width };
    let start = seed.checked_rem(width).unwrap_or(0);
    (0..width).map(move |i| PICK_FROM + ((start + i) % width) as u16)
}

/// `n` distinct ports of 127.0.0.1 that were free a moment ago, none in
/// `avoid`: below the ephemeral range where it is known, from a random
/// place (two programs picking at once rarely meet); else, or when those
/// are all taken, ports the kernel gives. Errs when `n` cannot be found.
pub fn free_ports(n: usize, avoid: &[u16]) -> std::io::Result<Vec<u16>> {
    use std::net::TcpListener;
    // Every listener is held until all are picked, so no port comes twice.
    let mut held = Vec::with_capacity(n);
    let mut ports = Vec::with_capacity(n);
    let below = ephemeral_start().unwrap_or(0);
    let tries = n + avoid.len() + 512;
    for p in port_candidates(below, random_u64()).take(tries) {
        if ports.len() == n {
            break;
        }
        if avoid.contains(&p) {
            continue;
        }
        if let Ok(l) = TcpListener::bind(("127.0.0.1", p)) {
            ports.push(p);
            held.push(l);
        }
    }
    for _ in 0..n + avoid.len() + 16 {
        if ports.len() == n {
            break;
        }
        let l = TcpListener::bind("127.0.0.1:0")?;
        let p = l.local_addr()?.port();
        if !avoid.contains(&p) && !ports.contains(&p) {
            ports.push(p);
        }
        held.push(l);
    }
    if ports.len() < n {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            format!("{} of the {n} ports asked for", ports.len()),
        ));
    }
    Ok(ports)
}

/// Gives the allocator's free heap pages back to the kernel (glibc's
/// `malloc_trim(0)`): memory freed after a burst (a sync's batches of
/// blocks) otherwise stays resident. Nothing elsewhere than glibc.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim takes no pointer; it only returns pages of free
    // chunks to the kernel, under the allocator's own lock.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Allocations of [`crate::store::HELD_SLAB_BYTES`] (128 KiB) and more get
/// pages of their own from the kernel, given back when freed (glibc's
/// `M_MMAP_THRESHOLD`, set once and so no longer adjusted: by default it
/// rises up to 32 MiB as big blocks are freed; 128 KiB is its first value).
/// A forger's held pages (kept in slabs of this size) and a sync's big
/// batches then never spread through the heap, where small allocations
/// left between them kept the freed pages resident after a sync (3 MiB at
/// 200,000 transactions). Nothing elsewhere than glibc.
pub fn big_allocations_apart() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt takes two integers and changes only the allocator's
    // own parameters, under its lock.
    unsafe {
        libc::mallopt(
            libc::M_MMAP_THRESHOLD,
            crate::store::HELD_SLAB_BYTES as libc::c_int,
        );
    }
}

/// Lets go of the read-only pages of the program and its libraries mapped
/// so far (their code and constants), so that the resident memory counts
/// the code a process still runs rather than all it ever ran: a forger's
/// command line, store check and sync leave megabytes of the binary mapped
/// that its slot loop never touches again. The pages stay in the page
/// cache; code still in use is mapped again at its next call by a minor
/// fault (with its neighbours: the kernel maps up to 64 KiB around one),
/// read from the disk only if the kernel had meanwhile reclaimed it, which
/// it may do to any page of the file, mapped or not. Which mappings:
/// [`read_only_file_mappings`]. Returns the bytes let go of (mapped
/// before, resident or not); 0 elsewhere than Linux, and under an emulator.
pub fn release_unused_code() -> u64 {
    #[cfg(target_os = "linux")]
    {
        let Ok(smaps) = read_text_bounded("/proc/self/smaps".as_ref(), SMAPS_BYTES) else {
            return 0;
        };
        let Ok(exe) = std::env::current_exe() else {
            return 0;
        };
        let mut released = 0;
        for (start, end) in read_only_file_mappings(&smaps, &exe.to_string_lossy()) {
            #[allow(unsafe_code)]
            // SAFETY: the range is a whole mapping of this process, read
            // only, private and backed by a file, with no private page (as
            // the kernel listed it just now; nothing here makes such a
            // mapping writable). MADV_DONTNEED on it only unmaps clean
            // copies of the file: no byte a reader sees changes, and
            // nothing borrowed from it dangles (the addresses stay mapped).
            let r = unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED)
            };
            if r == 0 {
                released += (end - start) as u64;
            }
        }
        released
    }
    #[cfg(not(target_os = "linux"))]
    0
}

/// The bound on `/proc/self/smaps`: about 1 KiB a mapping, and a node has
/// some fifty (a thread's stack and guard, the arenas, each library's four).
const SMAPS_BYTES: u64 = 1 << 20;

/// The mappings [`release_unused_code`] lets go of, as `(start, end)`
/// addresses from a `/proc/PID/smaps` text, for the program at `exe`:
/// backed by a file (a path, not `[vdso]` or an anonymous mapping),
/// readable, not writable, private, and with no anonymous
/// (copied-on-write) page. A relocated read-only segment (RELRO) holds
/// such pages and is left alone, as is a mapping whose `Anonymous:` line is
/// missing. None at all unless the program's own code is mapped
/// executable: under an emulator (qemu-user, which runs the ARM test
/// suites) the smaps are the emulator's own, the program's code is its
/// data, and letting go of it was measured to crash an armv7 program.
pub fn read_only_file_mappings(smaps: &str, exe: &str) -> Vec<(usize, usize)> {
    let exe = exe.strip_suffix(" (deleted)").unwrap_or(exe);
    let mut out = Vec::new();
    let mut native = false;
    let mut candidate: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        // A mapping's first line: range, permissions, offset, device and
        // inode, then its path (which may hold spaces), or nothing.
        let mut fields = [""; 5];
        let mut rest = line;
        for field in &mut fields {
            rest = rest.trim_start();
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            (*field, rest) = rest.split_at(end);
        }
        let [range, perms, ..] = fields;
        if range.ends_with(':') {
            if range == "Anonymous:" {
                if let Some(found) = candidate.take() {
                    if perms == "0" {
                        out.push(found);
                    }
                }
            }
            continue;
        }
        let path = rest.trim();
        let path = path.strip_suffix(" (deleted)").unwrap_or(path);
        native |= perms == "r-xp" && path == exe;
        candidate = range
            .split_once('-')
            .and_then(|(a, b)| {
                Some((
                    usize::from_str_radix(a, 16).ok()?,
                    usize::from_str_radix(b, 16).ok()?,
                ))
            })
            .filter(|&(start, end)| {
                start < end
                    && perms.len() == 4
                    && perms.starts_with("r-")
                    && perms.ends_with('p')
                    && path.starts_with('/')
            });
    }
    if native {
        out
    } else {
        Vec::new()
    }
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
    status_bytes("VmRSS:")
}

/// A size field of `/proc/self/status` (`VmRSS:`, `RssFile:`, given in
/// kB there), in bytes.
fn status_bytes(field: &str) -> Option<u64> {
    let status = read_text_bounded("/proc/self/status".as_ref(), KERNEL_FILE_BYTES).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
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

    #[test]
    fn only_read_only_private_file_mappings_without_a_private_page_are_let_go_of() {
        let map = |range: &str, perms: &str, path: &str, anon: Option<u32>| {
            let mut m =
                format!("{range} {perms} 00000000 08:01 1234 {path}\nSize: 8 kB\nRss: 4 kB\n");
            if let Some(a) = anon {
                m += &format!("Anonymous: {a} kB\nVmFlags: rd mr mw me\n");
            }
            m
        };
        let smaps = [
            map("1000-3000", "r--p", "/usr/bin/goodwill", Some(0)), // constants: let go
            map("3000-9000", "r-xp", "/usr/bin/goodwill", Some(0)), // code: let go
            map("9000-a000", "r--p", "/usr/bin/goodwill", Some(4)), // RELRO, relocated: kept
            map("a000-b000", "rw-p", "/usr/bin/goodwill", Some(4)), // data: kept
            map("b000-c000", "rw-p", "", Some(4)),                  // heap-like: kept
            map("c000-d000", "r--p", "", Some(0)),                  // anonymous: kept
            map("d000-e000", "r-xp", "[vdso]", Some(0)),            // the kernel's: kept
            map("e000-f000", "r--s", "/dev/shm/x", Some(0)),        // shared: kept
            map("f000-10000", "---p", "/usr/lib/libc.so.6", Some(0)), // a gap: kept
            map("10000-11000", "r-xp", "/usr/lib/libc.so.6", None), // no Anonymous line: kept
            map(
                "11000-12000",
                "r-xp",
                "/usr/bin/goodwill (deleted)",
                Some(0),
            ), // replaced: let go
        ]
        .concat();
        let exe = "/usr/bin/goodwill";
        assert_eq!(
            read_only_file_mappings(&smaps, exe),
            [(0x1000, 0x3000), (0x3000, 0x9000), (0x11000, 0x12000)]
        );
        // The program replaced on disk (a self-update) is still itself, and
        // a path may hold spaces.
        assert_eq!(
            read_only_file_mappings(&smaps, "/usr/bin/goodwill (deleted)").len(),
            3
        );
        let spaced = map("1000-2000", "r-xp", "/opt/my apps/goodwill", Some(0));
        assert_eq!(
            read_only_file_mappings(&spaced, "/opt/my apps/goodwill"),
            [(0x1000, 0x2000)]
        );
        // Another program's code mapped executable is not this one's.
        assert!(read_only_file_mappings(&smaps, "/usr/bin/other").is_empty());
        // Under an emulator the program's code is not mapped executable:
        // nothing is let go of.
        let emulated = [
            map("1000-3000", "r--p", exe, Some(0)),
            map("3000-9000", "r--p", exe, Some(0)),
            map(
                "7f00000000-7f00100000",
                "r-xp",
                "/usr/bin/qemu-arm-static",
                Some(0),
            ),
        ]
        .concat();
        assert!(read_only_file_mappings(&emulated, exe).is_empty());
        // A first line that does not parse ends the mapping before it: its
        // Anonymous line is not taken for the one before.
        let odd = [
            map("3000-9000", "r-xp", exe, None),
            map("zz-1000", "r-xp", exe, Some(0)),
        ]
        .concat();
        assert!(read_only_file_mappings(&odd, exe).is_empty());
        assert!(read_only_file_mappings("", exe).is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn letting_go_of_the_code_lowers_the_resident_file_pages_and_the_code_still_runs() {
        // Run some code first, so that there is some to let go of.
        let digest = |b: &[u8]| <sha2::Sha256 as sha2::Digest>::digest(b);
        let before_digest = digest(b"goodwill");
        let smaps = read_text_bounded("/proc/self/smaps".as_ref(), SMAPS_BYTES).unwrap();
        let exe = std::env::current_exe().unwrap();
        let ours = read_only_file_mappings(&smaps, &exe.to_string_lossy());
        let file_pages = || status_bytes("RssFile:").unwrap() / 1024;
        let before = file_pages();
        let released = release_unused_code();
        let after = file_pages();
        // Under qemu-user (the ARM suites run there) the program's code is
        // not mapped executable, and nothing is let go of. The host runs
        // the suite natively, where it must be found.
        assert!(
            !ours.is_empty() || cfg!(not(target_arch = "x86_64")),
            "this program's code was not found mapped: {exe:?}"
        );
        if ours.is_empty() {
            assert_eq!(released, 0);
            return;
        }
        assert!(released > 0, "nothing was let go of");
        assert!(
            after < before,
            "the resident file pages did not go down: {before} KiB before, {after} KiB after"
        );
        // The code and constants come back as they were when next used.
        assert_eq!(digest(b"goodwill"), before_digest);
    }

    #[test]
    fn ports_are_picked_below_the_ephemeral_range_each_once() {
        let all: Vec<u16> = port_candidates(32_768, 12_345).collect();
        assert_eq!(all.len(), usize::from(32_768 - PICK_FROM));
        assert_eq!(all[0], PICK_FROM + (12_345 % (32_768 - PICK_FROM)));
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len());
        assert_eq!(sorted.first(), Some(&PICK_FROM));
        assert_eq!(sorted.last(), Some(&32_767));
        // A range too narrow, or unknown (0), leaves the pick to the kernel.
        assert_eq!(port_candidates(PICK_FROM + 100, 7).count(), 0);
        assert_eq!(port_candidates(0, 7).count(), 0);
    }

    #[test]
    fn free_ports_are_distinct_outside_the_ephemeral_range_and_avoid_the_given_ones() {
        let first = free_ports(4, &[]).unwrap();
        let more = free_ports(4, &first).unwrap();
        let mut all: Vec<u16> = first.iter().chain(&more).copied().collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 8);
        // Linux (where the tests run) says where its ephemeral range starts.
        let start = ephemeral_start().expect("ip_local_port_range");
        if start >= PICK_FROM + 1024 {
            for p in &all {
                assert!((PICK_FROM..start).contains(p), "{p} not below {start}");
            }
        }
    }

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
