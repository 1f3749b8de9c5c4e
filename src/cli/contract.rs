//! `goodwill contract …`: smart contracts. `check` runs here, offline: it
//! refuses a module exactly as a deploy on the chain would, and runs its
//! `deploy` (and, if asked, one `call`) on empty storage to show the fuel
//! they use, so a developer can pick `--fuel` before paying for it.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::json;

use crate::chain::crypto::{Hash, PublicKey};
use crate::ledger::contract::{self, Context, Entry, Run, Status, Storage};
use crate::ledger::state::ReadError;

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
        /// The init input `deploy` reads, in hex.
        #[arg(long, value_name = "HEX", default_value = "")]
        init: String,
        /// Then run `call` with this input, in hex.
        #[arg(long, value_name = "HEX")]
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
    }
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
    let init = hex_arg("init", init)?;
    let input = input.map(|i| hex_arg("input", i)).transpose()?;
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
