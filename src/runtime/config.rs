//! What the roles read at start: the genesis (bounded, then validated by
//! [`Genesis::from_file`]), and each role's settings — one struct per role
//! ([`NodeSettings`], [`ForgeSettings`]) that is both its flags (clap) and
//! its `--config` TOML file (serde), merged flag over file over default,
//! then resolved into the runtime's [`NodeConfig`] in one place.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::chain::genesis::{ChainParams, Checkpoint, Genesis, GenesisError};
use crate::chain::limits;
use crate::runtime::forge::{self as f, ForgeConfig};
use crate::runtime::keyfile;
use crate::runtime::node::{NodeConfig, NodeLimits};

/// Reads and validates a genesis TOML file (at most
/// [`limits::GENESIS_FILE_BYTES`]).
pub fn load_genesis(path: &Path) -> Result<ChainParams, GenesisError> {
    let text = super::os::read_text_bounded(path, limits::GENESIS_FILE_BYTES).map_err(|e| {
        if e.kind() == std::io::ErrorKind::FileTooLarge {
            GenesisError::Invalid(format!(
                "{}: a genesis file is at most {} bytes",
                path.display(),
                limits::GENESIS_FILE_BYTES
            ))
        } else {
            GenesisError::Io {
                path: path.display().to_string(),
                source: e,
            }
        }
    })?;
    Genesis::from_file(path, &text)
}

/// Why a configuration file could not be read. Each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Longer than [`limits::CONFIG_FILE_BYTES`].
    #[error("{}: a configuration file is at most {limit} bytes", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit (bytes).
        limit: u64,
    },
    /// Could not be read.
    #[error("{}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Not the TOML expected.
    #[error("{}: {source}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The error.
        source: toml::de::Error,
    },
}

/// Reads a configuration file of at most [`limits::CONFIG_FILE_BYTES`]
/// (no more is read, whatever the file claims).
pub fn read_config(path: &Path) -> Result<String, ConfigError> {
    let limit = limits::CONFIG_FILE_BYTES;
    super::os::read_text_bounded(path, limit).map_err(|e| {
        if e.kind() == std::io::ErrorKind::FileTooLarge {
            ConfigError::TooLarge {
                path: path.to_path_buf(),
                limit,
            }
        } else {
            ConfigError::Read {
                path: path.to_path_buf(),
                source: e,
            }
        }
    })
}

/// Reads a settings file: TOML whose keys are the role's settings.
fn load_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = read_config(path)?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// Why a role's settings cannot start it (a refusal, exit status 2). Each
/// says what to fix; the texts are the ones `goodwill node`/`forge` print.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The `--config` file.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A setting the role cannot start without.
    #[error("--{0} is required (or `{0} = ...` in --config)")]
    Missing(&'static str),
    /// The genesis file, or a checkpoint it contradicts.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// The key file.
    #[error(transparent)]
    Key(#[from] keyfile::KeyFileError),
    /// The board profile.
    #[error(transparent)]
    Board(#[from] crate::runtime::board::BoardError),
    /// The clock check's name.
    #[error(transparent)]
    ClockCheck(#[from] crate::peer::forging::UnknownClockCheck),
    /// A setting's value (an address, a number out of range): the text
    /// names the flag and what it should be.
    #[error("{0}")]
    Value(String),
}

/// A setting the role cannot start without.
fn need<T>(v: Option<T>, what: &'static str) -> Result<T, SettingsError> {
    v.ok_or(SettingsError::Missing(what))
}

/// A repeated flag given replaces the file's list; none given keeps it.
fn flags_or_file(flags: Vec<String>, file: Vec<String>) -> Vec<String> {
    if flags.is_empty() {
        file
    } else {
        flags
    }
}

/// Checks an address given to dial or to advertise: `host:port`, a port
/// number, and no longer than the wire carries
/// ([`crate::wire::limits::ADDR`] bytes).
pub fn check_addr(flag: &str, addr: &str) -> Result<(), SettingsError> {
    let max = crate::wire::limits::ADDR;
    if addr.len() > max {
        return Err(SettingsError::Value(format!(
            "{flag} {addr:?}: {} bytes; an address is at most {max} bytes",
            addr.len()
        )));
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(())
        }
        _ => Err(SettingsError::Value(format!(
            "{flag} {addr:?}: write host:port, e.g. 127.0.0.1:7070 or node.example.org:7070"
        ))),
    }
}

/// The genesis with the checkpoints given beside it.
fn chain(genesis: &Path, checkpoints: &[Checkpoint]) -> Result<ChainParams, SettingsError> {
    Ok(load_genesis(genesis).and_then(|p| p.with_checkpoints(checkpoints))?)
}

/// `goodwill node` settings; `--config FILE` gives them in TOML, flags override.
///
/// Each field is a flag and the `--config` file's key of the same name
/// (`--peer` is `peers`, `--checkpoint` is `checkpoints`).
#[derive(Debug, Clone, Default, clap::Args, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSettings {
    /// A TOML file with the settings below (data, genesis, listen, advertise, peers, key, http).
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// The data directory (the redb store).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The genesis file.
    #[arg(long)]
    pub genesis: Option<PathBuf>,
    /// Where to listen, e.g. 0.0.0.0:7070.
    #[arg(long)]
    pub listen: Option<String>,
    /// The address peers should dial (default: the listen address).
    #[arg(long)]
    pub advertise: Option<String>,
    /// A main node to register with and keep connected to (repeat).
    #[arg(long = "peer")]
    #[serde(default)]
    pub peers: Vec<String>,
    /// The node's key file (default: a fresh key each start).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// A block this node must have: HEIGHT:HASH, as `goodwill chain
    /// checkpoint` prints it from a node you trust (repeat; added to
    /// `checkpoints` in --config and the genesis file's). A chain that
    /// contradicts one is refused.
    #[arg(long = "checkpoint")]
    #[serde(default)]
    pub checkpoints: Vec<Checkpoint>,
    /// Where to serve the HTTP/JSON API and /metrics, e.g. 127.0.0.1:8080
    /// (the default), or `off`. Port 0 picks a free one (the log says which).
    #[arg(long, value_name = "IP:PORT|off")]
    pub http: Option<String>,
    /// Seconds an HTTP connection may stay silent (no request, no byte of
    /// one) before it is closed (default 10).
    #[arg(long, value_name = "SECONDS")]
    pub http_idle_s: Option<u64>,
    /// A directory of signed releases (binaries with their `.manifest`, as
    /// `goodwill release sign` writes them) to offer this node's live
    /// forgers: each fetches the newest for its target and checks it
    /// itself (docs/operate.md, "Releases").
    #[arg(long)]
    pub releases: Option<PathBuf>,
}

/// Where `goodwill node` serves HTTP when neither `--http` nor `http` in
/// --config says.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8080";

/// The longest `--http-idle-s` (an hour).
pub const MAX_HTTP_IDLE_S: u64 = 3600;

/// `--http` and `--http-idle-s` as the node's HTTP settings: `None` for `off`.
fn http_config(
    http: Option<&str>,
    idle_s: Option<u64>,
) -> Result<Option<crate::runtime::http::HttpConfig>, SettingsError> {
    let http = http.unwrap_or(DEFAULT_HTTP).trim();
    if http.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let listen: SocketAddr = http.parse().map_err(|e| {
        SettingsError::Value(format!(
            "--http {http}: {e} (write IP:PORT, e.g. {DEFAULT_HTTP}, or off)"
        ))
    })?;
    let mut limits = crate::runtime::http::HttpLimits::default();
    if let Some(s) = idle_s {
        if s == 0 || s > MAX_HTTP_IDLE_S {
            return Err(SettingsError::Value(format!(
                "--http-idle-s {s}: give 1 to {MAX_HTTP_IDLE_S} seconds"
            )));
        }
        limits.idle_ms = s * 1000;
    }
    Ok(Some(crate::runtime::http::HttpConfig { listen, limits }))
}

impl NodeSettings {
    /// Reads a `--config` file.
    pub fn load(path: &Path) -> Result<NodeSettings, ConfigError> {
        load_toml(path)
    }

    /// These settings (the flags) over the `--config` file's, if one is given.
    pub fn over_file(self) -> Result<NodeSettings, SettingsError> {
        let file = match &self.config {
            Some(p) => NodeSettings::load(p)?,
            None => NodeSettings::default(),
        };
        Ok(NodeSettings {
            config: self.config,
            data: self.data.or(file.data),
            genesis: self.genesis.or(file.genesis),
            listen: self.listen.or(file.listen),
            advertise: self.advertise.or(file.advertise),
            peers: flags_or_file(self.peers, file.peers),
            key: self.key.or(file.key),
            checkpoints: [file.checkpoints, self.checkpoints].concat(),
            http: self.http.or(file.http),
            http_idle_s: self.http_idle_s.or(file.http_idle_s),
            releases: self.releases.or(file.releases),
        })
    }

    /// The node's config from the merged settings: every setting checked,
    /// the genesis and the key read. An error is a refusal to start.
    pub fn resolve(self) -> Result<NodeConfig, SettingsError> {
        let data = need(self.data, "data")?;
        let genesis = need(self.genesis, "genesis")?;
        let listen = need(self.listen, "listen")?;
        let params = chain(&genesis, &self.checkpoints)?;
        let key = match &self.key {
            Some(k) => keyfile::read(k)?,
            None => super::os::new_keypair(),
        };
        let listen: SocketAddr = listen.parse().map_err(|e| {
            SettingsError::Value(format!(
                "--listen {listen}: {e} (write host:port, e.g. 127.0.0.1:7070)"
            ))
        })?;
        if let Some(a) = &self.advertise {
            check_addr("--advertise", a)?;
        }
        for p in &self.peers {
            check_addr("--peer", p)?;
        }
        let http = http_config(self.http.as_deref(), self.http_idle_s)?;
        if let Some(r) = &self.releases {
            if !r.is_dir() {
                return Err(SettingsError::Value(format!(
                    "--releases {}: not a directory",
                    r.display()
                )));
            }
        }
        Ok(NodeConfig {
            data,
            params,
            listen,
            advertise: self.advertise,
            peers: self.peers,
            key,
            limits: NodeLimits::default(),
            forge: None,
            http,
            releases: self.releases,
        })
    }
}

/// `goodwill forge` settings; `--config FILE` gives them in TOML, flags override.
///
/// Each field is a flag and the `--config` file's key of the same name
/// (`--main` is `main`, `--checkpoint` is `checkpoints`), but for
/// `--i-know-this-key-is-new`, which is a flag only.
#[derive(Debug, Clone, Default, clap::Args, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgeSettings {
    /// A TOML file with the settings below (data, genesis, key, main,
    /// board, status_listen, metrics_listen, clock_check, storage_retry_s,
    /// durable_blocks, durable_s, keep_blocks).
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// The data directory (the redb store with the chain and the signing record).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The genesis file.
    #[arg(long)]
    pub genesis: Option<PathBuf>,
    /// The forging key file.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// A main node to follow and send blocks to (repeat).
    #[arg(long = "main")]
    #[serde(default, rename = "main")]
    pub mains: Vec<String>,
    /// Board profile: pi5, pi4, pi3, zero2w, generic, none, or a TOML file
    /// (default: the detected Raspberry Pi, else none).
    #[arg(long)]
    pub board: Option<String>,
    /// Where `goodwill status` reaches this appliance (loopback).
    #[arg(long)]
    pub status_listen: Option<String>,
    /// Serve Prometheus metrics here (plain HTTP, GET /metrics).
    #[arg(long)]
    pub metrics_listen: Option<String>,
    /// kernel+peers | peers | off (default: kernel+peers with a Pi board
    /// profile, peers without; off is for tests only).
    #[arg(long)]
    pub clock_check: Option<String>,
    /// This key never signed on this chain before: record the current slot
    /// as its floor and forge (needed when the store has blocks but no
    /// signing record for the key).
    #[arg(long)]
    #[serde(skip)]
    pub i_know_this_key_is_new: bool,
    /// How often a forger whose store failed (a full disk) tries it again,
    /// in seconds (1 to 3600; default 30).
    #[arg(long)]
    pub storage_retry_s: Option<u64>,
    /// Every how many imported blocks the store is made durable (1 to
    /// 4096; default 1024, or sooner: see `durable_s`): a power cut costs
    /// at most the blocks between, fetched again from the main nodes, never
    /// the signing record. 1 writes every block durably (more SD-card wear).
    #[arg(long)]
    pub durable_blocks: Option<u64>,
    /// How often, at least, the blocks held in memory are made durable, in
    /// seconds (1 to 86400; default 1200, 20 minutes).
    #[arg(long)]
    pub durable_s: Option<u64>,
    /// Which block bodies the store keeps: `final` (default: those within
    /// the finality depth; older ones are pruned, their hashes kept) or
    /// `all` (every block, as a main node).
    #[arg(long)]
    pub keep_blocks: Option<String>,
    /// A block this forger must have: HEIGHT:HASH, as `goodwill chain
    /// checkpoint` prints it from a node you trust (repeat; added to
    /// `checkpoints` in --config and the genesis file's).
    #[arg(long = "checkpoint")]
    #[serde(default)]
    pub checkpoints: Vec<Checkpoint>,
    /// A release key whose signed releases this appliance takes (repeat;
    /// added to `[update] keys` in --config). Without one, `goodwill update
    /// apply` refuses every release.
    #[arg(long = "update-key")]
    #[serde(skip)]
    pub update_keys: Vec<String>,
    /// Where the appliance keeps its releases (default: DATA/update).
    #[arg(long)]
    pub update_dir: Option<PathBuf>,
    /// The `[update]` table of --config: `keys`, and when a new release
    /// commits or rolls back (docs/operate.md, "Releases").
    #[arg(skip)]
    #[serde(default)]
    pub update: UpdateFile,
}

/// The `[update]` table of a forger's --config.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateFile {
    /// The release keys trusted (addresses, `gw1…`).
    #[serde(default)]
    pub keys: Vec<String>,
    /// Starts a new release may take before it proves itself (default 3).
    pub max_starts: Option<u32>,
    /// Healthy running time before a new release commits, seconds
    /// (default 600).
    pub healthy_s: Option<u64>,
    /// Blocks followed or forged before a new release commits (default 30).
    pub blocks: Option<u64>,
    /// A start not proven within this many seconds fails its health check
    /// and rolls back (default 1800).
    pub trial_s: Option<u64>,
    /// How often the main nodes are asked for a new release, seconds
    /// (default 900; 0: never, releases are applied by hand only).
    pub poll_s: Option<u64>,
}

/// How often a forger asks its main nodes for a new release by default,
/// seconds.
pub const DEFAULT_UPDATE_POLL_S: u64 = 900;

/// A forger's update settings, resolved.
#[derive(Debug, Clone)]
pub struct UpdateConfig {
    /// The update directory.
    pub dir: PathBuf,
    /// The release keys trusted.
    pub keys: Vec<crate::chain::crypto::PublicKey>,
    /// When a release on trial commits or rolls back.
    pub rules: crate::runtime::update::slots::Rules,
    /// How often the main nodes are asked for a new release (ms; 0: never).
    pub poll_ms: u64,
}

/// A forger's resolved settings: its node (with [`NodeConfig::forge`] set)
/// and what the appliance's start-up loop needs beside it.
#[derive(Debug, Clone)]
pub struct Forger {
    /// The node it runs.
    pub config: NodeConfig,
    /// How often a failed store is tried again.
    pub storage_retry: std::time::Duration,
    /// `--i-know-this-key-is-new`.
    pub key_is_new: bool,
}

impl ForgeSettings {
    /// Reads a `--config` file.
    pub fn load(path: &Path) -> Result<ForgeSettings, ConfigError> {
        load_toml(path)
    }

    /// These settings (the flags) over the `--config` file's, if one is given.
    pub fn over_file(self) -> Result<ForgeSettings, SettingsError> {
        let file = match &self.config {
            Some(p) => ForgeSettings::load(p)?,
            None => ForgeSettings::default(),
        };
        Ok(ForgeSettings {
            config: self.config,
            data: self.data.or(file.data),
            genesis: self.genesis.or(file.genesis),
            key: self.key.or(file.key),
            mains: flags_or_file(self.mains, file.mains),
            board: self.board.or(file.board),
            status_listen: self.status_listen.or(file.status_listen),
            metrics_listen: self.metrics_listen.or(file.metrics_listen),
            clock_check: self.clock_check.or(file.clock_check),
            i_know_this_key_is_new: self.i_know_this_key_is_new,
            storage_retry_s: self.storage_retry_s.or(file.storage_retry_s),
            durable_blocks: self.durable_blocks.or(file.durable_blocks),
            durable_s: self.durable_s.or(file.durable_s),
            keep_blocks: self.keep_blocks.or(file.keep_blocks),
            checkpoints: [file.checkpoints, self.checkpoints].concat(),
            update_keys: [file.update.keys.clone(), self.update_keys].concat(),
            update_dir: self.update_dir.or(file.update_dir),
            update: file.update,
        })
    }

    /// The update settings of merged settings (needs only `data`, not the
    /// key or the genesis: `goodwill update` runs beside the forger).
    pub fn update_config(&self) -> Result<UpdateConfig, SettingsError> {
        use crate::runtime::update::slots::Rules;
        let d = Rules::default();
        let dir = match (&self.update_dir, &self.data) {
            (Some(dir), _) => dir.clone(),
            (None, Some(data)) => data.join("update"),
            (None, None) => {
                return Err(SettingsError::Value(
                    "no update_dir and no data directory: give --config FILE (the forger's), --data or --update-dir".into(),
                ))
            }
        };
        let keys = self
            .update_keys
            .iter()
            .map(|k| {
                crate::chain::address::parse(k)
                    .map_err(|e| SettingsError::Value(format!("update key {k:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let u = &self.update;
        let ms = |s: Option<u64>, default_ms: u64, name: &str| -> Result<u64, SettingsError> {
            match s {
                None => Ok(default_ms),
                Some(s @ 1..=86_400) => Ok(s * 1000),
                Some(s) => Err(SettingsError::Value(format!(
                    "update.{name} {s}: give 1 to 86400 seconds (default {})",
                    default_ms / 1000
                ))),
            }
        };
        let rules = Rules {
            max_starts: match u.max_starts.unwrap_or(d.max_starts) {
                n @ 1..=100 => n,
                n => {
                    return Err(SettingsError::Value(format!(
                        "update.max_starts {n}: give 1 to 100 (default {})",
                        d.max_starts
                    )))
                }
            },
            healthy_ms: ms(u.healthy_s, d.healthy_ms, "healthy_s")?,
            blocks: match u.blocks.unwrap_or(d.blocks) {
                n @ 0..=100_000 => n,
                n => {
                    return Err(SettingsError::Value(format!(
                        "update.blocks {n}: give 0 to 100000 (default {})",
                        d.blocks
                    )))
                }
            },
            trial_ms: ms(u.trial_s, d.trial_ms, "trial_s")?,
        };
        if rules.trial_ms <= rules.healthy_ms {
            return Err(SettingsError::Value(format!(
                "update.trial_s {} must be above update.healthy_s {}: a release needs the time to prove itself",
                rules.trial_ms / 1000,
                rules.healthy_ms / 1000
            )));
        }
        let poll_ms = match u.poll_s {
            None => DEFAULT_UPDATE_POLL_S * 1000,
            Some(0) => 0,
            Some(s @ 1..=604_800) => s * 1000,
            Some(s) => {
                return Err(SettingsError::Value(format!(
                    "update.poll_s {s}: give 0 (never) to 604800 seconds (default {DEFAULT_UPDATE_POLL_S})"
                )))
            }
        };
        Ok(UpdateConfig {
            dir,
            keys,
            rules,
            poll_ms,
        })
    }

    /// The forger's config from the merged settings: every setting checked,
    /// the genesis, the key and the board profile read. An error is a
    /// refusal to start.
    pub fn resolve(self) -> Result<Forger, SettingsError> {
        use crate::peer::forging::ClockCheck;
        if self.mains.is_empty() {
            return Err(SettingsError::Value(
                "at least one --main ADDR is required (or `main = [...]` in --config)".into(),
            ));
        }
        let data = need(self.data, "data")?;
        let genesis = need(self.genesis, "genesis")?;
        let key = need(self.key, "key")?;
        let storage_retry_s = match self.storage_retry_s.unwrap_or(f::STORAGE_RETRY_S) {
            s @ 1..=3600 => s,
            s => {
                return Err(SettingsError::Value(format!(
                    "storage_retry_s {s}: give 1 to 3600 seconds (default {})",
                    f::STORAGE_RETRY_S
                )))
            }
        };
        let durable = crate::peer::policy::FORGER_DURABLE_BLOCKS;
        let durable_blocks = match self.durable_blocks.unwrap_or(durable) {
            n @ 1..=4096 => n,
            n => {
                return Err(SettingsError::Value(format!(
                    "durable_blocks {n}: give 1 to 4096 blocks (default {durable})"
                )))
            }
        };
        let durable_s_default = crate::peer::policy::FORGER_DURABLE_MS / 1000;
        let durable_ms = match self.durable_s.unwrap_or(durable_s_default) {
            s @ 1..=86_400 => s * 1000,
            s => {
                return Err(SettingsError::Value(format!(
                    "durable_s {s}: give 1 to 86400 seconds (default {durable_s_default})"
                )))
            }
        };
        let keep_all_blocks = match self.keep_blocks.as_deref() {
            None | Some("final") => false,
            Some("all") => true,
            Some(other) => {
                return Err(SettingsError::Value(format!(
                    "keep_blocks {other:?}: give final (the default: bodies within the finality depth) or all"
                )))
            }
        };
        let status_listen = self
            .status_listen
            .unwrap_or_else(|| f::DEFAULT_STATUS_LISTEN.into());
        let params = chain(&genesis, &self.checkpoints)?;
        let key = keyfile::read(&key)?;
        // The device tree's model string; /proc/device-tree links here, but the
        // systemd unit's ProcSubset=pid hides that link.
        let model_at =
            |p: &str| super::os::read_text_bounded(p.as_ref(), super::os::KERNEL_FILE_BYTES);
        let model = model_at("/sys/firmware/devicetree/base/model")
            .or_else(|_| model_at("/proc/device-tree/model"))
            .ok();
        let (board, is_pi_profile) = f::choose_board(self.board.as_deref(), model.as_deref())?;
        let clock_check = match &self.clock_check {
            Some(c) => ClockCheck::parse(c)?,
            None if is_pi_profile => ClockCheck::KernelAndPeers,
            None => ClockCheck::Peers,
        };
        let listen: SocketAddr = status_listen.parse().map_err(|e| {
            SettingsError::Value(format!(
                "--status-listen {status_listen}: {e} (write host:port)"
            ))
        })?;
        if !listen.ip().is_loopback() {
            eprintln!(
                "goodwill forge: note: --status-listen {listen} is not a loopback address: anyone who reaches it can \
                 read this appliance's status (its key, tip, clock offset, LEDs, figures) and the chain it stores, \
                 and open client sessions (up to {} per address); main-node and forger handshakes are refused there, \
                 so nobody can steer its sync or its clock through it. Firewall it if that is more than you want to show",
                NodeLimits::default().max_per_ip
            );
        }
        for m in &self.mains {
            check_addr("--main", m)?;
        }
        let metrics_listen = match &self.metrics_listen {
            Some(m) => Some(
                m.parse::<SocketAddr>()
                    .map_err(|e| SettingsError::Value(format!("--metrics-listen {m}: {e}")))?,
            ),
            None => None,
        };
        Ok(Forger {
            config: NodeConfig {
                data,
                params,
                listen,
                advertise: None,
                peers: self.mains,
                key,
                limits: NodeLimits::default(),
                http: None,
                releases: None,
                forge: Some(ForgeConfig {
                    clock_check,
                    board,
                    metrics_listen,
                    report_every_slots: f::run::REPORT_EVERY_SLOTS,
                    leds: None,
                    kernel_clock: None,
                    doppelganger_retry_ms: crate::peer::core::DOPPELGANGER_RETRY_MS,
                    durable_blocks,
                    durable_ms,
                    keep_all_blocks,
                    update: None,
                }),
            },
            storage_retry: std::time::Duration::from_secs(storage_retry_s),
            key_is_new: self.i_know_this_key_is_new,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("node.toml");
        std::fs::write(&p, "listen = \"127.0.0.1:7070\"\n").unwrap();
        assert_eq!(
            NodeSettings::load(&p).unwrap().listen.as_deref(),
            Some("127.0.0.1:7070")
        );
        std::fs::write(&p, "#".repeat(limits::CONFIG_FILE_BYTES as usize + 1)).unwrap();
        let e = NodeSettings::load(&p).unwrap_err();
        assert!(matches!(e, ConfigError::TooLarge { .. }), "{e}");
        assert!(e.to_string().contains("at most"), "{e}");
        std::fs::write(&p, "colour = \"blue\"\n").unwrap();
        let e = NodeSettings::load(&p).unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
        assert!(e.to_string().contains("colour"), "{e}");
        // Flag-only settings are not keys of the file.
        std::fs::write(&p, "config = \"x.toml\"\n").unwrap();
        assert!(NodeSettings::load(&p).is_err());
        std::fs::write(&p, "i_know_this_key_is_new = true\n").unwrap();
        assert!(ForgeSettings::load(&p).is_err());
    }

    #[test]
    fn a_flag_wins_over_the_file_and_checkpoints_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("forge.toml");
        std::fs::write(
            &p,
            "data = \"/file\"\nkey = \"/k\"\nmain = [\"a:1\", \"b:2\"]\nstorage_retry_s = 5\n",
        )
        .unwrap();
        let s = ForgeSettings {
            config: Some(p.clone()),
            data: Some("/flag".into()),
            ..ForgeSettings::default()
        }
        .over_file()
        .unwrap();
        assert_eq!(s.data.as_deref(), Some(Path::new("/flag")));
        assert_eq!(s.key.as_deref(), Some(Path::new("/k")));
        assert_eq!(s.mains, vec!["a:1", "b:2"]);
        assert_eq!(s.storage_retry_s, Some(5));
        let s = ForgeSettings {
            config: Some(p),
            mains: vec!["c:3".into()],
            ..ForgeSettings::default()
        }
        .over_file()
        .unwrap();
        assert_eq!(s.mains, vec!["c:3"]);
    }

    #[test]
    fn http_defaults_to_loopback_8080_and_off_turns_it_off() {
        let h = http_config(None, None).unwrap().expect("on by default");
        assert_eq!(h.listen.to_string(), DEFAULT_HTTP);
        assert_eq!(h.limits, crate::runtime::http::HttpLimits::default());
        assert_eq!(http_config(Some("off"), None).unwrap(), None);
        assert_eq!(http_config(Some("OFF"), Some(5)).unwrap(), None);
        let h = http_config(Some("127.0.0.1:0"), Some(2)).unwrap().unwrap();
        assert_eq!(h.limits.idle_ms, 2_000);
        let e = http_config(Some("localhost"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--http localhost") && e.contains("off"), "{e}");
        let e = http_config(None, Some(0)).unwrap_err().to_string();
        assert!(e.contains("--http-idle-s 0"), "{e}");
        // The file's key is `http`; a flag wins over it.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("node.toml");
        std::fs::write(&p, "http = \"off\"\nhttp_idle_s = 3\n").unwrap();
        let s = NodeSettings {
            config: Some(p),
            http: Some("127.0.0.1:9".into()),
            ..NodeSettings::default()
        }
        .over_file()
        .unwrap();
        assert_eq!(s.http.as_deref(), Some("127.0.0.1:9"));
        assert_eq!(s.http_idle_s, Some(3));
    }
}
