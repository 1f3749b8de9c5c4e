//! `goodwill contract …`: smart contracts. `check` runs here, offline: it
//! refuses a module exactly as a deploy on the chain would, and runs its
//! `deploy` (and, if asked, one `call`) on empty storage to show the fuel
//! they use, so a developer can pick `--fuel` before paying for it.
//! `deploy` and `call` submit transactions (a dry run first: nothing is
//! sent that would trap, and the fuel limit is what the dry run used plus
//! a margin unless `--fuel` says otherwise); `query`, `show` and `events`
//! only read.
//!
//! Inputs (`--init`, `--input`) are given in parts, concatenated in order:
//! hex (`01`, `0x01`), an address (`gw1…`: its 32 bytes), or `u64:N` (N as
//! 8 bytes, little endian).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::json;

use crate::chain::amount::format_coins;
use crate::chain::crypto::{Hash, PublicKey};
use crate::chain::tx::{SignedTransaction, TxKind};
use crate::cli::wallet::{parse_address, parse_amount_or_zero, Session, Submit};
use crate::ledger::contract::{self, Context, Entry, Run, Status, Storage};
use crate::ledger::state::{ReadError, Receipt, ReceiptStatus};

/// Contract verbs.
#[derive(Debug, Subcommand)]
pub enum ContractCommand {
    /// Check a WebAssembly module as a deploy would, offline, and run its
    /// `deploy` (and one `call` with --input) on empty storage to show the
    /// fuel used. Exit 0 when the chain would accept the module, 1 when it
    /// would refuse it (the reason is printed).
    Check {
        /// The module (binary WebAssembly, at most 64 KiB).
        #[arg(long, value_name = "FILE")]
        wasm: PathBuf,
        /// The init input `deploy` reads (hex, gw1…, or u64:N).
        #[arg(long, value_name = "PART", default_value = "")]
        init: String,
        /// Then run `call` with this input (hex, gw1…, or u64:N).
        #[arg(long, value_name = "PART")]
        input: Option<String>,
        /// The value the call carries (units), as its balance too.
        #[arg(long, default_value_t = 0)]
        value: u64,
        /// The fuel each run may use.
        #[arg(long, default_value_t = 10_000_000)]
        fuel: u64,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Deploy a module: checked and dry-run here first (nothing is sent
    /// that the chain would refuse or that would trap); prints the
    /// contract's address.
    Deploy {
        /// The module (binary WebAssembly, at most 64 KiB).
        #[arg(long, value_name = "FILE")]
        wasm: PathBuf,
        /// The init input `deploy` reads, in parts (hex, gw1…, u64:N).
        #[arg(long, value_name = "PART")]
        init: Vec<String>,
        /// The fuel limit (default: what the dry run used, plus an eighth).
        #[arg(long)]
        fuel: Option<u64>,
        /// How to sign and submit.
        #[command(flatten)]
        submit: Submit,
    },
    /// Call a contract: dry-run at the node's tip first (refused if it
    /// would not end ok, unless --force).
    Call {
        /// The contract's address (64 hex digits).
        address: String,
        /// The input `call` reads, in parts (hex, gw1…, u64:N).
        #[arg(long, value_name = "PART")]
        input: Vec<String>,
        /// Coins sent with the call (12, 0.5).
        #[arg(long, default_value = "0")]
        value: String,
        /// The fuel limit (default: what the dry run used, plus an eighth).
        #[arg(long)]
        fuel: Option<u64>,
        /// Send it even if the dry run traps or runs out of fuel (the fuel
        /// it uses is charged all the same).
        #[arg(long)]
        force: bool,
        /// How to sign and submit.
        #[command(flatten)]
        submit: Submit,
    },
    /// Run a contract's `call` read-only at the node's tip: no
    /// transaction, nothing charged. Exit 0 when it ends ok, 1 otherwise.
    Query {
        /// The contract's address (64 hex digits).
        address: String,
        /// The input `call` reads, in parts (hex, gw1…, u64:N).
        #[arg(long, value_name = "PART")]
        input: Vec<String>,
        /// Who the run sees as its caller (gw1…; default all zeros).
        #[arg(long)]
        caller: Option<String>,
        /// The value the run sees as received, in coins (nothing moves).
        #[arg(long, default_value = "0")]
        value: String,
        /// The most fuel it may use (the node caps it at 2,000,000).
        #[arg(long, default_value_t = 1_000_000)]
        fuel: u64,
        /// The node's address.
        #[arg(long)]
        node: String,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A contract's account: code hash and size, deployer, balance,
    /// storage used.
    Show {
        /// The contract's address (64 hex digits).
        address: String,
        /// The node's address.
        #[arg(long)]
        node: String,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A contract's events, newest first.
    Events {
        /// The contract's address (64 hex digits).
        address: String,
        /// At most this many (the node lists at most 256).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The node's address.
        #[arg(long)]
        node: String,
        /// One JSON object per event, one per line.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a contract verb.
pub fn contract(cmd: ContractCommand) -> Result<(), String> {
    match cmd {
        ContractCommand::Check {
            wasm,
            init,
            input,
            value,
            fuel,
            json,
        } => check(&wasm, &init, input.as_deref(), value, fuel, json),
        ContractCommand::Deploy {
            wasm,
            init,
            fuel,
            submit,
        } => smol::block_on(deploy(&wasm, &init, fuel, &submit)),
        ContractCommand::Call {
            address,
            input,
            value,
            fuel,
            force,
            submit,
        } => smol::block_on(call(&address, &input, &value, fuel, force, &submit)),
        ContractCommand::Query {
            address,
            input,
            caller,
            value,
            fuel,
            node,
            json,
        } => smol::block_on(query(
            &address,
            &input,
            caller.as_deref(),
            &value,
            fuel,
            &node,
            json,
        )),
        ContractCommand::Show {
            address,
            node,
            json,
        } => smol::block_on(show(&address, &node, json)),
        ContractCommand::Events {
            address,
            limit,
            node,
            json,
        } => smol::block_on(events(&address, limit, &node, json)),
    }
}

/// An input given in parts: hex, an address (its 32 bytes), or `u64:N`.
pub fn input_parts(name: &str, parts: &[String]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for part in parts {
        if let Some(n) = part.strip_prefix("u64:") {
            let n: u64 = n
                .parse()
                .map_err(|e| format!("--{name} {part:?}: not a whole number ({e})"))?;
            out.extend_from_slice(&n.to_le_bytes());
        } else if part.starts_with("gw1") {
            out.extend_from_slice(&parse_address(&format!("--{name} {part:?}"), part)?.0);
        } else {
            out.extend(hex_arg(name, part)?);
        }
    }
    if out.len() > crate::chain::limits::CONTRACT_INPUT {
        return Err(format!(
            "--{name} is {} bytes; an input holds at most {}",
            out.len(),
            crate::chain::limits::CONTRACT_INPUT
        ));
    }
    Ok(out)
}

fn contract_address(text: &str) -> Result<Hash, String> {
    Hash::from_hex(text.trim_start_matches("0x"))
        .map_err(|e| format!("{text:?} is not a contract address ({e}): it is 64 hex digits"))
}

/// The fuel limit for a run the dry run says uses `used`: an eighth more
/// (the state may change before the transaction lands), within a block's.
fn with_margin(used: u64, block_fuel: u64) -> u64 {
    used.saturating_add(used / 8 + 1_000).min(block_fuel)
}

async fn deploy(
    path: &Path,
    init: &[String],
    fuel: Option<u64>,
    args: &Submit,
) -> Result<(), String> {
    let code = read_module(path)?;
    let init = input_parts("init", init)?;
    contract::compile(&code).map_err(|e| {
        format!(
            "the chain would refuse {} ({}): {e}; nothing was sent",
            path.display(),
            e.code()
        )
    })?;
    let mut s = Session::open(args).await?;
    let params = contract_params(&mut s).await?;
    let me = s.key.public();
    let tip = s.c.tip().await.map_err(|e| e.to_string())?;
    // A deploy runs on empty storage: the dry run here is the run on chain,
    // but for its caller, height and slot, which are given as they will be.
    let load = contract::LOAD_FUEL_PER_BYTE * code.len() as u64;
    let ctx = Context {
        contract: Hash::ZERO,
        caller: me,
        value: 0,
        balance: 0,
        height: tip.height + 1,
        slot: tip.slot + 1,
        input: init.clone(),
    };
    let hash = Hash::of(&[&code]);
    let room = params.block_fuel.saturating_sub(load);
    let dry = contract::run(&hash, &code, Entry::Deploy, &ctx, &Scratch::default(), room)
        .map_err(|e| e.0)?;
    let needed = load + dry.fuel_used;
    let fuel_limit = match fuel {
        Some(f) => f,
        None if dry.status == Status::Ok => with_margin(needed, params.block_fuel),
        None => {
            return Err(format!(
                "a dry run of {}'s deploy ends {} after {} fuel: nothing was sent (`goodwill contract check` shows more)",
                path.display(),
                status_text(dry.status),
                needed
            ))
        }
    };
    let kind = TxKind::DeployContract {
        code: crate::chain::codec::Bytes::new(code).expect("read_module bounds it"),
        init: crate::chain::codec::Bytes::new(init).expect("input_parts bounds it"),
        fuel_limit,
    };
    let least = least_fee(&s, &params, fuel_limit)?;
    let tx = s.submit_with_least_fee(kind, &[], 0, least).await?;
    let address = contract::address(&s.c.chain_id(), &me, tx.tx.nonce);
    if !args.json {
        println!(
            "deploying contract {address} (fuel limit {fuel_limit}, fee at most {} GWL, nonce {})",
            format_coins(tx.tx.fee),
            tx.tx.nonce
        );
    }
    finish(&mut s, &tx, Some(address)).await
}

async fn call(
    text: &str,
    input: &[String],
    value: &str,
    fuel: Option<u64>,
    force: bool,
    args: &Submit,
) -> Result<(), String> {
    let address = contract_address(text)?;
    let input = input_parts("input", input)?;
    let value = parse_amount_or_zero("--value", value)?;
    let mut s = Session::open(args).await?;
    let params = contract_params(&mut s).await?;
    let me = s.key.public();
    let dry_fuel = fuel.unwrap_or(crate::wire::limits::QUERY_FUEL);
    let dry =
        s.c.query_contract(address, me, &input, value, dry_fuel)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no contract at {address} on {}", args.node))?;
    if dry.status != ReceiptStatus::Ok && !force {
        let hint = match (&dry.status, fuel) {
            (ReceiptStatus::OutOfFuel, None) => {
                " (a dry run gets at most 2,000,000 fuel: pass --fuel N, and --force)"
            }
            _ => "; --force sends it anyway, and the fuel it uses is charged",
        };
        return Err(format!(
            "a dry run of this call at the tip ends {} after {} fuel: nothing was sent{hint}",
            receipt_status_text(&dry.status),
            dry.fuel_used
        ));
    }
    let fuel_limit = fuel.unwrap_or_else(|| with_margin(dry.fuel_used, params.block_fuel));
    let kind = TxKind::CallContract {
        contract: address,
        input: crate::chain::codec::Bytes::new(input).expect("input_parts bounds it"),
        value,
        fuel_limit,
    };
    let least = least_fee(&s, &params, fuel_limit)?;
    let tx = s.submit_with_least_fee(kind, &[], value, least).await?;
    if !args.json {
        println!(
            "calling contract {address} with {} GWL (fuel limit {fuel_limit}, fee at most {} GWL, nonce {})",
            format_coins(value),
            format_coins(tx.tx.fee),
            tx.tx.nonce
        );
    }
    finish(&mut s, &tx, None).await
}

async fn contract_params(
    s: &mut Session<'_>,
) -> Result<crate::chain::genesis::ContractParams, String> {
    s.c.contract_params()
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "this chain has no contracts (its genesis has no [contracts] table)".into())
}

fn least_fee(
    s: &Session<'_>,
    params: &crate::chain::genesis::ContractParams,
    fuel_limit: u64,
) -> Result<u64, String> {
    if fuel_limit == 0 || fuel_limit > params.block_fuel {
        return Err(format!(
            "--fuel {fuel_limit}: a fuel limit is between 1 and a block's, {}",
            params.block_fuel
        ));
    }
    fuel_limit
        .checked_mul(params.fuel_price)
        .and_then(|f| f.checked_add(s.info.min_fee))
        .ok_or_else(|| format!("--fuel {fuel_limit} is too large"))
}

/// Reports a submitted contract transaction; with --wait, its receipt
/// (and exit 1 when the run did not end ok).
async fn finish(
    s: &mut Session<'_>,
    tx: &SignedTransaction,
    deployed: Option<Hash>,
) -> Result<(), String> {
    let id = tx.id();
    let extra = match deployed {
        Some(a) => json!({"contract": a.to_hex()}),
        None => serde_json::Value::Null,
    };
    let Some(p) = s.wait_if_asked(tx, extra).await? else {
        return Ok(());
    };
    let height = p.header.header.height;
    let proven = s.c.proven_receipt(id).await.map_err(|e| e.to_string())?.ok_or_else(|| {
        format!("transaction {id} is in block {height} but the node has no receipt for it (reorganised away since?)")
    })?;
    let r = &proven.receipt;
    let mut lines = receipt_lines(r);
    lines.push(match &proven.problem {
        None => "verified   the receipt's proof, against the block's signed header".into(),
        Some(why) => format!("unverified {why}"),
    });
    s.print_included(
        tx,
        &p,
        json!({
            "contract": r.contract.to_hex(),
            "receipt": receipt_json(r),
            "receipt_verified": proven.verified,
        }),
        &lines,
    );
    match &r.status {
        ReceiptStatus::Ok => Ok(()),
        other => Err(format!(
            "contract {}: the run ended {}; nothing but the fee ({} GWL) was charged",
            r.contract,
            receipt_status_text(other),
            format_coins(r.fee)
        )),
    }
}

fn receipt_status_text(s: &ReceiptStatus) -> String {
    match s {
        ReceiptStatus::Ok => "ok".into(),
        ReceiptStatus::Trapped(t) => {
            format!("trapped: {}", String::from_utf8_lossy(t.as_slice()))
        }
        ReceiptStatus::OutOfFuel => "out of fuel".into(),
    }
}

fn receipt_json(r: &Receipt) -> serde_json::Value {
    let (status, trap) = match &r.status {
        ReceiptStatus::Ok => ("ok", None),
        ReceiptStatus::Trapped(t) => ("trapped", Some(String::from_utf8_lossy(t.as_slice()))),
        ReceiptStatus::OutOfFuel => ("out-of-fuel", None),
    };
    json!({
        "contract": r.contract.to_hex(),
        "status": status,
        "trap": trap,
        "fuel_used": r.fuel_used,
        "fee": r.fee,
        "storage_charge": r.storage_charge,
        "return_hex": hex::encode(r.return_data.as_slice()),
        "events_hex": r.events.iter().map(|e| hex::encode(e.as_slice())).collect::<Vec<_>>(),
        "height": r.height,
    })
}

fn receipt_lines(r: &Receipt) -> Vec<String> {
    let mut out = vec![
        format!("contract   {}", r.contract),
        format!("status     {}", receipt_status_text(&r.status)),
        format!("fuel used  {}", r.fuel_used),
        format!("fee        {} GWL", format_coins(r.fee)),
    ];
    if r.storage_charge > 0 {
        out.push(format!(
            "storage    {} GWL (burned)",
            format_coins(r.storage_charge)
        ));
    }
    if !r.return_data.is_empty() {
        out.push(format!(
            "returned   {}",
            hex::encode(r.return_data.as_slice())
        ));
    }
    for e in &r.events {
        out.push(format!("event      {}", hex::encode(e.as_slice())));
    }
    out
}

async fn query(
    text: &str,
    input: &[String],
    caller: Option<&str>,
    value: &str,
    fuel: u64,
    node: &str,
    as_json: bool,
) -> Result<(), String> {
    let address = contract_address(text)?;
    let input = input_parts("input", input)?;
    let caller = match caller {
        Some(c) => parse_address("--caller", c)?,
        None => PublicKey([0; 32]),
    };
    let value = parse_amount_or_zero("--value", value)?;
    let mut c = crate::cli::net::connect(node).await?;
    let run = c
        .query_contract(address, caller, &input, value, fuel)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no contract at {address} on {node}"))?;
    if as_json {
        let (status, trap) = match &run.status {
            ReceiptStatus::Ok => ("ok", None),
            ReceiptStatus::Trapped(t) => ("trapped", Some(String::from_utf8_lossy(t.as_slice()))),
            ReceiptStatus::OutOfFuel => ("out-of-fuel", None),
        };
        println!(
            "{}",
            json!({
                "contract": address.to_hex(),
                "status": status,
                "trap": trap,
                "fuel_used": run.fuel_used,
                "return_hex": hex::encode(run.return_data.as_slice()),
                "events_hex": run.events.iter().map(|e| hex::encode(e.as_slice())).collect::<Vec<_>>(),
                "transfers": run.transfers.iter().map(|(to, amount)| json!({"to": to.to_string(), "amount": amount})).collect::<Vec<_>>(),
                "writes": run.writes,
                "at_height": run.at_height,
            })
        );
    } else {
        println!("status     {}", receipt_status_text(&run.status));
        println!("fuel used  {}", run.fuel_used);
        println!("returned   {}", hex::encode(run.return_data.as_slice()));
        if run.return_data.len() == 8 {
            let n = u64::from_le_bytes(run.return_data.as_slice().try_into().expect("8"));
            println!("as u64     {n}");
        }
        for e in &run.events {
            println!("event      {}", hex::encode(e.as_slice()));
        }
        for (to, amount) in &run.transfers {
            println!("transfer   {} GWL to {to}", format_coins(*amount));
        }
        println!("at height  {}", run.at_height);
    }
    match run.status {
        ReceiptStatus::Ok => Ok(()),
        other => Err(format!("the query ended {}", receipt_status_text(&other))),
    }
}

async fn show(text: &str, node: &str, as_json: bool) -> Result<(), String> {
    let address = contract_address(text)?;
    let mut c = crate::cli::net::connect(node).await?;
    let info = c
        .contract(address)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no contract at {address} on {node}"))?;
    let a = &info.account;
    if as_json {
        println!(
            "{}",
            json!({
                "address": address.to_hex(),
                "code_hash": a.code_hash.to_hex(),
                "code_bytes": info.code_bytes,
                "deployer": a.deployer.to_string(),
                "balance": a.balance,
                "stored_bytes": a.stored_bytes,
                "height": a.height,
            })
        );
    } else {
        println!("contract   {address}");
        println!("code hash  {} ({} bytes)", a.code_hash, info.code_bytes);
        println!("deployer   {}", a.deployer);
        println!("balance    {} GWL", format_coins(a.balance));
        println!("storage    {} bytes", a.stored_bytes);
        println!("deployed   at height {}", a.height);
    }
    Ok(())
}

async fn events(text: &str, limit: u32, node: &str, as_json: bool) -> Result<(), String> {
    let address = contract_address(text)?;
    let mut c = crate::cli::net::connect(node).await?;
    if c.contract(address)
        .await
        .map_err(|e| e.to_string())?
        .is_none()
    {
        return Err(format!("no contract at {address} on {node}"));
    }
    let events = c
        .contract_events(address, limit)
        .await
        .map_err(|e| e.to_string())?;
    for e in &events {
        let data = hex::encode(e.data.as_slice());
        if as_json {
            println!(
                "{}",
                json!({"height": e.height, "tx": e.tx.to_hex(), "index": e.index, "data_hex": data})
            );
        } else {
            println!("{:>8}  {}  #{}  {data}", e.height, e.tx, e.index);
        }
    }
    Ok(())
}

/// Reads a module file, bounded before it allocates.
pub fn read_module(path: &Path) -> Result<Vec<u8>, String> {
    crate::runtime::os::read_bounded(path, contract::CODE_BYTES as u64).map_err(|e| {
        format!(
            "--wasm {}: {e} (a contract's code is at most {} bytes)",
            path.display(),
            contract::CODE_BYTES
        )
    })
}

fn hex_arg(name: &str, text: &str) -> Result<Vec<u8>, String> {
    hex::decode(text.trim_start_matches("0x"))
        .map_err(|e| format!("--{name} {text:?} is not hex: {e}"))
}

/// Storage that starts empty and keeps what a successful run wrote.
#[derive(Default)]
struct Scratch(std::cell::RefCell<std::collections::BTreeMap<Vec<u8>, Vec<u8>>>);

impl Storage for Scratch {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ReadError> {
        Ok(self.0.borrow().get(key).cloned())
    }
}

impl Scratch {
    fn apply(&self, run: &Run) {
        let mut map = self.0.borrow_mut();
        for (k, v) in &run.effects.writes {
            match v {
                Some(v) => map.insert(k.clone(), v.clone()),
                None => map.remove(k),
            };
        }
    }
}

fn status_text(s: Status) -> String {
    match s {
        Status::Ok => "ok".into(),
        Status::Trapped(t) => format!("trapped: {t}"),
        Status::OutOfFuel => "out of fuel".into(),
    }
}

fn run_json(r: &Run) -> serde_json::Value {
    json!({
        "status": status_text(r.status),
        "fuel_used": r.fuel_used,
        "return_data": hex::encode(&r.effects.return_data),
        "events": r.effects.events.iter().map(hex::encode).collect::<Vec<_>>(),
        "writes": r.effects.writes.len(),
        "transfers": r.effects.transfers.len(),
    })
}

fn check(
    path: &Path,
    init: &str,
    input: Option<&str>,
    value: u64,
    fuel: u64,
    json: bool,
) -> Result<(), String> {
    let code = read_module(path)?;
    let init = input_parts("init", &[init.to_string()])?;
    let input = input
        .map(|i| input_parts("input", &[i.to_string()]))
        .transpose()?;
    let module = contract::compile(&code).map_err(|e| {
        format!(
            "the chain would refuse {} ({}): {e}",
            path.display(),
            e.code()
        )
    })?;
    let hash = Hash::of(&[&code]);
    let storage = Scratch::default();
    let mut ctx = Context {
        contract: Hash::ZERO,
        caller: PublicKey([0; 32]),
        value: 0,
        balance: 0,
        height: 1,
        slot: 1,
        input: init,
    };
    let deploy =
        contract::run(&hash, &code, Entry::Deploy, &ctx, &storage, fuel).map_err(|e| e.0)?;
    storage.apply(&deploy);
    let call = match input {
        Some(input) if deploy.status == Status::Ok => {
            ctx.input = input;
            ctx.value = value;
            ctx.balance = value;
            Some(contract::run(&hash, &code, Entry::Call, &ctx, &storage, fuel).map_err(|e| e.0)?)
        }
        _ => None,
    };
    let exports: Vec<String> = module.exports().map(|e| e.name().to_string()).collect();
    let imports: Vec<String> = module.imports().map(|i| i.name().to_string()).collect();
    if json {
        println!(
            "{}",
            json!({
                "accepted": true,
                "bytes": code.len(),
                "code_hash": hash.to_hex(),
                "exports": exports,
                "imports": imports,
                "deploy": run_json(&deploy),
                "call": call.as_ref().map(run_json),
            })
        );
    } else {
        println!("accepted   {} ({} bytes)", path.display(), code.len());
        println!("code hash  {}", hash.to_hex());
        println!("exports    {}", exports.join(", "));
        println!("imports    {}", imports.join(", "));
        println!(
            "deploy     {}, {} fuel",
            status_text(deploy.status),
            deploy.fuel_used
        );
        if let Some(c) = &call {
            println!("call       {}, {} fuel", status_text(c.status), c.fuel_used);
            if !c.effects.return_data.is_empty() {
                println!("returned   {}", hex::encode(&c.effects.return_data));
            }
            for e in &c.effects.events {
                println!("event      {}", hex::encode(e));
            }
        }
    }
    Ok(())
}
