//! `goodwill devnet`: a whole network on one machine. Main nodes and
//! forgers run as child processes of this same binary (exactly what runs on
//! a Pi), on free ports of 127.0.0.1, from a directory holding their keys,
//! configs, stores and logs. The devnet watches them through the same
//! queries `goodwill status` uses and draws a live view (or prints event
//! lines); it buys weight for the forgers each epoch, and with
//! `--demo-traffic` sends transfers and records.
//!
//! [`layout`] makes or reopens the directory, [`plan`] decides purchases and
//! traffic, [`view`] draws; this module runs the processes and the loop.

pub mod layout;
pub mod plan;
pub mod view;

use std::collections::VecDeque;
use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use futures_lite::{future, StreamExt as _};

use crate::chain::crypto::{Keypair, PublicKey};
use crate::chain::tx::TxKind;
use crate::runtime::client::Client;
use crate::sim::rng::SplitMix;
use crate::wire::{Answer, Query};
use layout::{Asked, Layout, Member, NewShape};
use view::{ApplianceSeen, Event, Frame, Life, Row, Seen};

/// The environment variable that tells a child which process started it;
/// the child asks the kernel to stop it when that process exits.
pub const PARENT_ENV: &str = "GOODWILL_DEVNET_PARENT";

/// A command that runs the children (words split on spaces, the binary's
/// path and arguments after them), e.g. `qemu-aarch64-static -L /` when
/// the tests run an ARM build under emulation; unset, they run directly.
pub const RUNNER_ENV: &str = "GOODWILL_TEST_RUNNER";

/// How long a child gets to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);
/// How long a main node gets to open its port.
const START_WAIT: Duration = Duration::from_secs(30);
/// How often the view is redrawn and the nodes asked.
const REFRESH: Duration = Duration::from_millis(250);
/// How long one question to a node may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);
/// Event lines kept under the live view.
const RECENT: usize = 8;

/// `goodwill devnet` settings.
#[derive(Debug, clap::Args)]
pub struct DevnetArgs {
    /// Forgers to run [default: 3]. A resumed devnet keeps its own.
    #[arg(long)]
    pub forgers: Option<u32>,
    /// Main nodes to run [default: 1].
    #[arg(long)]
    pub main_nodes: Option<u32>,
    /// The devnet's directory: created if new or empty, resumed if it
    /// holds a devnet [default: a new directory under the system's temp dir].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Slot length in ms [default: 1000].
    #[arg(long)]
    pub slot_ms: Option<u64>,
    /// Slots per epoch [default: 20].
    #[arg(long)]
    pub epoch_slots: Option<u64>,
    /// Print one JSON object per event instead of the live view.
    #[arg(long)]
    pub json_log: bool,
    /// Also send random transfers and records between the demo users.
    #[arg(long)]
    pub demo_traffic: bool,
    /// Stop by itself once the first main node reaches this height.
    #[arg(long)]
    pub until_height: Option<u64>,
}

/// Runs a devnet until Ctrl-C (SIGINT), SIGTERM, SIGHUP or `--until-height`.
pub fn run(args: DevnetArgs) -> Result<(), DevnetError> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!(
            "goodwill-devnet-{}",
            &crate::chain::crypto::Hash(crate::runtime::os::random_bytes()).to_hex()[..8]
        )),
    };
    let asked = Asked {
        forgers: args.forgers,
        main_nodes: args.main_nodes,
        slot_ms: args.slot_ms,
        epoch_slots: args.epoch_slots,
    };
    let shape = NewShape {
        forgers: args.forgers.unwrap_or(3),
        main_nodes: args.main_nodes.unwrap_or(1),
        slot_ms: args.slot_ms.unwrap_or(1_000),
        epoch_slots: args.epoch_slots.unwrap_or(20),
    };
    // A directory a devnet is running in is said to be so, before anything
    // in it is touched (its nodes would each refuse the locked stores).
    let mut lock = if dir.join(layout::SHAPE_FILE).exists() {
        Some(hold(&dir)?)
    } else {
        None
    };
    let layout = Layout::open_or_create(&dir, shape, asked)?;
    if lock.is_none() {
        lock = Some(hold(&dir)?);
    }
    let _lock = lock;
    let exe = std::env::current_exe().map_err(DevnetError::Exe)?;
    let mut out = Output::new(args.json_log);
    for (name, old, new) in &layout.moved {
        out.event(Event::Problem {
            what: format!("{name}'s port {old} is taken now; it listens on {new}"),
        });
    }
    let mut kids = Kids::default();
    // Children are started from this thread: the kernel's parent-death
    // signal follows the thread that started them.
    let result = future::block_on(async {
        let mut signals = async_signal::Signals::new([
            async_signal::Signal::Int,
            async_signal::Signal::Term,
            async_signal::Signal::Hup,
            async_signal::Signal::Winch,
        ])
        .map_err(DevnetError::Signals)?;
        kids.start(&exe, &layout, &mut signals).await?;
        let commands = play(&layout, &invocation(&exe));
        // For a terminal too small to show them in the view (it says so).
        let _ = std::fs::write(
            layout.dir.join(view::COMMANDS_FILE),
            commands.join("\n") + "\n",
        );
        out.event(Event::Ready {
            dir: layout.dir.clone(),
            created: layout.created,
            chain_id: layout.params.chain_id(),
            http: layout.http,
            main_nodes: kids.listed(false),
            forgers: kids.listed(true),
            users: layout
                .users
                .iter()
                .map(|(n, k, a)| (n.clone(), k.clone(), a.to_string()))
                .collect(),
            commands: commands.clone(),
        });
        let mut watch = Watch::new(&layout, &args, commands)?;
        let why = watch.run(&layout, &mut kids, &mut out, &mut signals).await;
        Ok::<String, DevnetError>(why)
    });
    let (why, failed) = match result {
        Ok(why) => (why, None),
        Err(e) => (format!("error: {e}"), Some(e)),
    };
    out.leave_screen();
    out.event(Event::Stopping { why: why.clone() });
    let (clean, of) = kids.stop(&mut out);
    out.event(Event::Stopped { clean, of });
    out.after(&format!(
        "resume it with: {} devnet --dir {}",
        invocation(&exe),
        layout.dir.display()
    ));
    if let Some(e) = failed {
        return Err(e);
    }
    if let Some(e) = why.strip_prefix("error: ") {
        return Err(DevnetError::Stopped(e.to_string()));
    }
    if clean < of {
        return Err(DevnetError::Unclean {
            unclean: of - clean,
            of,
            dir: layout.dir.clone(),
        });
    }
    Ok(())
}

/// Why a devnet could not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevnetError {
    /// Its directory could not be created or resumed.
    #[error(transparent)]
    Layout(#[from] layout::LayoutError),
    /// This program's own path is unknown (the children run it).
    #[error("this program's path: {0}")]
    Exe(std::io::Error),
    /// The signal handlers could not be set up.
    #[error("signal handlers: {0}")]
    Signals(std::io::Error),
    /// Another devnet runs in the directory.
    #[error("{} is in use: {}, or give another --dir", .dir.display(), running(*.pid))]
    InUse {
        /// The directory.
        dir: PathBuf,
        /// The process id in its lock file, if it could be read.
        pid: Option<u32>,
    },
    /// A file of the devnet.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Interrupted (Ctrl-C, SIGTERM) before every main node listened.
    #[error("interrupted while starting")]
    Interrupted,
    /// A child could not be started.
    #[error("starting {name}: {source}")]
    Spawn {
        /// The child.
        name: String,
        /// The error.
        source: std::io::Error,
    },
    /// A child (main node or forger) exited before it listened.
    #[error("{name} exited at start ({how}):\n{log}")]
    ExitedAtStart {
        /// The child.
        name: String,
        /// How it exited.
        how: String,
        /// The end of its log.
        log: String,
    },
    /// A child (main node or forger) did not listen in time.
    #[error("{name} did not listen on {addr} within {} s:\n{log}", START_WAIT.as_secs())]
    NotListening {
        /// The child.
        name: String,
        /// Where it should listen.
        addr: SocketAddr,
        /// The end of its log.
        log: String,
    },
    /// A key file of the devnet.
    #[error(transparent)]
    Key(#[from] crate::runtime::keyfile::KeyFileError),
    /// The devnet stopped on a failure of its own (every main node exited…).
    #[error("{0}")]
    Stopped(String),
    /// Some children did not exit cleanly.
    #[error("{unclean} of {of} nodes did not exit cleanly: see their logs in {}", .dir.display())]
    Unclean {
        /// How many did not.
        unclean: usize,
        /// Of how many.
        of: usize,
        /// The devnet's directory.
        dir: PathBuf,
    },
}

fn running(pid: Option<u32>) -> String {
    match pid {
        Some(pid) => format!("a devnet is running in it now (pid {pid}): stop it with Ctrl-C in its terminal or `kill {pid}`"),
        None => "a devnet is running in it now: stop it with Ctrl-C in its terminal".into(),
    }
}

/// The file a running devnet holds locked, with its process id in it.
const LOCK_FILE: &str = "devnet.lock";

/// Locks `dir` for this devnet for as long as the file lives (the kernel
/// drops the lock when the process ends, however it ends), or says which
/// devnet holds it.
fn hold(dir: &Path) -> Result<std::fs::File, DevnetError> {
    let path = dir.join(LOCK_FILE);
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| DevnetError::Io {
            path: path.clone(),
            source,
        })?;
    match f.try_lock() {
        Ok(()) => {
            let _ = f.set_len(0);
            let _ = writeln!(f, "{}", std::process::id());
            Ok(f)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut std::io::Read::take(&mut f, 32), &mut text);
            Err(DevnetError::InUse {
                dir: dir.to_path_buf(),
                pid: text.trim().parse::<u32>().ok(),
            })
        }
        Err(std::fs::TryLockError::Error(source)) => Err(DevnetError::Io { path, source }),
    }
}

/// How to call this binary in pasted commands: `goodwill` when that is what
/// the shell finds, else its full path (e.g. under `target/release`).
fn invocation(exe: &Path) -> String {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("goodwill"))
            .find(|p| p.is_file())
    });
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    match on_path {
        Some(p) if same(&p, exe) => "goodwill".into(),
        _ => exe.display().to_string(),
    }
}

/// Ready-to-paste commands against the running devnet.
fn play(layout: &Layout, goodwill: &str) -> Vec<String> {
    let main = layout
        .mains()
        .next()
        .expect("a devnet has a main node")
        .addr;
    let (first, key, _) = &layout.users[0];
    let (second, _, to) = &layout.users[1];
    let key = key.display();
    let mut lines = vec![
        format!("play: {first}'s key is funded ({key}); {second} is {to}"),
        format!("  {goodwill} wallet send --key {key} --to {to} --amount 5 --memo hello --node {main} --wait"),
        format!("  {goodwill} data put --key {key} --name greeting --value \"hello goodwill\" --node {main} --wait"),
        format!("  {goodwill} wallet balance {to} --node {main}"),
        format!("  {goodwill} association list --node {main}"),
    ];
    if let Some(f) = layout.forgers().next() {
        lines.push(format!("  {goodwill} status --node {}", f.addr));
    }
    // The first main node's HTTP API, for any language (docs/http.md).
    let http = layout.http;
    lines.push(format!(
        "explorer: http://{http}/ and its JSON API (docs/http.md):"
    ));
    lines.push(format!("  curl -s http://{http}/api/v1/status"));
    lines.push(format!("  curl -s http://{http}/api/v1/blocks/1"));
    lines.push(format!("  curl -s http://{http}/api/v1/accounts/{to}"));
    lines
}

/// One running child.
#[derive(Debug)]
struct Kid {
    member: Member,
    child: Child,
    life: Life,
}

/// The children, main nodes first.
#[derive(Debug, Default)]
struct Kids(Vec<Kid>);

impl Kids {
    /// Starts the main nodes (each one listening before the next starts,
    /// so a later one can register with it), then the forgers, and waits
    /// until each forger answers on its status port too: a child that
    /// cannot start is named here, with its log, not found missing later.
    async fn start(
        &mut self,
        exe: &Path,
        layout: &Layout,
        signals: &mut async_signal::Signals,
    ) -> Result<(), DevnetError> {
        for m in layout.mains() {
            self.spawn(exe, m)?;
            self.listening(self.0.len() - 1, signals).await?;
        }
        let first = self.0.len();
        for f in layout.forgers() {
            self.spawn(exe, f)?;
        }
        for i in first..self.0.len() {
            self.listening(i, signals).await?;
        }
        Ok(())
    }

    /// Waits until child `i` listens, unless interrupted first.
    async fn listening(
        &mut self,
        i: usize,
        signals: &mut async_signal::Signals,
    ) -> Result<(), DevnetError> {
        let opened = future::or(async { Some(self.wait_listening(i).await) }, async {
            // A resized terminal is no reason to stop.
            while let Some(Ok(async_signal::Signal::Winch)) = signals.next().await {}
            None
        })
        .await;
        opened.unwrap_or(Err(DevnetError::Interrupted))
    }

    fn spawn(&mut self, exe: &Path, m: &Member) -> Result<(), DevnetError> {
        let io = |source| DevnetError::Io {
            path: m.log(),
            source,
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(m.log())
            .map_err(io)?;
        let err = log.try_clone().map_err(io)?;
        let child = {
            use std::os::unix::process::CommandExt as _;
            let runner: Vec<String> = std::env::var(RUNNER_ENV)
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect();
            let mut cmd = match runner.split_first() {
                Some((program, words)) => {
                    let mut c = Command::new(program);
                    c.args(words).arg(exe);
                    c
                }
                None => Command::new(exe),
            };
            cmd.args(m.args())
                .current_dir(&m.dir)
                .env(PARENT_ENV, std::process::id().to_string())
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(err)
                // Its own process group: Ctrl-C in the terminal reaches the
                // devnet only, which then stops the children in order.
                .process_group(0)
                .spawn()
                .map_err(|source| DevnetError::Spawn {
                    name: m.name.clone(),
                    source,
                })?
        };
        self.0.push(Kid {
            member: m.clone(),
            child,
            life: Life::Running,
        });
        Ok(())
    }

    /// Waits until child `i` accepts connections on its address.
    async fn wait_listening(&mut self, i: usize) -> Result<(), DevnetError> {
        let give_up = crate::runtime::os::now_ms() + START_WAIT.as_millis() as u64;
        let addr = self.0[i].member.addr;
        loop {
            if smol::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            let kid = &mut self.0[i];
            if let Ok(Some(status)) = kid.child.try_wait() {
                kid.life = Life::Exited(how(status));
                return Err(DevnetError::ExitedAtStart {
                    name: kid.member.name.clone(),
                    how: how(status),
                    log: log_tail(&kid.member.log(), 8),
                });
            }
            if crate::runtime::os::now_ms() > give_up {
                return Err(DevnetError::NotListening {
                    name: kid.member.name.clone(),
                    addr,
                    log: log_tail(&kid.member.log(), 8),
                });
            }
            smol::Timer::after(Duration::from_millis(50)).await;
        }
    }

    fn listed(&self, forgers: bool) -> Vec<(String, SocketAddr, u32)> {
        self.0
            .iter()
            .filter(|k| k.member.forger == forgers)
            .map(|k| (k.member.name.clone(), k.member.addr, k.child.id()))
            .collect()
    }

    /// Children that exited since the last look.
    fn reap(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        for k in &mut self.0 {
            if k.life != Life::Running {
                continue;
            }
            if let Ok(Some(status)) = k.child.try_wait() {
                k.life = Life::Exited(how(status));
                events.push(Event::Exited {
                    name: k.member.name.clone(),
                    how: how(status),
                    log: k.member.log(),
                });
            }
        }
        events
    }

    fn life(&self, name: &str) -> Life {
        self.0
            .iter()
            .find(|k| k.member.name == name)
            .map_or(Life::Exited("not started".into()), |k| k.life.clone())
    }

    /// Stops the forgers, then the main nodes: SIGTERM, then SIGKILL after
    /// [`STOP_GRACE`]. Returns (exited cleanly, of how many).
    fn stop(&mut self, out: &mut Output) -> (usize, usize) {
        for forgers in [true, false] {
            let group: Vec<&mut Kid> = self
                .0
                .iter_mut()
                .filter(|k| k.member.forger == forgers)
                .collect();
            for k in &group {
                if k.life == Life::Running {
                    let _ = crate::runtime::os::terminate(k.child.id());
                }
            }
            let give_up = crate::runtime::os::now_ms() + STOP_GRACE.as_millis() as u64;
            for k in group {
                let was_running = k.life == Life::Running;
                while k.life == Life::Running {
                    match k.child.try_wait() {
                        Ok(Some(status)) => k.life = Life::Exited(how(status)),
                        Ok(None) if crate::runtime::os::now_ms() < give_up => {
                            std::thread::sleep(Duration::from_millis(20))
                        }
                        _ => {
                            let _ = k.child.kill();
                            let status = k.child.wait();
                            k.life = Life::Exited(format!(
                                "killed after {} s without stopping ({})",
                                STOP_GRACE.as_secs(),
                                status.map(how).unwrap_or_else(|e| e.to_string())
                            ));
                        }
                    }
                }
                if let (true, Life::Exited(h)) = (was_running, &k.life) {
                    if h != "exit status 0" {
                        out.event(Event::Exited {
                            name: k.member.name.clone(),
                            how: h.clone(),
                            log: k.member.log(),
                        });
                    }
                }
            }
        }
        let clean = self
            .0
            .iter()
            .filter(|k| k.life == Life::Exited("exit status 0".into()))
            .count();
        (clean, self.0.len())
    }
}

fn how(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => status.to_string(),
    }
}

/// The last `n` lines of a log, indented: from its last 16 KiB only, so a
/// long log is never read whole.
fn log_tail(path: &Path, n: usize) -> String {
    use std::io::{Read as _, Seek as _, SeekFrom};
    const TAIL: u64 = 16 << 10;
    let mut bytes = Vec::with_capacity(TAIL as usize);
    if let Ok(mut f) = std::fs::File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f
            .seek(SeekFrom::Start(len.saturating_sub(TAIL)))
            .and_then(|_| f.take(TAIL).read_to_end(&mut bytes));
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where events and frames go.
struct Output {
    /// The live view (a terminal), with colours or not.
    live: Option<bool>,
    json: bool,
    recent: VecDeque<String>,
    on_screen: bool,
    /// The frame on screen: redrawn on a resize, summed up when the view closes.
    last_frame: Option<Frame>,
}

impl Output {
    fn new(json: bool) -> Output {
        let tty = std::io::stdout().is_terminal();
        let live = (tty && !json).then(|| {
            std::env::var_os("NO_COLOR").is_none()
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        });
        Output {
            live,
            json,
            recent: VecDeque::new(),
            on_screen: false,
            last_frame: None,
        }
    }

    fn print(&self, text: &str) {
        let mut o = std::io::stdout().lock();
        // Whoever reads our output may be gone; the devnet goes on.
        let _ = writeln!(o, "{text}").and_then(|_| o.flush());
    }

    /// JSON lines; under the live view, into its "recent" list; else plain
    /// lines. (The ready lines come before the view opens the alternate
    /// screen, so they are still on the terminal when it closes.)
    fn event(&mut self, e: Event) {
        if self.json {
            self.print(&e.json().to_string());
        } else if self.on_screen {
            for line in e.plain().lines() {
                if self.recent.len() == RECENT {
                    self.recent.pop_front();
                }
                self.recent.push_back(line.to_string());
            }
        } else {
            self.print(&e.plain());
        }
    }

    fn frame(&mut self, f: &Frame, now_ms: u64) {
        let Some(colours) = self.live else { return };
        if !self.on_screen {
            // The terminal's alternate screen, cursor hidden: the view is
            // redrawn in place and the shell's screen comes back after.
            self.print("\x1b[?1049h\x1b[?25l");
            self.on_screen = true;
        }
        let size = rustix::termios::tcgetwinsize(std::io::stdout())
            .ok()
            .filter(|w| w.ws_col > 0 && w.ws_row > 0)
            .map_or(view::Size::FALLBACK, |w| view::Size {
                cols: usize::from(w.ws_col),
                rows: usize::from(w.ws_row),
            });
        let text = view::render(f, now_ms, colours, size);
        self.last_frame = Some(f.clone());
        let mut s = String::from("\x1b[H");
        for line in text.lines() {
            s.push_str(line);
            s.push_str("\x1b[K\n");
        }
        s.push_str("\x1b[J");
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(s.as_bytes()).and_then(|_| o.flush());
    }

    fn leave_screen(&mut self) {
        if self.on_screen {
            self.on_screen = false;
            self.print("\x1b[?25h\x1b[?1049l");
            // The shell's screen still shows the lines from before the
            // view opened: end them with where the chain stood.
            if let Some(f) = &self.last_frame {
                self.print(&view::summary(f));
            }
        }
    }

    /// A closing remark for people (not in the JSON log).
    fn after(&self, text: &str) {
        if !self.json {
            self.print(text);
        }
    }

    fn recent(&self) -> Vec<String> {
        self.recent.iter().cloned().collect()
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.leave_screen();
    }
}

/// The loop's memory between refreshes.
struct Watch {
    conns: Vec<Option<Client>>,
    rows: Vec<Row>,
    last_height: Option<u64>,
    last_forger: Option<String>,
    donations: u128,
    schedule: Option<view::Schedule>,
    bought_in: Option<u64>,
    forger_keys: Vec<(String, Keypair)>,
    names: Vec<(PublicKey, String)>,
    users: Vec<Keypair>,
    user_names: Vec<String>,
    traffic: Option<(SplitMix, u64, u64)>,
    until: Option<u64>,
    commands: Vec<String>,
    association: PublicKey,
}

impl Watch {
    fn new(
        layout: &Layout,
        args: &DevnetArgs,
        commands: Vec<String>,
    ) -> Result<Watch, DevnetError> {
        let read = crate::runtime::keyfile::read;
        let forger_keys = layout
            .forgers()
            .map(|f| Ok((f.name.clone(), read(&layout.key_file(&f.name))?)))
            .collect::<Result<_, crate::runtime::keyfile::KeyFileError>>()?;
        let users = layout
            .users
            .iter()
            .map(|(_, k, _)| read(k))
            .collect::<Result<_, _>>()?;
        Ok(Watch {
            conns: layout.members.iter().map(|_| None).collect(),
            rows: Vec::new(),
            last_height: None,
            last_forger: None,
            donations: 0,
            schedule: None,
            bought_in: None,
            forger_keys,
            names: layout
                .members
                .iter()
                .map(|m| (m.key, m.name.clone()))
                .collect(),
            users,
            user_names: layout.users.iter().map(|(n, _, _)| n.clone()).collect(),
            traffic: args
                .demo_traffic
                .then(|| (SplitMix::new(crate::runtime::os::random_u64()), 0, u64::MAX)),
            until: args.until_height,
            commands,
            association: layout.association,
        })
    }

    fn name_of(&self, key: &PublicKey) -> String {
        self.names
            .iter()
            .find(|(k, _)| k == key)
            .map_or_else(|| key.to_string(), |(_, n)| n.clone())
    }

    /// Refreshes until a signal, `--until-height`, or every main node gone;
    /// returns why it stopped.
    async fn run(
        &mut self,
        layout: &Layout,
        kids: &mut Kids,
        out: &mut Output,
        signals: &mut async_signal::Signals,
    ) -> String {
        loop {
            let signal = future::or(async { signals.next().await.map(|s| s.ok()) }, async {
                smol::Timer::after(REFRESH).await;
                None
            })
            .await;
            if let Some(s) = signal {
                if s == Some(async_signal::Signal::Winch) {
                    // The terminal was resized: redraw now, at its new size.
                    if let Some(f) = out.last_frame.take() {
                        out.frame(&f, crate::runtime::os::now_ms());
                    }
                    continue;
                }
                return match s {
                    Some(async_signal::Signal::Term) => "SIGTERM".into(),
                    Some(async_signal::Signal::Hup) => "SIGHUP".into(),
                    _ => "Ctrl-C".into(),
                };
            }
            for e in kids.reap() {
                out.event(e);
            }
            if let Some(why) = self.refresh(layout, kids, out).await {
                return why;
            }
        }
    }

    async fn refresh(&mut self, layout: &Layout, kids: &Kids, out: &mut Output) -> Option<String> {
        let now = crate::runtime::os::now_ms();
        let slot = layout.params.slot_at(now);
        let epoch = layout.params.epoch_of(slot);
        let mut rows = Vec::with_capacity(layout.members.len());
        for (i, m) in layout.members.iter().enumerate() {
            let life = kids.life(&m.name);
            let seen = if life == Life::Running {
                ask(&mut self.conns[i], m).await
            } else {
                self.conns[i] = None;
                None
            };
            rows.push(Row {
                name: m.name.clone(),
                forger: m.forger,
                addr: m.addr,
                life,
                seen,
                log: m.log(),
            });
        }
        self.rows = rows;
        // The chain as the first main node that answers sees it.
        let main = self.rows.iter().position(|r| !r.forger && r.seen.is_some());
        let height = main.and_then(|i| self.rows[i].seen.as_ref().map(|s| s.height));
        if let (Some(i), Some(h)) = (main, height) {
            self.blocks(i, h, layout, out).await;
            if let Some(c) = self.conns[i].as_mut() {
                if let Ok(Ok(list)) = timeout(c.associations()).await {
                    self.donations = list.iter().map(|(_, p)| p.donations).sum();
                }
            }
            let schedule = view::Schedule::of(&self.rows);
            if self.schedule.map(|s| s.weighted()) != Some(schedule.weighted()) {
                self.schedule = Some(schedule);
                out.event(Event::Schedule { epoch, schedule });
            }
            if plan::time_to_buy(epoch, h, self.bought_in) {
                self.bought_in = Some(epoch);
                self.buy(i, epoch, kids, out).await;
            }
            if self.traffic.as_ref().is_some_and(|t| t.2 != slot) {
                self.send_demo(i, slot, out).await;
            }
        }
        let frame = Frame {
            dir: layout.dir.clone(),
            chain_id: layout.params.chain_id(),
            slot_ms: layout.params.genesis().slot_ms,
            epoch_slots: layout.params.genesis().epoch_slots,
            slot,
            epoch,
            rows: self.rows.clone(),
            last_forger: self.last_forger.clone(),
            donations: self.donations,
            play: self.commands.clone(),
            recent: out.recent(),
        };
        out.frame(&frame, now);
        if self
            .rows
            .iter()
            .all(|r| r.forger || r.life != Life::Running)
        {
            return Some("error: every main node has exited".into());
        }
        match (self.until, height) {
            (Some(u), Some(h)) if h >= u => Some(format!("height {h} reached")),
            _ => None,
        }
    }

    /// Reports the blocks that joined the chain since the last refresh.
    async fn blocks(&mut self, main: usize, height: u64, layout: &Layout, out: &mut Output) {
        let from = match self.last_height {
            // Only new blocks: a resumed chain's history is not replayed.
            None => height.max(1),
            Some(h) => h + 1,
        };
        // At most 64 lines per refresh; a long gap is summed up.
        let from = from.max(height.saturating_sub(63));
        for h in from..=height {
            let Some(c) = self.conns[main].as_mut() else {
                return;
            };
            let block = match timeout(c.block_at(h)).await {
                Ok(Ok(Some(b))) => b,
                _ => return, // asked again at the next refresh
            };
            let header = &block.header.header;
            let forger = self.name_of(&header.forger);
            self.last_forger = Some(forger.clone());
            self.last_height = Some(h);
            out.event(Event::Block {
                height: h,
                hash: block.hash(),
                slot: header.slot,
                epoch: layout.params.epoch_of(header.slot),
                forger,
                txs: block.txs.len(),
            });
        }
        if self.last_height.is_none() {
            self.last_height = Some(height);
        }
    }

    /// Every running forger buys weight for the epoch after next, with a
    /// donation to the demo association.
    async fn buy(&mut self, main: usize, epoch: u64, kids: &Kids, out: &mut Output) {
        let Some(c) = self.conns[main].as_mut() else {
            return;
        };
        let association = self.association;
        for (i, (name, key)) in self.forger_keys.iter().enumerate() {
            if kids.life(name) != Life::Running {
                continue;
            }
            let amount = plan::weight_amount(i);
            let for_epoch = plan::purchase_epoch(epoch);
            let kind = TxKind::BuyWeight {
                epoch: for_epoch,
                amount,
                association,
            };
            match timeout(c.send_tx(key, kind, None, b"devnet")).await {
                Ok(Ok(id)) => out.event(Event::Bought {
                    forger: name.clone(),
                    epoch: for_epoch,
                    amount,
                    id,
                }),
                Ok(Err(e)) => out.event(Event::Problem {
                    what: format!("{name} could not buy weight: {e}"),
                }),
                Err(e) => out.event(Event::Problem {
                    what: format!("{name} could not buy weight: {e}"),
                }),
            }
        }
    }

    /// One demo transaction per slot.
    async fn send_demo(&mut self, main: usize, slot: u64, out: &mut Output) {
        let Some((rng, n, last)) = self.traffic.as_mut() else {
            return;
        };
        *last = slot;
        *n += 1;
        let users = self.users.len();
        let d = plan::demo(rng, users, *n);
        let Some(c) = self.conns[main].as_mut() else {
            return;
        };
        let (what, sent) = match &d {
            plan::Demo::Transfer {
                from,
                to,
                amount,
                memo,
            } => (
                format!(
                    "{} GWL from {} to {}",
                    crate::chain::amount::format_coins(*amount),
                    self.user_names[*from],
                    self.user_names[*to]
                ),
                timeout(c.transfer(
                    &self.users[*from],
                    self.users[*to].public(),
                    *amount,
                    None,
                    memo.as_bytes(),
                ))
                .await,
            ),
            plan::Demo::Record { from, name, value } => (
                format!("record {name} = {value:?} by {}", self.user_names[*from]),
                timeout(c.put_data(&self.users[*from], name.as_bytes(), value.as_bytes())).await,
            ),
        };
        match sent {
            Ok(Ok(id)) => out.event(Event::Sent { what, id }),
            Ok(Err(e)) => out.event(Event::Problem {
                what: format!("{what}: {e}"),
            }),
            Err(e) => out.event(Event::Problem {
                what: format!("{what}: {e}"),
            }),
        }
    }
}

/// `f`, or an error after [`ASK_TIMEOUT`].
async fn timeout<T>(f: impl std::future::Future<Output = T>) -> Result<T, NoAnswer> {
    future::or(async { Ok(f.await) }, async {
        smol::Timer::after(ASK_TIMEOUT).await;
        Err(NoAnswer)
    })
    .await
}

/// A node that did not answer within [`ASK_TIMEOUT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no answer within {} s", ASK_TIMEOUT.as_secs())]
struct NoAnswer;

/// Asks a node for its status (and a forger for its own figures), over the
/// connection kept from the last time or a new one.
async fn ask(conn: &mut Option<Client>, m: &Member) -> Option<Seen> {
    if conn.is_none() {
        *conn = timeout(Client::connect(&m.addr.to_string()))
            .await
            .ok()
            .and_then(Result::ok);
    }
    let c = conn.as_mut()?;
    let seen = timeout(async {
        let s = c.status().await?;
        let appliance = if m.forger {
            match c.query(Query::Appliance).await? {
                Answer::Appliance(a) => Some(ApplianceSeen {
                    leds: a.leds,
                    forged: a.forged_total,
                    weight: a.weight,
                    synced: a.synced,
                    last_miss: a.last_miss,
                }),
                _ => None,
            }
        } else {
            None
        };
        Ok::<_, crate::runtime::client::ClientError>(Seen {
            height: s.tip.height,
            tip: s.tip.hash,
            peers: s.peers.len(),
            forgers: s.forgers,
            mempool: s.mempool,
            appliance,
        })
    })
    .await;
    match seen {
        Ok(Ok(s)) => Some(s),
        _ => {
            *conn = None; // a new connection next time
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_tail_is_its_last_lines_read_from_its_end_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let text: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&log, text).unwrap();
        assert_eq!(log_tail(&log, 2), "    line 19998\n    line 19999");
        assert_eq!(log_tail(&dir.path().join("missing"), 2), "");
    }
}
