//! A devnet's directory: its keys, its genesis, the shape of the network
//! (which ports), and the config file of every child.
//!
//! ```text
//! DIR/devnet.toml          the shape: main-node ports, forger status ports
//! DIR/genesis.toml         the chain
//! DIR/keys/*.key           forger-N, main-N, alice, bob, carol, charity
//! DIR/main-N/node.toml     a main node's config; data/ its store; log
//! DIR/forger-N/forge.toml  a forger's config; data/ its store; log
//! ```
//!
//! Children run with their own directory as working directory and the
//! configs use relative paths, so a devnet directory can be moved.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::chain::codec::Bytes;
use crate::chain::crypto::PublicKey;
use crate::chain::genesis::{Balance, ChainParams, Genesis, GenesisAssociation, Limits, COIN};
use crate::runtime::keyfile;

/// The file that makes a directory a devnet.
pub const SHAPE_FILE: &str = "devnet.toml";
/// Most forgers a devnet runs.
pub const MAX_FORGERS: u32 = 16;
/// Most main nodes a devnet runs.
pub const MAX_MAIN_NODES: u32 = 8;
/// The demo users, funded at genesis.
pub const USERS: [&str; 3] = ["alice", "bob", "carol"];
/// A demo user's balance at genesis.
pub const USER_FUNDS: u64 = 1_000 * COIN;
/// A forger's balance at genesis (it buys weight every epoch).
pub const FORGER_FUNDS: u64 = 100_000 * COIN;
/// The demo association's name.
pub const ASSOCIATION: &str = "Demo Charity";
/// The devnet's finality depth: short, so that payment checks answer soon.
pub const FINALITY_DEPTH: u64 = 8;

/// What a new devnet looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewShape {
    /// Forgers.
    pub forgers: u32,
    /// Main nodes.
    pub main_nodes: u32,
    /// Slot length, ms.
    pub slot_ms: u64,
    /// Slots per epoch.
    pub epoch_slots: u64,
}

impl NewShape {
    /// Refuses counts and lengths a devnet cannot run with.
    pub fn check(&self) -> Result<(), ShapeError> {
        if !(1..=MAX_FORGERS).contains(&self.forgers) {
            return Err(ShapeError::Forgers(self.forgers));
        }
        if !(1..=MAX_MAIN_NODES).contains(&self.main_nodes) {
            return Err(ShapeError::MainNodes(self.main_nodes));
        }
        if self.slot_ms < 100 {
            return Err(ShapeError::SlotMs(self.slot_ms));
        }
        if self.epoch_slots < 4 {
            return Err(ShapeError::EpochSlots(self.epoch_slots));
        }
        Ok(())
    }
}

/// A devnet shape that cannot run ([`NewShape::check`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShapeError {
    /// Too few or too many forgers.
    #[error("--forgers {0}: a devnet runs 1 to {MAX_FORGERS} forgers")]
    Forgers(u32),
    /// Too few or too many main nodes.
    #[error("--main-nodes {0}: a devnet runs 1 to {MAX_MAIN_NODES} main nodes")]
    MainNodes(u32),
    /// Slots too short.
    #[error("--slot-ms {0}: slots shorter than 100 ms leave no time to relay a block")]
    SlotMs(u64),
    /// Epochs too short.
    #[error("--epoch-slots {0}: an epoch needs at least 4 slots")]
    EpochSlots(u64),
}

/// Why a devnet directory could not be created or resumed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// The shape asked for cannot run.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// The shape in a devnet's `devnet.toml` cannot run.
    #[error("{}: {error}", .path.display())]
    StoredShape {
        /// The file.
        path: PathBuf,
        /// Why.
        error: ShapeError,
    },
    /// A directory that is neither empty nor a devnet.
    #[error("{} is not empty and holds no {SHAPE_FILE}: it is not a devnet directory; give a new or empty one", .0.display())]
    NotADevnet(PathBuf),
    /// A resume whose flags ask for another network.
    #[error("{} holds a devnet with {flag} {has}; --{flag} {asked} needs a new directory (or leave the flag out to resume)", .dir.display())]
    OtherShape {
        /// The directory.
        dir: PathBuf,
        /// The flag.
        flag: &'static str,
        /// What the flag asks.
        asked: u64,
        /// What the devnet has.
        has: u64,
    },
    /// `devnet.toml` and the genesis disagree.
    #[error("{}: {forgers} forgers, but the genesis has {bootstrap} bootstrap forgers", .path.display())]
    ForgersMismatch {
        /// `devnet.toml`.
        path: PathBuf,
        /// Forgers it lists.
        forgers: u32,
        /// Bootstrap forgers in the genesis.
        bootstrap: usize,
    },
    /// A file or directory of the devnet.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `devnet.toml` is not the TOML expected.
    #[error("{}: {source}", .path.display())]
    ShapeFile {
        /// The file.
        path: PathBuf,
        /// The error.
        source: toml::de::Error,
    },
    /// Reading `devnet.toml`.
    #[error(transparent)]
    Config(#[from] crate::runtime::config::ConfigError),
    /// A key file.
    #[error(transparent)]
    Key(#[from] keyfile::KeyFileError),
    /// The genesis.
    #[error(transparent)]
    Genesis(#[from] crate::chain::genesis::GenesisError),
    /// Writing the genesis file.
    #[error(transparent)]
    WriteNew(#[from] crate::runtime::os::WriteNewError),
    /// Could not find free ports on 127.0.0.1.
    #[error("free ports on 127.0.0.1: {0}")]
    Bind(std::io::Error),
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> LayoutError + '_ {
    move |source| LayoutError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The ports of a devnet, kept in `devnet.toml` so that a resumed devnet
/// answers where it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ports {
    /// Each main node's port on 127.0.0.1, in order.
    pub main_nodes: Vec<u16>,
    /// Each forger's status port on 127.0.0.1, in order.
    pub forgers: Vec<u16>,
}

/// One child process's part of the devnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `main-1`, `forger-2`, …
    pub name: String,
    /// Whether it is a forger.
    pub forger: bool,
    /// Its directory (working directory, config, store, log).
    pub dir: PathBuf,
    /// Where it answers: a main node's listen address, a forger's status address.
    pub addr: SocketAddr,
    /// Its key's address.
    pub key: PublicKey,
}

impl Member {
    /// Its log file (stdout and stderr).
    pub fn log(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// Its config file.
    pub fn config(&self) -> PathBuf {
        self.dir.join(if self.forger {
            "forge.toml"
        } else {
            "node.toml"
        })
    }

    /// The arguments that run it, from its directory.
    pub fn args(&self) -> [&'static str; 3] {
        if self.forger {
            ["forge", "--config", "forge.toml"]
        } else {
            ["node", "--config", "node.toml"]
        }
    }
}

/// An opened devnet directory.
#[derive(Debug)]
pub struct Layout {
    /// The directory.
    pub dir: PathBuf,
    /// The chain.
    pub params: ChainParams,
    /// Main nodes, then forgers.
    pub members: Vec<Member>,
    /// Demo users: (name, key file, address).
    pub users: Vec<(String, PathBuf, PublicKey)>,
    /// The demo association's account.
    pub association: PublicKey,
    /// True if this run created it.
    pub created: bool,
    /// Ports that were taken and replaced on resume: (member, old, new).
    pub moved: Vec<(String, u16, u16)>,
    /// Where the first main node serves HTTP (the API and the explorer):
    /// a port free at this start, picked again at each start.
    pub http: SocketAddr,
}

impl Layout {
    /// The main nodes.
    pub fn mains(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| !m.forger)
    }

    /// The forgers.
    pub fn forgers(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.forger)
    }

    /// The key file of a forger or main node.
    pub fn key_file(&self, name: &str) -> PathBuf {
        key_path(&self.dir, name)
    }

    /// Opens the devnet in `dir`, or creates one there (in an empty or
    /// missing directory) with `shape`. `asked` are the counts and lengths
    /// given on the command line: resuming refuses ones the directory's
    /// network does not have.
    pub fn open_or_create(
        dir: &Path,
        shape: NewShape,
        asked: Asked,
    ) -> Result<Layout, LayoutError> {
        let shape_file = dir.join(SHAPE_FILE);
        if shape_file.exists() {
            return Layout::open(dir, asked);
        }
        if dir.exists() {
            let mut entries = std::fs::read_dir(dir).map_err(io_at(dir))?;
            if entries.next().is_some() {
                return Err(LayoutError::NotADevnet(dir.to_path_buf()));
            }
        }
        shape.check()?;
        Layout::create(dir, shape)
    }

    fn create(dir: &Path, shape: NewShape) -> Result<Layout, LayoutError> {
        let keys = dir.join("keys");
        std::fs::create_dir_all(&keys).map_err(io_at(&keys))?;
        let new_key = |name: &str| -> Result<PublicKey, LayoutError> {
            let key = crate::runtime::os::new_keypair();
            keyfile::write(&key_path(dir, name), &key)?;
            Ok(key.public())
        };
        let forgers: Vec<PublicKey> = (1..=shape.forgers)
            .map(|i| new_key(&format!("forger-{i}")))
            .collect::<Result<_, _>>()?;
        for i in 1..=shape.main_nodes {
            new_key(&format!("main-{i}"))?;
        }
        let users: Vec<PublicKey> = USERS.iter().map(|u| new_key(u)).collect::<Result<_, _>>()?;
        let charity = new_key("charity")?;
        let genesis = devnet_genesis(
            crate::runtime::os::now_ms(),
            shape.slot_ms,
            shape.epoch_slots,
            &forgers,
            &users,
            charity,
        );
        let params = ChainParams::new(genesis)?;
        crate::runtime::os::write_new_file(&dir.join("genesis.toml"), &params.to_file_text())?;
        let ports = Ports {
            main_nodes: free_ports(shape.main_nodes as usize, &[])?,
            forgers: free_ports(shape.forgers as usize, &[])?,
        };
        write_ports(dir, &ports)?;
        let mut layout = Layout::assemble(dir, params, &ports)?;
        layout.created = true;
        layout.write_configs()?;
        Ok(layout)
    }

    fn open(dir: &Path, asked: Asked) -> Result<Layout, LayoutError> {
        let shape_file = dir.join(SHAPE_FILE);
        let text = crate::runtime::config::read_config(&shape_file)?;
        let mut ports: Ports = toml::from_str(&text).map_err(|source| LayoutError::ShapeFile {
            path: shape_file.clone(),
            source,
        })?;
        let params = crate::runtime::config::load_genesis(&dir.join("genesis.toml"))?;
        let g = params.genesis();
        let have = NewShape {
            forgers: ports.forgers.len() as u32,
            main_nodes: ports.main_nodes.len() as u32,
            slot_ms: g.slot_ms,
            epoch_slots: g.epoch_slots,
        };
        asked.fits(&have, dir)?;
        have.check().map_err(|error| LayoutError::StoredShape {
            path: shape_file.clone(),
            error,
        })?;
        if have.forgers as usize != g.bootstrap_forgers.len() {
            return Err(LayoutError::ForgersMismatch {
                path: shape_file,
                forgers: have.forgers,
                bootstrap: g.bootstrap_forgers.len(),
            });
        }
        // A port another program took since the last run is replaced.
        let mut moved = Vec::new();
        let mut all: Vec<u16> = ports
            .main_nodes
            .iter()
            .chain(&ports.forgers)
            .copied()
            .collect();
        for (i, p) in ports.main_nodes.iter_mut().enumerate() {
            relocate(&mut moved, &mut all, format!("main-{}", i + 1), p)?;
        }
        for (i, p) in ports.forgers.iter_mut().enumerate() {
            relocate(&mut moved, &mut all, format!("forger-{}", i + 1), p)?;
        }
        if !moved.is_empty() {
            write_ports(dir, &ports)?;
        }
        let mut layout = Layout::assemble(dir, params, &ports)?;
        layout.moved = moved;
        layout.write_configs()?;
        Ok(layout)
    }

    fn assemble(dir: &Path, params: ChainParams, ports: &Ports) -> Result<Layout, LayoutError> {
        let address = |name: &str| keyfile::read_address(&key_path(dir, name));
        let local = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        let mut members = Vec::new();
        for (i, &port) in ports.main_nodes.iter().enumerate() {
            let name = format!("main-{}", i + 1);
            members.push(Member {
                dir: dir.join(&name),
                addr: local(port),
                key: address(&name)?,
                forger: false,
                name,
            });
        }
        for (i, &port) in ports.forgers.iter().enumerate() {
            let name = format!("forger-{}", i + 1);
            members.push(Member {
                dir: dir.join(&name),
                addr: local(port),
                key: address(&name)?,
                forger: true,
                name,
            });
        }
        let users = USERS
            .iter()
            .map(|u| Ok((u.to_string(), key_path(dir, u), address(u)?)))
            .collect::<Result<_, keyfile::KeyFileError>>()?;
        let taken: Vec<u16> = members.iter().map(|m| m.addr.port()).collect();
        let http = local(free_ports(1, &taken)?[0]);
        Ok(Layout {
            dir: dir.to_path_buf(),
            association: address("charity")?,
            params,
            members,
            users,
            created: false,
            moved: Vec::new(),
            http,
        })
    }

    /// Writes every child's config file (again: ports may have moved).
    fn write_configs(&self) -> Result<(), LayoutError> {
        let mains: Vec<SocketAddr> = self.mains().map(|m| m.addr).collect();
        for (i, m) in self.members.iter().enumerate() {
            std::fs::create_dir_all(&m.dir).map_err(io_at(&m.dir))?;
            let text = if m.forger {
                forge_toml(&m.name, m.addr, &mains)
            } else {
                // Only the first main node serves HTTP: the others share
                // this machine and need no second explorer.
                node_toml(&m.name, m.addr, &mains[..i], (i == 0).then_some(self.http))
            };
            let path = m.config();
            std::fs::write(&path, text).map_err(io_at(&path))?;
        }
        Ok(())
    }
}

/// What the command line asked for (None: not given).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Asked {
    /// `--forgers`.
    pub forgers: Option<u32>,
    /// `--main-nodes`.
    pub main_nodes: Option<u32>,
    /// `--slot-ms`.
    pub slot_ms: Option<u64>,
    /// `--epoch-slots`.
    pub epoch_slots: Option<u64>,
}

impl Asked {
    /// Refuses a resume whose flags ask for another network than `have`.
    fn fits(&self, have: &NewShape, dir: &Path) -> Result<(), LayoutError> {
        let mismatch = |flag: &'static str, asked: u64, has: u64| {
            Err(LayoutError::OtherShape {
                dir: dir.to_path_buf(),
                flag,
                asked,
                has,
            })
        };
        let pairs = [
            ("forgers", self.forgers.map(u64::from), have.forgers as u64),
            (
                "main-nodes",
                self.main_nodes.map(u64::from),
                have.main_nodes as u64,
            ),
            ("slot-ms", self.slot_ms, have.slot_ms),
            ("epoch-slots", self.epoch_slots, have.epoch_slots),
        ];
        for (flag, asked, has) in pairs {
            if let Some(a) = asked {
                if a != has {
                    return mismatch(flag, a, has);
                }
            }
        }
        Ok(())
    }
}

/// The devnet's genesis: the forgers take turns until weight is bought;
/// forgers and users are funded; the demo association is approved.
pub fn devnet_genesis(
    start_ms: u64,
    slot_ms: u64,
    epoch_slots: u64,
    forgers: &[PublicKey],
    users: &[PublicKey],
    association: PublicKey,
) -> Genesis {
    let fund = |keys: &[PublicKey], amount: u64| {
        keys.iter()
            .map(move |&address| Balance { address, amount })
            .collect::<Vec<_>>()
    };
    Genesis {
        contracts: Some(crate::chain::genesis::ContractParams::for_slot(slot_ms)),
        chain_name: "goodwill-devnet".into(),
        start_ms,
        slot_ms,
        epoch_slots,
        block_reward: COIN,
        min_fee: COIN / 1_000,
        finality_depth: FINALITY_DEPTH,
        bootstrap_forgers: forgers.to_vec(),
        limits: Limits {
            equivocation_bounty: 100 * COIN,
            // The forgers buy 10, 20, 30 GWL each epoch (`plan`): the
            // bootstrap forgers' notional 10 GWL each counts until 50 GWL
            // is bought for an epoch, then the draw is by bought weight.
            bootstrap_weight: 10 * COIN,
            bootstrap_until_weight: 50 * COIN,
            ..Limits::default()
        },
        balances: fund(forgers, FORGER_FUNDS)
            .into_iter()
            .chain(fund(users, USER_FUNDS))
            .collect(),
        associations: vec![GenesisAssociation {
            name: Bytes::new(ASSOCIATION.as_bytes().to_vec()).expect("a short name"),
            url: Bytes::new(b"https://example.org/demo-charity".to_vec()).expect("a short url"),
            account: association,
        }],
    }
}

/// A main node's config: listen on its port, register with the main nodes
/// started before it; serve HTTP (the API and the explorer) on `http`, or
/// not at all (several nodes share this machine, and the API's default
/// port is one).
pub fn node_toml(
    name: &str,
    listen: SocketAddr,
    peers: &[SocketAddr],
    http: Option<SocketAddr>,
) -> String {
    let http = http.map_or("off".to_string(), |a| a.to_string());
    format!(
        "# {name} of a goodwill devnet — rewritten by `goodwill devnet` at each start.\n\
         data = \"data\"\n\
         genesis = \"../genesis.toml\"\n\
         listen = \"{listen}\"\n\
         key = \"../keys/{name}.key\"\n\
         peers = [{}]\n\
         http = \"{http}\"\n",
        quoted(peers)
    )
}

/// A forger's config: follow every main node; no LEDs (the devnet view
/// draws them); the clock checked against the main nodes only (they share
/// this machine's clock, and a container's kernel often reports it
/// unsynchronised).
pub fn forge_toml(name: &str, status: SocketAddr, mains: &[SocketAddr]) -> String {
    format!(
        "# {name} of a goodwill devnet — rewritten by `goodwill devnet` at each start.\n\
         data = \"data\"\n\
         genesis = \"../genesis.toml\"\n\
         key = \"../keys/{name}.key\"\n\
         main = [{}]\n\
         board = \"none\"\n\
         status_listen = \"{status}\"\n\
         clock_check = \"peers\"\n",
        quoted(mains)
    )
}

fn quoted(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn key_path(dir: &Path, name: &str) -> PathBuf {
    dir.join("keys").join(format!("{name}.key"))
}

fn write_ports(dir: &Path, ports: &Ports) -> Result<(), LayoutError> {
    let text = format!(
        "# A goodwill devnet: `goodwill devnet --dir {}` resumes it.\n# Ports on 127.0.0.1.\n{}",
        dir.display(),
        toml::to_string(ports).expect("ports serialise")
    );
    let path = dir.join(SHAPE_FILE);
    std::fs::write(&path, text).map_err(io_at(&path))
}

/// `n` ports of 127.0.0.1 free now, none in `avoid`
/// ([`crate::runtime::os::free_ports`]: below the ephemeral range).
fn free_ports(n: usize, avoid: &[u16]) -> Result<Vec<u16>, LayoutError> {
    crate::runtime::os::free_ports(n, avoid).map_err(LayoutError::Bind)
}

fn relocate(
    moved: &mut Vec<(String, u16, u16)>,
    all: &mut Vec<u16>,
    name: String,
    port: &mut u16,
) -> Result<(), LayoutError> {
    if TcpListener::bind(("127.0.0.1", *port)).is_ok() {
        return Ok(());
    }
    let new = free_ports(1, all)?[0];
    all.push(new);
    moved.push((name, *port, new));
    *port = new;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_what_the_node_and_forge_verbs_read() {
        let a: SocketAddr = "127.0.0.1:7001".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:7002".parse().unwrap();
        let node: crate::runtime::config::NodeSettings =
            toml::from_str(&node_toml("main-2", b, &[a], None)).unwrap();
        assert_eq!(node.peers, vec!["127.0.0.1:7001".to_string()]);
        assert_eq!(node.listen.as_deref(), Some("127.0.0.1:7002"));
        assert_eq!(node.http.as_deref(), Some("off"));
        let first: crate::runtime::config::NodeSettings =
            toml::from_str(&node_toml("main-1", a, &[], Some(b))).unwrap();
        assert_eq!(first.http.as_deref(), Some("127.0.0.1:7002"));
        let forge: crate::runtime::config::ForgeSettings = toml::from_str(&forge_toml(
            "forger-1",
            "127.0.0.1:7100".parse().unwrap(),
            &[a, b],
        ))
        .unwrap();
        assert_eq!(forge.mains, vec!["127.0.0.1:7001", "127.0.0.1:7002"]);
        assert_eq!(forge.clock_check.as_deref(), Some("peers"));
        assert_eq!(forge.status_listen.as_deref(), Some("127.0.0.1:7100"));
    }

    #[test]
    fn shapes_outside_the_bounds_are_refused_by_name() {
        let ok = NewShape {
            forgers: 3,
            main_nodes: 1,
            slot_ms: 1_000,
            epoch_slots: 20,
        };
        assert!(ok.check().is_ok());
        for (bad, flag) in [
            (NewShape { forgers: 0, ..ok }, "--forgers 0"),
            (NewShape { forgers: 17, ..ok }, "--forgers 17"),
            (
                NewShape {
                    main_nodes: 0,
                    ..ok
                },
                "--main-nodes 0",
            ),
            (NewShape { slot_ms: 50, ..ok }, "--slot-ms 50"),
            (
                NewShape {
                    epoch_slots: 2,
                    ..ok
                },
                "--epoch-slots 2",
            ),
        ] {
            let e = bad.check().unwrap_err();
            assert!(e.to_string().contains(flag), "{e}");
        }
    }

    #[test]
    fn a_resume_refuses_flags_for_another_network() {
        let have = NewShape {
            forgers: 3,
            main_nodes: 1,
            slot_ms: 1_000,
            epoch_slots: 20,
        };
        let dir = Path::new("/tmp/x");
        assert!(Asked::default().fits(&have, dir).is_ok());
        let same = Asked {
            forgers: Some(3),
            slot_ms: Some(1_000),
            ..Asked::default()
        };
        assert!(same.fits(&have, dir).is_ok());
        let e = Asked {
            forgers: Some(5),
            ..Asked::default()
        }
        .fits(&have, dir)
        .unwrap_err();
        assert!(
            matches!(
                e,
                LayoutError::OtherShape {
                    flag: "forgers",
                    asked: 5,
                    has: 3,
                    ..
                }
            ),
            "{e}"
        );
        let e = e.to_string();
        assert!(e.contains("forgers 3") && e.contains("--forgers 5"), "{e}");
    }

    #[test]
    fn the_genesis_funds_everyone_and_approves_the_charity() {
        let k = |i: u8| {
            crate::chain::crypto::Keypair::from_seed([i; 32])
                .unwrap()
                .public()
        };
        let g = devnet_genesis(0, 1_000, 20, &[k(1), k(2)], &[k(3)], k(4));
        let p = ChainParams::new(g).unwrap();
        assert_eq!(p.initial_supply(), 2 * FORGER_FUNDS + USER_FUNDS);
        assert_eq!(p.genesis().associations[0].account, k(4));
        assert_eq!(p.genesis().bootstrap_forgers, vec![k(1), k(2)]);
    }
}
