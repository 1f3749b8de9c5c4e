//! The `goodwill` command line.

pub mod contract;
pub mod exit;
pub mod net;
pub mod release;
pub mod wallet;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::chain::address;
use crate::chain::amount::parse_coins;
use crate::chain::codec::Bytes;
use crate::chain::crypto::PublicKey;
use crate::chain::genesis::{Balance, ChainParams, Genesis, GenesisAssociation, Limits, COIN};
use crate::runtime::keyfile;

/// What `goodwill --version` prints. A binary built by `cargo test` (the
/// crate is its own dev-dependency with the `fault-injection` feature, so
/// `cargo test --release` also leaves one in target/release) says that it
/// carries the crash tests' hooks, so that nobody ships it by mistake;
/// `cargo build --release` builds the one to ship.
#[cfg(not(feature = "fault-injection"))]
const VERSION: &str = env!("CARGO_PKG_VERSION");
#[cfg(feature = "fault-injection")]
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (test build with fault-injection hooks: do not ship; `cargo build --release` makes the one to ship)"
);

/// goodwill: a low-energy blockchain forged by Raspberry Pis (Proof of Good-Will).
#[derive(Debug, Parser)]
#[command(name = "goodwill", version = VERSION, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a key pair in a new file (mode 0600) and print its address.
    Keygen {
        /// Where to write the key; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
        /// Seal the key with a passphrase (argon2id, XChaCha20-Poly1305):
        /// from GOODWILL_PASSPHRASE or GOODWILL_PASSPHRASE_FILE, else asked
        /// twice on the terminal.
        #[arg(long)]
        encrypt: bool,
        /// With --encrypt: argon2id memory in KiB (default 65536, 64 MiB).
        /// Smaller is weaker: small values are for tests.
        #[arg(long, requires = "encrypt")]
        kdf_memory_kib: Option<u32>,
        /// With --encrypt: argon2id passes (default 3).
        #[arg(long, requires = "encrypt")]
        kdf_iterations: Option<u32>,
    },
    /// Print the address of a key file (no passphrase needed).
    Address {
        /// The key file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Make or inspect a genesis file.
    Genesis {
        /// What to do with it.
        #[command(subcommand)]
        command: GenesisCommand,
    },
    /// Forge a short chain and print it: the ledger core at work.
    LedgerDemo {
        /// How many blocks to forge.
        #[arg(long, default_value_t = 20)]
        blocks: u64,
        /// Seed for keys and transactions (default: a fresh one, printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Keep the chain in this directory's redb store and resume it on the
        /// next run (default: in memory).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Run a whole network on this machine: main nodes and forgers as child
    /// processes on 127.0.0.1, with a live view. Ctrl-C stops it; --dir
    /// resumes it.
    Devnet(crate::tools::devnet::DevnetArgs),
    /// Run a main node: full ledger, relay, sync, queries, the forger table.
    Node(crate::runtime::config::NodeSettings),
    /// Run the forging appliance: follow the chain from main nodes, forge
    /// the slots this key leads, show it on the LEDs.
    Forge(Box<crate::runtime::config::ForgeSettings>),
    /// Any node's role, height, tip, peers, mempool size and uptime; on a
    /// forging appliance, its forging, clock, power and LED figures too.
    Status {
        /// The node's address (default: this machine's appliance).
        #[arg(long, default_value = crate::runtime::forge::DEFAULT_STATUS_LISTEN)]
        node: String,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The forger table of a main node: every forger's last status report.
    Forgers {
        /// The node's address.
        #[arg(long)]
        node: String,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Wallets: balances, sending coins, history, watching, buying weight.
    Wallet {
        /// What to do.
        #[command(subcommand)]
        command: crate::cli::wallet::WalletCommand,
    },
    /// Associations: propose one, vote, list them.
    Association {
        /// What to do.
        #[command(subcommand)]
        command: crate::cli::wallet::AssociationCommand,
    },
    /// Records stored on the chain: put, get (with a verified proof), history.
    Data {
        /// What to do.
        #[command(subcommand)]
        command: crate::cli::wallet::DataCommand,
    },
    /// Payment checks for scripts: exit 0 when the payment is final, 1 when not.
    Pay {
        /// What to do.
        #[command(subcommand)]
        command: crate::cli::wallet::PayCommand,
    },
    /// Smart contracts: check a module offline; deploy, call, query, show
    /// and list the events of contracts on chain.
    Contract {
        /// What to do.
        #[command(subcommand)]
        command: crate::cli::contract::ContractCommand,
    },
    /// Read the chain: from a node (tip, block, tx) or a local store (verify).
    Chain {
        /// What to do.
        #[command(subcommand)]
        command: ChainCommand,
    },
    /// Install the forging appliance into a mounted Raspberry Pi OS root
    /// filesystem: binary, units, settings, genesis, board profile, key.
    Provision(crate::tools::provision::ProvisionArgs),
    /// Sign a release manifest for a binary (the release maker's verb).
    Release {
        /// What to do.
        #[command(subcommand)]
        command: crate::cli::release::ReleaseCommand,
    },
    /// An appliance's releases: check one, apply one (signed, checked,
    /// on trial until it proves itself), see where they stand, roll back.
    /// Exit 0 done, 1 refused (the reason printed), 2 on an error.
    Update {
        /// What to do.
        #[command(subcommand)]
        command: crate::cli::release::UpdateCommand,
    },
    /// Print what this binary is, as JSON (product, version, target triple,
    /// store schema): `goodwill update apply` runs a new release's before
    /// it is taken.
    Selfcheck,
    /// Export or import a forger's signing record (the slots it has signed).
    SigningRecord {
        /// What to do.
        #[command(subcommand)]
        command: SigningCommand,
    },
}

/// Chain verbs.
#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// The chain tip (`--json`: height, tip, slot, chain_id).
    Tip {
        /// The node's address.
        #[arg(long)]
        node: String,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A block by height.
    Block {
        /// The height.
        height: u64,
        /// The node's address.
        #[arg(long)]
        node: String,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A transaction by id, with its inclusion proof checked here.
    Tx {
        /// The transaction id (hex).
        id: String,
        /// The node's address.
        #[arg(long)]
        node: String,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print a weak-subjectivity checkpoint, HEIGHT:HASH: the highest block
    /// that is final on a node you trust (its tip minus the finality depth).
    /// Give it to a new node or forger with --checkpoint.
    Checkpoint {
        /// The trusted node's address.
        #[arg(long)]
        node: String,
        /// The chain's genesis file (the node must be on this chain).
        #[arg(long)]
        genesis: PathBuf,
    },
    /// Re-validate the stored chain from genesis; report the first bad block.
    Verify {
        /// The node's data directory.
        #[arg(long)]
        data: PathBuf,
    },
}

/// Signing-record verbs.
#[derive(Debug, Subcommand)]
pub enum SigningCommand {
    /// Write the record as an interchange JSON file (to move a key to a new board).
    Export {
        /// The data directory holding the record.
        #[arg(long)]
        data: PathBuf,
        /// Where to write the file; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
        /// Only this key's record (default: every key's).
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Merge an interchange file into the record; never lowers a recorded slot.
    Import {
        /// The data directory holding the record.
        #[arg(long)]
        data: PathBuf,
        /// The interchange file.
        #[arg(long)]
        file: PathBuf,
        /// The chain's genesis: with it, a directory without a store (a new
        /// board, a damaged store moved aside) gets a new one to import into.
        #[arg(long)]
        genesis: Option<PathBuf>,
    },
}

/// Genesis verbs.
#[derive(Debug, Subcommand)]
pub enum GenesisCommand {
    /// Write a new genesis file and print its chain id.
    New {
        /// Where to write it; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
        /// A bootstrap forger's address (repeat; turn order as given).
        #[arg(long = "forger", required = true, value_parser = address::parse)]
        forgers: Vec<PublicKey>,
        /// An initial balance: ADDRESS=COINS (repeat).
        #[arg(long = "fund", value_parser = parse_fund)]
        funds: Vec<(PublicKey, u64)>,
        /// An association approved from the start: NAME=ADDRESS (repeat).
        #[arg(long = "association", value_parser = parse_association)]
        associations: Vec<(String, PublicKey)>,
        /// The chain's name.
        #[arg(long, default_value = "goodwill-devnet")]
        chain_name: String,
        /// Slot length in ms.
        #[arg(long, default_value_t = 2_000)]
        slot_ms: u64,
        /// Slots per epoch.
        #[arg(long, default_value_t = 30)]
        epoch_slots: u64,
        /// When slot 0 starts, in ms since the Unix epoch (default: now).
        #[arg(long)]
        start_ms: Option<u64>,
        /// Reward per block, in coins.
        #[arg(long, default_value = "1", value_parser = parse_coins_arg)]
        block_reward: u64,
        /// Minimum fee, in coins.
        #[arg(long, default_value = "0.001", value_parser = parse_coins_arg)]
        min_fee: u64,
        /// No reorganisation deeper than this many blocks.
        #[arg(long, default_value_t = 32)]
        finality_depth: u64,
    },
    /// Check a genesis file and print its chain id.
    Show {
        /// The genesis file.
        #[arg(long)]
        genesis: PathBuf,
    },
}

fn parse_coins_arg(s: &str) -> Result<u64, String> {
    parse_coins(s).map_err(|e| e.to_string())
}

fn parse_fund(s: &str) -> Result<(PublicKey, u64), String> {
    let (a, n) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: write ADDRESS=COINS"))?;
    Ok((
        address::parse(a).map_err(|e| e.to_string())?,
        parse_coins_arg(n)?,
    ))
}

fn parse_association(s: &str) -> Result<(String, PublicKey), String> {
    let (n, a) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: write NAME=ADDRESS"))?;
    Ok((n.to_string(), address::parse(a).map_err(|e| e.to_string())?))
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A child of `goodwill devnet` never outlives it.
    if let Some(parent) = std::env::var_os(crate::tools::devnet::PARENT_ENV) {
        let parent = parent.to_str().and_then(|p| p.parse().ok());
        if let Err(e) = parent
            .ok_or_else(|| format!("{} is not a process id", crate::tools::devnet::PARENT_ENV))
            .and_then(|p| crate::runtime::os::exit_with_parent(p).map_err(|e| e.to_string()))
        {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Command::Forge(args) = cli.command {
        // The appliance's exit status tells systemd what happened: 0 stopped
        // cleanly, 1 failed (restart), 2 refused to start, 3 doppelganger
        // (do not restart).
        return role_exit(crate::cli::net::forge(*args));
    }
    if let Command::Node(args) = cli.command {
        // 0 stopped cleanly, 1 failed (restart), 2 refused to start.
        return role_exit(crate::cli::net::node(args));
    }
    if let Command::Update { command } = cli.command {
        return match crate::cli::release::update(command) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        };
    }
    if let Command::Pay { command } = cli.command {
        return match crate::cli::wallet::pay(command) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        };
    }
    match run(cli) {
        // The work is done; output that could not be written (other than
        // to a reader that went away) is a failure to report.
        Ok(()) => match crate::runtime::os::stdout_failure() {
            None => ExitCode::SUCCESS,
            Some(e) => {
                eprintln!("error: writing to stdout: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A node's or forger's exit: its status, with the error printed.
fn role_exit(r: Result<(), crate::cli::exit::Exit>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Keygen {
            out,
            encrypt,
            kdf_memory_kib,
            kdf_iterations,
        } => {
            let key = crate::runtime::os::new_keypair();
            if encrypt {
                let d = keyfile::KdfParams::DEFAULT;
                let params = keyfile::KdfParams {
                    m_kib: kdf_memory_kib.unwrap_or(d.m_kib),
                    t: kdf_iterations.unwrap_or(d.t),
                    p: d.p,
                };
                params.check().map_err(|why| {
                    format!(
                        "--kdf-memory-kib {} --kdf-iterations {}: {why}",
                        params.m_kib, params.t
                    )
                })?;
                let pass = keyfile::new_passphrase(&out).map_err(|e| e.to_string())?;
                keyfile::write_encrypted_with(&out, &key, pass, params)
            } else {
                keyfile::write(&out, &key)
            }
            .map_err(|e| e.to_string())?;
            println!("{}", key.public());
            Ok(())
        }
        Command::Release { command } => crate::cli::release::release(command),
        Command::Selfcheck => {
            let me = crate::runtime::update::linux::SelfCheck::this();
            println!("{}", serde_json::to_string(&me).expect("serialises"));
            Ok(())
        }
        Command::Update { .. } => unreachable!("answered in main"),
        Command::Address { key } => {
            let address = keyfile::read_address(&key).map_err(|e| e.to_string())?;
            println!("{address}");
            Ok(())
        }
        Command::Genesis {
            command: GenesisCommand::Show { genesis },
        } => {
            let params =
                crate::runtime::config::load_genesis(&genesis).map_err(|e| e.to_string())?;
            let g = params.genesis();
            println!("chain id      {}", params.chain_id());
            println!("chain name    {}", g.chain_name);
            println!(
                "slot          {} ms, {} slots per epoch",
                g.slot_ms, g.epoch_slots
            );
            println!("forgers       {}", g.bootstrap_forgers.len());
            println!(
                "supply        {} GWL",
                crate::chain::amount::format_coins(params.initial_supply())
            );
            Ok(())
        }
        Command::Genesis {
            command:
                GenesisCommand::New {
                    out,
                    forgers,
                    funds,
                    associations,
                    chain_name,
                    slot_ms,
                    epoch_slots,
                    start_ms,
                    block_reward,
                    min_fee,
                    finality_depth,
                },
        } => {
            let genesis = Genesis {
                contracts: Some(crate::chain::genesis::ContractParams::for_slot(slot_ms)),
                chain_name,
                start_ms: start_ms.unwrap_or_else(crate::runtime::os::now_ms),
                slot_ms,
                epoch_slots,
                block_reward,
                min_fee,
                finality_depth,
                bootstrap_forgers: forgers,
                limits: Limits {
                    equivocation_bounty: 100 * COIN,
                    ..Limits::default()
                },
                balances: funds
                    .into_iter()
                    .map(|(address, amount)| Balance { address, amount })
                    .collect(),
                associations: associations
                    .into_iter()
                    .map(|(name, account)| {
                        Ok(GenesisAssociation {
                            name: Bytes::new(name.into_bytes())
                                .map_err(|e| format!("association name: {e}"))?,
                            url: Bytes::empty(),
                            account,
                        })
                    })
                    .collect::<Result<_, String>>()?,
            };
            let params = ChainParams::new(genesis).map_err(|e| e.to_string())?;
            crate::runtime::os::write_new_file(&out, &params.to_file_text())
                .map_err(|e| e.to_string())?;
            println!("{}", params.chain_id());
            Ok(())
        }
        Command::LedgerDemo { blocks, seed, data } => {
            use crate::tools::demo;
            let seed = seed.unwrap_or_else(crate::runtime::os::random_u64);
            let (net, mut ledger, seed) =
                demo::open(data.as_deref(), seed).map_err(|e| e.to_string())?;
            let start = ledger.tip().map_err(|e| e.to_string())?;
            println!("{}", demo::header(&net.params));
            if start.height > 0 {
                println!(
                    "(resuming at height {} from {})",
                    start.height,
                    data.as_deref()
                        .map(|d| d.display().to_string())
                        .unwrap_or_default()
                );
            }
            let mut out = std::io::stdout();
            demo::forge(
                &net,
                &mut ledger,
                blocks,
                seed ^ crate::runtime::os::random_u64(),
                |r| {
                    let _ = writeln!(out, "{}", demo::row(r));
                    let _ = out.flush();
                },
            )
            .map_err(|e| e.to_string())?;
            let tip = ledger.tip().map_err(|e| e.to_string())?;
            println!(
                "tip {} at height {}, state digest {}",
                tip.hash.short(),
                tip.height,
                tip.state_digest.short()
            );
            match data {
                Some(d) => println!("(kept in {}: run again to resume; `goodwill chain verify --data {}` re-checks it)", d.display(), d.display()),
                None => println!("(seed {seed}: the same chain and keys again with --seed {seed})"),
            }
            Ok(())
        }

        Command::Devnet(args) => crate::tools::devnet::run(args).map_err(|e| e.to_string()),
        Command::Forge(_) | Command::Pay { .. } | Command::Node(_) => {
            unreachable!("handled in main, for their exit statuses")
        }
        Command::Provision(args) => crate::tools::provision::run(args).map_err(|e| e.to_string()),
        Command::Wallet { command } => crate::cli::wallet::wallet(command),
        Command::Association { command } => crate::cli::wallet::association(command),
        Command::Data { command } => crate::cli::wallet::data(command),
        Command::Contract { command } => crate::cli::contract::contract(command),
        Command::Status { node, json } => crate::cli::net::status(&node, json),
        Command::Forgers { node, json } => crate::cli::net::forgers(&node, json),
        Command::Chain {
            command: ChainCommand::Tip { node, json },
        } => crate::cli::net::tip(&node, json),
        Command::Chain {
            command: ChainCommand::Block { height, node, json },
        } => crate::cli::net::block(&node, height, json),
        Command::Chain {
            command: ChainCommand::Tx { id, node, json },
        } => crate::cli::net::tx(&node, &id, json),
        Command::Chain {
            command: ChainCommand::Checkpoint { node, genesis },
        } => {
            let params =
                crate::runtime::config::load_genesis(&genesis).map_err(|e| e.to_string())?;
            crate::cli::net::checkpoint(&node, &params)
        }
        Command::Chain {
            command: ChainCommand::Verify { data },
        } => {
            let store = crate::store::Store::open_existing(&data).map_err(|e| e.to_string())?;
            let height = store.verify_chain().map_err(|e| e.to_string())?;
            let tip = store.tip().map_err(|e| e.to_string())?;
            println!(
                "ok: {} blocks re-validated from genesis; tip {} at height {}, state matches",
                height, tip.hash, tip.height
            );
            Ok(())
        }
        Command::SigningRecord {
            command: SigningCommand::Export { data, out, key },
        } => {
            let store = crate::store::Store::open_existing(&data).map_err(|e| e.to_string())?;
            let only = match key {
                Some(k) => Some(keyfile::read(&k).map_err(|e| e.to_string())?.public()),
                None => None,
            };
            let doc = store
                .export_signing_record(only.as_ref())
                .map_err(|e| e.to_string())?;
            let text = serde_json::to_string_pretty(&doc).expect("serialises");
            crate::runtime::os::write_new_file(&out, &text).map_err(|e| e.to_string())?;
            let n: usize = doc.data.iter().map(|k| k.signed_blocks.len()).sum();
            println!(
                "wrote {} signed slots of {} keys to {}",
                n,
                doc.data.len(),
                out.display()
            );
            Ok(())
        }
        Command::SigningRecord {
            command:
                SigningCommand::Import {
                    data,
                    file,
                    genesis,
                },
        } => {
            let store = match crate::store::Store::open_existing(&data) {
                Err(crate::store::StoreError::Missing(_)) if genesis.is_some() => {
                    let g = genesis.as_deref().expect("checked");
                    let params =
                        crate::runtime::config::load_genesis(g).map_err(|e| e.to_string())?;
                    crate::store::Store::open_with(&data, &params, crate::store::Indexes::Skip)
                }
                other => other,
            }
            .map_err(|e| e.to_string())?;
            let text =
                crate::runtime::os::read_text_bounded(&file, crate::store::INTERCHANGE_FILE_BYTES)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
            let doc: crate::store::Interchange = serde_json::from_str(&text)
                .map_err(|e| format!("{}: not a signing record: {e}", file.display()))?;
            let added = store
                .import_signing_record(&doc)
                .map_err(|e| e.to_string())?;
            println!("imported {added} new signed slots from {}", file.display());
            Ok(())
        }
    }
}
