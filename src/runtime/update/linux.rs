//! The appliance's releases on Linux (issue 22): embedded-svc's `ota`
//! model — slots, an update written and completed, activated, the running
//! slot marked valid or invalid — over versioned directories.
//!
//! The update directory (`update_dir` in forge.toml, default `DATA/update`):
//!
//! ```text
//! state                      the releases (slots::Slots), TOML, written whole
//! lock                       held (flock) around each change of `state`
//! apply.lock                 held while an update is written and activated
//! incoming.part              a download in progress (a new one replaces it)
//! releases/7-0.2.0/goodwill  a release's binary (0755) …
//! releases/7-0.2.0/release.manifest   … and the manifest it was taken with
//! current -> releases/7-0.2.0         the release that runs (absent: the
//!                                     factory binary, the package's)
//! ```
//!
//! `state` is the truth; `current` follows it (rewritten after each change
//! and at each start), for people and tools. Every write is made durable
//! before the next step: the file, then its directory. An update is, in
//! order: written to `incoming.part` (bounded by the manifest's size,
//! hashed as it comes), fsynced, its size and SHA-256 checked, renamed into
//! its release directory (fsynced), its `selfcheck` run, then `state` takes
//! it on trial (fsynced, renamed), then `current` is swapped (a new symlink
//! renamed over the old). A power cut before `state` leaves the running
//! release as it was (a stray directory is removed by the next update);
//! after it, the next start runs the new release on trial.
//!
//! **Who starts what.** The systemd unit runs the factory binary
//! (`/usr/bin/goodwill forge`); [`launch`] counts the start in `state` and
//! execs the release `state` names, on the same process id (the unit's
//! main process, its watchdog and notify socket). The count is written by
//! the factory binary, before the new one runs a single instruction: a
//! release that dies at start, however it dies, is counted and rolled back
//! after [`Rules::max_starts`]. (Had the unit run the `current` link
//! directly, as first designed, a release that crashes before it counts its
//! own start would be restarted until systemd gives up, and the board
//! would stop forging for good.)

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use embedded_svc::io::{ErrorKind, ErrorType, Write};
use embedded_svc::ota::{FirmwareInfo, Ota, OtaUpdate, OtaUpdateFinished, Slot, SlotState};
use sha2::{Digest, Sha256};

use super::slots::{AtStart, InstallError, Release, Rules, Slots};
use super::{ManifestError, SignedManifest, MAX_FILE, THIS_TARGET};

/// The releases' state file.
pub const STATE: &str = "state";
/// The lock held around each change of [`STATE`].
pub const LOCK: &str = "lock";
/// The lock held while an update is written and activated.
pub const APPLY_LOCK: &str = "apply.lock";
/// A download in progress.
pub const INCOMING: &str = "incoming.part";
/// The directory of the releases.
pub const RELEASES: &str = "releases";
/// The link to the running release.
pub const CURRENT: &str = "current";
/// A release's binary, in its directory.
pub const BINARY: &str = "goodwill";
/// A release's manifest, in its directory.
pub const MANIFEST: &str = "release.manifest";
/// The most bytes the state file may hold.
pub const MAX_STATE: u64 = 64 * 1024;
/// Set by [`launch`] in a release's environment: its counter.
pub const RELEASE_ENV: &str = "GOODWILL_RELEASE";
/// Set by [`launch`] in a release's environment: the factory binary, which
/// a release runs again to restart (to a new release, or after a rollback).
pub const FACTORY_ENV: &str = "GOODWILL_FACTORY";
/// How long a release's `selfcheck` may take.
pub const SELFCHECK_MS: u64 = 30_000;

/// Why an update step failed. Each names what was wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// A file of the update directory.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The state file does not read.
    #[error("{path}: not a releases state file: {why} (move it away to start again from the factory binary)")]
    State {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The manifest or the binary is refused.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The release is not taken now.
    #[error(transparent)]
    Install(#[from] InstallError),
    /// The new binary's own check failed.
    #[error("the release's selfcheck failed: {0}")]
    SelfCheck(String),
    /// `initiate_update` without a manifest to check the download against.
    #[error("no manifest to write an update against (LinuxOta::expect first)")]
    NoManifest,
    /// Another update is being applied.
    #[error("another update is being applied now ({0} is held)")]
    Busy(PathBuf),
    /// The factory binary runs: nothing to roll back to or from.
    #[error("the factory binary runs: there is no release to roll back")]
    Factory,
    /// `mark_running_slot_invalid_and_reboot` did its part: the process
    /// must now restart (exec the factory binary, or exit for systemd).
    #[error("marked invalid; restarting into {0}")]
    Restart(String),
}

impl embedded_svc::io::Error for UpdateError {
    fn kind(&self) -> ErrorKind {
        match self {
            UpdateError::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::NotFound,
                std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
                std::io::ErrorKind::StorageFull => ErrorKind::OutOfMemory,
                _ => ErrorKind::Other,
            },
            UpdateError::Manifest(_) => ErrorKind::InvalidData,
            _ => ErrorKind::Other,
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> UpdateError + '_ {
    move |source| UpdateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `text` to `path` (0600; a new file only, with `new`) and syncs it.
fn write_synced(path: &Path, text: &str, new: bool) -> Result<(), UpdateError> {
    let mut f = OpenOptions::new()
        .create(true)
        .create_new(new)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io(path))
}

/// Makes a directory's entries durable (a rename or a new file in it).
fn sync_dir(dir: &Path) -> Result<(), UpdateError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// The update test's hook (built with `fault-injection` only): with
/// `GOODWILL_TEST_UPDATE_STALL=STEP`, the process stops for good at that
/// step of an update, so that a test can SIGKILL it exactly there (a power
/// cut). Steps: `written`, `renamed`, `checked`, `state`, `swapped`.
fn step(name: &str) {
    #[cfg(feature = "fault-injection")]
    if std::env::var("GOODWILL_TEST_UPDATE_STALL").is_ok_and(|s| s == name) {
        eprintln!("goodwill update: stalled at step {name} (test hook)");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    let _ = name;
}

/// An exclusive lock on a file, released when dropped (or the process dies).
#[derive(Debug)]
pub struct Lock(#[allow(dead_code)] File);

fn lock(path: &Path, wait: bool) -> Result<Option<Lock>, UpdateError> {
    use rustix::fs::{flock, FlockOperation};
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    let op = if wait {
        FlockOperation::LockExclusive
    } else {
        FlockOperation::NonBlockingLockExclusive
    };
    match flock(&f, op) {
        Ok(()) => Ok(Some(Lock(f))),
        Err(e) if !wait && e == rustix::io::Errno::WOULDBLOCK => Ok(None),
        Err(e) => Err(UpdateError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        }),
    }
}

/// The update directory: the releases, their state, the `current` link.
#[derive(Debug, Clone)]
pub struct SlotStore {
    dir: PathBuf,
}

impl SlotStore {
    /// The store in `dir`, made (0700) with its `releases` directory if
    /// missing.
    pub fn open(dir: &Path) -> Result<SlotStore, UpdateError> {
        let releases = dir.join(RELEASES);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&releases)
            .map_err(io(&releases))?;
        Ok(SlotStore {
            dir: dir.to_path_buf(),
        })
    }

    /// The store in `dir` if it was ever made, without making it.
    pub fn existing(dir: &Path) -> Option<SlotStore> {
        dir.join(RELEASES).is_dir().then(|| SlotStore {
            dir: dir.to_path_buf(),
        })
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The state file's path.
    pub fn state_path(&self) -> PathBuf {
        self.dir.join(STATE)
    }

    /// A release's directory: `releases/COUNTER-VERSION`.
    pub fn release_dir(&self, r: &Release) -> PathBuf {
        self.dir
            .join(RELEASES)
            .join(format!("{}-{}", r.counter, r.version))
    }

    /// A release's binary.
    pub fn binary(&self, r: &Release) -> PathBuf {
        self.release_dir(r).join(BINARY)
    }

    /// The releases as `state` has them (none yet: the factory binary).
    pub fn load(&self) -> Result<Slots, UpdateError> {
        let path = self.state_path();
        let text = match crate::runtime::os::read_text_bounded(&path, MAX_STATE) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Slots::default()),
            Err(e) => return Err(io(&path)(e)),
        };
        let slots: Slots = toml::from_str(&text).map_err(|e| UpdateError::State {
            path: path.clone(),
            why: e.to_string().lines().next().unwrap_or_default().to_string(),
        })?;
        for r in slots.current.iter().chain(slots.previous.iter()) {
            let ok_name = !r.version.is_empty()
                && r.version.len() <= super::MAX_VERSION
                && !r.version.starts_with('.')
                && r.version
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b".-_+".contains(&c));
            if !ok_name {
                return Err(UpdateError::State {
                    path,
                    why: format!("release version {:?} names no directory", r.version),
                });
            }
        }
        Ok(slots)
    }

    /// What identifies the state file's present contents cheaply (its
    /// modification time and size): the forger looks at it every tick.
    pub fn stamp(&self) -> Option<(std::time::SystemTime, u64)> {
        let m = fs::metadata(self.state_path()).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    /// Changes the state under its lock: `f` sees it as stored; what it
    /// leaves is written durably (temporary file, fsync, rename, fsync of
    /// the directory) and `current` follows. Returns what `f` returned.
    pub fn change<T>(&self, f: impl FnOnce(&mut Slots) -> T) -> Result<T, UpdateError> {
        let _held = lock(&self.dir.join(LOCK), true)?;
        let mut slots = self.load()?;
        let before = slots.clone();
        let out = f(&mut slots);
        if slots != before {
            self.write_state(&slots)?;
            step("state");
        }
        self.follow(&slots)?;
        Ok(out)
    }

    fn write_state(&self, slots: &Slots) -> Result<(), UpdateError> {
        let text = format!(
            "# goodwill releases — written by goodwill; `goodwill update status` reads it\n{}",
            toml::to_string(slots).expect("the state always writes")
        );
        let tmp = self.dir.join("state.new");
        let path = self.state_path();
        write_synced(&tmp, &text, false)?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        sync_dir(&self.dir)
    }

    /// Makes `current` name the release `slots` runs (removed for the
    /// factory binary): a new link renamed over the old one, atomically.
    pub fn follow(&self, slots: &Slots) -> Result<(), UpdateError> {
        let link = self.dir.join(CURRENT);
        let want = slots.current.as_ref().map(|r| {
            Path::new(RELEASES).join(
                self.release_dir(r)
                    .file_name()
                    .expect("a release directory has a name"),
            )
        });
        let have = fs::read_link(&link).ok();
        if have == want {
            return Ok(());
        }
        match want {
            Some(target) => {
                let tmp = self.dir.join("current.new");
                let _ = fs::remove_file(&tmp);
                std::os::unix::fs::symlink(&target, &tmp).map_err(io(&tmp))?;
                fs::rename(&tmp, &link).map_err(io(&link))?;
            }
            None => match fs::remove_file(&link) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&link)(e)),
            },
        }
        sync_dir(&self.dir)?;
        step("swapped");
        Ok(())
    }

    /// Removes what no longer serves: a half-written download, and release
    /// directories that are neither running nor returned to (a failed
    /// release's, an older one's). The disk holds at most two releases.
    pub fn prune(&self, slots: &Slots) -> Result<(), UpdateError> {
        let keep: Vec<PathBuf> = slots
            .current
            .iter()
            .chain(slots.previous.iter())
            .map(|r| self.release_dir(r))
            .collect();
        let releases = self.dir.join(RELEASES);
        for entry in fs::read_dir(&releases).map_err(io(&releases))? {
            let path = entry.map_err(io(&releases))?.path();
            if !keep.contains(&path) {
                fs::remove_dir_all(&path).map_err(io(&path))?;
            }
        }
        let incoming = self.dir.join(INCOMING);
        match fs::remove_file(&incoming) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&incoming)(e)),
        }
    }
}

/// What [`launch`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// The factory binary runs (no release, or every one rolled back).
    Factory,
    /// Exec this release's binary.
    Release {
        /// The release.
        release: Release,
        /// Its binary.
        path: PathBuf,
    },
}

/// The factory binary's first step as `goodwill forge`: counts this start
/// for a release on trial (durably, before anything of the release runs),
/// rolls back one that used up its starts, and says what runs. `notes`
/// receives what happened, for the log.
pub fn launch(
    store: &SlotStore,
    rules: &Rules,
    now_ms: u64,
    notes: &mut Vec<String>,
) -> Result<Launch, UpdateError> {
    let (rolled, slots) = store.change(|s| {
        let rolled = match s.at_start(rules, now_ms) {
            AtStart::Run => None,
            AtStart::RollBack { starts } => s.roll_back().map(|r| (r, starts)),
        };
        (rolled, s.clone())
    })?;
    if let Some((r, starts)) = rolled {
        notes.push(format!(
            "release {} (counter {}) rolled back after {starts} starts without proving itself; it is marked bad and never tried again",
            r.version, r.counter
        ));
    }
    if let Some(t) = slots.trial {
        notes.push(format!(
            "release {} on trial: start {} of {}",
            slots.current.as_ref().map_or("?", |r| &r.version),
            t.starts,
            rules.max_starts
        ));
    }
    Ok(match slots.current {
        None => Launch::Factory,
        Some(release) => Launch::Release {
            path: store.binary(&release),
            release,
        },
    })
}

/// A release binary's `selfcheck`: what it says it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SelfCheck {
    /// Always "goodwill".
    pub product: String,
    /// Its version.
    pub version: String,
    /// The target triple it was built for.
    pub target: String,
    /// The store schema version it writes.
    pub schema: u32,
}

impl SelfCheck {
    /// This binary's.
    pub fn this() -> SelfCheck {
        SelfCheck {
            product: super::PRODUCT.into(),
            version: crate::version().into(),
            target: THIS_TARGET.into(),
            schema: crate::store::SCHEMA_VERSION,
        }
    }
}

/// A command running `program` (a release binary, the factory binary): in
/// a test build, an ELF binary through the runner of a cross-built suite
/// (`GOODWILL_TEST_RUNNER`, e.g. qemu-user, which does not follow an
/// exec into another architecture's binary by itself); a script (the
/// suite's wrapper around the binary) runs as it is.
pub fn command(program: &Path) -> std::process::Command {
    #[cfg(feature = "fault-injection")]
    if let Some(runner) = std::env::var("GOODWILL_TEST_RUNNER")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .filter(|_| {
            let mut magic = [0u8; 4];
            File::open(program)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
                .is_ok_and(|()| magic == *b"\x7fELF")
        })
    {
        let mut words = runner.split_whitespace();
        let mut cmd = std::process::Command::new(words.next().expect("not empty"));
        cmd.args(words).arg(program);
        return cmd;
    }
    std::process::Command::new(program)
}

/// Replaces this process with `program`, given this process's arguments:
/// a release (`release`: its counter, and this binary named as the
/// factory one) or the factory binary (None). Returns only on failure.
pub fn exec(program: &Path, release: Option<u64>) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let mut cmd = command(program);
    cmd.args(std::env::args_os().skip(1));
    match release {
        Some(counter) => {
            cmd.env(RELEASE_ENV, counter.to_string());
            match std::env::current_exe() {
                Ok(me) => cmd.env(FACTORY_ENV, me),
                Err(e) => return e,
            };
        }
        None => {
            cmd.env_remove(RELEASE_ENV).env_remove(FACTORY_ENV);
        }
    }
    cmd.exec()
}

/// Runs `binary selfcheck` (at most [`SELFCHECK_MS`]) and checks that it
/// is the release `m` names, for this target and this store's schema.
pub fn self_check(binary: &Path, m: &super::Manifest) -> Result<SelfCheck, UpdateError> {
    use std::process::Stdio;
    let fail = |why: String| UpdateError::SelfCheck(why);
    let mut child = command(binary)
        .arg("selfcheck")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("{}: {e}", binary.display())))?;
    let deadline = crate::runtime::os::now_ms() + SELFCHECK_MS;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if crate::runtime::os::now_ms() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("no answer within {SELFCHECK_MS} ms")));
            }
            Err(e) => return Err(fail(e.to_string())),
        }
    };
    let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
    if !status.success() {
        return Err(fail(format!(
            "{status}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let said: SelfCheck = serde_json::from_slice(out.stdout.get(..4096).unwrap_or(&out.stdout))
        .map_err(|e| fail(format!("its answer does not read: {e}")))?;
    let mismatch = |what: &str, got: &str, want: &str| {
        fail(format!("it says {what} {got:?}, the manifest {want:?}"))
    };
    if said.product != super::PRODUCT {
        return Err(mismatch("product", &said.product, super::PRODUCT));
    }
    if said.version != m.version {
        return Err(mismatch("version", &said.version, &m.version));
    }
    if said.target != m.target {
        return Err(mismatch("target", &said.target, &m.target));
    }
    if said.schema != crate::store::SCHEMA_VERSION {
        return Err(fail(format!(
            "it writes store schema {}, this store is schema {}: a release that changes the store's schema ships in the package, not over the air (docs/operate.md, \"Releases\")",
            said.schema,
            crate::store::SCHEMA_VERSION
        )));
    }
    Ok(said)
}

/// embedded-svc's `Ota` over a [`SlotStore`]: what runs, what boots next,
/// an update written against a checked manifest, the running slot marked
/// valid or invalid.
///
/// What Linux cannot honour as the trait was made for a microcontroller:
/// - `get_update_slot`: there is no fixed partition to write; each update
///   gets its own directory, named once its manifest is known, so the slot
///   answered is labelled `releases/next` (or the expected release's
///   directory) and is [`SlotState::Unknown`] until activated.
/// - `mark_running_slot_invalid_and_reboot` cannot reboot the board (the
///   appliance has no such privilege, by design): it rolls back durably and
///   returns [`UpdateError::Restart`], on which the caller restarts the
///   process into the factory binary (the same as a reboot for goodwill).
/// - `FirmwareInfo.signature` holds 32 bytes: it carries the binary's
///   SHA-256; the ed25519 signature stays in the release's manifest.
#[derive(Debug)]
pub struct LinuxOta {
    store: SlotStore,
    /// This process's release counter (0: the factory binary).
    running: u64,
    expected: Option<SignedManifest>,
    now_ms: u64,
}

impl LinuxOta {
    /// The slots of `store`, seen from a process running release counter
    /// `running` (0: the factory binary), at `now_ms`.
    pub fn new(store: SlotStore, running: u64, now_ms: u64) -> LinuxOta {
        LinuxOta {
            store,
            running,
            expected: None,
            now_ms,
        }
    }

    /// The store.
    pub fn store(&self) -> &SlotStore {
        &self.store
    }

    /// The manifest the next update is written against (checked by the
    /// caller against the trusted keys: [`SignedManifest::check`]).
    pub fn expect(&mut self, manifest: SignedManifest) {
        self.expected = Some(manifest);
    }

    fn slot(&self, r: Option<&Release>, state: SlotState) -> Result<Slot, UpdateError> {
        let label = match r {
            None => "factory".to_string(),
            Some(r) => format!("{}/{}-{}", RELEASES, r.counter, r.version),
        };
        Ok(Slot {
            label: truncated(&label),
            state,
            firmware: r.map(info),
        })
    }

    fn state_of(slots: &Slots, r: Option<&Release>) -> SlotState {
        match r {
            None => SlotState::Factory,
            Some(r) if slots.bad.contains(&r.counter) => SlotState::Invalid,
            Some(r)
                if slots.trial.is_some()
                    && slots.current.as_ref().map(|c| c.counter) == Some(r.counter) =>
            {
                SlotState::Unverified
            }
            Some(_) => SlotState::Valid,
        }
    }
}

fn truncated<const N: usize>(s: &str) -> heapless::String<N> {
    let mut out = heapless::String::new();
    for c in s.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}

fn info(r: &Release) -> FirmwareInfo {
    FirmwareInfo {
        version: truncated(&r.version),
        released: truncated(&format!("counter {}", r.counter)),
        description: None,
        signature: hex::decode(&r.sha256)
            .ok()
            .and_then(|b| heapless::Vec::from_slice(&b).ok()),
        download_id: None,
    }
}

impl ErrorType for LinuxOta {
    type Error = UpdateError;
}

impl Ota for LinuxOta {
    type Update<'a> = Incoming<'a>;

    fn get_boot_slot(&self) -> Result<Slot, UpdateError> {
        let s = self.store.load()?;
        self.slot(s.current.as_ref(), Self::state_of(&s, s.current.as_ref()))
    }

    fn get_running_slot(&self) -> Result<Slot, UpdateError> {
        let s = self.store.load()?;
        let r = [s.current.as_ref(), s.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|r| r.counter == self.running);
        match (self.running, r) {
            (0, _) => self.slot(None, SlotState::Factory),
            (_, Some(r)) => self.slot(Some(r), Self::state_of(&s, Some(r))),
            // Running a release the state no longer names (rolled back
            // under it): it is on its way out.
            (c, None) => Ok(Slot {
                label: truncated(&format!("{RELEASES}/{c}-?")),
                state: SlotState::Invalid,
                firmware: None,
            }),
        }
    }

    fn get_update_slot(&self) -> Result<Slot, UpdateError> {
        let r = self.expected.as_ref().map(release_of);
        Ok(Slot {
            label: truncated(&match &r {
                Some(r) => format!("{RELEASES}/{}-{}", r.counter, r.version),
                None => format!("{RELEASES}/next"),
            }),
            state: SlotState::Unknown,
            firmware: r.as_ref().map(info),
        })
    }

    fn is_factory_reset_supported(&self) -> Result<bool, UpdateError> {
        Ok(true)
    }

    fn factory_reset(&mut self) -> Result<(), UpdateError> {
        self.store.change(Slots::factory_reset)
    }

    fn initiate_update(&mut self) -> Result<Incoming<'_>, UpdateError> {
        let manifest = self.expected.clone().ok_or(UpdateError::NoManifest)?;
        let apply = self.store.dir.join(APPLY_LOCK);
        let held = lock(&apply, false)?.ok_or(UpdateError::Busy(apply))?;
        // What an interrupted update left goes first.
        let slots = self.store.load()?;
        self.store.prune(&slots)?;
        let path = self.store.dir.join(INCOMING);
        let file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io(&path))?;
        Ok(Incoming {
            ota: self,
            manifest,
            file,
            path,
            hash: Sha256::new(),
            written: 0,
            _held: held,
        })
    }

    fn mark_running_slot_valid(&mut self) -> Result<(), UpdateError> {
        let running = self.running;
        self.store.change(|s| {
            if s.running() == running {
                s.commit();
            }
        })
    }

    fn mark_running_slot_invalid_and_reboot(&mut self) -> UpdateError {
        let running = self.running;
        match self.store.change(|s| {
            if running != 0 && s.running() == running {
                s.give_up()
            } else {
                None
            }
        }) {
            Ok(Some(_)) => {
                let to = self.store.load().ok().and_then(|s| s.current);
                UpdateError::Restart(match to {
                    Some(r) => format!("release {} (counter {})", r.version, r.counter),
                    None => "the factory binary".into(),
                })
            }
            Ok(None) if running == 0 => UpdateError::Factory,
            Ok(None) => UpdateError::Restart("the release the state names".into()),
            Err(e) => e,
        }
    }
}

/// The release a checked manifest installs.
pub fn release_of(m: &SignedManifest) -> Release {
    Release {
        version: m.manifest.version.clone(),
        counter: m.manifest.counter,
        sha256: hex::encode(m.manifest.sha256),
    }
}

/// An update being written: bounded by the manifest's size, hashed as it
/// comes.
#[derive(Debug)]
pub struct Incoming<'a> {
    ota: &'a mut LinuxOta,
    manifest: SignedManifest,
    file: File,
    path: PathBuf,
    hash: Sha256,
    written: u64,
    _held: Lock,
}

impl ErrorType for Incoming<'_> {
    type Error = UpdateError;
}

impl Write for Incoming<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, UpdateError> {
        let size = self.manifest.manifest.size;
        let after = self.written.saturating_add(buf.len() as u64);
        if after > size {
            return Err(ManifestError::Size {
                expected: size,
                got: after,
            }
            .into());
        }
        self.file.write_all(buf).map_err(io(&self.path))?;
        self.hash.update(buf);
        self.written = after;
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), UpdateError> {
        Ok(())
    }
}

impl<'a> OtaUpdate for Incoming<'a> {
    type OtaUpdateFinished = Finished<'a>;

    /// Checks the download (size, SHA-256) and moves it into its release
    /// directory, durably.
    fn finish(self) -> Result<Finished<'a>, UpdateError> {
        let Incoming {
            ota,
            manifest,
            file,
            path,
            hash,
            written,
            _held,
        } = self;
        let checked = file
            .sync_all()
            .map_err(io(&path))
            .and_then(|()| Ok(manifest.check_binary(written, &hash.finalize().into())?));
        drop(file);
        if let Err(e) = checked {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        step("written");
        let release = release_of(&manifest);
        let dir = ota.store.release_dir(&release);
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(io(&dir))?;
        }
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(io(&dir))?;
        write_synced(&dir.join(MANIFEST), &manifest.to_text(), true)?;
        let bin = dir.join(BINARY);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).map_err(io(&path))?;
        fs::rename(&path, &bin).map_err(io(&bin))?;
        sync_dir(&dir)?;
        sync_dir(&ota.store.dir.join(RELEASES))?;
        sync_dir(&ota.store.dir)?;
        step("renamed");
        Ok(Finished {
            ota,
            manifest,
            release,
            _held,
        })
    }

    fn complete(self) -> Result<(), UpdateError> {
        self.finish()?.activate()
    }

    fn abort(self) -> Result<(), UpdateError> {
        drop(self.file);
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&self.path)(e)),
        }
    }
}

/// A release written and checked, not yet running.
#[derive(Debug)]
pub struct Finished<'a> {
    ota: &'a mut LinuxOta,
    manifest: SignedManifest,
    release: Release,
    _held: Lock,
}

impl ErrorType for Finished<'_> {
    type Error = UpdateError;
}

impl OtaUpdateFinished for Finished<'_> {
    /// Runs the new binary's selfcheck, then takes it on trial in `state`
    /// and swaps `current`: the next start runs it.
    fn activate(self) -> Result<(), UpdateError> {
        let bin = self.ota.store.binary(&self.release);
        if let Err(e) = self_check(&bin, &self.manifest.manifest) {
            let _ = fs::remove_dir_all(self.ota.store.release_dir(&self.release));
            return Err(e);
        }
        step("checked");
        let now = self.ota.now_ms;
        let release = self.release.clone();
        self.ota
            .store
            .change(|s| s.install(release, now))?
            .map_err(UpdateError::from)
    }
}

/// The manifest file beside a release in its directory, for `update
/// status`.
pub fn manifest_of(store: &SlotStore, r: &Release) -> Option<SignedManifest> {
    let text = crate::runtime::os::read_text_bounded(
        &store.release_dir(r).join(MANIFEST),
        MAX_FILE as u64,
    )
    .ok()?;
    SignedManifest::from_text(&text).ok()
}
